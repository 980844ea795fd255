//! `fse gw`: calls to the Gateway, through CART or directly.
//!
//! - `validate --pdf FILE [--activity verifica|validation]`
//! - `publish --cda X.xml [--pdf IN.pdf] --metadata meta.json [--dry-run]`:
//!   the whole job — local validation with the official rules (`--rules`,
//!   `FSE_RULES`, or the active set), injection of the CDA into the PDF (or
//!   a rendered one), PAdES signature (`[pades]` of `fse.toml`), the
//!   pre-flight, then validate-and-create (CART) or validation + create
//!   (national). `--signed-pdf` sends a PDF already injected and signed.
//! - `replace --old-id ID ...` as publish, replacing `ID`;
//! - `delete --id ID --person-id CF`;
//! - `update-metadata --id ID --metadata meta.json (--cda X.xml | --person-id CF --resource-type T)`;
//! - `status --workflow WII | --trace TRACE`.
//!
//! `--format json` prints one JSON object. `--dry-run` stops before
//! sending: it shows the requests (claims decoded, patient ids masked) and
//! every pre-flight refusal.
//!
//! Exit status: 0 done; 1 refused (local validation, pre-flight, the
//! Gateway, CART); 2 usage, configuration or I/O error; 3 outcome
//! uncertain or no response (see the journal and the reconciliation
//! printed).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use fse_model::tables::{ActionId, PurposeOfUse, SubjectRole};
use fse_transport::jwt::sha256_hex;
use fse_transport::mask::mask_person;
use fse_transport::{
    CallContext, Config, DocumentUpload, Error, GatewayClient, MemoryJournal, OperationExt,
    PreparedBody, PreparedCall, PublishPlan, PublishReport, Reconciliation, Reply, Settings,
};
use serde_json::{Value, json};

use crate::GlobalArgs;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Lines for people.
    #[default]
    Text,
    /// One JSON object.
    Json,
}

/// Arguments of `fse gw`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to call.
    #[command(subcommand)]
    pub command: GwCommand,
}

/// The `fse gw` subcommands.
#[derive(Debug, Subcommand)]
pub enum GwCommand {
    /// Validate a PDF with its CDA (VERIFICA, or VALIDATION for a later create).
    Validate(ValidateArgs),
    /// Validate locally, inject, sign, pre-flight and publish a CDA.
    Publish(PublishArgs),
    /// As publish, replacing a published document.
    Replace(ReplaceArgs),
    /// Delete a published document.
    Delete(DeleteArgs),
    /// Update a published document's metadata (obscuring included).
    UpdateMetadata(MetadataArgs),
    /// The events of a workflow or of a call.
    Status(StatusArgs),
}

/// Who acts and for whom; shared by the subcommands.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CallArgs {
    /// The operator's fiscal code (JWT `sub`); default `operator` of fse.toml.
    #[arg(long, value_name = "CF")]
    pub operator: Option<String>,
    /// The patient's fiscal code or CX id (JWT `person_id`); default the CDA's.
    #[arg(long, value_name = "CF")]
    pub person_id: Option<String>,
    /// `subject_role` (Ruolo table); default from fse.toml.
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// `purpose_of_use` (TREATMENT, UPDATE, "ACCESS UPDATE").
    #[arg(long, value_name = "PURPOSE")]
    pub purpose: Option<String>,
    /// `action_id` (CREATE, UPDATE, DELETE).
    #[arg(long, value_name = "ACTION")]
    pub action: Option<String>,
    /// Send `patient_consent: false`.
    #[arg(long)]
    pub no_consent: bool,
    /// `X-Callback-Url` for status notifications.
    #[arg(long, value_name = "URL")]
    pub callback_url: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

impl CallArgs {
    fn context(&self) -> CallContext {
        CallContext {
            operator: self.operator.clone(),
            person_id: self.person_id.clone(),
            patient_consent: Some(!self.no_consent),
            subject_role: self.role.as_deref().map(SubjectRole::from_wire),
            action_id: self.action.as_deref().map(ActionId::from_wire),
            purpose_of_use: self.purpose.as_deref().map(PurposeOfUse::from_wire),
            callback_url: self.callback_url.clone(),
            ..CallContext::default()
        }
    }
}

