//! Italian fiscal codes (codice fiscale), the patient and user identifier of
//! the FSE.

use std::fmt;

use crate::error::{Error, masked};
use crate::support::parsed_string_impls;

/// A fiscal code whose form and check character were verified.
///
/// Two forms exist:
/// - [`FiscalCodeKind::Personal`]: 16 characters, `RSSMRA80A01H501U`, with
///   the check letter verified and the digits possibly replaced by the
///   omocodia letters `L M N P Q R S T U V`;
/// - [`FiscalCodeKind::Numeric`]: 11 digits with the check digit verified
///   (a temporary code, or the code of a legal person).
///
/// `Display` and serialization give the value as the wire wants it;
/// `Debug` masks it, so that logging a value never leaks who the patient is.
/// Use [`FiscalCode::masked`] in messages.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FiscalCode(String);

/// The form of a [`FiscalCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FiscalCodeKind {
    /// The 16-character code of a person.
    Personal,
    /// The 11-digit code: temporary code of a person, or code of a legal
    /// person.
    Numeric,
}

/// Month letters, January to December.
const MONTHS: &[u8; 12] = b"ABCDEHLMPRST";

/// Letters that stand for the digits 0-9 in an omocodia code.
const OMOCODIA: &[u8; 10] = b"LMNPQRSTUV";

/// Zero-based positions of a personal code that hold digits (or omocodia
/// letters).
const DIGIT_POSITIONS: [usize; 7] = [6, 7, 9, 10, 12, 13, 14];

/// Value of a character in an odd (1st, 3rd, ...) position, for the check
/// character, indexed by digit or letter ordinal.
const ODD_VALUES: [u8; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

impl FiscalCode {
    /// Parses a fiscal code in either form. Letters must be upper case.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let bytes = value.as_bytes();
        match bytes.len() {
            16 => check_personal(bytes).map_err(|reason| fail(value, reason))?,
            11 => check_numeric(bytes).map_err(|reason| fail(value, reason))?,
            _ => return Err(fail(value, "must be 16 characters, or 11 digits")),
        }
        Ok(Self(value.to_owned()))
    }

    /// Completes the first 15 characters of a personal code with its check
    /// letter. Useful to make test codes that are valid.
    pub fn with_check_character(first15: &str) -> Result<Self, Error> {
        let bytes = first15.as_bytes();
        if bytes.len() != 15 {
            return Err(fail(first15, "needs exactly the first 15 characters"));
        }
        let mut full = first15.to_owned();
        full.push(char::from(check_letter(bytes).ok_or_else(|| {
            fail(first15, "contains a character that is not A-Z or 0-9")
        })?));
        Self::parse(&full)
    }

    /// The code as the wire carries it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Which form the code has.
    pub fn kind(&self) -> FiscalCodeKind {
        if self.0.len() == 16 {
            FiscalCodeKind::Personal
        } else {
            FiscalCodeKind::Numeric
        }
    }

    /// Whether a personal code has omocodia letters in place of digits.
    pub fn is_omocode(&self) -> bool {
        let bytes = self.0.as_bytes();
        self.kind() == FiscalCodeKind::Personal
            && DIGIT_POSITIONS
                .iter()
                .any(|&i| bytes.get(i).is_some_and(u8::is_ascii_uppercase))
    }

    /// The code with all but two characters hidden, for logs and messages.
    pub fn masked(&self) -> String {
        masked(&self.0)
    }
}

fn fail(value: &str, reason: &'static str) -> Error {
    Error::FiscalCode {
        masked: masked(value),
        reason,
    }
}

/// The digit a position holds, reading omocodia letters as digits.
fn digit_at(bytes: &[u8], i: usize) -> Option<u8> {
    let b = *bytes.get(i)?;
    if b.is_ascii_digit() {
        Some(b - b'0')
    } else {
        OMOCODIA
            .iter()
            .position(|&l| l == b)
            .and_then(|d| u8::try_from(d).ok())
    }
}

