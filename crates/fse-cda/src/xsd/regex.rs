//! XML Schema regular expressions (XSD Part 2, appendix F) and their XPath
//! 2.0 extension (F&O 7.6), translated to the syntax of the `regex` crate.
//!
//! One translator serves the XSD `pattern` facet and XPath's `matches()`,
//! `replace()` and `tokenize()`: XPath's syntax is XSD's plus a few
//! additions, and two copies had drifted apart. [`Dialect::Xsd`] patterns
//! are anchored at both ends, `^` and `$` being ordinary characters, and
//! groups do not capture. [`Dialect::XPath`] patterns match anywhere, `^`
//! and `$` anchor, groups capture (for `$1` in `replace()`), `(?:…)` is a
//! non-capturing group, quantifiers may be reluctant (`*?`, `{n,m}?`), and
//! the flags `s`, `m`, `i`, `x` apply.
//!
//! What differs from Rust's syntax:
//! - `.` is any character but `\n` and `\r` (anything, with flag `s`);
//! - `\s` is only `[ \t\n\r]`, `\i` and `\c` are XML name characters,
//!   `\w` is everything but punctuation, separators and "other";
//! - class subtraction is `[a-z-[aeiou]]` (Rust: `[a-z--[aeiou]]`), and a
//!   negation applies to the class before the subtraction only;
//! - `\p{Is…}` names a Unicode block, which Rust does not know;
//! - characters special to Rust only (`&&`, `~~`, `--` in classes, `#`)
//!   are literals, so ASCII punctuation is written escaped, but for `<`
//!   and `>` (`\<` is a word boundary in Rust).
//!
//! Back-references are refused: the `regex` crate has none.

use std::fmt::Write as _;

/// Which language the pattern is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// An XSD `pattern` facet: the whole value must match.
    Xsd,
    /// An XPath 2.0 pattern, with its flags.
    XPath(Flags),
}

/// The flags of XPath's regular expression functions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `s`: `.` matches every character, `\n` included.
    pub dot_all: bool,
    /// `m`: `^` and `$` also match at line ends.
    pub multi_line: bool,
    /// `i`: case-insensitive.
    pub case_insensitive: bool,
    /// `x`: whitespace outside character classes is ignored.
    pub extended: bool,
}

/// Why a pattern cannot be translated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegexError {
    /// The pattern.
    pub pattern: String,
    /// Character offset of the problem in the pattern; `None` when the
    /// problem is in the flags.
    pub offset: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for RegexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(at) => write!(
                f,
                "regular expression {:?}, at character {at}: {}",
                self.pattern, self.message
            ),
            None => write!(f, "regular expression {:?}: {}", self.pattern, self.message),
        }
    }
}

impl std::error::Error for RegexError {}

/// XML 1.0 (fifth edition) NameStartChar, class body form.
const NAME_START: &str = ":A-Z_a-z\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{2FF}\\x{370}-\\x{37D}\\x{37F}-\\x{1FFF}\\x{200C}-\\x{200D}\\x{2070}-\\x{218F}\\x{2C00}-\\x{2FEF}\\x{3001}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFFD}\\x{10000}-\\x{EFFFF}";
/// NameChar minus NameStartChar.
const NAME_REST: &str = "\\-.0-9\\x{B7}\\x{300}-\\x{36F}\\x{203F}-\\x{2040}";

/// Groups and classes nested deeper than this are refused: the translator
/// recurses per level, and patterns may come from the document itself
/// (`matches(., @pattern)`).
const MAX_DEPTH: usize = 256;

/// Translates an XPath pattern with its flags string (`"smix"` letters).
///
/// # Errors
/// An unknown flag, or as [`to_rust`].
pub fn xpath_to_rust(pattern: &str, flags: &str) -> Result<String, RegexError> {
    let mut parsed = Flags::default();
    for f in flags.chars() {
        match f {
            's' => parsed.dot_all = true,
            'm' => parsed.multi_line = true,
            'i' => parsed.case_insensitive = true,
            'x' => parsed.extended = true,
            other => {
                return Err(RegexError {
                    pattern: pattern.to_string(),
                    offset: None,
                    message: format!("unknown flag {other:?} in {flags:?} (allowed: s, m, i, x)"),
                });
            }
        }
    }
    to_rust(pattern, Dialect::XPath(parsed))
}

