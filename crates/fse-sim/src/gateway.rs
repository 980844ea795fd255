//! The national Gateway v1 operations, with the dispatcher's checks and
//! error catalogue (see the crate docs for what is and is not simulated).

// Every step answers with a `Response`, success or refusal.
#![allow(clippy::result_large_err)]

use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::response::Response;
use fse_cda::xml::Document;
use fse_model::problem::NationalErrorType;
use fse_model::{DocumentId, WorkflowInstanceId};
use http::{HeaderMap, StatusCode};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::body::{self, Activity, Mode, PublicationBody};
use crate::callback::Notifier;
use crate::claims::{self, Claims};
use crate::clock::Clock;
use crate::codes;
use crate::engine::{CdaEngine, CdaFacts, PdfInspector, SignatureState, Verdict};
use crate::jwt;
use crate::operation::Operation;
use crate::problem::{self, CallOutcome, FrontProblem, Problem, Trace};
use crate::state::{
    DocumentStatus, HistoryEntry, MatchFailure, StatusEvent, Store, StoredDocument, event_date,
};

/// The warning when no extraction mode is given.
pub const WARNING_EXTRACT: &str =
    "[WARNING_EXTRACT]Attenzione, non è stata selezionata la modalità di estrazione del CDA";
/// The warning when a document is validated already signed.
pub const SIGN_WARN: &str = "[SIGN_WARN - Attenzione il documento risulta firmato in validazione]";

/// The Gateway's configuration.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The accepted JWT `aud` values.
    pub audiences: Vec<String>,
    /// The CAs the `x5c` certificates must chain to (DER).
    pub trust_anchors: Vec<Vec<u8>>,
    /// How long a validation can wait for its publication (5 days).
    pub validation_max_age: Duration,
}

/// The simulated Gateway: configuration, engines, state.
#[derive(Debug, Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: GatewayConfig,
    pdf: Arc<dyn PdfInspector>,
    cda: CdaEngine,
    store: Mutex<Store>,
    clock: Arc<dyn Clock>,
    notifier: Notifier,
}

// Handlers answer with a response either way; boxing the error side would
// only add noise.
type Answer = Result<Response, Response>;

/// Who and what a status event is about.
#[derive(Clone, Copy)]
struct EventSource<'a> {
    wii: &'a str,
    trace: &'a Trace,
    claims: &'a Claims,
    document_id: Option<&'a str>,
    tipo_attivita: Option<&'a str>,
}

impl Gateway {
    /// A Gateway over these engines and store.
    pub fn new(
        config: GatewayConfig,
        pdf: Arc<dyn PdfInspector>,
        cda: CdaEngine,
        store: Store,
        clock: Arc<dyn Clock>,
        notifier: Notifier,
    ) -> Self {
        Gateway {
            inner: Arc::new(Inner {
                config,
                pdf,
                cda,
                store: Mutex::new(store),
                clock,
                notifier,
            }),
        }
    }

    /// The store, locked.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.inner
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The CDA engine.
    pub fn cda_engine(&self) -> &CdaEngine {
        &self.inner.cda
    }

    fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    fn save(&self, store: &Store) {
        if let Err(e) = store.save() {
            tracing::error!("state file: {e}");
        }
    }

    // --- authentication -------------------------------------------------

    fn authenticate(
        &self,
        headers: &HeaderMap,
        op: Operation,
        trace: &Trace,
    ) -> Result<Claims, Response> {
        let missing_status = match op {
            Operation::Create | Operation::Replace | Operation::Delete => StatusCode::BAD_REQUEST,
            _ => StatusCode::FORBIDDEN,
        };
        let bearer = bearer_token(headers).ok_or_else(|| {
            Problem::new(
                NationalErrorType::MissingToken,
                "Il token Authorization Bearer non è stato fornito.",
            )
            .with_status(missing_status)
            .with_instance("/missing-jwt")
            .into_response(trace)
        })?;
        let signature = header_text(headers, "fse-jwt-signature").ok_or_else(|| {
            Problem::new(
                NationalErrorType::MissingToken,
                "Il token FSE-JWT-Signature non è stato fornito.",
            )
            .with_status(missing_status)
            .with_instance("/missing-jwt")
            .into_response(trace)
        })?;
        let bearer = self.verify_token(&bearer, "Authorization")?;
        let signature = self.verify_token(&signature, "FSE-JWT-Signature")?;
        claims::check_bearer(&bearer.claims, &bearer.signer_common_name)
            .map_err(|p| p.into_response(trace))?;
        claims::check_signature_claims(&signature.claims, op, &signature.signer_common_name)
            .map_err(|p| p.into_response(trace))
    }

