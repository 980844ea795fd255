//! HL7 CDA2 documents for FSE 2.0.
//!
//! - [`xml`]: a bounded, DTD-free XML parser into an arena document that
//!   keeps line and column, shared by everything below.
//! - validation as the national Gateway does it: XSD structure, ISO
//!   schematron (with our own XPath 2.0 subset) and vocabulary;
//! - the metadata the Gateway reads, the cda-match hash, a typed builder for
//!   LAB, RAD, RSA, LDO and VPS, replacement and obscuring helpers.
#![forbid(unsafe_code)]

pub mod builder;
pub mod cda_match;
pub mod class;
mod error;
pub mod metadata;
pub mod obscuring;
pub mod replace;
pub mod rules;
pub mod schematron;
pub mod validator;
pub mod vocabulary;
pub mod xml;
pub mod xpath;
pub mod xsd;

pub use cda_match::{cda_match_hash, cda_match_hash_bytes};
pub use error::{Error, Result};
pub use metadata::Metadata;
pub use validator::{Finding, Outcome, Report, Severity, Stage, ValidationOptions, Validator};
