//! Our schemas checked by independent tools: `openapi-spec-validator` says
//! `schemas/fse-gateway.openapi.yaml` is valid OpenAPI 3.1, `jsonschema`
//! that `schemas/fse-jwt-claims.schema.json` is valid JSON Schema 2020-12,
//! that what the generated Rust types write is valid against the schema it
//! was generated from, and that what the Gateway refuses is invalid.
//!
//! The oracle is Python (`.ci/requirements-oracles.txt`); without it the
//! test prints one line and passes, unless `FSE_REQUIRE_ORACLES=1`.

#![allow(clippy::expect_used)] // a test whose setup fails has failed

use std::process::Command;

use fse_model::api::{
    CreateRequest, GatewayResponse, MetadataUpdateRequest, TransactionStatus, ValidationRequest,
    WorkflowStatusNotification,
};
use fse_model::claims::{BearerClaims, SignatureClaims, resource_hl7_type};
use fse_model::tables::*;
use fse_model::{DocumentId, FiscalCode, Locality, Oid, PersonId};
use serde_json::{Value, json};

const MODULES: &str = "import openapi_spec_validator, jsonschema, referencing, yaml";

/// Whether the oracle can run; prints the skip line when it cannot.
fn oracle_available(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", MODULES])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("FSE_REQUIRE_ORACLES").as_deref() != Ok("1"),
            "{test}: python3 with openapi-spec-validator, jsonschema and pyyaml is required (FSE_REQUIRE_ORACLES=1)"
        );
        println!(
            "{test}: skipped, python3 with openapi-spec-validator, jsonschema and pyyaml not found"
        );
    }
    ok
}

fn case(schema: &str, valid: bool, label: &str, instance: Value) -> Value {
    json!({"schema": schema, "valid": valid, "label": label, "instance": instance})
}

#[allow(deprecated)]
fn create_request() -> CreateRequest {
    let document = DocumentId::new(
        &Oid::parse("2.16.840.1.113883.2.9.2.90.4.4").expect("oid"),
        "LAB-1",
    )
    .expect("id");
    CreateRequest {
        facility_type: HealthcareFacilityType::Ospedale,
        event_codes: Some(vec![EventCode::P99, EventCode::J07bn]),
        document_class: DocumentClass::Ref,
        practice_setting: PracticeSetting::AdPsc100,
        service_start: Some("20240524174546".into()),
        service_stop: None,
        legal_preservation: None,
        clinical_activity: ClinicalActivity::Erp,
        submission_id: "2.16.840.1.113883.2.9.2.90.4.3.1".into(),
        descriptions: Some(vec![
            "012345678^ASPIRINA^2.16.840.1.113883.2.9.6.1.5".into(),
        ]),
        administrative_requests: Some(vec![AdministrativeRequest::Ssn]),
        document_id: document.to_string(),
        repository_id: "2.16.840.1.113883.2.9.2.90.4.5.1".into(),
        mode: Some(InjectionMode::Attachment),
        health_data_format: Some(HealthDataFormat::Cda),
        workflow_instance_id: None,
        priority: None,
    }
}

fn signature_claims() -> SignatureClaims {
    let patient = PersonId::from(FiscalCode::parse("GTWGWY82B42G920M").expect("cf"));
    let user = PersonId::from(FiscalCode::parse("SSSMNN75B01F257L").expect("cf"));
    let locality = Locality::new(
        "LABORATORIO DI PROVA",
        &Oid::parse("2.16.840.1.113883.2.9.4.1.3").expect("oid"),
        "190111123456",
    )
    .expect("xon");
    SignatureClaims {
        iat: 1_700_000_000,
        exp: 1_700_000_300,
        jti: "4f6c".into(),
        aud: "https://modipa-val.fse.salute.gov.it/govway/rest/in/FSE/gateway/v1".into(),
        sub: user.to_string(),
        iss: "integrity:S1#190201234567XX".into(),
        subject_role: SubjectRole::Aas,
        organization: Organization::Toscana,
        organization_name: Organization::Toscana.name().expect("named").into(),
        locality: locality.to_string(),
        person_id: patient.to_string(),
        patient_consent: true,
        purpose_of_use: PurposeOfUse::Treatment,
        action_id: ActionId::Create,
        resource_hl7_type: Some(resource_hl7_type("11502-2", &Oid::LOINC)),
        attachment_hash: Some(
            "b5c66f2e2dce23c478c8adb4cf89fd88c5d218ab84bef6c21b09bf76cd1b5c76".into(),
        ),
        subject_application_id: "FSE2".into(),
        subject_application_vendor: "fse2".into(),
        subject_application_version: "0.1.0".into(),
        use_subject_as_author: None,
        additional: serde_json::Map::new(),
    }
}

