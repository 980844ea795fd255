//! Types of the FSE 2.0 Gateway API, as the wire spells them, and the
//! constrained values it carries, as newtypes that parse. No I/O.
//!
//! # Map
//!
//! Hand-written, parsing newtypes (each checks on construction and on
//! deserialization; `Debug` masks personal data):
//! - [`fiscal_code`]: [`FiscalCode`] (16 characters with check character,
//!   omocodia; or 11 digits with check digit).
//! - [`oid`]: [`Oid`], with the FSE's well-known OIDs as constants.
//! - [`ids`]: [`DocumentId`] (`root^extension`), [`WorkflowInstanceId`].
//! - [`person`]: [`PersonId`], the CX `CF^^^&2.16.840.1.113883.2.9.4.3.2&ISO`.
//! - [`locality`]: [`Locality`], the XON `NAME^^^^^&OID&ISO^^^^CODE`.
//!
//! Generated from `schemas/` by `cargo xtask codegen` (in `generated/`,
//! never edited by hand), re-exported with hand-written additions by:
//! - [`tables`]: every code table as an enum with exact wire values and an
//!   `Other` fallback ([`tables::DocumentClass`], [`tables::PracticeSetting`],
//!   [`tables::EventCode`], [`tables::Organization`], ...), the
//!   [`tables::CodeTable`] trait, the organization pair check, visibility.
//! - [`api`]: request and response bodies ([`api::CreateRequest`],
//!   [`api::GatewayResponse`], [`api::TransactionStatus`], ...), warnings.
//! - [`claims`]: [`claims::BearerClaims`], [`claims::SignatureClaims`], and
//!   their checks against an operation.
//! - [`operation`]: [`Operation`], its method, path, body, tokens, accepted
//!   JWT values; paths built and routed.
//!
//! Hand-written behaviour over the wire:
//! - [`problem`]: [`problem::Problem`] reads the error bodies of the
//!   Gateway, GovWay and regional middlewares;
//!   [`problem::NationalErrorType`] and [`problem::Advice`] say whether to
//!   retry, validate again, or check the status first.
//! - [`status`]: [`status::EventDate`] (both offset forms), a workflow's
//!   progress from its events.
//! - [`error`]: [`Error`], the one error type.
#![forbid(unsafe_code)]

pub mod api;
pub mod claims;
pub mod error;
pub mod fiscal_code;
#[rustfmt::skip]
mod generated;
pub mod ids;
pub mod locality;
pub mod oid;
pub mod operation;
pub mod person;
pub mod problem;
pub mod status;
mod support;
pub mod tables;

pub use error::Error;
pub use fiscal_code::{FiscalCode, FiscalCodeKind};
pub use ids::{DocumentId, WorkflowInstanceId, WorkflowShape};
pub use locality::Locality;
pub use oid::Oid;
pub use operation::Operation;
pub use person::PersonId;
