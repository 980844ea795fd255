//! The one error type of the crate.
//!
//! It keeps apart what a caller must handle differently:
//! - nothing was sent: configuration, key material, the pre-flight, an
//!   operation the profile does not expose;
//! - the Gateway refused ([`Error::Rejected`], with its problem type and
//!   advice) — do not retry as is;
//! - CART / GovWay / a middleware refused or could not deliver
//!   ([`Error::Frontier`]: 429, 502, 503 with `Retry-After`, 504, ...);
//! - no response at all ([`Error::Transport`]: connect, TLS, timeout);
//! - a write was sent and its effect is unknown ([`Error::Uncertain`]):
//!   never re-send blindly, reconcile first.

use std::path::{Path, PathBuf};

use crate::journal::JournalError;
use crate::preflight::PreflightError;
use crate::response::{Rejection, TransportFailure, UncertainOutcome};

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is missing or wrong; `key` names it.
    #[error("configuration `{key}`: {reason}")]
    Config {
        /// The key (`profiles.toscana-staging.base_url`, `FSE_TLS_CA`, ...).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid `fse.toml`.
    #[error("{}: not a valid fse.toml", path.display())]
    ConfigSyntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A certificate or key cannot be used; `what` names the identity.
    #[error("{what}: {reason}")]
    KeyMaterial {
        /// `tls`, `signing`, `tls.ca`, ...
        what: String,
        /// What is wrong (never the secret itself).
        reason: String,
    },
    /// rustls refused the TLS configuration.
    #[error("TLS configuration refused")]
    Tls {
        /// The cause.
        #[source]
        source: rustls::Error,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client could not be built")]
    HttpClient {
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// A download ([`fetch`](crate::fetch)) failed: refused status, too
    /// large, too slow, or no connection.
    #[error("cannot download {url}: {reason}")]
    Fetch {
        /// The URL, without credentials or query.
        url: String,
        /// Why.
        reason: String,
        /// The HTTP client's error, when it raised one.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// Something could not be serialized to JSON.
    #[error("cannot serialize the {what}")]
    Json {
        /// What was being serialized.
        what: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A JWT could not be decoded.
    #[error("not a JWT: {0}")]
    InvalidToken(String),
    /// The profile does not expose the operation (CART has no validation
    /// and no status, for instance). Nothing was sent.
    #[error("profile `{profile}` does not expose `{operation}`")]
    Unsupported {
        /// The profile.
        profile: String,
        /// The operation's name.
        operation: String,
    },
    /// The pre-flight refused the call; nothing was sent.
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    /// The Gateway refused the call with a problem type.
    #[error("{0}")]
    Rejected(Box<Rejection>),
    /// CART, GovWay or a regional middleware refused or could not deliver.
    #[error("{0}")]
    Frontier(Box<Rejection>),
    /// No response came.
    #[error("{0}")]
    Transport(Box<TransportFailure>),
    /// A write was sent and its effect is unknown; reconcile before any retry.
    #[error("{0}")]
    Uncertain(Box<UncertainOutcome>),
    /// A 2xx of a read came with a body that cannot be understood.
    #[error("{operation}: HTTP {status} with an unreadable body: {reason}")]
    InvalidResponse {
        /// The operation's name.
        operation: String,
        /// The HTTP status.
        status: u16,
        /// Why it cannot be read.
        reason: String,
    },
    /// The journal failed before anything was sent.
    #[error("the X-Cart-id journal failed")]
    Journal(#[source] JournalError),
    /// The call got an answer but the journal could not record it: the
    /// outcome is in `outcome`, so it is not lost.
    #[error("the call ended ({outcome}) but the journal could not record it")]
    NotJournaled {
        /// The outcome, for the operator to record by hand.
        outcome: String,
        /// The cause.
        #[source]
        source: JournalError,
    },
    /// The RFC 3161 time-stamping authority could not be reached, failed,
    /// or answered something unusable (`tsa`).
    #[error("time-stamping authority {url}: {reason}")]
    Timestamp {
        /// The authority's URL.
        url: String,
        /// What went wrong.
        reason: String,
        /// The cause, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    pub(crate) fn config(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config {
            key: key.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn key(what: &str, path: &Path, reason: impl Into<String>) -> Self {
        Error::KeyMaterial {
            what: format!("{what} ({})", path.display()),
            reason: reason.into(),
        }
    }

    pub(crate) fn json(what: &'static str) -> impl Fn(serde_json::Error) -> Self {
        move |source| Error::Json { what, source }
    }

    /// Whether nothing reached the network (configuration, pre-flight, ...).
    pub fn nothing_sent(&self) -> bool {
        matches!(
            self,
            Error::Config { .. }
                | Error::ReadFile { .. }
                | Error::ConfigSyntax { .. }
                | Error::KeyMaterial { .. }
                | Error::Tls { .. }
                | Error::HttpClient { .. }
                | Error::Json { .. }
                | Error::InvalidToken(_)
                | Error::Unsupported { .. }
                | Error::Preflight(_)
                | Error::Journal(_)
        )
    }

    /// The `X-Cart-id` of the response behind this error, if any.
    pub fn cart_id(&self) -> Option<&str> {
        match self {
            Error::Rejected(r) | Error::Frontier(r) => r.meta.cart_id.as_deref(),
            Error::Uncertain(u) => u.cart_id.as_deref(),
            _ => None,
        }
    }
}
