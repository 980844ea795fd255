//! The answers of the Gateway: success bodies and RFC 7807 problem details
//! of the national catalogue (`/msg/...`), and the GovWay-style problems of
//! the front (CART and the national GovWay).

use axum::response::{IntoResponse, Response};
use fse_model::problem::NationalErrorType;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

/// A national problem detail, ready to be sent.
#[derive(Debug, Clone)]
pub struct Problem {
    /// The catalogue entry.
    pub kind: NationalErrorType,
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
    ///
    /// Where the Gateway's status depends on the operation (document-type
    /// 400 on publication, generic-error 400 in publication, missing-token
    /// 400 on create/replace/delete), the caller sets it with
    /// [`Problem::with_status`].
    pub fn new(kind: NationalErrorType, detail: impl Into<String>) -> Self {
        Problem {
            status: usual_status(&kind),
            kind,
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
            "detail": self.detail,
            "status": self.status.as_u16(),
            "instance": self.instance,
        });
        if let Some(map) = body.as_object_mut() {
            // Every type the simulator sends has a title; one without is
            // left out rather than sent as null.
            if let Some(title) = self.kind.title() {
                map.insert("title".to_owned(), Value::String(title.to_owned()));
            }
            if let Some(wii) = &self.workflow_instance_id {
                map.insert("workflowInstanceId".to_owned(), Value::String(wii.clone()));
            }
        }
        body
    }

    /// The HTTP response.
    pub fn into_response(self, trace: &Trace) -> Response {
        let mut response = (self.status, problem_json(self.body(trace))).into_response();
        response.extensions_mut().insert(CallOutcome {
            trace_id: Some(trace.trace_id.clone()),
            workflow_instance_id: self.workflow_instance_id.clone(),
            problem_type: Some(self.kind.type_uri()),
            document_id: None,
        });
        response
    }
}

/// The HTTP status of a national problem when the operation does not
/// change it: the catalogue's usual one.
fn usual_status(kind: &NationalErrorType) -> StatusCode {
    // `usual_status` is always a valid error status; 500 only guards
    // against a future entry that is not.
    StatusCode::from_u16(kind.usual_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_status_per_type_sent_without_override() {
        use NationalErrorType as T;
        // Every type the simulator sends without `with_status`, and the
        // status it has always answered with.
        let expected = [
            (T::CdaElement, 400),
            (T::Syntax, 400),
            (T::Semantic, 422),
            (T::Vocabulary, 400),
            (T::Validator, 400),
            (T::CdaMatch, 400),
            (T::MaxDayLimitExceed, 400),
            (T::DocumentHash, 400),
            (T::EmptyFile, 400),
            (T::MandatoryElement, 400),
            (T::InvalidFormat, 400),
            (T::IdDoc, 400),
            (T::JwtValidation, 403),
            (T::MissingToken, 403),
            (T::SignError, 400),
            (T::WorkflowIdErrorExtraction, 400),
            (T::RecordNotFound, 404),
        ];
        for (kind, status) in expected {
            let p = Problem::new(kind.clone(), "x");
            assert_eq!(p.status.as_u16(), status, "{kind:?}");
        }
    }

    #[test]
    fn body_carries_type_and_title() {
        let trace = Trace::new();
        let body = Problem::new(NationalErrorType::DocumentType, "d")
            .with_status(StatusCode::BAD_REQUEST)
            .with_instance("/multipart-file")
            .with_workflow(Some("w"))
            .body(&trace);
        assert_eq!(body["type"], "/msg/document-type");
        assert_eq!(body["title"], "Il documento non è pdf.");
        assert_eq!(body["status"], 400);
        assert_eq!(body["instance"], "/multipart-file");
        assert_eq!(body["workflowInstanceId"], "w");
        let untitled = Problem::new(NationalErrorType::Other("x".to_owned()), "d").body(&trace);
        assert_eq!(untitled["type"], "/msg/x");
        assert!(untitled.get("title").is_none());
    }
}
