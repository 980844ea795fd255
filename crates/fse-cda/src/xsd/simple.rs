//! A set's simple types prepared once per process for the checks of
//! values: enumerations packed for lookups, and for each type the
//! shortcut that settles its common valid values in one test.
//!
//! Nearly every value a document holds is a valid `st`, `cs`, `uid`, `ts`
//! or coded enumeration. The general check (whitespace facet, built-in,
//! each facet in turn, union members one by one) is libxml2's order and
//! wording, needed to report; a shortcut only ever answers "valid", and
//! only when the general check would, so the general check still decides
//! (and reports) every value a shortcut does not settle.

use super::Matcher;
use super::lexical;
use super::schema::{Builtin, Facet, Schema, SimpleType, Variety, Whitespace};

/// One simple type, prepared.
#[derive(Debug)]
pub(super) struct Prepared {
    /// Its enumeration packed for lookups.
    pub(super) enumeration: PackedEnumeration,
    /// What settles a valid value at once.
    shortcut: Shortcut,
}

/// What settles a valid value of a type at once.
#[derive(Debug)]
enum Shortcut {
    /// Nothing: the general check decides every value.
    None,
    /// An atomic type (not `xs:ID`, whose check records the value).
    Atomic(Atomic),
    /// A union without facets of its own, whose members are all atomic
    /// shortcuts: a value one of them settles is valid for the union.
    Union(&'static [u16]),
}

/// The checks of an atomic type, on the value as written.
#[derive(Debug)]
struct Atomic {
    /// Whether the type's whitespace facet could change a value: values
    /// with a blank (or another byte up to a space) are then left to the
    /// general check, and the others are their own normalized form.
    blank_free: bool,
    /// The built-in's lexical check; `None` when it accepts anything or
    /// the enumeration settles it.
    builtin: Option<Builtin>,
    /// Bounds on the length in characters; `None` when there are none or
    /// the enumeration settles them.
    length: Option<(u32, u32)>,
    /// Whether the value must be one of the enumeration.
    enumerated: bool,
    /// The pattern facets still to check.
    patterns: Patterns,
}

#[derive(Debug)]
enum Patterns {
    /// None, or the enumeration settles them.
    None,
    /// One level of one pattern: index into the set's matchers.
    One(u16),
    /// Every level of the type, as the general check asks them.
    Levels,
}

impl Prepared {
    /// Prepares every simple type of `schema`.
    pub(super) fn all(schema: &Schema, matchers: &[Matcher]) -> Vec<Prepared> {
        let enumerations: Vec<PackedEnumeration> = schema
            .simple_types
            .iter()
            .map(|st| PackedEnumeration::new(st.enumeration))
            .collect();
        let atomic: Vec<Option<Atomic>> = schema
            .simple_types
            .iter()
            .map(|st| Atomic::new(st, matchers))
            .collect();
        let union = |st: &SimpleType| match st.variety {
            Variety::Union(members)
                if !st.has_facets
                    && members
                        .iter()
                        .all(|&m| atomic.get(usize::from(m)).is_some_and(Option::is_some)) =>
            {
                Shortcut::Union(members)
            }
            _ => Shortcut::None,
        };
        let unions: Vec<Shortcut> = schema.simple_types.iter().map(union).collect();
        let shortcuts = unions
            .into_iter()
            .zip(atomic)
            .map(|(union, atomic)| atomic.map_or(union, Shortcut::Atomic));
        enumerations
            .into_iter()
            .zip(shortcuts)
            .map(|(enumeration, shortcut)| Prepared {
                enumeration,
                shortcut,
            })
            .collect()
    }

