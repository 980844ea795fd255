//! The validation walk: libxml2's schema validator (tree mode), reproduced
//! over our arena document, message for message.
//!
//! What libxml2 does, and so what we do:
//! - elements are checked in document order; an element's `xsi:nil`, then
//!   `xsi:type`, then the abstractness of its type, then its attributes,
//!   then its content;
//! - attribute value errors come first (document order), then unknown
//!   attributes and fixed-value mismatches (document order), then missing
//!   required attributes (declaration order);
//! - after an unexpected child element, the rest of the parent's content
//!   is skipped, and the parent gets no "missing child" error;
//! - an element whose type is abstract (an `ANY` value without `xsi:type`)
//!   is not looked into;
//! - character content in element-only content is an error per text node.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use super::lexical::{self, is_blank};
use super::schema::{
    Builtin, Content, Element, Facet, Schema, SimpleType, State, Transition, TypeRef, Use, Variety,
    Whitespace,
};
use super::simple::{self, Prepared};
use super::{LocalNames, Matcher, SchemaSet, XsdFinding};
use crate::xml::{Document, HL7_NS, NodeId, NodeKind, Sym, XSI_NS};

/// How many names libxml2 lists after "Expected is".
const MAX_EXPECTED: usize = 10;

/// How many findings a run keeps: far beyond any real document's.
const MAX_FINDINGS: usize = 10_000;

/// How deep the walk goes (it recurses): far beyond any CDA2 and the
/// parser's default limit, whatever limits a caller parsed with.
const MAX_DEPTH: usize = 1024;

/// Where a value error is reported: an element, or one of its attributes.
#[derive(Clone, Copy)]
struct At {
    element: NodeId,
    attribute: Option<NodeId>,
}

/// One validation of one document.
pub(super) struct Run<'d> {
    doc: &'d Document,
    schema: &'static Schema,
    matchers: &'static [Matcher],
    findings: Vec<XsdFinding>,
    names: NameMap,
    ids: HashSet<Cow<'d, str>>,
    depth: usize,
    /// The document's symbol for the XSI namespace, if it uses it.
    xsi: Option<Sym>,
    attribute_buffer: Vec<NodeId>,
    /// Per complex type, the mask of its required attribute uses (`None`
    /// when it has more uses than a mask holds).
    required_uses: &'static [Option<u128>],
    /// Per simple type, its packed enumeration and shortcut.
    prepared: &'static [Prepared],
    /// The runs of `Schema::named_types` by local name.
    type_names: &'static LocalNames,
    /// Same-name sibling positions computed for locations.
    sibling_indices: HashMap<NodeId, usize>,
    /// Set once `MAX_FINDINGS` is reached: the walk winds down.
    stopped: bool,
}

impl<'d> Run<'d> {
    pub(super) fn new(doc: &'d Document, set: SchemaSet) -> Self {
        let schema = set.schema();
        Run {
            doc,
            schema,
            matchers: set.matchers(),
            findings: Vec::new(),
            names: NameMap::new(doc, schema, set.local_names()),
            // Documents hold a few dozen IDs: sized for them, the set
            // does not rehash (SipHash, their values being the document's)
            // as it grows.
            ids: HashSet::with_capacity(64),
            depth: 0,
            xsi: doc.symbol(XSI_NS),
            attribute_buffer: Vec::new(),
            required_uses: set.required_uses(),
            prepared: set.prepared(),
            type_names: set.type_names(),
            sibling_indices: HashMap::new(),
            stopped: false,
        }
    }

    pub(super) fn run(mut self) -> Vec<XsdFinding> {
        let root = self.doc.root_element();
        let decl = self.names.element_name(self.doc, root).and_then(|name| {
            self.schema
                .roots
                .iter()
                .filter_map(|&r| self.schema.elements.get(usize::from(r)))
                .find(|e| e.name == name)
        });
        match decl {
            Some(decl) => self.element(root, decl),
            None => self.error(
                At {
                    element: root,
                    attribute: None,
                },
                "No matching global declaration available for the validation root.".to_string(),
            ),
        }
        self.findings
    }

    // --- Reporting ---

    fn error(&mut self, at: At, message: String) {
        if self.stopped {
            return;
        }
        let doc = self.doc;
        let pos = doc.position(at.element);
        if self.findings.len() >= MAX_FINDINGS {
            // A hostile document could otherwise hold millions of errors.
            self.stopped = true;
            let location = self.location(at.element);
            self.findings.push(XsdFinding {
                message: format!("Too many errors: validation stopped after {MAX_FINDINGS}."),
                line: pos.line,
                column: pos.column,
                location,
            });
            return;
        }
        let mut text = format!("Element '{}'", expanded_name(doc, at.element));
        if let Some(a) = at.attribute {
            let _ = write!(text, ", attribute '{}'", expanded_name(doc, a));
        }
        let _ = write!(text, ": {message}");
        let location = self.location(at.attribute.unwrap_or(at.element));
        self.findings.push(XsdFinding {
            message: text,
            line: pos.line,
            column: pos.column,
            location,
        });
    }

