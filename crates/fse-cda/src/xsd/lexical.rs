//! Lexical spaces of the built-in types, whitespace normalization and the
//! ordering of numbers, as libxml2 checks them.

use std::borrow::Cow;

use super::schema::{Builtin, Whitespace};

/// XML's four whitespace characters (also XSD's `\s`).
pub(crate) fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Applies a whiteSpace facet.
pub(crate) fn normalize(value: &str, ws: Whitespace) -> Cow<'_, str> {
    match ws {
        Whitespace::Preserve => Cow::Borrowed(value),
        Whitespace::Replace => {
            if value.bytes().any(|b| matches!(b, b'\t' | b'\n' | b'\r')) {
                Cow::Owned(value.replace(['\t', '\n', '\r'], " "))
            } else {
                Cow::Borrowed(value)
            }
        }
        Whitespace::Collapse => {
            // Most values (codes, OIDs) have no blank at all: one plain
            // scan settles them.
            if above_space(value) {
                return Cow::Borrowed(value);
            }
            let trimmed = trim_blanks(value);
            // Already collapsed: no blank but single spaces between words.
            let mut after_space = false;
            let clean = trimmed.bytes().all(|b| match b {
                b' ' => !std::mem::replace(&mut after_space, true),
                b'\t' | b'\n' | b'\r' => false,
                _ => {
                    after_space = false;
                    true
                }
            });
            if clean {
                Cow::Borrowed(trimmed)
            } else {
                Cow::Owned(
                    trimmed
                        .split(is_blank)
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            }
        }
    }
}

/// The string without leading and trailing XML blanks.
pub(crate) fn trim_blanks(s: &str) -> &str {
    let b = s.as_bytes();
    let blank = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let start = b.iter().position(|c| !blank(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !blank(c)).map_or(start, |i| i + 1);
    // Blanks are ASCII, so both ends are character boundaries.
    s.get(start..end).unwrap_or_default()
}

/// Whether every byte is above a space: no blank, no control character.
pub(crate) fn above_space(s: &str) -> bool {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    // Some byte is below `!` exactly when this has a high bit set: the
    // lowest such byte borrows and has its high bit clear, no byte above
    // it borrows, and bytes of 0x80 and up are masked out.
    let has_low = |word: u64| word.wrapping_sub(ONES * u64::from(b'!')) & !word & HIGH != 0;
    !any_word(s.as_bytes(), b'!', has_low)
}

/// Whether the string has a character other than an XML blank.
pub(crate) fn has_non_blank(s: &str) -> bool {
    // This is asked of the indentation between every two elements: a line
    // end, then a run of tabs or of spaces, compared eight bytes at a
    // time; anything else is tested eight bytes at a time.
    let bytes = s.as_bytes();
    let bytes = bytes.strip_prefix(b"\n").unwrap_or(bytes);
    let fill = match bytes.first() {
        Some(b'\t') => b'\t',
        _ => b' ',
    };
    let run = u64::from_le_bytes([fill; 8]);
    any_word(bytes, fill, |word| word != run && !all_blank(word))
}

/// Whether `hit` holds for one of the words that together cover `bytes`:
/// eight bytes at a time, the last word overlapping the one before, or,
/// under eight bytes, one word padded with `fill`.
#[inline]
fn any_word(bytes: &[u8], fill: u8, mut hit: impl FnMut(u64) -> bool) -> bool {
    let word = |eight: &[u8; 8]| u64::from_le_bytes(*eight);
    if let Some(last) = bytes.last_chunk::<8>() {
        let mut words = bytes.chunks_exact(8);
        for eight in &mut words {
            if eight.first_chunk::<8>().is_some_and(|e| hit(word(e))) {
                return true;
            }
        }
        return !words.remainder().is_empty() && hit(word(last));
    }
    // Under eight bytes: two loads that overlap when they must.
    let padding = u64::from_le_bytes([fill; 8]);
    let short = if let (Some(a), Some(b)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        u64::from(u32::from_le_bytes(*a)) | u64::from(u32::from_le_bytes(*b)) << 32
    } else if let (Some(a), Some(b)) = (bytes.first_chunk::<2>(), bytes.last_chunk::<2>()) {
        u64::from(u16::from_le_bytes(*a))
            | u64::from(u16::from_le_bytes(*b)) << 16
            | padding & !0xffff_ffff
    } else if let Some(&a) = bytes.first() {
        u64::from(a) | padding & !0xff
    } else {
        padding
    };
    hit(short)
}

/// Whether each byte of the word is an XML blank.
fn all_blank(word: u64) -> bool {
    const LOW7: u64 = u64::from_le_bytes([0x7f; 8]);
    // A byte's high bit set exactly when the byte is not `c`: the low
    // seven bits carry into the eighth when any is set, and never beyond.
    let differs = |c: u8| {
        let t = word ^ u64::from_le_bytes([c; 8]);
        ((t & LOW7) + LOW7) | t
    };
    differs(b' ') & differs(b'\t') & differs(b'\n') & differs(b'\r') & !LOW7 == 0
}

/// Whether the string has an XML blank (`\s` of XSD regular expressions).
pub(crate) fn has_blank(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// XML 1.0 (fifth edition) NameStartChar, without `:`.
pub(crate) fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}'
        | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 (fifth edition) NameChar, without `:`.
pub(crate) fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// An NCName (no colon).
pub(crate) fn is_ncname(s: &str) -> bool {
    // ASCII names (nearly all: IDs, prefixes) by bytes, the rest by
    // characters.
    if s.is_ascii() {
        let b = s.as_bytes();
        return b
            .first()
            .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_')
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    }
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == ':' || is_name_start(c))
        && chars.all(|c| c == ':' || is_name_char(c))
}

