//! From schema documents to resolved components: every type reachable from
//! the global elements and every named complex type (an `xsi:type` may name
//! any of them), with attribute uses and content models flattened the way
//! libxml2 builds them.
//!
//! Only the constructs the CDA sets use are supported; anything else stops
//! generation with the file and line, so a new catalog cannot be
//! half-understood silently.

use std::collections::{BTreeMap, HashMap, VecDeque};

use anyhow::{Context, anyhow, bail};

use super::load::{Node, SchemaDoc, XS};

/// A qualified name: (namespace URI, local name).
pub type QName = (String, String);

/// A reference to a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TypeRef {
    Simple(usize),
    Complex(usize),
}

/// Occurrence bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Max {
    Bounded(u32),
    Unbounded,
}

/// A content-model particle.
#[derive(Debug, Clone)]
pub enum Particle {
    Element {
        decl: usize,
        min: u32,
        max: Max,
    },
    Sequence {
        items: Vec<Particle>,
        min: u32,
        max: Max,
    },
    Choice {
        items: Vec<Particle>,
        min: u32,
        max: Max,
    },
}

/// An element declaration (deduplicated by value).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ElementDecl {
    pub name: QName,
    pub ty: TypeRef,
    pub nillable: bool,
}

/// How a complex type derives from its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derivation {
    Extension,
    Restriction,
}

/// An attribute use, after group expansion and inheritance.
#[derive(Debug, Clone)]
pub struct AttributeUse {
    pub name: QName,
    pub ty: usize,
    pub required: bool,
    pub prohibited: bool,
    pub fixed: Option<String>,
}

/// A complex type.
#[derive(Debug, Clone, Default)]
pub struct ComplexType {
    pub name: Option<QName>,
    /// `None`: derived from `xs:anyType`.
    pub base: Option<TypeRef>,
    pub is_abstract: bool,
    pub mixed: bool,
    /// The effective content model; `None`: no element content.
    pub particle: Option<Particle>,
    pub attributes: Vec<AttributeUse>,
}

/// The built-in simple types we support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Builtin {
    AnySimpleType,
    String,
    NormalizedString,
    Token,
    Nmtoken,
    Nmtokens,
    Name,
    NcName,
    Id,
    Idref,
    Idrefs,
    Boolean,
    Decimal,
    Integer,
    Double,
    AnyUri,
    Base64Binary,
}

impl Builtin {
    pub fn from_name(name: &str) -> Option<Builtin> {
        Some(match name {
            "anySimpleType" => Builtin::AnySimpleType,
            "string" => Builtin::String,
            "normalizedString" => Builtin::NormalizedString,
            "token" => Builtin::Token,
            "NMTOKEN" => Builtin::Nmtoken,
            "NMTOKENS" => Builtin::Nmtokens,
            "Name" => Builtin::Name,
            "NCName" => Builtin::NcName,
            "ID" => Builtin::Id,
            "IDREF" => Builtin::Idref,
            "IDREFS" => Builtin::Idrefs,
            "boolean" => Builtin::Boolean,
            "decimal" => Builtin::Decimal,
            "integer" => Builtin::Integer,
            "double" => Builtin::Double,
            "anyURI" => Builtin::AnyUri,
            "base64Binary" => Builtin::Base64Binary,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Builtin::AnySimpleType => "anySimpleType",
            Builtin::String => "string",
            Builtin::NormalizedString => "normalizedString",
            Builtin::Token => "token",
            Builtin::Nmtoken => "NMTOKEN",
            Builtin::Nmtokens => "NMTOKENS",
            Builtin::Name => "Name",
            Builtin::NcName => "NCName",
            Builtin::Id => "ID",
            Builtin::Idref => "IDREF",
            Builtin::Idrefs => "IDREFS",
            Builtin::Boolean => "boolean",
            Builtin::Decimal => "decimal",
            Builtin::Integer => "integer",
            Builtin::Double => "double",
            Builtin::AnyUri => "anyURI",
            Builtin::Base64Binary => "base64Binary",
        }
    }

    /// The item type of the built-in list types.
    pub fn list_item(self) -> Option<Builtin> {
        match self {
            Builtin::Nmtokens => Some(Builtin::Nmtoken),
            Builtin::Idrefs => Some(Builtin::Idref),
            _ => None,
        }
    }

    pub fn whitespace(self) -> Whitespace {
        match self {
            Builtin::AnySimpleType | Builtin::String => Whitespace::Preserve,
            Builtin::NormalizedString => Whitespace::Replace,
            _ => Whitespace::Collapse,
        }
    }
}

/// Every built-in type name of XML Schema 1.0: an `xsi:type` naming one
/// resolves (then fails the derivation check) rather than not resolving.
pub const ALL_BUILTIN_NAMES: &[&str] = &[
    "ENTITIES",
    "ENTITY",
    "ID",
    "IDREF",
    "IDREFS",
    "NCName",
    "NMTOKEN",
    "NMTOKENS",
    "NOTATION",
    "Name",
    "QName",
    "anySimpleType",
    "anyType",
    "anyURI",
    "base64Binary",
    "boolean",
    "byte",
    "date",
    "dateTime",
    "decimal",
    "double",
    "duration",
    "float",
    "gDay",
    "gMonth",
    "gMonthDay",
    "gYear",
    "gYearMonth",
    "hexBinary",
    "int",
    "integer",
    "language",
    "long",
    "negativeInteger",
    "nonNegativeInteger",
    "nonPositiveInteger",
    "normalizedString",
    "positiveInteger",
    "short",
    "string",
    "time",
    "token",
    "unsignedByte",
    "unsignedInt",
    "unsignedLong",
    "unsignedShort",
];

/// The whiteSpace facet value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whitespace {
    Preserve,
    Replace,
    Collapse,
}

