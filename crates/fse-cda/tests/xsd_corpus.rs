//! The XSD stage against the reference corpus and libxml2's recorded
//! verdicts (`expected.json` files): no oracle needed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use fse_cda::xml::Document;
use fse_cda::xsd::{self, SchemaSet, XsdFinding};

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn validate_file(path: &Path) -> fse_cda::Result<Vec<XsdFinding>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = Document::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    xsd::validate(&doc)
}

/// The line, in `original`, of the element at `line` of `mutated`: the
/// files of `xsd-invalid` are samples re-serialized after one mutation,
/// while libxml2 reported the lines the nodes had in the sample. The same
/// text (or, for a mutated start tag, the same element name) nearest to
/// where the line sits once the prolog shift is undone.
fn original_line(mutated: &str, original: &str, line: u32) -> Option<u32> {
    let root_line = |text: &str| text.lines().position(|l| l.contains("<ClinicalDocument"));
    let (root_original, root_mutated) = (root_line(original)?, root_line(mutated)?);
    let index = usize::try_from(line).ok()?.checked_sub(1)?;
    if index == root_mutated {
        return u32::try_from(root_original + 1).ok();
    }
    let target = mutated.lines().nth(index)?.trim();
    let guess = (index + root_original).checked_sub(root_mutated)?;
    let tag = target.split([' ', '>', '/']).next()?;
    let nearest = |keep: &dyn Fn(&str) -> bool| {
        original
            .lines()
            .enumerate()
            .filter(|(_, l)| keep(l.trim()))
            .map(|(i, _)| i)
            .min_by_key(|&i| i.abs_diff(guess))
    };
    let found = nearest(&|l| l == target)
        .or_else(|| nearest(&|l| l.split([' ', '>', '/']).next() == Some(tag)))?;
    u32::try_from(found + 1).ok()
}

#[test]
fn xsd_invalid_gets_libxml2_verdicts_first_errors_and_lines() {
    let Some(corpus) =
        fse_tests::corpus("xsd_invalid_gets_libxml2_verdicts_first_errors_and_lines")
    else {
        return;
    };
    let dir = corpus.join("xsd-invalid");
    let expected = read_json(&dir.join("expected.json"));
    let expected = expected.as_object().expect("expected.json is an object");
    assert!(
        expected.len() >= 60,
        "the corpus has {} xsd-invalid files",
        expected.len()
    );
    let (mut verdicts, mut firsts, mut lines, mut checked_lines) = (0, 0, 0, 0);
    for (file, want) in expected {
        let path = dir.join(file);
        let findings = validate_file(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let valid = want["valid"].as_bool().expect("valid");
        let errors = want["errors"].as_array().expect("errors");
        assert_eq!(
            findings.is_empty(),
            valid,
            "{file}: verdict, we found {findings:#?}"
        );
        verdicts += 1;
        let want_messages: Vec<&str> = errors
            .iter()
            .filter_map(|e| e["message"].as_str())
            .collect();
        let ours: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(ours, want_messages, "{file}: messages");
        if let (Some(first), Some(ours)) = (errors.first(), findings.first()) {
            firsts += 1;
            let want_line = first["line"].as_u64().expect("line");
            // libxml2 reports line 0 for the elements the mutation created.
            if want_line != 0 {
                let sample = file.split("__").next().expect("sample name");
                let original =
                    std::fs::read_to_string(corpus.join("cda").join(format!("{sample}.xml")))
                        .expect("sample");
                let mutated = std::fs::read_to_string(&path).expect("file");
                checked_lines += 1;
                let mapped = original_line(&mutated, &original, ours.line);
                assert_eq!(
                    mapped.map(u64::from),
                    Some(want_line),
                    "{file}: line {} of ours",
                    ours.line
                );
                lines += 1;
            }
        }
    }
    println!(
        "xsd-invalid: {verdicts}/{} verdicts, {firsts} first errors, {lines}/{checked_lines} lines as libxml2",
        expected.len()
    );
}

#[test]
fn the_official_samples_are_valid() {
    let Some(corpus) = fse_tests::corpus("the_official_samples_are_valid") else {
        return;
    };
    let expected = read_json(&corpus.join("cda/expected.json"));
    let expected = expected.as_object().expect("object");
    assert_eq!(expected.len(), 9);
    for (file, want) in expected {
        assert_eq!(want["xsd_errors"].as_u64(), Some(0));
        let findings =
            validate_file(&corpus.join("cda").join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(findings.is_empty(), "{file}: {findings:#?}");
    }
}

#[test]
fn validation_fixtures_get_libxml2_error_counts() {
    let Some(corpus) = fse_tests::corpus("validation_fixtures_get_libxml2_error_counts") else {
        return;
    };
    let expected = read_json(&corpus.join("validation/expected.json"));
    let expected = expected.as_object().expect("object");
    let (mut verdicts, mut counts, mut schema_not_found) = (0, 0, Vec::new());
    for (file, want) in expected {
        let want = want["xsd_errors"].as_i64().expect("xsd_errors");
        let path = corpus.join("validation/docs").join(file);
        match validate_file(&path) {
            Ok(findings) => {
                assert_eq!(
                    findings.is_empty(),
                    want == 0,
                    "{file}: verdict, we found {findings:#?}"
                );
                verdicts += 1;
                if i64::try_from(findings.len()).ok() == Some(want) {
                    counts += 1;
                }
            }
            // expected.json counts errors against POCD_MT000040UV02 whatever
            // the typeId; the Gateway refuses an unknown typeId outright.
            Err(fse_cda::Error::XsdSchemaNotFound { version }) => {
                schema_not_found.push((file.clone(), version))
            }
            Err(e) => panic!("{file}: {e}"),
        }
    }
    println!(
        "validation: {verdicts} verdicts and {counts} error counts as libxml2 out of {}; unknown typeId: {schema_not_found:?}",
        expected.len()
    );
    assert_eq!(verdicts, counts, "every error count agrees");
    assert_eq!(
        schema_not_found,
        [(
            "schematronLDO__KO__CDA2_LDO_Errore_1-2.xml".to_string(),
            "POCD_HD000040UV02".to_string()
        )]
    );
    assert_eq!(verdicts + schema_not_found.len(), expected.len());
}

#[test]
fn the_set_follows_the_type_id() {
    let Some(corpus) = fse_tests::corpus("the_set_follows_the_type_id") else {
        return;
    };
    // cda1.xml declares POCD_HD000040: it is judged against that set.
    let bytes = std::fs::read(corpus.join("validation/docs/cda1.xml")).expect("cda1.xml");
    let doc = Document::parse(&bytes).expect("parses");
    assert_eq!(
        SchemaSet::for_document(&doc).expect("a set"),
        SchemaSet::PocdHd000040
    );
    // LAB passes POCD_MT000040UV02, its own set, but not POCD_HD000040,
    // which lacks sdtc:statusCode where LAB has it.
    let bytes = std::fs::read(corpus.join("cda/LAB.xml")).expect("LAB.xml");
    let doc = Document::parse(&bytes).expect("parses");
    assert!(xsd::validate_with(&doc, SchemaSet::PocdMt000040Uv02).is_empty());
    let against_hd = xsd::validate_with(&doc, SchemaSet::PocdHd000040);
    assert!(!against_hd.is_empty());
}