fn is_nmtoken(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c == ':' || is_name_char(c))
}

/// A QName: `prefix:local` or `local`, both NCNames.
pub(crate) fn is_qname(s: &str) -> bool {
    match s.split_once(':') {
        Some((prefix, local)) => is_ncname(prefix) && is_ncname(local),
        None => is_ncname(s),
    }
}

/// Whether `value` (already normalized by the caller where the type says
/// so) is in the lexical space of `builtin`. libxml2 trims blanks on the
/// fly for the collapsing built-ins.
pub(crate) fn is_valid(builtin: Builtin, value: &str) -> bool {
    // Trimmed only for the types that look at the value: strings and
    // tokens, the most checked, accept anything.
    let trimmed = || trim_blanks(value);
    match builtin {
        Builtin::AnySimpleType | Builtin::String | Builtin::NormalizedString | Builtin::Token => {
            true
        }
        Builtin::Nmtoken => is_nmtoken(trimmed()),
        Builtin::Name => is_name(trimmed()),
        Builtin::NcName | Builtin::Id | Builtin::Idref => is_ncname(trimmed()),
        Builtin::Nmtokens => {
            let mut items = trimmed()
                .split(is_blank)
                .filter(|s| !s.is_empty())
                .peekable();
            items.peek().is_some() && items.all(is_nmtoken)
        }
        Builtin::Idrefs => {
            let mut items = trimmed()
                .split(is_blank)
                .filter(|s| !s.is_empty())
                .peekable();
            items.peek().is_some() && items.all(is_ncname)
        }
        Builtin::Boolean => matches!(trimmed(), "true" | "false" | "1" | "0"),
        Builtin::Decimal => is_decimal(trimmed()),
        Builtin::Integer => is_integer(trimmed()),
        Builtin::Double => is_double(trimmed()),
        Builtin::AnyUri => is_any_uri(trimmed()),
        Builtin::Base64Binary => is_base64(value),
    }
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_integer(s: &str) -> bool {
    digits(s.strip_prefix(['+', '-']).unwrap_or(s))
}

fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    (int.is_empty() || digits(int))
        && (frac.is_empty() || digits(frac))
        && (!int.is_empty() || !frac.is_empty())
}

