//! The request and response bodies of the Gateway.
//!
//! The types are generated from the schema (field names in English, wire
//! names as the Gateway spells them); this module adds reading warnings and
//! typed access to the constrained fields.

pub use crate::generated::api::*;

use time::PrimitiveDateTime;
use time::macros::format_description;

use crate::error::{Error, shown};
use crate::ids::{DocumentId, WorkflowInstanceId};

/// What separates a regional middleware's warnings from the Gateway's.
pub const MIDDLEWARE_WARNING_MARK: &str = "--middlewarewarning--";

/// The warnings of a successful answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Warnings<'a> {
    /// The Gateway's warning text, when there is one.
    pub gateway: Option<&'a str>,
    /// What regional middlewares appended, in order.
    pub middleware: &'a str,
}

impl<'a> Warnings<'a> {
    /// Splits a `warning` value; empty parts count as none.
    pub fn split(text: &'a str) -> Self {
        let (gateway, middleware) = match text.find(MIDDLEWARE_WARNING_MARK) {
            Some(at) => (&text[..at], &text[at + MIDDLEWARE_WARNING_MARK.len()..]),
            None => (text, ""),
        };
        let gateway = gateway.trim();
        Self {
            gateway: (!gateway.is_empty()).then_some(gateway),
            middleware: middleware.trim(),
        }
    }

    /// Whether there is no warning at all.
    pub fn is_empty(&self) -> bool {
        self.gateway.is_none() && self.middleware.is_empty()
    }
}

impl GatewayResponse {
    /// The warnings; an absent or empty `warning` gives none.
    pub fn warnings(&self) -> Warnings<'_> {
        self.warning
            .as_deref()
            .map(Warnings::split)
            .unwrap_or_default()
    }

    /// The workflow instance id, checked.
    pub fn workflow_id(&self) -> Result<Option<WorkflowInstanceId>, Error> {
        self.workflow_instance_id
            .as_deref()
            .map(WorkflowInstanceId::parse)
            .transpose()
    }
}

/// Reads a `dataInizioPrestazione` / `dataFinePrestazione` value,
/// `yyyyMMddHHmmss` (the Gateway answers 400 `/msg/invalid-format`
/// otherwise).
pub fn parse_service_time(text: &str) -> Result<PrimitiveDateTime, Error> {
    let format = format_description!("[year][month][day][hour][minute][second]");
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Date {
            value: shown(text),
            reason: "is not yyyyMMddHHmmss",
        });
    }
    PrimitiveDateTime::parse(text, &format).map_err(|_| Error::Date {
        value: shown(text),
        reason: "is not a real date and time",
    })
}

