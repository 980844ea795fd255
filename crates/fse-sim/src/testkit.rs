//! Building requests the simulator accepts, without a client: the two
//! JWTs with every claim right for an operation, and multipart bodies.
//! For the simulator's own tests and benches, and for anyone testing
//! against it at the HTTP level.

use serde_json::{Map, Value, json};

use crate::claims::coherence;
use crate::jwt::sign_rs256;
use crate::operation::Operation;
use crate::pki::TestPki;

/// A fiscal code with a correct check character, for test patients.
pub const TEST_PATIENT: &str = "RSSMRA85T10A562S";
/// A fiscal code with a correct check character, for the test user.
pub const TEST_USER: &str = "VRDMRC67T20I257A";

/// What the signature token says beyond the defaults.
#[derive(Debug, Clone)]
pub struct ClaimSet {
    /// The JWT `aud`.
    pub audience: String,
    /// The patient's fiscal code (`person_id`).
    pub patient: String,
    /// `('code^^system')` of the document.
    pub resource_hl7_type: String,
    /// SHA-256 hex of the file, on publishing operations.
    pub attachment_hash: Option<String>,
}

impl ClaimSet {
    /// Claims for a LAB report (`11502-2`) of [`TEST_PATIENT`].
    pub fn lab(audience: &str) -> Self {
        ClaimSet {
            audience: audience.to_owned(),
            patient: TEST_PATIENT.to_owned(),
            resource_hl7_type: "('11502-2^^2.16.840.1.113883.6.1')".to_owned(),
            attachment_hash: None,
        }
    }

    /// Sets `attachment_hash` to the SHA-256 of `file`.
    #[must_use]
    pub fn for_file(mut self, file: &[u8]) -> Self {
        self.attachment_hash = Some(hex::encode(ring::digest::digest(
            &ring::digest::SHA256,
            file,
        )));
        self
    }
}

fn cx(cf: &str) -> String {
    format!("{cf}^^^&2.16.840.1.113883.2.9.4.3.2&ISO")
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The `Authorization` token's claims.
pub fn bearer_claims(pki: &TestPki, audience: &str) -> Map<String, Value> {
    let cn = pki.signing.common_name().unwrap_or_default();
    let v = json!({
        "iss": format!("auth:{cn}"),
        "iat": now(),
        "exp": now() + 300,
        "jti": uuid::Uuid::new_v4().to_string(),
        "aud": audience,
        "sub": cx(TEST_USER),
    });
    v.as_object().cloned().unwrap_or_default()
}

/// The `FSE-JWT-Signature` token's claims for `op`, every one right.
pub fn signature_claims(pki: &TestPki, op: Operation, set: &ClaimSet) -> Map<String, Value> {
    let cn = pki.signing.common_name().unwrap_or_default();
    let (actions, purposes) = coherence(op);
    let mut v = json!({
        "iss": format!("integrity:{cn}"),
        "iat": now(),
        "exp": now() + 300,
        "jti": uuid::Uuid::new_v4().to_string(),
        "aud": set.audience,
        "sub": cx(TEST_USER),
        "subject_role": "AAS",
        "subject_organization_id": "090",
        "subject_organization": "Regione Toscana",
        "locality": "LABORATORIO DI PROVA^^^^^&2.16.840.1.113883.2.9.4.1.3&ISO^^^^090123456",
        "person_id": cx(&set.patient),
        "patient_consent": true,
        "purpose_of_use": purposes.first().copied().unwrap_or("TREATMENT"),
        "action_id": actions.first().copied().unwrap_or("CREATE"),
        "resource_hl7_type": set.resource_hl7_type,
        "subject_application_id": "FSE2SIM",
        "subject_application_vendor": "fse2",
        "subject_application_version": "0.1",
    });
    if let (Some(map), Some(hash)) = (v.as_object_mut(), &set.attachment_hash) {
        map.insert("attachment_hash".to_owned(), Value::String(hash.clone()));
    }
    v.as_object().cloned().unwrap_or_default()
}

/// Signs claims with the PKI's signature certificate (RS256, `x5c`).
///
/// # Panics
/// Never with a [`TestPki`]-generated key; the key must be RSA.
pub fn sign(pki: &TestPki, claims: &Map<String, Value>) -> String {
    sign_rs256(claims, &pki.signing.key_der, &pki.signing.cert_der).unwrap_or_default()
}

/// A `multipart/form-data` body with `requestBody` (a field without file
/// name) and, when given, `file` (`application/pdf`). Returns the content
/// type and the bytes.
pub fn multipart(request_body: &Value, file: Option<&[u8]>) -> (String, Vec<u8>) {
    let boundary = format!("fse-sim-{}", uuid::Uuid::new_v4().simple());
    let mut out = Vec::new();
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    out.extend_from_slice(b"Content-Disposition: form-data; name=\"requestBody\"\r\n");
    out.extend_from_slice(b"Content-Type: application/json\r\n\r\n");
    out.extend_from_slice(request_body.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(file) = file {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        out.extend_from_slice(
            b"Content-Disposition: form-data; name=\"file\"; filename=\"document.pdf\"\r\n",
        );
        out.extend_from_slice(b"Content-Type: application/pdf\r\n\r\n");
        out.extend_from_slice(file);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), out)
}

/// A publication body for document `id` (`root^extension`) of class REF.
pub fn publication_body(id: &str) -> Value {
    json!({
        "healthDataFormat": "CDA",
        "mode": "ATTACHMENT",
        "tipologiaStruttura": "Ospedale",
        "identificativoDoc": id,
        "identificativoRep": "2.16.840.1.113883.2.9.2.090.4.5.1",
        "tipoDocumentoLivAlto": "REF",
        "assettoOrganizzativo": "AD_PSC001",
        "tipoAttivitaClinica": "CON",
        "identificativoSottomissione": "2.16.840.1.113883.2.9.2.090.4.3.1",
    })
}

/// A metadata-update body (class REF) with these event codes.
pub fn metadata_body(event_codes: &[&str]) -> Value {
    json!({
        "tipologiaStruttura": "Ospedale",
        "tipoDocumentoLivAlto": "REF",
        "assettoOrganizzativo": "AD_PSC001",
        "tipoAttivitaClinica": "CON",
        "identificativoSottomissione": "2.16.840.1.113883.2.9.2.090.4.3.1",
        "attiCliniciRegoleAccesso": event_codes,
    })
}
