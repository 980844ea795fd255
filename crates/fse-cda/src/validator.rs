//! The Gateway's verdict on a CDA2 document: [`Validator`] and [`Report`].
//!
//! The national Gateway validates a CDA2 in stages and answers with the
//! first blocking failure: **syntax** (XSD, 400 `/msg/syntax`), **semantic**
//! (a failed schematron assert, 422 `/msg/semantic`; successful reports are
//! warnings) and **vocabulary** (terminology, 400 `/msg/vocabulary`). A
//! [`Validator`] runs the same stages over our own engines and tells the
//! [`Outcome`] the Gateway would give, with every finding.
//!
//! ```no_run
//! use fse_cda::{Outcome, Validator};
//!
//! # fn main() -> fse_cda::Result<()> {
//! // Built once (it compiles the 22 official schematrons), then shared
//! // across threads: `Validator` is `Send + Sync`.
//! let validator = Validator::from_rules_dir("rules")?;
//! let report = validator.validate(&std::fs::read("LAB.xml").unwrap_or_default());
//! println!("{} with {:?}", report.outcome, report.schematron);
//! for finding in report.errors.iter().chain(&report.warnings) {
//!     println!("{} line {:?} at {}: {}", finding.id, finding.line, finding.location, finding.message);
//! }
//! if report.outcome.is_blocking() { /* the Gateway would refuse it */ }
//! # Ok(()) }
//! ```
//!
//! # Rules directory
//! [`Validator::from_rules_dir`] reads a directory laid out like the
//! national `it-fse-catalogs` repository:
//! - `schematron/*.sch` (required): the ISO schematrons, with an optional
//!   `schematron/index.json` mapping `template_id_root` to file and version
//!   (without it, the files are scanned for the templateId root they
//!   assert and the version in their name);
//! - `terminology/*.csv` (optional): one code system per file, named by its
//!   OID, with lines `version,code,description,release_date`. Without it the
//!   vocabulary stage does not run and the report says so.
//!
//! Without any rules, [`Validator::structure_only`] still parses and checks
//! the XSD structure; the report says schematron and vocabulary were not run.
//!
//! # Stages and outcome
//! By default every stage that can run does (schematron findings are useful
//! even on a document the XSD rejects); the [`Outcome`] is nevertheless the
//! Gateway's, decided by the first failing stage in Gateway order. With
//! [`ValidationOptions::stop_at_first_failure`] the later stages are skipped,
//! exactly as the Gateway does. [`ValidationOptions::skip_vocabulary`] skips
//! terminology, as the Gateway does for Sistema TS (`system=TS`).
//!
//! # Finding ids
//! - schematron: the leading token of the message (`ERRORE-5`, `W001`,
//!   `ERRORE b15`), as the reference results count them; `XPATH_ERROR` when
//!   a test raised a dynamic XPath error (none does on the reference
//!   corpus); `SCHEMATRON_NOT_FOUND` when no schematron has the document's
//!   first templateId root;
//! - syntax: `XML` (not well-formed, or beyond the parser's limits), `XSD`
//!   (libxml2's message), `XSD_SCHEMA_NOT_FOUND` (the first
//!   `typeId/@extension` names no known XSD set);
//! - vocabulary: errors `VOCABULARY_BLOCKLIST`, `VOCABULARY_VERSION`,
//!   `VOCABULARY_CODE` (messages as the Gateway words them), warnings
//!   `VOCABULARY_UNKNOWN_SYSTEM` (the Gateway only logs these) and
//!   `VOCABULARY_NOT_CHECKED` (a managed system whose codes are not
//!   installed: LOINC and AIC are not published with the catalogs).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::schematron::{SchematronSet, Severity as RuleSeverity};
use crate::vocabulary::Terminology;
use crate::xml::{Document, NodeId};

/// What the Gateway answers about a document (`RawValidationEnum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Outcome {
    /// Every stage passed with no warning (`OK`, raw code `00`).
    #[serde(rename = "OK")]
    Ok,
    /// The document is not well-formed or not valid against the XSD
    /// (`SYNTAX_ERROR`, `01`, HTTP 400 `/msg/syntax`).
    #[serde(rename = "SYNTAX_ERROR")]
    SyntaxError,
    /// A schematron assert failed, or no schematron exists for the
    /// document's templateId (`SEMANTIC_ERROR`, `03`, HTTP 422 `/msg/semantic`).
    #[serde(rename = "SEMANTIC_ERROR")]
    SemanticError,
    /// A code is not in its managed code system, a code system is
    /// blocklisted or its version unmanaged (`VOCABULARY_ERROR`, `02`,
    /// HTTP 400 `/msg/vocabulary`).
    #[serde(rename = "VOCABULARY_ERROR")]
    VocabularyError,
    /// No error, but schematron reports fired (`SEMANTIC_WARNING`, `05`):
    /// the Gateway accepts the document and returns the warnings.
    #[serde(rename = "SEMANTIC_WARNING")]
    SemanticWarning,
}

