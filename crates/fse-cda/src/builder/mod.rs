//! Building Italian CDA2 documents: LAB, RAD, RSA, LDO and VPS.
//!
//! A [`DocumentInput`] holds the header (document, patient, author,
//! custodian, legal authenticator, order, service event, encounter) and a
//! typed [`Body`]; [`build`] checks it and writes the CDA2: the header the
//! HL7 Italia implementation guides and the Gateway's schematrons want, and
//! the body's sections with their structured entries and the narrative text
//! generated from those entries. The same input always gives the same
//! bytes: UTF-8, indented by two spaces, nothing taken from the clock.
//!
//! [`DocumentInput::from_json`] reads the JSON form `fse cda new` takes
//! (documented in `docs/cda-builder.md`); unknown fields are refused and
//! every error names the field, as a JSON path.

use std::fmt;
use std::str::FromStr;

use fse_model::FiscalCode;
use serde::Deserialize;

use crate::error::{Error, Result};

mod common;
mod header;
mod lab;
mod ldo;
mod narrative;
mod rad;
mod rsa;
mod types;
mod vps;
pub(crate) mod xml;

pub use common::{Diagnosis, Medication, Procedure, Quantity, Reason};
pub use lab::{
    Battery, INTERPRETATIONS, LabBody, LabResult, ReferenceRange, ResultValue, SPECIALTIES,
    Specialty,
};
pub use ldo::{DischargeCondition, LdoBody};
pub use rad::{RadBody, RadExam};
pub use rsa::{Performed, RecommendedTest, RsaBody};
pub use types::{
    Address, Birthplace, Coded, Identifier, Organization, PersonName, Professional, Telecom,
    Timestamp,
};
pub use vps::{
    Arrival, Discharge, MAIN_PROBLEMS, OUTCOMES, REFERRERS, TRANSPORT_MODES, TRIAGE_CODES, Triage,
    VisitReason, VitalSign, VpsBody,
};

/// The document types the builder writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocumentType {
    /// Referto di medicina di laboratorio (LOINC 11502-2).
    Lab,
    /// Referto di radiologia (LOINC 68604-8).
    Rad,
    /// Referto di specialistica ambulatoriale (LOINC 11488-4).
    Rsa,
    /// Lettera di dimissione ospedaliera (LOINC 34105-7).
    Ldo,
    /// Verbale di pronto soccorso (LOINC 59258-4).
    Vps,
}

impl DocumentType {
    /// Every type, in a fixed order.
    pub const ALL: [DocumentType; 5] = [Self::Lab, Self::Rad, Self::Rsa, Self::Ldo, Self::Vps];

    /// `LAB`, `RAD`, `RSA`, `LDO` or `VPS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lab => "LAB",
            Self::Rad => "RAD",
            Self::Rsa => "RSA",
            Self::Ldo => "LDO",
            Self::Vps => "VPS",
        }
    }

    /// The LOINC code of `ClinicalDocument/code`.
    pub fn loinc(self) -> &'static str {
        match self {
            Self::Lab => "11502-2",
            Self::Rad => "68604-8",
            Self::Rsa => "11488-4",
            Self::Ldo => "34105-7",
            Self::Vps => "59258-4",
        }
    }

    /// The display name the schematron recommends for that code (else W001).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Lab => "Referto di laboratorio",
            Self::Rad => "Referto Radiologico",
            Self::Rsa => "Nota di consulto",
            Self::Ldo => "Lettera di dimissione ospedaliera",
            Self::Vps => "Verbale di Pronto Soccorso",
        }
    }

    /// The default title.
    pub fn title(self) -> &'static str {
        match self {
            Self::Lab => "Referto di laboratorio",
            Self::Rad => "Referto di radiologia",
            Self::Rsa => "Referto di specialistica ambulatoriale",
            Self::Ldo => "Lettera di dimissione ospedaliera",
            Self::Vps => "Verbale di pronto soccorso",
        }
    }

    /// The root of the header `templateId`: it selects the schematron.
    pub fn template_root(self) -> &'static str {
        match self {
            Self::Lab => "2.16.840.1.113883.2.9.10.1.1",
            Self::Rad => "2.16.840.1.113883.2.9.10.1.7.1",
            Self::Rsa => "2.16.840.1.113883.2.9.10.1.9.1",
            Self::Ldo => "2.16.840.1.113883.2.9.10.1.5",
            Self::Vps => "2.16.840.1.113883.2.9.10.1.6.1",
        }
    }

    /// The implementation guide version written as the `templateId` extension.
    pub fn template_version(self) -> &'static str {
        match self {
            Self::Lab => "1.3",
            Self::Rad | Self::Rsa | Self::Vps => "1.1",
            Self::Ldo => "1.2",
        }
    }

    /// The JSON input of the complete example `fse cda example` builds.
    pub fn example_json(self) -> &'static str {
        match self {
            Self::Lab => include_str!("../../data/examples/LAB.json"),
            Self::Rad => include_str!("../../data/examples/RAD.json"),
            Self::Rsa => include_str!("../../data/examples/RSA.json"),
            Self::Ldo => include_str!("../../data/examples/LDO.json"),
            Self::Vps => include_str!("../../data/examples/VPS.json"),
        }
    }
}

