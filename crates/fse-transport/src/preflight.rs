//! The pre-flight: everything the Gateway (and GovWay in front of it)
//! checks that can be checked here, run on exactly what is about to be
//! sent. A refusal names the field and nothing reaches the network.
//!
//! What it predicts:
//! - 403 `/msg/jwt-validation`: claims missing or malformed, fiscal code
//!   check character, organization code and name not of the same entry,
//!   `locality` not XON, `person_id` not among the CDA's patient ids,
//!   `resource_hl7_type` not the CDA's code, `action_id`/`purpose_of_use`
//!   not coherent with the operation;
//! - 400 `/msg/mandatory-element`, `/msg/id-doc`, `/msg/invalid-format`,
//!   "atti clinici non consentito", "Non c'è correlazione": body fields
//!   missing, unknown, out of their tables or malformed; `identificativoDoc`
//!   without `^suffix`; `tipoDocumentoLivAlto` not correlated with the code;
//! - 400 `/msg/document-hash`: `attachment_hash` not the SHA-256 of the
//!   bytes sent; 400 `/msg/sign-error`: no PAdES signature with `/M`;
//!   400 `/msg/empty-file`, `/msg/document-type`;
//! - INI R227: a `V` document without exactly one of P99/P00.

use fse_model::operation::{METADATA_REQUIRED_FIELDS, PUBLICATION_REQUIRED_FIELDS};
use fse_model::tables::{
    Activity, AdministrativeRequest, ClinicalActivity, DocumentClass, EventCode, HealthDataFormat,
    HealthcareFacilityType, InjectionMode, Organization, PracticeSetting,
};
use fse_model::{DocumentId, FiscalCode, Locality, PersonId, WorkflowInstanceId};
use serde::Serialize;
use serde_json::Value;

use crate::config::Profile;
use crate::inspect::DocumentFacts;
use crate::jwt::{BearerClaims, SignatureClaims, sha256_hex};
use crate::operation::{Operation, OperationExt};

/// A refusal of the pre-flight: the field and what is wrong. Nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("pre-flight refused `{field}`: {reason} (nothing was sent)")]
pub struct PreflightError {
    /// The claim, body field, header or part (`person_id`, `identificativoDoc`, `file`, ...).
    pub field: String,
    /// What is wrong, with patient identifiers masked.
    pub reason: String,
}

impl PreflightError {
    /// A refusal of `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        PreflightError {
            field: field.into(),
            reason: crate::mask::mask_fiscal_codes(&reason.into()),
        }
    }
}

/// What the pre-flight looks at: the call exactly as it will be sent.
#[derive(Debug, Clone, Copy)]
pub struct PreflightInput<'a> {
    /// The operation.
    pub operation: Operation,
    /// The profile it goes through.
    pub profile: &'a Profile,
    /// The Bearer claims.
    pub bearer: &'a BearerClaims,
    /// The `FSE-JWT-Signature` claims (`None` on status reads).
    pub signature: Option<&'a SignatureClaims>,
    /// The JSON body (`requestBody` or the metadata body).
    pub body: Option<&'a Value>,
    /// The exact PDF bytes of the `file` part.
    pub pdf: Option<&'a [u8]>,
    /// The `{idDoc}` of the path, unencoded.
    pub path_id: Option<&'a str>,
    /// What the PDF holds.
    pub facts: Option<&'a DocumentFacts>,
}

