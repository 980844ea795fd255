//! The answers of the Gateway: success bodies and RFC 7807 problem details
//! of the national catalogue (`/msg/...`), and the GovWay-style problems of
//! the front (CART and the national GovWay).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

/// A problem type of the national catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    /// No `cda.xml` (or XFA resource) in the PDF.
    CdaElement,
    /// XSD failure.
    Syntax,
    /// Schematron failure (422).
    Semantic,
    /// Terminology failure.
    Vocabulary,
    /// Class/type correlation failure.
    Validator,
    /// No validation for this CDA, wrong wii, or validation already used.
    CdaMatch,
    /// Validation older than 5 days.
    MaxDayLimitExceed,
    /// `attachment_hash` differs from the SHA-256 of the file.
    DocumentHash,
    /// Empty file.
    EmptyFile,
    /// The file is not a PDF.
    DocumentType,
    /// Missing field, unknown property, bad JSON or bad enum value.
    MandatoryElement,
    /// Bad format (dates, codes).
    InvalidFormat,
    /// `identificativoDoc` or `{idDoc}` without `^suffix`.
    IdDoc,
    /// A JWT claim missing or wrong.
    JwtValidation,
    /// An undecodable JWT.
    MandatoryElementToken,
    /// A JWT header missing.
    MissingToken,
    /// PDF not signed, or its signature not valid.
    SignError,
    /// Anything else (e.g. a bad `identificativoRep`).
    GenericError,
    /// No `ClinicalDocument/id` to build the workflow instance id from.
    WorkflowIdErrorExtraction,
    /// Unknown workflow instance, trace or document.
    RecordNotFound,
}

impl ProblemType {
    /// The `type` member, as the Gateway writes it.
    pub fn type_uri(self) -> &'static str {
        match self {
            ProblemType::CdaElement => "/msg/cda-element",
            ProblemType::Syntax => "/msg/syntax",
            ProblemType::Semantic => "/msg/semantic",
            ProblemType::Vocabulary => "/msg/vocabulary",
            ProblemType::Validator => "/msg/validator",
            ProblemType::CdaMatch => "/msg/cda-match",
            ProblemType::MaxDayLimitExceed => "/msg/max-day-limit-exceed",
            ProblemType::DocumentHash => "/msg/document-hash",
            ProblemType::EmptyFile => "/msg/empty-file",
            ProblemType::DocumentType => "/msg/document-type",
            ProblemType::MandatoryElement => "/msg/mandatory-element",
            ProblemType::InvalidFormat => "/msg/invalid-format",
            ProblemType::IdDoc => "/msg/id-doc",
            ProblemType::JwtValidation => "/msg/jwt-validation",
            ProblemType::MandatoryElementToken => "/msg/mandatory-element-token",
            ProblemType::MissingToken => "/msg/missing-token",
            ProblemType::SignError => "/msg/sign-error",
            ProblemType::GenericError => "/msg/generic-error",
            ProblemType::WorkflowIdErrorExtraction => "/msg/workflow-id-error-extraction",
            ProblemType::RecordNotFound => "/msg/record-not-found",
        }
    }

    /// The `title` member.
    pub fn title(self) -> &'static str {
        match self {
            ProblemType::CdaElement => "Errore in fase di estrazione del CDA.",
            ProblemType::Syntax => "Errore di sintassi.",
            ProblemType::Semantic => "Errore semantico.",
            ProblemType::Vocabulary => "Errore vocabolario.",
            ProblemType::Validator => "Errore di validazione.",
            ProblemType::CdaMatch => "Errore in fase di recupero dell'esito della verifica.",
            ProblemType::MaxDayLimitExceed => {
                "Error: document exceeded the maximum period to be published."
            }
            ProblemType::DocumentHash => "Verifica hash fallita.",
            ProblemType::EmptyFile => "File vuoto.",
            ProblemType::DocumentType => "Il documento non è pdf.",
            ProblemType::MandatoryElement => "Campo obbligatorio non presente.",
            ProblemType::InvalidFormat => "Formato campo non valido.",
            ProblemType::IdDoc => "Campo id documento non valido",
            ProblemType::JwtValidation => "Campo token JWT non valido.",
            ProblemType::MandatoryElementToken => "Token JWT non valido.",
            ProblemType::MissingToken => "Token non fornito.",
            ProblemType::SignError => "Errore di firma.",
            ProblemType::GenericError => "Errore generico.",
            ProblemType::WorkflowIdErrorExtraction => {
                "Errore in fase di estrazione del workflow id."
            }
            ProblemType::RecordNotFound => "Record non trovato.",
        }
    }

    /// The usual HTTP status (some types vary with the operation; the
    /// caller overrides those).
    pub fn status(self) -> StatusCode {
        match self {
            ProblemType::Semantic => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemType::JwtValidation
            | ProblemType::MandatoryElementToken
            | ProblemType::MissingToken => StatusCode::FORBIDDEN,
            ProblemType::RecordNotFound => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// A national problem detail, ready to be sent.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The catalogue entry.
    pub kind: ProblemType,
    /// The HTTP status.
    pub status: StatusCode,
    /// What exactly is wrong.
    pub detail: String,
    /// The `instance` member.
    pub instance: String,
    /// The workflow instance id, on validation-type errors.
    pub workflow_instance_id: Option<String>,
}

impl Problem {
    /// A problem with the type's usual status and no instance.
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Problem {
            kind,
            status: kind.status(),
            detail: detail.into(),
            instance: String::new(),
            workflow_instance_id: None,
        }
    }

    /// Sets the HTTP status.
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Sets the `instance` member.
    #[must_use]
    pub fn with_instance(mut self, instance: &str) -> Self {
        instance.clone_into(&mut self.instance);
        self
    }

    /// Sets the workflow instance id.
    #[must_use]
    pub fn with_workflow(mut self, wii: Option<&str>) -> Self {
        self.workflow_instance_id = wii.map(str::to_owned);
        self
    }

    /// The JSON body, with the request's trace and span ids.
    pub fn body(&self, trace: &Trace) -> Value {
        let mut body = json!({
            "traceID": trace.trace_id,
            "spanID": trace.span_id,
            "type": self.kind.type_uri(),
            "title": self.kind.title(),
            "detail": self.detail,
            "status": self.status.as_u16(),
            "instance": self.instance,
        });
        if let (Some(wii), Some(map)) = (&self.workflow_instance_id, body.as_object_mut()) {
            map.insert("workflowInstanceId".to_owned(), Value::String(wii.clone()));
        }
        body
    }

    /// The HTTP response.
    pub fn into_response(self, trace: &Trace) -> Response {
        let mut response = (self.status, problem_json(self.body(trace))).into_response();
        response.extensions_mut().insert(CallOutcome {
            trace_id: Some(trace.trace_id.clone()),
            workflow_instance_id: self.workflow_instance_id.clone(),
            problem_type: Some(self.kind.type_uri().to_owned()),
            document_id: None,
        });
        response
    }
}

