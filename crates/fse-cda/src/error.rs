//! The one error type of this crate.

/// Everything that can go wrong in `fse-cda`.
///
/// Variants are grouped by the part of the crate that raises them; each
/// names what is wrong and, for input, where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- XML parsing (xml.rs) ---
    /// The input is larger than the configured limit.
    #[error("XML input of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The input has no root element (empty, or only a prolog).
    #[error("XML input has no root element")]
    NoRootElement,
    /// The input is not valid in its declared (or default UTF-8) encoding.
    #[error("XML input is not valid {encoding} at byte {offset}")]
    InvalidEncoding {
        /// The encoding the input was read as.
        encoding: String,
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The prolog declares an encoding we do not know.
    #[error("XML declares the unknown encoding {0:?}")]
    UnknownEncoding(String),
    /// A document type declaration was found; DTDs are never processed.
    #[error(
        "line {line}, column {column}: DOCTYPE is not allowed (no DTD or external entity is ever processed)"
    )]
    DtdForbidden {
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
    },
    /// Elements are nested deeper than the configured limit.
    #[error("line {line}, column {column}: elements nested deeper than the limit of {limit}")]
    TooDeep {
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// The configured limit.
        limit: usize,
    },
    /// The document has more nodes than the configured limit.
    #[error("XML input has more than {limit} nodes")]
    TooManyNodes {
        /// The configured limit.
        limit: usize,
    },
    /// An entity reference other than the five predefined ones.
    #[error("line {line}, column {column}: undefined entity &{name};")]
    UndefinedEntity {
        /// The entity name.
        name: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
    },
    /// A prefix is used without a namespace declaration in scope.
    #[error("line {line}, column {column}: namespace prefix {prefix:?} is not declared")]
    UndeclaredPrefix {
        /// The prefix.
        prefix: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
    },
    /// The input ends before every element is closed.
    #[error("XML input is truncated: element <{element}> opened at line {line} is not closed")]
    Truncated {
        /// The innermost open element.
        element: String,
        /// 1-based line where it was opened.
        line: u32,
    },
    /// Any other well-formedness error, as the XML reader reports it.
    #[error("line {line}, column {column}: XML is not well-formed: {message}")]
    NotWellFormed {
        /// What is wrong.
        message: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// The reader's error, when it raised one.
        #[source]
        source: Option<quick_xml::Error>,
    },

    // --- XSD structure (xsd/) ---
    /// The document's first `typeId/@extension` names no XSD set we have
    /// (the Gateway's own message; `version` is empty without a typeId).
    #[error("Schema with version {version} not found on database.")]
    XsdSchemaNotFound {
        /// The `typeId/@extension` found, or empty.
        version: String,
    },
    // --- Rules management: install, store, resolve (rules/) ---
    /// A file or folder of a rules source or of the rules store could not
    /// be read or written.
    #[error("cannot {action} {}", path.display())]
    StoreIo {
        /// What was being done (`read`, `write`, `create`, ...).
        action: &'static str,
        /// The file or folder.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A rules archive is not a `.tar.gz`, `.tar` or `.zip`, or is corrupt.
    #[error("the rules archive is unreadable: {message}")]
    ArchiveUnreadable {
        /// What the archive reader said.
        message: String,
    },
    /// A rules archive entry would land outside the folder it is extracted
    /// to (an absolute name, `..`, a drive letter).
    #[error("the rules archive holds the unsafe entry {entry:?}: refused")]
    ArchiveUnsafeEntry {
        /// The entry name (at most 200 characters of it).
        entry: String,
    },
    /// A rules source exceeds a bound of `rules::InstallLimits`.
    #[error("the rules source exceeds the limit of {limit} for {what}")]
    RulesTooLarge {
        /// What is too large (`entries`, `the file schematron/x.sch`, ...).
        what: String,
        /// The limit (bytes, or entries).
        limit: u64,
    },
    /// A rules source holds no catalogs tree (no `schematron/` folder at
    /// its top or one folder down).
    #[error("{origin} holds no catalogs tree: no schematron/ folder at its top or one folder down")]
    NoCatalogsTree {
        /// The source, as given.
        origin: String,
    },
    /// A catalogs tree fails its checks.
    #[error("the rules in {} are not usable: {}", dir.display(), problems.join("; "))]
    RulesInvalid {
        /// The tree.
        dir: std::path::PathBuf,
        /// Every problem found.
        problems: Vec<String>,
    },
    /// Validation needs rules and none were given or installed.
    #[error(
        "no validation rules: pass --rules DIR, set FSE_RULES, or install the official ones with `fse rules install --from URL|ARCHIVE|DIR` (store: {})",
        store.display()
    )]
    NoRules {
        /// Where installed sets are looked for.
        store: std::path::PathBuf,
    },
    /// The user's data directory is unknown (set `FSE_DATA_DIR`).
    #[error("cannot find the user's data directory: set FSE_DATA_DIR")]
    NoDataDir,
    /// No installed rule set has this id.
    #[error("no installed rule set has the id {id:?} (see `fse rules list`)")]
    UnknownRuleSet {
        /// The id asked for.
        id: String,
    },
    /// A JSON file of the rules (index, dump, manifest) has the wrong shape.
    #[error("{} is not the expected JSON", path.display())]
    StoreJson {
        /// The file.
        path: std::path::PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    // --- Documents: metadata, builder, replacement, obscuring ---
    /// The root element is not an HL7 v3 `ClinicalDocument`.
    #[error("the root element is {found}, not an HL7 v3 ClinicalDocument")]
    NotClinicalDocument {
        /// The root element found, as `{namespace}local`.
        found: String,
    },
    /// A header item the Gateway needs is missing or empty.
    #[error("the CDA has no {path}")]
    MissingHeaderItem {
        /// Where it should be.
        path: &'static str,
    },
    /// The builder's input has a missing or invalid field.
    #[error("invalid document input: {field}: {message}")]
    InvalidInput {
        /// The field, as a JSON path (`patient.fiscal_code`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The builder's JSON input does not parse or has the wrong shape.
    #[error("invalid document input JSON: {message}")]
    InputJson {
        /// Where and what, as serde reports it.
        message: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A replacement cannot be made of this document.
    #[error("cannot write the replacement: {reason}")]
    CannotReplace {
        /// Why.
        reason: String,
    },
    /// A document type the builder does not know.
    #[error("unknown document type {0:?}: expected LAB, RAD, RSA, LDO or VPS")]
    UnknownDocumentType(String),
    /// The provider's obscuring choice and the document disagree, or a
    /// choice the FSE refuses was asked for.
    #[error("obscuring: {0}")]
    Obscuring(String),

    // --- Validation rules: XPath, schematron, vocabulary (validator.rs) ---
    /// The directory given as rules has no `schematron/` folder.
    #[error("{} is not a rules directory: it has no schematron/ folder", path.display())]
    NotARulesDir {
        /// The directory.
        path: std::path::PathBuf,
    },
    /// A rules file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    RulesIo {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `schematron/index.json` is not the expected JSON.
    #[error("{}: malformed schematron index: {source}", path.display())]
    RulesIndex {
        /// The index file.
        path: std::path::PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// An XPath expression does not compile.
    #[error("XPath {expr:?}, at character {offset}: {message}")]
    XPath {
        /// The expression.
        expr: String,
        /// 0-based character offset of the problem.
        offset: usize,
        /// What is wrong.
        message: String,
    },
    /// A schematron file is malformed or uses a construct we do not support.
    #[error("schematron {file}, line {line}: {message}")]
    Schematron {
        /// The file name.
        file: String,
        /// 1-based line of the offending element (0 when unknown).
        line: u32,
        /// What is wrong.
        message: String,
        /// The underlying error (XML or XPath), when there is one.
        #[source]
        source: Option<Box<Error>>,
    },
    /// A terminology file is malformed.
    #[error("terminology {file}, line {line}: {message}")]
    Terminology {
        /// The file name.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