fn with(mut value: Value, key: &str, new: Value) -> Value {
    value[key] = new;
    value
}

fn without(mut value: Value, key: &str) -> Value {
    if let Some(map) = value.as_object_mut() {
        map.remove(key);
    }
    value
}

#[test]
fn schemas_and_rust_output_agree_with_independent_validators() {
    if !oracle_available("schemas_and_rust_output_agree_with_independent_validators") {
        return;
    }
    let create = serde_json::to_value(create_request()).expect("writes");
    let metadata = serde_json::to_value(MetadataUpdateRequest {
        facility_type: HealthcareFacilityType::Territorio,
        event_codes: Some(vec![EventCode::P00]),
        document_class: DocumentClass::Ref,
        practice_setting: PracticeSetting::AdPsc999,
        service_start: None,
        service_stop: None,
        legal_preservation: None,
        clinical_activity: ClinicalActivity::Erp,
        submission_id: "2.16.840.1.113883.2.9.2.90.4.3.2".into(),
        descriptions: None,
        administrative_requests: None,
    })
    .expect("writes");
    let validation = serde_json::to_value(ValidationRequest {
        health_data_format: Some(HealthDataFormat::Cda),
        mode: Some(InjectionMode::Attachment),
        activity: Activity::Validation,
    })
    .expect("writes");
    let claims = serde_json::to_value(signature_claims()).expect("writes");
    let bearer = serde_json::to_value(BearerClaims {
        iat: 1_700_000_000,
        exp: 1_700_000_300,
        jti: "b1".into(),
        aud: "https://modipa-val.fse.salute.gov.it/govway/rest/in/FSE/gateway/v1".into(),
        sub: "SSSMNN75B01F257L^^^&2.16.840.1.113883.2.9.4.3.2&ISO".into(),
        iss: "auth:S1#190201234567XX".into(),
    })
    .expect("writes");
    let response: GatewayResponse = serde_json::from_str(
        r#"{"traceID":"7fee3f3e2fc75b30","spanID":"7fee3f3e2fc75b30","workflowInstanceId":"2.16.840.1.113883.2.9.2.120.4.4.97bb3fc5bee3032679f4f07419e04af6375baafa17024527a98ede920c6812ed.3c55cfd276^^^^urn:ihe:iti:xdw:2013:workflowInstanceId","warning":"[WARNING_EXTRACT] x"}"#,
    )
    .expect("reads");
    let status: TransactionStatus = serde_json::from_str(
        r#"{"traceID":"t","spanID":"s","transactionData":[{"eventType":"VALIDATION","eventDate":"2024-05-24T17:45:46+0200","eventStatus":"SUCCESS","message":"ok","workflowInstanceId":"w"}]}"#,
    )
    .expect("reads");
    let push: WorkflowStatusNotification = serde_json::from_str(
        r#"{"workflowInstanceId":"w","events":[{"eventType":"SEND_TO_INI","eventDate":"2024-05-24T17:45:46+02:00","eventStatus":"SUCCESS","issuer":"i","message":"m"}]}"#,
    )
    .expect("reads");
    let error = json!({"traceID":"t","spanID":"s","type":"/msg/syntax","title":"x","detail":"y","status":400,"instance":"/msg/syntax","workflowInstanceId":"w"});

    let cases = vec![
        case(
            "api:CreateRequest",
            true,
            "create written by Rust",
            create.clone(),
        ),
        case(
            "api:ReplaceRequest",
            true,
            "replace body",
            without(create.clone(), "priorita"),
        ),
        case(
            "api:MetadataUpdateRequest",
            true,
            "metadata written by Rust",
            metadata.clone(),
        ),
        case(
            "api:ValidationRequest",
            true,
            "validation written by Rust",
            validation.clone(),
        ),
        case(
            "api:GatewayResponse",
            true,
            "success body",
            serde_json::to_value(&response).expect("writes"),
        ),
        case(
            "api:TransactionStatus",
            true,
            "status body",
            serde_json::to_value(&status).expect("writes"),
        ),
        case(
            "api:WorkflowStatusNotification",
            true,
            "push body",
            serde_json::to_value(&push).expect("writes"),
        ),
        case("api:ErrorResponse", true, "error body", error),
        case(
            "claims:SignatureClaims",
            true,
            "signature claims written by Rust",
            claims.clone(),
        ),
        case(
            "claims:BearerClaims",
            true,
            "bearer claims written by Rust",
            bearer.clone(),
        ),
        // What the Gateway refuses, the schema refuses.
        case(
            "api:CreateRequest",
            false,
            "unknown property",
            with(create.clone(), "foo", json!(1)),
        ),
        case(
            "api:CreateRequest",
            false,
            "missing tipologiaStruttura",
            without(create.clone(), "tipologiaStruttura"),
        ),
        case(
            "api:CreateRequest",
            false,
            "unlisted class",
            with(create.clone(), "tipoDocumentoLivAlto", json!("XXX")),
        ),
        case(
            "api:CreateRequest",
            false,
            "id without ^",
            with(create.clone(), "identificativoDoc", json!("507f1f77")),
        ),
        case(
            "api:CreateRequest",
            false,
            "date not yyyyMMddHHmmss",
            with(create.clone(), "dataInizioPrestazione", json!("2014-10-20")),
        ),
        case(
            "api:CreateRequest",
            false,
            "unlisted event code",
            with(create.clone(), "attiCliniciRegoleAccesso", json!(["P96"])),
        ),
        case(
            "api:CreateRequest",
            false,
            "description without OID",
            with(create, "descriptions", json!(["x^y"])),
        ),
        case(
            "api:ReplaceRequest",
            false,
            "priorita on replace",
            with(metadata.clone(), "priorita", json!(true)),
        ),
        case(
            "api:MetadataUpdateRequest",
            false,
            "document id on metadata",
            with(metadata, "identificativoDoc", json!("1.2^x")),
        ),
        case(
            "api:ValidationRequest",
            false,
            "no activity",
            without(validation, "activity"),
        ),
        case(
            "claims:SignatureClaims",
            false,
            "locality not XON",
            with(claims.clone(), "locality", json!("201123456")),
        ),
        case(
            "claims:SignatureClaims",
            false,
            "issuer without integrity:",
            with(claims.clone(), "iss", json!("S1#x")),
        ),
        case(
            "claims:SignatureClaims",
            false,
            "unlisted role",
            with(claims.clone(), "subject_role", json!("XYZ")),
        ),
        case(
            "claims:SignatureClaims",
            false,
            "bad resource type",
            with(claims.clone(), "resource_hl7_type", json!("11502-2")),
        ),
        case(
            "claims:SignatureClaims",
            false,
            "missing application id",
            without(claims, "subject_application_id"),
        ),
        case(
            "claims:BearerClaims",
            false,
            "extra claim on bearer",
            with(bearer, "subject_role", json!("AAS")),
        ),
    ];

    let dir = tempfile::tempdir().expect("temp dir");
    let instances = dir.path().join("instances.json");
    std::fs::write(&instances, serde_json::to_vec(&cases).expect("writes"))
        .expect("writes instances");
    let root = fse_tests::repo_root();
    let output = Command::new("python3")
        .arg(root.join("crates/fse-model/tests/oracle/check_schemas.py"))
        .arg(root.join("schemas/fse-gateway.openapi.yaml"))
        .arg(root.join("schemas/fse-jwt-claims.schema.json"))
        .arg(&instances)
        .output()
        .expect("runs python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the oracle disagrees:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("checked {} instances, 0 mismatches", cases.len())),
        "{stdout}"
    );
}
