//! Shared helpers of the simulator's integration tests: one PKI per test
//! binary, a PDF stand-in, a sample CDA, and calls through the router.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::sync::{Arc, OnceLock};

use axum::Router;
use fse_sim::body::Mode;
use fse_sim::engine::{PdfInspector, SignatureState};
use fse_sim::pki::TestPki;
use fse_sim::testkit::{self, ClaimSet};
use fse_sim::{Operation, Simulator, SimulatorBuilder};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Map, Value};
use tower::ServiceExt;

pub const AUD: &str = "https://sim.test/v1";

pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| TestPki::generate().expect("test PKI"))
}

/// A PDF stand-in, so that these tests exercise the Gateway's semantics
/// and not PDF machinery: `%PDF-sim <signed|unsigned|badsig>\n` then the
/// CDA (`nocda` in place of the CDA means none is embedded).
#[derive(Debug)]
pub struct FakePdf;

pub fn fake_pdf(cda: &str, signature: &str) -> Vec<u8> {
    format!("%PDF-sim {signature}\n{cda}").into_bytes()
}

impl PdfInspector for FakePdf {
    fn extract(&self, pdf: &[u8], _mode: Option<Mode>) -> Result<Vec<u8>, String> {
        let text = String::from_utf8_lossy(pdf);
        let (_, cda) = text.split_once('\n').ok_or("no newline")?;
        if cda.trim() == "nocda" || cda.trim().is_empty() {
            return Err("no embedded file named cda.xml".to_owned());
        }
        Ok(cda.as_bytes().to_vec())
    }

    fn signature(&self, pdf: &[u8]) -> SignatureState {
        let text = String::from_utf8_lossy(pdf);
        match text.lines().next().unwrap_or_default() {
            "%PDF-sim signed" => SignatureState::Valid,
            "%PDF-sim badsig" => SignatureState::Invalid("the CMS does not verify".to_owned()),
            _ => SignatureState::Unsigned,
        }
    }
}

pub fn builder() -> SimulatorBuilder {
    Simulator::builder(pki())
        .audience(AUD)
        .pdf_inspector(Arc::new(FakePdf))
}

pub fn sim() -> Simulator {
    builder().build().expect("simulator")
}

pub const DOC_ROOT: &str = "2.16.840.1.113883.2.9.2.90.4.4";

/// A small XSD-valid LAB report.
pub fn lab_cda(extension: &str, patient: &str, legal_name: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <realmCode code="IT"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.2.9.10.1.1" extension="1.2"/>
  <id root="{DOC_ROOT}" extension="{extension}"/>
  <code code="11502-2" codeSystem="2.16.840.1.113883.6.1" codeSystemName="LOINC"/>
  <title>Referto di laboratorio</title>
  <effectiveTime value="20260101120000+0100"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="it-IT"/>
  <setId root="{DOC_ROOT}" extension="{extension}"/>
  <versionNumber value="1"/>
  <recordTarget>
    <patientRole>
      <id root="2.16.840.1.113883.2.9.4.3.2" extension="{patient}"/>
      <patient>
        <name><family>Rossi</family><given>Mario</given></name>
        <administrativeGenderCode code="M" codeSystem="2.16.840.1.113883.5.1"/>
        <birthTime value="19851210"/>
      </patient>
    </patientRole>
  </recordTarget>
  <author>
    <time value="20260101120000+0100"/>
    <assignedAuthor>
      <id root="2.16.840.1.113883.2.9.4.3.2" extension="VRDMRC67T20I257A"/>
      <assignedPerson><name><family>Verdi</family><given>Marco</given></name></assignedPerson>
    </assignedAuthor>
  </author>
  <custodian>
    <assignedCustodian>
      <representedCustodianOrganization>
        <id root="2.16.840.1.113883.2.9.4.1.2" extension="090201"/>
        <name>Laboratorio di prova</name>
      </representedCustodianOrganization>
    </assignedCustodian>
  </custodian>
  <legalAuthenticator>
    <time value="20260101120000+0100"/>
    <signatureCode code="S"/>
    <assignedEntity>
      <id root="2.16.840.1.113883.2.9.4.3.2" extension="VRDMRC67T20I257A"/>
      <assignedPerson><name><family>{legal_name}</family></name></assignedPerson>
    </assignedEntity>
  </legalAuthenticator>
  <component>
    <structuredBody>
      <component>
        <section>
          <code code="18723-7" codeSystem="2.16.840.1.113883.6.1"/>
          <title>Ematologia</title>
          <text>Emocromo nella norma</text>
        </section>
      </component>
    </structuredBody>
  </component>
</ClinicalDocument>
"#
    )
}

