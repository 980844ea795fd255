//! The schematron index, putting a tree together, and checking it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::Path;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::archive::InstallLimits;
use crate::error::{Error, Result};

/// One record of `schematron/index.json`: which schematron file serves the
/// documents whose first `templateId/@root` is `template_id_root`. The
/// Gateway picks the live record with the highest `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// The file name, in `schematron/`.
    pub name_schematron: String,
    /// The schematron's version (`27.1`).
    #[serde(deserialize_with = "string_or_number")]
    pub version: String,
    /// The document type's templateId root.
    pub template_id_root: String,
    /// Whether the Gateway has retired it.
    #[serde(default)]
    pub deleted: bool,
    /// Any other field of the record (dates, `system`), kept as given.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a version, found {other}"
        ))),
    }
}

/// What [`check_tree`] found in a usable tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Schematron files that compiled.
    pub schematrons: usize,
    /// Live records of the index (0 without an index).
    pub index_entries: usize,
    /// Terminology files.
    pub terminology_files: usize,
    /// Things worth saying that do not prevent use.
    pub warnings: Vec<String>,
}

const INDEX: &str = "index.json";

/// Checks a catalogs tree: `schematron/` exists and holds schematrons;
/// every live record of `index.json` names a file that exists, a templateId
/// root that is an OID and a version, and no two live records claim the
/// same root and version with different files; every schematron compiles;
/// every terminology file has the expected header.
///
/// # Errors
/// [`Error::RulesInvalid`] with every problem found; I/O errors.
pub fn check_tree(dir: &Path) -> Result<CheckReport> {
    let mut problems = Vec::new();
    let mut report = CheckReport::default();
    let sch_dir = dir.join("schematron");
    if !sch_dir.is_dir() {
        return Err(Error::RulesInvalid {
            dir: dir.to_path_buf(),
            problems: vec!["no schematron/ folder".into()],
        });
    }
    let files = list_files(&sch_dir, ".sch")?;
    if files.is_empty() {
        problems.push("schematron/ holds no .sch file".to_string());
    }

    let index_path = sch_dir.join(INDEX);
    let entries = if index_path.is_file() {
        read_index(&index_path)?
    } else {
        Vec::new()
    };
    let mut roots: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for entry in entries.iter().filter(|e| !e.deleted) {
        roots
            .entry(entry.name_schematron.as_str())
            .or_default()
            .push(entry.template_id_root.as_str());
    }
    if index_path.is_file() {
        let live: Vec<&IndexEntry> = entries.iter().filter(|e| !e.deleted).collect();
        report.index_entries = live.len();
        let mut claimed: BTreeMap<(&str, &str), &str> = BTreeMap::new();
        for entry in &live {
            let name = entry.name_schematron.as_str();
            if !is_plain_file_name(name) || !files.contains(name) {
                problems.push(format!(
                    "index.json names {name:?}, which is not in schematron/"
                ));
            }
            if !is_oid(&entry.template_id_root) {
                problems.push(format!(
                    "index.json gives {name:?} the templateId root {:?}, not an OID",
                    entry.template_id_root
                ));
            }
            if entry.version.trim().is_empty() {
                problems.push(format!("index.json gives {name:?} no version"));
            }
            let key = (entry.template_id_root.as_str(), entry.version.as_str());
            if let Some(other) = claimed.insert(key, name).filter(|other| *other != name) {
                problems.push(format!(
                    "index.json gives root {} version {} to both {other:?} and {name:?}",
                    key.0, key.1
                ));
            }
        }
        let used: BTreeSet<&str> = live.iter().map(|e| e.name_schematron.as_str()).collect();
        for unused in files.iter().filter(|f| !used.contains(f.as_str())) {
            report.warnings.push(format!(
                "schematron/{unused} is not in index.json and will not be used"
            ));
        }
    } else {
        report
            .warnings
            .push("no schematron/index.json: schematrons are chosen by scanning the files".into());
    }

    for name in &files {
        match compile_check(&sch_dir.join(name)) {
            Ok(asserted) => {
                report.schematrons += 1;
                let indexed = roots.get(name.as_str()).into_iter().flatten();
                if let Some(asserted) = asserted {
                    for root in indexed.filter(|root| **root != asserted) {
                        report.warnings.push(format!(
                            "index.json gives {name} the root {root}, but it asserts the templateId root {asserted}"
                        ));
                    }
                }
            }
            Err(why) => problems.push(format!("schematron/{name} does not compile: {why}")),
        }
    }

    let term_dir = dir.join("terminology");
    if term_dir.is_dir() {
        for name in list_files(&term_dir, ".csv")? {
            let path = term_dir.join(&name);
            let mut head = [0u8; 64];
            let n = fs::File::open(&path)
                .and_then(|mut f| f.read(&mut head))
                .map_err(|e| io_err("read", &path, e))?;
            let first = String::from_utf8_lossy(&head[..n]);
            let first = first
                .trim_start_matches('\u{feff}')
                .lines()
                .next()
                .unwrap_or("")
                .trim();
            if first.starts_with("version,code,description") {
                report.terminology_files += 1;
            } else {
                problems.push(format!("terminology/{name} does not start with the header version,code,description,release_date"));
            }
        }
    } else {
        report
            .warnings
            .push("no terminology/ folder: the vocabulary stage will not run".into());
    }

    if problems.is_empty() {
        Ok(report)
    } else {
        Err(Error::RulesInvalid {
            dir: dir.to_path_buf(),
            problems,
        })
    }
}

