//! `fse pdf inject|sign|verify|extract`: PDFs with the CDA inside, signed PAdES.
//!
//! The order the Gateway expects is inject → validate (`fse cda validate`)
//! → sign → publish. Each command is a function over bytes
//! ([`inject`], [`sign`], [`verify_report`], [`extract`]); [`run`] reads
//! and writes the files.
//!
//! Exit status: `verify` exits 0 only when every signature is valid and
//! the document is signed to its last byte, 1 otherwise; every command
//! exits 2 on usage or I/O errors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use fse_pades::{InjectOptions, KeySigner, Mode, Report, SignOptions};

use crate::GlobalArgs;

/// Arguments of `fse pdf`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: PdfCommand,
}

/// The `fse pdf` subcommands.
#[derive(Debug, Subcommand)]
pub enum PdfCommand {
    /// Put a CDA2 into a PDF as `cda.xml` (without --pdf, render a readable PDF of it).
    Inject(InjectArgs),
    /// Sign a PDF PAdES (B-B; B-T with --tsa), as an incremental update.
    Sign(SignArgs),
    /// Verify the signatures of a PDF as the Gateway does, and more.
    Verify(VerifyArgs),
    /// Write the CDA2 found in a PDF (RESOURCE first, then ATTACHMENT, as the Gateway).
    Extract(ExtractArgs),
}

/// Where the CDA goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// The embedded file `cda.xml` (`/Names /EmbeddedFiles`): the normal one.
    Attachment,
    /// The XFA `datasets` resource (`/Names /XFAResources`).
    Resource,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Attachment => Mode::Attachment,
            ModeArg::Resource => Mode::Resource,
        }
    }
}

/// Arguments of `fse pdf inject`.
#[derive(Debug, clap::Args)]
pub struct InjectArgs {
    /// The CDA2 to inject (embedded byte for byte).
    #[arg(long, value_name = "X.xml")]
    pub cda: PathBuf,
    /// The producer's PDF; without it a PDF of the CDA is rendered.
    #[arg(long, value_name = "IN.pdf")]
    pub pdf: Option<PathBuf>,
    /// Where the CDA goes.
    #[arg(long, value_enum, default_value_t = ModeArg::Attachment)]
    pub mode: ModeArg,
    /// The output PDF.
    #[arg(short, long, value_name = "OUT.pdf")]
    pub output: PathBuf,
    /// If the input's cross-reference data is damaged, rebuild the file
    /// from the objects found in it (a complete new file) instead of failing.
    #[arg(long, requires = "pdf")]
    pub repair: bool,
}

/// Arguments of `fse pdf sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The PDF to sign.
    #[arg(value_name = "IN.pdf")]
    pub input: PathBuf,
    /// The signed PDF (the input's bytes followed by the signature).
    #[arg(short, long, value_name = "OUT.pdf")]
    pub output: PathBuf,
    /// The signer certificate, PEM (the chain may follow it in the same file).
    #[arg(long, value_name = "C.pem", requires = "key", conflicts_with = "p12")]
    pub cert: Option<PathBuf>,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1; not encrypted).
    #[arg(long, value_name = "K.pem", requires = "cert")]
    pub key: Option<PathBuf>,
    /// A PKCS#12 file with the key and its chain.
    #[arg(
        long,
        value_name = "F.p12",
        requires = "password_env",
        required_unless_present = "cert"
    )]
    pub p12: Option<PathBuf>,
    /// The environment variable holding the PKCS#12 password.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// An RFC 3161 time-stamping authority: makes the signature PAdES B-T.
    #[arg(long, value_name = "URL")]
    pub tsa: Option<String>,
    /// `/Reason`, e.g. "Firma Digitale".
    #[arg(long)]
    pub reason: Option<String>,
    /// `/Location`, e.g. "Firenze, IT".
    #[arg(long)]
    pub location: Option<String>,
    /// `/Name`: the signer's name as the PDF shows it.
    #[arg(long)]
    pub name: Option<String>,
}