    fn verify_token(&self, token: &str, header: &str) -> Result<jwt::VerifiedToken, Response> {
        let c = &self.inner.config;
        jwt::verify(token, &c.trust_anchors, &c.audiences, self.now()).map_err(|e| {
            FrontProblem::token(
                header,
                format!("Validazione del token {header} fallita: {e}"),
            )
            .into_response()
        })
    }

    fn authenticate_bearer_only(&self, headers: &HeaderMap, trace: &Trace) -> Result<(), Response> {
        let bearer = bearer_token(headers).ok_or_else(|| {
            Problem::new(
                NationalErrorType::MissingToken,
                "Il token Authorization Bearer non è stato fornito.",
            )
            .with_instance("/missing-jwt")
            .into_response(trace)
        })?;
        let bearer = self.verify_token(&bearer, "Authorization")?;
        claims::check_bearer(&bearer.claims, &bearer.signer_common_name)
            .map_err(|p| p.into_response(trace))
    }

    // --- shared steps ---------------------------------------------------

    /// Successful events, one a step, in order, for the same source.
    fn successes(&self, source: &EventSource<'_>, event_types: &[&str]) -> Vec<StatusEvent> {
        (0..)
            .zip(event_types)
            .map(|(offset, ty)| self.event(source, ty, "SUCCESS", None, offset))
            .collect()
    }

    fn event(
        &self,
        source: &EventSource<'_>,
        event_type: &str,
        status: &str,
        message: Option<String>,
        offset: i64,
    ) -> StatusEvent {
        let EventSource {
            wii,
            trace,
            claims,
            document_id,
            tipo_attivita,
        } = *source;
        let at = self.now() + Duration::milliseconds(offset);
        // Gateway events carry `+02:00`, downstream ones `+0200`: both are
        // seen in the field, and a client must read both.
        let downstream = matches!(
            event_type,
            "SEND_TO_INI" | "SEND_TO_UAR" | "UAR_FINAL_STATUS"
        ) || event_type.starts_with("INI_")
            || event_type.starts_with("EDS_");
        StatusEvent {
            event_type: event_type.to_owned(),
            event_date: event_date(at, downstream),
            event_status: status.to_owned(),
            message,
            identificativo_documento: document_id.map(str::to_owned),
            subject: Some(claims.subject.clone()),
            subject_role: Some(claims.subject_role.clone()),
            tipo_attivita: tipo_attivita.map(str::to_owned),
            organizzazione: Some(claims.organization_id.clone()),
            workflow_instance_id: wii.to_owned(),
            trace_id: trace.trace_id.clone(),
            issuer: Some(claims.issuer.clone()),
            expiring_date: event_date(at + Duration::days(365), false),
            extra: None,
        }
    }

    fn failure_event(
        &self,
        event_type: &str,
        wii: Option<&str>,
        trace: &Trace,
        claims: &Claims,
        problem: &Problem,
    ) {
        let Some(wii) = wii.or(problem.workflow_instance_id.as_deref()) else {
            return;
        };
        let ev = self.event(
            &EventSource {
                wii,
                trace,
                claims,
                document_id: None,
                tipo_attivita: None,
            },
            event_type,
            "BLOCKING_ERROR",
            Some(format!("{}: {}", problem.kind.type_uri(), problem.detail)),
            0,
        );
        let mut store = self.store();
        store.add_events([ev]);
        self.save(&store);
    }

    /// Extracts the CDA, as validation (415 for a non-PDF) or publication
    /// (400) does it. Returns the CDA and whether the mode was omitted.
    fn extract(
        &self,
        file: Option<&Bytes>,
        mode: Option<Mode>,
        validation: bool,
    ) -> Result<(Vec<u8>, bool), Problem> {
        let file = match file {
            Some(f) if !f.is_empty() => f,
            _ => {
                return Err(
                    Problem::new(NationalErrorType::EmptyFile, "Il file è vuoto.")
                        .with_instance("/empty-multipart-file"),
                );
            }
        };
        if !file.starts_with(b"%PDF") {
            let status = if validation {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            } else {
                StatusCode::BAD_REQUEST
            };
            return Err(Problem::new(
                NationalErrorType::DocumentType,
                "Il file deve essere un documento PDF.",
            )
            .with_status(status)
            .with_instance("/multipart-file"));
        }
        let cda = self.inner.pdf.extract(file, mode).map_err(|why| {
            Problem::new(
                NationalErrorType::CdaElement,
                format!("Nessun CDA trovato nel PDF: {why}."),
            )
            .with_instance("/cda-extraction")
        })?;
        Ok((cda, mode.is_none()))
    }