impl fmt::Display for DocumentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DocumentType {
    type Err = Error;
    /// Case-insensitive `LAB`, `RAD`, `RSA`, `LDO`, `VPS`.
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::UnknownDocumentType(s.to_string()))
    }
}

/// Everything a document is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentInput {
    /// Ids, version, time, confidentiality, title.
    pub document: DocumentInfo,
    /// The patient (`recordTarget`).
    pub patient: Patient,
    /// The author; `time` defaults to the document's effective time.
    pub author: Professional,
    /// Who entered the data, when not the author.
    pub data_enterer: Option<Professional>,
    /// The organisation that keeps the document.
    pub custodian: Organization,
    /// Who signs (`legalAuthenticator`, `signatureCode S`).
    pub legal_authenticator: Professional,
    /// The requests this document fulfils (`inFulfillmentOf`): LAB and RAD need one.
    pub orders: Vec<Order>,
    /// The service documented (`documentationOf/serviceEvent`).
    pub service_event: Option<ServiceEvent>,
    /// The encounter (`componentOf/encompassingEncounter`): RSA, LDO and VPS need one.
    pub encounter: Option<Encounter>,
    /// The body, whose variant is the document type.
    pub body: Body,
}

/// The body of one document type.
// One body per document is built: the size of the largest variant is no cost.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A laboratory report.
    Lab(LabBody),
    /// A radiology report.
    Rad(RadBody),
    /// An outpatient specialist report.
    Rsa(RsaBody),
    /// A hospital discharge letter.
    Ldo(LdoBody),
    /// An emergency room report.
    Vps(VpsBody),
}

impl Body {
    /// The document type of this body.
    pub fn document_type(&self) -> DocumentType {
        match self {
            Self::Lab(_) => DocumentType::Lab,
            Self::Rad(_) => DocumentType::Rad,
            Self::Rsa(_) => DocumentType::Rsa,
            Self::Ldo(_) => DocumentType::Ldo,
            Self::Vps(_) => DocumentType::Vps,
        }
    }
}

/// The document's own header data.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentInfo {
    /// `ClinicalDocument/id`: root = the producer's OID
    /// (`2.16.840.1.113883.2.9.2.<region>.4.4`), extension = unique there.
    pub id: Identifier,
    /// `setId`; defaults to `id` for version 1, required after.
    #[serde(default)]
    pub set_id: Option<Identifier>,
    /// `versionNumber`, from 1.
    #[serde(default = "one")]
    pub version: u32,
    /// When the document was created.
    pub effective_time: Timestamp,
    /// `confidentialityCode`: N (default), R or V.
    #[serde(default)]
    pub confidentiality: ConfidentialityCode,
    /// The title; defaults to the type's.
    #[serde(default)]
    pub title: Option<String>,
    /// The document this one replaces (or appends to): required when version > 1.
    #[serde(default)]
    pub replaces: Option<ParentDocument>,
}

fn one() -> u32 {
    1
}

/// `ClinicalDocument/confidentialityCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum ConfidentialityCode {
    /// Normal.
    #[default]
    N,
    /// Restricted.
    R,
    /// Very restricted: data under reinforced protection (see `obscuring`).
    V,
}

impl ConfidentialityCode {
    /// The code letter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::N => "N",
            Self::R => "R",
            Self::V => "V",
        }
    }
}

/// The parent of a new version (`relatedDocument/parentDocument`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParentDocument {
    /// The parent's `ClinicalDocument/id`.
    pub id: Identifier,
    /// The parent's `setId`.
    #[serde(default)]
    pub set_id: Option<Identifier>,
    /// The parent's `versionNumber`.
    #[serde(default)]
    pub version: Option<u32>,
    /// `RPLC` (replacement, the default) or `APND` (addendum).
    #[serde(default = "rplc")]
    pub relation: String,
}

fn rplc() -> String {
    "RPLC".to_string()
}

