//! Error bodies (RFC 7807 problem details) and what to do about them.
//!
//! Three writers produce them, in slightly different shapes, and all three
//! are read here:
//! - the national Gateway: `type` `/msg/<name>`, `traceID`, `spanID`, and
//!   `workflowInstanceId` on errors of calls that validate; `status` is an
//!   integer, though the specification's examples once make it a string;
//! - GovWay, the front of the Gateway and of CART: `type`
//!   `https://govway.org/handling-errors/<status>/<Name>.html`, a
//!   `govway_id`, no traceID;
//! - regional middlewares: `type` `mw/io_error` (504, the Gateway could not
//!   be reached) or `mw/internal_error` (500), `status` often a string.
//!
//! [`Problem::advice`] turns a problem into what a client should do: retry
//! or not, validate again, or first look up the status because the call
//! may have taken effect.

use serde_json::{Map, Value};

use crate::error::Error;
use crate::operation::Operation;

/// Who wrote a problem body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemSource {
    /// The national Gateway (`/msg/...` types, a traceID).
    Gateway,
    /// GovWay, at the frontier (a `govway_id`, or a govway.org type).
    GovWay,
    /// A regional middleware (`mw/...` types).
    Middleware,
    /// Nothing tells.
    Unknown,
}

/// An error body, read leniently: every member is optional, `status` may be
/// a number or a string, and members this type does not name are kept in
/// `additional` (as are named members of an unexpected JSON type).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Who wrote it.
    pub source: ProblemSource,
    /// `type`: the problem type URI.
    pub problem_type: Option<String>,
    /// `title`.
    pub title: Option<String>,
    /// `detail`. May quote the request, personal data included: do not log
    /// it unmasked.
    pub detail: Option<String>,
    /// `status`, or the HTTP status when the body has none.
    pub status: Option<u16>,
    /// `instance`. Do not match on it: the specification and the Gateway
    /// spell it differently.
    pub instance: Option<String>,
    /// `traceID`: quote it to support; search the status with it.
    pub trace_id: Option<String>,
    /// `spanID`.
    pub span_id: Option<String>,
    /// `workflowInstanceId`, on errors of calls that validate.
    pub workflow_instance_id: Option<String>,
    /// `govway_id`, on GovWay's errors.
    pub govway_id: Option<String>,
    /// Every other member, as received.
    pub additional: Map<String, Value>,
}