fn is_double(s: &str) -> bool {
    if matches!(s, "INF" | "-INF" | "NaN") {
        return true;
    }
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => (&s[..at], Some(&s[at + 1..])),
        None => (s, None),
    };
    is_decimal(mantissa) && exponent.is_none_or(is_integer)
}

/// The value of a decimal or double literal, for range facets.
pub(crate) fn number(s: &str) -> Option<f64> {
    let s = s.trim_matches(is_blank);
    match s {
        "INF" => Some(f64::INFINITY),
        "-INF" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ if is_double(s) => s.strip_prefix('+').unwrap_or(s).parse().ok().or_else(|| {
            // "5." and ".5" are XSD numbers Rust parses; "+.5" likewise once stripped.
            format!("0{s}").parse().ok()
        }),
        _ => None,
    }
}

/// libxml2's anyURI check: characters a URI may not hold are first made
/// harmless (`_`), then the string must parse as an RFC 3986 URI, or else
/// as a relative reference, the way libxml2's `xmlParseURI` does.
fn is_any_uri(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let mut absolute = Uri {
        s: s.as_bytes(),
        at: 0,
    };
    if absolute.uri() {
        return true;
    }
    let mut relative = Uri {
        s: s.as_bytes(),
        at: 0,
    };
    relative.relative_ref()
}

/// Each byte as the URI parser reads it: itself, or `_` for one a URI may
/// not hold.
static URI_BYTES: [u8; 256] = {
    let mut table = [b'_'; 256];
    let mut b = 32;
    while b < 127 {
        if !matches!(
            b,
            b' ' | b'<' | b'>' | b'"' | b'{' | b'}' | b'|' | b'\\' | b'^' | b'`' | b'\''
        ) {
            table[b as usize] = b;
        }
        b += 1;
    }
    table
};

/// A port of libxml2's RFC 3986 parser (uri.c), answering only "does it
/// parse".
struct Uri<'a> {
    s: &'a [u8],
    at: usize,
}

