//! The exact shape of what goes on the wire, as a test server reads it:
//! paths (`^` percent-encoded), headers, the multipart parts (`requestBody`
//! a plain field without filename, `file` the PDF), both JWTs with their
//! claims, `x5c` and a signature that verifies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine as _;
use fse_transport::jwt::sha256_hex;
use fse_transport::{CallContext, Operation};
use support::*;

fn cert_der() -> Vec<u8> {
    signing_material().chain[0].to_vec()
}

#[tokio::test]
async fn create_request_shape() {
    let server = Recorder::start(vec![
        Answer::new(202, success_body(WII)).header("X-Cart-id", "c1"),
    ])
    .await;
    let (client, _, clock) = client(&server.url());
    let ctx = CallContext {
        callback_url: Some("https://provider.example/callback".into()),
        ..ctx()
    };
    let reply = client.create(&upload(create_body()), &ctx).await.unwrap();
    assert_eq!(reply.body.trace_id.as_deref(), Some("trace-1"));
    assert!(
        reply.meta.warnings.is_empty(),
        "an empty warning is no warning"
    );

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/v1/documents");
    let header = |name: &str| {
        req.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(header("accept").as_deref(), Some("application/json"));
    assert_eq!(
        header("x-callback-url").as_deref(),
        Some("https://provider.example/callback")
    );
    assert!(
        header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );

    // The two parts, in order: requestBody (a field: no filename, no type), file.
    assert_eq!(req.parts.len(), 2);
    let body_part = &req.parts[0];
    assert_eq!(body_part.name.as_deref(), Some("requestBody"));
    assert_eq!(body_part.file_name, None);
    assert_eq!(body_part.content_type, None);
    let disposition = body_part
        .headers
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(!disposition.contains("filename"), "{disposition}");
    let sent: serde_json::Value = serde_json::from_slice(&body_part.bytes).unwrap();
    assert_eq!(sent, create_body());
    let file = &req.parts[1];
    assert_eq!(file.name.as_deref(), Some("file"));
    assert_eq!(file.file_name.as_deref(), Some("LAB.pdf"));
    assert_eq!(file.content_type.as_deref(), Some("application/pdf"));
    assert_eq!(file.bytes, pdf(), "the PDF arrives byte for byte");

    // Bearer: exactly iss sub aud iat exp jti.
    let bearer = header("authorization").unwrap();
    let bearer = bearer.strip_prefix("Bearer ").expect("Bearer scheme");
    let (h, c) = verify_jwt(bearer, &cert_der());
    assert_eq!(h["alg"], "RS256");
    assert_eq!(h["typ"], "JWT");
    let x5c = h["x5c"].as_array().expect("x5c is an array");
    assert_eq!(x5c.len(), 1);
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(x5c[0].as_str().unwrap())
            .unwrap(),
        cert_der()
    );
    let mut keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["aud", "exp", "iat", "iss", "jti", "sub"]);
    let operator_cx = format!("{}^^^&2.16.840.1.113883.2.9.4.3.2&ISO", operator_cf());
    assert_eq!(c["iss"], format!("auth:{SIGNING_CN}"));
    assert_eq!(c["sub"], operator_cx);
    assert_eq!(c["aud"], AUD);
    assert_eq!(c["iat"], clock.now_unix());
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);

    // FSE-JWT-Signature: every claim, values as the Gateway wants them.
    let signature = header("fse-jwt-signature").unwrap();
    let (h2, s) = verify_jwt(&signature, &cert_der());
    assert_eq!(h2, h);
    let expected = serde_json::json!({
        "iss": format!("integrity:{SIGNING_CN}"),
        "sub": operator_cx,
        "aud": AUD,
        "subject_role": "AAS",
        "purpose_of_use": "TREATMENT",
        "action_id": "CREATE",
        "locality": LOCALITY,
        "subject_organization": ORG_NAME,
        "subject_organization_id": ORG_ID,
        "person_id": format!("{}^^^&2.16.840.1.113883.2.9.4.3.2&ISO", patient_cf()),
        "patient_consent": true,
        "resource_hl7_type": "('11502-2^^2.16.840.1.113883.6.1')",
        "attachment_hash": sha256_hex(&pdf()),
        "subject_application_id": "FSE2",
        "subject_application_vendor": "FSE2 DEVELOPERS",
        "subject_application_version": "0.1.0",
    });
    for (k, v) in expected.as_object().unwrap() {
        assert_eq!(&s[k], v, "claim {k}");
    }
    let mut keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want: Vec<&str> = expected
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    want.extend(["iat", "exp", "jti"]);
    want.sort_unstable();
    assert_eq!(keys, want, "no other claim (no nbf)");
    assert_ne!(s["jti"], c["jti"], "each token has its own jti");
    assert_eq!(s["attachment_hash"].as_str().unwrap().len(), 64);
}