impl Problem {
    /// Reads a problem body; it must be a JSON object.
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        let value: Value = serde_json::from_slice(body).map_err(|e| Error::ProblemDetails {
            reason: format!("not JSON: {e}"),
        })?;
        let Value::Object(mut members) = value else {
            return Err(Error::ProblemDetails {
                reason: "not a JSON object".to_owned(),
            });
        };
        let mut text = |keys: &[&str]| {
            keys.iter().find_map(|key| match members.get(*key) {
                Some(Value::String(_)) => members
                    .remove(*key)
                    .and_then(|v| v.as_str().map(str::to_owned)),
                _ => None,
            })
        };
        let problem_type = text(&["type"]);
        let title = text(&["title"]);
        let detail = text(&["detail"]);
        let instance = text(&["instance"]);
        let trace_id = text(&["traceID", "traceId"]);
        let span_id = text(&["spanID", "spanId"]);
        let workflow_instance_id = text(&["workflowInstanceId"]);
        let govway_id = text(&["govway_id"]);
        let status = match members.get("status") {
            Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            Some(Value::String(s)) => s.trim().parse::<u16>().ok(),
            _ => None,
        };
        if status.is_some() {
            members.remove("status");
        }
        let source = source_of(
            problem_type.as_deref(),
            trace_id.is_some(),
            govway_id.is_some(),
        );
        Ok(Self {
            source,
            problem_type,
            title,
            detail,
            status,
            instance,
            trace_id,
            span_id,
            workflow_instance_id,
            govway_id,
            additional: members,
        })
    }

    /// The problem an HTTP error answer stands for; never fails. A body
    /// that is not a problem (an HTML page of a proxy, say) is kept whole
    /// as `detail`.
    pub fn from_response(http_status: u16, body: &[u8]) -> Self {
        match Self::parse(body) {
            Ok(mut problem) => {
                problem.status = problem.status.or(Some(http_status));
                problem
            }
            Err(_) => {
                let text = String::from_utf8_lossy(body).trim().to_owned();
                Self {
                    source: ProblemSource::Unknown,
                    problem_type: None,
                    title: None,
                    detail: (!text.is_empty()).then_some(text),
                    status: Some(http_status),
                    instance: None,
                    trace_id: None,
                    span_id: None,
                    workflow_instance_id: None,
                    govway_id: None,
                    additional: Map::new(),
                }
            }
        }
    }

    /// The national error type, for the Gateway's problems (and for a
    /// middleware passing one through).
    pub fn national_type(&self) -> Option<NationalErrorType> {
        self.problem_type
            .as_deref()
            .and_then(NationalErrorType::from_type)
    }

    /// The middleware error, for `mw/...` types.
    pub fn middleware_type(&self) -> Option<MiddlewareErrorType> {
        self.problem_type
            .as_deref()
            .and_then(MiddlewareErrorType::from_type)
    }

    /// GovWay's error name (`TooManyRequests`, `APIUnavailable`, ...), from
    /// its type URI.
    pub fn govway_name(&self) -> Option<&str> {
        let t = self.problem_type.as_deref()?;
        if !t.contains("govway") {
            return None;
        }
        let last = t.rsplit('/').next()?;
        Some(last.strip_suffix(".html").unwrap_or(last)).filter(|s| !s.is_empty())
    }

    /// What to do after this problem answered `operation`.
    pub fn advice(&self, operation: Operation) -> Advice {
        let changes_state = operation.changes_state();
        let status = self.status.unwrap_or(0);
        let uncertain = |retry| Advice {
            retry,
            outcome_uncertain: changes_state,
        };
        let unsure_or_backoff = if changes_state {
            uncertain(Retry::CheckStatusFirst)
        } else {
            Advice::certain(Retry::Backoff)
        };
        if let Some(national) = self.national_type() {
            return match national {
                // A document or workflow just created may not be indexed
                // yet; status events are written asynchronously too.
                NationalErrorType::RecordNotFound => Advice::certain(Retry::Later),
                NationalErrorType::GenericError | NationalErrorType::IniError if status < 500 => {
                    Advice::certain(Retry::Never)
                }
                NationalErrorType::GenericError
                | NationalErrorType::IniError
                | NationalErrorType::GenericTimeout => unsure_or_backoff,
                other => Advice {
                    retry: other.retry(),
                    outcome_uncertain: other.outcome_uncertain() && changes_state,
                },
            };
        }
        if let Some(middleware) = self.middleware_type() {
            return match middleware {
                MiddlewareErrorType::Io | MiddlewareErrorType::Internal => unsure_or_backoff,
                MiddlewareErrorType::Other(_) if status >= 500 => unsure_or_backoff,
                MiddlewareErrorType::Other(_) => Advice::certain(Retry::Never),
            };
        }
        match status {
            // Refused before reaching the Gateway: nothing happened.
            429 | 503 => Advice::certain(Retry::Backoff),
            // The answer was lost on the way back, or never came.
            500 | 502 | 504 => unsure_or_backoff,
            _ => Advice::certain(Retry::Never),
        }
    }
}

impl std::fmt::Display for Problem {
    /// Status, type and title; not `detail`, which may quote personal data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(status) => write!(f, "{status}")?,
            None => f.write_str("error")?,
        }
        if let Some(t) = &self.problem_type {
            write!(f, " {t}")?;
        }
        if let Some(title) = &self.title {
            write!(f, ": {title}")?;
        }
        if let Some(trace) = &self.trace_id {
            write!(f, " (traceID {trace})")?;
        } else if let Some(id) = &self.govway_id {
            write!(f, " (govway_id {id})")?;
        }
        Ok(())
    }
}

fn source_of(problem_type: Option<&str>, has_trace: bool, has_govway_id: bool) -> ProblemSource {
    let t = problem_type.unwrap_or_default();
    if has_govway_id || t.contains("govway.org") {
        ProblemSource::GovWay
    } else if t.starts_with("mw/") || t.starts_with("/mw/") {
        ProblemSource::Middleware
    } else if t.contains("msg/") || has_trace {
        ProblemSource::Gateway
    } else {
        ProblemSource::Unknown
    }
}

