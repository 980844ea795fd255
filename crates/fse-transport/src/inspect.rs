//! What the pre-flight needs to know of the PDF being sent: the CDA inside
//! it (patient ids, document code, confidentiality) and its PAdES
//! signature.
//!
//! The client gets these [`DocumentFacts`] from a [`DocumentInspector`];
//! the default one reads the PDF with fse-pades and the CDA with fse-cda.
//! A caller that already holds them (it just built and signed the PDF) can
//! hand them over instead.

use serde::Serialize;

/// One `recordTarget/patientRole/id` of the CDA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatientIdFact {
    /// `@root`: the authority (MEF fiscal codes, TEAM cards, ...).
    pub root: String,
    /// `@extension`: the id.
    pub extension: String,
}

/// The PAdES signature of the PDF, as the Gateway checks it (the last
/// signature field decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SignatureFact {
    /// An AcroForm `/Sig` field with a signature value is present.
    pub present: bool,
    /// The last signature dictionary has `/M` (signing time).
    pub has_signing_time: bool,
    /// The last signature's CMS verifies over its `/ByteRange`.
    pub valid: bool,
}

/// What the pre-flight checks against, taken from the PDF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentFacts {
    /// `ClinicalDocument/id` as `root^extension`, when present.
    pub clinical_document_id: Option<String>,
    /// The patient ids of the CDA.
    pub patient_ids: Vec<PatientIdFact>,
    /// The first `ClinicalDocument/code/@code`.
    pub code: Option<String>,
    /// Its `@codeSystem`.
    pub code_system: Option<String>,
    /// `resource_hl7_type` as the Gateway derives it from the CDA, when
    /// known; else derived from `code` and `code_system`.
    pub resource_hl7_type: Option<String>,
    /// `confidentialityCode/@code` (`N`, `R`, `V`).
    pub confidentiality: Option<String>,
    /// The PAdES signature; `None` when it was not examined.
    pub signature: Option<SignatureFact>,
}

impl DocumentFacts {
    /// `resource_hl7_type` as the Gateway derives it: `('code^^codeSystem')`.
    pub fn resource_hl7_type(&self) -> Option<String> {
        if let Some(t) = &self.resource_hl7_type {
            return Some(t.clone());
        }
        match (&self.code, &self.code_system) {
            (Some(c), Some(s)) => fse_model::Oid::parse(s)
                .ok()
                .map(|oid| crate::jwt::resource_hl7_type(c, &oid)),
            _ => None,
        }
    }

    /// The first patient id whose authority is the MEF fiscal-code OID.
    pub fn patient_fiscal_code(&self) -> Option<&str> {
        self.patient_ids
            .iter()
            .find(|p| p.root == MEF_FISCAL_CODE_ROOT)
            .map(|p| p.extension.as_str())
    }
}

/// The authority OID of fiscal codes.
pub const MEF_FISCAL_CODE_ROOT: &str = "2.16.840.1.113883.2.9.4.3.2";

/// Reads [`DocumentFacts`] from PDF bytes.
pub trait DocumentInspector: Send + Sync + std::fmt::Debug {
    /// The facts of `pdf`, or why they cannot be read (no `cda.xml`,
    /// unreadable PDF or CDA).
    ///
    /// # Errors
    /// A message naming what is wrong.
    fn inspect(&self, pdf: &[u8]) -> Result<DocumentFacts, String>;
}

/// The default inspector: the CDA is extracted with fse-pades the way the
/// Gateway finds it, read with fse-cda, and the signatures are verified with
/// fse-pades.
#[derive(Debug, Clone, Copy, Default)]
pub struct PadesInspector;

impl DocumentInspector for PadesInspector {
    fn inspect(&self, pdf: &[u8]) -> Result<DocumentFacts, String> {
        let cda = fse_pades::extract(pdf).map_err(|e| format!("no CDA found in the PDF: {e}"))?;
        let metadata = fse_cda::Metadata::from_bytes(&cda.bytes)
            .map_err(|e| format!("the CDA in the PDF cannot be read: {e}"))?;
        let report = fse_pades::verify(pdf).map_err(|e| format!("the PDF cannot be read: {e}"))?;
        let last = report.signatures.last();
        Ok(facts_of(
            &metadata,
            Some(SignatureFact {
                present: last.is_some(),
                has_signing_time: last.is_some_and(|s| s.claimed_time.is_some()),
                valid: last.is_some_and(|s| s.valid),
            }),
        ))
    }
}

/// The facts of a CDA's metadata, with the signature examined elsewhere.
pub fn facts_of(metadata: &fse_cda::Metadata, signature: Option<SignatureFact>) -> DocumentFacts {
    DocumentFacts {
        clinical_document_id: Some(metadata.document_id.to_string()),
        patient_ids: metadata
            .patient_ids
            .iter()
            .map(|p| PatientIdFact {
                root: p.root.clone(),
                extension: p.extension.clone(),
            })
            .collect(),
        code: Some(metadata.code.clone()),
        code_system: Some(metadata.code_system.clone()),
        resource_hl7_type: Some(metadata.resource_hl7_type.clone()),
        confidentiality: metadata
            .confidentiality_code
            .as_ref()
            .map(|c| c.code().to_owned()),
        signature,
    }
}
