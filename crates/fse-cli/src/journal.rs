//! `fse journal`: the X-Cart-id journal.
//!
//! - `list [--format json] [--cart-id ID] [--document-id ID] [--workflow WII]
//!   [--trace T] [--since DATE] [--until DATE] [--limit N]`
//! - `show CART_ID`: every entry with that X-Cart-id, in full;
//! - `verify [--anchor SEQ:HASH]`: recomputes the hash chain; exit 1 when
//!   an entry was edited, removed or the journal truncated;
//! - `export --since DATE [--until DATE]`: JSON Lines on stdout.
//!
//! The journal is the one of `fse.toml` (`[journal] path`), `FSE_JOURNAL`,
//! or `--journal FILE`. DATE is `YYYY-MM-DD` (midnight UTC) or RFC 3339.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use fse_transport::journal::{Journal, JournalEntry, JournalQuery, SqliteJournal};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::GlobalArgs;
use crate::gw::Format;

/// Arguments of `fse journal`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The journal file (default: from fse.toml or `FSE_JOURNAL`).
    #[arg(long, global = true, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: JournalCommand,
}

/// The `fse journal` subcommands.
#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// The entries, oldest first, filtered.
    List(ListArgs),
    /// Every entry with this X-Cart-id.
    Show(ShowArgs),
    /// Check the hash chain.
    Verify(VerifyArgs),
    /// The entries since a date, as JSON Lines.
    Export(ExportArgs),
}

/// `fse journal list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only this X-Cart-id.
    #[arg(long)]
    pub cart_id: Option<String>,
    /// Only this document id.
    #[arg(long)]
    pub document_id: Option<String>,
    /// Only this workflowInstanceId.
    #[arg(long)]
    pub workflow: Option<String>,
    /// Only this traceID.
    #[arg(long)]
    pub trace: Option<String>,
    /// Requests at or after DATE.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Requests before DATE.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// The latest N entries only.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `fse journal show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The X-Cart-id.
    pub cart_id: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `fse journal verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// A head recorded earlier (`SEQ:HASH`, as `verify` prints it): the
    /// chain must still contain it.
    #[arg(long, value_name = "SEQ:HASH")]
    pub anchor: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `fse journal export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Requests at or after DATE.
    #[arg(long, value_name = "DATE")]
    pub since: String,
    /// Requests before DATE.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
}

/// Runs `fse journal`.
///
/// # Errors
/// When the journal cannot be opened or read, or an argument is wrong.
pub fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let path = match &args.journal {
        Some(p) => p.clone(),
        None => crate::gw::load_config(global)?.journal_path(&|k| std::env::var(k).ok()),
    };
    if !path.is_file() {
        bail!(
            "no journal at {} (nothing was sent yet, or give --journal)",
            path.display()
        );
    }
    let journal = SqliteJournal::open(&path)
        .with_context(|| format!("opening the journal {}", path.display()))?;
    let mut stdout = std::io::stdout().lock();
    run_to(args.command, &journal, &mut stdout)
}