impl Outcome {
    /// The wire name: `OK`, `SYNTAX_ERROR`, `SEMANTIC_ERROR`,
    /// `VOCABULARY_ERROR`, `SEMANTIC_WARNING`.
    pub fn wire_name(self) -> &'static str {
        match self {
            Outcome::Ok => "OK",
            Outcome::SyntaxError => "SYNTAX_ERROR",
            Outcome::SemanticError => "SEMANTIC_ERROR",
            Outcome::VocabularyError => "VOCABULARY_ERROR",
            Outcome::SemanticWarning => "SEMANTIC_WARNING",
        }
    }

    /// The Gateway's raw code (`00` OK … `05` semantic warning).
    pub fn raw_code(self) -> &'static str {
        match self {
            Outcome::Ok => "00",
            Outcome::SyntaxError => "01",
            Outcome::VocabularyError => "02",
            Outcome::SemanticError => "03",
            Outcome::SemanticWarning => "05",
        }
    }

    /// Whether the Gateway refuses the document.
    pub fn is_blocking(self) -> bool {
        matches!(
            self,
            Outcome::SyntaxError | Outcome::SemanticError | Outcome::VocabularyError
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// The stage of validation a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Well-formedness (the parser) and XSD structure.
    Syntax,
    /// The ISO schematron of the document type.
    Schematron,
    /// Terminology (code systems and codes).
    Vocabulary,
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Blocks the document (failed assert, XSD error, vocabulary error).
    Error,
    /// Returned by the Gateway but does not block (successful report,
    /// unknown code system).
    Warning,
}

/// One problem found in a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The stage that raised it.
    pub stage: Stage,
    /// The identifier: for schematron, the leading token of the message
    /// (`ERRORE-5`, `W001`, `ERRORE b15`); for the other stages a stable
    /// code of ours (`XML`, `XSD`, `VOCABULARY_CODE`, ...).
    pub id: String,
    /// Error or warning.
    pub severity: Severity,
    /// The message, with schematron `<name/>` and `<value-of>` expanded
    /// and runs of whitespace collapsed to one space.
    pub message: String,
    /// Where: an XPath to the node (`/ClinicalDocument[1]/author[1]`), or
    /// empty when the finding concerns the whole document.
    pub location: String,
    /// 1-based line of the node in the source, when known.
    pub line: Option<u32>,
}

/// Why a stage did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotRun {
    /// The document could not be parsed.
    NotParsed,
    /// No rules for this stage are installed in the validator.
    NoRules,
    /// Skipped on request ([`ValidationOptions::skip_vocabulary`], as for
    /// Sistema TS).
    Skipped,
    /// An earlier stage failed and [`ValidationOptions::stop_at_first_failure`]
    /// was set, as the Gateway does.
    EarlierStageFailed,
    /// No schematron matches the document's first templateId root.
    NoSchematron,
}

/// What happened to one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum StageStatus {
    /// The stage ran and found no error.
    Passed,
    /// The stage ran and found at least one error.
    Failed,
    /// The stage did not run.
    NotRun(NotRun),
}

/// What happened to each stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stages {
    /// Parsing and XSD structure.
    pub syntax: StageStatus,
    /// Schematron.
    pub schematron: StageStatus,
    /// Vocabulary.
    pub vocabulary: StageStatus,
}

/// The verdict on one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The Gateway's outcome.
    pub outcome: Outcome,
    /// The file name of the schematron chosen (`schematronFSE_LAB_v27.1.sch`),
    /// when one was.
    pub schematron: Option<String>,
    /// The root of the document's first `templateId`, which chose it.
    pub template_id_root: Option<String>,
    /// Well-formedness and XSD errors (stage [`Stage::Syntax`]).
    pub xsd_errors: Vec<Finding>,
    /// Schematron failed asserts and vocabulary errors, in document order
    /// within each stage.
    pub errors: Vec<Finding>,
    /// Schematron successful reports and vocabulary warnings.
    pub warnings: Vec<Finding>,
    /// What ran and what did not.
    pub stages: Stages,
}

impl Report {
    fn new(not_run: NotRun) -> Report {
        Report {
            outcome: Outcome::Ok,
            schematron: None,
            template_id_root: None,
            xsd_errors: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            stages: Stages {
                syntax: StageStatus::Passed,
                schematron: StageStatus::NotRun(not_run),
                vocabulary: StageStatus::NotRun(not_run),
            },
        }
    }

