//! Lexer and recursive-descent parser for the XPath 2.0 grammar, producing
//! the compiled form of [`ast`](super::ast) directly: prefixes resolved,
//! variables bound to slots, names interned, literal regexes compiled.

use std::sync::Arc;

use super::Namespaces;
use super::ast::{
    ArithOp, Axis, CompiledRegex, Expr, Func, NameTable, NodeCmp, NodeTest, Path, Pred, SetOp,
    Start, Step,
};
use super::value::CmpOp;
use crate::error::{Error, Result};
use crate::xsd::regex::xpath_to_rust;

/// The deepest nesting of parentheses, predicates and calls accepted, so a
/// hostile expression cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// The most steps in a path: streaming a path recurses once per step.
/// Operator chains are flat, so only this and [`MAX_DEPTH`] bound how deep
/// evaluation recurses.
const MAX_STEPS: usize = 64;

/// What the parser needs from its surroundings.
pub(crate) struct StaticContext<'c> {
    /// Prefix bindings.
    pub(crate) namespaces: &'c Namespaces,
    /// The slot of a variable name in scope.
    pub(crate) variables: &'c dyn Fn(&str) -> Option<u32>,
    /// Where element and attribute names are interned.
    pub(crate) names: &'c mut NameTable,
}

/// Compiles `src` in `cx`.
pub(crate) fn compile(src: &str, cx: &mut StaticContext<'_>) -> Result<Expr> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        i: 0,
        cx,
        depth: 0,
    };
    let e = p.expr()?;
    if !matches!(p.peek(), Tok::Eof) {
        return Err(p.err("unexpected token after the end of the expression"));
    }
    Ok(e)
}

/// Compiles an XSLT match pattern (a schematron rule context) into the
/// expression selecting every node it matches: a node matches `P` when it
/// is in `root()//(P)`, so relative paths get a leading `//`.
pub(crate) fn compile_pattern(src: &str, cx: &mut StaticContext<'_>) -> Result<Expr> {
    let expr = compile(src, cx)?;
    anchor_pattern(expr).map_err(|message| xpath_error(src, 0, message))
}

