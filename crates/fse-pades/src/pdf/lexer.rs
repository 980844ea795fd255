//! The object syntax (ISO 32000-1 §7.2–7.3): a parser over a byte slice.
//!
//! Never panics: every read is bounds-checked, nesting is bounded, and a
//! failure names the byte offset.

use crate::error::{Error, Result};
use crate::pdf::object::{Dict, ObjRef, Object};

/// Deepest nesting of arrays and dictionaries we accept. Real files stay
/// under 10; the bound keeps hostile input from exhausting the stack.
pub(crate) const MAX_DEPTH: usize = 64;

pub(crate) fn is_whitespace(b: u8) -> bool {
    matches!(b, b'\0' | b'\t' | b'\n' | b'\x0C' | b'\r' | b' ')
}

pub(crate) fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(b: u8) -> bool {
    !is_whitespace(b) && !is_delimiter(b)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// What follows an indirect object's value.
#[derive(Debug)]
pub(crate) struct Indirect {
    /// `id gen` of the header.
    pub(crate) id: ObjRef,
    /// The value (for a stream: its dictionary).
    pub(crate) value: Object,
    /// For a stream, the offset of its first data byte.
    pub(crate) stream_data: Option<usize>,
}

/// A cursor over PDF bytes.
#[derive(Debug, Clone)]
pub(crate) struct Lexer<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(data: &'a [u8], pos: usize) -> Self {
        Self { data, pos }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error::Syntax {
            offset: self.pos,
            message: message.into(),
        }
    }

    /// Skips whitespace and comments.
    pub(crate) fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            if is_whitespace(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\n' || c == b'\r' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// The next regular-character run (a keyword or number), without
    /// consuming it.
    fn peek_word(&self) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let rest = self.data.get(start..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&b| !is_regular(b))
            .unwrap_or(rest.len());
        rest.get(..len).unwrap_or_default()
    }

    /// Consumes `keyword` (after whitespace) if it is the next word.
    pub(crate) fn eat_keyword(&mut self, keyword: &[u8]) -> bool {
        self.skip_ws();
        if self.peek_word() == keyword {
            self.pos += keyword.len();
            true
        } else {
            false
        }
    }

    pub(crate) fn expect_keyword(&mut self, keyword: &str) -> Result<()> {
        if self.eat_keyword(keyword.as_bytes()) {
            Ok(())
        } else {
            let found = String::from_utf8_lossy(self.peek_word()).into_owned();
            Err(self.err(format!("expected `{keyword}`, found `{found}`")))
        }
    }

    /// Reads an unsigned integer word (used by xref tables and headers).
    pub(crate) fn read_unsigned(&mut self) -> Option<u64> {
        self.skip_ws();
        let word = self.peek_word();
        if word.is_empty() || word.len() > 19 || !word.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut value: u64 = 0;
        for &d in word {
            value = value * 10 + u64::from(d - b'0');
        }
        self.pos += word.len();
        Some(value)
    }

    /// Parses `id gen obj value [stream]`, stopping at the stream data
    /// (its end is found by the caller, which can resolve `/Length`).
    pub(crate) fn indirect(&mut self) -> Result<Indirect> {
        let start = self.pos;
        let id = self.read_unsigned();
        let gen_nr = self.read_unsigned();
        let (Some(id), Some(gen_nr)) = (id, gen_nr) else {
            self.pos = start;
            return Err(self.err("expected an object header `id gen obj`"));
        };
        let (Ok(id), Ok(gen_nr)) = (u32::try_from(id), u16::try_from(gen_nr)) else {
            return Err(Error::Syntax {
                offset: start,
                message: "object number out of range".into(),
            });
        };
        self.expect_keyword("obj")?;
        let value = self.object(0)?;
        let mut stream_data = None;
        if matches!(value, Object::Dict(_)) && self.eat_keyword(b"stream") {
            // The keyword is followed by CRLF or LF (a lone CR is tolerated).
            match (self.data.get(self.pos), self.data.get(self.pos + 1)) {
                (Some(b'\r'), Some(b'\n')) => self.pos += 2,
                (Some(b'\n' | b'\r'), _) => self.pos += 1,
                _ => {}
            }
            stream_data = Some(self.pos);
        }
        Ok(Indirect {
            id: ObjRef { id, gen_nr },
            value,
            stream_data,
        })
    }

    /// Parses one object (a reference `n g R` counts as one).
    pub(crate) fn object(&mut self, depth: usize) -> Result<Object> {
        if depth > MAX_DEPTH {
            return Err(Error::Limit {
                what: "object nesting depth",
                limit: MAX_DEPTH as u64,
            });
        }
        self.skip_ws();
        let Some(b) = self.peek() else {
            return Err(self.err("unexpected end of data, expected an object"));
        };
        match b {
            b'/' => {
                self.pos += 1;
                Ok(Object::Name(self.name_body()))
            }
            b'(' => self.literal_string(),
            b'<' => {
                if self.data.get(self.pos + 1) == Some(&b'<') {
                    self.pos += 2;
                    self.dict_body(depth).map(Object::Dict)
                } else {
                    self.hex_string()
                }
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Object::Array(items));
                        }
                        None => return Err(self.err("unterminated array")),
                        _ => items.push(self.object(depth + 1)?),
                    }
                }
            }
            b'+' | b'-' | b'.' | b'0'..=b'9' => self.number_or_reference(),
            _ => {
                let word = self.peek_word();
                let obj = match word {
                    b"null" => Object::Null,
                    b"true" => Object::Bool(true),
                    b"false" => Object::Bool(false),
                    _ => {
                        let shown =
                            String::from_utf8_lossy(&word[..word.len().min(32)]).into_owned();
                        let shown = if shown.is_empty() {
                            format!("byte 0x{b:02x}")
                        } else {
                            format!("`{shown}`")
                        };
                        return Err(self.err(format!("unexpected {shown}, expected an object")));
                    }
                };
                self.pos += word.len();
                Ok(obj)
            }
        }
    }

    fn dict_body(&mut self, depth: usize) -> Result<Dict> {
        let mut dict = Dict::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'>') => {
                    if self.data.get(self.pos + 1) == Some(&b'>') {
                        self.pos += 2;
                        return Ok(dict);
                    }
                    return Err(self.err("`>` inside a dictionary, expected `>>`"));
                }
                Some(b'/') => {
                    self.pos += 1;
                    let key = self.name_body();
                    self.skip_ws();
                    // A key directly followed by `>>` has no value: treat as null.
                    if self.peek() == Some(b'>') {
                        dict.push_raw(key, Object::Null);
                        continue;
                    }
                    let value = self.object(depth + 1)?;
                    dict.push_raw(key, value);
                }
                None => return Err(self.err("unterminated dictionary")),
                Some(_) => return Err(self.err("expected a name as dictionary key")),
            }
        }
    }

    fn name_body(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            if !is_regular(b) {
                break;
            }
            if b == b'#' {
                let hi = self.data.get(self.pos + 1).copied().and_then(hex_value);
                let lo = self.data.get(self.pos + 2).copied().and_then(hex_value);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    self.pos += 3;
                    continue;
                }
            }
            out.push(b);
            self.pos += 1;
        }
        out
    }

    fn literal_string(&mut self) -> Result<Object> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        let mut nesting = 1usize;
        loop {
            let Some(b) = self.peek() else {
                return Err(Error::Syntax {
                    offset: start,
                    message: "unterminated string".into(),
                });
            };
            self.pos += 1;
            match b {
                b'(' => {
                    nesting += 1;
                    out.push(b);
                }
                b')' => {
                    nesting -= 1;
                    if nesting == 0 {
                        return Ok(Object::String(out));
                    }
                    out.push(b);
                }
                b'\\' => {
                    let Some(e) = self.peek() else { continue };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0C),
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push((v & 0xFF) as u8);
                        }
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        other => out.push(other),
                    }
                }
                b'\r' => {
                    // An end of line in a string reads as a single LF.
                    if self.peek() == Some(b'\n') {
                        self.pos += 1;
                    }
                    out.push(b'\n');
                }
                _ => out.push(b),
            }
        }
    }

    fn hex_string(&mut self) -> Result<Object> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        let mut high: Option<u8> = None;
        loop {
            let Some(b) = self.peek() else {
                return Err(Error::Syntax {
                    offset: start,
                    message: "unterminated hex string".into(),
                });
            };
            self.pos += 1;
            if b == b'>' {
                if let Some(h) = high {
                    out.push(h << 4);
                }
                return Ok(Object::String(out));
            }
            if is_whitespace(b) {
                continue;
            }
            let Some(v) = hex_value(b) else {
                return Err(Error::Syntax {
                    offset: self.pos - 1,
                    message: "invalid character in hex string".into(),
                });
            };
            match high.take() {
                Some(h) => out.push(h << 4 | v),
                None => high = Some(v),
            }
        }
    }

    fn number_or_reference(&mut self) -> Result<Object> {
        let word = self.peek_word();
        let number = parse_number(word).ok_or_else(|| {
            let shown = String::from_utf8_lossy(&word[..word.len().min(32)]).into_owned();
            self.err(format!("invalid number `{shown}`"))
        })?;
        self.pos += word.len();
        let Object::Integer(id) = number else {
            return Ok(number);
        };
        // `id gen R`: look ahead without committing.
        if id >= 0 {
            let after_first = self.pos;
            if let Some(gen_nr) = self.read_unsigned()
                && self.eat_keyword(b"R")
                && let (Ok(id), Ok(gen_nr)) = (u32::try_from(id), u16::try_from(gen_nr))
            {
                return Ok(Object::Reference(ObjRef { id, gen_nr }));
            }
            self.pos = after_first;
        }
        Ok(number)
    }
}

