//! A matcher for the simplest XPath regular expressions, used by
//! `matches()` in place of the `regex` crate when it can be.
//!
//! The schematrons test identifiers with patterns such as `[A-Z0-9]{16}`
//! or `^2\.16\.840\.(10|20|30)\.4\.2$`: a sequence of literal characters,
//! classes of ASCII characters and groups of literal alternatives, with
//! bounded repetition. For such a pattern and an ASCII string, trying every
//! way the pattern can be laid over the string is both exact and a few
//! dozen instructions, where the `regex` crate spends hundreds of
//! nanoseconds setting up its search. Anything else (other syntax, flags,
//! a string that is not ASCII, where `\d` and case would be Unicode's)
//! is left to the `regex` crate.

/// How many ways at most the pattern may be laid from one start: bounds
/// the work of the backtracking search.
const MAX_CHOICES: u64 = 256;

/// A pattern the fast matcher decides exactly, for ASCII strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FastMatch {
    /// `^`: the match must start at the beginning.
    start: bool,
    /// `$`: the match must end at the end.
    end: bool,
    items: Box<[Item]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// These characters, once.
    Literal(Box<[u8]>),
    /// Between `min` and `max` characters of the set, as a table by byte
    /// (a lookup costs less than testing a bit of a `u128`).
    Class {
        set: [bool; 128],
        min: u32,
        max: u32,
    },
    /// One of these literal strings.
    Alternatives(Box<[Box<[u8]>]>),
}

impl FastMatch {
    /// The fast form of an XPath pattern with these flags, when it has one.
    pub(crate) fn new(pattern: &str, flags: &str) -> Option<FastMatch> {
        if !flags.is_empty() || !pattern.is_ascii() {
            return None;
        }
        let mut p = pattern.as_bytes();
        let start = if let [b'^', rest @ ..] = p {
            p = rest;
            true
        } else {
            false
        };
        // A final `$` anchors unless it is escaped; the parser below
        // refuses a bare `$` anywhere else.
        let end = match p {
            [rest @ .., b'$'] if !ends_with_escape(rest) => {
                p = rest;
                true
            }
            _ => false,
        };
        let mut items = Vec::new();
        let mut choices: u64 = 1;
        let mut i = 0;
        while i < p.len() {
            let item = match p[i] {
                b'(' => {
                    let (alternatives, next) = group(p, i + 1)?;
                    i = next;
                    choices = choices.saturating_mul(alternatives.len() as u64);
                    // A quantified group is left to the regex crate.
                    if p.get(i).is_some_and(|&c| is_quantifier_start(c)) {
                        return None;
                    }
                    items.push(Item::Alternatives(alternatives));
                    continue;
                }
                b'[' => {
                    let (set, next) = class(p, i + 1)?;
                    i = next;
                    set
                }
                b'\\' => {
                    let set = escape(*p.get(i + 1)?)?;
                    i += 2;
                    set
                }
                c if is_plain(c) => {
                    i += 1;
                    bit(c)
                }
                _ => return None,
            };
            let (min, max, next) = quantifier(p, i)?;
            i = next;
            // Single characters in a row are compared as one string.
            if (min, max) == (1, 1) && item.count_ones() == 1 {
                let c = item.trailing_zeros() as u8;
                if let Some(Item::Literal(text)) = items.last_mut() {
                    let mut longer = std::mem::take(text).into_vec();
                    longer.push(c);
                    *text = longer.into_boxed_slice();
                } else {
                    items.push(Item::Literal(Box::new([c])));
                }
                continue;
            }
            choices = choices.saturating_mul(u64::from(max - min) + 1);
            items.push(Item::Class {
                set: std::array::from_fn(|c| item & (1 << c) != 0),
                min,
                max,
            });
        }
        if choices > MAX_CHOICES {
            return None;
        }
        Some(FastMatch {
            start,
            end,
            items: items.into_boxed_slice(),
        })
    }

    /// Whether the pattern matches somewhere in `s` (at its start with `^`,
    /// at its end with `$`); `None` when `s` is not ASCII.
    pub(crate) fn is_match(&self, s: &str) -> Option<bool> {
        if !s.is_ascii() {
            return None;
        }
        let s = s.as_bytes();
        // One class with no anchor: some run of at least `min` characters.
        if let ([Item::Class { set, min, .. }], false, false) = (&*self.items, self.start, self.end)
        {
            let mut run = 0u32;
            if *min == 0 {
                return Some(true);
            }
            for &c in s {
                if in_set(set, c) {
                    run += 1;
                    if run >= *min {
                        return Some(true);
                    }
                } else {
                    run = 0;
                }
            }
            return Some(false);
        }
        if self.start {
            return Some(self.matches_at(&self.items, s, 0));
        }
        Some((0..=s.len()).any(|from| self.matches_at(&self.items, s, from)))
    }