/// What a simple type is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Variety {
    /// Atomic, validated lexically by this built-in.
    Atomic(Builtin),
    /// A whitespace-separated list of the item type.
    List(usize),
    /// A union of the member types, tried in order.
    Union(Vec<usize>),
}

/// A facet with its value as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    pub enumeration: Vec<String>,
    pub patterns: Vec<String>,
    pub length: Option<u32>,
    pub min_length: Option<u32>,
    pub max_length: Option<u32>,
    pub min_inclusive: Option<String>,
    pub max_inclusive: Option<String>,
    pub min_exclusive: Option<String>,
    pub max_exclusive: Option<String>,
}

impl Facets {
    fn is_empty(&self) -> bool {
        *self == Facets::default()
    }
}

/// A simple type.
#[derive(Debug, Clone)]
pub struct SimpleType {
    pub name: Option<QName>,
    /// Set for the built-in types themselves.
    pub builtin: Option<Builtin>,
    pub variety: Variety,
    /// The restriction base, when it is not a built-in (libxml2 walks
    /// facets up to the first built-in).
    pub base: Option<usize>,
    /// The base, built-ins included: for `xsi:type` derivation checks.
    pub derivation_base: Option<usize>,
    pub whitespace: Whitespace,
    pub facets: Facets,
    /// Whether this type or an ancestor up to the built-in has facets.
    pub has_facets: bool,
    /// Whether values are whitespace-normalized before facets (libxml2's
    /// NORMVALUENEEDED: an enumeration or pattern on the way up).
    pub normalize: bool,
}

/// A compiled set.
#[derive(Debug, Default)]
pub struct Compiled {
    pub simple: Vec<SimpleType>,
    pub complex: Vec<ComplexType>,
    pub elements: Vec<ElementDecl>,
    /// Global element declarations (validation roots and `ref` targets).
    pub roots: Vec<usize>,
    /// Every named type an `xsi:type` may name: (name, type), `None` for a
    /// type the tables do not carry (a built-in or simple type nothing uses:
    /// naming one fails the derivation check).
    pub named: Vec<(QName, Option<TypeRef>)>,
}

#[derive(Clone, Copy)]
struct Def<'a> {
    doc: &'a SchemaDoc,
    node: &'a Node,
}

impl Def<'_> {
    fn err(&self, message: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("{} line {}: {message}", self.doc.file, self.node.line)
    }
}

struct Compiler<'a> {
    complex_defs: BTreeMap<QName, Def<'a>>,
    simple_defs: BTreeMap<QName, Def<'a>>,
    element_defs: BTreeMap<QName, Def<'a>>,
    attribute_defs: BTreeMap<QName, Def<'a>>,
    attribute_group_defs: BTreeMap<QName, Def<'a>>,
    group_defs: BTreeMap<QName, Def<'a>>,
    out: Compiled,
    complex_ids: HashMap<(usize, usize), usize>,
    simple_ids: HashMap<(usize, usize), usize>,
    builtin_ids: HashMap<Builtin, usize>,
    element_ids: HashMap<ElementDecl, usize>,
    global_element_ids: BTreeMap<QName, usize>,
    /// Complex types whose body is still to compile.
    pending: VecDeque<(usize, Def<'a>)>,
    /// Complex types compiled (bodies filled).
    done: Vec<bool>,
}