/// The patient: at least one identifier, name, sex, birth.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patient {
    /// The fiscal code: the usual identifier, and the JWT `person_id`.
    #[serde(default)]
    pub fiscal_code: Option<FiscalCode>,
    /// Other identifiers: TEAM (both `…4.3.7` and `…4.3.3`), STP
    /// (`…4.3.17`), ENI (`…4.3.18`), ANA (`…4.3.15`), regional
    /// (`2.16.840.1.113883.2.9.2.<region>.4.1`), or local ones. A RAD
    /// carries the patient's PACS id here; without one it gets
    /// `<id nullFlavor="NI"/>`, as its schematron allows.
    #[serde(default)]
    pub ids: Vec<Identifier>,
    /// The name.
    pub name: PersonName,
    /// `M`, `F` or `UN`.
    pub gender: String,
    /// The date of birth; unknown (`nullFlavor UNK`) when absent.
    #[serde(default)]
    pub birth_time: Option<Timestamp>,
    /// Where the patient was born.
    #[serde(default)]
    pub birthplace: Option<Birthplace>,
    /// Addresses (residence `H`, domicile `HP`, …).
    #[serde(default)]
    pub addresses: Vec<Address>,
    /// Contacts.
    #[serde(default)]
    pub telecoms: Vec<Telecom>,
}

/// A request this document fulfils (`inFulfillmentOf/order`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// The order's id: the NRE of an electronic prescription (root
    /// `2.16.840.1.113883.2.9.4.3.9`) or the placer's own.
    pub id: Identifier,
    /// HL7 ActPriority: `R` routine, `UR` urgent, `EM` emergency, …
    #[serde(default)]
    pub priority: Option<String>,
}

/// The service documented (`documentationOf/serviceEvent`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEvent {
    /// Access mode: `PROG` or `DIR` (RAD: `RAD_PROG`, `RAD_DIR`).
    #[serde(default)]
    pub code: Option<String>,
    /// When the service started.
    pub start: Timestamp,
    /// When it ended.
    #[serde(default)]
    pub end: Option<Timestamp>,
    /// Who performed it.
    #[serde(default)]
    pub performer: Option<Professional>,
}

/// The encounter the document belongs to (`componentOf/encompassingEncounter`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encounter {
    /// The encounter's id (admission number, ER access number); LDO needs it.
    #[serde(default)]
    pub id: Option<Identifier>,
    /// When it started (admission, ER arrival).
    pub start: Timestamp,
    /// When it ended (discharge); LDO needs it.
    #[serde(default)]
    pub end: Option<Timestamp>,
    /// The professional responsible.
    #[serde(default)]
    pub responsible: Option<Professional>,
    /// Who admitted the patient (VPS `encounterParticipant ADM`).
    #[serde(default)]
    pub admitted_by: Option<Professional>,
    /// Where it took place.
    pub facility: Facility,
}

/// The facility of an encounter (`location/healthCareFacility`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facility {
    /// The facility's id (e.g. the ward, root `2.16.840.1.113883.2.9.4.1.6`).
    pub id: Identifier,
    /// The ward or unit's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The organisation providing the service (the hospital).
    pub organization: Organization,
    /// The organisation it belongs to (the ASL or hospital trust).
    #[serde(default)]
    pub part_of: Option<Identifier>,
}

/// Problems found in an input, each with its field's JSON path.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<(String, String)>);

impl Problems {
    pub(crate) fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }

    /// The first problem as the error, the others listed in its message.
    fn into_result(self) -> Result<()> {
        let mut problems = self.0.into_iter();
        let Some((field, mut message)) = problems.next() else {
            return Ok(());
        };
        let rest: Vec<String> = problems.map(|(f, m)| format!("{f}: {m}")).collect();
        if !rest.is_empty() {
            message.push_str(&format!(" (and {} more: {})", rest.len(), rest.join("; ")));
        }
        Err(Error::InvalidInput { field, message })
    }
}

/// The JSON form of everything but the body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonInput {
    #[serde(rename = "type", default)]
    document_type: Option<String>,
    document: DocumentInfo,
    patient: Patient,
    author: Professional,
    #[serde(default)]
    data_enterer: Option<Professional>,
    custodian: Organization,
    legal_authenticator: Professional,
    #[serde(default)]
    orders: Vec<Order>,
    #[serde(default)]
    service_event: Option<ServiceEvent>,
    #[serde(default)]
    encounter: Option<Encounter>,
    body: serde_json::Value,
}

