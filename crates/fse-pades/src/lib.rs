//! The CDA2 inside a PDF, signed PAdES, as the FSE 2.0 Gateway wants it.
//!
//! The order is inject → validate (fse-cda) → sign → publish:
//! - [`inject()`] / [`inject_with`]: the CDA, byte for byte, as the embedded
//!   file `cda.xml` (ATTACHMENT) or the XFA `datasets` resource (RESOURCE),
//!   merged into the producer's PDF as an incremental update; [`render()`]
//!   makes a readable PDF of a CDA when the provider has none.
//! - [`sign()`]: PAdES B-B (B-T with a [`Timestamper`]) as an incremental
//!   update, the key behind the [`Signer`] trait ([`KeySigner`]: PEM or
//!   PKCS#12); [`sign::prepare()`] + [`PreparedSignature::finish`] for keys
//!   that sign elsewhere.
//! - [`verify()`]: the Gateway's check of every signature, and more.
//! - [`extract()`]: the CDA where the Gateway looks for it.
//!
//! Everything runs over [`pdf`], our own bounded PDF reader and writer.
#![forbid(unsafe_code)]

mod asn1;
mod cms;
mod error;
pub mod extract;
pub mod inject;
pub mod pdf;
pub mod render;
pub mod sign;
pub mod signer;
pub mod tsp;
pub mod verify;

pub use error::{Error, Result};
pub use extract::{CDA_FILE_NAME, ExtractedCda, Mode, extract, extract_mode};
pub use inject::{InjectOptions, inject, inject_with};
pub use render::{RenderOptions, render, render_with};
pub use sign::{PreparedSignature, SignOptions, sign};
pub use signer::{DigestAlgorithm, KeySigner, SignatureAlgorithm, Signer};
pub use tsp::{TimestampAuthority, Timestamper};
pub use verify::{Report, SignatureReport, verify};
