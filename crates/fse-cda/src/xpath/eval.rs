//! Evaluation of compiled expressions over an arena [`Document`].
//!
//! Node sets are kept in document order (node ids are document order).
//! Paths the compiler marked streamable are walked depth-first without
//! building intermediate node lists when only their count, their
//! existence or a comparison with them is wanted; `descendant::x` steps
//! use the document's per-name index.

use std::borrow::Cow;

use super::ast::{
    ArithOp, Axis, CompiledRegex, Expr, Func, NameTable, NodeCmp, NodeTest, Path, Pred, SetOp,
    Start, Step,
};
use super::value::{Atom, CmpOp, DynamicError, Eval, Item, Value, general_pair, value_pair};
use crate::xml::{Document, NodeId, NodeKind, Sym};

/// The focus: the context item with its position and the size of the
/// sequence it belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Focus<'c, 'a> {
    pub(crate) item: FocusItem<'c, 'a>,
    pub(crate) pos: usize,
    pub(crate) size: usize,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum FocusItem<'c, 'a> {
    Node(NodeId),
    Atom(&'c Atom<'a>),
}

impl Focus<'_, '_> {
    /// A node as the whole focus (position 1 of 1).
    pub(crate) fn node(n: NodeId) -> Self {
        Focus {
            item: FocusItem::Node(n),
            pos: 1,
            size: 1,
        }
    }
}

/// Evaluates expressions over one document.
#[derive(Debug)]
pub(crate) struct Evaluator<'a> {
    pub(crate) doc: &'a Document,
    names: Vec<(Option<Sym>, Option<Sym>)>,
    /// Variable values by slot; a failed `let` keeps its error, raised
    /// only where the variable is used (as a lazy XSLT variable would).
    pub(crate) vars: Vec<Eval<Value<'a>>>,
    /// Per memoizing predicate, its value by local-name symbol: 0 unknown,
    /// 1 false, 2 true.
    memos: Vec<Vec<u8>>,
    /// Every element of the document in order, built on first use by
    /// `descendant::*`-like steps.
    elements: Option<std::rc::Rc<[NodeId]>>,
    /// Which path bases are worth caching.
    shared_bases: Vec<bool>,
    /// Cached base results: (context node, base id) → range of `arena`.
    base_cache: std::collections::HashMap<(NodeId, u32), (u32, u32), PairHash>,
    arena: Vec<NodeId>,
    /// Which node predicates are worth remembering.
    shared_node_preds: Vec<bool>,
    /// Remembered node-predicate values: (node, predicate id) → value.
    node_pred_cache: std::collections::HashMap<(NodeId, u32), bool, PairHash>,
    /// Emptied node lists kept for reuse: intermediate steps of paths and
    /// bases would otherwise cost an allocation each.
    spare: Vec<Vec<NodeId>>,
}

/// A multiplicative hash for small integer keys (the default SipHash costs
/// more than the lookups it guards).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PairHash;

impl std::hash::BuildHasher for PairHash {
    type Hasher = PairHasher;
    fn build_hasher(&self) -> PairHasher {
        PairHasher(0)
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct PairHasher(u64);

impl std::hash::Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0.rotate_left(32) ^ u64::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The typed value of a node: untyped for elements, attributes and text of
/// an unvalidated document, a string for comments and PIs.
pub(crate) fn atomize<'a>(doc: &'a Document, n: NodeId) -> Atom<'a> {
    match doc.kind(n) {
        NodeKind::Comment | NodeKind::ProcessingInstruction => {
            Atom::Str(Cow::Borrowed(doc.value(n)))
        }
        NodeKind::Element | NodeKind::Document => Atom::Untyped(doc.string_value(n)),
        NodeKind::Attribute | NodeKind::Text => Atom::Untyped(Cow::Borrowed(doc.value(n))),
    }
}

/// Iterates the atomized items of a value.
pub(crate) fn atoms<'v, 'a>(
    doc: &'a Document,
    v: &'v Value<'a>,
) -> impl Iterator<Item = Atom<'a>> + 'v {
    let (nodes, single, items): (&[NodeId], Option<&Atom<'a>>, &[Item<'a>]) = match v {
        Value::Nodes(n) => (n, None, &[]),
        Value::Atom(a) => (&[], Some(a), &[]),
        Value::Items(i) => (&[], None, i),
    };
    nodes
        .iter()
        .map(move |&n| atomize(doc, n))
        .chain(single.cloned())
        .chain(items.iter().map(move |i| match i {
            Item::Node(n) => atomize(doc, *n),
            Item::Atom(a) => a.clone(),
        }))
}

/// The effective boolean value of a value.
pub(crate) fn ebv_value(v: &Value<'_>) -> Eval<bool> {
    match v {
        Value::Nodes(n) => Ok(!n.is_empty()),
        Value::Atom(a) => ebv_atom(a),
        Value::Items(items) => match items.as_slice() {
            [] => Ok(false),
            [Item::Node(_), ..] => Ok(true),
            [Item::Atom(a)] => ebv_atom(a),
            _ => Err(DynamicError::new(
                "FORG0006",
                "effective boolean value of a sequence of several atomic values",
            )),
        },
    }
}

fn ebv_atom(a: &Atom<'_>) -> Eval<bool> {
    Ok(match a {
        Atom::Bool(b) => *b,
        Atom::Str(s) | Atom::Untyped(s) => !s.is_empty(),
        Atom::Int(i) => *i != 0,
        Atom::Dec(d) | Atom::Dbl(d) => *d != 0.0 && !d.is_nan(),
    })
}

/// The atomic value of a literal expression.
fn literal(e: &Expr) -> Option<Atom<'_>> {
    match e {
        Expr::Str(s) => Some(Atom::Str(Cow::Borrowed(s))),
        Expr::Int(i) => Some(Atom::Int(*i)),
        Expr::Dec(d) => Some(Atom::Dec(*d)),
        Expr::Dbl(d) => Some(Atom::Dbl(*d)),
        _ => None,
    }
}

/// The one atomic value of `v`, if any; an error when it has several.
fn single_atom<'a>(doc: &'a Document, v: &Value<'a>, what: &str) -> Eval<Option<Atom<'a>>> {
    match v {
        Value::Atom(a) => Ok(Some(a.clone())),
        Value::Nodes(n) => match n.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(atomize(doc, *one))),
            _ => Err(cardinality_error(what)),
        },
        Value::Items(_) => {
            let mut it = atoms(doc, v);
            let first = it.next();
            if it.next().is_some() {
                return Err(cardinality_error(what));
            }
            Ok(first)
        }
    }
}

fn cardinality_error(what: &str) -> DynamicError {
    DynamicError::type_error(format!(
        "{what}: a sequence of more than one item is not allowed"
    ))
}

const MAX_RANGE: i64 = 10_000_000;

/// The initial capacity of the per-document caches of path bases and node
/// predicates.
const CACHE_CAPACITY: usize = 512;

impl<'a> Evaluator<'a> {
    /// An evaluator for `doc`, resolving the names of `table` to the
    /// document's symbols once.
    pub(crate) fn new(doc: &'a Document, table: &NameTable) -> Self {
        let sym = |s: &str| {
            if s.is_empty() {
                Some(doc.symbol("").unwrap_or(Sym::EMPTY))
            } else {
                doc.symbol(s)
            }
        };
        let strings: Vec<Option<Sym>> = table.strings().map(sym).collect();
        let resolved = |i: u32| strings.get(i as usize).copied().flatten();
        let names = table
            .entries()
            .iter()
            .map(|&(ns, local)| (resolved(ns), resolved(local)))
            .collect();
        Evaluator {
            doc,
            names,
            vars: Vec::new(),
            memos: vec![Vec::new(); table.memo_count()],
            elements: None,
            shared_bases: table.shared_bases(),
            // Sized for a typical document's entries: growing there by
            // doubling rehashed every entry several times.
            base_cache: std::collections::HashMap::with_capacity_and_hasher(
                CACHE_CAPACITY,
                PairHash,
            ),
            arena: Vec::new(),
            shared_node_preds: table.shared_node_preds(),
            node_pred_cache: std::collections::HashMap::with_capacity_and_hasher(
                CACHE_CAPACITY,
                PairHash,
            ),
            spare: Vec::new(),
        }
    }

