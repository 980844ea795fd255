//! The `locality` JWT claim in HL7 XON form:
//! `NAME^^^^^&OID&ISO^^^^CODE`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, shown};
use crate::oid::Oid;

/// The organization that produced a document, in XON form, e.g.
/// `LABORATORIO DI PROVA^^^^^&2.16.840.1.113883.2.9.4.1.3&ISO^^^^190111123456`.
///
/// The Gateway requires this form on create, replace, update and delete
/// (the regular expression `^[^\^]*\^{5}&[^&]*&ISO\^{4}[^\^&]*$`) and sends it
/// to INI as `authorInstitution`. [`Locality::parse`] accepts exactly what
/// that expression accepts, so an empty name, authority or code passes as
/// it does at the Gateway; [`Locality::new`] builds a complete one.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Locality {
    name: String,
    authority: String,
    code: String,
}

const AFTER_NAME: &str = "^^^^^&";
const AFTER_AUTHORITY: &str = "&ISO^^^^";

impl Locality {
    /// Parses the XON form, as the Gateway's expression does.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let fail = |reason| Error::Locality {
            value: shown(value),
            reason,
        };
        let (name, rest) = value
            .split_once('^')
            .ok_or_else(|| fail("is not in the form NAME^^^^^&OID&ISO^^^^CODE (no '^')"))?;
        let rest = rest
            .strip_prefix(&AFTER_NAME[1..])
            .ok_or_else(|| fail("does not have exactly '^^^^^&' after the name"))?;
        let (authority, rest) = rest
            .split_once('&')
            .ok_or_else(|| fail("does not close the authority with '&ISO^^^^'"))?;
        let code = rest
            .strip_prefix(&AFTER_AUTHORITY[1..])
            .ok_or_else(|| fail("does not have '&ISO^^^^' after the authority"))?;
        if code.contains(['^', '&']) {
            return Err(fail("has '^' or '&' in the code"));
        }
        Ok(Self {
            name: name.to_owned(),
            authority: authority.to_owned(),
            code: code.to_owned(),
        })
    }

    /// Builds a locality from its parts; the name must not contain `^`, the
    /// code must be non-empty, without `^` or `&`.
    pub fn new(name: &str, authority: &Oid, code: &str) -> Result<Self, Error> {
        let text = format!("{name}{AFTER_NAME}{authority}{AFTER_AUTHORITY}{code}");
        let fail = |reason| Error::Locality {
            value: shown(&text),
            reason,
        };
        if name.trim().is_empty() {
            return Err(fail("has an empty name"));
        }
        if code.is_empty() {
            return Err(fail("has an empty code"));
        }
        let parsed = Self::parse(&text)?;
        if parsed.name != name || parsed.code != code {
            return Err(fail("has '^' in the name"));
        }
        Ok(parsed)
    }

    /// The organization's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The assigning authority, as written (the Gateway does not require an
    /// OID here).
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The authority, when it is an OID.
    pub fn authority_oid(&self) -> Option<Oid> {
        Oid::parse(&self.authority).ok()
    }

    /// The organization's code (e.g. its HSP.11 or STS.11 code).
    pub fn code(&self) -> &str {
        &self.code
    }
}

impl fmt::Display for Locality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{AFTER_NAME}{}{AFTER_AUTHORITY}{}",
            self.name, self.authority, self.code
        )
    }
}

impl fmt::Debug for Locality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Locality({:?})", self.to_string())
    }
}

impl FromStr for Locality {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl Serialize for Locality {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Locality {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The Gateway's expression, written out as a matcher: the oracle the
    /// parser must agree with.
    fn gateway_accepts(s: &str) -> bool {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() && b[i] != b'^' {
            i += 1;
        }
        let five = b.get(i..i + 5) == Some(b"^^^^^");
        if !five {
            return false;
        }
        i += 5;
        if b.get(i) != Some(&b'&') {
            return false;
        }
        i += 1;
        while i < b.len() && b[i] != b'&' {
            i += 1;
        }
        if b.get(i..i + 8) != Some(b"&ISO^^^^") {
            return false;
        }
        b[i + 8..].iter().all(|&c| c != b'^' && c != b'&')
    }

    #[test]
    fn parses_the_spec_example() {
        let l = Locality::parse(
            "LABORATORIO DI PROVA^^^^^&2.16.840.1.113883.2.9.4.1.3&ISO^^^^190111123456",
        )
        .expect("valid");
        assert_eq!(l.name(), "LABORATORIO DI PROVA");
        assert_eq!(l.authority(), "2.16.840.1.113883.2.9.4.1.3");
        assert_eq!(
            l.authority_oid().map(|o| o.to_string()).as_deref(),
            Some("2.16.840.1.113883.2.9.4.1.3")
        );
        assert_eq!(l.code(), "190111123456");
        let built =
            Locality::new(l.name(), &l.authority_oid().expect("oid"), l.code()).expect("valid");
        assert_eq!(built, l);
    }

    #[test]
    fn rejections() {
        let cases = [
            ("201123456", "no '^'"),
            ("A^^^^&1.2&ISO^^^^X", "exactly '^^^^^&'"),
            ("A^^^^^^&1.2&ISO^^^^X", "exactly '^^^^^&'"),
            ("A^^^^^&1.2", "close the authority"),
            ("A^^^^^&1.2&ISO^^^X", "'&ISO^^^^'"),
            ("A^^^^^&1.2&ISO^^^^X^Y", "in the code"),
            ("A^^^^^&1.2&ISO^^^^X&Y", "in the code"),
        ];
        for (text, why) in cases {
            assert!(!gateway_accepts(text), "{text}: the oracle disagrees");
            let err = Locality::parse(text).expect_err(text).to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
        let oid = Oid::parse("1.2").expect("oid");
        assert!(Locality::new("A^B", &oid, "X").is_err());
        assert!(Locality::new("", &oid, "X").is_err());
        assert!(Locality::new("A", &oid, "").is_err());
        assert!(Locality::new("A", &oid, "X&").is_err());
    }

    proptest! {
        #[test]
        fn agrees_with_the_gateway_expression(s in "[A ^&ISO.12]{0,30}") {
            prop_assert_eq!(Locality::parse(&s).is_ok(), gateway_accepts(&s), "{:?}", s);
        }

        #[test]
        fn round_trips(name in "[A-Z][A-Z &'.]{0,40}", oid in crate::oid::tests::oid_text(), code in "[0-9A-Z]{1,16}") {
            let oid = Oid::parse(&oid).expect("valid");
            let l = Locality::new(&name, &oid, &code).expect("valid");
            let again = Locality::parse(&l.to_string()).expect("round trip");
            prop_assert_eq!(&again, &l);
            let json = serde_json::to_string(&l).expect("serializes");
            prop_assert_eq!(serde_json::from_str::<Locality>(&json).expect("deserializes"), l);
        }
    }
}
