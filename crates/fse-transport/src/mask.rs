//! Masking of patient identifiers in text that may reach a log or a
//! terminal (problem details, error messages).

/// Digits of a personal fiscal code may be replaced by these letters (omocodia).
const DIGITISH: &[u8] = b"0123456789LMNPQRSTUV";

fn is_personal_code(t: &[u8]) -> bool {
    t.len() == 16
        && t.iter().enumerate().all(|(i, b)| match i {
            0..=5 | 8 | 11 | 15 => b.is_ascii_uppercase(),
            _ => DIGITISH.contains(b),
        })
}

/// `text` with every token shaped like a personal fiscal code (16
/// characters, letters and digits where a code has them) reduced to its
/// first two characters and asterisks.
pub fn mask_fiscal_codes(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let starts_token = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        if starts_token && i + 16 <= bytes.len() {
            let candidate = &bytes[i..i + 16];
            let ends_token = bytes.get(i + 16).is_none_or(|b| !b.is_ascii_alphanumeric());
            if ends_token && is_personal_code(candidate) {
                out.push_str(&text[i..i + 2]);
                out.push_str("**************");
                i += 16;
                continue;
            }
        }
        // Copy one whole character (the input may be any UTF-8).
        let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + ch_len]);
        i += ch_len;
    }
    out
}

/// A CX person id or fiscal code, masked for display.
pub fn mask_person(value: &str) -> String {
    let (id, rest) = value.split_once("^^^").unwrap_or((value, ""));
    let shown: String = id.chars().take(2).collect();
    let hidden = "*".repeat(id.chars().count().saturating_sub(2));
    if rest.is_empty() {
        format!("{shown}{hidden}")
    } else {
        format!("{shown}{hidden}^^^{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_codes_in_text() {
        assert_eq!(
            mask_fiscal_codes("person_id RSSMRA80A01H501U^^^&2.16&ISO non trovato"),
            "person_id RS**************^^^&2.16&ISO non trovato"
        );
        assert_eq!(
            mask_fiscal_codes("omocode RSSMRA8LALMHRLMU."),
            "omocode RS**************."
        );
        // Not a code: longer token, lower case, wrong shape.
        assert_eq!(mask_fiscal_codes("XRSSMRA80A01H501U"), "XRSSMRA80A01H501U");
        assert_eq!(mask_fiscal_codes("rssmra80a01h501u"), "rssmra80a01h501u");
        assert_eq!(mask_fiscal_codes("ABCDEFGHIJKLMNOP"), "ABCDEFGHIJKLMNOP");
        assert_eq!(
            mask_fiscal_codes("è RSSMRA80A01H501U è"),
            "è RS************** è"
        );
    }

    #[test]
    fn masks_person_ids() {
        assert_eq!(
            mask_person("RSSMRA80A01H501U^^^&2.16.840.1.113883.2.9.4.3.2&ISO"),
            "RS**************^^^&2.16.840.1.113883.2.9.4.3.2&ISO"
        );
        assert_eq!(mask_person("RSSMRA80A01H501U"), "RS**************");
    }
}