/// Runs a `fse journal` subcommand on `journal`, writing to `out`.
///
/// # Errors
/// As [`run`].
pub fn run_to(
    command: JournalCommand,
    journal: &dyn Journal,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    match command {
        JournalCommand::List(a) => {
            let query = JournalQuery {
                cart_id: a.cart_id,
                document_id: a.document_id,
                workflow_instance_id: a.workflow,
                trace_id: a.trace,
                since: a.since.as_deref().map(parse_date).transpose()?,
                until: a.until.as_deref().map(parse_date).transpose()?,
                limit: a.limit,
            };
            let entries = journal.query(&query)?;
            match a.format {
                Format::Json => writeln!(out, "{}", serde_json::to_string(&entries)?)?,
                Format::Text => {
                    for e in &entries {
                        writeln!(out, "{}", line(e))?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        JournalCommand::Show(a) => {
            let entries = journal.query(&JournalQuery {
                cart_id: Some(a.cart_id.clone()),
                ..JournalQuery::default()
            })?;
            if entries.is_empty() {
                writeln!(out, "no entry with X-Cart-id {}", a.cart_id)?;
                return Ok(ExitCode::from(1));
            }
            match a.format {
                Format::Json => writeln!(out, "{}", serde_json::to_string(&entries)?)?,
                Format::Text => {
                    for e in &entries {
                        writeln!(out, "{}", serde_json::to_string_pretty(e)?)?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        JournalCommand::Verify(a) => {
            let report = journal.verify()?;
            let mut problems = report.problems.clone();
            if let Some(anchor) = &a.anchor {
                let (seq, hash) = anchor
                    .split_once(':')
                    .and_then(|(s, h)| Some((s.parse::<u64>().ok()?, h)))
                    .context("--anchor is SEQ:HASH")?;
                let at = journal.query(&JournalQuery::default())?;
                let found = at.iter().find(|e| e.seq == seq);
                if found.is_none_or(|e| e.hash != hash) {
                    problems.push(fse_transport::journal::ChainProblem {
                        seq,
                        reason: "the anchored entry is not in the chain any more".to_owned(),
                    });
                }
            }
            let intact = problems.is_empty();
            match a.format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    json!({"intact": intact, "entries": report.entries, "head": format!("{}:{}", report.head_seq, report.head_hash), "problems": problems})
                )?,
                Format::Text => {
                    if intact {
                        writeln!(
                            out,
                            "journal intact: {} entries, head {}:{}",
                            report.entries, report.head_seq, report.head_hash
                        )?;
                    } else {
                        writeln!(out, "JOURNAL BROKEN ({} entries read)", report.entries)?;
                        for p in &problems {
                            writeln!(out, "  entry {}: {}", p.seq, p.reason)?;
                        }
                    }
                }
            }
            Ok(if intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        JournalCommand::Export(a) => {
            let query = JournalQuery {
                since: Some(parse_date(&a.since)?),
                until: a.until.as_deref().map(parse_date).transpose()?,
                ..JournalQuery::default()
            };
            for e in journal.query(&query)? {
                writeln!(out, "{}", serde_json::to_string(&e)?)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn line(e: &JournalEntry) -> String {
    let r = &e.record;
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    format!(
        "{:>5}  {}  {:<20} {:>4}  {:<17} X-Cart-id {}  traceID {}  doc {}{}",
        e.seq,
        r.request_at.format(&Rfc3339).unwrap_or_default(),
        r.operation,
        r.http_status
            .map_or_else(|| "-".to_owned(), |s| s.to_string()),
        r.outcome.name(),
        dash(&r.cart_id),
        dash(&r.trace_id),
        dash(&r.document_id),
        r.problem_type
            .as_deref()
            .map(|t| format!("  {t}"))
            .unwrap_or_default()
    )
}

/// `YYYY-MM-DD` (midnight UTC) or RFC 3339.
fn parse_date(text: &str) -> anyhow::Result<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, &fmt)
        .with_context(|| format!("`{text}` is not YYYY-MM-DD or RFC 3339"))?;
    Ok(date.midnight().assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fse_transport::journal::{JournalRecord, Outcome};

    fn record(n: u16, cart: &str) -> JournalRecord {
        let at = OffsetDateTime::from_unix_timestamp(1_767_225_600 + i64::from(n) * 86_400)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        JournalRecord {
            profile: "toscana-staging".into(),
            operation: "validate-and-create".into(),
            method: "POST".into(),
            path: "/documents/validate-and-create".into(),
            attempt: 1,
            request_at: at,
            response_at: Some(at),
            http_status: Some(202),
            cart_id: Some(cart.into()),
            trace_id: Some(format!("t{n}")),
            span_id: None,
            workflow_instance_id: None,
            problem_type: None,
            govway_id: None,
            document_id: Some(format!("2.16.840.1.113883.2.9.2.90.4.4^D{n}")),
            attachment_hash: None,
            outcome: Outcome::Accepted,
            error: None,
        }
    }

    fn journal() -> (tempfile::TempDir, SqliteJournal) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let j = SqliteJournal::open(&dir.path().join("j.sqlite")).unwrap_or_else(|e| panic!("{e}"));
        for (n, cart) in [(0, "c-a"), (1, "c-b"), (2, "c-c")] {
            j.append(&record(n, cart)).unwrap_or_else(|e| panic!("{e}"));
        }
        (dir, j)
    }

    fn run_text(j: &dyn Journal, c: JournalCommand) -> (ExitCode, String) {
        let mut out = Vec::new();
        let code = run_to(c, j, &mut out).unwrap_or_else(|e| panic!("{e:#}"));
        (code, String::from_utf8_lossy(&out).into_owned())
    }

    fn list(format: Format) -> ListArgs {
        ListArgs {
            cart_id: None,
            document_id: None,
            workflow: None,
            trace: None,
            since: None,
            until: None,
            limit: None,
            format,
        }
    }

    #[test]
    fn list_show_export() {
        let (_d, j) = journal();
        let (code, text) = run_text(&j, JournalCommand::List(list(Format::Text)));
        assert_eq!(code, ExitCode::SUCCESS);
        assert_eq!(text.lines().count(), 3);
        assert!(text.contains("X-Cart-id c-b"), "{text}");
        let (_, json_text) = run_text(
            &j,
            JournalCommand::List(ListArgs {
                since: Some("2026-01-02".into()),
                ..list(Format::Json)
            }),
        );
        let v: serde_json::Value = serde_json::from_str(&json_text).unwrap_or_default();
        let carts: Vec<&str> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["cart_id"].as_str())
            .collect();
        assert_eq!(carts, ["c-b", "c-c"]);
        let (code, shown) = run_text(
            &j,
            JournalCommand::Show(ShowArgs {
                cart_id: "c-c".into(),
                format: Format::Text,
            }),
        );
        assert_eq!(code, ExitCode::SUCCESS);
        assert!(shown.contains("\"trace_id\": \"t2\""), "{shown}");
        let (code, _) = run_text(
            &j,
            JournalCommand::Show(ShowArgs {
                cart_id: "nope".into(),
                format: Format::Text,
            }),
        );
        assert_eq!(code, ExitCode::from(1));
        let (_, export) = run_text(
            &j,
            JournalCommand::Export(ExportArgs {
                since: "2026-01-02T00:00:00Z".into(),
                until: Some("2026-01-03".into()),
            }),
        );
        let lines: Vec<serde_json::Value> = export
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["cart_id"], "c-b");
        assert!(lines[0]["hash"].as_str().is_some_and(|h| h.len() == 64));
        assert!(
            run_to(
                JournalCommand::Export(ExportArgs {
                    since: "yesterday".into(),
                    until: None
                }),
                &j,
                &mut Vec::new()
            )
            .is_err()
        );
    }

    #[test]
    fn verify_detects_removal_and_a_lost_anchor() {
        let (dir, j) = journal();
        let (code, text) = run_text(
            &j,
            JournalCommand::Verify(VerifyArgs {
                anchor: None,
                format: Format::Text,
            }),
        );
        assert_eq!(code, ExitCode::SUCCESS, "{text}");
        let head = text
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_owned();
        let (code, _) = run_text(
            &j,
            JournalCommand::Verify(VerifyArgs {
                anchor: Some(head.clone()),
                format: Format::Text,
            }),
        );
        assert_eq!(code, ExitCode::SUCCESS);
        let (code, _) = run_text(
            &j,
            JournalCommand::Verify(VerifyArgs {
                anchor: Some(format!("2:{}", "0".repeat(64))),
                format: Format::Text,
            }),
        );
        assert_eq!(code, ExitCode::from(1));

        // Someone removes the middle entry behind the journal's back.
        let conn = rusqlite::Connection::open(dir.path().join("j.sqlite"))
            .unwrap_or_else(|e| panic!("{e}"));
        conn.execute("DELETE FROM entries WHERE seq = 2", [])
            .unwrap_or_else(|e| panic!("{e}"));
        drop(conn);
        let (code, text) = run_text(
            &j,
            JournalCommand::Verify(VerifyArgs {
                anchor: Some(head),
                format: Format::Json,
            }),
        );
        assert_eq!(code, ExitCode::from(1), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(v["intact"], false);
        assert!(v["problems"].as_array().is_some_and(|p| !p.is_empty()));
        let (code, text) = run_text(
            &j,
            JournalCommand::Verify(VerifyArgs {
                anchor: None,
                format: Format::Text,
            }),
        );
        assert_eq!(code, ExitCode::from(1));
        assert!(text.contains("JOURNAL BROKEN"), "{text}");
    }
}
