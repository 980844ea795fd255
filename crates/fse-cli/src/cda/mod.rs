//! `fse cda`: CDA2 documents.

use std::process::ExitCode;

use clap::Subcommand;

use crate::GlobalArgs;

pub mod document;
pub mod validate;

/// Arguments of `fse cda`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do with CDA2 documents.
    #[command(subcommand)]
    pub command: CdaCommand,
}

/// The `fse cda` subcommands.
#[derive(Debug, Subcommand)]
pub enum CdaCommand {
    /// Validate documents as the Gateway does (XSD, schematron, vocabulary).
    Validate(validate::Args),
    /// Documents: info, hash, new, example, replace.
    #[command(flatten)]
    Document(document::Command),
}

/// Runs `fse cda`.
///
/// # Errors
/// Usage and I/O errors; findings in documents are reported, not errors.
pub fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        CdaCommand::Validate(a) => validate::run(a, global),
        CdaCommand::Document(c) => document::run(c, global),
    }
}
