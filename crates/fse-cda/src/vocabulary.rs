//! Vocabulary: the codes of a document against the code systems the
//! Gateway manages, as its terminology stage checks them.
//!
//! The Gateway takes every element with a `codeSystem` attribute (after
//! rewriting the `value` code system under a few LOINC observation codes,
//! see [`CODE_SYSTEM_FIXUPS`]), then, in order:
//! 1. drops code systems of the allowlist ([`ALLOWLIST`]);
//! 2. refuses any code system with an OID arc `999` or `9999` (blocklist):
//!    an error, and the stage stops;
//! 3. drops code systems it does not manage, logging them: warnings here;
//! 4. gives codes without `codeSystemVersion` the newest managed version;
//! 5. refuses a version it does not manage: an error, and the stage stops;
//! 6. refuses every code not present in its (system, version): errors.
//!
//! The managed systems are those of `terminology/*.csv` (one file per
//! OID, lines `version,code,description,release_date`). The official
//! catalogs list LOINC and AIC without publishing their codes: when their
//! files are absent, their codes are reported as warnings
//! (`VOCABULARY_NOT_CHECKED`), never silently passed.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::error::{Error, Result};
use crate::validator::{Finding, Severity, Stage};
use crate::xml::{Document, HL7_NS, NodeId, Sym};

/// Code systems the Gateway's dictionary marks as allowlisted: never checked.
pub const ALLOWLIST: [&str; 3] = [
    "2.16.840.1.113883.2.9.1.11.1.2.10",
    "2.16.840.1.113883.2.9.1.11.1.2.11",
    "2.16.840.1.113883.2.9.1.11.1.2.13",
];

/// Code systems the Gateway manages whose codes the official catalogs do
/// not publish (LOINC, AIC): checked only when their file is installed.
pub const MANAGED_WITHOUT_PUBLISHED_CODES: [&str; 2] =
    ["2.16.840.1.113883.6.1", "2.16.840.1.113883.2.9.6.1.5"];

/// The Gateway's code-system fix-up: the `value`s of an `observation`
/// whose child `code/@code` is the first string get the second as
/// `codeSystem` before the check (answer lists published under their own
/// OIDs).
pub const CODE_SYSTEM_FIXUPS: [(&str, &str); 5] = [
    ("89261-2", "2.16.840.1.113883.2.9.10.1.4.3.4.5"),
    ("33999-4", "2.16.840.1.113883.2.9.77.22.11.7"),
    ("75246-9", "2.16.840.1.113883.2.9.77.22.11.15"),
    ("72166-2", "1.3.6.1.4.1.12009.10.1.1356"),
    ("74204-9", "1.3.6.1.4.1.12009.10.1.1694"),
];

#[derive(Debug)]
struct Version {
    name: String,
    release_date: Option<String>,
    codes: HashSet<String>,
}

#[derive(Debug, Default)]
struct CodeSystem {
    versions: Vec<Version>,
}

impl CodeSystem {
    /// The newest version: the latest release date, else the last loaded.
    fn newest(&self) -> Option<&Version> {
        let dated = self
            .versions
            .iter()
            .filter(|v| v.release_date.is_some())
            .max_by(|a, b| a.release_date.cmp(&b.release_date));
        dated.or_else(|| self.versions.last())
    }

    fn version(&self, name: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.name == name)
    }
}

/// The managed code systems.
#[derive(Debug)]
pub struct Terminology {
    systems: HashMap<String, CodeSystem>,
    allowlist: Vec<String>,
}