/// Whether to try again, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retry {
    /// Do not retry: the same request fails again. Fix it first.
    Never,
    /// Validate the document again (which gives a new workflow instance
    /// id), then publish with the new id.
    Revalidate,
    /// Retry the same call after a pause, backing off.
    Backoff,
    /// The call may have taken effect: look up its status (by traceID or
    /// workflow instance id) and retry only if it did not.
    CheckStatusFirst,
    /// Retry later: the document the call refers to may not be indexed yet
    /// (its creation may still be in flight).
    Later,
}

/// What to do after a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Advice {
    /// Whether and how to retry.
    pub retry: Retry,
    /// Whether the call may have changed the FSE despite the error.
    pub outcome_uncertain: bool,
}

impl Advice {
    fn certain(retry: Retry) -> Self {
        Self {
            retry,
            outcome_uncertain: false,
        }
    }
}

/// The error types of the national Gateway (`/msg/<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NationalErrorType {
    /// `/msg/cda-element`: no `cda.xml` attachment or XFA CDA found (400).
    CdaElement,
    /// `/msg/syntax`: the CDA fails the XSD (400).
    Syntax,
    /// `/msg/semantic`: the CDA fails the schematron (422).
    Semantic,
    /// `/msg/vocabulary`: a code is not in its terminology (400).
    Vocabulary,
    /// `/msg/validator`: FHIR error, or document type and class do not
    /// correlate (400).
    Validator,
    /// `/msg/cda-match`: the CDA was not validated, the workflow instance id
    /// is wrong, or the validation was already used (400).
    CdaMatch,
    /// `/msg/max-day-limit-exceed`: the validation is older than 5 days (400).
    MaxDayLimitExceed,
    /// `/msg/document-hash`: `attachment_hash` is not the PDF's SHA-256; the
    /// validation is used up (400).
    DocumentHash,
    /// `/msg/empty-file`: the file is empty (400).
    EmptyFile,
    /// `/msg/document-type`: the file is not a PDF (415 on validation, 400
    /// on publication).
    DocumentType,
    /// `/msg/mandatory-element`: a field is missing, unknown or of a bad
    /// value (400).
    MandatoryElement,
    /// `/msg/invalid-format`: a date is not `yyyyMMddHHmmss` (400).
    InvalidFormat,
    /// `/msg/id-doc`: the document id has no `^suffix` (400).
    IdDoc,
    /// `/msg/jwt-validation`: a claim is missing or wrong (403).
    JwtValidation,
    /// `/msg/mandatory-element-token`: a JWT cannot be decoded (403, 401 on
    /// delete).
    MandatoryElementToken,
    /// `/msg/missing-token`: a token header is empty (403, or 400).
    MissingToken,
    /// `/msg/sign-error`: the PDF is not signed, or its signature is not
    /// valid (400).
    SignError,
    /// `/msg/fhir-mapping-type`: the FHIR transformation failed (400).
    FhirMappingType,
    /// `/msg/generic-error`: 500, or 400 in publication (a bad
    /// `identificativoRep`, say).
    GenericError,
    /// `/msg/generic-timeout`: a back end timed out during the call (504).
    GenericTimeout,
    /// `/msg/connection-refused`: the validator is down (500).
    ConnectionRefused,
    /// `/msg/workflow-id-error-extraction`: the CDA has no
    /// `ClinicalDocument/id` (400).
    WorkflowIdErrorExtraction,
    /// `/msg/record-not-found`: unknown workflow instance id or traceID, or
    /// document not on INI (404).
    RecordNotFound,
    /// `/msg/eds-error`: EDS failed (404).
    EdsError,
    /// `/msg/ini-error`: INI failed (INI's status).
    IniError,
    /// `/msg/unauthorized`: the status belongs to another region (401).
    Unauthorized,
    /// `/msg/mocked-service`: INI or EDS are mocked in this environment (500).
    MockedService,
    /// `/msg/simulation-error`: a simulated failure of the test environment
    /// (400).
    SimulationError,
    /// Another `/msg/` type, kept as received (without the `/msg/` prefix).
    Other(String),
}

