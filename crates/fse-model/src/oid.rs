//! ISO object identifiers (`2.16.840.1.113883.2.9.4.3.2`), and the ones the
//! FSE names.

use std::borrow::Cow;
use std::fmt;

use crate::error::{Error, shown};
use crate::support::parsed_string_impls;

/// An object identifier in dotted form, checked: at least two arcs, arcs
/// without leading zeros, a first arc of 0, 1 or 2 (and a second arc of at
/// most 39 under 0 and 1), at most [`Oid::MAX_LEN`] characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oid(Cow<'static, str>);

impl Oid {
    /// The longest OID accepted: far above any real one, but bounded.
    pub const MAX_LEN: usize = 256;

    /// Authority of Italian fiscal codes (Ministero dell'Economia e delle
    /// Finanze): the `&OID&` of a person id holding a fiscal code.
    pub const MEF_FISCAL_CODE: Oid = Oid(Cow::Borrowed("2.16.840.1.113883.2.9.4.3.2"));
    /// Authority of European health insurance card (TEAM) ids: person ids
    /// under it are not fiscal codes.
    pub const TEAM: Oid = Oid(Cow::Borrowed("2.16.840.1.113883.2.9.4.3.7"));
    /// LOINC, the code system of CDA document types (`resource_hl7_type`).
    pub const LOINC: Oid = Oid(Cow::Borrowed("2.16.840.1.113883.6.1"));
    /// Root under which regions register their OIDs:
    /// `2.16.840.1.113883.2.9.2.<region>.…`.
    pub const REGIONS: Oid = Oid(Cow::Borrowed("2.16.840.1.113883.2.9.2"));

    /// Parses a dotted OID.
    pub fn parse(value: &str) -> Result<Self, Error> {
        check(value).map_err(|reason| Error::Oid {
            value: shown(value),
            reason,
        })?;
        Ok(Self(Cow::Owned(value.to_owned())))
    }

    /// The OID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The arcs, as text, in order.
    pub fn arcs(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }

    /// Whether `self` is `prefix` or lies under it (arc by arc, so
    /// `1.23` is not under `1.2`).
    pub fn is_under(&self, prefix: &Oid) -> bool {
        self.0 == prefix.0
            || self
                .0
                .strip_prefix(&*prefix.0)
                .is_some_and(|rest| rest.starts_with('.'))
    }

    /// The region code (`090` for Toscana) of an OID under
    /// `2.16.840.1.113883.2.9.2.<region>`, zero-padded to three digits.
    pub fn region_code(&self) -> Option<String> {
        region_code_of(&self.0)
    }
}

/// The region code of a dotted text under [`Oid::REGIONS`], zero-padded to
/// three digits (`2.16.840.1.113883.2.9.2.90.4.4` gives `090`).
pub(crate) fn region_code_of(text: &str) -> Option<String> {
    let rest = text.strip_prefix(&*Oid::REGIONS.0)?.strip_prefix('.')?;
    let arc = rest.split('.').next()?;
    if arc.is_empty() || arc.len() > 3 || !arc.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("{arc:0>3}"))
}

fn check(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        return Err("is empty");
    }
    if value.len() > Oid::MAX_LEN {
        return Err("is longer than 256 characters");
    }
    let mut arcs = 0usize;
    let mut first = 0u64;
    for (i, arc) in value.split('.').enumerate() {
        if arc.is_empty() {
            return Err("has an empty arc (two dots, or a dot at an end)");
        }
        if !arc.bytes().all(|b| b.is_ascii_digit()) {
            return Err("has an arc that is not a decimal number");
        }
        if arc.len() > 1 && arc.starts_with('0') {
            return Err("has an arc with a leading zero");
        }
        match i {
            0 => {
                first = arc
                    .parse()
                    .map_err(|_| "has a first arc other than 0, 1 or 2")?;
                if first > 2 {
                    return Err("has a first arc other than 0, 1 or 2");
                }
            }
            1 if first < 2 && (arc.len() > 2 || arc.parse::<u8>().map_or(true, |n| n > 39)) => {
                return Err("has a second arc above 39 under 0 or 1");
            }
            _ => {}
        }
        arcs += 1;
    }
    if arcs < 2 {
        return Err("has fewer than two arcs");
    }
    Ok(())
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({})", self.0)
    }
}

