//! What the end-to-end tests share: the `fse sim` process, a raw HTTPS
//! caller holding the client certificate, documents built, rendered and
//! signed by the libraries.
#![allow(
    dead_code,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::missing_panics_doc
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use fse_sim::pki::TestPki;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// Runs the `fse` binary with `args`, capturing its output.
pub fn fse(args: &[&str]) -> Output {
    Command::new(fse_tests::fse_binary())
        .args(args)
        .output()
        .expect("running fse")
}

/// The `fse sim` process: a fresh PKI in a temporary directory, served on
/// an ephemeral loopback port. Killed when dropped.
pub struct SimProcess {
    pub dir: tempfile::TempDir,
    pub base_url: String,
    pub pki: TestPki,
    child: Child,
}

/// The PKI of the first `fse sim --init-pki` of this test process; later
/// simulators get a copy (RSA key generation is the slow part of a start).
static PKI: std::sync::Mutex<Option<TestPki>> = std::sync::Mutex::new(None);

impl SimProcess {
    /// A test PKI in a fresh directory (`fse sim --init-pki` the first time
    /// in this process, a copy after), then `fse sim --pki DIR --listen
    /// 127.0.0.1:0 EXTRA`.
    pub fn start(extra: &[&str]) -> SimProcess {
        let dir = tempfile::Builder::new()
            .prefix("fse-e2e-")
            .tempdir()
            .expect("tempdir");
        let pki_dir = dir.path().to_str().expect("utf-8 path").to_owned();
        {
            let mut shared = PKI
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match shared.as_ref() {
                Some(pki) => {
                    pki.write_to(dir.path()).expect("PKI copy");
                }
                None => {
                    let init = fse(&["sim", "--init-pki", &pki_dir]);
                    assert!(
                        init.status.success(),
                        "fse sim --init-pki: {}",
                        String::from_utf8_lossy(&init.stderr)
                    );
                    *shared =
                        Some(TestPki::load(dir.path()).expect("PKI written by fse sim --init-pki"));
                }
            }
        }
        let mut args = vec!["sim", "--pki", pki_dir.as_str(), "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = Command::new(fse_tests::fse_binary())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawning fse sim");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        // "fse sim: listening on https://127.0.0.1:PORT/v1 (...)"
        let base_url = first
            .split_whitespace()
            .find(|w| w.starts_with("https://"))
            .unwrap_or_else(|| panic!("fse sim did not say where it listens: {first:?}"))
            .to_owned();
        // Keep draining stdout so the process never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let pki = TestPki::load(dir.path()).expect("PKI");
        SimProcess {
            dir,
            base_url,
            pki,
            child,
        }
    }