/// Translates an XSD or XPath regular expression to `regex` crate syntax
/// (anchored with `\A(?:...)\z` for [`Dialect::Xsd`]).
///
/// # Errors
/// When the pattern is not a valid regular expression of that dialect or
/// uses a construct Rust cannot express.
pub fn to_rust(pattern: &str, dialect: Dialect) -> Result<String, RegexError> {
    let chars: Vec<char> = pattern.chars().collect();
    let (xpath, flags) = match dialect {
        Dialect::Xsd => (false, Flags::default()),
        Dialect::XPath(flags) => (true, flags),
    };
    let mut t = Translator {
        pattern,
        chars: &chars,
        at: 0,
        xpath,
        flags,
        out: String::new(),
        depth: 0,
        in_class: false,
    };
    if xpath {
        if flags.multi_line {
            t.out.push_str("(?m)");
        }
        if flags.case_insensitive {
            t.out.push_str("(?i)");
        }
    } else {
        t.out.push_str("\\A(?:");
    }
    t.branches()?;
    if t.peek().is_some() {
        // branches() stops only at the end or at a ')' nobody opened.
        return Err(t.error(t.at, "')' without a matching '('"));
    }
    if !xpath {
        t.out.push_str(")\\z");
    }
    Ok(t.out)
}

struct Translator<'p> {
    pattern: &'p str,
    chars: &'p [char],
    at: usize,
    xpath: bool,
    flags: Flags,
    out: String,
    /// Groups and classes open.
    depth: usize,
    /// Inside a class, where flag `x` keeps whitespace (F&O 7.6.1.1).
    in_class: bool,
}

/// What an escape stands for.
enum Esc {
    Char(char),
    /// A class body and whether it is negated.
    Class(String, bool),
}