fn anchor_pattern(expr: Expr) -> std::result::Result<Expr, String> {
    match expr {
        Expr::Set(first, rest) if rest.iter().all(|(op, _)| *op == SetOp::Union) => {
            let first = anchor_pattern(*first)?;
            let rest = rest
                .into_iter()
                .map(|(op, e)| anchor_pattern(e).map(|e| (op, e)))
                .collect::<std::result::Result<Vec<_>, String>>()?;
            Ok(Expr::Set(Box::new(first), rest))
        }
        Expr::Path(p) => {
            let Path { start, steps, .. } = *p;
            match start {
                Start::Root => Ok(Expr::Path(Box::new(finish_path(Start::Root, steps)))),
                Start::Context => {
                    let mut anchored = vec![Step::Axis {
                        axis: Axis::DescendantOrSelf,
                        test: NodeTest::Node,
                        preds: vec![],
                    }];
                    anchored.extend(steps);
                    Ok(Expr::Path(Box::new(finish_path(Start::Root, anchored))))
                }
                Start::Expr(_) => Err("a pattern must be a path".into()),
            }
        }
        _ => Err("a pattern must be a path or a union of paths".into()),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'s> {
    /// A QName (`prefix:local` or `local`).
    Name(Option<&'s str>, &'s str),
    /// `prefix:*`.
    NsWild(&'s str),
    /// `*:local`.
    LocalWild(&'s str),
    Star,
    Str(String),
    Int(i64),
    Dec(f64),
    Dbl(f64),
    Var(Option<&'s str>, &'s str),
    Sym(&'static str),
    Eof,
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_name_char(c: char) -> bool {
    c == '_' || c == '-' || c == '.' || c.is_alphanumeric() || c == '\u{B7}'
}

fn xpath_error(src: &str, offset: usize, message: impl Into<String>) -> Error {
    Error::XPath {
        expr: src.to_string(),
        offset: src[..offset.min(src.len())].chars().count(),
        message: message.into(),
    }
}

fn lex(src: &str) -> Result<Vec<(Tok<'_>, usize)>> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let name_at = |i: usize| -> usize {
        // Returns the end of an NCName starting at i (i itself when none).
        let mut chars = src[i..].char_indices();
        match chars.next() {
            Some((_, c)) if is_name_start(c) => {}
            _ => return i,
        }
        for (off, c) in chars {
            if !is_name_char(c) {
                return i + off;
            }
        }
        src.len()
    };
    while i < bytes.len() {
        let c = bytes[i];
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
            continue;
        }
        let start = i;
        // Comments (: … :), possibly nested.
        if src[i..].starts_with("(:") {
            let mut depth = 0usize;
            loop {
                if src[i..].starts_with("(:") {
                    depth += 1;
                    i += 2;
                } else if src[i..].starts_with(":)") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else if i >= bytes.len() {
                    return Err(xpath_error(src, start, "unterminated comment"));
                } else {
                    i += src[i..].chars().next().map_or(1, char::len_utf8);
                }
            }
            continue;
        }
        let tok = match c {
            b'\'' | b'"' => {
                let quote = c as char;
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(ch) = src[i..].chars().next() else {
                        return Err(xpath_error(src, start, "unterminated string literal"));
                    };
                    i += ch.len_utf8();
                    if ch == quote {
                        if src[i..].starts_with(quote) {
                            s.push(quote);
                            i += 1;
                        } else {
                            break;
                        }
                    } else {
                        s.push(ch);
                    }
                }
                Tok::Str(s)
            }
            b'0'..=b'9' => lex_number(src, &mut i)?,
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => lex_number(src, &mut i)?,
            b'.' if bytes.get(i + 1) == Some(&b'.') => {
                i += 2;
                Tok::Sym("..")
            }
            b'.' => {
                i += 1;
                Tok::Sym(".")
            }
            b'$' => {
                i += 1;
                while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
                    i += 1;
                }
                let end = name_at(i);
                if end == i {
                    return Err(xpath_error(src, start, "expected a variable name after $"));
                }
                let first = &src[i..end];
                i = end;
                if bytes.get(i) == Some(&b':') && name_at(i + 1) > i + 1 {
                    let end2 = name_at(i + 1);
                    let local = &src[i + 1..end2];
                    i = end2;
                    Tok::Var(Some(first), local)
                } else {
                    Tok::Var(None, first)
                }
            }
            b'*' => {
                if bytes.get(i + 1) == Some(&b':') && name_at(i + 2) > i + 2 {
                    let end = name_at(i + 2);
                    let local = &src[i + 2..end];
                    i = end;
                    Tok::LocalWild(local)
                } else {
                    i += 1;
                    Tok::Star
                }
            }
            _ => {
                let end = name_at(i);
                if end > i {
                    let first = &src[i..end];
                    i = end;
                    if bytes.get(i) == Some(&b':') && bytes.get(i + 1) != Some(&b':') {
                        if bytes.get(i + 1) == Some(&b'*') {
                            i += 2;
                            Tok::NsWild(first)
                        } else if name_at(i + 1) > i + 1 {
                            let end2 = name_at(i + 1);
                            let local = &src[i + 1..end2];
                            i = end2;
                            Tok::Name(Some(first), local)
                        } else {
                            return Err(xpath_error(src, i, "expected a local name after ':'"));
                        }
                    } else {
                        Tok::Name(None, first)
                    }
                } else {
                    const SYMS: [&str; 21] = [
                        "//", "::", "!=", "<=", ">=", "<<", ">>", "/", "[", "]", "(", ")", "@",
                        ",", "|", "=", "<", ">", "+", "-", "?",
                    ];
                    let Some(sym) = SYMS.iter().find(|s| src[i..].starts_with(**s)) else {
                        let ch = src[i..].chars().next().unwrap_or('?');
                        return Err(xpath_error(src, i, format!("unexpected character {ch:?}")));
                    };
                    i += sym.len();
                    Tok::Sym(sym)
                }
            }
        };
        out.push((tok, start));
    }
    out.push((Tok::Eof, src.len()));
    Ok(out)
}

fn lex_number<'s>(src: &'s str, i: &mut usize) -> Result<Tok<'s>> {
    let bytes = src.as_bytes();
    let start = *i;
    while *i < bytes.len() && bytes[*i].is_ascii_digit() {
        *i += 1;
    }
    let mut decimal = false;
    if *i < bytes.len() && bytes[*i] == b'.' && bytes.get(*i + 1) != Some(&b'.') {
        decimal = true;
        *i += 1;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
    }
    let mut double = false;
    if *i < bytes.len() && (bytes[*i] == b'e' || bytes[*i] == b'E') {
        let save = *i;
        *i += 1;
        if *i < bytes.len() && (bytes[*i] == b'+' || bytes[*i] == b'-') {
            *i += 1;
        }
        let digits = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i == digits {
            *i = save;
        } else {
            double = true;
        }
    }
    let text = &src[start..*i];
    if *i < bytes.len() && is_name_start(src[*i..].chars().next().unwrap_or(' ')) {
        return Err(xpath_error(
            src,
            *i,
            "a number must not be followed by a name",
        ));
    }
    let bad = || xpath_error(src, start, format!("malformed number {text:?}"));
    Ok(if double {
        Tok::Dbl(text.parse().map_err(|_| bad())?)
    } else if decimal {
        Tok::Dec(text.parse().map_err(|_| bad())?)
    } else {
        match text.parse::<i64>() {
            Ok(n) => Tok::Int(n),
            Err(_) => Tok::Dec(text.parse().map_err(|_| bad())?),
        }
    })
}

struct Parser<'s, 'c, 'x> {
    src: &'s str,
    toks: Vec<(Tok<'s>, usize)>,
    i: usize,
    cx: &'x mut StaticContext<'c>,
    depth: usize,
}

const KIND_TESTS: [&str; 9] = [
    "node",
    "text",
    "comment",
    "processing-instruction",
    "document-node",
    "element",
    "attribute",
    "schema-element",
    "schema-attribute",
];

