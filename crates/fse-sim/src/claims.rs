//! The dispatcher's checks of the JWT claims: presence and format of every
//! claim, the action/purpose coherence table per operation, and the checks
//! against the CDA (`person_id`, `resource_hl7_type`) and the file
//! (`attachment_hash`).
//!
//! Every failure is 403 `/msg/jwt-validation` with the instance the
//! Gateway uses (`/jwt-mandatory-field-missing`,
//! `/jwt-mandatory-field-malformed`, `/jwt-person-id`,
//! `/jwt-document-type`), except the hash (400 `/msg/document-hash`).

use fse_model::problem::NationalErrorType;
use fse_model::{FiscalCode, Locality, PersonId};
use serde_json::{Map, Value};

use crate::codes;
use crate::operation::Operation;
use crate::problem::Problem;

/// The claims of the signature token the rest of the Gateway uses.
#[derive(Debug, Clone)]
pub struct Claims {
    /// `sub`: the user, CX.
    pub subject: String,
    /// `subject_role`.
    pub subject_role: String,
    /// `subject_organization_id`.
    pub organization_id: String,
    /// `iss`.
    pub issuer: String,
    /// `locality`.
    pub locality: String,
    /// `person_id`: the patient.
    pub person_id: Option<PersonId>,
    /// `resource_hl7_type` as `(code, code system)`.
    pub resource_type: Option<(String, String)>,
    /// `attachment_hash`, lower case.
    pub attachment_hash: Option<String>,
    /// `action_id`.
    pub action_id: String,
    /// `purpose_of_use`.
    pub purpose_of_use: String,
}

const MISSING: &str = "/jwt-mandatory-field-missing";
const MALFORMED: &str = "/jwt-mandatory-field-malformed";

fn missing(claim: &str) -> Problem {
    Problem::new(
        NationalErrorType::JwtValidation,
        format!("Il campo {claim} del token JWT deve essere valorizzato."),
    )
    .with_instance(MISSING)
}

fn malformed(claim: &str, why: impl std::fmt::Display) -> Problem {
    Problem::new(
        NationalErrorType::JwtValidation,
        format!("Il campo {claim} del token JWT non è valido: {why}."),
    )
    .with_instance(MALFORMED)
}

/// A required non-empty string claim.
fn text<'a>(claims: &'a Map<String, Value>, name: &str) -> Result<&'a str, Problem> {
    match claims.get(name) {
        None | Some(Value::Null) => Err(missing(name)),
        Some(Value::String(s)) if s.trim().is_empty() => Err(missing(name)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(malformed(name, "deve essere una stringa")),
    }
}

fn seconds(claims: &Map<String, Value>, name: &str) -> Result<i64, Problem> {
    match claims.get(name) {
        None | Some(Value::Null) => Err(missing(name)),
        Some(v) => v
            .as_i64()
            .ok_or_else(|| malformed(name, "deve essere un intero (secondi)")),
    }
}

/// The reserved claims both tokens carry, and `iss` with its prefix naming
/// the certificate that signed the token.
fn check_reserved(
    claims: &Map<String, Value>,
    prefix: &str,
    signer_cn: &str,
) -> Result<(), Problem> {
    let iss = text(claims, "iss")?;
    let Some(cn) = iss.strip_prefix(prefix) else {
        return Err(malformed(
            "iss",
            format_args!("deve iniziare con '{prefix}'"),
        ));
    };
    if cn != signer_cn {
        return Err(malformed(
            "iss",
            format_args!(
                "'{prefix}{cn}' non corrisponde al CN del certificato di firma '{signer_cn}'"
            ),
        ));
    }
    seconds(claims, "iat")?;
    seconds(claims, "exp")?;
    text(claims, "jti")?;
    text(claims, "sub")?;
    Ok(())
}

/// Checks the `Authorization` token's claims.
///
/// # Errors
/// The first claim missing or malformed.
pub fn check_bearer(claims: &Map<String, Value>, signer_cn: &str) -> Result<(), Problem> {
    check_reserved(claims, "auth:", signer_cn)?;
    check_subject(text(claims, "sub")?)
}

fn check_subject(sub: &str) -> Result<(), Problem> {
    // A CF is checked when its authority is MEF, or when there is no CX
    // authority at all (a bare code).
    if sub.contains("^^^") {
        PersonId::parse(sub).map_err(|e| malformed("sub", e))?;
    } else {
        FiscalCode::parse(sub).map_err(|e| malformed("sub", e))?;
    }
    Ok(())
}

