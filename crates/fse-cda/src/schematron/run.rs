//! Running a compiled schematron over a document.

use std::borrow::Cow;
use std::ops::Range;

use super::{
    Check, Hit, Let, LetValue, MessagePart, Prefix, Schematron, Severity, Template, message_id,
};
use crate::xml::{Document, NodeId, NodeKind};
use crate::xpath::eval::FocusItem;
use crate::xpath::{Atom, DynamicError, Evaluator, Focus, Value, join_strings};

const UNCLAIMED: u32 = u32::MAX;

pub(crate) fn run<'a>(s: &'a Schematron, doc: &'a Document) -> Vec<Hit> {
    let mut ev = Evaluator::new(doc, &s.names);
    ev.vars = (0..s.slots).map(|_| Ok(Value::EMPTY)).collect();
    let top = Focus::node(NodeId::DOCUMENT);
    for l in &s.lets {
        bind(&mut ev, l, top);
    }
    let mut hits = Vec::new();
    let mut owner: Vec<u32> = vec![UNCLAIMED; doc.len()];
    let mut claims: Vec<(NodeId, u32)> = Vec::new();
    // Every prefix's nodes live in one arena, by range: a list per prefix
    // cost an allocation and a few reallocations each, for lists of a few
    // nodes, hundreds of prefixes per document.
    let mut prefixes = PrefixMemo::default();
    for pattern in &s.patterns {
        for l in &pattern.lets {
            bind(&mut ev, l, top);
        }
        owner.fill(UNCLAIMED);
        claims.clear();
        // Each node goes to the first rule whose context selects it.
        prefixes.reset(pattern.prefixes.len());
        for (ri, rule) in pattern.rules.iter().enumerate() {
            let ri = u32::try_from(ri).unwrap_or(UNCLAIMED - 1);
            // A prefix's nodes are borrowed from the memo: many rules share
            // one prefix, and copying its node list for each would cost more
            // than claiming the nodes.
            let mut claim = |nodes: &[NodeId]| {
                for &n in nodes {
                    if let Some(slot) = owner.get_mut(n.index())
                        && *slot == UNCLAIMED
                    {
                        *slot = ri;
                        claims.push((n, ri));
                    }
                }
            };
            let failed = match rule.context_prefix {
                Some(id) => prefixes
                    .value(&mut ev, &pattern.prefixes, id)
                    .map(&mut claim)
                    .err(),
                None => match ev.eval(&rule.context, top) {
                    Ok(Value::Nodes(nodes)) => {
                        claim(&nodes);
                        None
                    }
                    Ok(_) => None,
                    Err(e) => Some(e),
                },
            };
            if let Some(e) = failed {
                hits.push(error_hit(doc, NodeId::DOCUMENT, "rule context", &e));
            }
        }
        claims.sort_unstable();
        for &(n, ri) in &claims {
            let Some(rule) = pattern.rules.get(ri as usize) else {
                continue;
            };
            let focus = Focus::node(n);
            for l in &rule.lets {
                bind(&mut ev, l, focus);
            }
            for check in &rule.checks {
                match ev.ebv(&check.test, focus) {
                    Ok(value) => {
                        let fires = match check.severity {
                            Severity::Error => !value,
                            Severity::Warning => value,
                        };
                        if fires {
                            hits.push(hit(&mut ev, check, n));
                        }
                    }
                    Err(e) => hits.push(error_hit(doc, n, &check.test_source, &e)),
                }
            }
        }
    }
    hits
}

/// The nodes of each prefix of a pattern, computed once per document from
/// its parent's.
#[derive(Default)]
struct PrefixMemo {
    /// Per prefix: not computed yet, its range of `arena`, or its error.
    memo: Vec<Option<Result<Range<usize>, DynamicError>>>,
    arena: Vec<NodeId>,
    /// The parent's nodes, copied out of the arena the step appends to.
    input: Vec<NodeId>,
}

impl PrefixMemo {
    fn reset(&mut self, prefixes: usize) {
        self.memo.clear();
        self.memo.resize_with(prefixes, || None);
        self.arena.clear();
    }

    fn value<'a>(
        &mut self,
        ev: &mut Evaluator<'a>,
        prefixes: &'a [Prefix],
        id: usize,
    ) -> Result<&[NodeId], DynamicError> {
        self.fill(ev, prefixes, id);
        match self.memo.get(id) {
            Some(Some(Ok(range))) => Ok(self.arena.get(range.clone()).unwrap_or(&[])),
            Some(Some(Err(e))) => Err(e.clone()),
            _ => Ok(&[]),
        }
    }

    /// Computes the entry of prefix `id`, its ancestors' first.
    fn fill<'a>(&mut self, ev: &mut Evaluator<'a>, prefixes: &'a [Prefix], id: usize) {
        if !self.memo.get(id).is_some_and(Option::is_none) {
            return;
        }
        let Some(prefix) = prefixes.get(id) else {
            return;
        };
        if let Some(parent) = prefix.parent {
            self.fill(ev, prefixes, parent);
        }
        self.input.clear();
        let failed = match prefix.parent {
            None => {
                self.input.push(NodeId::DOCUMENT);
                None
            }
            Some(parent) => match self.memo.get(parent) {
                Some(Some(Ok(range))) => {
                    let nodes = self.arena.get(range.clone()).unwrap_or(&[]);
                    self.input.extend_from_slice(nodes);
                    None
                }
                Some(Some(Err(e))) => Some(e.clone()),
                _ => None,
            },
        };
        let mark = self.arena.len();
        let result = match failed {
            Some(e) => Err(e),
            None => ev
                .axis_step_into(&prefix.step, &self.input, &mut self.arena)
                .map(|()| mark..self.arena.len()),
        };
        if result.is_err() {
            self.arena.truncate(mark);
        }
        if let Some(slot) = self.memo.get_mut(id) {
            *slot = Some(result);
        }
    }
}

