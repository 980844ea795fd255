//! The five shipped examples: they build, deterministically, into
//! documents our validator and the independent XSD oracle accept without
//! a finding, whose metadata says what the input said.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod builder_support;

use fse_cda::Metadata;
use fse_cda::builder::{self, DocumentInput, DocumentType};

fn examples() -> Vec<(DocumentType, String)> {
    DocumentType::ALL
        .iter()
        .map(|&t| (t, builder::example(t).unwrap()))
        .collect()
}

#[test]
fn every_example_builds_the_same_bytes_twice() {
    for (kind, xml) in examples() {
        assert_eq!(builder::example(kind).unwrap(), xml, "{kind}");
        assert!(
            xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClinicalDocument"),
            "{kind}"
        );
        assert!(xml.ends_with("</ClinicalDocument>\n"), "{kind}");
        assert!(
            xml.lines().nth(2).unwrap().starts_with("  <realmCode"),
            "{kind}: indented"
        );
    }
}

#[test]
fn every_example_has_the_metadata_of_its_input() {
    for (kind, xml) in examples() {
        let input = DocumentInput::from_json(Some(kind), kind.example_json()).unwrap();
        let meta = Metadata::from_bytes(xml.as_bytes()).unwrap();
        assert_eq!(meta.code, kind.loinc(), "{kind}");
        assert_eq!(
            meta.resource_hl7_type,
            format!("('{}^^2.16.840.1.113883.6.1')", kind.loinc())
        );
        let expected_class = match kind {
            DocumentType::Ldo => "LDO",
            DocumentType::Vps => "VRB",
            _ => "REF",
        };
        assert_eq!(
            meta.document_class.as_ref().map(|c| c.as_str()),
            Some(expected_class),
            "{kind}"
        );
        assert_eq!(
            meta.template_id.as_ref().map(|t| t.root.as_str()),
            Some(kind.template_root())
        );
        assert_eq!(
            meta.document_id.to_string(),
            format!("{}^{}", input.document.id.root, input.document.id.extension)
        );
        assert_eq!(
            meta.patient_fiscal_code.as_deref(),
            input.patient.fiscal_code.as_ref().map(|c| c.as_str()),
            "{kind}"
        );
        assert_eq!(
            meta.effective_time.as_deref(),
            Some(input.document.effective_time.as_str())
        );
        assert_eq!(meta.version_number, Some(1));
        assert_eq!(meta.set_id, Some(meta.document_id.clone()));
        assert_eq!(
            meta.confidentiality_code.as_ref().map(|c| c.code()),
            Some("N")
        );
        let signer = meta.legal_authenticator.as_ref().unwrap();
        assert_eq!(
            signer.name.as_deref(),
            Some(&*format!(
                "{} {}",
                input.legal_authenticator.name.given, input.legal_authenticator.name.family
            ))
        );
    }
}

#[test]
fn every_example_passes_our_validator_without_a_finding() {
    let Some(validator) = builder_support::validator("every_example_passes_our_validator") else {
        return;
    };
    for (kind, xml) in examples() {
        builder_support::assert_valid(validator, kind.as_str(), &xml);
    }
}

#[test]
fn every_example_passes_our_xsd_stage() {
    // Needs no rules: the XSD sets are compiled in.
    for (kind, xml) in examples() {
        builder_support::assert_xsd_clean(kind.as_str(), &xml);
    }
}

#[test]
fn every_example_passes_the_lxml_xsd_oracle() {
    let docs: Vec<(String, String)> = examples()
        .into_iter()
        .map(|(k, x)| (k.to_string(), x))
        .collect();
    builder_support::assert_xsd_valid("every_example_passes_the_lxml_xsd_oracle", &docs);
}

#[test]
fn the_oracle_sees_a_broken_document() {
    // The oracle must be able to fail: an element out of order is an XSD error.
    let xml = builder::example(DocumentType::Lab)
        .unwrap()
        .replacen("<languageCode code=\"it-IT\"/>\n", "", 1)
        .replacen(
            "<realmCode code=\"IT\"/>",
            "<realmCode code=\"IT\"/><languageCode code=\"it-IT\"/>",
            1,
        );
    let doc = fse_cda::xml::Document::parse(xml.as_bytes()).unwrap();
    assert!(
        !fse_cda::xsd::validate(&doc).unwrap().is_empty(),
        "our XSD stage sees it too"
    );
    let Some(results) = builder_support::lxml_xsd_errors(
        "the_oracle_sees_a_broken_document",
        &[("broken".into(), xml)],
    ) else {
        return;
    };
    assert!(results[0].1 > 0, "{results:?}");
}

#[test]
fn the_examples_are_snapshotted() {
    for (kind, xml) in examples() {
        insta::assert_snapshot!(format!("example_{}", kind.as_str()), xml);
    }
}