impl<'s> Parser<'s, '_, '_> {
    fn peek(&self) -> &Tok<'s> {
        &self.toks[self.i.min(self.toks.len() - 1)].0
    }

    fn peek_at(&self, k: usize) -> &Tok<'s> {
        &self.toks[(self.i + k).min(self.toks.len() - 1)].0
    }

    fn offset(&self) -> usize {
        self.toks[self.i.min(self.toks.len() - 1)].1
    }

    fn advance(&mut self) -> Tok<'s> {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn err(&self, message: impl Into<String>) -> Error {
        xpath_error(self.src, self.offset(), message)
    }

    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Sym(x) if *x == s)
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Name(None, x) if *x == kw)
    }

    fn expect_sym(&mut self, s: &str) -> Result<()> {
        if self.is_sym(s) {
            self.advance();
            Ok(())
        } else {
            Err(self.err(format!("expected '{s}'")))
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!("expression nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn expr(&mut self) -> Result<Expr> {
        self.enter()?;
        let first = self.expr_single()?;
        let result = if self.is_sym(",") {
            let mut items = vec![first];
            while self.is_sym(",") {
                self.advance();
                items.push(self.expr_single()?);
            }
            Expr::Seq(items)
        } else {
            first
        };
        self.leave();
        Ok(result)
    }

    fn expr_single(&mut self) -> Result<Expr> {
        if self.is_keyword("if") && matches!(self.peek_at(1), Tok::Sym("(")) {
            self.advance();
            self.advance();
            let cond = self.expr()?;
            self.expect_sym(")")?;
            if !self.is_keyword("then") {
                return Err(self.err("expected 'then'"));
            }
            self.advance();
            let then = self.expr_single()?;
            if !self.is_keyword("else") {
                return Err(self.err("expected 'else'"));
            }
            self.advance();
            let otherwise = self.expr_single()?;
            return Ok(Expr::If(
                Box::new(cond),
                Box::new(then),
                Box::new(otherwise),
            ));
        }
        for kw in ["for", "some", "every"] {
            if self.is_keyword(kw) && matches!(self.peek_at(1), Tok::Var(..)) {
                return Err(self.err(format!("'{kw}' expressions are not supported")));
            }
        }
        self.or_expr()
    }

    fn or_expr(&mut self) -> Result<Expr> {
        let first = self.and_expr()?;
        if !self.is_keyword("or") {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.is_keyword("or") {
            self.advance();
            operands.push(self.and_expr()?);
        }
        Ok(Expr::Or(operands))
    }

    fn and_expr(&mut self) -> Result<Expr> {
        let first = self.comparison()?;
        if !self.is_keyword("and") {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.is_keyword("and") {
            self.advance();
            operands.push(self.comparison()?);
        }
        Ok(Expr::And(operands))
    }

    fn comparison(&mut self) -> Result<Expr> {
        let lhs = self.range()?;
        enum K {
            G(CmpOp),
            V(CmpOp),
            N(NodeCmp),
        }
        let k = match self.peek() {
            Tok::Sym("=") => K::G(CmpOp::Eq),
            Tok::Sym("!=") => K::G(CmpOp::Ne),
            Tok::Sym("<") => K::G(CmpOp::Lt),
            Tok::Sym("<=") => K::G(CmpOp::Le),
            Tok::Sym(">") => K::G(CmpOp::Gt),
            Tok::Sym(">=") => K::G(CmpOp::Ge),
            Tok::Sym("<<") => K::N(NodeCmp::Precedes),
            Tok::Sym(">>") => K::N(NodeCmp::Follows),
            Tok::Name(None, "eq") => K::V(CmpOp::Eq),
            Tok::Name(None, "ne") => K::V(CmpOp::Ne),
            Tok::Name(None, "lt") => K::V(CmpOp::Lt),
            Tok::Name(None, "le") => K::V(CmpOp::Le),
            Tok::Name(None, "gt") => K::V(CmpOp::Gt),
            Tok::Name(None, "ge") => K::V(CmpOp::Ge),
            Tok::Name(None, "is") => K::N(NodeCmp::Is),
            _ => return Ok(lhs),
        };
        self.advance();
        let rhs = Box::new(self.range()?);
        let lhs = Box::new(lhs);
        Ok(match k {
            K::G(op) => specialize_general(op, *lhs, *rhs),
            K::V(op) => Expr::ValueCmp(op, lhs, rhs),
            K::N(op) => Expr::NodeCmp(op, lhs, rhs),
        })
    }

    fn range(&mut self) -> Result<Expr> {
        let lhs = self.additive()?;
        if self.is_keyword("to") {
            self.advance();
            let rhs = self.additive()?;
            return Ok(Expr::Range(Box::new(lhs), Box::new(rhs)));
        }
        Ok(lhs)
    }

    fn additive(&mut self) -> Result<Expr> {
        let first = self.multiplicative()?;
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Sym("+") => ArithOp::Add,
                Tok::Sym("-") => ArithOp::Sub,
                _ => break,
            };
            self.advance();
            rest.push((op, self.multiplicative()?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Expr::Arith(Box::new(first), rest)
        })
    }

    fn multiplicative(&mut self) -> Result<Expr> {
        let first = self.union()?;
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Star => ArithOp::Mul,
                Tok::Name(None, "div") => ArithOp::Div,
                Tok::Name(None, "idiv") => ArithOp::IDiv,
                Tok::Name(None, "mod") => ArithOp::Mod,
                _ => break,
            };
            self.advance();
            rest.push((op, self.union()?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Expr::Arith(Box::new(first), rest)
        })
    }

    fn union(&mut self) -> Result<Expr> {
        let first = self.intersect()?;
        let mut rest = Vec::new();
        while self.is_sym("|") || self.is_keyword("union") {
            self.advance();
            rest.push((SetOp::Union, self.intersect()?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Expr::Set(Box::new(first), rest)
        })
    }

    fn intersect(&mut self) -> Result<Expr> {
        let first = self.unary()?;
        let mut rest = Vec::new();
        loop {
            let op = if self.is_keyword("intersect") {
                SetOp::Intersect
            } else if self.is_keyword("except") {
                SetOp::Except
            } else {
                break;
            };
            self.advance();
            rest.push((op, self.unary()?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Expr::Set(Box::new(first), rest)
        })
    }

    fn unary(&mut self) -> Result<Expr> {
        let mut negate = false;
        let mut signed = false;
        loop {
            if self.is_sym("-") {
                negate = !negate;
                signed = true;
            } else if self.is_sym("+") {
                signed = true;
            } else {
                break;
            }
            self.advance();
        }
        let e = self.path()?;
        for kw in ["instance", "treat", "castable", "cast"] {
            if self.is_keyword(kw) {
                return Err(self.err(format!("'{kw}' expressions are not supported")));
            }
        }
        Ok(match (signed, negate) {
            (false, _) => e,
            (true, true) => Expr::Neg(Box::new(e)),
            // Unary plus still atomizes and requires a number.
            (true, false) => Expr::Arith(Box::new(Expr::Int(0)), vec![(ArithOp::Add, e)]),
        })
    }

    fn starts_step(&self) -> bool {
        match self.peek() {
            Tok::Name(..) | Tok::NsWild(_) | Tok::LocalWild(_) | Tok::Star => true,
            Tok::Str(_) | Tok::Int(_) | Tok::Dec(_) | Tok::Dbl(_) | Tok::Var(..) => true,
            Tok::Sym(s) => matches!(*s, "@" | "." | ".." | "("),
            Tok::Eof => false,
        }
    }

    fn path(&mut self) -> Result<Expr> {
        let descendant_or_self = || Step::Axis {
            axis: Axis::DescendantOrSelf,
            test: NodeTest::Node,
            preds: vec![],
        };
        let (start, mut steps) = if self.is_sym("/") {
            self.advance();
            if !self.starts_step() {
                return Ok(Expr::Path(Box::new(Path {
                    start: Start::Root,
                    steps: vec![],
                    streamable: true,
                    base: None,
                })));
            }
            (Start::Root, vec![self.step()?.into_step()])
        } else if self.is_sym("//") {
            self.advance();
            (
                Start::Root,
                vec![descendant_or_self(), self.step()?.into_step()],
            )
        } else {
            match self.step()? {
                Parsed::Step(s) => (Start::Context, vec![s]),
                Parsed::Primary(e, preds) => {
                    if !self.is_sym("/") && !self.is_sym("//") {
                        return Ok(if preds.is_empty() {
                            e
                        } else {
                            Expr::Filter(Box::new(e), preds)
                        });
                    }
                    match (e, preds.is_empty()) {
                        (Expr::ContextItem, true) => (Start::Context, vec![]),
                        (e, true) => (Start::Expr(e), vec![]),
                        (e, false) => (Start::Expr(Expr::Filter(Box::new(e), preds)), vec![]),
                    }
                }
            }
        };
        loop {
            if self.is_sym("/") {
                self.advance();
            } else if self.is_sym("//") {
                self.advance();
                steps.push(descendant_or_self());
            } else {
                break;
            }
            steps.push(self.step()?.into_step());
            if steps.len() > MAX_STEPS {
                return Err(self.err(format!("a path of more than {MAX_STEPS} steps")));
            }
        }
        let mut path = finish_path(start, steps);
        if let Some(key) = base_key(&path) {
            path.base = Some(self.cx.names.base_for(&key));
        }
        Ok(Expr::Path(Box::new(path)))
    }

    fn step(&mut self) -> Result<Parsed> {
        let parsed = match self.peek().clone() {
            Tok::Sym(".") => {
                self.advance();
                Parsed::Primary(Expr::ContextItem, vec![])
            }
            Tok::Sym("..") => {
                self.advance();
                Parsed::Step(Step::Axis {
                    axis: Axis::Parent,
                    test: NodeTest::Node,
                    preds: vec![],
                })
            }
            Tok::Sym("@") => {
                self.advance();
                let test = self.node_test(Axis::Attribute)?;
                Parsed::Step(Step::Axis {
                    axis: Axis::Attribute,
                    test,
                    preds: vec![],
                })
            }
            Tok::Name(None, name) if matches!(self.peek_at(1), Tok::Sym("::")) => {
                let axis = match name {
                    "child" => Axis::Child,
                    "descendant" => Axis::Descendant,
                    "descendant-or-self" => Axis::DescendantOrSelf,
                    "attribute" => Axis::Attribute,
                    "self" => Axis::SelfNode,
                    "parent" => Axis::Parent,
                    "ancestor" => Axis::Ancestor,
                    "ancestor-or-self" => Axis::AncestorOrSelf,
                    "following-sibling" => Axis::FollowingSibling,
                    "preceding-sibling" => Axis::PrecedingSibling,
                    "following" => Axis::Following,
                    "preceding" => Axis::Preceding,
                    other => return Err(self.err(format!("the {other} axis is not supported"))),
                };
                self.advance();
                self.advance();
                let test = self.node_test(axis)?;
                Parsed::Step(Step::Axis {
                    axis,
                    test,
                    preds: vec![],
                })
            }
            Tok::Name(prefix, local) if matches!(self.peek_at(1), Tok::Sym("(")) => {
                if prefix.is_none() && KIND_TESTS.contains(&local) {
                    let axis = if local == "attribute" {
                        Axis::Attribute
                    } else {
                        Axis::Child
                    };
                    let test = self.node_test(axis)?;
                    Parsed::Step(Step::Axis {
                        axis,
                        test,
                        preds: vec![],
                    })
                } else {
                    Parsed::Primary(self.call(prefix, local)?, vec![])
                }
            }
            Tok::Name(..) | Tok::NsWild(_) | Tok::LocalWild(_) | Tok::Star => {
                let test = self.node_test(Axis::Child)?;
                Parsed::Step(Step::Axis {
                    axis: Axis::Child,
                    test,
                    preds: vec![],
                })
            }
            Tok::Str(s) => {
                self.advance();
                Parsed::Primary(Expr::Str(s.into()), vec![])
            }
            Tok::Int(n) => {
                self.advance();
                Parsed::Primary(Expr::Int(n), vec![])
            }
            Tok::Dec(n) => {
                self.advance();
                Parsed::Primary(Expr::Dec(n), vec![])
            }
            Tok::Dbl(n) => {
                self.advance();
                Parsed::Primary(Expr::Dbl(n), vec![])
            }
            Tok::Var(prefix, local) => {
                if prefix.is_some() {
                    return Err(self.err("prefixed variable names are not supported"));
                }
                let Some(slot) = (self.cx.variables)(local) else {
                    return Err(self.err(format!("variable ${local} is not declared")));
                };
                self.advance();
                Parsed::Primary(Expr::Var(slot), vec![])
            }
            Tok::Sym("(") => {
                self.advance();
                self.enter()?;
                let e = if self.is_sym(")") {
                    Expr::Seq(vec![])
                } else {
                    self.expr()?
                };
                self.leave();
                self.expect_sym(")")?;
                Parsed::Primary(e, vec![])
            }
            Tok::Eof => return Err(self.err("unexpected end of the expression")),
            _ => return Err(self.err("expected an expression")),
        };
        let mut preds = Vec::new();
        while self.is_sym("[") {
            self.advance();
            let from = self.offset();
            self.enter()?;
            let e = self.expr()?;
            self.leave();
            let to = self.offset();
            self.expect_sym("]")?;
            let source = self.src.get(from..to).unwrap_or("");
            let memo = local_name_only(&e).then(|| self.cx.names.memo_for(source));
            let node_memo = node_only_path(&e).map(|key| self.cx.names.node_pred_for(&key));
            let mut pred = make_pred(e);
            pred.memo = memo;
            pred.node_memo = node_memo;
            preds.push(pred);
        }
        Ok(match parsed {
            Parsed::Step(Step::Axis { axis, test, .. }) => {
                Parsed::Step(Step::Axis { axis, test, preds })
            }
            Parsed::Step(s) => Parsed::Step(s),
            Parsed::Primary(e, _) => Parsed::Primary(e, preds),
        })
    }

    fn resolve_prefix(&self, prefix: &str) -> Result<String> {
        self.cx
            .namespaces
            .uri(prefix)
            .map(str::to_string)
            .ok_or_else(|| self.err(format!("namespace prefix {prefix:?} is not declared")))
    }

    fn node_test(&mut self, axis: Axis) -> Result<NodeTest> {
        let tok = self.advance();
        Ok(match tok {
            Tok::Star => NodeTest::Any,
            Tok::NsWild(prefix) => {
                let ns = self.resolve_prefix(prefix)?;
                NodeTest::NsWildcard(self.cx.names.intern(&ns, ""))
            }
            Tok::LocalWild(local) => NodeTest::LocalWildcard(self.cx.names.intern("", local)),
            Tok::Name(prefix, local)
                if matches!(self.peek(), Tok::Sym("(")) && prefix.is_none() =>
            {
                self.advance();
                let test = match local {
                    "node" => NodeTest::Node,
                    "text" => NodeTest::Text,
                    "comment" => NodeTest::Comment,
                    "document-node" => NodeTest::Document,
                    "processing-instruction" => {
                        let target = match self.peek().clone() {
                            Tok::Str(s) => {
                                self.advance();
                                Some(s.into_boxed_str())
                            }
                            Tok::Name(None, n) => {
                                self.advance();
                                Some(n.into())
                            }
                            _ => None,
                        };
                        NodeTest::Pi(target)
                    }
                    "element" | "attribute" => {
                        let name = match self.peek().clone() {
                            Tok::Name(p, l) => {
                                self.advance();
                                let attr = local == "attribute";
                                Some(self.qname(p, l, attr)?)
                            }
                            Tok::Star => {
                                self.advance();
                                None
                            }
                            _ => None,
                        };
                        if local == "element" {
                            NodeTest::Element(name)
                        } else {
                            NodeTest::Attribute(name)
                        }
                    }
                    other => return Err(self.err(format!("the {other}() test is not supported"))),
                };
                self.expect_sym(")")?;
                test
            }
            Tok::Name(prefix, local) => {
                NodeTest::Name(self.qname(prefix, local, axis == Axis::Attribute)?)
            }
            _ => return Err(self.err("expected a name test")),
        })
    }

    /// Interns a QName of an element (unprefixed: no namespace, as
    /// schematron sets no default element namespace) or attribute.
    fn qname(&mut self, prefix: Option<&str>, local: &str, _attribute: bool) -> Result<u32> {
        let ns = match prefix {
            None => String::new(),
            Some(p) => self.resolve_prefix(p)?,
        };
        Ok(self.cx.names.intern(&ns, local))
    }

    fn call(&mut self, prefix: Option<&str>, local: &str) -> Result<Expr> {
        let fn_ns = match prefix {
            None => true,
            Some(p) => self.cx.namespaces.uri(p) == Some(super::FN_NS),
        };
        let name = match prefix {
            Some(p) => format!("{p}:{local}"),
            None => local.to_string(),
        };
        let found = if fn_ns { Func::lookup(local) } else { None };
        let Some((func, min, max)) = found else {
            return Err(self.err(format!("function {name}() is not supported")));
        };
        self.advance(); // name
        self.advance(); // (
        self.enter()?;
        let mut args = Vec::new();
        if !self.is_sym(")") {
            loop {
                args.push(self.expr_single()?);
                if self.is_sym(",") {
                    self.advance();
                } else {
                    break;
                }
            }
        }
        self.leave();
        self.expect_sym(")")?;
        if args.len() < min || args.len() > max {
            return Err(self.err(format!("{name}() called with {} arguments", args.len())));
        }
        let regex = match func {
            Func::Matches | Func::Replace | Func::Tokenize => {
                let flags_at = if func == Func::Replace { 3 } else { 2 };
                match (args.get(1), args.get(flags_at)) {
                    (Some(Expr::Str(pattern)), None) => Some(self.regex(pattern, "")?),
                    (Some(Expr::Str(pattern)), Some(Expr::Str(flags))) => {
                        Some(self.regex(pattern, flags)?)
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        Ok(Expr::Call(func, args, regex))
    }

    fn regex(&self, pattern: &str, flags: &str) -> Result<CompiledRegex> {
        let translated = xpath_to_rust(pattern, flags).map_err(|e| self.err(e.to_string()))?;
        let regex = regex::Regex::new(&translated)
            .map_err(|e| self.err(format!("regular expression {pattern:?}: {e}")))?;
        Ok(CompiledRegex {
            regex: Arc::new(regex),
            fast: super::fastmatch::FastMatch::new(pattern, flags),
        })
    }
}

enum Parsed {
    Step(Step),
    Primary(Expr, Vec<Pred>),
}

impl Parsed {
    fn into_step(self) -> Step {
        match self {
            Parsed::Step(s) => s,
            Parsed::Primary(Expr::ContextItem, preds) => Step::Axis {
                axis: Axis::SelfNode,
                test: NodeTest::Node,
                preds,
            },
            Parsed::Primary(expr, preds) => Step::Expr { expr, preds },
        }
    }
}

/// Rewrites the two shapes that make up most schematron tests into
/// dedicated nodes: `count(path) op 3` and `@name op 'text'`.
fn specialize_general(op: CmpOp, lhs: Expr, rhs: Expr) -> Expr {
    fn count_path(e: &Expr) -> bool {
        matches!(e, Expr::Call(Func::Count, args, _) if matches!(args.as_slice(), [Expr::Path(p)] if p.streamable))
    }
    fn own_attribute(e: &Expr) -> Option<u32> {
        let Expr::Path(p) = e else { return None };
        p.lone_attribute()
    }
    fn take_path(e: Expr) -> Option<Box<Path>> {
        match e {
            Expr::Call(Func::Count, mut args, _) => match args.pop() {
                Some(Expr::Path(p)) => Some(p),
                _ => None,
            },
            _ => None,
        }
    }
    match (&lhs, &rhs) {
        (l, Expr::Int(n)) if count_path(l) => {
            let n = *n;
            if let Some(p) = take_path(lhs) {
                return Expr::CountCmp(p, op, n);
            }
            unreachable_general(op)
        }
        (Expr::Int(n), r) if count_path(r) => {
            let n = *n;
            if let Some(p) = take_path(rhs) {
                return Expr::CountCmp(p, op.flip(), n);
            }
            unreachable_general(op)
        }
        (l, Expr::Str(s)) if own_attribute(l).is_some() => {
            Expr::AttrCmp(own_attribute(l).unwrap_or_default(), op, s.clone())
        }
        (Expr::Str(s), r) if own_attribute(r).is_some() => {
            Expr::AttrCmp(own_attribute(r).unwrap_or_default(), op.flip(), s.clone())
        }
        _ => Expr::General(op, Box::new(lhs), Box::new(rhs)),
    }
}

/// Never reached: the guards above checked the shape `take_path` takes.
fn unreachable_general(op: CmpOp) -> Expr {
    Expr::General(op, Box::new(Expr::Seq(vec![])), Box::new(Expr::Seq(vec![])))
}

fn make_pred(expr: Expr) -> Pred {
    let positional = may_be_numeric(&expr) || uses_position(&expr);
    Pred {
        expr,
        positional,
        memo: None,
        node_memo: None,
    }
}

/// For a streamable path that reads no variable: its printed form.
fn node_only_path(e: &Expr) -> Option<String> {
    let Expr::Path(p) = e else { return None };
    if !p.streamable {
        return None;
    }
    let mut key = String::new();
    encode_expr(e, &mut key).then_some(key)
}

/// Whether a boolean-valued expression reads its focus only through
/// `local-name()`: literals, pure string functions and logic over them.
fn local_name_only(e: &Expr) -> bool {
    fn pure(e: &Expr, seen_name: &mut bool) -> bool {
        match e {
            Expr::Str(_) | Expr::Int(_) | Expr::Dec(_) | Expr::Dbl(_) => true,
            Expr::Call(Func::LocalName, args, _) => {
                *seen_name = true;
                args.is_empty() || matches!(args.as_slice(), [Expr::ContextItem])
            }
            Expr::Call(
                Func::Not
                | Func::True
                | Func::False
                | Func::Boolean
                | Func::Contains
                | Func::StartsWith
                | Func::EndsWith
                | Func::Concat
                | Func::SubstringBefore
                | Func::SubstringAfter
                | Func::UpperCase
                | Func::LowerCase
                | Func::Matches,
                args,
                _,
            ) => args.iter().all(|a| pure(a, seen_name)),
            Expr::Or(items) | Expr::And(items) => items.iter().all(|a| pure(a, seen_name)),
            Expr::General(_, a, b) | Expr::ValueCmp(_, a, b) => {
                pure(a, seen_name) && pure(b, seen_name)
            }
            _ => false,
        }
    }
    let mut seen_name = false;
    !may_be_numeric(e) && pure(e, &mut seen_name) && seen_name
}

/// Whether an expression may have a numeric value (then, as a predicate,
/// it selects by position).
fn may_be_numeric(e: &Expr) -> bool {
    match e {
        Expr::Int(_) | Expr::Dec(_) | Expr::Dbl(_) | Expr::Var(_) | Expr::ContextItem => true,
        Expr::Arith(..) | Expr::Neg(_) | Expr::Range(..) => true,
        Expr::Str(_) => false,
        Expr::Or(..)
        | Expr::And(..)
        | Expr::General(..)
        | Expr::ValueCmp(..)
        | Expr::NodeCmp(..)
        | Expr::Set(..) => false,
        Expr::CountCmp(..) | Expr::AttrCmp(..) => false,
        Expr::Path(p) => match p.steps.last() {
            Some(Step::Expr { expr, .. }) => may_be_numeric(expr),
            Some(Step::Axis { .. }) => false,
            None => matches!(&p.start, Start::Expr(e) if may_be_numeric(e)),
        },
        Expr::Filter(base, _) => may_be_numeric(base),
        Expr::Seq(items) => items.iter().any(may_be_numeric),
        Expr::If(_, a, b) => may_be_numeric(a) || may_be_numeric(b),
        Expr::Call(f, ..) => f.returns_number() || matches!(f, Func::Data | Func::DistinctValues),
    }
}

/// Whether an expression calls `position()` or `last()` anywhere.
fn uses_position(e: &Expr) -> bool {
    let preds = |ps: &[Pred]| ps.iter().any(|p| uses_position(&p.expr));
    match e {
        Expr::Call(Func::Position | Func::Last, ..) => true,
        Expr::Call(_, args, _) | Expr::Seq(args) => args.iter().any(uses_position),
        Expr::Str(_)
        | Expr::Int(_)
        | Expr::Dec(_)
        | Expr::Dbl(_)
        | Expr::Var(_)
        | Expr::ContextItem => false,
        Expr::AttrCmp(..) => false,
        Expr::CountCmp(p, ..) => uses_position(&Expr::Path(p.clone())),
        Expr::Path(p) => {
            let start = match &p.start {
                Start::Expr(e) => uses_position(e),
                _ => false,
            };
            start
                || p.steps.iter().any(|s| match s {
                    Step::Axis { preds: ps, .. } => preds(ps),
                    Step::Expr { expr, preds: ps } => uses_position(expr) || preds(ps),
                })
        }
        Expr::Filter(base, ps) => uses_position(base) || preds(ps),
        Expr::If(a, b, c) => uses_position(a) || uses_position(b) || uses_position(c),
        Expr::Neg(a) => uses_position(a),
        Expr::Or(items) | Expr::And(items) => items.iter().any(uses_position),
        Expr::General(_, a, b)
        | Expr::ValueCmp(_, a, b)
        | Expr::NodeCmp(_, a, b)
        | Expr::Range(a, b) => uses_position(a) || uses_position(b),
        Expr::Arith(first, rest) => {
            uses_position(first) || rest.iter().any(|(_, e)| uses_position(e))
        }
        Expr::Set(first, rest) => {
            uses_position(first) || rest.iter().any(|(_, e)| uses_position(e))
        }
    }
}

/// Rewrites `descendant-or-self::node()/child::x[p]` to `descendant::x[p]`
/// (when no predicate is positional) and decides whether the path streams.
fn finish_path(start: Start, steps: Vec<Step>) -> Path {
    let mut out: Vec<Step> = Vec::with_capacity(steps.len());
    let mut iter = steps.into_iter().peekable();
    while let Some(step) = iter.next() {
        let is_dos_node = matches!(
            &step,
            Step::Axis { axis: Axis::DescendantOrSelf, test: NodeTest::Node, preds } if preds.is_empty()
        );
        if is_dos_node
            && let Some(Step::Axis {
                axis: Axis::Child,
                preds,
                ..
            }) = iter.peek()
            && preds.iter().all(|p| !p.positional)
            && let Some(Step::Axis { test, preds, .. }) = iter.next()
        {
            out.push(Step::Axis {
                axis: Axis::Descendant,
                test,
                preds,
            });
            continue;
        }
        out.push(step);
    }
    let streamable = streamable(&start, &out);
    Path {
        start,
        steps: out,
        streamable,
        base: None,
    }
}

/// The printed form of a streamable relative path's base (its steps with
/// the last one's predicates dropped), when caching it can pay: at least
/// two steps, or one child step.
fn base_key(path: &Path) -> Option<String> {
    if !path.streamable || !matches!(path.start, Start::Context) {
        return None;
    }
    let (last, init) = path.steps.split_last()?;
    let Step::Axis { axis, test, .. } = last else {
        return None;
    };
    if init.is_empty() && *axis != Axis::Child {
        return None;
    }
    let mut key = String::new();
    for step in init {
        // Variables are per rule: a base reading one is never shared.
        if !encode_step(step, &mut key) {
            return None;
        }
    }
    encode_axis_test(*axis, test, &mut key);
    Some(key)
}

fn encode_axis_test(axis: Axis, test: &NodeTest, out: &mut String) {
    use std::fmt::Write;
    let _ = write!(out, "{axis:?}::");
    let _ = match test {
        NodeTest::Name(id) => write!(out, "n{id}"),
        NodeTest::NsWildcard(id) => write!(out, "ns{id}"),
        NodeTest::LocalWildcard(id) => write!(out, "l{id}"),
        NodeTest::Any => write!(out, "*"),
        NodeTest::Node => write!(out, "node()"),
        NodeTest::Text => write!(out, "text()"),
        NodeTest::Comment => write!(out, "comment()"),
        NodeTest::Document => write!(out, "doc()"),
        NodeTest::Pi(t) => write!(out, "pi({t:?})"),
        NodeTest::Element(n) => write!(out, "element({n:?})"),
        NodeTest::Attribute(n) => write!(out, "attribute({n:?})"),
    };
}

/// Appends an exact, compact encoding of a step: equal encodings mean
/// equal steps within one program (same name table). False when the step
/// reads a variable, whose value depends on the rule.
pub(crate) fn encode_step(step: &Step, out: &mut String) -> bool {
    out.push('/');
    match step {
        Step::Axis { axis, test, preds } => {
            encode_axis_test(*axis, test, out);
            preds.iter().all(|p| {
                out.push('[');
                let ok = encode_expr(&p.expr, out);
                out.push(']');
                ok
            })
        }
        Step::Expr { expr, preds } => {
            out.push('(');
            let mut ok = encode_expr(expr, out);
            out.push(')');
            for p in preds {
                out.push('[');
                ok &= encode_expr(&p.expr, out);
                out.push(']');
            }
            ok
        }
    }
}

fn encode_expr(e: &Expr, out: &mut String) -> bool {
    use std::fmt::Write;
    let pair = |tag: &str, a: &Expr, b: &Expr, out: &mut String| {
        out.push_str(tag);
        out.push('(');
        let ok = encode_expr(a, out);
        out.push(',');
        let ok = ok & encode_expr(b, out);
        out.push(')');
        ok
    };
    match e {
        Expr::Str(s) => {
            let _ = write!(out, "{s:?}");
            true
        }
        Expr::Int(i) => {
            let _ = write!(out, "i{i}");
            true
        }
        Expr::Dec(d) => {
            let _ = write!(out, "d{d:?}");
            true
        }
        Expr::Dbl(d) => {
            let _ = write!(out, "e{d:?}");
            true
        }
        Expr::Var(_) => false,
        Expr::ContextItem => {
            out.push('.');
            true
        }
        Expr::Path(p) => {
            out.push_str(match &p.start {
                Start::Root => "R",
                Start::Context => "C",
                Start::Expr(_) => "E",
            });
            let mut ok = match &p.start {
                Start::Expr(s) => encode_expr(s, out),
                _ => true,
            };
            for step in &p.steps {
                ok &= encode_step(step, out);
            }
            ok
        }
        Expr::Filter(base, preds) => {
            out.push_str("F(");
            let mut ok = encode_expr(base, out);
            for p in preds {
                out.push('[');
                ok &= encode_expr(&p.expr, out);
                out.push(']');
            }
            out.push(')');
            ok
        }
        Expr::Seq(items) | Expr::Call(_, items, _) => {
            if let Expr::Call(f, _, re) = e {
                let _ = write!(out, "{f:?}");
                if let Some(re) = re {
                    let _ = write!(out, "{:?}", re.regex.as_str());
                }
            }
            out.push('(');
            let mut ok = true;
            for item in items {
                ok &= encode_expr(item, out);
                out.push(',');
            }
            out.push(')');
            ok
        }
        Expr::If(c, t, f) => {
            out.push_str("if(");
            let ok = encode_expr(c, out) & encode_expr(t, out) & encode_expr(f, out);
            out.push(')');
            ok
        }
        Expr::Or(items) | Expr::And(items) => {
            out.push_str(if matches!(e, Expr::Or(_)) {
                "or("
            } else {
                "and("
            });
            let mut ok = true;
            for item in items {
                ok &= encode_expr(item, out);
                out.push(',');
            }
            out.push(')');
            ok
        }
        Expr::General(op, a, b) => pair(&format!("g{op:?}"), a, b, out),
        Expr::ValueCmp(op, a, b) => pair(&format!("v{op:?}"), a, b, out),
        Expr::NodeCmp(op, a, b) => pair(&format!("n{op:?}"), a, b, out),
        Expr::Arith(first, rest) => {
            out.push_str("a(");
            let mut ok = encode_expr(first, out);
            for (op, e) in rest {
                let _ = write!(out, "{op:?}");
                ok &= encode_expr(e, out);
            }
            out.push(')');
            ok
        }
        Expr::Range(a, b) => pair("to", a, b, out),
        Expr::Set(first, rest) => {
            out.push_str("s(");
            let mut ok = encode_expr(first, out);
            for (op, e) in rest {
                let _ = write!(out, "{op:?}");
                ok &= encode_expr(e, out);
            }
            out.push(')');
            ok
        }
        Expr::Neg(a) => {
            out.push('-');
            encode_expr(a, out)
        }
        Expr::CountCmp(p, op, n) => {
            let _ = write!(out, "count{op:?}{n}(");
            let ok = encode_expr(&Expr::Path(p.clone()), out);
            out.push(')');
            ok
        }
        Expr::AttrCmp(id, op, text) => {
            let _ = write!(out, "@{id}{op:?}{text:?}");
            true
        }
    }
}

fn streamable(start: &Start, steps: &[Step]) -> bool {
    if let Start::Expr(e) = start {
        // `$patient/hl7:name/hl7:given`: from each node of the variable.
        // Child and attribute steps reach a node from its one parent only,
        // so distinct starts, nested or not, never reach a node twice.
        return matches!(e, Expr::Var(_))
            && !steps.is_empty()
            && steps.iter().all(|s| {
                matches!(s, Step::Axis { axis: Axis::Child | Axis::Attribute | Axis::SelfNode, preds, .. }
                    if preds.iter().all(|p| !p.positional))
            });
    }
    let (mut single, mut antichain) = (true, true);
    for step in steps {
        let Step::Axis { axis, preds, .. } = step else {
            return false;
        };
        if preds.iter().any(|p| p.positional) {
            return false;
        }
        match axis {
            Axis::Child => single = false,
            Axis::Attribute => {
                single = false;
                antichain = true;
            }
            Axis::SelfNode => {}
            Axis::Parent => {
                if !single {
                    return false;
                }
            }
            Axis::Descendant | Axis::DescendantOrSelf => {
                if !antichain {
                    return false;
                }
                single = false;
                antichain = false;
            }
            Axis::Ancestor
            | Axis::AncestorOrSelf
            | Axis::FollowingSibling
            | Axis::PrecedingSibling
            | Axis::Following
            | Axis::Preceding => {
                if !single {
                    return false;
                }
                single = false;
                antichain = false;
            }
        }
    }
    true
}
