//! `fse.toml`: profiles, identities, the organization, timeouts, retries,
//! the journal — and the environment variables that override them.
//!
//! A file is parsed into a [`Config`] (nothing checked but syntax and
//! known keys), then [`Config::resolve`] picks one profile, applies the
//! environment and yields the [`Settings`] a client is built from. Paths in
//! the file are relative to the file's directory.
//!
//! Toscana's CART URLs and `aud` are given by CartDesk at adhesion: the
//! Toscana profiles have no default for them, and resolving one without
//! them names the missing key.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::jwt::Algorithm;
use crate::operation::{Operation, parse_operation};
use crate::retry::RetryPolicy;

/// Base URL of the national Gateway, test environment ("validazione").
pub const NATIONAL_TEST_URL: &str =
    "https://modipa-val.fse.salute.gov.it/govway/rest/in/FSE/gateway/v1";
/// Base URL of the national Gateway, production.
pub const NATIONAL_PRODUCTION_URL: &str =
    "https://modipa.fse.salute.gov.it/govway/rest/in/FSE/gateway/v1";

/// The kind of a profile: which system it talks to and what that exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileKind {
    /// Regione Toscana's CART, staging.
    ToscanaStaging,
    /// Regione Toscana's CART, production.
    ToscanaProduction,
    /// The national Gateway, test environment.
    NationalTest,
    /// The national Gateway, production.
    NationalProduction,
    /// Anything else (another regional middleware, the simulator): every
    /// value comes from the file.
    Custom,
}

impl ProfileKind {
    /// Every kind.
    pub const ALL: [ProfileKind; 5] = [
        ProfileKind::ToscanaStaging,
        ProfileKind::ToscanaProduction,
        ProfileKind::NationalTest,
        ProfileKind::NationalProduction,
        ProfileKind::Custom,
    ];

    /// The kind's name, also the name of its default profile.
    pub fn name(self) -> &'static str {
        match self {
            ProfileKind::ToscanaStaging => "toscana-staging",
            ProfileKind::ToscanaProduction => "toscana-production",
            ProfileKind::NationalTest => "national-test",
            ProfileKind::NationalProduction => "national-production",
            ProfileKind::Custom => "custom",
        }
    }

    /// Whether this is one of Toscana's CART profiles.
    pub fn is_toscana(self) -> bool {
        matches!(
            self,
            ProfileKind::ToscanaStaging | ProfileKind::ToscanaProduction
        )
    }

    /// The base URL, when it is public.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProfileKind::NationalTest => Some(NATIONAL_TEST_URL),
            ProfileKind::NationalProduction => Some(NATIONAL_PRODUCTION_URL),
            _ => None,
        }
    }

    /// The path segment of metadata update when the profile does not say.
    pub fn default_metadata_path(self) -> MetadataPath {
        if self.is_toscana() {
            MetadataPath::Metadata
        } else {
            MetadataPath::MetadataIti57
        }
    }

    /// The operations exposed when the profile does not list them; metadata
    /// update is served at `metadata`.
    ///
    /// CART exposes four methods to a Toscana provider (validate-and-create,
    /// replace, metadata update, delete): no validation-only, no status.
    pub fn default_operations(self, metadata: MetadataPath) -> BTreeSet<Operation> {
        let list: &[Operation] = if self.is_toscana() {
            &[
                Operation::ValidateAndCreate,
                Operation::Replace,
                Operation::Delete,
            ]
        } else {
            &[
                Operation::Validate,
                Operation::Create,
                Operation::ValidateAndCreate,
                Operation::Replace,
                Operation::ValidateAndReplace,
                Operation::Delete,
                Operation::StatusByWorkflow,
                Operation::StatusByTrace,
            ]
        };
        let mut set: BTreeSet<Operation> = list.iter().copied().collect();
        set.insert(metadata.operation());
        set
    }
}

impl fmt::Display for ProfileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ProfileKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        ProfileKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::config("kind", format!("unknown profile kind `{s}`; known: toscana-staging, toscana-production, national-test, national-production, custom")))
    }
}

/// Which path serves metadata update under `/documents/{idDoc}/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetadataPath {
    /// `/metadata` (Toscana's CART; the national legacy path).
    #[serde(rename = "metadata")]
    Metadata,
    /// `/metadata-iti-57` (the national Gateway today).
    #[serde(rename = "metadata-iti-57")]
    MetadataIti57,
}

impl MetadataPath {
    /// The path segment.
    pub fn segment(self) -> &'static str {
        match self {
            MetadataPath::Metadata => "metadata",
            MetadataPath::MetadataIti57 => "metadata-iti-57",
        }
    }

    /// The operation served at this path.
    pub fn operation(self) -> Operation {
        match self {
            MetadataPath::Metadata => Operation::UpdateMetadata,
            MetadataPath::MetadataIti57 => Operation::UpdateMetadataIti57,
        }
    }
}

impl FromStr for MetadataPath {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim_start_matches('/') {
            "metadata" => Ok(MetadataPath::Metadata),
            "metadata-iti-57" => Ok(MetadataPath::MetadataIti57),
            other => Err(Error::config(
                "metadata_path",
                format!("`{other}` is neither `metadata` nor `metadata-iti-57`"),
            )),
        }
    }
}