    fn parse_cda(&self, cda: &[u8]) -> Result<(Document, CdaFacts), Problem> {
        let doc = self.inner.cda.parse(cda).map_err(|why| {
            Problem::new(
                NationalErrorType::Syntax,
                format!("Il CDA non è un XML ben formato: {why}."),
            )
            .with_instance("/schema-validation")
        })?;
        let facts = self.inner.cda.facts(&doc);
        Ok((doc, facts))
    }

    fn validation_wii(facts: &CdaFacts) -> Result<String, Problem> {
        let Some((root, extension)) = &facts.document_id else {
            return Err(Problem::new(
                NationalErrorType::WorkflowIdErrorExtraction,
                "Impossibile ricavare il workflowInstanceId: ClinicalDocument/id senza @root o @extension.",
            ));
        };
        WorkflowInstanceId::for_validation(root, extension, nonce())
            .map(|w| w.as_str().to_owned())
            .map_err(|e| Problem::new(NationalErrorType::WorkflowIdErrorExtraction, e.to_string()))
    }

    fn run_validation(&self, doc: &Document, wii: &str) -> Result<Vec<String>, Problem> {
        match self.inner.cda.validate(doc) {
            Verdict::Accepted(warnings) => Ok(warnings),
            Verdict::Syntax(d) => {
                Err(Problem::new(NationalErrorType::Syntax, d).with_workflow(Some(wii)))
            }
            Verdict::Semantic(d) => Err(Problem::new(NationalErrorType::Semantic, d)
                .with_instance("/schematron-malformed/error")
                .with_workflow(Some(wii))),
            Verdict::Vocabulary(d) => {
                Err(Problem::new(NationalErrorType::Vocabulary, d).with_workflow(Some(wii)))
            }
        }
    }

    fn check_signature(&self, file: &[u8], claims: &Claims) -> Result<(), Problem> {
        // Documents sent by Sistema TS are not checked.
        if claims.issuer == "integrity:S1#TS" {
            return Ok(());
        }
        match self.inner.pdf.signature(file) {
            SignatureState::Valid => Ok(()),
            SignatureState::Unsigned => Err(Problem::new(
                NationalErrorType::SignError,
                "Il pdf non risulta firmato",
            )),
            SignatureState::Invalid(why) => Err(Problem::new(
                NationalErrorType::SignError,
                format!("La firma del pdf non risulta valida: {why}"),
            )),
        }
    }

    // --- operations -----------------------------------------------------

    /// `POST /documents/validation`.
    pub async fn validation(&self, headers: HeaderMap, request: Request) -> Response {
        let trace = Trace::new();
        self.validation_inner(&headers, request, &trace)
            .await
            .unwrap_or_else(|r| r)
    }

    async fn validation_inner(
        &self,
        headers: &HeaderMap,
        request: Request,
        trace: &Trace,
    ) -> Answer {
        let claims = self.authenticate(headers, Operation::Validation, trace)?;
        let (raw, file) = read_multipart(request)
            .await
            .map_err(|p| p.into_response(trace))?;
        let fail = |p: Problem| {
            self.failure_event("VALIDATION", None, trace, &claims, &p);
            p.into_response(trace)
        };
        let body = body::check_validation(raw.as_deref()).map_err(|p| p.into_response(trace))?;
        let (cda, mode_omitted) = self
            .extract(file.as_ref(), body.mode, true)
            .map_err(|p| p.into_response(trace))?;
        let (doc, facts) = self.parse_cda(&cda).map_err(|p| p.into_response(trace))?;
        let wii = Self::validation_wii(&facts).map_err(|p| p.into_response(trace))?;
        claims::check_against_cda(&claims, &facts.patient_extensions, code_ref(&facts))
            .map_err(|p| fail(p.with_workflow(Some(&wii))))?;
        let mut warnings = self.run_validation(&doc, &wii).map_err(fail)?;
        if mode_omitted {
            warnings.insert(0, WARNING_EXTRACT.to_owned());
        }
        if file
            .as_ref()
            .is_some_and(|f| self.inner.pdf.signature(f) != SignatureState::Unsigned)
        {
            warnings.push(SIGN_WARN.to_owned());
        }
        let warning = warnings.join(" ");
        let status = match body.activity {
            Activity::Verifica => StatusCode::OK,
            Activity::Validation => {
                let ev = self.event(
                    &EventSource {
                        wii: &wii,
                        trace,
                        claims: &claims,
                        document_id: None,
                        tipo_attivita: None,
                    },
                    "VALIDATION",
                    "SUCCESS",
                    None,
                    0,
                );
                let mut store = self.store();
                store.record_validation(&facts.cda_hash, &wii, self.now());
                store.add_events([ev]);
                self.save(&store);
                StatusCode::CREATED
            }
        };
        Ok(problem::success(
            status,
            trace,
            Some(&wii),
            Some(&warning),
            None,
        ))
    }

