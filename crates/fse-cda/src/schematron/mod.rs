//! ISO schematron, interpreted as the national Gateway applies it.
//!
//! A [`Schematron`] is read from its `.sch` source at run time and compiled
//! once: every rule context, `let`, `assert`/`report` test and message
//! expression goes through our [XPath engine](crate::xpath). Running it over
//! a document follows the semantics of the XSLT the Gateway compiles it to:
//! - within a pattern, a node is checked only by the **first** rule whose
//!   context matches it (the official files have a single pattern, so later
//!   rules are shadowed where they overlap);
//! - a rule's `let`s are bound in order, then its tests evaluated with the
//!   node as context; a failed `assert` is an error, a successful `report`
//!   a warning;
//! - messages expand `<name/>` and `<value-of select>`; the id of a hit is
//!   the leading token of its text (`ERRORE-5`, `W001`, `ERRORE b15`);
//! - a `let` whose value is XSLT content (`xsl:for-each` over nodes with
//!   `xsl:value-of` inside, used by a few files to build a path for the
//!   message) is run by a small template interpreter.
//!
//! Constructs beyond these (abstract patterns or rules, `extends`,
//! `include`, phases, diagnostics, other XSLT) are refused when loading,
//! naming the construct, so a file never silently half-applies.
//!
//! A [`SchematronSet`] holds the schematrons of a rules directory and
//! [selects](SchematronSet::select) the newest one for a templateId root,
//! from `index.json` or, without it, by scanning the files.

mod load;
mod run;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

pub use load::Stats;
pub(crate) use run::location;

use crate::error::{Error, Result};
use crate::xpath::{Expr, NameTable};

/// The ISO schematron namespace.
pub const ISO_SCHEMATRON_NS: &str = "http://purl.oclc.org/dsdl/schematron";
/// The XSLT namespace (for content `let`s).
pub const XSLT_NS: &str = "http://www.w3.org/1999/XSL/Transform";

/// Whether a hit blocks the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// A failed `assert`.
    Error,
    /// A successful `report`.
    Warning,
}

/// A failed assert or a successful report on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The leading token of the message (`ERRORE-5`, `W001`); for a test
    /// that raised a dynamic error, `XPATH_ERROR`.
    pub id: String,
    /// Assert (error) or report (warning).
    pub severity: Severity,
    /// The expanded message, whitespace runs collapsed to one space.
    pub message: String,
    /// XPath of the context node (`/ClinicalDocument[1]/author[1]`).
    pub location: String,
    /// 1-based line of the context node.
    pub line: Option<u32>,
}

/// The id of a message: the first group of `^\s*([A-Za-z]+[-_ ]?[\w.]*)`,
/// as the reference results define it; the whole trimmed text's first
/// word when the text does not start with a letter.
pub fn message_id(text: &str) -> String {
    let t = text.trim_start();
    let letters = t
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .map(char::len_utf8)
        .sum::<usize>();
    if letters == 0 {
        return t.split_whitespace().next().unwrap_or("").to_string();
    }
    let mut end = letters;
    let rest = &t[end..];
    if let Some(c) = rest.chars().next().filter(|c| matches!(c, '-' | '_' | ' ')) {
        end += c.len_utf8();
    }
    end += t[end..]
        .chars()
        .take_while(|&c| c.is_alphanumeric() || c == '_' || c == '.')
        .map(char::len_utf8)
        .sum::<usize>();
    t[..end].to_string()
}

#[derive(Debug)]
pub(crate) struct Let {
    pub(crate) slot: u32,
    pub(crate) value: LetValue,
}

#[derive(Debug)]
pub(crate) enum LetValue {
    Expr(Expr),
    /// XSLT content: its string value, as an untyped value.
    Content(Vec<Template>),
}

#[derive(Debug)]
pub(crate) enum Template {
    Text(String),
    ValueOf(Expr),
    ForEach(Expr, Vec<Template>),
}

#[derive(Debug)]
pub(crate) enum MessagePart {
    Text(String),
    /// `<name/>`, of the context node or of `path`.
    Name(Option<Expr>),
    ValueOf(Expr),
}

#[derive(Debug)]
pub(crate) struct Check {
    pub(crate) severity: Severity,
    pub(crate) test: Expr,
    pub(crate) test_source: String,
    pub(crate) message: Vec<MessagePart>,
}

#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) context: Expr,
    /// The context's node in the pattern's prefix tree, when the context
    /// is a plain path from the root.
    pub(crate) context_prefix: Option<usize>,
    pub(crate) lets: Vec<Let>,
    pub(crate) checks: Vec<Check>,
}