/// Where a certificate and its private key come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// PEM files: the certificate (chain, leaf first) and the private key
    /// (PKCS#8 or PKCS#1). The key may sit in the certificate file.
    Pem {
        /// The certificate file.
        certificate: PathBuf,
        /// The key file; `None` when it is in the certificate file.
        key: Option<PathBuf>,
    },
    /// A PKCS#12 (`.p12`/`.pfx`) file whose password is in an environment
    /// variable, never in the configuration.
    Pkcs12 {
        /// The file.
        file: PathBuf,
        /// The name of the environment variable holding the password.
        password_env: String,
    },
}

/// The TLS side: client identity (the "authentication" certificate) and
/// whom to trust.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    /// The client certificate; `None` sends none (CART refuses that).
    pub identity: Option<KeySource>,
    /// Pinned CA certificates (PEM files).
    pub ca: Vec<PathBuf>,
    /// Whether the operating system's roots are trusted too.
    pub system_roots: bool,
}

/// The JWT side: the "signature" certificate (CN like `S1#...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningSettings {
    /// The signing certificate and RSA key.
    pub key: Option<KeySource>,
    /// RS256 unless chosen otherwise.
    pub algorithm: Algorithm,
    /// Lifetime of each token (`exp - iat`).
    pub token_lifetime: Duration,
}

/// The PAdES signer of the PDFs (`fse gw publish` signs before sending):
/// the certificate of whoever signs the document, not one of the two FSE
/// certificates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PadesSettings {
    /// The signer's certificate and key.
    pub key: Option<KeySource>,
    /// `/Reason` of the signature, e.g. "Firma Digitale".
    pub reason: Option<String>,
    /// `/Location`, e.g. "Firenze, IT".
    pub location: Option<String>,
    /// An RFC 3161 time-stamping service: signatures are then PAdES B-T.
    pub tsa_url: Option<String>,
}

/// Who calls: the organization, its accredited software, the defaults of
/// the claims that do not change per call.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrganizationSettings {
    /// `subject_organization_id`, e.g. `090`.
    pub subject_organization_id: String,
    /// `subject_organization`, e.g. `Regione Toscana`; checked as a pair with the id.
    pub subject_organization: String,
    /// `locality`: the structure as XON, `NAME^^^^^&OID&ISO^^^^CODE`.
    pub locality: String,
    /// `subject_application_id`: the accredited software.
    pub subject_application_id: String,
    /// `subject_application_vendor`.
    pub subject_application_vendor: String,
    /// `subject_application_version`.
    pub subject_application_version: String,
    /// Default `subject_role` (Ruolo table), e.g. `AAS`.
    pub subject_role: String,
    /// Default `identificativoRep` of the request bodies.
    pub identificativo_rep: Option<String>,
}

/// Timeouts of every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the connection (TCP + TLS).
    pub connect: Duration,
    /// The whole request, response body included.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
        }
    }
}

/// One resolved profile: where to call and what it exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The profile's name in the file.
    pub name: String,
    /// Its kind.
    pub kind: ProfileKind,
    /// Base URL including the version segment, without a trailing slash.
    pub base_url: String,
    /// The JWT `aud`.
    pub aud: String,
    /// Which path serves metadata update.
    pub metadata_path: MetadataPath,
    /// The operations exposed.
    pub operations: BTreeSet<Operation>,
}

impl Profile {
    /// Whether the profile exposes `operation`.
    pub fn exposes(&self, operation: Operation) -> bool {
        self.operations.contains(&operation)
    }

    /// The metadata-update operation of this profile (its path).
    pub fn metadata_operation(&self) -> Operation {
        self.metadata_path.operation()
    }

    /// Whether transaction status can be read (and so uncertain outcomes
    /// reconciled) through this profile.
    pub fn has_status(&self) -> bool {
        self.exposes(Operation::StatusByTrace) || self.exposes(Operation::StatusByWorkflow)
    }
}

/// Everything a client needs, resolved for one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The profile.
    pub profile: Profile,
    /// The calling organization.
    pub organization: OrganizationSettings,
    /// The operator (`sub`): a fiscal code, bare or in CX form.
    pub operator: Option<String>,
    /// TLS identity and trust.
    pub tls: TlsSettings,
    /// JWT signing identity.
    pub signing: SigningSettings,
    /// PDF signing.
    pub pades: PadesSettings,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Retries of reads and of 429/503.
    pub retry: RetryPolicy,
    /// The journal database.
    pub journal: PathBuf,
}

/// A parsed `fse.toml`, not yet resolved for a profile.
#[derive(Debug, Clone, Default)]
pub struct Config {
    raw: RawConfig,
    base_dir: PathBuf,
}

