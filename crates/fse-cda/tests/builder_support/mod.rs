//! Shared by the builder tests: the official rules as our validator loads
//! them, and the independent XSD oracle (Python lxml).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use fse_cda::Validator;

/// The validator over the official catalogs of the corpus, built once.
pub fn validator(test: &str) -> Option<&'static Validator> {
    static VALIDATOR: OnceLock<Option<Validator>> = OnceLock::new();
    let corpus = fse_tests::corpus(test)?;
    VALIDATOR
        .get_or_init(|| {
            Some(
                Validator::from_rules_dir(corpus.join("catalogs"))
                    .expect("the official catalogs load"),
            )
        })
        .as_ref()
}

/// Asserts that our validator finds no error (XSD, schematron,
/// vocabulary) and no schematron warning in `xml`. Vocabulary warnings
/// remain allowed: the catalogs do not publish LOINC, so its codes are
/// reported as not checked.
pub fn assert_valid(validator: &Validator, name: &str, xml: &str) {
    let report = validator.validate(xml.as_bytes());
    let findings: Vec<String> = report
        .xsd_errors
        .iter()
        .chain(&report.errors)
        .chain(
            report
                .warnings
                .iter()
                .filter(|w| w.stage == fse_cda::Stage::Schematron),
        )
        .map(|f| {
            format!(
                "{} at {} (line {:?}): {}",
                f.id, f.location, f.line, f.message
            )
        })
        .collect();
    assert!(
        findings.is_empty(),
        "{name}: {} findings:\n{}\n{xml}",
        findings.len(),
        findings.join("\n")
    );
    assert!(
        report.schematron.is_some(),
        "{name}: no schematron was selected"
    );
    assert_xsd_clean(name, xml);
}

/// Asserts that our XSD engine finds no error in `xml`.
pub fn assert_xsd_clean(name: &str, xml: &str) {
    let doc = fse_cda::xml::Document::parse(xml.as_bytes()).unwrap();
    let findings: Vec<String> = fse_cda::xsd::validate(&doc)
        .unwrap()
        .iter()
        .map(|f| format!("{}:{} {} at {}", f.line, f.column, f.message, f.location))
        .collect();
    assert!(
        findings.is_empty(),
        "{name}: {} XSD errors:\n{}",
        findings.len(),
        findings.join("\n")
    );
}

/// Whether a missing oracle is a failure (`FSE_REQUIRE_ORACLES=1`).
pub fn oracles_required() -> bool {
    std::env::var("FSE_REQUIRE_ORACLES").is_ok_and(|v| v == "1")
}

const LXML_SCRIPT: &str = r#"
import sys
from lxml import etree
schema = etree.XMLSchema(etree.parse(sys.argv[1]))
for path in sys.argv[2:]:
    doc = etree.parse(path, etree.XMLParser(resolve_entities=False, no_network=True))
    ok = schema.validate(doc)
    errors = [] if ok else [f"{e.line}: {e.message}" for e in schema.error_log]
    print(f"{path}\t{len(errors)}\t" + " | ".join(errors[:5]))
"#;

/// The XSD errors Python lxml (libxml2) finds in each document, against the
/// `POCD_MT000040UV02` CDA schema of the corpus; `None` (after a skip line)
/// when the oracle is missing and not required.
pub fn lxml_xsd_errors(
    test: &str,
    docs: &[(String, String)],
) -> Option<Vec<(String, usize, String)>> {
    let corpus = fse_tests::corpus(test)?;
    let schema = corpus.join("catalogs/schema/POCD_MT000040UV02/CDA.xsd");
    let probe = Command::new("python3")
        .args(["-c", "import lxml.etree"])
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(
            !oracles_required(),
            "{test}: python3 with lxml not found and FSE_REQUIRE_ORACLES=1"
        );
        println!("{test}: skipped the lxml XSD oracle, python3 with lxml not found");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut paths: Vec<PathBuf> = Vec::new();
    for (i, (_, xml)) in docs.iter().enumerate() {
        let path = dir.path().join(format!("doc{i}.xml"));
        std::fs::write(&path, xml).unwrap();
        paths.push(path);
    }
    let output = Command::new("python3")
        .arg("-c")
        .arg(LXML_SCRIPT)
        .arg(&schema)
        .args(&paths)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "lxml oracle failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut out = Vec::new();
    for line in stdout.lines() {
        let mut parts = line.splitn(3, '\t');
        let path = Path::new(parts.next().unwrap()).to_path_buf();
        let count: usize = parts.next().unwrap().parse().unwrap();
        let messages = parts.next().unwrap_or_default().to_string();
        let index = paths.iter().position(|p| *p == path).unwrap();
        out.push((docs[index].0.clone(), count, messages));
    }
    assert_eq!(
        out.len(),
        docs.len(),
        "the oracle answered for every document"
    );
    Some(out)
}

/// Asserts lxml finds no XSD error in any of the documents.
pub fn assert_xsd_valid(test: &str, docs: &[(String, String)]) {
    let Some(results) = lxml_xsd_errors(test, docs) else {
        return;
    };
    let bad: Vec<String> = results
        .iter()
        .filter(|(_, n, _)| *n > 0)
        .map(|(name, n, m)| format!("{name}: {n} XSD errors: {m}"))
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