impl Default for Terminology {
    fn default() -> Self {
        Terminology {
            systems: HashMap::new(),
            allowlist: ALLOWLIST.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// One coded element as the Gateway extracts it.
struct Coded<'d> {
    node: NodeId,
    code: Option<&'d str>,
    system: Option<&'d str>,
    version: Option<&'d str>,
}

impl Terminology {
    /// Loads every `*.csv` of a directory; the file name (without `.csv`)
    /// is the code system OID.
    ///
    /// # Errors
    /// When the directory or a file cannot be read, or a file is not the
    /// expected CSV.
    pub fn load_dir(dir: &Path) -> Result<Terminology> {
        let read = std::fs::read_dir(dir).map_err(|source| Error::RulesIo {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut files: Vec<_> = read
            .filter_map(std::result::Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        files.sort();
        let mut t = Terminology::default();
        for path in files {
            let Some(system) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).map_err(|source| Error::RulesIo {
                path: path.clone(),
                source,
            })?;
            t.add_csv(
                &system,
                &text,
                &path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            )?;
        }
        Ok(t)
    }

    /// Adds the codes of one CSV (`version,code,description,release_date`,
    /// with a header line naming at least `version` and `code`).
    ///
    /// # Errors
    /// [`Error::Terminology`] when the header lacks a column or a line is
    /// malformed.
    pub fn add_csv(&mut self, system: &str, text: &str, file: &str) -> Result<()> {
        let bad = |line: usize, message: String| Error::Terminology {
            file: file.to_string(),
            line,
            message,
        };
        let mut reader = CsvReader::new(text);
        let header = match reader.next_record() {
            None => return Err(bad(1, "empty file".into())),
            Some(record) => record.map_err(|(line, m)| bad(line, m))?.1,
        };
        let col = |name: &str| {
            header
                .iter()
                .position(|h| h.trim().trim_start_matches('\u{FEFF}') == name)
        };
        let (Some(vc), Some(cc)) = (col("version"), col("code")) else {
            return Err(bad(
                1,
                "the header must name the columns version and code".into(),
            ));
        };
        let dc = col("release_date");
        let cs = self.systems.entry(system.to_string()).or_default();
        while let Some(record) = reader.next_record() {
            let (line, row) = record.map_err(|(line, m)| bad(line, m))?;
            if row.len() == 1 && row[0].is_empty() {
                continue;
            }
            let (Some(version), Some(code)) = (row.get(vc), row.get(cc)) else {
                return Err(bad(
                    line,
                    format!(
                        "expected at least {} fields, found {}",
                        vc.max(cc) + 1,
                        row.len()
                    ),
                ));
            };
            let date = dc
                .and_then(|i| row.get(i))
                .filter(|d| !d.is_empty())
                .map(|d| d.to_string());
            let idx = match cs.versions.iter().position(|v| v.name == *version) {
                Some(i) => i,
                None => {
                    cs.versions.push(Version {
                        name: version.to_string(),
                        release_date: None,
                        codes: HashSet::new(),
                    });
                    cs.versions.len() - 1
                }
            };
            let v = &mut cs.versions[idx];
            if v.release_date.is_none() {
                v.release_date = date;
            }
            if !v.codes.contains(code.as_ref()) {
                v.codes.insert(code.to_string());
            }
        }
        Ok(())
    }

    /// Replaces the allowlist.
    #[must_use]
    pub fn with_allowlist(mut self, systems: &[&str]) -> Terminology {
        self.allowlist = systems.iter().map(|s| s.to_string()).collect();
        self
    }

    /// The OIDs of the managed code systems loaded, sorted.
    pub fn systems(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.systems.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// The number of codes loaded, over every system and version.
    pub fn code_count(&self) -> usize {
        self.systems
            .values()
            .flat_map(|s| &s.versions)
            .map(|v| v.codes.len())
            .sum()
    }

    /// What the stage does with the codes of one code system.
    fn disposition(&self, system: Option<&str>) -> Disposition<'_> {
        let Some(s) = system else {
            return Disposition::Unknown;
        };
        if self.allowlist.iter().any(|a| a == s) {
            Disposition::Allowed
        } else if s
            .as_bytes()
            .split(|&b| b == b'.')
            .any(|arc| arc == b"999" || arc == b"9999")
        {
            Disposition::Blocked
        } else if let Some(cs) = self.systems.get(s) {
            Disposition::Managed(cs, cs.newest())
        } else if MANAGED_WITHOUT_PUBLISHED_CODES.contains(&s) {
            Disposition::Unpublished
        } else {
            Disposition::Unknown
        }
    }

    /// Checks every coded element of a document; see the module doc.
    pub fn check(&self, doc: &Document) -> Vec<Finding> {
        let coded = extract(doc);
        let mut findings = Vec::new();
        let finding = |id: &str, severity, message: String, node: NodeId| Finding {
            stage: Stage::Vocabulary,
            id: id.into(),
            severity,
            message,
            location: crate::schematron::location(doc, node),
            line: Some(doc.position(node).line),
        };

        // A document uses a handful of code systems over dozens of codes:
        // each is judged (allowlist, blocklist, managed, newest version)
        // once, in order of first use, and the codes refer to it.
        let mut uses: Vec<SystemUse<'_, '_>> = Vec::with_capacity(16);
        let mut slots: Vec<usize> = Vec::with_capacity(coded.len());
        for c in &coded {
            let slot = match uses.iter().position(|u| u.system == c.system) {
                Some(i) => i,
                None => {
                    uses.push(SystemUse {
                        system: c.system,
                        first: c.node,
                        count: 0,
                        disposition: self.disposition(c.system),
                    });
                    uses.len() - 1
                }
            };
            if let Some(u) = uses.get_mut(slot) {
                u.count += 1;
            }
            slots.push(slot);
        }

        // Blocklist: the stage fails at once.
        let blocked: Vec<&SystemUse<'_, '_>> = uses
            .iter()
            .filter(|u| matches!(u.disposition, Disposition::Blocked))
            .collect();
        if !blocked.is_empty() {
            let list = blocked
                .iter()
                .map(|u| u.system.unwrap_or(""))
                .collect::<Vec<_>>()
                .join(", ");
            for u in &blocked {
                let s = u.system.unwrap_or("");
                findings.push(finding(
                    "VOCABULARY_BLOCKLIST",
                    Severity::Error,
                    format!("È stato trovato almeno un dizionario presente in Blocklist: [{list}] ({s} here)"),
                    u.first,
                ));
            }
            return findings;
        }

        // Unknown systems: logged by the Gateway, warnings here; by system.
        let mut unknown: Vec<&SystemUse<'_, '_>> = uses
            .iter()
            .filter(|u| matches!(u.disposition, Disposition::Unknown))
            .collect();
        unknown.sort_unstable_by_key(|u| u.system);
        for u in unknown {
            let name = u.system.unwrap_or("(empty)");
            let n = u.count;
            findings.push(finding(
                "VOCABULARY_UNKNOWN_SYSTEM",
                Severity::Warning,
                format!(
                    "code system {name} is not managed by the Gateway: {n} code(s) not checked"
                ),
                u.first,
            ));
        }
        let mut unpublished: Vec<&SystemUse<'_, '_>> = uses
            .iter()
            .filter(|u| matches!(u.disposition, Disposition::Unpublished))
            .collect();
        unpublished.sort_unstable_by_key(|u| u.system);
        for u in unpublished {
            let s = u.system.unwrap_or("");
            let n = u.count;
            findings.push(finding(
                "VOCABULARY_NOT_CHECKED",
                Severity::Warning,
                format!("code system {s} is managed by the Gateway but its codes are not installed: {n} code(s) not checked"),
                u.first,
            ));
        }

        // Missing version: the newest; then unmanaged versions fail the stage.
        let mut checked: Vec<(&Coded<'_>, &str, &Version)> = Vec::with_capacity(coded.len());
        let mut bad_versions: Vec<(String, NodeId)> = Vec::new();
        for (c, &slot) in coded.iter().zip(&slots) {
            let Some(&SystemUse {
                system: Some(system),
                disposition: Disposition::Managed(cs, newest),
                ..
            }) = uses.get(slot)
            else {
                continue;
            };
            let version = match c.version {
                Some(v) => cs.version(v),
                None => newest,
            };
            match version {
                Some(v) => checked.push((c, system, v)),
                None => {
                    let label = version_label(system, c.version);
                    if !bad_versions.iter().any(|(l, _)| *l == label) {
                        bad_versions.push((label, c.node));
                    }
                }
            }
        }
        if !bad_versions.is_empty() {
            let list = bad_versions
                .iter()
                .map(|(l, _)| l.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            for (label, node) in &bad_versions {
                findings.push(finding(
                    "VOCABULARY_VERSION",
                    Severity::Error,
                    format!("È stata trovata almeno una versione non gestita di un dizionario: [{list}] ({label} here)"),
                    *node,
                ));
            }
            return findings;
        }

        // Codes.
        let mut seen: HashSet<(&str, &str, Option<&str>)> = HashSet::new();
        for (c, system, version) in checked {
            let known = c.code.is_some_and(|code| version.codes.contains(code));
            if !known && seen.insert((system, version.name.as_str(), c.code)) {
                findings.push(finding(
                    "VOCABULARY_CODE",
                    Severity::Error,
                    format!(
                        "Almeno uno dei seguenti vocaboli non è censito: [CodeSystem: {}, Codes: {}]",
                        version_label(system, Some(&version.name)),
                        c.code.unwrap_or("null")
                    ),
                    c.node,
                ));
            }
        }
        findings
    }
}

/// How the stage treats a code system.
#[derive(Clone, Copy)]
enum Disposition<'t> {
    Allowed,
    Blocked,
    /// Managed, with its codes: the system and its newest version.
    Managed(&'t CodeSystem, Option<&'t Version>),
    /// Managed without published codes.
    Unpublished,
    Unknown,
}

/// One code system as a document uses it.
struct SystemUse<'d, 't> {
    system: Option<&'d str>,
    /// The first element using it.
    first: NodeId,
    /// How many elements use it.
    count: usize,
    disposition: Disposition<'t>,
}

fn version_label(system: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{system} v{v}"),
        None => system.to_string(),
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// The `value` elements the fix-up rewrites, sorted: (element, fix-up
/// rank, code system).
fn overrides(doc: &Document) -> Vec<(NodeId, usize, &'static str)> {
    let mut overrides: Vec<(NodeId, usize, &'static str)> = Vec::new();
    if let (Some(ns), Some(obs), Some(code), Some(value)) = (
        doc.symbol(HL7_NS),
        doc.symbol("observation"),
        doc.symbol("code"),
        doc.symbol("value"),
    ) {
        let values = doc.elements_named(ns, value);
        for &o in doc.elements_named(ns, obs) {
            let fix = doc
                .children(o)
                .filter(|&c| doc.name_syms(c) == (ns, code))
                .find_map(|c| {
                    let v = doc.attr(c, "code")?;
                    CODE_SYSTEM_FIXUPS
                        .iter()
                        .enumerate()
                        .find(|(_, (k, _))| *k == v)
                        .map(|(i, (_, s))| (i, *s))
                });
            if let Some((rank, system)) = fix {
                let end = doc.subtree_end(o);
                let from = values.partition_point(|&x| x <= o);
                let to = values.partition_point(|&x| x <= end);
                overrides.extend(
                    values
                        .get(from..to)
                        .unwrap_or(&[])
                        .iter()
                        .map(|&v| (v, rank, system)),
                );
            }
        }
        // Nested observations can rewrite a value twice: the Gateway runs
        // the fix-ups in the table's order, so the last one in it wins.
        overrides.sort_unstable();
    }
    overrides
}

/// Every element with a `codeSystem` (or given one by the fix-up), in
/// document order.
fn extract(doc: &Document) -> Vec<Coded<'_>> {
    let (code_sym, system_sym, version_sym) = (
        doc.symbol("code"),
        doc.symbol("codeSystem"),
        doc.symbol("codeSystemVersion"),
    );
    let no_ns = doc.symbol("").unwrap_or(Sym::EMPTY);
    // (code, codeSystem, codeSystemVersion, whether codeSystem is there).
    let read = |n: NodeId| {
        let (mut code, mut system, mut version, mut has_system) = (None, None, None, false);
        for a in doc.attributes(n) {
            let (ns, local) = doc.name_syms(a);
            if ns != no_ns {
                continue;
            }
            let local = Some(local);
            if local == code_sym {
                code = non_empty(Some(doc.value(a)));
            } else if local == system_sym {
                has_system = true;
                system = non_empty(Some(doc.value(a)));
            } else if local == version_sym {
                version = non_empty(Some(doc.value(a)));
            }
        }
        (code, system, version, has_system)
    };
    // The name index lists every element and only elements: cheaper to
    // walk than the whole tree with its text and attribute nodes. The
    // order is restored by sorting the few coded elements' ids, whose
    // attributes are then read again.
    // Room for a typical document's coded elements: no regrowth.
    let mut nodes: Vec<NodeId> = Vec::with_capacity(256);
    if let Some(system_sym) = system_sym {
        for (_, elements) in doc.element_names() {
            for &n in elements {
                if doc
                    .attributes(n)
                    .any(|a| doc.name_syms(a) == (no_ns, system_sym))
                {
                    nodes.push(n);
                }
            }
        }
        nodes.sort_unstable();
    }
    let mut out = Vec::with_capacity(nodes.len());
    for n in nodes {
        let (code, system, version, _) = read(n);
        out.push(Coded {
            node: n,
            code,
            system,
            version,
        });
    }
    let overrides = overrides(doc);
    let mut added = Vec::new();
    for group in overrides.chunk_by(|a, b| a.0 == b.0) {
        let Some(&(node, _, system)) = group.last() else {
            continue;
        };
        match out.binary_search_by_key(&node, |c| c.node) {
            Ok(i) => {
                if let Some(c) = out.get_mut(i) {
                    c.system = Some(system);
                }
            }
            Err(_) => {
                let (code, _, version, _) = read(node);
                added.push(Coded {
                    node,
                    code,
                    system: Some(system),
                    version,
                });
            }
        }
    }
    if !added.is_empty() {
        out.extend(added);
        out.sort_unstable_by_key(|c| c.node);
    }
    out
}

type Record<'a> = (usize, Vec<Cow<'a, str>>);

/// RFC 4180 CSV, one record at a time: quoted fields may hold commas,
/// doubled quotes and line breaks; CRLF or LF line ends. Records without a
/// quote (nearly all) borrow their fields from the text.
struct CsvReader<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> CsvReader<'a> {
    fn new(text: &'a str) -> Self {
        CsvReader {
            text,
            pos: 0,
            line: 1,
        }
    }

    /// The next record with its 1-based first line, or a message with the
    /// line where the text stops being CSV.
    fn next_record(&mut self) -> Option<std::result::Result<Record<'a>, (usize, String)>> {
        let text = self.text;
        let bytes = text.as_bytes();
        if self.pos >= bytes.len() {
            return None;
        }
        let line = self.line;
        let mut fields: Vec<Cow<'a, str>> = Vec::new();
        let mut i = self.pos;
        loop {
            // One field, starting at i.
            if bytes.get(i) == Some(&b'"') {
                let start = i + 1;
                let mut j = start;
                let mut owned: Option<String> = None;
                loop {
                    let Some(off) = bytes
                        .get(j..)
                        .and_then(|b| b.iter().position(|&c| c == b'"'))
                    else {
                        return Some(Err((line, "unterminated quoted field".into())));
                    };
                    let quote = j + off;
                    self.line += bytes
                        .get(j..quote)
                        .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
                    if bytes.get(quote + 1) == Some(&b'"') {
                        owned
                            .get_or_insert_with(String::new)
                            .push_str(text.get(j..=quote).unwrap_or(""));
                        j = quote + 2;
                        continue;
                    }
                    let tail = text.get(j..quote).unwrap_or("");
                    fields.push(match owned {
                        Some(mut s) => {
                            s.push_str(tail);
                            Cow::Owned(s)
                        }
                        None if j == start => Cow::Borrowed(tail),
                        None => Cow::Owned(tail.to_string()),
                    });
                    i = quote + 1;
                    break;
                }
            } else {
                let end = bytes
                    .get(i..)
                    .and_then(|b| b.iter().position(|&c| matches!(c, b',' | b'\n' | b'"')));
                let end = end.map_or(bytes.len(), |e| i + e);
                if bytes.get(end) == Some(&b'"') {
                    return Some(Err((self.line, "a quote inside an unquoted field".into())));
                }
                let field = text.get(i..end).unwrap_or("");
                fields.push(Cow::Borrowed(field.strip_suffix('\r').unwrap_or(field)));
                i = end;
            }
            // After a field: a comma, a line end, or the end of the text.
            match bytes.get(i) {
                Some(b',') => i += 1,
                Some(b'\n') => {
                    self.pos = i + 1;
                    self.line += 1;
                    return Some(Ok((line, fields)));
                }
                Some(b'\r') if bytes.get(i + 1) == Some(&b'\n') => {
                    self.pos = i + 2;
                    self.line += 1;
                    return Some(Ok((line, fields)));
                }
                None => {
                    self.pos = bytes.len();
                    return Some(Ok((line, fields)));
                }
                Some(_) => return Some(Err((self.line, "text after a closing quote".into()))),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::type_complexity)]
fn parse_csv(text: &str) -> std::result::Result<Vec<(usize, Vec<String>)>, (usize, String)> {
    let mut reader = CsvReader::new(text);
    let mut rows = Vec::new();
    while let Some(record) = reader.next_record() {
        let (line, fields) = record?;
        rows.push((line, fields.into_iter().map(Cow::into_owned).collect()));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terminology() -> Terminology {
        let mut t = Terminology::default();
        t.add_csv("2.16.840.1.113883.5.25", "version,code,description,release_date\r\n2.2.0,N,normal,2019-12-15\r\n2.2.0,R,\"restricted, really\",2019-12-15\r\n", "a.csv").unwrap();
        t.add_csv(
            "2.16.840.1.113883.6.73",
            "version,code,description,release_date\n\"\",A01,\"STOMATOLOGICI \"\"x\"\"\",\n",
            "b.csv",
        )
        .unwrap();
        t.add_csv(
            "1.2.3",
            "version,code,description,release_date\n1.0,X,old,2020-01-01\n2.0,Y,new,2021-01-01\n",
            "c.csv",
        )
        .unwrap();
        t.add_csv(
            "2.16.840.1.113883.2.9.10.1.4.3.4.5",
            "version,code,description,release_date\n1,LA1,a,\n",
            "d.csv",
        )
        .unwrap();
        t.add_csv(
            "1.3.6.1.4.1.12009.10.1.1356",
            "version,code,description,release_date\n1,LA9,smoker,\n",
            "e.csv",
        )
        .unwrap();
        t
    }

    fn check(body: &str) -> Vec<Finding> {
        let xml = format!(r#"<ClinicalDocument xmlns="urn:hl7-org:v3">{body}</ClinicalDocument>"#);
        terminology().check(&Document::parse(xml.as_bytes()).unwrap())
    }

    fn ids(f: &[Finding]) -> Vec<(&str, Severity)> {
        f.iter().map(|f| (f.id.as_str(), f.severity)).collect()
    }

    #[test]
    fn managed_codes_pass_and_unknown_codes_fail() {
        assert!(
            check(r#"<confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>"#)
                .is_empty()
        );
        assert!(
            check(r#"<code code="A01" codeSystem="2.16.840.1.113883.6.73" codeSystemVersion=""/>"#)
                .is_empty()
        );
        let f =
            check(r#"<x><confidentialityCode code="Q" codeSystem="2.16.840.1.113883.5.25"/></x>"#);
        assert_eq!(ids(&f), [("VOCABULARY_CODE", Severity::Error)]);
        assert_eq!(
            f[0].message,
            "Almeno uno dei seguenti vocaboli non è censito: [CodeSystem: 2.16.840.1.113883.5.25 v2.2.0, Codes: Q]"
        );
        assert_eq!(
            f[0].location,
            "/ClinicalDocument[1]/x[1]/confidentialityCode[1]"
        );
    }

    #[test]
    fn missing_version_takes_the_newest_and_unmanaged_versions_fail() {
        assert!(check(r#"<code code="Y" codeSystem="1.2.3"/>"#).is_empty());
        assert_eq!(
            ids(&check(r#"<code code="X" codeSystem="1.2.3"/>"#)),
            [("VOCABULARY_CODE", Severity::Error)]
        );
        assert!(check(r#"<code code="X" codeSystem="1.2.3" codeSystemVersion="1.0"/>"#).is_empty());
        let f = check(
            r#"<code code="X" codeSystem="1.2.3" codeSystemVersion="9"/><code code="nope" codeSystem="2.16.840.1.113883.5.25"/>"#,
        );
        // The version error stops the stage before codes are looked up.
        assert_eq!(ids(&f), [("VOCABULARY_VERSION", Severity::Error)]);
        assert!(f[0].message.contains("[1.2.3 v9]"), "{}", f[0].message);
    }

    #[test]
    fn allowlist_blocklist_and_unknown_systems() {
        assert!(
            check(r#"<code code="whatever" codeSystem="2.16.840.1.113883.2.9.1.11.1.2.10"/>"#)
                .is_empty()
        );
        let f = check(
            r#"<code code="a" codeSystem="2.16.999.1"/><code code="Q" codeSystem="2.16.840.1.113883.5.25"/>"#,
        );
        assert_eq!(ids(&f), [("VOCABULARY_BLOCKLIST", Severity::Error)]);
        assert!(f[0].message.starts_with(
            "È stato trovato almeno un dizionario presente in Blocklist: [2.16.999.1]"
        ));
        let f = check(
            r#"<code code="a" codeSystem="9.8.7"/><code code="b" codeSystem="9.8.7"/><code code="34105-7" codeSystem="2.16.840.1.113883.6.1"/>"#,
        );
        assert_eq!(
            ids(&f),
            [
                ("VOCABULARY_UNKNOWN_SYSTEM", Severity::Warning),
                ("VOCABULARY_NOT_CHECKED", Severity::Warning)
            ]
        );
        assert!(f[0].message.contains("2 code(s)"));
    }

    #[test]
    fn answer_list_fixup_rewrites_value_code_systems() {
        let obs = |code: &str| {
            format!(
                r#"<observation><code code="{code}" codeSystem="2.16.840.1.113883.6.1"/><value code="LA1" codeSystem="2.16.840.1.113883.6.1"/></observation>"#
            )
        };
        // Under 89261-2 the value is checked against the answer list OID, where LA1 exists.
        let f = check(&obs("89261-2"));
        assert_eq!(ids(&f), [("VOCABULARY_NOT_CHECKED", Severity::Warning)]);
        assert!(
            f[0].message.contains("1 code(s)"),
            "only the LOINC code itself is left unchecked"
        );
        let f = check(&obs("11111-1"));
        assert!(f[0].message.contains("2 code(s)"));
        // Nested observations: both fix-ups reach the inner value; the one
        // later in the Gateway's table (72166-2) is applied last and wins.
        let nested = r#"<observation><code code="89261-2" codeSystem="2.16.840.1.113883.6.1"/>
            <entryRelationship><observation><code code="72166-2" codeSystem="2.16.840.1.113883.6.1"/>
            <value code="LA9" codeSystem="2.16.840.1.113883.6.1"/></observation></entryRelationship></observation>"#;
        let f = check(nested);
        assert_eq!(
            ids(&f),
            [("VOCABULARY_NOT_CHECKED", Severity::Warning)],
            "{f:?}"
        );
    }

    #[test]
    fn systems_are_judged_once_and_reported_in_the_gateway_order() {
        // Unknown systems by system ((empty) first), counted per element.
        let f = check(
            r#"<code code="a" codeSystem="9.8.7"/><code code="b" codeSystem=""/><x:code xmlns:x="urn:x" code="c" codeSystem="1.1"/><code code="d" codeSystem="9.8.7"/>"#,
        );
        let messages: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "code system (empty) is not managed by the Gateway: 1 code(s) not checked",
                "code system 1.1 is not managed by the Gateway: 1 code(s) not checked",
                "code system 9.8.7 is not managed by the Gateway: 2 code(s) not checked",
            ]
        );
        assert_eq!(f[2].location, "/ClinicalDocument[1]/code[1]");
        // Blocked systems in order of first use, each at its first element;
        // an allowlisted system is dropped before the blocklist.
        let f = terminology()
            .with_allowlist(&["1.999"])
            .check(
                &Document::parse(
                    br#"<ClinicalDocument xmlns="urn:hl7-org:v3"><a codeSystem="1.999"/><b codeSystem="3.9999.1"/><c codeSystem="2.999"/><d codeSystem="3.9999.1"/></ClinicalDocument>"#,
                )
                .unwrap(),
            );
        assert_eq!(f.len(), 2);
        assert!(
            f[0].message.ends_with("[3.9999.1, 2.999] (3.9999.1 here)"),
            "{}",
            f[0].message
        );
        assert_eq!(f[0].location, "/ClinicalDocument[1]/b[1]");
        assert_eq!(f[1].location, "/ClinicalDocument[1]/c[1]");
        // Unknown codes once per (system, version, code), in document order.
        let f = check(
            r#"<c code="Z" codeSystem="1.2.3"/><c code="Q" codeSystem="2.16.840.1.113883.5.25"/><c code="Z" codeSystem="1.2.3"/><c codeSystem="1.2.3" codeSystemVersion="1.0"/><c code="Z" codeSystem="1.2.3" codeSystemVersion="2.0"/>"#,
        );
        let messages: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "Almeno uno dei seguenti vocaboli non è censito: [CodeSystem: 1.2.3 v2.0, Codes: Z]",
                "Almeno uno dei seguenti vocaboli non è censito: [CodeSystem: 2.16.840.1.113883.5.25 v2.2.0, Codes: Q]",
                "Almeno uno dei seguenti vocaboli non è censito: [CodeSystem: 1.2.3 v1.0, Codes: null]",
            ]
        );
    }

    #[test]
    fn the_fixup_reaches_values_without_a_code_system() {
        let f = check(
            r#"<observation><code code="89261-2" codeSystem="2.16.840.1.113883.6.1"/><value code="LA2"/></observation>"#,
        );
        assert_eq!(
            ids(&f),
            [
                ("VOCABULARY_NOT_CHECKED", Severity::Warning),
                ("VOCABULARY_CODE", Severity::Error)
            ]
        );
        assert!(f[1].message.contains("Codes: LA2"), "{}", f[1].message);
        assert_eq!(
            f[1].location,
            "/ClinicalDocument[1]/observation[1]/value[1]"
        );
    }

    #[test]
    fn csv_errors_name_the_line() {
        let mut t = Terminology::default();
        let e = t
            .add_csv("x", "version,code\n1,\"open\n", "x.csv")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("x.csv, line 2") && e.contains("unterminated"),
            "{e}"
        );
        let e = t
            .add_csv("x", "code,description\nA,b\n", "y.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("header"), "{e}");
        assert_eq!(
            parse_csv("a,\"b,c\"\r\nd,e").unwrap(),
            vec![
                (1, vec!["a".to_string(), "b,c".into()]),
                (2, vec!["d".into(), "e".into()])
            ]
        );
    }
}
