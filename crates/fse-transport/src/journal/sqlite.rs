//! The embedded journal: one SQLite file (bundled SQLite, WAL,
//! `synchronous=FULL`, so a commit is fsynced before `append` returns).
//!
//! Appends run in an immediate transaction, so several processes sharing
//! the file still build one chain.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use time::OffsetDateTime;
use time::macros::format_description;

use super::{
    GENESIS_HASH, Journal, JournalEntry, JournalError, JournalQuery, JournalRecord, VerifyReport,
    canonical_record, chain_hash, verify_rows,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    record TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    request_at TEXT NOT NULL,
    cart_id TEXT,
    document_id TEXT,
    workflow_instance_id TEXT,
    trace_id TEXT
);
CREATE INDEX IF NOT EXISTS entries_cart_id ON entries(cart_id);
CREATE INDEX IF NOT EXISTS entries_document_id ON entries(document_id);
CREATE INDEX IF NOT EXISTS entries_wii ON entries(workflow_instance_id);
CREATE INDEX IF NOT EXISTS entries_trace_id ON entries(trace_id);
CREATE INDEX IF NOT EXISTS entries_request_at ON entries(request_at);
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
";

/// The journal in one SQLite file.
#[derive(Debug)]
pub struct SqliteJournal {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl SqliteJournal {
    /// Opens (creating if needed) the journal at `path`, and its directory.
    ///
    /// # Errors
    /// [`JournalError`] when the file cannot be opened or initialised.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| JournalError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let err = |source| JournalError::Sqlite {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(SqliteJournal {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
        move |source| JournalError::Sqlite {
            path: self.path.display().to_string(),
            source,
        }
    }
}

/// Fixed-width UTC text, so that SQLite's text order is time order.
fn sortable(t: OffsetDateTime) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