#[tokio::test]
async fn document_paths_are_percent_encoded() {
    let server = Recorder::start(vec![Answer::new(202, success_body(WII))]).await;
    let (client, _, _) = client(&server.url());
    let mut body = create_body();
    body["identificativoDoc"] = NEW_DOC_ID.into();
    client
        .replace(DOC_ID, &upload(body.clone()), &ctx())
        .await
        .unwrap();
    client
        .validate_and_replace(DOC_ID, &upload(body), &ctx())
        .await
        .unwrap();
    client.delete(DOC_ID, &metadata_ctx()).await.unwrap();
    client
        .update_metadata(DOC_ID, &metadata_body(), &metadata_ctx())
        .await
        .unwrap();
    client.status_by_workflow(WII, &ctx()).await.unwrap();
    client.status_by_trace("trace-1", &ctx()).await.unwrap();
    let seen = server.seen();
    let lines: Vec<(String, String)> = seen
        .iter()
        .map(|s| (s.method.clone(), s.path.clone()))
        .collect();
    let enc = "2.16.840.1.113883.2.9.2.90.4.4%5EDOC1";
    let wii_enc = WII.replace('^', "%5E").replace(':', "%3A");
    assert_eq!(
        lines,
        [
            ("PUT".to_owned(), format!("/v1/documents/{enc}")),
            (
                "PUT".to_owned(),
                format!("/v1/documents/validate-and-replace/{enc}")
            ),
            ("DELETE".to_owned(), format!("/v1/documents/{enc}")),
            (
                "PUT".to_owned(),
                format!("/v1/documents/{enc}/metadata-iti-57")
            ),
            ("GET".to_owned(), format!("/v1/status/{wii_enc}")),
            ("GET".to_owned(), "/v1/status/search/trace-1".to_owned()),
        ]
    );
    // Replace: UPDATE / TREATMENT; delete: DELETE / UPDATE, no resource type,
    // no hash; metadata: a JSON body, UPDATE / UPDATE.
    let claims = |i: usize| {
        let token = seen[i]
            .headers
            .get("fse-jwt-signature")
            .unwrap()
            .to_str()
            .unwrap();
        verify_jwt(token, &cert_der()).1
    };
    assert_eq!(claims(0)["action_id"], "UPDATE");
    assert_eq!(claims(0)["purpose_of_use"], "TREATMENT");
    let delete = claims(2);
    assert_eq!(delete["action_id"], "DELETE");
    assert_eq!(delete["purpose_of_use"], "UPDATE");
    assert!(delete.get("resource_hl7_type").is_none());
    assert!(delete.get("attachment_hash").is_none());
    assert!(seen[2].body.is_empty());
    let meta = claims(3);
    assert_eq!(meta["action_id"], "UPDATE");
    assert_eq!(meta["purpose_of_use"], "UPDATE");
    assert!(meta.get("attachment_hash").is_none());
    assert_eq!(
        seen[3]
            .headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap(),
        "application/json"
    );
    let sent: serde_json::Value = serde_json::from_slice(&seen[3].body).unwrap();
    assert_eq!(sent, metadata_body());
    // Status reads carry the Bearer token only.
    for s in &seen[4..] {
        assert!(s.headers.get("authorization").is_some());
        assert!(s.headers.get("fse-jwt-signature").is_none());
    }
}

