//! Validates every document of a corpus in one process and reports time
//! per document and memory (peak RSS): the measurement behind the memory
//! bar (the whole corpus under 200 MB) and the Rust half of
//! `scripts/saxon_bench/saxon_bench.py`.
//!
//! ```sh
//! cargo run --release -p fse-cda --example validate_corpus -- \
//!     [--rules DIR] [--repeat N] [--json] [DIR_OR_FILE...]
//! ```
//!
//! - `--rules`: a catalogs tree (default `FSE_RULES`, else
//!   `$FSE_CORPUS/catalogs`, else `../shared/corpus/catalogs`).
//! - `--repeat N`: validate each document N more times after a first,
//!   warming run, and keep the median (default 0: one run, no timing per
//!   document worth quoting).
//! - `--json`: one line per document
//!   `{"file","outcome","schematron","micros","xsd_errors","errors":{id:n},"warnings":{id:n},
//!   "schematron_errors":{id:n},"schematron_warnings":{id:n}}` (errors and
//!   warnings of every stage, then of the schematron stage alone)
//!   then a summary line `{"summary":{...}}`; otherwise a text summary.
//! - Paths default to the corpus's `validation/docs` and `cda`; a directory
//!   stands for its `.xml` files.
//!
//! Peak RSS is read from `/proc/self/status` (Linux); elsewhere it is omitted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use fse_cda::{Finding, Stage, Validator};

struct Options {
    rules: PathBuf,
    repeat: usize,
    json: bool,
    paths: Vec<PathBuf>,
}

fn corpus_dir() -> PathBuf {
    std::env::var_os("FSE_CORPUS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
        PathBuf::from,
    )
}

fn parse_args() -> Result<Options, String> {
    let mut rules = std::env::var_os("FSE_RULES").map(PathBuf::from);
    let mut repeat = 0;
    let mut json = false;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rules" => rules = Some(args.next().ok_or("--rules needs a directory")?.into()),
            "--repeat" => {
                let n = args.next().ok_or("--repeat needs a number")?;
                repeat = n
                    .parse()
                    .map_err(|_| format!("--repeat: {n:?} is not a number"))?;
            }
            "--json" => json = true,
            "-h" | "--help" => {
                return Err(
                    "usage: validate_corpus [--rules DIR] [--repeat N] [--json] [DIR_OR_FILE...]"
                        .into(),
                );
            }
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            path => paths.push(PathBuf::from(path)),
        }
    }
    let corpus = corpus_dir();
    if paths.is_empty() {
        paths = vec![corpus.join("validation/docs"), corpus.join("cda")];
    }
    Ok(Options {
        rules: rules.unwrap_or_else(|| corpus.join("catalogs")),
        repeat,
        json,
        paths,
    })
}

fn files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("xml")))
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

/// A `/proc/self/status` field in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn counts<'a>(ids: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, usize> {
    ids.fold(BTreeMap::new(), |mut m, id| {
        *m.entry(id).or_default() += 1;
        m
    })
}

fn of_stage(findings: &[Finding], stage: Stage) -> impl Iterator<Item = &str> {
    findings
        .iter()
        .filter(move |f| f.stage == stage)
        .map(|f| f.id.as_str())
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let validator = match Validator::from_rules_dir(&options.rules) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("cannot load the rules in {}: {e}", options.rules.display());
            return ExitCode::from(2);
        }
    };
    let load = started.elapsed();
    let files = match files(&options.paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot list the documents: {e}");
            return ExitCode::from(2);
        }
    };

    let mut per_doc = Vec::with_capacity(files.len());
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    let run_started = Instant::now();
    for file in &files {
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("cannot read {}: {e}", file.display());
                return ExitCode::from(2);
            }
        };
        let t = Instant::now();
        let report = validator.validate(&bytes);
        let mut times = vec![t.elapsed()];
        if options.repeat > 0 {
            times.clear();
            for _ in 0..options.repeat {
                let t = Instant::now();
                let again = validator.validate(&bytes);
                times.push(t.elapsed());
                std::hint::black_box(again);
            }
        }
        let time = median(&mut times);
        per_doc.push(time);
        *outcomes.entry(report.outcome.wire_name()).or_default() += 1;
        if options.json {
            let line = serde_json::json!({
                "file": file.display().to_string(),
                "outcome": report.outcome.wire_name(),
                "schematron": report.schematron,
                "micros": time.as_secs_f64() * 1e6,
                "xsd_errors": report.xsd_errors.len(),
                "errors": counts(report.errors.iter().map(|f| f.id.as_str())),
                "warnings": counts(report.warnings.iter().map(|f| f.id.as_str())),
                "schematron_errors": counts(of_stage(&report.errors, Stage::Schematron)),
                "schematron_warnings": counts(of_stage(&report.warnings, Stage::Schematron)),
            });
            println!("{line}");
        }
    }
    let total = run_started.elapsed();
    let median_doc = median(&mut per_doc.clone());
    let summary = serde_json::json!({
        "documents": files.len(),
        "rules_load_ms": load.as_secs_f64() * 1e3,
        "median_micros_per_document": median_doc.as_secs_f64() * 1e6,
        "repeat": options.repeat,
        "total_seconds": total.as_secs_f64(),
        "outcomes": outcomes,
        "peak_rss_kib": status_kib("VmHWM:"),
        "rss_kib": status_kib("VmRSS:"),
    });
    if options.json {
        println!("{}", serde_json::json!({ "summary": summary }));
    } else {
        println!(
            "{} documents validated in {:.2} s",
            files.len(),
            total.as_secs_f64()
        );
        println!(
            "rules loaded in {:.1} ms from {}",
            load.as_secs_f64() * 1e3,
            options.rules.display()
        );
        println!(
            "median per document: {:.1} µs (repeat {})",
            median_doc.as_secs_f64() * 1e6,
            options.repeat
        );
        println!("outcomes: {outcomes:?}");
        match (status_kib("VmHWM:"), status_kib("VmRSS:")) {
            (Some(peak), Some(now)) => println!(
                "peak RSS: {:.1} MiB (now {:.1} MiB)",
                peak as f64 / 1024.0,
                now as f64 / 1024.0
            ),
            _ => println!("peak RSS: unknown (no /proc/self/status)"),
        }
    }
    ExitCode::SUCCESS
}
