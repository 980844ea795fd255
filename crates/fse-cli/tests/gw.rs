//! `fse gw` against the simulator in this process (mTLS on the loopback):
//! publish does the whole job, the dry run shows the requests and sends
//! nothing, status, obscuring, delete; and `fse journal` reads what was
//! recorded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use fse_cda::builder::{DocumentInput, DocumentType};
use fse_cli::{Cli, Command};
use fse_sim::pki::TestPki;

struct World {
    dir: tempfile::TempDir,
    _server: fse_sim::server::RunningServer,
    sim: fse_sim::Simulator,
    doc_id: String,
}

async fn world() -> World {
    world_with(fse_sim::faults::FaultPlan::none()).await
}

async fn world_with(faults: fse_sim::faults::FaultPlan) -> World {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate().unwrap();
    pki.write_to(dir.path()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = fse_cli::sim::base_url(addr, fse_sim::DEFAULT_BASE_PATH);
    let sim = fse_sim::Simulator::builder(&pki)
        .audience(&base)
        .faults(faults)
        .build()
        .unwrap();
    let server = fse_sim::server::serve_listener(
        listener,
        fse_sim::server::server_config(&pki).unwrap(),
        sim.router(),
    )
    .unwrap();
    // The simulator's client configuration already names the PDF signer.
    let config = fse_cli::sim::client_config(&base);
    std::fs::write(dir.path().join("fse.toml"), config).unwrap();

    let mut input =
        DocumentInput::from_json(Some(DocumentType::Lab), DocumentType::Lab.example_json())
            .unwrap();
    let unique = format!(
        "GWTEST.{}",
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    );
    input.document.id.extension.clone_from(&unique);
    let doc_id = format!("{}^{}", input.document.id.root, unique);
    let cda = fse_cda::builder::build(&input).unwrap();
    std::fs::write(dir.path().join("lab.xml"), cda).unwrap();
    std::fs::write(
        dir.path().join("meta.json"),
        serde_json::json!({
            "tipologiaStruttura": "Ospedale",
            "assettoOrganizzativo": "AD_PSC001",
            "tipoAttivitaClinica": "CON",
            "identificativoSottomissione": "2.16.840.1.113883.2.9.2.090.4.3.1"
        })
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("obscure.json"),
        serde_json::json!({
            "tipologiaStruttura": "Ospedale",
            "tipoDocumentoLivAlto": "REF",
            "assettoOrganizzativo": "AD_PSC001",
            "tipoAttivitaClinica": "CON",
            "identificativoSottomissione": "2.16.840.1.113883.2.9.2.090.4.3.2",
            "attiCliniciRegoleAccesso": ["P99"]
        })
        .to_string(),
    )
    .unwrap();
    World {
        dir,
        _server: server,
        sim,
        doc_id,
    }
}

impl World {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    async fn fse(&self, args: &[&str]) -> (ExitCode, String) {
        let config = self.path("fse.toml");
        let mut argv = vec!["fse", "--config", config.as_str()];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::new();
        let code = match cli.command {
            Command::Gw(a) => fse_cli::gw::run_with(a, &cli.global, &|_| None, &mut out).await,
            Command::Journal(a) => {
                let journal =
                    fse_transport::SqliteJournal::open(&self.dir.path().join("journal.sqlite"))
                        .unwrap();
                fse_cli::journal::run_to(a.command, &journal, &mut out)
            }
            other => panic!("unexpected {other:?}"),
        }
        .unwrap_or_else(|e| panic!("{args:?}: {e:#}"));
        (code, String::from_utf8(out).unwrap())
    }
}

fn journal_exists(dir: &Path) -> bool {
    dir.join("journal.sqlite").exists()
}

#[tokio::test]
async fn publish_dry_run_sends_nothing_and_shows_the_requests() {
    let w = world().await;
    let (code, out) = w
        .fse(&[
            "gw",
            "publish",
            "--cda",
            &w.path("lab.xml"),
            "--metadata",
            &w.path("meta.json"),
            "--skip-local-validation",
            "--dry-run",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let calls = v["calls"].as_array().unwrap();
    // The simulator's profile exposes validation: validation, then create.
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["operation"], "validate");
    assert_eq!(calls[1]["operation"], "create");
    let create = &calls[1];
    assert_eq!(create["method"], "POST");
    assert!(create["url"].as_str().unwrap().ends_with("/v1/documents"));
    assert_eq!(create["parts"][0]["name"], "requestBody");
    assert_eq!(
        create["parts"][0]["json"]["identificativoDoc"], w.doc_id,
        "filled from the CDA"
    );
    assert_eq!(
        create["parts"][0]["json"]["tipoDocumentoLivAlto"], "REF",
        "filled from the CDA code"
    );
    assert_eq!(create["parts"][1]["content_type"], "application/pdf");
    assert_eq!(create["signature_claims"]["action_id"], "CREATE");
    assert_eq!(
        create["signature_claims"]["attachment_hash"],
        create["parts"][1]["sha256"]
    );
    assert!(
        create["signature_claims"]["person_id"]
            .as_str()
            .unwrap()
            .contains("**"),
        "masked"
    );
    assert!(
        create["preflight"].as_array().unwrap().is_empty(),
        "{create}"
    );
    assert!(
        calls[0]["signature_claims"]
            .get("attachment_hash")
            .is_none()
    );
    assert!(
        w.sim.gateway().store().published(&w.doc_id).is_none(),
        "nothing was sent"
    );
    assert!(!journal_exists(w.dir.path()), "a dry run records nothing");

    // Text, with a refused pre-flight: an operator whose code is wrong.
    let (code, out) = w
        .fse(&[
            "gw",
            "publish",
            "--cda",
            &w.path("lab.xml"),
            "--metadata",
            &w.path("meta.json"),
            "--skip-local-validation",
            "--dry-run",
            "--operator",
            "RSSMRA80A01H501X",
        ])
        .await;
    assert_eq!(code, ExitCode::from(1), "{out}");
    assert!(out.contains("PRE-FLIGHT REFUSES `sub`"), "{out}");
    assert!(
        !out.contains("RSSMRA80A01H501X"),
        "the code is masked: {out}"
    );
}

#[tokio::test]
async fn publish_status_obscure_delete_and_the_journal() {
    let w = world().await;
    let pdf_out = w.path("sent.pdf");
    let (code, out) = w
        .fse(&[
            "gw",
            "publish",
            "--cda",
            &w.path("lab.xml"),
            "--metadata",
            &w.path("meta.json"),
            "--skip-local-validation",
            "--output-pdf",
            &pdf_out,
            "--format",
            "json",
        ])
        .await;
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["validation"]["meta"]["status"], 201);
    assert_eq!(v["publication"]["meta"]["status"], 202);
    let cart = v["publication"]["meta"]["cart_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let wii = v["publication"]["meta"]["workflow_instance_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(w.sim.gateway().store().published(&w.doc_id).is_some());
    let report = fse_pades::verify(&std::fs::read(&pdf_out).unwrap()).unwrap();
    assert!(report.all_valid_and_complete());

    let (code, out) = w.fse(&["gw", "status", "--workflow", &wii]).await;
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    assert!(out.contains("PUBLICATION"), "{out}");

    let (code, out) = w
        .fse(&[
            "gw",
            "update-metadata",
            "--id",
            &w.doc_id,
            "--metadata",
            &w.path("obscure.json"),
            "--cda",
            &w.path("lab.xml"),
        ])
        .await;
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    assert!(out.starts_with("update-metadata-iti57: HTTP 200"), "{out}");

    // Delete without the patient is a usage error; with it, done.
    let cli = Cli::try_parse_from([
        "fse",
        "--config",
        &w.path("fse.toml"),
        "gw",
        "delete",
        "--id",
        &w.doc_id,
    ])
    .unwrap();
    let Command::Gw(a) = cli.command else {
        panic!()
    };
    assert!(
        fse_cli::gw::run_with(a, &cli.global, &|_| None, &mut Vec::new())
            .await
            .is_err()
    );
    let patient = fse_cda::Metadata::from_bytes(&std::fs::read(w.path("lab.xml")).unwrap())
        .unwrap()
        .patient_fiscal_code
        .unwrap();
    let (code, out) = w
        .fse(&["gw", "delete", "--id", &w.doc_id, "--person-id", &patient])
        .await;
    assert_eq!(code, ExitCode::SUCCESS, "{out}");

    // A second delete: the Gateway refuses, exit 1, the X-Cart-id is shown.
    let (code, out) = w
        .fse(&["gw", "delete", "--id", &w.doc_id, "--person-id", &patient])
        .await;
    assert_eq!(code, ExitCode::from(1), "{out}");
    assert!(
        out.contains("REFUSED") && out.contains("X-Cart-id"),
        "{out}"
    );

    // The journal has every call, intact.
    let (code, out) = w.fse(&["journal", "list", "--format", "json"]).await;
    assert_eq!(code, ExitCode::SUCCESS);
    let entries: Vec<serde_json::Value> = serde_json::from_str(out.trim()).unwrap();
    let ops: Vec<&str> = entries
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "validate",
            "create",
            "status-by-workflow",
            "update-metadata-iti57",
            "delete",
            "delete"
        ]
    );
    assert!(
        entries.iter().all(|e| e["cart_id"].is_string()),
        "X-Cart-id on every answer"
    );
    let (code, out) = w.fse(&["journal", "show", &cart]).await;
    assert_eq!(code, ExitCode::SUCCESS);
    assert!(out.contains(&w.doc_id), "{out}");
    let (code, out) = w.fse(&["journal", "verify"]).await;
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    assert!(out.contains("journal intact: 6 entries"), "{out}");
}