/// The `action_id`s and `purpose_of_use`s the Gateway accepts per operation.
pub fn coherence(op: Operation) -> (&'static [&'static str], &'static [&'static str]) {
    match op {
        Operation::Validation => (&["CREATE", "UPDATE"], &["TREATMENT"]),
        Operation::Create | Operation::ValidateAndCreate => (&["CREATE"], &["TREATMENT"]),
        Operation::Replace | Operation::ValidateAndReplace => {
            (&["UPDATE"], &["TREATMENT", "UPDATE"])
        }
        Operation::UpdateMetadata => (&["UPDATE"], &["UPDATE", "ACCESS UPDATE"]),
        Operation::Delete => (&["DELETE"], &["UPDATE"]),
        _ => (&[], &[]),
    }
}

/// Checks the `FSE-JWT-Signature` token's claims for `op`.
///
/// # Errors
/// The first claim missing, malformed or incoherent with the operation.
pub fn check_signature_claims(
    claims: &Map<String, Value>,
    op: Operation,
    signer_cn: &str,
) -> Result<Claims, Problem> {
    check_reserved(claims, "integrity:", signer_cn)?;
    let subject = text(claims, "sub")?;
    check_subject(subject)?;

    let role = text(claims, "subject_role")?;
    if !codes::is_role(role) {
        return Err(malformed(
            "subject_role",
            format_args!("'{role}' non è un ruolo ammesso"),
        ));
    }

    let org_id = text(claims, "subject_organization_id")?;
    let org = text(claims, "subject_organization")?;
    match codes::organization_name(org_id) {
        None => {
            return Err(malformed(
                "subject_organization_id",
                format_args!("'{org_id}' non è un'organizzazione ammessa"),
            ));
        }
        Some(description) if description.to_lowercase() != org.to_lowercase() => {
            return Err(malformed(
                "subject_organization",
                format_args!("'{org}' non corrisponde al codice {org_id} ({description})"),
            ));
        }
        Some(_) => {}
    }

    let locality = text(claims, "locality")?;
    if op.writes() {
        Locality::parse(locality).map_err(|e| malformed("locality", e))?;
    }

    let person_id = if op == Operation::Delete || op == Operation::UpdateMetadata {
        // Checked for format when present; the document is not at hand.
        match claims.get("person_id") {
            Some(Value::String(p)) if !p.trim().is_empty() => {
                Some(PersonId::parse(p).map_err(|e| malformed("person_id", e))?)
            }
            Some(Value::String(_)) | None | Some(Value::Null) => return Err(missing("person_id")),
            Some(_) => return Err(malformed("person_id", "deve essere una stringa")),
        }
    } else {
        Some(PersonId::parse(text(claims, "person_id")?).map_err(|e| malformed("person_id", e))?)
    };

    match claims.get("patient_consent") {
        None | Some(Value::Null) => return Err(missing("patient_consent")),
        Some(Value::Bool(_)) => {}
        Some(_) => return Err(malformed("patient_consent", "deve essere un booleano")),
    }

    let purpose = text(claims, "purpose_of_use")?;
    if !codes::is_purpose(purpose) {
        return Err(malformed(
            "purpose_of_use",
            format_args!("'{purpose}' non è ammesso"),
        ));
    }
    let action = text(claims, "action_id")?;
    if !codes::is_action(action) {
        return Err(malformed(
            "action_id",
            format_args!("'{action}' non è ammesso"),
        ));
    }
    let (actions, purposes) = coherence(op);
    if !actions.contains(&action) {
        return Err(malformed(
            "action_id",
            format_args!(
                "'{action}' non è coerente con l'operazione {op} (atteso {})",
                actions.join(" o ")
            ),
        ));
    }
    if !purposes.contains(&purpose) {
        return Err(malformed(
            "purpose_of_use",
            format_args!(
                "'{purpose}' non è coerente con l'operazione {op} (atteso {})",
                purposes.join(" o ")
            ),
        ));
    }

    let resource_type =
        if op == Operation::Delete {
            None
        } else {
            let raw = text(claims, "resource_hl7_type")?;
            Some(parse_resource_type(raw).ok_or_else(|| {
                malformed("resource_hl7_type", "formato atteso ('CODICE^^SISTEMA')")
            })?)
        };

    let attachment_hash = if op.publishes() {
        let h = text(claims, "attachment_hash")?;
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed(
                "attachment_hash",
                "deve essere lo SHA-256 esadecimale del file",
            ));
        }
        Some(h.to_ascii_lowercase())
    } else {
        None
    };

    for name in [
        "subject_application_id",
        "subject_application_vendor",
        "subject_application_version",
    ] {
        text(claims, name)?;
    }
    if let Some(v) = claims.get("use_subject_as_author")
        && !v.is_boolean()
        && !v.is_null()
    {
        return Err(malformed(
            "use_subject_as_author",
            "deve essere un booleano",
        ));
    }

    Ok(Claims {
        subject: subject.to_owned(),
        subject_role: role.to_owned(),
        organization_id: org_id.to_owned(),
        issuer: text(claims, "iss")?.to_owned(),
        locality: locality.to_owned(),
        person_id,
        resource_type,
        attachment_hash,
        action_id: action.to_owned(),
        purpose_of_use: purpose.to_owned(),
    })
}

