//! `fse cda validate`: the Gateway's verdict on CDA2 files.
//!
//! Files are validated in parallel across the cores and reported in the
//! order given. Exit status: 0 when no file has errors (warnings allowed),
//! 1 when some file has errors, 2 on usage or I/O errors (a file that
//! cannot be read, rules that cannot be loaded).
//!
//! With `--format json`, one JSON object per file per line:
//! `{"file","schematron","outcome","xsd_errors":[…],"errors":[…],"warnings":[…]}`
//! where each finding is `{"id","message","location","line"}`; a file that
//! cannot be read gets `"outcome":"IO_ERROR"` and an `"io_error"` message.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use fse_cda::rules::{RULES_ENV, RulesOrigin, RulesStore, resolve_rules_dir};
use fse_cda::validator::{NotRun, StageStatus, Stages};
use fse_cda::xml::Limits;
use fse_cda::{Finding, Outcome, Report, Severity, Stage, ValidationOptions, Validator};
use rayon::prelude::*;
use serde::Serialize;

use crate::GlobalArgs;

/// Arguments of `fse cda validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The rules: a catalogs directory (`schematron/`, `terminology/`).
    /// Default: `FSE_RULES`, else the active set of `fse rules install`.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// How to report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Skip the vocabulary stage, as the Gateway does for Sistema TS.
    #[arg(long)]
    pub skip_vocabulary: bool,
    /// The CDA2 files; a directory stands for the `.xml` files in it.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per file, then its findings, indented.
    Text,
    /// One JSON object per file per line.
    Json,
}

/// Files validated together before their reports are written: keeps every
/// core busy without holding every report of a large run in memory.
const BATCH: usize = 256;
/// From how many files a progress bar is worth drawing (on a terminal).
const PROGRESS_FROM: usize = 20;

/// Runs `fse cda validate`.
///
/// # Errors
/// Usage and I/O errors (no rules, rules that do not load, stdout closed);
/// findings in documents are reported, not errors.
pub fn run(args: Args, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = RulesStore::for_user()?;
    let env = std::env::var_os(RULES_ENV);
    let (dir, origin) = resolve_rules_dir(args.rules.as_deref(), env.as_deref(), &store)?;
    let validator = Validator::from_rules_dir(&dir).with_context(|| {
        let from = match &origin {
            RulesOrigin::Flag => "given with --rules".to_string(),
            RulesOrigin::Env => format!("given by {RULES_ENV}"),
            RulesOrigin::Installed(id) => format!("the installed set {id}"),
        };
        format!("cannot load the rules in {} ({from})", dir.display())
    })?;
    let options = ValidationOptions {
        skip_vocabulary: args.skip_vocabulary,
        ..validator.options()
    };
    let files = expand_files(&args.files)?;
    let progress = (files.len() >= PROGRESS_FROM && io::stderr().is_terminal())
        .then(|| progress_bar(files.len() as u64));
    let mut out = io::stdout().lock();
    let summary = validate_files(
        &validator,
        options,
        &files,
        args.format,
        &mut out,
        progress.as_ref(),
    )?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if args.format == Format::Text && files.len() > 1 {
        writeln!(out, "{summary}")?;
    }
    out.flush()?;
    Ok(ExitCode::from(summary.exit_code()))
}

fn progress_bar(len: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed}/{eta}")
    {
        bar.set_style(style);
    }
    bar
}

/// The files to validate: each argument, or the `.xml` files (sorted) of
/// each directory given.
///
/// # Errors
/// When a directory cannot be listed.
pub fn expand_files(args: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for arg in args {
        if arg.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(arg)
                .with_context(|| format!("cannot list {}", arg.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("xml"))
                })
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(arg.clone());
        }
    }
    Ok(files)
}

/// What a run found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files looked at.
    pub files: usize,
    /// Files the Gateway would accept with no warning.
    pub ok: usize,
    /// Files the Gateway would accept with warnings.
    pub warnings_only: usize,
    /// Files the Gateway would refuse.
    pub with_errors: usize,
    /// Files that could not be read.
    pub unreadable: usize,
}

impl Summary {
    /// 2 when a file could not be read, else 1 when a file has errors, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.unreadable > 0 {
            2
        } else if self.with_errors > 0 {
            1
        } else {
            0
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} files: {} OK, {} with warnings only, {} with errors",
            self.files, self.ok, self.warnings_only, self.with_errors
        )?;
        if self.unreadable > 0 {
            write!(f, ", {} unreadable", self.unreadable)?;
        }
        Ok(())
    }
}