    /// An empty node list, reusing a spare one when there is one.
    pub(crate) fn take_list(&mut self) -> Vec<NodeId> {
        self.spare.pop().unwrap_or_default()
    }

    /// Keeps a node list for reuse.
    pub(crate) fn give_list(&mut self, mut list: Vec<NodeId>) {
        list.clear();
        self.spare.push(list);
    }

    fn focus_node(&self, f: Focus<'_, 'a>) -> Eval<NodeId> {
        match f.item {
            FocusItem::Node(n) => Ok(n),
            FocusItem::Atom(_) => Err(DynamicError::type_error("the context item is not a node")),
        }
    }

    fn principal_matches(&self, test: &NodeTest, attribute_axis: bool, n: NodeId) -> bool {
        let doc = self.doc;
        let kind = doc.kind(n);
        let principal = if attribute_axis {
            NodeKind::Attribute
        } else {
            NodeKind::Element
        };
        let name_is = |id: u32| {
            let (ns, local) = doc.name_syms(n);
            match self.names.get(id as usize) {
                Some(&(Some(a), Some(b))) => a == ns && b == local,
                _ => false,
            }
        };
        match test {
            NodeTest::Name(id) => kind == principal && name_is(*id),
            NodeTest::NsWildcard(id) => {
                kind == principal
                    && matches!(self.names.get(*id as usize), Some(&(Some(ns), _)) if ns == doc.name_syms(n).0)
            }
            NodeTest::LocalWildcard(id) => {
                kind == principal
                    && matches!(self.names.get(*id as usize), Some(&(_, Some(l))) if l == doc.name_syms(n).1)
            }
            NodeTest::Any => kind == principal,
            NodeTest::Node => true,
            NodeTest::Text => kind == NodeKind::Text,
            NodeTest::Comment => kind == NodeKind::Comment,
            NodeTest::Document => kind == NodeKind::Document,
            NodeTest::Pi(target) => {
                kind == NodeKind::ProcessingInstruction
                    && target.as_deref().is_none_or(|t| t == doc.local_name(n))
            }
            NodeTest::Element(name) => kind == NodeKind::Element && name.is_none_or(name_is),
            NodeTest::Attribute(name) => kind == NodeKind::Attribute && name.is_none_or(name_is),
        }
    }

    /// The symbols of an exact name test, when the document has them.
    fn indexed_name(&self, test: &NodeTest) -> Option<Option<(Sym, Sym)>> {
        match test {
            NodeTest::Name(id) | NodeTest::Element(Some(id)) => {
                Some(match self.names.get(*id as usize) {
                    Some(&(Some(a), Some(b))) => Some((a, b)),
                    _ => None,
                })
            }
            _ => None,
        }
    }

    fn all_elements(&mut self) -> std::rc::Rc<[NodeId]> {
        let doc = self.doc;
        self.elements
            .get_or_insert_with(|| {
                doc.descendants(NodeId::DOCUMENT)
                    .filter(|&m| doc.kind(m) == NodeKind::Element)
                    .collect()
            })
            .clone()
    }

    /// Calls `visit` for each node of `axis` from `n` that passes `test`,
    /// in axis order, until it returns `Ok(true)`; returns whether it did.
    fn axis_walk(
        &mut self,
        axis: Axis,
        test: &NodeTest,
        n: NodeId,
        visit: &mut dyn FnMut(&mut Self, NodeId) -> Eval<bool>,
    ) -> Eval<bool> {
        let doc = self.doc;
        let attr = axis == Axis::Attribute;
        macro_rules! each {
            ($iter:expr) => {
                for m in $iter {
                    if self.principal_matches(test, attr, m) && visit(self, m)? {
                        return Ok(true);
                    }
                }
            };
        }
        // Exact names: compare interned symbols, and skip the walk outright
        // when the document does not use the name at all.
        if let NodeTest::Name(id) = test
            && matches!(
                axis,
                Axis::Child | Axis::Attribute | Axis::Parent | Axis::Ancestor
            )
        {
            let Some(&(Some(ns), Some(local))) = self.names.get(*id as usize) else {
                return Ok(false);
            };
            let wanted = (ns, local);
            let kind = if attr {
                NodeKind::Attribute
            } else {
                NodeKind::Element
            };
            macro_rules! named {
                ($iter:expr) => {
                    for m in $iter {
                        if doc.name_syms(m) == wanted && doc.kind(m) == kind && visit(self, m)? {
                            return Ok(true);
                        }
                    }
                };
            }
            match axis {
                Axis::Child => named!(doc.children(n)),
                Axis::Attribute => {
                    if doc.kind(n) == NodeKind::Element {
                        named!(doc.attributes(n))
                    }
                }
                Axis::Parent => named!(doc.parent(n).into_iter()),
                _ => named!(doc.ancestors(n)),
            }
            return Ok(false);
        }
        match axis {
            Axis::Child => each!(doc.children(n)),
            Axis::Attribute => {
                if doc.kind(n) == NodeKind::Element {
                    each!(doc.attributes(n))
                }
            }
            Axis::SelfNode => each!(std::iter::once(n)),
            Axis::Parent => each!(doc.parent(n).into_iter()),
            Axis::Ancestor => each!(doc.ancestors(n)),
            Axis::AncestorOrSelf => each!(std::iter::once(n).chain(doc.ancestors(n))),
            Axis::Descendant | Axis::DescendantOrSelf => {
                if axis == Axis::DescendantOrSelf
                    && self.principal_matches(test, false, n)
                    && visit(self, n)?
                {
                    return Ok(true);
                }
                if doc.kind(n) == NodeKind::Attribute {
                    return Ok(false);
                }
                if matches!(test, NodeTest::Any | NodeTest::Element(None)) {
                    let all = self.all_elements();
                    let end = doc.subtree_end(n);
                    let from = all.partition_point(|&x| x <= n);
                    let to = all.partition_point(|&x| x <= end);
                    for &m in all.get(from..to).unwrap_or(&[]) {
                        if visit(self, m)? {
                            return Ok(true);
                        }
                    }
                } else if let Some(name) = self.indexed_name(test) {
                    let Some((ns, local)) = name else {
                        return Ok(false);
                    };
                    let all = doc.elements_named(ns, local);
                    let end = doc.subtree_end(n);
                    let from = all.partition_point(|&x| x <= n);
                    let to = all.partition_point(|&x| x <= end);
                    for &m in all.get(from..to).unwrap_or(&[]) {
                        if visit(self, m)? {
                            return Ok(true);
                        }
                    }
                } else {
                    each!(doc.descendants(n))
                }
            }
            Axis::FollowingSibling => {
                if doc.kind(n) != NodeKind::Attribute {
                    each!(std::iter::successors(doc.next_sibling(n), |&s| doc.next_sibling(s)))
                }
            }
            Axis::PrecedingSibling => {
                if doc.kind(n) != NodeKind::Attribute {
                    each!(std::iter::successors(doc.prev_sibling(n), |&s| doc.prev_sibling(s)))
                }
            }
            Axis::Following => {
                let start = if doc.kind(n) == NodeKind::Attribute {
                    doc.parent(n).unwrap_or(n)
                } else {
                    n
                };
                let end = doc.subtree_end(start);
                let anchor = if doc.kind(n) == NodeKind::Attribute {
                    n
                } else {
                    end
                };
                each!(
                    doc.descendants(NodeId::DOCUMENT)
                        .filter(|&m| m > end && m > anchor)
                )
            }
            Axis::Preceding => {
                let ancestors: Vec<NodeId> = doc.ancestors(n).collect();
                let mut before: Vec<NodeId> = doc
                    .descendants(NodeId::DOCUMENT)
                    .filter(|&m| m < n && !ancestors.contains(&m))
                    .collect();
                before.reverse();
                each!(before)
            }
        }
        Ok(false)
    }

