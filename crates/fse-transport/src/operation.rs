//! What the client needs to know of fse-model's [`Operation`] beyond the
//! schema's facts: names for configuration and the journal, which calls
//! carry a PDF, which status event shows a call took effect, and the
//! default claims.

use fse_model::tables::{ActionId, EventType, PurposeOfUse};

pub use fse_model::Operation;

/// The operations a provider's client calls (not the health check, not the
/// push notification it serves).
pub const CLIENT_OPERATIONS: [Operation; 11] = [
    Operation::Validate,
    Operation::ValidateFhir,
    Operation::Create,
    Operation::ValidateAndCreate,
    Operation::Replace,
    Operation::ValidateAndReplace,
    Operation::Delete,
    Operation::UpdateMetadata,
    Operation::UpdateMetadataIti57,
    Operation::StatusByWorkflow,
    Operation::StatusByTrace,
];

/// The client's view of an [`Operation`].
pub trait OperationExt: Copy {
    /// The kebab-case name used in `fse.toml`, the journal and messages
    /// (`validate-and-create`, `update-metadata-iti57`, ...).
    fn name(self) -> String;
    /// Whether the request is multipart with a PDF `file` part.
    fn sends_document(self) -> bool;
    /// Whether it reads transaction status (Bearer token only).
    fn is_status(self) -> bool;
    /// The status `eventType` that shows the call took effect.
    fn status_event_type(self) -> Option<EventType>;
    /// The `action_id` sent when the caller does not choose one.
    fn default_action(self) -> Option<ActionId>;
    /// The `purpose_of_use` sent when the caller does not choose one.
    fn default_purpose(self) -> Option<PurposeOfUse>;
}

impl OperationExt for Operation {
    fn name(self) -> String {
        kebab(self.operation_id())
    }

    fn sends_document(self) -> bool {
        matches!(
            self.request_body(),
            fse_model::operation::RequestBody::Multipart(_)
        )
    }

    fn is_status(self) -> bool {
        matches!(self, Operation::StatusByWorkflow | Operation::StatusByTrace)
    }

    fn status_event_type(self) -> Option<EventType> {
        match self {
            Operation::Create | Operation::ValidateAndCreate => Some(EventType::Publication),
            Operation::Replace | Operation::ValidateAndReplace => Some(EventType::Replace),
            Operation::Delete => Some(EventType::Delete),
            Operation::UpdateMetadata | Operation::UpdateMetadataIti57 => Some(EventType::Update),
            Operation::Validate | Operation::ValidateFhir => Some(EventType::Validation),
            _ => None,
        }
    }

    fn default_action(self) -> Option<ActionId> {
        self.action_ids().first().cloned()
    }

    fn default_purpose(self) -> Option<PurposeOfUse> {
        self.purposes_of_use().first().cloned()
    }
}

/// `validateAndCreate` → `validate-and-create`.
fn kebab(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Reads an operation name: the kebab-case name or the schema's
/// `operationId`.
///
/// # Errors
/// A message listing the known names.
pub fn parse_operation(name: &str) -> Result<Operation, String> {
    // The path spells it `metadata-iti-57`.
    if name == "update-metadata-iti-57" {
        return Ok(Operation::UpdateMetadataIti57);
    }
    CLIENT_OPERATIONS
        .into_iter()
        .find(|op| op.name() == name || op.operation_id() == name)
        .ok_or_else(|| {
            let known: Vec<String> = CLIENT_OPERATIONS.iter().map(|o| o.name()).collect();
            format!("unknown operation `{name}` (known: {})", known.join(", "))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for op in CLIENT_OPERATIONS {
            assert_eq!(parse_operation(&op.name()), Ok(op));
            assert_eq!(parse_operation(op.operation_id()), Ok(op));
        }
        assert_eq!(Operation::ValidateAndCreate.name(), "validate-and-create");
        assert_eq!(
            Operation::UpdateMetadataIti57.name(),
            "update-metadata-iti57"
        );
        assert!(parse_operation("publish").is_err());
        assert_eq!(
            parse_operation("update-metadata-iti-57"),
            Ok(Operation::UpdateMetadataIti57)
        );
    }

    #[test]
    fn documents_and_defaults() {
        assert!(Operation::Validate.sends_document());
        assert!(Operation::ValidateAndReplace.sends_document());
        assert!(!Operation::Delete.sends_document());
        assert!(!Operation::UpdateMetadataIti57.sends_document());
        assert_eq!(Operation::Delete.default_action(), Some(ActionId::Delete));
        assert_eq!(
            Operation::Delete.default_purpose(),
            Some(PurposeOfUse::Update)
        );
        assert_eq!(Operation::Validate.default_action(), Some(ActionId::Create));
        assert_eq!(Operation::StatusByTrace.default_action(), None);
        assert_eq!(
            Operation::Create.status_event_type(),
            Some(EventType::Publication)
        );
    }
}
