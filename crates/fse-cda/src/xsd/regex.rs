//! XML Schema regular expressions (XSD Part 2, appendix F), translated to
//! the syntax of the `regex` crate.
//!
//! XSD patterns are anchored at both ends and have no `^`/`$` anchors;
//! XPath 2.0 `matches()` uses the same syntax but unanchored, with `^` and
//! `$` as anchors ([`Dialect::XPath`]). What differs from Rust's syntax:
//! - `.` is any character but `\n` and `\r`;
//! - `\s` is only `[ \t\n\r]`, `\i` and `\c` are XML name characters,
//!   `\w` is everything but punctuation, separators and "other";
//! - character class subtraction is `[a-z-[aeiou]]` (Rust: `[a-z--[aeiou]]`);
//! - characters special to Rust only (`&`, `~`, `-` pairs inside classes,
//!   `#`, space in verbose mode) are literals.
//!
//! Unicode block escapes (`\p{IsBasicLatin}`) have no Rust equivalent and
//! are refused, as are back-references (not XSD anyway).

use std::fmt::Write as _;

/// Which language the pattern is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// An XSD `pattern` facet: the whole value must match; `^` and `$` are
    /// ordinary characters.
    Xsd,
    /// An XPath 2.0 `matches()` pattern: matches anywhere; `^` and `$`
    /// anchor at the ends of the string.
    XPath,
}

/// Why a pattern cannot be translated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexError {
    /// The pattern.
    pub pattern: String,
    /// Character offset of the problem.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for RegexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "regular expression {:?}, at character {}: {}",
            self.pattern, self.offset, self.message
        )
    }
}

impl std::error::Error for RegexError {}

/// XML 1.0 (fifth edition) NameStartChar, without `:` handled apart.
const NAME_START: &str = "A-Z_a-z\\u{C0}-\\u{D6}\\u{D8}-\\u{F6}\\u{F8}-\\u{2FF}\\u{370}-\\u{37D}\\u{37F}-\\u{1FFF}\\u{200C}-\\u{200D}\\u{2070}-\\u{218F}\\u{2C00}-\\u{2FEF}\\u{3001}-\\u{D7FF}\\u{F900}-\\u{FDCF}\\u{FDF0}-\\u{FFFD}\\u{10000}-\\u{EFFFF}";
/// NameChar minus NameStartChar.
const NAME_REST: &str = "\\-.0-9\\u{B7}\\u{300}-\\u{36F}\\u{203F}-\\u{2040}";

/// Translates an XSD or XPath regular expression to `regex` crate syntax
/// (anchored with `\A(?:...)\z` for [`Dialect::Xsd`]).
///
/// # Errors
/// When the pattern is not a valid regular expression of that dialect or
/// uses a construct Rust cannot express.
pub fn to_rust(pattern: &str, dialect: Dialect) -> Result<String, RegexError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut t = Translator {
        pattern,
        chars: &chars,
        at: 0,
        dialect,
        out: String::new(),
        depth: 0,
    };
    if dialect == Dialect::Xsd {
        t.out.push_str("\\A(?:");
    }
    t.branches()?;
    if t.at < chars.len() {
        return Err(t.error("unbalanced ')'"));
    }
    if dialect == Dialect::Xsd {
        t.out.push_str(")\\z");
    }
    Ok(t.out)
}

struct Translator<'p> {
    pattern: &'p str,
    chars: &'p [char],
    at: usize,
    dialect: Dialect,
    out: String,
    depth: usize,
}

