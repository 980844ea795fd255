//! `Metadata` on the nine official samples, against values read by hand
//! from the files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fse_cda::Metadata;
use fse_cda::metadata::{PatientIdKind, RelationType};

const LAZIO_DOC: &str = "2.16.840.1.113883.2.9.2.120.4.4";

struct Expected {
    file: &'static str,
    extension: &'static str,
    code: &'static str,
    class: &'static str,
    fiscal_code: &'static str,
    template_root: &'static str,
}

const SAMPLES: &[Expected] = &[
    Expected {
        file: "CERT_VACC.xml",
        extension: "030702.LCNLDE90L47H501Q.20220420112426.Q123E456",
        code: "82593-5",
        class: "VAC",
        fiscal_code: "RSSMRA22A01A399Z",
        template_root: "2.16.840.1.113883.2.9.10.1.11.1.2",
    },
    Expected {
        file: "LAB.xml",
        extension: "030702.TSTSMN63A01F205H.20220325112426.OQlvTq1J",
        code: "11502-2",
        class: "REF",
        fiscal_code: "GTWGWY82B42G920M",
        template_root: "2.16.840.1.113883.2.9.10.1.1",
    },
    Expected {
        file: "LDO.xml",
        extension: "030702.LCNLDE90L47H501Q.20220420112426.Q123E456",
        code: "34105-7",
        class: "LDO",
        fiscal_code: "GTWGWY82B42G920M",
        template_root: "2.16.840.1.113883.2.9.10.1.5",
    },
    Expected {
        file: "PSS.xml",
        extension: "030702.LCNLDE90L47H501Q.20220510112426.Q123E456",
        code: "60591-5",
        class: "SUM",
        fiscal_code: "RSSMRA22A01A399Z",
        template_root: "2.16.840.1.113883.2.9.10.1.4.1.1",
    },
    Expected {
        file: "RAD.xml",
        extension: "030702.LCNLVC95L47H501Q.20220325112426.OQlvTq1J",
        code: "68604-8",
        class: "REF",
        fiscal_code: "GTWGWY82B42G920M",
        template_root: "2.16.840.1.113883.2.9.10.1.7.1",
    },
    Expected {
        file: "RAP.xml",
        extension: "030702.TSTSMN63A01F205H.20220325112426.OQlvTq1J",
        code: "11526-1",
        class: "REF",
        fiscal_code: "PROVAX00X00X000Y",
        template_root: "2.16.840.1.113883.2.9.10.1.8.1",
    },
    Expected {
        file: "RSA.xml",
        extension: "030702.LCNLDE90L47H501Q.20220509102426.Q123E456",
        code: "11488-4",
        class: "REF",
        fiscal_code: "GTWGWY82B42G920M",
        template_root: "2.16.840.1.113883.2.9.10.1.9.1",
    },
    Expected {
        file: "SING_VACC.xml",
        extension: "030702.LCNLDE90L47H501Q.20220420112426.Q123E456",
        code: "87273-9",
        class: "VAC",
        fiscal_code: "GTWGWY82B42G920M",
        template_root: "2.16.840.1.113883.2.9.10.1.11.1.1",
    },
    Expected {
        file: "VPS.xml",
        extension: "030702.LCNLDE90L47H501Q.20220420112426.Q123E456",
        code: "59258-4",
        class: "VRB",
        fiscal_code: "GTWGWY82B42G920M",
        template_root: "2.16.840.1.113883.2.9.10.1.6.1",
    },
];

fn read(file: &str) -> Option<Metadata> {
    let corpus = fse_tests::corpus("metadata_samples")?;
    let bytes = std::fs::read(corpus.join("cda").join(file)).unwrap();
    Some(Metadata::from_bytes(&bytes).unwrap())
}

#[test]
fn the_nine_samples_give_their_id_code_class_and_fiscal_code() {
    for expected in SAMPLES {
        let Some(meta) = read(expected.file) else {
            return;
        };
        let name = expected.file;
        assert_eq!(
            meta.document_id.to_string(),
            format!("{LAZIO_DOC}^{}", expected.extension),
            "{name}"
        );
        assert_eq!(meta.code, expected.code, "{name}");
        assert_eq!(meta.code_system, "2.16.840.1.113883.6.1", "{name}");
        assert_eq!(
            meta.resource_hl7_type,
            format!("('{}^^2.16.840.1.113883.6.1')", expected.code),
            "{name}"
        );
        assert_eq!(
            meta.document_class.as_ref().map(|c| c.as_str()),
            Some(expected.class),
            "{name}"
        );
        assert_eq!(
            meta.patient_fiscal_code.as_deref(),
            Some(expected.fiscal_code),
            "{name}"
        );
        assert_eq!(
            meta.template_id.as_ref().map(|t| t.root.as_str()),
            Some(expected.template_root),
            "{name}"
        );
        assert_eq!(
            meta.confidentiality_code.as_ref().map(|c| c.code()),
            Some("N"),
            "{name}"
        );
        assert_eq!(meta.language_code.as_deref(), Some("it-IT"), "{name}");
        assert_eq!(
            meta.patient_ids[0].kind,
            PatientIdKind::FiscalCode,
            "{name}"
        );
        assert!(meta.legal_authenticator.is_some(), "{name}");
        assert!(
            meta.custodian
                .as_ref()
                .and_then(|c| c.name.as_ref())
                .is_some(),
            "{name}"
        );
    }
}