/// Writes a service time as `yyyyMMddHHmmss`.
pub fn format_service_time(at: PrimitiveDateTime) -> String {
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// What every publication body (create, replace, validate-and-*) has, for
/// code that handles them alike.
pub trait PublicationRequest {
    /// The new document's id, checked (`identificativoDoc`).
    fn checked_document_id(&self) -> Result<DocumentId, Error>;
    /// The document class (`tipoDocumentoLivAlto`).
    fn class(&self) -> &crate::tables::DocumentClass;
    /// The event codes (`attiCliniciRegoleAccesso`).
    fn events(&self) -> &[crate::tables::EventCode];
    /// The start and stop of the service, checked, when given.
    fn service_period(
        &self,
    ) -> Result<(Option<PrimitiveDateTime>, Option<PrimitiveDateTime>), Error>;
}

macro_rules! publication_request {
    ($($ty:ty),*) => {$(
        impl PublicationRequest for $ty {
            fn checked_document_id(&self) -> Result<DocumentId, Error> {
                DocumentId::parse(&self.document_id)
            }
            fn class(&self) -> &crate::tables::DocumentClass {
                &self.document_class
            }
            fn events(&self) -> &[crate::tables::EventCode] {
                self.event_codes.as_deref().unwrap_or_default()
            }
            fn service_period(&self) -> Result<(Option<PrimitiveDateTime>, Option<PrimitiveDateTime>), Error> {
                Ok((
                    self.service_start.as_deref().map(parse_service_time).transpose()?,
                    self.service_stop.as_deref().map(parse_service_time).transpose()?,
                ))
            }
        }
    )*};
}

publication_request!(
    CreateRequest,
    ReplaceRequest,
    ValidateAndCreateRequest,
    ValidateAndReplaceRequest
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::*;

    #[test]
    fn empty_warning_is_no_warning() {
        let r: GatewayResponse =
            serde_json::from_str(r#"{"traceID":"t","spanID":"s","warning":""}"#).expect("reads");
        assert_eq!(r.warning, None);
        assert!(r.warnings().is_empty());
        let r: GatewayResponse = serde_json::from_str(r#"{"traceID":"t"}"#).expect("reads");
        assert!(r.warnings().is_empty());
    }

    #[test]
    fn middleware_warnings_are_split_off() {
        let w = Warnings::split("[W005 | x]--middlewarewarning--regional note");
        assert_eq!(w.gateway, Some("[W005 | x]"));
        assert_eq!(w.middleware, "regional note");
        let only_mw = Warnings::split("--middlewarewarning--only regional");
        assert_eq!(only_mw.gateway, None);
        assert!(!only_mw.is_empty());
    }

    #[test]
    fn success_body_keeps_unknown_members_and_checks_the_wii() {
        let r: GatewayResponse = serde_json::from_str(
            r#"{"traceID":"t","workflowInstanceId":"1.2.abc^^^^urn:ihe:iti:xdw:2013:workflowInstanceId","timestamp":"now"}"#,
        )
        .expect("reads");
        assert!(r.workflow_id().expect("valid").is_some());
        assert_eq!(
            r.additional.get("timestamp"),
            Some(&serde_json::Value::from("now"))
        );
        let bad: GatewayResponse =
            serde_json::from_str(r#"{"workflowInstanceId":"nope"}"#).expect("reads");
        assert!(bad.workflow_id().is_err());
    }

    fn create_json(extra: &str) -> String {
        format!(
            r#"{{"tipologiaStruttura":"Ospedale","tipoDocumentoLivAlto":"REF","assettoOrganizzativo":"AD_PSC100",
            "tipoAttivitaClinica":"ERP","identificativoSottomissione":"2.16.840.1.113883.2.9.2.90.4.3.1",
            "identificativoDoc":"2.16.840.1.113883.2.9.2.90.4.4^LAB1","identificativoRep":"2.16.840.1.113883.2.9.2.90.4.5.1",
            "attiCliniciRegoleAccesso":["P99"],"dataInizioPrestazione":"20240524174546","mode":"ATTACHMENT"{extra}}}"#
        )
    }

    #[test]
    fn create_request_reads_and_writes_the_wire_names() {
        let request: CreateRequest = serde_json::from_str(&create_json("")).expect("reads");
        assert_eq!(request.facility_type, HealthcareFacilityType::Ospedale);
        assert_eq!(request.document_class, DocumentClass::Ref);
        assert_eq!(
            request.checked_document_id().expect("valid").extension(),
            "LAB1"
        );
        assert_eq!(request.events(), &[EventCode::P99]);
        let (start, stop) = request.service_period().expect("valid");
        assert_eq!(
            start.map(format_service_time).as_deref(),
            Some("20240524174546")
        );
        assert_eq!(stop, None);
        let written = serde_json::to_value(&request).expect("writes");
        assert_eq!(written["tipoDocumentoLivAlto"], "REF");
        assert!(
            written.get("workflowInstanceId").is_none(),
            "absent fields are not written"
        );
        assert!(written.get("priorita").is_none());
    }

    #[test]
    fn request_bodies_refuse_unknown_and_missing_fields() {
        assert!(serde_json::from_str::<CreateRequest>(&create_json(r#","foo":1"#)).is_err());
        let missing = create_json("").replace(r#""tipologiaStruttura":"Ospedale","#, "");
        assert!(serde_json::from_str::<CreateRequest>(&missing).is_err());
        // Unlisted code values still read (strict checks are explicit).
        let odd: CreateRequest =
            serde_json::from_str(&create_json("").replace(r#""REF""#, r#""XXX""#)).expect("reads");
        assert!(!odd.document_class.is_listed());
    }

    #[test]
    fn service_times() {
        assert!(parse_service_time("20240230120000").is_err());
        assert!(parse_service_time("2014-10-20").is_err());
        assert!(parse_service_time("2024023012000").is_err());
        assert!(parse_service_time("20240229235959").is_ok());
    }
}