/// Compiles a set: roots are every global element, then every named
/// complex type, in name order, so indices are deterministic.
pub fn compile(docs: &[SchemaDoc]) -> anyhow::Result<Compiled> {
    let mut c = Compiler {
        complex_defs: BTreeMap::new(),
        simple_defs: BTreeMap::new(),
        element_defs: BTreeMap::new(),
        attribute_defs: BTreeMap::new(),
        attribute_group_defs: BTreeMap::new(),
        group_defs: BTreeMap::new(),
        out: Compiled::default(),
        complex_ids: HashMap::new(),
        simple_ids: HashMap::new(),
        builtin_ids: HashMap::new(),
        element_ids: HashMap::new(),
        global_element_ids: BTreeMap::new(),
        pending: VecDeque::new(),
        done: Vec::new(),
    };
    for doc in docs {
        check_schema_attributes(doc)?;
        for node in doc.root.xs_children() {
            let def = Def { doc, node };
            let table = match node.local.as_str() {
                "complexType" => &mut c.complex_defs,
                "simpleType" => &mut c.simple_defs,
                "element" => &mut c.element_defs,
                "attribute" => &mut c.attribute_defs,
                "attributeGroup" => &mut c.attribute_group_defs,
                "group" => &mut c.group_defs,
                "include" | "import" | "notation" => continue,
                other => return Err(def.err(format!("top-level xs:{other} is not supported"))),
            };
            let name = node
                .attr("name")
                .ok_or_else(|| def.err("top-level component without a name"))?;
            let key = (doc.target_ns.clone(), name.to_string());
            if table.insert(key.clone(), def).is_some() {
                return Err(def.err(format!("{{{}}}{} is defined twice", key.0, key.1)));
            }
        }
    }

    let global_elements: Vec<QName> = c.element_defs.keys().cloned().collect();
    for name in &global_elements {
        let id = c.global_element(name)?;
        c.out.roots.push(id);
        c.drain()?;
    }
    let complex_names: Vec<QName> = c.complex_defs.keys().cloned().collect();
    for name in &complex_names {
        c.complex_by_name(name)?;
        c.drain()?;
    }

    // The named types, sorted by (local, namespace) for lookup.
    let mut named: Vec<(QName, Option<TypeRef>)> = Vec::new();
    for (i, t) in c.out.complex.iter().enumerate() {
        if let Some(name) = &t.name {
            named.push((name.clone(), Some(TypeRef::Complex(i))));
        }
    }
    for (i, t) in c.out.simple.iter().enumerate() {
        if let Some(name) = &t.name {
            named.push((name.clone(), Some(TypeRef::Simple(i))));
        }
    }
    // Named simple types nothing uses are carried by name only: an xsi:type
    // naming one can only be valid on an element whose declared simple type
    // it derives from, which we rule out here.
    let element_simple_types: Vec<QName> = c
        .out
        .elements
        .iter()
        .filter_map(|e| match e.ty {
            TypeRef::Simple(s) => c.out.simple[s].name.clone(),
            TypeRef::Complex(_) => None,
        })
        .collect();
    for (name, def) in &c.simple_defs {
        if named.iter().any(|(n, _)| n == name) {
            continue;
        }
        let mut at = Some((name.clone(), *def));
        let mut steps = 0;
        while let Some((n, d)) = at.take() {
            if element_simple_types.contains(&n) {
                return Err(def.err(format!(
                    "unused simple type {} derives from an element's type",
                    name.1
                )));
            }
            steps += 1;
            let base = d
                .node
                .xs_children()
                .find(|k| k.is("restriction"))
                .and_then(|r| r.attr("base"));
            if let (Some(b), true) = (base, steps < 64) {
                let bq = c.resolve(
                    Def {
                        doc: d.doc,
                        node: d.node,
                    },
                    b,
                )?;
                at = c.simple_defs.get(&bq).map(|bd| (bq, *bd));
            }
        }
        named.push((name.clone(), None));
    }
    for builtin in ALL_BUILTIN_NAMES {
        let name = (XS.to_string(), (*builtin).to_string());
        if !named.iter().any(|(n, _)| *n == name) {
            named.push((name, None));
        }
    }
    named.sort_by(|(a, _), (b, _)| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    c.out.named = named;

    Ok(c.out)
}

fn check_schema_attributes(doc: &SchemaDoc) -> anyhow::Result<()> {
    for attr in ["blockDefault", "finalDefault"] {
        if doc.root.attr(attr).is_some() {
            bail!("{}: {attr} is not supported", doc.file);
        }
    }
    Ok(())
}

fn parse_occurs(def: Def<'_>) -> anyhow::Result<(u32, Max)> {
    let min = match def.node.attr("minOccurs") {
        None => 1,
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| def.err(format!("bad minOccurs {v:?}")))?,
    };
    let max = match def.node.attr("maxOccurs").map(str::trim) {
        None => Max::Bounded(1),
        Some("unbounded") => Max::Unbounded,
        Some(v) => Max::Bounded(
            v.parse()
                .map_err(|_| def.err(format!("bad maxOccurs {v:?}")))?,
        ),
    };
    Ok((min, max))
}

