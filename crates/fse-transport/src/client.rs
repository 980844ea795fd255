//! The Gateway client: every operation, through one path that signs fresh
//! tokens, runs the pre-flight, sends, journals the answer and decides
//! about retries.
//!
//! A call is first *prepared* ([`PreparedCall`]: path, body, claims, the
//! facts of the PDF), then *sent*. [`GatewayClient::send`] runs the
//! pre-flight again on exactly what goes out, so nothing unchecked reaches
//! the network; a dry run stops after [`GatewayClient::preflight`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use time::OffsetDateTime;

use fse_model::api::{GatewayResponse, StatusEvent, TransactionStatus};
use fse_model::problem::{Problem, ProblemSource, Retry};
use fse_model::tables::{ActionId, EventStatus, Organization, PurposeOfUse, SubjectRole};

use crate::config::{Profile, Settings};
use crate::error::{Error, Result};
use crate::inspect::{DocumentFacts, DocumentInspector};
use crate::journal::{Journal, JournalRecord, Outcome, SqliteJournal};
use crate::jwt::{BearerClaims, SignatureClaims, SigningIdentity, Stamp, sha256_hex};
use crate::operation::{Operation, OperationExt};
use crate::preflight::{self, PreflightError, PreflightInput};
use crate::response::{
    BodyIds, CART_ID_HEADER, GOVWAY_TRANSACTION_HEADER, Rejection, Reply, ResponseMeta,
    TransportFailure, TransportFailureKind, UncertainOutcome, warnings_of,
};
use crate::retry::{Clock, SystemClock, parse_retry_after};
use crate::tls::{KeyMaterial, client_config_from_settings};

/// The largest response body read (status searches can be long).
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Header carrying the `FSE-JWT-Signature` token.
pub const SIGNATURE_HEADER: &str = "FSE-JWT-Signature";
/// Header asking the Gateway to notify status to a URL (spec 11.2).
pub const CALLBACK_HEADER: &str = "X-Callback-Url";

/// Who acts and for whom, per call. Empty fields take the configured
/// defaults or the CDA's values.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The operator (`sub`): a fiscal code, bare or CX; default from the configuration.
    pub operator: Option<String>,
    /// The patient (`person_id`): bare fiscal code or CX; default the CDA's
    /// fiscal-code patient id. Required for delete and metadata update.
    pub person_id: Option<String>,
    /// `patient_consent`; default `true`.
    pub patient_consent: Option<bool>,
    /// `subject_role`; default from the configuration.
    pub subject_role: Option<SubjectRole>,
    /// `action_id`; default the operation's first allowed value.
    pub action_id: Option<ActionId>,
    /// `purpose_of_use`; default the operation's first allowed value
    /// (`ACCESS UPDATE` for a change of obscuring must be chosen).
    pub purpose_of_use: Option<PurposeOfUse>,
    /// `resource_hl7_type` for calls without a PDF (metadata update);
    /// otherwise derived from the CDA.
    pub resource_hl7_type: Option<String>,
    /// `use_subject_as_author`.
    pub use_subject_as_author: Option<bool>,
    /// `X-Callback-Url` for create, replace and validate-and-*.
    pub callback_url: Option<String>,
    /// The workflowInstanceId known for this document (kept for reconciliation).
    pub workflow_instance_id: Option<String>,
}

/// A document sent as multipart: the JSON `requestBody` and the PDF.
#[derive(Debug, Clone)]
pub struct DocumentUpload {
    /// The exact PDF bytes that will be sent (and hashed).
    pub pdf: Bytes,
    /// The file name of the `file` part.
    pub file_name: String,
    /// The `requestBody` JSON.
    pub body: serde_json::Value,
    /// The facts of the PDF, when the caller has them; else the client's
    /// inspector reads them.
    pub facts: Option<DocumentFacts>,
}

impl DocumentUpload {
    /// A document with `body` serialized from any request type.
    ///
    /// # Errors
    /// [`Error::Json`] when `body` does not serialize to a JSON object.
    pub fn new(pdf: impl Into<Bytes>, body: &impl Serialize) -> Result<Self> {
        let body = serde_json::to_value(body).map_err(Error::json("requestBody"))?;
        Ok(DocumentUpload {
            pdf: pdf.into(),
            file_name: "document.pdf".to_owned(),
            body,
            facts: None,
        })
    }
}

/// The body of a prepared call.
#[derive(Debug, Clone)]
pub enum PreparedBody {
    /// No body (delete, status).
    Empty,
    /// `application/json`.
    Json(serde_json::Value),
    /// `multipart/form-data`: `requestBody` as a field, `file` as the PDF.
    Multipart {
        /// The `requestBody` JSON.
        request_body: serde_json::Value,
        /// The PDF.
        pdf: Bytes,
        /// The `file` part's file name.
        file_name: String,
    },
}

/// Everything a call will send, before tokens are stamped and signed.
#[derive(Debug, Clone)]
pub struct PreparedCall {
    /// The operation.
    pub operation: Operation,
    /// The path after the base URL, percent-encoded.
    pub path: String,
    /// The body.
    pub body: PreparedBody,
    /// The document concerned (`identificativoDoc`, or `{idDoc}`).
    pub document_id: Option<String>,
    /// The `{idDoc}` of the path, as given (not encoded).
    pub path_id: Option<String>,
    /// The Bearer claims (the stamp is replaced at each attempt).
    pub bearer: BearerClaims,
    /// The `FSE-JWT-Signature` claims; `None` on status calls.
    pub signature: Option<SignatureClaims>,
    /// The facts of the PDF.
    pub facts: Option<DocumentFacts>,
    /// `X-Callback-Url`.
    pub callback_url: Option<String>,
    /// The workflowInstanceId known for this document.
    pub workflow_instance_id: Option<String>,
}

impl PreparedCall {
    /// The PDF, if the call sends one.
    pub fn pdf(&self) -> Option<&Bytes> {
        match &self.body {
            PreparedBody::Multipart { pdf, .. } => Some(pdf),
            _ => None,
        }
    }

    /// The JSON body (`requestBody` or the JSON body).
    pub fn json_body(&self) -> Option<&serde_json::Value> {
        match &self.body {
            PreparedBody::Multipart { request_body, .. } => Some(request_body),
            PreparedBody::Json(v) => Some(v),
            PreparedBody::Empty => None,
        }
    }
}