pub fn lab(extension: &str) -> String {
    lab_cda(extension, testkit::TEST_PATIENT, "Verdi")
}

pub fn doc_id(extension: &str) -> String {
    format!("{DOC_ROOT}^{extension}")
}

pub fn path_id(extension: &str) -> String {
    format!("{DOC_ROOT}%5E{extension}")
}

/// The reply of one call.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
    pub dropped: bool,
}

impl Reply {
    pub fn str(&self, key: &str) -> &str {
        self.json
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn problem(&self) -> (u16, &str) {
        (self.status.as_u16(), self.str("type"))
    }

    pub fn cart_id(&self) -> &str {
        self.headers
            .get("x-cart-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

pub async fn send(router: &Router, request: Request<axum::body::Body>) -> Reply {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let dropped = response
        .extensions()
        .get::<fse_sim::cart::DropConnection>()
        .is_some();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        json,
        dropped,
    }
}

/// Tokens for `op`, with the signature claims edited by `edit`.
pub fn tokens(
    op: Operation,
    set: &ClaimSet,
    edit: impl FnOnce(&mut Map<String, Value>),
) -> (String, String) {
    let bearer = testkit::sign(pki(), &testkit::bearer_claims(pki(), &set.audience));
    let mut claims = testkit::signature_claims(pki(), op, set);
    edit(&mut claims);
    (bearer, testkit::sign(pki(), &claims))
}

pub fn multipart_request(
    method: Method,
    path: &str,
    tokens: &(String, String),
    body: &Value,
    file: Option<&[u8]>,
) -> Request<axum::body::Body> {
    let (content_type, bytes) = testkit::multipart(body, file);
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", tokens.0))
        .header("fse-jwt-signature", &tokens.1)
        .header("content-type", content_type)
        .body(axum::body::Body::from(bytes))
        .expect("request")
}

pub async fn validate(router: &Router, pdf: &[u8], activity: &str) -> Reply {
    let t = tokens(Operation::Validation, &ClaimSet::lab(AUD), |_| {});
    let body = serde_json::json!({ "activity": activity, "mode": "ATTACHMENT", "healthDataFormat": "CDA" });
    send(
        router,
        multipart_request(
            Method::POST,
            "/v1/documents/validation",
            &t,
            &body,
            Some(pdf),
        ),
    )
    .await
}

pub async fn create(router: &Router, pdf: &[u8], id: &str, wii: Option<&str>) -> Reply {
    let t = tokens(Operation::Create, &ClaimSet::lab(AUD).for_file(pdf), |_| {});
    let mut body = testkit::publication_body(id);
    if let (Some(w), Some(m)) = (wii, body.as_object_mut()) {
        m.insert("workflowInstanceId".to_owned(), Value::String(w.to_owned()));
    }
    send(
        router,
        multipart_request(Method::POST, "/v1/documents", &t, &body, Some(pdf)),
    )
    .await
}

pub async fn validate_and_create(router: &Router, pdf: &[u8], id: &str) -> Reply {
    let t = tokens(
        Operation::ValidateAndCreate,
        &ClaimSet::lab(AUD).for_file(pdf),
        |_| {},
    );
    let body = testkit::publication_body(id);
    send(
        router,
        multipart_request(
            Method::POST,
            "/v1/documents/validate-and-create",
            &t,
            &body,
            Some(pdf),
        ),
    )
    .await
}

pub fn bearer_get(path: &str) -> Request<axum::body::Body> {
    let bearer = testkit::sign(pki(), &testkit::bearer_claims(pki(), AUD));
    Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {bearer}"))
        .body(axum::body::Body::empty())
        .expect("request")
}

pub fn plain_get(path: &str) -> Request<axum::body::Body> {
    Request::builder()
        .uri(path)
        .body(axum::body::Body::empty())
        .expect("request")
}

pub fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
