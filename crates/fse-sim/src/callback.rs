//! Push notifications: after an asynchronous publication, the Gateway posts
//! the workflow's events to `<X-Callback-Url>/v1/workflow/status` (spec
//! 11.2–11.4), over mTLS for `https` URLs.
//!
//! The simulator is the client here, with its own server identity as
//! client certificate; it speaks HTTP/1.1 through hyper directly, as this
//! is the only request it ever makes.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use serde_json::json;

use crate::gateway::Gateway;
use crate::state::{NotificationRecord, StatusEvent};

/// Sends push notifications.
#[derive(Clone, Default)]
pub struct Notifier {
    tls: Option<Arc<rustls::ClientConfig>>,
    attempts: u32,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("tls", &self.tls.is_some())
            .field("attempts", &self.attempts)
            .finish()
    }
}

impl Notifier {
    /// A notifier for `http` URLs only.
    pub fn plain() -> Self {
        Notifier {
            tls: None,
            attempts: 3,
        }
    }

    /// A notifier that also reaches `https` URLs with this client
    /// configuration (trust and client certificate).
    pub fn with_tls(tls: Arc<rustls::ClientConfig>) -> Self {
        Notifier {
            tls: Some(tls),
            attempts: 3,
        }
    }

    /// Posts `events` of `wii` to `base_url` in the background, retrying a
    /// few times, and journals the outcome in the Gateway's store. Does
    /// nothing outside a Tokio runtime.
    pub fn notify(
        &self,
        gateway: Gateway,
        base_url: String,
        wii: String,
        events: Vec<StatusEvent>,
    ) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let this = self.clone();
        runtime.spawn(async move {
            let url = format!("{}/v1/workflow/status", base_url.trim_end_matches('/'));
            let body = json!({
                "workflowInstanceId": wii,
                "events": events.iter().map(|e| json!({
                    "eventType": e.event_type,
                    "eventDate": e.event_date,
                    "eventStatus": e.event_status,
                    "issuer": e.issuer,
                    "message": e.message,
                })).collect::<Vec<_>>(),
            })
            .to_string();
            let mut record = NotificationRecord {
                url: url.clone(),
                workflow_instance_id: wii,
                status: None,
                error: None,
                attempts: 0,
            };
            for attempt in 1..=this.attempts.max(1) {
                record.attempts = attempt;
                match tokio::time::timeout(Duration::from_secs(10), this.post(&url, body.clone()))
                    .await
                {
                    Ok(Ok(status)) if status < 500 => {
                        record.status = Some(status);
                        record.error = None;
                        break;
                    }
                    Ok(Ok(status)) => {
                        record.status = Some(status);
                        record.error = Some(format!("HTTP {status}"));
                    }
                    Ok(Err(e)) => record.error = Some(e),
                    Err(_) => record.error = Some("timed out".to_owned()),
                }
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            gateway.store().record_notification(record);
        });
    }

    async fn post(&self, url: &str, body: String) -> Result<u16, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("bad URL {url}: {e}"))?;
        let host = uri
            .host()
            .ok_or("no host in the URL")?
            .trim_matches(['[', ']'])
            .to_owned();
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("only http and https callback URLs are supported".to_owned()),
        };
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| e.to_string())?;
        let authority = uri.authority().map(ToString::to_string).unwrap_or_default();
        let request = http::Request::post(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header(http::header::HOST, authority)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(bytes::Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        if https {
            let tls = self
                .tls
                .clone()
                .ok_or("no client TLS configuration for https callbacks")?;
            let name = ServerName::try_from(host).map_err(|e| e.to_string())?;
            let stream = tokio_rustls::TlsConnector::from(tls)
                .connect(name, tcp)
                .await
                .map_err(|e| e.to_string())?;
            send(TokioIo::new(stream), request).await
        } else {
            send(TokioIo::new(tcp), request).await
        }
    }
}

async fn send<T>(io: T, request: http::Request<Full<bytes::Bytes>>) -> Result<u16, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    // Drain the body so the connection closes cleanly.
    let _ = response.into_body().collect().await;
    Ok(status)
}
