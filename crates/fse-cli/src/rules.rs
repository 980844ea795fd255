//! `fse rules`: the official validation rules on this machine.
//!
//! - `fse rules install [--from URL|ARCHIVE|DIR]`: fetches or copies a
//!   catalogs tree, checks it, stores it versioned under the user's data
//!   directory (`FSE_DATA_DIR` overrides it) and makes it active. Without
//!   `--from`, the national `it-fse-catalogs` repository on GitHub.
//! - `fse rules list`: the installed sets, the active one marked `*`.
//! - `fse rules use ID`: makes another installed set active.
//! - `fse rules check DIR`: checks a catalogs tree without installing it.
//!
//! `fse cda validate` uses `--rules`, else `FSE_RULES`, else the active set.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use fse_cda::rules::{CheckReport, InstallLimits, InstallOutcome, RulesStore, check_tree};
use fse_transport::fetch::FetchLimits;

use crate::GlobalArgs;

/// Where the official rules live: GitHub's archive of the default branch
/// of the national repository the Gateway's rules come from.
pub const OFFICIAL_RULES_URL: &str =
    "https://github.com/ministero-salute/it-fse-catalogs/archive/HEAD.tar.gz";

/// Arguments of `fse rules`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: RulesCommand,
}

/// The `fse rules` subcommands.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Install a rule set and make it the active one.
    Install {
        /// A URL (http, https), an archive (.tar.gz, .tar, .zip) or a
        /// directory laid out like it-fse-catalogs. Default: the official
        /// repository on GitHub.
        #[arg(long, value_name = "URL|ARCHIVE|DIR")]
        from: Option<String>,
        /// The largest download or archive accepted, in MiB.
        #[arg(long, value_name = "MIB", default_value_t = 512)]
        max_size: u64,
    },
    /// List the installed rule sets; `*` marks the active one.
    List,
    /// Make an installed rule set the active one.
    Use {
        /// The set's id, as `fse rules list` shows it.
        id: String,
    },
    /// Check a catalogs directory (every schematron compiles, the index
    /// agrees with the files) without installing it.
    Check {
        /// The directory.
        dir: PathBuf,
    },
}

/// Gets the bytes at a URL; [`fetch_url`] in production, a stand-in in tests.
pub type Fetch<'a> = &'a dyn Fn(&str, &FetchLimits) -> anyhow::Result<Vec<u8>>;

/// Downloads with `fse-transport`.
///
/// # Errors
/// When the download fails or exceeds its limits.
pub fn fetch_url(url: &str, limits: &FetchLimits) -> anyhow::Result<Vec<u8>> {
    Ok(fse_transport::fetch::fetch_blocking(url, limits)?)
}

/// Runs `fse rules`.
///
/// # Errors
/// When the source cannot be fetched or read, the rules fail their checks,
/// or the store cannot be written.
pub fn run(args: Args, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = RulesStore::for_user()?;
    let mut out = std::io::stdout().lock();
    match args.command {
        RulesCommand::Install { from, max_size } => {
            let from = from.as_deref().unwrap_or(OFFICIAL_RULES_URL);
            let max_bytes = max_size.saturating_mul(1 << 20);
            let limits = InstallLimits {
                max_archive_bytes: max_bytes,
                ..InstallLimits::default()
            };
            let fetch_limits = FetchLimits {
                max_bytes,
                ..FetchLimits::default()
            };
            install(&store, from, &limits, &fetch_limits, &fetch_url, &mut out)?;
        }
        RulesCommand::List => list(&store, &mut out)?,
        RulesCommand::Use { id } => {
            store.activate(&id)?;
            writeln!(out, "{id} is now the active rule set")?;
        }
        RulesCommand::Check { dir } => {
            let report = check_tree(&dir)?;
            write_check(&mut out, &dir, &report)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Installs from `from` (a URL, an archive or a directory) into `store`,
/// makes the set active, and says so on `out`.
///
/// # Errors
/// When the source cannot be fetched or read, or the rules fail their checks.
pub fn install(
    store: &RulesStore,
    from: &str,
    limits: &InstallLimits,
    fetch_limits: &FetchLimits,
    fetch: Fetch<'_>,
    out: &mut dyn Write,
) -> anyhow::Result<InstallOutcome> {
    let outcome = if from.starts_with("http://") || from.starts_with("https://") {
        let shown = without_secrets(from);
        writeln!(out, "downloading {shown}")?;
        let bytes = fetch(from, fetch_limits)?;
        store
            .install_archive(&bytes, &shown, limits)
            .with_context(|| format!("cannot install the rules downloaded from {shown}"))?
    } else {
        let path = Path::new(from);
        store
            .install(path, limits)
            .with_context(|| format!("cannot install the rules from {}", path.display()))?
    };
    let m = &outcome.set.manifest;
    let version = match &m.source_commit {
        Some(commit) => format!("it-fse-catalogs {}", &commit[..commit.len().min(12)]),
        None => format!("content {}", &m.content_sha256[..12]),
    };
    let verb = if outcome.newly_installed {
        "installed"
    } else {
        "already installed"
    };
    writeln!(
        out,
        "{verb} {} ({version}, {} schematrons, {} terminology files) in {}; it is the active rule set",
        m.id,
        m.schematrons,
        m.terminology_files,
        outcome.set.path.display()
    )?;
    for warning in &outcome.check.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    Ok(outcome)
}

/// Writes the installed sets as a table, the active one marked `*`.
///
/// # Errors
/// When the store cannot be read or `out` written.
pub fn list(store: &RulesStore, out: &mut dyn Write) -> anyhow::Result<()> {
    let sets = store.list()?;
    if sets.is_empty() {
        writeln!(
            out,
            "no rule sets installed in {}; install the official ones with `fse rules install`",
            store.root().display()
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "  {:<32} {:<12} {:<20} {:>11}  SOURCE",
        "ID", "COMMIT", "INSTALLED", "SCHEMATRONS"
    )?;
    for set in sets {
        let m = &set.manifest;
        let commit = m
            .source_commit
            .as_deref()
            .map_or("-", |c| &c[..c.len().min(12)]);
        let installed = m.installed_at.get(..19).unwrap_or(&m.installed_at);
        writeln!(
            out,
            "{} {:<32} {:<12} {:<20} {:>11}  {}",
            if set.active { '*' } else { ' ' },
            m.id,
            commit,
            installed,
            m.schematrons,
            m.source
        )?;
    }
    Ok(())
}

fn write_check(out: &mut dyn Write, dir: &Path, report: &CheckReport) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: usable ({} schematrons compile, {} index entries, {} terminology files)",
        dir.display(),
        report.schematrons,
        report.index_entries,
        report.terminology_files
    )?;
    for warning in &report.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    Ok(())
}

/// The URL without user, password or query, as it may be shown and stored.
fn without_secrets(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}/{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_lose_credentials_and_queries() {
        assert_eq!(
            without_secrets("https://user:tok@example.test/a/b.tar.gz?token=x#f"),
            "https://example.test/a/b.tar.gz"
        );
        assert_eq!(
            without_secrets("http://127.0.0.1:8080/x.zip"),
            "http://127.0.0.1:8080/x.zip"
        );
    }

    #[test]
    fn an_empty_store_says_how_to_install() {
        let tmp = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        list(&RulesStore::at(tmp.path()), &mut out).unwrap();
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("fse rules install")
        );
    }
}
