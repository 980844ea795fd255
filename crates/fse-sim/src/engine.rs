//! What the Gateway does with the file: take the CDA out of the PDF, check
//! the PAdES signature, read the CDA's header, hash it for the cda-match
//! link, and validate it.
//!
//! The PDF side sits behind [`PdfInspector`], so that tests can feed the
//! Gateway semantics without building PDFs; [`PadesInspector`] is the real
//! one (fse-pades). The CDA side is fse-cda's.

use std::path::Path;
use std::sync::Arc;

use fse_cda::xml::Document;
use fse_cda::{Metadata, Outcome, Report, Validator};

use crate::body::Mode;
use crate::error::{Error, Result};

/// The state of a PDF's signature, as the Gateway's publication check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureState {
    /// No signature dictionary.
    Unsigned,
    /// The last signature field's CMS verifies and has `/M`.
    Valid,
    /// Signed, but the CMS does not verify or `/M` is missing.
    Invalid(String),
}

/// The PDF side of the Gateway.
pub trait PdfInspector: Send + Sync + std::fmt::Debug {
    /// The CDA bytes in `pdf`, looked for in `mode`, or with `None` in
    /// RESOURCE then ATTACHMENT (the Gateway's order).
    ///
    /// # Errors
    /// A message saying why no CDA was found.
    fn extract(&self, pdf: &[u8], mode: Option<Mode>) -> std::result::Result<Vec<u8>, String>;

    /// The signature state of `pdf`.
    fn signature(&self, pdf: &[u8]) -> SignatureState;
}

/// The facts the Gateway reads from a CDA.
#[derive(Debug, Clone)]
pub struct CdaFacts {
    /// `ClinicalDocument/id` `@root` and `@extension`.
    pub document_id: Option<(String, String)>,
    /// The `@extension` of every `recordTarget/patientRole/id`.
    pub patient_extensions: Vec<String>,
    /// The first patient id, masked, for inspection.
    pub patient_masked: Option<String>,
    /// `ClinicalDocument/code` `@code` and `@codeSystem`.
    pub code: Option<(String, String)>,
    /// The cda-match hash.
    pub cda_hash: String,
}

/// The validator's verdict, in the Gateway's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted, with these warnings.
    Accepted(Vec<String>),
    /// 400 `/msg/syntax`.
    Syntax(String),
    /// 422 `/msg/semantic`.
    Semantic(String),
    /// 400 `/msg/vocabulary`.
    Vocabulary(String),
}

/// The CDA side: fse-cda's validator (official rules, or structure only)
/// and header reading.
#[derive(Debug, Clone)]
pub struct CdaEngine {
    validator: Arc<Validator>,
    official_rules: bool,
}

impl CdaEngine {
    /// The built-in checks: well-formedness and XSD structure only.
    pub fn built_in() -> Self {
        CdaEngine {
            validator: Arc::new(Validator::structure_only()),
            official_rules: false,
        }
    }

    /// The official rules from a catalogs directory (schematrons,
    /// terminology).
    ///
    /// # Errors
    /// When the validator cannot load the rules.
    pub fn from_rules_dir(dir: &Path) -> Result<Self> {
        let validator = Validator::from_rules_dir(dir).map_err(|e| Error::Rules {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(CdaEngine {
            validator: Arc::new(validator),
            official_rules: true,
        })
    }

    /// The validator (to validate locally exactly as the simulator does).
    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    /// Whether the official rules are loaded.
    pub fn has_official_rules(&self) -> bool {
        self.official_rules
    }

    /// Parses the CDA.
    ///
    /// # Errors
    /// The parser's message, for a 400 `/msg/syntax`.
    pub fn parse(&self, cda: &[u8]) -> std::result::Result<Document, String> {
        Document::parse(cda).map_err(|e| e.to_string())
    }

    /// Reads the facts of a parsed CDA.
    pub fn facts(&self, doc: &Document) -> CdaFacts {
        let cda_hash = fse_cda::cda_match_hash(doc);
        match Metadata::from_document(doc) {
            Ok(m) => {
                let patient_masked = m
                    .patient_ids
                    .first()
                    .map(|p| fse_cda::metadata::mask(&p.extension));
                CdaFacts {
                    document_id: m
                        .document_id
                        .extension
                        .clone()
                        .map(|ext| (m.document_id.root.clone(), ext)),
                    patient_extensions: m.patient_ids.iter().map(|p| p.extension.clone()).collect(),
                    patient_masked,
                    code: Some((m.code.clone(), m.code_system.clone())),
                    cda_hash,
                }
            }
            Err(_) => CdaFacts {
                document_id: None,
                patient_extensions: Vec::new(),
                patient_masked: None,
                code: None,
                cda_hash,
            },
        }
    }

    /// Validates a parsed CDA.
    pub fn validate(&self, doc: &Document) -> Verdict {
        let report = self.validator.validate_document(doc, Default::default());
        verdict(&report)
    }
}

fn verdict(report: &Report) -> Verdict {
    let describe = |findings: &[fse_cda::Finding]| {
        let parts: Vec<String> = findings
            .iter()
            .take(20)
            .map(|f| match f.line {
                Some(line) => format!("[{} | line {line}: {}]", f.id, f.message),
                None => format!("[{} | {}]", f.id, f.message),
            })
            .collect();
        let more = findings.len().saturating_sub(20);
        let mut text = parts.join(" ");
        if more > 0 {
            text.push_str(&format!(" ... ({more} more)"));
        }
        text
    };
    match report.outcome {
        Outcome::Ok | Outcome::SemanticWarning => Verdict::Accepted(
            report
                .warnings
                .iter()
                .map(|w| format!("[{} | {}]", w.id, w.message))
                .collect(),
        ),
        Outcome::SyntaxError => Verdict::Syntax(describe(&report.xsd_errors)),
        Outcome::SemanticError => Verdict::Semantic(describe(&report.errors)),
        Outcome::VocabularyError => Verdict::Vocabulary(describe(&report.errors)),
    }
}

/// The real PDF side, over fse-pades: extraction as the Gateway does it,
/// and its signature check (the last signature field decides: its CMS must
/// verify over `/ByteRange` with the certificate inside it, and `/M` must
/// be present).
#[derive(Debug, Clone, Copy, Default)]
pub struct PadesInspector;

impl PdfInspector for PadesInspector {
    fn extract(&self, pdf: &[u8], mode: Option<Mode>) -> std::result::Result<Vec<u8>, String> {
        let found = match mode {
            Some(Mode::Attachment) => fse_pades::extract_mode(pdf, fse_pades::Mode::Attachment),
            Some(Mode::Resource) => fse_pades::extract_mode(pdf, fse_pades::Mode::Resource),
            None => fse_pades::extract(pdf),
        };
        found.map(|cda| cda.bytes).map_err(|e| e.to_string())
    }

    fn signature(&self, pdf: &[u8]) -> SignatureState {
        match fse_pades::verify(pdf) {
            Err(e) => SignatureState::Invalid(e.to_string()),
            Ok(report) => match report.signatures.last() {
                None => SignatureState::Unsigned,
                Some(last) if last.valid => SignatureState::Valid,
                Some(last) => SignatureState::Invalid(last.problems.join("; ")),
            },
        }
    }
}
