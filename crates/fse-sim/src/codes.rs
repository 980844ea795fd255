//! The national code tables the checks need, over fse-model's tables (the
//! wire values) and fse-cda's LOINC → class map.

use fse_model::tables::{
    ActionId, AdministrativeRequest, ClinicalActivity, CodeTable, DocumentClass, EventCode,
    HealthcareFacilityType, Organization, PracticeSetting, PurposeOfUse, SubjectRole,
};

/// Whether `value` is listed by table `T`.
pub fn listed<T: CodeTable>(value: &str) -> bool {
    T::parse_listed(value).is_ok()
}

/// `subject_role` (Ruolo).
pub fn is_role(value: &str) -> bool {
    listed::<SubjectRole>(value)
}

/// `purpose_of_use`.
pub fn is_purpose(value: &str) -> bool {
    listed::<PurposeOfUse>(value)
}

/// `action_id`.
pub fn is_action(value: &str) -> bool {
    listed::<ActionId>(value)
}

/// `tipoAttivitaClinica`.
pub fn is_clinical_activity(value: &str) -> bool {
    listed::<ClinicalActivity>(value)
}

/// `tipologiaStruttura`.
pub fn is_facility_type(value: &str) -> bool {
    listed::<HealthcareFacilityType>(value)
}

/// `tipoDocumentoLivAlto`.
pub fn is_document_class(value: &str) -> bool {
    listed::<DocumentClass>(value)
}

/// `administrativeRequest`.
pub fn is_administrative_request(value: &str) -> bool {
    listed::<AdministrativeRequest>(value)
}

/// `assettoOrganizzativo`: a practice-setting code `AD_PSC###` of the table.
pub fn is_practice_setting(value: &str) -> bool {
    listed::<PracticeSetting>(value)
}

/// An event code of `attiCliniciRegoleAccesso`, compared ignoring case as
/// the Gateway does.
pub fn is_event_code(value: &str) -> bool {
    EventCode::from_wire_ignore_case(value).is_listed()
}

/// Whether an event code obscures the document (`P99`).
pub fn obscures(value: &str) -> bool {
    EventCode::from_wire_ignore_case(value) == EventCode::P99
}

/// The organization name for `code`, when it is listed.
pub fn organization_name(code: &str) -> Option<&'static str> {
    Organization::parse_listed(code).ok().and_then(|o| o.name())
}

/// Whether `code` is an organization (region) code.
pub fn is_organization_code(code: &str) -> bool {
    listed::<Organization>(code)
}

/// The OIDs allowed as the third part of a `descriptions` entry (the
/// regional one with any listed region code).
pub fn is_description_oid(oid: &str) -> bool {
    const FIXED: &[&str] = &[
        "2.16.840.1.113883.2.9.6.1.5",
        "2.16.840.1.113883.2.9.6.1.51",
        "2.16.840.1.113883.6.73",
        "2.16.840.1.113883.2.9.6.1.57.1",
        "2.16.840.1.113883.2.9.6.1.57.2",
        "2.16.840.1.113883.2.9.6.1.11",
        "2.16.840.1.113883.2.9.4.3.13",
    ];
    if FIXED.contains(&oid) {
        return true;
    }
    oid.strip_prefix("2.16.840.1.113883.2.9.2.")
        .and_then(|rest| rest.strip_suffix(".6.1.11"))
        .is_some_and(is_organization_code)
}

/// The class (`tipoDocumentoLivAlto`) a LOINC document code belongs to,
/// for the `release` dispatcher's correlation check.
pub fn class_of_document_code(loinc: &str) -> Option<DocumentClass> {
    fse_cda::class::for_loinc(loinc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn practice_settings_follow_the_table() {
        assert!(is_practice_setting("AD_PSC001"));
        assert!(is_practice_setting("AD_PSC999"));
        assert!(!is_practice_setting("AD_PSC016"));
        assert!(!is_practice_setting("PSC001"));
    }

    #[test]
    fn event_codes_are_case_insensitive_and_closed() {
        assert!(is_event_code("P99"));
        assert!(is_event_code("p99"));
        assert!(obscures("p99"));
        assert!(!is_event_code("P96"));
    }

    #[test]
    fn description_oids_include_regional_ones() {
        assert!(is_description_oid("2.16.840.1.113883.2.9.6.1.5"));
        assert!(is_description_oid("2.16.840.1.113883.2.9.2.090.6.1.11"));
        assert!(!is_description_oid("2.16.840.1.113883.2.9.2.999999.6.1.11"));
        assert!(!is_description_oid("1.2.3"));
    }

    #[test]
    fn organizations_have_their_names() {
        assert_eq!(organization_name("090"), Some("Regione Toscana"));
        assert_eq!(organization_name("777"), None);
        assert_eq!(class_of_document_code("11502-2"), Some(DocumentClass::Ref));
    }
}