/// The outcome of [`GatewayClient::reconcile`].
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Reconciliation {
    /// The status shows the operation succeeded: do not re-send.
    Applied {
        /// The status events read.
        events: Vec<StatusEvent>,
    },
    /// The status shows the operation failed: fix, re-validate, re-send.
    Failed {
        /// The status events read.
        events: Vec<StatusEvent>,
    },
    /// The operation is being retried by the Gateway (`ASYNC_RETRY`) or has
    /// no final event yet: look again later.
    InProgress {
        /// The status events read.
        events: Vec<StatusEvent>,
    },
    /// No event of the operation: it did not take effect (so far). Safe to
    /// re-validate and re-send once enough time has passed.
    NotFound {
        /// The status events read.
        events: Vec<StatusEvent>,
    },
    /// Status cannot settle it (the profile has none, or there is no id to
    /// search by): everything needed to ask is in `outcome`.
    NeedsManual {
        /// Why.
        reason: String,
        /// The uncertain outcome, with every id.
        outcome: Box<UncertainOutcome>,
    },
}

/// A validation followed by a publication, or one call doing both.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    /// The validation, when it was a separate call.
    pub validation: Option<Reply<GatewayResponse>>,
    /// The publication (create, replace or validate-and-*).
    pub publication: Reply<GatewayResponse>,
}

/// Builds a [`GatewayClient`].
pub struct ClientBuilder {
    settings: Settings,
    tls: Option<rustls::ClientConfig>,
    signer: Option<SigningIdentity>,
    journal: Option<Arc<dyn Journal>>,
    clock: Arc<dyn Clock>,
    inspector: Option<Arc<dyn DocumentInspector>>,
    env: EnvReader,
}

/// Reads environment variables (PKCS#12 passwords).
type EnvReader = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("profile", &self.settings.profile.name)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Uses this TLS configuration instead of loading the one of the settings.
    pub fn tls_config(mut self, config: rustls::ClientConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Uses this signing identity instead of loading the one of the settings.
    pub fn signing_identity(mut self, identity: SigningIdentity) -> Self {
        self.signer = Some(identity);
        self
    }

    /// Records into this journal instead of the settings' SQLite file.
    pub fn journal(mut self, journal: Arc<dyn Journal>) -> Self {
        self.journal = Some(journal);
        self
    }

    /// Uses this clock (tests pass a fake one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Reads PDFs with this inspector.
    pub fn inspector(mut self, inspector: Arc<dyn DocumentInspector>) -> Self {
        self.inspector = Some(inspector);
        self
    }

    /// Reads environment variables (PKCS#12 passwords) through `env`.
    pub fn env(mut self, env: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Arc::new(env);
        self
    }

    /// Loads what was not given, and builds the client.
    ///
    /// # Errors
    /// Key material, TLS or journal errors.
    pub fn build(self) -> Result<GatewayClient> {
        let env = |k: &str| (self.env)(k);
        let tls = match self.tls {
            Some(t) => t,
            None if self.settings.profile.base_url.starts_with("http://")
                && self.settings.tls.ca.is_empty()
                && !self.settings.tls.system_roots =>
            {
                // Plain http to the loopback: TLS is never used, but reqwest
                // still wants a configuration.
                crate::tls::client_config_for_plain_http()?
            }
            None => client_config_from_settings(&self.settings.tls, &env)?,
        };
        let signer = match self.signer {
            Some(s) => Some(s),
            None => match &self.settings.signing.key {
                Some(source) => Some(SigningIdentity::new(
                    &KeyMaterial::load(source, &env, "signing")?,
                    self.settings.signing.algorithm,
                )?),
                None => None,
            },
        };
        let journal: Arc<dyn Journal> = match self.journal {
            Some(j) => j,
            None => Arc::new(SqliteJournal::open(&self.settings.journal).map_err(Error::Journal)?),
        };
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(self.settings.timeouts.connect)
            .timeout(self.settings.timeouts.request)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .http1_only()
            .user_agent(concat!("fse2/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| Error::HttpClient { source })?;
        Ok(GatewayClient {
            http,
            settings: Arc::new(self.settings),
            signer: signer.map(Arc::new),
            journal,
            clock: self.clock,
            inspector: self
                .inspector
                .unwrap_or_else(|| Arc::new(crate::PadesInspector)),
        })
    }
}

/// The client of one profile.
#[derive(Clone)]
pub struct GatewayClient {
    http: reqwest::Client,
    settings: Arc<Settings>,
    signer: Option<Arc<SigningIdentity>>,
    journal: Arc<dyn Journal>,
    clock: Arc<dyn Clock>,
    inspector: Arc<dyn DocumentInspector>,
}

impl std::fmt::Debug for GatewayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayClient")
            .field("profile", &self.settings.profile.name)
            .field("base_url", &self.settings.profile.base_url)
            .finish_non_exhaustive()
    }
}

/// How one attempt ended, before the retry decision.
enum Attempt {
    Done(Box<Reply<serde_json::Value>>),
    Retry {
        error: Error,
        retry_after: Option<Duration>,
    },
    Fail(Error),
}