/// Compiles a schematron with our engine, as the validator will; returns
/// the templateId root its header rule asserts, if it asserts one.
fn compile_check(path: &Path) -> std::result::Result<Option<String>, String> {
    let compiled = crate::schematron::Schematron::load(path).map_err(|e| e.to_string())?;
    Ok(compiled.asserted_template_root().map(str::to_string))
}

/// Puts the tree found at `found` together in `tree`: `schematron/` with
/// the files of the index (from `schematron/index.json`, else derived from
/// the Gateway's `mongo-dump/schematron.json[.gzip]`, else every `.sch`),
/// `terminology/*.csv`, `schema/` and the top-level files.
pub(super) fn assemble(found: &Path, tree: &Path, limits: &InstallLimits) -> Result<()> {
    let sch_out = tree.join("schematron");
    fs::create_dir_all(&sch_out).map_err(|e| io_err("create", &sch_out, e))?;
    let sch_in = found.join("schematron");

    let index_in = sch_in.join(INDEX);
    let (entries, dump_contents) = if index_in.is_file() {
        (Some(read_index(&index_in)?), BTreeMap::new())
    } else if let Some((entries, contents)) = read_mongo_dump(found, limits)? {
        (Some(entries), contents)
    } else {
        (None, BTreeMap::new())
    };

    match &entries {
        Some(entries) => {
            let live: Vec<IndexEntry> = entries.iter().filter(|e| !e.deleted).cloned().collect();
            let mut missing = Vec::new();
            for name in live
                .iter()
                .map(|e| e.name_schematron.as_str())
                .collect::<BTreeSet<_>>()
            {
                if !is_plain_file_name(name) {
                    missing.push(format!(
                        "index.json names {name:?}, which is not a plain file name"
                    ));
                    continue;
                }
                let from = sch_in.join(name);
                let to = sch_out.join(name);
                if from.is_file() {
                    fs::copy(&from, &to).map_err(|e| io_err("copy", &from, e))?;
                } else if let Some(content) = dump_contents.get(name) {
                    fs::write(&to, content).map_err(|e| io_err("write", &to, e))?;
                } else {
                    missing.push(format!(
                        "index.json names {name:?}, which is neither in schematron/ nor in the dump"
                    ));
                }
            }
            if !missing.is_empty() {
                return Err(Error::RulesInvalid {
                    dir: found.to_path_buf(),
                    problems: missing,
                });
            }
            let index_out = sch_out.join(INDEX);
            let json = serde_json::to_vec_pretty(&live).map_err(|e| Error::StoreJson {
                path: index_out.clone(),
                source: e,
            })?;
            fs::write(&index_out, json).map_err(|e| io_err("write", &index_out, e))?;
        }
        None => {
            for name in list_files(&sch_in, ".sch")? {
                let from = sch_in.join(&name);
                fs::copy(&from, sch_out.join(&name)).map_err(|e| io_err("copy", &from, e))?;
            }
        }
    }

    let term_in = found.join("terminology");
    if term_in.is_dir() {
        let term_out = tree.join("terminology");
        fs::create_dir_all(&term_out).map_err(|e| io_err("create", &term_out, e))?;
        for name in list_files(&term_in, ".csv")? {
            let from = term_in.join(&name);
            fs::copy(&from, term_out.join(&name)).map_err(|e| io_err("copy", &from, e))?;
        }
    }
    let schema_in = found.join("schema");
    if schema_in.is_dir() {
        let schema_out = tree.join("schema");
        fs::rename(&schema_in, &schema_out).map_err(|e| io_err("move", &schema_in, e))?;
    }
    for entry in fs::read_dir(found).map_err(|e| io_err("read", found, e))? {
        let entry = entry.map_err(|e| io_err("read", found, e))?;
        let path = entry.path();
        if path.is_file() {
            let to = tree.join(entry.file_name());
            fs::copy(&path, &to).map_err(|e| io_err("copy", &path, e))?;
        }
    }
    Ok(())
}