    /// `POST /documents`, `PUT /documents/{idDoc}`, and the validate-and-*
    /// variants.
    pub async fn publication(
        &self,
        op: Operation,
        old_id: Option<String>,
        headers: HeaderMap,
        request: Request,
    ) -> Response {
        let trace = Trace::new();
        self.publication_inner(op, old_id, &headers, request, &trace)
            .await
            .unwrap_or_else(|r| r)
    }

    async fn publication_inner(
        &self,
        op: Operation,
        old_id: Option<String>,
        headers: &HeaderMap,
        request: Request,
        trace: &Trace,
    ) -> Answer {
        if let Some(old) = &old_id {
            body::check_document_id(old).map_err(|p| p.into_response(trace))?;
        }
        let claims = self.authenticate(headers, op, trace)?;
        let (raw, file) = read_multipart(request)
            .await
            .map_err(|p| p.into_response(trace))?;
        let body = body::check_publication(raw.as_deref()).map_err(|p| p.into_response(trace))?;
        let event_type = match op {
            Operation::Replace | Operation::ValidateAndReplace => "REPLACE",
            _ => "PUBLICATION",
        };
        let fail = |p: Problem, wii: Option<&str>| {
            let wii = wii
                .map(str::to_owned)
                .or_else(|| p.workflow_instance_id.clone());
            let p = p.with_workflow(wii.as_deref());
            self.failure_event(event_type, wii.as_deref(), trace, &claims, &p);
            p.into_response(trace)
        };
        let (cda, mode_omitted) = self
            .extract(file.as_ref(), body.mode, false)
            .map_err(|p| p.into_response(trace))?;
        let file = file.unwrap_or_default();
        let (doc, facts) = self.parse_cda(&cda).map_err(|p| p.into_response(trace))?;
        claims::check_against_cda(&claims, &facts.patient_extensions, code_ref(&facts))
            .map_err(|p| p.into_response(trace))?;

        let validates = matches!(
            op,
            Operation::ValidateAndCreate | Operation::ValidateAndReplace
        );
        let mut warnings = Vec::new();
        let wii = if validates {
            let wii = Self::validation_wii(&facts).map_err(|p| p.into_response(trace))?;
            warnings = self.run_validation(&doc, &wii).map_err(|p| {
                self.failure_event("VALIDATION", Some(&wii), trace, &claims, &p);
                p.into_response(trace)
            })?;
            wii
        } else {
            let taken = self.store().take_validation(
                &facts.cda_hash,
                body.workflow_instance_id.as_deref(),
                self.now(),
                self.inner.config.validation_max_age,
            );
            // The validation is consumed whatever happens next.
            self.save(&self.store());
            match taken {
                Ok(wii) => wii,
                Err(MatchFailure::NotValidated) => {
                    return Err(Problem::new(
                        NationalErrorType::CdaMatch,
                        "Il CDA non risulta validato",
                    )
                    .with_instance("/cda-validation")
                    .into_response(trace));
                }
                Err(MatchFailure::TooOld) => {
                    return Err(Problem::new(
                        NationalErrorType::MaxDayLimitExceed,
                        "La validazione del CDA è più vecchia di 5 giorni: validarlo di nuovo.",
                    )
                    .with_instance("/msg/max-day-limit-exceed")
                    .into_response(trace));
                }
            }
        };
        if mode_omitted {
            warnings.insert(0, WARNING_EXTRACT.to_owned());
        }

        claims::check_attachment_hash(&claims, &file).map_err(|p| fail(p, Some(&wii)))?;
        self.check_signature(&file, &claims)
            .map_err(|p| fail(p, Some(&wii)))?;
        if let Some((code, _)) = &facts.code
            && let Some(expected) = codes::class_of_document_code(code)
            && expected.as_str() != body.class_code
        {
            return Err(fail(
                Problem::new(
                    NationalErrorType::Validator,
                    format!(
                        "Non c'è correlazione tra il tipo documento {code} e il tipoDocumentoLivAlto {} (atteso {expected}).",
                        body.class_code
                    ),
                ),
                Some(&wii),
            ));
        }

        let now = self.now();
        let mut store = self.store();
        let replaced = match &old_id {
            Some(old) => match store.published(old) {
                Some(doc) => Some(doc.clone()),
                None => {
                    drop(store);
                    return Err(fail(
                        Problem::new(
                            NationalErrorType::RecordNotFound,
                            format!("Il documento {old} da sostituire non è presente su INI."),
                        ),
                        Some(&wii),
                    ));
                }
            },
            None => None,
        };
        let history = vec![HistoryEntry {
            at: event_date(now, false),
            operation: op.name().to_owned(),
            workflow_instance_id: wii.clone(),
            trace_id: trace.trace_id.clone(),
        }];
        let new_doc = stored_document(
            &body,
            &facts,
            &file,
            &wii,
            trace,
            replaced.as_ref(),
            history,
        );
        let new_id = new_doc.id.clone();
        if let Some(old) = &old_id
            && let Some(d) = store.document_mut(old)
        {
            d.status = DocumentStatus::Replaced;
            d.replaced_by = Some(new_id.clone());
            d.history.push(HistoryEntry {
                at: event_date(now, false),
                operation: "replaced".to_owned(),
                workflow_instance_id: wii.clone(),
                trace_id: trace.trace_id.clone(),
            });
        }
        let duplicate = store.publish(new_doc);

        let source = EventSource {
            wii: &wii,
            trace,
            claims: &claims,
            document_id: Some(&new_id),
            tipo_attivita: Some(body.clinical_activity.as_str()),
        };
        let mut events = Vec::new();
        if validates {
            events.push(self.event(&source, "VALIDATION", "SUCCESS", None, 0));
        }
        events.push(self.event(&source, event_type, "SUCCESS", None, 1));
        if duplicate {
            let message = format!("Documento {new_id} già presente su INI");
            events.push(self.event(&source, "SEND_TO_INI", "BLOCKING_ERROR", Some(message), 2));
        } else {
            for (offset, ty) in (2..).zip(["SEND_TO_INI", "SEND_TO_UAR", "UAR_FINAL_STATUS"]) {
                events.push(self.event(&source, ty, "SUCCESS", None, offset));
            }
        }
        store.add_events(events);
        self.save(&store);
        let pushed = store.events_of_workflow(&wii);
        drop(store);

        if let Some(url) = header_text(headers, "x-callback-url") {
            self.inner
                .notifier
                .notify(self.clone(), url, wii.clone(), pushed);
        }
        let warning = warnings.join(" ");
        Ok(problem::success(
            StatusCode::ACCEPTED,
            trace,
            Some(&wii),
            Some(&warning),
            Some(&new_id),
        ))
    }