/// Runs every check; the first refusal is returned.
///
/// # Errors
/// The first [`PreflightError`].
pub fn check(input: &PreflightInput<'_>) -> Result<(), PreflightError> {
    match check_all(input).into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Runs every check and returns every refusal (for a dry run's report).
pub fn check_all(input: &PreflightInput<'_>) -> Vec<PreflightError> {
    let mut out = Vec::new();
    let mut refuse = |field: &str, reason: String| out.push(PreflightError::new(field, reason));
    check_bearer(input, &mut refuse);
    if !input.operation.is_status() {
        match input.signature {
            Some(claims) => check_signature(input, claims, &mut refuse),
            None => refuse(
                "FSE-JWT-Signature",
                format!("{} needs the signature token", input.operation.name()),
            ),
        }
    }
    if let Some(id) = input.path_id
        && input.operation.refers_to_published_document()
        && let Err(e) = DocumentId::parse(id)
    {
        refuse("idDoc", e.to_string());
    }
    check_file(input, &mut refuse);
    check_body(input, &mut refuse);
    out
}

type Refuse<'r> = dyn FnMut(&str, String) + 'r;

fn check_person(field: &str, value: &str, refuse: &mut Refuse<'_>) -> Option<PersonId> {
    if value.trim().is_empty() {
        refuse(field, "is missing".to_owned());
        return None;
    }
    if value.contains("&amp;") {
        refuse(
            field,
            "has '&amp;' where '&' belongs (an HTML-escaped value)".to_owned(),
        );
        return None;
    }
    if !value.contains('^') {
        return match FiscalCode::parse(value) {
            Ok(cf) => Some(PersonId::from_fiscal_code(cf)),
            Err(e) => {
                refuse(field, e.to_string());
                None
            }
        };
    }
    match PersonId::parse(value) {
        Ok(p) => Some(p),
        Err(e) => {
            refuse(field, e.to_string());
            None
        }
    }
}

fn check_bearer(input: &PreflightInput<'_>, refuse: &mut Refuse<'_>) {
    let b = input.bearer;
    if b.iss.strip_prefix("auth:").is_none_or(str::is_empty) {
        refuse(
            "iss",
            "the Bearer issuer must be `auth:<CN of the signature certificate>`".to_owned(),
        );
    }
    if b.aud.trim().is_empty() {
        refuse(
            "aud",
            "the audience is empty (profiles.<name>.aud)".to_owned(),
        );
    }
    check_person("sub", &b.sub, refuse);
}

fn check_signature(input: &PreflightInput<'_>, c: &SignatureClaims, refuse: &mut Refuse<'_>) {
    let op = input.operation;
    let name = op.name();
    if c.iss.strip_prefix("integrity:").is_none_or(str::is_empty) {
        refuse(
            "iss",
            "the signature issuer must be `integrity:<CN of the signature certificate>`".to_owned(),
        );
    }
    if c.aud.trim().is_empty() {
        refuse(
            "aud",
            "the audience is empty (profiles.<name>.aud)".to_owned(),
        );
    }
    if c.sub != input.bearer.sub {
        refuse(
            "sub",
            "differs between the Bearer and the signature token".to_owned(),
        );
    }
    if !c.subject_role.is_listed() {
        refuse(
            "subject_role",
            format!(
                "`{}` is not a role of the Ruolo table",
                c.subject_role.as_str()
            ),
        );
    }
    if !c.organization.is_listed() {
        refuse(
            "subject_organization_id",
            format!("`{}` is not an organization code", c.organization.as_str()),
        );
    } else if let Err(e) = Organization::from_pair(c.organization.as_str(), &c.organization_name) {
        refuse("subject_organization", e.to_string());
    }
    if c.locality.trim().is_empty() {
        refuse("locality", "is missing (organization.locality)".to_owned());
    } else if !matches!(op, Operation::Validate | Operation::ValidateFhir)
        && let Err(e) = Locality::parse(&c.locality)
    {
        refuse(
            "locality",
            format!("{e}; {name} needs the XON form NAME^^^^^&OID&ISO^^^^CODE"),
        );
    }
    if let Some(person) = check_person("person_id", &c.person_id, refuse)
        && let Some(facts) = input.facts
        && !facts.patient_ids.iter().any(|p| p.extension == person.id())
    {
        refuse(
            "person_id",
            "is not among the CDA's recordTarget/patientRole/id extensions (the Gateway answers 403 /jwt-person-id)".to_owned(),
        );
    }
    let list = |values: Vec<&str>| values.join(", ");
    if !c.purpose_of_use.is_listed() {
        refuse(
            "purpose_of_use",
            format!("`{}` is not a purpose of use", c.purpose_of_use.as_str()),
        );
    } else if !op.purposes_of_use().contains(&c.purpose_of_use) {
        refuse(
            "purpose_of_use",
            format!(
                "`{}` is not allowed on {name}; allowed: {}",
                c.purpose_of_use.as_str(),
                list(op.purposes_of_use().iter().map(|p| p.as_str()).collect())
            ),
        );
    }
    if !c.action_id.is_listed() {
        refuse(
            "action_id",
            format!("`{}` is not an action", c.action_id.as_str()),
        );
    } else if !op.action_ids().contains(&c.action_id) {
        refuse(
            "action_id",
            format!(
                "`{}` is not allowed on {name}; allowed: {}",
                c.action_id.as_str(),
                list(op.action_ids().iter().map(|a| a.as_str()).collect())
            ),
        );
    }
    match (&c.resource_hl7_type, op) {
        (_, Operation::Delete) => {}
        (None, _) => refuse("resource_hl7_type", format!("is required on {name}")),
        (Some(t), _) => {
            if parse_resource_type(t).is_none() {
                refuse(
                    "resource_hl7_type",
                    format!("`{t}` is not in the form ('code^^codeSystem')"),
                );
            } else if let Some(expected) = input.facts.and_then(DocumentFacts::resource_hl7_type)
                && *t != expected
            {
                refuse(
                    "resource_hl7_type",
                    format!(
                        "`{t}` is not the CDA's code {expected} (the Gateway answers 403 /jwt-document-type)"
                    ),
                );
            }
        }
    }
    match (&c.attachment_hash, op.is_publication()) {
        (None, true) => refuse("attachment_hash", format!("is required on {name}")),
        (Some(_), false) => refuse(
            "attachment_hash",
            format!("must not be sent on {name} (GovWay refuses it outside publication)"),
        ),
        (Some(h), true) => match input.pdf {
            Some(pdf) => {
                let actual = sha256_hex(pdf);
                if !h.eq_ignore_ascii_case(&actual) {
                    refuse(
                        "attachment_hash",
                        format!(
                            "{h} is not the SHA-256 of the {} bytes sent ({actual})",
                            pdf.len()
                        ),
                    );
                }
            }
            None => refuse("attachment_hash", "there is no file to hash".to_owned()),
        },
        (None, false) => {}
    }
    for (field, value) in [
        ("subject_application_id", &c.subject_application_id),
        ("subject_application_vendor", &c.subject_application_vendor),
        (
            "subject_application_version",
            &c.subject_application_version,
        ),
    ] {
        if value.trim().is_empty() {
            refuse(field, format!("is missing (organization.{field})"));
        }
    }
}

/// Splits `('code^^codeSystem')`.
pub fn parse_resource_type(value: &str) -> Option<(&str, &str)> {
    let inner = value.strip_prefix("('")?.strip_suffix("')")?;
    let (code, system) = inner.split_once("^^")?;
    let ok = !code.is_empty()
        && !code.contains(['^', '\''])
        && !system.is_empty()
        && system.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    ok.then_some((code, system))
}

fn check_file(input: &PreflightInput<'_>, refuse: &mut Refuse<'_>) {
    let op = input.operation;
    if !op.sends_document() {
        return;
    }
    let Some(pdf) = input.pdf else {
        refuse("file", format!("{} needs the PDF", op.name()));
        return;
    };
    if pdf.is_empty() {
        refuse(
            "file",
            "is empty (the Gateway answers /msg/empty-file)".to_owned(),
        );
        return;
    }
    if !pdf.starts_with(b"%PDF") {
        refuse(
            "file",
            "is not a PDF (it does not start with %PDF)".to_owned(),
        );
        return;
    }
    let Some(facts) = input.facts else {
        refuse("file", "its CDA could not be read".to_owned());
        return;
    };
    if op.is_publication() {
        // The Gateway skips the PAdES check only for the TS issuer.
        let ts_issuer = input.signature.is_some_and(|c| c.iss == "integrity:S1#TS");
        match facts.signature {
            _ if ts_issuer => {}
            None => refuse("file", "its PAdES signature was not examined".to_owned()),
            Some(s) if !s.present => refuse(
                "file",
                format!(
                    "is not signed: {} needs a PAdES signature (the Gateway answers /msg/sign-error)",
                    op.name()
                ),
            ),
            Some(s) if !s.has_signing_time => refuse(
                "file",
                "its PAdES signature has no /M signing time (the Gateway answers /msg/sign-error)"
                    .to_owned(),
            ),
            Some(s) if !s.valid => refuse(
                "file",
                "its PAdES signature does not verify (\"La firma del pdf non risulta valida\", /msg/sign-error)"
                    .to_owned(),
            ),
            Some(_) => {}
        }
    }
}

/// The body fields each kind of call may carry.
const VALIDATION_FIELDS: &[&str] = &["activity", "mode", "healthDataFormat"];
const PUBLICATION_FIELDS: &[&str] = &[
    "workflowInstanceId",
    "healthDataFormat",
    "mode",
    "tipologiaStruttura",
    "attiCliniciRegoleAccesso",
    "identificativoDoc",
    "identificativoRep",
    "tipoDocumentoLivAlto",
    "assettoOrganizzativo",
    "dataInizioPrestazione",
    "dataFinePrestazione",
    "conservazioneANorma",
    "tipoAttivitaClinica",
    "identificativoSottomissione",
    "descriptions",
    "administrativeRequest",
    "priorita",
];
const METADATA_FIELDS: &[&str] = &[
    "tipologiaStruttura",
    "attiCliniciRegoleAccesso",
    "tipoDocumentoLivAlto",
    "assettoOrganizzativo",
    "dataInizioPrestazione",
    "dataFinePrestazione",
    "conservazioneANorma",
    "tipoAttivitaClinica",
    "identificativoSottomissione",
    "descriptions",
    "administrativeRequest",
];

/// OIDs a `descriptions` entry may carry (`{REG}` is a region code).
const DESCRIPTION_OIDS: &[&str] = &[
    "2.16.840.1.113883.2.9.6.1.5",
    "2.16.840.1.113883.2.9.6.1.51",
    "2.16.840.1.113883.6.73",
    "2.16.840.1.113883.2.9.6.1.57.1",
    "2.16.840.1.113883.2.9.6.1.57.2",
    "2.16.840.1.113883.2.9.6.1.11",
    "2.16.840.1.113883.2.9.4.3.13",
];

fn check_body(input: &PreflightInput<'_>, refuse: &mut Refuse<'_>) {
    let op = input.operation;
    let (allowed, required): (&[&str], &[&str]) = match op {
        Operation::Validate | Operation::ValidateFhir => (VALIDATION_FIELDS, &["activity"]),
        Operation::Create
        | Operation::ValidateAndCreate
        | Operation::Replace
        | Operation::ValidateAndReplace => (PUBLICATION_FIELDS, PUBLICATION_REQUIRED_FIELDS),
        Operation::UpdateMetadata | Operation::UpdateMetadataIti57 => {
            (METADATA_FIELDS, METADATA_REQUIRED_FIELDS)
        }
        _ => return,
    };
    let Some(body) = input.body else {
        refuse("requestBody", format!("{} needs a JSON body", op.name()));
        return;
    };
    let Some(obj) = body.as_object() else {
        refuse("requestBody", "is not a JSON object".to_owned());
        return;
    };
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            refuse(
                key,
                format!(
                    "is not a field of the {} body (the Gateway refuses unknown properties)",
                    op.name()
                ),
            );
        }
    }
    for key in required {
        match obj.get(*key) {
            None | Some(Value::Null) => {
                refuse(key, "deve essere valorizzato: is required".to_owned())
            }
            Some(Value::String(s)) if s.trim().is_empty() => refuse(key, "is empty".to_owned()),
            _ => {}
        }
    }
    let text = |key: &str| obj.get(key).and_then(Value::as_str);
    let not_text = |key: &str| obj.get(key).is_some_and(|v| !v.is_string() && !v.is_null());
    for key in [
        "activity",
        "mode",
        "healthDataFormat",
        "tipologiaStruttura",
        "identificativoDoc",
        "identificativoRep",
        "tipoDocumentoLivAlto",
        "assettoOrganizzativo",
        "dataInizioPrestazione",
        "dataFinePrestazione",
        "conservazioneANorma",
        "tipoAttivitaClinica",
        "identificativoSottomissione",
        "workflowInstanceId",
    ] {
        if not_text(key) {
            refuse(key, "must be a string".to_owned());
        }
    }
    let listed = |key: &str, ok: fn(&str) -> Result<(), String>, refuse: &mut Refuse<'_>| {
        if let Some(v) = text(key)
            && let Err(e) = ok(v)
        {
            refuse(key, e);
        }
    };
    listed(
        "activity",
        |v| {
            Activity::parse_listed(v)
                .map(drop)
                .map_err(|e| e.to_string())
        },
        refuse,
    );
    listed(
        "mode",
        |v| {
            InjectionMode::parse_listed(v)
                .map(drop)
                .map_err(|e| e.to_string())
        },
        refuse,
    );
    listed(
        "healthDataFormat",
        |v| {
            HealthDataFormat::parse_listed(v)
                .map(drop)
                .map_err(|e| e.to_string())
        },
        refuse,
    );
    listed(
        "tipologiaStruttura",
        |v| {
            HealthcareFacilityType::parse_listed(v)
                .map(drop)
                .map_err(|e| e.to_string())
        },
        refuse,
    );
    listed(
        "tipoDocumentoLivAlto",
        |v| {
            DocumentClass::parse_listed(v)
                .map(drop)
                .map_err(|e| e.to_string())
        },
        refuse,
    );
    listed(
        "assettoOrganizzativo",
        |v| {
            PracticeSetting::parse_listed(v)
                .map(drop)
                .map_err(|e| e.to_string())
        },
        refuse,
    );
    listed(
        "tipoAttivitaClinica",
        |v| {
            ClinicalActivity::parse_listed(v)
                .map(drop)
                .map_err(|e| e.to_string())
        },
        refuse,
    );
    listed(
        "identificativoDoc",
        |v| DocumentId::parse(v).map(drop).map_err(|e| e.to_string()),
        refuse,
    );
    listed(
        "workflowInstanceId",
        |v| {
            WorkflowInstanceId::parse(v)
                .map(drop)
                .map_err(|e| e.to_string())
        },
        refuse,
    );
    listed("identificativoRep", check_repository, refuse);
    listed("dataInizioPrestazione", check_timestamp, refuse);
    listed("dataFinePrestazione", check_timestamp, refuse);
    for key in ["identificativoSottomissione", "conservazioneANorma"] {
        if text(key).is_some_and(|v| v.chars().count() > 100) {
            refuse(key, "is longer than 100 characters".to_owned());
        }
    }
    if let (Some(start), Some(end)) = (text("dataInizioPrestazione"), text("dataFinePrestazione"))
        && check_timestamp(start).is_ok()
        && check_timestamp(end).is_ok()
        && end < start
    {
        refuse(
            "dataFinePrestazione",
            "is before dataInizioPrestazione".to_owned(),
        );
    }
    if matches!(op, Operation::Replace | Operation::ValidateAndReplace)
        && let (Some(new), Some(old)) = (text("identificativoDoc"), input.path_id)
        && new == old
    {
        refuse(
            "identificativoDoc",
            "is the id of the document being replaced; it must be the new document's id".to_owned(),
        );
    }
    check_string_list(obj, "descriptions", refuse, check_description);
    check_string_list(obj, "administrativeRequest", refuse, |v| {
        AdministrativeRequest::parse_listed(v)
            .map(drop)
            .map_err(|e| e.to_string())
    });
    check_event_codes(input, obj, refuse);
    if obj.get("priorita").is_some_and(|v| !v.is_boolean()) {
        refuse("priorita", "must be true or false".to_owned());
    }
    check_correlation(input, text("tipoDocumentoLivAlto"), refuse);
}