#[test]
fn the_info_json_of_the_nine_samples_has_their_class_fiscal_code_code_and_id() {
    // What `fse cda info` prints is this serialization.
    for expected in SAMPLES {
        let Some(meta) = read(expected.file) else {
            return;
        };
        let json = serde_json::to_value(&meta).unwrap();
        let name = expected.file;
        assert_eq!(json["document_class"], expected.class, "{name}");
        assert_eq!(json["patient_fiscal_code"], expected.fiscal_code, "{name}");
        assert_eq!(json["code"], expected.code, "{name}");
        assert_eq!(
            json["document_id"],
            format!("{LAZIO_DOC}^{}", expected.extension),
            "{name}"
        );
    }
}

#[test]
fn gateway_ids_come_from_the_metadata() {
    let Some(lab) = read("LAB.xml") else { return };
    assert_eq!(
        lab.gateway_document_id().unwrap().as_str(),
        "2.16.840.1.113883.2.9.2.120.4.4^030702.TSTSMN63A01F205H.20220325112426.OQlvTq1J"
    );
    let person = lab.person_id().unwrap().unwrap();
    assert_eq!(
        person.to_string(),
        "GTWGWY82B42G920M^^^&2.16.840.1.113883.2.9.4.3.2&ISO"
    );
    assert_eq!(
        person.fiscal_code().map(|c| c.as_str()),
        Some("GTWGWY82B42G920M")
    );
    // RAP.xml's patient fiscal code is a placeholder with no valid check character.
    let Some(rap) = read("RAP.xml") else { return };
    assert!(rap.person_id().unwrap().is_err());
}

#[test]
fn lab_header_details() {
    let Some(meta) = read("LAB.xml") else { return };
    assert_eq!(
        meta.set_id.as_ref().map(ToString::to_string),
        Some(meta.document_id.to_string())
    );
    assert_eq!(meta.version_number, Some(1));
    assert_eq!(
        meta.template_id
            .as_ref()
            .and_then(|t| t.extension.as_deref()),
        Some("1.3")
    );
    assert_eq!(meta.effective_time.as_deref(), Some("20220330112426+0100"));
    assert_eq!(meta.title.as_deref(), Some("REFERTO DI LABORATORIO"));
    let author = meta.author.as_ref().unwrap();
    assert_eq!(author.name.as_deref(), Some("Matteo Test"));
    assert_eq!(
        author.id.as_ref().map(ToString::to_string).as_deref(),
        Some("2.16.840.1.113883.2.9.4.3.2^PROVAX00X00X000Y")
    );
    assert_eq!(author.time.as_deref(), Some("20220325110000+0100"));
    let custodian = meta.custodian.as_ref().unwrap();
    assert_eq!(custodian.name.as_deref(), Some("SAN RAFFAELE NOMENTANA"));
    assert_eq!(
        custodian.id.as_ref().map(ToString::to_string).as_deref(),
        Some("2.16.840.1.113883.2.9.4.1.2^120148")
    );
    assert_eq!(
        meta.legal_authenticator.as_ref().unwrap().name.as_deref(),
        Some("Federico Prova")
    );
    // The relatedDocument of LAB.xml is commented out.
    assert!(meta.related_documents.is_empty());
    // documentationOf/serviceEvent/effectiveTime/@value only: a start, in UTC.
    assert_eq!(meta.service_start.as_deref(), Some("20220324102426"));
    assert_eq!(meta.service_stop, None);
}