    /// `DELETE /documents/{idDoc}`.
    pub fn delete(&self, id: &str, headers: &HeaderMap) -> Response {
        let trace = Trace::new();
        self.delete_inner(id, headers, &trace).unwrap_or_else(|r| r)
    }

    fn delete_inner(&self, id: &str, headers: &HeaderMap, trace: &Trace) -> Answer {
        let doc_id = body::check_document_id(id).map_err(|p| p.into_response(trace))?;
        let claims = self.authenticate(headers, Operation::Delete, trace)?;
        let wii = WorkflowInstanceId::for_document(&doc_id, nonce())
            .as_str()
            .to_owned();
        let mut store = self.store();
        let Some(doc) = store
            .document_mut(id)
            .filter(|d| d.status == DocumentStatus::Published)
        else {
            drop(store);
            return Err(Problem::new(
                NationalErrorType::RecordNotFound,
                format!("Il documento {id} non è presente su INI."),
            )
            .with_instance("/msg/record-not-found")
            .into_response(trace));
        };
        doc.status = DocumentStatus::Deleted;
        doc.history.push(HistoryEntry {
            at: event_date(self.now(), false),
            operation: "delete".to_owned(),
            workflow_instance_id: wii.clone(),
            trace_id: trace.trace_id.clone(),
        });
        let source = EventSource {
            wii: &wii,
            trace,
            claims: &claims,
            document_id: Some(id),
            tipo_attivita: None,
        };
        let events = self.successes(&source, &["DELETE", "INI_DELETE", "EDS_DELETE"]);
        store.add_events(events);
        self.save(&store);
        Ok(problem::success(
            StatusCode::OK,
            trace,
            Some(&wii),
            None,
            Some(id),
        ))
    }

