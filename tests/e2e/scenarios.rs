//! The national scenarios, end to end: the `fse` binary serves the
//! simulator (`fse sim`), the client calls it over mTLS with the two JWTs,
//! and every response's X-Cart-id ends in the client's journal.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;
use fse_sim::Operation;
use fse_sim::testkit::ClaimSet;
use fse_transport::journal::JournalQuery;
use fse_transport::{CallContext, DocumentUpload, Error};
use http::Method;
use serde_json::{Value, json};

fn ctx(lab: &Lab) -> CallContext {
    CallContext {
        person_id: Some(lab.patient.clone()),
        ..CallContext::default()
    }
}

fn problem_type(e: &Error) -> (u16, String) {
    match e {
        Error::Rejected(r) | Error::Frontier(r) => (
            r.meta.status,
            r.meta.problem_type.clone().unwrap_or_default(),
        ),
        other => panic!("expected a refusal, got {other}"),
    }
}

fn claims_for(sim: &SimProcess, lab: &Lab) -> ClaimSet {
    ClaimSet {
        patient: lab.patient.clone(),
        ..ClaimSet::lab(&sim.base_url)
    }
}

/// Every call the simulator answered is in the client's journal, under
/// the same X-Cart-id, and the journal's chain holds.
async fn assert_journal_matches(sim: &SimProcess, client: &fse_transport::GatewayClient) {
    let entries = client
        .journal()
        .query(&JournalQuery::default())
        .expect("journal");
    assert!(client.journal().verify().expect("verify").is_intact());
    let calls = sim.inspect("calls").await;
    let calls = calls.as_array().expect("calls");
    for entry in &entries {
        let cart = entry
            .record
            .cart_id
            .as_deref()
            .expect("every journaled response has an X-Cart-id");
        assert!(
            calls.iter().any(|c| c["cart_id"] == json!(cart)),
            "{cart} not received by the simulator"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publication_status_obscuring_replacement_and_deletion() {
    let sim = SimProcess::start(&[]);
    let lab = lab("E2E.PUB.1");
    let cda = sim.file("lab.xml", lab.cda.as_bytes());
    let meta = sim.file(
        "meta.json",
        publication_body(&lab.id).to_string().as_bytes(),
    );

    // `fse gw publish`: rendered, injected, signed with the PKI's PDF
    // signer, then validation (201) and create (202) with its wii.
    let (code, out) = sim.gw(&[
        "publish",
        "--cda",
        &cda,
        "--metadata",
        &meta,
        "--skip-local-validation",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["validation"]["meta"]["status"], json!(201), "{out}");
    assert_eq!(out["publication"]["meta"]["status"], json!(202), "{out}");
    let wii = out["publication"]["meta"]["workflow_instance_id"]
        .as_str()
        .expect("wii")
        .to_owned();
    assert_eq!(
        out["validation"]["meta"]["workflow_instance_id"],
        json!(wii)
    );
    assert!(out["publication"]["meta"]["cart_id"].as_str().is_some());

    // `fse gw status`.
    let (code, out) = sim.gw(&["status", "--workflow", &wii]);
    assert_eq!(code, 0, "{out}");
    let text = out.to_string();
    assert!(
        text.contains("\"VALIDATION\"") && text.contains("\"PUBLICATION\""),
        "{out}"
    );

    // `fse gw update-metadata` with P99: purpose ACCESS UPDATE.
    let p99 = sim.file(
        "p99.json",
        fse_sim::testkit::metadata_body(&["P99"])
            .to_string()
            .as_bytes(),
    );
    let (code, out) = sim.gw(&[
        "update-metadata",
        "--id",
        &lab.id,
        "--metadata",
        &p99,
        "--cda",
        &cda,
    ]);
    assert_eq!(
        (code, out["meta"]["status"].clone()),
        (0, json!(200)),
        "{out}"
    );
    let held = sim
        .inspect(&format!(
            "documents/{}",
            fse_transport::client::encode_segment(&lab.id)
        ))
        .await;
    assert_eq!(held["obscured"], json!(true));
    let calls = sim.inspect("calls").await;
    assert!(
        calls
            .as_array()
            .expect("calls")
            .iter()
            .any(|c| c["operation"] == json!("update-metadata") && c["status"] == json!(200))
    );

    // `fse gw replace` with version 2.
    let v2 = lab_v2(&lab);
    let cda2 = sim.file("lab-v2.xml", v2.cda.as_bytes());
    let meta2 = sim.file(
        "meta-v2.json",
        publication_body(&v2.id).to_string().as_bytes(),
    );
    let (code, out) = sim.gw(&[
        "replace",
        "--old-id",
        &lab.id,
        "--cda",
        &cda2,
        "--metadata",
        &meta2,
        "--skip-local-validation",
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["publication"]["meta"]["status"], json!(202), "{out}");
    let docs = sim.inspect("documents").await;
    let status_of = |id: &str| {
        docs.as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == json!(id))
            .map(|d| (d["status"].clone(), d["version"].clone()))
    };
    assert_eq!(status_of(&lab.id), Some((json!("REPLACED"), json!(1))));
    assert_eq!(status_of(&v2.id), Some((json!("PUBLISHED"), json!(2))));

    // `fse gw delete`: 200, then 404 (exit 1, refused).
    let (code, out) = sim.gw(&["delete", "--id", &v2.id, "--person-id", &lab.patient]);
    assert_eq!(
        (code, out["meta"]["status"].clone()),
        (0, json!(200)),
        "{out}"
    );
    let (code, out) = sim.gw(&["delete", "--id", &v2.id, "--person-id", &lab.patient]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        (
            out["refused"]["status"].clone(),
            out["refused"]["type"].clone()
        ),
        (json!(404), json!("/msg/record-not-found")),
        "{out}"
    );

    // Every response carried an X-Cart-id, and every one is in the journal.
    let journal = sim.fse(&["journal", "list", "--format", "json"]);
    assert!(
        journal.status.success(),
        "{}",
        String::from_utf8_lossy(&journal.stderr)
    );
    let entries: Value = serde_json::from_slice(&journal.stdout).expect("journal JSON");
    let entries = entries.as_array().expect("entries");
    let calls = sim.inspect("calls").await;
    let calls = calls.as_array().expect("calls");
    assert_eq!(
        entries.len(),
        calls.len(),
        "one journal entry per call received"
    );
    for call in calls {
        let cart = call["cart_id"].as_str().expect("X-Cart-id");
        assert!(
            entries.iter().any(|e| e["cart_id"] == json!(cart)),
            "{cart} ({}) not journaled",
            call["operation"]
        );
    }
    let verify = sim.fse(&["journal", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

fn lab_v2(lab: &Lab) -> Lab {
    let mut input = lab.input.clone();
    input.document.version = 2;
    input.document.set_id = Some(lab.input.document.id.clone());
    input.document.replaces = Some(fse_cda::builder::ParentDocument {
        id: lab.input.document.id.clone(),
        set_id: Some(lab.input.document.id.clone()),
        version: Some(1),
        relation: "RPLC".to_owned(),
    });
    input.document.id.extension = format!("{}.v2", lab.input.document.id.extension);
    let cda = fse_cda::builder::build(&input).expect("v2");
    let id = format!("{}^{}", input.document.id.root, input.document.id.extension);
    Lab {
        input,
        cda,
        id,
        patient: lab.patient.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_and_create_the_cart_way() {
    let sim = SimProcess::start(&[]);
    let client = sim.client();
    let lab = lab("E2E.VAC.1");
    let upload = DocumentUpload::new(signed_pdf(&sim.pki, &lab.cda), &publication_body(&lab.id))
        .expect("upload");
    let r = client
        .validate_and_create(&upload, &ctx(&lab))
        .await
        .expect("validate-and-create");
    assert_eq!(r.meta.status, 202);
    let docs = sim.inspect("documents").await;
    assert_eq!(docs[0]["id"], json!(lab.id));
    assert_eq!(docs[0]["publications"], json!(1));
    assert_journal_matches(&sim, &client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_hash_then_cda_match() {
    let sim = SimProcess::start(&[]);
    let client = sim.client();
    let lab = lab("E2E.HASH.1");
    let signed = signed_pdf(&sim.pki, &lab.cda);
    let validation = DocumentUpload::new(
        unsigned_pdf(&lab.cda),
        &json!({"activity": "VALIDATION", "mode": "ATTACHMENT"}),
    )
    .expect("upload");
    let v = client
        .validate(&validation, &ctx(&lab))
        .await
        .expect("validation");
    assert_eq!(v.meta.status, 201);
    let wii = v.meta.workflow_instance_id.clone().expect("wii");

    // A client that hashes the wrong file: only possible below the client,
    // whose pre-flight computes the hash itself.
    let mut body = publication_body(&lab.id);
    body["workflowInstanceId"] = json!(wii);
    let wrong = claims_for(&sim, &lab).for_file(b"%PDF-1.4 another file");
    let r = sim
        .raw(sim.multipart(
            Method::POST,
            "/documents",
            sim.claims(Operation::Create, &wrong, |_| {}),
            &body,
            &signed,
        ))
        .await;
    assert_eq!(r.problem(), (400, "/msg/document-hash"));
    assert!(r.cart_id.is_some());

    // The corrected create finds the validation consumed.
    let upload = DocumentUpload::new(signed, &body).expect("upload");
    let e = client
        .create(
            &upload,
            &CallContext {
                workflow_instance_id: Some(wii),
                ..ctx(&lab)
            },
        )
        .await
        .expect_err("consumed");
    assert_eq!(problem_type(&e), (400, "/msg/cda-match".to_owned()));
    assert_journal_matches(&sim, &client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_and_cda_errors() {
    let sim = SimProcess::start(&[]);
    let lab = lab("E2E.FILE.1");
    let set = claims_for(&sim, &lab);
    let body = json!({"activity": "VALIDATION", "mode": "ATTACHMENT"});

    // No cda.xml in the PDF.
    let renamed = String::from_utf8_lossy(&unsigned_pdf(&lab.cda))
        .replace("(cda.xml)", "(not.xml)")
        .into_bytes();
    let r = sim
        .raw(sim.multipart(
            Method::POST,
            "/documents/validation",
            sim.claims(Operation::Validation, &set, |_| {}),
            &body,
            &renamed,
        ))
        .await;
    assert_eq!(r.problem(), (400, "/msg/cda-element"), "{:?}", r.json);

    // Not a PDF.
    let r = sim
        .raw(sim.multipart(
            Method::POST,
            "/documents/validation",
            sim.claims(Operation::Validation, &set, |_| {}),
            &body,
            b"plain text",
        ))
        .await;
    assert_eq!(r.problem(), (415, "/msg/document-type"));

    // An XSD error, through `fse gw validate`: an element the schema does
    // not allow, where it does not allow it.
    let broken = lab.cda.replacen("<title>", "<unexpected/><title>", 1);
    let pdf = sim.file("xsd.pdf", &unsigned_pdf(&broken));
    let (code, out) = sim.gw(&["validate", "--pdf", &pdf, "--activity", "validation"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        (
            out["refused"]["status"].clone(),
            out["refused"]["type"].clone()
        ),
        (json!(400), json!("/msg/syntax")),
        "{out}"
    );
    assert!(
        out.to_string()
            .contains("^^^^urn:ihe:iti:xdw:2013:workflowInstanceId"),
        "the workflow id comes back: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schematron_error_is_422_with_the_official_rules() {
    let Some(corpus) = fse_tests::corpus("schematron_error_is_422_with_the_official_rules") else {
        return;
    };
    let rules = corpus.join("catalogs");
    let sim = SimProcess::start(&["--rules", rules.to_str().expect("utf-8")]);
    let lab = lab("E2E.SCH.1");
    let set = claims_for(&sim, &lab);
    let body = json!({"activity": "VALIDATION", "mode": "ATTACHMENT"});
    let good = sim
        .raw(sim.multipart(
            Method::POST,
            "/documents/validation",
            sim.claims(Operation::Validation, &set, |_| {}),
            &body,
            &unsigned_pdf(&lab.cda),
        ))
        .await;
    assert_eq!(
        good.status, 201,
        "the builder's LAB passes the official rules: {:?}",
        good.json
    );
    // realmCode is optional for the XSD but required by the LAB schematron.
    let no_realm = lab.cda.replacen("<realmCode code=\"IT\"/>", "", 1);
    let pdf = sim.file("no-realm.pdf", &unsigned_pdf(&no_realm));
    let (code, out) = sim.gw(&["validate", "--pdf", &pdf, "--activity", "validation"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        (
            out["refused"]["status"].clone(),
            out["refused"]["type"].clone()
        ),
        (json!(422), json!("/msg/semantic")),
        "{out}"
    );
    let r = sim
        .raw(sim.multipart(
            Method::POST,
            "/documents/validation",
            sim.claims(Operation::Validation, &set, |_| {}),
            &body,
            &unsigned_pdf(&no_realm),
        ))
        .await;
    assert_eq!(r.problem(), (422, "/msg/semantic"), "{:?}", r.json);
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("ERRORE-1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_jwt_claim_error_is_403_and_the_client_refuses_it_first() {
    let sim = SimProcess::start(&[]);
    let lab = lab("E2E.JWT.1");
    let signed = signed_pdf(&sim.pki, &lab.cda);
    let set = claims_for(&sim, &lab).for_file(&signed);
    let body = publication_body(&lab.id);
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "action_id",
            json!("DELETE"),
            "/jwt-mandatory-field-malformed",
        ),
        (
            "person_id",
            json!("RSSMRA85T10A562S^^^&2.16.840.1.113883.2.9.4.3.2&ISO"),
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
    for (claim, value, instance) in &cases {
        let request = sim.multipart(
            Method::POST,
            "/documents/validate-and-create",
            sim.claims(Operation::ValidateAndCreate, &set, |c| {
                if value.is_null() {
                    c.remove(*claim);
                } else {
                    c.insert((*claim).to_owned(), value.clone());
                }
            }),
            &body,
            &signed,
        );
        let r = sim.raw(request).await;
        assert_eq!(
            r.problem(),
            (403, "/msg/jwt-validation"),
            "{claim}: {:?}",
            r.json
        );
        assert_eq!(r.json["instance"], json!(instance), "{claim}");
        assert!(r.cart_id.is_some());
    }
    // The fse client refuses a wrong action before sending anything.
    let client = sim.client();
    let upload = DocumentUpload::new(signed, &body).expect("upload");
    let wrong = CallContext {
        action_id: Some(fse_model::tables::ActionId::Delete),
        ..ctx(&lab)
    };
    let e = client
        .validate_and_create(&upload, &wrong)
        .await
        .expect_err("pre-flight");
    assert!(matches!(e, Error::Preflight(_)), "{e}");
    assert!(
        client
            .journal()
            .query(&JournalQuery::default())
            .expect("q")
            .is_empty(),
        "nothing sent"
    );
    assert_eq!(sim.inspect("documents").await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_errors_are_400() {
    let sim = SimProcess::start(&[]);
    let lab = lab("E2E.BODY.1");
    let signed = signed_pdf(&sim.pki, &lab.cda);
    let set = claims_for(&sim, &lab).for_file(&signed);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("tipologiaStruttura", Value::Null, "/msg/mandatory-element"),
        ("unknownProperty", json!("x"), "/msg/mandatory-element"),
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
        let mut body = publication_body(&lab.id);
        let m = body.as_object_mut().expect("object");
        if value.is_null() {
            m.remove(field);
        } else {
            m.insert(field.to_owned(), value);
        }
        let r = sim
            .raw(sim.multipart(
                Method::POST,
                "/documents/validate-and-create",
                sim.claims(Operation::ValidateAndCreate, &set, |_| {}),
                &body,
                &signed,
            ))
            .await;
        assert_eq!(r.problem(), (400, ty), "{field}: {:?}", r.json);
        assert!(r.cart_id.is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_file_keeps_documents_across_a_restart_of_fse_sim() {
    let state_dir = tempfile::tempdir().expect("tmp");
    let state = state_dir.path().join("state.json");
    let state_arg = state.to_str().expect("utf-8");
    let lab = lab("E2E.STATE.1");
    {
        let sim = SimProcess::start(&["--state", state_arg]);
        let upload =
            DocumentUpload::new(signed_pdf(&sim.pki, &lab.cda), &publication_body(&lab.id))
                .expect("upload");
        sim.client()
            .validate_and_create(&upload, &ctx(&lab))
            .await
            .expect("publish");
    }
    let sim = SimProcess::start(&["--state", state_arg]);
    let docs = sim.inspect("documents").await;
    assert_eq!(docs.as_array().map(Vec::len), Some(1));
    let r = sim
        .client()
        .delete(&lab.id, &ctx(&lab))
        .await
        .expect("delete after the restart");
    assert_eq!(r.meta.status, 200);
}