/// `('11502-2^^2.16.840.1.113883.6.1')` → `("11502-2", "2.16.840.1.113883.6.1")`.
pub fn parse_resource_type(raw: &str) -> Option<(String, String)> {
    let inner = raw.strip_prefix("('")?.strip_suffix("')")?;
    let (code, system) = inner.split_once("^^")?;
    if code.is_empty() || system.is_empty() || system.contains('^') {
        return None;
    }
    Some((code.to_owned(), system.to_owned()))
}

/// Checks `person_id` and `resource_hl7_type` against the CDA.
///
/// # Errors
/// 403 `/jwt-person-id` or `/jwt-document-type`.
pub fn check_against_cda(
    claims: &Claims,
    patient_extensions: &[String],
    code: Option<(&str, &str)>,
) -> Result<(), Problem> {
    if let Some(person) = &claims.person_id
        && !patient_extensions.iter().any(|e| e == person.id())
    {
        return Err(Problem::new(
                NationalErrorType::JwtValidation,
                format!(
                    "Il person_id del token JWT ({}) non corrisponde a nessun identificativo del paziente nel CDA.",
                    person.masked()
                ),
            )
            .with_instance("/jwt-person-id"));
    }
    if let Some((want_code, want_system)) = &claims.resource_type {
        let matches = code.is_some_and(|(c, s)| c == want_code && s == want_system);
        if !matches {
            let found = code.map_or_else(
                || "nessun codice".to_owned(),
                |(c, s)| format!("('{c}^^{s}')"),
            );
            return Err(Problem::new(
                NationalErrorType::JwtValidation,
                format!(
                    "Il resource_hl7_type del token JWT ('{want_code}^^{want_system}') non corrisponde al tipo del CDA {found}."
                ),
            )
            .with_instance("/jwt-document-type"));
        }
    }
    Ok(())
}