impl GatewayClient {
    /// A builder for `settings`; by default TLS, the signing identity and
    /// the journal are loaded from them, with the system clock.
    pub fn builder(settings: Settings) -> ClientBuilder {
        ClientBuilder {
            settings,
            tls: None,
            signer: None,
            journal: None,
            clock: Arc::new(SystemClock),
            inspector: None,
            env: Arc::new(|k: &str| std::env::var(k).ok()),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.settings.profile
    }

    /// The journal.
    pub fn journal(&self) -> &Arc<dyn Journal> {
        &self.journal
    }

    /// The signing identity, if configured.
    pub fn signer(&self) -> Option<&SigningIdentity> {
        self.signer.as_deref()
    }

    // ----- preparing -----

    fn require(&self, operation: Operation) -> Result<()> {
        if self.settings.profile.exposes(operation) {
            Ok(())
        } else {
            Err(Error::Unsupported {
                profile: self.settings.profile.name.clone(),
                operation: operation.name(),
            })
        }
    }

    fn operator(&self, ctx: &CallContext) -> String {
        let raw = ctx
            .operator
            .clone()
            .or_else(|| self.settings.operator.clone())
            .unwrap_or_default();
        to_cx(&raw)
    }

    fn bearer_claims(&self, ctx: &CallContext) -> BearerClaims {
        BearerClaims {
            iss: self
                .signer
                .as_ref()
                .map(|s| s.bearer_issuer())
                .unwrap_or_default(),
            sub: self.operator(ctx),
            aud: self.settings.profile.aud.clone(),
            iat: 0,
            exp: 0,
            jti: String::new(),
        }
    }

    fn signature_claims(
        &self,
        operation: Operation,
        ctx: &CallContext,
        facts: Option<&DocumentFacts>,
        pdf: Option<&[u8]>,
    ) -> SignatureClaims {
        let org = &self.settings.organization;
        let person = ctx
            .person_id
            .clone()
            .or_else(|| {
                facts
                    .and_then(|f| f.patient_fiscal_code())
                    .map(str::to_owned)
            })
            .map(|p| to_cx(&p))
            .unwrap_or_default();
        let resource_hl7_type = if operation == Operation::Delete {
            None
        } else {
            ctx.resource_hl7_type
                .clone()
                .or_else(|| facts.and_then(DocumentFacts::resource_hl7_type))
        };
        SignatureClaims {
            iss: self
                .signer
                .as_ref()
                .map(|s| s.signature_issuer())
                .unwrap_or_default(),
            sub: self.operator(ctx),
            aud: self.settings.profile.aud.clone(),
            iat: 0,
            exp: 0,
            jti: String::new(),
            subject_role: ctx
                .subject_role
                .clone()
                .unwrap_or_else(|| SubjectRole::from_wire(&org.subject_role)),
            purpose_of_use: ctx
                .purpose_of_use
                .clone()
                .or_else(|| operation.default_purpose())
                .unwrap_or(PurposeOfUse::Treatment),
            action_id: ctx
                .action_id
                .clone()
                .or_else(|| operation.default_action())
                .unwrap_or(ActionId::Create),
            locality: org.locality.clone(),
            organization_name: org.subject_organization.clone(),
            organization: Organization::from_wire(&org.subject_organization_id),
            person_id: person,
            patient_consent: ctx.patient_consent.unwrap_or(true),
            resource_hl7_type,
            attachment_hash: if operation.is_publication() {
                pdf.map(sha256_hex)
            } else {
                None
            },
            subject_application_id: org.subject_application_id.clone(),
            subject_application_vendor: org.subject_application_vendor.clone(),
            subject_application_version: org.subject_application_version.clone(),
            use_subject_as_author: ctx.use_subject_as_author,
            additional: serde_json::Map::new(),
        }
    }

    /// Prepares a call that sends a document: validate, create,
    /// validate-and-create, replace, validate-and-replace. `old_id` is the
    /// `{idDoc}` of replace and validate-and-replace.
    ///
    /// # Errors
    /// [`Error::Unsupported`] if the profile does not expose `operation`;
    /// [`Error::Preflight`] if the PDF cannot be read or `old_id` is malformed.
    pub fn prepare_document(
        &self,
        operation: Operation,
        upload: &DocumentUpload,
        old_id: Option<&str>,
        ctx: &CallContext,
    ) -> Result<PreparedCall> {
        self.require(operation)?;
        if !operation.sends_document() {
            return Err(Error::Preflight(preflight::PreflightError::new(
                "operation",
                format!("{} does not send a document", operation.name()),
            )));
        }
        let facts = match &upload.facts {
            Some(f) => f.clone(),
            None => self
                .inspector
                .inspect(&upload.pdf)
                .map_err(|r| preflight::PreflightError::new("file", r))?,
        };
        let path_id = if operation.refers_to_published_document() {
            Some(old_id.ok_or_else(|| {
                preflight::PreflightError::new(
                    "idDoc",
                    "the id of the document to replace is required",
                )
            })?)
        } else {
            None
        };
        let path = self.path(operation, path_id)?;
        let signature = self.signature_claims(operation, ctx, Some(&facts), Some(&upload.pdf));
        let document_id = upload
            .body
            .get("identificativoDoc")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .or_else(|| path_id.map(str::to_owned));
        let workflow_instance_id = ctx.workflow_instance_id.clone().or_else(|| {
            upload
                .body
                .get("workflowInstanceId")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        });
        Ok(PreparedCall {
            operation,
            path,
            body: PreparedBody::Multipart {
                request_body: upload.body.clone(),
                pdf: upload.pdf.clone(),
                file_name: upload.file_name.clone(),
            },
            document_id,
            path_id: path_id.map(str::to_owned),
            bearer: self.bearer_claims(ctx),
            signature: Some(signature),
            facts: Some(facts),
            callback_url: ctx.callback_url.clone(),
            workflow_instance_id,
        })
    }

    /// Prepares a delete of `document_id`.
    ///
    /// # Errors
    /// [`Error::Unsupported`], or [`Error::Preflight`] for a malformed id.
    pub fn prepare_delete(&self, document_id: &str, ctx: &CallContext) -> Result<PreparedCall> {
        self.require(Operation::Delete)?;
        Ok(PreparedCall {
            operation: Operation::Delete,
            path: self.path(Operation::Delete, Some(document_id))?,
            body: PreparedBody::Empty,
            document_id: Some(document_id.to_owned()),
            path_id: Some(document_id.to_owned()),
            bearer: self.bearer_claims(ctx),
            signature: Some(self.signature_claims(Operation::Delete, ctx, None, None)),
            facts: None,
            callback_url: None,
            workflow_instance_id: ctx.workflow_instance_id.clone(),
        })
    }

    /// Prepares a metadata update of `document_id` with `body`.
    ///
    /// # Errors
    /// [`Error::Unsupported`], [`Error::Json`], or [`Error::Preflight`] for a malformed id.
    pub fn prepare_update_metadata(
        &self,
        document_id: &str,
        body: &impl Serialize,
        ctx: &CallContext,
    ) -> Result<PreparedCall> {
        let operation = self.settings.profile.metadata_operation();
        self.require(operation)?;
        let body = serde_json::to_value(body).map_err(Error::json("metadata body"))?;
        Ok(PreparedCall {
            operation,
            path: self.path(operation, Some(document_id))?,
            body: PreparedBody::Json(body),
            document_id: Some(document_id.to_owned()),
            path_id: Some(document_id.to_owned()),
            bearer: self.bearer_claims(ctx),
            signature: Some(self.signature_claims(operation, ctx, None, None)),
            facts: None,
            callback_url: None,
            workflow_instance_id: ctx.workflow_instance_id.clone(),
        })
    }

    /// Prepares a status read by workflowInstanceId or by traceId.
    ///
    /// # Errors
    /// [`Error::Unsupported`], or [`Error::Preflight`] for a malformed id.
    pub fn prepare_status(
        &self,
        operation: Operation,
        id: &str,
        ctx: &CallContext,
    ) -> Result<PreparedCall> {
        if !operation.is_status() {
            return Err(Error::Preflight(preflight::PreflightError::new(
                "operation",
                format!("{} is not a status read", operation.name()),
            )));
        }
        self.require(operation)?;
        Ok(PreparedCall {
            operation,
            path: self.path(operation, Some(id))?,
            body: PreparedBody::Empty,
            document_id: None,
            path_id: Some(id.to_owned()),
            bearer: self.bearer_claims(ctx),
            signature: None,
            facts: None,
            callback_url: None,
            workflow_instance_id: (operation == Operation::StatusByWorkflow).then(|| id.to_owned()),
        })
    }

    fn path(&self, operation: Operation, id: Option<&str>) -> Result<String> {
        let refuse = |field: &str, reason: String| {
            Error::Preflight(preflight::PreflightError::new(field, reason))
        };
        let raw = id.unwrap_or_default();
        match operation.path_parameter() {
            Some("idDoc") => {
                fse_model::DocumentId::parse(raw).map_err(|e| refuse("idDoc", e.to_string()))?;
            }
            Some("workflowInstanceId") => {
                fse_model::WorkflowInstanceId::parse(raw)
                    .map_err(|e| refuse("workflowInstanceId", e.to_string()))?;
            }
            Some("traceId")
                if raw.is_empty()
                    || raw.chars().count() > 100
                    || raw.chars().any(char::is_control) =>
            {
                return Err(refuse(
                    "traceId",
                    "must be 1 to 100 characters without control characters".to_owned(),
                ));
            }
            _ => {}
        }
        operation
            .path(id.filter(|_| operation.path_parameter().is_some()))
            .ok_or_else(|| refuse("path", format!("no path for {}", operation.name())))
    }

    // ----- checking and sending -----

    /// Runs the pre-flight on a prepared call: every check the Gateway
    /// makes that can be made here. Nothing is sent.
    ///
    /// # Errors
    /// [`Error::Preflight`] naming the field.
    pub fn preflight(&self, call: &PreparedCall) -> Result<()> {
        if self.signer.is_none() {
            return Err(Error::Preflight(preflight::PreflightError::new(
                "signing",
                "no JWT signing identity configured (signing.certificate or signing.pkcs12)",
            )));
        }
        preflight::check(&PreflightInput {
            operation: call.operation,
            profile: &self.settings.profile,
            bearer: &call.bearer,
            signature: call.signature.as_ref(),
            body: call.json_body(),
            pdf: call.pdf().map(|b| b.as_ref()),
            path_id: call.path_id.as_deref(),
            facts: call.facts.as_ref(),
        })?;
        Ok(())
    }

    /// Pre-flights and sends a prepared call, retrying what may be retried.
    ///
    /// # Errors
    /// See [`Error`]: nothing-sent errors, [`Error::Rejected`],
    /// [`Error::Frontier`], [`Error::Transport`], [`Error::Uncertain`].
    pub async fn send(&self, call: &PreparedCall) -> Result<Reply<serde_json::Value>> {
        self.require(call.operation)?;
        self.preflight(call)?;
        let policy = self.settings.retry;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.attempt(call, attempt).await? {
                Attempt::Done(response) => return Ok(*response),
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry { error, retry_after } => {
                    match policy.delay(attempt, retry_after, self.clock.random_unit()) {
                        Some(wait) => {
                            tracing::info!(
                                operation = %call.operation.name(),
                                attempt,
                                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                                "retrying"
                            );
                            self.clock.sleep(wait).await;
                        }
                        None => return Err(error),
                    }
                }
            }
        }
    }

