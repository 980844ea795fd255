//! The one error type of this crate.

use std::path::PathBuf;

use crate::pdf::ObjRef;

/// Everything that can go wrong in `fse-pades`.
///
/// Input problems name what is wrong and, for PDF syntax, the byte offset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- Reading PDFs ---
    /// The input does not start like a PDF.
    #[error("not a PDF: no `%PDF-` header in the first 1024 bytes")]
    NotPdf,
    /// No `startxref` near the end: the file is truncated or not a PDF.
    #[error("no `startxref` at the end of the file: the PDF is truncated or damaged")]
    NoStartXref,
    /// The cross-reference data is unreadable or points to the wrong place.
    #[error("damaged cross-reference data at byte {offset}: {message}")]
    DamagedXref {
        /// Where the problem was found.
        offset: usize,
        /// What is wrong.
        message: String,
    },
    /// The PDF object syntax is broken.
    #[error("PDF syntax error at byte {offset}: {message}")]
    Syntax {
        /// Where the problem was found.
        offset: usize,
        /// What is wrong.
        message: String,
    },
    /// The input exceeds one of our bounds.
    #[error("PDF exceeds the limit on {what} ({limit})")]
    Limit {
        /// What is bounded.
        what: &'static str,
        /// The bound.
        limit: u64,
    },
    /// A reference to an object the cross-reference data does not hold.
    #[error("object {0} is referenced but not present in the file")]
    MissingObject(ObjRef),
    /// A required entry is absent.
    #[error("{0} is missing")]
    Missing(String),
    /// An entry has the wrong type.
    #[error("{what} should be a {expected}, found a {found}")]
    WrongType {
        /// Which entry.
        what: String,
        /// The type the specification requires.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// A stream filter we do not decode, or data it cannot decode.
    #[error("stream filter {filter}: {message}")]
    Filter {
        /// The filter name.
        filter: String,
        /// What went wrong.
        message: String,
    },
    /// The PDF is encrypted; we neither decrypt nor update encrypted files.
    #[error("the PDF is encrypted (/Encrypt in the trailer): decrypt it first")]
    Encrypted,

    // --- The CDA inside the PDF ---
    /// No CDA was found where the Gateway looks for it.
    #[error("no CDA found: {0}")]
    CdaNotFound(String),
    /// The CDA given to inject or render is not usable XML.
    #[error("the CDA is not well-formed XML")]
    Xml(#[source] fse_cda::Error),
    /// The CDA cannot be carried in the requested mode.
    #[error("cannot inject the CDA: {0}")]
    Inject(String),

    // --- Keys, certificates and signing ---
    /// A file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A certificate is malformed or unusable.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A private key is malformed, unsupported, or does not match the certificate.
    #[error("private key: {0}")]
    Key(String),
    /// A PKCS#12 file cannot be opened (wrong password, damaged, unsupported).
    #[error("PKCS#12 file: {message}")]
    Pkcs12 {
        /// What went wrong.
        message: String,
        /// The cause, when the PKCS#12 reader raised one.
        #[source]
        source: Option<p12_keystore::error::Error>,
    },
    /// The signer failed to produce a signature.
    #[error("signing failed: {0}")]
    Signing(String),
    /// The CMS does not fit the space reserved in `/Contents`.
    #[error("the signature needs {needed} bytes but {reserved} were reserved in /Contents")]
    ContentsTooSmall {
        /// Bytes of DER the CMS takes.
        needed: usize,
        /// Bytes reserved.
        reserved: usize,
    },
    /// The PDF cannot be signed as asked.
    #[error("cannot sign: {0}")]
    Sign(String),

    // --- Time-stamps (RFC 3161) ---
    /// The time-stamp authority refused or answered something unusable.
    #[error("time-stamp: {0}")]
    Timestamp(String),
    /// The time-stamping service could not be reached or failed.
    #[error("time-stamping service failed")]
    Timestamper(#[source] Box<dyn std::error::Error + Send + Sync>),

    // --- ASN.1 / CMS ---
    /// Malformed ASN.1 (BER/DER) data.
    #[error("ASN.1 error at byte {offset} of {what}: {message}")]
    Asn1 {
        /// Which structure was being read.
        what: &'static str,
        /// Offset inside that structure.
        offset: usize,
        /// What is wrong.
        message: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
