//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while setting up or running the simulator.
///
/// Requests that break the national rules are not errors of the simulator:
/// they are answered with the Gateway's problem details. These variants are
/// about the simulator itself: its PKI, its files, its sockets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file of the PKI, the state or the fault plan could not be read or written.
    #[error("{action} {path}")]
    Io {
        /// What was being done ("reading", "writing", ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key could not be generated or encoded.
    #[error("generating the test PKI: {what}")]
    CertificateGeneration {
        /// Which certificate or key.
        what: String,
        /// The cause.
        #[source]
        source: rcgen::Error,
    },
    /// An RSA key could not be generated or encoded.
    #[error("generating the RSA key of {what}")]
    RsaKey {
        /// Which identity.
        what: String,
        /// The cause, as text: the RSA crate's error types differ per step.
        reason: String,
    },
    /// A PKCS#12 file could not be written.
    #[error("writing the PKCS#12 file of {what}: {reason}")]
    Pkcs12 {
        /// Which identity.
        what: String,
        /// The cause, as the PKCS#12 library reports it.
        reason: String,
    },
    /// A PEM file of the PKI is not what it should be.
    #[error("{path}: {reason}")]
    InvalidPem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The TLS server configuration was refused.
    #[error("configuring TLS: {0}")]
    Tls(#[source] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("configuring client-certificate verification: {0}")]
    ClientVerifier(#[source] rustls::server::VerifierBuilderError),
    /// The listening socket could not be opened.
    #[error("listening on {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The fault plan is not valid.
    #[error("fault plan: {0}")]
    FaultPlan(String),
    /// The state file is not valid JSON of the expected shape.
    #[error("state file {path}")]
    StateFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The rules directory could not be loaded by the validator.
    #[error("loading the validation rules from {path}: {reason}")]
    Rules {
        /// The directory.
        path: PathBuf,
        /// What the validator reported.
        reason: String,
    },
    /// The base path is not of the form `/segment[/segment...]`.
    #[error("base path {0:?} must start with '/' and not end with '/'")]
    BasePath(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
