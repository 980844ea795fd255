//! XPath 2.0 values: atomic values, sequences, casts and comparisons.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use crate::xml::NodeId;

/// A dynamic error raised while evaluating an expression, with its XPath
/// error code (`FORG0001`, `XPTY0004`, ...).
///
/// One pointer wide, so that every `Result` of the evaluator stays in
/// registers; its fields are read through [`ErrorDetail`] (`e.code`,
/// `e.message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicError(Box<ErrorDetail>);

/// What a [`DynamicError`] holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    /// The W3C error code.
    pub code: &'static str,
    /// What went wrong.
    pub message: String,
}

impl DynamicError {
    // Errors are rare: kept out of line so the callers' hot paths stay small.
    #[cold]
    #[inline(never)]
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        DynamicError(Box::new(ErrorDetail {
            code,
            message: message.into(),
        }))
    }

    pub(crate) fn type_error(message: impl Into<String>) -> Self {
        Self::new("XPTY0004", message)
    }

    /// The W3C error code.
    pub fn code(&self) -> &'static str {
        self.0.code
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl std::ops::Deref for DynamicError {
    type Target = ErrorDetail;

    fn deref(&self) -> &ErrorDetail {
        &self.0
    }
}

impl fmt::Display for DynamicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.code, self.0.message)
    }
}

impl std::error::Error for DynamicError {}

/// Results of evaluation.
pub(crate) type Eval<T> = std::result::Result<T, DynamicError>;

/// An atomic value. Strings borrow from the document or the compiled
/// expression whenever they can.
#[derive(Debug, Clone, PartialEq)]
pub enum Atom<'a> {
    /// `xs:untypedAtomic`: the typed value of a node of an untyped document.
    Untyped(Cow<'a, str>),
    /// `xs:string`.
    Str(Cow<'a, str>),
    /// `xs:integer`.
    Int(i64),
    /// `xs:decimal` (held as a double: the schematrons only compare small
    /// decimals).
    Dec(f64),
    /// `xs:double`.
    Dbl(f64),
    /// `xs:boolean`.
    Bool(bool),
}

impl<'a> Atom<'a> {
    /// Whether it is one of the numeric types.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Atom::Int(_) | Atom::Dec(_) | Atom::Dbl(_))
    }

    /// The numeric value as a double, for a numeric atom.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match *self {
            Atom::Int(i) => Some(i as f64),
            Atom::Dec(d) | Atom::Dbl(d) => Some(d),
            _ => None,
        }
    }

    /// The string value (`xs:string` cast).
    pub fn to_str(&self) -> Cow<'a, str> {
        match self {
            Atom::Untyped(s) | Atom::Str(s) => s.clone(),
            Atom::Int(i) => Cow::Owned(i.to_string()),
            Atom::Dec(d) => Cow::Owned(format_decimal(*d)),
            Atom::Dbl(d) => Cow::Owned(format_double(*d)),
            Atom::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        }
    }

    /// `fn:number`: the double value, NaN when it is not a number.
    pub(crate) fn to_number(&self) -> f64 {
        match self {
            Atom::Untyped(s) | Atom::Str(s) => parse_double(s).unwrap_or(f64::NAN),
            Atom::Int(i) => *i as f64,
            Atom::Dec(d) | Atom::Dbl(d) => *d,
            Atom::Bool(b) => f64::from(u8::from(*b)),
        }
    }

    /// The name of its type, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Atom::Untyped(_) => "xs:untypedAtomic",
            Atom::Str(_) => "xs:string",
            Atom::Int(_) => "xs:integer",
            Atom::Dec(_) => "xs:decimal",
            Atom::Dbl(_) => "xs:double",
            Atom::Bool(_) => "xs:boolean",
        }
    }
}

