//! XPath regular expressions (XML Schema syntax plus `^`, `$` and
//! reluctant quantifiers) translated to the `regex` crate's syntax.
//!
//! The differences that matter: `\s`, `\w`, `\i`, `\c` and `.` have XML
//! meanings, classes subtract with `-[…]`, every ASCII punctuation is
//! escaped so that `regex` features XSD lacks (`&&`, `~~`, `(?…)`) are
//! never triggered by accident. Back-references are refused.

/// XML name start characters (XML 1.0 fifth edition), class body form.
const NAME_START: &str = ":A-Z_a-z\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{2FF}\\x{370}-\\x{37D}\\x{37F}-\\x{1FFF}\\x{200C}-\\x{200D}\\x{2070}-\\x{218F}\\x{2C00}-\\x{2FEF}\\x{3001}-\\x{D7FF}\\x{F900}-\\x{FDCF}\\x{FDF0}-\\x{FFFD}\\x{10000}-\\x{EFFFF}";
/// XML name characters beyond the start characters.
const NAME_EXTRA: &str = "\\-.0-9\\x{B7}\\x{300}-\\x{36F}\\x{203F}-\\x{2040}";

/// Translates an XPath regex with its flags (`s`, `m`, `i`, `x`).
///
/// # Errors
/// A message when the pattern is malformed or uses a construct we do not
/// support (back-references, unknown Unicode blocks).
pub(crate) fn translate_regex(pattern: &str, flags: &str) -> Result<String, String> {
    let mut dot_all = false;
    let mut prefix = String::new();
    let mut strip_ws = false;
    for f in flags.chars() {
        match f {
            's' => dot_all = true,
            'm' => prefix.push_str("(?m)"),
            'i' => prefix.push_str("(?i)"),
            'x' => strip_ws = true,
            other => return Err(format!("unknown regular expression flag {other:?}")),
        }
    }
    let chars: Vec<char> = if strip_ws {
        pattern
            .chars()
            .filter(|c| !matches!(c, ' ' | '\t' | '\n' | '\r'))
            .collect()
    } else {
        pattern.chars().collect()
    };
    let mut t = Translator {
        chars,
        i: 0,
        out: prefix,
        dot_all,
        groups: 0,
    };
    t.regex()?;
    if t.i < t.chars.len() {
        return Err(format!("unbalanced ')' in regular expression {pattern:?}"));
    }
    Ok(t.out)
}

struct Translator {
    chars: Vec<char>,
    i: usize,
    out: String,
    dot_all: bool,
    groups: usize,
}

fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_punctuation() && c != '<' && c != '>' {
        out.push('\\');
        out.push(c);
    } else if c.is_control() || c.is_whitespace() {
        out.push_str(&format!("\\x{{{:X}}}", c as u32));
    } else {
        out.push(c);
    }
}

impl Translator {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn regex(&mut self) -> Result<(), String> {
        loop {
            self.branch()?;
            if self.peek() == Some('|') {
                self.i += 1;
                self.out.push('|');
            } else {
                return Ok(());
            }
        }
    }