    fn build_request(&self, call: &PreparedCall) -> Result<reqwest::Request> {
        let signer = self.signer.as_ref().ok_or_else(|| {
            Error::Preflight(preflight::PreflightError::new(
                "signing",
                "no JWT signing identity configured",
            ))
        })?;
        let stamp = Stamp::new(self.clock.now(), self.settings.signing.token_lifetime);
        let mut bearer = call.bearer.clone();
        bearer.iat = stamp.iat;
        bearer.exp = stamp.exp;
        bearer.jti = stamp.jti;
        let url = format!("{}{}", self.settings.profile.base_url, call.path);
        let mut req = self
            .http
            .request(
                http::Method::from_bytes(call.operation.method().as_bytes())
                    .unwrap_or(http::Method::GET),
                &url,
            )
            .header(http::header::ACCEPT, "application/json")
            .bearer_auth(signer.sign(&bearer)?);
        if let Some(claims) = &call.signature {
            let stamp = Stamp::new(self.clock.now(), self.settings.signing.token_lifetime);
            let mut claims = claims.clone();
            claims.iat = stamp.iat;
            claims.exp = stamp.exp;
            claims.jti = stamp.jti;
            req = req.header(SIGNATURE_HEADER, signer.sign(&claims)?);
        }
        if let Some(cb) = &call.callback_url {
            req = req.header(CALLBACK_HEADER, cb);
        }
        req = match &call.body {
            PreparedBody::Empty => req,
            PreparedBody::Json(v) => req.json(v),
            PreparedBody::Multipart {
                request_body,
                pdf,
                file_name,
            } => {
                let text =
                    serde_json::to_string(request_body).map_err(Error::json("requestBody"))?;
                let file = reqwest::multipart::Part::bytes(pdf.to_vec())
                    .file_name(file_name.clone())
                    .mime_str("application/pdf")
                    .map_err(|source| Error::HttpClient { source })?;
                // `requestBody` is read with getParameter(): a plain form
                // field, no filename, no content type.
                let form = reqwest::multipart::Form::new()
                    .text("requestBody", text)
                    .part("file", file);
                req.multipart(form)
            }
        };
        req.build().map_err(|source| Error::HttpClient { source })
    }

    fn record(
        &self,
        call: &PreparedCall,
        attempt: u32,
        request_at: OffsetDateTime,
    ) -> JournalRecord {
        JournalRecord {
            profile: self.settings.profile.name.clone(),
            operation: call.operation.name(),
            method: call.operation.method().to_string(),
            path: call.path.clone(),
            attempt,
            request_at,
            response_at: None,
            http_status: None,
            cart_id: None,
            trace_id: None,
            span_id: None,
            workflow_instance_id: None,
            problem_type: None,
            govway_id: None,
            document_id: call.document_id.clone(),
            attachment_hash: call
                .signature
                .as_ref()
                .and_then(|s| s.attachment_hash.clone()),
            outcome: Outcome::TransportFailure,
            error: None,
        }
    }

    fn append(&self, record: &JournalRecord) -> Result<u64> {
        self.journal
            .append(record)
            .map(|e| e.seq)
            .map_err(|source| Error::NotJournaled {
                outcome: describe_record(record),
                source,
            })
    }