fn check_personal(bytes: &[u8]) -> Result<(), &'static str> {
    for (i, &b) in bytes.iter().enumerate() {
        let ok = match i {
            0..=5 | 8 | 11 | 15 => b.is_ascii_uppercase(),
            _ => b.is_ascii_digit() || OMOCODIA.contains(&b),
        };
        if !ok {
            return Err(if b.is_ascii_lowercase() {
                "letters must be upper case"
            } else {
                "characters do not follow the pattern AAAAAA99A99A999A (omocodia letters allowed for digits)"
            });
        }
    }
    if !MONTHS.contains(&bytes[8]) {
        return Err("the 9th character is not a month letter (ABCDEHLMPRST)");
    }
    let day = match (digit_at(bytes, 9), digit_at(bytes, 10)) {
        (Some(tens), Some(units)) => tens * 10 + units,
        _ => return Err("the day of birth is not two digits"),
    };
    if !(1..=31).contains(&day) && !(41..=71).contains(&day) {
        return Err("the day of birth is not 01-31 (men) or 41-71 (women)");
    }
    match check_letter(&bytes[..15]) {
        Some(expected) if expected == bytes[15] => Ok(()),
        _ => Err("the check character does not match"),
    }
}

/// The check letter of the first 15 characters of a personal code.
fn check_letter(first15: &[u8]) -> Option<u8> {
    let mut sum: u32 = 0;
    for (i, &b) in first15.iter().enumerate() {
        let ordinal = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'Z' => b - b'A',
            _ => return None,
        };
        // Positions are counted from 1: index 0 is an odd position.
        let value = if i % 2 == 0 {
            ODD_VALUES[usize::from(ordinal)]
        } else {
            ordinal
        };
        sum += u32::from(value);
    }
    u8::try_from(sum % 26).ok().map(|n| b'A' + n)
}

fn check_numeric(bytes: &[u8]) -> Result<(), &'static str> {
    if !bytes.iter().all(u8::is_ascii_digit) {
        return Err("an 11-character code must be all digits");
    }
    let mut sum: u32 = 0;
    for (i, &b) in bytes[..10].iter().enumerate() {
        let d = u32::from(b - b'0');
        sum += if i % 2 == 0 {
            d
        } else {
            let doubled = d * 2;
            if doubled > 9 { doubled - 9 } else { doubled }
        };
    }
    let expected = (10 - sum % 10) % 10;
    if u32::from(bytes[10] - b'0') == expected {
        Ok(())
    } else {
        Err("the check digit does not match")
    }
}

impl fmt::Debug for FiscalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FiscalCode({})", self.masked())
    }
}