/// The listed national types and their names.
const NATIONAL_TYPES: &[(&str, NationalErrorType)] = &[
    ("cda-element", NationalErrorType::CdaElement),
    ("syntax", NationalErrorType::Syntax),
    ("semantic", NationalErrorType::Semantic),
    ("vocabulary", NationalErrorType::Vocabulary),
    ("validator", NationalErrorType::Validator),
    ("cda-match", NationalErrorType::CdaMatch),
    ("max-day-limit-exceed", NationalErrorType::MaxDayLimitExceed),
    ("document-hash", NationalErrorType::DocumentHash),
    ("empty-file", NationalErrorType::EmptyFile),
    ("document-type", NationalErrorType::DocumentType),
    ("mandatory-element", NationalErrorType::MandatoryElement),
    ("invalid-format", NationalErrorType::InvalidFormat),
    ("id-doc", NationalErrorType::IdDoc),
    ("jwt-validation", NationalErrorType::JwtValidation),
    (
        "mandatory-element-token",
        NationalErrorType::MandatoryElementToken,
    ),
    ("missing-token", NationalErrorType::MissingToken),
    ("sign-error", NationalErrorType::SignError),
    ("fhir-mapping-type", NationalErrorType::FhirMappingType),
    ("generic-error", NationalErrorType::GenericError),
    ("generic-timeout", NationalErrorType::GenericTimeout),
    ("connection-refused", NationalErrorType::ConnectionRefused),
    (
        "workflow-id-error-extraction",
        NationalErrorType::WorkflowIdErrorExtraction,
    ),
    ("record-not-found", NationalErrorType::RecordNotFound),
    ("eds-error", NationalErrorType::EdsError),
    ("ini-error", NationalErrorType::IniError),
    ("unauthorized", NationalErrorType::Unauthorized),
    ("mocked-service", NationalErrorType::MockedService),
    ("simulation-error", NationalErrorType::SimulationError),
];

