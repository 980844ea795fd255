//! The code tables of the Gateway, with their exact wire values.
//!
//! The enums themselves are generated from the schema (one definition per
//! table); this module adds what the schema cannot say: the
//! [`CodeTable`] trait for generic code, the organization pair check, the
//! visibility policies among the event codes.
//!
//! Every table keeps values it does not list as `Other(String)`, so that
//! reading the Gateway's answers never fails on a value the specification
//! adds; use `parse_listed` where only listed values may pass.

pub use crate::generated::tables::*;

use crate::error::{Error, shown};

/// What every code table offers, for code generic over tables.
pub trait CodeTable: Sized + Clone + PartialEq + 'static {
    /// The table's name.
    const NAME: &'static str;

    /// Every value the table lists, in the specification's order.
    fn listed() -> &'static [Self];

    /// The value as the wire spells it.
    fn as_str(&self) -> &str;

    /// Reads a wire value; unlisted values become `Other`.
    fn from_wire(value: &str) -> Self;

    /// The specification's description of the value, when it has one.
    fn description(&self) -> Option<&'static str>;

    /// Whether the table lists the value.
    fn is_listed(&self) -> bool {
        Self::listed().contains(self)
    }

    /// Reads a wire value the table lists; any other is an error.
    fn parse_listed(value: &str) -> Result<Self, Error> {
        let read = Self::from_wire(value);
        if read.is_listed() {
            Ok(read)
        } else {
            Err(Error::UnlistedCode {
                table: Self::NAME,
                value: shown(value),
            })
        }
    }
}

impl Organization {
    /// The organization's name as `subject_organization` must carry it
    /// (`Regione Toscana` for 090).
    pub fn name(&self) -> Option<&'static str> {
        self.description()
    }

    /// Whether `name` is this organization's name, case aside, as the
    /// Gateway compares them.
    pub fn has_name(&self, name: &str) -> bool {
        self.name()
            .is_some_and(|expected| expected.to_lowercase() == name.to_lowercase())
    }

    /// Checks an organization code and name pair (`subject_organization_id`
    /// and `subject_organization`): the code must be listed and the name
    /// must be its name.
    pub fn from_pair(code: &str, name: &str) -> Result<Self, Error> {
        let organization = Self::parse_listed(code)?;
        let expected = organization.name().unwrap_or_default();
        if organization.has_name(name) {
            Ok(organization)
        } else {
            Err(Error::OrganizationMismatch {
                code: code.to_owned(),
                expected,
                found: shown(name),
            })
        }
    }

    /// Whether the organization is a region or autonomous province
    /// (codes 010 to 200), as opposed to a national body.
    pub fn is_region(&self) -> bool {
        self.as_str()
            .parse::<u16>()
            .is_ok_and(|n| (10..=200).contains(&n))
            && self.is_listed()
    }
}

/// Who may see a document, as the event codes P99, P97, P98 and P00 say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// `P99`: obscured to every role that may access the FSE.
    Obscured,
    /// `P97`: obscured to the patient's parents.
    ObscuredToParent,
    /// `P98`: obscured to the patient.
    ObscuredToPatient,
    /// `P00`: visible by the patient's explicit choice (a document that
    /// would otherwise be obscured by default).
    Visible,
}

impl EventCode {
    /// Reads a wire value ignoring case, as the Gateway accepts event codes.
    pub fn from_wire_ignore_case(value: &str) -> Self {
        Self::LISTED
            .iter()
            .find(|code| code.as_str().eq_ignore_ascii_case(value))
            .cloned()
            .unwrap_or_else(|| Self::from_wire(value))
    }

    /// The visibility policy the code sets, for P99, P97, P98 and P00.
    pub fn visibility(&self) -> Option<Visibility> {
        match self {
            Self::P99 => Some(Visibility::Obscured),
            Self::P97 => Some(Visibility::ObscuredToParent),
            Self::P98 => Some(Visibility::ObscuredToPatient),
            Self::P00 => Some(Visibility::Visible),
            _ => None,
        }
    }
}

