//! The metadata the Gateway reads from a CDA2 header.
//!
//! [`Metadata::from_document`] walks the header of a parsed
//! `ClinicalDocument` once and returns every value the publication request
//! and the JWT `resource_hl7_type` claim are derived from: ids, the LOINC
//! code and the high-level document class (`tipoDocumentoLivAlto`) the
//! Gateway correlates with it, the patient's identifiers, the people and
//! organisations of the header, related documents and the service period
//! (`dataInizioPrestazione` / `dataFinePrestazione`).
//!
//! Only the document id and the header `code` are required; anything else a
//! malformed document lacks is reported as absent, so `fse cda info` still
//! shows what is there.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::error::{Error, Result};
use crate::xml::{Document, HL7_NS, NodeId};

/// The OID of the Italian fiscal code (codice fiscale), assigned by MEF.
pub const OID_FISCAL_CODE: &str = "2.16.840.1.113883.2.9.4.3.2";
/// The OID of the European health insurance card number (TEAM).
pub const OID_TEAM: &str = "2.16.840.1.113883.2.9.4.3.7";
/// The OID of the TEAM card's institution id, accepted as a patient id too.
pub const OID_TEAM_INSTITUTION: &str = "2.16.840.1.113883.2.9.4.3.3";
/// The OID of ENI codes (Europeo Non Iscritto).
pub const OID_ENI: &str = "2.16.840.1.113883.2.9.4.3.18";
/// The OID of STP codes (Straniero Temporaneamente Presente).
pub const OID_STP: &str = "2.16.840.1.113883.2.9.4.3.17";
/// The OID of ANA ids (the national registry of the assisted).
pub const OID_ANA: &str = "2.16.840.1.113883.2.9.4.3.15";
/// The LOINC code system.
pub const OID_LOINC: &str = "2.16.840.1.113883.6.1";
/// The HL7 Confidentiality code system.
pub const OID_CONFIDENTIALITY: &str = "2.16.840.1.113883.5.25";

/// An HL7 instance identifier (`II`): an OID root and an optional extension.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
pub struct InstanceId {
    /// The OID of the assigning authority.
    pub root: String,
    /// The identifier within that authority, when there is one.
    pub extension: Option<String>,
}

impl InstanceId {
    /// An identifier with both parts.
    pub fn new(root: impl Into<String>, extension: impl Into<String>) -> Self {
        Self {
            root: root.into(),
            extension: Some(extension.into()),
        }
    }

    fn read(doc: &Document, id: NodeId) -> Option<Self> {
        let root = doc.attr(id, "root")?.trim();
        if root.is_empty() {
            return None;
        }
        let extension = doc.attr(id, "extension").map(str::to_string);
        Some(Self {
            root: root.to_string(),
            extension,
        })
    }
}

/// `root^extension`, as the Gateway's `identificativoDoc` wants it; the
/// bare root when there is no extension.
impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.extension {
            Some(ext) => write!(f, "{}^{}", self.root, ext),
            None => f.write_str(&self.root),
        }
    }
}

impl fmt::Debug for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstanceId({self})")
    }
}

impl Serialize for InstanceId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The header `templateId` that selects the schematron.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateId {
    /// The document type's template OID.
    pub root: String,
    /// The implementation guide version, e.g. `1.3`.
    pub extension: Option<String>,
}

/// `ClinicalDocument/confidentialityCode/@code`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Confidentiality {
    /// `N`: normal.
    Normal,
    /// `R`: restricted.
    Restricted,
    /// `V`: very restricted, for data under reinforced protection.
    VeryRestricted,
    /// A value outside the three the schematrons allow, kept as written.
    Other(String),
}

impl Confidentiality {
    /// Reads a code; anything but `N`, `R`, `V` is kept as [`Confidentiality::Other`].
    pub fn from_code(code: &str) -> Self {
        match code {
            "N" => Self::Normal,
            "R" => Self::Restricted,
            "V" => Self::VeryRestricted,
            other => Self::Other(other.to_string()),
        }
    }