impl NationalErrorType {
    /// Every listed type.
    pub fn listed() -> impl Iterator<Item = &'static NationalErrorType> {
        NATIONAL_TYPES.iter().map(|(_, t)| t)
    }

    /// Reads a problem type: `/msg/<name>`, and leniently `msg/<name>` or a
    /// URI ending in `/msg/<name>`. `None` when the type is not a `msg`
    /// one.
    pub fn from_type(problem_type: &str) -> Option<Self> {
        let t = problem_type.trim();
        let name = match t.rfind("/msg/") {
            Some(at) => &t[at + 5..],
            None => t.strip_prefix("msg/")?,
        };
        let name = name.trim_end_matches('/');
        Some(
            NATIONAL_TYPES
                .iter()
                .find(|(n, _)| *n == name)
                .map_or_else(|| Self::Other(name.to_owned()), |(_, t)| t.clone()),
        )
    }

    /// The type as the Gateway writes it, `/msg/<name>`.
    pub fn type_uri(&self) -> String {
        format!("/msg/{}", self.name())
    }

    /// The name after `/msg/`.
    pub fn name(&self) -> &str {
        match self {
            Self::Other(name) => name,
            listed => NATIONAL_TYPES
                .iter()
                .find(|(_, t)| t == listed)
                .map_or("", |(n, _)| n),
        }
    }

    /// The `title` member the Gateway writes for this type; `None` where
    /// it has no fixed one (`connection-refused` copies the exception's
    /// message, and the others are not documented) and for `Other`.
    ///
    /// Kept word for word, trailing full stop or not, because a simulator
    /// that answers like the Gateway must send them unchanged. Most come
    /// from the specification's table of errors (§8.3.1); that table does
    /// not list `validator`, `id-doc` and `sign-error`, whose titles are the
    /// ones fse-sim has always sent.
    pub fn title(&self) -> Option<&'static str> {
        Some(match self {
            Self::CdaElement => "Errore in fase di estrazione del CDA.",
            Self::Syntax => "Errore di sintassi.",
            Self::Semantic => "Errore semantico.",
            Self::Vocabulary => "Errore vocabolario.",
            Self::Validator => "Errore di validazione.",
            Self::CdaMatch => "Errore in fase di recupero dell'esito della verifica.",
            Self::MaxDayLimitExceed => {
                "Error: document exceeded the maximum period to be published."
            }
            Self::DocumentHash => "Verifica hash fallita.",
            Self::EmptyFile => "File vuoto.",
            Self::DocumentType => "Il documento non è pdf.",
            Self::MandatoryElement => "Campo obbligatorio non presente.",
            Self::InvalidFormat => "Formato campo non valido.",
            Self::IdDoc => "Campo id documento non valido",
            Self::JwtValidation => "Campo token JWT non valido.",
            Self::MandatoryElementToken => "Token JWT non valido.",
            Self::MissingToken => "Token non fornito.",
            Self::SignError => "Errore di firma.",
            Self::FhirMappingType => "Mapping fhir fallito.",
            Self::GenericError => "Errore generico.",
            Self::GenericTimeout => "Generic timeout.",
            Self::WorkflowIdErrorExtraction => "Errore in fase di estrazione del workflow id.",
            Self::RecordNotFound => "Record non trovato.",
            Self::EdsError => "Eds error.",
            Self::IniError => "Ini error.",
            Self::ConnectionRefused
            | Self::Unauthorized
            | Self::MockedService
            | Self::SimulationError
            | Self::Other(_) => return None,
        })
    }

    /// The HTTP status the Gateway usually answers with.
    pub fn usual_status(&self) -> u16 {
        match self {
            Self::Semantic => 422,
            Self::DocumentType => 415,
            Self::JwtValidation | Self::MandatoryElementToken | Self::MissingToken => 403,
            Self::RecordNotFound | Self::EdsError => 404,
            Self::Unauthorized => 401,
            Self::GenericTimeout => 504,
            Self::GenericError | Self::ConnectionRefused | Self::MockedService | Self::IniError => {
                500
            }
            _ => 400,
        }
    }

    /// Whether and how to retry after it, whatever the operation.
    pub fn retry(&self) -> Retry {
        match self {
            Self::CdaMatch | Self::MaxDayLimitExceed | Self::DocumentHash => Retry::Revalidate,
            Self::GenericTimeout => Retry::CheckStatusFirst,
            Self::ConnectionRefused | Self::IniError => Retry::Backoff,
            Self::RecordNotFound => Retry::Later,
            Self::GenericError => Retry::CheckStatusFirst,
            _ => Retry::Never,
        }
    }

    /// Whether a publishing call that got it may still have taken effect.
    pub fn outcome_uncertain(&self) -> bool {
        matches!(
            self,
            Self::GenericTimeout | Self::GenericError | Self::IniError
        )
    }
}

/// The error types of regional middlewares (`mw/<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MiddlewareErrorType {
    /// `mw/io_error`: the middleware could not reach the Gateway (504).
    Io,
    /// `mw/internal_error`: the middleware failed (500).
    Internal,
    /// Another `mw/` type, kept as received (without the prefix).
    Other(String),
}