    /// An XPath to the node: `/ClinicalDocument[1]/component[1]/...`, HL7
    /// elements by local name, others by their name as written; an
    /// attribute as a last `@name` step.
    fn location(&mut self, node: NodeId) -> String {
        let doc = self.doc;
        let (element, attribute) = match doc.kind(node) {
            NodeKind::Attribute => (doc.parent(node).unwrap_or(node), Some(node)),
            _ => (node, None),
        };
        let mut steps: Vec<String> = Vec::new();
        let mut at = Some(element);
        while let Some(e) = at.filter(|&e| doc.kind(e) == NodeKind::Element) {
            let index = self.sibling_index(e);
            let label = if doc.namespace(e) == HL7_NS {
                Cow::Borrowed(doc.local_name(e))
            } else {
                doc.qualified_name(e)
            };
            steps.push(format!("{label}[{index}]"));
            at = doc.parent(e);
        }
        let mut path = String::new();
        for step in steps.iter().rev() {
            path.push('/');
            path.push_str(step);
        }
        if let Some(a) = attribute {
            let _ = write!(path, "/@{}", doc.qualified_name(a));
        }
        path
    }

    /// The 1-based position of an element among its same-named siblings.
    /// Errors come in document order, so the scan back stops at the last
    /// same-named sibling already placed: linear over a whole document.
    fn sibling_index(&mut self, e: NodeId) -> usize {
        if let Some(&i) = self.sibling_indices.get(&e) {
            return i;
        }
        let doc = self.doc;
        let name = doc.name_syms(e);
        let mut index = 1;
        let mut prev = doc.prev_sibling(e);
        while let Some(p) = prev {
            if doc.kind(p) == NodeKind::Element && doc.name_syms(p) == name {
                if let Some(&i) = self.sibling_indices.get(&p) {
                    index += i;
                    break;
                }
                index += 1;
            }
            prev = doc.prev_sibling(p);
        }
        self.sibling_indices.insert(e, index);
        index
    }

