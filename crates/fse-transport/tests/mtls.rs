//! Mutual TLS for real: a CA, a server and a client certificate made here
//! with rcgen (ring), a rustls server that requires the client certificate,
//! and the client configured from PEM and from PKCS#12 files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fse_transport::config::{KeySource, TlsSettings};
use fse_transport::{Error, GatewayClient, MemoryJournal, TransportFailureKind};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use support::*;

struct Pki {
    ca_der: Vec<u8>,
    server: (Vec<u8>, Vec<u8>),
    client: (Vec<u8>, Vec<u8>),
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn make_pki(ca_name: &str) -> Pki {
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut sp = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    sp.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = sp.signed_by(&server_key, &issuer).unwrap();

    let client_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut cp = CertificateParams::new(Vec::<String>::new()).unwrap();
    cp.distinguished_name
        .push(DnType::CommonName, "A1#090#FSE2TEST");
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = cp.signed_by(&client_key, &issuer).unwrap();

    Pki {
        ca_der: ca_cert.der().to_vec(),
        server: (server_cert.der().to_vec(), server_key.serialize_der()),
        client: (client_cert.der().to_vec(), client_key.serialize_der()),
    }
}

/// A TLS server requiring a client certificate from `pki`'s CA; records
/// the client certificate's CN of each request.
async fn mtls_server(pki: &Pki) -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(pki.ca_der.clone())).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(pki.server.0.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server.1.clone())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peers = Arc::new(Mutex::new(Vec::new()));
    let seen = peers.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let cn = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| {
                        let (_, cert) = x509_parser::parse_x509_certificate(c.as_ref()).ok()?;
                        let cn = cert
                            .subject()
                            .iter_common_name()
                            .next()?
                            .as_str()
                            .ok()?
                            .to_owned();
                        Some(cn)
                    })
                    .unwrap_or_default();
                let app = axum::Router::new().fallback(move || {
                    let seen = seen.clone();
                    let cn = cn.clone();
                    async move {
                        seen.lock().unwrap().push(cn);
                        (
                            axum::http::StatusCode::ACCEPTED,
                            [
                                ("content-type", "application/json"),
                                ("x-cart-id", "tls-cart"),
                            ],
                            success_body(WII),
                        )
                    }
                });
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
            });
        }
    });
    (addr, peers)
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