/// `fse gw validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The PDF with the CDA inside.
    #[arg(long, value_name = "FILE")]
    pub pdf: PathBuf,
    /// VERIFICA (check only) or VALIDATION (a create follows).
    #[arg(long, value_enum, default_value_t = Activity::Verifica)]
    pub activity: Activity,
    /// Stop before sending.
    #[arg(long)]
    pub dry_run: bool,
    /// Who and for whom.
    #[command(flatten)]
    pub call: CallArgs,
}

/// The validation activities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Activity {
    /// Check only.
    Verifica,
    /// Check and record for a following create.
    Validation,
}

/// The document side of publish and replace.
#[derive(Debug, Clone, clap::Args)]
pub struct DocumentArgs {
    /// The CDA2 to publish.
    #[arg(long, value_name = "FILE", required_unless_present = "signed_pdf")]
    pub cda: Option<PathBuf>,
    /// A PDF to inject the CDA into (default: one rendered from the CDA).
    #[arg(long, value_name = "FILE", conflicts_with = "signed_pdf")]
    pub pdf: Option<PathBuf>,
    /// A PDF already holding the CDA and signed: sent as it is.
    #[arg(long, value_name = "FILE", conflicts_with = "cda")]
    pub signed_pdf: Option<PathBuf>,
    /// The request body (JSON): tipologiaStruttura, assettoOrganizzativo,
    /// tipoAttivitaClinica, identificativoSottomissione, ...; the CDA and
    /// fse.toml fill identificativoDoc, identificativoRep,
    /// tipoDocumentoLivAlto and the service dates when absent.
    #[arg(long, value_name = "FILE")]
    pub metadata: PathBuf,
    /// The rules to validate the CDA with (default `FSE_RULES`, else the
    /// active set of `fse rules install`).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Do not validate the CDA locally (the Gateway still does).
    #[arg(long)]
    pub skip_local_validation: bool,
    /// Write the signed PDF that is sent here.
    #[arg(long, value_name = "FILE")]
    pub output_pdf: Option<PathBuf>,
    /// Stop before sending: show the requests and the pre-flight.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not look up the status after an uncertain outcome.
    #[arg(long)]
    pub no_reconcile: bool,
}

/// `fse gw publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The document.
    #[command(flatten)]
    pub document: DocumentArgs,
    /// Who and for whom.
    #[command(flatten)]
    pub call: CallArgs,
}

/// `fse gw replace`.
#[derive(Debug, clap::Args)]
pub struct ReplaceArgs {
    /// The id (`root^extension`) of the published document to replace.
    #[arg(long, value_name = "ID")]
    pub old_id: String,
    /// The new document.
    #[command(flatten)]
    pub document: DocumentArgs,
    /// Who and for whom.
    #[command(flatten)]
    pub call: CallArgs,
}

/// `fse gw delete`.
#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// The document id, `root^extension`.
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// Stop before sending.
    #[arg(long)]
    pub dry_run: bool,
    /// Who and for whom (`--person-id` is required here).
    #[command(flatten)]
    pub call: CallArgs,
}

/// `fse gw update-metadata`.
#[derive(Debug, clap::Args)]
pub struct MetadataArgs {
    /// The document id, `root^extension`.
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// The metadata body (JSON).
    #[arg(long, value_name = "FILE")]
    pub metadata: PathBuf,
    /// The published CDA, for `person_id` and `resource_hl7_type`.
    #[arg(long, value_name = "FILE")]
    pub cda: Option<PathBuf>,
    /// `resource_hl7_type`, `('code^^codeSystem')`, without `--cda`.
    #[arg(long, value_name = "TYPE")]
    pub resource_type: Option<String>,
    /// Stop before sending.
    #[arg(long)]
    pub dry_run: bool,
    /// Who and for whom.
    #[command(flatten)]
    pub call: CallArgs,
}

/// `fse gw status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// A workflowInstanceId.
    #[arg(
        long,
        value_name = "WII",
        conflicts_with = "trace",
        required_unless_present = "trace"
    )]
    pub workflow: Option<String>,
    /// A traceID.
    #[arg(long, value_name = "TRACE")]
    pub trace: Option<String>,
    /// Who asks.
    #[command(flatten)]
    pub call: CallArgs,
}