    /// Every finding: XSD errors, errors, then warnings.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.xsd_errors
            .iter()
            .chain(&self.errors)
            .chain(&self.warnings)
    }
}

/// Per-call choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValidationOptions {
    /// Skip the vocabulary stage, as the Gateway does for documents sent by
    /// Sistema TS (`system=TS`).
    pub skip_vocabulary: bool,
    /// Stop at the first stage that fails, as the Gateway does. By default
    /// every stage that can run does, so one pass shows every problem; the
    /// outcome is the same either way.
    pub stop_at_first_failure: bool,
}

/// Validates CDA2 documents as the Gateway does. Build it once; it is
/// `Send + Sync` and [`validate`](Validator::validate) takes `&self`.
#[derive(Debug)]
pub struct Validator {
    schematrons: Option<SchematronSet>,
    terminology: Option<Terminology>,
    rules_dir: Option<PathBuf>,
    options: ValidationOptions,
}

impl Validator {
    /// Loads and compiles the rules of a catalogs directory (see the
    /// module doc for the layout).
    ///
    /// # Errors
    /// When the directory or its `schematron/` folder cannot be read, a
    /// schematron does not compile, the index is malformed, or a
    /// terminology file is malformed.
    pub fn from_rules_dir(dir: impl AsRef<Path>) -> Result<Validator> {
        let dir = dir.as_ref();
        let schematron_dir = dir.join("schematron");
        if !schematron_dir.is_dir() {
            return Err(Error::NotARulesDir {
                path: dir.to_path_buf(),
            });
        }
        let terminology_dir = dir.join("terminology");
        // Terminology loads while the schematrons compile.
        let (schematrons, terminology) = std::thread::scope(|s| {
            let terminology = s.spawn(|| {
                if terminology_dir.is_dir() {
                    Terminology::load_dir(&terminology_dir).map(Some)
                } else {
                    Ok(None)
                }
            });
            let schematrons = SchematronSet::load_dir(&schematron_dir);
            let terminology = terminology.join().unwrap_or_else(|_| {
                Err(Error::Terminology {
                    file: String::new(),
                    line: 0,
                    message: "the loader thread stopped".into(),
                })
            });
            (schematrons, terminology)
        });
        let (schematrons, terminology) = (schematrons?, terminology?);
        Ok(Validator {
            schematrons: Some(schematrons),
            terminology,
            rules_dir: Some(dir.to_path_buf()),
            options: ValidationOptions::default(),
        })
    }

    /// A validator with no rules installed: it parses and checks the XSD
    /// structure only; reports say schematron and vocabulary did not run
    /// ([`NotRun::NoRules`]).
    pub fn structure_only() -> Validator {
        Validator {
            schematrons: None,
            terminology: None,
            rules_dir: None,
            options: ValidationOptions::default(),
        }
    }

    /// Assembles a validator from parts already loaded.
    pub fn from_parts(
        schematrons: Option<SchematronSet>,
        terminology: Option<Terminology>,
    ) -> Validator {
        Validator {
            schematrons,
            terminology,
            rules_dir: None,
            options: ValidationOptions::default(),
        }
    }

    /// The same validator with other default options.
    #[must_use]
    pub fn with_options(mut self, options: ValidationOptions) -> Validator {
        self.options = options;
        self
    }

    /// The default options of [`validate`](Validator::validate).
    pub fn options(&self) -> ValidationOptions {
        self.options
    }

    /// The rules directory it was loaded from, if any.
    pub fn rules_dir(&self) -> Option<&Path> {
        self.rules_dir.as_deref()
    }

    /// The schematrons loaded, if any.
    pub fn schematrons(&self) -> Option<&SchematronSet> {
        self.schematrons.as_ref()
    }

    /// The terminology loaded, if any.
    pub fn terminology(&self) -> Option<&Terminology> {
        self.terminology.as_ref()
    }

    /// Validates a document with the default options.
    pub fn validate(&self, bytes: &[u8]) -> Report {
        self.validate_with(bytes, self.options)
    }

    /// Validates a document with these options.
    pub fn validate_with(&self, bytes: &[u8], options: ValidationOptions) -> Report {
        let doc = match Document::parse(bytes) {
            Ok(doc) => doc,
            Err(err) => {
                let mut report = Report::new(NotRun::NotParsed);
                report.xsd_errors.push(Finding {
                    stage: Stage::Syntax,
                    id: "XML".into(),
                    severity: Severity::Error,
                    message: err.to_string(),
                    location: String::new(),
                    line: error_line(&err),
                });
                report.stages.syntax = StageStatus::Failed;
                report.outcome = Outcome::SyntaxError;
                return report;
            }
        };
        self.validate_document(&doc, options)
    }

