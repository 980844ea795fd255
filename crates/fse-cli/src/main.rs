//! The `fse` command. Parsing and exit codes only: the behaviours live in
//! the `fse_cli` library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = fse_cli::Cli::parse();
    match fse_cli::run(cli) {
        Ok(code) => code,
        Err(err) if fse_cli::is_broken_pipe(&err) => ExitCode::from(fse_cli::BROKEN_PIPE_STATUS),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
