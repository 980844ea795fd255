//! What a call returns: the parsed body with what was learned from the
//! response (X-Cart-id, traceID, warnings, ...), or one of the failure
//! shapes of [`crate::Error`].

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use fse_model::api::{MIDDLEWARE_WARNING_MARK, Warnings};
use fse_model::problem::{Advice, Problem, ProblemSource, Retry};

use crate::mask::mask_fiscal_codes;
use crate::operation::{Operation, OperationExt};

/// The header CART adds to every response it handles.
pub const CART_ID_HEADER: &str = "x-cart-id";
/// GovWay's transaction id header.
pub const GOVWAY_TRANSACTION_HEADER: &str = "govway-transaction-id";

/// What the client learned from one response, besides its body.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResponseMeta {
    /// HTTP status.
    pub status: u16,
    /// `X-Cart-id` (case-insensitive header).
    pub cart_id: Option<String>,
    /// The Gateway's `traceID`.
    pub trace_id: Option<String>,
    /// The Gateway's `spanID`.
    pub span_id: Option<String>,
    /// `workflowInstanceId` from the body.
    pub workflow_instance_id: Option<String>,
    /// GovWay's id (`govway_id` in the body or `GovWay-Transaction-ID`).
    pub govway_id: Option<String>,
    /// The problem `type` of an error body.
    pub problem_type: Option<String>,
    /// `Retry-After`, when sent.
    #[serde(serialize_with = "opt_secs")]
    pub retry_after: Option<Duration>,
    /// Warnings; the empty string the Gateway sends means none.
    pub warnings: Vec<String>,
    /// The journal entry of this response.
    pub journal_seq: Option<u64>,
    /// How many attempts the call took.
    pub attempts: u32,
    /// The response headers.
    #[serde(skip)]
    pub headers: http::HeaderMap,
}

fn op_name<S: serde::Serializer>(op: &Operation, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&op.name())
}

fn opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// A successful call: the parsed body and what came with it.
#[derive(Debug, Clone, Serialize)]
pub struct Reply<T> {
    /// The body.
    pub body: T,
    /// Status, X-Cart-id, traceID, warnings, ...
    pub meta: ResponseMeta,
}

/// The ids every Gateway body may carry, success or error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BodyIds {
    pub(crate) trace_id: Option<String>,
    pub(crate) span_id: Option<String>,
    pub(crate) workflow_instance_id: Option<String>,
}

impl BodyIds {
    pub(crate) fn of(body: &serde_json::Value) -> Self {
        let text = |keys: &[&str]| {
            keys.iter().find_map(|k| {
                body.get(*k)
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            })
        };
        BodyIds {
            trace_id: text(&["traceID", "traceId"]),
            span_id: text(&["spanID", "spanId"]),
            workflow_instance_id: text(&["workflowInstanceId"]),
        }
    }
}

/// The warnings of a success body: the Gateway's, then each regional
/// middleware's; `""` is none.
pub fn warnings_of(body: &serde_json::Value) -> Vec<String> {
    let Some(text) = body.get("warning").and_then(|w| w.as_str()) else {
        return Vec::new();
    };
    let split = Warnings::split(text);
    let mut out: Vec<String> = split.gateway.map(str::to_owned).into_iter().collect();
    out.extend(
        split
            .middleware
            .split(MIDDLEWARE_WARNING_MARK)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
    );
    out
}

/// A refusal, by the Gateway or by the frontier in front of it.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// The operation.
    pub operation: Operation,
    /// Status, ids, Retry-After, ...
    pub meta: ResponseMeta,
    /// The problem body, read leniently (Gateway, GovWay or middleware).
    pub problem: Problem,
    /// What to do about it.
    pub advice: Advice,
}

impl Rejection {
    /// Who refused: the Gateway, GovWay (CART), a middleware.
    pub fn source(&self) -> ProblemSource {
        self.problem.source
    }

    /// One line of advice for the operator.
    pub fn advice_text(&self) -> &'static str {
        advice_text(self.advice)
    }

    /// The refusal as JSON (for `--format json`), `detail` masked.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "operation": self.operation.name(),
            "source": format!("{:?}", self.problem.source),
            "status": self.meta.status,
            "type": self.problem.problem_type,
            "title": self.problem.title.as_deref().map(mask_fiscal_codes),
            "detail": self.problem.detail.as_deref().map(mask_fiscal_codes),
            "retry": format!("{:?}", self.advice.retry),
            "outcome_uncertain": self.advice.outcome_uncertain,
            "advice": self.advice_text(),
            "meta": self.meta,
        })
    }
}

/// One line for the operator about an [`Advice`].
pub fn advice_text(advice: Advice) -> &'static str {
    match (advice.retry, advice.outcome_uncertain) {
        (_, true) => {
            "the call may have taken effect: check the transaction status before re-sending"
        }
        (Retry::Never, _) => "fix the document or the request; re-sending it unchanged fails again",
        (Retry::Revalidate, _) => {
            "validate the document again, then publish with the new workflowInstanceId"
        }
        (Retry::Backoff, _) => "temporary: try again later",
        (Retry::CheckStatusFirst, _) => "check the transaction status before re-sending",
        (Retry::Later, _) => {
            "not found yet: if the document was published moments ago, try again later"
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match self.problem.source {
            ProblemSource::Gateway => "the Gateway",
            ProblemSource::GovWay => "GovWay/CART",
            ProblemSource::Middleware => "the regional middleware",
            ProblemSource::Unknown => "the server",
        };
        write!(
            f,
            "{}: refused by {who}, HTTP {}",
            self.operation.name(),
            self.meta.status
        )?;
        if let Some(t) = &self.problem.problem_type {
            write!(f, " {t}")?;
        }
        if let Some(t) = &self.problem.title {
            write!(f, ": {}", mask_fiscal_codes(t))?;
        }
        if let Some(d) = &self.problem.detail
            && Some(d) != self.problem.title.as_ref()
        {
            let shown: String = d.chars().take(500).collect();
            write!(f, " — {}", mask_fiscal_codes(&shown))?;
        }
        if let Some(c) = &self.meta.cart_id {
            write!(f, " [X-Cart-id {c}]")?;
        }
        if let Some(t) = &self.meta.trace_id {
            write!(f, " [traceID {t}]")?;
        }
        if let Some(g) = &self.meta.govway_id {
            write!(f, " [govway_id {g}]")?;
        }
        if let Some(r) = self.meta.retry_after {
            write!(f, " [Retry-After {}s]", r.as_secs())?;
        }
        write!(f, " ({})", self.advice_text())
    }
}

