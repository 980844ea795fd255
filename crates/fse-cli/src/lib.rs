//! The behaviours of the `fse` command, one module per command group.
//!
//! `main.rs` only parses arguments and calls [`run`]; every command is a
//! function here, tested without a process or a socket.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod cda;
pub mod demo;
pub mod gw;
pub mod journal;
pub mod pdf;
pub mod rules;
pub mod sim;

/// fse2: publish HL7 CDA2 documents to the Italian FSE 2.0, through CART
/// (Regione Toscana), a regional middleware or the national Gateway.
#[derive(Debug, Parser)]
#[command(name = "fse", version, about, long_about = None)]
pub struct Cli {
    /// Options every command understands.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// The client configuration file (`fse.toml`).
    #[arg(long, global = true, env = "FSE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The profile of the configuration to use.
    #[arg(long, global = true, env = "FSE_PROFILE")]
    pub profile: Option<String>,
}

/// The command groups.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// CDA2 documents: validate, info, hash, new, example, replace.
    Cda(cda::Args),
    /// PDFs: inject, sign, verify, extract.
    Pdf(pdf::Args),
    /// The Gateway (through CART or directly): validate, publish, replace, ...
    Gw(gw::Args),
    /// The X-Cart-id journal: list, show, verify, export.
    Journal(journal::Args),
    /// The official validation rules: install, list.
    Rules(rules::Args),
    /// The local CART + Gateway simulator.
    Sim(sim::Args),
    /// The whole job, end to end, against the simulator.
    Demo(demo::Args),
}

/// Runs one parsed command line.
///
/// # Errors
/// Whatever the command reports; `main` prints it with its causes.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Cda(args) => cda::run(args, &cli.global),
        Command::Pdf(args) => pdf::run(args, &cli.global),
        Command::Gw(args) => gw::run(args, &cli.global),
        Command::Journal(args) => journal::run(args, &cli.global),
        Command::Rules(args) => rules::run(args, &cli.global),
        Command::Sim(args) => sim::run(args, &cli.global),
        Command::Demo(args) => demo::run(args, &cli.global),
    }
}

/// Whether an error only says that the reader of our standard output went
/// away (`fse pdf verify --format json | head`): nothing is wrong with the
/// command, so `main` exits without a message, with the status a shell
/// gives a program killed by SIGPIPE.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        // serde_json keeps the I/O error inside, not as its source.
        let kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            });
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// The exit status after a broken pipe (128 + SIGPIPE).
pub const BROKEN_PIPE_STATUS: u8 = 141;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_recognised_through_context() {
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "closed");
        let err = anyhow::Error::new(io).context("writing the report");
        assert!(is_broken_pipe(&err));
        let json = serde_json::Error::io(std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            "closed",
        ));
        assert!(is_broken_pipe(&anyhow::Error::new(json)));
    }

    #[test]
    fn other_errors_are_not_a_broken_pipe() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "missing");
        assert!(!is_broken_pipe(&anyhow::Error::new(io).context("reading")));
        assert!(!is_broken_pipe(&anyhow::anyhow!(
            "broken pipe, in words only"
        )));
    }
}
