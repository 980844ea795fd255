//! `fse-server`: fse2 as a long-running service.
//!
//! Will hold the libraries behind an HTTP API (publication queue, journal
//! in PostgreSQL). Nothing is served yet.
#![forbid(unsafe_code)]

fn main() -> anyhow::Result<()> {
    anyhow::bail!("fse-server is not built yet: use the `fse` command")
}