impl<'a> Compiler<'a> {
    /// Resolves a QName-valued attribute in the context of `def`.
    fn resolve(&self, def: Def<'a>, value: &str) -> anyhow::Result<QName> {
        let value = value.trim();
        let (prefix, local) = value.split_once(':').unwrap_or(("", value));
        let ns = match def.node.namespace_of(prefix) {
            Some(ns) => ns.to_string(),
            None if prefix.is_empty() => String::new(),
            None => return Err(def.err(format!("prefix {prefix:?} of {value:?} is not declared"))),
        };
        // A chameleon's references to no namespace mean the includer's.
        let ns = if ns.is_empty() && def.doc.chameleon {
            def.doc.target_ns.clone()
        } else {
            ns
        };
        Ok((ns, local.to_string()))
    }

    fn drain(&mut self) -> anyhow::Result<()> {
        while let Some((id, def)) = self.pending.pop_front() {
            let body = self
                .complex_body(def)
                .with_context(|| format!("in {}", def.err("complex type")))?;
            let name = self.out.complex[id].name.clone();
            self.out.complex[id] = ComplexType { name, ..body };
            self.done[id] = true;
        }
        Ok(())
    }

    fn global_element(&mut self, name: &QName) -> anyhow::Result<usize> {
        if let Some(&id) = self.global_element_ids.get(name) {
            return Ok(id);
        }
        let def = *self
            .element_defs
            .get(name)
            .ok_or_else(|| anyhow!("element {{{}}}{} is not declared", name.0, name.1))?;
        let decl = self.element_decl(def, name.clone())?;
        self.global_element_ids.insert(name.clone(), decl);
        Ok(decl)
    }

    fn element_decl(&mut self, def: Def<'a>, name: QName) -> anyhow::Result<usize> {
        for unsupported in [
            "substitutionGroup",
            "abstract",
            "block",
            "final",
            "fixed",
            "default",
        ] {
            if def.node.attr(unsupported).is_some() {
                return Err(def.err(format!("element @{unsupported} is not supported")));
            }
        }
        let inline = def
            .node
            .xs_children()
            .find(|c| c.is("complexType") || c.is("simpleType"));
        let ty = match (def.node.attr("type"), inline) {
            (Some(t), None) => {
                let qname = self.resolve(def, t)?;
                self.type_by_name(&qname).map_err(|e| def.err(e))?
            }
            (None, Some(node)) if node.is("complexType") => {
                TypeRef::Complex(self.complex_anonymous(Def { doc: def.doc, node })?)
            }
            (None, Some(node)) => {
                TypeRef::Simple(self.simple_anonymous(Def { doc: def.doc, node })?)
            }
            (None, None) => {
                return Err(def.err("element without a type (xs:anyType) is not supported"));
            }
            (Some(_), Some(_)) => return Err(def.err("element with both @type and an inline type")),
        };
        for child in def.node.xs_children() {
            if !(child.is("complexType") || child.is("simpleType")) {
                return Err(def.err(format!("xs:{} in an element is not supported", child.local)));
            }
        }
        let decl = ElementDecl {
            name,
            ty,
            nillable: def.node.attr("nillable").map(str::trim) == Some("true"),
        };
        if let Some(&id) = self.element_ids.get(&decl) {
            return Ok(id);
        }
        let id = self.out.elements.len();
        self.out.elements.push(decl.clone());
        self.element_ids.insert(decl, id);
        Ok(id)
    }

    fn type_by_name(&mut self, name: &QName) -> anyhow::Result<TypeRef> {
        if name.0 == XS {
            if name.1 == "anyType" {
                bail!("xs:anyType as a type is not supported");
            }
            let builtin = Builtin::from_name(&name.1)
                .ok_or_else(|| anyhow!("built-in type xs:{} is not supported", name.1))?;
            return Ok(TypeRef::Simple(self.builtin(builtin)));
        }
        if self.complex_defs.contains_key(name) {
            return Ok(TypeRef::Complex(self.complex_by_name(name)?));
        }
        if self.simple_defs.contains_key(name) {
            return Ok(TypeRef::Simple(self.simple_by_name(name)?));
        }
        bail!("type {{{}}}{} is not defined", name.0, name.1)
    }