fn parse_number(word: &[u8]) -> Option<Object> {
    if word.is_empty() || word.len() > 64 {
        return None;
    }
    let (negative, digits) = match word.first() {
        Some(b'-') => (true, word.get(1..)?),
        Some(b'+') => (false, word.get(1..)?),
        _ => (false, word),
    };
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        let mut value: i64 = 0;
        for &d in digits {
            match value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(d - b'0')))
            {
                Some(v) => value = v,
                // Too large for an integer: keep it as a real.
                None => return real(negative, digits),
            }
        }
        return Some(Object::Integer(if negative { -value } else { value }));
    }
    real(negative, digits)
}

fn real(negative: bool, digits: &[u8]) -> Option<Object> {
    let dots = digits.iter().filter(|&&b| b == b'.').count();
    if dots > 1 || !digits.iter().all(|&b| b == b'.' || b.is_ascii_digit()) {
        return None;
    }
    if !digits.iter().any(u8::is_ascii_digit) {
        return None;
    }
    let v: f64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(Object::Real(if negative { -v } else { v }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Object {
        Lexer::new(s.as_bytes(), 0)
            .object(0)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn scalars() {
        assert_eq!(parse("null"), Object::Null);
        assert_eq!(parse(" true "), Object::Bool(true));
        assert_eq!(parse("-17"), Object::Integer(-17));
        assert_eq!(parse("+4."), Object::Real(4.0));
        assert_eq!(parse("-.5"), Object::Real(-0.5));
        assert_eq!(parse("/application#2Fxml"), Object::name("application/xml"));
        assert_eq!(parse("12 0 R"), Object::Reference(ObjRef::new(12)));
        assert_eq!(parse("99999999999999999999"), Object::Real(1e20));
    }

    #[test]
    fn strings() {
        assert_eq!(
            parse(r"(a\(b\)c\\ (nested) \101\n)"),
            Object::String(b"a(b)c\\ (nested) A\n".to_vec())
        );
        assert_eq!(
            parse("(line\\\r\njoined)"),
            Object::String(b"linejoined".to_vec())
        );
        assert_eq!(
            parse("<48 65 6C6C 6F7>"),
            Object::String(b"Hello\x70".to_vec())
        );
    }

    #[test]
    fn containers_and_references() {
        let obj = parse("<< /Kids [4 0 R 5 0 R] /Count 2 /X << /Y [1 2.5 (s)] >> /Empty >>");
        let d = obj.as_dict().unwrap();
        assert_eq!(d.get("Kids").unwrap().as_array().unwrap().len(), 2);
        assert_eq!(d.get("Count"), Some(&Object::Integer(2)));
        assert_eq!(d.get("Empty"), Some(&Object::Null));
        // Two integers that are not a reference stay two integers.
        assert_eq!(
            parse("[1 2 3]"),
            Object::Array(vec![1.into(), 2.into(), 3.into()])
        );
    }

    #[test]
    fn hostile_input_gets_errors() {
        for bad in [
            "(unterminated",
            "<< /A 1",
            "[1 2",
            "<4G>",
            "<< 1 2 >>",
            "}",
            "",
            "--5",
        ] {
            assert!(Lexer::new(bad.as_bytes(), 0).object(0).is_err(), "{bad}");
        }
        let deep = "[".repeat(10_000);
        let err = Lexer::new(deep.as_bytes(), 0).object(0).unwrap_err();
        assert!(matches!(err, Error::Limit { .. }), "{err}");
    }

    #[test]
    fn indirect_stream_header() {
        let src = b"7 0 obj\n<< /Length 3 >>\nstream\r\nabc\nendstream endobj";
        let ind = Lexer::new(src, 0).indirect().unwrap();
        assert_eq!(ind.id, ObjRef::new(7));
        assert_eq!(ind.stream_data, Some(32));
        assert_eq!(&src[32..35], b"abc");
    }
}
