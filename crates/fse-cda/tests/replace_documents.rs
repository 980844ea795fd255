//! Replacement: a new id, the same set, the next version, one RPLC
//! relatedDocument naming the replaced id; nothing else changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod builder_support;

use fse_cda::metadata::{InstanceId, RelationType};
use fse_cda::replace::{ReplaceOptions, replace_bytes};
use fse_cda::xml::{Document, HL7_NS};
use fse_cda::{Error, Metadata, builder};

/// The canonical form of the body (`component`), which a replacement keeps.
fn body(xml: &str) -> String {
    let doc = Document::parse(xml.as_bytes()).unwrap();
    let root = doc.root_element();
    let component = doc.child_named(root, HL7_NS, "component").unwrap();
    let all = fse_cda::cda_match::canonical_form(&doc);
    // The body is the last child of the root: its canonical text is the tail.
    let marker = "<{urn:hl7-org:v3}component>";
    assert!(doc.is_within(component, root));
    all[all.rfind(marker).unwrap()..].to_string()
}

#[test]
fn a_built_document_gets_its_next_version() {
    let original = builder::example(builder::DocumentType::Rsa).unwrap();
    let before = Metadata::from_bytes(original.as_bytes()).unwrap();
    let replacement = replace_bytes(original.as_bytes(), &ReplaceOptions::default()).unwrap();
    let after = Metadata::from_bytes(replacement.xml.as_bytes()).unwrap();

    assert_eq!(replacement.replaced_id, before.document_id);
    assert_eq!(after.document_id, replacement.new_id);
    assert_eq!(
        after.document_id.to_string(),
        "2.16.840.1.113883.2.9.2.90.4.4^RSA.2024.0000789.v2"
    );
    assert_eq!(after.set_id, before.set_id);
    assert_eq!(after.version_number, Some(2));
    assert_eq!(replacement.version_number, 2);
    assert_eq!(after.related_documents.len(), 1);
    let rel = &after.related_documents[0];
    assert_eq!(rel.type_code, RelationType::Replaces);
    assert_eq!(rel.parent_id.as_ref(), Some(&before.document_id));
    assert_eq!(rel.parent_set_id, before.set_id);
    assert_eq!(rel.parent_version_number.as_deref(), Some("1"));
    // Everything else is the same.
    assert_eq!(body(&original), body(&replacement.xml));
    assert_eq!(after.patient_ids, before.patient_ids);
    assert_eq!(after.effective_time, before.effective_time);

    if let Some(validator) = builder_support::validator("a_built_document_gets_its_next_version") {
        builder_support::assert_valid(validator, "replacement", &replacement.xml);
    }
    builder_support::assert_xsd_valid(
        "a_built_document_gets_its_next_version",
        &[("replacement".into(), replacement.xml.clone())],
    );

    // And the next one after that replaces version 2, not version 1.
    let third = replace_bytes(replacement.xml.as_bytes(), &ReplaceOptions::default()).unwrap();
    let meta = Metadata::from_bytes(third.xml.as_bytes()).unwrap();
    assert_eq!(meta.version_number, Some(3));
    assert_eq!(
        meta.document_id.extension.as_deref(),
        Some("RSA.2024.0000789.v3")
    );
    assert_eq!(meta.related_documents.len(), 1);
    assert_eq!(
        meta.related_documents[0].parent_id.as_ref(),
        Some(&replacement.new_id)
    );
    assert_eq!(
        meta.related_documents[0].parent_version_number.as_deref(),
        Some("2")
    );
}