    /// Whether `items` can be laid over `s` from `at` (to its end, with `$`).
    fn matches_at(&self, items: &[Item], s: &[u8], at: usize) -> bool {
        let Some((item, rest)) = items.split_first() else {
            return !self.end || at == s.len();
        };
        match item {
            Item::Literal(text) => {
                starts_with(s, at, text) && self.matches_at(rest, s, at + text.len())
            }
            Item::Class { set, min, max } => {
                let (min, max) = (*min as usize, *max as usize);
                // The longest run of the set from `at`, up to `max`.
                let mut len = 0;
                while len < max && s.get(at + len).is_some_and(|&c| in_set(set, c)) {
                    len += 1;
                }
                (min..=len).rev().any(|n| self.matches_at(rest, s, at + n))
            }
            Item::Alternatives(alternatives) => {
                let Some(&first) = s.get(at) else {
                    return false;
                };
                // The first character rules out most alternatives without
                // a call to compare them.
                alternatives.iter().any(|a| {
                    a.first() == Some(&first)
                        && starts_with(s, at, a)
                        && self.matches_at(rest, s, at + a.len())
                })
            }
        }
    }
}

fn starts_with(s: &[u8], at: usize, text: &[u8]) -> bool {
    s.get(at..).is_some_and(|tail| tail.starts_with(text))
}

fn bit(c: u8) -> u128 {
    1u128 << (c & 0x7F)
}

fn in_set(set: &[bool; 128], c: u8) -> bool {
    set.get(usize::from(c)).copied().unwrap_or(false)
}

/// Characters that stand for themselves outside classes, in XPath and in
/// the `regex` crate's translation alike.
fn is_plain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'/' | b',' | b';' | b'=' | b'@' | b'-')
}

fn is_quantifier_start(c: u8) -> bool {
    matches!(c, b'?' | b'*' | b'+' | b'{')
}

/// Whether `p` ends inside an escape: an odd number of trailing backslashes.
fn ends_with_escape(p: &[u8]) -> bool {
    p.iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 1
}

/// The set of `\c`: an escaped metacharacter, or `\d` (ASCII digits being
/// the only decimal digits of an ASCII string).
fn escape(c: u8) -> Option<u128> {
    match c {
        b'\\' | b'|' | b'.' | b'?' | b'*' | b'+' | b'(' | b')' | b'{' | b'}' | b'-' | b'['
        | b']' | b'^' | b'$' => Some(bit(c)),
        b'd' => Some((b'0'..=b'9').fold(0, |set, d| set | bit(d))),
        _ => None,
    }
}

/// A class body from `i` (after `[`): single characters, ranges of plain
/// characters and escapes; no negation, no subtraction. Returns the set and
/// where the class ends (after `]`).
fn class(p: &[u8], mut i: usize) -> Option<(u128, usize)> {
    let mut set = 0u128;
    loop {
        let c = *p.get(i)?;
        match c {
            b']' if set != 0 => return Some((set, i + 1)),
            b'\\' => {
                set |= escape(*p.get(i + 1)?)?;
                i += 2;
            }
            c if c.is_ascii_alphanumeric() => {
                if p.get(i + 1) == Some(&b'-') {
                    let hi = *p.get(i + 2)?;
                    if !hi.is_ascii_alphanumeric() || hi < c {
                        return None;
                    }
                    set |= (c..=hi).fold(0, |set, x| set | bit(x));
                    i += 3;
                } else {
                    set |= bit(c);
                    i += 1;
                }
            }
            // Other plain characters are themselves in a class too, but
            // `-`, which stands for a range or a subtraction.
            c if is_plain(c) && c != b'-' => {
                set |= bit(c);
                i += 1;
            }
            _ => return None,
        }
    }
}

/// A group of literal alternatives from `i` (after `(`): returns them and
/// where the group ends (after `)`).
#[allow(clippy::type_complexity)]
fn group(p: &[u8], mut i: usize) -> Option<(Box<[Box<[u8]>]>, usize)> {
    let mut alternatives = Vec::new();
    let mut current = Vec::new();
    loop {
        let c = *p.get(i)?;
        match c {
            b'|' | b')' => {
                if current.is_empty() {
                    return None;
                }
                alternatives.push(std::mem::take(&mut current).into_boxed_slice());
                i += 1;
                if c == b')' {
                    return Some((alternatives.into_boxed_slice(), i));
                }
            }
            b'\\' => {
                let e = *p.get(i + 1)?;
                if e == b'd' {
                    return None;
                }
                escape(e)?;
                current.push(e);
                i += 2;
            }
            c if is_plain(c) => {
                current.push(c);
                i += 1;
            }
            _ => return None,
        }
        // A quantified character inside the group is left to the regex crate.
        if p.get(i).is_some_and(|&c| is_quantifier_start(c)) {
            return None;
        }
    }
}