#[tokio::test]
async fn publish_validates_locally_with_the_official_rules() {
    let Some(corpus) = fse_tests::corpus("publish_validates_locally_with_the_official_rules")
    else {
        return;
    };
    let rules: PathBuf = corpus.join("catalogs");
    let w = world().await;
    let (code, out) = w
        .fse(&[
            "gw",
            "publish",
            "--cda",
            &w.path("lab.xml"),
            "--metadata",
            &w.path("meta.json"),
            "--rules",
            &rules.display().to_string(),
            "--dry-run",
        ])
        .await;
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    assert!(out.contains("note: valid by the official rules"), "{out}");

    // The official VPS sample fails two current schematron rules: it stops
    // before anything is built or sent.
    let vps = corpus.join("cda").join("VPS.xml").display().to_string();
    let (code, out) = w
        .fse(&[
            "gw",
            "publish",
            "--cda",
            &vps,
            "--metadata",
            &w.path("meta.json"),
            "--rules",
            &rules.display().to_string(),
        ])
        .await;
    assert_eq!(code, ExitCode::from(1), "{out}");
    assert!(out.contains("REFUSED by local validation"), "{out}");
    assert!(!journal_exists(w.dir.path()));
}

#[tokio::test]
async fn an_accepted_then_timed_out_create_is_uncertain_and_reconciled() {
    let mut plan = fse_sim::faults::FaultPlan::none();
    plan.add_flag("create:accepted-timeout").unwrap();
    let w = world_with(plan).await;
    let (code, out) = w
        .fse(&[
            "gw",
            "publish",
            "--cda",
            &w.path("lab.xml"),
            "--metadata",
            &w.path("meta.json"),
            "--skip-local-validation",
            "--format",
            "json",
        ])
        .await;
    assert_eq!(code, ExitCode::from(3), "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["uncertain"]["operation"], "create");
    assert_eq!(v["uncertain"]["http_status"], 504);
    assert_eq!(v["uncertain"]["document_id"], w.doc_id);
    // The status shows the create took effect: do not send it again.
    assert_eq!(v["reconciliation"]["verdict"], "applied", "{out}");
    // Sent once: validation, create (504), the status read.
    let (_, list) = w.fse(&["journal", "list", "--format", "json"]).await;
    let entries: Vec<serde_json::Value> = serde_json::from_str(list.trim()).unwrap();
    let ops: Vec<&str> = entries
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["validate", "create", "status-by-workflow"]);
    assert_eq!(entries[1]["outcome"], "uncertain");
}
