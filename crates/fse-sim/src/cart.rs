//! The CART layer in front of the Gateway: an `X-CART-id` on every
//! response (errors included), GovWay-style problems for its own failures,
//! fault injection, and the journal of calls; plus the simulator-only
//! inspection endpoints under `/_sim`.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};

use crate::faults::{FaultInjector, FaultKind};
use crate::gateway::Gateway;
use crate::operation::Operation;
use crate::problem::{CallOutcome, FrontProblem};
use crate::state::{CallRecord, event_date};

/// The response header CART adds to every response.
pub const CART_ID_HEADER: &str = "x-cart-id";

/// Marks a response that must not be sent: the server closes the
/// connection instead (a reset, or an accepted call that never answers).
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// The TLS client certificate of the connection a request came on.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    /// Its subject common name.
    pub common_name: Option<String>,
}

/// What the CART layer needs.
#[derive(Debug, Clone)]
pub(crate) struct Cart {
    pub(crate) gateway: Gateway,
    pub(crate) faults: Arc<FaultInjector>,
    pub(crate) base_path: String,
}

pub(crate) async fn layer(State(cart): State<Cart>, request: Request, next: Next) -> Response {
    let cart_id = uuid::Uuid::new_v4().to_string();
    let path = request.uri().path().to_owned();
    if path == "/_sim" || path.starts_with("/_sim/") {
        let mut response = next.run(request).await;
        stamp(&mut response, &cart_id);
        return response;
    }
    let started = Instant::now();
    let at = event_date(cart.gateway.clock().now(), false);
    let method = request.method().clone();
    let client = request
        .extensions()
        .get::<ClientIdentity>()
        .and_then(|c| c.common_name.clone());
    let op = match path.strip_prefix(cart.base_path.as_str()) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            Operation::classify(&method, rest)
        }
        _ => Operation::Unknown,
    };

    let decision = if op == Operation::Unknown {
        Default::default()
    } else {
        cart.faults.decide(op)
    };
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    let fault = decision.fault.map(|(k, _)| k);
    let (mut response, gateway_status) = if op == Operation::Unknown {
        (FrontProblem::unknown_operation(&path).into_response(), None)
    } else if let Some(problem) = decision.front_problem() {
        (problem.into_response(), None)
    } else if fault == Some(FaultKind::Reset) {
        (dropped(), None)
    } else {
        let response = next.run(request).await;
        let status = response.status().as_u16();
        match fault {
            Some(FaultKind::AcceptedThenTimeout) => {
                let outcome = response.extensions().get::<CallOutcome>().cloned();
                let mut timeout = FrontProblem::timeout().into_response();
                if let Some(o) = outcome {
                    timeout.extensions_mut().insert(o);
                }
                (timeout, Some(status))
            }
            Some(FaultKind::AcceptedThenNoAnswer) => {
                let outcome = response.extensions().get::<CallOutcome>().cloned();
                let mut dropped = dropped();
                if let Some(o) = outcome {
                    dropped.extensions_mut().insert(o);
                }
                (dropped, Some(status))
            }
            _ => (response, Some(status)),
        }
    };
    stamp(&mut response, &cart_id);

    let outcome = response
        .extensions()
        .get::<CallOutcome>()
        .cloned()
        .unwrap_or_default();
    let delivered = if response.extensions().get::<DropConnection>().is_some() {
        0
    } else {
        response.status().as_u16()
    };
    let record = CallRecord {
        cart_id,
        at,
        method: method.to_string(),
        path,
        operation: op.name().to_owned(),
        status: delivered,
        gateway_status,
        fault: fault.map(|k| k.name().to_owned()),
        trace_id: outcome.trace_id,
        workflow_instance_id: outcome.workflow_instance_id,
        problem_type: outcome.problem_type,
        document_id: outcome.document_id,
        client,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    cart.gateway.store().record_call(record);
    response
}

fn dropped() -> Response {
    let mut r = StatusCode::BAD_GATEWAY.into_response();
    r.extensions_mut().insert(DropConnection);
    r
}

fn stamp(response: &mut Response, cart_id: &str) {
    if let Ok(v) = HeaderValue::from_str(cart_id) {
        response.headers_mut().insert(CART_ID_HEADER, v);
    }
}

/// `/_sim/...`: what the Gateway holds and what it received.
pub(crate) fn inspection() -> Router<Gateway> {
    Router::new()
        .route("/documents", axum::routing::get(documents))
        .route("/documents/{id}", axum::routing::get(document))
        .route("/calls", axum::routing::get(calls))
        .route("/notifications", axum::routing::get(notifications))
}

async fn documents(State(gw): State<Gateway>) -> Response {
    let docs: Vec<_> = gw.store().documents().values().cloned().collect();
    axum::Json(docs).into_response()
}

async fn document(State(gw): State<Gateway>, Path(id): Path<String>) -> Response {
    match gw.store().documents().get(&id) {
        Some(d) => axum::Json(d.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn calls(State(gw): State<Gateway>) -> Response {
    axum::Json(gw.store().calls().to_vec()).into_response()
}

async fn notifications(State(gw): State<Gateway>) -> Response {
    axum::Json(gw.store().notifications().to_vec()).into_response()
}
