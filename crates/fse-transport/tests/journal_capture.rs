//! X-Cart-id is captured from every answer — 202, 400, 403, 503 — and a
//! connection reset is journaled too, durably, in the SQLite journal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use fse_transport::journal::Outcome;
use fse_transport::{Error, Journal, JournalQuery, SqliteJournal};
use support::*;

fn problem(status: u16, ty: &str) -> String {
    serde_json::json!({"traceID": format!("trace-{status}"), "spanID": "s", "type": ty, "title": "t", "detail": "d", "status": status, "instance": "/x"}).to_string()
}

#[tokio::test]
async fn cart_id_is_recorded_for_every_kind_of_answer() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("journal.sqlite");
    let journal = Arc::new(SqliteJournal::open(&db).unwrap());
    let server = Recorder::start(vec![
        Answer::new(202, success_body(WII)).header("X-CART-id", "cart-202"),
        Answer::new(400, problem(400, "/msg/syntax")).header("x-cart-id", "cart-400"),
        Answer::new(403, problem(403, "/msg/jwt-validation")).header("X-Cart-Id", "cart-403"),
        Answer::new(
            503,
            serde_json::json!({"type": "https://govway.org/handling-errors/503/APIUnavailable.html", "title": "APIUnavailable", "status": 503, "detail": "down", "govway_id": "gw-1"}).to_string(),
        )
        .header("X-Cart-id", "cart-503"),
    ])
    .await;
    let mut settings = settings(&server.url(), all_operations());
    settings.retry.max_attempts = 1;
    let client = client_with(settings, journal.clone(), Arc::new(FakeClock::new()));

    let ok = client.create(&upload(create_body()), &ctx()).await.unwrap();
    assert_eq!(ok.meta.cart_id.as_deref(), Some("cart-202"));
    assert_eq!(ok.meta.status, 202);

    let bad = client
        .create(&upload(create_body()), &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(&bad, Error::Rejected(r) if r.meta.status == 400),
        "{bad}"
    );
    assert_eq!(bad.cart_id(), Some("cart-400"));

    let forbidden = client
        .create(&upload(create_body()), &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(&forbidden, Error::Rejected(r) if r.meta.status == 403),
        "{forbidden}"
    );
    assert_eq!(forbidden.cart_id(), Some("cart-403"));

    let unavailable = client
        .create(&upload(create_body()), &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(&unavailable, Error::Frontier(r) if r.meta.status == 503),
        "{unavailable}"
    );
    assert_eq!(unavailable.cart_id(), Some("cart-503"));

    // A fresh handle on the file: what was returned is on disk.
    let reopened = SqliteJournal::open(&db).unwrap();
    let entries = reopened.query(&JournalQuery::default()).unwrap();
    let got: Vec<(Option<&str>, Option<u16>, Outcome)> = entries
        .iter()
        .map(|e| {
            (
                e.record.cart_id.as_deref(),
                e.record.http_status,
                e.record.outcome,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Some("cart-202"), Some(202), Outcome::Accepted),
            (Some("cart-400"), Some(400), Outcome::Rejected),
            (Some("cart-403"), Some(403), Outcome::Rejected),
            (Some("cart-503"), Some(503), Outcome::Frontier),
        ]
    );
    let e400 = &entries[1].record;
    assert_eq!(e400.problem_type.as_deref(), Some("/msg/syntax"));
    assert_eq!(e400.trace_id.as_deref(), Some("trace-400"));
    assert_eq!(e400.document_id.as_deref(), Some(DOC_ID));
    assert_eq!(
        e400.attachment_hash.as_deref(),
        Some(fse_transport::jwt::sha256_hex(&pdf()).as_str())
    );
    assert_eq!(entries[0].record.workflow_instance_id.as_deref(), Some(WII));
    assert_eq!(entries[3].record.govway_id.as_deref(), Some("gw-1"));
    for e in &entries {
        assert_eq!(e.record.operation, "create");
        assert!(e.record.response_at.is_some());
    }
    let by_cart = reopened
        .query(&JournalQuery {
            cart_id: Some("cart-403".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_cart.len(), 1);
    assert!(reopened.verify().unwrap().is_intact());
    // Nothing personal in the journal: no fiscal code anywhere.
    let text = std::fs::read(&db).unwrap();
    let cf = patient_cf();
    assert!(!text.windows(cf.len()).any(|w| w == cf.as_bytes()));
}

#[tokio::test]
async fn a_connection_reset_is_journaled() {
    let (addr, count) = resetting_server().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(SqliteJournal::open(&dir.path().join("j.sqlite")).unwrap());
    let clock = Arc::new(FakeClock::new());
    let client = client_with(
        settings(&format!("http://{addr}/v1"), all_operations()),
        journal.clone(),
        clock.clone(),
    );

    // A write: the request may have been taken, so the outcome is uncertain
    // and it is not sent again.
    let err = client
        .create(&upload(create_body()), &ctx())
        .await
        .unwrap_err();
    let Error::Uncertain(u) = &err else {
        panic!("expected uncertain, got {err}")
    };
    assert_eq!(u.document_id.as_deref(), Some(DOC_ID));
    assert!(u.journal_seq.is_some());
    assert_eq!(
        *count.lock().unwrap(),
        1,
        "a write is never re-sent blindly"
    );

    let entries = journal.query(&JournalQuery::default()).unwrap();
    assert_eq!(entries.len(), 1);
    let r = &entries[0].record;
    assert_eq!(r.http_status, None);
    assert_eq!(r.cart_id, None);
    assert_eq!(r.outcome, Outcome::Uncertain);
    assert!(
        r.error.as_deref().is_some_and(|e| e.contains("Broken")),
        "{:?}",
        r.error
    );
    assert!(journal.verify().unwrap().is_intact());
}

#[tokio::test]
async fn a_reset_read_is_retried_and_each_attempt_journaled() {
    let (addr, count) = resetting_server().await;
    let journal = Arc::new(fse_transport::MemoryJournal::new());
    let clock = Arc::new(FakeClock::new());
    let client = client_with(
        settings(&format!("http://{addr}/v1"), all_operations()),
        journal.clone(),
        clock.clone(),
    );
    let err = client.status_by_trace("trace-1", &ctx()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.attempts == 3),
        "{err}"
    );
    assert_eq!(*count.lock().unwrap(), 3);
    let entries = journal.query(&JournalQuery::default()).unwrap();
    assert_eq!(entries.len(), 3);
    assert!(
        entries
            .iter()
            .all(|e| e.record.outcome == Outcome::TransportFailure)
    );
    assert_eq!(
        entries.iter().map(|e| e.record.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(clock.sleeps().len(), 2);
}
