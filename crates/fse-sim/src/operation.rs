//! The operations of the Gateway API, as the simulator names them (in fault
//! plans, in the journal of calls and in the JWT coherence table).

use std::fmt;
use std::str::FromStr;

use http::Method;
use serde::{Deserialize, Serialize};

/// One operation of the Gateway v1 API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    /// `POST /documents/validation`.
    Validation,
    /// `POST /documents`.
    Create,
    /// `PUT /documents/{idDoc}`.
    Replace,
    /// `POST /documents/validate-and-create`.
    ValidateAndCreate,
    /// `PUT /documents/validate-and-replace/{idDoc}`.
    ValidateAndReplace,
    /// `DELETE /documents/{idDoc}`.
    Delete,
    /// `PUT /documents/{idDoc}/metadata` and `/metadata-iti-57`.
    UpdateMetadata,
    /// `GET /status/{workflowInstanceId}`.
    Status,
    /// `GET /status/search/{traceId}`.
    StatusSearch,
    /// `GET /status` (liveness).
    Health,
    /// Anything else under the base path.
    Unknown,
}

impl Operation {
    /// Every operation a fault plan may name.
    pub const ALL: [Operation; 10] = [
        Operation::Validation,
        Operation::Create,
        Operation::Replace,
        Operation::ValidateAndCreate,
        Operation::ValidateAndReplace,
        Operation::Delete,
        Operation::UpdateMetadata,
        Operation::Status,
        Operation::StatusSearch,
        Operation::Health,
    ];

    /// The name used in fault plans and in `/_sim/calls`.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Validation => "validation",
            Operation::Create => "create",
            Operation::Replace => "replace",
            Operation::ValidateAndCreate => "validate-and-create",
            Operation::ValidateAndReplace => "validate-and-replace",
            Operation::Delete => "delete",
            Operation::UpdateMetadata => "update-metadata",
            Operation::Status => "status",
            Operation::StatusSearch => "status-search",
            Operation::Health => "health",
            Operation::Unknown => "unknown",
        }
    }

    /// Which operation a request is, from its method and its path after the
    /// base path.
    pub fn classify(method: &Method, path: &str) -> Operation {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("POST", ["documents", "validation"]) => Operation::Validation,
            ("POST", ["documents"]) => Operation::Create,
            ("POST", ["documents", "validate-and-create"]) => Operation::ValidateAndCreate,
            ("PUT", ["documents", "validate-and-replace", _]) => Operation::ValidateAndReplace,
            ("PUT", ["documents", _, "metadata" | "metadata-iti-57"]) => Operation::UpdateMetadata,
            ("PUT", ["documents", _]) => Operation::Replace,
            ("DELETE", ["documents", _]) => Operation::Delete,
            ("GET", ["status"]) => Operation::Health,
            ("GET", ["status", "search", _]) => Operation::StatusSearch,
            ("GET", ["status", _]) => Operation::Status,
            _ => Operation::Unknown,
        }
    }

    /// Whether the operation publishes a file (and so needs `attachment_hash`
    /// and a PAdES signature).
    pub fn publishes(self) -> bool {
        matches!(
            self,
            Operation::Create
                | Operation::Replace
                | Operation::ValidateAndCreate
                | Operation::ValidateAndReplace
        )
    }

    /// Whether the operation changes what the Gateway holds (create,
    /// replace, delete, metadata update): the ones whose `locality` must be
    /// XON and whose outcome is uncertain on a timeout.
    pub fn writes(self) -> bool {
        self.publishes() || matches!(self, Operation::Delete | Operation::UpdateMetadata)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Operation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Operation::ALL
            .into_iter()
            .find(|op| op.name() == s)
            .or(match s {
                "validate" => Some(Operation::Validation),
                "metadata" => Some(Operation::UpdateMetadata),
                _ => None,
            })
            .ok_or_else(|| {
                let names: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
                format!("unknown operation {s:?} (one of {})", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_every_gateway_path() {
        let cases = [
            (Method::POST, "/documents/validation", Operation::Validation),
            (Method::POST, "/documents", Operation::Create),
            (
                Method::POST,
                "/documents/validate-and-create",
                Operation::ValidateAndCreate,
            ),
            (
                Method::PUT,
                "/documents/validate-and-replace/a%5Eb",
                Operation::ValidateAndReplace,
            ),
            (Method::PUT, "/documents/a%5Eb", Operation::Replace),
            (
                Method::PUT,
                "/documents/a%5Eb/metadata",
                Operation::UpdateMetadata,
            ),
            (
                Method::PUT,
                "/documents/a%5Eb/metadata-iti-57",
                Operation::UpdateMetadata,
            ),
            (Method::DELETE, "/documents/a%5Eb", Operation::Delete),
            (Method::GET, "/status", Operation::Health),
            (Method::GET, "/status/wii", Operation::Status),
            (Method::GET, "/status/search/trace", Operation::StatusSearch),
            (Method::GET, "/documents", Operation::Unknown),
        ];
        for (method, path, op) in cases {
            assert_eq!(Operation::classify(&method, path), op, "{method} {path}");
        }
    }

    #[test]
    fn names_round_trip() {
        for op in Operation::ALL {
            assert_eq!(op.name().parse::<Operation>(), Ok(op));
        }
        assert!("publish".parse::<Operation>().is_err());
    }
}