/// The configuration of `--config`, else `./fse.toml` if present, else an
/// empty one (environment variables only).
///
/// # Errors
/// When the file cannot be read or parsed.
pub fn load_config(global: &GlobalArgs) -> anyhow::Result<Config> {
    match &global.config {
        Some(path) => Config::from_file(path)
            .with_context(|| format!("reading the configuration {}", path.display())),
        None if Path::new("fse.toml").is_file() => {
            Config::from_file(Path::new("fse.toml")).context("reading ./fse.toml")
        }
        None => Ok(Config::default()),
    }
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Runs `fse gw`.
///
/// # Errors
/// Usage, configuration and I/O errors; refusals and failures of calls are
/// reported and give their exit codes.
pub fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut stdout = std::io::stdout().lock();
    runtime.block_on(run_with(args, global, &process_env, &mut stdout))
}

/// Runs `fse gw`: loads the configuration of `global`, resolves its profile
/// with `env`, and writes to `out`.
///
/// # Errors
/// As [`run`].
pub async fn run_with(
    args: Args,
    global: &GlobalArgs,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let config = load_config(global)?;
    let settings = config.resolve(global.profile.as_deref(), env)?;
    run_to(args, settings, env, out).await
}

/// Runs `fse gw` with resolved settings, reading secrets through `env` and
/// writing to `out`.
///
/// # Errors
/// As [`run`].
pub async fn run_to(
    args: Args,
    settings: Settings,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let dry_run = match &args.command {
        GwCommand::Validate(a) => a.dry_run,
        GwCommand::Publish(a) => a.document.dry_run,
        GwCommand::Replace(a) => a.document.dry_run,
        GwCommand::Delete(a) => a.dry_run,
        GwCommand::UpdateMetadata(a) => a.dry_run,
        GwCommand::Status(_) => false,
    };
    // A CDA that fails local validation stops before anything is built,
    // signed, sent or journaled.
    let mut notes = Vec::new();
    if let GwCommand::Publish(PublishArgs {
        document: doc,
        call,
    })
    | GwCommand::Replace(ReplaceArgs {
        document: doc,
        call,
        ..
    }) = &args.command
        && let Some(cda_path) = &doc.cda
    {
        if doc.skip_local_validation {
            notes.push("local validation skipped".to_owned());
        } else {
            let cda = read(cda_path)?;
            if let Some(code) = validate_locally(&cda, doc.rules.as_deref(), call.format, out)? {
                return Ok(code);
            }
            notes.push("valid by the official rules".to_owned());
        }
    }
    let client = build_client(settings, env, dry_run)?;
    match args.command {
        GwCommand::Validate(a) => validate(&client, a, out).await,
        GwCommand::Publish(a) => {
            publish(&client, None, &a.document, &a.call, env, notes, out).await
        }
        GwCommand::Replace(a) => {
            publish(
                &client,
                Some(&a.old_id),
                &a.document,
                &a.call,
                env,
                notes,
                out,
            )
            .await
        }
        GwCommand::Delete(a) => {
            if a.call.person_id.is_none() {
                bail!("delete needs --person-id: the patient of the document (JWT person_id)");
            }
            let call = client.prepare_delete(&a.id, &a.call.context())?;
            single(&client, call, a.dry_run, a.call.format, out).await
        }
        GwCommand::UpdateMetadata(a) => update_metadata(&client, a, out).await,
        GwCommand::Status(a) => status(&client, a, out).await,
    }
}

fn build_client(
    settings: Settings,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    dry_run: bool,
) -> anyhow::Result<GatewayClient> {
    // Secrets are read now, once; the client keeps only what it loaded.
    let mut builder = GatewayClient::builder(settings.clone());
    let password_vars: Vec<String> = [&settings.tls.identity, &settings.signing.key]
        .into_iter()
        .flatten()
        .filter_map(|s| match s {
            fse_transport::config::KeySource::Pkcs12 { password_env, .. } => {
                Some(password_env.clone())
            }
            fse_transport::config::KeySource::Pem { .. } => None,
        })
        .collect();
    let values: Vec<(String, String)> = password_vars
        .into_iter()
        .filter_map(|k| env(&k).map(|v| (k, v)))
        .collect();
    builder = builder.env(move |k| values.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()));
    if dry_run {
        // A dry run sends nothing and records nothing.
        builder = builder.journal(Arc::new(MemoryJournal::new()));
    }
    builder.build().context("building the Gateway client")
}