/// Validates `files` in parallel and writes one report per file, in order,
/// to `out`; ticks `progress` as files are done.
///
/// # Errors
/// When writing to `out` fails. Unreadable files are reported and counted,
/// not errors.
pub fn validate_files(
    validator: &Validator,
    options: ValidationOptions,
    files: &[PathBuf],
    format: Format,
    out: &mut dyn Write,
    progress: Option<&indicatif::ProgressBar>,
) -> io::Result<Summary> {
    let mut summary = Summary::default();
    for batch in files.chunks(BATCH) {
        let results: Vec<Result<Report, io::Error>> = batch
            .par_iter()
            .map(|file| {
                let result = read_bounded(file).map(|read| match read {
                    Read::Bytes(bytes) => validator.validate_with(&bytes, options),
                    Read::TooLarge(size) => too_large_report(size),
                });
                if let Some(bar) = progress {
                    bar.inc(1);
                }
                result
            })
            .collect();
        for (file, result) in batch.iter().zip(results) {
            summary.files += 1;
            match &result {
                Ok(report) if report.outcome.is_blocking() => summary.with_errors += 1,
                Ok(report) if report.warnings.is_empty() => summary.ok += 1,
                Ok(_) => summary.warnings_only += 1,
                Err(_) => summary.unreadable += 1,
            }
            match format {
                Format::Json => write_json(out, file, &result)?,
                Format::Text => write_text(out, file, &result)?,
            }
        }
    }
    Ok(summary)
}

/// A file's content, unless it is larger than the parser accepts.
enum Read {
    Bytes(Vec<u8>),
    TooLarge(u64),
}