    /// " Expected is ( ... )." for one of a state's lists, or nothing.
    fn expected(&self, (first, count): (u32, u16)) -> String {
        let first = first as usize;
        let names = self
            .schema
            .expected
            .get(first..first + usize::from(count))
            .unwrap_or(&[]);
        if names.is_empty() {
            return String::new();
        }
        let mut s = String::from(if names.len() > 1 {
            " Expected is one of ( "
        } else {
            " Expected is ( "
        });
        for (i, &name) in names.iter().take(MAX_EXPECTED).enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            if let Some(name) = self.schema.names.get(usize::from(name)) {
                let ns = self
                    .schema
                    .namespaces
                    .get(usize::from(name.ns))
                    .copied()
                    .unwrap_or_default();
                if !ns.is_empty() {
                    let _ = write!(s, "{{{ns}}}");
                }
                s.push_str(name.local);
            }
        }
        s.push_str(" ).");
        s
    }

    fn transitions(&self, state: &State) -> &'static [Transition] {
        let first = state.first as usize;
        self.schema
            .transitions
            .get(first..first + usize::from(state.count))
            .unwrap_or(&[])
    }

    fn type_label(&self, st: &SimpleType, variety: &str) -> String {
        match st.name {
            Some((ns, local)) => {
                let ns = self
                    .schema
                    .namespaces
                    .get(usize::from(ns))
                    .copied()
                    .unwrap_or_default();
                if ns == "http://www.w3.org/2001/XMLSchema" {
                    format!("the {variety} type 'xs:{local}'")
                } else if ns.is_empty() {
                    format!("the {variety} type '{local}'")
                } else {
                    format!("the {variety} type '{{{ns}}}{local}'")
                }
            }
            None => format!("the local {variety} type"),
        }
    }

    /// The element's `xsi:nil` and `xsi:type` attributes.
    fn xsi_attributes(&self, node: NodeId) -> (Option<NodeId>, Option<NodeId>) {
        let (mut nil, mut ty) = (None, None);
        if let Some(xsi) = self.xsi {
            for a in self.doc.attributes(node) {
                if self.doc.name_syms(a).0 == xsi {
                    match self.doc.local_name(a) {
                        "nil" => nil = nil.or(Some(a)),
                        "type" => ty = ty.or(Some(a)),
                        _ => {}
                    }
                }
            }
        }
        (nil, ty)
    }

    /// The `xsi:` attributes the validator itself reads, never "not allowed".
    fn is_meta(&self, a: NodeId) -> bool {
        self.xsi.is_some_and(|xsi| self.doc.name_syms(a).0 == xsi)
            && matches!(
                self.doc.local_name(a),
                "type" | "nil" | "schemaLocation" | "noNamespaceSchemaLocation"
            )
    }

    // --- Elements ---

    fn element(&mut self, node: NodeId, decl: &'static Element) {
        if self.stopped {
            return;
        }
        if self.depth >= MAX_DEPTH {
            self.error(
                At {
                    element: node,
                    attribute: None,
                },
                format!("Nested deeper than {MAX_DEPTH} elements: not validated."),
            );
            return;
        }
        self.depth += 1;
        self.element_within_depth(node, decl);
        self.depth -= 1;
    }

    fn element_within_depth(&mut self, node: NodeId, decl: &'static Element) {
        let doc = self.doc;
        let mut ty = decl.ty;
        let (nil, xsi_type) = self.xsi_attributes(node);
        if let Some(nil) = nil {
            let at = At {
                element: node,
                attribute: Some(nil),
            };
            if !lexical::is_valid(Builtin::Boolean, doc.value(nil)) {
                let v = doc.value(nil).to_string();
                self.error(
                    at,
                    format!("'{v}' is not a valid value of the atomic type 'xs:boolean'."),
                );
            } else if !decl.nillable {
                self.error(
                    At {
                        element: node,
                        attribute: None,
                    },
                    "The element is not 'nillable'.".to_string(),
                );
            }
        }
        if let Some(xsi_type) = xsi_type
            && let Some(local) = self.xsi_type(node, xsi_type, decl.ty)
        {
            ty = local;
        }
        let at = At {
            element: node,
            attribute: None,
        };
        match ty {
            TypeRef::Complex(c) => {
                let Some(ct) = self.schema.complex_types.get(usize::from(c)) else {
                    return;
                };
                if ct.is_abstract {
                    self.error(at, "The type definition is abstract.".to_string());
                    return;
                }
                self.attributes(node, c);
                self.content(node, c);
            }
            TypeRef::Simple(s) => {
                self.attributes_of_simple(node);
                self.simple_content(node, s);
            }
        }
    }

    /// Resolves an `xsi:type` and checks it derives from the declared type;
    /// `None` (after reporting) keeps the declared type.
    fn xsi_type(&mut self, node: NodeId, attr: NodeId, declared: TypeRef) -> Option<TypeRef> {
        let doc = self.doc;
        let at = At {
            element: node,
            attribute: Some(attr),
        };
        let raw = doc.value(attr);
        let value = raw.trim_matches(is_blank);
        if !lexical::is_qname(value) {
            self.error(
                at,
                format!("'{raw}' is not a valid value of the atomic type 'xs:QName'."),
            );
            return None;
        }
        // libxml2 checks the QName trimmed but resolves it as written.
        let (prefix, local) = raw.split_once(':').unwrap_or(("", raw));
        let ns = match qname_namespace(doc, node, prefix) {
            Some(ns) => ns,
            None if prefix.is_empty() => "",
            None => {
                self.error(at, format!("The QName value '{raw}' has no corresponding namespace declaration in scope."));
                return None;
            }
        };
        let shown = || {
            if ns.is_empty() {
                local.to_string()
            } else {
                format!("{{{ns}}}{local}")
            }
        };
        let named = self.type_names.get(local).and_then(|&(start, len)| {
            let start = usize::from(start);
            let run = self
                .schema
                .named_types
                .get(start..start + usize::from(len))?;
            let at = run
                .iter()
                .position(|n| self.schema.namespaces.get(usize::from(n.ns)).copied() == Some(ns))?;
            Some(start + at)
        });
        let Some(found) = named else {
            let shown = shown();
            self.error(
                at,
                format!("The QName value '{shown}' of the xsi:type attribute does not resolve to a type definition."),
            );
            return None;
        };
        let ty = self.schema.named_types.get(found).and_then(|n| n.ty);
        match ty {
            Some(t) if self.derives(t, declared) => Some(t),
            _ => {
                let shown = shown();
                self.error(
                    at,
                    format!(
                        "The type definition '{shown}', specified by xsi:type, is blocked or not validly derived from the type definition of the element declaration."
                    ),
                );
                None
            }
        }
    }

    fn derives(&self, ty: TypeRef, base: TypeRef) -> bool {
        match (ty, base) {
            (TypeRef::Complex(_), TypeRef::Complex(_)) => {
                let mut at = Some(ty);
                // Derivation chains are short; the bound guards bad tables.
                for _ in 0..64 {
                    match at {
                        Some(t) if t == base => return true,
                        Some(TypeRef::Complex(c)) => {
                            at = self
                                .schema
                                .complex_types
                                .get(usize::from(c))
                                .and_then(|ct| ct.base);
                        }
                        _ => return false,
                    }
                }
                false
            }
            (TypeRef::Simple(s), TypeRef::Simple(b)) => self.simple_derives(s, b, 0),
            _ => false,
        }
    }

    fn simple_derives(&self, s: u16, base: u16, depth: usize) -> bool {
        if s == base {
            return true;
        }
        if depth > 64 {
            return false;
        }
        let types = self.schema.simple_types;
        if let Some(from) = types.get(usize::from(s)).and_then(|t| t.derived_from)
            && self.simple_derives(from, base, depth + 1)
        {
            return true;
        }
        match types.get(usize::from(base)).map(|t| &t.variety) {
            Some(Variety::Union(members)) => members
                .iter()
                .any(|&m| self.simple_derives(s, m, depth + 1)),
            _ => false,
        }
    }

    // --- Attributes ---

    fn attributes(&mut self, node: NodeId, c: u16) {
        let doc = self.doc;
        let Some(ct) = self.schema.complex_types.get(usize::from(c)) else {
            return;
        };
        let uses = ct.attributes;
        // Which uses are present (types have far fewer than 128 uses; one
        // beyond that simply counts as missing, never as found).
        let mut found: u128 = 0;
        // Whether an attribute is not allowed or disagrees with a fixed
        // value: reported after every value error, so in a second pass
        // that valid elements never take.
        let mut misfit = false;
        // The attributes whose value disagrees with a fixed one (their
        // validity, needed to know it, is not asked twice).
        self.attribute_buffer.clear();
        // Values, in document order; fixed values compared once valid.
        for a in doc.attributes(node) {
            // The namespace first, here: few attributes are in XSI's.
            if self.xsi == Some(doc.name_syms(a).0) && self.is_meta(a) {
                continue;
            }
            let u = self
                .names
                .attribute_name(doc, a)
                .and_then(|name| uses.iter().position(|u| u.name == name));
            let Some((u, use_)) = u.and_then(|u| Some((u, uses.get(u)?))) else {
                misfit = true;
                continue;
            };
            if u < 128 {
                found |= 1 << u;
            }
            let at = At {
                element: node,
                attribute: Some(a),
            };
            let value = doc.value(a);
            let valid = self.settles(use_.ty, value)
                || self.check_value(at, use_.ty, value, true, use_.fixed.is_some());
            if let (true, Some(fixed)) = (valid, use_.fixed) {
                let ws = match self
                    .schema
                    .simple_types
                    .get(usize::from(use_.ty))
                    .map(|t| t.whitespace)
                {
                    Some(Whitespace::Preserve) => Whitespace::Preserve,
                    Some(Whitespace::Replace) => Whitespace::Replace,
                    _ => Whitespace::Collapse,
                };
                if lexical::normalize(value, ws) != lexical::normalize(fixed, ws) {
                    misfit = true;
                    self.attribute_buffer.push(a);
                }
            }
        }
        if misfit {
            self.misfit_attributes(node, uses);
        }
        let required = self.required_uses.get(usize::from(c)).copied().flatten();
        if required.is_some_and(|r| r & !found == 0) {
            return;
        }
        for (u, use_) in uses.iter().enumerate() {
            if use_.required && (u >= 128 || found & (1 << u) == 0) {
                let name = self.schema_name(use_.name);
                self.error(
                    At {
                        element: node,
                        attribute: None,
                    },
                    format!("The attribute '{name}' is required but missing."),
                );
            }
        }
    }

    /// Reports, in document order, the attributes not allowed and those
    /// whose value disagrees with a fixed one (in `attribute_buffer`).
    #[cold]
    fn misfit_attributes(&mut self, node: NodeId, uses: &'static [Use]) {
        let doc = self.doc;
        for a in doc.attributes(node) {
            if self.is_meta(a) {
                continue;
            }
            let at = At {
                element: node,
                attribute: Some(a),
            };
            let u = self
                .names
                .attribute_name(doc, a)
                .and_then(|name| uses.iter().find(|u| u.name == name));
            match u {
                None => {
                    let name = expanded_name(doc, a);
                    self.error(at, format!("The attribute '{name}' is not allowed."));
                }
                Some(u) if self.attribute_buffer.contains(&a) => {
                    let fixed = u.fixed.unwrap_or_default();
                    let value = doc.value(a);
                    self.error(at, format!("The value '{value}' does not match the fixed value constraint '{fixed}'."));
                }
                Some(_) => {}
            }
        }
    }

    fn attributes_of_simple(&mut self, node: NodeId) {
        let doc = self.doc;
        for a in doc.attributes(node) {
            if !self.is_meta(a) {
                let name = expanded_name(doc, a);
                self.error(
                    At {
                        element: node,
                        attribute: Some(a),
                    },
                    format!("The attribute '{name}' is not allowed."),
                );
            }
        }
    }

    fn schema_name(&self, name: u16) -> String {
        match self.schema.names.get(usize::from(name)) {
            Some(n) => {
                let ns = self
                    .schema
                    .namespaces
                    .get(usize::from(n.ns))
                    .copied()
                    .unwrap_or_default();
                if ns.is_empty() {
                    n.local.to_string()
                } else {
                    format!("{{{ns}}}{}", n.local)
                }
            }
            None => String::new(),
        }
    }

    // --- Content ---

    fn content(&mut self, node: NodeId, c: u16) {
        let doc = self.doc;
        let Some(ct) = self.schema.complex_types.get(usize::from(c)) else {
            return;
        };
        let at = At {
            element: node,
            attribute: None,
        };
        let mut state = ct.start as usize;
        for child in doc.children(node) {
            match doc.kind(child) {
                NodeKind::Element => {
                    if ct.content == Content::Empty {
                        self.error(at, "Element content is not allowed, because the content type is empty.".to_string());
                        return;
                    }
                    let Some(current) = self.schema.states.get(state) else { return };
                    let name = self.names.element_name(doc, child);
                    let next = name.and_then(|name| self.transitions(current).iter().find(|t| t.name == name));
                    match next {
                        Some(t) => {
                            state = t.to as usize;
                            if let Some(decl) = self.schema.elements.get(usize::from(t.element)) {
                                self.element(child, decl);
                            }
                        }
                        None => {
                            let expected = self.expected(current.unexpected);
                            self.error(
                                At { element: child, attribute: None },
                                format!("This element is not expected.{expected}"),
                            );
                            return;
                        }
                    }
                }
                NodeKind::Text => match ct.content {
                    Content::Empty => {
                        self.error(at, "Character content is not allowed, because the content type is empty.".to_string());
                    }
                    Content::Elements if lexical::has_non_blank(doc.value(child)) => self.error(
                        at,
                        "Character content other than whitespace is not allowed because the content type is 'element-only'."
                            .to_string(),
                    ),
                    _ => {}
                },
                _ => {}
            }
        }
        if ct.content == Content::Empty {
            return;
        }
        if let Some(current) = self.schema.states.get(state)
            && !current.accepting
        {
            let expected = self.expected(current.missing);
            self.error(at, format!("Missing child element(s).{expected}"));
        }
    }

    fn simple_content(&mut self, node: NodeId, s: u16) {
        let doc = self.doc;
        let at = At {
            element: node,
            attribute: None,
        };
        let mut value = String::new();
        for child in doc.children(node) {
            match doc.kind(child) {
                NodeKind::Element => {
                    self.error(
                        at,
                        "Element content is not allowed, because the type definition is simple."
                            .to_string(),
                    );
                    return;
                }
                NodeKind::Text => value.push_str(doc.value(child)),
                _ => {}
            }
        }
        if !self.settles(s, &value) {
            self.check_value(at, s, &value, true, false);
        }
    }

    // --- Simple values ---

    /// Whether `value` is surely valid for simple type `t`, settled by the
    /// type's shortcut; `false` leaves it to [`Self::check_value`].
    #[inline]
    fn settles(&self, t: u16, value: &str) -> bool {
        Prepared::settles(
            self.prepared,
            self.schema.simple_types,
            self.matchers,
            t,
            value,
        )
    }

    /// Whether `value` is valid for simple type `t`, reporting errors when
    /// `fire` (libxml2's xmlSchemaVCheckCVCSimpleType).
    fn check_value(&mut self, at: At, t: u16, value: &str, fire: bool, normalize: bool) -> bool {
        let types = self.schema.simple_types;
        let Some(st) = types.get(usize::from(t)) else {
            return true;
        };
        match st.variety {
            Variety::Atomic(builtin) => {
                // Preserve leaves the value as is: union members such as
                // `oid` ask for it on every value tried.
                let v = if (normalize || st.normalize) && st.whitespace != Whitespace::Preserve {
                    lexical::normalize(value, st.whitespace)
                } else {
                    Cow::Borrowed(value)
                };
                let mut valid = lexical::is_valid(builtin, &v);
                if valid
                    && builtin == Builtin::Id
                    && let Some(attribute) = at.attribute
                {
                    let id = v.trim_matches(is_blank);
                    // The attribute's own text, when it is the value, is
                    // borrowed for the document's lifetime: no copy.
                    let raw = self.doc.value(attribute).trim_matches(is_blank);
                    let id = if raw == id {
                        Cow::Borrowed(raw)
                    } else {
                        Cow::Owned(id.to_string())
                    };
                    valid = self.ids.insert(id);
                }
                if !valid {
                    if fire {
                        self.report_invalid(at, st, &v, "atomic");
                    }
                    return false;
                }
                !st.has_facets || self.facets(at, t, &v, None, fire)
            }
            Variety::List(item) => {
                let v = if normalize || st.normalize {
                    lexical::normalize(value, Whitespace::Collapse)
                } else {
                    Cow::Borrowed(value)
                };
                let mut valid = true;
                let mut count = 0;
                for token in v.split(is_blank).filter(|s| !s.is_empty()) {
                    count += 1;
                    if !(self.settles(item, token)
                        || self.check_value(at, item, token, fire, false))
                    {
                        valid = false;
                        break;
                    }
                }
                if valid && st.has_facets {
                    valid = self.facets(at, t, &v, Some(count), fire);
                }
                if !valid && fire {
                    let shown = lexical::normalize(value, Whitespace::Collapse);
                    self.report_invalid(at, st, &shown, "list");
                }
                valid
            }
            Variety::Union(members) => {
                let member = members
                    .iter()
                    .copied()
                    .find(|&m| self.check_value(at, m, value, false, true));
                let mut valid = member.is_some();
                if let (true, Some(m)) = (valid && st.has_facets, member) {
                    let ws = types
                        .get(usize::from(m))
                        .map_or(Whitespace::Preserve, |t| t.whitespace);
                    let v = lexical::normalize(value, ws);
                    valid = self.facets(at, t, &v, None, fire);
                }
                if !valid && fire {
                    self.report_invalid(at, st, value, "union");
                }
                valid
            }
        }
    }

    /// "'v' is not a valid value of the ... type": out of line, so that
    /// the checks of valid values stay lean.
    #[cold]
    #[inline(never)]
    fn report_invalid(&mut self, at: At, st: &SimpleType, shown: &str, variety: &str) {
        let label = self.type_label(st, variety);
        self.error(at, format!("'{shown}' is not a valid value of {label}."));
    }

    /// Facets of `t` and its bases (libxml2's xmlSchemaValidateFacets).
    fn facets(&mut self, at: At, t: u16, value: &str, list_len: Option<usize>, fire: bool) -> bool {
        let types = self.schema.simple_types;
        let Some(st) = types.get(usize::from(t)) else {
            return true;
        };
        let packed = self.prepared.get(usize::from(t)).map(|p| &p.enumeration);
        if simple::facets_hold(st, packed, self.matchers, value, list_len) {
            return true;
        }
        fire && self.report_facets(at, st, value, list_len)
    }

    /// Reports the facets `value` fails (it fails one), in libxml2's
    /// order: out of line, off the path of valid values.
    #[cold]
    #[inline(never)]
    fn report_facets(
        &mut self,
        at: At,
        st: &SimpleType,
        value: &str,
        list_len: Option<usize>,
    ) -> bool {
        let mut valid = true;
        // Length in characters, counted only for a length facet.
        let mut counted: Option<usize> = list_len;
        let mut length = || *counted.get_or_insert_with(|| value.chars().count());
        for facet in st.facets {
            if !simple::facet_fails(facet, value, &mut length) {
                continue;
            }
            let name = match facet {
                Facet::Length(_) => "length",
                Facet::MinLength(_) => "minLength",
                Facet::MaxLength(_) => "maxLength",
                Facet::MinInclusive(_) => "minInclusive",
                Facet::MaxInclusive(_) => "maxInclusive",
                Facet::MinExclusive(_) => "minExclusive",
                Facet::MaxExclusive(_) => "maxExclusive",
            };
            valid = false;
            let attr = at.attribute.is_some();
            let message = match *facet {
                Facet::Length(n) | Facet::MinLength(n) | Facet::MaxLength(n) => {
                    let length = length();
                    let lead = if attr {
                        format!("The value '{value}' has a length of '{length}'; ")
                    } else {
                        format!("The value has a length of '{length}'; ")
                    };
                    let tail = match facet {
                        Facet::Length(_) => "this differs from the allowed length",
                        Facet::MinLength(_) => "this underruns the allowed minimum length",
                        _ => "this exceeds the allowed maximum length",
                    };
                    format!("{lead}{tail} of '{n}'.")
                }
                Facet::MinInclusive(x) => {
                    format!("The value '{value}' is less than the minimum value allowed ('{x}').")
                }
                Facet::MaxInclusive(x) => format!(
                    "The value '{value}' is greater than the maximum value allowed ('{x}')."
                ),
                Facet::MinExclusive(x) => {
                    format!("The value '{value}' must be greater than '{x}'.")
                }
                Facet::MaxExclusive(x) => format!("The value '{value}' must be less than '{x}'."),
            };
            self.error(at, format!("[facet '{name}'] {message}"));
        }
        // The enumeration in force (the generator resolved it up the chain).
        if !st.enumeration.is_empty() {
            let found = simple::in_enumeration(st, value);
            if !found {
                valid = false;
                let set = st
                    .enumeration
                    .iter()
                    .map(|e| format!("'{e}'"))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.error(at, format!("[facet 'enumeration'] The value '{value}' is not an element of the set {{{set}}}."));
            }
        }
        // Patterns: any of a level's may match; every level must.
        for level in st.patterns {
            if !level
                .iter()
                .any(|&p| simple::pattern_matches(self.matchers, p, value))
            {
                let last = level
                    .last()
                    .and_then(|&p| self.schema.patterns.get(usize::from(p)))
                    .copied()
                    .unwrap_or_default();
                self.error(at, format!("[facet 'pattern'] The value '{value}' is not accepted by the pattern '{last}'."));
                return false;
            }
        }
        valid
    }
}