/// Environment variable names that override the file, with the key each overrides.
pub const ENV_OVERRIDES: &[(&str, &str)] = &[
    ("FSE_BASE_URL", "profiles.<name>.base_url"),
    ("FSE_AUD", "profiles.<name>.aud"),
    ("FSE_METADATA_PATH", "profiles.<name>.metadata_path"),
    ("FSE_OPERATOR", "operator"),
    (
        "FSE_ORGANIZATION_ID",
        "organization.subject_organization_id",
    ),
    ("FSE_ORGANIZATION", "organization.subject_organization"),
    ("FSE_LOCALITY", "organization.locality"),
    ("FSE_APPLICATION_ID", "organization.subject_application_id"),
    (
        "FSE_APPLICATION_VENDOR",
        "organization.subject_application_vendor",
    ),
    (
        "FSE_APPLICATION_VERSION",
        "organization.subject_application_version",
    ),
    ("FSE_SUBJECT_ROLE", "organization.subject_role"),
    ("FSE_IDENTIFICATIVO_REP", "organization.identificativo_rep"),
    ("FSE_TLS_CERT", "tls.certificate"),
    ("FSE_TLS_KEY", "tls.key"),
    ("FSE_TLS_PKCS12", "tls.pkcs12"),
    (
        "FSE_TLS_CA",
        "tls.ca (paths separated by the OS path separator)",
    ),
    ("FSE_TLS_SYSTEM_ROOTS", "tls.system_roots"),
    ("FSE_SIGNING_CERT", "signing.certificate"),
    ("FSE_SIGNING_KEY", "signing.key"),
    ("FSE_SIGNING_PKCS12", "signing.pkcs12"),
    ("FSE_SIGNING_ALGORITHM", "signing.algorithm"),
    ("FSE_PADES_CERT", "pades.certificate"),
    ("FSE_PADES_KEY", "pades.key"),
    ("FSE_PADES_PKCS12", "pades.pkcs12"),
    ("FSE_TSA_URL", "pades.tsa_url"),
    ("FSE_CONNECT_TIMEOUT", "timeouts.connect_seconds"),
    ("FSE_REQUEST_TIMEOUT", "timeouts.request_seconds"),
    ("FSE_JOURNAL", "journal.path"),
];