    /// `PUT /documents/{idDoc}/metadata` and `/metadata-iti-57`.
    pub fn update_metadata(&self, id: &str, headers: &HeaderMap, raw: &[u8]) -> Response {
        let trace = Trace::new();
        self.update_inner(id, headers, raw, &trace)
            .unwrap_or_else(|r| r)
    }

    fn update_inner(&self, id: &str, headers: &HeaderMap, raw: &[u8], trace: &Trace) -> Answer {
        let doc_id = body::check_document_id(id).map_err(|p| p.into_response(trace))?;
        let claims = self.authenticate(headers, Operation::UpdateMetadata, trace)?;
        let body = body::check_metadata(Some(raw)).map_err(|p| p.into_response(trace))?;
        let wii = WorkflowInstanceId::for_document(&doc_id, nonce())
            .as_str()
            .to_owned();
        let now = self.now();
        let mut store = self.store();
        let Some(doc) = store
            .document_mut(id)
            .filter(|d| d.status == DocumentStatus::Published)
        else {
            drop(store);
            return Err(Problem::new(
                NationalErrorType::RecordNotFound,
                format!("Il documento {id} non è presente su INI."),
            )
            .with_instance("/msg/record-not-found")
            .into_response(trace));
        };
        doc.class_code.clone_from(&body.class_code);
        doc.obscured = obscures(&body.event_codes);
        doc.event_codes.clone_from(&body.event_codes);
        for (k, v) in &body.raw {
            doc.metadata.insert(k.clone(), v.clone());
        }
        doc.history.push(HistoryEntry {
            at: event_date(now, false),
            operation: format!("update-metadata ({})", claims.purpose_of_use),
            workflow_instance_id: wii.clone(),
            trace_id: trace.trace_id.clone(),
        });
        let atti = body.clinical_activity.as_deref();
        let source = EventSource {
            wii: &wii,
            trace,
            claims: &claims,
            document_id: Some(id),
            tipo_attivita: atti,
        };
        let events = self.successes(&source, &["UPDATE", "INI_UPDATE", "EDS_UPDATE"]);
        store.add_events(events);
        self.save(&store);
        Ok(problem::success(
            StatusCode::OK,
            trace,
            Some(&wii),
            None,
            Some(id),
        ))
    }

    /// `GET /status/{workflowInstanceId}` and `GET /status/search/{traceId}`.
    pub fn status(&self, key: &str, by_trace: bool, headers: &HeaderMap) -> Response {
        let trace = Trace::new();
        if let Err(r) = self.authenticate_bearer_only(headers, &trace) {
            return r;
        }
        let events = {
            let store = self.store();
            if by_trace {
                store.events_of_trace(key)
            } else {
                store.events_of_workflow(key)
            }
        };
        if events.is_empty() {
            let what = if by_trace {
                "traceId"
            } else {
                "workflowInstanceId"
            };
            return Problem::new(
                NationalErrorType::RecordNotFound,
                format!("Nessun evento per il {what} indicato."),
            )
            .into_response(&trace);
        }
        let wii = events.first().map(|e| e.workflow_instance_id.clone());
        let body = json!({
            "traceID": trace.trace_id,
            "spanID": trace.span_id,
            "transactionData": events,
        });
        let mut response =
            axum::response::IntoResponse::into_response((StatusCode::OK, axum::Json(body)));
        response.extensions_mut().insert(CallOutcome {
            trace_id: Some(trace.trace_id.clone()),
            workflow_instance_id: wii,
            problem_type: None,
            document_id: None,
        });
        response
    }
}

