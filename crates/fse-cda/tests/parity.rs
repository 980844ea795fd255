//! Parity with the Gateway's engine (Saxon-HE + SchXslt): for every
//! document of the reference corpus, the multiset of schematron error ids
//! and of warning ids must equal the recorded one.
//!
//! Bars: at least 99.5% of `validation/` and all nine official samples of
//! `cda/`. Every difference is printed with what we found and what Saxon
//! found, so a regression names the rule at fault.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use fse_cda::{Report, Severity, Stage, Validator};

type Counts = BTreeMap<String, u64>;

struct Outcome {
    documents: usize,
    matching: usize,
    differences: Vec<String>,
}

fn counts(report: &Report, severity: Severity) -> Counts {
    let mut out = Counts::new();
    for f in report.errors.iter().chain(&report.warnings) {
        if f.stage == Stage::Schematron && f.severity == severity {
            *out.entry(f.id.clone()).or_default() += 1;
        }
    }
    out
}

fn expected_counts(v: &serde_json::Value) -> Counts {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
        .collect()
}

fn diff(ours: &Counts, theirs: &Counts) -> String {
    let mut parts = Vec::new();
    for (id, &n) in theirs {
        let m = ours.get(id).copied().unwrap_or(0);
        if m < n {
            parts.push(format!("missing {id}×{}", n - m));
        }
    }
    for (id, &m) in ours {
        let n = theirs.get(id).copied().unwrap_or(0);
        if m > n {
            parts.push(format!("extra {id}×{}", m - n));
        }
    }
    parts.join(", ")
}

fn compare(validator: &Validator, dir: &Path) -> Outcome {
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let docs_dir = if dir.join("docs").is_dir() {
        dir.join("docs")
    } else {
        dir.to_path_buf()
    };
    let mut out = Outcome {
        documents: 0,
        matching: 0,
        differences: Vec::new(),
    };
    for (name, exp) in expected.as_object().unwrap() {
        out.documents += 1;
        let bytes = std::fs::read(docs_dir.join(name)).unwrap();
        let report = validator.validate(&bytes);
        let mut problems = Vec::new();
        if report.schematron.as_deref() != exp["schematron"].as_str() {
            problems.push(format!(
                "schematron {:?} instead of {}",
                report.schematron, exp["schematron"]
            ));
        }
        let errors = diff(
            &counts(&report, Severity::Error),
            &expected_counts(&exp["errors"]),
        );
        if !errors.is_empty() {
            problems.push(format!("errors: {errors}"));
        }
        let warnings = diff(
            &counts(&report, Severity::Warning),
            &expected_counts(&exp["warnings"]),
        );
        if !warnings.is_empty() {
            problems.push(format!("warnings: {warnings}"));
        }
        if problems.is_empty() {
            out.matching += 1;
        } else {
            out.differences
                .push(format!("{name}: {}", problems.join("; ")));
        }
    }
    out
}

fn rules(corpus: &Path) -> Validator {
    Validator::from_rules_dir(corpus.join("catalogs")).unwrap()
}

#[test]
fn parity_on_the_validation_corpus() {
    let Some(corpus) = fse_tests::corpus("parity_on_the_validation_corpus") else {
        return;
    };
    let outcome = compare(&rules(&corpus), &corpus.join("validation"));
    let ratio = outcome.matching as f64 / outcome.documents as f64;
    println!(
        "validation corpus: {}/{} documents match Saxon ({:.2}%)",
        outcome.matching,
        outcome.documents,
        ratio * 100.0
    );
    for d in &outcome.differences {
        println!("  DIFF {d}");
    }
    assert!(outcome.documents > 800);
    assert!(
        ratio >= 0.995,
        "parity {:.2}% is below 99.5%",
        ratio * 100.0
    );
}

#[test]
fn parity_on_the_official_samples() {
    let Some(corpus) = fse_tests::corpus("parity_on_the_official_samples") else {
        return;
    };
    let outcome = compare(&rules(&corpus), &corpus.join("cda"));
    println!(
        "official samples: {}/{} match",
        outcome.matching, outcome.documents
    );
    for d in &outcome.differences {
        println!("  DIFF {d}");
    }
    assert_eq!(outcome.documents, 9);
    assert!(outcome.differences.is_empty(), "{:#?}", outcome.differences);
}