    /// The code as the CDA spells it.
    pub fn code(&self) -> &str {
        match self {
            Self::Normal => "N",
            Self::Restricted => "R",
            Self::VeryRestricted => "V",
            Self::Other(code) => code,
        }
    }

    /// The display name HL7 gives the code.
    pub fn display_name(&self) -> &str {
        match self {
            Self::Normal => "Normal",
            Self::Restricted => "Restricted",
            Self::VeryRestricted => "Very Restricted",
            Self::Other(code) => code,
        }
    }
}

impl Serialize for Confidentiality {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// Which kind of identifier a `patientRole/id` is, by its root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatientIdKind {
    /// The fiscal code (`CF`, MEF).
    FiscalCode,
    /// A European health insurance card (`TEAM`), either of its two roots.
    Team,
    /// A temporarily present foreigner's code (`STP`).
    Stp,
    /// A non-registered European's code (`ENI`).
    Eni,
    /// An id of the national registry of the assisted (`ANA`).
    Ana,
    /// A regional id, root `2.16.840.1.113883.2.9.2.<region>.4.1[.1]`.
    Regional,
    /// Any other root: a local id the Gateway does not recognise as the patient's.
    Other,
}

impl PatientIdKind {
    /// Classifies an id root.
    pub fn from_root(root: &str) -> Self {
        match root {
            OID_FISCAL_CODE => Self::FiscalCode,
            OID_TEAM | OID_TEAM_INSTITUTION => Self::Team,
            OID_STP => Self::Stp,
            OID_ENI => Self::Eni,
            OID_ANA => Self::Ana,
            _ if is_regional_patient_root(root) => Self::Regional,
            _ => Self::Other,
        }
    }

    /// The short name used in `fse cda info`: `CF`, `TEAM`, `STP`, `ENI`, `ANA`, `regional`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FiscalCode => "CF",
            Self::Team => "TEAM",
            Self::Stp => "STP",
            Self::Eni => "ENI",
            Self::Ana => "ANA",
            Self::Regional => "regional",
            Self::Other => "other",
        }
    }
}

impl Serialize for PatientIdKind {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `2.16.840.1.113883.2.9.2.<region>.4.1` or `….4.1.1`, region being one
/// of the codes the schematrons list (10 … 200, with 41 and 42 for the
/// autonomous provinces).
fn is_regional_patient_root(root: &str) -> bool {
    let Some(rest) = root.strip_prefix("2.16.840.1.113883.2.9.2.") else {
        return false;
    };
    let Some((region, tail)) = rest.split_once('.') else {
        return false;
    };
    let region_ok = matches!(
        region,
        "10" | "20"
            | "30"
            | "41"
            | "42"
            | "50"
            | "60"
            | "70"
            | "80"
            | "90"
            | "100"
            | "110"
            | "120"
            | "130"
            | "140"
            | "150"
            | "160"
            | "170"
            | "180"
            | "190"
            | "200"
    );
    region_ok && (tail == "4.1" || tail == "4.1.1")
}

/// One `recordTarget/patientRole/id`.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct PatientId {
    /// The assigning authority's OID.
    pub root: String,
    /// The identifier; empty when the document omits it.
    pub extension: String,
    /// What kind of identifier the root says it is.
    pub kind: PatientIdKind,
}

/// Masks the identifier: it is patient data and must not reach logs.
impl fmt::Debug for PatientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PatientId")
            .field("root", &self.root)
            .field("extension", &mask(&self.extension))
            .field("kind", &self.kind)
            .finish()
    }
}

/// Keeps the first three characters of an identifier and stars the rest.
pub fn mask(value: &str) -> String {
    value
        .chars()
        .enumerate()
        .map(|(i, c)| if i < 3 { c } else { '*' })
        .collect()
}

