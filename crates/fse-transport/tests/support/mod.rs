//! Test support: keys and certificates made here, settings for a local
//! server, a recording axum server with scripted answers, a fake clock.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fse_transport::config::{
    MetadataPath, OrganizationSettings, Profile, ProfileKind, SigningSettings, Timeouts,
    TlsSettings,
};
use fse_transport::inspect::{PatientIdFact, SignatureFact};
use fse_transport::jwt::{Algorithm, SigningIdentity};
use fse_transport::retry::{BoxFuture, Clock};
use fse_transport::tls::KeyMaterial;
use fse_transport::{
    CallContext, DocumentFacts, DocumentUpload, GatewayClient, Journal, MemoryJournal, Operation,
    RetryPolicy, Settings,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

pub const ORG_ID: &str = "090";
pub const ORG_NAME: &str = "Regione Toscana";
pub const LOCALITY: &str =
    "LABORATORIO DI PROVA^^^^^&2.16.840.1.113883.2.9.4.1.3&ISO^^^^090111123456";
pub const DOC_ID: &str = "2.16.840.1.113883.2.9.2.90.4.4^DOC1";
pub const NEW_DOC_ID: &str = "2.16.840.1.113883.2.9.2.90.4.4^DOC2";
pub const SIGNING_CN: &str = "S1#090#FSE2TEST";
pub const AUD: &str = "https://gateway.test/v1";

/// A valid fiscal code (check character computed by fse-model).
pub fn patient_cf() -> String {
    fse_model::FiscalCode::with_check_character("RSSMRA80A01H501")
        .expect("valid")
        .as_str()
        .to_owned()
}

/// Another valid one, for the operator.
pub fn operator_cf() -> String {
    fse_model::FiscalCode::with_check_character("VRDGPP75C12F205")
        .expect("valid")
        .as_str()
        .to_owned()
}

/// The RSA signing identity (generated once per test binary): PKCS#8 key
/// and a self-signed certificate with CN `S1#090#FSE2TEST`.
pub fn signing_material() -> KeyMaterial {
    static CELL: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    let (cert, key) = CELL.get_or_init(|| {
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("rsa");
        let der = key.to_pkcs8_der().expect("pkcs8").as_bytes().to_vec();
        let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(der.as_slice()),
            &rcgen::PKCS_RSA_SHA256,
        )
        .expect("rcgen key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, SIGNING_CN);
        let cert = params.self_signed(&pair).expect("cert");
        (cert.der().to_vec(), der)
    });
    KeyMaterial {
        chain: vec![CertificateDer::from(cert.clone())],
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.clone())),
    }
}

pub fn signing_identity() -> SigningIdentity {
    SigningIdentity::new(&signing_material(), Algorithm::Rs256).expect("signing identity")
}

pub fn organization() -> OrganizationSettings {
    OrganizationSettings {
        subject_organization_id: ORG_ID.into(),
        subject_organization: ORG_NAME.into(),
        locality: LOCALITY.into(),
        subject_application_id: "FSE2".into(),
        subject_application_vendor: "FSE2 DEVELOPERS".into(),
        subject_application_version: "0.1.0".into(),
        subject_role: "AAS".into(),
        identificativo_rep: Some("2.16.840.1.113883.2.9.2.90.4.5.1".into()),
    }
}

/// Every client operation, metadata update at `metadata-iti-57`.
pub fn all_operations() -> BTreeSet<Operation> {
    ProfileKind::NationalTest.default_operations(MetadataPath::MetadataIti57)
}

pub fn settings(base_url: &str, operations: BTreeSet<Operation>) -> Settings {
    Settings {
        profile: Profile {
            name: "test".into(),
            kind: ProfileKind::Custom,
            base_url: base_url.trim_end_matches('/').into(),
            aud: AUD.into(),
            metadata_path: MetadataPath::MetadataIti57,
            operations,
        },
        organization: organization(),
        operator: Some(operator_cf()),
        tls: TlsSettings::default(),
        signing: SigningSettings {
            key: None,
            algorithm: Algorithm::Rs256,
            token_lifetime: Duration::from_secs(300),
        },
        pades: Default::default(),
        timeouts: Timeouts {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(10),
        },
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        },
        journal: PathBuf::from("unused.sqlite"),
    }
}