/// The namespace `prefix` is bound to in the scope of element `node`, as
/// [`Document::lookup_namespace`] finds it. The element's own prefix is
/// bound to its namespace: most QName values share it (`xsi:type="CD"` on
/// an unprefixed element), and the search up the ancestors' declarations
/// is spared.
fn qname_namespace<'d>(doc: &'d Document, node: NodeId, prefix: &str) -> Option<&'d str> {
    if prefix == doc.prefix(node) {
        Some(doc.namespace(node)).filter(|ns| !ns.is_empty())
    } else {
        doc.lookup_namespace(node, prefix)
    }
}

/// `{namespace}local`, or `local` without a namespace.
fn expanded_name(doc: &Document, node: NodeId) -> String {
    let ns = doc.namespace(node);
    if ns.is_empty() {
        doc.local_name(node).to_string()
    } else {
        format!("{{{ns}}}{}", doc.local_name(node))
    }
}

/// Maps a document's interned names to schema name indices, lazily: per
/// local-name symbol, the answer for the namespace it was last seen with,
/// apart for elements and attributes (`code` is both, in two namespaces).
struct NameMap {
    /// Per document symbol (a local name): (namespace symbol + 1, 0 when
    /// not looked up yet; the schema name index or `NO_NAME`).
    elements: Vec<(u32, u16)>,
    /// The same for attribute names.
    attributes: Vec<(u32, u16)>,
    schema: &'static Schema,
    local_names: &'static LocalNames,
}

