//! The checks of the `requestBody` JSON, with the national messages.
//!
//! As the Gateway (Jackson with unknown properties refused): bad JSON, an
//! unknown property, a value of the wrong JSON type or outside its enum
//! give 400 `/msg/mandatory-element`; missing required fields are reported
//! in the Gateway's order with "Il campo … deve essere valorizzato.";
//! dates not `yyyyMMddHHmmss` and codes outside their table give 400
//! `/msg/invalid-format`; an `identificativoDoc` without `^suffix` gives
//! 400 `/msg/id-doc`.

use fse_model::DocumentId;
use fse_model::operation::{METADATA_REQUIRED_FIELDS, PUBLICATION_REQUIRED_FIELDS};
use fse_model::problem::NationalErrorType;
use fse_model::tables::{HealthDataFormat, InjectionMode};
use serde_json::{Map, Value};

use crate::codes;
use crate::problem::Problem;

/// The activity of a validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// `VERIFICA`: check only (200).
    Verifica,
    /// `VALIDATION`: check and keep the hash for publication (201).
    Validation,
}

/// Where the CDA sits in the PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// An embedded file `cda.xml`.
    Attachment,
    /// The XFA `datasets` resource.
    Resource,
}

/// A checked validation body.
#[derive(Debug, Clone)]
pub struct ValidationBody {
    /// `activity`.
    pub activity: Activity,
    /// `mode`, when given.
    pub mode: Option<Mode>,
}

/// A checked publication (create, replace, validate-and-*) body.
#[derive(Debug, Clone)]
pub struct PublicationBody {
    /// `workflowInstanceId`, when given.
    pub workflow_instance_id: Option<String>,
    /// `mode`, when given.
    pub mode: Option<Mode>,
    /// `identificativoDoc`.
    pub document_id: String,
    /// `tipoDocumentoLivAlto`.
    pub class_code: String,
    /// `attiCliniciRegoleAccesso`.
    pub event_codes: Vec<String>,
    /// `tipoAttivitaClinica`.
    pub clinical_activity: String,
    /// The whole body, as sent (kept as the document's metadata).
    pub raw: Map<String, Value>,
}

/// A checked metadata-update body.
#[derive(Debug, Clone)]
pub struct MetadataBody {
    /// `tipoDocumentoLivAlto`.
    pub class_code: String,
    /// `attiCliniciRegoleAccesso`.
    pub event_codes: Vec<String>,
    /// `tipoAttivitaClinica`, when given.
    pub clinical_activity: Option<String>,
    /// The whole body, as sent.
    pub raw: Map<String, Value>,
}

#[derive(Clone, Copy)]
enum Kind {
    Text { max: usize },
    Code(fn(&str) -> bool),
    Date,
    TextList { max_items: usize },
    CodeList(fn(&str) -> bool),
    Bool,
}

const PUBLICATION_FIELDS: &[(&str, Kind)] = &[
    ("workflowInstanceId", Kind::Text { max: 256 }),
    (
        "healthDataFormat",
        Kind::Code(codes::listed::<HealthDataFormat>),
    ),
    ("mode", Kind::Code(codes::listed::<InjectionMode>)),
    ("tipologiaStruttura", Kind::Code(codes::is_facility_type)),
    (
        "attiCliniciRegoleAccesso",
        Kind::TextList { max_items: 100 },
    ),
    ("identificativoDoc", Kind::Text { max: 256 }),
    ("identificativoRep", Kind::Text { max: 100 }),
    ("tipoDocumentoLivAlto", Kind::Code(codes::is_document_class)),
    ("assettoOrganizzativo", Kind::Text { max: 100 }),
    ("dataInizioPrestazione", Kind::Date),
    ("dataFinePrestazione", Kind::Date),
    ("conservazioneANorma", Kind::Text { max: 100 }),
    (
        "tipoAttivitaClinica",
        Kind::Code(codes::is_clinical_activity),
    ),
    ("identificativoSottomissione", Kind::Text { max: 100 }),
    ("descriptions", Kind::TextList { max_items: 100 }),
    (
        "administrativeRequest",
        Kind::CodeList(codes::is_administrative_request),
    ),
    ("priorita", Kind::Bool),
];