fn pkcs12(cert: &[u8], key: &[u8], ca: &[u8], password: &str) -> Vec<u8> {
    let chain = p12_keystore::PrivateKeyChain::new(
        b"key-1".as_slice(),
        p12_keystore::PrivateKey::from_der(key).unwrap(),
        [
            p12_keystore::Certificate::from_der(cert).unwrap(),
            p12_keystore::Certificate::from_der(ca).unwrap(),
        ],
    );
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry("id", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    store.writer(password).write().unwrap()
}

fn https_client(
    addr: std::net::SocketAddr,
    tls: TlsSettings,
    password: Option<&'static str>,
) -> Result<GatewayClient, Error> {
    let mut s = settings(
        &format!("https://localhost:{}/v1", addr.port()),
        all_operations(),
    );
    s.tls = tls;
    let b = GatewayClient::builder(s)
        .signing_identity(signing_identity())
        .journal(Arc::new(MemoryJournal::new()))
        .clock(Arc::new(FakeClock::new()))
        .env(move |k| {
            (k == "TEST_P12_PASSWORD")
                .then(|| password.unwrap_or_default().to_owned())
                .filter(|_| password.is_some())
        });
    b.build()
}

#[tokio::test]
async fn mutual_tls_with_pem_files() {
    let pki = make_pki("fse2 test CA");
    let (addr, peers) = mtls_server(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let tls = TlsSettings {
        identity: Some(KeySource::Pem {
            certificate: write(
                dir.path(),
                "client.pem",
                pem("CERTIFICATE", &pki.client.0).as_bytes(),
            ),
            key: Some(write(
                dir.path(),
                "client.key",
                pem("PRIVATE KEY", &pki.client.1).as_bytes(),
            )),
        }),
        ca: vec![write(
            dir.path(),
            "ca.pem",
            pem("CERTIFICATE", &pki.ca_der).as_bytes(),
        )],
        system_roots: false,
    };
    let client = https_client(addr, tls, None).unwrap();
    let reply = client.create(&upload(create_body()), &ctx()).await.unwrap();
    assert_eq!(reply.meta.status, 202);
    assert_eq!(reply.meta.cart_id.as_deref(), Some("tls-cart"));
    assert_eq!(*peers.lock().unwrap(), ["A1#090#FSE2TEST"]);
}

#[tokio::test]
async fn mutual_tls_with_pkcs12_and_a_combined_pem() {
    let pki = make_pki("fse2 test CA");
    let (addr, peers) = mtls_server(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = write(
        dir.path(),
        "ca.pem",
        pem("CERTIFICATE", &pki.ca_der).as_bytes(),
    );
    let p12 = write(
        dir.path(),
        "client.p12",
        &pkcs12(&pki.client.0, &pki.client.1, &pki.ca_der, "s3cret"),
    );
    let tls = TlsSettings {
        identity: Some(KeySource::Pkcs12 {
            file: p12.clone(),
            password_env: "TEST_P12_PASSWORD".into(),
        }),
        ca: vec![ca.clone()],
        system_roots: false,
    };
    let client = https_client(addr, tls.clone(), Some("s3cret")).unwrap();
    client.status_by_trace("t", &ctx()).await.unwrap();

    // The wrong password, or none, is refused when the client is built.
    let err = https_client(addr, tls.clone(), Some("wrong")).unwrap_err();
    assert!(
        matches!(&err, Error::KeyMaterial { reason, .. } if reason.contains("PKCS#12")),
        "{err}"
    );
    let err = https_client(addr, tls, None).unwrap_err();
    assert!(
        err.to_string().contains("TEST_P12_PASSWORD")
            || matches!(&err, Error::KeyMaterial { reason, .. } if reason.contains("TEST_P12_PASSWORD")),
        "{err}"
    );

    // Certificate and key in one PEM file.
    let combined = format!(
        "{}{}",
        pem("CERTIFICATE", &pki.client.0),
        pem("PRIVATE KEY", &pki.client.1)
    );
    let tls = TlsSettings {
        identity: Some(KeySource::Pem {
            certificate: write(dir.path(), "both.pem", combined.as_bytes()),
            key: None,
        }),
        ca: vec![ca],
        system_roots: false,
    };
    https_client(addr, tls, None)
        .unwrap()
        .status_by_trace("t", &ctx())
        .await
        .unwrap();
    assert_eq!(peers.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn tls_failures_are_nothing_sent() {
    let pki = make_pki("fse2 test CA");
    let (addr, peers) = mtls_server(&pki).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = write(
        dir.path(),
        "ca.pem",
        pem("CERTIFICATE", &pki.ca_der).as_bytes(),
    );

    // No client certificate: the server refuses the handshake.
    let tls = TlsSettings {
        identity: None,
        ca: vec![ca.clone()],
        system_roots: false,
    };
    let err = https_client(addr, tls, None)
        .unwrap()
        .create(&upload(create_body()), &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind == TransportFailureKind::Tls),
        "{err}"
    );
    assert!(!matches!(err, Error::Uncertain(_)));

    // A server certificate from a CA that is not pinned.
    let other = make_pki("another CA");
    let tls = TlsSettings {
        identity: Some(KeySource::Pem {
            certificate: write(
                dir.path(),
                "c.pem",
                pem("CERTIFICATE", &pki.client.0).as_bytes(),
            ),
            key: Some(write(
                dir.path(),
                "c.key",
                pem("PRIVATE KEY", &pki.client.1).as_bytes(),
            )),
        }),
        ca: vec![write(
            dir.path(),
            "other.pem",
            pem("CERTIFICATE", &other.ca_der).as_bytes(),
        )],
        system_roots: false,
    };
    let err = https_client(addr, tls, None)
        .unwrap()
        .status_by_trace("t", &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind == TransportFailureKind::Tls && t.attempts == 1),
        "{err}"
    );

    // Nothing pinned at all: refused when building.
    let tls = TlsSettings {
        identity: None,
        ca: vec![],
        system_roots: false,
    };
    let err = https_client(addr, tls, None).unwrap_err();
    assert!(err.to_string().contains("tls.ca"), "{err}");
    assert!(peers.lock().unwrap().is_empty());
}

#[tokio::test]
async fn signing_identity_from_pkcs12_settings() {
    let material = signing_material();
    let dir = tempfile::tempdir().unwrap();
    let der = material.chain[0].to_vec();
    let PrivateKeyDer::Pkcs8(key) = &material.key else {
        panic!()
    };
    let p12 = write(
        dir.path(),
        "sign.p12",
        &pkcs12(&der, key.secret_pkcs8_der(), &der, "pw"),
    );
    let mut s = settings("http://127.0.0.1:9/v1", all_operations());
    s.signing.key = Some(KeySource::Pkcs12 {
        file: p12,
        password_env: "SIGN_PW".into(),
    });
    let client = GatewayClient::builder(s)
        .journal(Arc::new(MemoryJournal::new()))
        .env(|k| (k == "SIGN_PW").then(|| "pw".to_owned()))
        .build()
        .unwrap();
    assert_eq!(client.signer().unwrap().common_name(), SIGNING_CN);

    // A key that is not the certificate's is refused.
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut s = settings("http://127.0.0.1:9/v1", all_operations());
    s.signing.key = Some(KeySource::Pem {
        certificate: write(dir.path(), "s.pem", pem("CERTIFICATE", &der).as_bytes()),
        key: Some(write(
            dir.path(),
            "s.key",
            pem("PRIVATE KEY", &other.serialize_der()).as_bytes(),
        )),
    });
    let err = GatewayClient::builder(s)
        .journal(Arc::new(MemoryJournal::new()))
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("RSA") || err.to_string().contains("signing"),
        "{err}"
    );
}
