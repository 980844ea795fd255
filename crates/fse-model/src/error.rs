//! The one error type of this crate.

/// Everything that can go wrong in `fse-model`: a value that does not parse.
///
/// Values that may identify a patient (fiscal codes, person ids) are masked
/// in the message; other values are shown, cut to a readable length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A fiscal code (codice fiscale) is malformed.
    #[error("fiscal code {masked}: {reason}")]
    FiscalCode {
        /// The value, masked.
        masked: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An ISO object identifier is malformed.
    #[error("OID {value:?}: {reason}")]
    Oid {
        /// The value, cut to a readable length.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A document id (`root^extension`) is malformed.
    #[error("document id {value:?}: {reason}")]
    DocumentId {
        /// The value, cut to a readable length.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A workflow instance id is malformed.
    #[error("workflow instance id {value:?}: {reason}")]
    WorkflowInstanceId {
        /// The value, cut to a readable length.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A CX person id (`ID^^^&OID&ISO`) is malformed.
    #[error("person id {masked}: {reason}")]
    PersonId {
        /// The value, masked.
        masked: String,
        /// What is wrong.
        reason: &'static str,
        /// The error of the part that did not parse, if one did not.
        #[source]
        source: Option<Box<Error>>,
    },
    /// An XON locality (`NAME^^^^^&OID&ISO^^^^CODE`) is malformed.
    #[error("locality {value:?}: {reason}")]
    Locality {
        /// The value, cut to a readable length.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A value is not listed in a code table where only listed values are
    /// accepted.
    #[error("{value:?} is not a value of the {table} table")]
    UnlistedCode {
        /// The table's name.
        table: &'static str,
        /// The value, cut to a readable length.
        value: String,
    },
    /// An organization code and its description do not belong to the same
    /// entry of the organization table.
    #[error("organization {code:?} is {expected:?}, not {found:?}")]
    OrganizationMismatch {
        /// The organization code.
        code: String,
        /// The description the table gives for the code.
        expected: &'static str,
        /// The description found.
        found: String,
    },
    /// A JWT claim does not fit the operation it is sent with.
    #[error("claim {claim} = {value:?} is not accepted by the operation {operation}")]
    Incoherent {
        /// The claim's name.
        claim: &'static str,
        /// The claim's value.
        value: String,
        /// The operation's id.
        operation: &'static str,
    },
    /// A date or date-time is malformed.
    #[error("date {value:?}: {reason}")]
    Date {
        /// The value, cut to a readable length.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A problem-details body is not a JSON object.
    #[error("problem details: {reason}")]
    ProblemDetails {
        /// What is wrong, with the JSON parser's own message.
        reason: String,
    },
}

/// The longest part of an input value an error message shows.
const SHOWN_CHARS: usize = 80;

/// `value` cut to [`SHOWN_CHARS`] characters, for error messages: input can
/// be arbitrarily long.
pub(crate) fn shown(value: &str) -> String {
    match value.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

/// `value` with all but its first two characters replaced by `*`, for values
/// that may identify a patient.
pub(crate) fn masked(value: &str) -> String {
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i >= SHOWN_CHARS {
            out.push('…');
            break;
        }
        out.push(if i < 2 { c } else { '*' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_cuts_long_values_on_a_char_boundary() {
        let long = "è".repeat(200);
        let cut = shown(&long);
        assert_eq!(cut.chars().count(), SHOWN_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(shown("abc"), "abc");
    }

    #[test]
    fn masked_keeps_only_two_characters() {
        assert_eq!(masked("RSSMRA80A01H501U"), "RS**************");
        assert_eq!(masked(""), "");
        assert!(masked(&"A".repeat(500)).chars().count() <= SHOWN_CHARS + 1);
    }
}