/// A person of the header (author, legal authenticator, data enterer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    /// `assignedAuthor/id` or `assignedEntity/id` (the first one).
    pub id: Option<InstanceId>,
    /// `given family` as written, prefixes and suffixes left out.
    pub name: Option<String>,
    /// The participation's `time/@value`.
    pub time: Option<String>,
}

/// The custodian organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organization {
    /// `representedCustodianOrganization/id`.
    pub id: Option<InstanceId>,
    /// `representedCustodianOrganization/name`.
    pub name: Option<String>,
}

/// `relatedDocument/@typeCode`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RelationType {
    /// `RPLC`: this document replaces the parent.
    Replaces,
    /// `APND`: this document is an addendum to the parent.
    Appends,
    /// `XFRM`: this document is a transformation of the parent.
    Transforms,
    /// Any other code, kept as written.
    Other(String),
}

impl RelationType {
    /// Reads a type code.
    pub fn from_code(code: &str) -> Self {
        match code {
            "RPLC" => Self::Replaces,
            "APND" => Self::Appends,
            "XFRM" => Self::Transforms,
            other => Self::Other(other.to_string()),
        }
    }

    /// The code as the CDA spells it.
    pub fn code(&self) -> &str {
        match self {
            Self::Replaces => "RPLC",
            Self::Appends => "APND",
            Self::Transforms => "XFRM",
            Self::Other(code) => code,
        }
    }
}

impl Serialize for RelationType {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// One `relatedDocument`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelatedDocument {
    /// How this document relates to the parent.
    #[serde(rename = "type")]
    pub type_code: RelationType,
    /// `parentDocument/id`.
    pub parent_id: Option<InstanceId>,
    /// `parentDocument/setId`, when given.
    pub parent_set_id: Option<InstanceId>,
    /// `parentDocument/versionNumber/@value`, when given.
    pub parent_version_number: Option<String>,
}

/// The metadata of one CDA2 document, as the Gateway reads it.
///
/// Its `Debug` output masks the patient's identifiers.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Metadata {
    /// `ClinicalDocument/id`, serialized as `root^extension`.
    pub document_id: InstanceId,
    /// `ClinicalDocument/setId`.
    pub set_id: Option<InstanceId>,
    /// `ClinicalDocument/versionNumber/@value`, when it is a number.
    pub version_number: Option<u32>,
    /// The first header `templateId`: it selects the schematron.
    pub template_id: Option<TemplateId>,
    /// `ClinicalDocument/code/@code` (a LOINC code).
    pub code: String,
    /// `ClinicalDocument/code/@codeSystem`.
    pub code_system: String,
    /// `ClinicalDocument/code/@displayName`.
    pub display_name: Option<String>,
    /// The JWT claim: exactly `('code^^codeSystem')` of the first `<code>`
    /// element of the document, as the Gateway compares it.
    pub resource_hl7_type: String,
    /// The `tipoDocumentoLivAlto` the Gateway correlates with [`Self::code`];
    /// `None` when it correlates none (the Gateway then answers 400).
    pub document_class: Option<fse_model::tables::DocumentClass>,
    /// `ClinicalDocument/title`, trimmed.
    pub title: Option<String>,
    /// `ClinicalDocument/effectiveTime/@value`, as written.
    pub effective_time: Option<String>,
    /// `ClinicalDocument/confidentialityCode/@code`.
    pub confidentiality_code: Option<Confidentiality>,
    /// `ClinicalDocument/languageCode/@code`.
    pub language_code: Option<String>,
    /// Every `recordTarget/patientRole/id`, in order.
    pub patient_ids: Vec<PatientId>,
    /// The extension of the patient id whose root is the fiscal code's OID,
    /// as written (the Gateway checks its format against `person_id`).
    pub patient_fiscal_code: Option<String>,
    /// The first author.
    pub author: Option<Person>,
    /// The custodian organisation.
    pub custodian: Option<Organization>,
    /// The legal authenticator.
    pub legal_authenticator: Option<Person>,
    /// Every `relatedDocument`, in order.
    pub related_documents: Vec<RelatedDocument>,
    /// The start of the service, `yyyyMMddHHmmss` in UTC: the request's
    /// `dataInizioPrestazione`.
    pub service_start: Option<String>,
    /// The end of the service, `yyyyMMddHHmmss` in UTC: `dataFinePrestazione`.
    pub service_stop: Option<String>,
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metadata")
            .field("document_id", &self.document_id)
            .field("set_id", &self.set_id)
            .field("version_number", &self.version_number)
            .field("template_id", &self.template_id)
            .field("code", &self.code)
            .field("code_system", &self.code_system)
            .field("resource_hl7_type", &self.resource_hl7_type)
            .field("document_class", &self.document_class)
            .field("effective_time", &self.effective_time)
            .field("confidentiality_code", &self.confidentiality_code)
            .field("patient_ids", &self.patient_ids)
            .field(
                "patient_fiscal_code",
                &self.patient_fiscal_code.as_deref().map(mask),
            )
            .field("related_documents", &self.related_documents)
            .field("service_start", &self.service_start)
            .field("service_stop", &self.service_stop)
            .finish_non_exhaustive()
    }
}

