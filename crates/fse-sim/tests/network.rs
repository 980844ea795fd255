//! The simulator on a real socket: mTLS, dropped connections, push
//! notifications.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use fse_sim::faults::FaultPlan;
use fse_sim::pki::TestPki;
use fse_sim::server::{self, RunningServer};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start(plan: FaultPlan) -> (fse_sim::Simulator, RunningServer) {
    let sim = builder().faults(plan).build().expect("sim");
    let tls = server::server_config(pki()).expect("tls");
    let running = server::serve("127.0.0.1:0", tls, sim.router())
        .await
        .expect("serve");
    (sim, running)
}

/// One HTTP/1.1 request over a fresh TLS connection.
async fn request(
    addr: std::net::SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    request: http::Request<Full<bytes::Bytes>>,
) -> Result<(http::StatusCode, http::HeaderMap, bytes::Bytes), String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").expect("name");
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((parts.status, parts.headers, body))
}

fn get(path: &str) -> http::Request<Full<bytes::Bytes>> {
    http::Request::get(path)
        .header("host", "localhost")
        .body(Full::default())
        .expect("req")
}

#[tokio::test]
async fn mtls_with_the_client_certificate_works() {
    let (sim, running) = start(FaultPlan::none()).await;
    let client = server::client_config(pki(), &pki().client).expect("client");
    let (status, headers, body) = request(running.local_addr(), client, get("/v1/status"))
        .await
        .expect("call");
    assert_eq!(status, 200);
    assert_eq!(&body[..], br#"{"status":"UP"}"#);
    assert!(headers.get("x-cart-id").is_some());
    let calls = sim.gateway().store().calls().to_vec();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].client.as_deref(),
        Some("A1#090#FSE2SIM"),
        "the client certificate is journaled"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn connections_without_a_trusted_client_certificate_are_refused() {
    let (_sim, running) = start(FaultPlan::none()).await;
    // No client certificate.
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(
            pki().ca.cert_der.clone(),
        ))
        .expect("root");
    let anonymous = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let r = request(running.local_addr(), Arc::new(anonymous), get("/v1/status")).await;
    assert!(r.is_err(), "{r:?}");
    // A certificate from another CA.
    let other = TestPki::generate().expect("other");
    let mut foreign = (*server::client_config(&other, &other.client).expect("cfg")).clone();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(
            pki().ca.cert_der.clone(),
        ))
        .expect("root");
    foreign = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_client_auth_cert(
        vec![rustls_pki_types::CertificateDer::from(
            other.client.cert_der.clone(),
        )],
        rustls_pki_types::PrivateKeyDer::Pkcs8(other.client.key_der.clone().into()),
    )
    .unwrap_or(foreign);
    let r = request(running.local_addr(), Arc::new(foreign), get("/v1/status")).await;
    assert!(r.is_err(), "{r:?}");
}

#[tokio::test]
async fn reset_and_accepted_no_answer_close_the_connection() {
    let mut plan = FaultPlan::none();
    plan.add_flag("health:reset:#1").expect("flag");
    plan.add_flag("validate-and-create:accepted-no-answer:#1")
        .expect("flag");
    let (sim, running) = start(plan).await;
    let client = server::client_config(pki(), &pki().client).expect("client");

    let first = request(running.local_addr(), client.clone(), get("/v1/status")).await;
    assert!(first.is_err(), "reset: {first:?}");
    let second = request(running.local_addr(), client.clone(), get("/v1/status"))
        .await
        .expect("second");
    assert_eq!(second.0, 200);

    let pdf = fake_pdf(&lab("NOANS"), "signed");
    let t = tokens(
        fse_sim::Operation::ValidateAndCreate,
        &fse_sim::testkit::ClaimSet::lab(AUD).for_file(&pdf),
        |_| {},
    );
    let (ct, body) = fse_sim::testkit::multipart(
        &fse_sim::testkit::publication_body(&doc_id("NOANS")),
        Some(&pdf),
    );
    let req = http::Request::post("/v1/documents/validate-and-create")
        .header("host", "localhost")
        .header("authorization", format!("Bearer {}", t.0))
        .header("fse-jwt-signature", t.1)
        .header("content-type", ct)
        .body(Full::new(bytes::Bytes::from(body)))
        .expect("req");
    let r = request(running.local_addr(), client, req).await;
    assert!(r.is_err(), "no answer: {r:?}");
    let store = sim.gateway().store();
    assert!(
        store.published(&doc_id("NOANS")).is_some(),
        "but the document was stored"
    );
    let call = store
        .calls()
        .iter()
        .find(|c| c.operation == "validate-and-create")
        .cloned()
        .expect("journaled");
    assert_eq!(
        (call.status, call.gateway_status, call.fault.as_deref()),
        (0, Some(202), Some("accepted-no-answer"))
    );
    assert!(
        call.trace_id.is_some(),
        "the journal keeps the trace the caller never saw"
    );
}

