//! The claims of the two JWTs.
//!
//! [`BearerClaims`] and [`SignatureClaims`] are generated from
//! `schemas/fse-jwt-claims.schema.json`; this module adds the Gateway's
//! checks of their values and of their coherence with the operation.

pub use crate::generated::claims::*;

use crate::error::{Error, shown};
use crate::locality::Locality;
use crate::oid::Oid;
use crate::operation::Operation;
use crate::person::PersonId;
use crate::tables::Organization;

/// The `resource_hl7_type` claim of a document whose first `code` is
/// `code` in `code_system`: `('11502-2^^2.16.840.1.113883.6.1')`.
pub fn resource_hl7_type(code: &str, code_system: &Oid) -> String {
    format!("('{code}^^{code_system}')")
}

impl BearerClaims {
    /// The user, checked.
    pub fn user(&self) -> Result<PersonId, Error> {
        PersonId::parse(&self.sub)
    }
}

impl SignatureClaims {
    /// The user, checked.
    pub fn user(&self) -> Result<PersonId, Error> {
        PersonId::parse(&self.sub)
    }

    /// The patient, checked.
    pub fn patient(&self) -> Result<PersonId, Error> {
        PersonId::parse(&self.person_id)
    }

    /// The producing organization in XON form, checked.
    pub fn locality_xon(&self) -> Result<Locality, Error> {
        Locality::parse(&self.locality)
    }

    /// Checks that `subject_organization_id` and `subject_organization` are
    /// one entry of the organization table.
    pub fn checked_organization(&self) -> Result<Organization, Error> {
        Organization::from_pair(self.organization.as_str(), &self.organization_name)
    }

    /// Checks `action_id` and `purpose_of_use` against what `operation`
    /// accepts, as the Gateway does (403 `/msg/jwt-validation` otherwise).
    pub fn check_coherence(&self, operation: Operation) -> Result<(), Error> {
        if !operation.action_ids().contains(&self.action_id) {
            return Err(Error::Incoherent {
                claim: "action_id",
                value: shown(self.action_id.as_str()),
                operation: operation.operation_id(),
            });
        }
        if !operation.purposes_of_use().contains(&self.purpose_of_use) {
            return Err(Error::Incoherent {
                claim: "purpose_of_use",
                value: shown(self.purpose_of_use.as_str()),
                operation: operation.operation_id(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{ActionId, PurposeOfUse, SubjectRole};

    const SIGNATURE: &str = r#"{"sub":"SSSMNN75B01F257L^^^&2.16.840.1.113883.2.9.4.3.2&ISO","subject_role":"AAS",
        "purpose_of_use":"TREATMENT","iss":"integrity:S1#190201234567XX",
        "locality":"LABORATORIO DI PROVA^^^^^&2.16.840.1.113883.2.9.4.1.3&ISO^^^^190111123456",
        "subject_organization":"Regione Lazio","subject_organization_id":"120",
        "aud":"https://modipa-val.fse.salute.gov.it/govway/rest/in/FSE/gateway/v1","patient_consent":true,
        "action_id":"CREATE","resource_hl7_type":"('11502-2^^2.16.840.1.113883.6.1')",
        "attachment_hash":"b5c66f2e2dce23c478c8adb4cf89fd88c5d218ab84bef6c21b09bf76cd1b5c76",
        "subject_application_id":"GTW","subject_application_vendor":"GATEWAY","subject_application_version":"R2",
        "iat":1677589984,"exp":1677676384,"jti":"1234","person_id":"GTWGWY82B42G920M^^^&2.16.840.1.113883.2.9.4.3.2&ISO"}"#;

    #[test]
    fn signature_claims_read_and_check() {
        let claims: SignatureClaims = serde_json::from_str(SIGNATURE).expect("reads");
        assert_eq!(claims.subject_role, SubjectRole::Aas);
        assert_eq!(claims.organization, Organization::Lazio);
        assert_eq!(claims.checked_organization(), Ok(Organization::Lazio));
        assert_eq!(claims.patient().expect("valid").id(), "GTWGWY82B42G920M");
        assert_eq!(claims.user().expect("valid").id(), "SSSMNN75B01F257L");
        assert_eq!(claims.locality_xon().expect("XON").code(), "190111123456");
        assert_eq!(claims.iat, 1_677_589_984);
        assert!(claims.check_coherence(Operation::Create).is_ok());
        assert!(claims.check_coherence(Operation::Validate).is_ok());
        let err = claims
            .check_coherence(Operation::Delete)
            .expect_err("CREATE on delete");
        assert!(err.to_string().contains("action_id"), "{err}");
        let debug = format!("{claims:?}");
        assert!(
            !debug.contains("GTWGWY82B42G920M") && !debug.contains("SSSMNN75B01F257L"),
            "{debug}"
        );
    }

    #[test]
    fn purpose_must_fit_the_operation() {
        let mut claims: SignatureClaims = serde_json::from_str(SIGNATURE).expect("reads");
        claims.action_id = ActionId::Update;
        claims.purpose_of_use = PurposeOfUse::AccessUpdate;
        assert!(
            claims
                .check_coherence(Operation::UpdateMetadataIti57)
                .is_ok()
        );
        let err = claims
            .check_coherence(Operation::Replace)
            .expect_err("ACCESS UPDATE on replace");
        assert!(err.to_string().contains("purpose_of_use"), "{err}");
    }

    #[test]
    fn missing_claims_are_refused() {
        let without = SIGNATURE.replace(r#""subject_application_id":"GTW","#, "");
        assert!(serde_json::from_str::<SignatureClaims>(&without).is_err());
    }

    #[test]
    fn bearer_claims_refuse_extra_claims() {
        let bearer = r#"{"iss":"auth:S1#x","iat":1,"exp":2,"jti":"j","aud":"a","sub":"SSSMNN75B01F257L^^^&2.16.840.1.113883.2.9.4.3.2&ISO"}"#;
        let claims: BearerClaims = serde_json::from_str(bearer).expect("reads");
        assert!(claims.user().is_ok());
        let extra = bearer.replace(r#""jti":"j""#, r#""jti":"j","subject_role":"AAS""#);
        assert!(serde_json::from_str::<BearerClaims>(&extra).is_err());
    }

    #[test]
    fn resource_type_claim() {
        assert_eq!(
            resource_hl7_type("11502-2", &Oid::LOINC),
            "('11502-2^^2.16.840.1.113883.6.1')"
        );
    }
}
