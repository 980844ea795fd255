//! Downloading a file over HTTP(S) into memory, bounded in size and time:
//! how `fse rules install --from URL` gets the official rules (GitHub's
//! archive of `it-fse-catalogs`, or a mirror) without `fse-cda` knowing an
//! HTTP client.
//!
//! TLS is rustls with the ring provider, trusting the operating system's
//! roots. Redirects are followed (GitHub answers archive URLs with one).

use std::time::Duration;

use crate::error::{Error, Result};

/// Bounds of one download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// The largest body accepted, in bytes.
    pub max_bytes: u64,
    /// The whole download, connection included.
    pub timeout: Duration,
    /// Establishing the connection (TCP and TLS).
    pub connect_timeout: Duration,
}

impl Default for FetchLimits {
    /// 512 MiB, 10 minutes, 30 seconds to connect.
    fn default() -> Self {
        FetchLimits {
            max_bytes: 512 << 20,
            timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(30),
        }
    }
}

/// GETs `url` and returns the body, refusing a non-2xx status, a body over
/// `limits.max_bytes` (announced or actual) and a download over
/// `limits.timeout`.
///
/// # Errors
/// [`Error::Fetch`], naming the URL (without credentials or query) and why.
pub async fn fetch(url: &str, limits: &FetchLimits) -> Result<Vec<u8>> {
    let shown = redact(url);
    let fail = |reason: String, source: Option<reqwest::Error>| Error::Fetch {
        url: shown.clone(),
        reason,
        source,
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| fail(format!("not a URL ({e})"), None))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(fail("only http and https URLs can be fetched".into(), None));
    }
    let client = client(limits).map_err(|(reason, source)| fail(reason, source))?;
    let work = async {
        let mut response = client
            .get(parsed)
            .send()
            .await
            .map_err(|e| fail(describe(&e), Some(e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(fail(format!("the server answered HTTP {status}"), None));
        }
        let too_large = || {
            fail(
                format!(
                    "the body is larger than the limit of {} bytes",
                    limits.max_bytes
                ),
                None,
            )
        };
        if response
            .content_length()
            .is_some_and(|n| n > limits.max_bytes)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| fail(describe(&e), Some(e)))?
        {
            if (body.len() + chunk.len()) as u64 > limits.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    // reqwest's own timeout covers the request; this one also bounds a
    // body that trickles in forever.
    tokio::time::timeout(limits.timeout, work)
        .await
        .unwrap_or_else(|_| {
            Err(fail(
                format!("timed out after {} s", limits.timeout.as_secs_f32()),
                None,
            ))
        })
}

/// [`fetch`] for callers without an async runtime: runs one on this thread.
/// Do not call it from inside a Tokio runtime.
///
/// # Errors
/// As [`fetch`].
pub fn fetch_blocking(url: &str, limits: &FetchLimits) -> Result<Vec<u8>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Fetch {
            url: redact(url),
            reason: format!("cannot start the async runtime ({e})"),
            source: None,
        })?;
    runtime.block_on(fetch(url, limits))
}

fn client(
    limits: &FetchLimits,
) -> std::result::Result<reqwest::Client, (String, Option<reqwest::Error>)> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // One unusable system certificate must not stop the others.
        let _ = roots.add(cert);
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| (format!("TLS configuration refused ({e})"), None))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(limits.timeout)
        .connect_timeout(limits.connect_timeout)
        .user_agent(concat!("fse2/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ("the HTTP client could not be built".to_string(), Some(e)))
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else if e.is_redirect() {
        "too many redirects".into()
    } else {
        "the transfer failed".into()
    }
}

/// The URL as it may be shown: no user, password or query (they may hold
/// tokens).
fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            if u.query().is_some() {
                u.set_query(Some("…"));
            }
            u.to_string()
        }
        Err(_) => url.chars().take(100).collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;

    /// Serves one connection with `response` (after reading the request),
    /// or never answers when `response` is `None`. Returns the base URL.
    fn serve_once(response: Option<Vec<u8>>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            match response {
                Some(bytes) => {
                    let _ = stream.write_all(&bytes);
                }
                None => std::thread::sleep(Duration::from_secs(5)),
            }
        });
        format!("http://{addr}")
    }

    fn http(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
        let mut out =
            format!("HTTP/1.1 {status}\r\n{headers}Connection: close\r\n\r\n").into_bytes();
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn a_body_is_returned_whole() {
        let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let url = serve_once(Some(http(
            "200 OK",
            &format!("Content-Length: {}\r\n", body.len()),
            &body,
        )));
        assert_eq!(
            fetch_blocking(&format!("{url}/a.tar.gz"), &FetchLimits::default()).unwrap(),
            body
        );
    }

    #[test]
    fn an_error_status_is_refused() {
        let url = serve_once(Some(http("404 Not Found", "Content-Length: 0\r\n", b"")));
        let err =
            fetch_blocking(&format!("{url}/missing.zip"), &FetchLimits::default()).unwrap_err();
        assert!(
            matches!(err, Error::Fetch { ref reason, .. } if reason.contains("HTTP 404")),
            "{err}"
        );
        assert!(err.to_string().contains("/missing.zip"), "{err}");
    }

    #[test]
    fn bodies_over_the_limit_are_refused_announced_or_not() {
        let limits = FetchLimits {
            max_bytes: 1000,
            ..FetchLimits::default()
        };
        let announced = serve_once(Some(http("200 OK", "Content-Length: 5000\r\n", &[0; 5000])));
        let chunked = {
            let mut body = b"1388\r\n".to_vec(); // 5000 bytes in one chunk
            body.extend_from_slice(&[0; 5000]);
            body.extend_from_slice(b"\r\n0\r\n\r\n");
            serve_once(Some(http(
                "200 OK",
                "Transfer-Encoding: chunked\r\n",
                &body,
            )))
        };
        for url in [announced, chunked] {
            let err = fetch_blocking(&url, &limits).unwrap_err();
            assert!(
                matches!(err, Error::Fetch { ref reason, .. } if reason.contains("limit of 1000 bytes")),
                "{err}"
            );
        }
    }

    #[test]
    fn a_silent_server_times_out() {
        let url = serve_once(None);
        let limits = FetchLimits {
            timeout: Duration::from_millis(300),
            ..FetchLimits::default()
        };
        let err = fetch_blocking(&url, &limits).unwrap_err();
        assert!(
            matches!(err, Error::Fetch { ref reason, .. } if reason.contains("timed out")),
            "{err}"
        );
    }

    #[test]
    fn credentials_and_queries_never_show() {
        let err = fetch_blocking(
            "ftp://user:secret@example.test/x?token=abc",
            &FetchLimits::default(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            !text.contains("secret") && !text.contains("abc") && !text.contains("user"),
            "{text}"
        );
        assert!(text.contains("only http and https"), "{text}");
    }
}