    /// Nodes of one step from `n`, filtered by the predicates, appended to
    /// `out` in axis order.
    fn step_nodes(
        &mut self,
        axis: Axis,
        test: &NodeTest,
        preds: &'a [Pred],
        n: NodeId,
        out: &mut Vec<NodeId>,
    ) -> Eval<()> {
        if matches!(axis, Axis::Descendant | Axis::DescendantOrSelf)
            && matches!(test, NodeTest::Any | NodeTest::Element(None))
            && preds.first().is_some_and(|p| p.memo.is_some())
            && preds.iter().all(|p| !p.positional)
            && self.doc.kind(n) != NodeKind::Attribute
        {
            return self.descendants_by_local_name(axis, preds, n, out);
        }
        if preds.iter().all(|p| !p.positional) {
            // Filter as we go: no position is needed.
            if let (Axis::Child, NodeTest::Name(id)) = (axis, test) {
                let Some(&(Some(ns), Some(local))) = self.names.get(*id as usize) else {
                    return Ok(());
                };
                let doc = self.doc;
                let mut next = doc.first_child(n);
                while let Some(m) = next {
                    next = doc.next_sibling(m);
                    if doc.name_syms(m) == (ns, local)
                        && doc.kind(m) == NodeKind::Element
                        && self.preds_hold(preds, m)?
                    {
                        out.push(m);
                    }
                }
                return Ok(());
            }
            self.axis_walk(axis, test, n, &mut |ev, m| {
                for p in preds {
                    if !ev.pred_on_node(p, m)? {
                        return Ok(false);
                    }
                }
                out.push(m);
                Ok(false)
            })?;
            return Ok(());
        }
        let mut cand = Vec::new();
        self.axis_walk(axis, test, n, &mut |_, m| {
            cand.push(m);
            Ok(false)
        })?;
        for p in preds {
            self.filter_nodes(p, &mut cand)?;
        }
        out.extend_from_slice(&cand);
        Ok(())
    }

    /// `//*[contains(local-name(), 'Organization')][…]` and its like: the
    /// leading predicates depend on the local name alone, so they are
    /// decided once per element name of the document, and the elements of
    /// the names that pass are taken from the name index instead of walking
    /// the subtree; the other predicates (none positional) then filter them.
    fn descendants_by_local_name(
        &mut self,
        axis: Axis,
        preds: &'a [Pred],
        n: NodeId,
        out: &mut Vec<NodeId>,
    ) -> Eval<()> {
        let doc = self.doc;
        let end = doc.subtree_end(n);
        let or_self = axis == Axis::DescendantOrSelf;
        let mark = out.len();
        let by_name = preds.iter().take_while(|p| p.memo.is_some()).count();
        let (name_preds, rest) = preds.split_at(by_name);
        for (_, ids) in doc.element_names() {
            // Only names with elements in the subtree are asked about, as a
            // walk of the subtree would.
            let from = ids.partition_point(|&x| x < n || (x == n && !or_self));
            let to = ids.partition_point(|&x| x <= end);
            let Some(within @ [sample, ..]) = ids.get(from..to) else {
                continue;
            };
            let mut keep = true;
            for p in name_preds {
                if !self.pred_on_node(p, *sample)? {
                    keep = false;
                    break;
                }
            }
            if keep {
                out.extend_from_slice(within);
            }
        }
        if let Some(found) = out.get_mut(mark..) {
            found.sort_unstable();
        }
        if !rest.is_empty() {
            let mut keep = mark;
            for i in mark..out.len() {
                let m = out[i];
                let mut holds = true;
                for p in rest {
                    if !self.pred_on_node(p, m)? {
                        holds = false;
                        break;
                    }
                }
                if holds {
                    out[keep] = m;
                    keep += 1;
                }
            }
            out.truncate(keep);
        }
        Ok(())
    }

    /// A non-positional predicate on a node, memoized by local name when
    /// the predicate allows it.
    fn pred_on_node(&mut self, p: &'a Pred, m: NodeId) -> Eval<bool> {
        let Some(slot) = p.memo else {
            // `[@code='x']` and `[hl7:code[…]]`, the most common
            // predicates: no trip through ebv.
            return match &p.expr {
                Expr::AttrCmp(id, op, text) => Ok(self.attr_cmp(*id, *op, text, m)),
                Expr::Path(path) if path.streamable => match p.node_memo {
                    Some(id) if self.shared_node_preds.get(id as usize) == Some(&true) => {
                        if let Some(&known) = self.node_pred_cache.get(&(m, id)) {
                            return Ok(known);
                        }
                        let value = self.stream(path, Focus::node(m), &mut |_| Ok(true))?;
                        self.node_pred_cache.insert((m, id), value);
                        Ok(value)
                    }
                    _ => self.stream(path, Focus::node(m), &mut |_| Ok(true)),
                },
                other => self.ebv(other, Focus::node(m)),
            };
        };
        let key = self.doc.name_syms(m).1.index();
        let known = self
            .memos
            .get(slot as usize)
            .and_then(|t| t.get(key))
            .copied()
            .unwrap_or(0);
        if known != 0 {
            return Ok(known == 2);
        }
        let value = self.ebv(&p.expr, Focus::node(m))?;
        let symbols = self.doc.symbol_count();
        if let Some(table) = self.memos.get_mut(slot as usize) {
            if table.len() < symbols {
                table.resize(symbols, 0);
            }
            if let Some(cell) = table.get_mut(key) {
                *cell = if value { 2 } else { 1 };
            }
        }
        Ok(value)
    }

    fn filter_nodes(&mut self, p: &'a Pred, cand: &mut Vec<NodeId>) -> Eval<()> {
        let size = cand.len();
        let mut keep = 0;
        for k in 0..size {
            let n = cand[k];
            let focus = Focus {
                item: FocusItem::Node(n),
                pos: k + 1,
                size,
            };
            if self.pred_holds(p, focus)? {
                cand[keep] = n;
                keep += 1;
            }
        }
        cand.truncate(keep);
        Ok(())
    }

    fn pred_holds(&mut self, p: &'a Pred, focus: Focus<'_, 'a>) -> Eval<bool> {
        if !p.positional {
            return match focus.item {
                FocusItem::Node(n) => self.pred_on_node(p, n),
                FocusItem::Atom(_) => self.ebv(&p.expr, focus),
            };
        }
        let v = self.eval(&p.expr, focus)?;
        match &v {
            Value::Atom(a) if a.is_numeric() => Ok(a.as_f64() == Some(focus.pos as f64)),
            _ => ebv_value(&v),
        }
    }