/// A client for `settings` with the test signing identity, `journal` and `clock`.
pub fn client_with(
    settings: Settings,
    journal: Arc<dyn Journal>,
    clock: Arc<dyn Clock>,
) -> GatewayClient {
    GatewayClient::builder(settings)
        .signing_identity(signing_identity())
        .journal(journal)
        .clock(clock)
        .build()
        .expect("client")
}

pub fn client(base_url: &str) -> (GatewayClient, Arc<MemoryJournal>, Arc<FakeClock>) {
    let journal = Arc::new(MemoryJournal::new());
    let clock = Arc::new(FakeClock::new());
    let c = client_with(
        settings(base_url, all_operations()),
        journal.clone(),
        clock.clone(),
    );
    (c, journal, clock)
}

/// What the test PDF holds: the patient, a LOINC report code, `N`, signed with `/M`.
pub fn facts() -> DocumentFacts {
    DocumentFacts {
        clinical_document_id: Some(DOC_ID.into()),
        patient_ids: vec![PatientIdFact {
            root: "2.16.840.1.113883.2.9.4.3.2".into(),
            extension: patient_cf(),
        }],
        code: Some("11502-2".into()),
        code_system: Some("2.16.840.1.113883.6.1".into()),
        resource_hl7_type: None,
        confidentiality: Some("N".into()),
        signature: Some(SignatureFact {
            present: true,
            has_signing_time: true,
            valid: true,
        }),
    }
}

pub fn pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n% test document\n".to_vec();
    pdf.extend((0u8..=255).cycle().take(3000));
    pdf.extend_from_slice(b"\n%%EOF\n");
    pdf
}

pub fn create_body() -> serde_json::Value {
    serde_json::json!({
        "tipologiaStruttura": "Ospedale",
        "identificativoDoc": DOC_ID,
        "identificativoRep": "2.16.840.1.113883.2.9.2.90.4.5.1",
        "tipoDocumentoLivAlto": "REF",
        "assettoOrganizzativo": "AD_PSC001",
        "tipoAttivitaClinica": "CON",
        "identificativoSottomissione": "2.16.840.1.113883.2.9.2.90.4.3.1",
        "mode": "ATTACHMENT",
        "healthDataFormat": "CDA"
    })
}

pub fn metadata_body() -> serde_json::Value {
    serde_json::json!({
        "tipologiaStruttura": "Ospedale",
        "tipoDocumentoLivAlto": "REF",
        "assettoOrganizzativo": "AD_PSC001",
        "tipoAttivitaClinica": "CON",
        "identificativoSottomissione": "2.16.840.1.113883.2.9.2.90.4.3.2",
        "attiCliniciRegoleAccesso": ["P99"]
    })
}

pub fn upload(body: serde_json::Value) -> DocumentUpload {
    DocumentUpload {
        pdf: pdf().into(),
        file_name: "LAB.pdf".into(),
        body,
        facts: Some(facts()),
    }
}

pub fn ctx() -> CallContext {
    CallContext::default()
}

pub fn metadata_ctx() -> CallContext {
    CallContext {
        person_id: Some(patient_cf()),
        resource_hl7_type: Some("('11502-2^^2.16.840.1.113883.6.1')".into()),
        ..CallContext::default()
    }
}

pub fn success_body(wii: &str) -> String {
    serde_json::json!({"traceID": "trace-1", "spanID": "span-1", "workflowInstanceId": wii, "warning": ""})
        .to_string()
}

pub const WII: &str = "2.16.840.1.113883.2.9.2.90.4.4.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.0a1b2c3d4e^^^^urn:ihe:iti:xdw:2013:workflowInstanceId";

// ----- the fake clock -----

