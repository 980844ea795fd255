//! Retries against a fake clock: 429/503 retried within bounds honouring
//! Retry-After; writes never re-sent blindly; uncertain outcomes reported
//! and reconciled through status.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use fse_transport::journal::Outcome;
use fse_transport::{
    CallContext, Error, Journal, JournalQuery, MemoryJournal, Operation, ProfileKind,
    Reconciliation,
};
use support::*;

fn govway(status: u16, name: &str) -> String {
    serde_json::json!({"type": format!("https://govway.org/handling-errors/{status}/{name}.html"), "title": name, "status": status, "detail": "x", "govway_id": "gw"}).to_string()
}

#[tokio::test]
async fn a_503_with_retry_after_is_retried_within_bounds() {
    let server = Recorder::start(vec![
        Answer::new(503, govway(503, "APIUnavailable"))
            .header("Retry-After", "7")
            .header("X-Cart-id", "a"),
        Answer::new(503, govway(503, "APIUnavailable"))
            .header("Retry-After", "7")
            .header("X-Cart-id", "b"),
        Answer::new(202, success_body(WII)).header("X-Cart-id", "c"),
    ])
    .await;
    let (client, journal, clock) = client(&server.url());
    // A publication: 503 means CART did not forward it, so it is retried.
    let reply = client.create(&upload(create_body()), &ctx()).await.unwrap();
    assert_eq!(reply.meta.attempts, 3);
    assert_eq!(reply.meta.cart_id.as_deref(), Some("c"));
    assert_eq!(server.hits(), 3);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 2);
    for s in &sleeps {
        assert!(
            *s >= Duration::from_secs(7) && *s <= Duration::from_secs(8),
            "{sleeps:?}"
        );
    }
    let entries = journal.query(&JournalQuery::default()).unwrap();
    let carts: Vec<_> = entries
        .iter()
        .map(|e| e.record.cart_id.clone().unwrap())
        .collect();
    assert_eq!(carts, ["a", "b", "c"]);
    // Every attempt had fresh tokens.
    let jtis: std::collections::BTreeSet<String> = server
        .seen()
        .iter()
        .map(|s| {
            s.headers
                .get("fse-jwt-signature")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(jtis.len(), 3);
}

#[tokio::test]
async fn retries_stop_at_the_bound() {
    let server = Recorder::start(vec![Answer::new(429, govway(429, "TooManyRequests"))]).await;
    let (client, journal, clock) = client(&server.url());
    let err = client.status_by_trace("trace-9", &ctx()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Frontier(r) if r.meta.status == 429 && r.meta.attempts == 3),
        "{err}"
    );
    assert_eq!(server.hits(), 3, "max_attempts is 3");
    // Exponential backoff with jitter: 0.5 s then 1 s, at the midpoint jitter.
    assert_eq!(
        clock.sleeps(),
        [Duration::from_millis(375), Duration::from_millis(750)]
    );
    assert_eq!(journal.query(&JournalQuery::default()).unwrap().len(), 3);
}

#[tokio::test]
async fn a_retry_after_beyond_the_ceiling_is_not_waited() {
    let server = Recorder::start(vec![
        Answer::new(503, govway(503, "APISuspended")).header("Retry-After", "3600"),
    ])
    .await;
    let (client, _, clock) = client(&server.url());
    let err = client.status_by_trace("t", &ctx()).await.unwrap_err();
    let Error::Frontier(r) = &err else {
        panic!("{err}")
    };
    assert_eq!(r.meta.retry_after, Some(Duration::from_secs(3600)));
    assert_eq!(server.hits(), 1);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn a_timed_out_create_is_uncertain_and_never_re_sent() {
    let server = Recorder::start(vec![
        Answer::new(202, success_body(WII)).delayed(Duration::from_secs(5)),
    ])
    .await;
    let journal = Arc::new(MemoryJournal::new());
    let clock = Arc::new(FakeClock::new());
    let mut s = settings(&server.url(), all_operations());
    s.timeouts.request = Duration::from_millis(300);
    s.retry.max_attempts = 5;
    let client = client_with(s, journal.clone(), clock.clone());
    let mut body = create_body();
    body["workflowInstanceId"] = WII.into();
    let err = client.create(&upload(body), &ctx()).await.unwrap_err();
    let Error::Uncertain(u) = &err else {
        panic!("expected uncertain, got {err}")
    };
    assert_eq!(u.operation, Operation::Create);
    assert!(u.reason.contains("timed out"), "{}", u.reason);
    assert_eq!(u.document_id.as_deref(), Some(DOC_ID));
    assert_eq!(u.workflow_instance_id.as_deref(), Some(WII));
    assert_eq!(
        u.attachment_hash.as_deref(),
        Some(fse_transport::jwt::sha256_hex(&pdf()).as_str())
    );
    assert!(u.profile_has_status);
    assert!(!err.nothing_sent());
    assert!(err.to_string().contains("Do not re-send"), "{err}");
    assert!(clock.sleeps().is_empty(), "no retry was scheduled");
    // Give a blind retry time to show up; none does.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.hits(), 1);
    let entries = journal.query(&JournalQuery::default()).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].record.outcome, Outcome::Uncertain);
    assert!(
        entries[0]
            .record
            .error
            .as_deref()
            .unwrap()
            .starts_with("Timeout")
    );
}