const NO_NAME: u16 = u16::MAX;

impl NameMap {
    fn new(doc: &Document, schema: &'static Schema, local_names: &'static LocalNames) -> Self {
        NameMap {
            elements: vec![(0, NO_NAME); doc.symbol_count()],
            attributes: vec![(0, NO_NAME); doc.symbol_count()],
            schema,
            local_names,
        }
    }

    fn element_name(&mut self, doc: &Document, node: NodeId) -> Option<u16> {
        Self::cached(&mut self.elements, self.schema, self.local_names, doc, node)
    }

    fn attribute_name(&mut self, doc: &Document, node: NodeId) -> Option<u16> {
        Self::cached(
            &mut self.attributes,
            self.schema,
            self.local_names,
            doc,
            node,
        )
    }

    // Inlined: a hit is a few instructions, cheaper than the call.
    #[inline]
    fn cached(
        cache: &mut [(u32, u16)],
        schema: &'static Schema,
        local_names: &LocalNames,
        doc: &Document,
        node: NodeId,
    ) -> Option<u16> {
        let (ns, local) = doc.name_syms(node);
        let key = u32::try_from(ns.index() + 1).unwrap_or(u32::MAX);
        let id = match cache.get(local.index()) {
            Some(&(k, id)) if k == key => id,
            _ => Self::miss(cache, schema, local_names, doc, node),
        };
        (id != NO_NAME).then_some(id)
    }