/// A clock whose sleeps return at once, advance its time and are recorded.
#[derive(Debug)]
pub struct FakeClock {
    now: Mutex<OffsetDateTime>,
    sleeps: Mutex<Vec<Duration>>,
}

impl FakeClock {
    pub fn new() -> Self {
        FakeClock {
            now: Mutex::new(OffsetDateTime::from_unix_timestamp(1_760_000_000).unwrap()),
            sleeps: Mutex::new(Vec::new()),
        }
    }

    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }

    pub fn now_unix(&self) -> i64 {
        self.now.lock().unwrap().unix_timestamp()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture {
        self.sleeps.lock().unwrap().push(duration);
        let mut now = self.now.lock().unwrap();
        *now += duration;
        Box::pin(async {})
    }

    fn random_unit(&self) -> f64 {
        0.5
    }
}

// ----- the recording server -----

/// One multipart part as the server read it.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: Option<String>,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// The path as sent (percent-encoded).
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub parts: Vec<Part>,
}

/// An answer the server gives.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Answer {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Answer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    script: VecDeque<Answer>,
    last: Option<Answer>,
}

/// A local HTTP server recording requests and answering from a script
/// (the last answer repeats).
#[derive(Clone)]
pub struct Recorder {
    state: Arc<Mutex<State>>,
    pub addr: SocketAddr,
}

impl Recorder {
    pub async fn start(script: Vec<Answer>) -> Recorder {
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            ..State::default()
        }));
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |req: Request| {
            let state = shared.clone();
            async move { handle(state, req).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Recorder { state, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn hits(&self) -> usize {
        self.state.lock().unwrap().seen.len()
    }
}

async fn handle(state: Arc<Mutex<State>>, req: Request) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let headers = req.headers().clone();
    let is_multipart = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut parts = Vec::new();
    let mut body = Vec::new();
    if is_multipart {
        if let Ok(mut mp) = Multipart::from_request(req, &()).await {
            while let Ok(Some(field)) = mp.next_field().await {
                let name = field.name().map(str::to_owned);
                let file_name = field.file_name().map(str::to_owned);
                let content_type = field.content_type().map(str::to_owned);
                let headers = field.headers().clone();
                let bytes = field.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                parts.push(Part {
                    name,
                    file_name,
                    content_type,
                    headers,
                    bytes,
                });
            }
        }
    } else {
        body = axum::body::to_bytes(req.into_body(), 64 << 20)
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
    }
    let answer = {
        let mut s = state.lock().unwrap();
        s.seen.push(Seen {
            method,
            path,
            headers,
            body,
            parts,
        });
        let next = s.script.pop_front().or_else(|| s.last.clone());
        if let Some(a) = &next {
            s.last = Some(a.clone());
        }
        next.unwrap_or_else(|| Answer::new(500, "{}"))
    };
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap(),
        answer.body.clone(),
    )
        .into_response();
    for (k, v) in &answer.headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    response
}

/// A server that reads the request head and resets the connection.
pub async fn resetting_server() -> (SocketAddr, Arc<Mutex<usize>>) {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(Mutex::new(0usize));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            *seen.lock().unwrap() += 1;
            let mut buf = vec![0u8; 1024];
            let _ = stream.read(&mut buf).await;
            // SO_LINGER 0: close with a RST rather than a FIN (with a zero
            // linger the close does not block, the deprecation's concern).
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
        }
    });
    (addr, count)
}

/// Verifies an RS256 JWT with `cert_der`'s key; returns header and claims.
pub fn verify_jwt(token: &str, cert_der: &[u8]) -> (serde_json::Value, serde_json::Value) {
    use base64::Engine as _;
    let (signed, sig) = token.rsplit_once('.').expect("three parts");
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .expect("b64 signature");
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).expect("cert");
    let spki = cert.public_key().subject_public_key.data.to_vec();
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, spki)
        .verify(signed.as_bytes(), &sig)
        .expect("the JWT signature verifies with the x5c certificate");
    fse_transport::jwt::decode_unverified(token).expect("decodes")
}