    fn builtin(&mut self, builtin: Builtin) -> usize {
        if let Some(&id) = self.builtin_ids.get(&builtin) {
            return id;
        }
        let variety = match builtin.list_item() {
            Some(item) => Variety::List(self.builtin(item)),
            None => Variety::Atomic(builtin),
        };
        let facets = if builtin.list_item().is_some() {
            Facets {
                min_length: Some(1),
                ..Facets::default()
            }
        } else {
            Facets::default()
        };
        let id = self.out.simple.len();
        self.out.simple.push(SimpleType {
            name: Some((XS.to_string(), builtin.name().to_string())),
            builtin: Some(builtin),
            variety,
            base: None,
            derivation_base: None,
            whitespace: builtin.whitespace(),
            has_facets: !facets.is_empty(),
            facets,
            normalize: false,
        });
        self.builtin_ids.insert(builtin, id);
        id
    }

    fn complex_by_name(&mut self, name: &QName) -> anyhow::Result<usize> {
        let def = *self
            .complex_defs
            .get(name)
            .ok_or_else(|| anyhow!("no complex type {{{}}}{}", name.0, name.1))?;
        self.complex_for(def, Some(name.clone()))
    }

    fn complex_anonymous(&mut self, def: Def<'a>) -> anyhow::Result<usize> {
        self.complex_for(def, None)
    }

    fn complex_for(&mut self, def: Def<'a>, name: Option<QName>) -> anyhow::Result<usize> {
        let key = (
            std::ptr::from_ref(def.doc) as usize,
            std::ptr::from_ref(def.node) as usize,
        );
        if let Some(&id) = self.complex_ids.get(&key) {
            return Ok(id);
        }
        let id = self.out.complex.len();
        self.out.complex.push(ComplexType {
            name,
            ..ComplexType::default()
        });
        self.done.push(false);
        self.complex_ids.insert(key, id);
        self.pending.push_back((id, def));
        Ok(id)
    }

    /// Compiles a complex type's body; its base must be complete first.
    fn complex_body(&mut self, def: Def<'a>) -> anyhow::Result<ComplexType> {
        let node = def.node;
        for unsupported in ["block", "final"] {
            if node.attr(unsupported).is_some() {
                return Err(def.err(format!("complexType @{unsupported} is not supported")));
            }
        }
        let is_abstract = node.attr("abstract").map(str::trim) == Some("true");
        let mut mixed = node.attr("mixed").map(str::trim) == Some("true");
        let content = node
            .xs_children()
            .find(|c| c.is("complexContent") || c.is("simpleContent"));
        let (derivation, base, body) = match content {
            Some(cc) if cc.is("simpleContent") => {
                return Err(def.err("xs:simpleContent is not supported"));
            }
            Some(cc) => {
                if let Some(m) = cc.attr("mixed") {
                    mixed = m.trim() == "true";
                }
                let mut kids = cc.xs_children();
                let d = kids.next().ok_or_else(|| def.err("empty complexContent"))?;
                let derivation = match d.local.as_str() {
                    "extension" => Derivation::Extension,
                    "restriction" => Derivation::Restriction,
                    other => return Err(def.err(format!("xs:{other} in complexContent"))),
                };
                let base_name = self.resolve(
                    Def {
                        doc: def.doc,
                        node: d,
                    },
                    d.attr("base").unwrap_or_default(),
                )?;
                let base = if base_name == (XS.to_string(), "anyType".to_string()) {
                    None
                } else {
                    match self.type_by_name(&base_name).map_err(|e| def.err(e))? {
                        TypeRef::Complex(b) => Some(b),
                        TypeRef::Simple(_) => {
                            return Err(def.err("complexContent derived from a simple type"));
                        }
                    }
                };
                (derivation, base, d)
            }
            None => (Derivation::Restriction, None, node),
        };

        // The base's body must be complete to inherit from it.
        if let Some(b) = base
            && !self.done[b]
        {
            let pos = self.pending.iter().position(|&(id, _)| id == b);
            let Some((_, bdef)) = pos.and_then(|pos| self.pending.remove(pos)) else {
                return Err(def.err("circular type derivation"));
            };
            let bbody = self.complex_body(bdef)?;
            let bname = self.out.complex[b].name.clone();
            self.out.complex[b] = ComplexType {
                name: bname,
                ..bbody
            };
            self.done[b] = true;
        }

        let mut own_particle = None;
        let mut own_attrs: Vec<AttributeUse> = Vec::new();
        for child in body.xs_children() {
            let cdef = Def {
                doc: def.doc,
                node: child,
            };
            match child.local.as_str() {
                "sequence" | "choice" | "group" => {
                    if own_particle.is_some() {
                        return Err(cdef.err("two model groups in one type"));
                    }
                    own_particle = self.particle(cdef)?;
                }
                "all" => return Err(cdef.err("xs:all is not supported")),
                "attribute" => own_attrs.push(self.attribute_use(cdef)?),
                "attributeGroup" => self.expand_attribute_group(cdef, &mut own_attrs, 0)?,
                "anyAttribute" => return Err(cdef.err("xs:anyAttribute is not supported")),
                "complexContent" | "simpleContent" => {}
                other => {
                    return Err(cdef.err(format!("xs:{other} in a complex type is not supported")));
                }
            }
        }
        let own_particle = own_particle.filter(|p| !is_empty_particle(p));

        let base_type = base.map(|b| self.out.complex[b].clone());
        let particle = match (derivation, &base_type) {
            (Derivation::Extension, Some(bt)) => match (bt.particle.clone(), own_particle) {
                (None, own) => own,
                (Some(b), None) => Some(b),
                (Some(b), Some(own)) => Some(Particle::Sequence {
                    items: vec![b, own],
                    min: 1,
                    max: Max::Bounded(1),
                }),
            },
            _ => own_particle,
        };

        // libxml2's order: own uses (groups expanded in place), then the
        // base's; a restriction drops the base's uses it redeclares or
        // prohibits, and prohibitions are no uses.
        let prohibited: Vec<QName> = own_attrs
            .iter()
            .filter(|u| u.prohibited)
            .map(|u| u.name.clone())
            .collect();
        // A prohibition is no use (libxml2 ignores one in an extension).
        let mut attributes: Vec<AttributeUse> = own_attrs
            .iter()
            .filter(|u| !u.prohibited)
            .cloned()
            .collect();
        if let Some(bt) = &base_type {
            for u in &bt.attributes {
                let redeclared = own_attrs.iter().any(|o| o.name == u.name && !o.prohibited);
                if derivation == Derivation::Restriction
                    && (redeclared || prohibited.contains(&u.name))
                {
                    continue;
                }
                attributes.push(u.clone());
            }
        }

        Ok(ComplexType {
            name: None,
            base: base.map(TypeRef::Complex),
            is_abstract,
            mixed,
            particle,
            attributes,
        })
    }

