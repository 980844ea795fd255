//! An XPath 2.0 engine over the arena [`Document`], for the subset the
//! official FSE schematrons use, and a little more.
//!
//! Supported: paths with every axis but `namespace`, predicates (by value
//! or by position), `//`, name and kind tests, wildcards; a primary
//! expression as a step (`a/b/count(c)`); variables; `if … then … else`;
//! `or`/`and`; general (`=`, `<`, …), value (`eq`, `lt`, …) and node
//! (`is`, `<<`, `>>`) comparisons with XPath 2.0 typing (an untyped node
//! value compares as a string against a string or another node, as a
//! double against a number); arithmetic, ranges, `|`/`union`/`intersect`/
//! `except`, sequences; and the functions `count not true false boolean
//! exists empty string number data local-name name namespace-uri root
//! contains starts-with ends-with string-length substring
//! substring-before substring-after concat string-join normalize-space
//! upper-case lower-case translate matches replace tokenize position last
//! sum floor ceiling round abs distinct-values`, regular expressions in
//! XML Schema syntax. Not supported (a compile error says so): `for`,
//! `some`/`every`, `instance of`, casts, schema types, dates.
//!
//! Expressions are compiled once ([`XPath::compile`]); names are resolved
//! to a document's interned symbols once per evaluation; `//x` and
//! `descendant::x` read the document's per-name index; paths of forward
//! steps are walked depth-first without intermediate lists when only
//! their count, existence or a comparison is needed.
//!
//! ```
//! use fse_cda::xml::{Document, NodeId};
//! use fse_cda::xpath::{Namespaces, XPath};
//!
//! let doc = Document::parse(br#"<r xmlns="urn:hl7-org:v3"><e v="20220425121122+0100"/><e v="x"/></r>"#).unwrap();
//! let ns = Namespaces::new().with("hl7", "urn:hl7-org:v3");
//! // Untyped attribute values compare as strings with a string, as in XPath 2.
//! let xp = XPath::compile("count(//hl7:e[@v >= '2022' and @v < '2023']) = 1", &ns).unwrap();
//! assert!(xp.evaluate_boolean(&doc, NodeId::DOCUMENT, &[]).unwrap());
//! ```

mod ast;
pub(crate) mod eval;
mod fastmatch;
mod parse;
mod value;

pub use ast::NameTable;
pub use value::{Atom, DynamicError, ErrorDetail, Item, Value};

pub(crate) use ast::{Expr, Start, Step};
pub(crate) use eval::{Evaluator, Focus, join_strings};
pub(crate) use parse::{StaticContext, compile, compile_pattern, encode_step};

use crate::error::Result;
use crate::xml::{Document, NodeId};

/// The namespace of the XPath functions (`fn:`).
pub const FN_NS: &str = "http://www.w3.org/2005/xpath-functions";
/// The XML Schema namespace (`xs:`).
pub const XS_NS: &str = "http://www.w3.org/2001/XMLSchema";

/// Prefix bindings for compiling expressions. `xml`, `xs` and `fn` are
/// always bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces {
    bindings: Vec<(String, String)>,
}

impl Default for Namespaces {
    fn default() -> Self {
        Self::new()
    }
}

impl Namespaces {
    /// The predefined bindings only.
    pub fn new() -> Self {
        Namespaces {
            bindings: vec![
                ("xml".into(), crate::xml::XML_NS.into()),
                ("xs".into(), XS_NS.into()),
                ("fn".into(), FN_NS.into()),
            ],
        }
    }

    /// Binds `prefix` to `uri` (a later binding of a prefix wins).
    pub fn bind(&mut self, prefix: &str, uri: &str) {
        self.bindings.retain(|(p, _)| p != prefix);
        self.bindings.push((prefix.into(), uri.into()));
    }

    /// The same bindings plus `prefix` → `uri`.
    #[must_use]
    pub fn with(mut self, prefix: &str, uri: &str) -> Self {
        self.bind(prefix, uri);
        self
    }

    /// The URI bound to `prefix`.
    pub fn uri(&self, prefix: &str) -> Option<&str> {
        self.bindings
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.as_str())
    }
}

/// A compiled XPath expression.
#[derive(Debug, Clone)]
pub struct XPath {
    source: String,
    expr: Expr,
    names: NameTable,
    variables: Vec<String>,
}

impl XPath {
    /// Compiles an expression with no variables.
    ///
    /// # Errors
    /// [`Error::XPath`](crate::Error::XPath) when it is malformed, uses an
    /// undeclared prefix or variable, or an unsupported construct.
    pub fn compile(source: &str, namespaces: &Namespaces) -> Result<XPath> {
        Self::compile_with_variables(source, namespaces, &[])
    }

    /// Compiles an expression that may refer to the variables `$name` of
    /// `variables`; their values are given, in the same order, to the
    /// `evaluate` methods.
    ///
    /// # Errors
    /// As [`XPath::compile`].
    pub fn compile_with_variables(
        source: &str,
        namespaces: &Namespaces,
        variables: &[&str],
    ) -> Result<XPath> {
        let mut names = NameTable::new();
        let lookup = |name: &str| variables.iter().position(|v| *v == name).map(|i| i as u32);
        let mut cx = StaticContext {
            namespaces,
            variables: &lookup,
            names: &mut names,
        };
        let expr = compile(source, &mut cx)?;
        Ok(XPath {
            source: source.into(),
            expr,
            names,
            variables: variables.iter().map(|v| v.to_string()).collect(),
        })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    fn evaluator<'a>(
        &self,
        doc: &'a Document,
        variables: &[Value<'a>],
    ) -> std::result::Result<Evaluator<'a>, DynamicError> {
        if variables.len() != self.variables.len() {
            return Err(DynamicError::new(
                "XPDY0002",
                format!(
                    "{} variable values given for {} variables",
                    variables.len(),
                    self.variables.len()
                ),
            ));
        }
        let mut ev = Evaluator::new(doc, &self.names);
        ev.vars = variables.iter().cloned().map(Ok).collect();
        Ok(ev)
    }

    /// Evaluates with `context` as the context node.
    ///
    /// # Errors
    /// A [`DynamicError`] (a failed cast, a type error, ...).
    pub fn evaluate<'a>(
        &'a self,
        doc: &'a Document,
        context: NodeId,
        variables: &[Value<'a>],
    ) -> std::result::Result<Value<'a>, DynamicError> {
        self.evaluator(doc, variables)?
            .eval(&self.expr, Focus::node(context))
    }

    /// The effective boolean value.
    ///
    /// # Errors
    /// As [`XPath::evaluate`].
    pub fn evaluate_boolean<'a>(
        &'a self,
        doc: &'a Document,
        context: NodeId,
        variables: &[Value<'a>],
    ) -> std::result::Result<bool, DynamicError> {
        self.evaluator(doc, variables)?
            .ebv(&self.expr, Focus::node(context))
    }

    /// The string value, items joined by a space (as `xsl:value-of`).
    ///
    /// # Errors
    /// As [`XPath::evaluate`].
    pub fn evaluate_string<'a>(
        &'a self,
        doc: &'a Document,
        context: NodeId,
        variables: &[Value<'a>],
    ) -> std::result::Result<String, DynamicError> {
        let v = self.evaluate(doc, context, variables)?;
        Ok(join_strings(doc, &v))
    }
}

#[cfg(test)]
mod tests;