    /// Whether `value` is surely valid for type `t` of the set `prepared`
    /// describes; `false` leaves it to the general check.
    #[inline]
    pub(super) fn settles(
        prepared: &[Prepared],
        types: &[SimpleType],
        matchers: &[Matcher],
        t: u16,
        value: &str,
    ) -> bool {
        let (Some(p), Some(st)) = (prepared.get(usize::from(t)), types.get(usize::from(t))) else {
            return false;
        };
        match &p.shortcut {
            Shortcut::None => false,
            Shortcut::Atomic(a) => a.settles(p, st, matchers, value),
            Shortcut::Union(members) => members.iter().any(|&m| {
                let i = usize::from(m);
                match (prepared.get(i), types.get(i)) {
                    (
                        Some(
                            p @ Prepared {
                                shortcut: Shortcut::Atomic(a),
                                ..
                            },
                        ),
                        Some(st),
                    ) => a.settles(p, st, matchers, value),
                    _ => false,
                }
            }),
        }
    }
}

#[cfg(test)]
impl Prepared {
    /// Whether the type has a shortcut at all.
    pub(super) fn has_shortcut(&self) -> bool {
        !matches!(self.shortcut, Shortcut::None)
    }
}

impl Atomic {
    fn new(st: &SimpleType, matchers: &[Matcher]) -> Option<Atomic> {
        let Variety::Atomic(builtin) = st.variety else {
            return None;
        };
        if builtin == Builtin::Id {
            return None;
        }
        let mut length: Option<(u32, u32)> = None;
        for facet in st.facets {
            let (min, max) = length.unwrap_or((0, u32::MAX));
            length = Some(match *facet {
                Facet::Length(n) => (min.max(n), max.min(n)),
                Facet::MinLength(n) => (min.max(n), max),
                Facet::MaxLength(n) => (min, max.min(n)),
                // Ranges are rare (`probability`): the general check.
                _ => return None,
            });
        }
        let blank_free = st.whitespace != Whitespace::Preserve;
        let mut patterns = match st.patterns {
            [] => Patterns::None,
            [[p]] => Patterns::One(*p),
            _ => Patterns::Levels,
        };
        // `[^\s]+` on a value without blanks: only its length is left.
        if let Patterns::One(p) = patterns
            && blank_free
            && matchers
                .get(usize::from(p))
                .is_some_and(|m| matches!(m, Matcher::NoBlank))
        {
            patterns = Patterns::None;
            let (min, max) = length.unwrap_or((0, u32::MAX));
            length = Some((min.max(1), max));
        }
        let builtin = (!matches!(
            builtin,
            Builtin::AnySimpleType | Builtin::String | Builtin::NormalizedString | Builtin::Token
        ))
        .then_some(builtin);
        let enumerated = !st.enumeration.is_empty();
        // A value found in the enumeration is one of its values, as
        // written: when each of those passes the rest, so does the value.
        let settled_by_enumeration = enumerated
            && st.enumeration.iter().all(|e| {
                builtin.is_none_or(|b| lexical::is_valid(b, e))
                    && facets_hold(st, None, matchers, e, None)
            });
        if settled_by_enumeration {
            return Some(Atomic {
                blank_free,
                builtin: None,
                length: None,
                enumerated,
                patterns: Patterns::None,
            });
        }
        Some(Atomic {
            blank_free,
            builtin,
            length,
            enumerated,
            patterns,
        })
    }
}

impl Atomic {
    #[inline]
    fn settles(&self, p: &Prepared, st: &SimpleType, matchers: &[Matcher], value: &str) -> bool {
        if self.blank_free && !lexical::above_space(value) {
            return false;
        }
        if let Some((min, max)) = self.length {
            let ok = if min <= 1 && max == u32::MAX {
                min == 0 || !value.is_empty()
            } else {
                let n = value.chars().count();
                (min as usize..=max as usize).contains(&n)
            };
            if !ok {
                return false;
            }
        }
        if let Some(b) = self.builtin
            && !lexical::is_valid(b, value)
        {
            return false;
        }
        if self.enumerated && !p.enumeration.contains(st, value) {
            return false;
        }
        match self.patterns {
            Patterns::None => true,
            Patterns::One(m) => pattern_matches(matchers, m, value),
            Patterns::Levels => patterns_hold(st, matchers, value),
        }
    }
}

/// Whether `value` passes every facet of `st` (its length and range
/// facets, its enumeration, its patterns), the checks alone; `packed`
/// the type's packed enumeration, when at hand.
pub(super) fn facets_hold(
    st: &SimpleType,
    packed: Option<&PackedEnumeration>,
    matchers: &[Matcher],
    value: &str,
    list_len: Option<usize>,
) -> bool {
    if !st.facets.is_empty() {
        let mut counted: Option<usize> = list_len;
        let mut length = || *counted.get_or_insert_with(|| value.chars().count());
        if st
            .facets
            .iter()
            .any(|facet| facet_fails(facet, value, &mut length))
        {
            return false;
        }
    }
    if !st.enumeration.is_empty() {
        let found = match packed {
            Some(packed) => packed.contains(st, value),
            None => in_enumeration(st, value),
        };
        if !found {
            return false;
        }
    }
    patterns_hold(st, matchers, value)
}

/// Whether `value` fails a length or bound facet; `length` gives its
/// length (characters, or items of a list) and is asked only by length
/// facets. The one definition for the check and for the report.
pub(super) fn facet_fails(facet: &Facet, value: &str, length: &mut impl FnMut() -> usize) -> bool {
    match *facet {
        Facet::Length(n) => length() != n as usize,
        Facet::MinLength(n) => length() < n as usize,
        Facet::MaxLength(n) => length() > n as usize,
        Facet::MinInclusive(x) => compare(value, x).is_some_and(|o| o.is_lt()),
        Facet::MaxInclusive(x) => compare(value, x).is_some_and(|o| o.is_gt()),
        Facet::MinExclusive(x) => compare(value, x).is_some_and(|o| o.is_le()),
        Facet::MaxExclusive(x) => compare(value, x).is_some_and(|o| o.is_ge()),
    }
}

/// Pattern facets: any of a level's may match; every level must.
pub(super) fn patterns_hold(st: &SimpleType, matchers: &[Matcher], value: &str) -> bool {
    st.patterns
        .iter()
        .all(|level| level.iter().any(|&p| pattern_matches(matchers, p, value)))
}

pub(super) fn pattern_matches(matchers: &[Matcher], p: u16, value: &str) -> bool {
    // A pattern we could not compile never rejects (a test proves all
    // of the catalog's compile).
    matchers
        .get(usize::from(p))
        .is_none_or(|m| m.is_match(value))
}

/// Orders two numeric literals; `None` when either is not a number.
pub(super) fn compare(value: &str, bound: &str) -> Option<std::cmp::Ordering> {
    lexical::number(value)?.partial_cmp(&lexical::number(bound)?)
}

/// Whether `value` is in the enumeration of `st`, by string.
pub(super) fn in_enumeration(st: &SimpleType, value: &str) -> bool {
    st.enumeration_sorted
        .binary_search_by(|&i| {
            let e = st
                .enumeration
                .get(usize::from(i))
                .copied()
                .unwrap_or_default();
            e.as_bytes().cmp(value.as_bytes())
        })
        .is_ok()
}

/// A simple type's enumeration as integers in a hash table: the values
/// of HL7's coded types are short, so a lookup hashes and compares a
/// `u128` or two instead of strings at each step of a binary search.
#[derive(Debug, Default)]
pub(super) struct PackedEnumeration {
    /// The values of at most 15 bytes, packed by [`pack`], each in the
    /// first free slot from its hash on (0, the empty string's key,
    /// marks a free slot); a power of two long, at most half full.
    slots: Vec<u128>,
    /// Whether the empty string is a value.
    has_empty: bool,
    /// Whether some value is longer, so only found by string.
    has_long: bool,
}

impl PackedEnumeration {
    pub(super) fn new(values: &[&str]) -> Self {
        let keys: Vec<u128> = values.iter().filter_map(|v| pack(v.as_bytes())).collect();
        let mut packed = PackedEnumeration {
            slots: Vec::new(),
            has_empty: keys.contains(&0),
            has_long: keys.len() < values.len(),
        };
        if keys.iter().any(|&k| k != 0) {
            packed.slots = vec![0; (keys.len() * 2).next_power_of_two()];
            for &key in keys.iter().filter(|&&k| k != 0) {
                if !packed.holds(key) {
                    let at = packed.free_slot(key);
                    if let Some(slot) = packed.slots.get_mut(at) {
                        *slot = key;
                    }
                }
            }
        }
        packed
    }

