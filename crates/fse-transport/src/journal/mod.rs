//! The X-Cart-id journal: one entry per HTTP attempt, durable and
//! hash-chained.
//!
//! Every response — 2xx, 4xx, 5xx — and every attempt that got no response
//! is recorded with the `X-Cart-id` (what CartDesk asks for when something
//! goes wrong), the Gateway's traceID/spanID/workflowInstanceId, the HTTP
//! status, the problem type, the operation, the document id, the
//! attachment hash and the times. The entry is on disk (fsync) before the
//! call returns.
//!
//! Each entry's hash covers its sequence number, its record and the hash of
//! the entry before it; the store also keeps the head (last sequence number
//! and hash). [`Journal::verify`] recomputes the chain, so an edited,
//! removed or truncated entry is found. Patient data is not recorded: no
//! fiscal code, no problem `detail`.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

mod memory;
mod sqlite;

pub use memory::MemoryJournal;
pub use sqlite::SqliteJournal;

/// The hash before the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// A 2xx.
    Accepted,
    /// The Gateway refused (its own problem body).
    Rejected,
    /// CART / GovWay / a middleware refused or could not deliver.
    Frontier,
    /// No response: connection, TLS, timeout, reset.
    TransportFailure,
    /// A write whose effect is unknown (timeout, 502, 504 after sending).
    Uncertain,
}

impl Outcome {
    /// The name used in the store and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Rejected => "rejected",
            Outcome::Frontier => "frontier",
            Outcome::TransportFailure => "transport-failure",
            Outcome::Uncertain => "uncertain",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What is recorded of one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalRecord {
    /// The profile the call went through.
    pub profile: String,
    /// The operation (see [`crate::Operation::name`]).
    pub operation: String,
    /// HTTP method.
    pub method: String,
    /// The path after the base URL, as sent (percent-encoded).
    pub path: String,
    /// 1 for the first attempt of a call, 2 for its first retry, ...
    pub attempt: u32,
    /// When the request started (UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub request_at: OffsetDateTime,
    /// When the response (or the failure) came (UTC).
    #[serde(with = "time::serde::rfc3339::option")]
    pub response_at: Option<OffsetDateTime>,
    /// The HTTP status, `None` without a response.
    pub http_status: Option<u16>,
    /// `X-Cart-id`, when the response had one.
    pub cart_id: Option<String>,
    /// The Gateway's `traceID`.
    pub trace_id: Option<String>,
    /// The Gateway's `spanID`.
    pub span_id: Option<String>,
    /// The `workflowInstanceId` of the response.
    pub workflow_instance_id: Option<String>,
    /// The problem `type` of an error body.
    pub problem_type: Option<String>,
    /// GovWay's transaction id (`govway_id` or `GovWay-Transaction-ID`).
    pub govway_id: Option<String>,
    /// The document (`identificativoDoc` or `{idDoc}`).
    pub document_id: Option<String>,
    /// `attachment_hash` of the PDF sent.
    pub attachment_hash: Option<String>,
    /// How the attempt ended.
    pub outcome: Outcome,
    /// For failures without a response: what failed (no secrets, no patient data).
    pub error: Option<String>,
}

/// A stored entry: the record, its place in the chain and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// 1, 2, 3, ... without gaps.
    pub seq: u64,
    /// The record.
    #[serde(flatten)]
    pub record: JournalRecord,
    /// The hash of the entry before (or [`GENESIS_HASH`]).
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

/// A filter over entries; empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalQuery {
    /// Exact `X-Cart-id`.
    pub cart_id: Option<String>,
    /// Exact document id.
    pub document_id: Option<String>,
    /// Exact workflowInstanceId.
    pub workflow_instance_id: Option<String>,
    /// Exact traceID.
    pub trace_id: Option<String>,
    /// Requests at or after this instant.
    pub since: Option<OffsetDateTime>,
    /// Requests before this instant.
    pub until: Option<OffsetDateTime>,
    /// At most this many entries (the latest ones when set).
    pub limit: Option<usize>,
}

impl JournalQuery {
    /// Whether `record` passes the filter.
    pub fn matches(&self, record: &JournalRecord) -> bool {
        fn eq(want: &Option<String>, have: &Option<String>) -> bool {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        }
        eq(&self.cart_id, &record.cart_id)
            && eq(&self.document_id, &record.document_id)
            && eq(&self.workflow_instance_id, &record.workflow_instance_id)
            && eq(&self.trace_id, &record.trace_id)
            && self.since.is_none_or(|s| record.request_at >= s)
            && self.until.is_none_or(|u| record.request_at < u)
    }
}

/// The verdict of [`Journal::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Entries checked.
    pub entries: u64,
    /// The last sequence number and hash (the head), to anchor elsewhere.
    pub head_seq: u64,
    /// The head hash.
    pub head_hash: String,
    /// What is wrong, first problem first; empty when the chain holds.
    pub problems: Vec<ChainProblem>,
}

impl VerifyReport {
    /// Whether the chain holds.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One break in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainProblem {
    /// The sequence number concerned.
    pub seq: u64,
    /// What is wrong.
    pub reason: String,
}

/// A journal store. Implementations append atomically and durably.
pub trait Journal: Send + Sync + fmt::Debug {
    /// Appends one record; returns the stored entry once it is durable.
    ///
    /// # Errors
    /// [`JournalError`] when it could not be stored.
    fn append(&self, record: &JournalRecord) -> Result<JournalEntry, JournalError>;

    /// The entries matching `query`, in sequence order.
    ///
    /// # Errors
    /// [`JournalError`] when the store cannot be read.
    fn query(&self, query: &JournalQuery) -> Result<Vec<JournalEntry>, JournalError>;

