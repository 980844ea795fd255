//! `fse sim`: the local CART + Gateway simulator.
//!
//! `fse sim --init-pki DIR` writes a test PKI and a client configuration
//! (`DIR/fse.toml`, profile `sim`); `fse sim --pki DIR` serves the
//! simulator over HTTPS with required client certificates, and rewrites
//! `DIR/fse.toml` with the address it actually listens on, so that
//! `fse --config DIR/fse.toml --profile sim gw ...` works unchanged.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use fse_sim::faults::FaultPlan;
use fse_sim::pki::TestPki;

use crate::GlobalArgs;

/// The address served when `--listen` is not given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

/// The name of the client profile written into `fse.toml`.
pub const PROFILE: &str = "sim";

/// Arguments of `fse sim`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write a fresh test PKI and `fse.toml` into this directory, then exit.
    #[arg(long, value_name = "DIR", conflicts_with = "pki")]
    pub init_pki: Option<PathBuf>,
    /// Serve with the test PKI in this directory (written by `--init-pki`).
    #[arg(long, value_name = "DIR", required_unless_present = "init_pki")]
    pub pki: Option<PathBuf>,
    /// Where to listen (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// The API's base path.
    #[arg(long, value_name = "PATH", default_value = fse_sim::DEFAULT_BASE_PATH)]
    pub base_path: String,
    /// A fault plan (TOML; see the fse-sim docs).
    #[arg(long, value_name = "PLAN.toml")]
    pub faults: Option<PathBuf>,
    /// A fault rule `OPS:KIND[:WHEN]`, e.g. `create:503:0.2` (repeatable).
    #[arg(long = "fault", value_name = "SPEC")]
    pub fault: Vec<String>,
    /// The seed of random faults (overrides the plan's).
    #[arg(long, value_name = "N")]
    pub fault_seed: Option<u64>,
    /// Keep published documents in this file across restarts.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Validate with the official rules of this catalogs directory
    /// (default: `FSE_RULES`, else the built-in checks).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Accept this JWT `aud` besides the served base URLs (repeatable).
    #[arg(long = "aud", value_name = "URL")]
    pub audiences: Vec<String>,
}

