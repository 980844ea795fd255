//! The Gateway's national semantics through the router, without a socket.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::*;
use fse_sim::clock::ManualClock;
use fse_sim::testkit::{self, ClaimSet};
use fse_sim::{Operation, Simulator};
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};

fn wii_is_national(wii: &str) -> bool {
    let Some(prefix) = wii.strip_suffix("^^^^urn:ihe:iti:xdw:2013:workflowInstanceId") else {
        return false;
    };
    let parts: Vec<&str> = prefix.rsplitn(3, '.').collect();
    matches!(parts.as_slice(), [nonce, hash, root]
        if nonce.len() == 10 && hash.len() == 64
        && nonce.bytes().chain(hash.bytes()).all(|b| b.is_ascii_hexdigit())
        && root.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

#[tokio::test]
async fn validation_then_create_then_status() {
    let sim = sim();
    let router = sim.router();
    let pdf = fake_pdf(&lab("HAPPY1"), "signed");

    let v = validate(&router, &fake_pdf(&lab("HAPPY1"), "unsigned"), "VALIDATION").await;
    assert_eq!(v.status, StatusCode::CREATED, "{:?}", v.json);
    let wii = v.str("workflowInstanceId").to_owned();
    assert!(wii_is_national(&wii), "{wii}");
    assert!(wii.starts_with(&format!("{DOC_ROOT}.")));
    assert_eq!(v.str("traceID").len(), 16);
    assert!(!v.cart_id().is_empty());

    let c = create(&router, &pdf, &doc_id("HAPPY1"), Some(&wii)).await;
    assert_eq!(c.status, StatusCode::ACCEPTED, "{:?}", c.json);
    assert_eq!(c.str("workflowInstanceId"), wii);
    assert_ne!(c.cart_id(), v.cart_id());

    let s = send(
        &router,
        bearer_get(&format!("/v1/status/{}", encode_segment(&wii))),
    )
    .await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.json);
    let events: Vec<(&str, &str)> = s.json["transactionData"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["eventType"].as_str().unwrap_or(""),
                e["eventStatus"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        events,
        vec![
            ("VALIDATION", "SUCCESS"),
            ("PUBLICATION", "SUCCESS"),
            ("SEND_TO_INI", "SUCCESS"),
            ("SEND_TO_UAR", "SUCCESS"),
            ("UAR_FINAL_STATUS", "SUCCESS")
        ]
    );
    // Both offset spellings appear, as on the real Gateway.
    let dates: Vec<&str> = s.json["transactionData"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["eventDate"].as_str())
        .collect();
    assert!(
        dates.iter().any(|d| d.ends_with(":00"))
            && dates
                .iter()
                .any(|d| !d.contains("+0") || d.ends_with("00") && !d.ends_with(":00"))
    );

    let by_trace = send(
        &router,
        bearer_get(&format!("/v1/status/search/{}", c.str("traceID"))),
    )
    .await;
    assert_eq!(by_trace.status, StatusCode::OK);
    assert_eq!(
        by_trace.json["transactionData"].as_array().map(Vec::len),
        Some(4)
    );

    let docs = send(&router, plain_get("/_sim/documents")).await;
    let docs = docs.json.as_array().expect("documents");
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["id"], json!(doc_id("HAPPY1")));
    assert_eq!(docs[0]["status"], json!("PUBLISHED"));
    assert_eq!(docs[0]["publications"], json!(1));
    assert_eq!(docs[0]["workflow_instance_id"], json!(wii));
}

#[tokio::test]
async fn verifica_without_mode_warns_and_keeps_nothing() {
    let sim = sim();
    let router = sim.router();
    let t = tokens(Operation::Validation, &ClaimSet::lab(AUD), |_| {});
    let r = send(
        &router,
        multipart_request(
            Method::POST,
            "/v1/documents/validation",
            &t,
            &json!({"activity": "VERIFICA"}),
            Some(&fake_pdf(&lab("V1"), "unsigned")),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert!(r.str("warning").contains("[WARNING_EXTRACT]"));
    // VERIFICA keeps no hash: a create after it is not validated.
    let c = create(
        &router,
        &fake_pdf(&lab("V1"), "signed"),
        &doc_id("V1"),
        None,
    )
    .await;
    assert_eq!(c.problem(), (400, "/msg/cda-match"));
}

#[tokio::test]
async fn validating_a_signed_pdf_warns_sign_warn() {
    let router = sim().router();
    let r = validate(&router, &fake_pdf(&lab("SW"), "signed"), "VALIDATION").await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.str("warning").contains("SIGN_WARN"), "{:?}", r.json);
}

#[tokio::test]
async fn file_problems_have_their_national_types() {
    let router = sim().router();
    let r = validate(&router, b"just text", "VALIDATION").await;
    assert_eq!(r.problem(), (415, "/msg/document-type"));
    let r = validate(&router, b"", "VALIDATION").await;
    assert_eq!(r.problem(), (400, "/msg/empty-file"));
    let r = validate(&router, &fake_pdf("nocda", "unsigned"), "VALIDATION").await;
    assert_eq!(r.problem(), (400, "/msg/cda-element"));
    assert_eq!(r.str("instance"), "/cda-extraction");
    let r = create(&router, b"just text", &doc_id("X"), None).await;
    assert_eq!(
        r.problem(),
        (400, "/msg/document-type"),
        "400, not 415, on publication"
    );
}

#[tokio::test]
async fn xsd_errors_are_400_syntax_with_the_workflow() {
    let router = sim().router();
    let broken = lab("XSD1").replace("<title>Referto di laboratorio</title>", "<unexpected/>");
    let r = validate(&router, &fake_pdf(&broken, "unsigned"), "VALIDATION").await;
    assert_eq!(r.problem(), (400, "/msg/syntax"), "{:?}", r.json);
    assert!(wii_is_national(r.str("workflowInstanceId")), "{:?}", r.json);
    let r = validate(
        &router,
        &fake_pdf("<ClinicalDocument", "unsigned"),
        "VALIDATION",
    )
    .await;
    assert_eq!(r.problem(), (400, "/msg/syntax"));
}

#[tokio::test]
async fn wrong_hash_consumes_the_validation_then_cda_match() {
    let router = sim().router();
    let pdf = fake_pdf(&lab("HASH1"), "signed");
    let v = validate(&router, &fake_pdf(&lab("HASH1"), "unsigned"), "VALIDATION").await;
    let wii = v.str("workflowInstanceId").to_owned();

    let t = tokens(
        Operation::Create,
        &ClaimSet::lab(AUD).for_file(b"%PDF-other"),
        |_| {},
    );
    let body = json!(testkit::publication_body(&doc_id("HASH1")));
    let r = send(
        &router,
        multipart_request(Method::POST, "/v1/documents", &t, &body, Some(&pdf)),
    )
    .await;
    assert_eq!(r.problem(), (400, "/msg/document-hash"));
    assert_eq!(r.str("instance"), "/jwt-hash-match");

    let r = create(&router, &pdf, &doc_id("HASH1"), Some(&wii)).await;
    assert_eq!(
        r.problem(),
        (400, "/msg/cda-match"),
        "the corrected retry needs a new validation"
    );

    let v = validate(&router, &fake_pdf(&lab("HASH1"), "unsigned"), "VALIDATION").await;
    let r = create(
        &router,
        &pdf,
        &doc_id("HASH1"),
        Some(v.str("workflowInstanceId")),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn cda_match_ignores_only_the_legal_authenticator() {
    let router = sim().router();
    validate(&router, &fake_pdf(&lab("M1"), "unsigned"), "VALIDATION").await;
    let edited = lab_cda("M1", testkit::TEST_PATIENT, "Bianchi");
    let r = create(&router, &fake_pdf(&edited, "signed"), &doc_id("M1"), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.json);

    validate(&router, &fake_pdf(&lab("M2"), "unsigned"), "VALIDATION").await;
    let edited = lab("M2").replace("Emocromo nella norma", "Emocromo alterato");
    let r = create(&router, &fake_pdf(&edited, "signed"), &doc_id("M2"), None).await;
    assert_eq!(r.problem(), (400, "/msg/cda-match"));

    let v = validate(&router, &fake_pdf(&lab("M3"), "unsigned"), "VALIDATION").await;
    let other_wii = v.str("workflowInstanceId").replace(
        &v.str("workflowInstanceId")
            [v.str("workflowInstanceId").len() - 53..v.str("workflowInstanceId").len() - 43],
        "0000000000",
    );
    let r = create(
        &router,
        &fake_pdf(&lab("M3"), "signed"),
        &doc_id("M3"),
        Some(&other_wii),
    )
    .await;
    assert_eq!(r.problem(), (400, "/msg/cda-match"), "another wii");
}

#[tokio::test]
async fn validation_expires_after_five_days() {
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let sim = builder()
        .clock(Arc::new(clock.clone()))
        .build()
        .expect("sim");
    let router = sim.router();
    validate(&router, &fake_pdf(&lab("OLD1"), "unsigned"), "VALIDATION").await;
    clock.advance(time::Duration::days(6));
    let pdf = fake_pdf(&lab("OLD1"), "signed");
    let later = clock.clone();
    let t = tokens(Operation::Create, &ClaimSet::lab(AUD).for_file(&pdf), |c| {
        let now = fse_sim::clock::Clock::now(&later).unix_timestamp();
        c.insert("iat".into(), json!(now));
        c.insert("exp".into(), json!(now + 300));
    });
    // The bearer token must also be valid at the clock's time.
    let mut bearer = testkit::bearer_claims(pki(), AUD);
    let now = fse_sim::clock::Clock::now(&clock).unix_timestamp();
    bearer.insert("exp".into(), json!(now + 300));
    let t = (testkit::sign(pki(), &bearer), t.1);
    let r = send(
        &router,
        multipart_request(
            Method::POST,
            "/v1/documents",
            &t,
            &testkit::publication_body(&doc_id("OLD1")),
            Some(&pdf),
        ),
    )
    .await;
    assert_eq!(
        r.problem(),
        (400, "/msg/max-day-limit-exceed"),
        "{:?}",
        r.json
    );
}

#[tokio::test]
async fn each_jwt_claim_error_is_403() {
    let router = sim().router();
    let pdf = fake_pdf(&lab("JWT1"), "signed");
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "action_id",
            json!("DELETE"),
            "/jwt-mandatory-field-malformed",
        ),
        (
            "person_id",
            json!("BNCLRA90A41H501F^^^&2.16.840.1.113883.2.9.4.3.2&ISO"),
            "/jwt-person-id",
        ),
        (
            "resource_hl7_type",
            json!("('34105-7^^2.16.840.1.113883.6.1')"),
            "/jwt-document-type",
        ),
        (
            "locality",
            json!("201123456"),
            "/jwt-mandatory-field-malformed",
        ),
        (
            "subject_organization",
            json!("Regione Lazio"),
            "/jwt-mandatory-field-malformed",
        ),
        (
            "subject_application_id",
            Value::Null,
            "/jwt-mandatory-field-missing",
        ),
    ];
    for (claim, value, instance) in cases {
        let t = tokens(
            Operation::ValidateAndCreate,
            &ClaimSet::lab(AUD).for_file(&pdf),
            |c| {
                if value.is_null() {
                    c.remove(claim);
                } else {
                    c.insert(claim.to_owned(), value.clone());
                }
            },
        );
        let body = testkit::publication_body(&doc_id("JWT1"));
        let r = send(
            &router,
            multipart_request(
                Method::POST,
                "/v1/documents/validate-and-create",
                &t,
                &body,
                Some(&pdf),
            ),
        )
        .await;
        assert_eq!(
            r.problem(),
            (403, "/msg/jwt-validation"),
            "{claim}: {:?}",
            r.json
        );
        assert_eq!(r.str("instance"), instance, "{claim}");
        assert!(!r.cart_id().is_empty());
    }
    let docs = send(&router, plain_get("/_sim/documents")).await;
    assert_eq!(docs.json, json!([]), "nothing published");
}

#[tokio::test]
async fn the_front_refuses_tokens_it_cannot_verify() {
    let router = sim().router();
    let pdf = fake_pdf(&lab("FR1"), "unsigned");
    let body = json!({"activity": "VALIDATION", "mode": "ATTACHMENT"});
    let good = tokens(Operation::Validation, &ClaimSet::lab(AUD), |_| {});

    let other_pki = TestPkiCache::other();
    let foreign = testkit::sign(
        other_pki,
        &testkit::signature_claims(other_pki, Operation::Validation, &ClaimSet::lab(AUD)),
    );
    let mut expired = testkit::signature_claims(pki(), Operation::Validation, &ClaimSet::lab(AUD));
    expired.insert("exp".into(), json!(1_000_000));
    let expired = testkit::sign(pki(), &expired);
    let wrong_aud = testkit::sign(
        pki(),
        &testkit::signature_claims(
            pki(),
            Operation::Validation,
            &ClaimSet::lab("https://elsewhere/v1"),
        ),
    );
    let mut tampered = good.1.clone();
    tampered.pop();
    tampered.push(if good.1.ends_with('A') { 'B' } else { 'A' });

    for (name, signature) in [
        ("foreign CA", foreign),
        ("expired", expired),
        ("audience", wrong_aud),
        ("signature", tampered),
        ("garbage", "x.y".to_owned()),
    ] {
        let r = send(
            &router,
            multipart_request(
                Method::POST,
                "/v1/documents/validation",
                &(good.0.clone(), signature),
                &body,
                Some(&pdf),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}: {:?}", r.json);
        assert_eq!(r.str("title"), "TokenAuthenticationFailed", "{name}");
        assert!(!r.str("govway_id").is_empty(), "{name}");
        assert!(r.json.get("traceID").is_none(), "{name}");
        assert!(r.headers.get("www-authenticate").is_some(), "{name}");
        assert!(!r.cart_id().is_empty(), "{name}");
    }
}

struct TestPkiCache;

impl TestPkiCache {
    fn other() -> &'static fse_sim::pki::TestPki {
        static OTHER: std::sync::OnceLock<fse_sim::pki::TestPki> = std::sync::OnceLock::new();
        OTHER.get_or_init(|| fse_sim::pki::TestPki::generate().expect("other PKI"))
    }
}

#[tokio::test]
async fn missing_tokens_are_missing_token() {
    let router = sim().router();
    let req = Request::post("/v1/documents")
        .body(axum::body::Body::empty())
        .expect("req");
    let r = send(&router, req).await;
    assert_eq!(r.problem(), (400, "/msg/missing-token"));
    let req = Request::post("/v1/documents/validation")
        .body(axum::body::Body::empty())
        .expect("req");
    let r = send(&router, req).await;
    assert_eq!(r.problem(), (403, "/msg/missing-token"));
    let r = send(&router, plain_get("/v1/status/x")).await;
    assert_eq!(r.problem(), (403, "/msg/missing-token"));
}

#[tokio::test]
async fn body_errors_are_400() {
    let router = sim().router();
    let pdf = fake_pdf(&lab("B1"), "signed");
    let t = tokens(
        Operation::ValidateAndCreate,
        &ClaimSet::lab(AUD).for_file(&pdf),
        |_| {},
    );
    let cases: Vec<(&str, Value, &str)> = vec![
        ("tipologiaStruttura", Value::Null, "/msg/mandatory-element"),
        ("unknownProperty", json!(1), "/msg/mandatory-element"),
        (
            "tipoDocumentoLivAlto",
            json!("XXX"),
            "/msg/mandatory-element",
        ),
        (
            "dataInizioPrestazione",
            json!("2014-10-20"),
            "/msg/invalid-format",
        ),
        (
            "attiCliniciRegoleAccesso",
            json!(["P96"]),
            "/msg/invalid-format",
        ),
        ("descriptions", json!(["x^y"]), "/msg/invalid-format"),
        (
            "identificativoDoc",
            json!("507f1f77bcf86cd799439011"),
            "/msg/id-doc",
        ),
    ];
    for (field, value, ty) in cases {
        let mut body = testkit::publication_body(&doc_id("B1"));
        let m = body.as_object_mut().expect("object");
        if value.is_null() {
            m.remove(field);
        } else {
            m.insert(field.to_owned(), value);
        }
        let r = send(
            &router,
            multipart_request(
                Method::POST,
                "/v1/documents/validate-and-create",
                &t,
                &body,
                Some(&pdf),
            ),
        )
        .await;
        assert_eq!(r.problem(), (400, ty), "{field}: {:?}", r.json);
    }
    // requestBody sent as a file part is not a parameter: missing.
    let (ct, bytes) = testkit::multipart(&json!({}), Some(&pdf));
    let bytes = String::from_utf8_lossy(&bytes)
        .replace(
            "name=\"requestBody\"",
            "name=\"requestBody\"; filename=\"body.json\"",
        )
        .into_bytes();
    let req = Request::post("/v1/documents/validate-and-create")
        .header("authorization", format!("Bearer {}", t.0))
        .header("fse-jwt-signature", &t.1)
        .header("content-type", ct)
        .body(axum::body::Body::from(bytes))
        .expect("req");
    let r = send(&router, req).await;
    assert_eq!(r.problem(), (400, "/msg/mandatory-element"));
}

#[tokio::test]
async fn unsigned_or_badly_signed_pdfs_are_refused_on_publication() {
    let router = sim().router();
    let r = validate_and_create(&router, &fake_pdf(&lab("S1"), "unsigned"), &doc_id("S1")).await;
    assert_eq!(r.problem(), (400, "/msg/sign-error"));
    assert_eq!(r.str("detail"), "Il pdf non risulta firmato");
    let r = validate_and_create(&router, &fake_pdf(&lab("S2"), "badsig"), &doc_id("S2")).await;
    assert_eq!(r.problem(), (400, "/msg/sign-error"));
    assert!(
        r.str("detail")
            .starts_with("La firma del pdf non risulta valida")
    );
}

#[tokio::test]
async fn class_must_correlate_with_the_document_code() {
    let router = sim().router();
    let pdf = fake_pdf(&lab("COR"), "signed");
    let t = tokens(
        Operation::ValidateAndCreate,
        &ClaimSet::lab(AUD).for_file(&pdf),
        |_| {},
    );
    let mut body = testkit::publication_body(&doc_id("COR"));
    body["tipoDocumentoLivAlto"] = json!("LDO");
    let r = send(
        &router,
        multipart_request(
            Method::POST,
            "/v1/documents/validate-and-create",
            &t,
            &body,
            Some(&pdf),
        ),
    )
    .await;
    assert_eq!(r.problem(), (400, "/msg/validator"), "{:?}", r.json);
}

fn delete_request(path: &str, op: Operation) -> Request<axum::body::Body> {
    let (bearer, signature) = tokens(op, &ClaimSet::lab(AUD), |_| {});
    Request::delete(path)
        .header("authorization", format!("Bearer {bearer}"))
        .header("fse-jwt-signature", signature)
        .body(axum::body::Body::empty())
        .expect("req")
}

#[tokio::test]
async fn delete_is_200_then_404() {
    let router = sim().router();
    let r = validate_and_create(&router, &fake_pdf(&lab("DEL1"), "signed"), &doc_id("DEL1")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.json);
    let path = format!("/v1/documents/{}", path_id("DEL1"));
    let r = send(&router, delete_request(&path, Operation::Delete)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let wii = r.str("workflowInstanceId");
    assert!(
        fse_model::WorkflowInstanceId::parse(wii)
            .expect("wii")
            .is_for(&fse_model::DocumentId::parse(&doc_id("DEL1")).expect("id"))
    );
    let r = send(&router, delete_request(&path, Operation::Delete)).await;
    assert_eq!(r.problem(), (404, "/msg/record-not-found"));
    let r = send(
        &router,
        delete_request("/v1/documents/507f1f77bcf86cd799439011", Operation::Delete),
    )
    .await;
    assert_eq!(r.problem(), (400, "/msg/id-doc"));
    let r = send(
        &router,
        delete_request(
            &format!("/v1/documents/{}", path_id("NEVER")),
            Operation::Delete,
        ),
    )
    .await;
    assert_eq!(r.problem(), (404, "/msg/record-not-found"));
    // Coherence: a DELETE token with CREATE action is refused.
    validate_and_create(&router, &fake_pdf(&lab("DEL2"), "signed"), &doc_id("DEL2")).await;
    let r = send(
        &router,
        delete_request(
            &format!("/v1/documents/{}", path_id("DEL2")),
            Operation::Create,
        ),
    )
    .await;
    assert_eq!(r.problem(), (403, "/msg/jwt-validation"));
}

#[tokio::test]
async fn replace_publishes_version_two_and_retires_the_old() {
    let router = sim().router();
    validate_and_create(&router, &fake_pdf(&lab("R1"), "signed"), &doc_id("R1")).await;
    let pdf2 = fake_pdf(&lab("R1-v2"), "signed");
    let t = tokens(
        Operation::ValidateAndReplace,
        &ClaimSet::lab(AUD).for_file(&pdf2),
        |_| {},
    );
    let body = testkit::publication_body(&doc_id("R1-v2"));
    let r = send(
        &router,
        multipart_request(
            Method::PUT,
            &format!("/v1/documents/validate-and-replace/{}", path_id("R1")),
            &t,
            &body,
            Some(&pdf2),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.json);
    let docs = send(&router, plain_get("/_sim/documents")).await;
    let docs = docs.json.as_array().expect("docs");
    let old = docs
        .iter()
        .find(|d| d["id"] == json!(doc_id("R1")))
        .expect("old");
    let new = docs
        .iter()
        .find(|d| d["id"] == json!(doc_id("R1-v2")))
        .expect("new");
    assert_eq!(old["status"], json!("REPLACED"));
    assert_eq!(old["replaced_by"], json!(doc_id("R1-v2")));
    assert_eq!(
        (new["status"].clone(), new["version"].clone()),
        (json!("PUBLISHED"), json!(2))
    );

    // Plain replace after a validation, of something never published: 404.
    validate(&router, &fake_pdf(&lab("R3"), "unsigned"), "VALIDATION").await;
    let pdf3 = fake_pdf(&lab("R3"), "signed");
    let t = tokens(
        Operation::Replace,
        &ClaimSet::lab(AUD).for_file(&pdf3),
        |_| {},
    );
    let r = send(
        &router,
        multipart_request(
            Method::PUT,
            &format!("/v1/documents/{}", path_id("UNKNOWN")),
            &t,
            &testkit::publication_body(&doc_id("R3")),
            Some(&pdf3),
        ),
    )
    .await;
    assert_eq!(r.problem(), (404, "/msg/record-not-found"));
}

fn metadata_request(path: &str, purpose: &str, body: &Value) -> Request<axum::body::Body> {
    let (bearer, signature) = tokens(Operation::UpdateMetadata, &ClaimSet::lab(AUD), |c| {
        c.insert("purpose_of_use".into(), json!(purpose));
    });
    Request::put(path)
        .header("authorization", format!("Bearer {bearer}"))
        .header("fse-jwt-signature", signature)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .expect("req")
}

#[tokio::test]
async fn metadata_update_with_p99_obscures() {
    let router = sim().router();
    validate_and_create(&router, &fake_pdf(&lab("P1"), "signed"), &doc_id("P1")).await;
    let path = format!("/v1/documents/{}/metadata-iti-57", path_id("P1"));
    let r = send(
        &router,
        metadata_request(&path, "ACCESS UPDATE", &testkit::metadata_body(&["P99"])),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let d = send(
        &router,
        plain_get(&format!(
            "/_sim/documents/{}",
            encode_segment(&doc_id("P1"))
        )),
    )
    .await;
    assert_eq!(d.json["obscured"], json!(true));
    assert_eq!(d.json["event_codes"], json!(["P99"]));

    let r = send(
        &router,
        metadata_request(
            &format!("/v1/documents/{}/metadata", path_id("P1")),
            "UPDATE",
            &testkit::metadata_body(&[]),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let d = send(
        &router,
        plain_get(&format!(
            "/_sim/documents/{}",
            encode_segment(&doc_id("P1"))
        )),
    )
    .await;
    assert_eq!(d.json["obscured"], json!(false));

    let r = send(
        &router,
        metadata_request(&path, "TREATMENT", &testkit::metadata_body(&["P99"])),
    )
    .await;
    assert_eq!(
        r.problem(),
        (403, "/msg/jwt-validation"),
        "TREATMENT is not a metadata purpose"
    );
    let r = send(
        &router,
        metadata_request(
            &format!("/v1/documents/{}/metadata-iti-57", path_id("NONE")),
            "UPDATE",
            &testkit::metadata_body(&["P99"]),
        ),
    )
    .await;
    assert_eq!(r.problem(), (404, "/msg/record-not-found"));
}

#[tokio::test]
async fn duplicate_creates_are_accepted_but_counted_and_refused_by_ini() {
    let router = sim().router();
    validate_and_create(&router, &fake_pdf(&lab("DUP"), "signed"), &doc_id("DUP")).await;
    let r = validate_and_create(&router, &fake_pdf(&lab("DUP"), "signed"), &doc_id("DUP")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let s = send(
        &router,
        bearer_get(&format!(
            "/v1/status/{}",
            encode_segment(r.str("workflowInstanceId"))
        )),
    )
    .await;
    let ini = s.json["transactionData"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["eventType"] == json!("SEND_TO_INI"))
        .cloned();
    assert_eq!(
        ini.map(|e| e["eventStatus"].clone()),
        Some(json!("BLOCKING_ERROR"))
    );
    let d = send(
        &router,
        plain_get(&format!(
            "/_sim/documents/{}",
            encode_segment(&doc_id("DUP"))
        )),
    )
    .await;
    assert_eq!(d.json["publications"], json!(2));
}

#[tokio::test]
async fn every_response_carries_a_distinct_cart_id_and_is_journaled() {
    let router = sim().router();
    let mut ids = Vec::new();
    ids.push(
        validate(&router, &fake_pdf(&lab("C1"), "unsigned"), "VALIDATION")
            .await
            .cart_id()
            .to_owned(),
    );
    ids.push(
        validate(&router, b"text", "VALIDATION")
            .await
            .cart_id()
            .to_owned(),
    );
    ids.push(
        send(&router, plain_get("/v1/status"))
            .await
            .cart_id()
            .to_owned(),
    );
    ids.push(
        send(&router, plain_get("/v1/nowhere"))
            .await
            .cart_id()
            .to_owned(),
    );
    assert!(
        ids.iter().all(|id| uuid::Uuid::parse_str(id).is_ok()),
        "{ids:?}"
    );
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    let calls = send(&router, plain_get("/_sim/calls")).await;
    let journaled: Vec<&str> = calls
        .json
        .as_array()
        .expect("calls")
        .iter()
        .filter_map(|c| c["cart_id"].as_str())
        .collect();
    assert_eq!(
        journaled,
        ids.iter().map(String::as_str).collect::<Vec<_>>()
    );
    let statuses: Vec<u64> = calls
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["status"].as_u64())
        .collect();
    assert_eq!(statuses, vec![201, 415, 200, 404]);
}

#[tokio::test]
async fn unknown_paths_get_a_govway_404() {
    let router = sim().router();
    let r = send(&router, plain_get("/v2/documents")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.str("type")
            .starts_with("https://govway.org/handling-errors/404/")
    );
    assert!(!r.cart_id().is_empty());
}

#[tokio::test]
async fn health_is_up() {
    let r = send(&sim().router(), plain_get("/v1/status")).await;
    assert_eq!(
        (r.status, r.json.clone()),
        (StatusCode::OK, json!({"status": "UP"}))
    );
}

#[tokio::test]
async fn state_file_keeps_documents_across_restarts() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("state.json");
    {
        let sim = builder().state_file(Some(&file)).build().expect("sim");
        let r = validate_and_create(
            &sim.router(),
            &fake_pdf(&lab("ST1"), "signed"),
            &doc_id("ST1"),
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
        validate(
            &sim.router(),
            &fake_pdf(&lab("ST2"), "unsigned"),
            "VALIDATION",
        )
        .await;
    }
    let sim: Simulator = builder()
        .state_file(Some(&file))
        .build()
        .expect("restarted");
    let router = sim.router();
    let docs = send(&router, plain_get("/_sim/documents")).await;
    assert_eq!(docs.json.as_array().map(Vec::len), Some(1));
    let r = send(
        &router,
        delete_request(
            &format!("/v1/documents/{}", path_id("ST1")),
            Operation::Delete,
        ),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "published before the restart, deletable after"
    );
    let r = create(
        &router,
        &fake_pdf(&lab("ST2"), "signed"),
        &doc_id("ST2"),
        None,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::ACCEPTED,
        "validated before the restart, publishable after"
    );
}

#[tokio::test]
async fn front_faults_answer_govway_style_and_accepted_timeouts_store() {
    let mut plan = fse_sim::faults::FaultPlan::none();
    plan.add_flag("validate-and-create:503:#1").expect("flag");
    plan.add_flag("validate-and-create:accepted-timeout:#2")
        .expect("flag");
    plan.add_flag("status:429:#1").expect("flag");
    let router = builder().faults(plan).build().expect("sim").router();
    let pdf = fake_pdf(&lab("F1"), "signed");

    let r = validate_and_create(&router, &pdf, &doc_id("F1")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert_eq!(
        r.str("type"),
        "https://govway.org/handling-errors/503/APIUnavailable.html"
    );
    assert!(!r.str("govway_id").is_empty() && !r.cart_id().is_empty());
    let docs = send(&router, plain_get("/_sim/documents")).await;
    assert_eq!(docs.json, json!([]), "a 503 never reached the Gateway");

    let r = validate_and_create(&router, &pdf, &doc_id("F1")).await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(r.str("title"), "EndpointReadTimeout");
    let docs = send(&router, plain_get("/_sim/documents")).await;
    assert_eq!(
        docs.json.as_array().map(Vec::len),
        Some(1),
        "accepted, then timed out: stored"
    );

    let r = send(&router, bearer_get("/v1/status/x")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let calls = send(&router, plain_get("/_sim/calls")).await;
    let faults: Vec<Value> = calls
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["fault"].clone())
        .collect();
    assert_eq!(
        faults,
        vec![json!("503"), json!("accepted-timeout"), json!("429")]
    );
    let timed_out = &calls.json[1];
    assert_eq!(
        (
            timed_out["status"].clone(),
            timed_out["gateway_status"].clone()
        ),
        (json!(504), json!(202))
    );
}

#[tokio::test(start_paused = true)]
async fn delays_and_bad_gateways_are_injected_where_planned() {
    let mut plan = fse_sim::faults::FaultPlan::none();
    plan.add_flag("health:delay=1500:#1").expect("flag");
    plan.add_flag("health:502:#2").expect("flag");
    plan.add_flag("health:504:#3").expect("flag");
    let router = builder().faults(plan).build().expect("sim").router();
    let started = tokio::time::Instant::now();
    let r = send(&router, plain_get("/v1/status")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(1500),
        "delayed"
    );
    let r = send(&router, plain_get("/v1/status")).await;
    assert_eq!(
        (r.status, r.str("title")),
        (StatusCode::BAD_GATEWAY, "InvalidResponse")
    );
    let r = send(&router, plain_get("/v1/status")).await;
    assert_eq!(
        (r.status, r.str("title")),
        (StatusCode::GATEWAY_TIMEOUT, "EndpointReadTimeout")
    );
    assert!(!r.cart_id().is_empty());
    let r = send(&router, plain_get("/v1/status")).await;
    assert_eq!(r.status, StatusCode::OK, "the fourth call is untouched");
}