/// Default name of the variable holding the TLS PKCS#12 password.
pub const TLS_PASSWORD_ENV: &str = "FSE_TLS_PKCS12_PASSWORD";
/// Default name of the variable holding the signing PKCS#12 password.
pub const SIGNING_PASSWORD_ENV: &str = "FSE_SIGNING_PKCS12_PASSWORD";
/// Default name of the variable holding the PDF signer's PKCS#12 password.
pub const PADES_PASSWORD_ENV: &str = "FSE_PADES_PKCS12_PASSWORD";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    profile: Option<String>,
    operator: Option<String>,
    #[serde(default)]
    organization: RawOrganization,
    #[serde(default)]
    tls: RawTls,
    #[serde(default)]
    signing: RawSigning,
    #[serde(default)]
    pades: RawPades,
    #[serde(default)]
    timeouts: RawTimeouts,
    #[serde(default)]
    retry: RawRetry,
    #[serde(default)]
    journal: RawJournal,
    #[serde(default)]
    profiles: BTreeMap<String, RawProfile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrganization {
    subject_organization_id: Option<String>,
    subject_organization: Option<String>,
    locality: Option<String>,
    subject_application_id: Option<String>,
    subject_application_vendor: Option<String>,
    subject_application_version: Option<String>,
    subject_role: Option<String>,
    identificativo_rep: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    certificate: Option<PathBuf>,
    key: Option<PathBuf>,
    pkcs12: Option<PathBuf>,
    password_env: Option<String>,
    ca: Option<Vec<PathBuf>>,
    system_roots: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSigning {
    certificate: Option<PathBuf>,
    key: Option<PathBuf>,
    pkcs12: Option<PathBuf>,
    password_env: Option<String>,
    algorithm: Option<String>,
    token_lifetime_seconds: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPades {
    certificate: Option<PathBuf>,
    key: Option<PathBuf>,
    pkcs12: Option<PathBuf>,
    password_env: Option<String>,
    reason: Option<String>,
    location: Option<String>,
    tsa_url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeouts {
    connect_seconds: Option<f64>,
    request_seconds: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    max_attempts: Option<u32>,
    initial_backoff_ms: Option<u64>,
    max_backoff_ms: Option<u64>,
    max_retry_after_seconds: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJournal {
    path: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    kind: Option<String>,
    base_url: Option<String>,
    aud: Option<String>,
    metadata_path: Option<String>,
    operations: Option<Vec<String>>,
    tls: Option<RawTls>,
    signing: Option<RawSigning>,
}

impl Config {
    /// Reads and parses a file.
    ///
    /// # Errors
    /// [`Error::ReadFile`] or [`Error::ConfigSyntax`].
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::from_toml_str(&text, &base).map_err(|e| match e {
            Error::ConfigSyntax { source, .. } => Error::ConfigSyntax {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        })
    }

    /// Parses TOML text; relative paths will be taken from `base_dir`.
    ///
    /// # Errors
    /// [`Error::ConfigSyntax`] on bad TOML or an unknown key.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Self> {
        let raw: RawConfig = toml::from_str(text).map_err(|source| Error::ConfigSyntax {
            path: PathBuf::from("<text>"),
            source: Box::new(source),
        })?;
        Ok(Config {
            raw,
            base_dir: base_dir.to_path_buf(),
        })
    }

    /// The profile the file selects when none is asked for.
    pub fn default_profile(&self) -> Option<&str> {
        self.raw.profile.as_deref()
    }

    /// The names of the profiles the file defines.
    pub fn profile_names(&self) -> impl Iterator<Item = &str> {
        self.raw.profiles.keys().map(String::as_str)
    }

    /// The journal path, from the file or `FSE_JOURNAL`, without resolving
    /// a profile (the journal commands need nothing else).
    pub fn journal_path(&self, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
        match env("FSE_JOURNAL") {
            Some(p) => PathBuf::from(p),
            None => self.path(
                self.raw
                    .journal
                    .path
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("fse-journal.sqlite")),
            ),
        }
    }

    /// Resolves one profile: `profile` if given, else the file's default.
    /// `env` reads environment variables (`&|k| std::env::var(k).ok()` in
    /// production, a map in tests).
    ///
    /// # Errors
    /// [`Error::Config`] naming the key that is missing or wrong.
    pub fn resolve(
        &self,
        profile: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings> {
        let name = profile
            .map(str::to_owned)
            .or_else(|| self.raw.profile.clone())
            .ok_or_else(|| {
                Error::config(
                    "profile",
                    "no profile chosen: pass --profile, set FSE_PROFILE, or `profile = \"...\"` in fse.toml",
                )
            })?;
        let raw_profile = self.raw.profiles.get(&name).cloned().unwrap_or_default();
        let key = |k: &str| format!("profiles.{name}.{k}");
        let kind = match (&raw_profile.kind, name.parse::<ProfileKind>()) {
            (Some(k), _) => k
                .parse::<ProfileKind>()
                .map_err(|_| Error::config(key("kind"), format!("unknown profile kind `{k}`")))?,
            (None, Ok(k)) => k,
            (None, Err(_)) if self.raw.profiles.contains_key(&name) => ProfileKind::Custom,
            (None, Err(_)) => {
                let known: Vec<&str> = self.profile_names().collect();
                return Err(Error::config(
                    "profile",
                    format!(
                        "no profile `{name}` in the file (defined: {}; built in: national-test, national-production)",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        };

        let base_url = env("FSE_BASE_URL")
            .or(raw_profile.base_url.clone())
            .or_else(|| kind.default_base_url().map(str::to_owned))
            .ok_or_else(|| {
                let why = if kind.is_toscana() {
                    "CART's URL is given by CartDesk at adhesion; set it (or FSE_BASE_URL)"
                } else {
                    "missing; set it (or FSE_BASE_URL)"
                };
                Error::config(key("base_url"), why)
            })?;
        let base_url = check_base_url(&base_url).map_err(|r| Error::config(key("base_url"), r))?;
        let aud = match env("FSE_AUD").or(raw_profile.aud.clone()) {
            Some(a) if !a.trim().is_empty() => a,
            _ if kind.is_toscana() => {
                return Err(Error::config(
                    key("aud"),
                    "CART's JWT audience must be confirmed with CartDesk; set it (or FSE_AUD)",
                ));
            }
            _ => base_url.clone(),
        };
        let metadata_path = match env("FSE_METADATA_PATH").or(raw_profile.metadata_path.clone()) {
            Some(p) => p.parse::<MetadataPath>().map_err(|_| {
                Error::config(
                    key("metadata_path"),
                    format!("`{p}` is neither `metadata` nor `metadata-iti-57`"),
                )
            })?,
            None => kind.default_metadata_path(),
        };
        let operations = match &raw_profile.operations {
            Some(list) => {
                let mut set = BTreeSet::new();
                for op in list {
                    // `update-metadata` is whichever path the profile serves it at.
                    let op = if op == "update-metadata" {
                        metadata_path.operation()
                    } else {
                        parse_operation(op).map_err(|e| Error::config(key("operations"), e))?
                    };
                    set.insert(op);
                }
                set
            }
            None => kind.default_operations(metadata_path),
        };
        let profile = Profile {
            name: name.clone(),
            kind,
            base_url,
            aud,
            metadata_path,
            operations,
        };

        let org = &self.raw.organization;
        let pick =
            |var: &str, v: &Option<String>| env(var).or_else(|| v.clone()).unwrap_or_default();
        let organization = OrganizationSettings {
            subject_organization_id: pick("FSE_ORGANIZATION_ID", &org.subject_organization_id),
            subject_organization: pick("FSE_ORGANIZATION", &org.subject_organization),
            locality: pick("FSE_LOCALITY", &org.locality),
            subject_application_id: pick("FSE_APPLICATION_ID", &org.subject_application_id),
            subject_application_vendor: pick(
                "FSE_APPLICATION_VENDOR",
                &org.subject_application_vendor,
            ),
            subject_application_version: pick(
                "FSE_APPLICATION_VERSION",
                &org.subject_application_version,
            ),
            subject_role: pick("FSE_SUBJECT_ROLE", &org.subject_role),
            identificativo_rep: env("FSE_IDENTIFICATIVO_REP")
                .or_else(|| org.identificativo_rep.clone()),
        };

        let tls_raw = merge_tls(&self.raw.tls, raw_profile.tls.as_ref());
        let tls_identity = self.key_source(
            env("FSE_TLS_CERT")
                .map(PathBuf::from)
                .or(tls_raw.certificate.clone()),
            env("FSE_TLS_KEY")
                .map(PathBuf::from)
                .or(tls_raw.key.clone()),
            env("FSE_TLS_PKCS12")
                .map(PathBuf::from)
                .or(tls_raw.pkcs12.clone()),
            tls_raw
                .password_env
                .clone()
                .unwrap_or_else(|| TLS_PASSWORD_ENV.to_owned()),
            "tls",
        )?;
        let ca = match env("FSE_TLS_CA") {
            Some(list) => std::env::split_paths(&list).collect(),
            None => tls_raw.ca.clone().unwrap_or_default(),
        };
        let system_roots = match env("FSE_TLS_SYSTEM_ROOTS") {
            Some(v) => parse_bool(&v).ok_or_else(|| {
                Error::config(
                    "FSE_TLS_SYSTEM_ROOTS",
                    format!("`{v}` is not true or false"),
                )
            })?,
            None => tls_raw.system_roots.unwrap_or(false),
        };
        let tls = TlsSettings {
            identity: tls_identity,
            ca: ca.into_iter().map(|p| self.path(p)).collect(),
            system_roots,
        };

        let sig_raw = merge_signing(&self.raw.signing, raw_profile.signing.as_ref());
        let signing_key = self.key_source(
            env("FSE_SIGNING_CERT")
                .map(PathBuf::from)
                .or(sig_raw.certificate.clone()),
            env("FSE_SIGNING_KEY")
                .map(PathBuf::from)
                .or(sig_raw.key.clone()),
            env("FSE_SIGNING_PKCS12")
                .map(PathBuf::from)
                .or(sig_raw.pkcs12.clone()),
            sig_raw
                .password_env
                .clone()
                .unwrap_or_else(|| SIGNING_PASSWORD_ENV.to_owned()),
            "signing",
        )?;
        let algorithm = match env("FSE_SIGNING_ALGORITHM").or(sig_raw.algorithm.clone()) {
            Some(a) => a
                .parse::<Algorithm>()
                .map_err(|r| Error::config("signing.algorithm", r))?,
            None => Algorithm::Rs256,
        };
        let lifetime = sig_raw.token_lifetime_seconds.unwrap_or(300);
        if lifetime == 0 || lifetime > 86_400 {
            return Err(Error::config(
                "signing.token_lifetime_seconds",
                format!("{lifetime} is outside 1..=86400"),
            ));
        }
        let signing = SigningSettings {
            key: signing_key,
            algorithm,
            token_lifetime: Duration::from_secs(lifetime),
        };

        let p = &self.raw.pades;
        let pades = PadesSettings {
            key: self.key_source(
                env("FSE_PADES_CERT")
                    .map(PathBuf::from)
                    .or(p.certificate.clone()),
                env("FSE_PADES_KEY").map(PathBuf::from).or(p.key.clone()),
                env("FSE_PADES_PKCS12")
                    .map(PathBuf::from)
                    .or(p.pkcs12.clone()),
                p.password_env
                    .clone()
                    .unwrap_or_else(|| PADES_PASSWORD_ENV.to_owned()),
                "pades",
            )?,
            reason: p.reason.clone(),
            location: p.location.clone(),
            tsa_url: env("FSE_TSA_URL").or_else(|| p.tsa_url.clone()),
        };

        let defaults = Timeouts::default();
        let timeouts = Timeouts {
            connect: seconds(
                env("FSE_CONNECT_TIMEOUT"),
                self.raw.timeouts.connect_seconds,
                defaults.connect,
                "timeouts.connect_seconds",
            )?,
            request: seconds(
                env("FSE_REQUEST_TIMEOUT"),
                self.raw.timeouts.request_seconds,
                defaults.request,
                "timeouts.request_seconds",
            )?,
        };

        let d = RetryPolicy::default();
        let r = &self.raw.retry;
        let retry = RetryPolicy {
            max_attempts: r.max_attempts.unwrap_or(d.max_attempts).max(1),
            initial_backoff: r
                .initial_backoff_ms
                .map_or(d.initial_backoff, Duration::from_millis),
            max_backoff: r
                .max_backoff_ms
                .map_or(d.max_backoff, Duration::from_millis),
            max_retry_after: r
                .max_retry_after_seconds
                .map_or(d.max_retry_after, Duration::from_secs),
        };

        Ok(Settings {
            profile,
            organization,
            operator: env("FSE_OPERATOR").or_else(|| self.raw.operator.clone()),
            tls,
            signing,
            pades,
            timeouts,
            retry,
            journal: self.journal_path(env),
        })
    }

    fn path(&self, p: PathBuf) -> PathBuf {
        if p.is_absolute() || self.base_dir.as_os_str().is_empty() {
            p
        } else {
            self.base_dir.join(p)
        }
    }

    fn key_source(
        &self,
        certificate: Option<PathBuf>,
        key: Option<PathBuf>,
        pkcs12: Option<PathBuf>,
        password_env: String,
        section: &str,
    ) -> Result<Option<KeySource>> {
        match (certificate, pkcs12) {
            (Some(_), Some(_)) => Err(Error::config(
                format!("{section}.pkcs12"),
                format!("give either {section}.certificate (PEM) or {section}.pkcs12, not both"),
            )),
            (Some(certificate), None) => Ok(Some(KeySource::Pem {
                certificate: self.path(certificate),
                key: key.map(|k| self.path(k)),
            })),
            (None, Some(file)) => Ok(Some(KeySource::Pkcs12 {
                file: self.path(file),
                password_env,
            })),
            (None, None) if key.is_some() => Err(Error::config(
                format!("{section}.certificate"),
                format!("{section}.key is set but {section}.certificate is not"),
            )),
            (None, None) => Ok(None),
        }
    }
}

fn merge_tls(base: &RawTls, over: Option<&RawTls>) -> RawTls {
    let Some(o) = over else { return base.clone() };
    // A profile that names its own identity replaces the whole identity,
    // so a PEM at the top and a PKCS#12 in the profile do not collide.
    let own_identity = o.certificate.is_some() || o.pkcs12.is_some();
    RawTls {
        certificate: if own_identity {
            o.certificate.clone()
        } else {
            base.certificate.clone()
        },
        key: if own_identity {
            o.key.clone()
        } else {
            base.key.clone()
        },
        pkcs12: if own_identity {
            o.pkcs12.clone()
        } else {
            base.pkcs12.clone()
        },
        password_env: o.password_env.clone().or_else(|| base.password_env.clone()),
        ca: o.ca.clone().or_else(|| base.ca.clone()),
        system_roots: o.system_roots.or(base.system_roots),
    }
}

fn merge_signing(base: &RawSigning, over: Option<&RawSigning>) -> RawSigning {
    let Some(o) = over else { return base.clone() };
    let own_identity = o.certificate.is_some() || o.pkcs12.is_some();
    RawSigning {
        certificate: if own_identity {
            o.certificate.clone()
        } else {
            base.certificate.clone()
        },
        key: if own_identity {
            o.key.clone()
        } else {
            base.key.clone()
        },
        pkcs12: if own_identity {
            o.pkcs12.clone()
        } else {
            base.pkcs12.clone()
        },
        password_env: o.password_env.clone().or_else(|| base.password_env.clone()),
        algorithm: o.algorithm.clone().or_else(|| base.algorithm.clone()),
        token_lifetime_seconds: o.token_lifetime_seconds.or(base.token_lifetime_seconds),
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn seconds(
    env: Option<String>,
    file: Option<f64>,
    default: Duration,
    key: &str,
) -> Result<Duration> {
    let value = match env {
        Some(v) => Some(
            v.trim()
                .parse::<f64>()
                .map_err(|_| Error::config(key, format!("`{v}` is not a number of seconds")))?,
        ),
        None => file,
    };
    match value {
        None => Ok(default),
        Some(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => Ok(Duration::from_secs_f64(s)),
        Some(s) => Err(Error::config(
            key,
            format!("{s} is outside (0, 3600] seconds"),
        )),
    }
}

/// Checks a base URL: `https`, or `http` to the loopback only (the
/// simulator, tests) so tokens never cross a network in clear. Returns it
/// without a trailing slash.
fn check_base_url(url: &str) -> std::result::Result<String, String> {
    let parsed =
        reqwest::Url::parse(url.trim()).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => {}
        "http" => {
            let host = parsed.host_str().unwrap_or_default();
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(format!(
                    "`{url}`: plain http is allowed only to the loopback; use https"
                ));
            }
        }
        other => return Err(format!("`{url}`: scheme `{other}` is not https")),
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("`{url}` must not have a query or a fragment"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn national_profiles_need_no_url() -> Result<()> {
        let cfg = Config::from_toml_str("", Path::new("/etc/fse"))?;
        let s = cfg.resolve(Some("national-test"), &no_env)?;
        assert_eq!(s.profile.base_url, NATIONAL_TEST_URL);
        assert_eq!(s.profile.aud, NATIONAL_TEST_URL);
        assert_eq!(s.profile.metadata_path, MetadataPath::MetadataIti57);
        assert!(s.profile.has_status());
        assert!(s.profile.exposes(Operation::Validate));
        assert_eq!(s.journal, PathBuf::from("/etc/fse/fse-journal.sqlite"));
        let p = cfg.resolve(Some("national-production"), &no_env)?;
        assert_eq!(p.profile.base_url, NATIONAL_PRODUCTION_URL);
        Ok(())
    }

    #[test]
    fn toscana_without_url_names_the_key() -> Result<()> {
        let cfg = Config::from_toml_str("profile = \"toscana-staging\"", Path::new(""))?;
        let err = cfg.resolve(None, &no_env).err().map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.contains("profiles.toscana-staging.base_url"), "{err}");
        assert!(err.contains("CartDesk"), "{err}");
        Ok(())
    }

    #[test]
    fn toscana_needs_explicit_aud() -> Result<()> {
        let cfg = Config::from_toml_str(
            "[profiles.toscana-production]\nbase_url = \"https://cart.example/fse/v2\"\n",
            Path::new(""),
        )?;
        let err = cfg.resolve(Some("toscana-production"), &no_env).err();
        assert!(err.is_some_and(|e| e.to_string().contains("profiles.toscana-production.aud")));
        let s = cfg.resolve(
            Some("toscana-production"),
            &env_of(&[("FSE_AUD", "https://aud.example")]),
        )?;
        assert_eq!(s.profile.aud, "https://aud.example");
        assert_eq!(s.profile.metadata_path, MetadataPath::Metadata);
        assert!(!s.profile.has_status());
        assert!(!s.profile.exposes(Operation::Validate));
        assert!(s.profile.exposes(Operation::ValidateAndCreate));
        assert!(s.profile.exposes(Operation::UpdateMetadata));
        assert_eq!(s.profile.operations.len(), 4);
        Ok(())
    }

    #[test]
    fn custom_profile_and_env_overrides() -> Result<()> {
        let text = r#"
profile = "lazio"
operator = "RSSMRA80A01H501U"
[organization]
subject_organization_id = "120"
subject_organization = "Regione Lazio"
locality = "X^^^^^&2.16.840.1.113883.2.9.4.1.3&ISO^^^^120111"
subject_role = "AAS"
[tls]
certificate = "auth.pem"
ca = ["ca.pem"]
[signing]
pkcs12 = "sign.p12"
algorithm = "RS512"
[timeouts]
request_seconds = 5
[profiles.lazio]
base_url = "https://mw.example.it/gateway/v1/"
metadata_path = "metadata"
operations = ["validate", "create", "status-by-trace", "update-metadata"]
"#;
        let cfg = Config::from_toml_str(text, Path::new("/cfg"))?;
        let s = cfg.resolve(
            None,
            &env_of(&[("FSE_SUBJECT_ROLE", "APR"), ("FSE_REQUEST_TIMEOUT", "7.5")]),
        )?;
        assert_eq!(s.profile.kind, ProfileKind::Custom);
        assert_eq!(s.profile.base_url, "https://mw.example.it/gateway/v1");
        assert_eq!(s.profile.aud, "https://mw.example.it/gateway/v1");
        assert_eq!(s.profile.operations.len(), 4);
        assert!(s.profile.exposes(Operation::UpdateMetadata));
        assert_eq!(s.profile.metadata_operation(), Operation::UpdateMetadata);
        assert!(s.profile.has_status());
        assert_eq!(s.organization.subject_role, "APR");
        assert_eq!(s.organization.subject_organization, "Regione Lazio");
        assert_eq!(s.timeouts.request, Duration::from_millis(7500));
        assert_eq!(s.signing.algorithm, Algorithm::Rs512);
        assert_eq!(
            s.tls.identity,
            Some(KeySource::Pem {
                certificate: PathBuf::from("/cfg/auth.pem"),
                key: None
            })
        );
        assert_eq!(s.tls.ca, vec![PathBuf::from("/cfg/ca.pem")]);
        assert!(!s.tls.system_roots);
        assert_eq!(
            s.signing.key,
            Some(KeySource::Pkcs12 {
                file: PathBuf::from("/cfg/sign.p12"),
                password_env: SIGNING_PASSWORD_ENV.to_owned()
            })
        );
        assert_eq!(s.operator.as_deref(), Some("RSSMRA80A01H501U"));
        Ok(())
    }

    #[test]
    fn refusals_name_their_key() -> Result<()> {
        let cases: &[(&str, &str)] = &[
            (
                "[profiles.x]\nbase_url = \"http://example.org/v1\"",
                "profiles.x.base_url",
            ),
            (
                "[profiles.x]\nbase_url = \"https://a/v1\"\noperations = [\"publish\"]",
                "profiles.x.operations",
            ),
            (
                "[profiles.x]\nbase_url = \"https://a/v1\"\nmetadata_path = \"meta\"",
                "profiles.x.metadata_path",
            ),
            (
                "[profiles.x]\nbase_url = \"https://a/v1\"\nkind = \"umbria\"",
                "profiles.x.kind",
            ),
            (
                "[tls]\ncertificate = \"a\"\npkcs12 = \"b\"\n[profiles.x]\nbase_url = \"https://a/v1\"",
                "tls.pkcs12",
            ),
            (
                "[signing]\nkey = \"k\"\n[profiles.x]\nbase_url = \"https://a/v1\"",
                "signing.certificate",
            ),
            (
                "[signing]\nalgorithm = \"HS256\"\n[profiles.x]\nbase_url = \"https://a/v1\"",
                "signing.algorithm",
            ),
            (
                "[timeouts]\nconnect_seconds = -1\n[profiles.x]\nbase_url = \"https://a/v1\"",
                "timeouts.connect_seconds",
            ),
        ];
        for (text, key) in cases {
            let cfg = Config::from_toml_str(text, Path::new(""))?;
            let err = cfg
                .resolve(Some("x"), &no_env)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(key), "{text}: {err}");
        }
        let unknown = Config::from_toml_str("[organization]\nsubject_org = \"x\"", Path::new(""));
        assert!(matches!(unknown, Err(Error::ConfigSyntax { .. })));
        let missing = Config::from_toml_str("", Path::new(""))?.resolve(Some("nowhere"), &no_env);
        assert!(
            missing
                .err()
                .is_some_and(|e| e.to_string().contains("no profile `nowhere`"))
        );
        Ok(())
    }

    #[test]
    fn the_example_file_is_valid() -> Result<()> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fse.example.toml");
        let cfg = Config::from_file(&path)?;
        assert_eq!(cfg.default_profile(), Some("toscana-staging"));
        // Toscana's placeholders must be replaced: resolving names the key.
        let err = cfg
            .resolve(None, &no_env)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("profiles.toscana-staging.base_url"), "{err}");
        let s = cfg.resolve(
            None,
            &env_of(&[
                ("FSE_BASE_URL", "https://cart.example/fse/v2"),
                ("FSE_AUD", "cart-aud"),
            ]),
        )?;
        assert_eq!(s.profile.base_url, "https://cart.example/fse/v2");
        assert_eq!(s.organization.subject_organization, "Regione Toscana");
        assert!(matches!(s.signing.key, Some(KeySource::Pkcs12 { .. })));
        assert!(matches!(s.pades.key, Some(KeySource::Pkcs12 { .. })));
        assert_eq!(s.pades.reason.as_deref(), Some("Firma Digitale"));
        assert_eq!(s.retry.max_attempts, 4);
        let national = cfg.resolve(Some("national-test"), &no_env)?;
        assert_eq!(national.profile.base_url, NATIONAL_TEST_URL);
        // Every environment override named in ENV_OVERRIDES is read.
        let all: Vec<(&str, &str)> = ENV_OVERRIDES
            .iter()
            .map(|(k, _)| match *k {
                "FSE_BASE_URL" => (*k, "https://x.example/v1"),
                "FSE_METADATA_PATH" => (*k, "metadata"),
                "FSE_TLS_SYSTEM_ROOTS" => (*k, "true"),
                "FSE_SIGNING_ALGORITHM" => (*k, "RS384"),
                "FSE_CONNECT_TIMEOUT" | "FSE_REQUEST_TIMEOUT" => (*k, "3"),
                "FSE_TLS_CERT" | "FSE_SIGNING_CERT" | "FSE_PADES_CERT" => (*k, "/env/cert.pem"),
                "FSE_TLS_PKCS12" | "FSE_SIGNING_PKCS12" | "FSE_PADES_PKCS12" => (*k, ""),
                _ => (*k, "from-env"),
            })
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let text = "[profiles.x]\nbase_url = \"https://a/v1\"\n";
        let s = Config::from_toml_str(text, Path::new(""))?.resolve(Some("x"), &env_of(&all))?;
        assert_eq!(s.profile.base_url, "https://x.example/v1");
        assert_eq!(s.profile.aud, "from-env");
        assert_eq!(s.profile.metadata_path, MetadataPath::Metadata);
        assert_eq!(s.operator.as_deref(), Some("from-env"));
        assert_eq!(s.organization.locality, "from-env");
        assert_eq!(
            s.organization.identificativo_rep.as_deref(),
            Some("from-env")
        );
        assert!(s.tls.system_roots);
        assert_eq!(s.tls.ca, vec![PathBuf::from("from-env")]);
        assert_eq!(s.signing.algorithm, Algorithm::Rs384);
        assert_eq!(s.timeouts.connect, Duration::from_secs(3));
        assert_eq!(s.pades.tsa_url.as_deref(), Some("from-env"));
        assert_eq!(s.journal, PathBuf::from("from-env"));
        for source in [&s.tls.identity, &s.signing.key, &s.pades.key] {
            assert_eq!(
                source,
                &Some(KeySource::Pem {
                    certificate: "/env/cert.pem".into(),
                    key: Some("from-env".into())
                })
            );
        }
        Ok(())
    }

    #[test]
    fn loopback_http_is_allowed() {
        assert_eq!(
            check_base_url("http://127.0.0.1:8080/v1/").as_deref(),
            Ok("http://127.0.0.1:8080/v1")
        );
        assert!(check_base_url("http://localhost/v1").is_ok());
        assert!(check_base_url("http://10.0.0.1/v1").is_err());
        assert!(check_base_url("ftp://x/v1").is_err());
    }

    #[test]
    fn profile_identity_replaces_the_top_one() -> Result<()> {
        let text = "[tls]\npkcs12 = \"stage.p12\"\n[profiles.toscana-production]\nbase_url = \"https://c/v2\"\naud = \"a\"\n[profiles.toscana-production.tls]\ncertificate = \"prod.pem\"\nkey = \"prod.key\"\n";
        let s = Config::from_toml_str(text, Path::new(""))?
            .resolve(Some("toscana-production"), &no_env)?;
        assert_eq!(
            s.tls.identity,
            Some(KeySource::Pem {
                certificate: "prod.pem".into(),
                key: Some("prod.key".into())
            })
        );
        Ok(())
    }
}