#[test]
fn related_documents_and_local_patient_ids() {
    let Some(cert) = read("CERT_VACC.xml") else {
        return;
    };
    assert_eq!(cert.related_documents.len(), 1);
    let rel = &cert.related_documents[0];
    assert_eq!(rel.type_code, RelationType::Replaces);
    assert_eq!(
        rel.parent_id.as_ref().map(ToString::to_string).as_deref(),
        Some("2.16.840.1.113883.2.9.2.120.4.4^030702.LCNLDE90L47H501Q.20220420112426.0009rty")
    );
    assert_eq!(rel.parent_version_number.as_deref(), Some("1"));
    assert_eq!(cert.patient_ids.len(), 2);
    assert_eq!(cert.patient_ids[1].kind, PatientIdKind::Other);
    assert_eq!(cert.patient_ids[1].extension, "11111htttt");

    let Some(rap) = read("RAP.xml") else { return };
    assert_eq!(rap.related_documents[0].type_code, RelationType::Transforms);
    assert_eq!(
        rap.related_documents[0]
            .parent_set_id
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("2.16.840.1.113883.2.9.2.120.4.4^030702.TSTSMN63A01F205H.20220325112426.OQlvTq1J2")
    );
}

#[test]
fn service_periods_come_from_the_service_event_or_the_encounter() {
    let Some(vps) = read("VPS.xml") else { return };
    assert_eq!(vps.service_start.as_deref(), Some("20220330102426"));
    assert_eq!(vps.service_stop.as_deref(), Some("20220407102426"));
    // LDO has no serviceEvent: the stay (encompassingEncounter) is the service.
    let Some(ldo) = read("LDO.xml") else { return };
    assert_eq!(ldo.service_start.as_deref(), Some("20220316230000"));
    assert_eq!(ldo.service_stop.as_deref(), Some("20220417090000"));
}

#[test]
fn info_json_has_the_wire_shapes() {
    let Some(meta) = read("LAB.xml") else { return };
    let json = serde_json::to_value(&meta).unwrap();
    assert_eq!(
        json["document_id"],
        format!("{LAZIO_DOC}^030702.TSTSMN63A01F205H.20220325112426.OQlvTq1J")
    );
    assert_eq!(json["document_class"], "REF");
    assert_eq!(json["confidentiality_code"], "N");
    assert_eq!(json["patient_ids"][0]["kind"], "CF");
    assert_eq!(json["patient_ids"][0]["extension"], "GTWGWY82B42G920M");
    assert_eq!(
        json["resource_hl7_type"],
        "('11502-2^^2.16.840.1.113883.6.1')"
    );
}

#[test]
fn bad_documents_get_errors_naming_what_is_missing() {
    let not_cda = Metadata::from_bytes(b"<html/>").unwrap_err();
    assert!(
        not_cda.to_string().contains("ClinicalDocument"),
        "{not_cda}"
    );
    let no_id = Metadata::from_bytes(
        br#"<ClinicalDocument xmlns="urn:hl7-org:v3"><code code="1" codeSystem="2"/></ClinicalDocument>"#,
    )
    .unwrap_err();
    assert!(
        no_id.to_string().contains("ClinicalDocument/id/@root"),
        "{no_id}"
    );
    let no_code = Metadata::from_bytes(
        br#"<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2" extension="x"/></ClinicalDocument>"#,
    )
    .unwrap_err();
    assert!(
        no_code.to_string().contains("ClinicalDocument/code"),
        "{no_code}"
    );
}

#[test]
fn resource_hl7_type_takes_the_first_code_element() {
    // The Gateway reads the first <code> of the document, whatever its parent.
    let meta = Metadata::from_bytes(
        br#"<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2" extension="x"/>
        <code code="34105-7" codeSystem="2.16.840.1.113883.6.1"/></ClinicalDocument>"#,
    )
    .unwrap();
    assert_eq!(meta.resource_hl7_type, "('34105-7^^2.16.840.1.113883.6.1')");
    assert_eq!(
        meta.document_class.as_ref().map(|c| c.as_str()),
        Some("LDO")
    );
    assert!(meta.patient_ids.is_empty() && meta.patient_fiscal_code.is_none());
}

mod robustness {
    use proptest::prelude::*;

    fn lab() -> Option<Vec<u8>> {
        let corpus = fse_tests::corpus("metadata_robustness")?;
        Some(std::fs::read(corpus.join("cda/LAB.xml")).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Damaged documents get errors or partial metadata, never a panic,
        /// from every reader of this area.
        #[test]
        fn damaged_documents_never_panic(cuts in prop::collection::vec((0usize..15_000, 0usize..40, prop::sample::select(vec![&b""[..], b"<", b">", b"\"", b"&", b"\xC3", b"<id/>", b"+9999"])), 1..6)) {
            let Some(mut bytes) = lab() else { return Ok(()) };
            for (at, len, insert) in cuts {
                let at = at.min(bytes.len());
                let end = (at + len).min(bytes.len());
                bytes.splice(at..end, insert.iter().copied());
            }
            let _ = fse_cda::Metadata::from_bytes(&bytes);
            let _ = fse_cda::cda_match_hash_bytes(&bytes);
            let _ = fse_cda::replace::replace_bytes(&bytes, &Default::default());
        }
    }
}