/// Output formats of `verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable lines.
    Text,
    /// One JSON object.
    Json,
}

/// Arguments of `fse pdf verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The PDF.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// How to report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Arguments of `fse pdf extract`.
#[derive(Debug, clap::Args)]
pub struct ExtractArgs {
    /// The PDF.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Only look in this place (default: RESOURCE, then ATTACHMENT).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Where to write the CDA2.
    #[arg(short, long, value_name = "cda.xml")]
    pub output: PathBuf,
}

/// Runs `fse pdf`.
///
/// # Errors
/// Usage and I/O errors, unreadable PDFs, signing failures.
pub fn run(args: Args, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    run_to(args, &mut stdout)
}

/// Runs `fse pdf`, writing reports to `out`.
///
/// # Errors
/// As [`run`].
pub fn run_to(args: Args, out: &mut dyn std::io::Write) -> anyhow::Result<ExitCode> {
    match args.command {
        PdfCommand::Inject(a) => {
            let cda = read(&a.cda)?;
            let pdf = match &a.pdf {
                Some(p) => Some(read(p)?),
                None => None,
            };
            let result = inject_repairing(pdf.as_deref(), &cda, a.mode.into(), a.repair)?;
            write(&a.output, &result)?;
            Ok(ExitCode::SUCCESS)
        }
        PdfCommand::Sign(a) => {
            let signer = load_signer(&a, &|name| std::env::var(name).ok())?;
            let input = read(&a.input)?;
            let tsa = match &a.tsa {
                Some(url) => Some(
                    fse_transport::tsa::HttpTimestamper::new(url)
                        .context("the time-stamping authority")?,
                ),
                None => None,
            };
            let options = SignOptions {
                reason: a.reason.clone(),
                location: a.location.clone(),
                name: a.name.clone(),
                timestamper: tsa.as_ref().map(|t| t as &dyn fse_pades::Timestamper),
                ..SignOptions::default()
            };
            let signed = sign(&input, &signer, &options)
                .with_context(|| format!("cannot sign {}", a.input.display()))?;
            write(&a.output, &signed)?;
            Ok(ExitCode::SUCCESS)
        }
        PdfCommand::Verify(a) => {
            let pdf = read(&a.file)?;
            let report =
                verify_report(&pdf).with_context(|| format!("cannot read {}", a.file.display()))?;
            match a.format {
                Format::Json => {
                    serde_json::to_writer_pretty(&mut *out, &report)?;
                    writeln!(out)?;
                }
                Format::Text => write_text_report(out, &report)?,
            }
            Ok(if report.all_valid_and_complete() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        PdfCommand::Extract(a) => {
            let pdf = read(&a.file)?;
            let cda = extract(&pdf, a.mode.map(Mode::from))
                .with_context(|| format!("no CDA in {}", a.file.display()))?;
            write(&a.output, &cda.bytes)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `inject`: into `pdf`, or into a PDF rendered from the CDA.
///
/// # Errors
/// An unreadable PDF, a CDA that is not XML.
pub fn inject(pdf: Option<&[u8]>, cda: &[u8], mode: Mode) -> anyhow::Result<Vec<u8>> {
    inject_repairing(pdf, cda, mode, false)
}

/// [`inject`], rebuilding a PDF whose cross-reference data is damaged
/// when `repair` is set.
///
/// # Errors
/// As [`inject`].
pub fn inject_repairing(
    pdf: Option<&[u8]>,
    cda: &[u8],
    mode: Mode,
    repair: bool,
) -> anyhow::Result<Vec<u8>> {
    Ok(match pdf {
        Some(pdf) => fse_pades::inject_with(
            pdf,
            cda,
            &InjectOptions {
                mode,
                repair,
                ..InjectOptions::default()
            },
        )?,
        None => fse_pades::render_with(
            cda,
            &fse_pades::RenderOptions {
                mode,
                ..Default::default()
            },
        )?,
    })
}

/// The signer from `--cert`/`--key` or `--p12`/`--password-env`; `env`
/// reads environment variables.
///
/// # Errors
/// Missing options, an unset password variable, unreadable or mismatched keys.
pub fn load_signer(
    a: &SignArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<KeySigner> {
    match (&a.cert, &a.key, &a.p12) {
        (Some(cert), Some(key), None) => Ok(KeySigner::from_pem_files(cert, key)?),
        (None, None, Some(p12)) => {
            let var = a
                .password_env
                .as_deref()
                .context("--p12 needs --password-env VAR")?;
            let password = env(var).with_context(|| {
                format!("the environment variable {var} (the PKCS#12 password) is not set")
            })?;
            Ok(KeySigner::from_pkcs12_file(p12, &password)?)
        }
        _ => anyhow::bail!("give either --cert and --key, or --p12 and --password-env"),
    }
}

/// `sign`.
///
/// # Errors
/// As `fse_pades::sign`.
pub fn sign(pdf: &[u8], signer: &KeySigner, options: &SignOptions<'_>) -> anyhow::Result<Vec<u8>> {
    Ok(fse_pades::sign(pdf, signer, options)?)
}

/// `verify`.
///
/// # Errors
/// The PDF cannot be read.
pub fn verify_report(pdf: &[u8]) -> anyhow::Result<Report> {
    Ok(fse_pades::verify(pdf)?)
}

/// `extract`.
///
/// # Errors
/// The PDF cannot be read or holds no CDA where looked.
pub fn extract(pdf: &[u8], mode: Option<Mode>) -> anyhow::Result<fse_pades::ExtractedCda> {
    Ok(match mode {
        Some(m) => fse_pades::extract_mode(pdf, m)?,
        None => fse_pades::extract(pdf)?,
    })
}

/// The readable form of a report.
///
/// # Errors
/// When `out` fails.
pub fn write_text_report(out: &mut dyn std::io::Write, report: &Report) -> std::io::Result<()> {
    match &report.cda {
        Some(cda) => writeln!(
            out,
            "CDA: {} mode, {} bytes, SHA-256 {}",
            cda.mode.wire_name(),
            cda.size,
            cda.sha256
        )?,
        None => writeln!(out, "CDA: none found")?,
    }
    if report.signatures.is_empty() {
        writeln!(out, "no signatures")?;
    }
    for (i, s) in report.signatures.iter().enumerate() {
        writeln!(
            out,
            "signature #{} ({}): {}",
            i + 1,
            s.field,
            if s.valid { "VALID" } else { "INVALID" }
        )?;
        let line = |k: &str, v: Option<&str>| -> String { format!("  {k}: {}", v.unwrap_or("-")) };
        writeln!(out, "{}", line("signer", s.signer.as_deref()))?;
        writeln!(out, "{}", line("type", s.sub_filter.as_deref()))?;
        writeln!(out, "{}", line("digest", s.digest.as_deref()))?;
        writeln!(
            out,
            "{}",
            line(
                "signing time (/M)",
                s.claimed_time_rfc3339
                    .as_deref()
                    .or(s.claimed_time.as_deref())
            )
        )?;
        writeln!(out, "{}", line("PAdES level", s.pades_level.as_deref()))?;
        match &s.timestamp {
            Some(t) if t.valid => writeln!(
                out,
                "  time-stamp: valid, {}",
                t.time.as_deref().unwrap_or("-")
            )?,
            Some(t) => writeln!(
                out,
                "  time-stamp: INVALID ({})",
                t.problem.as_deref().unwrap_or("-")
            )?,
            None => writeln!(out, "  time-stamp: none")?,
        }
        writeln!(
            out,
            "  coverage: {}",
            if s.covers_whole_file {
                "the whole file"
            } else if s.modified_after_signing {
                "NOT the whole file: the document was changed after this signature"
            } else {
                "NOT the whole file"
            }
        )?;
        if let Some(inside) = s.cda_in_signed_revision {
            writeln!(
                out,
                "  cda.xml signed: {}",
                if inside {
                    "yes"
                } else {
                    "NO, it changed after this signature"
                }
            )?;
        }
        for p in &s.problems {
            writeln!(out, "  problem: {p}")?;
        }
    }
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes through a temporary file in the same directory, so a failure
/// never leaves a half-written PDF under the output name.
fn write(path: &PathBuf, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Args {
        use clap::Parser as _;
        let cli =
            crate::Cli::try_parse_from(std::iter::once("fse").chain(argv.iter().copied())).unwrap();
        match cli.command {
            crate::Command::Pdf(a) => a,
            other => panic!("parsed as {other:?}"),
        }
    }

    const CDA: &str =
        "<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>Referto</title></ClinicalDocument>";

    #[test]
    fn sign_needs_one_key_source() {
        use clap::Parser as _;
        for bad in [
            &["fse", "pdf", "sign", "in.pdf", "-o", "out.pdf"][..],
            &[
                "fse", "pdf", "sign", "in.pdf", "-o", "out.pdf", "--cert", "c.pem",
            ],
            &[
                "fse", "pdf", "sign", "in.pdf", "-o", "out.pdf", "--p12", "f.p12",
            ],
            &[
                "fse",
                "pdf",
                "sign",
                "in.pdf",
                "-o",
                "out.pdf",
                "--cert",
                "c",
                "--key",
                "k",
                "--p12",
                "f",
                "--password-env",
                "P",
            ],
        ] {
            assert!(crate::Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
        let a = parse(&[
            "pdf",
            "sign",
            "in.pdf",
            "-o",
            "out.pdf",
            "--p12",
            "f.p12",
            "--password-env",
            "FSE_P12_PASSWORD",
        ]);
        let PdfCommand::Sign(a) = a.command else {
            panic!()
        };
        let err = load_signer(&a, &|_| None).unwrap_err();
        assert!(err.to_string().contains("FSE_P12_PASSWORD"), "{err}");
    }

    #[test]
    fn inject_render_extract_and_verify_through_files() {
        let dir = std::env::temp_dir().join(format!("fse-cli-pdf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cda = dir.join("cda.xml");
        std::fs::write(&cda, CDA).unwrap();
        let pdf = dir.join("out.pdf");
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let mut sink = Vec::new();
        // No --pdf: a PDF is rendered.
        let code = run_to(
            parse(&["pdf", "inject", "--cda", &s(&cda), "-o", &s(&pdf)]),
            &mut sink,
        )
        .unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        let back = dir.join("back.xml");
        run_to(
            parse(&["pdf", "extract", &s(&pdf), "-o", &s(&back)]),
            &mut sink,
        )
        .unwrap();
        assert_eq!(std::fs::read(&back).unwrap(), CDA.as_bytes());
        // Unsigned: verify says so and exits 1.
        let mut report = Vec::new();
        let code = run_to(parse(&["pdf", "verify", &s(&pdf)]), &mut report).unwrap();
        assert_eq!(code, ExitCode::from(1));
        let text = String::from_utf8(report).unwrap();
        assert!(
            text.contains("ATTACHMENT mode") && text.contains("no signatures"),
            "{text}"
        );
        // RESOURCE mode into the rendered PDF, then extract --mode resource.
        let res = dir.join("res.pdf");
        run_to(
            parse(&[
                "pdf",
                "inject",
                "--cda",
                &s(&cda),
                "--pdf",
                &s(&pdf),
                "--mode",
                "resource",
                "-o",
                &s(&res),
            ]),
            &mut sink,
        )
        .unwrap();
        run_to(
            parse(&[
                "pdf",
                "extract",
                &s(&res),
                "--mode",
                "resource",
                "-o",
                &s(&back),
            ]),
            &mut sink,
        )
        .unwrap();
        assert_eq!(std::fs::read(&back).unwrap(), CDA.as_bytes());
        // A PDF whose startxref is lost: an error, unless --repair.
        let mut broken = std::fs::read(&pdf).unwrap();
        let at = broken
            .windows(10)
            .rposition(|w| w == b"startxref\n")
            .unwrap()
            + 10;
        broken.truncate(at);
        broken.extend_from_slice(b"7\n%%EOF\n");
        let broken_path = dir.join("broken.pdf");
        std::fs::write(&broken_path, &broken).unwrap();
        let fixed = dir.join("fixed.pdf");
        let argv = [
            "pdf",
            "inject",
            "--cda",
            &s(&cda),
            "--pdf",
            &s(&broken_path),
            "-o",
            &s(&fixed),
        ];
        assert!(run_to(parse(&argv), &mut sink).is_err());
        let argv = [
            "pdf",
            "inject",
            "--cda",
            &s(&cda),
            "--pdf",
            &s(&broken_path),
            "--repair",
            "-o",
            &s(&fixed),
        ];
        run_to(parse(&argv), &mut sink).unwrap();
        assert_eq!(
            fse_pades::extract(&std::fs::read(&fixed).unwrap())
                .unwrap()
                .bytes,
            CDA.as_bytes()
        );
        // A missing file is an error (exit 2 in main), naming the file.
        let err = run_to(
            parse(&["pdf", "extract", &s(&dir.join("nope.pdf")), "-o", &s(&back)]),
            &mut sink,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("nope.pdf"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sign_with_pem_or_pkcs12_then_verify() {
        let dir = std::env::temp_dir().join(format!("fse-cli-pdf-sign-{}", std::process::id()));
        let pki = fse_sim::pki::TestPki::generate().unwrap();
        let files = pki.write_to(&dir).unwrap();
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let unsigned = dir.join("unsigned.pdf");
        std::fs::write(&unsigned, fse_pades::render(CDA.as_bytes()).unwrap()).unwrap();
        let signed = dir.join("signed.pdf");
        let mut sink = Vec::new();
        let argv = [
            "pdf",
            "sign",
            &s(&unsigned),
            "-o",
            &s(&signed),
            "--cert",
            &s(&files.pdf_signer_cert),
            "--key",
            &s(&files.pdf_signer_key),
            "--reason",
            "Firma Digitale",
            "--location",
            "Firenze, IT",
        ];
        assert_eq!(run_to(parse(&argv), &mut sink).unwrap(), ExitCode::SUCCESS);
        let mut json = Vec::new();
        let code = run_to(
            parse(&["pdf", "verify", &s(&signed), "--format", "json"]),
            &mut json,
        )
        .unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        let report: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(report["signatures"][0]["valid"], true);
        assert_eq!(report["signatures"][0]["pades_level"], "B-B");
        assert_eq!(report["cda"]["mode"], "attachment");

        // PKCS#12 with the password from the environment (here: a closure).
        let PdfCommand::Sign(a) = parse(&[
            "pdf",
            "sign",
            &s(&signed),
            "-o",
            &s(&dir.join("twice.pdf")),
            "--p12",
            &s(&files.pdf_signer_p12),
            "--password-env",
            "FSE_TEST_P12",
        ])
        .command
        else {
            panic!()
        };
        let signer = load_signer(&a, &|v| {
            (v == "FSE_TEST_P12").then(|| fse_sim::pki::PKCS12_PASSWORD.to_owned())
        })
        .unwrap();
        let twice = sign(
            &std::fs::read(&signed).unwrap(),
            &signer,
            &SignOptions::default(),
        )
        .unwrap();
        let report = verify_report(&twice).unwrap();
        assert_eq!(report.signatures.len(), 2);
        assert!(report.all_valid_and_complete());
        let mut text = Vec::new();
        write_text_report(&mut text, &report).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("changed after this signature"), "{text}");
        let wrong = load_signer(&a, &|_| Some("wrong".to_owned())).unwrap_err();
        assert!(format!("{wrong:#}").contains("PKCS#12"), "{wrong:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
