//! HTTPS with required client certificates: the rustls server
//! configuration and the accept loop that hands each request to the
//! router, with the connection's client identity attached.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::cart::{ClientIdentity, DropConnection};
use crate::error::{Error, Result};
use crate::pki::{TestPki, common_name_of};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server configuration: the PKI's server certificate, and client
/// certificates required and verified against the PKI's CA.
///
/// # Errors
/// When rustls refuses the certificates or key.
pub fn server_config(pki: &TestPki) -> Result<Arc<rustls::ServerConfig>> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(pki.ca.cert_der.clone()))
        .map_err(Error::Tls)?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(Error::ClientVerifier)?;
    let chain = vec![
        CertificateDer::from(pki.server.cert_der.clone()),
        CertificateDer::from(pki.ca.cert_der.clone()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server.key_der.clone()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(Error::Tls)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration trusting the PKI's CA and presenting the given
/// identity: what the simulator uses for push notifications, and what
/// tests use to call it.
///
/// # Errors
/// When rustls refuses the certificates or key.
pub fn client_config(
    pki: &TestPki,
    identity: &crate::pki::Identity,
) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(pki.ca.cert_der.clone()))
        .map_err(Error::Tls)?;
    let chain = vec![CertificateDer::from(identity.cert_der.clone())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key_der.clone()));
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(Error::Tls)?;
    Ok(Arc::new(config))
}

/// A running HTTPS server. Dropping it stops accepting connections.
#[derive(Debug)]
pub struct RunningServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = (&mut { self }.task).await;
    }

    /// Waits until the server stops (it only stops on [`RunningServer::shutdown`]
    /// or a fatal accept error).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Binds `addr` and serves `router` over TLS with `tls`.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(
    addr: &str,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
) -> Result<RunningServer> {
    let listener = TcpListener::bind(addr).await.map_err(|e| Error::Bind {
        addr: addr.to_owned(),
        source: e,
    })?;
    serve_listener(listener, tls, router)
}

/// Serves `router` over TLS on an already bound listener.
///
/// # Errors
/// When the listener's address cannot be read.
pub fn serve_listener(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
) -> Result<RunningServer> {
    let local_addr = listener.local_addr().map_err(|e| Error::Bind {
        addr: "the listener".to_owned(),
        source: e,
    })?;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = stopped.changed() => break,
            };
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp))
                    .await
                {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::debug!("TLS handshake with {peer}: {e}");
                        return;
                    }
                    Err(_) => return,
                };
                let identity = ClientIdentity {
                    common_name: tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .and_then(|c| common_name_of(c)),
                };
                let service = hyper::service::service_fn(
                    move |mut request: http::Request<hyper::body::Incoming>| {
                        request.extensions_mut().insert(identity.clone());
                        let router = router.clone();
                        async move {
                            let response =
                                match router.oneshot(request.map(axum::body::Body::new)).await {
                                    Ok(r) => r,
                                    Err(never) => match never {},
                                };
                            if response.extensions().get::<DropConnection>().is_some() {
                                return Err(ConnectionDropped);
                            }
                            Ok(response)
                        }
                    },
                );
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                if let Err(e) = builder.serve_connection(TokioIo::new(tls), service).await {
                    tracing::debug!("connection with {peer}: {e}");
                }
            });
        }
    });
    Ok(RunningServer {
        local_addr,
        stop,
        task,
    })
}

/// Why a connection was closed on purpose (fault injection).
#[derive(Debug)]
struct ConnectionDropped;

impl std::fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for ConnectionDropped {}