impl Translator<'_> {
    fn error(&self, at: usize, message: impl Into<String>) -> RegexError {
        RegexError {
            pattern: self.pattern.to_string(),
            offset: Some(at),
            message: message.into(),
        }
    }

    /// The next significant character; with flag `x`, whitespace outside
    /// classes is skipped here, so that offsets stay those of the pattern.
    fn peek(&mut self) -> Option<char> {
        if self.flags.extended && !self.in_class {
            while matches!(self.chars.get(self.at), Some(' ' | '\t' | '\n' | '\r')) {
                self.at += 1;
            }
        }
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        Some(c)
    }

    fn enter(&mut self, at: usize) -> Result<(), RegexError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(at, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
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
        let start = self.at - 1;
        match c {
            '(' => {
                self.enter(start)?;
                if !self.xpath {
                    // XSD groups only group; capturing would cost for nothing.
                    self.out.push_str("(?:");
                } else if self.peek() == Some('?') {
                    self.at += 1;
                    if self.next() != Some(':') {
                        return Err(self.error(start, "'(?' must be followed by ':'"));
                    }
                    self.out.push_str("(?:");
                } else {
                    self.out.push('(');
                }
                self.branches()?;
                if self.next() != Some(')') {
                    return Err(self.error(start, "'(' is never closed"));
                }
                self.out.push(')');
                self.depth -= 1;
            }
            '[' => self.class(start)?,
            '.' if self.flags.dot_all => self.out.push_str("(?s:.)"),
            '.' => self.out.push_str("[^\\n\\r]"),
            '\\' => match self.escape(start)? {
                Esc::Char(c) => literal(&mut self.out, c),
                Esc::Class(set, false) => {
                    let _ = write!(self.out, "[{set}]");
                }
                Esc::Class(set, true) => {
                    let _ = write!(self.out, "[^{set}]");
                }
            },
            '^' | '$' if self.xpath => self.out.push(c),
            '?' | '*' | '+' | '{' => {
                return Err(self.error(start, format!("quantifier {c:?} has nothing to repeat")));
            }
            ']' => return Err(self.error(start, "unescaped ']' outside a class")),
            _ => literal(&mut self.out, c),
        }
        Ok(())
    }

    fn quantifier(&mut self) -> Result<(), RegexError> {
        match self.peek() {
            Some(q @ ('?' | '*' | '+')) => {
                self.at += 1;
                self.out.push(q);
            }
            Some('{') => {
                let start = self.at;
                self.at += 1;
                let mut body = String::new();
                loop {
                    match self.next() {
                        Some('}') => break,
                        Some(c) if c.is_ascii_digit() || c == ',' => body.push(c),
                        Some(c) => {
                            return Err(self.error(start, format!("{c:?} in a quantifier")));
                        }
                        None => return Err(self.error(start, "'{' is never closed")),
                    }
                }
                let (min, max) = body.split_once(',').unwrap_or((&body, &body));
                let valid = match (min.parse::<u32>(), max) {
                    (Ok(_), "") => true,
                    (Ok(n), max) => max.parse::<u32>().is_ok_and(|m| n <= m),
                    (Err(_), _) => false,
                };
                if !valid {
                    return Err(self.error(start, format!("bad quantifier {{{body}}}")));
                }
                let _ = write!(self.out, "{{{body}}}");
            }
            _ => return Ok(()),
        }
        // XPath allows reluctant quantifiers; in XSD a '?' here is an
        // error, which the next atom() reports.
        if self.xpath && self.peek() == Some('?') {
            self.at += 1;
            self.out.push('?');
        }
        Ok(())
    }

    /// A class after its `[` (at `open`), up to and including its `]`;
    /// writes a complete `regex` class.
    fn class(&mut self, open: usize) -> Result<(), RegexError> {
        self.enter(open)?;
        let was_in_class = std::mem::replace(&mut self.in_class, true);
        let negated = self.peek() == Some('^');
        if negated {
            self.at += 1;
        }
        let mut body = String::new();
        loop {
            let Some(c) = self.next() else {
                return Err(self.error(open, "'[' is never closed"));
            };
            match c {
                ']' => break,
                '-' if !body.is_empty() && self.peek() == Some('[') => {
                    // Subtraction: `[^a-[b]]` is (not a) minus b, so the
                    // negation stays inside the left operand.
                    let sub_open = self.at;
                    self.at += 1;
                    let outer = std::mem::take(&mut self.out);
                    self.class(sub_open)?;
                    let sub = std::mem::replace(&mut self.out, outer);
                    if self.next() != Some(']') {
                        return Err(self.error(open, "a subtraction must end its class"));
                    }
                    let neg = if negated { "^" } else { "" };
                    let _ = write!(self.out, "[[{neg}{body}]--{sub}]");
                    self.in_class = was_in_class;
                    self.depth -= 1;
                    return Ok(());
                }
                '[' => return Err(self.error(self.at - 1, "unescaped '[' in a class")),
                '\\' => match self.escape(self.at - 1)? {
                    Esc::Char(lo) => self.range_or_char(&mut body, lo)?,
                    // Rust has no negated item inside a class: a nested
                    // class does.
                    Esc::Class(set, true) => {
                        let _ = write!(body, "[^{set}]");
                    }
                    Esc::Class(set, false) => body.push_str(&set),
                },
                _ => self.range_or_char(&mut body, c)?,
            }
        }
        if body.is_empty() {
            return Err(self.error(open, "empty class"));
        }
        self.out.push('[');
        if negated {
            self.out.push('^');
        }
        self.out.push_str(&body);
        self.out.push(']');
        self.in_class = was_in_class;
        self.depth -= 1;
        Ok(())
    }

    /// `lo`, or the range `lo-hi` when a `-` follows that is neither the
    /// class's last character nor the start of a subtraction.
    fn range_or_char(&mut self, body: &mut String, lo: char) -> Result<(), RegexError> {
        if self.peek() != Some('-') || matches!(self.chars.get(self.at + 1), Some(']' | '[') | None)
        {
            literal(body, lo);
            return Ok(());
        }
        let dash = self.at;
        self.at += 1;
        let hi = match self.next() {
            Some('\\') => match self.escape(self.at - 1)? {
                Esc::Char(h) => h,
                Esc::Class(..) => {
                    return Err(self.error(dash, "a range cannot end with a class escape"));
                }
            },
            Some(h) => h,
            None => return Err(self.error(dash, "'[' is never closed")),
        };
        if hi < lo {
            return Err(self.error(dash, format!("range {lo:?}-{hi:?} is out of order")));
        }
        literal(body, lo);
        body.push('-');
        literal(body, hi);
        Ok(())
    }

    /// After a `\` (at `start`).
    fn escape(&mut self, start: usize) -> Result<Esc, RegexError> {
        let Some(c) = self.next() else {
            return Err(self.error(start, "'\\' ends the pattern"));
        };
        Ok(match c {
            'n' => Esc::Char('\n'),
            'r' => Esc::Char('\r'),
            't' => Esc::Char('\t'),
            '\\' | '|' | '.' | '?' | '*' | '+' | '(' | ')' | '{' | '}' | '-' | '[' | ']' | '^'
            | '$' => Esc::Char(c),
            's' => Esc::Class("\\x20\\t\\n\\r".into(), false),
            'S' => Esc::Class("\\x20\\t\\n\\r".into(), true),
            'd' => Esc::Class("\\p{Nd}".into(), false),
            'D' => Esc::Class("\\p{Nd}".into(), true),
            'w' => Esc::Class("\\p{P}\\p{Z}\\p{C}".into(), true),
            'W' => Esc::Class("\\p{P}\\p{Z}\\p{C}".into(), false),
            'i' => Esc::Class(NAME_START.into(), false),
            'I' => Esc::Class(NAME_START.into(), true),
            'c' => Esc::Class(format!("{NAME_START}{NAME_REST}"), false),
            'C' => Esc::Class(format!("{NAME_START}{NAME_REST}"), true),
            'p' | 'P' => {
                if self.next() != Some('{') {
                    return Err(self.error(start, format!("expected '{{' after \\{c}")));
                }
                let mut name = String::new();
                loop {
                    match self.next() {
                        Some('}') => break,
                        Some(ch) if ch.is_ascii_alphanumeric() || ch == '-' => name.push(ch),
                        Some(ch) => {
                            return Err(self.error(start, format!("{ch:?} in a \\{c}{{...}} name")));
                        }
                        None => return Err(self.error(start, format!("\\{c}{{ is never closed"))),
                    }
                }
                match property(&name) {
                    Some(set) => Esc::Class(set, c == 'P'),
                    None => {
                        return Err(self.error(
                            start,
                            format!("\\{c}{{{name}}} is neither a Unicode category nor a supported block"),
                        ));
                    }
                }
            }
            '0'..='9' => {
                return Err(self.error(start, format!("back-references (\\{c}) are not supported")));
            }
            other => return Err(self.error(start, format!("unknown escape \\{other}"))),
        })
    }
}