impl Translator<'_> {
    fn error(&self, message: &str) -> RegexError {
        RegexError {
            pattern: self.pattern.to_string(),
            offset: self.at,
            message: message.to_string(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    fn branches(&mut self) -> Result<(), RegexError> {
        loop {
            self.branch()?;
            if self.peek() == Some('|') {
                self.at += 1;
                self.out.push('|');
            } else {
                return Ok(());
            }
        }
    }

    fn branch(&mut self) -> Result<(), RegexError> {
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                return Ok(());
            }
            self.atom()?;
            self.quantifier()?;
        }
        Ok(())
    }

    fn atom(&mut self) -> Result<(), RegexError> {
        let Some(c) = self.next() else { return Ok(()) };
        match c {
            '(' => {
                self.depth += 1;
                if self.depth > 256 {
                    return Err(self.error("groups nested too deep"));
                }
                self.out.push_str("(?:");
                self.branches()?;
                if self.next() != Some(')') {
                    return Err(self.error("missing ')'"));
                }
                self.out.push(')');
                self.depth -= 1;
            }
            '[' => {
                self.out.push('[');
                self.class_body()?;
                self.out.push(']');
            }
            '.' => self.out.push_str("[^\\n\\r]"),
            '\\' => self.escape(false)?,
            '^' | '$' if self.dialect == Dialect::XPath => self.out.push(c),
            '?' | '*' | '+' | '{' => return Err(self.error("quantifier without an atom")),
            ']' if self.dialect == Dialect::Xsd => return Err(self.error("unescaped ']'")),
            _ => self.literal(c),
        }
        Ok(())
    }

    fn literal(&mut self, c: char) {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            self.out.push('\\');
        }
        self.out.push(c);
    }

    fn quantifier(&mut self) -> Result<(), RegexError> {
        match self.peek() {
            Some(q @ ('?' | '*' | '+')) => {
                self.at += 1;
                self.out.push(q);
            }
            Some('{') => {
                self.at += 1;
                let mut body = String::new();
                loop {
                    match self.next() {
                        Some('}') => break,
                        Some(c) if c.is_ascii_digit() || c == ',' => body.push(c),
                        _ => return Err(self.error("bad quantifier")),
                    }
                }
                let (min, max) = body.split_once(',').unwrap_or((&body, &body));
                let valid = !min.is_empty()
                    && min.parse::<u32>().is_ok()
                    && (max.is_empty()
                        || max
                            .parse::<u32>()
                            .is_ok_and(|m| min.parse::<u32>().is_ok_and(|n| n <= m)));
                if !valid {
                    return Err(self.error("bad quantifier"));
                }
                let _ = write!(self.out, "{{{body}}}");
            }
            _ => return Ok(()),
        }
        // XPath allows reluctant quantifiers; XSD does not.
        if self.dialect == Dialect::XPath && self.peek() == Some('?') {
            self.at += 1;
            self.out.push('?');
        }
        Ok(())
    }

    /// A class after its `[`, up to and including its `]`.
    fn class_body(&mut self) -> Result<(), RegexError> {
        if self.peek() == Some('^') {
            self.at += 1;
            self.out.push('^');
        }
        let mut first = true;
        loop {
            let Some(c) = self.next() else {
                return Err(self.error("missing ']'"));
            };
            match c {
                ']' if !first => return Ok(()),
                '-' if self.peek() == Some('[') => {
                    // Subtraction: the rest is one class, then ']'.
                    self.at += 1;
                    self.out.push_str("--[");
                    self.class_body()?;
                    self.out.push(']');
                    if self.next() != Some(']') {
                        return Err(self.error("subtraction must end the class"));
                    }
                    return Ok(());
                }
                '[' => return Err(self.error("unescaped '[' in a class")),
                _ => {
                    let start = if c == '\\' {
                        self.class_escape()?
                    } else {
                        Some(c)
                    };
                    match start {
                        None => {}
                        Some(lo) => {
                            // A range?
                            if self.peek() == Some('-')
                                && !matches!(self.chars.get(self.at + 1), Some(']' | '[') | None)
                            {
                                self.at += 1;
                                let hi = match self.next() {
                                    Some('\\') => self
                                        .class_escape()?
                                        .ok_or_else(|| self.error("bad range end"))?,
                                    Some(h) => h,
                                    None => return Err(self.error("missing ']'")),
                                };
                                if hi < lo {
                                    return Err(self.error("range out of order"));
                                }
                                self.class_char(lo);
                                self.out.push('-');
                                self.class_char(hi);
                            } else {
                                self.class_char(lo);
                            }
                        }
                    }
                }
            }
            first = false;
        }
    }

    fn class_char(&mut self, c: char) {
        if c.is_ascii_alphanumeric() || (!c.is_ascii() && !c.is_whitespace() && !c.is_control()) {
            self.out.push(c);
        } else {
            let _ = write!(self.out, "\\x{{{:X}}}", c as u32);
        }
    }

    /// An escape inside a class: a single character (returned) or a
    /// multi-character escape (written, `None`).
    fn class_escape(&mut self) -> Result<Option<char>, RegexError> {
        let Some(c) = self.peek() else {
            return Err(self.error("trailing '\\'"));
        };
        if let Some(single) = single_escape(c) {
            self.at += 1;
            return Ok(Some(single));
        }
        self.escape(true)?;
        Ok(None)
    }

    /// After a `\`: writes the escape, as a class item when `in_class`.
    fn escape(&mut self, in_class: bool) -> Result<(), RegexError> {
        let Some(c) = self.next() else {
            return Err(self.error("trailing '\\'"));
        };
        if let Some(single) = single_escape(c) {
            if in_class {
                self.class_char(single);
            } else {
                self.literal(single);
            }
            return Ok(());
        }
        let (set, negated): (String, bool) = match c {
            's' => ("\\x20\\t\\n\\r".into(), false),
            'S' => ("\\x20\\t\\n\\r".into(), true),
            'd' => ("\\p{Nd}".into(), false),
            'D' => ("\\p{Nd}".into(), true),
            'w' => ("\\p{P}\\p{Z}\\p{C}".into(), true),
            'W' => ("\\p{P}\\p{Z}\\p{C}".into(), false),
            'i' => (format!("{NAME_START}:"), false),
            'I' => (format!("{NAME_START}:"), true),
            'c' => (format!("{NAME_START}:{NAME_REST}"), false),
            'C' => (format!("{NAME_START}:{NAME_REST}"), true),
            'p' | 'P' => {
                if self.next() != Some('{') {
                    return Err(self.error("expected '{' after \\p"));
                }
                let mut name = String::new();
                loop {
                    match self.next() {
                        Some('}') => break,
                        Some(ch) if ch.is_ascii_alphanumeric() || ch == '-' => name.push(ch),
                        _ => return Err(self.error("bad \\p{...} name")),
                    }
                }
                if name.starts_with("Is") {
                    return Err(self.error("Unicode block escapes are not supported"));
                }
                if name.is_empty() || regex::Regex::new(&format!("\\p{{{name}}}")).is_err() {
                    return Err(self.error("unknown Unicode category"));
                }
                (format!("\\p{{{name}}}"), c == 'P')
            }
            _ => return Err(self.error("unknown escape")),
        };
        match (in_class, negated) {
            (true, false) => self.out.push_str(&set),
            // Rust has no negated item inside a class: a nested class does.
            (true, true) => {
                let _ = write!(self.out, "[^{set}]");
            }
            (false, false) => {
                let _ = write!(self.out, "[{set}]");
            }
            (false, true) => {
                let _ = write!(self.out, "[^{set}]");
            }
        }
        Ok(())
    }
}