impl Visibility {
    /// The event code that sets this policy.
    pub fn event_code(self) -> EventCode {
        match self {
            Self::Obscured => EventCode::P99,
            Self::ObscuredToParent => EventCode::P97,
            Self::ObscuredToPatient => EventCode::P98,
            Self::Visible => EventCode::P00,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_are_exact() {
        assert_eq!(ClinicalActivity::SistemaTs.as_str(), "Sistema_TS");
        assert_eq!(ClinicalActivity::PnDgc.as_str(), "PN_DGC");
        assert_eq!(
            HealthcareFacilityType::from_wire("MdsPN_DGC"),
            HealthcareFacilityType::MdsPnDgc
        );
        assert_eq!(PurposeOfUse::AccessUpdate.as_str(), "ACCESS UPDATE");
        assert_eq!(
            PracticeSetting::from_wire("AD_PSC199").description(),
            Some("Raccolta Consenso")
        );
        assert_eq!(DocumentClass::LISTED.len(), 19);
        assert_eq!(PracticeSetting::LISTED.len(), 89);
        assert_eq!(SubjectRole::LISTED.len(), 22);
        assert_eq!(ClinicalActivity::LISTED.len(), 8);
        assert_eq!(HealthcareFacilityType::LISTED.len(), 6);
        assert_eq!(AdministrativeRequest::LISTED.len(), 6);
        assert_eq!(EventStatus::LISTED.len(), 4);
    }

    #[test]
    fn every_listed_value_round_trips() {
        fn check<
            T: CodeTable + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
        >() {
            for value in T::listed() {
                assert_eq!(&T::from_wire(value.as_str()), value);
                assert!(value.is_listed());
                let json = serde_json::to_string(value).expect("serializes");
                assert_eq!(
                    &serde_json::from_str::<T>(&json).expect("deserializes"),
                    value
                );
                assert_eq!(T::parse_listed(value.as_str()).as_ref(), Ok(value));
            }
        }
        check::<Activity>();
        check::<InjectionMode>();
        check::<HealthDataFormat>();
        check::<HealthcareFacilityType>();
        check::<DocumentClass>();
        check::<PracticeSetting>();
        check::<ClinicalActivity>();
        check::<AdministrativeRequest>();
        check::<EventCode>();
        check::<SubjectRole>();
        check::<PurposeOfUse>();
        check::<ActionId>();
        check::<Organization>();
        check::<EventType>();
        check::<EventStatus>();
    }

    #[test]
    fn unlisted_values_are_kept_and_refused_by_strict_parsing() {
        let read: DocumentClass = serde_json::from_str("\"XXX\"").expect("lenient");
        assert_eq!(read, DocumentClass::Other("XXX".into()));
        assert!(!read.is_listed());
        assert_eq!(serde_json::to_string(&read).expect("serializes"), "\"XXX\"");
        let err = DocumentClass::parse_listed("XXX")
            .expect_err("strict")
            .to_string();
        assert!(err.contains("DocumentClass"), "{err}");
        // Case matters on the wire: the Gateway's JSON enums are exact.
        assert!(DocumentClass::parse_listed("ref").is_err());
        assert!(<DocumentClass as CodeTable>::parse_listed("P96").is_err());
    }

    #[test]
    fn organizations_pair_codes_and_names() {
        assert_eq!(
            Organization::from_pair("090", "Regione Toscana"),
            Ok(Organization::Toscana)
        );
        assert_eq!(
            Organization::from_pair("090", "REGIONE TOSCANA"),
            Ok(Organization::Toscana)
        );
        assert_eq!(
            Organization::from_pair("120", "Regione Lazio"),
            Ok(Organization::Lazio)
        );
        let err = Organization::from_pair("090", "Regione Lazio").expect_err("mismatch");
        assert!(
            matches!(
                err,
                Error::OrganizationMismatch {
                    expected: "Regione Toscana",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(Organization::from_pair("091", "Regione Toscana").is_err());
        assert!(Organization::Toscana.is_region());
        assert!(!Organization::Ini.is_region());
        assert_eq!(Organization::from_wire("999"), Organization::Mds);
    }

    #[test]
    fn event_codes_carry_visibility() {
        for v in [
            Visibility::Obscured,
            Visibility::ObscuredToParent,
            Visibility::ObscuredToPatient,
            Visibility::Visible,
        ] {
            assert_eq!(v.event_code().visibility(), Some(v));
        }
        assert_eq!(EventCode::Pay.visibility(), None);
        assert_eq!(EventCode::from_wire_ignore_case("PAY"), EventCode::Pay);
        assert_eq!(EventCode::from_wire_ignore_case("p99"), EventCode::P99);
        assert_eq!(
            EventCode::from_wire_ignore_case("1119349007"),
            EventCode::Other("1119349007".into())
        );
        assert_eq!(EventCode::from_wire("LP418019-8"), EventCode::Lp418019_8);
    }
}
