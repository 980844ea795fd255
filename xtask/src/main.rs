//! Project automation. `cargo xtask codegen` regenerates the committed
//! generated code; `cargo xtask codegen --check` fails when it is stale.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use anyhow::{Context, bail};

mod codegen;
mod model;
mod xsd;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("codegen") => {
            let check = match args.get(1).map(String::as_str) {
                None => false,
                Some("--check") => true,
                Some(other) => {
                    bail!("unknown codegen option {other:?}; usage: cargo xtask codegen [--check]")
                }
            };
            let root = codegen::repo_root();
            let outputs = codegen::all_outputs(&root).context("generating code")?;
            if check {
                let stale = codegen::stale(&root, &outputs)?;
                if stale.is_empty() {
                    println!("generated code is up to date ({} files)", outputs.len());
                    Ok(ExitCode::SUCCESS)
                } else {
                    for path in &stale {
                        eprintln!("stale: {path}");
                    }
                    eprintln!("run `cargo xtask codegen` and commit the result");
                    Ok(ExitCode::from(1))
                }
            } else {
                let written = codegen::write(&root, &outputs)?;
                println!("wrote {written} of {} generated files", outputs.len());
                Ok(ExitCode::SUCCESS)
            }
        }
        _ => {
            eprintln!("usage: cargo xtask codegen [--check]");
            Ok(ExitCode::from(2))
        }
    }
}
