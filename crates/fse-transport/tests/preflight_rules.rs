//! Every pre-flight rule refuses its bad input, naming the field, and the
//! server is never called.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use fse_model::tables::{ActionId, PurposeOfUse, SubjectRole};
use fse_transport::config::OrganizationSettings;
use fse_transport::{CallContext, DocumentUpload, Error, GatewayClient, MemoryJournal, Operation};
use support::*;

/// What a case sends.
enum Call {
    Create(DocumentUpload, CallContext),
    Validate(DocumentUpload, CallContext),
    Replace(&'static str, DocumentUpload, CallContext),
    Delete(&'static str, CallContext),
    Metadata(serde_json::Value, CallContext),
}

struct Case {
    name: &'static str,
    field: &'static str,
    organization: Option<OrganizationSettings>,
    operator: Option<String>,
    call: Call,
}

fn case(name: &'static str, field: &'static str, call: Call) -> Case {
    Case {
        name,
        field,
        organization: None,
        operator: None,
        call,
    }
}

fn with_body(edit: impl FnOnce(&mut serde_json::Value)) -> DocumentUpload {
    let mut body = create_body();
    edit(&mut body);
    upload(body)
}

fn with_facts(edit: impl FnOnce(&mut fse_transport::DocumentFacts)) -> DocumentUpload {
    let mut u = upload(create_body());
    let mut f = facts();
    edit(&mut f);
    u.facts = Some(f);
    u
}

fn org(edit: impl FnOnce(&mut OrganizationSettings)) -> Option<OrganizationSettings> {
    let mut o = organization();
    edit(&mut o);
    Some(o)
}

fn cases() -> Vec<Case> {
    let good = || upload(create_body());
    let cx = ctx;
    let mut replace_body = create_body();
    replace_body["identificativoDoc"] = NEW_DOC_ID.into();
    vec![
        // The operator's fiscal code.
        Case {
            operator: Some("RSSMRA80A01H501X".into()),
            ..case("sub check character", "sub", Call::Create(good(), cx()))
        },
        Case {
            operator: Some(String::new()),
            ..case("sub missing", "sub", Call::Create(good(), cx()))
        },
        Case {
            operator: Some(format!(
                "{}^^^&amp;2.16.840.1.113883.2.9.4.3.2&amp;ISO",
                operator_cf()
            )),
            ..case("sub HTML-escaped", "sub", Call::Create(good(), cx()))
        },
        // The organization pair.
        Case {
            organization: org(|o| o.subject_organization = "Regione Lazio".into()),
            ..case(
                "organization pair",
                "subject_organization",
                Call::Create(good(), cx()),
            )
        },
        Case {
            organization: org(|o| o.subject_organization_id = "091".into()),
            ..case(
                "organization code",
                "subject_organization_id",
                Call::Create(good(), cx()),
            )
        },
        // XON locality.
        Case {
            organization: org(|o| o.locality = "201123456".into()),
            ..case("locality not XON", "locality", Call::Create(good(), cx()))
        },
        Case {
            organization: org(|o| o.locality = "201123456".into()),
            ..case(
                "locality not XON on delete",
                "locality",
                Call::Delete(DOC_ID, metadata_ctx()),
            )
        },
        // Role and application.
        Case {
            organization: org(|o| o.subject_role = "XYZ".into()),
            ..case("subject_role", "subject_role", Call::Create(good(), cx()))
        },
        Case {
            organization: org(|o| o.subject_application_id = String::new()),
            ..case(
                "application id",
                "subject_application_id",
                Call::Create(good(), cx()),
            )
        },
        // person_id among the CDA's patient ids.
        case(
            "person_id not in the CDA",
            "person_id",
            Call::Create(
                good(),
                CallContext {
                    person_id: Some(operator_cf()),
                    ..cx()
                },
            ),
        ),
        case(
            "person_id malformed",
            "person_id",
            Call::Create(
                good(),
                CallContext {
                    person_id: Some("RSSMRA80A01H501X".into()),
                    ..cx()
                },
            ),
        ),
        case(
            "person_id missing on delete",
            "person_id",
            Call::Delete(
                DOC_ID,
                CallContext {
                    person_id: None,
                    ..metadata_ctx()
                },
            ),
        ),
        // resource_hl7_type equal to the CDA code, correlated with the class.
        case(
            "resource_hl7_type differs from the CDA",
            "resource_hl7_type",
            Call::Create(
                good(),
                CallContext {
                    resource_hl7_type: Some("('34105-7^^2.16.840.1.113883.6.1')".into()),
                    ..cx()
                },
            ),
        ),
        case(
            "resource_hl7_type malformed",
            "resource_hl7_type",
            Call::Metadata(
                metadata_body(),
                CallContext {
                    resource_hl7_type: Some("11502-2".into()),
                    ..metadata_ctx()
                },
            ),
        ),
        case(
            "resource_hl7_type missing on metadata",
            "resource_hl7_type",
            Call::Metadata(
                metadata_body(),
                CallContext {
                    resource_hl7_type: None,
                    ..metadata_ctx()
                },
            ),
        ),
        case(
            "class not correlated with the code",
            "tipoDocumentoLivAlto",
            Call::Create(
                with_body(|b| b["tipoDocumentoLivAlto"] = "LDO".into()),
                cx(),
            ),
        ),
        // Action and purpose coherent with the operation.
        case(
            "DELETE on create",
            "action_id",
            Call::Create(
                good(),
                CallContext {
                    action_id: Some(ActionId::Delete),
                    ..cx()
                },
            ),
        ),
        case(
            "UPDATE purpose on create",
            "purpose_of_use",
            Call::Create(
                good(),
                CallContext {
                    purpose_of_use: Some(PurposeOfUse::Update),
                    ..cx()
                },
            ),
        ),
        case(
            "TREATMENT on delete",
            "purpose_of_use",
            Call::Delete(
                DOC_ID,
                CallContext {
                    purpose_of_use: Some(PurposeOfUse::Treatment),
                    ..metadata_ctx()
                },
            ),
        ),
        case(
            "TREATMENT on metadata",
            "purpose_of_use",
            Call::Metadata(
                metadata_body(),
                CallContext {
                    purpose_of_use: Some(PurposeOfUse::Treatment),
                    ..metadata_ctx()
                },
            ),
        ),
        case(
            "unknown action",
            "action_id",
            Call::Create(
                good(),
                CallContext {
                    action_id: Some(ActionId::from_wire("PUBLISH")),
                    ..cx()
                },
            ),
        ),
        case(
            "unknown role per call",
            "subject_role",
            Call::Create(
                good(),
                CallContext {
                    subject_role: Some(SubjectRole::from_wire("BOSS")),
                    ..cx()
                },
            ),
        ),
        // identificativoDoc with ^suffix, body and path.
        case(
            "identificativoDoc without ^",
            "identificativoDoc",
            Call::Create(
                with_body(|b| b["identificativoDoc"] = "2.16.840.1.113883.2.9.2.90.4.4".into()),
                cx(),
            ),
        ),
        case(
            "identificativoDoc with empty suffix",
            "identificativoDoc",
            Call::Create(
                with_body(|b| b["identificativoDoc"] = "2.16.840.1.113883.2.9.2.90.4.4^".into()),
                cx(),
            ),
        ),
        case(
            "idDoc without ^ on delete",
            "idDoc",
            Call::Delete("507f1f77bcf86cd799439011", metadata_ctx()),
        ),
        case(
            "idDoc without ^ on replace",
            "idDoc",
            Call::Replace(
                "507f1f77bcf86cd799439011",
                upload(replace_body.clone()),
                cx(),
            ),
        ),
        case(
            "replace with the old id",
            "identificativoDoc",
            Call::Replace(DOC_ID, good(), cx()),
        ),
        // Required body fields, unknown properties, tables, formats.
        case(
            "tipologiaStruttura missing",
            "tipologiaStruttura",
            Call::Create(
                with_body(|b| {
                    b.as_object_mut().unwrap().remove("tipologiaStruttura");
                }),
                cx(),
            ),
        ),
        case(
            "identificativoRep missing",
            "identificativoRep",
            Call::Create(
                with_body(|b| {
                    b.as_object_mut().unwrap().remove("identificativoRep");
                }),
                cx(),
            ),
        ),
        case(
            "identificativoSottomissione empty",
            "identificativoSottomissione",
            Call::Create(
                with_body(|b| b["identificativoSottomissione"] = "".into()),
                cx(),
            ),
        ),
        case(
            "metadata tipoDocumentoLivAlto missing",
            "tipoDocumentoLivAlto",
            Call::Metadata(
                {
                    let mut b = metadata_body();
                    b.as_object_mut().unwrap().remove("tipoDocumentoLivAlto");
                    b
                },
                metadata_ctx(),
            ),
        ),
        case(
            "unknown property",
            "colore",
            Call::Create(with_body(|b| b["colore"] = "rosso".into()), cx()),
        ),
        case(
            "unknown property in metadata",
            "identificativoDoc",
            Call::Metadata(
                {
                    let mut b = metadata_body();
                    b["identificativoDoc"] = DOC_ID.into();
                    b
                },
                metadata_ctx(),
            ),
        ),
        case(
            "class not in the table",
            "tipoDocumentoLivAlto",
            Call::Create(
                with_body(|b| b["tipoDocumentoLivAlto"] = "XXX".into()),
                cx(),
            ),
        ),
        case(
            "practice setting not in the table",
            "assettoOrganizzativo",
            Call::Create(
                with_body(|b| b["assettoOrganizzativo"] = "AD_PSC016".into()),
                cx(),
            ),
        ),
        case(
            "facility not in the table",
            "tipologiaStruttura",
            Call::Create(with_body(|b| b["tipologiaStruttura"] = "Casa".into()), cx()),
        ),
        case(
            "activity not in the table",
            "tipoAttivitaClinica",
            Call::Create(with_body(|b| b["tipoAttivitaClinica"] = "ABC".into()), cx()),
        ),
        case(
            "date not yyyyMMddHHmmss",
            "dataInizioPrestazione",
            Call::Create(
                with_body(|b| b["dataInizioPrestazione"] = "2014-10-20".into()),
                cx(),
            ),
        ),
        case(
            "date not real",
            "dataFinePrestazione",
            Call::Create(
                with_body(|b| b["dataFinePrestazione"] = "20241332000000".into()),
                cx(),
            ),
        ),
        case(
            "descriptions malformed",
            "descriptions",
            Call::Create(
                with_body(|b| b["descriptions"] = serde_json::json!(["x^y"])),
                cx(),
            ),
        ),
        case(
            "descriptions OID",
            "descriptions",
            Call::Create(
                with_body(|b| b["descriptions"] = serde_json::json!(["A01^Farmaco^1.2.3"])),
                cx(),
            ),
        ),
        case(
            "identificativoRep malformed",
            "identificativoRep",
            Call::Create(with_body(|b| b["identificativoRep"] = "1.2.3".into()), cx()),
        ),
        case(
            "administrativeRequest",
            "administrativeRequest",
            Call::Create(
                with_body(|b| b["administrativeRequest"] = serde_json::json!(["FREE"])),
                cx(),
            ),
        ),
        case(
            "validation activity",
            "activity",
            Call::Validate(upload(serde_json::json!({"activity": "CHECK"})), cx()),
        ),
        case(
            "validation activity missing",
            "activity",
            Call::Validate(upload(serde_json::json!({"mode": "ATTACHMENT"})), cx()),
        ),
        // Event codes and obscuring.
        case(
            "event code P96",
            "attiCliniciRegoleAccesso",
            Call::Create(
                with_body(|b| b["attiCliniciRegoleAccesso"] = serde_json::json!(["P96"])),
                cx(),
            ),
        ),
        case(
            "two visibility codes",
            "attiCliniciRegoleAccesso",
            Call::Create(
                with_body(|b| b["attiCliniciRegoleAccesso"] = serde_json::json!(["P99", "P00"])),
                cx(),
            ),
        ),
        case(
            "P98 not for interoperability",
            "attiCliniciRegoleAccesso",
            Call::Create(
                with_body(|b| b["attiCliniciRegoleAccesso"] = serde_json::json!(["P98"])),
                cx(),
            ),
        ),
        case(
            "V document without P99/P00",
            "attiCliniciRegoleAccesso",
            Call::Create(with_facts(|f| f.confidentiality = Some("V".into())), cx()),
        ),
        case(
            "P00 on an N document",
            "attiCliniciRegoleAccesso",
            Call::Create(
                with_body(|b| b["attiCliniciRegoleAccesso"] = serde_json::json!(["P00"])),
                cx(),
            ),
        ),
        case(
            "obscuring on metadata P97",
            "attiCliniciRegoleAccesso",
            Call::Metadata(
                {
                    let mut b = metadata_body();
                    b["attiCliniciRegoleAccesso"] = serde_json::json!(["P97"]);
                    b
                },
                metadata_ctx(),
            ),
        ),
        // The file and its signature.
        case(
            "not signed",
            "file",
            Call::Create(
                with_facts(|f| {
                    f.signature = Some(fse_transport::inspect::SignatureFact {
                        present: false,
                        has_signing_time: false,
                        valid: false,
                    })
                }),
                cx(),
            ),
        ),
        case(
            "signature without /M",
            "file",
            Call::Create(
                with_facts(|f| {
                    f.signature = Some(fse_transport::inspect::SignatureFact {
                        present: true,
                        has_signing_time: false,
                        valid: false,
                    })
                }),
                cx(),
            ),
        ),
        case(
            "signature does not verify",
            "file",
            Call::Create(
                with_facts(|f| {
                    f.signature = Some(fse_transport::inspect::SignatureFact {
                        present: true,
                        has_signing_time: true,
                        valid: false,
                    })
                }),
                cx(),
            ),
        ),
        case(
            "no confidentialityCode",
            "file",
            Call::Create(with_facts(|f| f.confidentiality = None), cx()),
        ),
        case(
            "empty file",
            "file",
            Call::Create(
                {
                    let mut u = good();
                    u.pdf = Vec::new().into();
                    u
                },
                cx(),
            ),
        ),
        case(
            "not a PDF",
            "file",
            Call::Validate(
                {
                    let mut u = upload(serde_json::json!({"activity": "VERIFICA"}));
                    u.pdf = b"hello".to_vec().into();
                    u
                },
                cx(),
            ),
        ),
    ]
}

async fn run(client: &GatewayClient, call: Call) -> Result<(), Error> {
    match call {
        Call::Create(u, c) => client.create(&u, &c).await.map(drop),
        Call::Validate(u, c) => client.validate(&u, &c).await.map(drop),
        Call::Replace(old, u, c) => client.replace(old, &u, &c).await.map(drop),
        Call::Delete(id, c) => client.delete(id, &c).await.map(drop),
        Call::Metadata(b, c) => client.update_metadata(DOC_ID, &b, &c).await.map(drop),
    }
}

#[tokio::test]
async fn every_rule_refuses_without_a_call() {
    let server = Recorder::start(vec![Answer::new(202, success_body(WII))]).await;
    let mut failures = Vec::new();
    for case in cases() {
        let mut s = settings(&server.url(), all_operations());
        if let Some(o) = case.organization {
            s.organization = o;
        }
        if let Some(op) = case.operator {
            s.operator = Some(op);
        }
        let client = client_with(
            s,
            Arc::new(MemoryJournal::new()),
            Arc::new(FakeClock::new()),
        );
        match run(&client, case.call).await {
            Err(Error::Preflight(e)) if e.field == case.field => {}
            other => failures.push(format!(
                "{}: expected a refusal of `{}`, got {:?}",
                case.name,
                case.field,
                other.err()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(server.hits(), 0, "no case reached the server");

    // The good inputs of every shape do go through.
    let (client, _, _) = client(&server.url());
    run(&client, Call::Create(upload(create_body()), ctx()))
        .await
        .unwrap();
    let mut replace_body = create_body();
    replace_body["identificativoDoc"] = NEW_DOC_ID.into();
    run(&client, Call::Replace(DOC_ID, upload(replace_body), ctx()))
        .await
        .unwrap();
    run(&client, Call::Delete(DOC_ID, metadata_ctx()))
        .await
        .unwrap();
    run(
        &client,
        Call::Metadata(
            metadata_body(),
            CallContext {
                purpose_of_use: Some(PurposeOfUse::AccessUpdate),
                ..metadata_ctx()
            },
        ),
    )
    .await
    .unwrap();
    run(
        &client,
        Call::Validate(upload(serde_json::json!({"activity": "VERIFICA"})), ctx()),
    )
    .await
    .unwrap();
    let v = with_body(|b| {
        b["attiCliniciRegoleAccesso"] = serde_json::json!(["p99", "J07BX", "1119349007"])
    });
    let mut v = v;
    v.facts.as_mut().unwrap().confidentiality = Some("V".into());
    run(&client, Call::Create(v, ctx())).await.unwrap();
    assert_eq!(server.hits(), 6);
}

#[tokio::test]
async fn the_hash_is_of_the_bytes_actually_sent() {
    let server = Recorder::start(vec![Answer::new(202, success_body(WII))]).await;
    let (client, _, _) = client(&server.url());
    let mut call = client
        .prepare_document(Operation::Create, &upload(create_body()), None, &ctx())
        .unwrap();
    // Something rewrote the PDF after the token was made.
    if let fse_transport::PreparedBody::Multipart { pdf, .. } = &mut call.body {
        let mut changed = pdf.to_vec();
        changed.push(b'\n');
        *pdf = changed.into();
    }
    let err = client.send(&call).await.unwrap_err();
    assert!(
        matches!(&err, Error::Preflight(e) if e.field == "attachment_hash"),
        "{err}"
    );
    assert!(err.nothing_sent());

    // An attachment_hash on validation is refused too.
    let mut call = client
        .prepare_document(
            Operation::Validate,
            &upload(serde_json::json!({"activity": "VERIFICA"})),
            None,
            &ctx(),
        )
        .unwrap();
    call.signature.as_mut().unwrap().attachment_hash = Some(fse_transport::jwt::sha256_hex(&pdf()));
    let err = client.send(&call).await.unwrap_err();
    assert!(
        matches!(&err, Error::Preflight(e) if e.field == "attachment_hash"),
        "{err}"
    );
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn check_all_lists_every_problem_and_masks_codes() {
    let server = Recorder::start(vec![]).await;
    let (client, _, _) = client(&server.url());
    let ctx = CallContext {
        person_id: Some(operator_cf()),
        action_id: Some(ActionId::Delete),
        ..ctx()
    };
    let call = client
        .prepare_document(
            Operation::Create,
            &with_body(|b| b["tipologiaStruttura"] = "Casa".into()),
            None,
            &ctx,
        )
        .unwrap();
    let input = fse_transport::preflight::PreflightInput {
        operation: call.operation,
        profile: client.profile(),
        bearer: &call.bearer,
        signature: call.signature.as_ref(),
        body: call.json_body(),
        pdf: call.pdf().map(|b| b.as_ref()),
        path_id: None,
        facts: call.facts.as_ref(),
    };
    let all = fse_transport::preflight::check_all(&input);
    let fields: Vec<&str> = all.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["person_id", "action_id", "tipologiaStruttura"]);
    let shown = format!("{}", Error::Preflight(all[0].clone()));
    assert!(!shown.contains(&operator_cf()), "{shown}");
}

#[tokio::test]
async fn refusals_without_a_signing_identity_or_operation() {
    let server = Recorder::start(vec![]).await;
    let client = GatewayClient::builder(settings(&server.url(), all_operations()))
        .journal(Arc::new(MemoryJournal::new()))
        .build()
        .unwrap();
    let err = client
        .create(&upload(create_body()), &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Preflight(e) if e.field == "signing"),
        "{err}"
    );
    let (client, _, _) = client_for_ops(&server.url(), [Operation::Create]);
    let err = client.delete(DOC_ID, &metadata_ctx()).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }));
    assert_eq!(server.hits(), 0);
}

fn client_for_ops(
    url: &str,
    ops: impl IntoIterator<Item = Operation>,
) -> (GatewayClient, Arc<MemoryJournal>, Arc<FakeClock>) {
    let journal = Arc::new(MemoryJournal::new());
    let clock = Arc::new(FakeClock::new());
    (
        client_with(
            settings(url, ops.into_iter().collect()),
            journal.clone(),
            clock.clone(),
        ),
        journal,
        clock,
    )
}