    /// The client configuration `fse sim` wrote.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("fse.toml")
    }

    /// `fse --config DIR/fse.toml --profile sim ARGS`.
    pub fn fse(&self, args: &[&str]) -> Output {
        let config = self.config();
        let mut all = vec![
            "--config",
            config.to_str().expect("utf-8"),
            "--profile",
            "sim",
        ];
        all.extend_from_slice(args);
        fse(&all)
    }

    /// `fse --config ... --profile sim gw ARGS --format json`: the exit code
    /// and the JSON printed.
    pub fn gw(&self, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["gw"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--format", "json"]);
        let out = self.fse(&all);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let json = stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| {
                panic!(
                    "fse gw {args:?} printed no JSON:\n{stdout}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        (out.status.code().unwrap_or(-1), json)
    }

    /// A file in the simulator's directory.
    pub fn file(&self, name: &str, bytes: &[u8]) -> String {
        write(self.dir.path(), name, bytes)
    }

    /// The transport client of the written configuration.
    pub fn client(&self) -> fse_transport::GatewayClient {
        let settings = fse_transport::Config::from_file(&self.config())
            .expect("fse.toml")
            .resolve(Some("sim"), &|_| None)
            .expect("profile sim");
        fse_transport::GatewayClient::builder(settings)
            .build()
            .expect("client")
    }

    /// The path part of the base URL (`/v1`).
    pub fn base_path(&self) -> String {
        let after_scheme = self.base_url.trim_start_matches("https://");
        after_scheme
            .find('/')
            .map(|i| after_scheme[i..].to_owned())
            .unwrap_or_default()
    }

    fn addr(&self) -> String {
        let after_scheme = self.base_url.trim_start_matches("https://");
        after_scheme
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// One HTTPS request with the client certificate; `path` is absolute
    /// (`/v1/...` or `/_sim/...`).
    pub async fn raw(&self, request: http::Request<Full<bytes::Bytes>>) -> Answer {
        let tls = fse_sim::server::client_config(&self.pki, &self.pki.client).expect("client TLS");
        let tcp = tokio::net::TcpStream::connect(self.addr())
            .await
            .expect("connect");
        let name = rustls_pki_types::ServerName::try_from("127.0.0.1")
            .expect("name")
            .to_owned();
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .expect("TLS");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        let response = sender.send_request(request).await.expect("response");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        Answer {
            status: parts.status.as_u16(),
            cart_id: parts
                .headers
                .get("x-cart-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// `GET /_sim/<what>` as JSON.
    pub async fn inspect(&self, what: &str) -> Value {
        let request = http::Request::get(format!("/_sim/{what}"))
            .header("host", self.addr())
            .body(Full::default())
            .expect("request");
        self.raw(request).await.json
    }

    /// The `FSE-JWT-Signature` claims for `op`, edited by `edit`.
    pub fn claims(
        &self,
        op: fse_sim::Operation,
        set: &fse_sim::testkit::ClaimSet,
        edit: impl FnOnce(&mut serde_json::Map<String, Value>),
    ) -> serde_json::Map<String, Value> {
        let mut claims = fse_sim::testkit::signature_claims(&self.pki, op, set);
        edit(&mut claims);
        claims
    }

    /// A multipart request to `path` with a Bearer token and these
    /// signature claims, signed.
    pub fn multipart(
        &self,
        method: http::Method,
        path: &str,
        claims: serde_json::Map<String, Value>,
        body: &Value,
        pdf: &[u8],
    ) -> http::Request<Full<bytes::Bytes>> {
        let bearer = fse_sim::testkit::sign(
            &self.pki,
            &fse_sim::testkit::bearer_claims(&self.pki, &self.base_url),
        );
        let signature = fse_sim::testkit::sign(&self.pki, &claims);
        let (content_type, bytes) = fse_sim::testkit::multipart(body, Some(pdf));
        http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base_path()))
            .header("host", self.addr())
            .header("authorization", format!("Bearer {bearer}"))
            .header("fse-jwt-signature", signature)
            .header("content-type", content_type)
            .body(Full::new(bytes::Bytes::from(bytes)))
            .expect("request")
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        // Only the process this test started, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub cart_id: Option<String>,
    pub json: Value,
}

impl Answer {
    pub fn problem(&self) -> (u16, &str) {
        (
            self.status,
            self.json
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        )
    }
}

/// A LAB report from the builder's example, with its own id extension.
pub struct Lab {
    pub input: fse_cda::builder::DocumentInput,
    pub cda: String,
    pub id: String,
    pub patient: String,
}

pub fn lab(extension: &str) -> Lab {
    use fse_cda::builder::{DocumentInput, DocumentType};
    let mut input =
        DocumentInput::from_json(Some(DocumentType::Lab), DocumentType::Lab.example_json())
            .expect("example");
    input.document.id.extension = extension.to_owned();
    let cda = fse_cda::builder::build(&input).expect("build");
    let id = format!("{}^{}", input.document.id.root, extension);
    let patient = input
        .patient
        .fiscal_code
        .as_ref()
        .map(|f| f.as_str().to_owned())
        .expect("fiscal code");
    Lab {
        input,
        cda,
        id,
        patient,
    }
}

/// The CDA rendered into a PDF with `cda.xml` injected.
pub fn unsigned_pdf(cda: &str) -> Vec<u8> {
    fse_pades::render(cda.as_bytes()).expect("render")
}

/// Rendered and signed PAdES with the PKI's PDF signer.
pub fn signed_pdf(pki: &TestPki, cda: &str) -> Vec<u8> {
    let signer = fse_pades::KeySigner::from_pem(
        pki.pdf_signer.cert_pem().as_bytes(),
        pki.pdf_signer.key_pem().as_bytes(),
    )
    .expect("signer");
    fse_pades::sign(
        &unsigned_pdf(cda),
        &signer,
        &fse_pades::SignOptions::default(),
    )
    .expect("sign")
}

/// The publication body of the simulator's client configuration.
pub fn publication_body(id: &str) -> Value {
    fse_sim::testkit::publication_body(id)
}

/// Writes bytes to a file in `dir`, returning its path as text.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path.to_str().expect("utf-8").to_owned()
}

/// Waits until `check` holds, up to a few seconds.
pub async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

pub fn arc<T>(t: T) -> Arc<T> {
    Arc::new(t)
}