const METADATA_FIELDS: &[(&str, Kind)] = &[
    ("tipologiaStruttura", Kind::Code(codes::is_facility_type)),
    (
        "attiCliniciRegoleAccesso",
        Kind::TextList { max_items: 100 },
    ),
    ("tipoDocumentoLivAlto", Kind::Code(codes::is_document_class)),
    ("assettoOrganizzativo", Kind::Text { max: 100 }),
    ("dataInizioPrestazione", Kind::Date),
    ("dataFinePrestazione", Kind::Date),
    ("conservazioneANorma", Kind::Text { max: 100 }),
    (
        "tipoAttivitaClinica",
        Kind::Code(codes::is_clinical_activity),
    ),
    ("identificativoSottomissione", Kind::Text { max: 100 }),
    ("descriptions", Kind::TextList { max_items: 100 }),
    (
        "administrativeRequest",
        Kind::CodeList(codes::is_administrative_request),
    ),
];

const VALIDATION_FIELDS: &[(&str, Kind)] = &[
    (
        "activity",
        Kind::Code(codes::listed::<fse_model::tables::Activity>),
    ),
    ("mode", Kind::Code(codes::listed::<InjectionMode>)),
    (
        "healthDataFormat",
        Kind::Code(codes::listed::<HealthDataFormat>),
    ),
];

fn mandatory(detail: impl Into<String>) -> Problem {
    Problem::new(NationalErrorType::MandatoryElement, detail)
        .with_instance("/request-missing-field")
}

fn invalid(detail: impl Into<String>) -> Problem {
    Problem::new(NationalErrorType::InvalidFormat, detail)
        .with_instance("/request-invalid-date-format")
}

fn parse_object(raw: Option<&[u8]>) -> Result<Map<String, Value>, Problem> {
    let Some(raw) = raw else {
        return Err(mandatory("Il campo requestBody deve essere valorizzato."));
    };
    match serde_json::from_slice::<Value>(raw) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(mandatory("Il requestBody deve essere un oggetto JSON.")),
        Err(e) => Err(mandatory(format!(
            "Il requestBody non è un JSON valido: {e}."
        ))),
    }
}

/// Checks the shape of every property (known, JSON type, enum) in order.
fn check_shapes(map: &Map<String, Value>, fields: &[(&str, Kind)]) -> Result<(), Problem> {
    for (name, value) in map {
        let Some((_, kind)) = fields.iter().find(|(n, _)| n == name) else {
            return Err(mandatory(format!("Il campo {name} non è riconosciuto.")));
        };
        if value.is_null() {
            continue;
        }
        let wrong = |what: &str| mandatory(format!("Il campo {name} {what}."));
        match *kind {
            Kind::Text { max } => {
                let s = value
                    .as_str()
                    .ok_or_else(|| wrong("deve essere una stringa"))?;
                if s.chars().count() > max {
                    return Err(invalid(format!(
                        "Il campo {name} supera i {max} caratteri."
                    )));
                }
            }
            Kind::Code(is_listed) => {
                let s = value
                    .as_str()
                    .ok_or_else(|| wrong("deve essere una stringa"))?;
                if !is_listed(s) {
                    return Err(wrong(&format!("ha un valore non ammesso: {s}")));
                }
            }
            Kind::Date => {
                let s = value
                    .as_str()
                    .ok_or_else(|| wrong("deve essere una stringa"))?;
                if !is_gateway_timestamp(s) {
                    return Err(invalid(format!(
                        "Il campo {name} deve essere nel formato yyyyMMddHHmmss: {s}."
                    )));
                }
            }
            Kind::TextList { max_items } => {
                let items = value
                    .as_array()
                    .ok_or_else(|| wrong("deve essere una lista"))?;
                if items.len() > max_items {
                    return Err(invalid(format!(
                        "Il campo {name} ha più di {max_items} elementi."
                    )));
                }
                if items.iter().any(|i| !i.is_string()) {
                    return Err(wrong("deve essere una lista di stringhe"));
                }
            }
            Kind::CodeList(is_listed) => {
                let items = value
                    .as_array()
                    .ok_or_else(|| wrong("deve essere una lista"))?;
                for item in items {
                    let s = item
                        .as_str()
                        .ok_or_else(|| wrong("deve essere una lista di stringhe"))?;
                    if !is_listed(s) {
                        return Err(wrong(&format!("ha un valore non ammesso: {s}")));
                    }
                }
            }
            Kind::Bool => {
                if !value.is_boolean() {
                    return Err(wrong("deve essere un booleano"));
                }
            }
        }
    }
    Ok(())
}