fn bind<'a>(ev: &mut Evaluator<'a>, l: &'a Let, focus: Focus<'_, 'a>) {
    let value = match &l.value {
        LetValue::Expr(e) => ev.eval(e, focus),
        LetValue::Content(templates) => {
            let mut out = String::new();
            render(ev, templates, focus, &mut out)
                .map(|()| Value::Atom(Atom::Untyped(Cow::Owned(out))))
        }
    };
    // The previous value's list goes back to the spares: binding a node
    // list per context node would otherwise cost an allocation each.
    if let Some(slot) = ev.vars.get_mut(l.slot as usize)
        && let Ok(Value::Nodes(old)) = std::mem::replace(slot, value)
    {
        ev.give_list(old);
    }
}

fn render<'a>(
    ev: &mut Evaluator<'a>,
    templates: &'a [Template],
    focus: Focus<'_, 'a>,
    out: &mut String,
) -> Result<(), DynamicError> {
    for t in templates {
        match t {
            Template::Text(s) => out.push_str(s),
            Template::ValueOf(e) => {
                let v = ev.eval(e, focus)?;
                out.push_str(&join_strings(ev.doc, &v));
            }
            Template::ForEach(select, body) => match ev.eval(select, focus)? {
                Value::Nodes(nodes) => {
                    let size = nodes.len();
                    for (k, &n) in nodes.iter().enumerate() {
                        render(
                            ev,
                            body,
                            Focus {
                                item: FocusItem::Node(n),
                                pos: k + 1,
                                size,
                            },
                            out,
                        )?;
                    }
                }
                other => {
                    let items = other.into_items();
                    let size = items.len();
                    for (k, item) in items.iter().enumerate() {
                        let fi = match item {
                            crate::xpath::Item::Node(n) => FocusItem::Node(*n),
                            crate::xpath::Item::Atom(a) => FocusItem::Atom(a),
                        };
                        render(
                            ev,
                            body,
                            Focus {
                                item: fi,
                                pos: k + 1,
                                size,
                            },
                            out,
                        )?;
                    }
                }
            },
        }
    }
    Ok(())
}

fn hit<'a>(ev: &mut Evaluator<'a>, check: &'a Check, n: NodeId) -> Hit {
    let doc = ev.doc;
    let focus = Focus::node(n);
    let mut text = String::new();
    for part in &check.message {
        match part {
            MessagePart::Text(s) => text.push_str(s),
            MessagePart::Name(None) => text.push_str(&node_name(doc, n)),
            MessagePart::Name(Some(path)) => {
                if let Ok(Value::Nodes(nodes)) = ev.eval(path, focus)
                    && let Some(&first) = nodes.first()
                {
                    text.push_str(&node_name(doc, first));
                }
            }
            MessagePart::ValueOf(e) => {
                if let Ok(v) = ev.eval(e, focus) {
                    text.push_str(&join_strings(doc, &v));
                }
            }
        }
    }
    Hit {
        id: message_id(&text),
        severity: check.severity,
        message: collapse_whitespace(&text),
        location: location(doc, n),
        line: Some(doc.position(n).line),
    }
}

fn error_hit(doc: &Document, n: NodeId, what: &str, e: &DynamicError) -> Hit {
    Hit {
        id: "XPATH_ERROR".into(),
        severity: Severity::Error,
        message: format!("evaluating {}: {e}", collapse_whitespace(what)),
        location: location(doc, n),
        line: Some(doc.position(n).line),
    }
}

fn node_name(doc: &Document, n: NodeId) -> String {
    match doc.kind(n) {
        NodeKind::Element | NodeKind::Attribute | NodeKind::ProcessingInstruction => {
            doc.qualified_name(n).into_owned()
        }
        _ => String::new(),
    }
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An XPath to the node: `/ClinicalDocument[1]/author[1]/@typeCode`, names
/// as written in the document, positions among same-named siblings.
pub(crate) fn location(doc: &Document, n: NodeId) -> String {
    use std::fmt::Write as _;
    // The steps, innermost first, then written outermost first into one String.
    let mut steps: Vec<NodeId> = Vec::new();
    let mut cur = Some(n);
    while let Some(c) = cur {
        if doc.kind(c) == NodeKind::Document {
            break;
        }
        steps.push(c);
        cur = doc.parent(c);
    }
    let mut out = String::with_capacity(steps.len() * 24);
    for &c in steps.iter().rev() {
        out.push('/');
        match doc.kind(c) {
            NodeKind::Document => {}
            NodeKind::Attribute => {
                out.push('@');
                out.push_str(&doc.qualified_name(c));
            }
            NodeKind::Element => {
                let name = doc.name_syms(c);
                let pos = 1 + std::iter::successors(doc.prev_sibling(c), |&s| doc.prev_sibling(s))
                    .filter(|&s| doc.kind(s) == NodeKind::Element && doc.name_syms(s) == name)
                    .count();
                out.push_str(&doc.qualified_name(c));
                let _ = write!(out, "[{pos}]");
            }
            NodeKind::Text => out.push_str("text()"),
            NodeKind::Comment => out.push_str("comment()"),
            NodeKind::ProcessingInstruction => out.push_str("processing-instruction()"),
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}