    fn particle(&mut self, def: Def<'a>) -> anyhow::Result<Option<Particle>> {
        let (min, max) = parse_occurs(def)?;
        let node = def.node;
        match node.local.as_str() {
            "element" => {
                let decl = match node.attr("ref") {
                    Some(r) => {
                        let name = self.resolve(def, r)?;
                        self.global_element(&name)?
                    }
                    None => {
                        let local = node
                            .attr("name")
                            .ok_or_else(|| def.err("element without a name"))?;
                        let qualified = match node.attr("form").map(str::trim) {
                            Some("qualified") => true,
                            Some(_) => false,
                            None => def.doc.elements_qualified,
                        };
                        let ns = if qualified {
                            def.doc.target_ns.clone()
                        } else {
                            String::new()
                        };
                        self.element_decl(def, (ns, local.to_string()))?
                    }
                };
                Ok(Some(Particle::Element { decl, min, max }))
            }
            "sequence" | "choice" => {
                let mut items = Vec::new();
                for child in node.xs_children() {
                    let cdef = Def {
                        doc: def.doc,
                        node: child,
                    };
                    match child.local.as_str() {
                        "element" | "sequence" | "choice" | "group" => {
                            if let Some(p) = self.particle(cdef)? {
                                items.push(p);
                            }
                        }
                        other => {
                            return Err(
                                cdef.err(format!("xs:{other} in a model group is not supported"))
                            );
                        }
                    }
                }
                if max == Max::Bounded(0) {
                    return Err(def.err("maxOccurs=0 on a model group is not supported"));
                }
                Ok(Some(if node.local == "sequence" {
                    Particle::Sequence { items, min, max }
                } else {
                    Particle::Choice { items, min, max }
                }))
            }
            "group" => {
                let r = node
                    .attr("ref")
                    .ok_or_else(|| def.err("xs:group without ref"))?;
                let name = self.resolve(def, r)?;
                let gdef = *self
                    .group_defs
                    .get(&name)
                    .ok_or_else(|| def.err(format!("no group {r}")))?;
                let inner = gdef
                    .node
                    .xs_children()
                    .next()
                    .ok_or_else(|| gdef.err("empty group"))?;
                let inner = self.particle(Def {
                    doc: gdef.doc,
                    node: inner,
                })?;
                Ok(inner.map(|p| {
                    if (min, max) == (1, Max::Bounded(1)) {
                        p
                    } else {
                        Particle::Sequence {
                            items: vec![p],
                            min,
                            max,
                        }
                    }
                }))
            }
            other => Err(def.err(format!("xs:{other} as a particle is not supported"))),
        }
    }