    fn uncertain(
        &self,
        call: &PreparedCall,
        reason: String,
        record: &JournalRecord,
        seq: Option<u64>,
    ) -> UncertainOutcome {
        UncertainOutcome {
            operation: call.operation,
            profile: self.settings.profile.name.clone(),
            reason,
            http_status: record.http_status,
            document_id: call.document_id.clone(),
            attachment_hash: record.attachment_hash.clone(),
            workflow_instance_id: record
                .workflow_instance_id
                .clone()
                .or_else(|| call.workflow_instance_id.clone()),
            trace_id: record.trace_id.clone(),
            cart_id: record.cart_id.clone(),
            request_at: record.request_at,
            journal_seq: seq,
            profile_has_status: self.settings.profile.has_status(),
        }
    }

    async fn attempt(&self, call: &PreparedCall, attempt: u32) -> Result<Attempt> {
        let request = self.build_request(call)?;
        let request_at = self.clock.now();
        let mut record = self.record(call, attempt, request_at);
        let response = match self.http.execute(request).await {
            Ok(r) => r,
            Err(e) => return self.no_response(call, attempt, record, &e),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        record.http_status = Some(status);
        record.cart_id = header(&headers, CART_ID_HEADER);
        let body = match read_body(response).await {
            Ok(b) => b,
            // The status line came but the body broke off.
            Err(e) => return self.no_response(call, attempt, record, &e),
        };
        let response_at = self.clock.now();
        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let ids = json.as_ref().map(BodyIds::of).unwrap_or_default();
        let retry_after =
            header(&headers, "retry-after").and_then(|v| parse_retry_after(&v, response_at));
        let success = (200..300).contains(&status);
        let problem = (!success).then(|| Problem::from_response(status, &body));
        let advice = problem.as_ref().map(|p| p.advice(call.operation));
        let write = call.operation.changes_state();
        let mut meta = ResponseMeta {
            status,
            cart_id: record.cart_id.clone(),
            trace_id: ids.trace_id.clone(),
            span_id: ids.span_id.clone(),
            workflow_instance_id: ids.workflow_instance_id.clone(),
            govway_id: problem
                .as_ref()
                .and_then(|p| p.govway_id.clone())
                .or_else(|| header(&headers, GOVWAY_TRANSACTION_HEADER)),
            problem_type: problem.as_ref().and_then(|p| p.problem_type.clone()),
            retry_after,
            warnings: json.as_ref().map(warnings_of).unwrap_or_default(),
            journal_seq: None,
            attempts: attempt,
            headers,
        };
        record.response_at = Some(response_at);
        record.trace_id = meta.trace_id.clone();
        record.span_id = meta.span_id.clone();
        record.workflow_instance_id = meta.workflow_instance_id.clone();
        record.problem_type = meta.problem_type.clone();
        record.govway_id = meta.govway_id.clone();
        // The outcome is decided before journaling, so the entry says it.
        record.outcome = match (&problem, advice) {
            (None, _) if json.is_none() && write => Outcome::Uncertain,
            (None, _) => Outcome::Accepted,
            (Some(_), Some(a)) if a.outcome_uncertain && write => Outcome::Uncertain,
            (Some(p), _) if p.source == ProblemSource::Gateway => Outcome::Rejected,
            (Some(_), _) => Outcome::Frontier,
        };
        let seq = self.append(&record)?;
        meta.journal_seq = Some(seq);
        tracing::info!(
            operation = %call.operation.name(),
            status,
            cart_id = meta.cart_id.as_deref().unwrap_or("-"),
            trace_id = meta.trace_id.as_deref().unwrap_or("-"),
            outcome = %record.outcome,
            "gateway response"
        );
        match (record.outcome, problem, advice) {
            (Outcome::Accepted, _, _) => match json {
                Some(body) => Ok(Attempt::Done(Box::new(Reply { body, meta }))),
                None => Ok(Attempt::Fail(Error::InvalidResponse {
                    operation: call.operation.name(),
                    status,
                    reason: "the body is not JSON".to_owned(),
                })),
            },
            (Outcome::Uncertain, _, _) => {
                let reason = if success {
                    format!("HTTP {status} with a body that is not JSON")
                } else {
                    format!(
                        "HTTP {status}{} after the request was sent",
                        meta.problem_type
                            .as_deref()
                            .map(|t| format!(" {t}"))
                            .unwrap_or_default()
                    )
                };
                Ok(Attempt::Fail(Error::Uncertain(Box::new(self.uncertain(
                    call,
                    reason,
                    &record,
                    Some(seq),
                )))))
            }
            (outcome, Some(problem), Some(advice)) => {
                let retryable = advice.retry == Retry::Backoff && !advice.outcome_uncertain;
                let rejection = Box::new(Rejection {
                    operation: call.operation,
                    meta,
                    problem,
                    advice,
                });
                let error = if outcome == Outcome::Rejected {
                    Error::Rejected(rejection)
                } else {
                    Error::Frontier(rejection)
                };
                Ok(if retryable {
                    Attempt::Retry { error, retry_after }
                } else {
                    Attempt::Fail(error)
                })
            }
            _ => Ok(Attempt::Fail(Error::InvalidResponse {
                operation: call.operation.name(),
                status,
                reason: "unclassified answer".to_owned(),
            })),
        }
    }

    fn no_response(
        &self,
        call: &PreparedCall,
        attempt: u32,
        mut record: JournalRecord,
        error: &reqwest::Error,
    ) -> Result<Attempt> {
        let kind = classify(error);
        let message = error_chain(error);
        record.response_at = Some(self.clock.now());
        record.error = Some(format!("{kind:?}: {message}"));
        let uncertain = call.operation.changes_state() && !kind.nothing_sent();
        record.outcome = if uncertain {
            Outcome::Uncertain
        } else {
            Outcome::TransportFailure
        };
        let seq = self.append(&record)?;
        tracing::warn!(operation = %call.operation.name(), attempt, kind = ?kind, "no response");
        if uncertain {
            let reason = match kind {
                TransportFailureKind::Timeout => "timed out after the request was sent".to_owned(),
                _ => format!("the connection broke after the request was sent ({message})"),
            };
            return Ok(Attempt::Fail(Error::Uncertain(Box::new(self.uncertain(
                call,
                reason,
                &record,
                Some(seq),
            )))));
        }
        let failure = Error::Transport(Box::new(TransportFailure {
            operation: call.operation,
            kind,
            message,
            attempts: attempt,
            journal_seq: Some(seq),
        }));
        // A TLS failure is a configuration matter: retrying does not help.
        if kind == TransportFailureKind::Tls {
            Ok(Attempt::Fail(failure))
        } else {
            Ok(Attempt::Retry {
                error: failure,
                retry_after: None,
            })
        }
    }

    // ----- the operations -----

    fn typed<T: serde::de::DeserializeOwned>(
        operation: Operation,
        reply: Reply<serde_json::Value>,
    ) -> Result<Reply<T>> {
        let Reply { body, meta } = reply;
        match serde_json::from_value(body) {
            Ok(body) => Ok(Reply { body, meta }),
            Err(e) => Err(Error::InvalidResponse {
                operation: operation.name(),
                status: meta.status,
                reason: e.to_string(),
            }),
        }
    }

    /// Prepares and sends a document call, the answer typed.
    async fn document_call(
        &self,
        operation: Operation,
        upload: &DocumentUpload,
        old_id: Option<&str>,
        ctx: &CallContext,
    ) -> Result<Reply<GatewayResponse>> {
        let call = self.prepare_document(operation, upload, old_id, ctx)?;
        Self::typed(operation, self.send(&call).await?)
    }

    /// `POST /documents/validation`; the upload's body says `activity`
    /// (`VERIFICA` or `VALIDATION`).
    ///
    /// # Errors
    /// As [`GatewayClient::send`].
    pub async fn validate(
        &self,
        upload: &DocumentUpload,
        ctx: &CallContext,
    ) -> Result<Reply<GatewayResponse>> {
        self.document_call(Operation::Validate, upload, None, ctx)
            .await
    }

    /// `POST /documents` (after a validation; `workflowInstanceId` in the body).
    ///
    /// # Errors
    /// As [`GatewayClient::send`].
    pub async fn create(
        &self,
        upload: &DocumentUpload,
        ctx: &CallContext,
    ) -> Result<Reply<GatewayResponse>> {
        self.document_call(Operation::Create, upload, None, ctx)
            .await
    }

    /// `POST /documents/validate-and-create`.
    ///
    /// # Errors
    /// As [`GatewayClient::send`].
    pub async fn validate_and_create(
        &self,
        upload: &DocumentUpload,
        ctx: &CallContext,
    ) -> Result<Reply<GatewayResponse>> {
        self.document_call(Operation::ValidateAndCreate, upload, None, ctx)
            .await
    }

    /// `PUT /documents/{old_id}`: replaces `old_id` with the uploaded document.
    ///
    /// # Errors
    /// As [`GatewayClient::send`].
    pub async fn replace(
        &self,
        old_id: &str,
        upload: &DocumentUpload,
        ctx: &CallContext,
    ) -> Result<Reply<GatewayResponse>> {
        self.document_call(Operation::Replace, upload, Some(old_id), ctx)
            .await
    }

    /// `PUT /documents/validate-and-replace/{old_id}`.
    ///
    /// # Errors
    /// As [`GatewayClient::send`].
    pub async fn validate_and_replace(
        &self,
        old_id: &str,
        upload: &DocumentUpload,
        ctx: &CallContext,
    ) -> Result<Reply<GatewayResponse>> {
        self.document_call(Operation::ValidateAndReplace, upload, Some(old_id), ctx)
            .await
    }

    /// `DELETE /documents/{document_id}`.
    ///
    /// # Errors
    /// As [`GatewayClient::send`].
    pub async fn delete(
        &self,
        document_id: &str,
        ctx: &CallContext,
    ) -> Result<Reply<GatewayResponse>> {
        let call = self.prepare_delete(document_id, ctx)?;
        Self::typed(Operation::Delete, self.send(&call).await?)
    }

    /// `PUT /documents/{document_id}/metadata` or `/metadata-iti-57`, as the
    /// profile serves it.
    ///
    /// # Errors
    /// As [`GatewayClient::send`].
    pub async fn update_metadata(
        &self,
        document_id: &str,
        body: &impl Serialize,
        ctx: &CallContext,
    ) -> Result<Reply<GatewayResponse>> {
        let call = self.prepare_update_metadata(document_id, body, ctx)?;
        Self::typed(call.operation, self.send(&call).await?)
    }

    /// `GET /status/{workflowInstanceId}`.
    ///
    /// # Errors
    /// As [`GatewayClient::send`].
    pub async fn status_by_workflow(
        &self,
        wii: &str,
        ctx: &CallContext,
    ) -> Result<Reply<TransactionStatus>> {
        let call = self.prepare_status(Operation::StatusByWorkflow, wii, ctx)?;
        Self::typed(Operation::StatusByWorkflow, self.send(&call).await?)
    }

    /// `GET /status/search/{traceId}`.
    ///
    /// # Errors
    /// As [`GatewayClient::send`].
    pub async fn status_by_trace(
        &self,
        trace_id: &str,
        ctx: &CallContext,
    ) -> Result<Reply<TransactionStatus>> {
        let call = self.prepare_status(Operation::StatusByTrace, trace_id, ctx)?;
        Self::typed(Operation::StatusByTrace, self.send(&call).await?)
    }

    /// Publishes a document the way the profile wants it: validation
    /// (`VALIDATION`) then create with the returned workflowInstanceId where
    /// both are exposed (national), else validate-and-create (CART).
    ///
    /// `validation_pdf` is the PDF to validate when it differs from the one
    /// published (the unsigned one, which avoids `SIGN_WARN`); the CDA
    /// inside must be the same.
    ///
    /// # Errors
    /// As [`GatewayClient::send`]; an uncertain create carries the
    /// workflowInstanceId, so [`GatewayClient::reconcile`] can settle it.
    pub async fn publish(
        &self,
        upload: &DocumentUpload,
        validation_pdf: Option<Bytes>,
        ctx: &CallContext,
    ) -> Result<PublishReport> {
        let plan = self.publish_plan(upload, validation_pdf, ctx)?;
        self.execute(plan).await
    }

    /// Replaces the published document `old_id` the way the profile wants
    /// it: validation then replace (national), validate-and-replace, or a
    /// plain replace (CART).
    ///
    /// # Errors
    /// As [`GatewayClient::publish`].
    pub async fn replace_document(
        &self,
        old_id: &str,
        upload: &DocumentUpload,
        validation_pdf: Option<Bytes>,
        ctx: &CallContext,
    ) -> Result<PublishReport> {
        let plan = self.replace_plan(old_id, upload, validation_pdf, ctx)?;
        self.execute(plan).await
    }

    /// Runs a plan of [`GatewayClient::publish_plan`] or
    /// [`GatewayClient::replace_plan`].
    ///
    /// # Errors
    /// As [`GatewayClient::send`].
    pub async fn execute(&self, plan: PublishPlan) -> Result<PublishReport> {
        match plan {
            PublishPlan::TwoSteps {
                validation,
                publication,
            } => {
                let validation = Self::typed::<GatewayResponse>(
                    Operation::Validate,
                    self.send(&validation).await?,
                )?;
                let wii = validation
                    .meta
                    .workflow_instance_id
                    .clone()
                    .ok_or_else(|| Error::InvalidResponse {
                        operation: Operation::Validate.name(),
                        status: validation.meta.status,
                        reason: "no workflowInstanceId in the validation answer".to_owned(),
                    })?;
                let publication = with_workflow(*publication, &wii);
                let operation = publication.operation;
                let publication = Self::typed(operation, self.send(&publication).await?)?;
                Ok(PublishReport {
                    validation: Some(validation),
                    publication,
                })
            }
            PublishPlan::OneStep(call) => Ok(PublishReport {
                validation: None,
                publication: Self::typed(call.operation, self.send(&call).await?)?,
            }),
        }
    }

    /// The calls [`GatewayClient::publish`] will make, prepared (for a dry
    /// run): validation (`activity: VALIDATION`) and create where the
    /// profile exposes both — the create's `workflowInstanceId` is filled
    /// from the validation's answer — else validate-and-create.
    ///
    /// # Errors
    /// As [`GatewayClient::prepare_document`]; [`Error::Unsupported`] when
    /// the profile exposes neither way.
    pub fn publish_plan(
        &self,
        upload: &DocumentUpload,
        validation_pdf: Option<Bytes>,
        ctx: &CallContext,
    ) -> Result<PublishPlan> {
        let profile = &self.settings.profile;
        if profile.exposes(Operation::Validate) && profile.exposes(Operation::Create) {
            self.two_steps(Operation::Create, None, upload, validation_pdf, ctx)
        } else {
            Ok(PublishPlan::OneStep(Box::new(self.prepare_document(
                Operation::ValidateAndCreate,
                upload,
                None,
                ctx,
            )?)))
        }
    }

    /// The calls [`GatewayClient::replace_document`] will make, prepared:
    /// validation then replace where both are exposed, else
    /// validate-and-replace, else a plain replace.
    ///
    /// # Errors
    /// As [`GatewayClient::publish_plan`].
    pub fn replace_plan(
        &self,
        old_id: &str,
        upload: &DocumentUpload,
        validation_pdf: Option<Bytes>,
        ctx: &CallContext,
    ) -> Result<PublishPlan> {
        let profile = &self.settings.profile;
        let one = |op| -> Result<PublishPlan> {
            Ok(PublishPlan::OneStep(Box::new(self.prepare_document(
                op,
                upload,
                Some(old_id),
                ctx,
            )?)))
        };
        if profile.exposes(Operation::Validate) && profile.exposes(Operation::Replace) {
            self.two_steps(
                Operation::Replace,
                Some(old_id),
                upload,
                validation_pdf,
                ctx,
            )
        } else if profile.exposes(Operation::ValidateAndReplace) {
            one(Operation::ValidateAndReplace)
        } else {
            one(Operation::Replace)
        }
    }

    fn two_steps(
        &self,
        operation: Operation,
        old_id: Option<&str>,
        upload: &DocumentUpload,
        validation_pdf: Option<Bytes>,
        ctx: &CallContext,
    ) -> Result<PublishPlan> {
        let mut validation_upload = DocumentUpload {
            pdf: validation_pdf.unwrap_or_else(|| upload.pdf.clone()),
            file_name: upload.file_name.clone(),
            body: serde_json::json!({
                "activity": "VALIDATION",
                "mode": upload.body.get("mode").cloned().unwrap_or_else(|| "ATTACHMENT".into()),
                "healthDataFormat": "CDA",
            }),
            facts: upload.facts.clone(),
        };
        if validation_upload.pdf != upload.pdf {
            // The facts of the signed PDF include its signature; the
            // unsigned one is read on its own.
            validation_upload.facts = None;
        }
        // The validation's action says what follows it.
        let validation_ctx = CallContext {
            action_id: Some(if operation == Operation::Create {
                ActionId::Create
            } else {
                ActionId::Update
            }),
            purpose_of_use: None,
            ..ctx.clone()
        };
        let validation = self.prepare_document(
            Operation::Validate,
            &validation_upload,
            None,
            &validation_ctx,
        )?;
        let publication = self.prepare_document(operation, upload, old_id, ctx)?;
        Ok(PublishPlan::TwoSteps {
            validation: Box::new(validation),
            publication: Box::new(publication),
        })
    }

    /// Every pre-flight refusal of a prepared call (the dry run's report);
    /// empty when it would be sent.
    pub fn preflight_all(&self, call: &PreparedCall) -> Vec<PreflightError> {
        let mut out = Vec::new();
        if self.signer.is_none() {
            out.push(PreflightError::new(
                "signing",
                "no JWT signing identity configured (signing.certificate or signing.pkcs12)",
            ));
        }
        out.extend(preflight::check_all(&PreflightInput {
            operation: call.operation,
            profile: &self.settings.profile,
            bearer: &call.bearer,
            signature: call.signature.as_ref(),
            body: call.json_body(),
            pdf: call.pdf().map(|b| b.as_ref()),
            path_id: call.path_id.as_deref(),
            facts: call.facts.as_ref(),
        }));
        out
    }

    /// Settles an uncertain outcome through the transaction status: by
    /// traceId when known, else by workflowInstanceId. Without status on
    /// the profile, or without an id, says so with everything needed to ask.
    ///
    /// # Errors
    /// As [`GatewayClient::send`] for the status read (a 404 is
    /// [`Reconciliation::NotFound`], not an error).
    pub async fn reconcile(
        &self,
        outcome: &UncertainOutcome,
        ctx: &CallContext,
    ) -> Result<Reconciliation> {
        let profile = &self.settings.profile;
        let manual = |reason: &str| {
            Ok(Reconciliation::NeedsManual {
                reason: reason.to_owned(),
                outcome: Box::new(outcome.clone()),
            })
        };
        let read = match (&outcome.trace_id, &outcome.workflow_instance_id) {
            (Some(trace), _) if profile.exposes(Operation::StatusByTrace) => {
                self.status_by_trace(trace, ctx).await
            }
            (_, Some(wii)) if profile.exposes(Operation::StatusByWorkflow) => {
                self.status_by_workflow(wii, ctx).await
            }
            _ if !profile.has_status() => {
                return manual("this profile exposes no transaction status");
            }
            _ => return manual("no traceID or workflowInstanceId to search the status by"),
        };
        let status = match read {
            Ok(r) => r.body,
            Err(Error::Rejected(r)) if r.meta.status == 404 => {
                return Ok(Reconciliation::NotFound { events: Vec::new() });
            }
            Err(e) => return Err(e),
        };
        Ok(judge_events(outcome, status))
    }
}

/// The calls of a publication, prepared.
#[derive(Debug, Clone)]
pub enum PublishPlan {
    /// Validation, then create or replace with the validation's
    /// workflowInstanceId.
    TwoSteps {
        /// The validation.
        validation: Box<PreparedCall>,
        /// The create or replace (its `workflowInstanceId` is set after the
        /// validation).
        publication: Box<PreparedCall>,
    },
    /// One call: validate-and-create, validate-and-replace or replace.
    OneStep(Box<PreparedCall>),
}

/// Reads the events of a status answer for the operation of `outcome`.
fn judge_events(outcome: &UncertainOutcome, status: TransactionStatus) -> Reconciliation {
    let events: Vec<StatusEvent> = status.events.unwrap_or_default();
    let Some(wanted) = outcome.operation.status_event_type() else {
        return Reconciliation::NotFound { events };
    };
    let relevant: Vec<&StatusEvent> = events
        .iter()
        .filter(|e| e.event_type.as_ref() == Some(&wanted))
        // When the event names its document, it must be ours.
        .filter(|e| match (&e.document_id, &outcome.document_id) {
            (Some(have), Some(want)) => have == want,
            _ => true,
        })
        .collect();
    let any = |s: EventStatus| relevant.iter().any(|e| e.event_status.as_ref() == Some(&s));
    if any(EventStatus::Success) {
        Reconciliation::Applied { events }
    } else if any(EventStatus::BlockingError) {
        Reconciliation::Failed { events }
    } else if relevant.is_empty() {
        Reconciliation::NotFound { events }
    } else {
        Reconciliation::InProgress { events }
    }
}

fn with_workflow(mut call: PreparedCall, wii: &str) -> PreparedCall {
    if let PreparedBody::Multipart { request_body, .. } = &mut call.body
        && let Some(obj) = request_body.as_object_mut()
    {
        obj.insert(
            "workflowInstanceId".to_owned(),
            serde_json::Value::String(wii.to_owned()),
        );
    }
    call.workflow_instance_id = Some(wii.to_owned());
    call
}

/// A bare fiscal code becomes the CX form the claims want; a CX stays as is.
pub fn to_cx(value: &str) -> String {
    if value.is_empty() || value.contains('^') {
        value.to_owned()
    } else {
        format!("{value}^^^&{}&ISO", crate::inspect::MEF_FISCAL_CODE_ROOT)
    }
}

/// Percent-encodes a path segment (everything but RFC 3986 unreserved).
pub fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn header(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

async fn read_body(
    mut response: reqwest::Response,
) -> std::result::Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            // Keep what fits: the ids are at the start of every Gateway body.
            let room = MAX_RESPONSE_BYTES - body.len();
            body.extend_from_slice(&chunk[..room]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Every error under `error`: its sources, and the errors io::Error wraps
/// (whose own `source()` skips them).
fn error_tree<'e>(
    error: &'e (dyn std::error::Error + 'static),
    out: &mut Vec<&'e (dyn std::error::Error + 'static)>,
) {
    if out.len() > 32 {
        return;
    }
    out.push(error);
    if let Some(io) = error.downcast_ref::<std::io::Error>()
        && let Some(inner) = io.get_ref()
    {
        error_tree(inner, out);
    }
    if let Some(source) = error.source() {
        error_tree(source, out);
    }
}