/// XSD single-character escapes.
fn single_escape(c: char) -> Option<char> {
    Some(match c {
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        '\\' | '|' | '.' | '?' | '*' | '+' | '(' | ')' | '{' | '}' | '-' | '[' | ']' | '^'
        | '$' => c,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xsd(pattern: &str) -> regex::Regex {
        regex::Regex::new(&to_rust(pattern, Dialect::Xsd).unwrap()).unwrap()
    }

    #[test]
    fn the_cda_patterns() {
        let ts = xsd(r"[0-9]{1,8}|([0-9]{9,14}|[0-9]{14,14}\.[0-9]+)([+\-][0-9]{1,4})?");
        assert!(ts.is_match("20220330112426+0100"));
        assert!(ts.is_match("2022"));
        assert!(ts.is_match("20220330112426.123"));
        assert!(!ts.is_match("2022-01-01"));
        assert!(!ts.is_match("x20220330"));
        let cs = xsd(r"[^\s]+");
        assert!(cs.is_match("it-IT"));
        assert!(!cs.is_match("it IT"));
        assert!(!cs.is_match(""));
        // XSD \s is four characters only: a no-break space is not one.
        assert!(cs.is_match("a\u{a0}b"));
        let oid = xsd(r"[0-2](\.(0|[1-9][0-9]*))*");
        assert!(oid.is_match("2.16.840.1.113883.2.9.4.3.2"));
        assert!(!oid.is_match("2.16.08"));
        assert!(!oid.is_match("2."));
        let ruid = xsd(r"[A-Za-z][A-Za-z0-9\-]*");
        assert!(ruid.is_match("a-1"));
        assert!(!ruid.is_match("1a"));
        assert!(xsd("true|false").is_match("false"));
        assert!(!xsd("true|false").is_match("truefalse"));
    }

    #[test]
    fn xsd_specifics() {
        assert!(xsd("[a-z-[aeiou]]+").is_match("bcd"));
        assert!(!xsd("[a-z-[aeiou]]+").is_match("bad"));
        assert!(xsd(r"\i\c*").is_match("_a.b-c:d"));
        assert!(!xsd(r"\i\c*").is_match("1a"));
        assert!(xsd("a.c").is_match("a-c"));
        assert!(!xsd("a.c").is_match("a\nc"));
        assert!(xsd("^a$").is_match("^a$"));
        assert!(xsd(r"\d+").is_match("١٢"));
        assert!(xsd(r"[\s\d]+").is_match(" 1 "));
        assert!(xsd(r"[^\S]").is_match(" "));
        assert!(xsd(r"[\S-[a]]").is_match("b"));
        assert!(!xsd(r"[\S-[a]]").is_match("a"));
        assert!(xsd(r"\p{Lu}+").is_match("ABC"));
        assert!(xsd("[&~#]+").is_match("&~#"));
        assert!(xsd("[a-]").is_match("-"));
        assert!(xsd("a{2,3}").is_match("aaa"));
    }

    #[test]
    fn xpath_dialect() {
        let re = regex::Regex::new(&to_rust(r"^\d{2,3}\.6\.22$", Dialect::XPath).unwrap()).unwrap();
        assert!(re.is_match("12.6.22"));
        assert!(!re.is_match("x12.6.22"));
        let re = regex::Regex::new(&to_rust("[A-Z0-9]{16}", Dialect::XPath).unwrap()).unwrap();
        assert!(re.is_match("xxRSSMRA80A01H501Uyy"));
    }

    #[test]
    fn refuses_what_it_cannot_express() {
        assert!(to_rust(r"\p{IsBasicLatin}", Dialect::Xsd).is_err());
        assert!(to_rust("(a", Dialect::Xsd).is_err());
        assert!(to_rust("a)", Dialect::Xsd).is_err());
        assert!(to_rust("[a", Dialect::Xsd).is_err());
        assert!(to_rust("*a", Dialect::Xsd).is_err());
        assert!(to_rust(r"\q", Dialect::Xsd).is_err());
        assert!(to_rust("a{3,2}", Dialect::Xsd).is_err());
        assert!(to_rust("[z-a]", Dialect::Xsd).is_err());
    }
}