    fn branch(&mut self) -> Result<(), String> {
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                return Ok(());
            }
            self.atom()?;
            self.quantifier()?;
        }
        Ok(())
    }

    fn quantifier(&mut self) -> Result<(), String> {
        match self.peek() {
            Some(c @ ('?' | '*' | '+')) => {
                self.i += 1;
                self.out.push(c);
            }
            Some('{') => {
                let start = self.i;
                self.i += 1;
                let mut body = String::new();
                while let Some(c) = self.peek() {
                    self.i += 1;
                    if c == '}' {
                        break;
                    }
                    if !(c.is_ascii_digit() || c == ',') {
                        return Err(format!("malformed quantifier at {start}"));
                    }
                    body.push(c);
                }
                if body.is_empty() || body.starts_with(',') {
                    return Err(format!("malformed quantifier at {start}"));
                }
                self.out.push('{');
                self.out.push_str(&body);
                self.out.push('}');
            }
            _ => return Ok(()),
        }
        if self.peek() == Some('?') {
            self.i += 1;
            self.out.push('?');
        }
        Ok(())
    }

    fn atom(&mut self) -> Result<(), String> {
        let Some(c) = self.peek() else { return Ok(()) };
        self.i += 1;
        match c {
            '(' => {
                self.groups += 1;
                if self.chars.get(self.i..self.i + 2) == Some(&['?', ':']) {
                    self.i += 2;
                    self.out.push_str("(?:");
                } else {
                    self.out.push('(');
                }
                self.regex()?;
                if self.peek() != Some(')') {
                    return Err("unclosed '(' in regular expression".into());
                }
                self.i += 1;
                self.out.push(')');
            }
            '[' => self.class()?,
            '.' => self
                .out
                .push_str(if self.dot_all { "(?s:.)" } else { "[^\\n\\r]" }),
            '^' => self.out.push('^'),
            '$' => self.out.push('$'),
            '\\' => {
                let esc = self.escape()?;
                self.out.push_str(&esc.outside());
            }
            '?' | '*' | '+' | '{' | '}' | ']' => {
                return Err(format!("unexpected {c:?} in regular expression"));
            }
            other => push_literal(&mut self.out, other),
        }
        Ok(())
    }

    /// After a backslash.
    fn escape(&mut self) -> Result<Esc, String> {
        let Some(c) = self.peek() else {
            return Err("regular expression ends with '\\'".into());
        };
        self.i += 1;
        Ok(match c {
            'n' => Esc::Char('\n'),
            'r' => Esc::Char('\r'),
            't' => Esc::Char('\t'),
            '\\' | '|' | '.' | '?' | '*' | '+' | '(' | ')' | '{' | '}' | '-' | '[' | ']' | '^'
            | '$' => Esc::Char(c),
            's' => Esc::Class(" \\t\\n\\r".into(), false),
            'S' => Esc::Class(" \\t\\n\\r".into(), true),
            'd' => Esc::Class("\\p{Nd}".into(), false),
            'D' => Esc::Class("\\p{Nd}".into(), true),
            'w' => Esc::Class("\\p{P}\\p{Z}\\p{C}".into(), true),
            'W' => Esc::Class("\\p{P}\\p{Z}\\p{C}".into(), false),
            'i' => Esc::Class(NAME_START.into(), false),
            'I' => Esc::Class(NAME_START.into(), true),
            'c' => Esc::Class(format!("{NAME_START}{NAME_EXTRA}"), false),
            'C' => Esc::Class(format!("{NAME_START}{NAME_EXTRA}"), true),
            'p' | 'P' => {
                if self.peek() != Some('{') {
                    return Err("expected '{' after \\p".into());
                }
                self.i += 1;
                let mut name = String::new();
                loop {
                    match self.peek() {
                        Some('}') => {
                            self.i += 1;
                            break;
                        }
                        Some(ch) => {
                            name.push(ch);
                            self.i += 1;
                        }
                        None => return Err("unclosed \\p{".into()),
                    }
                }
                Esc::Class(property(&name)?, c == 'P')
            }
            '0'..='9' => {
                return Err("back-references are not supported in regular expressions".into());
            }
            other => return Err(format!("unknown escape \\{other} in regular expression")),
        })
    }

    /// After '['; emits a `regex` class.
    fn class(&mut self) -> Result<(), String> {
        let negated = self.peek() == Some('^');
        if negated {
            self.i += 1;
        }
        let mut body = String::new();
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err("unclosed '[' in regular expression".into());
            };
            if c == ']' && !first {
                self.i += 1;
                break;
            }
            // Subtraction: "-[" ends the group.
            if c == '-' && self.chars.get(self.i + 1) == Some(&'[') && !first {
                self.i += 2;
                let mut sub = Translator {
                    chars: self.chars.clone(),
                    i: self.i,
                    out: String::new(),
                    dot_all: false,
                    groups: 0,
                };
                sub.class()?;
                self.i = sub.i;
                if self.peek() != Some(']') {
                    return Err("a class subtraction must end the class".into());
                }
                self.i += 1;
                let base = if negated {
                    format!("[^{body}]")
                } else {
                    format!("[{body}]")
                };
                self.out.push_str(&format!("[{base}--{}]", sub.out));
                return Ok(());
            }
            first = false;
            self.i += 1;
            let item = if c == '\\' {
                self.escape()?
            } else if c == '[' {
                return Err("'[' must be escaped inside a character class".into());
            } else {
                Esc::Char(c)
            };
            match item {
                Esc::Class(set, neg) => {
                    if neg {
                        body.push_str(&format!("[^{set}]"));
                    } else {
                        body.push_str(&set);
                    }
                }
                Esc::Char(lo) => {
                    // A range lo-hi (but not "-[" nor a final '-').
                    let is_range = self.peek() == Some('-')
                        && !matches!(self.chars.get(self.i + 1), Some(']') | Some('[') | None);
                    if is_range {
                        self.i += 1;
                        let hc = self.peek().ok_or("unclosed '[' in regular expression")?;
                        self.i += 1;
                        let hi = if hc == '\\' {
                            match self.escape()? {
                                Esc::Char(h) => h,
                                Esc::Class(..) => {
                                    return Err("a range cannot end with a class escape".into());
                                }
                            }
                        } else {
                            hc
                        };
                        if hi < lo {
                            return Err(format!(
                                "invalid range {lo:?}-{hi:?} in regular expression"
                            ));
                        }
                        push_literal(&mut body, lo);
                        body.push('-');
                        push_literal(&mut body, hi);
                    } else {
                        push_literal(&mut body, lo);
                    }
                }
            }
        }
        if body.is_empty() {
            return Err("empty character class in regular expression".into());
        }
        self.out.push('[');
        if negated {
            self.out.push('^');
        }
        self.out.push_str(&body);
        self.out.push(']');
        Ok(())
    }
}