/// A sequence: the result of an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Nodes only, in document order without duplicates (possibly none:
    /// the empty sequence).
    Nodes(Vec<NodeId>),
    /// A single atomic value.
    Atom(Atom<'a>),
    /// Any other sequence (several atomic values, or atomic values mixed
    /// with nodes), in sequence order.
    Items(Vec<Item<'a>>),
}

/// An item of a [`Value::Items`] sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'a> {
    /// A node.
    Node(NodeId),
    /// An atomic value.
    Atom(Atom<'a>),
}

impl<'a> Value<'a> {
    /// The empty sequence.
    pub const EMPTY: Value<'static> = Value::Nodes(Vec::new());

    /// The number of items.
    pub fn len(&self) -> usize {
        match self {
            Value::Nodes(n) => n.len(),
            Value::Atom(_) => 1,
            Value::Items(i) => i.len(),
        }
    }

    /// Whether it is the empty sequence.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Builds a sequence from items, choosing the compact form.
    pub(crate) fn from_items(mut items: Vec<Item<'a>>) -> Value<'a> {
        if items.len() == 1 {
            if let Some(Item::Atom(a)) = items.pop() {
                return Value::Atom(a);
            }
            // A single node.
            return match items.pop() {
                Some(Item::Node(n)) => Value::Nodes(vec![n]),
                _ => Value::Nodes(Vec::new()),
            };
        }
        let increasing_nodes = items.iter().all(|i| matches!(i, Item::Node(_)))
            && items
                .windows(2)
                .all(|w| matches!(w, [Item::Node(a), Item::Node(b)] if a < b));
        if increasing_nodes {
            return Value::Nodes(
                items
                    .into_iter()
                    .filter_map(|i| match i {
                        Item::Node(n) => Some(n),
                        Item::Atom(_) => None,
                    })
                    .collect(),
            );
        }
        Value::Items(items)
    }

    /// The items, as a vector.
    pub(crate) fn into_items(self) -> Vec<Item<'a>> {
        match self {
            Value::Nodes(n) => n.into_iter().map(Item::Node).collect(),
            Value::Atom(a) => vec![Item::Atom(a)],
            Value::Items(i) => i,
        }
    }
}

/// Parses an `xs:double` lexical form (XML Schema: optional sign, digits
/// with an optional point and exponent, `INF`, `-INF`, `NaN`), after
/// trimming XML whitespace.
pub(crate) fn parse_double(s: &str) -> Option<f64> {
    let t = s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    match t {
        "INF" | "+INF" => return Some(f64::INFINITY),
        "-INF" => return Some(f64::NEG_INFINITY),
        "NaN" => return Some(f64::NAN),
        _ => {}
    }
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let mut digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Formats an `xs:decimal` canonically: no exponent, no trailing zeros,
/// no point for whole numbers.
pub(crate) fn format_decimal(d: f64) -> String {
    if d.is_nan() || d.is_infinite() {
        return format_double(d);
    }
    if d == d.trunc() && d.abs() < 1e18 {
        return format!("{}", d as i64);
    }
    let s = format!("{d}");
    if s.contains('e') || s.contains('E') {
        // Rust prints very small or large values with an exponent; expand.
        return format!("{d:.20}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string();
    }
    s
}

/// Formats an `xs:double` as XPath 2.0 casts it to a string: plain
/// notation for 1e-6 <= |d| < 1e6, scientific (`1.0E6`) otherwise.
pub(crate) fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "INF".into() } else { "-INF".into() };
    }
    if d == 0.0 {
        return if d.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let a = d.abs();
    if (1e-6..1e6).contains(&a) {
        return format_decimal(d);
    }
    // Shortest round-trip digits, then mantissa with at least one decimal.
    let s = format!("{d:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_string()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exp}")
}

/// The comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub(crate) fn flip(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }

    pub(crate) fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::Ne => ord != Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Le => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Ge => ord != Ordering::Less,
        }
    }

    fn numeric(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }
}

/// Casts an untyped value for comparison with a numeric: `xs:double`, or
/// `FORG0001` when it is not a number.
fn untyped_to_double(s: &str) -> Eval<f64> {
    parse_double(s)
        .ok_or_else(|| DynamicError::new("FORG0001", format!("cannot cast {s:?} to xs:double")))
}

fn untyped_to_bool(s: &str) -> Eval<bool> {
    match s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r')) {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(DynamicError::new(
            "FORG0001",
            format!("cannot cast {s:?} to xs:boolean"),
        )),
    }
}

fn compare_numbers(op: CmpOp, a: &Atom<'_>, b: &Atom<'_>) -> bool {
    match (a, b) {
        (Atom::Int(x), Atom::Int(y)) => op.holds(x.cmp(y)),
        _ => op.numeric(
            a.as_f64().unwrap_or(f64::NAN),
            b.as_f64().unwrap_or(f64::NAN),
        ),
    }
}