    fn attribute_use(&mut self, def: Def<'a>) -> anyhow::Result<AttributeUse> {
        let node = def.node;
        let use_ = node.attr("use").map_or("optional", str::trim);
        let (name, decl_def) = match node.attr("ref") {
            Some(r) => {
                let name = self.resolve(def, r)?;
                let d = *self
                    .attribute_defs
                    .get(&name)
                    .ok_or_else(|| def.err(format!("no attribute {r}")))?;
                (name, d)
            }
            None => {
                let local = node
                    .attr("name")
                    .ok_or_else(|| def.err("attribute without a name"))?;
                let qualified = match node.attr("form").map(str::trim) {
                    Some("qualified") => true,
                    Some(_) => false,
                    None => def.doc.attributes_qualified,
                };
                let ns = if qualified {
                    def.doc.target_ns.clone()
                } else {
                    String::new()
                };
                ((ns, local.to_string()), def)
            }
        };
        let inline = decl_def.node.xs_children().find(|c| c.is("simpleType"));
        let ty = match (decl_def.node.attr("type"), inline) {
            (Some(t), None) => {
                let qname = self.resolve(decl_def, t)?;
                match self.type_by_name(&qname).map_err(|e| decl_def.err(e))? {
                    TypeRef::Simple(s) => s,
                    TypeRef::Complex(_) => return Err(decl_def.err("attribute of a complex type")),
                }
            }
            (None, Some(n)) => self.simple_anonymous(Def {
                doc: decl_def.doc,
                node: n,
            })?,
            (None, None) => self.builtin(Builtin::AnySimpleType),
            (Some(_), Some(_)) => {
                return Err(decl_def.err("attribute with both @type and an inline type"));
            }
        };
        // A fixed value on the use wins over the declaration's.
        let fixed = node
            .attr("fixed")
            .or_else(|| decl_def.node.attr("fixed"))
            .map(str::to_string);
        Ok(AttributeUse {
            name,
            ty,
            required: use_ == "required",
            prohibited: use_ == "prohibited",
            fixed,
        })
    }

    fn expand_attribute_group(
        &mut self,
        def: Def<'a>,
        into: &mut Vec<AttributeUse>,
        depth: usize,
    ) -> anyhow::Result<()> {
        if depth > 32 {
            return Err(def.err("attribute groups nested too deep (a cycle?)"));
        }
        let r = def
            .node
            .attr("ref")
            .ok_or_else(|| def.err("attributeGroup without ref"))?;
        let name = self.resolve(def, r)?;
        let gdef = *self
            .attribute_group_defs
            .get(&name)
            .ok_or_else(|| def.err(format!("no attributeGroup {r}")))?;
        for child in gdef.node.xs_children() {
            let cdef = Def {
                doc: gdef.doc,
                node: child,
            };
            match child.local.as_str() {
                "attribute" => into.push(self.attribute_use(cdef)?),
                "attributeGroup" => self.expand_attribute_group(cdef, into, depth + 1)?,
                other => {
                    return Err(
                        cdef.err(format!("xs:{other} in an attribute group is not supported"))
                    );
                }
            }
        }
        Ok(())
    }

    fn simple_by_name(&mut self, name: &QName) -> anyhow::Result<usize> {
        let def = *self
            .simple_defs
            .get(name)
            .ok_or_else(|| anyhow!("no simple type {{{}}}{}", name.0, name.1))?;
        self.simple_for(def, Some(name.clone()))
    }

    fn simple_anonymous(&mut self, def: Def<'a>) -> anyhow::Result<usize> {
        self.simple_for(def, None)
    }

    fn simple_for(&mut self, def: Def<'a>, name: Option<QName>) -> anyhow::Result<usize> {
        let key = (
            std::ptr::from_ref(def.doc) as usize,
            std::ptr::from_ref(def.node) as usize,
        );
        if let Some(&id) = self.simple_ids.get(&key) {
            if id == usize::MAX {
                return Err(def.err("circular simple type definition"));
            }
            return Ok(id);
        }
        self.simple_ids.insert(key, usize::MAX);
        let body = self.simple_body(def, name)?;
        let id = self.out.simple.len();
        self.out.simple.push(body);
        self.simple_ids.insert(key, id);
        Ok(id)
    }

