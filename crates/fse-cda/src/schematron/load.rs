//! Reading `.sch` files and rules directories.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::{
    Check, ISO_SCHEMATRON_NS, Let, LetValue, MessagePart, Pattern, Prefix, Rule, Schematron,
    SchematronEntry, SchematronSet, Severity, Template, XSLT_NS,
};
use crate::error::{Error, Result};
use crate::xml::{Document, HL7_NS, NodeId, NodeKind};
use crate::xpath::{
    Expr, NameTable, Namespaces, Start, StaticContext, Step, compile, compile_pattern, encode_step,
};

/// What a schematron contains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Patterns.
    pub patterns: usize,
    /// Rules.
    pub rules: usize,
    /// `assert`s.
    pub asserts: usize,
    /// `report`s.
    pub reports: usize,
    /// `let`s, at every level.
    pub lets: usize,
}

struct Loader<'d> {
    file: String,
    doc: &'d Document,
    ns: Namespaces,
    names: NameTable,
    stats: Stats,
    /// The next free variable slot.
    slots: usize,
    /// The most slots any rule needed.
    max_slots: usize,
}

impl<'d> Loader<'d> {
    fn error(&self, node: NodeId, message: impl Into<String>) -> Error {
        Error::Schematron {
            file: self.file.clone(),
            line: self.doc.position(node).line,
            message: message.into(),
            source: None,
        }
    }

    fn is_iso(&self, n: NodeId, local: &str) -> bool {
        self.doc.namespace(n) == ISO_SCHEMATRON_NS && self.doc.local_name(n) == local
    }

