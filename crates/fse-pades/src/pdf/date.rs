//! PDF dates (ISO 32000-1 §7.9.4): `D:YYYYMMDDHHmmSS+HH'mm'`.

use time::{OffsetDateTime, UtcOffset};

/// Formats `t` as a PDF date, with its offset.
pub fn format(t: OffsetDateTime) -> String {
    let off = t.offset();
    let (h, m, _) = off.as_hms();
    let zone = if off == UtcOffset::UTC {
        "Z".to_string()
    } else {
        let sign = if off.is_negative() { '-' } else { '+' };
        format!("{sign}{:02}'{:02}'", h.unsigned_abs(), m.unsigned_abs())
    };
    format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}{zone}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses a PDF date; missing trailing fields default as the standard
/// says (month and day 1, time 0, offset UTC). `None` when malformed.
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    let s = s.strip_prefix("D:").unwrap_or(s);
    let bytes = s.as_bytes();
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits < 4 || digits % 2 != 0 || digits > 14 {
        return None;
    }
    let num = |from: usize, default: u32| -> Option<u32> {
        if from + 2 <= digits {
            s.get(from..from + 2)?.parse().ok()
        } else {
            Some(default)
        }
    };
    let year: i32 = s.get(0..4)?.parse().ok()?;
    let month = time::Month::try_from(u8::try_from(num(4, 1)?).ok()?).ok()?;
    let day = u8::try_from(num(6, 1)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(num(8, 0)?).ok()?,
        u8::try_from(num(10, 0)?).ok()?,
        u8::try_from(num(12, 0)?).ok()?,
    )
    .ok()?;
    let rest = s.get(digits..)?;
    let offset = match rest.as_bytes().first() {
        None | Some(b'Z') => UtcOffset::UTC,
        Some(&sign @ (b'+' | b'-')) => {
            let tz: String = rest[1..].chars().filter(char::is_ascii_digit).collect();
            let h: i8 = tz.get(0..2).and_then(|v| v.parse().ok()).unwrap_or(0);
            let m: i8 = tz.get(2..4).and_then(|v| v.parse().ok()).unwrap_or(0);
            let (h, m) = if sign == b'-' { (-h, -m) } else { (h, m) };
            UtcOffset::from_hms(h, m, 0).ok()?
        }
        Some(_) => return None,
    };
    Some(date.with_time(clock).assume_offset(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_with_offset() {
        let t = parse("D:20240306120037+01'00'").unwrap();
        assert_eq!(t.unix_timestamp(), 1_709_722_837);
        assert_eq!(format(t), "D:20240306120037+01'00'");
        assert_eq!(format(parse("D:2024").unwrap()), "D:20240101000000Z");
        assert!(parse("D:2024133").is_none());
        assert!(parse("yesterday").is_none());
    }
}