    fn simple_body(&mut self, def: Def<'a>, name: Option<QName>) -> anyhow::Result<SimpleType> {
        if def.node.attr("final").is_some() {
            return Err(def.err("simpleType @final is not supported"));
        }
        let mut kids = def.node.xs_children();
        let d = kids.next().ok_or_else(|| def.err("empty simpleType"))?;
        let ddef = Def {
            doc: def.doc,
            node: d,
        };
        match d.local.as_str() {
            "restriction" => {
                let base = match d.attr("base") {
                    Some(b) => {
                        let qname = self.resolve(ddef, b)?;
                        match self.type_by_name(&qname).map_err(|e| ddef.err(e))? {
                            TypeRef::Simple(s) => s,
                            TypeRef::Complex(_) => {
                                return Err(ddef.err("simple type restricting a complex type"));
                            }
                        }
                    }
                    None => {
                        let inline = d
                            .xs_children()
                            .find(|c| c.is("simpleType"))
                            .ok_or_else(|| ddef.err("no base"))?;
                        self.simple_anonymous(Def {
                            doc: def.doc,
                            node: inline,
                        })?
                    }
                };
                let mut facets = Facets::default();
                for f in d.xs_children() {
                    let fdef = Def {
                        doc: def.doc,
                        node: f,
                    };
                    let value = || {
                        f.attr("value")
                            .map(str::to_string)
                            .ok_or_else(|| fdef.err("facet without value"))
                    };
                    let number = || -> anyhow::Result<u32> {
                        value()?
                            .trim()
                            .parse()
                            .map_err(|_| fdef.err("bad length facet"))
                    };
                    match f.local.as_str() {
                        "simpleType" => {}
                        "enumeration" => facets.enumeration.push(value()?),
                        "pattern" => facets.patterns.push(value()?),
                        "length" => facets.length = Some(number()?),
                        "minLength" => facets.min_length = Some(number()?),
                        "maxLength" => facets.max_length = Some(number()?),
                        "minInclusive" => facets.min_inclusive = Some(value()?),
                        "maxInclusive" => facets.max_inclusive = Some(value()?),
                        "minExclusive" => facets.min_exclusive = Some(value()?),
                        "maxExclusive" => facets.max_exclusive = Some(value()?),
                        other => return Err(fdef.err(format!("facet xs:{other} is not supported"))),
                    }
                }
                let b = self.out.simple[base].clone();
                let variety = b.variety.clone();
                let own_norm = !facets.enumeration.is_empty() || !facets.patterns.is_empty();
                Ok(SimpleType {
                    name,
                    builtin: None,
                    variety,
                    base: if b.builtin.is_some() {
                        None
                    } else {
                        Some(base)
                    },
                    derivation_base: Some(base),
                    whitespace: b.whitespace,
                    has_facets: b.has_facets || !facets.is_empty(),
                    normalize: own_norm || (b.has_facets && b.normalize),
                    facets,
                })
            }
            "list" => {
                let item = match d.attr("itemType") {
                    Some(t) => {
                        let qname = self.resolve(ddef, t)?;
                        match self.type_by_name(&qname).map_err(|e| ddef.err(e))? {
                            TypeRef::Simple(s) => s,
                            TypeRef::Complex(_) => return Err(ddef.err("list of a complex type")),
                        }
                    }
                    None => {
                        let inline = d
                            .xs_children()
                            .find(|c| c.is("simpleType"))
                            .ok_or_else(|| ddef.err("no item"))?;
                        self.simple_anonymous(Def {
                            doc: def.doc,
                            node: inline,
                        })?
                    }
                };
                Ok(SimpleType {
                    name,
                    builtin: None,
                    variety: Variety::List(item),
                    base: None,
                    derivation_base: None,
                    whitespace: Whitespace::Collapse,
                    facets: Facets::default(),
                    has_facets: false,
                    normalize: false,
                })
            }
            "union" => {
                let mut members = Vec::new();
                for t in d.attr("memberTypes").unwrap_or_default().split_whitespace() {
                    let qname = self.resolve(ddef, t)?;
                    match self.type_by_name(&qname).map_err(|e| ddef.err(e))? {
                        TypeRef::Simple(s) => members.push(s),
                        TypeRef::Complex(_) => return Err(ddef.err("union of a complex type")),
                    }
                }
                for inline in d.xs_children().filter(|c| c.is("simpleType")) {
                    members.push(self.simple_anonymous(Def {
                        doc: def.doc,
                        node: inline,
                    })?);
                }
                if members.is_empty() {
                    return Err(ddef.err("union without members"));
                }
                Ok(SimpleType {
                    name,
                    builtin: None,
                    variety: Variety::Union(members),
                    base: None,
                    derivation_base: None,
                    // libxml2 does not normalize at the union level: each
                    // member does.
                    whitespace: Whitespace::Preserve,
                    facets: Facets::default(),
                    has_facets: false,
                    normalize: false,
                })
            }
            other => Err(ddef.err(format!("xs:{other} in a simpleType is not supported"))),
        }
    }
}

fn is_empty_particle(p: &Particle) -> bool {
    match p {
        Particle::Element { .. } => false,
        Particle::Sequence { items, .. } | Particle::Choice { items, .. } => {
            items.iter().all(is_empty_particle)
        }
    }
}