fn read_index(path: &Path) -> Result<Vec<IndexEntry>> {
    let bytes = fs::read(path).map_err(|e| io_err("read", path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::StoreJson {
        path: path.to_path_buf(),
        source: e,
    })
}

/// The schematron records of the Gateway's database dump, as index
/// entries, with the file contents the dump carries.
#[allow(clippy::type_complexity)]
fn read_mongo_dump(
    found: &Path,
    limits: &InstallLimits,
) -> Result<Option<(Vec<IndexEntry>, BTreeMap<String, Vec<u8>>)>> {
    let dir = found.join("mongo-dump");
    let Some(path) = [
        "schematron.json.gzip",
        "schematron.json.gz",
        "schematron.json",
    ]
    .iter()
    .map(|n| dir.join(n))
    .find(|p| p.is_file()) else {
        return Ok(None);
    };
    let raw = fs::read(&path).map_err(|e| io_err("read", &path, e))?;
    let text = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .take(limits.max_file_bytes.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| Error::ArchiveUnreadable {
                message: format!("{}: {e}", path.display()),
            })?;
        if out.len() as u64 > limits.max_file_bytes {
            return Err(Error::RulesTooLarge {
                what: format!("the file {}", path.display()),
                limit: limits.max_file_bytes,
            });
        }
        out
    } else {
        raw
    };
    // mongoexport writes either one JSON array or one document per line.
    let records: Vec<serde_json::Value> = match serde_json::from_slice(&text) {
        Ok(serde_json::Value::Array(items)) => items,
        _ => text
            .split(|&b| b == b'\n')
            .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
            .map(serde_json::from_slice)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::StoreJson {
                path: path.clone(),
                source: e,
            })?,
    };
    let mut entries = Vec::new();
    let mut contents = BTreeMap::new();
    for record in records {
        let serde_json::Value::Object(mut map) = record else {
            continue;
        };
        map.remove("_id");
        let content = map.remove("content_schematron");
        let map: serde_json::Map<_, _> = map
            .into_iter()
            .map(|(k, v)| (k, plain_extended_json(v)))
            .collect();
        let entry: IndexEntry =
            serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| {
                Error::StoreJson {
                    path: path.clone(),
                    source: e,
                }
            })?;
        if let Some(bytes) = content.as_ref().and_then(binary_content) {
            contents.insert(entry.name_schematron.clone(), bytes);
        }
        entries.push(entry);
    }
    Ok(Some((entries, contents)))
}

/// `{"$date": x}` and the like become `x`.
fn plain_extended_json(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) if map.len() == 1 => match map.into_iter().next() {
            Some((key, inner)) if key.starts_with('$') => plain_extended_json(inner),
            Some((key, inner)) => serde_json::Value::Object([(key, inner)].into_iter().collect()),
            None => serde_json::Value::Null,
        },
        other => other,
    }
}

/// The bytes of an extended-JSON `{"$binary": {"base64": ...}}` value.
fn binary_content(value: &serde_json::Value) -> Option<Vec<u8>> {
    let b64 = value
        .pointer("/$binary/base64")
        .or_else(|| value.get("$binary"))
        .and_then(serde_json::Value::as_str)?;
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

fn list_files(dir: &Path, suffix: &str) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    if !dir.is_dir() {
        return Ok(names);
    }
    for entry in fs::read_dir(dir).map_err(|e| io_err("read", dir, e))? {
        let entry = entry.map_err(|e| io_err("read", dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.ends_with(suffix) && entry.file_type().is_ok_and(|t| t.is_file()) {
            names.insert(name);
        }
    }
    Ok(names)
}

fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0', ':'])
}

fn is_oid(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()))
}

fn io_err(action: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::StoreIo {
        action,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_json_dates_become_plain_values() {
        let v = serde_json::json!({"$date": "2026-03-20T11:55:21.719Z"});
        assert_eq!(
            plain_extended_json(v),
            serde_json::json!("2026-03-20T11:55:21.719Z")
        );
        let v = serde_json::json!({"a": 1});
        assert_eq!(plain_extended_json(v.clone()), v);
    }

    #[test]
    fn dump_binary_content_decodes() {
        let v = serde_json::json!({"$binary": {"base64": "PHNjaGVtYS8+", "subType": "00"}});
        assert_eq!(binary_content(&v).unwrap(), b"<schema/>");
    }

    #[test]
    fn oids_are_dotted_digits() {
        assert!(is_oid("2.16.840.1.113883.2.9.10.1.1"));
        assert!(!is_oid("2.16..1"));
        assert!(!is_oid("LAB"));
    }
}