fn check_string_list(
    obj: &serde_json::Map<String, Value>,
    key: &str,
    refuse: &mut Refuse<'_>,
    each: impl Fn(&str) -> Result<(), String>,
) {
    match obj.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            if items.len() > 100 {
                refuse(key, "has more than 100 entries".to_owned());
            }
            for item in items {
                match item.as_str() {
                    Some(s) => {
                        if let Err(e) = each(s) {
                            refuse(key, e);
                        }
                    }
                    None => refuse(key, "entries must be strings".to_owned()),
                }
            }
        }
        Some(_) => refuse(key, "must be an array of strings".to_owned()),
    }
}

fn check_repository(value: &str) -> Result<(), String> {
    let rest = value
        .strip_prefix("2.16.840.1.113883.2.9.2.")
        .ok_or_else(|| {
            format!("`{value}` does not start with 2.16.840.1.113883.2.9.2.<region>.4.5.")
        })?;
    let (region, tail) = rest
        .split_once('.')
        .ok_or_else(|| format!("`{value}` has no region code"))?;
    if region.is_empty() || !region.bytes().all(|b| b.is_ascii_digit()) || !tail.starts_with("4.5.")
    {
        return Err(format!(
            "`{value}` is not 2.16.840.1.113883.2.9.2.<region>.4.5.<id>"
        ));
    }
    let known = Organization::LISTED
        .iter()
        .any(|o| o.as_str().trim_start_matches('0') == region.trim_start_matches('0'));
    if !known {
        return Err(format!(
            "region `{region}` of `{value}` is not an organization code"
        ));
    }
    if value.chars().count() > 100 {
        return Err("is longer than 100 characters".to_owned());
    }
    Ok(())
}