enum Esc {
    Char(char),
    /// A class body and whether it is negated.
    Class(String, bool),
}

impl Esc {
    fn outside(&self) -> String {
        match self {
            Esc::Char(c) => {
                let mut s = String::new();
                push_literal(&mut s, *c);
                s
            }
            Esc::Class(set, false) => format!("[{set}]"),
            Esc::Class(set, true) => format!("[^{set}]"),
        }
    }
}

/// A `\p{…}` name: a general category, or one of the common `Is…` blocks.
fn property(name: &str) -> Result<String, String> {
    const CATEGORIES: [&str; 38] = [
        "L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No", "P", "Pc",
        "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Z", "Zs", "Zl", "Zp", "S", "Sm", "Sc", "Sk", "So",
        "C", "Cc", "Cf", "Co", "Cn", "LC", "Cs",
    ];
    if CATEGORIES.contains(&name) {
        return Ok(format!("\\p{{{name}}}"));
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
        _ => {
            return Err(format!(
                "Unicode property or block \\p{{{name}}} is not supported"
            ));
        }
    };
    Ok(range.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, s: &str) -> bool {
        let r = regex::Regex::new(&translate_regex(pattern, "").unwrap()).unwrap();
        r.is_match(s)
    }

    #[test]
    fn official_patterns() {
        assert!(matches("[A-Z0-9]{16}", "RSSMRA80A01H501U"));
        assert!(
            matches("[A-Z0-9]{16}", "xxRSSMRA80A01H501Uxx"),
            "matches() searches"
        );
        assert!(!matches("[A-Z0-9]{16}", "RSSMRA80A01H501"));
        assert!(matches("^\\d{2,3}\\.6\\.22$", "120.6.22"));
        assert!(!matches("^\\d{2,3}\\.6\\.22$", "1.6.22"));
        let regional = "^2\\.16\\.840\\.1\\.113883\\.2\\.9\\.2\\.(10|20|30|41|42|50|60|70|80|90|100|110|120|130|140|150|160|170|180|190|200)\\.4\\.1$";
        assert!(matches(regional, "2.16.840.1.113883.2.9.2.90.4.1"));
        assert!(!matches(regional, "2.16.840.1.113883.2.9.2.91.4.1"));
    }

    #[test]
    fn xml_schema_classes() {
        assert!(matches("^\\s$", " "));
        assert!(!matches("^\\s$", "\u{A0}"), "\\s is only XML whitespace");
        assert!(matches("^\\i\\c*$", "hl7:name-1"));
        assert!(!matches("^\\i", "1a"));
        assert!(matches("^[a-z-[aeiou]]+$", "bcd"));
        assert!(!matches("^[a-z-[aeiou]]+$", "bad"));
        assert!(matches("^[^a-z-[0-9]]$", "A"));
        assert!(!matches("^[^a-z-[0-9]]$", "5"));
        assert!(matches("^.$", "é"));
        assert!(!matches("^.$", "\n"));
        assert!(matches("^[+\\-]?\\d+$", "-12"));
        assert!(matches("^a&&b$", "a&&b"), "'&&' is literal in XSD");
        assert!(matches("^\\p{Lu}\\P{Lu}$", "Ab"));
        assert!(matches("^\\p{IsBasicLatin}+$", "abc"));
    }

    #[test]
    fn flags_and_refusals() {
        let r = regex::Regex::new(&translate_regex("^A b$", "ix").unwrap()).unwrap();
        assert!(r.is_match("ab"));
        assert!(translate_regex("(a)\\1", "").is_err());
        assert!(translate_regex("[a", "").is_err());
        assert!(translate_regex("a)", "").is_err());
        assert!(translate_regex("\\p{IsKlingon}", "").is_err());
        assert!(translate_regex("a", "q").is_err());
        assert!(translate_regex("*a", "").is_err());
    }
}
