//! Small helpers the generated code relies on.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// Reads an optional string, taking an empty one as absent: the Gateway
/// sends `"warning": ""` when there is no warning.
pub(crate) fn empty_string_as_none<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.filter(|s| !s.is_empty()))
}

/// Shows a personal value masked in `Debug` output.
pub(crate) struct Masked<'a>(pub(crate) &'a str);

impl fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", crate::error::masked(self.0))
    }
}