/// `yyyyMMddHHmmss`, a real date and time.
fn check_timestamp(value: &str) -> Result<(), String> {
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]");
    if value.len() != 14 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{value}` is not yyyyMMddHHmmss (the Gateway answers /msg/invalid-format)"
        ));
    }
    time::PrimitiveDateTime::parse(value, &fmt)
        .map(drop)
        .map_err(|_| format!("`{value}` is not a real date and time (yyyyMMddHHmmss)"))
}

fn check_description(value: &str) -> Result<(), String> {
    let parts: Vec<&str> = value.split('^').collect();
    let [code, description, oid] = parts.as_slice() else {
        return Err(format!("`{value}` is not CODE^Description^OID"));
    };
    if code.is_empty() || description.is_empty() {
        return Err(format!("`{value}` has an empty code or description"));
    }
    let regional = oid
        .strip_prefix("2.16.840.1.113883.2.9.2.")
        .and_then(|r| r.strip_suffix(".6.1.11"))
        .is_some_and(|reg| !reg.is_empty() && reg.bytes().all(|b| b.is_ascii_digit()));
    if DESCRIPTION_OIDS.contains(oid) || regional {
        Ok(())
    } else {
        Err(format!(
            "`{value}`: OID `{oid}` is not one the Gateway allows in descriptions"
        ))
    }
}

fn check_event_codes(
    input: &PreflightInput<'_>,
    obj: &serde_json::Map<String, Value>,
    refuse: &mut Refuse<'_>,
) {
    const KEY: &str = "attiCliniciRegoleAccesso";
    let mut codes = Vec::new();
    check_string_list(obj, KEY, refuse, |v| {
        if is_accepted_event_code(v) {
            Ok(())
        } else {
            Err(format!(
                "`{v}` is not an event code (\"Il campo atti clinici {v} non è consentito\")"
            ))
        }
    });
    if let Some(Value::Array(items)) = obj.get(KEY) {
        codes.extend(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(EventCode::from_wire_ignore_case),
        );
    }
    // fse-cda's obscuring rules: P97/P98 refused, one visibility code, a V
    // document needs P99 or P00, P00 only on V. A metadata update has no CDA
    // at hand: only the rules about the codes themselves apply.
    let confidentiality = input
        .facts
        .and_then(|f| f.confidentiality.as_deref())
        .map(fse_cda::metadata::Confidentiality::from_code);
    for problem in fse_cda::obscuring::check(confidentiality.as_ref(), &codes) {
        let unknown = problem.rule == fse_cda::obscuring::PolicyRule::UnknownConfidentiality;
        if unknown && input.facts.is_none() {
            continue;
        }
        let field = if unknown { "file" } else { KEY };
        refuse(field, problem.to_string());
    }
}

/// Whether the Gateway accepts `value` as an event code: the listed ones,
/// and the families it accepts beyond the published table (SNOMED CT
/// vaccine codes, all digits; ATC vaccine groups `J07..`), case aside.
fn is_accepted_event_code(value: &str) -> bool {
    let upper = value.to_ascii_uppercase();
    EventCode::from_wire_ignore_case(value).is_listed()
        || (!value.is_empty() && value.len() <= 18 && value.bytes().all(|b| b.is_ascii_digit()))
        || (upper.len() == 5
            && upper.starts_with("J07")
            && upper[3..].bytes().all(|b| b.is_ascii_uppercase()))
}

fn check_correlation(input: &PreflightInput<'_>, class: Option<&str>, refuse: &mut Refuse<'_>) {
    let Some(class) = class else { return };
    let resource = input
        .signature
        .and_then(|c| c.resource_hl7_type.as_deref())
        .and_then(parse_resource_type);
    let Some((code, system)) = resource else {
        return;
    };
    if system != "2.16.840.1.113883.6.1" {
        return;
    }
    match fse_cda::class::for_loinc(code) {
        Some(expected) if expected.as_str() != class => refuse(
            "tipoDocumentoLivAlto",
            format!(
                "`{class}` is not correlated with the document code {code} (expected {}): \"Non c'è correlazione\"",
                expected.as_str()
            ),
        ),
        _ => {}
    }
}