impl MiddlewareErrorType {
    /// Reads `mw/<name>` (or `/mw/<name>`).
    pub fn from_type(problem_type: &str) -> Option<Self> {
        let t = problem_type.trim();
        let name = t.strip_prefix("/mw/").or_else(|| t.strip_prefix("mw/"))?;
        Some(match name {
            "io_error" => Self::Io,
            "internal_error" => Self::Internal,
            other => Self::Other(other.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Problem {
        Problem::parse(json.as_bytes()).expect("parses")
    }

    #[test]
    fn national_problem() {
        let p = parse(
            r#"{"traceID":"7fee3f3e2fc75b30","spanID":"7fee3f3e2fc75b30","type":"/msg/cda-element","title":"Errore in fase di estrazione del CDA.","detail":"Errore in fase di estrazione del CDA.","status":400,"instance":"/msg/cda-extraction","workflowInstanceId":"x"}"#,
        );
        assert_eq!(p.source, ProblemSource::Gateway);
        assert_eq!(p.status, Some(400));
        assert_eq!(p.trace_id.as_deref(), Some("7fee3f3e2fc75b30"));
        assert_eq!(p.workflow_instance_id.as_deref(), Some("x"));
        assert_eq!(p.national_type(), Some(NationalErrorType::CdaElement));
        assert_eq!(
            p.national_type().and_then(|t| t.title()),
            p.title.as_deref()
        );
        assert!(p.additional.is_empty());
        assert_eq!(
            p.to_string(),
            "400 /msg/cda-element: Errore in fase di estrazione del CDA. (traceID 7fee3f3e2fc75b30)"
        );
    }

    #[test]
    fn string_status_and_type_without_leading_slash() {
        let p = parse(r#"{"type":"msg/record-not-found","status":"404","title":"x"}"#);
        assert_eq!(p.status, Some(404));
        assert_eq!(p.national_type(), Some(NationalErrorType::RecordNotFound));
        assert_eq!(p.source, ProblemSource::Gateway);
    }

    #[test]
    fn govway_problem() {
        let p = parse(
            r#"{"type":"https://govway.org/handling-errors/429/TooManyRequests.html","title":"TooManyRequests","status":429,"detail":"Too many requests","govway_id":"8b9c6e2a-0000"}"#,
        );
        assert_eq!(p.source, ProblemSource::GovWay);
        assert_eq!(p.govway_name(), Some("TooManyRequests"));
        assert_eq!(p.national_type(), None);
        assert_eq!(
            p.advice(Operation::Create),
            Advice {
                retry: Retry::Backoff,
                outcome_uncertain: false
            }
        );
    }

    #[test]
    fn middleware_problem() {
        let p = parse(
            r#"{"type":"mw/io_error","title":"Errore di comunicazione con il gtw nazionale","detail":"Timeout connessione","status":"504","instance":"mw/io_error"}"#,
        );
        assert_eq!(p.source, ProblemSource::Middleware);
        assert_eq!(p.status, Some(504));
        assert_eq!(p.middleware_type(), Some(MiddlewareErrorType::Io));
        assert_eq!(
            p.advice(Operation::Create),
            Advice {
                retry: Retry::CheckStatusFirst,
                outcome_uncertain: true
            }
        );
        assert_eq!(
            p.advice(Operation::Validate),
            Advice {
                retry: Retry::Backoff,
                outcome_uncertain: false
            }
        );
        let internal = parse(r#"{"type":"mw/internal_error","status":500}"#);
        assert_eq!(
            internal.middleware_type(),
            Some(MiddlewareErrorType::Internal)
        );
    }

    #[test]
    fn nothing_is_lost() {
        let p = parse(
            r#"{"type":"/msg/x","status":"abc","title":7,"timestamp":"2024-01-01","nested":{"a":1}}"#,
        );
        assert_eq!(p.status, None);
        assert_eq!(
            p.additional.get("status"),
            Some(&Value::String("abc".into()))
        );
        assert_eq!(p.additional.get("title"), Some(&Value::from(7)));
        assert!(p.additional.contains_key("timestamp") && p.additional.contains_key("nested"));
        assert_eq!(
            p.national_type(),
            Some(NationalErrorType::Other("x".into()))
        );
    }

    #[test]
    fn non_problem_bodies() {
        assert!(Problem::parse(b"[1,2]").is_err());
        assert!(Problem::parse(b"<html>Bad gateway</html>").is_err());
        let p = Problem::from_response(502, b"<html>Bad gateway</html>");
        assert_eq!(p.status, Some(502));
        assert_eq!(p.detail.as_deref(), Some("<html>Bad gateway</html>"));
        assert_eq!(
            p.advice(Operation::Create),
            Advice {
                retry: Retry::CheckStatusFirst,
                outcome_uncertain: true
            }
        );
        assert_eq!(
            p.advice(Operation::StatusByTrace),
            Advice {
                retry: Retry::Backoff,
                outcome_uncertain: false
            }
        );
        let empty = Problem::from_response(503, b"");
        assert_eq!(empty.detail, None);
        assert_eq!(empty.advice(Operation::Create).retry, Retry::Backoff);
        let kept = Problem::from_response(500, br#"{"type":"/msg/generic-error"}"#);
        assert_eq!(
            kept.status,
            Some(500),
            "the HTTP status fills a missing one"
        );
    }

    #[test]
    fn advice_per_national_type() {
        let advice = |t: &str, status: u16, op| {
            Problem::from_response(
                status,
                format!(r#"{{"type":"{t}","status":{status}}}"#).as_bytes(),
            )
            .advice(op)
        };
        let revalidate = Advice {
            retry: Retry::Revalidate,
            outcome_uncertain: false,
        };
        assert_eq!(advice("/msg/cda-match", 400, Operation::Create), revalidate);
        assert_eq!(
            advice("/msg/document-hash", 400, Operation::Create),
            revalidate
        );
        assert_eq!(
            advice("/msg/max-day-limit-exceed", 400, Operation::Replace),
            revalidate
        );
        assert_eq!(
            advice("/msg/generic-timeout", 504, Operation::Create),
            Advice {
                retry: Retry::CheckStatusFirst,
                outcome_uncertain: true
            }
        );
        assert_eq!(
            advice("/msg/record-not-found", 404, Operation::Replace).retry,
            Retry::Later
        );
        assert_eq!(
            advice("/msg/record-not-found", 404, Operation::StatusByTrace).retry,
            Retry::Later
        );
        assert_eq!(
            advice("/msg/generic-error", 400, Operation::Create).retry,
            Retry::Never
        );
        assert!(advice("/msg/ini-error", 500, Operation::Delete).outcome_uncertain);
        assert_eq!(
            advice("/msg/connection-refused", 500, Operation::Validate).retry,
            Retry::Backoff
        );
        assert_eq!(
            advice("/msg/syntax", 400, Operation::Validate).retry,
            Retry::Never
        );
        assert_eq!(
            advice("/msg/jwt-validation", 403, Operation::Create).retry,
            Retry::Never
        );
    }

    #[test]
    fn titles_as_the_gateway_writes_them() {
        let title = |t: NationalErrorType| t.title();
        // From the specification's table of errors, full stops included.
        assert_eq!(
            title(NationalErrorType::Semantic),
            Some("Errore semantico.")
        );
        assert_eq!(
            title(NationalErrorType::CdaMatch),
            Some("Errore in fase di recupero dell'esito della verifica.")
        );
        assert_eq!(
            title(NationalErrorType::DocumentType),
            Some("Il documento non è pdf.")
        );
        assert_eq!(
            title(NationalErrorType::MaxDayLimitExceed),
            Some("Error: document exceeded the maximum period to be published.")
        );
        assert_eq!(
            title(NationalErrorType::MissingToken),
            Some("Token non fornito.")
        );
        assert_eq!(title(NationalErrorType::EdsError), Some("Eds error."));
        // This one has no full stop.
        assert_eq!(
            title(NationalErrorType::IdDoc),
            Some("Campo id documento non valido")
        );
        // connection-refused's title is the exception's message.
        assert_eq!(title(NationalErrorType::ConnectionRefused), None);
        assert_eq!(title(NationalErrorType::Other("x".into())), None);
        // No two types share a title: a slip copying a line would.
        let titled: Vec<&str> = NationalErrorType::listed()
            .filter_map(NationalErrorType::title)
            .collect();
        let distinct: std::collections::HashSet<&str> = titled.iter().copied().collect();
        assert_eq!(distinct.len(), titled.len());
        assert!(titled.iter().all(|t| !t.trim().is_empty()));
    }

    #[test]
    fn national_types_round_trip() {
        for t in NationalErrorType::listed() {
            assert_eq!(
                NationalErrorType::from_type(&t.type_uri()).as_ref(),
                Some(t)
            );
            assert!(t.usual_status() >= 400);
            if t.outcome_uncertain() {
                assert_ne!(t.retry(), Retry::Never, "{t:?}");
            }
        }
        assert_eq!(
            NationalErrorType::from_type("https://x.example/msg/syntax"),
            Some(NationalErrorType::Syntax)
        );
        assert_eq!(NationalErrorType::from_type("about:blank"), None);
    }
}