    fn attr(&self, n: NodeId, name: &str) -> Result<&'d str> {
        self.doc.attr(n, name).ok_or_else(|| {
            self.error(
                n,
                format!("<{}> has no @{name}", self.doc.qualified_name(n)),
            )
        })
    }

    fn compile(
        &mut self,
        n: NodeId,
        src: &str,
        scope: &[(String, u32)],
        pattern: bool,
    ) -> Result<Expr> {
        let lookup = |name: &str| scope.iter().rev().find(|(v, _)| v == name).map(|&(_, s)| s);
        let mut cx = StaticContext {
            namespaces: &self.ns,
            variables: &lookup,
            names: &mut self.names,
        };
        let compiled = if pattern {
            compile_pattern(src, &mut cx)
        } else {
            compile(src, &mut cx)
        };
        compiled.map_err(|e| Error::Schematron {
            file: self.file.clone(),
            line: self.doc.position(n).line,
            message: format!("in <{}>: {e}", self.doc.qualified_name(n)),
            source: Some(Box::new(e)),
        })
    }

    fn unsupported(&self, n: NodeId, what: &str) -> Error {
        self.error(
            n,
            format!("{what} is not supported (<{}>)", self.doc.qualified_name(n)),
        )
    }

    fn elements(&self, n: NodeId) -> Vec<NodeId> {
        self.doc.child_elements(n).collect()
    }

    /// A `let`: compiled in `scope`, then added to it with a new slot.
    fn let_(&mut self, n: NodeId, scope: &mut Vec<(String, u32)>) -> Result<Let> {
        self.stats.lets += 1;
        let name = self.attr(n, "name")?.to_string();
        let value = match self.doc.attr(n, "value") {
            Some(src) => LetValue::Expr(self.compile(n, src, scope, false)?),
            None => LetValue::Content(self.templates(n, scope)?),
        };
        let slot = u32::try_from(self.slots).map_err(|_| self.error(n, "too many variables"))?;
        self.slots += 1;
        scope.push((name, slot));
        Ok(Let { slot, value })
    }

    /// XSLT content of a `let`: text, `xsl:value-of`, `xsl:text`,
    /// `xsl:for-each`. Whitespace-only text is dropped, as XSLT strips it.
    fn templates(&mut self, n: NodeId, scope: &[(String, u32)]) -> Result<Vec<Template>> {
        let mut out = Vec::new();
        for c in self.doc.children(n).collect::<Vec<_>>() {
            match self.doc.kind(c) {
                NodeKind::Text => {
                    let t = self.doc.value(c);
                    if !t.trim().is_empty() {
                        out.push(Template::Text(t.to_string()));
                    }
                }
                NodeKind::Element if self.doc.namespace(c) == XSLT_NS => {
                    match self.doc.local_name(c) {
                        "value-of" => {
                            let src = self.attr(c, "select")?;
                            out.push(Template::ValueOf(self.compile(c, src, scope, false)?));
                        }
                        "text" => out.push(Template::Text(self.doc.string_value(c).into_owned())),
                        "for-each" => {
                            let src = self.attr(c, "select")?;
                            let select = self.compile(c, src, scope, false)?;
                            let body = self.templates(c, scope)?;
                            out.push(Template::ForEach(select, body));
                        }
                        _ => return Err(self.unsupported(c, "this XSLT instruction")),
                    }
                }
                NodeKind::Element => {
                    return Err(self.unsupported(c, "an element in a let's content"));
                }
                _ => {}
            }
        }
        Ok(out)
    }

    fn message(
        &mut self,
        n: NodeId,
        scope: &[(String, u32)],
        out: &mut Vec<MessagePart>,
    ) -> Result<()> {
        for c in self.doc.children(n).collect::<Vec<_>>() {
            match self.doc.kind(c) {
                NodeKind::Text => out.push(MessagePart::Text(self.doc.value(c).to_string())),
                NodeKind::Element if self.is_iso(c, "name") => {
                    let path = match self.doc.attr(c, "path") {
                        Some(src) => Some(self.compile(c, src, scope, false)?),
                        None => None,
                    };
                    out.push(MessagePart::Name(path));
                }
                NodeKind::Element if self.is_iso(c, "value-of") => {
                    let src = self.attr(c, "select")?;
                    out.push(MessagePart::ValueOf(self.compile(c, src, scope, false)?));
                }
                NodeKind::Element
                    if self.doc.namespace(c) == ISO_SCHEMATRON_NS
                        && matches!(self.doc.local_name(c), "emph" | "dir" | "span") =>
                {
                    self.message(c, scope, out)?;
                }
                NodeKind::Element => return Err(self.unsupported(c, "this element in a message")),
                _ => {}
            }
        }
        Ok(())
    }

    fn rule(&mut self, n: NodeId, scope: &[(String, u32)]) -> Result<Rule> {
        if self.doc.attr(n, "abstract") == Some("true") {
            return Err(self.unsupported(n, "an abstract rule"));
        }
        self.stats.rules += 1;
        let context_src = self.attr(n, "context")?;
        let context = self.compile(n, context_src, scope, true)?;
        let mut scope = scope.to_vec();
        let first_rule_slot = self.slots;
        let mut lets = Vec::new();
        // Lets first, in order (a rule's variables are all bound before its
        // tests run), then the checks.
        for c in self.elements(n) {
            if self.is_iso(c, "let") {
                lets.push(self.let_(c, &mut scope)?);
            }
        }
        let mut checks = Vec::new();
        for c in self.elements(n) {
            if self.doc.namespace(c) != ISO_SCHEMATRON_NS {
                return Err(self.unsupported(c, "a foreign element in a rule"));
            }
            let severity = match self.doc.local_name(c) {
                "let" | "p" | "title" => continue,
                "assert" => {
                    self.stats.asserts += 1;
                    Severity::Error
                }
                "report" => {
                    self.stats.reports += 1;
                    Severity::Warning
                }
                "extends" => return Err(self.unsupported(c, "extends")),
                _ => return Err(self.unsupported(c, "this element in a rule")),
            };
            let test_source = self.attr(c, "test")?.to_string();
            let test = self.compile(c, &test_source, &scope, false)?;
            let mut message = Vec::new();
            self.message(c, &scope, &mut message)?;
            checks.push(Check {
                severity,
                test,
                test_source,
                message,
            });
        }
        // Rules never run at the same time: their variables share slots.
        self.max_slots = self.max_slots.max(self.slots);
        self.slots = first_rule_slot;
        Ok(Rule {
            context,
            context_prefix: None,
            lets,
            checks,
        })
    }
}

