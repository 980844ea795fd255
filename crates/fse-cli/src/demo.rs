//! `fse demo`: the main job end to end, with nothing configured.
//!
//! A test PKI in a temporary directory, the simulator on an ephemeral
//! loopback port, a LAB report from the builder, validated (official rules
//! when `--rules` or `FSE_RULES` give them, else the built-in checks),
//! rendered into a PDF with the CDA injected, signed PAdES, published with
//! validate-and-create over mTLS, its status read, obscured (metadata
//! update with `P99`, purpose `ACCESS UPDATE`), replaced by version 2,
//! deleted; then the X-Cart-id journal is verified against what the
//! simulator received. Every step says what it did, with its HTTP status,
//! X-Cart-id and time; the command exits 0 only if every step did what it
//! should.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, anyhow, bail, ensure};
use fse_cda::builder::{DocumentInput, DocumentType, ParentDocument};
use fse_model::tables::PurposeOfUse;
use fse_sim::engine::CdaEngine;
use fse_sim::pki::TestPki;
use fse_sim::state::DocumentStatus;
use fse_transport::journal::JournalQuery;
use fse_transport::{CallContext, Config, DocumentUpload, GatewayClient};
use serde::Serialize;
use serde_json::{Value, json};

use crate::GlobalArgs;

/// How the steps are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One aligned line per step.
    Text,
    /// One JSON object per step, one per line.
    Json,
}

/// Arguments of `fse demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Validate with the official rules of this catalogs directory
    /// (default: `FSE_RULES`, else the built-in checks).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Keep the PKI, PDFs and journal in this directory instead of a
    /// temporary one.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

/// One step of the demo, as printed.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// 1-based.
    pub step: usize,
    /// Short name.
    pub name: &'static str,
    /// Whether it did what it should.
    pub ok: bool,
    /// The HTTP status, for calls.
    pub http_status: Option<u16>,
    /// The X-Cart-id, for calls.
    pub cart_id: Option<String>,
    /// How long it took.
    pub ms: u64,
    /// What it did, or why it failed.
    pub detail: String,
}

/// What a step reports when it succeeds.
#[derive(Default)]
struct Done {
    status: Option<u16>,
    cart_id: Option<String>,
    detail: String,
}

impl Done {
    fn note(detail: impl Into<String>) -> Self {
        Done {
            detail: detail.into(),
            ..Done::default()
        }
    }

    fn call(meta: &fse_transport::response::ResponseMeta, detail: impl Into<String>) -> Self {
        Done {
            status: Some(meta.status),
            cart_id: meta.cart_id.clone(),
            detail: detail.into(),
        }
    }
}

