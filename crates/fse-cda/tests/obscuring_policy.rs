//! Obscuring end to end: the provider's choice sets the built document's
//! confidentialityCode and the event codes, and the pre-flight check reads
//! the document back and agrees, or says what disagrees.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fse_cda::builder::{self, DocumentInput, DocumentType};
use fse_cda::obscuring::{self, PolicyRule, ProtectedCategory, Visibility};
use fse_cda::{Error, Metadata};
use fse_model::tables::EventCode;

fn built_with(choice: Visibility) -> (Metadata, Vec<EventCode>) {
    let policy = choice.policy().unwrap();
    let mut input =
        DocumentInput::from_json(Some(DocumentType::Lab), DocumentType::Lab.example_json())
            .unwrap();
    input.document.confidentiality = policy.confidentiality_code();
    let xml = builder::build(&input).unwrap();
    (
        Metadata::from_bytes(xml.as_bytes()).unwrap(),
        policy.event_codes,
    )
}

#[test]
fn a_document_built_from_a_choice_passes_the_check() {
    for choice in [
        Visibility::Visible,
        Visibility::ObscuredByPatient,
        Visibility::ProtectedByLaw {
            category: ProtectedCategory::Hiv,
            visible_by_patient_choice: false,
        },
        Visibility::ProtectedByLaw {
            category: ProtectedCategory::FamilyCounselling,
            visible_by_patient_choice: true,
        },
    ] {
        let (meta, codes) = built_with(choice);
        obscuring::ensure(&meta, &codes).unwrap();
    }
}

#[test]
fn a_protected_document_sent_without_a_visibility_code_is_caught() {
    let protected = Visibility::ProtectedByLaw {
        category: ProtectedCategory::VoluntaryAbortion,
        visible_by_patient_choice: false,
    };
    let (meta, _) = built_with(protected);
    assert_eq!(
        meta.confidentiality_code.as_ref().map(|c| c.code()),
        Some("V")
    );
    let problems = obscuring::check_document(&meta, &[]);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].rule, PolicyRule::VeryRestrictedNeedsCode);
    let Err(Error::Obscuring(message)) = obscuring::ensure(&meta, &[]) else {
        panic!()
    };
    assert!(message.contains("R227"), "{message}");
}

#[test]
fn an_ordinary_document_sent_with_p00_or_p97_is_caught() {
    let (meta, _) = built_with(Visibility::Visible);
    let rules: Vec<PolicyRule> =
        obscuring::check_document(&meta, &[EventCode::P00, EventCode::P97])
            .into_iter()
            .map(|p| p.rule)
            .collect();
    assert_eq!(
        rules,
        vec![
            PolicyRule::RefusedCode,
            PolicyRule::OneVisibilityCode,
            PolicyRule::UnprotectedWithP00
        ]
    );
}

#[test]
fn the_official_samples_are_ordinary_documents() {
    let Some(corpus) = fse_tests::corpus("the_official_samples_are_ordinary_documents") else {
        return;
    };
    for name in ["LAB.xml", "LDO.xml", "VPS.xml"] {
        let meta =
            Metadata::from_bytes(&std::fs::read(corpus.join("cda").join(name)).unwrap()).unwrap();
        assert!(obscuring::check_document(&meta, &[]).is_empty(), "{name}");
        assert!(
            obscuring::check_document(&meta, &[EventCode::P99]).is_empty(),
            "{name}"
        );
        assert!(
            !obscuring::check_document(&meta, &[EventCode::P00]).is_empty(),
            "{name}"
        );
    }
}