pub(crate) fn parse(file: &str, source: &[u8]) -> Result<Schematron> {
    let doc = Document::parse(source).map_err(|e| Error::Schematron {
        file: file.to_string(),
        line: 0,
        message: format!("not well-formed XML: {e}"),
        source: Some(Box::new(e)),
    })?;
    let root = doc.root_element();
    let mut l = Loader {
        file: file.to_string(),
        doc: &doc,
        ns: Namespaces::new(),
        names: NameTable::new(),
        stats: Stats::default(),
        slots: 0,
        max_slots: 0,
    };
    if !l.is_iso(root, "schema") {
        return Err(l.error(root, "the root element is not an ISO schematron <schema>"));
    }
    match doc.attr(root, "queryBinding") {
        None | Some("xslt2" | "xslt3" | "xpath2" | "xpath3" | "xpath31") => {}
        Some(other) => {
            return Err(l.error(
                root,
                format!("queryBinding {other:?} is not supported (only XPath 2 bindings)"),
            ));
        }
    }
    if doc.attr(root, "defaultPhase").is_some() {
        return Err(l.unsupported(root, "defaultPhase"));
    }
    for c in l.elements(root) {
        if l.is_iso(c, "ns") {
            let prefix = l.attr(c, "prefix")?;
            let uri = l.attr(c, "uri")?;
            l.ns.bind(prefix, uri);
        }
    }
    let mut title = None;
    let mut global_scope: Vec<(String, u32)> = Vec::new();
    let mut lets = Vec::new();
    let mut patterns = Vec::new();
    let mut asserted_root = None;
    for c in l.elements(root) {
        if doc.namespace(c) != ISO_SCHEMATRON_NS {
            return Err(l.unsupported(c, "a foreign element in the schema"));
        }
        match doc.local_name(c) {
            "title" => title = Some(normalize(&doc.string_value(c))),
            "ns" | "p" | "phase" | "diagnostics" => {}
            "let" => lets.push(l.let_(c, &mut global_scope)?),
            "pattern" => {
                if doc.attr(c, "abstract") == Some("true") || doc.attr(c, "is-a").is_some() {
                    return Err(l.unsupported(c, "an abstract pattern"));
                }
                l.stats.patterns += 1;
                let mut scope = global_scope.clone();
                let mut pattern_lets = Vec::new();
                for p in l.elements(c) {
                    if l.is_iso(p, "let") {
                        pattern_lets.push(l.let_(p, &mut scope)?);
                    }
                }
                let mut rules = Vec::new();
                for r in l.elements(c) {
                    if doc.namespace(r) != ISO_SCHEMATRON_NS {
                        return Err(l.unsupported(r, "a foreign element in a pattern"));
                    }
                    match doc.local_name(r) {
                        "rule" => {
                            if asserted_root.is_none() {
                                asserted_root = clinical_document_root(&l, r);
                            }
                            rules.push(l.rule(r, &scope)?);
                        }
                        "let" | "title" | "p" => {}
                        _ => return Err(l.unsupported(r, "this element in a pattern")),
                    }
                }
                let prefixes = share_prefixes(&mut rules);
                patterns.push(Pattern {
                    lets: pattern_lets,
                    rules,
                    prefixes,
                });
            }
            _ => return Err(l.unsupported(c, "this element in the schema")),
        }
    }
    let slots = l.max_slots.max(l.slots);
    Ok(Schematron {
        file_name: file.to_string(),
        title,
        names: l.names,
        lets,
        patterns,
        slots,
        stats: l.stats,
        asserted_root,
    })
}

/// Builds the prefix tree of the rules' contexts: steps that print the
/// same (same names, same predicates) under the same parent are one node.
fn share_prefixes(rules: &mut [Rule]) -> Vec<Prefix> {
    let mut prefixes: Vec<Prefix> = Vec::new();
    let mut index: HashMap<(Option<usize>, String), usize> = HashMap::new();
    for rule in rules {
        let Expr::Path(path) = &rule.context else {
            continue;
        };
        if !matches!(path.start, Start::Root)
            || path.steps.is_empty()
            || !path.steps.iter().all(|s| matches!(s, Step::Axis { .. }))
        {
            continue;
        }
        let mut parent = None;
        for step in &path.steps {
            let mut encoded = String::new();
            if !encode_step(step, &mut encoded) {
                // A context reading a variable: evaluated on its own.
                parent = None;
                break;
            }
            let key = (parent, encoded);
            let id = match index.get(&key) {
                Some(&id) => id,
                None => {
                    prefixes.push(Prefix {
                        parent,
                        step: step.clone(),
                    });
                    index.insert(key, prefixes.len() - 1);
                    prefixes.len() - 1
                }
            };
            parent = Some(id);
        }
        rule.context_prefix = parent;
    }
    prefixes
}

fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The templateId root a rule on `ClinicalDocument` asserts: the first
/// `templateId[@root='…']` in its tests.
fn clinical_document_root(l: &Loader<'_>, rule: NodeId) -> Option<String> {
    let context = l.doc.attr(rule, "context")?.trim().trim_start_matches('/');
    let (prefix, local) = context.split_once(':')?;
    if local != "ClinicalDocument" || l.ns.uri(prefix) != Some(HL7_NS) {
        return None;
    }
    for c in l.doc.child_elements(rule) {
        let Some(test) = l.doc.attr(c, "test") else {
            continue;
        };
        for quote in ['\'', '"'] {
            let needle = format!("templateId[@root={quote}");
            if let Some(at) = test.find(&needle) {
                let rest = &test[at + needle.len()..];
                if let Some(end) = rest.find(quote) {
                    return Some(rest[..end].to_string());
                }
            }
        }
    }
    None
}