/// What kind of failure left a call without a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportFailureKind {
    /// The connection could not be made (nothing was sent).
    Connect,
    /// The TLS handshake failed (nothing was sent).
    Tls,
    /// The request or the response timed out.
    Timeout,
    /// The connection broke (reset, closed) after it was made.
    Broken,
}

impl TransportFailureKind {
    /// Whether the request certainly did not reach the server.
    pub fn nothing_sent(self) -> bool {
        matches!(
            self,
            TransportFailureKind::Connect | TransportFailureKind::Tls
        )
    }
}

/// A call that got no response (after any retries).
#[derive(Debug, Clone, Serialize)]
pub struct TransportFailure {
    /// The operation.
    #[serde(serialize_with = "op_name")]
    pub operation: Operation,
    /// What failed.
    pub kind: TransportFailureKind,
    /// The error chain as text.
    pub message: String,
    /// Attempts made.
    pub attempts: u32,
    /// The journal entry of the last attempt.
    pub journal_seq: Option<u64>,
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: no response ({:?}) after {} attempt(s): {}",
            self.operation.name(),
            self.kind,
            self.attempts,
            self.message
        )
    }
}

/// A write that was sent and whose effect is unknown.
///
/// It carries everything needed to reconcile: the operation, the profile,
/// the document id, the attachment hash, the workflowInstanceId of the
/// validation, the traceID and X-Cart-id if a response came, the time.
#[derive(Debug, Clone, Serialize)]
pub struct UncertainOutcome {
    /// The operation.
    #[serde(serialize_with = "op_name")]
    pub operation: Operation,
    /// The profile.
    pub profile: String,
    /// Why the outcome is unknown.
    pub reason: String,
    /// The HTTP status, if a response came (502, 504, an unreadable 2xx).
    pub http_status: Option<u16>,
    /// The document (`identificativoDoc` or `{idDoc}`).
    pub document_id: Option<String>,
    /// `attachment_hash` of the PDF sent.
    pub attachment_hash: Option<String>,
    /// The workflowInstanceId known for this document (from validation or the response).
    pub workflow_instance_id: Option<String>,
    /// The traceID, if a response had one.
    pub trace_id: Option<String>,
    /// The X-Cart-id, if a response had one.
    pub cart_id: Option<String>,
    /// When the request was sent.
    #[serde(with = "time::serde::rfc3339")]
    pub request_at: OffsetDateTime,
    /// The journal entry of the attempt.
    pub journal_seq: Option<u64>,
    /// Whether the profile can read status (so [`crate::GatewayClient::reconcile`] can work).
    pub profile_has_status: bool,
}

impl fmt::Display for UncertainOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: outcome UNCERTAIN ({})",
            self.operation.name(),
            self.reason
        )?;
        if let Some(d) = &self.document_id {
            write!(f, "; document {d}")?;
        }
        if let Some(c) = &self.cart_id {
            write!(f, "; X-Cart-id {c}")?;
        }
        if let Some(t) = &self.trace_id {
            write!(f, "; traceID {t}")?;
        }
        if let Some(w) = &self.workflow_instance_id {
            write!(f, "; workflowInstanceId {w}")?;
        }
        if let Some(h) = &self.attachment_hash {
            write!(f, "; attachment_hash {h}")?;
        }
        write!(f, "; sent at {}", self.request_at)?;
        if self.profile_has_status
            && (self.trace_id.is_some() || self.workflow_instance_id.is_some())
        {
            write!(
                f,
                ". Do not re-send: reconcile through the transaction status first"
            )
        } else {
            write!(
                f,
                ". Do not re-send: this profile cannot read status; ask the operator of profile `{}` (CartDesk for CART) with these ids whether the document was taken",
                self.profile
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_split_and_empty() {
        assert!(warnings_of(&serde_json::json!({"warning": ""})).is_empty());
        assert!(warnings_of(&serde_json::json!({})).is_empty());
        assert_eq!(
            warnings_of(
                &serde_json::json!({"warning": "[W005 | x]--middlewarewarning--regional note"})
            ),
            ["[W005 | x]", "regional note"]
        );
    }

    #[test]
    fn ids_of_any_body() {
        let ids =
            BodyIds::of(&serde_json::json!({"traceID":"t","spanID":"s","workflowInstanceId":"w"}));
        assert_eq!(ids.trace_id.as_deref(), Some("t"));
        assert_eq!(ids.span_id.as_deref(), Some("s"));
        assert_eq!(ids.workflow_instance_id.as_deref(), Some("w"));
        assert_eq!(
            BodyIds::of(&serde_json::json!({"traceID": ""})),
            BodyIds::default()
        );
    }
}