    /// Looks a name up and caches the answer (`NO_NAME` when none).
    #[cold]
    #[inline(never)]
    fn miss(
        cache: &mut [(u32, u16)],
        schema: &'static Schema,
        local_names: &LocalNames,
        doc: &Document,
        node: NodeId,
    ) -> u16 {
        let (ns, local) = doc.name_syms(node);
        let key = u32::try_from(ns.index() + 1).unwrap_or(u32::MAX);
        let id = Self::lookup(schema, local_names, doc.sym_str(ns), doc.sym_str(local))
            .unwrap_or(NO_NAME);
        if let Some(slot) = cache.get_mut(local.index()) {
            *slot = (key, id);
        }
        id
    }

    fn lookup(schema: &Schema, local_names: &LocalNames, ns: &str, local: &str) -> Option<u16> {
        let &(start, len) = local_names.get(local)?;
        let start = usize::from(start);
        schema
            .names
            .get(start..start + usize::from(len))?
            .iter()
            .position(|n| {
                schema
                    .namespaces
                    .get(usize::from(n.ns))
                    .is_some_and(|&u| u == ns)
            })
            .and_then(|i| u16::try_from(start + i).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xsd::SchemaSet;

    /// The values a document's attributes and simple elements commonly
    /// hold, and their near misses.
    fn common_values() -> Vec<String> {
        let mut values: Vec<String> = [
            "",
            " ",
            "x",
            "2.16.840.1.113883.2.9.4.3.2",
            "2.16.840.1.113883.6.1",
            "2.01",
            "3.1",
            "2.16.840.1.113883.2.9.2.30.3.2.2.1",
            "1.2.3.",
            "2..1",
            "4f8b3b7c-9a2e-4c1d-8e2f-0a1b2c3d4e5f",
            "4F8B3B7C-9A2E-4C1D-8E2F-0A1B2C3D4E5",
            "a-b-1",
            "20220330112426+0100",
            "20220330",
            "2022033011242",
            "20220330112426.5",
            "2022-03-30",
            "11502-2",
            "LOINC",
            "Referto di laboratorio",
            "  padded ",
            "tab\tin",
            "line\nend",
            "true",
            "false",
            "1",
            "0",
            "TRUE",
            " true",
            "3.5",
            "-0.25",
            "1e3",
            "INF",
            "x1",
            "#nota1",
            "tel:+39 06 1234",
            "mailto:a@b.it",
            "http://h/a b",
            "%zz",
            "é",
            "èà€",
            "DOCCLIN",
            "EVN",
            "OBS",
            "COMP",
            "SBJ",
            "HP WP",
            "H  P",
            "NI",
            "UNK",
            "ST",
            "CD",
            "0123456789abcdef0",
            "Bold Italics",
        ]
        .iter()
        .map(|v| (*v).to_string())
        .collect();
        for set in SchemaSet::ALL {
            for st in set.schema().simple_types {
                for e in st.enumeration {
                    values.push((*e).to_string());
                    values.push(format!("{e} "));
                    values.push(format!("{e}x"));
                    values.push(e.to_lowercase());
                }
            }
        }
        values
    }

    /// The general check, alone: `check_value` without the reports.
    fn general(run: &mut Run<'_>, t: u16, value: &str, normalize: bool) -> bool {
        let at = At {
            element: run.doc.root_element(),
            attribute: None,
        };
        run.check_value(at, t, value, false, normalize)
    }

    fn agree(value: &str) {
        let doc = Document::parse(b"<r/>").unwrap();
        for set in SchemaSet::ALL {
            let mut run = Run::new(&doc, set);
            let types = set.schema().simple_types;
            for (t, st) in types.iter().enumerate() {
                let t = u16::try_from(t).unwrap();
                let settled = run.settles(t, value);
                // xs:ID records what it checks: never settled, never asked.
                if matches!(st.variety, Variety::Atomic(Builtin::Id)) {
                    assert!(!settled);
                    continue;
                }
                for normalize in [false, true] {
                    let valid = general(&mut run, t, value, normalize);
                    if settled {
                        assert!(
                            valid,
                            "type {t} {:?}: {value:?} settled, but invalid",
                            st.name
                        );
                    } else if valid && value.bytes().all(|b| b > b' ') {
                        // A blank-free valid value is settled by any shortcut.
                        assert!(
                            !run.prepared
                                .get(usize::from(t))
                                .is_some_and(Prepared::has_shortcut),
                            "type {t} {:?}: {value:?} valid, not settled",
                            st.name
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn an_element_prefix_resolves_as_the_declarations_say() {
        let doc = Document::parse(
            br#"<r xmlns="urn:a" xmlns:p="urn:p"><p:x xmlns:p="urn:q"><y xmlns=""><p:z/><w xmlns="urn:b"/></y></p:x><q:v xmlns:q="urn:p"/><xml:s/></r>"#,
        )
        .unwrap();
        let root = doc.root_element();
        for node in std::iter::once(root).chain(doc.descendants(root)) {
            if !doc.is_element(node) {
                continue;
            }
            for prefix in ["", "p", "q", "xml", doc.prefix(node)] {
                assert_eq!(
                    qname_namespace(&doc, node, prefix),
                    doc.lookup_namespace(node, prefix),
                    "{} {prefix:?}",
                    doc.qualified_name(node)
                );
            }
        }
    }

    #[test]
    fn shortcuts_agree_with_the_general_check() {
        for value in common_values() {
            agree(&value);
        }
    }

    #[test]
    fn shortcuts_settle_the_common_types() {
        let doc = Document::parse(b"<r/>").unwrap();
        let set = SchemaSet::PocdMt000040Uv02;
        let run = Run::new(&doc, set);
        let types = set.schema().simple_types;
        let named = |name: &str| {
            types
                .iter()
                .position(|st| st.name == Some((1, name)))
                .and_then(|t| u16::try_from(t).ok())
                .unwrap()
        };
        for (name, value) in [
            ("st", "Referto di laboratorio"),
            ("cs", "11502-2"),
            ("uid", "2.16.840.1.113883.2.9.4.3.2"),
            ("uid", "4f8b3b7c-9a2e-4c1d-8e2f-0a1b2c3d4e5f"),
            ("ts", "20220330112426+0100"),
            ("bl", "true"),
            ("ActClass", "DOCCLIN"),
            ("ActRelationshipType", "COMP"),
            ("url", "#nota1"),
            ("real", "3.5"),
        ] {
            assert!(run.settles(named(name), value), "{name}: {value:?}");
        }
        assert!(!run.settles(named("cs"), " 11502-2"));
        assert!(!run.settles(named("uid"), "2..1"));
    }

    proptest::proptest! {
        #[test]
        fn shortcuts_agree_on_any_value(
            value in "[0-2a-fA-Z.\\-+:# \t\u{e9}]{0,20}|[0-9]{1,16}([.][0-9]{0,3})?([+-][0-9]{0,5})?"
        ) {
            agree(&value);
        }
    }
}