async fn validate(
    client: &GatewayClient,
    a: ValidateArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let pdf = read(&a.pdf)?;
    let activity = match a.activity {
        Activity::Verifica => "VERIFICA",
        Activity::Validation => "VALIDATION",
    };
    let upload = DocumentUpload {
        pdf: pdf.into(),
        file_name: file_name(&a.pdf),
        body: json!({"activity": activity, "mode": "ATTACHMENT", "healthDataFormat": "CDA"}),
        facts: None,
    };
    let call = client.prepare_document(
        fse_transport::Operation::Validate,
        &upload,
        None,
        &a.call.context(),
    )?;
    single(client, call, a.dry_run, a.call.format, out).await
}

async fn update_metadata(
    client: &GatewayClient,
    a: MetadataArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let body = read_json(&a.metadata)?;
    let mut ctx = a.call.context();
    if let Some(path) = &a.cda {
        let metadata = fse_cda::Metadata::from_bytes(&read(path)?)
            .with_context(|| format!("reading the CDA {}", path.display()))?;
        ctx.resource_hl7_type = Some(metadata.resource_hl7_type.clone());
        if ctx.person_id.is_none() {
            ctx.person_id = metadata.patient_fiscal_code.clone();
        }
    }
    if let Some(t) = &a.resource_type {
        ctx.resource_hl7_type = Some(t.clone());
    }
    if ctx.purpose_of_use.is_none()
        && body
            .get("attiCliniciRegoleAccesso")
            .and_then(Value::as_array)
            .is_some_and(|codes| {
                codes
                    .iter()
                    .any(|c| c.as_str().is_some_and(|c| c.eq_ignore_ascii_case("P99")))
            })
    {
        // Changing the obscuring policy is an ACCESS UPDATE.
        ctx.purpose_of_use = Some(PurposeOfUse::AccessUpdate);
    }
    let call = client.prepare_update_metadata(&a.id, &body, &ctx)?;
    single(client, call, a.dry_run, a.call.format, out).await
}

