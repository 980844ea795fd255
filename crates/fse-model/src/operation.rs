//! The operations of the Gateway API.
//!
//! [`Operation`] and its facts (method, path, body, tokens, the JWT values
//! each accepts) are generated from the schema; this module adds building
//! and routing paths, and how operations relate to the FSE's state.

pub use crate::generated::operations::*;

use crate::ids::percent_encode_segment;

/// The fields a publication body (create, replace, and their
/// validate-and- forms) must carry, in the order the Gateway checks them:
/// when several are missing, it names the first.
pub const PUBLICATION_REQUIRED_FIELDS: &[&str] = &[
    "identificativoDoc",
    "identificativoRep",
    "tipoDocumentoLivAlto",
    "assettoOrganizzativo",
    "tipoAttivitaClinica",
    "identificativoSottomissione",
    "tipologiaStruttura",
];

/// The fields a metadata update must carry, as the OpenAPI requires them
/// (the Gateway's own code checks only the class, and answers 500 when
/// another is missing).
pub const METADATA_REQUIRED_FIELDS: &[&str] = &[
    "tipoDocumentoLivAlto",
    "assettoOrganizzativo",
    "tipoAttivitaClinica",
    "identificativoSottomissione",
    "tipologiaStruttura",
];

impl Operation {
    /// Whether a success changes the FSE (publications, deletion, metadata
    /// update). A call that changes it must not be blindly retried.
    pub fn changes_state(self) -> bool {
        matches!(
            self,
            Self::Create
                | Self::ValidateAndCreate
                | Self::Replace
                | Self::ValidateAndReplace
                | Self::Delete
                | Self::UpdateMetadata
                | Self::UpdateMetadataIti57
        )
    }

    /// Whether it publishes a document (and so carries a PDF and an
    /// `attachment_hash`).
    pub fn is_publication(self) -> bool {
        matches!(
            self,
            Self::Create | Self::ValidateAndCreate | Self::Replace | Self::ValidateAndReplace
        )
    }

    /// Whether it validates a CDA (and so may answer with a workflow
    /// instance id in its errors).
    pub fn validates(self) -> bool {
        matches!(
            self,
            Self::Validate
                | Self::ValidateFhir
                | Self::ValidateAndCreate
                | Self::ValidateAndReplace
        )
    }

    /// Whether it acts on an already published document, named by the
    /// `{idDoc}` of its path.
    pub fn refers_to_published_document(self) -> bool {
        matches!(
            self,
            Self::Replace
                | Self::ValidateAndReplace
                | Self::Delete
                | Self::UpdateMetadata
                | Self::UpdateMetadataIti57
        )
    }

    /// The name of the path parameter, if the path has one.
    pub fn path_parameter(self) -> Option<&'static str> {
        let template = self.path_template();
        let start = template.find('{')?;
        let end = template[start..].find('}')? + start;
        Some(&template[start + 1..end])
    }

    /// The path with its parameter filled in, percent-encoded (`^` becomes
    /// `%5E`). `None` when the path has a parameter and none is given, or
    /// has none and one is given.
    pub fn path(self, parameter: Option<&str>) -> Option<String> {
        let template = self.path_template();
        match (self.path_parameter(), parameter) {
            (None, None) => Some(template.to_owned()),
            (Some(name), Some(value)) => {
                Some(template.replacen(&format!("{{{name}}}"), &percent_encode_segment(value), 1))
            }
            _ => None,
        }
    }

    /// The Gateway operation a request is for, and its decoded path
    /// parameter: routing for a server that plays the Gateway. `path` is
    /// the part after the base URL (`/documents/...`), without query.
    pub fn route(method: &str, path: &str) -> Option<(Self, Option<String>)> {
        let path_segments: Vec<&str> = path.split('/').collect();
        for &operation in Self::ALL {
            if !operation.method().eq_ignore_ascii_case(method) {
                continue;
            }
            let template: Vec<&str> = operation.path_template().split('/').collect();
            if template.len() != path_segments.len() {
                continue;
            }
            let mut parameter = None;
            let matched = template.iter().zip(&path_segments).all(|(t, p)| {
                if t.starts_with('{') && t.ends_with('}') {
                    match percent_decode(p) {
                        Some(value) if !value.is_empty() => {
                            parameter = Some(value);
                            true
                        }
                        _ => false,
                    }
                } else {
                    t == p
                }
            });
            if matched {
                return Some((operation, parameter));
            }
        }
        None
    }
}

