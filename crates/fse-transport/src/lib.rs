//! The CART / FSE 2.0 Gateway client.
//!
//! - [`config`]: `fse.toml` profiles (Toscana's CART staging and
//!   production, the national Gateway test and production, custom), the two
//!   identities, the organization, timeouts, retries; environment overrides.
//! - [`tls`]: PEM / PKCS#12 key material and the rustls client configuration
//!   (ring provider, pinned CA, mutual TLS).
//! - [`jwt`]: the Bearer and `FSE-JWT-Signature` tokens (RS256/384/512, `x5c`).
//! - [`preflight`]: every check the Gateway makes that can be made before
//!   sending, refusing with the field's name.
//! - [`client`]: every operation, the journal of each attempt, safe retries,
//!   uncertain outcomes and their reconciliation through status.
//! - [`journal`]: the durable, hash-chained X-Cart-id journal.
//! - [`retry`]: the clock, the backoff, `Retry-After`.
#![forbid(unsafe_code)]

pub mod client;
pub mod config;
pub mod error;
pub mod fetch;
pub mod inspect;
pub mod journal;
pub mod jwt;
pub mod mask;
pub mod operation;
pub mod preflight;
pub mod response;
pub mod retry;
pub mod tls;
pub mod tsa;

pub use client::{
    CallContext, ClientBuilder, DocumentUpload, GatewayClient, PreparedBody, PreparedCall,
    PublishPlan, PublishReport, Reconciliation,
};
pub use config::{Config, MetadataPath, Profile, ProfileKind, Settings};
pub use error::{Error, Result};
pub use inspect::{DocumentFacts, DocumentInspector, PadesInspector};
pub use journal::{
    Journal, JournalEntry, JournalQuery, JournalRecord, MemoryJournal, SqliteJournal,
};
pub use operation::{Operation, OperationExt};
pub use preflight::PreflightError;
pub use response::{
    Rejection, Reply, ResponseMeta, TransportFailure, TransportFailureKind, UncertainOutcome,
};
pub use retry::{Clock, RetryPolicy, SystemClock};
