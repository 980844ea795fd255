//! Person ids in HL7 CX form (`CF^^^&2.16.840.1.113883.2.9.4.3.2&ISO`), as
//! the JWT claims `sub` and `person_id` carry them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, masked};
use crate::fiscal_code::FiscalCode;
use crate::oid::Oid;

/// A person id in CX form: `ID^^^&AUTHORITY-OID&ISO`.
///
/// When the authority is the fiscal-code one ([`Oid::MEF_FISCAL_CODE`]), the
/// id must be a valid [`FiscalCode`], as the Gateway checks it (403
/// `/msg/jwt-validation` otherwise). Under other authorities (TEAM cards,
/// regional codes for foreigners) the id is kept as given.
///
/// `Debug` masks the id; `Display` gives the wire form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonId {
    id: String,
    authority: Oid,
    fiscal_code: Option<FiscalCode>,
}

/// What separates the id from the authority.
const ID_END: &str = "^^^&";
/// What ends a CX with an ISO authority.
const ISO_END: &str = "&ISO";

impl PersonId {
    /// Parses `ID^^^&OID&ISO`.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let fail = |reason, source: Option<Error>| Error::PersonId {
            masked: masked_cx(value),
            reason,
            source: source.map(Box::new),
        };
        if value.contains("&amp;") {
            return Err(fail(
                "has '&amp;' where '&' belongs (an HTML-escaped value)",
                None,
            ));
        }
        let (id, rest) = value
            .split_once(ID_END)
            .ok_or_else(|| fail("is not in the form ID^^^&OID&ISO (no '^^^&')", None))?;
        if id.is_empty() {
            return Err(fail("has an empty id before '^^^&'", None));
        }
        if id.contains(['^', '&']) || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(fail("has '^', '&' or whitespace in the id", None));
        }
        let oid = rest
            .strip_suffix(ISO_END)
            .ok_or_else(|| fail("does not end with '&ISO'", None))?;
        let authority =
            Oid::parse(oid).map_err(|e| fail("has an authority that is not an OID", Some(e)))?;
        let fiscal_code = if authority == Oid::MEF_FISCAL_CODE {
            Some(FiscalCode::parse(id).map_err(|e| {
                fail(
                    "has an invalid fiscal code under the MEF authority",
                    Some(e),
                )
            })?)
        } else {
            None
        };
        Ok(Self {
            id: id.to_owned(),
            authority,
            fiscal_code,
        })
    }

    /// The person id of a fiscal code, under the MEF authority.
    pub fn from_fiscal_code(fiscal_code: FiscalCode) -> Self {
        Self {
            id: fiscal_code.as_str().to_owned(),
            authority: Oid::MEF_FISCAL_CODE,
            fiscal_code: Some(fiscal_code),
        }
    }

    /// The id part (a fiscal code under the MEF authority).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The assigning authority.
    pub fn authority(&self) -> &Oid {
        &self.authority
    }

    /// The fiscal code, when the authority is the MEF one.
    pub fn fiscal_code(&self) -> Option<&FiscalCode> {
        self.fiscal_code.as_ref()
    }

    /// The id with all but two characters hidden, plus the authority, for
    /// logs and messages.
    pub fn masked(&self) -> String {
        format!("{}{ID_END}{}{ISO_END}", masked(&self.id), self.authority)
    }
}

/// `value` with its id part masked and the authority shown, so that errors
/// say which authority was meant without saying who.
fn masked_cx(value: &str) -> String {
    match value.split_once(ID_END) {
        Some((id, rest)) => format!("{}{ID_END}{}", masked(id), crate::error::shown(rest)),
        None => masked(value),
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{ID_END}{}{ISO_END}", self.id, self.authority)
    }
}

impl fmt::Debug for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonId({})", self.masked())
    }
}

impl FromStr for PersonId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl From<FiscalCode> for PersonId {
    fn from(fiscal_code: FiscalCode) -> Self {
        Self::from_fiscal_code(fiscal_code)
    }
}