fn stored_document(
    body: &PublicationBody,
    facts: &CdaFacts,
    file: &[u8],
    wii: &str,
    trace: &Trace,
    replaced: Option<&StoredDocument>,
    history: Vec<HistoryEntry>,
) -> StoredDocument {
    StoredDocument {
        id: body.document_id.clone(),
        status: DocumentStatus::Published,
        workflow_instance_id: wii.to_owned(),
        trace_id: trace.trace_id.clone(),
        version: replaced.map_or(1, |r| r.version + 1),
        publications: 1,
        replaces: replaced.map(|r| r.id.clone()),
        replaced_by: None,
        class_code: body.class_code.clone(),
        document_code: facts.code.as_ref().map(|(c, s)| format!("{c}^^{s}")),
        patient_masked: facts.patient_masked.clone(),
        pdf_sha256: hex::encode(ring::digest::digest(&ring::digest::SHA256, file)),
        cda_hash: facts.cda_hash.clone(),
        event_codes: body.event_codes.clone(),
        obscured: obscures(&body.event_codes),
        metadata: body.raw.clone(),
        history,
    }
}

/// Whether the event codes ask for the document to be obscured (`P99`;
/// the Gateway compares codes case-insensitively).
fn obscures(event_codes: &[String]) -> bool {
    event_codes.iter().any(|c| c.eq_ignore_ascii_case("P99"))
}

fn code_ref(facts: &CdaFacts) -> Option<(&str, &str)> {
    facts.code.as_ref().map(|(c, s)| (c.as_str(), s.as_str()))
}

fn nonce() -> [u8; 5] {
    let mut n = [0u8; 5];
    // A failed random source leaves zeros: the id is still well-formed.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut n);
    n
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = header_text(headers, "authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_owned())
}

/// Reads the multipart body: `requestBody` must be a form field without a
/// file name (the Gateway reads it as a request parameter), `file` the PDF.
async fn read_multipart(request: Request) -> Result<(Option<Vec<u8>>, Option<Bytes>), Problem> {
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|e| {
        Problem::new(
            NationalErrorType::MandatoryElement,
            format!("La richiesta deve essere multipart/form-data: {e}."),
        )
    })?;
    let mut body = None;
    let mut file = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(Problem::new(
                    NationalErrorType::MandatoryElement,
                    format!("Il corpo multipart non è leggibile: {e}."),
                ));
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let has_file_name = field.file_name().is_some();
        let bytes = field.bytes().await.map_err(|e| {
            Problem::new(
                NationalErrorType::MandatoryElement,
                format!("La parte {name} non è leggibile: {e}."),
            )
        })?;
        match name.as_str() {
            "requestBody" if !has_file_name => body = Some(bytes.to_vec()),
            "file" => file = Some(bytes),
            _ => {}
        }
    }
    Ok((body, file))
}

/// Parses a document id from a path for handlers that need the typed one.
pub fn document_id(id: &str) -> Option<DocumentId> {
    DocumentId::parse(id).ok()
}

// --- axum handlers ------------------------------------------------------

pub(crate) async fn h_validation(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    gw.validation(headers, request).await
}

pub(crate) async fn h_create(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    gw.publication(Operation::Create, None, headers, request)
        .await
}

pub(crate) async fn h_validate_and_create(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    gw.publication(Operation::ValidateAndCreate, None, headers, request)
        .await
}

pub(crate) async fn h_replace(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    gw.publication(Operation::Replace, Some(id), headers, request)
        .await
}

pub(crate) async fn h_validate_and_replace(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    gw.publication(Operation::ValidateAndReplace, Some(id), headers, request)
        .await
}

pub(crate) async fn h_delete(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    gw.delete(&id, &headers)
}

pub(crate) async fn h_update(
    State(gw): State<Gateway>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    gw.update_metadata(&id, &headers, &body)
}

pub(crate) async fn h_status(
    State(gw): State<Gateway>,
    Path(wii): Path<String>,
    headers: HeaderMap,
) -> Response {
    gw.status(&wii, false, &headers)
}

pub(crate) async fn h_status_search(
    State(gw): State<Gateway>,
    Path(trace): Path<String>,
    headers: HeaderMap,
) -> Response {
    gw.status(&trace, true, &headers)
}

pub(crate) async fn h_health() -> Response {
    axum::response::IntoResponse::into_response(axum::Json(json!({ "status": "UP" })))
}
