//! Bad builder input gets an error that names the field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fse_cda::Error;
use fse_cda::builder::{self, DocumentType};
use serde_json::{Value, json};

fn example(kind: DocumentType) -> Value {
    serde_json::from_str(kind.example_json()).unwrap()
}

fn build(kind: Option<DocumentType>, input: &Value) -> Result<String, Error> {
    builder::build_json(kind, &input.to_string())
}

/// The field and message of an `InvalidInput` error.
fn invalid(kind: DocumentType, edit: impl FnOnce(&mut Value)) -> (String, String) {
    let mut input = example(kind);
    edit(&mut input);
    match build(Some(kind), &input) {
        Err(Error::InvalidInput { field, message }) => (field, message),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

/// A change to an example input.
type Edit = Box<dyn FnOnce(&mut Value)>;

fn remove(v: &mut Value, path: &[&str]) {
    let (last, parents) = path.split_last().unwrap();
    let mut at = v;
    for p in parents {
        at = at.get_mut(*p).unwrap();
    }
    at.as_object_mut().unwrap().remove(*last).unwrap();
}

#[test]
fn a_missing_patient_is_named() {
    let (field, message) = invalid(DocumentType::Lab, |v| remove(v, &["patient"]));
    assert_eq!(field, "patient");
    assert!(message.contains("missing field"), "{message}");
}

#[test]
fn a_malformed_fiscal_code_is_named() {
    for bad in [
        "FTTMRA80A01D612A",
        "FTTMRA80A01D612",
        "ftTMRA80A01D612G",
        "12345",
    ] {
        let (field, message) = invalid(DocumentType::Rad, |v| {
            v["patient"]["fiscal_code"] = json!(bad)
        });
        assert_eq!(field, "patient.fiscal_code", "{bad}");
        assert!(message.contains("fiscal code"), "{bad}: {message}");
        assert!(!message.contains(bad), "the value is masked: {message}");
    }
    // A valid 11-digit code is a fiscal code, but not one the schematrons accept.
    let (field, message) = invalid(DocumentType::Rsa, |v| {
        v["author"]["fiscal_code"] = json!("00000000000")
    });
    assert_eq!(field, "author.fiscal_code");
    assert!(message.contains("16-character"), "{message}");
}

#[test]
fn an_unknown_type_is_refused() {
    let mut input = example(DocumentType::Lab);
    input["type"] = json!("PSS");
    match build(None, &input) {
        Err(Error::UnknownDocumentType(t)) => assert_eq!(t, "PSS"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        "XYZ".parse::<DocumentType>(),
        Err(Error::UnknownDocumentType(_))
    ));
    assert_eq!("rad".parse::<DocumentType>().unwrap(), DocumentType::Rad);
}

#[test]
fn the_type_must_be_known_and_consistent() {
    let mut input = example(DocumentType::Lab);
    input.as_object_mut().unwrap().remove("type");
    match build(None, &input) {
        Err(Error::InvalidInput { field, .. }) => assert_eq!(field, "type"),
        other => panic!("{other:?}"),
    }
    // Given by the caller only: fine.
    assert!(build(Some(DocumentType::Lab), &input).is_ok());
    // Given twice, differently: refused.
    let input = example(DocumentType::Lab);
    match build(Some(DocumentType::Rad), &input) {
        Err(Error::InvalidInput { field, message }) => {
            assert_eq!(field, "type");
            assert!(
                message.contains("LAB") && message.contains("RAD"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_and_mistyped_fields_are_named() {
    let (field, _) = invalid(DocumentType::Lab, |v| v["patient"]["nmae"] = json!("x"));
    assert_eq!(field, "patient.nmae");
    // Inside a tagged value serde reports the value, not its member.
    let (field, message) = invalid(DocumentType::Lab, |v| {
        v["body"]["specialties"][0]["results"][1]["value"]["unit"] = json!(5)
    });
    assert_eq!(field, "body.specialties[0].results[1].value");
    assert!(message.contains("expected a string"), "{message}");
    let (field, _) = invalid(DocumentType::Vps, |v| {
        remove(v, &["body", "triage", "time"])
    });
    assert_eq!(field, "body.triage.time");
    let (field, message) = invalid(DocumentType::Ldo, |v| {
        v["document"]["effective_time"] = json!("2024-02-30")
    });
    assert_eq!(field, "document.effective_time");
    assert!(message.contains("no such day"), "{message}");
    let (field, _) = invalid(DocumentType::Rsa, |v| {
        v["document"]["id"]["root"] = json!("not.an.oid")
    });
    assert_eq!(field, "document.id.root");
}

#[test]
fn rules_across_fields_are_checked_with_their_field() {
    let cases: Vec<(DocumentType, Edit, &str)> = vec![
        (
            DocumentType::Lab,
            Box::new(|v| remove(v, &["orders"])),
            "orders",
        ),
        (
            DocumentType::Rsa,
            Box::new(|v| remove(v, &["encounter"])),
            "encounter",
        ),
        (
            DocumentType::Ldo,
            Box::new(|v| remove(v, &["encounter", "end"])),
            "encounter.end",
        ),
        (
            DocumentType::Ldo,
            Box::new(|v| v["encounter"]["end"] = json!("2024-03-01T10:00:00+01:00")),
            "encounter.end",
        ),
        (
            DocumentType::Lab,
            Box::new(|v| v["document"]["version"] = json!(2)),
            "document.set_id",
        ),
        (
            DocumentType::Lab,
            Box::new(|v| remove(v, &["patient", "fiscal_code"])),
            "patient.fiscal_code",
        ),
        (
            DocumentType::Lab,
            Box::new(|v| v["body"]["specialties"][0]["code"] = json!("11502-2")),
            "body.specialties[0].code",
        ),
        (
            DocumentType::Lab,
            Box::new(|v| v["body"]["specialties"][0]["results"][0]["interpretation"] = json!("X")),
            "body.specialties[0].results[0].interpretation",
        ),
        (
            DocumentType::Lab,
            Box::new(|v| {
                v["body"]["specialties"][0]["results"][0]["value"]["value"] = json!("1,5")
            }),
            "body.specialties[0].results[0].value.value",
        ),
        (
            DocumentType::Lab,
            Box::new(|v| v["body"]["specialties"] = json!([])),
            "body.specialties",
        ),
        (
            DocumentType::Rad,
            Box::new(|v| v["body"]["exams"] = json!([])),
            "body.exams",
        ),
        (
            DocumentType::Rad,
            Box::new(|v| v["service_event"]["code"] = json!("PROG2")),
            "service_event.code",
        ),
        (
            DocumentType::Vps,
            Box::new(|v| v["body"]["triage"]["code"] = json!("Z")),
            "body.triage.code",
        ),
        (
            DocumentType::Vps,
            Box::new(|v| v["body"]["discharge"]["diagnoses"] = json!([])),
            "body.discharge.diagnoses",
        ),
        (
            DocumentType::Vps,
            Box::new(|v| v["custodian"]["telecoms"][0]["use"] = json!("HP")),
            "custodian.telecoms[0].use",
        ),
        (
            DocumentType::Ldo,
            Box::new(|v| {
                v["body"]["discharge_therapy"][0]["drug"]["system"] = json!("2.16.840.1.113883.6.1")
            }),
            "body.discharge_therapy[0].drug.system",
        ),
        (
            DocumentType::Rsa,
            Box::new(|v| v["author"]["telecoms"] = json!([])),
            "author.telecoms",
        ),
        (
            DocumentType::Rsa,
            Box::new(|v| v["document"]["id"]["root"] = json!("2.16.840.1.999.4")),
            "document.id.root",
        ),
        (
            DocumentType::Ldo,
            Box::new(|v| v["patient"]["birthplace"] = json!({"country": "100", "city": "Firenze"})),
            "patient.birthplace.census_tract",
        ),
    ];
    for (kind, edit, expected) in cases {
        let (field, message) = invalid(kind, edit);
        assert_eq!(field, expected, "{kind}: {message}");
    }
}

#[test]
fn a_new_version_needs_its_parent_and_set() {
    let mut input = example(DocumentType::Lab);
    input["document"]["version"] = json!(2);
    input["document"]["set_id"] = input["document"]["id"].clone();
    input["document"]["id"]["extension"] = json!("LAB.2024.0000124");
    let Err(Error::InvalidInput { field, .. }) = build(Some(DocumentType::Lab), &input) else {
        panic!()
    };
    assert_eq!(field, "document.replaces");
    input["document"]["replaces"] =
        json!({ "id": input["document"]["set_id"].clone(), "version": 1 });
    let xml = build(Some(DocumentType::Lab), &input).unwrap();
    let meta = fse_cda::Metadata::from_bytes(xml.as_bytes()).unwrap();
    assert_eq!(meta.version_number, Some(2));
    assert_eq!(meta.related_documents.len(), 1);
    assert_eq!(meta.related_documents[0].type_code.code(), "RPLC");
    assert_eq!(
        meta.related_documents[0]
            .parent_id
            .as_ref()
            .unwrap()
            .extension
            .as_deref(),
        Some("LAB.2024.0000123")
    );
}

#[test]
fn every_problem_is_listed_in_the_error() {
    let (field, message) = invalid(DocumentType::Vps, |v| {
        v["body"]["triage"]["code"] = json!("Z");
        v["body"]["arrival"]["transport"] = json!("0");
    });
    assert_eq!(field, "body.arrival.transport");
    assert!(
        message.contains("and 1 more") && message.contains("body.triage.code"),
        "{message}"
    );
}

#[test]
fn json_that_is_not_json_is_an_input_json_error() {
    assert!(matches!(
        builder::build_json(Some(DocumentType::Lab), "{"),
        Err(Error::InputJson { .. })
    ));
    let Err(Error::InvalidInput { field, .. }) =
        builder::build_json(Some(DocumentType::Lab), "[1]")
    else {
        panic!()
    };
    assert_eq!(field, "(top level)");
}

#[test]
fn text_with_markup_characters_is_escaped() {
    let mut input = example(DocumentType::Rad);
    input["body"]["report"] = json!("a < b && c > \"d\" ]]> <!-- x -->\n\nseconda riga");
    input["patient"]["name"]["family"] = json!("D'Angelo & <Figli>");
    let xml = build(Some(DocumentType::Rad), &input).unwrap();
    let doc = fse_cda::xml::Document::parse(xml.as_bytes()).unwrap();
    assert!(
        xml.contains(
            "<paragraph>a &lt; b &amp;&amp; c &gt; \"d\" ]]&gt; &lt;!-- x --&gt;</paragraph>"
        ),
        "{xml}"
    );
    assert!(xml.contains("<family>D'Angelo &amp; &lt;Figli&gt;</family>"));
    assert!(doc.len() > 100);
}