parsed_string_impls!(Oid, 0);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn constants_are_valid() {
        for oid in [Oid::MEF_FISCAL_CODE, Oid::TEAM, Oid::LOINC, Oid::REGIONS] {
            assert_eq!(Oid::parse(oid.as_str()), Ok(oid.clone()));
        }
    }

    #[test]
    fn accepts_real_oids() {
        for text in [
            "2.16.840.1.113883.2.9.2.90.4.4",
            "1.3.6.1.4.1.12009.10.1.1356",
            "0.0",
            "2.999.0",
            "1.39",
        ] {
            assert!(Oid::parse(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn rejects_bad_oids() {
        let cases = [
            ("", "empty"),
            ("2", "fewer than two"),
            ("2..16", "empty arc"),
            ("2.16.", "empty arc"),
            (".2.16", "empty arc"),
            ("2.016", "leading zero"),
            ("3.16", "first arc"),
            ("1.40", "second arc"),
            ("1.400", "second arc"),
            ("2.16.a", "decimal"),
            ("2.16.-1", "decimal"),
            (" 2.16", "decimal"),
            ("urn:oid:2.16", "decimal"),
        ];
        for (text, why) in cases {
            let err = Oid::parse(text).expect_err(text).to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
        let long = format!("2{}", ".1".repeat(200));
        assert!(
            Oid::parse(&long)
                .expect_err("too long")
                .to_string()
                .contains("256")
        );
    }

    #[test]
    fn is_under_works_arc_by_arc() {
        let oid = Oid::parse("2.16.840.1.113883.2.9.2.90.4.4").expect("valid");
        assert!(oid.is_under(&Oid::REGIONS));
        assert!(oid.is_under(&oid));
        assert!(
            !Oid::parse("1.23")
                .expect("valid")
                .is_under(&Oid::parse("1.2").expect("valid"))
        );
    }

    #[test]
    fn region_codes() {
        let region = |s: &str| Oid::parse(s).expect("valid").region_code();
        assert_eq!(
            region("2.16.840.1.113883.2.9.2.90.4.4").as_deref(),
            Some("090")
        );
        assert_eq!(
            region("2.16.840.1.113883.2.9.2.120.4.5.1").as_deref(),
            Some("120")
        );
        assert_eq!(region("2.16.840.1.113883.2.9.2").as_deref(), None);
        assert_eq!(region("2.16.840.1.113883.2.9.20.1").as_deref(), None);
    }

    /// Valid OIDs.
    pub(crate) fn oid_text() -> impl Strategy<Value = String> {
        (
            0u8..=2,
            0u32..=39,
            proptest::collection::vec(0u64..=1_000_000, 0..12),
        )
            .prop_map(|(a, b, rest)| {
                let mut s = format!("{a}.{b}");
                for arc in rest {
                    s.push('.');
                    s.push_str(&arc.to_string());
                }
                s
            })
    }

    proptest! {
        #[test]
        fn round_trips(text in oid_text()) {
            let oid = Oid::parse(&text).expect("generated OIDs are valid");
            prop_assert_eq!(oid.to_string(), text.clone());
            let json = serde_json::to_string(&oid).expect("serializes");
            prop_assert_eq!(serde_json::from_str::<Oid>(&json).expect("deserializes"), oid);
        }

        #[test]
        fn arbitrary_input_never_panics(s in "[0-9.]{0,30}|\\PC{0,30}") {
            if let Ok(oid) = Oid::parse(&s) {
                prop_assert_eq!(oid.arcs().count(), s.split('.').count());
            }
        }
    }
}