    /// Whether `value` is in the enumeration of `st`, which this packs.
    pub(super) fn contains(&self, st: &SimpleType, value: &str) -> bool {
        match pack(value.as_bytes()) {
            Some(0) => self.has_empty,
            Some(key) => self.holds(key),
            None => self.has_long && in_enumeration(st, value),
        }
    }

    /// Whether the table holds the (non-zero) key.
    fn holds(&self, key: u128) -> bool {
        let mask = self.slots.len().wrapping_sub(1);
        let mut at = self.home(key);
        // The table is never full, so a free slot ends every probe; the
        // bound only guards an empty table.
        for _ in 0..self.slots.len() {
            match self.slots.get(at & mask) {
                Some(&k) if k == key => return true,
                Some(&0) | None => return false,
                Some(_) => at += 1,
            }
        }
        false
    }

    /// The first free slot from the key's home on.
    fn free_slot(&self, key: u128) -> usize {
        let mask = self.slots.len().wrapping_sub(1);
        let mut at = self.home(key) & mask;
        while self.slots.get(at).is_some_and(|&k| k != 0) {
            at = (at + 1) & mask;
        }
        at
    }

    /// Where the key's probe starts (any bits beyond the table's are
    /// masked off by the caller).
    fn home(&self, key: u128) -> usize {
        let folded = (key as u64) ^ ((key >> 64) as u64).rotate_left(29);
        (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize
    }
}

/// Up to 15 bytes with their length in the last: equal keys, equal
/// strings. `None` for longer strings.
fn pack(s: &[u8]) -> Option<u128> {
    let len = u8::try_from(s.len()).ok().filter(|&n| n < 16)?;
    let mut bytes = [0u8; 16];
    for (d, &b) in bytes.iter_mut().zip(s) {
        *d = b;
    }
    if let Some(last) = bytes.last_mut() {
        *last = len;
    }
    Some(u128::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xsd::SchemaSet;

    #[test]
    fn packed_enumerations_agree_with_the_string_search() {
        for set in SchemaSet::ALL {
            let types = set.schema().simple_types;
            let prepared = set.prepared();
            assert_eq!(prepared.len(), types.len());
            for (st, p) in types.iter().zip(prepared.iter().map(|p| &p.enumeration)) {
                for value in st.enumeration {
                    assert!(p.contains(st, value), "{value:?}");
                    let mut near = vec![
                        format!("{value}x"),
                        format!(" {value}"),
                        format!("{value}\0"),
                        value.to_lowercase(),
                        value.to_uppercase(),
                        format!("{value}{value}{value}{value}{value}{value}"),
                    ];
                    near.extend(value.char_indices().map(|(i, _)| value[..i].to_string()));
                    for v in &near {
                        assert_eq!(p.contains(st, v), in_enumeration(st, v), "{v:?}");
                    }
                }
                for v in ["", "x", "0123456789abcdef", "0123456789abcde"] {
                    assert_eq!(p.contains(st, v), in_enumeration(st, v), "{v:?}");
                }
            }
        }
    }

    #[test]
    fn packing_keeps_lengths_apart() {
        assert_ne!(pack(b"A"), pack(b"A\0"));
        assert_ne!(pack(b""), pack(b"\0"));
        assert_eq!(pack(b"0123456789abcde").map(|k| (k >> 120) as u8), Some(15));
        assert_eq!(pack(b"0123456789abcdef"), None);
        let long = PackedEnumeration::new(&["short", "a value of more than fifteen bytes"]);
        assert!(long.has_long && long.slots.iter().filter(|&&k| k != 0).count() == 1);
        let empty = PackedEnumeration::new(&["", "A"]);
        assert!(empty.has_empty && empty.holds(pack(b"A").unwrap()));
        assert!(!PackedEnumeration::new(&["A"]).has_empty);
        let none = PackedEnumeration::new(&[]);
        assert!(!none.holds(pack(b"A").unwrap()));
    }
}
