//! An RFC 3161 time-stamping client over HTTP, for PAdES B-T signatures.
//!
//! The request and response encoding, and the checks of the token (status,
//! message imprint, nonce), live in `fse_pades::tsp`; this module only
//! carries them: `POST` with `Content-Type: application/timestamp-query`,
//! a `200` with the `TimeStampResp` DER back. [`HttpTimestamper`]
//! implements [`fse_pades::Timestamper`], so `fse_pades::sign` can use it.

use std::time::Duration;

use fse_pades::tsp;

use crate::error::{Error, Result};

/// The largest response we read: a token with a certificate chain is a few
/// kilobytes.
const MAX_RESPONSE: usize = 1 << 20;

/// A time-stamping authority reached over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpTimestamper {
    url: String,
    http: reqwest::Client,
}

impl HttpTimestamper {
    /// A client for the authority at `url` (`http://` or `https://`; for
    /// `https://`, the operating system's roots are trusted).
    ///
    /// # Errors
    /// [`Error::Config`] for a URL that is not HTTP(S); TLS or HTTP client
    /// errors when the client cannot be built.
    pub fn new(url: &str) -> Result<Self> {
        let tls = if url.starts_with("https://") {
            crate::tls::client_config(None, &[], true)?
        } else if url.starts_with("http://") {
            crate::tls::client_config_for_plain_http()?
        } else {
            return Err(Error::Config {
                key: "--tsa".into(),
                reason: format!("{url:?} is not an http(s) URL"),
            });
        };
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            // Each sync call runs on its own short-lived runtime: pooled
            // connections would outlive it.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("fse2/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| Error::HttpClient { source })?;
        Ok(Self::with_client(url, http))
    }

    /// A client for `url` over a given HTTP client (its TLS settings, proxy, ...).
    pub fn with_client(url: &str, http: reqwest::Client) -> Self {
        Self {
            url: url.to_owned(),
            http,
        }
    }

    /// The authority's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn fail(
        &self,
        reason: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error::Timestamp {
            url: self.url.clone(),
            reason: reason.into(),
            source,
        }
    }

    /// Obtains a token whose imprint is `digest` (SHA-256 of the signature
    /// value), checking the status, the imprint and a fresh nonce.
    ///
    /// # Errors
    /// [`Error::Timestamp`]: unreachable, an HTTP error status, an oversized
    /// or unusable response, a refusal.
    pub async fn request(&self, digest: &[u8; 32]) -> Result<Vec<u8>> {
        let nonce = tsp::nonce();
        let body = tsp::request(digest, nonce);
        let mut response = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, tsp::REQUEST_CONTENT_TYPE)
            .header(reqwest::header::ACCEPT, tsp::RESPONSE_CONTENT_TYPE)
            .body(body)
            .send()
            .await
            .map_err(|e| self.fail("no response", Some(Box::new(e))))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.fail(format!("HTTP {status}"), None));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.fail("the response broke off", Some(Box::new(e))))?
        {
            if bytes.len() + chunk.len() > MAX_RESPONSE {
                return Err(self.fail(format!("a response over {MAX_RESPONSE} bytes"), None));
            }
            bytes.extend_from_slice(&chunk);
        }
        tsp::token_from_response(&bytes, digest, Some(nonce))
            .map_err(|e| self.fail(e.to_string(), Some(Box::new(e))))
    }
}

impl fse_pades::Timestamper for HttpTimestamper {
    /// Runs [`HttpTimestamper::request`] to completion on a runtime of its
    /// own, on a thread of its own, so it works both inside and outside an
    /// async runtime (async callers should prefer `request`, or
    /// `fse_pades::sign::prepare` and `PreparedSignature::finish`).
    fn timestamp(&self, digest: &[u8; 32]) -> fse_pades::Result<Vec<u8>> {
        let run = || -> Result<Vec<u8>> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| self.fail("cannot start an async runtime", Some(Box::new(e))))?;
            runtime.block_on(self.request(digest))
        };
        std::thread::scope(|s| s.spawn(run).join())
            .unwrap_or_else(|_| Err(self.fail("the request thread panicked", None)))
            .map_err(|e| fse_pades::Error::Timestamper(Box::new(e)))
    }
}