#[tokio::test]
async fn push_notification_reaches_the_callback_url() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let received = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = socket.read(&mut chunk).await.expect("read");
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await
            .expect("write");
        String::from_utf8_lossy(&buf).into_owned()
    });

    let sim = sim();
    let router = sim.router();
    let pdf = fake_pdf(&lab("PUSH"), "signed");
    let t = tokens(
        fse_sim::Operation::ValidateAndCreate,
        &fse_sim::testkit::ClaimSet::lab(AUD).for_file(&pdf),
        |_| {},
    );
    let mut req = multipart_request(
        http::Method::POST,
        "/v1/documents/validate-and-create",
        &t,
        &fse_sim::testkit::publication_body(&doc_id("PUSH")),
        Some(&pdf),
    );
    req.headers_mut().insert(
        "x-callback-url",
        format!("http://127.0.0.1:{port}").parse().expect("header"),
    );
    let r = send(&router, req).await;
    assert_eq!(r.status, 202, "{:?}", r.json);

    let text = tokio::time::timeout(Duration::from_secs(10), received)
        .await
        .expect("in time")
        .expect("task");
    assert!(
        text.starts_with("POST /v1/workflow/status HTTP/1.1"),
        "{text}"
    );
    let body: serde_json::Value =
        serde_json::from_str(text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("")).expect("json");
    assert_eq!(
        body["workflowInstanceId"].as_str(),
        Some(r.str("workflowInstanceId"))
    );
    let types: Vec<&str> = body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["eventType"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "VALIDATION",
            "PUBLICATION",
            "SEND_TO_INI",
            "SEND_TO_UAR",
            "UAR_FINAL_STATUS"
        ]
    );
    for _ in 0..50 {
        if !sim.gateway().store().notifications().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let n = sim.gateway().store().notifications().to_vec();
    assert_eq!(n.first().and_then(|n| n.status), Some(200));
}

#[tokio::test]
async fn push_notification_over_mtls() {
    // A receiver that, like a provider's endpoint, requires a client
    // certificate from the CA: the simulator presents its own.
    let received = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::<serde_json::Value>::new()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/v1/workflow/status",
        axum::routing::post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().await.push(body);
                http::StatusCode::OK
            }
        }),
    );
    let tls = server::server_config(pki()).expect("tls");
    let receiver = server::serve("127.0.0.1:0", tls, app)
        .await
        .expect("receiver");

    let sim = sim();
    let router = sim.router();
    let pdf = fake_pdf(&lab("PUSHTLS"), "signed");
    let t = tokens(
        fse_sim::Operation::ValidateAndCreate,
        &fse_sim::testkit::ClaimSet::lab(AUD).for_file(&pdf),
        |_| {},
    );
    let mut req = multipart_request(
        http::Method::POST,
        "/v1/documents/validate-and-create",
        &t,
        &fse_sim::testkit::publication_body(&doc_id("PUSHTLS")),
        Some(&pdf),
    );
    req.headers_mut().insert(
        "x-callback-url",
        format!("https://127.0.0.1:{}", receiver.local_addr().port())
            .parse()
            .expect("header"),
    );
    let r = send(&router, req).await;
    assert_eq!(r.status, 202, "{:?}", r.json);
    let mut got = Vec::new();
    for _ in 0..100 {
        got = received.lock().await.clone();
        if !got.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(got.len(), 1, "{:?}", sim.gateway().store().notifications());
    assert_eq!(
        got[0]["workflowInstanceId"].as_str(),
        Some(r.str("workflowInstanceId"))
    );
}