impl Uri<'_> {
    /// The byte at `at + offset` (0 past the end), with the characters a
    /// URI may not hold read as a harmless `_`: libxml2 escapes them
    /// first, and reading them so spares a cleaned copy.
    fn byte(&self, offset: usize) -> u8 {
        self.s
            .get(self.at + offset)
            .map_or(0, |&b| URI_BYTES[usize::from(b)])
    }

    fn cur(&self) -> u8 {
        self.byte(0)
    }

    fn is_unreserved(&self) -> bool {
        let c = self.cur();
        c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
    }

    fn is_sub_delim(&self) -> bool {
        matches!(
            self.cur(),
            b'!' | b'$' | b'&' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b'\''
        )
    }

    fn is_pct_encoded(&self) -> bool {
        self.cur() == b'%' && self.byte(1).is_ascii_hexdigit() && self.byte(2).is_ascii_hexdigit()
    }

    fn is_pchar(&self) -> bool {
        self.is_unreserved()
            || self.is_pct_encoded()
            || self.is_sub_delim()
            || matches!(self.cur(), b':' | b'@')
    }

    /// Advances over one character (three for a percent-encoding).
    fn advance(&mut self) {
        self.at += if self.cur() == b'%' { 3 } else { 1 };
    }

    fn uri(&mut self) -> bool {
        if !self.cur().is_ascii_alphabetic() {
            return false;
        }
        self.at += 1;
        while self.cur().is_ascii_alphanumeric() || matches!(self.cur(), b'+' | b'-' | b'.') {
            self.at += 1;
        }
        if self.cur() != b':' {
            return false;
        }
        self.at += 1;
        if !self.hier_part() {
            return false;
        }
        self.query_and_fragment()
    }

    fn relative_ref(&mut self) -> bool {
        let ok = if self.cur() == b'/' && self.byte(1) == b'/' {
            self.at += 2;
            self.authority() && self.path_abempty()
        } else if self.cur() == b'/' {
            self.path_absolute()
        } else if self.is_pchar() {
            self.segment(b':', false) && self.path_abempty()
        } else {
            true
        };
        ok && self.query_and_fragment()
    }

    fn query_and_fragment(&mut self) -> bool {
        if self.cur() == b'?' {
            self.at += 1;
            while self.is_pchar() || matches!(self.cur(), b'/' | b'?') {
                self.advance();
            }
        }
        if self.cur() == b'#' {
            self.at += 1;
            while self.is_pchar() || matches!(self.cur(), b'/' | b'?' | b'[' | b']') {
                self.advance();
            }
        }
        self.at >= self.s.len()
    }

    fn hier_part(&mut self) -> bool {
        if self.cur() == b'/' && self.byte(1) == b'/' {
            self.at += 2;
            self.authority() && self.path_abempty()
        } else if self.cur() == b'/' {
            self.path_absolute()
        } else if self.is_pchar() {
            self.segment(0, false) && self.path_abempty()
        } else {
            true
        }
    }

    /// A segment; `forbid` is a character it may not hold (`:` in the
    /// first segment of a relative path), 0 for none.
    fn segment(&mut self, forbid: u8, empty: bool) -> bool {
        if !self.is_pchar() || (forbid != 0 && self.cur() == forbid) {
            return empty;
        }
        self.advance();
        while self.is_pchar() && (forbid == 0 || self.cur() != forbid) {
            self.advance();
        }
        true
    }

    fn path_abempty(&mut self) -> bool {
        while self.cur() == b'/' {
            self.at += 1;
            if !self.segment(0, true) {
                return false;
            }
        }
        true
    }

    fn path_absolute(&mut self) -> bool {
        if self.cur() != b'/' {
            return false;
        }
        self.at += 1;
        if self.segment(0, false) {
            return self.path_abempty();
        }
        true
    }

    fn authority(&mut self) -> bool {
        let start = self.at;
        while self.is_unreserved()
            || self.is_pct_encoded()
            || self.is_sub_delim()
            || self.cur() == b':'
        {
            self.advance();
        }
        if self.cur() == b'@' {
            self.at += 1;
        } else {
            self.at = start;
        }
        // Host: an IP literal, or a (possibly empty) registered name.
        if self.cur() == b'[' {
            while self.cur() != b']' && self.at < self.s.len() {
                self.at += 1;
            }
            if self.cur() != b']' {
                return false;
            }
            self.at += 1;
        } else {
            while self.is_unreserved() || self.is_pct_encoded() || self.is_sub_delim() {
                self.advance();
            }
        }
        if self.cur() == b':' {
            self.at += 1;
            if !self.cur().is_ascii_digit() {
                return false;
            }
            let mut port: u64 = 0;
            while self.cur().is_ascii_digit() {
                port = port * 10 + u64::from(self.cur() - b'0');
                if port > i32::MAX as u64 {
                    return false;
                }
                self.at += 1;
            }
        }
        true
    }
}

