//! The XSD stage against libxml2 itself (through Python lxml, the CI
//! oracle): message for message and line for line, on the corpus and on
//! documents mutated at random by `xsd_oracle.py`.
//!
//! Without python3 and lxml these tests print one line and pass, unless
//! `FSE_REQUIRE_ORACLES=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use fse_cda::xml::Document;
use fse_cda::xsd;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/xsd_oracle.py");

/// Whether lxml can be run, or `None` after a skip line.
fn oracle(test: &str) -> Option<()> {
    let ok = Command::new("python3")
        .args(["-c", "import lxml.etree"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(());
    }
    assert!(
        std::env::var("FSE_REQUIRE_ORACLES").map_or(true, |v| v != "1"),
        "{test}: python3 with lxml is required (FSE_REQUIRE_ORACLES=1)"
    );
    println!("{test}: skipped, python3 with lxml not found");
    None
}

fn run_oracle(args: &[String]) -> Vec<u8> {
    let out = Command::new("python3")
        .arg(SCRIPT)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[derive(Default, Debug)]
struct Parity {
    documents: usize,
    verdicts: usize,
    first_errors: usize,
    exact: usize,
    unknown_set: usize,
    differences: Vec<String>,
}

/// Validates every file with libxml2 and with us, and compares.
fn compare(corpus: &Path, files: &[PathBuf]) -> Parity {
    let mut args = vec![
        "validate".to_string(),
        corpus.join("catalogs/schema").display().to_string(),
    ];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let oracle: serde_json::Value =
        serde_json::from_slice(&run_oracle(&args)).expect("oracle prints JSON");
    let mut parity = Parity::default();
    for file in files {
        let key = file.display().to_string();
        let want = &oracle[&key];
        if want.get("wf").is_some() {
            continue;
        }
        let bytes = std::fs::read(file).expect("readable");
        let doc = Document::parse(&bytes)
            .unwrap_or_else(|e| panic!("{key}: libxml2 parses it, we do not: {e}"));
        parity.documents += 1;
        let ours = match xsd::validate(&doc) {
            Ok(findings) => findings,
            Err(fse_cda::Error::XsdSchemaNotFound { .. }) if want["set"].is_null() => {
                parity.unknown_set += 1;
                continue;
            }
            Err(e) => panic!("{key}: {e} but libxml2 used {}", want["set"]),
        };
        let theirs: Vec<(u64, &str)> = want["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| (e[0].as_u64().unwrap_or(0), e[1].as_str().unwrap_or("")))
            .collect();
        let ours: Vec<(u64, &str)> = ours
            .iter()
            .map(|f| (u64::from(f.line), f.message.as_str()))
            .collect();
        if ours.is_empty() == theirs.is_empty() {
            parity.verdicts += 1;
        }
        if ours.first() == theirs.first() {
            parity.first_errors += 1;
        }
        if ours == theirs {
            parity.exact += 1;
        } else {
            let at = ours.iter().zip(&theirs).take_while(|(a, b)| a == b).count();
            parity.differences.push(format!(
                "{key}: error #{at}: libxml2 {:?}, ours {:?}",
                theirs.get(at),
                ours.get(at)
            ));
        }
    }
    parity
}

fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_matches_libxml2_line_for_line() {
    let Some(corpus) = fse_tests::corpus("corpus_matches_libxml2_line_for_line") else {
        return;
    };
    if oracle("corpus_matches_libxml2_line_for_line").is_none() {
        return;
    }
    let mut files = xml_files(&corpus.join("cda"));
    files.extend(xml_files(&corpus.join("xsd-invalid")));
    files.extend(xml_files(&corpus.join("validation/docs")));
    let parity = compare(&corpus, &files);
    println!(
        "corpus vs libxml2: {} documents, {} verdicts, {} first errors, {} identical error lists; {} with an unknown typeId",
        parity.documents, parity.verdicts, parity.first_errors, parity.exact, parity.unknown_set
    );
    assert!(parity.differences.is_empty(), "{:#?}", parity.differences);
    assert!(parity.documents > 950);
}

#[test]
fn mutated_documents_match_libxml2_line_for_line() {
    let Some(corpus) = fse_tests::corpus("mutated_documents_match_libxml2_line_for_line") else {
        return;
    };
    if oracle("mutated_documents_match_libxml2_line_for_line").is_none() {
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let mut samples = xml_files(&corpus.join("cda"));
    // A spread of the validation fixtures, which hold more varied content.
    samples.extend(
        xml_files(&corpus.join("validation/docs"))
            .into_iter()
            .step_by(29),
    );
    let mut args = vec![
        "mutate".to_string(),
        "20261126".to_string(),
        "400".to_string(),
        out.path().display().to_string(),
    ];
    args.extend(samples.iter().map(|f| f.display().to_string()));
    run_oracle(&args);
    let files = xml_files(out.path());
    assert_eq!(files.len(), 400);
    let parity = compare(&corpus, &files);
    println!(
        "mutations vs libxml2: {} documents, {} verdicts, {} first errors, {} identical error lists; {} with an unknown typeId",
        parity.documents, parity.verdicts, parity.first_errors, parity.exact, parity.unknown_set
    );
    assert!(parity.differences.is_empty(), "{:#?}", parity.differences);
}