    /// Recomputes the whole chain.
    ///
    /// # Errors
    /// [`JournalError`] when the store cannot be read (a broken chain is a
    /// report, not an error).
    fn verify(&self) -> Result<VerifyReport, JournalError>;
}

/// A journal store failed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite refused.
    #[error("journal database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The directory of the journal could not be created.
    #[error("journal directory {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A record could not be serialized or read back.
    #[error("journal record: {0}")]
    Record(#[source] serde_json::Error),
    /// A lock was poisoned by a panic in another thread.
    #[error("journal lock poisoned")]
    Poisoned,
}

/// The canonical text of a record: the JSON the hash covers.
///
/// # Errors
/// [`JournalError::Record`] if it cannot be serialized.
pub fn canonical_record(record: &JournalRecord) -> Result<String, JournalError> {
    serde_json::to_string(record).map_err(JournalError::Record)
}

/// The hash of entry `seq` with canonical record text `record` after `prev_hash`.
pub fn chain_hash(seq: u64, prev_hash: &str, record: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(b"fse2-journal-v1\n");
    ctx.update(seq.to_string().as_bytes());
    ctx.update(b"\n");
    ctx.update(prev_hash.as_bytes());
    ctx.update(b"\n");
    ctx.update(record.as_bytes());
    hex::encode(ctx.finish())
}

/// Checks a sequence of stored rows (`seq`, canonical record text, stored
/// `prev_hash`, stored `hash`) against the chain rules and the stored head.
pub fn verify_rows<'a>(
    rows: impl IntoIterator<Item = (u64, &'a str, &'a str, &'a str)>,
    head: Option<(u64, &str)>,
) -> VerifyReport {
    let mut problems = Vec::new();
    let mut expected_seq = 1u64;
    let mut prev = GENESIS_HASH.to_owned();
    let mut count = 0u64;
    let mut last_seq = 0u64;
    for (seq, record, stored_prev, stored_hash) in rows {
        count += 1;
        if seq != expected_seq {
            problems.push(ChainProblem {
                seq,
                reason: if seq > expected_seq {
                    format!("entries {expected_seq}..{} are missing", seq - 1)
                } else {
                    format!("sequence number {seq} repeated or out of order")
                },
            });
        }
        if stored_prev != prev {
            problems.push(ChainProblem {
                seq,
                reason: "previous-hash link broken (an entry before it was removed or changed)"
                    .to_owned(),
            });
        }
        if serde_json::from_str::<JournalRecord>(record).is_err() {
            problems.push(ChainProblem {
                seq,
                reason: "record is not readable".to_owned(),
            });
        }
        let computed = chain_hash(seq, stored_prev, record);
        if computed != stored_hash {
            problems.push(ChainProblem {
                seq,
                reason: "hash does not match the content (the entry was edited)".to_owned(),
            });
        }
        prev = stored_hash.to_owned();
        expected_seq = seq.saturating_add(1);
        last_seq = seq;
    }
    match head {
        Some((head_seq, head_hash)) if head_seq != last_seq || head_hash != prev => {
            problems.push(ChainProblem {
                seq: head_seq,
                reason: format!(
                    "the head says {head_seq} entries but the chain ends at {last_seq} (entries removed from the end, or the head edited)"
                ),
            });
        }
        Some(_) => {}
        None if count > 0 => problems.push(ChainProblem {
            seq: last_seq,
            reason: "the head record is missing".to_owned(),
        }),
        None => {}
    }
    VerifyReport {
        entries: count,
        head_seq: last_seq,
        head_hash: prev,
        problems,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A record for tests.
    pub(crate) fn record(n: u16) -> JournalRecord {
        let at = OffsetDateTime::from_unix_timestamp(1_750_000_000 + i64::from(n) * 3600)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        JournalRecord {
            profile: "national-test".to_owned(),
            operation: "create".to_owned(),
            method: "POST".to_owned(),
            path: "/documents".to_owned(),
            attempt: 1,
            request_at: at,
            response_at: Some(at + time::Duration::milliseconds(250)),
            http_status: Some(202),
            cart_id: Some(format!("cart-{n}")),
            trace_id: Some(format!("trace-{n}")),
            span_id: Some("span".to_owned()),
            workflow_instance_id: Some(format!("wii-{}", n % 2)),
            problem_type: None,
            govway_id: None,
            document_id: Some(format!("2.16.840.1.113883.2.9.2.90.4.4^DOC{n}")),
            attachment_hash: Some("ab".repeat(32)),
            outcome: Outcome::Accepted,
            error: None,
        }
    }

    #[test]
    fn query_filters() {
        let r = record(3);
        assert!(JournalQuery::default().matches(&r));
        assert!(
            JournalQuery {
                cart_id: Some("cart-3".into()),
                ..Default::default()
            }
            .matches(&r)
        );
        assert!(
            !JournalQuery {
                cart_id: Some("cart-4".into()),
                ..Default::default()
            }
            .matches(&r)
        );
        assert!(
            JournalQuery {
                since: Some(r.request_at),
                ..Default::default()
            }
            .matches(&r)
        );
        assert!(
            !JournalQuery {
                until: Some(r.request_at),
                ..Default::default()
            }
            .matches(&r)
        );
    }

    #[test]
    fn hash_depends_on_everything() {
        let a = chain_hash(1, GENESIS_HASH, "{}");
        assert_ne!(a, chain_hash(2, GENESIS_HASH, "{}"));
        assert_ne!(a, chain_hash(1, &"1".repeat(64), "{}"));
        assert_ne!(a, chain_hash(1, GENESIS_HASH, "{ }"));
    }
}