/// The trace and span ids the Gateway gives each request.
#[derive(Debug, Clone)]
pub struct Trace {
    /// `traceID`: 16 lowercase hex digits.
    pub trace_id: String,
    /// `spanID`: 16 lowercase hex digits.
    pub span_id: String,
}

impl Trace {
    /// Fresh random ids.
    pub fn new() -> Self {
        Trace {
            trace_id: random_hex(8),
            span_id: random_hex(8),
        }
    }
}

impl Default for Trace {
    fn default() -> Self {
        Self::new()
    }
}

/// What the Gateway did with a call, attached to its response for the
/// journal of calls (`/_sim/calls`).
#[derive(Debug, Clone, Default)]
pub struct CallOutcome {
    /// The trace id given.
    pub trace_id: Option<String>,
    /// The workflow instance id given.
    pub workflow_instance_id: Option<String>,
    /// The problem type, on errors.
    pub problem_type: Option<String>,
    /// The document concerned, when known.
    pub document_id: Option<String>,
}

/// Lowercase hex of `bytes` random bytes.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The system random source failing leaves zeros: still a valid id.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut buf);
    hex::encode(buf)
}

/// A JSON body with the `application/problem+json` content type.
pub fn problem_json(body: Value) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        )],
        body.to_string(),
    )
}

/// A failure of the GovWay front (CART's or the national one), in GovWay's
/// own problem shape: `type` is a govway.org page, there is a `govway_id`
/// and no `traceID`.
#[derive(Debug, Clone)]
pub struct FrontProblem {
    /// The HTTP status.
    pub status: StatusCode,
    /// GovWay's error name (`APIUnavailable`, `EndpointReadTimeout`, ...).
    pub name: &'static str,
    /// The `detail` member.
    pub detail: String,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<u32>,
    /// Extra headers (e.g. `WWW-Authenticate`).
    pub extra_headers: Vec<(&'static str, String)>,
}

impl FrontProblem {
    /// 502 `InvalidResponse`.
    pub fn bad_gateway() -> Self {
        Self::of(
            StatusCode::BAD_GATEWAY,
            "InvalidResponse",
            "Invalid response received from the API Implementation",
        )
    }