fn from_value<T: for<'de> Deserialize<'de>>(value: serde_json::Value, prefix: &str) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let mut parts: Vec<String> = Vec::new();
        if !prefix.is_empty() {
            parts.push(prefix.to_string());
        }
        if path != "." {
            parts.push(path);
        }
        // serde names a missing field in the message, at the path of the
        // object that lacks it: name the field itself.
        if let Some(rest) = message.strip_prefix("missing field `")
            && let Some(name) = rest.split('`').next()
        {
            parts.push(name.to_string());
        }
        let field = if parts.is_empty() {
            "(top level)".to_string()
        } else {
            parts.join(".")
        };
        Error::InvalidInput { field, message }
    })
}

impl DocumentInput {
    /// Reads the JSON input of `fse cda new`.
    ///
    /// The type comes from `document_type` (the `--type` option) and/or
    /// the input's `"type"`; when both are given they must agree.
    ///
    /// # Errors
    /// [`Error::InputJson`] when the text is not JSON;
    /// [`Error::InvalidInput`] naming the field that is missing, unknown
    /// or malformed; [`Error::UnknownDocumentType`].
    pub fn from_json(document_type: Option<DocumentType>, json: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|source| Error::InputJson {
                message: source.to_string(),
                source,
            })?;
        if !value.is_object() {
            return Err(Error::InvalidInput {
                field: "(top level)".into(),
                message: "the input must be a JSON object".into(),
            });
        }
        let raw: JsonInput = from_value(value, "")?;
        let declared = raw
            .document_type
            .as_deref()
            .map(DocumentType::from_str)
            .transpose()?;
        let kind = match (document_type, declared) {
            (Some(a), Some(b)) if a != b => {
                return Err(Error::InvalidInput {
                    field: "type".into(),
                    message: format!("the input says {b} but {a} was asked for"),
                });
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => {
                return Err(Error::InvalidInput {
                    field: "type".into(),
                    message: "missing: give LAB, RAD, RSA, LDO or VPS".into(),
                });
            }
        };
        let body = match kind {
            DocumentType::Lab => Body::Lab(from_value(raw.body, "body")?),
            DocumentType::Rad => Body::Rad(from_value(raw.body, "body")?),
            DocumentType::Rsa => Body::Rsa(from_value(raw.body, "body")?),
            DocumentType::Ldo => Body::Ldo(from_value(raw.body, "body")?),
            DocumentType::Vps => Body::Vps(from_value(raw.body, "body")?),
        };
        Ok(Self {
            document: raw.document,
            patient: raw.patient,
            author: raw.author,
            data_enterer: raw.data_enterer,
            custodian: raw.custodian,
            legal_authenticator: raw.legal_authenticator,
            orders: raw.orders,
            service_event: raw.service_event,
            encounter: raw.encounter,
            body,
        })
    }

    /// The document type (the body's).
    pub fn document_type(&self) -> DocumentType {
        self.body.document_type()
    }

    /// Checks what serde cannot: rules across fields, and what the type's
    /// schematron requires of the header.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the first field in error.
    pub fn check(&self) -> Result<()> {
        let mut p = Problems::default();
        header::check(self, &mut p);
        match &self.body {
            Body::Lab(b) => b.check(&mut p),
            Body::Rad(b) => b.check(&mut p),
            Body::Rsa(b) => b.check(&mut p),
            Body::Ldo(b) => b.check(&mut p),
            Body::Vps(b) => b.check(&mut p),
        }
        p.into_result()
    }
}

/// Checks the input and writes the document.
///
/// # Errors
/// As [`DocumentInput::check`].
pub fn build(input: &DocumentInput) -> Result<String> {
    input.check()?;
    let mut doc = header::header(input);
    let body = match &input.body {
        Body::Lab(b) => b.body(input),
        Body::Rad(b) => b.body(input),
        Body::Rsa(b) => b.body(input),
        Body::Ldo(b) => b.body(input),
        Body::Vps(b) => b.body(input),
    };
    doc.push(xml::El::new("component").child(body));
    Ok(doc.write_document())
}

/// Reads JSON input and builds the document: `fse cda new`.
///
/// # Errors
/// As [`DocumentInput::from_json`] and [`build`].
pub fn build_json(document_type: Option<DocumentType>, json: &str) -> Result<String> {
    build(&DocumentInput::from_json(document_type, json)?)
}

/// The complete example of a type: `fse cda example`.
///
/// # Errors
/// Only if the shipped example were broken (a test proves it is not).
pub fn example(document_type: DocumentType) -> Result<String> {
    build_json(Some(document_type), document_type.example_json())
}
