//! The official signed PDFs and the sample JWT payloads of the national
//! test container: the inspector reads what the Gateway reads, the sample
//! claims pass the pre-flight once their stale values are corrected, and
//! the stale values are refused naming their claim.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use fse_transport::inspect::{DocumentInspector, PadesInspector};
use fse_transport::jwt::{BearerClaims, SignatureClaims, sha256_hex};
use fse_transport::preflight::{PreflightInput, check_all};
use fse_transport::{MemoryJournal, Operation};
use support::*;

/// The pairs (PDF, sample payload) the corpus has.
const SAMPLES: &[(&str, &str)] = &[
    ("LAB.pdf", "lab_with_hash_payload.json"),
    ("LDO.pdf", "ldo_with_hash_payload.json"),
    ("RAD.pdf", "rad_with_hash_payload.json"),
    ("RSA.pdf", "rsa_with_hash_payload.json"),
    ("VPS.pdf", "vps_with_hash_payload.json"),
    ("PSS.pdf", "pss_with_hash_payload.json"),
    ("CERT_VACC.pdf", "cert_vacc_with_hash_payload.json"),
    ("SING_VACC.pdf", "sing_vacc_with_hash_payload.json"),
];

#[test]
fn the_inspector_reads_the_official_pdfs() {
    let Some(corpus) = fse_tests::corpus("the_inspector_reads_the_official_pdfs") else {
        return;
    };
    for (pdf_name, _) in SAMPLES {
        let pdf = std::fs::read(corpus.join("pdf").join(pdf_name)).unwrap();
        let facts = PadesInspector
            .inspect(&pdf)
            .unwrap_or_else(|e| panic!("{pdf_name}: {e}"));
        let sig = facts.signature.unwrap();
        assert!(
            sig.present && sig.has_signing_time && sig.valid,
            "{pdf_name}: {sig:?}"
        );
        assert!(!facts.patient_ids.is_empty(), "{pdf_name}");
        assert!(facts.resource_hl7_type().is_some(), "{pdf_name}");
    }
    // Not a PDF with a CDA: refused with a reason, never a panic.
    assert!(PadesInspector.inspect(b"%PDF-1.4\n%%EOF\n").is_err());
    assert!(PadesInspector.inspect(b"").is_err());
}

/// The sample's claims with its stale values corrected: `&amp;` unescaped
/// and an XON locality.
fn corrected(payload: &serde_json::Value) -> serde_json::Value {
    let text = payload.to_string().replace("&amp;", "&");
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["locality"] = LOCALITY.into();
    v
}

#[tokio::test]
async fn the_sample_claims_pass_when_corrected_and_are_refused_as_they_are() {
    let Some(corpus) = fse_tests::corpus("the_sample_claims_pass_when_corrected") else {
        return;
    };
    let server = Recorder::start(vec![]).await;
    let client = client_with(
        settings(&server.url(), all_operations()),
        Arc::new(MemoryJournal::new()),
        Arc::new(FakeClock::new()),
    );
    for (pdf_name, payload_name) in SAMPLES {
        let pdf = std::fs::read(corpus.join("pdf").join(pdf_name)).unwrap();
        let payload: serde_json::Value =
            serde_json::from_slice(&std::fs::read(corpus.join("jwt").join(payload_name)).unwrap())
                .unwrap();
        assert_eq!(
            payload["attachment_hash"],
            sha256_hex(&pdf),
            "{pdf_name}: the sample hash is the PDF's SHA-256"
        );
        let facts = PadesInspector.inspect(&pdf).unwrap();
        let claims: SignatureClaims = serde_json::from_value(corrected(&payload)).unwrap();
        let bearer = BearerClaims {
            iss: claims.iss.replace("integrity:", "auth:"),
            sub: claims.sub.clone(),
            aud: claims.aud.clone(),
            iat: claims.iat,
            exp: claims.exp,
            jti: claims.jti.clone(),
        };
        let mut body = create_body();
        body["tipoDocumentoLivAlto"] = fse_cda::class::for_loinc(facts.code.as_deref().unwrap())
            .map(|c| c.as_str().to_owned())
            .unwrap()
            .into();
        if facts.confidentiality.as_deref() == Some("V") {
            body["attiCliniciRegoleAccesso"] = serde_json::json!(["P99"]);
        }
        let input = |claims: &SignatureClaims| {
            check_all(&PreflightInput {
                operation: Operation::Create,
                profile: client.profile(),
                bearer: &bearer,
                signature: Some(claims),
                body: Some(&body),
                pdf: Some(&pdf),
                path_id: None,
                facts: Some(&facts),
            })
        };
        let problems = input(&claims);
        assert!(problems.is_empty(), "{pdf_name}: {problems:?}");

        // As published, the sample's locality is not XON and its ids are HTML-escaped.
        let stale: SignatureClaims = serde_json::from_value(payload.clone()).unwrap();
        let fields: Vec<String> = input(&stale).into_iter().map(|p| p.field).collect();
        assert!(
            fields.contains(&"locality".to_owned()),
            "{pdf_name}: {fields:?}"
        );
        assert!(
            fields.contains(&"person_id".to_owned()),
            "{pdf_name}: {fields:?}"
        );

        // The wrong document's hash is refused.
        let mut other = claims.clone();
        other.attachment_hash = Some(sha256_hex(b"another file"));
        let fields: Vec<String> = input(&other).into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["attachment_hash"], "{pdf_name}");
    }
    assert_eq!(server.hits(), 0);
}