/// base64Binary: groups of four base64 characters, blanks allowed between
/// characters, `=` padding only at the end.
fn is_base64(s: &str) -> bool {
    let chars: Vec<char> = s.chars().filter(|&c| !is_blank(c)).collect();
    if !chars.len().is_multiple_of(4) {
        return false;
    }
    let pad = chars.iter().rev().take_while(|&&c| c == '=').count();
    if pad > 2 {
        return false;
    }
    let body = &chars[..chars.len() - pad];
    if !body
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
    {
        return false;
    }
    // The last character before padding must leave no stray bits.
    match (pad, body.last()) {
        (1, Some(&c)) => "AEIMQUYcgkosw048".contains(c),
        (2, Some(&c)) => "AQgw".contains(c),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapse_fast_path_agrees_with_the_full_rules() {
        for v in ["", "OBS", "2.16.840.1.113883", "a\u{1}b", "\u{1F}x", "é€"] {
            let n = normalize(v, Whitespace::Collapse);
            assert!(matches!(n, Cow::Borrowed(b) if b == v), "{v:?}");
        }
        assert_eq!(normalize("\u{1}\ta  ", Whitespace::Collapse), "\u{1} a");
        assert!(is_valid(Builtin::Token, " any thing "));
        assert!(is_valid(Builtin::Integer, " 42\n"));
        assert!(!is_valid(Builtin::NcName, " a b "));
    }

    #[test]
    fn whitespace() {
        assert_eq!(normalize(" a \t b\n", Whitespace::Collapse), "a b");
        assert_eq!(normalize("a b", Whitespace::Collapse), "a b");
        assert_eq!(normalize("a\tb", Whitespace::Replace), "a b");
        assert_eq!(normalize(" a ", Whitespace::Preserve), " a ");
        // Already collapsed: borrowed; anything else: rebuilt.
        for clean in ["a b c", " a b ", "a", "", "\u{e0} b"] {
            assert!(
                matches!(normalize(clean, Whitespace::Collapse), Cow::Borrowed(_)),
                "{clean:?}"
            );
        }
        for (dirty, collapsed) in [
            ("a  b", "a b"),
            ("a\tb", "a b"),
            ("a \nb", "a b"),
            ("a\rb  ", "a b"),
            ("x y  z", "x y z"),
        ] {
            let n = normalize(dirty, Whitespace::Collapse);
            assert!(matches!(n, Cow::Owned(_)), "{dirty:?}");
            assert_eq!(n, collapsed);
        }
    }

    #[test]
    fn blank_text() {
        for blank in [
            "",
            "\n",
            "\r\n",
            "\n        ",
            "\n                        ",
            "\t\t",
            "\n\t  \r\n    ",
            "                 ",
        ] {
            assert!(!has_non_blank(blank), "{blank:?}");
        }
        for text in [
            "a",
            "\na",
            "\n        a",
            "\n       a        ",
            "        a",
            "                a",
            "\n                       x",
            "\u{a0}",
            "\n\u{b}",
        ] {
            assert!(has_non_blank(text), "{text:?}");
        }
        // Every byte, at every place of a word and of the tail, against
        // the byte-by-byte definition.
        let blank = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
        for len in 1..=17 {
            for at in 0..len {
                for b in 0..=0x7fu8 {
                    for (lead, fill) in [("", b'\t'), ("", b' '), ("\n", b'\t'), ("\n", b' ')] {
                        let mut bytes = vec![fill; len];
                        bytes[at] = b;
                        let s = format!("{lead}{}", String::from_utf8(bytes).unwrap());
                        assert_eq!(has_non_blank(&s), !blank(b), "{s:?}");
                    }
                }
                let mut s = " ".repeat(len);
                s.replace_range(at..=at, "\u{a0}");
                assert!(has_non_blank(&s), "{s:?}");
            }
        }
    }

    #[test]
    fn above_space_word_by_word() {
        assert!(above_space(""));
        assert!(above_space("2.16.840.1.113883.2.9.4.3.2"));
        assert!(above_space("\u{a0}é€"));
        for len in 1..=17 {
            for at in 0..len {
                for b in 0..=0x7fu8 {
                    let mut bytes = vec![if at % 2 == 0 { b'~' } else { b'!' }; len];
                    bytes[at] = b;
                    let s = String::from_utf8(bytes).unwrap();
                    assert_eq!(above_space(&s), s.bytes().all(|b| b > b' '), "{s:?}");
                }
                let mut s = "é".repeat(len);
                s.insert(at * 2, ' ');
                assert!(!above_space(&s), "{s:?}");
            }
        }
    }

    #[test]
    fn ascii_ncnames_by_bytes_agree_with_the_characters() {
        let by_chars = |s: &str| {
            let mut chars = s.chars();
            chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
        };
        for a in 0..=0x7fu8 {
            for b in 0..=0x7fu8 {
                let s = String::from_utf8(vec![a, b, b'x']).unwrap();
                assert_eq!(is_ncname(&s), by_chars(&s), "{s:?}");
                assert_eq!(is_ncname(&s[..1]), by_chars(&s[..1]), "{s:?}");
            }
        }
        assert!(!is_ncname(""));
        assert!(is_ncname("\u{e0}b") && !is_ncname("a\u{d7}"));
    }

    #[test]
    fn names_and_tokens() {
        assert!(is_valid(Builtin::Id, "a1"));
        assert!(is_valid(Builtin::Id, " a1 "));
        assert!(!is_valid(Builtin::Id, "1a"));
        assert!(!is_valid(Builtin::Id, "a:b"));
        assert!(is_valid(Builtin::Nmtoken, "1a:b"));
        assert!(!is_valid(Builtin::Nmtoken, "a b"));
        assert!(!is_valid(Builtin::Nmtoken, ""));
        assert!(is_valid(Builtin::Nmtokens, "Bold Italics"));
        assert!(!is_valid(Builtin::Nmtokens, "  "));
        assert!(is_qname("hl7:PQ"));
        assert!(!is_qname("1PQ"));
        assert!(!is_qname("a:b:c"));
    }

    #[test]
    fn numbers_and_booleans() {
        for ok in [
            "1", "-1", "+1.5", ".5", "5.", "1e3", "1.5E-3", "INF", "-INF", "NaN",
        ] {
            assert!(is_valid(Builtin::Double, ok), "{ok}");
        }
        for bad in ["", ".", "1,5", "e3", "1e", "inf", "1.2.3"] {
            assert!(!is_valid(Builtin::Double, bad), "{bad}");
        }
        assert!(is_valid(Builtin::Decimal, "16.00"));
        assert!(!is_valid(Builtin::Decimal, "1e3"));
        assert!(is_valid(Builtin::Integer, "-12"));
        assert!(!is_valid(Builtin::Integer, "1.0"));
        assert!(is_valid(Builtin::Boolean, "1"));
        assert!(!is_valid(Builtin::Boolean, "yes"));
        assert_eq!(number("0.5"), Some(0.5));
        assert_eq!(number(".5"), Some(0.5));
        assert_eq!(number("5."), Some(5.0));
    }

    #[test]
    fn uris_and_base64() {
        for ok in [
            "tel:+39 06 1234",
            "mailto:a@b.it",
            "#nota1",
            "http://h:80/p?q#f",
            "a/b",
            "",
            "urn:oid:1.2",
        ] {
            assert!(is_valid(Builtin::AnyUri, ok), "{ok}");
        }
        assert!(is_valid(Builtin::AnyUri, "#[REF_1]"));
        // Characters a URI may not hold are read as `_`, wherever they are.
        for ok in [
            "a b",
            "http://h/a b",
            "x{y}",
            "\u{e8}",
            "#a\"b",
            "a|b^c`d'e\\f",
        ] {
            assert!(is_valid(Builtin::AnyUri, ok), "{ok}");
        }
        for bad in [
            "%zz",
            "a#b#c",
            "1a:b",
            "http://h:x/",
            "http://h:/",
            "a b#c#d",
            "h<t:x",
            "http://[h",
        ] {
            assert!(!is_valid(Builtin::AnyUri, bad), "{bad}");
        }
        assert!(is_valid(Builtin::Base64Binary, "QUJD"));
        assert!(is_valid(Builtin::Base64Binary, "QU JD\nQQ=="));
        assert!(!is_valid(Builtin::Base64Binary, "QUJ"));
        assert!(!is_valid(Builtin::Base64Binary, "Q=JD"));
    }
}