impl Serialize for PersonId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PersonId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_fiscal_code_form() {
        let p =
            PersonId::parse("SSSMNN75B01F257L^^^&2.16.840.1.113883.2.9.4.3.2&ISO").expect("valid");
        assert_eq!(p.id(), "SSSMNN75B01F257L");
        assert_eq!(p.authority(), &Oid::MEF_FISCAL_CODE);
        assert_eq!(
            p.fiscal_code().map(FiscalCode::as_str),
            Some("SSSMNN75B01F257L")
        );
        assert_eq!(
            p.to_string(),
            "SSSMNN75B01F257L^^^&2.16.840.1.113883.2.9.4.3.2&ISO"
        );
        assert_eq!(
            format!("{p:?}"),
            "PersonId(SS**************^^^&2.16.840.1.113883.2.9.4.3.2&ISO)"
        );
    }

    #[test]
    fn other_authorities_keep_the_id_unchecked() {
        let p = PersonId::parse("80380000500012345678^^^&2.16.840.1.113883.2.9.4.3.7&ISO")
            .expect("valid");
        assert_eq!(p.authority(), &Oid::TEAM);
        assert_eq!(p.fiscal_code(), None);
    }

    #[test]
    fn rejections() {
        let cases = [
            (
                "SSSMNN75B01F257L^^^&amp;2.16.840.1.113883.2.9.4.3.2&amp;ISO",
                "&amp;",
            ),
            ("SSSMNN75B01F257L", "no '^^^&'"),
            ("^^^&2.16.840.1.113883.2.9.4.3.2&ISO", "empty id"),
            ("SSSMNN75B01F257L^^^&2.16.840.1.113883.2.9.4.3.2", "&ISO"),
            (
                "SSSMNN75B01F257L^^^&2.16.840.1.113883.2.9.4.3.2&ISO&ISO",
                "not an OID",
            ),
            (
                "SSSMNN75B01F257X^^^&2.16.840.1.113883.2.9.4.3.2&ISO",
                "invalid fiscal code",
            ),
            ("A B^^^&1.2&ISO", "whitespace"),
            ("A^B^^^&1.2&ISO", "'^'"),
        ];
        for (text, why) in cases {
            let err = PersonId::parse(text).expect_err(text);
            let message = err.to_string();
            assert!(message.contains(why), "{text}: {message}");
            assert!(
                !message.contains("SSSMNN75B01F257"),
                "{message} leaks the code"
            );
        }
    }

    #[test]
    fn invalid_fiscal_code_keeps_its_cause() {
        let err = PersonId::parse("SSSMNN75B01F257X^^^&2.16.840.1.113883.2.9.4.3.2&ISO")
            .expect_err("bad check");
        let source = std::error::Error::source(&err)
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(source.contains("check character"), "{source}");
    }

    proptest! {
        #[test]
        fn fiscal_code_person_ids_round_trip(prefix in crate::fiscal_code::tests::personal_prefix()) {
            let cf = FiscalCode::with_check_character(&prefix).expect("valid");
            let p = PersonId::from(cf.clone());
            let again = PersonId::parse(&p.to_string()).expect("round trip");
            prop_assert_eq!(again.fiscal_code(), Some(&cf));
            let json = serde_json::to_string(&p).expect("serializes");
            prop_assert_eq!(serde_json::from_str::<PersonId>(&json).expect("deserializes"), p);
        }

        #[test]
        fn other_person_ids_round_trip(id in "[A-Z0-9]{1,30}", oid in crate::oid::tests::oid_text()) {
            prop_assume!(oid != Oid::MEF_FISCAL_CODE.as_str());
            let text = format!("{id}^^^&{oid}&ISO");
            let p = PersonId::parse(&text).expect("valid");
            prop_assert_eq!(p.to_string(), text);
        }

        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,80}") {
            let _ = PersonId::parse(&s);
        }
    }
}
