//! The RFC 3161 HTTP client against a small time-stamping authority served
//! over a loopback socket (fse-pades' test authority behind a minimal
//! HTTP/1.1 responder).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use fse_pades::{KeySigner, SignOptions, TimestampAuthority, Timestamper as _};
use fse_transport::Error;
use fse_transport::tsa::HttpTimestamper;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn key_and_cert(cn: &str, eku: Option<ExtendedKeyUsagePurpose>) -> (Vec<u8>, Vec<u8>) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = eku.into_iter().collect();
    let cert = params.self_signed(&key).unwrap();
    (cert.der().to_vec(), key.serialize_der())
}

#[derive(Clone, Copy)]
enum Behaviour {
    Grant,
    ServerError,
    /// Answers with the authority's refusal of a malformed request.
    Refuse,
}

/// Serves the test authority on 127.0.0.1; returns its URL.
fn serve(behaviour: Behaviour) -> String {
    let (cert, key) = key_and_cert("fse2 test TSA", Some(ExtendedKeyUsagePurpose::TimeStamping));
    let authority = Arc::new(TimestampAuthority::new(
        KeySigner::from_der(vec![cert], &key).unwrap(),
    ));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { return };
                let authority = Arc::clone(&authority);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let (head_end, length) = loop {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..at]).to_ascii_lowercase();
                            assert!(head.starts_with("post "), "{head}");
                            assert!(head.contains("content-type: application/timestamp-query"), "{head}");
                            let length: usize = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .map_or(0, |v| v.trim().parse().unwrap());
                            break (at + 4, length);
                        }
                    };
                    while buf.len() < head_end + length {
                        let n = sock.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let request = &buf[head_end..head_end + length];
                    let (status, body) = match behaviour {
                        Behaviour::Grant => ("200 OK", authority.respond(request)),
                        Behaviour::ServerError => ("500 Internal Server Error", b"boom".to_vec()),
                        Behaviour::Refuse => ("200 OK", authority.respond(b"not a request")),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
    });
    format!("http://{addr}/tsa")
}

#[test]
fn the_sync_trait_gets_a_token_over_http() {
    let tsa = HttpTimestamper::new(&serve(Behaviour::Grant)).unwrap();
    let digest = [7u8; 32];
    let token = tsa.timestamp(&digest).unwrap();
    let info = fse_pades::tsp::token_info(&token).unwrap();
    assert_eq!(info.imprint, digest);
    assert!(info.nonce.is_some());
}

#[test]
fn signs_pades_b_t_with_the_http_authority() {
    let tsa = HttpTimestamper::new(&serve(Behaviour::Grant)).unwrap();
    let (cert, key) = key_and_cert("Firmatario di prova", None);
    let signer = KeySigner::from_der(vec![cert], &key).unwrap();
    let pdf = fse_pades::render(
        b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>B-T</title></ClinicalDocument>",
    )
    .unwrap();
    let signed = fse_pades::sign(
        &pdf,
        &signer,
        &SignOptions {
            timestamper: Some(&tsa),
            ..Default::default()
        },
    )
    .unwrap();
    let report = fse_pades::verify(&signed).unwrap();
    let sig = &report.signatures[0];
    assert!(sig.valid, "{:?}", sig.problems);
    assert!(
        sig.timestamp.as_ref().is_some_and(|t| t.valid),
        "{:?}",
        sig.timestamp
    );
    assert_eq!(sig.pades_level.as_deref(), Some("B-T"));
}

#[tokio::test]
async fn async_requests_and_their_failures() {
    let ok = HttpTimestamper::new(&serve(Behaviour::Grant)).unwrap();
    let token = ok.request(&[1u8; 32]).await.unwrap();
    assert_eq!(
        fse_pades::tsp::token_info(&token).unwrap().imprint,
        [1u8; 32]
    );
    // The sync trait also works from inside a runtime.
    assert!(ok.timestamp(&[2u8; 32]).is_ok());

    let down = HttpTimestamper::new(&serve(Behaviour::ServerError)).unwrap();
    let err = down.request(&[1u8; 32]).await.unwrap_err();
    assert!(
        matches!(&err, Error::Timestamp { reason, .. } if reason.contains("500")),
        "{err}"
    );

    let refusing = HttpTimestamper::new(&serve(Behaviour::Refuse)).unwrap();
    let err = refusing.request(&[1u8; 32]).await.unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");

    let nowhere = HttpTimestamper::new("http://127.0.0.1:9/tsa").unwrap();
    assert!(matches!(
        nowhere.request(&[1u8; 32]).await,
        Err(Error::Timestamp { .. })
    ));
    assert!(matches!(
        HttpTimestamper::new("ftp://tsa.example"),
        Err(Error::Config { .. })
    ));
}