/// Reads a file, but never more than the parser would accept: a larger file
/// is refused by its size, without being read into memory.
fn read_bounded(path: &Path) -> io::Result<Read> {
    use std::io::Read as _;
    let limit = Limits::default().max_bytes as u64;
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Ok(Read::TooLarge(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes)?;
    // The file may have grown since its size was read.
    if bytes.len() as u64 > limit {
        return Ok(Read::TooLarge(bytes.len() as u64));
    }
    Ok(Read::Bytes(bytes))
}

/// The report `Validator::validate` gives an input over the parser's size
/// limit, made without reading the input.
fn too_large_report(size: u64) -> Report {
    let limit = Limits::default().max_bytes;
    let error = fse_cda::Error::TooLarge {
        size: usize::try_from(size).unwrap_or(usize::MAX),
        limit,
    };
    Report {
        outcome: Outcome::SyntaxError,
        schematron: None,
        template_id_root: None,
        xsd_errors: vec![Finding {
            stage: Stage::Syntax,
            id: "XML".into(),
            severity: Severity::Error,
            message: error.to_string(),
            location: String::new(),
            line: None,
        }],
        errors: Vec::new(),
        warnings: Vec::new(),
        stages: Stages {
            syntax: StageStatus::Failed,
            schematron: StageStatus::NotRun(NotRun::NotParsed),
            vocabulary: StageStatus::NotRun(NotRun::NotParsed),
        },
    }
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    id: &'a str,
    message: &'a str,
    location: &'a str,
    line: Option<u32>,
}

impl<'a> From<&'a Finding> for JsonFinding<'a> {
    fn from(f: &'a Finding) -> Self {
        JsonFinding {
            id: &f.id,
            message: &f.message,
            location: &f.location,
            line: f.line,
        }
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    file: String,
    schematron: Option<&'a str>,
    outcome: &'a str,
    xsd_errors: Vec<JsonFinding<'a>>,
    errors: Vec<JsonFinding<'a>>,
    warnings: Vec<JsonFinding<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    io_error: Option<String>,
}

fn write_json(
    out: &mut dyn Write,
    file: &Path,
    result: &Result<Report, io::Error>,
) -> io::Result<()> {
    let line = match result {
        Ok(report) => JsonReport {
            file: file.display().to_string(),
            schematron: report.schematron.as_deref(),
            outcome: report.outcome.wire_name(),
            xsd_errors: report.xsd_errors.iter().map(JsonFinding::from).collect(),
            errors: report.errors.iter().map(JsonFinding::from).collect(),
            warnings: report.warnings.iter().map(JsonFinding::from).collect(),
            io_error: None,
        },
        Err(e) => JsonReport {
            file: file.display().to_string(),
            schematron: None,
            outcome: "IO_ERROR",
            xsd_errors: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            io_error: Some(e.to_string()),
        },
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

fn write_text(
    out: &mut dyn Write,
    file: &Path,
    result: &Result<Report, io::Error>,
) -> io::Result<()> {
    let report = match result {
        Ok(report) => report,
        Err(e) => return writeln!(out, "{}: cannot read: {e}", file.display()),
    };
    write!(out, "{}: {}", file.display(), report.outcome)?;
    if let Some(sch) = &report.schematron {
        write!(out, " [{sch}]")?;
    }
    let errors = report.xsd_errors.len() + report.errors.len();
    if errors + report.warnings.len() > 0 {
        write!(out, ", {errors} errors, {} warnings", report.warnings.len())?;
    }
    writeln!(out)?;
    let tagged = report
        .xsd_errors
        .iter()
        .chain(&report.errors)
        .map(|f| ("error", f))
        .chain(report.warnings.iter().map(|f| ("warning", f)));
    for (kind, finding) in tagged {
        write!(out, "  {kind} {}", finding.id)?;
        if let Some(line) = finding.line {
            write!(out, " line {line}")?;
        }
        if !finding.location.is_empty() {
            write!(out, " at {}", finding.location)?;
        }
        writeln!(out, ": {}", finding.message)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn json_lines_keep_the_input_order_and_the_documented_shape() {
        let tmp = tempfile::tempdir().unwrap();
        // More files than one batch, so order across batches is exercised.
        let mut files = Vec::new();
        for i in 0..(BATCH + 3) {
            let text = if i % 2 == 0 {
                "<broken>".to_string()
            } else {
                format!("<a{i}/>")
            };
            files.push(write(tmp.path(), &format!("f{i:04}.xml"), &text));
        }
        files.push(tmp.path().join("missing.xml"));
        let mut out = Vec::new();
        let validator = Validator::structure_only();
        let summary = validate_files(
            &validator,
            validator.options(),
            &files,
            Format::Json,
            &mut out,
            None,
        )
        .unwrap();

        let text = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), files.len());
        for (line, file) in lines.iter().zip(&files) {
            assert_eq!(line["file"], file.display().to_string());
        }
        let broken = &lines[0];
        let keys = [
            "file",
            "schematron",
            "outcome",
            "xsd_errors",
            "errors",
            "warnings",
        ];
        let first = text.lines().next().unwrap();
        let at: Vec<usize> = keys
            .iter()
            .map(|k| first.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "keys out of order: {first}"
        );
        assert_eq!(broken.as_object().unwrap().len(), keys.len());
        assert_eq!(broken["outcome"], "SYNTAX_ERROR");
        let finding = &broken["xsd_errors"][0];
        assert_eq!(finding["id"], "XML");
        assert!(
            finding["message"].as_str().unwrap().contains("truncated"),
            "{finding}"
        );
        let missing = lines.last().unwrap();
        assert_eq!(missing["outcome"], "IO_ERROR");
        assert!(missing["io_error"].as_str().is_some());

        let blocking = ["SYNTAX_ERROR", "SEMANTIC_ERROR", "VOCABULARY_ERROR"];
        let refused = lines
            .iter()
            .filter(|l| blocking.iter().any(|b| l["outcome"] == *b))
            .count();
        // Every even file is broken; the others may or may not pass the XSD.
        assert!(refused >= BATCH / 2 + 2, "{refused}");
        assert_eq!(summary.files, files.len());
        assert_eq!(summary.unreadable, 1);
        assert_eq!(summary.with_errors, refused);
        assert_eq!(
            summary.ok + summary.warnings_only + summary.with_errors + summary.unreadable,
            files.len()
        );
        assert_eq!(summary.exit_code(), 2);
    }

    #[test]
    fn a_file_over_the_parser_limit_is_refused_by_its_size_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("huge.xml");
        let limit = Limits::default().max_bytes;
        // Sparse: no data is written, only the size is huge.
        std::fs::File::create(&path)
            .unwrap()
            .set_len(limit as u64 + 10)
            .unwrap();
        let validator = Validator::structure_only();
        let mut out = Vec::new();
        let files = std::slice::from_ref(&path);
        let summary = validate_files(
            &validator,
            validator.options(),
            files,
            Format::Json,
            &mut out,
            None,
        )
        .unwrap();
        let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(line["outcome"], "SYNTAX_ERROR");
        // The message the validator gives for bytes over the limit.
        let report = validator.validate(&vec![b' '; limit + 10]);
        assert_eq!(
            line["xsd_errors"][0]["message"],
            report.xsd_errors[0].message
        );
        assert_eq!(summary.exit_code(), 1);
    }

    #[test]
    fn exit_codes_follow_the_worst_file() {
        let s = |with_errors, unreadable| Summary {
            files: 3,
            with_errors,
            unreadable,
            ..Summary::default()
        };
        assert_eq!(s(0, 0).exit_code(), 0);
        assert_eq!(s(1, 0).exit_code(), 1);
        assert_eq!(s(1, 1).exit_code(), 2);
    }

    #[test]
    fn text_names_the_file_the_outcome_and_each_finding() {
        let tmp = tempfile::tempdir().unwrap();
        let file = write(tmp.path(), "bad.xml", "<a>\n<b>\n</a>");
        let mut out = Vec::new();
        let validator = Validator::structure_only();
        let summary = validate_files(
            &validator,
            validator.options(),
            std::slice::from_ref(&file),
            Format::Text,
            &mut out,
            None,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(format!("{}: SYNTAX_ERROR, 1 errors, 0 warnings", file.display()).as_str())
        );
        let finding = lines.next().unwrap();
        assert!(finding.starts_with("  error XML line "), "{finding}");
        assert_eq!(summary.exit_code(), 1);
    }

    #[test]
    fn directories_stand_for_their_xml_files_sorted() {
        let tmp = tempfile::tempdir().unwrap();
        for name in ["b.xml", "a.XML", "c.txt"] {
            write(tmp.path(), name, "<a/>");
        }
        let files = expand_files(&[tmp.path().to_path_buf(), PathBuf::from("x.xml")]).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["a.XML", "b.xml", "x.xml"]);
    }
}