async fn status(
    client: &GatewayClient,
    a: StatusArgs,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let ctx = a.call.context();
    let reply = match (&a.workflow, &a.trace) {
        (Some(w), _) => client.status_by_workflow(w, &ctx).await,
        (None, Some(t)) => client.status_by_trace(t, &ctx).await,
        (None, None) => bail!("give --workflow or --trace"),
    };
    match reply {
        Ok(r) => {
            let body = serde_json::to_value(&r.body)?;
            match a.call.format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    json!({"meta": r.meta, "status": masked_status(&body)})
                )?,
                Format::Text => {
                    print_meta(out, "status", &r.meta)?;
                    for e in body["transactionData"].as_array().into_iter().flatten() {
                        writeln!(
                            out,
                            "  {}  {:<20} {:<18} {}",
                            e["eventDate"].as_str().unwrap_or("-"),
                            e["eventType"].as_str().unwrap_or("?"),
                            e["eventStatus"].as_str().unwrap_or("?"),
                            e["message"]
                                .as_str()
                                .map(fse_transport::mask::mask_fiscal_codes)
                                .unwrap_or_default()
                        )?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => report_error(client, &e, a.call.format, out).await,
    }
}

/// The status body with the operators' fiscal codes masked.
fn masked_status(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(events) = body
        .get_mut("transactionData")
        .and_then(Value::as_array_mut)
    {
        for e in events {
            if let Some(s) = e.get("subject").and_then(Value::as_str).map(mask_person) {
                e["subject"] = Value::String(s);
            }
        }
    }
    body
}

async fn single(
    client: &GatewayClient,
    call: PreparedCall,
    dry_run: bool,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    if dry_run {
        return dry_run_report(client, &[&call], format, out);
    }
    match client.send(&call).await {
        Ok(reply) => {
            print_reply(out, format, &call.operation.name(), &reply)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => report_error(client, &e, format, out).await,
    }
}

fn print_reply(
    out: &mut dyn Write,
    format: Format,
    operation: &str,
    reply: &Reply<Value>,
) -> anyhow::Result<()> {
    match format {
        Format::Json => writeln!(
            out,
            "{}",
            json!({"operation": operation, "meta": reply.meta, "body": reply.body})
        )?,
        Format::Text => print_meta(out, operation, &reply.meta)?,
    }
    Ok(())
}

fn print_meta(
    out: &mut dyn Write,
    operation: &str,
    meta: &fse_transport::ResponseMeta,
) -> anyhow::Result<()> {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    writeln!(
        out,
        "{operation}: HTTP {}  X-Cart-id {}  traceID {}  workflowInstanceId {}",
        meta.status,
        dash(&meta.cart_id),
        dash(&meta.trace_id),
        dash(&meta.workflow_instance_id)
    )?;
    for w in &meta.warnings {
        writeln!(
            out,
            "  warning: {}",
            fse_transport::mask::mask_fiscal_codes(w)
        )?;
    }
    Ok(())
}

/// Prints a failed call and returns its exit code; an uncertain outcome is
/// reconciled through status when the profile can.
async fn report_error(
    client: &GatewayClient,
    error: &Error,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    match error {
        Error::Rejected(r) | Error::Frontier(r) => {
            match format {
                Format::Json => writeln!(out, "{}", json!({"refused": r.to_json()}))?,
                Format::Text => writeln!(out, "REFUSED {r}")?,
            }
            Ok(ExitCode::from(1))
        }
        Error::Preflight(p) => {
            match format {
                Format::Json => writeln!(out, "{}", json!({"preflight": [p]}))?,
                Format::Text => writeln!(out, "REFUSED {p}")?,
            }
            Ok(ExitCode::from(1))
        }
        Error::Uncertain(u) => {
            let verdict = if u.profile_has_status {
                Some(
                    client
                        .reconcile(u, &CallContext::default())
                        .await
                        .map_err(|e| e.to_string()),
                )
            } else {
                None
            };
            match format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    json!({
                        "uncertain": &**u,
                        "reconciliation": match &verdict {
                            Some(Ok(v)) => serde_json::to_value(v)?,
                            Some(Err(e)) => json!({"error": e}),
                            None => Value::Null,
                        }
                    })
                )?,
                Format::Text => {
                    writeln!(out, "UNCERTAIN {u}")?;
                    match &verdict {
                        Some(Ok(v)) => writeln!(out, "  status says: {}", verdict_text(v))?,
                        Some(Err(e)) => writeln!(out, "  the status could not be read: {e}")?,
                        None => {}
                    }
                }
            }
            Ok(ExitCode::from(3))
        }
        Error::Transport(t) => {
            match format {
                Format::Json => writeln!(out, "{}", json!({"no_response": &**t}))?,
                Format::Text => writeln!(out, "NO RESPONSE {t}")?,
            }
            Ok(ExitCode::from(3))
        }
        other => Err(anyhow!("{other}")),
    }
}

fn verdict_text(v: &Reconciliation) -> String {
    match v {
        Reconciliation::Applied { .. } => {
            "the operation took effect: do not send it again".to_owned()
        }
        Reconciliation::Failed { .. } => {
            "the operation failed: fix, validate again and send again".to_owned()
        }
        Reconciliation::InProgress { .. } => {
            "still in progress: look again later (fse gw status)".to_owned()
        }
        Reconciliation::NotFound { .. } => {
            "no trace of it: once enough time has passed, validate again and send again".to_owned()
        }
        Reconciliation::NeedsManual { reason, .. } => format!("cannot tell ({reason})"),
    }
}

// ----- publish and replace -----

async fn publish(
    client: &GatewayClient,
    old_id: Option<&str>,
    doc: &DocumentArgs,
    call_args: &CallArgs,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    mut notes: Vec<String>,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let format = call_args.format;
    let ctx = call_args.context();
    let mut body = read_json(&doc.metadata)?;
    let (signed, unsigned) = match (&doc.signed_pdf, &doc.cda) {
        (Some(path), _) => {
            let pdf = read(path)?;
            let cda = fse_pades::extract(&pdf)
                .with_context(|| format!("no CDA in {}", path.display()))?;
            let metadata = fse_cda::Metadata::from_bytes(&cda.bytes)
                .with_context(|| format!("reading the CDA in {}", path.display()))?;
            fill_body(&mut body, &metadata, client.settings(), &mut notes);
            (pdf, None)
        }
        (None, Some(cda_path)) => {
            let cda = read(cda_path)?;
            let metadata = fse_cda::Metadata::from_bytes(&cda)
                .with_context(|| format!("reading the CDA {}", cda_path.display()))?;
            fill_body(&mut body, &metadata, client.settings(), &mut notes);
            let base = doc.pdf.as_deref().map(read).transpose()?;
            let unsigned = crate::pdf::inject(base.as_deref(), &cda, fse_pades::Mode::Attachment)
                .context("injecting the CDA into the PDF")?;
            let signed = sign_pdf(&unsigned, client.settings(), env)?;
            (signed, Some(unsigned))
        }
        (None, None) => bail!("give --cda (with --pdf or not) or --signed-pdf"),
    };
    if let Some(path) = &doc.output_pdf {
        std::fs::write(path, &signed).with_context(|| format!("writing {}", path.display()))?;
    }
    let name = doc
        .signed_pdf
        .as_deref()
        .or(doc.cda.as_deref())
        .map(file_name)
        .unwrap_or_else(|| "document.pdf".to_owned());
    let upload = DocumentUpload {
        pdf: signed.into(),
        file_name: name.replace(".xml", ".pdf"),
        body,
        facts: None,
    };
    let unsigned = unsigned.map(Into::into);
    let plan = match old_id {
        Some(old) => client.replace_plan(old, &upload, unsigned, &ctx)?,
        None => client.publish_plan(&upload, unsigned, &ctx)?,
    };
    if format == Format::Text {
        for n in &notes {
            writeln!(out, "note: {n}")?;
        }
    }
    if doc.dry_run {
        let calls: Vec<&PreparedCall> = match &plan {
            PublishPlan::TwoSteps {
                validation,
                publication,
            } => vec![validation, publication],
            PublishPlan::OneStep(c) => vec![c],
        };
        return dry_run_report(client, &calls, format, out);
    }
    match client.execute(plan).await {
        Ok(report) => {
            print_report(out, format, &report, &notes)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if doc.no_reconcile
                && let Error::Uncertain(u) = &e
            {
                match format {
                    Format::Json => writeln!(out, "{}", json!({"uncertain": &**u}))?,
                    Format::Text => writeln!(out, "UNCERTAIN {u}")?,
                }
                return Ok(ExitCode::from(3));
            }
            report_error(client, &e, format, out).await
        }
    }
}

fn print_report(
    out: &mut dyn Write,
    format: Format,
    report: &PublishReport,
    notes: &[String],
) -> anyhow::Result<()> {
    match format {
        Format::Json => writeln!(
            out,
            "{}",
            json!({
                "validation": report.validation.as_ref().map(|v| json!({"meta": v.meta, "body": v.body})),
                "publication": {"meta": report.publication.meta, "body": report.publication.body},
                "notes": notes,
            })
        )?,
        Format::Text => {
            if let Some(v) = &report.validation {
                print_meta(out, "validation", &v.meta)?;
            }
            print_meta(out, "publication", &report.publication.meta)?;
        }
    }
    Ok(())
}

/// Validates the CDA with the official rules; `Some(exit code)` when it
/// must not be sent.
fn validate_locally(
    cda: &[u8],
    rules: Option<&Path>,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<Option<ExitCode>> {
    let store = fse_cda::rules::RulesStore::for_user()?;
    let env = std::env::var_os(fse_cda::rules::RULES_ENV);
    let (dir, _) = fse_cda::rules::resolve_rules_dir(rules, env.as_deref(), &store).context(
        "local validation needs the official rules (--rules, FSE_RULES or `fse rules install`), or --skip-local-validation",
    )?;
    let validator = fse_cda::Validator::from_rules_dir(&dir)
        .with_context(|| format!("loading the rules in {}", dir.display()))?;
    let report = validator.validate(cda);
    if !report.outcome.is_blocking() {
        return Ok(None);
    }
    match format {
        Format::Json => writeln!(out, "{}", json!({"local_validation": report}))?,
        Format::Text => {
            writeln!(
                out,
                "REFUSED by local validation: {} (nothing was sent)",
                report.outcome
            )?;
            for f in report.xsd_errors.iter().chain(&report.errors) {
                writeln!(out, "  {} {}", f.id, f.message)?;
            }
        }
    }
    Ok(Some(ExitCode::from(1)))
}

/// Fills what the CDA and the configuration know into the request body,
/// without overriding what the caller wrote.
fn fill_body(
    body: &mut Value,
    metadata: &fse_cda::Metadata,
    settings: &Settings,
    notes: &mut Vec<String>,
) {
    let Some(obj) = body.as_object_mut() else {
        return;
    };
    let mut set = |key: &str, value: Option<String>| {
        if !obj.contains_key(key)
            && let Some(v) = value
        {
            obj.insert(key.to_owned(), Value::String(v));
        }
    };
    set("identificativoDoc", Some(metadata.document_id.to_string()));
    set(
        "identificativoRep",
        settings.organization.identificativo_rep.clone(),
    );
    set(
        "tipoDocumentoLivAlto",
        metadata
            .document_class
            .as_ref()
            .map(|c| c.as_str().to_owned()),
    );
    set("dataInizioPrestazione", metadata.service_start.clone());
    set("dataFinePrestazione", metadata.service_stop.clone());
    set("mode", Some("ATTACHMENT".to_owned()));
    set("healthDataFormat", Some("CDA".to_owned()));
    let very_restricted = matches!(
        metadata.confidentiality_code,
        Some(fse_cda::metadata::Confidentiality::VeryRestricted)
    );
    if very_restricted && !obj.contains_key("attiCliniciRegoleAccesso") {
        // A V document is obscured unless the patient chose otherwise (P00).
        obj.insert("attiCliniciRegoleAccesso".to_owned(), json!(["P99"]));
        notes.push("confidentialityCode V: sent obscured (P99); put P00 in the metadata if the patient chose visibility".to_owned());
    }
}

fn sign_pdf(
    pdf: &[u8],
    settings: &Settings,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> anyhow::Result<Vec<u8>> {
    use fse_transport::config::KeySource;
    let signer = match &settings.pades.key {
        Some(KeySource::Pem { certificate, key }) => fse_pades::KeySigner::from_pem_files(
            certificate,
            key.as_deref().unwrap_or(certificate),
        )?,
        Some(KeySource::Pkcs12 { file, password_env }) => {
            let password = env(password_env).with_context(|| {
                format!("the PDF signer's PKCS#12 password variable {password_env} is not set")
            })?;
            fse_pades::KeySigner::from_pkcs12_file(file, &password)?
        }
        None => bail!(
            "publishing needs a signed PDF: configure [pades] in fse.toml (the signer's certificate), or give --signed-pdf"
        ),
    };
    let tsa = settings
        .pades
        .tsa_url
        .as_deref()
        .map(fse_transport::tsa::HttpTimestamper::new)
        .transpose()
        .context("the time-stamping authority")?;
    let options = fse_pades::SignOptions {
        reason: settings.pades.reason.clone(),
        location: settings.pades.location.clone(),
        timestamper: tsa.as_ref().map(|t| t as &dyn fse_pades::Timestamper),
        ..fse_pades::SignOptions::default()
    };
    fse_pades::sign(pdf, &signer, &options).context("signing the PDF")
}

// ----- dry run -----

fn dry_run_report(
    client: &GatewayClient,
    calls: &[&PreparedCall],
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let mut refused = false;
    let mut shown = Vec::new();
    for call in calls {
        let problems = client.preflight_all(call);
        refused |= !problems.is_empty();
        shown.push(describe_call(client, call, &problems));
    }
    match format {
        Format::Json => writeln!(out, "{}", json!({"dry_run": true, "calls": shown}))?,
        Format::Text => {
            writeln!(out, "DRY RUN: nothing is sent")?;
            for c in &shown {
                writeln!(
                    out,
                    "{} {}",
                    c["method"].as_str().unwrap_or(""),
                    c["url"].as_str().unwrap_or("")
                )?;
                for (k, v) in c["headers"].as_object().into_iter().flatten() {
                    writeln!(out, "  {k}: {}", v.as_str().unwrap_or(""))?;
                }
                if !c["bearer_claims"].is_null() {
                    writeln!(out, "  Bearer claims: {}", c["bearer_claims"])?;
                }
                if !c["signature_claims"].is_null() {
                    writeln!(out, "  FSE-JWT-Signature claims: {}", c["signature_claims"])?;
                }
                for part in c["parts"].as_array().into_iter().flatten() {
                    writeln!(out, "  part {}", part)?;
                }
                if !c["json_body"].is_null() {
                    writeln!(out, "  body {}", c["json_body"])?;
                }
                match c["preflight"].as_array() {
                    Some(p) if !p.is_empty() => {
                        for e in p {
                            writeln!(
                                out,
                                "  PRE-FLIGHT REFUSES `{}`: {}",
                                e["field"].as_str().unwrap_or(""),
                                e["reason"].as_str().unwrap_or("")
                            )?;
                        }
                    }
                    _ => writeln!(out, "  pre-flight: ok")?,
                }
            }
        }
    }
    Ok(if refused {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn describe_call(
    client: &GatewayClient,
    call: &PreparedCall,
    problems: &[fse_transport::PreflightError],
) -> Value {
    let mask_claims = |mut v: Value| {
        for key in ["sub", "person_id"] {
            if let Some(s) = v.get(key).and_then(Value::as_str).map(mask_person) {
                v[key] = Value::String(s);
            }
        }
        if let Some(obj) = v.as_object_mut() {
            for key in ["iat", "exp", "jti"] {
                obj.insert(key.to_owned(), Value::String("(set when sent)".into()));
            }
        }
        v
    };
    let signature = call
        .signature
        .as_ref()
        .and_then(|c| serde_json::to_value(c).ok())
        .map(mask_claims);
    let bearer = serde_json::to_value(&call.bearer).ok().map(mask_claims);
    let header = client.signer().map(|s| {
        json!({"alg": s.algorithm().name(), "typ": "JWT", "x5c": [format!("(certificate {}, {} bytes)", s.common_name(), s.certificate_der().len())]})
    });
    let mut headers = serde_json::Map::new();
    headers.insert("Accept".into(), "application/json".into());
    headers.insert("Authorization".into(), "Bearer <JWT>".into());
    if call.signature.is_some() {
        headers.insert("FSE-JWT-Signature".into(), "<JWT>".into());
    }
    if let Some(cb) = &call.callback_url {
        headers.insert("X-Callback-Url".into(), cb.clone().into());
    }
    let (parts, json_body) = match &call.body {
        PreparedBody::Multipart {
            request_body,
            pdf,
            file_name,
        } => (
            json!([
                {"name": "requestBody", "filename": null, "json": request_body},
                {"name": "file", "filename": file_name, "content_type": "application/pdf", "bytes": pdf.len(), "sha256": sha256_hex(pdf)},
            ]),
            Value::Null,
        ),
        PreparedBody::Json(v) => (Value::Null, v.clone()),
        PreparedBody::Empty => (Value::Null, Value::Null),
    };
    json!({
        "operation": call.operation.name(),
        "method": call.operation.method(),
        "url": format!("{}{}", client.profile().base_url, call.path),
        "headers": headers,
        "jwt_header": header,
        "bearer_claims": bearer,
        "signature_claims": signature,
        "parts": parts,
        "json_body": json_body,
        "preflight": problems,
    })
}

// ----- small helpers -----

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let value: Value = serde_json::from_slice(&read(path)?)
        .with_context(|| format!("{} is not JSON", path.display()))?;
    if !value.is_object() {
        bail!("{} must hold a JSON object", path.display());
    }
    Ok(value)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "document.pdf".to_owned())
}