    /// Validates an already parsed document.
    pub fn validate_document(&self, doc: &Document, options: ValidationOptions) -> Report {
        let mut report = Report::new(NotRun::NoRules);
        self.validate_document_into(doc, options, &mut report);
        report
    }

    fn validate_document_into(
        &self,
        doc: &Document,
        options: ValidationOptions,
        report: &mut Report,
    ) {
        // 1. Structure.
        report.xsd_errors.extend(structure_findings(doc));
        let syntax_failed = !report.xsd_errors.is_empty();
        report.stages.syntax = if syntax_failed {
            StageStatus::Failed
        } else {
            StageStatus::Passed
        };

        // 2. Schematron.
        report.template_id_root = first_template_id_root(doc).map(str::to_string);
        let mut semantic_failed = false;
        report.stages.schematron = match &self.schematrons {
            None => StageStatus::NotRun(NotRun::NoRules),
            Some(_) if syntax_failed && options.stop_at_first_failure => {
                StageStatus::NotRun(NotRun::EarlierStageFailed)
            }
            Some(set) => {
                let chosen = report
                    .template_id_root
                    .as_deref()
                    .and_then(|root| set.select(root));
                match chosen {
                    None => {
                        semantic_failed = true;
                        report.errors.push(Finding {
                            stage: Stage::Schematron,
                            id: "SCHEMATRON_NOT_FOUND".into(),
                            severity: Severity::Error,
                            message: format!(
                                "Schematron with template id root {} not found",
                                report
                                    .template_id_root
                                    .as_deref()
                                    .unwrap_or("(no templateId)")
                            ),
                            location: String::new(),
                            line: None,
                        });
                        StageStatus::NotRun(NotRun::NoSchematron)
                    }
                    Some(schematron) => {
                        report.schematron = Some(schematron.file_name().to_string());
                        for hit in schematron.run(doc) {
                            let finding = Finding {
                                stage: Stage::Schematron,
                                id: hit.id,
                                severity: match hit.severity {
                                    RuleSeverity::Error => Severity::Error,
                                    RuleSeverity::Warning => Severity::Warning,
                                },
                                message: hit.message,
                                location: hit.location,
                                line: hit.line,
                            };
                            match finding.severity {
                                Severity::Error => report.errors.push(finding),
                                Severity::Warning => report.warnings.push(finding),
                            }
                        }
                        semantic_failed = !report.errors.is_empty();
                        if semantic_failed {
                            StageStatus::Failed
                        } else {
                            StageStatus::Passed
                        }
                    }
                }
            }
        };

        // 3. Vocabulary.
        let earlier_failed = syntax_failed || semantic_failed;
        let mut vocabulary_failed = false;
        report.stages.vocabulary = match &self.terminology {
            _ if options.skip_vocabulary => StageStatus::NotRun(NotRun::Skipped),
            None => StageStatus::NotRun(NotRun::NoRules),
            Some(_) if earlier_failed && options.stop_at_first_failure => {
                StageStatus::NotRun(NotRun::EarlierStageFailed)
            }
            Some(terminology) => {
                for finding in terminology.check(doc) {
                    match finding.severity {
                        Severity::Error => {
                            vocabulary_failed = true;
                            report.errors.push(finding);
                        }
                        Severity::Warning => report.warnings.push(finding),
                    }
                }
                if vocabulary_failed {
                    StageStatus::Failed
                } else {
                    StageStatus::Passed
                }
            }
        };

        report.outcome = if syntax_failed {
            Outcome::SyntaxError
        } else if semantic_failed {
            Outcome::SemanticError
        } else if vocabulary_failed {
            Outcome::VocabularyError
        } else if report.warnings.iter().any(|w| w.stage == Stage::Schematron) {
            Outcome::SemanticWarning
        } else {
            Outcome::Ok
        };
    }
}

/// The XSD stage ([`crate::xsd`]): libxml2's verdict against the set the
/// first `typeId/@extension` selects; an unknown set is itself an error,
/// as at the Gateway ("Schema with version … not found").
fn structure_findings(doc: &Document) -> Vec<Finding> {
    match crate::xsd::validate(doc) {
        Ok(found) => found
            .into_iter()
            .map(|x| Finding {
                stage: Stage::Syntax,
                id: "XSD".into(),
                severity: Severity::Error,
                message: x.message,
                location: x.location,
                line: Some(x.line),
            })
            .collect(),
        Err(e) => vec![Finding {
            stage: Stage::Syntax,
            id: "XSD_SCHEMA_NOT_FOUND".into(),
            severity: Severity::Error,
            message: e.to_string(),
            location: String::new(),
            line: None,
        }],
    }
}