fn present<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    map.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn require(map: &Map<String, Value>, required: &[&str]) -> Result<(), Problem> {
    for name in required {
        if present(map, name).is_none() {
            return Err(mandatory(format!(
                "Il campo {name} deve essere valorizzato."
            )));
        }
    }
    Ok(())
}

fn strings(map: &Map<String, Value>, name: &str) -> Vec<String> {
    map.get(name)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The checks shared by publication and metadata bodies on codes.
fn check_codes(map: &Map<String, Value>) -> Result<(), Problem> {
    if let Some(ps) = present(map, "assettoOrganizzativo")
        && !codes::is_practice_setting(ps)
    {
        return Err(mandatory(format!(
            "Il campo assettoOrganizzativo ha un valore non ammesso: {ps}"
        )));
    }
    for code in strings(map, "attiCliniciRegoleAccesso") {
        if !codes::is_event_code(&code) {
            return Err(invalid(format!(
                "Il campo atti clinici {code} non è consentito."
            )));
        }
    }
    for description in strings(map, "descriptions") {
        let parts: Vec<&str> = description.split('^').collect();
        let ok = matches!(parts.as_slice(), [code, text, oid]
            if !code.is_empty() && !text.is_empty() && codes::is_description_oid(oid));
        if !ok {
            return Err(invalid(format!(
                "Il campo descriptions deve avere il formato CODICE^Descrizione^OID con un OID ammesso: {description}."
            )));
        }
    }
    if let (Some(start), Some(end)) = (
        present(map, "dataInizioPrestazione"),
        present(map, "dataFinePrestazione"),
    ) && start > end
    {
        return Err(invalid(
            "La dataInizioPrestazione è successiva alla dataFinePrestazione.",
        ));
    }
    Ok(())
}

/// Checks a validation body.
///
/// # Errors
/// The first problem, as the Gateway reports it.
pub fn check_validation(raw: Option<&[u8]>) -> Result<ValidationBody, Problem> {
    let map = parse_object(raw)?;
    check_shapes(&map, VALIDATION_FIELDS)?;
    let activity = match present(&map, "activity") {
        Some("VERIFICA") => Activity::Verifica,
        Some("VALIDATION") => Activity::Validation,
        _ => return Err(mandatory("Il campo activity deve essere valorizzato.")),
    };
    Ok(ValidationBody {
        activity,
        mode: mode(&map),
    })
}

fn mode(map: &Map<String, Value>) -> Option<Mode> {
    match present(map, "mode") {
        Some("ATTACHMENT") => Some(Mode::Attachment),
        Some("RESOURCE") => Some(Mode::Resource),
        _ => None,
    }
}

/// Checks a create, replace or validate-and-* body.
///
/// # Errors
/// The first problem, as the Gateway reports it.
pub fn check_publication(raw: Option<&[u8]>) -> Result<PublicationBody, Problem> {
    let map = parse_object(raw)?;
    check_shapes(&map, PUBLICATION_FIELDS)?;
    require(&map, PUBLICATION_REQUIRED_FIELDS)?;
    let document_id = present(&map, "identificativoDoc")
        .unwrap_or_default()
        .to_owned();
    check_document_id(&document_id)?;
    let rep = present(&map, "identificativoRep").unwrap_or_default();
    if !is_repository_id(rep) {
        return Err(Problem::new(
            NationalErrorType::GenericError,
            format!("Il campo identificativoRep non è valido: {rep}."),
        )
        .with_status(http::StatusCode::BAD_REQUEST));
    }
    check_codes(&map)?;
    let wii = present(&map, "workflowInstanceId").map(str::to_owned);
    Ok(PublicationBody {
        workflow_instance_id: wii,
        mode: mode(&map),
        class_code: present(&map, "tipoDocumentoLivAlto")
            .unwrap_or_default()
            .to_owned(),
        event_codes: strings(&map, "attiCliniciRegoleAccesso"),
        clinical_activity: present(&map, "tipoAttivitaClinica")
            .unwrap_or_default()
            .to_owned(),
        document_id,
        raw: map,
    })
}

/// Checks a metadata-update body.
///
/// # Errors
/// The first problem, as the Gateway reports it.
pub fn check_metadata(raw: Option<&[u8]>) -> Result<MetadataBody, Problem> {
    let map = parse_object(raw)?;
    check_shapes(&map, METADATA_FIELDS)?;
    // Where the Gateway answers 500 for a missing field other than the
    // class, the simulator answers the 400 that names it.
    require(&map, METADATA_REQUIRED_FIELDS)?;
    check_codes(&map)?;
    Ok(MetadataBody {
        class_code: present(&map, "tipoDocumentoLivAlto")
            .unwrap_or_default()
            .to_owned(),
        event_codes: strings(&map, "attiCliniciRegoleAccesso"),
        clinical_activity: present(&map, "tipoAttivitaClinica").map(str::to_owned),
        raw: map,
    })
}

/// Checks an `identificativoDoc` or `{idDoc}`: `^` then a non-empty suffix.
///
/// # Errors
/// 400 `/msg/id-doc`.
pub fn check_document_id(id: &str) -> Result<DocumentId, Problem> {
    DocumentId::parse(id).map_err(|e| {
        Problem::new(
            NationalErrorType::IdDoc,
            format!("L'identificativo documento non è valido: {e}."),
        )
        .with_instance("/invalid-id")
    })
}

/// `2.16.840.1.113883.2.9.2.<region>.4.5.<...>` with a known region.
fn is_repository_id(rep: &str) -> bool {
    rep.strip_prefix("2.16.840.1.113883.2.9.2.")
        .and_then(|rest| rest.split_once(".4.5."))
        .is_some_and(|(region, _)| {
            region.bytes().all(|b| b.is_ascii_digit()) && codes::is_organization_code(region)
        })
}

/// `yyyyMMddHHmmss` with a real date and time.
pub fn is_gateway_timestamp(s: &str) -> bool {
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let num = |a: usize, b: usize| {
        s.get(a..b)
            .and_then(|x| x.parse::<u8>().ok())
            .unwrap_or(255)
    };
    let year: i32 = s.get(0..4).and_then(|x| x.parse().ok()).unwrap_or(0);
    let Ok(month) = time::Month::try_from(num(4, 6)) else {
        return false;
    };
    time::Date::from_calendar_date(year, month, num(6, 8)).is_ok()
        && num(8, 10) < 24
        && num(10, 12) < 60
        && num(12, 14) < 60
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            "healthDataFormat": "CDA",
            "mode": "ATTACHMENT",
            "tipologiaStruttura": "Ospedale",
            "attiCliniciRegoleAccesso": ["P99"],
            "identificativoDoc": "2.16.840.1.113883.2.9.2.90.4.4^ABC",
            "identificativoRep": "2.16.840.1.113883.2.9.2.090.4.5.1",
            "tipoDocumentoLivAlto": "REF",
            "assettoOrganizzativo": "AD_PSC001",
            "dataInizioPrestazione": "20240101120000",
            "dataFinePrestazione": "20240101130000",
            "tipoAttivitaClinica": "CON",
            "identificativoSottomissione": "2.16.840.1.113883.2.9.2.090.4.3.1",
            "descriptions": ["A01^Emocromo^2.16.840.1.113883.2.9.6.1.5"],
            "administrativeRequest": ["SSN"],
        })
    }

    fn check(v: &Value) -> Result<PublicationBody, (u16, String, String)> {
        check_publication(Some(v.to_string().as_bytes()))
            .map_err(|p| (p.status.as_u16(), p.kind.type_uri(), p.detail))
    }

    #[test]
    fn a_complete_body_passes() {
        let body = check(&good()).expect("valid");
        assert_eq!(body.document_id, "2.16.840.1.113883.2.9.2.90.4.4^ABC");
        assert_eq!(body.event_codes, vec!["P99".to_owned()]);
        assert_eq!(body.mode, Some(Mode::Attachment));
    }

    #[test]
    fn the_national_body_scenarios_are_400_with_their_types() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("tipologiaStruttura", Value::Null, "/msg/mandatory-element"),
            ("unknownProperty", json!("x"), "/msg/mandatory-element"),
            (
                "tipoDocumentoLivAlto",
                json!("XXX"),
                "/msg/mandatory-element",
            ),
            (
                "dataInizioPrestazione",
                json!("2014-10-20"),
                "/msg/invalid-format",
            ),
            (
                "attiCliniciRegoleAccesso",
                json!(["P96"]),
                "/msg/invalid-format",
            ),
            ("descriptions", json!(["x^y"]), "/msg/invalid-format"),
            (
                "identificativoDoc",
                json!("507f1f77bcf86cd799439011"),
                "/msg/id-doc",
            ),
            ("identificativoRep", json!("1.2.3"), "/msg/generic-error"),
            ("priorita", json!("yes"), "/msg/mandatory-element"),
        ];
        for (field, value, expected) in cases {
            let mut v = good();
            if let Some(map) = v.as_object_mut() {
                if value.is_null() {
                    map.remove(field);
                } else {
                    map.insert(field.to_owned(), value);
                }
            }
            let err = check(&v)
                .err()
                .unwrap_or((0, "accepted".to_owned(), String::new()));
            assert_eq!(
                (err.0, err.1.as_str()),
                (400, expected),
                "{field}: {}",
                err.2
            );
        }
    }

    #[test]
    fn missing_fields_are_reported_in_the_gateway_order() {
        let err = check(&json!({})).err().map(|e| e.2);
        assert_eq!(
            err.as_deref(),
            Some("Il campo identificativoDoc deve essere valorizzato.")
        );
        let mut v = good();
        if let Some(m) = v.as_object_mut() {
            m.remove("tipologiaStruttura");
            m.remove("tipoAttivitaClinica");
        }
        let err = check(&v).err().map(|e| e.2);
        assert_eq!(
            err.as_deref(),
            Some("Il campo tipoAttivitaClinica deve essere valorizzato.")
        );
    }

    #[test]
    fn bad_json_and_missing_body_are_mandatory_element() {
        for raw in [Some(&b"{"[..]), Some(&b"[]"[..]), None] {
            let p = check_publication(raw).err().map(|p| p.kind);
            assert_eq!(p, Some(NationalErrorType::MandatoryElement));
        }
    }

    #[test]
    fn validation_body_needs_activity() {
        let ok = check_validation(Some(br#"{"activity":"VALIDATION"}"#)).expect("ok");
        assert_eq!((ok.activity, ok.mode), (Activity::Validation, None));
        assert!(check_validation(Some(br#"{"mode":"ATTACHMENT"}"#)).is_err());
        assert!(check_validation(Some(br#"{"activity":"PUBLISH"}"#)).is_err());
        assert!(check_validation(Some(br#"{"activity":"VERIFICA","x":1}"#)).is_err());
    }

    #[test]
    fn metadata_body_asks_for_its_five_fields() {
        let v = json!({
            "tipologiaStruttura": "Ospedale", "tipoDocumentoLivAlto": "REF",
            "assettoOrganizzativo": "AD_PSC001", "tipoAttivitaClinica": "CON",
            "identificativoSottomissione": "2.16.840.1.113883.2.9.2.090.4.3.1",
            "attiCliniciRegoleAccesso": ["P99"],
        });
        let ok = check_metadata(Some(v.to_string().as_bytes())).expect("ok");
        assert_eq!(ok.event_codes, vec!["P99".to_owned()]);
        let err = check_metadata(Some(br#"{"tipologiaStruttura":"Ospedale"}"#))
            .err()
            .map(|p| p.detail);
        assert_eq!(
            err.as_deref(),
            Some("Il campo tipoDocumentoLivAlto deve essere valorizzato.")
        );
    }

    #[test]
    fn timestamps_must_be_real() {
        assert!(is_gateway_timestamp("20240229235959"));
        assert!(!is_gateway_timestamp("20230229120000"));
        assert!(!is_gateway_timestamp("20240101246000"));
        assert!(!is_gateway_timestamp("2024-01-01"));
    }
}