impl Metadata {
    /// Parses `bytes` and reads the metadata.
    ///
    /// # Errors
    /// When the XML does not parse, or as [`Metadata::from_document`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::from_document(&Document::parse(bytes)?)
    }

    /// Reads the metadata of a parsed document.
    ///
    /// # Errors
    /// [`Error::NotClinicalDocument`] when the root is not an HL7
    /// `ClinicalDocument`; [`Error::MissingHeaderItem`] when `id/@root` or
    /// `code/@code` and `code/@codeSystem` are missing.
    pub fn from_document(doc: &Document) -> Result<Self> {
        let root = clinical_document(doc)?;
        let header = |name: &str| doc.child_named(root, HL7_NS, name);

        let document_id = header("id")
            .and_then(|id| InstanceId::read(doc, id))
            .ok_or(Error::MissingHeaderItem {
                path: "ClinicalDocument/id/@root",
            })?;
        let code_el = header("code").ok_or(Error::MissingHeaderItem {
            path: "ClinicalDocument/code",
        })?;
        let code = non_empty_attr(doc, code_el, "code").ok_or(Error::MissingHeaderItem {
            path: "ClinicalDocument/code/@code",
        })?;
        let code_system =
            non_empty_attr(doc, code_el, "codeSystem").ok_or(Error::MissingHeaderItem {
                path: "ClinicalDocument/code/@codeSystem",
            })?;

        let template_id = header("templateId").and_then(|t| {
            Some(TemplateId {
                root: non_empty_attr(doc, t, "root")?,
                extension: doc.attr(t, "extension").map(str::to_string),
            })
        });

        let patient_role = path(doc, root, &["recordTarget", "patientRole"]);
        let patient_ids: Vec<PatientId> = patient_role
            .map(|role| {
                doc.children_named(role, HL7_NS, "id")
                    .filter_map(|id| {
                        let root = doc.attr(id, "root")?.trim().to_string();
                        Some(PatientId {
                            kind: PatientIdKind::from_root(&root),
                            extension: doc.attr(id, "extension").unwrap_or_default().to_string(),
                            root,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let patient_fiscal_code = patient_ids
            .iter()
            .find(|p| p.kind == PatientIdKind::FiscalCode)
            .map(|p| p.extension.clone());

        let author = header("author").map(|a| {
            let assigned = doc.child_named(a, HL7_NS, "assignedAuthor");
            person(doc, a, assigned, "assignedPerson")
        });
        let legal_authenticator = header("legalAuthenticator").map(|l| {
            let assigned = doc.child_named(l, HL7_NS, "assignedEntity");
            person(doc, l, assigned, "assignedPerson")
        });
        let custodian = path(
            doc,
            root,
            &[
                "custodian",
                "assignedCustodian",
                "representedCustodianOrganization",
            ],
        )
        .map(|org| Organization {
            id: doc
                .child_named(org, HL7_NS, "id")
                .and_then(|i| InstanceId::read(doc, i)),
            name: text_of(doc, doc.child_named(org, HL7_NS, "name")),
        });

        let related_documents = doc
            .children_named(root, HL7_NS, "relatedDocument")
            .map(|rel| {
                let parent = doc.child_named(rel, HL7_NS, "parentDocument");
                let under = |name: &str| parent.and_then(|p| doc.child_named(p, HL7_NS, name));
                RelatedDocument {
                    type_code: RelationType::from_code(
                        doc.attr(rel, "typeCode").unwrap_or_default(),
                    ),
                    parent_id: under("id").and_then(|i| InstanceId::read(doc, i)),
                    parent_set_id: under("setId").and_then(|i| InstanceId::read(doc, i)),
                    parent_version_number: under("versionNumber")
                        .and_then(|v| doc.attr(v, "value"))
                        .map(str::to_string),
                }
            })
            .collect();

        let (service_start, service_stop) = service_period(doc, root);

        Ok(Self {
            resource_hl7_type: resource_hl7_type(doc),
            document_class: crate::class::for_loinc(&code),
            document_id,
            set_id: header("setId").and_then(|i| InstanceId::read(doc, i)),
            version_number: header("versionNumber")
                .and_then(|v| doc.attr(v, "value"))
                .and_then(|v| v.trim().parse().ok()),
            template_id,
            display_name: doc
                .attr(code_el, "displayName")
                .map(|d| d.trim().to_string()),
            code,
            code_system,
            title: text_of(doc, header("title")),
            effective_time: header("effectiveTime").and_then(|e| non_empty_attr(doc, e, "value")),
            confidentiality_code: header("confidentialityCode")
                .and_then(|c| doc.attr(c, "code"))
                .map(Confidentiality::from_code),
            language_code: header("languageCode").and_then(|l| non_empty_attr(doc, l, "code")),
            patient_ids,
            patient_fiscal_code,
            author,
            custodian,
            legal_authenticator,
            related_documents,
            service_start,
            service_stop,
        })
    }

    /// The document id as the Gateway's `identificativoDoc` and `{idDoc}`
    /// want it (`root^extension`, checked as the Gateway checks it).
    ///
    /// # Errors
    /// When the id has no extension or breaks the Gateway's rules.
    pub fn gateway_document_id(
        &self,
    ) -> std::result::Result<fse_model::DocumentId, fse_model::Error> {
        fse_model::DocumentId::parse(&self.document_id.to_string())
    }

    /// The JWT `person_id` claim for this document's patient
    /// (`ID^^^&ROOT&ISO`), from [`Metadata::primary_patient_id`]; `None`
    /// when the patient has no identifier of a kind the FSE knows.
    ///
    /// # Errors
    /// When the id does not parse: a malformed fiscal code under the
    /// fiscal-code OID, or a root that is not an OID.
    pub fn person_id(&self) -> Option<std::result::Result<fse_model::PersonId, fse_model::Error>> {
        let patient = self.primary_patient_id()?;
        Some(fse_model::PersonId::parse(&format!(
            "{}^^^&{}&ISO",
            patient.extension, patient.root
        )))
    }

    /// The patient identifier the JWT `person_id` claim is built from:
    /// the fiscal code if there is one, else the first id of a kind the
    /// Gateway recognises.
    pub fn primary_patient_id(&self) -> Option<&PatientId> {
        self.patient_ids
            .iter()
            .find(|p| p.kind == PatientIdKind::FiscalCode)
            .or_else(|| {
                self.patient_ids
                    .iter()
                    .find(|p| p.kind != PatientIdKind::Other)
            })
    }
}

/// The root element, if it is an HL7 `ClinicalDocument`.
pub(crate) fn clinical_document(doc: &Document) -> Result<NodeId> {
    let root = doc.root_element();
    if doc.local_name(root) == "ClinicalDocument" && doc.namespace(root) == HL7_NS {
        Ok(root)
    } else {
        Err(Error::NotClinicalDocument {
            found: format!("{{{}}}{}", doc.namespace(root), doc.local_name(root)),
        })
    }
}

/// `('code^^codeSystem')` of the first HL7 `code` element in document order.
///
/// The Gateway takes the first `<code>` of the whole document, not the
/// header's by path; in a valid CDA2 they are the same element.
fn resource_hl7_type(doc: &Document) -> String {
    let first = doc
        .symbol(HL7_NS)
        .zip(doc.symbol("code"))
        .and_then(|(ns, local)| doc.elements_named(ns, local).first().copied());
    let attr = |name| first.and_then(|c| doc.attr(c, name)).unwrap_or_default();
    format!("('{}^^{}')", attr("code"), attr("codeSystem"))
}

/// Follows a path of HL7 child element names, taking the first match at each step.
pub(crate) fn path(doc: &Document, from: NodeId, steps: &[&str]) -> Option<NodeId> {
    steps
        .iter()
        .try_fold(from, |at, step| doc.child_named(at, HL7_NS, step))
}

fn non_empty_attr(doc: &Document, id: NodeId, name: &str) -> Option<String> {
    doc.attr(id, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn text_of(doc: &Document, id: Option<NodeId>) -> Option<String> {
    let text = doc.string_value(id?);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

fn person(
    doc: &Document,
    participation: NodeId,
    assigned: Option<NodeId>,
    person_name: &str,
) -> Person {
    let id = assigned
        .and_then(|a| doc.child_named(a, HL7_NS, "id"))
        .and_then(|i| InstanceId::read(doc, i));
    let name = assigned
        .and_then(|a| path(doc, a, &[person_name, "name"]))
        .and_then(|n| person_name_text(doc, n));
    let time = doc
        .child_named(participation, HL7_NS, "time")
        .and_then(|t| non_empty_attr(doc, t, "value"));
    Person { id, name, time }
}

/// `given… family…` of a `PN`, or its plain text when it has no parts.
fn person_name_text(doc: &Document, name: NodeId) -> Option<String> {
    let parts = |part: &str| -> Vec<String> {
        doc.children_named(name, HL7_NS, part)
            .filter_map(|p| text_of(doc, Some(p)))
            .collect()
    };
    let mut words = parts("given");
    words.extend(parts("family"));
    if words.is_empty() {
        text_of(doc, Some(name))
    } else {
        Some(words.join(" "))
    }
}

/// The service period: `documentationOf/serviceEvent/effectiveTime`, else
/// `componentOf/encompassingEncounter/effectiveTime` (an LDO's stay).
/// `low`/`high` give start and stop; a bare `@value` gives the start.
fn service_period(doc: &Document, root: NodeId) -> (Option<String>, Option<String>) {
    let candidates = [
        path(
            doc,
            root,
            &["documentationOf", "serviceEvent", "effectiveTime"],
        ),
        path(
            doc,
            root,
            &["componentOf", "encompassingEncounter", "effectiveTime"],
        ),
    ];
    for time in candidates.into_iter().flatten() {
        let bound = |name: &str| {
            doc.child_named(time, HL7_NS, name)
                .and_then(|b| doc.attr(b, "value"))
                .and_then(gateway_timestamp)
        };
        let start = bound("low").or_else(|| doc.attr(time, "value").and_then(gateway_timestamp));
        let stop = bound("high");
        if start.is_some() || stop.is_some() {
            return (start, stop);
        }
    }
    (None, None)
}

/// Turns an HL7 `TS` (`YYYY[MM[DD[HH[MM[SS[.S+]]]]]][±ZZZZ]`) into the
/// Gateway's `yyyyMMddHHmmss`: missing parts become zero, fractions are
/// dropped and a time zone offset is applied so the result is UTC, as XDS
/// service times are. `None` when the value is not a timestamp.
pub fn gateway_timestamp(ts: &str) -> Option<String> {
    let ts = ts.trim();
    let (body, offset) = match ts.find(['+', '-']) {
        Some(at) => (&ts[..at], Some(&ts[at..])),
        None => (ts, None),
    };
    let body = body.split('.').next().unwrap_or(body);
    if body.len() < 4
        || body.len() > 14
        || body.len() % 2 != 0
        || !body.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let field = |at: usize, default: u32| -> u32 {
        body.get(at..at + 2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let year: i32 = body.get(..4)?.parse().ok()?;
    let (month, day, hour, minute, second) = (
        field(4, 1),
        field(6, 1),
        field(8, 0),
        field(10, 0),
        field(12, 0),
    );
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second.min(59)).ok()?,
    )
    .ok()?;
    let mut moment = time::PrimitiveDateTime::new(date, clock);
    if let Some(offset) = offset {
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let digits = &offset[1..];
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let hours: i64 = digits[..2].parse().ok()?;
        let minutes: i64 = digits[2..].parse().ok()?;
        moment -= time::Duration::minutes(sign * (hours * 60 + minutes));
    }
    let format = time::macros::format_description!("[year][month][day][hour][minute][second]");
    moment.format(format).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_become_utc_seconds() {
        assert_eq!(
            gateway_timestamp("20220330112426+0100").as_deref(),
            Some("20220330102426")
        );
        assert_eq!(
            gateway_timestamp("20220101003000+0100").as_deref(),
            Some("20211231233000")
        );
        assert_eq!(
            gateway_timestamp("20220330112426-0230").as_deref(),
            Some("20220330135426")
        );
        assert_eq!(
            gateway_timestamp("20220330").as_deref(),
            Some("20220330000000")
        );
        assert_eq!(
            gateway_timestamp("202203301124").as_deref(),
            Some("20220330112400")
        );
        assert_eq!(
            gateway_timestamp("20220330112426.123+0000").as_deref(),
            Some("20220330112426")
        );
        assert_eq!(gateway_timestamp("2022033"), None);
        assert_eq!(gateway_timestamp("20221330"), None);
        assert_eq!(gateway_timestamp("20220330+01"), None);
        assert_eq!(gateway_timestamp("UNK"), None);
        assert_eq!(gateway_timestamp(""), None);
    }

    #[test]
    fn patient_id_kinds_follow_the_roots() {
        for (root, kind) in [
            (OID_FISCAL_CODE, PatientIdKind::FiscalCode),
            ("2.16.840.1.113883.2.9.4.3.3", PatientIdKind::Team),
            ("2.16.840.1.113883.2.9.4.3.17", PatientIdKind::Stp),
            ("2.16.840.1.113883.2.9.4.3.18", PatientIdKind::Eni),
            ("2.16.840.1.113883.2.9.4.3.15", PatientIdKind::Ana),
            ("2.16.840.1.113883.2.9.2.90.4.1", PatientIdKind::Regional),
            ("2.16.840.1.113883.2.9.2.120.4.1.1", PatientIdKind::Regional),
            ("2.16.840.1.113883.2.9.2.99.4.1", PatientIdKind::Other),
            ("2.16.840.1.113883.2.9.2.90.4.4", PatientIdKind::Other),
            ("2.16.840.1.113883.9.9.9.9.9.9", PatientIdKind::Other),
        ] {
            assert_eq!(PatientIdKind::from_root(root), kind, "{root}");
        }
    }

    #[test]
    fn patient_ids_are_masked_in_debug_output() {
        let id = PatientId {
            root: OID_FISCAL_CODE.into(),
            extension: "RSSMRA80A01H501U".into(),
            kind: PatientIdKind::FiscalCode,
        };
        let shown = format!("{id:?}");
        assert!(!shown.contains("RSSMRA80A01H501U"), "{shown}");
        assert!(shown.contains("RSS*************"), "{shown}");
    }
}