/// Runs `fse sim`.
///
/// # Errors
/// When the PKI cannot be written or read, the plan or rules do not load,
/// or the address cannot be bound.
pub fn run(args: Args, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.init_pki {
        let addr: SocketAddr = args
            .listen
            .parse()
            .with_context(|| format!("--listen {}", args.listen))?;
        init_pki(dir, addr, &args.base_path)?;
        println!(
            "fse sim: test PKI and fse.toml written to {}",
            dir.display()
        );
        println!(
            "serve it with: fse sim --pki {} --listen {addr}",
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let Some(dir) = args.pki.clone() else {
        bail!("give --init-pki DIR or --pki DIR")
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(serve(&dir, &args))
}

/// Writes a fresh PKI and the client configuration for `addr` into `dir`.
///
/// # Errors
/// When a file cannot be written.
pub fn init_pki(dir: &Path, addr: SocketAddr, base_path: &str) -> anyhow::Result<TestPki> {
    let pki = TestPki::generate().context("generating the test PKI")?;
    pki.write_to(dir)
        .with_context(|| format!("writing the test PKI to {}", dir.display()))?;
    write_client_config(dir, &base_url(addr, base_path))?;
    Ok(pki)
}

/// `https://IP:PORT/base`.
pub fn base_url(addr: SocketAddr, base_path: &str) -> String {
    format!("https://{addr}{base_path}")
}

/// The client configuration (`fse.toml`, fse-transport's format) for the
/// simulator at `base_url`, with the PKI files beside it.
pub fn client_config(base_url: &str) -> String {
    format!(
        r#"# Written by `fse sim`: a client configuration for the local simulator,
# with the test PKI in this directory. `fse sim --pki` rewrites it with the
# address it listens on.
profile = "{PROFILE}"
operator = "{operator}"

[organization]
subject_organization_id = "090"
subject_organization = "Regione Toscana"
locality = "LABORATORIO DI PROVA^^^^^&2.16.840.1.113883.2.9.4.1.3&ISO^^^^090123456"
subject_application_id = "FSE2SIM"
subject_application_vendor = "fse2"
subject_application_version = "{version}"
subject_role = "AAS"
identificativo_rep = "2.16.840.1.113883.2.9.2.090.4.5.1"

[tls]
certificate = "client.cert.pem"
key = "client.key.pem"
ca = ["ca.cert.pem"]
system_roots = false

[signing]
certificate = "signing.cert.pem"
key = "signing.key.pem"

[pades]
certificate = "pdf-signer.cert.pem"
key = "pdf-signer.key.pem"
reason = "Firma Digitale"
location = "Firenze, IT"

[journal]
path = "journal.sqlite"

[profiles.{PROFILE}]
kind = "custom"
base_url = "{base_url}"
aud = "{base_url}"
metadata_path = "metadata-iti-57"
"#,
        operator = fse_sim::testkit::TEST_USER,
        version = env!("CARGO_PKG_VERSION"),
    )
}

fn write_client_config(dir: &Path, base_url: &str) -> anyhow::Result<PathBuf> {
    let path = dir.join("fse.toml");
    std::fs::write(&path, client_config(base_url))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A simulator built from the arguments, for `addr`.
///
/// # Errors
/// When the plan, rules or state do not load.
pub fn build_simulator(
    pki: &TestPki,
    args: &Args,
    addr: SocketAddr,
) -> anyhow::Result<fse_sim::Simulator> {
    let mut plan = match &args.faults {
        Some(path) => FaultPlan::from_file(path)?,
        None => FaultPlan::none(),
    };
    for spec in &args.fault {
        plan.add_flag(spec)?;
    }
    if let Some(seed) = args.fault_seed {
        plan.seed = seed;
    }
    let rules = args.rules.clone().or_else(|| {
        std::env::var_os("FSE_RULES")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let mut builder = fse_sim::Simulator::builder(pki)
        .base_path(&args.base_path)
        .faults(plan)
        .state_file(args.state.as_deref())
        .rules_dir(rules.as_deref())
        .audience(&base_url(addr, &args.base_path))
        .audience(&format!(
            "https://localhost:{}{}",
            addr.port(),
            args.base_path
        ));
    for aud in &args.audiences {
        builder = builder.audience(aud);
    }
    Ok(builder.build()?)
}

async fn serve(dir: &Path, args: &Args) -> anyhow::Result<ExitCode> {
    let pki = TestPki::load(dir).with_context(|| {
        format!(
            "reading the test PKI in {} (write one with --init-pki)",
            dir.display()
        )
    })?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener
        .local_addr()
        .context("reading the listening address")?;
    let sim = build_simulator(&pki, args, addr)?;
    let rules = if sim.gateway().cda_engine().has_official_rules() {
        "official rules"
    } else {
        "built-in checks"
    };
    let tls = fse_sim::server::server_config(&pki)?;
    let running = fse_sim::server::serve_listener(listener, tls, sim.router())?;
    let config = write_client_config(dir, &base_url(addr, &args.base_path))?;
    println!(
        "fse sim: listening on {} ({rules})",
        base_url(addr, &args.base_path)
    );
    println!(
        "client configuration: {} (profile {PROFILE})",
        config.display()
    );
    std::io::stdout().flush().ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = running.wait() => bail!("the simulator stopped"),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_pki_writes_every_file_the_issue_lists() {
        let dir = tempfile::tempdir().expect("tmp");
        let addr: SocketAddr = "127.0.0.1:9443".parse().expect("addr");
        init_pki(dir.path(), addr, "/v1").expect("init");
        for name in [
            "ca.cert.pem",
            "server.cert.pem",
            "server.key.pem",
            "client.cert.pem",
            "client.key.pem",
            "client.p12",
            "signing.cert.pem",
            "signing.key.pem",
            "signing.p12",
            "pdf-signer.cert.pem",
            "pdf-signer.key.pem",
            "pdf-signer.p12",
            "fse.toml",
        ] {
            assert!(dir.path().join(name).is_file(), "{name}");
        }
        // fse-transport reads it, and builds a client from its files.
        let settings = fse_transport::Config::from_file(&dir.path().join("fse.toml"))
            .expect("fse.toml parses")
            .resolve(Some(PROFILE), &|_| None)
            .expect("profile sim resolves");
        assert_eq!(settings.profile.base_url, "https://127.0.0.1:9443/v1");
        assert_eq!(settings.profile.aud, "https://127.0.0.1:9443/v1");
        assert!(settings.profile.has_status());
        assert!(
            settings.pades.key.is_some(),
            "PDFs are signed with the test PDF signer"
        );
        fse_transport::GatewayClient::builder(settings)
            .build()
            .expect("client from the PKI files");
    }
}