/// A bounded quantifier at `i`, if any: `?`, `{n}` or `{n,m}`, not
/// reluctant. Returns its bounds and where it ends.
fn quantifier(p: &[u8], i: usize) -> Option<(u32, u32, usize)> {
    let (min, max, next) = match p.get(i) {
        Some(b'?') => (0, 1, i + 1),
        Some(b'{') => {
            let close = i + 1 + p.get(i + 1..)?.iter().position(|&c| c == b'}')?;
            let body = std::str::from_utf8(p.get(i + 1..close)?).ok()?;
            let (min, max) = match body.split_once(',') {
                Some((a, b)) => (number(a)?, number(b)?),
                None => {
                    let n = number(body)?;
                    (n, n)
                }
            };
            if max < min {
                return None;
            }
            (min, max, close + 1)
        }
        Some(b'*' | b'+') => return None,
        _ => (1, 1, i),
    };
    if p.get(next).is_some_and(|&c| is_quantifier_start(c)) {
        return None;
    }
    Some((min, max, next))
}

/// A small decimal number, digits only.
fn number(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::FastMatch;

    fn reference(pattern: &str) -> regex::Regex {
        let translated =
            crate::xsd::regex::xpath_to_rust(pattern, "").unwrap_or_else(|e| panic!("{e}"));
        regex::Regex::new(&translated).unwrap_or_else(|e| panic!("{pattern}: {e}"))
    }

    /// A deterministic stream of strings over an alphabet that mixes what
    /// the patterns accept with what they refuse, non-ASCII included.
    fn strings() -> Vec<String> {
        let alphabet: Vec<char> = "AZQ09517az.-_2\u{e0}\u{660}\u{ff10} $\n".chars().collect();
        let mut out = vec![String::new()];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        for len in 0..48 {
            for _ in 0..60 {
                let mut s = String::new();
                for _ in 0..len {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    s.push(alphabet[(state % alphabet.len() as u64) as usize]);
                }
                out.push(s);
            }
        }
        out
    }

    const FAST: &[&str] = &[
        "[A-Z0-9]{16}",
        "^[A-Z0-9]{16}$",
        "^\\d{2,3}\\.6\\.22$",
        "\\d{2,3}\\.6\\.22",
        "^2\\.16\\.840\\.1\\.113883\\.2\\.9\\.2\\.(10|20|30|41|42|50|60|70|80|90|100|110|120|130|140|150|160|170|180|190|200)\\.4\\.2$",
        "^2\\.16\\.(10|20|200|2)\\.4",
        "(1|10|100)0$",
        "A?Z?Q?$",
        "[0-9]{0,3}",
        "[a-zA-Z]{2}[0-9]{1,4}",
        "^$",
        "Q",
        "[A-Z]{0}",
        "[\\d\\.]{3,5}$",
        "^[a-z\\-_]{1,2}9",
    ];

    #[test]
    fn agrees_with_the_regex_crate() {
        let mut inputs = strings();
        inputs.extend(
            [
                "ABCDEFGH12345678",
                "ABCDEFGH1234567",
                "xABCDEFGH12345678y",
                "ABCDEFGH1234567\u{e0}8",
                "2.16.840.1.113883.2.9.2.200.4.2",
                "2.16.840.1.113883.2.9.2.20.4.2",
                "2.16.840.1.113883.2.9.2.21.4.2",
                "2.16.840.1.113883.2.9.2.200.4.2\n",
                "2.16.840.1.113883.2.9.2.200.4.22",
                "2.16.2.4",
                "2.16.200.4.1",
                "100",
                "1000",
                "10000",
                "12.6.22",
                "123.6.22",
                "1234.6.22",
                "\u{661}\u{662}.6.22",
                "a-9",
            ]
            .map(String::from),
        );
        for pattern in FAST {
            let fast = FastMatch::new(pattern, "").unwrap_or_else(|| panic!("{pattern}"));
            let re = reference(pattern);
            for s in &inputs {
                let expected = re.is_match(s);
                match fast.is_match(s) {
                    Some(got) => assert_eq!(got, expected, "{pattern} on {s:?}"),
                    None => assert!(!s.is_ascii(), "{pattern} on {s:?}"),
                }
            }
        }
    }

    #[test]
    fn other_patterns_are_left_to_the_regex_crate() {
        for pattern in [
            "a*",
            "a+",
            "[^a]",
            "[a-z-[aeiou]]",
            "\\s",
            "\\w{2}",
            ".",
            "(a|b)?",
            "(a|b){2}",
            "(a|)",
            "(?:a)",
            "a{2,}",
            "a{3,1}",
            "a{2}?",
            "a??",
            "a|b",
            "a^b",
            "a$b",
            "[\\p{Lu}]",
            "\u{e0}",
            "[a-z]{0,20}[0-9]{0,20}",
        ] {
            assert_eq!(FastMatch::new(pattern, ""), None, "{pattern}");
        }
        assert_eq!(FastMatch::new("[A-Z]", "i"), None);
        // An escaped final `$` is a literal dollar, not an anchor.
        assert!(
            FastMatch::new("a\\$", "").is_some_and(|m| {
                m.is_match("a$") == Some(true) && m.is_match("a") == Some(false)
            })
        );
    }
}