/// The root of the first `templateId` in document order: what the Gateway
/// chooses the schematron by. As the Gateway finds it (with an HTML parser,
/// `select("templateid")`), the element is recognised by its name as
/// written, in any case, whatever its namespace.
pub fn first_template_id_root(doc: &Document) -> Option<&str> {
    let first = doc
        .descendants(NodeId::DOCUMENT)
        .find(|&n| doc.is_element(n) && doc.qualified_name(n).eq_ignore_ascii_case("templateid"))?;
    doc.attr(first, "root")
}

fn error_line(err: &Error) -> Option<u32> {
    match err {
        Error::DtdForbidden { line, .. }
        | Error::TooDeep { line, .. }
        | Error::UndefinedEntity { line, .. }
        | Error::UndeclaredPrefix { line, .. }
        | Error::Truncated { line, .. }
        | Error::NotWellFormed { line, .. } => Some(*line),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn validator_is_send_and_sync() {
        assert_send_sync::<Validator>();
        assert_send_sync::<Report>();
    }

    #[test]
    fn the_first_template_id_is_found_as_the_gateway_finds_it() {
        let doc = Document::parse(
            b"<ClinicalDocument xmlns='urn:hl7-org:v3' xmlns:x='urn:x'><x:templateId root='A'/><TEMPLATEID root='B'/><templateId root='C'/></ClinicalDocument>",
        )
        .unwrap();
        // By the name as written, in any case: a prefixed name is another tag.
        assert_eq!(first_template_id_root(&doc), Some("B"));
        let none = Document::parse(b"<ClinicalDocument/>").unwrap();
        assert_eq!(first_template_id_root(&none), None);
    }

    #[test]
    fn outcome_codes_follow_the_gateway() {
        assert_eq!(Outcome::SemanticError.raw_code(), "03");
        assert_eq!(Outcome::VocabularyError.raw_code(), "02");
        assert_eq!(Outcome::SemanticWarning.to_string(), "SEMANTIC_WARNING");
        assert!(!Outcome::SemanticWarning.is_blocking());
        assert!(Outcome::SyntaxError.is_blocking());
        assert_eq!(serde_json::to_string(&Outcome::Ok).unwrap(), "\"OK\"");
    }

    #[test]
    fn structure_only_reports_a_malformed_document_as_syntax_error() {
        let report = Validator::structure_only()
            .validate(b"<ClinicalDocument xmlns='urn:hl7-org:v3'><x></ClinicalDocument>");
        assert_eq!(report.outcome, Outcome::SyntaxError);
        assert_eq!(report.xsd_errors.len(), 1);
        assert_eq!(report.xsd_errors[0].line, Some(1));
        assert_eq!(
            report.stages.schematron,
            StageStatus::NotRun(NotRun::NotParsed)
        );
    }

    #[test]
    fn structure_only_checks_the_xsd_and_says_the_rest_did_not_run() {
        let report = Validator::structure_only().validate(
            b"<ClinicalDocument xmlns='urn:hl7-org:v3'><typeId root='2.16.840.1.113883.1.3' extension='POCD_MT000040UV02'/><templateId root='2.16.840.1.113883.2.9.10.1.1'/></ClinicalDocument>",
        );
        // A bare header misses required elements: the XSD stage says so.
        assert_eq!(report.outcome, Outcome::SyntaxError);
        assert!(
            report
                .xsd_errors
                .iter()
                .all(|f| f.id == "XSD" && f.stage == Stage::Syntax)
        );
        assert!(
            report.xsd_errors[0]
                .message
                .contains("Missing child element"),
            "{:?}",
            report.xsd_errors
        );
        assert_eq!(
            report.template_id_root.as_deref(),
            Some("2.16.840.1.113883.2.9.10.1.1")
        );
        assert_eq!(report.schematron, None);
        assert_eq!(
            report.stages.schematron,
            StageStatus::NotRun(NotRun::NoRules)
        );
        assert_eq!(
            report.stages.vocabulary,
            StageStatus::NotRun(NotRun::NoRules)
        );
        let unknown = Validator::structure_only()
            .validate(b"<ClinicalDocument xmlns='urn:hl7-org:v3'><typeId root='x' extension='POCD_XX'/></ClinicalDocument>");
        assert_eq!(unknown.xsd_errors[0].id, "XSD_SCHEMA_NOT_FOUND");
    }
}