    /// Walks a streamable path depth-first, calling `sink` for each node
    /// it selects (each exactly once, not necessarily in document order)
    /// until `sink` returns `Ok(true)`.
    pub(crate) fn stream(
        &mut self,
        p: &'a Path,
        f: Focus<'_, 'a>,
        sink: &mut dyn FnMut(NodeId) -> Eval<bool>,
    ) -> Eval<bool> {
        let start = match p.start {
            Start::Root => {
                self.focus_node(f)?;
                NodeId::DOCUMENT
            }
            Start::Context => self.focus_node(f)?,
            Start::Expr(Expr::Var(slot)) => {
                return self.stream_from_variable(slot, &p.steps, sink);
            }
            Start::Expr(_) => {
                return Err(DynamicError::new(
                    "XPST0003",
                    "internal: path is not streamable",
                ));
            }
        };
        if let Some(base) = p.base
            && self
                .shared_bases
                .get(base as usize)
                .copied()
                .unwrap_or(false)
            && let Some(Step::Axis { preds, .. }) = p.steps.last()
        {
            let (from, len) = self.cached_base(&p.steps, base, start)?;
            for i in from as usize..(from + len) as usize {
                let Some(&m) = self.arena.get(i) else { break };
                let mut keep = true;
                for pred in preds {
                    if !self.pred_on_node(pred, m)? {
                        keep = false;
                        break;
                    }
                }
                if keep && sink(m)? {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        self.stream_steps(&p.steps, start, sink)
    }

    /// `$v/…` streamed from each node of the variable, with the errors
    /// [`Self::path`] gives for a variable that is not a node list.
    fn stream_from_variable(
        &mut self,
        slot: u32,
        steps: &'a [Step],
        sink: &mut dyn FnMut(NodeId) -> Eval<bool>,
    ) -> Eval<bool> {
        let mut starts = self.take_list();
        match self.vars.get(slot as usize) {
            Some(Ok(Value::Nodes(nodes))) => starts.extend_from_slice(nodes),
            Some(Ok(_)) => {
                return Err(DynamicError::new(
                    "XPTY0019",
                    "a path step applied to an atomic value",
                ));
            }
            Some(Err(e)) => return Err(e.clone()),
            None => return Err(DynamicError::new("XPDY0002", "variable without a value")),
        }
        let mut result = Ok(false);
        for &n in &starts {
            result = self.stream_steps(steps, n, sink);
            if !matches!(result, Ok(false)) {
                break;
            }
        }
        self.give_list(starts);
        result
    }

    fn stream_steps(
        &mut self,
        steps: &'a [Step],
        n: NodeId,
        sink: &mut dyn FnMut(NodeId) -> Eval<bool>,
    ) -> Eval<bool> {
        let Some((first, rest)) = steps.split_first() else {
            return sink(n);
        };
        let Step::Axis { axis, test, preds } = first else {
            return Err(DynamicError::new(
                "XPST0003",
                "internal: path is not streamable",
            ));
        };
        // Child and attribute steps with an exact name are most steps of
        // the official files: a plain loop, without a callback per node.
        if let NodeTest::Name(id) = test
            && matches!(axis, Axis::Child | Axis::Attribute)
        {
            let Some(&(Some(ns), Some(local))) = self.names.get(*id as usize) else {
                return Ok(false);
            };
            let doc = self.doc;
            let wanted = (ns, local);
            if *axis == Axis::Child {
                let mut next = doc.first_child(n);
                while let Some(m) = next {
                    next = doc.next_sibling(m);
                    if doc.name_syms(m) == wanted
                        && doc.kind(m) == NodeKind::Element
                        && self.preds_hold(preds, m)?
                        && self.stream_steps(rest, m, sink)?
                    {
                        return Ok(true);
                    }
                }
            } else if doc.kind(n) == NodeKind::Element {
                for m in doc.attributes(n) {
                    if doc.name_syms(m) == wanted
                        && doc.kind(m) == NodeKind::Attribute
                        && self.preds_hold(preds, m)?
                        && self.stream_steps(rest, m, sink)?
                    {
                        return Ok(true);
                    }
                }
            }
            return Ok(false);
        }
        self.axis_walk(*axis, test, n, &mut |ev, m| {
            Ok(ev.preds_hold(preds, m)? && ev.stream_steps(rest, m, sink)?)
        })
    }

    /// Whether every (non-positional) predicate holds for `m`.
    fn preds_hold(&mut self, preds: &'a [Pred], m: NodeId) -> Eval<bool> {
        for p in preds {
            if !self.pred_on_node(p, m)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The nodes of a path's base from `start`, computed on first use and
    /// kept in the arena.
    fn cached_base(&mut self, steps: &'a [Step], base: u32, start: NodeId) -> Eval<(u32, u32)> {
        if let Some(&range) = self.base_cache.get(&(start, base)) {
            return Ok(range);
        }
        self.fill_base(steps, base, start)
    }

    /// Computes a base missing from the cache.
    fn fill_base(&mut self, steps: &'a [Step], base: u32, start: NodeId) -> Eval<(u32, u32)> {
        let Some((Step::Axis { axis, test, .. }, init)) = steps.split_last() else {
            return Ok((0, 0));
        };
        // The path is streamable, so its steps but the last reach each node
        // once: walked depth-first, without a list per step.
        let mut current = self.take_list();
        let walked = self.stream_steps(init, start, &mut |n| {
            current.push(n);
            Ok(false)
        });
        if let Err(e) = walked {
            self.give_list(current);
            return Err(e);
        }
        // Straight into the arena; a failed walk leaves nothing behind.
        let mark = self.arena.len();
        for &n in &current {
            let walked = self.axis_walk(*axis, test, n, &mut |ev, m| {
                ev.arena.push(m);
                Ok(false)
            });
            if let Err(e) = walked {
                self.arena.truncate(mark);
                self.give_list(current);
                return Err(e);
            }
        }
        self.give_list(current);
        let from = u32::try_from(mark).unwrap_or(u32::MAX);
        let len = u32::try_from(self.arena.len() - mark).unwrap_or(0);
        self.base_cache.insert((start, base), (from, len));
        Ok((from, len))
    }

    /// One axis step from every node of `input` (in document order),
    /// appending the selected nodes to `out` in document order without
    /// duplicates. An expression step gives an error.
    pub(crate) fn axis_step_into(
        &mut self,
        step: &'a Step,
        input: &[NodeId],
        out: &mut Vec<NodeId>,
    ) -> Eval<()> {
        let Step::Axis { axis, test, preds } = step else {
            return Err(DynamicError::new("XPST0003", "internal: not an axis step"));
        };
        let mark = out.len();
        for &n in input {
            self.step_nodes(*axis, test, preds, n, out)?;
        }
        if (input.len() > 1 || axis.is_reverse())
            && let Some(found) = out.get_mut(mark..)
            && !found.windows(2).all(|w| w[0] < w[1])
        {
            found.sort_unstable();
            let mut keep = mark;
            for i in mark..out.len() {
                if keep == mark || out[keep - 1] != out[i] {
                    out[keep] = out[i];
                    keep += 1;
                }
            }
            out.truncate(keep);
        }
        Ok(())
    }

    /// Evaluates a path to its node list (or, when it ends with an
    /// expression step, possibly atomic values).
    fn path(&mut self, p: &'a Path, f: Focus<'_, 'a>) -> Eval<Value<'a>> {
        // Walked depth-first into one list rather than a list per step; the
        // walk reaches no node twice, but may leave document order.
        if p.streamable {
            let mut list = self.take_list();
            if let Err(e) = self.stream(p, f, &mut |n| {
                list.push(n);
                Ok(false)
            }) {
                self.give_list(list);
                return Err(e);
            }
            if !list.windows(2).all(|w| w[0] < w[1]) {
                list.sort_unstable();
            }
            return Ok(Value::Nodes(list));
        }
        let mut current: Vec<NodeId> = match &p.start {
            Start::Root => {
                self.focus_node(f)?;
                let mut list = self.take_list();
                list.push(NodeId::DOCUMENT);
                list
            }
            Start::Context => {
                let n = self.focus_node(f)?;
                let mut list = self.take_list();
                list.push(n);
                list
            }
            // `$var/…`: the variable's nodes copied into a spare list, not
            // cloned into a new allocation.
            Start::Expr(Expr::Var(slot)) if !p.steps.is_empty() => {
                match self.vars.get(*slot as usize) {
                    Some(Ok(Value::Nodes(nodes))) => {
                        let mut list = self.spare.pop().unwrap_or_default();
                        list.extend_from_slice(nodes);
                        list
                    }
                    Some(Ok(_)) => {
                        return Err(DynamicError::new(
                            "XPTY0019",
                            "a path step applied to an atomic value",
                        ));
                    }
                    Some(Err(e)) => return Err(e.clone()),
                    None => {
                        return Err(DynamicError::new("XPDY0002", "variable without a value"));
                    }
                }
            }
            Start::Expr(e) => {
                let v = self.eval(e, f)?;
                if p.steps.is_empty() {
                    return Ok(v);
                }
                match v {
                    Value::Nodes(n) => n,
                    _ => {
                        return Err(DynamicError::new(
                            "XPTY0019",
                            "a path step applied to an atomic value",
                        ));
                    }
                }
            }
        };
        let last = p.steps.len().saturating_sub(1);
        for (i, step) in p.steps.iter().enumerate() {
            match step {
                Step::Axis { .. } => {
                    let mut next = self.take_list();
                    self.axis_step_into(step, &current, &mut next)?;
                    let done = std::mem::replace(&mut current, next);
                    self.give_list(done);
                }
                Step::Expr { expr, preds } => {
                    let size = current.len();
                    let mut items: Vec<Item<'a>> = Vec::new();
                    for (k, &n) in current.iter().enumerate() {
                        let focus = Focus {
                            item: FocusItem::Node(n),
                            pos: k + 1,
                            size,
                        };
                        let v = self.eval(expr, focus)?;
                        let v = if preds.is_empty() {
                            v
                        } else {
                            self.filter_value(v, preds)?
                        };
                        items.extend(v.into_items());
                    }
                    let all_nodes = items.iter().all(|it| matches!(it, Item::Node(_)));
                    if all_nodes {
                        let mut nodes: Vec<NodeId> = items
                            .into_iter()
                            .filter_map(|it| match it {
                                Item::Node(n) => Some(n),
                                Item::Atom(_) => None,
                            })
                            .collect();
                        nodes.sort_unstable();
                        nodes.dedup();
                        let done = std::mem::replace(&mut current, nodes);
                        self.give_list(done);
                    } else if i != last {
                        return Err(DynamicError::new(
                            "XPTY0019",
                            "a path step applied to an atomic value",
                        ));
                    } else if items.iter().any(|it| matches!(it, Item::Node(_))) {
                        return Err(DynamicError::new(
                            "XPTY0018",
                            "the last step of a path mixes nodes and atomic values",
                        ));
                    } else {
                        return Ok(Value::from_items(items));
                    }
                }
            }
        }
        Ok(Value::Nodes(current))
    }

    fn filter_value(&mut self, v: Value<'a>, preds: &'a [Pred]) -> Eval<Value<'a>> {
        match v {
            Value::Nodes(mut nodes) => {
                for p in preds {
                    self.filter_nodes(p, &mut nodes)?;
                }
                Ok(Value::Nodes(nodes))
            }
            other => {
                let mut items = other.into_items();
                for p in preds {
                    let size = items.len();
                    let mut kept = Vec::with_capacity(size);
                    for (k, item) in items.into_iter().enumerate() {
                        let holds = {
                            let fi = match &item {
                                Item::Node(n) => FocusItem::Node(*n),
                                Item::Atom(a) => FocusItem::Atom(a),
                            };
                            self.pred_holds(
                                p,
                                Focus {
                                    item: fi,
                                    pos: k + 1,
                                    size,
                                },
                            )?
                        };
                        if holds {
                            kept.push(item);
                        }
                    }
                    items = kept;
                }
                Ok(Value::from_items(items))
            }
        }
    }

    /// The effective boolean value of an expression.
    pub(crate) fn ebv(&mut self, e: &'a Expr, f: Focus<'_, 'a>) -> Eval<bool> {
        match e {
            Expr::Or(items) => {
                for item in items {
                    if self.ebv(item, f)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Expr::And(items) => {
                for item in items {
                    if !self.ebv(item, f)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Expr::General(op, a, b) => self.general(*op, a, b, f),
            Expr::CountCmp(p, op, n) => {
                let n = *n;
                // Counting past n+1 cannot change the comparison.
                let limit = usize::try_from(n.saturating_add(1)).unwrap_or(0);
                let mut count = 0usize;
                if limit > 0 {
                    self.stream(p, f, &mut |_| {
                        count += 1;
                        Ok(count >= limit)
                    })?;
                }
                Ok(op.holds(i64::try_from(count).unwrap_or(i64::MAX).cmp(&n)))
            }
            Expr::AttrCmp(id, op, text) => {
                let n = self.focus_node(f)?;
                Ok(self.attr_cmp(*id, *op, text, n))
            }
            Expr::Call(Func::Not, args, _) => Ok(!self.ebv(&args[0], f)?),
            Expr::Call(Func::True, ..) => Ok(true),
            Expr::Call(Func::False, ..) => Ok(false),
            Expr::Call(Func::Boolean, args, _) => self.ebv(&args[0], f),
            Expr::Call(Func::Exists, args, _) => self.exists(&args[0], f),
            // `contains(local-name(), 'Organization')` and its like decide
            // name predicates: compared here, without building a value.
            Expr::Call(func @ (Func::Contains | Func::StartsWith | Func::EndsWith), args, _) => {
                let what = match func {
                    Func::Contains => "contains()",
                    Func::StartsWith => "starts-with()",
                    _ => "ends-with()",
                };
                let s = self.string_arg(&args[0], f, what)?;
                let t = self.string_arg(&args[1], f, what)?;
                Ok(match func {
                    Func::Contains => s.contains(t.as_ref()),
                    Func::StartsWith => s.starts_with(t.as_ref()),
                    _ => s.ends_with(t.as_ref()),
                })
            }
            Expr::Call(Func::Empty, args, _) => Ok(!self.exists(&args[0], f)?),
            Expr::Call(Func::Matches, args, regex) => self.matches(args, regex, f),
            Expr::Path(p) if p.streamable => self.stream(p, f, &mut |_| Ok(true)),
            Expr::Var(slot) => ebv_value(self.var(*slot)?),
            _ => {
                let v = self.eval(e, f)?;
                ebv_value(&v)
            }
        }
    }

    /// `@name op 'text'` on node `n`. Always inlined: a call's register
    /// saves and restores cost as much as the lookup itself, and
    /// `pred_on_node` has paid for them already.
    #[inline(always)]
    fn attr_cmp(&self, id: u32, op: CmpOp, text: &str, n: NodeId) -> bool {
        let Some(a) = self.attribute_named(id, n) else {
            return false;
        };
        let value = self.doc.value(a);
        match op {
            // `[@code='x']`, nearly every use: string equality looks at the
            // lengths first, and most values that differ differ in length,
            // where an ordering would always compare the bytes.
            CmpOp::Eq => value == text,
            CmpOp::Ne => value != text,
            _ => op.holds(value.cmp(text)),
        }
    }

    /// The attribute of `n` with name `id`, if `n` is an element that has it.
    #[inline]
    fn attribute_named(&self, id: u32, n: NodeId) -> Option<NodeId> {
        let doc = self.doc;
        if doc.kind(n) != NodeKind::Element {
            return None;
        }
        let &(Some(ns), Some(local)) = self.names.get(id as usize)? else {
            return None;
        };
        doc.attributes(n).find(|&a| doc.name_syms(a) == (ns, local))
    }

    /// A variable's value, borrowed where it is bound: most uses only
    /// read it (`$moodCd = 'EVN'`, `count($patient) = 0`), and a copy of a
    /// node list would cost an allocation each time.
    fn var(&self, slot: u32) -> Eval<&Value<'a>> {
        match self.vars.get(slot as usize) {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(e.clone()),
            None => Err(DynamicError::new("XPDY0002", "variable without a value")),
        }
    }

    fn exists(&mut self, e: &'a Expr, f: Focus<'_, 'a>) -> Eval<bool> {
        match e {
            Expr::Var(slot) => Ok(!self.var(*slot)?.is_empty()),
            Expr::Path(p) if p.streamable => self.stream(p, f, &mut |_| Ok(true)),
            _ => Ok(!self.eval(e, f)?.is_empty()),
        }
    }

    fn count(&mut self, e: &'a Expr, f: Focus<'_, 'a>) -> Eval<usize> {
        match e {
            Expr::Var(slot) => Ok(self.var(*slot)?.len()),
            Expr::Path(p) if p.streamable => {
                let mut n = 0usize;
                self.stream(p, f, &mut |_| {
                    n += 1;
                    Ok(false)
                })?;
                Ok(n)
            }
            _ => Ok(self.eval(e, f)?.len()),
        }
    }

    /// A general comparison: true when some pair of atomized items compares.
    fn general(&mut self, op: CmpOp, l: &'a Expr, r: &'a Expr, f: Focus<'_, 'a>) -> Eval<bool> {
        let doc = self.doc;
        // `$v = 'literal'` (either way round): compared where `$v` is bound.
        match (l, r, literal(l), literal(r)) {
            (Expr::Var(slot), _, _, Some(b)) => {
                for a in atoms(doc, self.var(*slot)?) {
                    if general_pair(op, &a, &b)? {
                        return Ok(true);
                    }
                }
                return Ok(false);
            }
            (_, Expr::Var(slot), Some(a), _) => {
                for b in atoms(doc, self.var(*slot)?) {
                    if general_pair(op, &a, &b)? {
                        return Ok(true);
                    }
                }
                return Ok(false);
            }
            _ => {}
        }
        if let Expr::Path(p) = l
            && p.streamable
        {
            let rv = self.eval(r, f)?;
            return self.stream(p, f, &mut |n| {
                let a = atomize(doc, n);
                for b in atoms(doc, &rv) {
                    if general_pair(op, &a, &b)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            });
        }
        let lv = self.eval(l, f)?;
        if let Expr::Path(p) = r
            && p.streamable
        {
            return self.stream(p, f, &mut |n| {
                let b = atomize(doc, n);
                for a in atoms(doc, &lv) {
                    if general_pair(op, &a, &b)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            });
        }
        let rv = self.eval(r, f)?;
        for a in atoms(doc, &lv) {
            for b in atoms(doc, &rv) {
                if general_pair(op, &a, &b)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Evaluates to at most one atomic value.
    fn opt_atom(&mut self, e: &'a Expr, f: Focus<'_, 'a>, what: &str) -> Eval<Option<Atom<'a>>> {
        match e {
            Expr::Var(slot) => return single_atom(self.doc, self.var(*slot)?, what),
            // `.`, as in `string(.)`: no one-node list to build.
            Expr::ContextItem => {
                return Ok(Some(match f.item {
                    FocusItem::Node(n) => atomize(self.doc, n),
                    FocusItem::Atom(a) => a.clone(),
                }));
            }
            _ => {}
        }
        // `@extension`, `@root`: one attribute looked up, no walk.
        if let Expr::Path(p) = e
            && let Some(id) = p.lone_attribute()
        {
            let n = self.focus_node(f)?;
            let doc = self.doc;
            return Ok(self
                .attribute_named(id, n)
                .map(|a| Atom::Untyped(Cow::Borrowed(doc.value(a)))));
        }
        if let Expr::Path(p) = e
            && p.streamable
        {
            let doc = self.doc;
            let mut found: Option<NodeId> = None;
            let mut many = false;
            self.stream(p, f, &mut |n| {
                if found.is_some() {
                    many = true;
                    return Ok(true);
                }
                found = Some(n);
                Ok(false)
            })?;
            if many {
                return Err(cardinality_error(what));
            }
            return Ok(found.map(|n| atomize(doc, n)));
        }
        match self.eval(e, f)? {
            Value::Atom(a) => Ok(Some(a)),
            v => single_atom(self.doc, &v, what),
        }
    }

    /// A string argument: empty sequence → "".
    fn string_arg(&mut self, e: &'a Expr, f: Focus<'_, 'a>, what: &str) -> Eval<Cow<'a, str>> {
        // Most arguments of `contains()` and its like, name predicates'
        // above all: no value to build and take apart.
        match e {
            Expr::Str(s) => return Ok(Cow::Borrowed(s)),
            Expr::Call(Func::LocalName, args, _) if args.is_empty() => {
                return Ok(Cow::Borrowed(self.doc.local_name(self.focus_node(f)?)));
            }
            _ => {}
        }
        Ok(self
            .opt_atom(e, f, what)?
            .map_or(Cow::Borrowed(""), |a| a.to_str()))
    }

    /// The string of the context item (for `string()` and friends without
    /// an argument).
    fn context_string(&self, f: Focus<'_, 'a>) -> Cow<'a, str> {
        match f.item {
            FocusItem::Node(n) => atomize(self.doc, n).to_str(),
            FocusItem::Atom(a) => a.to_str(),
        }
    }

    fn string_or_context(
        &mut self,
        args: &'a [Expr],
        f: Focus<'_, 'a>,
        what: &str,
    ) -> Eval<Cow<'a, str>> {
        match args.first() {
            Some(e) => self.string_arg(e, f, what),
            None => Ok(self.context_string(f)),
        }
    }

    fn opt_node(&mut self, args: &'a [Expr], f: Focus<'_, 'a>, what: &str) -> Eval<Option<NodeId>> {
        let Some(e) = args.first() else {
            return self.focus_node(f).map(Some);
        };
        if let Expr::ContextItem = e {
            return match f.item {
                FocusItem::Node(n) => Ok(Some(n)),
                FocusItem::Atom(_) => Err(DynamicError::type_error(format!(
                    "{what}: the argument is not a node"
                ))),
            };
        }
        match self.eval(e, f)? {
            Value::Nodes(n) => match n.as_slice() {
                [] => Ok(None),
                [one] => Ok(Some(*one)),
                _ => Err(cardinality_error(what)),
            },
            Value::Items(i) if i.is_empty() => Ok(None),
            _ => Err(DynamicError::type_error(format!(
                "{what}: the argument is not a node"
            ))),
        }
    }

    fn number_arg(&mut self, e: &'a Expr, f: Focus<'_, 'a>, what: &str) -> Eval<Option<Atom<'a>>> {
        Ok(match self.opt_atom(e, f, what)? {
            None => None,
            Some(Atom::Untyped(s)) => Some(Atom::Dbl(Atom::Untyped(s).to_number())),
            Some(a) if a.is_numeric() => Some(a),
            Some(a) => {
                return Err(DynamicError::type_error(format!(
                    "{what}: {} is not a number",
                    a.type_name()
                )));
            }
        })
    }

    /// `matches()`, without the regex crate when the pattern and the
    /// string are simple enough.
    fn matches(
        &mut self,
        args: &'a [Expr],
        regex: &Option<CompiledRegex>,
        f: Focus<'_, 'a>,
    ) -> Eval<bool> {
        let s = self.string_arg(&args[0], f, "matches()")?;
        if let Some(fast) = regex.as_ref().and_then(|r| r.fast.as_ref())
            && let Some(found) = fast.is_match(&s)
        {
            return Ok(found);
        }
        let re = self.regex_for(regex, &args[1], args.get(2), f)?;
        Ok(re.is_match(&s))
    }

    fn regex_for(
        &mut self,
        pre: &Option<CompiledRegex>,
        pattern: &'a Expr,
        flags: Option<&'a Expr>,
        f: Focus<'_, 'a>,
    ) -> Eval<std::sync::Arc<regex::Regex>> {
        if let Some(r) = pre {
            return Ok(r.regex.clone());
        }
        let pattern = self.string_arg(pattern, f, "regex pattern")?;
        let flags = match flags {
            Some(e) => self.string_arg(e, f, "regex flags")?,
            None => Cow::Borrowed(""),
        };
        let translated = crate::xsd::regex::xpath_to_rust(&pattern, &flags)
            .map_err(|e| DynamicError::new("FORX0002", e.to_string()))?;
        regex::RegexBuilder::new(&translated)
            .size_limit(1 << 20)
            .build()
            .map(std::sync::Arc::new)
            .map_err(|e| DynamicError::new("FORX0002", e.to_string()))
    }

    /// Evaluates an expression to a value.
    pub(crate) fn eval(&mut self, e: &'a Expr, f: Focus<'_, 'a>) -> Eval<Value<'a>> {
        Ok(match e {
            Expr::Str(s) => Value::Atom(Atom::Str(Cow::Borrowed(s))),
            Expr::Int(i) => Value::Atom(Atom::Int(*i)),
            Expr::Dec(d) => Value::Atom(Atom::Dec(*d)),
            Expr::Dbl(d) => Value::Atom(Atom::Dbl(*d)),
            Expr::Var(slot) => match self.vars.get(*slot as usize) {
                Some(v) => v.clone()?,
                None => return Err(DynamicError::new("XPDY0002", "variable without a value")),
            },
            Expr::ContextItem => match f.item {
                FocusItem::Node(n) => Value::Nodes(vec![n]),
                FocusItem::Atom(a) => Value::Atom(a.clone()),
            },
            Expr::Path(p) => self.path(p, f)?,
            Expr::Filter(base, preds) => {
                let v = self.eval(base, f)?;
                self.filter_value(v, preds)?
            }
            Expr::Seq(items) => {
                let mut out: Vec<Item<'a>> = Vec::new();
                for item in items {
                    out.extend(self.eval(item, f)?.into_items());
                }
                Value::from_items(out)
            }
            Expr::If(c, t, otherwise) => {
                if self.ebv(c, f)? {
                    self.eval(t, f)?
                } else {
                    self.eval(otherwise, f)?
                }
            }
            Expr::Or(..)
            | Expr::And(..)
            | Expr::General(..)
            | Expr::CountCmp(..)
            | Expr::AttrCmp(..) => Value::Atom(Atom::Bool(self.ebv(e, f)?)),
            Expr::ValueCmp(op, a, b) => {
                let (Some(x), Some(y)) = (
                    self.opt_atom(a, f, "value comparison")?,
                    self.opt_atom(b, f, "value comparison")?,
                ) else {
                    return Ok(Value::EMPTY);
                };
                Value::Atom(Atom::Bool(value_pair(*op, &x, &y)?))
            }
            Expr::NodeCmp(op, a, b) => {
                let (Some(x), Some(y)) = (self.single_node(a, f)?, self.single_node(b, f)?) else {
                    return Ok(Value::EMPTY);
                };
                Value::Atom(Atom::Bool(match op {
                    NodeCmp::Is => x == y,
                    NodeCmp::Precedes => x < y,
                    NodeCmp::Follows => x > y,
                }))
            }
            Expr::Arith(first, rest) => {
                let Some(mut x) = self.number_arg(first, f, "arithmetic")? else {
                    return Ok(Value::EMPTY);
                };
                for (op, operand) in rest {
                    let Some(y) = self.number_arg(operand, f, "arithmetic")? else {
                        return Ok(Value::EMPTY);
                    };
                    x = arith(*op, &x, &y)?;
                }
                Value::Atom(x)
            }
            Expr::Neg(a) => match self.number_arg(a, f, "unary minus")? {
                None => Value::EMPTY,
                Some(Atom::Int(i)) => {
                    Value::Atom(i.checked_neg().map_or(Atom::Dbl(-(i as f64)), Atom::Int))
                }
                Some(Atom::Dec(d)) => Value::Atom(Atom::Dec(-d)),
                Some(x) => Value::Atom(Atom::Dbl(-x.as_f64().unwrap_or(f64::NAN))),
            },
            Expr::Range(a, b) => {
                let (Some(x), Some(y)) =
                    (self.opt_atom(a, f, "range")?, self.opt_atom(b, f, "range")?)
                else {
                    return Ok(Value::EMPTY);
                };
                let (Some(lo), Some(hi)) = (integer_of(&x), integer_of(&y)) else {
                    return Err(DynamicError::type_error("range bounds must be integers"));
                };
                if hi < lo {
                    return Ok(Value::EMPTY);
                }
                if hi - lo >= MAX_RANGE {
                    return Err(DynamicError::new("FOAR0002", "range too large"));
                }
                Value::from_items((lo..=hi).map(|i| Item::Atom(Atom::Int(i))).collect())
            }
            Expr::Set(first, rest) => {
                let need_nodes =
                    || DynamicError::type_error("union, intersect and except need nodes");
                let Value::Nodes(mut acc) = self.eval(first, f)? else {
                    return Err(need_nodes());
                };
                for (op, operand) in rest {
                    let Value::Nodes(y) = self.eval(operand, f)? else {
                        return Err(need_nodes());
                    };
                    acc = match op {
                        SetOp::Union => {
                            acc.extend(y);
                            acc.sort_unstable();
                            acc.dedup();
                            acc
                        }
                        SetOp::Intersect => acc
                            .into_iter()
                            .filter(|n| y.binary_search(n).is_ok())
                            .collect(),
                        SetOp::Except => acc
                            .into_iter()
                            .filter(|n| y.binary_search(n).is_err())
                            .collect(),
                    };
                }
                Value::Nodes(acc)
            }
            Expr::Call(func, args, regex) => self.call(*func, args, regex, f)?,
        })
    }

    fn single_node(&mut self, e: &'a Expr, f: Focus<'_, 'a>) -> Eval<Option<NodeId>> {
        match self.eval(e, f)? {
            Value::Nodes(n) => match n.as_slice() {
                [] => Ok(None),
                [one] => Ok(Some(*one)),
                _ => Err(cardinality_error("node comparison")),
            },
            _ => Err(DynamicError::type_error("node comparison needs nodes")),
        }
    }

    fn call(
        &mut self,
        func: Func,
        args: &'a [Expr],
        regex: &Option<CompiledRegex>,
        f: Focus<'_, 'a>,
    ) -> Eval<Value<'a>> {
        let doc = self.doc;
        let string = |s: Cow<'a, str>| Value::Atom(Atom::Str(s));
        let boolean = |b: bool| Value::Atom(Atom::Bool(b));
        let int = |i: usize| Value::Atom(Atom::Int(i64::try_from(i).unwrap_or(i64::MAX)));
        Ok(match func {
            Func::Count => int(self.count(&args[0], f)?),
            Func::Not => boolean(!self.ebv(&args[0], f)?),
            Func::True => boolean(true),
            Func::False => boolean(false),
            Func::Boolean => boolean(self.ebv(&args[0], f)?),
            Func::Exists => boolean(self.exists(&args[0], f)?),
            Func::Empty => boolean(!self.exists(&args[0], f)?),
            Func::String => string(self.string_or_context(args, f, "string()")?),
            Func::Number => {
                let a = match args.first() {
                    Some(e) => self.opt_atom(e, f, "number()")?,
                    None => Some(match f.item {
                        FocusItem::Node(n) => atomize(doc, n),
                        FocusItem::Atom(a) => a.clone(),
                    }),
                };
                Value::Atom(Atom::Dbl(a.map_or(f64::NAN, |a| a.to_number())))
            }
            Func::Data => {
                let v = self.eval(&args[0], f)?;
                Value::from_items(atoms(doc, &v).map(Item::Atom).collect())
            }
            Func::LocalName => string(Cow::Borrowed(
                self.opt_node(args, f, "local-name()")?
                    .map_or("", |n| doc.local_name(n)),
            )),
            Func::Name => string(match self.opt_node(args, f, "name()")? {
                None => Cow::Borrowed(""),
                Some(n) => match doc.kind(n) {
                    NodeKind::Element | NodeKind::Attribute | NodeKind::ProcessingInstruction => {
                        doc.qualified_name(n)
                    }
                    _ => Cow::Borrowed(""),
                },
            }),
            Func::NamespaceUri => string(Cow::Borrowed(
                self.opt_node(args, f, "namespace-uri()")?
                    .map_or("", |n| doc.namespace(n)),
            )),
            Func::Root => match self.opt_node(args, f, "root()")? {
                None => Value::EMPTY,
                Some(_) => Value::Nodes(vec![NodeId::DOCUMENT]),
            },
            Func::Contains => {
                let s = self.string_arg(&args[0], f, "contains()")?;
                let t = self.string_arg(&args[1], f, "contains()")?;
                boolean(s.contains(t.as_ref()))
            }
            Func::StartsWith => {
                let s = self.string_arg(&args[0], f, "starts-with()")?;
                let t = self.string_arg(&args[1], f, "starts-with()")?;
                boolean(s.starts_with(t.as_ref()))
            }
            Func::EndsWith => {
                let s = self.string_arg(&args[0], f, "ends-with()")?;
                let t = self.string_arg(&args[1], f, "ends-with()")?;
                boolean(s.ends_with(t.as_ref()))
            }
            Func::StringLength => int(self
                .string_or_context(args, f, "string-length()")?
                .chars()
                .count()),
            Func::Substring => {
                let s = self.string_arg(&args[0], f, "substring()")?;
                let start = self
                    .number_arg(&args[1], f, "substring()")?
                    .and_then(|a| a.as_f64())
                    .unwrap_or(f64::NAN);
                let len = match args.get(2) {
                    Some(e) => self
                        .number_arg(e, f, "substring()")?
                        .and_then(|a| a.as_f64())
                        .unwrap_or(f64::NAN),
                    None => f64::INFINITY,
                };
                let from = round_half_up(start);
                let to = from + round_half_up(len);
                string(Cow::Owned(
                    s.chars()
                        .enumerate()
                        .filter(|(i, _)| {
                            let p = (*i + 1) as f64;
                            p >= from && p < to
                        })
                        .map(|(_, c)| c)
                        .collect(),
                ))
            }
            Func::SubstringBefore => {
                let s = self.string_arg(&args[0], f, "substring-before()")?;
                let t = self.string_arg(&args[1], f, "substring-before()")?;
                string(match s.find(t.as_ref()) {
                    Some(i) => Cow::Owned(s[..i].to_string()),
                    None => Cow::Borrowed(""),
                })
            }
            Func::SubstringAfter => {
                let s = self.string_arg(&args[0], f, "substring-after()")?;
                let t = self.string_arg(&args[1], f, "substring-after()")?;
                string(match s.find(t.as_ref()) {
                    Some(i) => Cow::Owned(s[i + t.len()..].to_string()),
                    None => Cow::Borrowed(""),
                })
            }
            Func::Concat => {
                let mut out = String::new();
                for a in args {
                    out.push_str(&self.string_arg(a, f, "concat()")?);
                }
                string(Cow::Owned(out))
            }
            Func::StringJoin => {
                let v = self.eval(&args[0], f)?;
                let sep = self.string_arg(&args[1], f, "string-join()")?;
                let parts: Vec<String> = atoms(doc, &v).map(|a| a.to_str().into_owned()).collect();
                string(Cow::Owned(parts.join(&sep)))
            }
            Func::NormalizeSpace => {
                let s = self.string_or_context(args, f, "normalize-space()")?;
                string(Cow::Owned(
                    s.split([' ', '\t', '\n', '\r'])
                        .filter(|w| !w.is_empty())
                        .collect::<Vec<_>>()
                        .join(" "),
                ))
            }
            Func::UpperCase => string(Cow::Owned(
                self.string_arg(&args[0], f, "upper-case()")?.to_uppercase(),
            )),
            Func::LowerCase => string(Cow::Owned(
                self.string_arg(&args[0], f, "lower-case()")?.to_lowercase(),
            )),
            Func::Translate => {
                let s = self.string_arg(&args[0], f, "translate()")?;
                let from: Vec<char> = self
                    .string_arg(&args[1], f, "translate()")?
                    .chars()
                    .collect();
                let to: Vec<char> = self
                    .string_arg(&args[2], f, "translate()")?
                    .chars()
                    .collect();
                string(Cow::Owned(
                    s.chars()
                        .filter_map(|c| match from.iter().position(|&x| x == c) {
                            Some(i) => to.get(i).copied(),
                            None => Some(c),
                        })
                        .collect(),
                ))
            }
            Func::Matches => boolean(self.matches(args, regex, f)?),
            Func::Replace => {
                let s = self.string_arg(&args[0], f, "replace()")?;
                let re = self.regex_for(regex, &args[1], args.get(3), f)?;
                let repl = self.string_arg(&args[2], f, "replace()")?;
                if re.is_match("") {
                    return Err(DynamicError::new(
                        "FORX0003",
                        "the pattern matches the empty string",
                    ));
                }
                string(Cow::Owned(
                    re.replace_all(&s, translate_replacement(&repl)?.as_str())
                        .into_owned(),
                ))
            }
            Func::Tokenize => {
                let s = self.string_arg(&args[0], f, "tokenize()")?;
                let re = self.regex_for(regex, &args[1], args.get(2), f)?;
                if re.is_match("") {
                    return Err(DynamicError::new(
                        "FORX0003",
                        "the pattern matches the empty string",
                    ));
                }
                if s.is_empty() {
                    return Ok(Value::EMPTY);
                }
                Value::from_items(
                    re.split(&s)
                        .map(|t| Item::Atom(Atom::Str(Cow::Owned(t.to_string()))))
                        .collect(),
                )
            }
            Func::Position => int(f.pos),
            Func::Last => int(f.size),
            Func::Sum => {
                let v = self.eval(&args[0], f)?;
                let mut int_sum: Option<i64> = Some(0);
                let mut dbl_sum = 0.0;
                let mut any = false;
                for a in atoms(doc, &v) {
                    any = true;
                    let a = match a {
                        Atom::Untyped(s) => Atom::Dbl(Atom::Untyped(s).to_number()),
                        a if a.is_numeric() => a,
                        a => {
                            return Err(DynamicError::new(
                                "FORG0006",
                                format!("sum() of {}", a.type_name()),
                            ));
                        }
                    };
                    if let (Some(s), Atom::Int(i)) = (int_sum, &a) {
                        int_sum = s.checked_add(*i);
                    } else {
                        int_sum = None;
                    }
                    dbl_sum += a.as_f64().unwrap_or(f64::NAN);
                }
                if !any {
                    match args.get(1) {
                        Some(zero) => return self.eval(zero, f),
                        None => return Ok(Value::Atom(Atom::Int(0))),
                    }
                }
                Value::Atom(int_sum.map_or(Atom::Dbl(dbl_sum), Atom::Int))
            }
            Func::Floor | Func::Ceiling | Func::Round | Func::Abs => {
                match self.number_arg(&args[0], f, "numeric function")? {
                    None => Value::EMPTY,
                    Some(Atom::Int(i)) => Value::Atom(Atom::Int(if func == Func::Abs {
                        i.saturating_abs()
                    } else {
                        i
                    })),
                    Some(a) => {
                        let x = a.as_f64().unwrap_or(f64::NAN);
                        let y = match func {
                            Func::Floor => x.floor(),
                            Func::Ceiling => x.ceil(),
                            Func::Round => round_half_up(x),
                            _ => x.abs(),
                        };
                        Value::Atom(if matches!(a, Atom::Dec(_)) {
                            Atom::Dec(y)
                        } else {
                            Atom::Dbl(y)
                        })
                    }
                }
            }
            Func::DistinctValues => {
                let v = self.eval(&args[0], f)?;
                let mut out: Vec<Atom<'a>> = Vec::new();
                for a in atoms(doc, &v) {
                    let a = match a {
                        Atom::Untyped(s) => Atom::Str(s),
                        a => a,
                    };
                    if !out
                        .iter()
                        .any(|b| value_pair(CmpOp::Eq, &a, b).unwrap_or(false))
                    {
                        out.push(a);
                    }
                }
                Value::from_items(out.into_iter().map(Item::Atom).collect())
            }
        })
    }
}

fn integer_of(a: &Atom<'_>) -> Option<i64> {
    match a {
        Atom::Int(i) => Some(*i),
        Atom::Untyped(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn round_half_up(x: f64) -> f64 {
    if x.is_nan() || x.is_infinite() {
        x
    } else {
        (x + 0.5).floor()
    }
}

fn arith<'a>(op: ArithOp, x: &Atom<'a>, y: &Atom<'a>) -> Eval<Atom<'a>> {
    if let (Atom::Int(a), Atom::Int(b)) = (x, y) {
        let (a, b) = (*a, *b);
        let exact = match op {
            ArithOp::Add => a.checked_add(b),
            ArithOp::Sub => a.checked_sub(b),
            ArithOp::Mul => a.checked_mul(b),
            ArithOp::IDiv | ArithOp::Mod if b == 0 => {
                return Err(DynamicError::new("FOAR0001", "division by zero"));
            }
            ArithOp::IDiv => a.checked_div(b),
            ArithOp::Mod => a.checked_rem(b),
            ArithOp::Div => {
                if b == 0 {
                    return Err(DynamicError::new("FOAR0001", "division by zero"));
                }
                return Ok(Atom::Dec(a as f64 / b as f64));
            }
        };
        if let Some(v) = exact {
            return Ok(Atom::Int(v));
        }
    }
    let (a, b) = (
        x.as_f64().unwrap_or(f64::NAN),
        y.as_f64().unwrap_or(f64::NAN),
    );
    let decimal =
        matches!(x, Atom::Int(_) | Atom::Dec(_)) && matches!(y, Atom::Int(_) | Atom::Dec(_));
    let r = match op {
        ArithOp::Add => a + b,
        ArithOp::Sub => a - b,
        ArithOp::Mul => a * b,
        ArithOp::Div => {
            if decimal && b == 0.0 {
                return Err(DynamicError::new("FOAR0001", "division by zero"));
            }
            a / b
        }
        ArithOp::IDiv => {
            if b == 0.0 {
                return Err(DynamicError::new("FOAR0001", "division by zero"));
            }
            let q = (a / b).trunc();
            if !q.is_finite() {
                return Err(DynamicError::new("FOAR0002", "integer division overflow"));
            }
            return Ok(Atom::Int(q as i64));
        }
        ArithOp::Mod => a % b,
    };
    Ok(if decimal { Atom::Dec(r) } else { Atom::Dbl(r) })
}

/// XPath replacement strings use `$n` and escape with `\`; `regex` uses
/// `${n}` and `$$`.
fn translate_replacement(repl: &str) -> Eval<String> {
    let mut out = String::new();
    let mut chars = repl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push('\\'),
                Some('$') => out.push_str("$$"),
                _ => return Err(DynamicError::new("FORX0004", "invalid replacement string")),
            },
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    return Err(DynamicError::new("FORX0004", "invalid replacement string"));
                }
                out.push_str(&format!("${{{digits}}}"));
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// The string value of a value, items joined by a space (`xsl:value-of`).
pub(crate) fn join_strings(doc: &Document, v: &Value<'_>) -> String {
    let mut out = String::new();
    for (i, a) in atoms(doc, v).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&a.to_str());
    }
    out
}