/// One pair of a general comparison (`=`, `<`, ...): untyped operands are
/// cast to the other operand's type (to `xs:string` when both are untyped,
/// to `xs:double` against a number), then compared as a value comparison.
pub(crate) fn general_pair(op: CmpOp, a: &Atom<'_>, b: &Atom<'_>) -> Eval<bool> {
    match (a, b) {
        (Atom::Untyped(x), Atom::Untyped(y))
        | (Atom::Untyped(x), Atom::Str(y))
        | (Atom::Str(x), Atom::Untyped(y))
        | (Atom::Str(x), Atom::Str(y)) => Ok(op.holds(x.as_ref().cmp(y.as_ref()))),
        (Atom::Untyped(x), n) if n.is_numeric() => {
            Ok(op.numeric(untyped_to_double(x)?, n.as_f64().unwrap_or(f64::NAN)))
        }
        (n, Atom::Untyped(y)) if n.is_numeric() => {
            Ok(op.numeric(n.as_f64().unwrap_or(f64::NAN), untyped_to_double(y)?))
        }
        (Atom::Untyped(x), Atom::Bool(y)) => Ok(op.holds(untyped_to_bool(x)?.cmp(y))),
        (Atom::Bool(x), Atom::Untyped(y)) => Ok(op.holds(x.cmp(&untyped_to_bool(y)?))),
        _ => value_pair(op, a, b),
    }
}

/// A value comparison (`eq`, `lt`, ...) of two atoms; untyped operands
/// count as strings.
pub(crate) fn value_pair(op: CmpOp, a: &Atom<'_>, b: &Atom<'_>) -> Eval<bool> {
    match (a, b) {
        (Atom::Untyped(x) | Atom::Str(x), Atom::Untyped(y) | Atom::Str(y)) => {
            Ok(op.holds(x.as_ref().cmp(y.as_ref())))
        }
        (x, y) if x.is_numeric() && y.is_numeric() => Ok(compare_numbers(op, x, y)),
        (Atom::Bool(x), Atom::Bool(y)) => Ok(op.holds(x.cmp(y))),
        _ => Err(DynamicError::type_error(format!(
            "cannot compare {} with {}",
            a.type_name(),
            b.type_name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_format_like_xpath_2() {
        assert_eq!(format_double(1.0), "1");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(f64::NAN), "NaN");
        assert_eq!(format_double(1e6), "1.0E6");
        assert_eq!(format_double(1.25e-7), "1.25E-7");
        assert_eq!(format_double(-0.0), "-0");
        assert_eq!(format_double(f64::NEG_INFINITY), "-INF");
        assert_eq!(format_decimal(0.000_001_5), "0.0000015");
    }

    #[test]
    fn double_lexical_forms() {
        assert_eq!(parse_double(" 12 "), Some(12.0));
        assert_eq!(parse_double("-1.5e2"), Some(-150.0));
        assert_eq!(parse_double(".5"), Some(0.5));
        assert_eq!(parse_double("INF"), Some(f64::INFINITY));
        assert!(parse_double("NaN").is_some_and(f64::is_nan));
        for bad in [
            "",
            "abc",
            "1e",
            "inf",
            "infinity",
            "nan",
            "1,5",
            "20220425121122+0100",
            "0x10",
        ] {
            assert_eq!(parse_double(bad), None, "{bad}");
        }
    }

    #[test]
    fn general_comparison_typing() {
        let u = |s: &'static str| Atom::Untyped(Cow::Borrowed(s));
        let s = |s: &'static str| Atom::Str(Cow::Borrowed(s));
        // Untyped vs untyped and vs string compare as strings.
        assert!(
            general_pair(
                CmpOp::Ge,
                &u("20220425121122+0100"),
                &u("20220425101122+0100")
            )
            .unwrap()
        );
        assert!(general_pair(CmpOp::Lt, &u("10"), &s("9")).unwrap());
        // Untyped vs number casts to double; a bad number is an error.
        assert!(general_pair(CmpOp::Gt, &u("10"), &Atom::Int(9)).unwrap());
        assert_eq!(
            general_pair(CmpOp::Eq, &u("abc"), &Atom::Int(1))
                .unwrap_err()
                .code,
            "FORG0001"
        );
        // String vs number is a type error.
        assert_eq!(
            general_pair(CmpOp::Eq, &s("1"), &Atom::Int(1))
                .unwrap_err()
                .code,
            "XPTY0004"
        );
        assert!(general_pair(CmpOp::Eq, &Atom::Int(1), &Atom::Dbl(1.0)).unwrap());
        assert!(!general_pair(CmpOp::Eq, &Atom::Dbl(f64::NAN), &Atom::Dbl(f64::NAN)).unwrap());
        assert!(general_pair(CmpOp::Ne, &Atom::Dbl(f64::NAN), &Atom::Dbl(f64::NAN)).unwrap());
        assert!(general_pair(CmpOp::Eq, &u("true"), &Atom::Bool(true)).unwrap());
    }
}