#[derive(serde::Deserialize)]
struct IndexRecord {
    name_schematron: String,
    version: String,
    template_id_root: String,
    #[serde(default)]
    deleted: bool,
}

pub(crate) fn load_dir(dir: &Path) -> Result<SchematronSet> {
    let index_path = dir.join("index.json");
    if !index_path.is_file() {
        return scan_dir(dir);
    }
    let bytes = std::fs::read(&index_path).map_err(|source| Error::RulesIo {
        path: index_path.clone(),
        source,
    })?;
    let records: Vec<IndexRecord> =
        serde_json::from_slice(&bytes).map_err(|source| Error::RulesIndex {
            path: index_path.clone(),
            source,
        })?;
    let mut seen = std::collections::HashSet::new();
    let mut wanted: Vec<IndexRecord> = Vec::new();
    for r in records.into_iter().filter(|r| !r.deleted) {
        if r.name_schematron.contains(['/', '\\']) || r.name_schematron.starts_with('.') {
            return Err(Error::Schematron {
                file: r.name_schematron.clone(),
                line: 0,
                message: "index.json names a file outside the schematron directory".into(),
                source: None,
            });
        }
        if seen.insert((
            r.template_id_root.clone(),
            r.name_schematron.clone(),
            r.version.clone(),
        )) {
            wanted.push(r);
        }
    }
    let mut files: Vec<String> = wanted.iter().map(|r| r.name_schematron.clone()).collect();
    files.sort();
    files.dedup();
    let paths: Vec<_> = files.iter().map(|f| dir.join(f)).collect();
    let loaded: HashMap<&str, Arc<Schematron>> = files
        .iter()
        .map(String::as_str)
        .zip(load_all(&paths)?)
        .collect();
    let entries = wanted
        .into_iter()
        .filter_map(|r| {
            let schematron = loaded.get(r.name_schematron.as_str())?.clone();
            Some(SchematronEntry {
                template_id_root: r.template_id_root,
                version: r.version,
                schematron,
            })
        })
        .collect();
    Ok(SchematronSet::from_entries(entries))
}

/// Without an index: every `*.sch`, under the root it asserts and the
/// version in its name.
fn scan_dir(dir: &Path) -> Result<SchematronSet> {
    let read = std::fs::read_dir(dir).map_err(|source| Error::RulesIo {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<_> = read
        .filter_map(std::result::Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sch"))
        .collect();
    files.sort();
    let mut entries = Vec::new();
    for schematron in load_all(&files)? {
        let Some(root) = schematron.asserted_template_root().map(str::to_string) else {
            return Err(Error::Schematron {
                file: schematron.file_name().to_string(),
                line: 0,
                message: "cannot tell which templateId root it applies to (no index.json, and no \
                          ClinicalDocument rule asserting a templateId root)"
                    .into(),
                source: None,
            });
        };
        let version = version_from_file_name(schematron.file_name());
        entries.push(SchematronEntry {
            template_id_root: root,
            version,
            schematron,
        });
    }
    Ok(SchematronSet::from_entries(entries))
}

/// Compiles files on every core, keeping their order; the first error in
/// that order wins.
fn load_all(paths: &[std::path::PathBuf]) -> Result<Vec<Arc<Schematron>>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(paths.len())
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Result<Schematron>>> = Vec::new();
    results.resize_with(paths.len(), || None);
    let done: Vec<Vec<(usize, Result<Schematron>)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(path) = paths.get(i) else { break };
                        mine.push((i, Schematron::load(path)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    for (i, r) in done.into_iter().flatten() {
        if let Some(slot) = results.get_mut(i) {
            *slot = Some(r);
        }
    }
    results
        .into_iter()
        .map(|r| match r {
            Some(r) => r.map(Arc::new),
            None => Err(Error::Schematron {
                file: String::new(),
                line: 0,
                message: "a schematron loader thread stopped".into(),
                source: None,
            }),
        })
        .collect()
}

/// `schematronFSE_LAB_v27.1.sch` → `27.1`; `schematronFSE_RAP_1.4.sch` →
/// `1.4`; `0` when the name carries no version.
pub(crate) fn version_from_file_name(name: &str) -> String {
    let stem = name.strip_suffix(".sch").unwrap_or(name);
    let last = stem.rsplit(['_', '-']).next().unwrap_or("");
    let v = last.trim_start_matches(['v', 'V']);
    if !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.') {
        v.to_string()
    } else {
        "0".into()
    }
}