/// Decodes `%XX` escapes; `None` for a bad escape or bytes that are not
/// UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{ActionId, PurposeOfUse};
    use proptest::prelude::*;

    #[test]
    fn facts_from_the_schema() {
        assert_eq!(Operation::Validate.method(), "POST");
        assert_eq!(Operation::Validate.path_template(), "/documents/validation");
        assert_eq!(Operation::Validate.success_statuses(), &[200, 201]);
        assert_eq!(Operation::Create.success_statuses(), &[202]);
        assert_eq!(Operation::Delete.success_statuses(), &[200, 202]);
        assert_eq!(
            Operation::Create.request_body(),
            RequestBody::Multipart("CreateRequest")
        );
        assert_eq!(
            Operation::UpdateMetadataIti57.request_body(),
            RequestBody::Json("MetadataUpdateRequest")
        );
        assert_eq!(Operation::Delete.request_body(), RequestBody::None);
        assert!(
            Operation::Create.needs_signature_token() && Operation::Create.needs_bearer_token()
        );
        assert!(Operation::StatusByWorkflow.needs_bearer_token());
        assert!(!Operation::StatusByWorkflow.needs_signature_token());
        assert!(!Operation::Health.needs_bearer_token());
        assert!(
            Operation::Create.accepts_callback_url() && !Operation::Delete.accepts_callback_url()
        );
        assert!(Operation::NotifyWorkflowStatus.is_served_by_provider());
        assert_eq!(Operation::Delete.action_ids(), &[ActionId::Delete]);
        assert_eq!(Operation::Delete.purposes_of_use(), &[PurposeOfUse::Update]);
        assert_eq!(
            Operation::UpdateMetadataIti57.purposes_of_use(),
            &[PurposeOfUse::Update, PurposeOfUse::AccessUpdate]
        );
        assert_eq!(
            Operation::Validate.action_ids(),
            &[ActionId::Create, ActionId::Update]
        );
        for op in Operation::ALL {
            assert_eq!(
                op.needs_signature_token(),
                !op.action_ids().is_empty(),
                "{op:?}"
            );
        }
    }

    #[test]
    fn paths_are_built_and_routed() {
        let id = "2.16.840.1.113883.2.9.2.90.4.4^ABC 1";
        let path = Operation::Delete.path(Some(id)).expect("has a parameter");
        assert_eq!(path, "/documents/2.16.840.1.113883.2.9.2.90.4.4%5EABC%201");
        assert_eq!(
            Operation::route("DELETE", &path),
            Some((Operation::Delete, Some(id.to_owned())))
        );
        assert_eq!(
            Operation::route("PUT", &path),
            Some((Operation::Replace, Some(id.to_owned())))
        );
        let meta = Operation::UpdateMetadataIti57.path(Some(id)).expect("path");
        assert_eq!(
            Operation::route("put", &meta),
            Some((Operation::UpdateMetadataIti57, Some(id.to_owned())))
        );
        assert_eq!(
            Operation::route("POST", "/documents/validation"),
            Some((Operation::Validate, None))
        );
        assert_eq!(
            Operation::route("POST", "/documents"),
            Some((Operation::Create, None))
        );
        assert_eq!(
            Operation::route("GET", "/status"),
            Some((Operation::Health, None))
        );
        assert_eq!(
            Operation::route("GET", "/status/search/abc"),
            Some((Operation::StatusByTrace, Some("abc".into())))
        );
        assert_eq!(Operation::route("GET", "/nope"), None);
        assert_eq!(Operation::route("DELETE", "/documents/%ZZ"), None);
        assert_eq!(Operation::Health.path(Some("x")), None);
        assert_eq!(Operation::Delete.path(None), None);
    }

    #[test]
    fn every_operation_routes_to_itself() {
        for &op in Operation::ALL {
            let path = op.path(op.path_parameter().map(|_| "1.2^x")).expect("path");
            let (routed, _) = Operation::route(op.method(), &path).expect("routes");
            // Two operations share PUT /documents/{idDoc}-like shapes only
            // when their templates are equal, which the schema forbids.
            assert_eq!(routed, op, "{path}");
        }
    }

    proptest! {
        #[test]
        fn parameters_survive_encoding(value in "\\PC{1,40}") {
            let path = Operation::StatusByWorkflow.path(Some(&value)).expect("path");
            prop_assert_eq!(Operation::route("GET", &path), Some((Operation::StatusByWorkflow, Some(value))));
        }
    }
}