    /// 503 `APIUnavailable` with `Retry-After`.
    pub fn unavailable(retry_after: u32) -> Self {
        FrontProblem {
            retry_after: Some(retry_after),
            ..Self::of(
                StatusCode::SERVICE_UNAVAILABLE,
                "APIUnavailable",
                "The API Implementation is temporary unavailable",
            )
        }
    }

    /// 504 `EndpointReadTimeout`.
    pub fn timeout() -> Self {
        Self::of(
            StatusCode::GATEWAY_TIMEOUT,
            "EndpointReadTimeout",
            "Read timed out",
        )
    }

    /// 429 `TooManyRequests` with `Retry-After`.
    pub fn too_many(retry_after: u32) -> Self {
        FrontProblem {
            retry_after: Some(retry_after),
            ..Self::of(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Too many requests detected",
            )
        }
    }

    /// 401 `TokenAuthenticationFailed`: a JWT refused by the front.
    pub fn token(header_name: &str, detail: impl Into<String>) -> Self {
        FrontProblem {
            extra_headers: vec![(
                "www-authenticate",
                format!(
                    "Bearer realm=\"{header_name}\", error=\"invalid_token\", error_description=\"Token invalid\""
                ),
            )],
            ..Self::of(
                StatusCode::UNAUTHORIZED,
                "TokenAuthenticationFailed",
                detail.into(),
            )
        }
    }

    /// 404 for a path the front does not know.
    pub fn unknown_operation(path: &str) -> Self {
        Self::of(
            StatusCode::NOT_FOUND,
            "InvalidRequest",
            format!("Unknown API request: {path}"),
        )
    }

    fn of(status: StatusCode, name: &'static str, detail: impl Into<String>) -> Self {
        FrontProblem {
            status,
            name,
            detail: detail.into(),
            retry_after: None,
            extra_headers: Vec::new(),
        }
    }

    /// The HTTP response.
    pub fn into_response(self) -> Response {
        let govway_id = uuid::Uuid::new_v4().to_string();
        let body = json!({
            "type": format!("https://govway.org/handling-errors/{}/{}.html", self.status.as_u16(), self.name),
            "title": self.name,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "govway_id": govway_id,
        });
        let mut response = (self.status, problem_json(body)).into_response();
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(self.name) {
            headers.insert("govway-transaction-errortype", v);
        }
        if let Ok(v) = HeaderValue::from_str(&govway_id) {
            headers.insert("govway-transaction-id", v);
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        for (name, value) in self.extra_headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
        response.extensions_mut().insert(CallOutcome {
            problem_type: Some(format!("govway:{}", self.name)),
            ..CallOutcome::default()
        });
        response
    }
}

/// A success body: `traceID`, `spanID`, `workflowInstanceId` and `warning`
/// when there is one.
pub fn success(
    status: StatusCode,
    trace: &Trace,
    workflow_instance_id: Option<&str>,
    warning: Option<&str>,
    document_id: Option<&str>,
) -> Response {
    let mut body = json!({ "traceID": trace.trace_id, "spanID": trace.span_id });
    if let Some(map) = body.as_object_mut() {
        if let Some(wii) = workflow_instance_id {
            map.insert(
                "workflowInstanceId".to_owned(),
                Value::String(wii.to_owned()),
            );
        }
        if let Some(w) = warning.filter(|w| !w.is_empty()) {
            map.insert("warning".to_owned(), Value::String(truncate_warning(w)));
        }
    }
    let mut response = (status, axum::Json(body)).into_response();
    response.extensions_mut().insert(CallOutcome {
        trace_id: Some(trace.trace_id.clone()),
        workflow_instance_id: workflow_instance_id.map(str::to_owned),
        problem_type: None,
        document_id: document_id.map(str::to_owned),
    });
    response
}

/// Warnings longer than 200000 characters are cut and end with `...`, as
/// the Gateway does.
fn truncate_warning(w: &str) -> String {
    const MAX: usize = 200_000;
    if w.chars().count() <= MAX {
        return w.to_owned();
    }
    let mut out: String = w.chars().take(MAX - 3).collect();
    out.push_str("...");
    out
}
