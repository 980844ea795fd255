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

/// The trait impls every parsed string newtype shares: `Display`, `FromStr`,
/// `AsRef<str>`, and serde through `parse`, so that a value read from JSON
/// is checked like one built in code. `Debug` stays with each type: some
/// must mask what they hold.
macro_rules! parsed_string_impls {
    ($ty:ident, $field:tt) => {
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.$field)
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> Result<Self, $crate::error::Error> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.$field
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.$field)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as ::serde::Deserialize>::deserialize(d)?;
                Self::parse(&s).map_err(::serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use parsed_string_impls;