/// Checks `attachment_hash` against the SHA-256 of the file.
///
/// # Errors
/// 400 `/msg/document-hash`, instance `/jwt-hash-match`.
pub fn check_attachment_hash(claims: &Claims, file: &[u8]) -> Result<(), Problem> {
    let Some(expected) = &claims.attachment_hash else {
        return Ok(());
    };
    let actual = hex::encode(ring::digest::digest(&ring::digest::SHA256, file));
    if &actual != expected {
        return Err(Problem::new(
            NationalErrorType::DocumentHash,
            "L'hash del documento non corrisponde all'attachment_hash del token JWT.",
        )
        .with_instance("/jwt-hash-match"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CN: &str = "S1#090#FSE2SIM";

    pub(crate) fn good(op: Operation) -> Map<String, Value> {
        let (actions, purposes) = coherence(op);
        let v = json!({
            "iss": format!("integrity:{CN}"), "iat": 1, "exp": 2, "jti": "j", "aud": "a",
            "sub": "RSSMRA85T10A562S^^^&2.16.840.1.113883.2.9.4.3.2&ISO",
            "subject_role": "AAS",
            "subject_organization_id": "090", "subject_organization": "Regione Toscana",
            "locality": "LAB^^^^^&2.16.840.1.113883.2.9.4.1.3&ISO^^^^090123",
            "person_id": "RSSMRA85T10A562S^^^&2.16.840.1.113883.2.9.4.3.2&ISO",
            "patient_consent": true,
            "purpose_of_use": purposes.first().copied().unwrap_or("TREATMENT"),
            "action_id": actions.first().copied().unwrap_or("CREATE"),
            "resource_hl7_type": "('11502-2^^2.16.840.1.113883.6.1')",
            "attachment_hash": "ab".repeat(32),
            "subject_application_id": "APP", "subject_application_vendor": "V",
            "subject_application_version": "1",
        });
        v.as_object().cloned().unwrap_or_default()
    }

    fn instance(r: Result<Claims, Problem>) -> String {
        match r {
            Ok(_) => "ok".to_owned(),
            Err(p) => format!("{} {}", p.status.as_u16(), p.instance),
        }
    }

    #[test]
    fn good_claims_pass_for_every_operation() {
        for op in [
            Operation::Validation,
            Operation::Create,
            Operation::Replace,
            Operation::ValidateAndCreate,
            Operation::ValidateAndReplace,
            Operation::UpdateMetadata,
            Operation::Delete,
        ] {
            assert_eq!(
                instance(check_signature_claims(&good(op), op, CN)),
                "ok",
                "{op}"
            );
        }
    }

    #[test]
    fn each_claim_error_is_403_with_its_instance() {
        let op = Operation::Create;
        let cases: Vec<(&str, Value, &str)> = vec![
            ("action_id", json!("DELETE"), MALFORMED),
            ("purpose_of_use", json!("UPDATE"), MALFORMED),
            ("locality", json!("201123456"), MALFORMED),
            ("subject_organization", json!("Regione Lazio"), MALFORMED),
            ("subject_organization_id", json!("777"), MALFORMED),
            ("subject_role", json!("XXX"), MALFORMED),
            (
                "sub",
                json!("RSSMRA85T10A562X^^^&2.16.840.1.113883.2.9.4.3.2&ISO"),
                MALFORMED,
            ),
            (
                "person_id",
                json!("RSSMRA85T10A562X^^^&2.16.840.1.113883.2.9.4.3.2&ISO"),
                MALFORMED,
            ),
            ("patient_consent", json!("yes"), MALFORMED),
            ("resource_hl7_type", json!("11502-2"), MALFORMED),
            ("attachment_hash", json!("xyz"), MALFORMED),
            ("iss", json!("integrity:S1#999#OTHER"), MALFORMED),
            ("subject_application_id", Value::Null, MISSING),
            ("subject_application_vendor", json!(""), MISSING),
            ("jti", Value::Null, MISSING),
        ];
        for (claim, value, expected) in cases {
            let mut c = good(op);
            c.insert(claim.to_owned(), value);
            assert_eq!(
                instance(check_signature_claims(&c, op, CN)),
                format!("403 {expected}"),
                "{claim}"
            );
        }
    }

    #[test]
    fn resource_type_and_hash_are_not_required_where_the_gateway_does_not_need_them() {
        let mut c = good(Operation::Delete);
        c.remove("resource_hl7_type");
        c.remove("attachment_hash");
        assert_eq!(
            instance(check_signature_claims(&c, Operation::Delete, CN)),
            "ok"
        );
        let mut c = good(Operation::Validation);
        c.remove("attachment_hash");
        assert_eq!(
            instance(check_signature_claims(&c, Operation::Validation, CN)),
            "ok"
        );
        c.remove("resource_hl7_type");
        assert_eq!(
            instance(check_signature_claims(&c, Operation::Validation, CN)),
            format!("403 {MISSING}")
        );
    }

    #[test]
    fn cda_checks_compare_person_and_document_type() {
        let claims = check_signature_claims(&good(Operation::Create), Operation::Create, CN)
            .expect("claims");
        let ids = vec!["RSSMRA85T10A562S".to_owned()];
        assert!(
            check_against_cda(&claims, &ids, Some(("11502-2", "2.16.840.1.113883.6.1"))).is_ok()
        );
        let e = check_against_cda(
            &claims,
            &["OTHER".to_owned()],
            Some(("11502-2", "2.16.840.1.113883.6.1")),
        );
        assert_eq!(
            e.map_err(|p| p.instance).err().as_deref(),
            Some("/jwt-person-id")
        );
        let e = check_against_cda(&claims, &ids, Some(("34105-7", "2.16.840.1.113883.6.1")));
        assert_eq!(
            e.map_err(|p| p.instance).err().as_deref(),
            Some("/jwt-document-type")
        );
    }

    #[test]
    fn attachment_hash_is_compared_with_the_file() {
        let file = b"%PDF-1.4 test";
        let mut c = good(Operation::Create);
        let h = hex::encode(ring::digest::digest(&ring::digest::SHA256, file)).to_uppercase();
        c.insert("attachment_hash".to_owned(), json!(h));
        let claims = check_signature_claims(&c, Operation::Create, CN).expect("claims");
        assert!(check_attachment_hash(&claims, file).is_ok());
        let e =
            check_attachment_hash(&claims, b"%PDF-other").map_err(|p| (p.status.as_u16(), p.kind));
        assert_eq!(e.err(), Some((400, NationalErrorType::DocumentHash)));
    }
}