#[tokio::test]
async fn validation_carries_no_hash_and_warnings_are_split() {
    let body = serde_json::json!({"traceID": "t", "spanID": "s", "workflowInstanceId": WII,
        "warning": "[WARNING_EXTRACT]Attenzione--middlewarewarning--nota regionale"});
    let server = Recorder::start(vec![Answer::new(201, body.to_string())]).await;
    let (client, _, _) = client(&server.url());
    let reply = client
        .validate(
            &upload(serde_json::json!({"activity": "VALIDATION", "mode": "ATTACHMENT"})),
            &ctx(),
        )
        .await
        .unwrap();
    assert_eq!(
        reply.meta.warnings,
        ["[WARNING_EXTRACT]Attenzione", "nota regionale"]
    );
    assert_eq!(reply.meta.workflow_instance_id.as_deref(), Some(WII));
    let seen = server.seen();
    assert_eq!(seen[0].path, "/v1/documents/validation");
    let token = seen[0]
        .headers
        .get("fse-jwt-signature")
        .unwrap()
        .to_str()
        .unwrap();
    let claims = verify_jwt(token, &cert_der()).1;
    assert!(claims.get("attachment_hash").is_none());
    assert_eq!(claims["action_id"], "CREATE");
    assert_eq!(
        claims["resource_hl7_type"],
        "('11502-2^^2.16.840.1.113883.6.1')"
    );
}

#[tokio::test]
async fn national_publish_is_validation_then_create_with_the_wii() {
    let server = Recorder::start(vec![
        Answer::new(201, success_body(WII)),
        Answer::new(202, success_body(WII)),
    ])
    .await;
    let (client, _, _) = client(&server.url());
    let report = client
        .publish(&upload(create_body()), None, &ctx())
        .await
        .unwrap();
    assert!(report.validation.is_some());
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].path, "/v1/documents/validation");
    assert_eq!(seen[1].path, "/v1/documents");
    let validation: serde_json::Value = serde_json::from_slice(&seen[0].parts[0].bytes).unwrap();
    assert_eq!(validation["activity"], "VALIDATION");
    let create: serde_json::Value = serde_json::from_slice(&seen[1].parts[0].bytes).unwrap();
    assert_eq!(create["workflowInstanceId"], WII);
}

#[tokio::test]
async fn toscana_publish_is_one_validate_and_create() {
    let server = Recorder::start(vec![Answer::new(202, success_body(WII))]).await;
    let ops = fse_transport::ProfileKind::ToscanaStaging
        .default_operations(fse_transport::MetadataPath::Metadata);
    let mut settings = settings(&server.url(), ops);
    settings.profile.metadata_path = fse_transport::MetadataPath::Metadata;
    let client = client_with(
        settings,
        std::sync::Arc::new(fse_transport::MemoryJournal::new()),
        std::sync::Arc::new(FakeClock::new()),
    );
    let report = client
        .publish(&upload(create_body()), None, &ctx())
        .await
        .unwrap();
    assert!(report.validation.is_none());
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v1/documents/validate-and-create");
    // Metadata update goes to /metadata on this profile.
    client
        .update_metadata(DOC_ID, &metadata_body(), &metadata_ctx())
        .await
        .unwrap();
    assert_eq!(
        server.seen()[1].path,
        "/v1/documents/2.16.840.1.113883.2.9.2.90.4.4%5EDOC1/metadata"
    );
    // No validation-only, no status on CART: refused before any call.
    let err = client
        .validate(&upload(serde_json::json!({"activity": "VERIFICA"})), &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(err, fse_transport::Error::Unsupported { .. }),
        "{err}"
    );
    assert!(client.status_by_trace("t", &ctx()).await.is_err());
    assert_eq!(server.hits(), 2);
    let _ = Operation::Validate;
}