/// Writes `c` as a literal, inside or outside a class. ASCII punctuation is
/// escaped (`regex` accepts that for all of it but `<` and `>`, which
/// would be word boundaries), whitespace and controls are written as code
/// points.
fn literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || (!c.is_ascii() && !c.is_whitespace() && !c.is_control()) {
        out.push(c);
    } else if c.is_ascii_punctuation() && c != '<' && c != '>' {
        out.push('\\');
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:X}}}", c as u32);
    }
}

/// The general categories of `\p{…}`: XSD's list plus `LC`. Not `Cs`,
/// which XSD excludes (surrogates do not occur in XML) and which a
/// `regex` class cannot hold.
const CATEGORIES: [&str; 37] = [
    "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc",
    "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Z", "Zs", "Zl", "Zp", "S", "Sm", "Sc", "Sk", "So", "C",
    "Cc", "Cf", "Co", "Cn", "LC",
];

/// A `\p{…}` name as a class body: a general category (XSD's list), or
/// one of the common `Is…` blocks, which Rust does not know by name.
fn property(name: &str) -> Option<String> {
    if CATEGORIES.contains(&name) {
        return Some(format!("\\p{{{name}}}"));
    }
    let range = match name {
        "IsBasicLatin" => "\\x{0}-\\x{7F}",
        "IsLatin-1Supplement" => "\\x{80}-\\x{FF}",
        "IsLatinExtended-A" => "\\x{100}-\\x{17F}",
        "IsLatinExtended-B" => "\\x{180}-\\x{24F}",
        "IsIPAExtensions" => "\\x{250}-\\x{2AF}",
        "IsCombiningDiacriticalMarks" => "\\x{300}-\\x{36F}",
        "IsGreek" | "IsGreekandCoptic" => "\\x{370}-\\x{3FF}",
        "IsCyrillic" => "\\x{400}-\\x{4FF}",
        "IsGeneralPunctuation" => "\\x{2000}-\\x{206F}",
        "IsCurrencySymbols" => "\\x{20A0}-\\x{20CF}",
        "IsLatinExtendedAdditional" => "\\x{1E00}-\\x{1EFF}",
        _ => return None,
    };
    Some(range.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xsd(pattern: &str) -> regex::Regex {
        regex::Regex::new(&to_rust(pattern, Dialect::Xsd).unwrap()).unwrap()
    }

    fn xpath_flags(pattern: &str, flags: &str) -> regex::Regex {
        regex::Regex::new(&xpath_to_rust(pattern, flags).unwrap()).unwrap()
    }

    fn xpath(pattern: &str, s: &str) -> bool {
        xpath_flags(pattern, "").is_match(s)
    }

    fn error(pattern: &str, dialect: Dialect) -> String {
        to_rust(pattern, dialect).unwrap_err().to_string()
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
    fn official_xpath_patterns() {
        assert!(xpath("[A-Z0-9]{16}", "RSSMRA80A01H501U"));
        assert!(
            xpath("[A-Z0-9]{16}", "xxRSSMRA80A01H501Uxx"),
            "matches() searches"
        );
        assert!(!xpath("[A-Z0-9]{16}", "RSSMRA80A01H501"));
        assert!(xpath(r"^\d{2,3}\.6\.22$", "120.6.22"));
        assert!(!xpath(r"^\d{2,3}\.6\.22$", "1.6.22"));
        assert!(!xpath(r"^\d{2,3}\.6\.22$", "x12.6.22"));
        let regional = r"^2\.16\.840\.1\.113883\.2\.9\.2\.(10|20|30|41|42|50|60|70|80|90|100|110|120|130|140|150|160|170|180|190|200)\.4\.1$";
        assert!(xpath(regional, "2.16.840.1.113883.2.9.2.90.4.1"));
        assert!(!xpath(regional, "2.16.840.1.113883.2.9.2.91.4.1"));
    }

    #[test]
    fn xml_schema_classes() {
        assert!(xsd("[a-z-[aeiou]]+").is_match("bcd"));
        assert!(!xsd("[a-z-[aeiou]]+").is_match("bad"));
        // The negation applies before the subtraction: (not a-z) minus 0-9.
        assert!(xsd("[^a-z-[0-9]]").is_match("A"));
        assert!(!xsd("[^a-z-[0-9]]").is_match("5"));
        assert!(!xsd("[^a-z-[0-9]]").is_match("q"));
        assert!(xsd("[a-z-[b-y-[c]]]+").is_match("acz"));
        assert!(!xsd("[a-z-[b-y-[c]]]").is_match("b"));
        assert!(xsd(r"\i\c*").is_match("_a.b-c:d"));
        assert!(!xsd(r"\i\c*").is_match("1a"));
        assert!(xpath(r"^\i\c*$", "hl7:name-1"));
        assert!(xsd(r"\d+").is_match("١٢"));
        assert!(xsd(r"[\s\d]+").is_match(" 1 "));
        assert!(!xsd(r"\s").is_match("\u{A0}"), "\\s is only XML whitespace");
        assert!(xsd(r"[^\S]").is_match(" "));
        assert!(xsd(r"[\S-[a]]").is_match("b"));
        assert!(!xsd(r"[\S-[a]]").is_match("a"));
        assert!(xsd(r"\w+").is_match("aé1"));
        assert!(!xsd(r"\w").is_match("."));
        assert!(xsd(r"\W").is_match(" "));
        assert!(xsd(r"\p{Lu}\P{Lu}").is_match("Ab"));
        assert!(!xsd(r"\p{Lu}\P{Lu}").is_match("AB"));
        assert!(xsd(r"\p{IsBasicLatin}+").is_match("abc"));
        assert!(!xsd(r"\p{IsBasicLatin}").is_match("é"));
        assert!(xsd(r"[\P{IsBasicLatin}]").is_match("é"));
        assert!(xsd("[&~#]+").is_match("&~#"));
        assert!(xsd("a&&b").is_match("a&&b"), "'&&' is literal in XSD");
        assert!(xsd("[a&&b]+").is_match("&ab"));
        assert!(xsd("[a~~b]+").is_match("~ab"));
        assert!(xsd("[a-]").is_match("-"));
        assert!(xsd(r"[+\-]?\d+").is_match("-12"));
        assert!(xsd("a{2,3}").is_match("aaa"));
        assert!(!xsd("a{2,3}").is_match("aaaa"));
        assert!(xsd("a{2,}").is_match("aaaa"));
        assert!(xsd("a}").is_match("a}"));
    }

    #[test]
    fn every_ascii_character_is_a_literal_when_escaped_or_plain() {
        for b in 0u8..0x80 {
            let c = char::from(b);
            let plain = c.to_string();
            let written = if "\\|.?*+(){}-[]^$".contains(c) {
                format!("\\{c}")
            } else {
                plain.clone()
            };
            let re = xsd(&written);
            assert!(re.is_match(&plain), "{written:?}");
            let in_class = xsd(&format!("[{written}]"));
            assert!(in_class.is_match(&plain), "[{written}]");
            assert!(
                !in_class.is_match(if c == 'x' { "y" } else { "x" }),
                "[{written}]"
            );
        }
    }

    #[test]
    fn dialects_differ_on_anchors_groups_and_reluctance() {
        assert!(xsd("^a$").is_match("^a$"));
        assert!(!xsd("^a$").is_match("a"));
        assert!(xpath("^a$", "a"));
        // XPath groups capture, for replace()'s $1; XSD groups need not.
        assert_eq!(xsd("(a)(b)").captures_len(), 1);
        assert_eq!(xpath_flags("(a)(?:b)(c)", "").captures_len(), 3);
        let re = xpath_flags("(a+?)(a*)", "");
        assert_eq!(re.replace("aaa", "[$1|$2]"), "[a|aa]");
        assert_eq!(
            xpath_flags("a{1,3}?", "").find("aaa").map(|m| m.len()),
            Some(1)
        );
        assert_eq!(xpath_flags("a??b", "").find("ab").map(|m| m.len()), Some(2));
        assert_eq!(
            xpath_flags("<.*?>", "").find("<a><b>").map(|m| m.len()),
            Some(3)
        );
        assert!(to_rust("a*?", Dialect::Xsd).is_err());
        assert!(to_rust("(?:a)", Dialect::Xsd).is_err());
    }

    #[test]
    fn dot_and_flags() {
        assert!(xsd("a.c").is_match("a-c"));
        assert!(xpath("^.$", "é"));
        for s in ["a\nc", "a\rc"] {
            assert!(!xsd("a.c").is_match(s));
            assert!(!xpath("^a.c$", s));
            assert!(xpath_flags("^a.c$", "s").is_match(s));
        }
        assert!(xpath_flags("^A b$", "ix").is_match("ab"));
        assert!(!xpath("^A b$", "ab"));
        // Flag x keeps whitespace inside classes (F&O 7.6.1.1).
        assert!(xpath_flags("^a [ ] b$", "x").is_match("a b"));
        assert!(xpath_flags("^a{1, 2} $", "x").is_match("aa"));
        assert!(xpath_flags("^b$", "m").is_match("a\nb\nc"));
        assert!(!xpath("^b$", "a\nb\nc"));
        assert!(xpath_flags(r"^\p{Lu}$", "").is_match("A"));
    }

    #[test]
    fn unicode_categories_all_translate() {
        for name in CATEGORIES {
            for p in [format!(r"\p{{{name}}}"), format!(r"[^\P{{{name}}}a]")] {
                let rust = to_rust(&p, Dialect::Xsd).unwrap();
                assert!(regex::Regex::new(&rust).is_ok(), "{p} -> {rust}");
            }
        }
    }

    #[test]
    fn refusals() {
        for bad in [
            "(a",
            "a)",
            "[a",
            "[]",
            "[]a]",
            "*a",
            "a**",
            "+",
            r"\q",
            "a{3,2}",
            "a{,2}",
            "a{2",
            "a{x}",
            "[z-a]",
            "[a-z-[b]c]",
            "[a[b]]",
            "a]",
            r"\",
            r"\p{IsKlingon}",
            r"\p{Greek}",
            r"\p{Cs}",
            r"\p{Lu",
            r"\pL",
            r"[a-\d]",
            "a*?",
            "{1}",
        ] {
            assert!(to_rust(bad, Dialect::Xsd).is_err(), "{bad:?}");
        }
        for bad in [
            "(a)\\1",
            "(?=a)",
            "(?i)a",
            "[a",
            "a)",
            r"\p{IsKlingon}",
            "*a",
            "a{3,2}",
        ] {
            assert!(xpath_to_rust(bad, "").is_err(), "{bad:?}");
        }
        assert!(xpath_to_rust("a", "q").is_err());
        let deep = "(".repeat(MAX_DEPTH + 1) + &")".repeat(MAX_DEPTH + 1);
        assert!(to_rust(&deep, Dialect::Xsd).is_err());
        let deep = "[a-".repeat(MAX_DEPTH + 1) + "[a]" + &"]".repeat(MAX_DEPTH + 1);
        assert!(to_rust(&deep, Dialect::Xsd).is_err());
        let fine = "(".repeat(MAX_DEPTH) + &")".repeat(MAX_DEPTH);
        assert!(to_rust(&fine, Dialect::Xsd).is_ok());
    }

    #[test]
    fn errors_name_the_pattern_and_the_problem() {
        let xp = Dialect::XPath(Flags::default());
        assert_eq!(
            error("(a)\\1", xp),
            r#"regular expression "(a)\\1", at character 3: back-references (\1) are not supported"#
        );
        assert_eq!(
            error("ab(c", Dialect::Xsd),
            r#"regular expression "ab(c", at character 2: '(' is never closed"#
        );
        assert_eq!(
            error("a{3,2}", Dialect::Xsd),
            r#"regular expression "a{3,2}", at character 1: bad quantifier {3,2}"#
        );
        assert!(error(r"\p{IsKlingon}", xp).contains(r"\p{IsKlingon} is neither"));
        assert!(error("[z-a]", xp).contains("'z'-'a' is out of order"));
        assert!(error("*", Dialect::Xsd).contains("'*' has nothing to repeat"));
        // With flag x, offsets are still those of the written pattern.
        let flagged = xpath_to_rust("a  b  \\q", "x").unwrap_err();
        assert_eq!(flagged.offset, Some(6));
        assert_eq!(
            xpath_to_rust("a", "sq").unwrap_err().to_string(),
            r#"regular expression "a": unknown flag 'q' in "sq" (allowed: s, m, i, x)"#
        );
    }
}