parsed_string_impls!(FiscalCode, 0);

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_known_valid_codes() {
        // Well-known specimen codes, and the national test container's ones.
        for code in [
            "RSSMRA80A01H501U",
            "SSSMNN75B01F257L",
            "GTWGWY82B42G920M",
            "RSSMRA22A01A399Z",
        ] {
            let cf = FiscalCode::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(cf.as_str(), code);
            assert_eq!(cf.kind(), FiscalCodeKind::Personal);
            assert!(!cf.is_omocode());
        }
    }

    #[test]
    fn accepts_omocodia() {
        // RSSMRA80A01H501U with its last digit (1 -> M) replaced; check recomputed.
        let cf = FiscalCode::with_check_character("RSSMRA80A01H50M").expect("valid omocode");
        assert!(cf.is_omocode());
        assert_eq!(FiscalCode::parse(cf.as_str()), Ok(cf));
    }

    #[test]
    fn accepts_numeric_codes() {
        for code in ["12345678903", "00000000000", "01234567897"] {
            let cf = FiscalCode::parse(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(cf.kind(), FiscalCodeKind::Numeric);
        }
    }

    #[test]
    fn rejects_bad_codes_with_reasons() {
        let cases = [
            ("RSSMRA80A01H501V", "check character"),
            ("rssmra80a01h501u", "upper case"),
            ("RSSMRA80Z01H501U", "month"),
            ("RSSMRA80A32H501U", "day of birth"),
            ("RSSMRA80A00H501U", "day of birth"),
            ("RSSMR480A01H501U", "pattern"),
            ("RSSMRA80A01H5O1U", "pattern"),
            ("RSSMRA80A01H501", "16 characters"),
            ("", "16 characters"),
            ("12345678901", "check digit"),
            ("1234567890A", "digits"),
            ("RSSMRA80A01H501UU", "16 characters"),
            ("RSSMRA80A01H501è", "16 characters"),
        ];
        for (code, why) in cases {
            match FiscalCode::parse(code) {
                Err(e @ Error::FiscalCode { .. }) => {
                    let message = e.to_string();
                    assert!(message.contains(why), "{code}: {message}");
                    if code.len() > 2 {
                        assert!(!message.contains(code), "{message} leaks the code");
                    }
                }
                other => panic!("{code}: {other:?}"),
            }
        }
    }

    #[test]
    fn debug_masks_and_display_does_not() {
        let cf = FiscalCode::parse("RSSMRA80A01H501U").expect("valid");
        assert_eq!(format!("{cf:?}"), "FiscalCode(RS**************)");
        assert_eq!(cf.to_string(), "RSSMRA80A01H501U");
    }

    #[test]
    fn serde_validates() {
        let cf: FiscalCode = serde_json::from_str("\"RSSMRA80A01H501U\"").expect("valid");
        assert_eq!(
            serde_json::to_string(&cf).expect("serializes"),
            "\"RSSMRA80A01H501U\""
        );
        assert!(serde_json::from_str::<FiscalCode>("\"RSSMRA80A01H501V\"").is_err());
    }

    /// The first 15 characters of a personal code, omocodia included.
    pub(crate) fn personal_prefix() -> impl Strategy<Value = String> {
        let digit = "[0-9LMNPQRSTUV]";
        (
            "[A-Z]{6}",
            proptest::string::string_regex(&format!("{digit}{{2}}")).expect("regex"),
            "[ABCDEHLMPRST]",
            prop_oneof![1u8..=31, 41u8..=71],
            "[A-Z]",
            proptest::string::string_regex(&format!("{digit}{{3}}")).expect("regex"),
        )
            .prop_map(|(names, year, month, day, town, number)| {
                format!("{names}{year}{month}{day:02}{town}{number}")
            })
    }

    proptest! {
        #[test]
        fn personal_codes_round_trip(prefix in personal_prefix()) {
            let cf = FiscalCode::with_check_character(&prefix).expect("generated codes are valid");
            let again: FiscalCode = cf.to_string().parse().expect("round trip");
            prop_assert_eq!(&again, &cf);
            let json = serde_json::to_string(&cf).expect("serializes");
            prop_assert_eq!(serde_json::from_str::<FiscalCode>(&json).expect("deserializes"), cf);
        }

        #[test]
        fn one_changed_character_is_caught(prefix in personal_prefix(), pos in 0usize..16, with in "[A-Z0-9]") {
            let cf = FiscalCode::with_check_character(&prefix).expect("valid");
            let mut bytes = cf.as_str().as_bytes().to_vec();
            let with = with.as_bytes()[0];
            prop_assume!(bytes[pos] != with);
            bytes[pos] = with;
            let changed = String::from_utf8(bytes).expect("ascii");
            prop_assert!(FiscalCode::parse(&changed).is_err(), "{} accepted", changed);
        }

        #[test]
        fn numeric_codes_round_trip(first10 in "[0-9]{10}") {
            let check = (0..10).map(|d| format!("{first10}{d}")).filter(|c| FiscalCode::parse(c).is_ok()).count();
            prop_assert_eq!(check, 1, "exactly one check digit fits");
        }

        #[test]
        fn arbitrary_input_never_panics(s in "\\PC{0,40}") {
            let _ = FiscalCode::parse(&s);
        }
    }
}