fn classify(error: &reqwest::Error) -> TransportFailureKind {
    let mut all = Vec::new();
    error_tree(error, &mut all);
    let tls = all
        .iter()
        .any(|e| e.downcast_ref::<rustls::Error>().is_some());
    let reset = all.iter().any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            )
        })
    });
    if error.is_timeout() {
        TransportFailureKind::Timeout
    } else if tls {
        TransportFailureKind::Tls
    } else if error.is_connect() && !reset {
        TransportFailureKind::Connect
    } else {
        TransportFailureKind::Broken
    }
}

fn error_chain(error: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&e.to_string());
        source = e.source();
    }
    // URLs in reqwest messages carry document ids, not patient data; fiscal
    // codes are masked all the same.
    crate::mask::mask_fiscal_codes(&out)
}

fn describe_record(record: &JournalRecord) -> String {
    format!(
        "{} {} {} status {:?} X-Cart-id {:?} traceID {:?} workflowInstanceId {:?} outcome {}",
        record.operation,
        record.method,
        record.path,
        record.http_status,
        record.cart_id,
        record.trace_id,
        record.workflow_instance_id,
        record.outcome
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cx_form() {
        assert_eq!(
            to_cx("RSSMRA80A01H501U"),
            "RSSMRA80A01H501U^^^&2.16.840.1.113883.2.9.4.3.2&ISO"
        );
        assert_eq!(to_cx("X^^^&1.2&ISO"), "X^^^&1.2&ISO");
        assert_eq!(to_cx(""), "");
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("a^b c/d"), "a%5Eb%20c%2Fd");
    }

    fn outcome() -> UncertainOutcome {
        UncertainOutcome {
            operation: Operation::Create,
            profile: "p".into(),
            reason: "r".into(),
            http_status: None,
            document_id: Some("1.2^A".into()),
            attachment_hash: None,
            workflow_instance_id: None,
            trace_id: None,
            cart_id: None,
            request_at: OffsetDateTime::UNIX_EPOCH,
            journal_seq: None,
            profile_has_status: true,
        }
    }

    #[test]
    fn events_are_judged() {
        let status = |events: &[(&str, &str, &str)]| -> TransactionStatus {
            let list: Vec<serde_json::Value> = events
                .iter()
                .map(|(t, s, d)| serde_json::json!({"eventType": t, "eventStatus": s, "identificativoDocumento": d}))
                .collect();
            serde_json::from_value(serde_json::json!({"traceID": "t", "transactionData": list}))
                .unwrap_or_else(|e| panic!("status: {e}"))
        };
        let o = outcome();
        assert!(matches!(
            judge_events(
                &o,
                status(&[
                    ("VALIDATION", "SUCCESS", "1.2^A"),
                    ("PUBLICATION", "SUCCESS", "1.2^A")
                ])
            ),
            Reconciliation::Applied { .. }
        ));
        assert!(matches!(
            judge_events(&o, status(&[("PUBLICATION", "BLOCKING_ERROR", "1.2^A")])),
            Reconciliation::Failed { .. }
        ));
        assert!(matches!(
            judge_events(&o, status(&[("PUBLICATION", "ASYNC_RETRY", "1.2^A")])),
            Reconciliation::InProgress { .. }
        ));
        assert!(matches!(
            judge_events(
                &o,
                status(&[
                    ("VALIDATION", "SUCCESS", "1.2^A"),
                    ("PUBLICATION", "SUCCESS", "9^Z")
                ])
            ),
            Reconciliation::NotFound { .. }
        ));
    }
}