#[derive(Debug)]
pub(crate) struct Pattern {
    pub(crate) lets: Vec<Let>,
    pub(crate) rules: Vec<Rule>,
    /// The rule contexts' paths merged by common prefix
    /// (`//hl7:ClinicalDocument/hl7:component/…`), so each distinct prefix
    /// is evaluated once per document.
    pub(crate) prefixes: Vec<Prefix>,
}

/// One step of the prefix tree: the nodes selected by `step` applied to
/// the nodes of `parent` (the document node for a root).
#[derive(Debug)]
pub(crate) struct Prefix {
    pub(crate) parent: Option<usize>,
    pub(crate) step: crate::xpath::Step,
}

/// One compiled schematron.
#[derive(Debug)]
pub struct Schematron {
    file_name: String,
    title: Option<String>,
    names: NameTable,
    lets: Vec<Let>,
    patterns: Vec<Pattern>,
    slots: usize,
    stats: Stats,
    asserted_root: Option<String>,
}

impl Schematron {
    /// Compiles a schematron from its source; `file_name` names it in
    /// reports and errors.
    ///
    /// # Errors
    /// [`Error::Schematron`] when the source is not well-formed XML, not an
    /// ISO schematron, uses an unsupported construct, or an expression does
    /// not compile.
    pub fn parse(file_name: &str, source: &[u8]) -> Result<Schematron> {
        load::parse(file_name, source)
    }

    /// Reads and compiles a `.sch` file.
    ///
    /// # Errors
    /// [`Error::RulesIo`] when it cannot be read; otherwise as
    /// [`Schematron::parse`].
    pub fn load(path: &Path) -> Result<Schematron> {
        let bytes = std::fs::read(path).map_err(|source| Error::RulesIo {
            path: path.to_path_buf(),
            source,
        })?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Self::parse(&name, &bytes)
    }

    /// The file name it was loaded from.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The `<title>`, if any.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// How many patterns, rules, asserts, reports and lets it has.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The templateId root its `ClinicalDocument` rule asserts (the root
    /// it applies to), when it can be found.
    pub fn asserted_template_root(&self) -> Option<&str> {
        self.asserted_root.as_deref()
    }

    /// Runs it over a document: every failed assert and successful report,
    /// in document order of their context nodes.
    pub fn run(&self, doc: &crate::xml::Document) -> Vec<Hit> {
        run::run(self, doc)
    }
}

/// A schematron of a rules directory with the templateId root and version
/// it is registered under.
#[derive(Debug)]
pub struct SchematronEntry {
    /// The templateId root it applies to.
    pub template_id_root: String,
    /// Its version (`27.1`).
    pub version: String,
    /// The compiled schematron (shared when several entries name one file).
    pub schematron: Arc<Schematron>,
}

/// The schematrons of a rules directory, selectable by templateId root.
#[derive(Debug, Default)]
pub struct SchematronSet {
    entries: Vec<SchematronEntry>,
    newest: HashMap<String, usize>,
}

impl SchematronSet {
    /// Loads the schematrons of a directory (`<rules>/schematron`): those
    /// `index.json` lists (entries marked `deleted` are skipped), or every
    /// `*.sch` file when there is no index, registered under the templateId
    /// root its `ClinicalDocument` rule asserts and the version in its file
    /// name.
    ///
    /// # Errors
    /// When the directory, the index or a file cannot be read, the index is
    /// malformed or names a missing file, or a schematron does not compile.
    pub fn load_dir(dir: &Path) -> Result<SchematronSet> {
        load::load_dir(dir)
    }

    /// Builds a set from entries.
    pub fn from_entries(entries: Vec<SchematronEntry>) -> SchematronSet {
        let mut newest: HashMap<String, usize> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            let replace = match newest.get(&e.template_id_root) {
                None => true,
                Some(&j) => compare_versions(&e.version, &entries[j].version).is_gt(),
            };
            if replace {
                newest.insert(e.template_id_root.clone(), i);
            }
        }
        SchematronSet { entries, newest }
    }

    /// The newest schematron registered for a templateId root.
    pub fn select(&self, template_id_root: &str) -> Option<&Schematron> {
        self.newest
            .get(template_id_root)
            .and_then(|&i| self.entries.get(i))
            .map(|e| e.schematron.as_ref())
    }

    /// Every entry, in load order.
    pub fn entries(&self) -> &[SchematronEntry] {
        &self.entries
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Compares dotted versions numerically part by part (`27.1` > `3.3`,
/// `1.10` > `1.9`); non-numeric parts compare as text.
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let mut x = a.split('.');
    let mut y = b.split('.');
    loop {
        match (x.next(), y.next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(p), Some(q)) => {
                let ord = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    _ => p.cmp(q),
                };
                if ord.is_ne() {
                    return ord;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