impl Journal for SqliteJournal {
    fn append(&self, record: &JournalRecord) -> Result<JournalEntry, JournalError> {
        let text = canonical_record(record)?;
        let mut conn = self.conn.lock().map_err(|_| JournalError::Poisoned)?;
        let err = self.err();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let head: Option<(i64, String)> = tx
            .query_row("SELECT seq, hash FROM head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(&err)?;
        let (last, prev_hash) = head.unwrap_or((0, GENESIS_HASH.to_owned()));
        let seq = u64::try_from(last).unwrap_or(0) + 1;
        let hash = chain_hash(seq, &prev_hash, &text);
        let seq_sql = i64::try_from(seq).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO entries (seq, record, prev_hash, hash, request_at, cart_id, document_id, workflow_instance_id, trace_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                seq_sql,
                text,
                prev_hash,
                hash,
                sortable(record.request_at),
                record.cart_id,
                record.document_id,
                record.workflow_instance_id,
                record.trace_id
            ],
        )
        .map_err(&err)?;
        tx.execute(
            "INSERT INTO head (id, seq, hash) VALUES (1, ?1, ?2)
             ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            params![seq_sql, hash],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(JournalEntry {
            seq,
            record: record.clone(),
            prev_hash,
            hash,
        })
    }

    fn query(&self, query: &JournalQuery) -> Result<Vec<JournalEntry>, JournalError> {
        let conn = self.conn.lock().map_err(|_| JournalError::Poisoned)?;
        let err = self.err();
        let mut sql = String::from("SELECT seq, record, prev_hash, hash FROM entries WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        let mut filter = |column: &str, op: &str, value: Option<String>| {
            if let Some(v) = value {
                args.push(v);
                sql.push_str(&format!(" AND {column} {op} ?{}", args.len()));
            }
        };
        filter("cart_id", "=", query.cart_id.clone());
        filter("document_id", "=", query.document_id.clone());
        filter(
            "workflow_instance_id",
            "=",
            query.workflow_instance_id.clone(),
        );
        filter("trace_id", "=", query.trace_id.clone());
        filter("request_at", ">=", query.since.map(sortable));
        filter("request_at", "<", query.until.map(sortable));
        sql.push_str(" ORDER BY seq DESC");
        if let Some(limit) = query.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let mut stmt = conn.prepare(&sql).map_err(&err)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(&err)?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, text, prev_hash, hash) = row.map_err(&err)?;
            let record: JournalRecord =
                serde_json::from_str(&text).map_err(JournalError::Record)?;
            out.push(JournalEntry {
                seq: u64::try_from(seq).unwrap_or(0),
                record,
                prev_hash,
                hash,
            });
        }
        out.reverse();
        Ok(out)
    }

    fn verify(&self) -> Result<VerifyReport, JournalError> {
        let conn = self.conn.lock().map_err(|_| JournalError::Poisoned)?;
        let err = self.err();
        let mut stmt = conn
            .prepare(
                "SELECT seq, record, prev_hash, hash, cart_id, document_id, workflow_instance_id, trace_id, request_at
                 FROM entries ORDER BY seq",
            )
            .map_err(&err)?;
        type Row = (i64, String, String, String, [Option<String>; 4], String);
        let rows: Vec<Row> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    [r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?],
                    r.get(8)?,
                ))
            })
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        let head: Option<(i64, String)> = conn
            .query_row("SELECT seq, hash FROM head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(&err)?;
        let mut report = verify_rows(
            rows.iter().map(|(seq, rec, prev, hash, _, _)| {
                (
                    u64::try_from(*seq).unwrap_or(0),
                    rec.as_str(),
                    prev.as_str(),
                    hash.as_str(),
                )
            }),
            head.as_ref()
                .map(|(s, h)| (u64::try_from(*s).unwrap_or(0), h.as_str())),
        );
        // The query columns are copies of the record; a copy changed to
        // hide an entry from searches is an edit too.
        for (seq, text, _, _, columns, request_at) in &rows {
            let Ok(record) = serde_json::from_str::<JournalRecord>(text) else {
                continue;
            };
            let expected = [
                &record.cart_id,
                &record.document_id,
                &record.workflow_instance_id,
                &record.trace_id,
            ];
            if columns.iter().zip(expected).any(|(c, e)| c != e)
                || *request_at != sortable(record.request_at)
            {
                report.problems.push(super::ChainProblem {
                    seq: u64::try_from(*seq).unwrap_or(0),
                    reason: "search columns differ from the hashed record (edited)".to_owned(),
                });
            }
        }
        report.problems.sort_by_key(|p| p.seq);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::*;

    fn journal_with(n: u16) -> (tempfile::TempDir, SqliteJournal) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let j = SqliteJournal::open(&dir.path().join("sub/journal.sqlite"))
            .unwrap_or_else(|e| panic!("open: {e}"));
        for i in 1..=n {
            j.append(&record(i))
                .unwrap_or_else(|e| panic!("append: {e}"));
        }
        (dir, j)
    }

    fn raw(j: &SqliteJournal, sql: &str) {
        let conn = Connection::open(j.path()).unwrap_or_else(|e| panic!("open: {e}"));
        conn.execute_batch(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    #[test]
    fn appends_chain_and_survive_reopen() -> Result<(), JournalError> {
        let (_dir, j) = journal_with(3);
        let all = j.query(&JournalQuery::default())?;
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(all[0].prev_hash, GENESIS_HASH);
        assert_eq!(all[1].prev_hash, all[0].hash);
        assert_eq!(all[2].record, record(3));
        let again = SqliteJournal::open(j.path())?;
        let e = again.append(&record(4))?;
        assert_eq!(e.seq, 4);
        assert_eq!(e.prev_hash, all[2].hash);
        let report = again.verify()?;
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.entries, 4);
        assert_eq!(report.head_hash, e.hash);
        Ok(())
    }

    #[test]
    fn queries() -> Result<(), JournalError> {
        let (_dir, j) = journal_with(6);
        let q = |q: JournalQuery| {
            j.query(&q)
                .map(|v| v.iter().map(|e| e.seq).collect::<Vec<_>>())
        };
        assert_eq!(
            q(JournalQuery {
                cart_id: Some("cart-2".into()),
                ..Default::default()
            })?,
            [2]
        );
        assert_eq!(
            q(JournalQuery {
                document_id: Some("2.16.840.1.113883.2.9.2.90.4.4^DOC5".into()),
                ..Default::default()
            })?,
            [5]
        );
        assert_eq!(
            q(JournalQuery {
                workflow_instance_id: Some("wii-0".into()),
                ..Default::default()
            })?,
            [2, 4, 6]
        );
        assert_eq!(
            q(JournalQuery {
                trace_id: Some("trace-1".into()),
                ..Default::default()
            })?,
            [1]
        );
        let t = |n: u16| record(n).request_at;
        assert_eq!(
            q(JournalQuery {
                since: Some(t(3)),
                until: Some(t(5)),
                ..Default::default()
            })?,
            [3, 4]
        );
        assert_eq!(
            q(JournalQuery {
                limit: Some(2),
                ..Default::default()
            })?,
            [5, 6]
        );
        Ok(())
    }

    #[test]
    fn an_edited_entry_fails_verify() -> Result<(), JournalError> {
        let (_dir, j) = journal_with(4);
        raw(
            &j,
            "UPDATE entries SET record = replace(record, '\"http_status\":202', '\"http_status\":200') WHERE seq = 2",
        );
        let report = j.verify()?;
        assert!(!report.is_intact());
        assert_eq!(report.problems[0].seq, 2);
        assert!(report.problems[0].reason.contains("edited"), "{report:?}");
        Ok(())
    }

    #[test]
    fn an_edited_search_column_fails_verify() -> Result<(), JournalError> {
        let (_dir, j) = journal_with(3);
        raw(&j, "UPDATE entries SET cart_id = 'other' WHERE seq = 3");
        let report = j.verify()?;
        assert_eq!(report.problems.len(), 1, "{report:?}");
        assert_eq!(report.problems[0].seq, 3);
        Ok(())
    }

    #[test]
    fn a_removed_entry_fails_verify() -> Result<(), JournalError> {
        let (_dir, j) = journal_with(4);
        raw(&j, "DELETE FROM entries WHERE seq = 2");
        let report = j.verify()?;
        assert!(!report.is_intact());
        assert_eq!(report.problems[0].seq, 3);
        assert!(report.problems[0].reason.contains("missing"), "{report:?}");
        Ok(())
    }

    #[test]
    fn a_removed_and_rechained_entry_still_fails() -> Result<(), JournalError> {
        // Removing entry 2 and renumbering 3 and 4 keeps the sequence dense,
        // but the links and hashes no longer hold.
        let (_dir, j) = journal_with(4);
        raw(
            &j,
            "DELETE FROM entries WHERE seq = 2; UPDATE entries SET seq = seq - 1 WHERE seq > 2; UPDATE head SET seq = 3;",
        );
        let report = j.verify()?;
        assert!(!report.is_intact());
        assert_eq!(report.problems[0].seq, 2);
        Ok(())
    }

    #[test]
    fn truncation_fails_verify() -> Result<(), JournalError> {
        let (_dir, j) = journal_with(4);
        raw(&j, "DELETE FROM entries WHERE seq = 4");
        let report = j.verify()?;
        assert!(!report.is_intact());
        assert!(
            report.problems.iter().any(|p| p.reason.contains("head")),
            "{report:?}"
        );
        Ok(())
    }

    #[test]
    fn empty_journal_is_intact() -> Result<(), JournalError> {
        let (_dir, j) = journal_with(0);
        let report = j.verify()?;
        assert!(report.is_intact());
        assert_eq!(report.entries, 0);
        assert_eq!(report.head_hash, GENESIS_HASH);
        Ok(())
    }
}