/// Runs `fse demo`.
///
/// # Errors
/// When the runtime cannot start; failed steps are reported, and give
/// exit code 1.
pub fn run(args: Args, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let mut stdout = std::io::stdout();
    let steps = runtime.block_on(run_demo(&args, &mut stdout))?;
    Ok(if steps.iter().all(|s| s.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

struct Printer<'w> {
    out: &'w mut dyn Write,
    format: Format,
    steps: Vec<Step>,
}

impl Printer<'_> {
    fn print(&mut self, step: Step) -> anyhow::Result<()> {
        match self.format {
            Format::Json => writeln!(self.out, "{}", serde_json::to_string(&step)?)?,
            Format::Text => writeln!(
                self.out,
                "{:>2}  {:<10} {:<4} {:>4}  {:<36} {:>6} ms  {}",
                step.step,
                step.name,
                if step.ok { "ok" } else { "FAIL" },
                step.http_status
                    .map_or_else(|| "-".to_owned(), |s| s.to_string()),
                step.cart_id.as_deref().unwrap_or("-"),
                step.ms,
                step.detail
            )?,
        }
        self.out.flush()?;
        self.steps.push(step);
        Ok(())
    }

    /// Runs one step and prints it; `Ok(None)` when it failed.
    async fn step<T>(
        &mut self,
        name: &'static str,
        work: impl std::future::Future<Output = anyhow::Result<(T, Done)>>,
    ) -> anyhow::Result<Option<T>> {
        let started = Instant::now();
        let result = work.await;
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let step = self.steps.len() + 1;
        match result {
            Ok((value, done)) => {
                self.print(Step {
                    step,
                    name,
                    ok: true,
                    http_status: done.status,
                    cart_id: done.cart_id,
                    ms,
                    detail: done.detail,
                })?;
                Ok(Some(value))
            }
            Err(e) => {
                let (status, cart_id) = match e.downcast_ref::<fse_transport::Error>() {
                    Some(fse_transport::Error::Rejected(r) | fse_transport::Error::Frontier(r)) => {
                        (Some(r.meta.status), r.meta.cart_id.clone())
                    }
                    Some(t) => (None, t.cart_id().map(str::to_owned)),
                    None => (None, None),
                };
                self.print(Step {
                    step,
                    name,
                    ok: false,
                    http_status: status,
                    cart_id,
                    ms,
                    detail: format!("{e:#}"),
                })?;
                Ok(None)
            }
        }
    }
}

/// Runs the demo, printing each step to `out`; returns the steps. Stops at
/// the first step that fails.
///
/// # Errors
/// Only when `out` cannot be written.
pub async fn run_demo(args: &Args, out: &mut dyn Write) -> anyhow::Result<Vec<Step>> {
    let mut p = Printer {
        out,
        format: args.format,
        steps: Vec::new(),
    };
    // The temporary directory lives until the end of the demo.
    let temp = tempfile::Builder::new()
        .prefix("fse-demo-")
        .tempdir()
        .context("creating a temporary directory")?;
    let dir = args
        .keep
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let _ = run_steps(args, &dir, &mut p).await?;
    Ok(p.steps)
}

async fn run_steps(args: &Args, dir: &Path, p: &mut Printer<'_>) -> anyhow::Result<Option<()>> {
    let Some(pki) = p
        .step("pki", async {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let pki = TestPki::generate()?;
            pki.write_to(dir)?;
            let cn = pki.signing.common_name().unwrap_or_default();
            Ok((
                pki,
                Done::note(format!(
                    "test CA, server, client, JWT signature ({cn}) and PDF signer in {}",
                    dir.display()
                )),
            ))
        })
        .await?
    else {
        return Ok(None);
    };

    let rules = args.rules.clone().or_else(|| {
        std::env::var_os("FSE_RULES")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let Some((sim, server, client, engine)) = p
        .step("simulator", async {
            let engine = match &rules {
                Some(dir) => CdaEngine::from_rules_dir(dir)?,
                None => CdaEngine::built_in(),
            };
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .context("binding a loopback port")?;
            let addr = listener.local_addr()?;
            let base = crate::sim::base_url(addr, fse_sim::DEFAULT_BASE_PATH);
            let sim = fse_sim::Simulator::builder(&pki)
                .audience(&base)
                .cda_engine(engine.clone())
                .build()?;
            let server = fse_sim::server::serve_listener(
                listener,
                fse_sim::server::server_config(&pki)?,
                sim.router(),
            )?;
            let config_path = dir.join("fse.toml");
            std::fs::write(&config_path, crate::sim::client_config(&base))?;
            // The demo's own configuration only: the environment is ignored.
            let settings =
                Config::from_file(&config_path)?.resolve(Some(crate::sim::PROFILE), &|_| None)?;
            let client = GatewayClient::builder(settings).build()?;
            let rules_text = if engine.has_official_rules() {
                "official rules"
            } else {
                "built-in checks"
            };
            Ok((
                (sim, server, client, engine),
                Done::note(format!("CART + Gateway at {base} with mTLS ({rules_text})")),
            ))
        })
        .await?
    else {
        return Ok(None);
    };

    let unique = format!(
        "DEMO.{}.{}",
        time::OffsetDateTime::now_utc().unix_timestamp(),
        fse_sim::problem::random_hex(3)
    );
    let Some((input, cda)) = p
        .step("build", async {
            let mut input = DocumentInput::from_json(
                Some(DocumentType::Lab),
                DocumentType::Lab.example_json(),
            )?;
            input.document.id.extension.clone_from(&unique);
            let cda = fse_cda::builder::build(&input)?;
            let detail = format!(
                "LAB report {}^{} ({} bytes)",
                input.document.id.root,
                unique,
                cda.len()
            );
            Ok(((input, cda), Done::note(detail)))
        })
        .await?
    else {
        return Ok(None);
    };
    let doc_id = format!("{}^{}", input.document.id.root, input.document.id.extension);
    let patient = input
        .patient
        .fiscal_code
        .as_ref()
        .map(|f| f.as_str().to_owned())
        .ok_or_else(|| anyhow!("the LAB example has no fiscal code"))?;

    let validated = p
        .step("validate", async {
            let report = engine.validator().validate(cda.as_bytes());
            ensure!(
                !report.outcome.is_blocking(),
                "{}: {:?}",
                report.outcome,
                report.findings().map(|f| &f.message).collect::<Vec<_>>()
            );
            let stages = if engine.has_official_rules() {
                "XSD, schematron, vocabulary"
            } else {
                "structure (built-in checks)"
            };
            Ok((
                (),
                Done::note(format!(
                    "{} by {stages}, {} warning(s)",
                    report.outcome,
                    report.warnings.len()
                )),
            ))
        })
        .await?;
    if validated.is_none() {
        return Ok(None);
    }

    let Some(signed) = p
        .step("sign", async { render_and_sign(&pki, &cda, dir, "LAB-v1") })
        .await?
    else {
        return Ok(None);
    };

    let ctx = CallContext {
        person_id: Some(patient.clone()),
        ..CallContext::default()
    };
    let Some(wii) = p
        .step("publish", async {
            let upload =
                DocumentUpload::new(signed.clone(), &publication_body(&doc_id, &client, "1"))?;
            let reply = client.validate_and_create(&upload, &ctx).await?;
            ensure!(
                reply.meta.status == 202,
                "expected 202, got {}",
                reply.meta.status
            );
            ensure!(
                sim.gateway().store().published(&doc_id).is_some(),
                "the simulator does not hold {doc_id}"
            );
            let wii = reply
                .meta
                .workflow_instance_id
                .clone()
                .ok_or_else(|| anyhow!("no workflowInstanceId in the answer"))?;
            let detail = format!(
                "validate-and-create {doc_id}, workflowInstanceId {}",
                short(&wii)
            );
            Ok((wii, Done::call(&reply.meta, detail)))
        })
        .await?
    else {
        return Ok(None);
    };

    let status = p
        .step("status", async {
            let reply = client.status_by_workflow(&wii, &ctx).await?;
            let body = serde_json::to_value(&reply.body)?;
            let events: Vec<String> = body["transactionData"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|e| {
                            format!(
                                "{} {}",
                                e["eventType"].as_str().unwrap_or("?"),
                                e["eventStatus"].as_str().unwrap_or("?")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            ensure!(
                events.iter().any(|e| e == "PUBLICATION SUCCESS"),
                "no PUBLICATION SUCCESS among {events:?}"
            );
            Ok(((), Done::call(&reply.meta, events.join(", "))))
        })
        .await?;
    if status.is_none() {
        return Ok(None);
    }

    let obscure_ctx = CallContext {
        purpose_of_use: Some(PurposeOfUse::AccessUpdate),
        resource_hl7_type: Some("('11502-2^^2.16.840.1.113883.6.1')".to_owned()),
        ..ctx.clone()
    };
    let obscured = p
        .step("obscure", async {
            let reply = client
                .update_metadata(&doc_id, &metadata_body(&client, &["P99"]), &obscure_ctx)
                .await?;
            ensure!(
                reply.meta.status == 200,
                "expected 200, got {}",
                reply.meta.status
            );
            let held = sim
                .gateway()
                .store()
                .published(&doc_id)
                .cloned()
                .ok_or_else(|| anyhow!("{doc_id} is gone"))?;
            ensure!(
                held.obscured,
                "the simulator does not show {doc_id} obscured"
            );
            Ok((
                (),
                Done::call(
                    &reply.meta,
                    "metadata update with P99, purpose ACCESS UPDATE: obscured",
                ),
            ))
        })
        .await?;
    if obscured.is_none() {
        return Ok(None);
    }

    let v2_id = format!("{doc_id}.v2");
    let replaced = p
        .step("replace", async {
            let mut v2 = input.clone();
            v2.document.version = 2;
            v2.document.set_id = Some(input.document.id.clone());
            v2.document.id.extension = format!("{unique}.v2");
            v2.document.replaces = Some(ParentDocument {
                id: input.document.id.clone(),
                set_id: Some(input.document.id.clone()),
                version: Some(1),
                relation: "RPLC".to_owned(),
            });
            let cda2 = fse_cda::builder::build(&v2)?;
            let pdf2 = render_and_sign(&pki, &cda2, dir, "LAB-v2")?.0;
            let upload = DocumentUpload::new(pdf2, &publication_body(&v2_id, &client, "2"))?;
            let reply = client.validate_and_replace(&doc_id, &upload, &ctx).await?;
            ensure!(
                reply.meta.status == 202,
                "expected 202, got {}",
                reply.meta.status
            );
            let store = sim.gateway().store();
            let old = store.documents().get(&doc_id).map(|d| d.status);
            let new = store.published(&v2_id).map(|d| d.version);
            ensure!(
                old == Some(DocumentStatus::Replaced) && new == Some(2),
                "the simulator shows {old:?} and version {new:?}"
            );
            Ok((
                (),
                Done::call(
                    &reply.meta,
                    format!("validate-and-replace {doc_id} with version 2 {v2_id}"),
                ),
            ))
        })
        .await?;
    if replaced.is_none() {
        return Ok(None);
    }

    let deleted = p
        .step("delete", async {
            let reply = client.delete(&v2_id, &ctx).await?;
            ensure!(
                reply.meta.status == 200,
                "expected 200, got {}",
                reply.meta.status
            );
            let status = sim
                .gateway()
                .store()
                .documents()
                .get(&v2_id)
                .map(|d| d.status);
            ensure!(
                status == Some(DocumentStatus::Deleted),
                "the simulator shows {status:?}"
            );
            Ok(((), Done::call(&reply.meta, format!("deleted {v2_id}"))))
        })
        .await?;
    if deleted.is_none() {
        return Ok(None);
    }

    let journal_ok = p
        .step("journal", async {
            let journal = client.journal();
            let report = journal.verify()?;
            ensure!(
                report.is_intact(),
                "the chain is broken: {:?}",
                report.problems
            );
            let entries = journal.query(&JournalQuery::default())?;
            let received = sim.gateway().store().calls().to_vec();
            ensure!(
                entries.len() == received.len(),
                "{} journal entries for {} calls received",
                entries.len(),
                received.len()
            );
            for call in &received {
                ensure!(
                    entries
                        .iter()
                        .any(|e| e.record.cart_id.as_deref() == Some(call.cart_id.as_str())),
                    "X-Cart-id {} ({}) is not in the journal",
                    call.cart_id,
                    call.operation
                );
            }
            Ok((
                (),
                Done::note(format!(
                    "{} entries, hash chain intact, every X-Cart-id the simulator gave is recorded",
                    report.entries
                )),
            ))
        })
        .await?;
    server.shutdown().await;
    Ok(journal_ok)
}

fn render_and_sign(
    pki: &TestPki,
    cda: &str,
    dir: &Path,
    name: &str,
) -> anyhow::Result<(Vec<u8>, Done)> {
    let pdf = fse_pades::render(cda.as_bytes())?;
    let signer = fse_pades::KeySigner::from_pem(
        pki.pdf_signer.cert_pem().as_bytes(),
        pki.pdf_signer.key_pem().as_bytes(),
    )?;
    let options = fse_pades::SignOptions {
        reason: Some("Firma Digitale".to_owned()),
        ..Default::default()
    };
    let signed = fse_pades::sign(&pdf, &signer, &options)?;
    let report = fse_pades::verify(&signed)?;
    if !report.all_valid_and_complete() {
        bail!(
            "the signed PDF does not verify: {:?}",
            report
                .signatures
                .iter()
                .map(|s| &s.problems)
                .collect::<Vec<_>>()
        );
    }
    let path = dir.join(format!("{name}.pdf"));
    std::fs::write(&path, &signed).with_context(|| format!("writing {}", path.display()))?;
    let detail = format!(
        "rendered with cda.xml injected, signed PAdES {}: {} ({} bytes)",
        report
            .signatures
            .last()
            .and_then(|s| s.pades_level.clone())
            .unwrap_or_default(),
        path.display(),
        signed.len()
    );
    Ok((signed, Done::note(detail)))
}

fn publication_body(doc_id: &str, client: &GatewayClient, submission: &str) -> Value {
    let rep = client
        .settings()
        .organization
        .identificativo_rep
        .clone()
        .unwrap_or_default();
    json!({
        "healthDataFormat": "CDA",
        "mode": "ATTACHMENT",
        "tipologiaStruttura": "Ospedale",
        "identificativoDoc": doc_id,
        "identificativoRep": rep,
        "tipoDocumentoLivAlto": "REF",
        "assettoOrganizzativo": "AD_PSC001",
        "tipoAttivitaClinica": "CON",
        "identificativoSottomissione": format!("2.16.840.1.113883.2.9.2.090.4.3.{submission}"),
    })
}

fn metadata_body(_client: &GatewayClient, event_codes: &[&str]) -> Value {
    json!({
        "tipologiaStruttura": "Ospedale",
        "tipoDocumentoLivAlto": "REF",
        "assettoOrganizzativo": "AD_PSC001",
        "tipoAttivitaClinica": "CON",
        "identificativoSottomissione": "2.16.840.1.113883.2.9.2.090.4.3.1",
        "attiCliniciRegoleAccesso": event_codes,
    })
}

/// A workflow instance id made short enough to read: the root, the start
/// of the extension's hash and the nonce, without the fixed suffix.
fn short(wii: &str) -> String {
    let prefix = wii
        .strip_suffix(fse_model::WorkflowInstanceId::SUFFIX)
        .unwrap_or(wii);
    let mut parts = prefix.rsplitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(nonce), Some(hash), Some(root)) if hash.chars().count() > 8 => {
            let start: String = hash.chars().take(8).collect();
            format!("{root}.{start}….{nonce}")
        }
        _ => prefix.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_demo_succeeds_with_nothing_configured() {
        let args = Args {
            rules: None,
            format: Format::Json,
            keep: None,
        };
        let mut out = Vec::new();
        let steps = run_demo(&args, &mut out).await.expect("demo");
        let names: Vec<&str> = steps.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "pki",
                "simulator",
                "build",
                "validate",
                "sign",
                "publish",
                "status",
                "obscure",
                "replace",
                "delete",
                "journal"
            ]
        );
        for s in &steps {
            assert!(s.ok, "{}: {}", s.name, s.detail);
        }
        let statuses: Vec<Option<u16>> = steps.iter().map(|s| s.http_status).collect();
        assert_eq!(
            statuses[5..10],
            [Some(202), Some(200), Some(200), Some(202), Some(200)]
        );
        assert!(
            steps[5..10]
                .iter()
                .all(|s| s.cart_id.as_deref().is_some_and(|c| c.len() == 36))
        );
        let lines: Vec<Value> = String::from_utf8(out)
            .expect("utf8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), steps.len());
        assert_eq!(lines[5]["name"], json!("publish"));
        assert_eq!(
            short(
                "2.16.840.1.113883.2.9.2.90.4.4.fb84a0b523ba17f0c5e1c28d0b28834be6a937bf38946db70149ae6ac9028ea2.754e674508^^^^urn:ihe:iti:xdw:2013:workflowInstanceId"
            ),
            "2.16.840.1.113883.2.9.2.90.4.4.fb84a0b5….754e674508"
        );
    }
}
