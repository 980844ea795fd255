//! The Gateway over real PDFs: fse-cda's LAB example rendered, injected
//! and signed with fse-pades, then validated and published through the
//! simulator's real PDF side.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::{AUD, encode_segment, multipart_request, pki, plain_get, send, tokens};
use fse_sim::testkit::{self, ClaimSet};
use fse_sim::{Operation, Simulator};
use http::{Method, StatusCode};
use serde_json::json;

fn sim() -> Simulator {
    Simulator::builder(pki())
        .audience(AUD)
        .build()
        .expect("sim")
}

fn lab() -> (String, String, String) {
    let cda = fse_cda::builder::example(fse_cda::builder::DocumentType::Lab).expect("LAB example");
    let meta = fse_cda::Metadata::from_bytes(cda.as_bytes()).expect("metadata");
    let patient = meta.patient_fiscal_code.clone().expect("fiscal code");
    let id = format!(
        "{}^{}",
        meta.document_id.root,
        meta.document_id.extension.clone().unwrap_or_default()
    );
    (cda, patient, id)
}

fn signed(pdf: &[u8]) -> Vec<u8> {
    let signer = fse_pades::KeySigner::from_pem(
        pki().pdf_signer.cert_pem().as_bytes(),
        pki().pdf_signer.key_pem().as_bytes(),
    )
    .expect("signer");
    fse_pades::sign(pdf, &signer, &fse_pades::SignOptions::default()).expect("sign")
}

#[tokio::test]
async fn a_rendered_signed_lab_is_validated_and_published() {
    let router = sim().router();
    let (cda, patient, id) = lab();
    let pdf = fse_pades::render(cda.as_bytes()).expect("render");
    let set = ClaimSet {
        patient: patient.clone(),
        ..ClaimSet::lab(AUD)
    };

    let t = tokens(Operation::Validation, &set, |_| {});
    let v = send(
        &router,
        multipart_request(
            Method::POST,
            "/v1/documents/validation",
            &t,
            &json!({"activity": "VALIDATION", "mode": "ATTACHMENT"}),
            Some(&pdf),
        ),
    )
    .await;
    assert_eq!(v.status, StatusCode::CREATED, "{:?}", v.json);
    assert!(!v.str("warning").contains("SIGN_WARN"));

    let signed = signed(&pdf);
    let t = tokens(Operation::Create, &set.clone().for_file(&signed), |_| {});
    let mut body = testkit::publication_body(&id);
    body["workflowInstanceId"] = json!(v.str("workflowInstanceId"));
    let c = send(
        &router,
        multipart_request(Method::POST, "/v1/documents", &t, &body, Some(&signed)),
    )
    .await;
    assert_eq!(c.status, StatusCode::ACCEPTED, "{:?}", c.json);
    let d = send(
        &router,
        plain_get(&format!("/_sim/documents/{}", encode_segment(&id))),
    )
    .await;
    assert_eq!(
        d.json["pdf_sha256"],
        json!(hex::encode(ring::digest::digest(
            &ring::digest::SHA256,
            &signed
        )))
    );
}

#[tokio::test]
async fn unsigned_pdfs_and_pdfs_without_cda_are_refused() {
    let router = sim().router();
    let (cda, patient, id) = lab();
    let set = ClaimSet {
        patient,
        ..ClaimSet::lab(AUD)
    };
    let pdf = fse_pades::render(cda.as_bytes()).expect("render");
    let t = tokens(
        Operation::ValidateAndCreate,
        &set.clone().for_file(&pdf),
        |_| {},
    );
    let r = send(
        &router,
        multipart_request(
            Method::POST,
            "/v1/documents/validate-and-create",
            &t,
            &testkit::publication_body(&id),
            Some(&pdf),
        ),
    )
    .await;
    assert_eq!(r.problem(), (400, "/msg/sign-error"), "{:?}", r.json);

    // A signed PDF whose signed bytes were then altered.
    let mut tampered = signed(&pdf);
    let at = tampered.len() / 3;
    tampered[at] ^= 0x01;
    let t = tokens(
        Operation::ValidateAndCreate,
        &set.clone().for_file(&tampered),
        |_| {},
    );
    let r = send(
        &router,
        multipart_request(
            Method::POST,
            "/v1/documents/validate-and-create",
            &t,
            &testkit::publication_body(&id),
            Some(&tampered),
        ),
    )
    .await;
    assert!(
        matches!(
            r.problem(),
            (400, "/msg/sign-error") | (400, "/msg/cda-element") | (400, "/msg/syntax")
        ),
        "{:?}",
        r.json
    );

    // The embedded file renamed: a PDF with no cda.xml.
    let bare = fse_pades::render(cda.as_bytes()).expect("render");
    let text = String::from_utf8_lossy(&bare).replace("(cda.xml)", "(not.xml)");
    let t = tokens(Operation::Validation, &set, |_| {});
    let r = send(
        &router,
        multipart_request(
            Method::POST,
            "/v1/documents/validation",
            &t,
            &json!({"activity": "VERIFICA", "mode": "ATTACHMENT"}),
            Some(text.as_bytes()),
        ),
    )
    .await;
    assert_eq!(r.problem(), (400, "/msg/cda-element"), "{:?}", r.json);
}

#[tokio::test]
async fn the_official_signed_lab_sample_extracts_and_verifies() {
    let Some(corpus) = fse_tests::corpus("the_official_signed_lab_sample_extracts_and_verifies")
    else {
        return;
    };
    let pdf = std::fs::read(corpus.join("pdf/LAB.pdf")).expect("LAB.pdf");
    use fse_sim::engine::{PadesInspector, PdfInspector, SignatureState};
    let cda = PadesInspector
        .extract(&pdf, Some(fse_sim::body::Mode::Attachment))
        .expect("cda.xml");
    assert!(String::from_utf8_lossy(&cda).contains("ClinicalDocument"));
    assert_eq!(PadesInspector.signature(&pdf), SignatureState::Valid);
}