#[test]
fn the_official_samples_get_their_next_version() {
    let Some(corpus) = fse_tests::corpus("the_official_samples_get_their_next_version") else {
        return;
    };
    let validator = builder_support::validator("the_official_samples_get_their_next_version");
    let mut docs = Vec::new();
    for name in [
        "LAB.xml",
        "CERT_VACC.xml",
        "LDO.xml",
        "RAD.xml",
        "RSA.xml",
        "PSS.xml",
    ] {
        let original = std::fs::read_to_string(corpus.join("cda").join(name)).unwrap();
        let before = Metadata::from_bytes(original.as_bytes()).unwrap();
        let options = ReplaceOptions {
            new_id: Some(InstanceId::new(
                before.document_id.root.clone(),
                "NUOVA.VERSIONE.1",
            )),
            effective_time: Some("20240401120000+0200".into()),
        };
        let replacement = replace_bytes(original.as_bytes(), &options).unwrap();
        let after = Metadata::from_bytes(replacement.xml.as_bytes()).unwrap();
        assert_eq!(
            after.document_id.extension.as_deref(),
            Some("NUOVA.VERSIONE.1"),
            "{name}"
        );
        assert_eq!(
            after.effective_time.as_deref(),
            Some("20240401120000+0200"),
            "{name}"
        );
        assert_eq!(
            after.version_number,
            Some(before.version_number.unwrap() + 1),
            "{name}"
        );
        assert_eq!(after.set_id, before.set_id, "{name}");
        let rplc: Vec<_> = after
            .related_documents
            .iter()
            .filter(|r| r.type_code == RelationType::Replaces)
            .collect();
        assert_eq!(after.related_documents.len(), 1, "{name}");
        assert_eq!(
            rplc[0].parent_id.as_ref(),
            Some(&before.document_id),
            "{name}"
        );
        assert_eq!(body(&original), body(&replacement.xml), "{name}");
        if let Some(validator) = validator {
            builder_support::assert_valid(validator, name, &replacement.xml);
        }
        docs.push((name.to_string(), replacement.xml));
    }
    builder_support::assert_xsd_valid("the_official_samples_get_their_next_version", &docs);
}

#[test]
fn a_header_without_set_or_version_gets_both() {
    let xml = r#"<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2.3" extension="A"/><code code="x" codeSystem="y"/><languageCode code="it-IT"/><component/></ClinicalDocument>"#;
    let r = replace_bytes(xml.as_bytes(), &ReplaceOptions::default()).unwrap();
    assert!(
        r.xml.contains(
            "<languageCode code=\"it-IT\"/>\n<setId root=\"1.2.3\" extension=\"A\"/>\n<versionNumber value=\"2\"/>"
        ),
        "{}",
        r.xml
    );
    assert!(r.xml.contains("<relatedDocument typeCode=\"RPLC\"><parentDocument><id root=\"1.2.3\" extension=\"A\"/>"), "{}", r.xml);
    let meta = Metadata::from_bytes(r.xml.as_bytes()).unwrap();
    assert_eq!(meta.document_id.to_string(), "1.2.3^A.v2");
}

#[test]
fn impossible_replacements_are_refused() {
    let xml = builder::example(builder::DocumentType::Lab).unwrap();
    let meta = Metadata::from_bytes(xml.as_bytes()).unwrap();
    let same = ReplaceOptions {
        new_id: Some(meta.document_id.clone()),
        ..Default::default()
    };
    assert!(matches!(
        replace_bytes(xml.as_bytes(), &same),
        Err(Error::CannotReplace { .. })
    ));
    let bad_version = xml.replace(
        "<versionNumber value=\"1\"/>",
        "<versionNumber value=\"uno\"/>",
    );
    assert!(matches!(
        replace_bytes(bad_version.as_bytes(), &ReplaceOptions::default()),
        Err(Error::CannotReplace { .. })
    ));
    assert!(matches!(
        replace_bytes(b"<html/>", &ReplaceOptions::default()),
        Err(Error::NotClinicalDocument { .. })
    ));
    assert!(matches!(
        replace_bytes(
            br#"<ClinicalDocument xmlns="urn:hl7-org:v3"/>"#,
            &ReplaceOptions::default()
        ),
        Err(Error::MissingHeaderItem { .. })
    ));
}