#[tokio::test]
async fn a_504_on_delete_is_uncertain_but_on_a_read_is_retried() {
    let server = Recorder::start(vec![
        Answer::new(504, govway(504, "EndpointReadTimeout")).header("X-Cart-id", "k"),
    ])
    .await;
    let (client, _, clock) = client(&server.url());
    let err = client.delete(DOC_ID, &metadata_ctx()).await.unwrap_err();
    let Error::Uncertain(u) = &err else {
        panic!("{err}")
    };
    assert_eq!(u.http_status, Some(504));
    assert_eq!(u.cart_id.as_deref(), Some("k"));
    assert_eq!(server.hits(), 1);
    let err = client.status_by_workflow(WII, &ctx()).await.unwrap_err();
    assert!(matches!(err, Error::Frontier(_)), "{err}");
    assert_eq!(server.hits(), 4);
    assert_eq!(clock.sleeps().len(), 2);
}

#[tokio::test]
async fn connection_refused_is_retried_even_for_writes() {
    // Nothing listens: nothing was sent, so retrying a write is safe.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let (client, journal, clock) = client(&format!("http://{addr}/v1"));
    let err = client
        .create(&upload(create_body()), &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind == fse_transport::TransportFailureKind::Connect && t.attempts == 3),
        "{err}"
    );
    assert_eq!(clock.sleeps().len(), 2);
    assert_eq!(journal.query(&JournalQuery::default()).unwrap().len(), 3);
}

fn status_body(events: &[(&str, &str)]) -> String {
    let list: Vec<serde_json::Value> = events
        .iter()
        .map(|(t, s)| serde_json::json!({"eventType": t, "eventStatus": s, "eventDate": "2026-01-02T10:00:00.000+0100", "identificativoDocumento": DOC_ID}))
        .collect();
    serde_json::json!({"traceID": "st", "spanID": "st", "transactionData": list}).to_string()
}

#[tokio::test]
async fn an_uncertain_create_is_reconciled_through_status() {
    let server = Recorder::start(vec![
        Answer::new(504, serde_json::json!({"traceID": "trace-x", "spanID": "s", "type": "/msg/generic-timeout", "title": "Timeout", "status": 504}).to_string()),
        Answer::new(200, status_body(&[("VALIDATION", "SUCCESS"), ("PUBLICATION", "SUCCESS")])),
    ])
    .await;
    let (client, _, _) = client(&server.url());
    let err = client
        .create(&upload(create_body()), &ctx())
        .await
        .unwrap_err();
    let Error::Uncertain(u) = err else {
        panic!("expected uncertain")
    };
    assert_eq!(u.trace_id.as_deref(), Some("trace-x"));
    let verdict = client.reconcile(&u, &CallContext::default()).await.unwrap();
    assert!(
        matches!(verdict, Reconciliation::Applied { ref events } if events.len() == 2),
        "{verdict:?}"
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].path, "/v1/status/search/trace-x");
}

#[tokio::test]
async fn reconciliation_by_workflow_and_without_status() {
    let server = Recorder::start(vec![
        Answer::new(502, govway(502, "InvalidResponse")),
        Answer::new(200, status_body(&[("VALIDATION", "SUCCESS")])),
    ])
    .await;
    let (client, _, _) = client(&server.url());
    let mut body = create_body();
    body["workflowInstanceId"] = WII.into();
    let Error::Uncertain(u) = client.create(&upload(body), &ctx()).await.unwrap_err() else {
        panic!()
    };
    assert_eq!(u.trace_id, None);
    let verdict = client.reconcile(&u, &ctx()).await.unwrap();
    assert!(
        matches!(verdict, Reconciliation::NotFound { .. }),
        "{verdict:?}"
    );
    assert!(server.seen()[1].path.starts_with("/v1/status/2.16.840"));

    // CART: no status, so the outcome is handed back for a human to settle.
    let server = Recorder::start(vec![
        Answer::new(504, govway(504, "EndpointReadTimeout")).header("X-Cart-id", "cart-9"),
    ])
    .await;
    let mut s = settings(
        &server.url(),
        ProfileKind::ToscanaStaging.default_operations(fse_transport::MetadataPath::Metadata),
    );
    s.profile.metadata_path = fse_transport::MetadataPath::Metadata;
    let client = client_with(
        s,
        Arc::new(MemoryJournal::new()),
        Arc::new(FakeClock::new()),
    );
    let Error::Uncertain(u) = client
        .validate_and_create(&upload(create_body()), &ctx())
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert!(!u.profile_has_status);
    assert!(u.to_string().contains("cannot read status"), "{u}");
    let verdict = client.reconcile(&u, &ctx()).await.unwrap();
    let Reconciliation::NeedsManual { outcome, .. } = verdict else {
        panic!("{verdict:?}")
    };
    assert_eq!(outcome.cart_id.as_deref(), Some("cart-9"));
    assert_eq!(outcome.document_id.as_deref(), Some(DOC_ID));
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_revalidate_problem_is_not_retried() {
    let server = Recorder::start(vec![Answer::new(400, serde_json::json!({"traceID": "t", "type": "/msg/cda-match", "title": "Il CDA non risulta validato", "status": 400}).to_string())]).await;
    let (client, journal, clock) = client(&server.url());
    let err = client
        .create(&upload(create_body()), &ctx())
        .await
        .unwrap_err();
    let Error::Rejected(r) = &err else {
        panic!("{err}")
    };
    assert_eq!(r.advice.retry, fse_model::problem::Retry::Revalidate);
    assert!(
        err.to_string().contains("validate the document again"),
        "{err}"
    );
    assert_eq!(server.hits(), 1);
    assert!(clock.sleeps().is_empty());
    assert!(journal.verify().unwrap().is_intact());
}
