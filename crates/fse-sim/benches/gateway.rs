//! The cost of one simulated call, to size load tests run against the
//! simulator: the front's JWT checks alone, and a whole validate-and-create
//! of a rendered, signed LAB report (PDF extraction, signature check, CDA
//! validation, storage) through the router.
//!
//! `cargo bench -p fse-sim --bench gateway`
#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use fse_sim::testkit::{self, ClaimSet};
use fse_sim::{Operation, Simulator};
use http_body_util::BodyExt;
use tower::ServiceExt;

const AUD: &str = "https://bench.test/v1";

fn bench(c: &mut Criterion) {
    let pki = fse_sim::pki::TestPki::generate().expect("pki");
    let sim = Simulator::builder(&pki).audience(AUD).build().expect("sim");
    let router = sim.router();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let cda = fse_cda::builder::example(fse_cda::builder::DocumentType::Lab).expect("LAB");
    let meta = fse_cda::Metadata::from_bytes(cda.as_bytes()).expect("metadata");
    let patient = meta.patient_fiscal_code.clone().expect("patient");
    let id = format!(
        "{}^{}",
        meta.document_id.root,
        meta.document_id.extension.clone().unwrap_or_default()
    );
    let signer = fse_pades::KeySigner::from_pem(
        pki.pdf_signer.cert_pem().as_bytes(),
        pki.pdf_signer.key_pem().as_bytes(),
    )
    .expect("signer");
    let pdf = fse_pades::sign(
        &fse_pades::render(cda.as_bytes()).expect("render"),
        &signer,
        &Default::default(),
    )
    .expect("sign");
    let set = ClaimSet {
        patient,
        ..ClaimSet::lab(AUD)
    }
    .for_file(&pdf);
    let bearer = testkit::sign(&pki, &testkit::bearer_claims(&pki, AUD));
    let signature = testkit::sign(
        &pki,
        &testkit::signature_claims(&pki, Operation::ValidateAndCreate, &set),
    );
    let (content_type, body) = testkit::multipart(&testkit::publication_body(&id), Some(&pdf));

    let anchors = [pki.ca.cert_der.clone()];
    let audiences = [AUD.to_owned()];
    c.bench_function("jwt_front_checks", |b| {
        b.iter(|| {
            fse_sim::jwt::verify(
                &signature,
                &anchors,
                &audiences,
                time::OffsetDateTime::now_utc(),
            )
            .expect("valid")
        });
    });

    c.bench_function("validate_and_create_lab", |b| {
        b.iter(|| {
            let request = http::Request::post("/v1/documents/validate-and-create")
                .header("authorization", format!("Bearer {bearer}"))
                .header("fse-jwt-signature", &signature)
                .header("content-type", &content_type)
                .body(axum::body::Body::from(body.clone()))
                .expect("request");
            runtime.block_on(async {
                let response = router.clone().oneshot(request).await.expect("infallible");
                assert_eq!(response.status(), 202);
                response.into_body().collect().await.expect("body");
            });
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
