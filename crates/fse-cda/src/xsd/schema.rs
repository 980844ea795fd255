//! The shape of the generated tables (`generated/`): one [`Schema`] per
//! XSD set, every cross-reference an index into the schema's tables.

/// A compiled XSD set.
#[derive(Debug)]
pub(crate) struct Schema {
    /// The `typeId/@extension` that selects this set.
    pub type_id: &'static str,
    /// Namespace URIs; index 0 is "no namespace".
    pub namespaces: &'static [&'static str],
    /// Element and attribute names, sorted by local name then namespace.
    pub names: &'static [Name],
    /// Global element declarations: the possible validation roots.
    pub roots: &'static [u16],
    /// Element declarations.
    pub elements: &'static [Element],
    /// Complex types.
    pub complex_types: &'static [ComplexType],
    /// Simple types, built-ins included.
    pub simple_types: &'static [SimpleType],
    /// Every type an `xsi:type` may name, sorted by local name then namespace.
    pub named_types: &'static [NamedType],
    /// The XSD regular expressions of pattern facets, as written.
    pub patterns: &'static [&'static str],
    /// The states of every complex type's content automaton.
    pub states: &'static [State],
    /// The moves of every state, each state's a run of this table.
    pub transitions: &'static [Transition],
    /// Names (indices into [`Self::names`]) libxml2 lists after "Expected
    /// is", each state's two lists a run of this table.
    pub expected: &'static [u16],
}

/// "No index" in the generated constructors' arguments.
pub(crate) const NONE: u16 = u16::MAX;

const fn some(i: u16) -> Option<u16> {
    if i == NONE { None } else { Some(i) }
}

/// An element or attribute name.
#[derive(Debug)]
pub(crate) struct Name {
    /// Index into [`Schema::namespaces`].
    pub ns: u8,
    /// Local name.
    pub local: &'static str,
}

impl Name {
    pub(crate) const fn new(ns: u8, local: &'static str) -> Name {
        Name { ns, local }
    }
}

/// An element declaration.
#[derive(Debug)]
pub(crate) struct Element {
    /// Index into [`Schema::names`].
    pub name: u16,
    /// Its type.
    pub ty: TypeRef,
    /// Whether `xsi:nil` is allowed.
    pub nillable: bool,
}

impl Element {
    pub(crate) const fn new(name: u16, ty: TypeRef, nillable: bool) -> Element {
        Element { name, ty, nillable }
    }
}

/// A type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeRef {
    /// Index into [`Schema::simple_types`].
    Simple(u16),
    /// Index into [`Schema::complex_types`].
    Complex(u16),
}

/// What a complex type's element may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    /// Nothing: no text, no elements.
    Empty,
    /// Elements (by the automaton) and whitespace.
    Elements,
    /// Elements (by the automaton) and any text.
    Mixed,
}

/// A complex type.
#[derive(Debug)]
pub(crate) struct ComplexType {
    /// The type it derives from; `None` for `xs:anyType`.
    pub base: Option<TypeRef>,
    /// Whether an element needs an `xsi:type` to use it.
    pub is_abstract: bool,
    /// What the content may be.
    pub content: Content,
    /// The start state of its content automaton in [`Schema::states`].
    pub start: u32,
    /// The attribute uses, in libxml2's order (own, then inherited).
    pub attributes: &'static [Use],
}

impl ComplexType {
    pub(crate) const fn new(
        base: Option<TypeRef>,
        is_abstract: bool,
        content: Content,
        start: u32,
        attributes: &'static [Use],
    ) -> ComplexType {
        ComplexType {
            base,
            is_abstract,
            content,
            start,
            attributes,
        }
    }
}

/// An attribute use.
#[derive(Debug)]
pub(crate) struct Use {
    /// Index into [`Schema::names`].
    pub name: u16,
    /// Index into [`Schema::simple_types`].
    pub ty: u16,
    /// Whether the attribute must be present.
    pub required: bool,
    /// The fixed value, when there is one.
    pub fixed: Option<&'static str>,
}

impl Use {
    pub(crate) const fn new(
        name: u16,
        ty: u16,
        required: bool,
        fixed: Option<&'static str>,
    ) -> Use {
        Use {
            name,
            ty,
            required,
            fixed,
        }
    }
}

/// A state of a content automaton.
#[derive(Debug)]
pub(crate) struct State {
    /// Whether the content may end here.
    pub accepting: bool,
    /// Where its moves start in [`Schema::transitions`]; they are the
    /// elements that may come next, in libxml2's expected-list order.
    pub first: u32,
    /// How many moves it has.
    pub count: u16,
    /// The names listed when an unexpected element comes here: start in
    /// [`Schema::expected`] and length.
    pub unexpected: (u32, u16),
    /// The names listed when the content ends here too early.
    pub missing: (u32, u16),
}

impl State {
    pub(crate) const fn new(
        accepting: bool,
        first: u32,
        count: u16,
        unexpected_first: u32,
        unexpected_count: u16,
        missing_first: u32,
        missing_count: u16,
    ) -> State {
        State {
            accepting,
            first,
            count,
            unexpected: (unexpected_first, unexpected_count),
            missing: (missing_first, missing_count),
        }
    }
}

/// A move of a content automaton.
#[derive(Debug)]
pub(crate) struct Transition {
    /// Index into [`Schema::names`].
    pub name: u16,
    /// The element declaration matched, index into [`Schema::elements`].
    pub element: u16,
    /// The next state, index into [`Schema::states`].
    pub to: u32,
}

impl Transition {
    pub(crate) const fn new(name: u16, element: u16, to: u32) -> Transition {
        Transition { name, element, to }
    }
}

/// A built-in simple type whose lexical space we check.
// Every variant is part of the table format, whether or not the current
// catalogs make the generator emit it.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    /// `xs:anySimpleType`: anything.
    AnySimpleType,
    /// `xs:string`.
    String,
    /// `xs:normalizedString`.
    NormalizedString,
    /// `xs:token`.
    Token,
    /// `xs:NMTOKEN`.
    Nmtoken,
    /// `xs:NMTOKENS` (a list; never atomic).
    Nmtokens,
    /// `xs:Name`.
    Name,
    /// `xs:NCName`.
    NcName,
    /// `xs:ID`: an NCName unique in the document.
    Id,
    /// `xs:IDREF`.
    Idref,
    /// `xs:IDREFS` (a list; never atomic).
    Idrefs,
    /// `xs:boolean`.
    Boolean,
    /// `xs:decimal`.
    Decimal,
    /// `xs:integer`.
    Integer,
    /// `xs:double`.
    Double,
    /// `xs:anyURI`.
    AnyUri,
    /// `xs:base64Binary`.
    Base64Binary,
}

/// What a simple type is made of.
#[derive(Debug)]
pub(crate) enum Variety {
    /// Atomic, lexically checked by this built-in.
    Atomic(Builtin),
    /// A whitespace-separated list of this item type.
    List(u16),
    /// A union of these member types, tried in order.
    Union(&'static [u16]),
}

/// The whiteSpace facet.
// Every variant is part of the table format, whether or not the current
// catalogs make the generator emit it.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Whitespace {
    /// Kept as is.
    Preserve,
    /// Tabs and line breaks become spaces.
    Replace,
    /// As `Replace`, then runs of spaces collapse and ends are trimmed.
    Collapse,
}

/// A length or range facet.
// Every variant is part of the table format, whether or not the current
// catalogs make the generator emit it.
#[allow(dead_code)]
#[derive(Debug)]
pub(crate) enum Facet {
    /// `length`.
    Length(u32),
    /// `minLength`.
    MinLength(u32),
    /// `maxLength`.
    MaxLength(u32),
    /// `minInclusive`.
    MinInclusive(&'static str),
    /// `maxInclusive`.
    MaxInclusive(&'static str),
    /// `minExclusive`.
    MinExclusive(&'static str),
    /// `maxExclusive`.
    MaxExclusive(&'static str),
}

/// A simple type.
#[derive(Debug)]
pub(crate) struct SimpleType {
    /// (namespace index, local name); `None` for an anonymous type.
    pub name: Option<(u8, &'static str)>,
    /// Atomic, list or union.
    pub variety: Variety,
    /// The restriction base, built-ins included.
    pub derived_from: Option<u16>,
    /// How values are normalized.
    pub whitespace: Whitespace,
    /// Whether facets apply (own or inherited).
    pub has_facets: bool,
    /// Whether values are normalized before facets are checked.
    pub normalize: bool,
    /// Length and range facets in effect.
    pub facets: &'static [Facet],
    /// The enumeration in force (own, else the nearest base's), in schema
    /// order.
    pub enumeration: &'static [&'static str],
    /// Indices into `enumeration` in byte order of the values.
    pub enumeration_sorted: &'static [u16],
    /// Pattern levels, own then each base's: every level must have a
    /// matching pattern; indices into [`Schema::patterns`].
    pub patterns: &'static [&'static [u16]],
}

impl SimpleType {
    #[allow(clippy::too_many_arguments)]
    pub(crate) const fn new(
        name: Option<(u8, &'static str)>,
        variety: Variety,
        derived_from: u16,
        whitespace: Whitespace,
        has_facets: bool,
        normalize: bool,
        facets: &'static [Facet],
        enumeration: &'static [&'static str],
        enumeration_sorted: &'static [u16],
        patterns: &'static [&'static [u16]],
    ) -> SimpleType {
        SimpleType {
            name,
            variety,
            derived_from: some(derived_from),
            whitespace,
            has_facets,
            normalize,
            facets,
            enumeration,
            enumeration_sorted,
            patterns,
        }
    }
}

/// A type an `xsi:type` may name.
#[derive(Debug)]
pub(crate) struct NamedType {
    /// Namespace index.
    pub ns: u8,
    /// Local name.
    pub local: &'static str,
    /// The type; `None` for a built-in the tables do not carry (no element
    /// can take it, so naming it fails the derivation check).
    pub ty: Option<TypeRef>,
}

impl NamedType {
    pub(crate) const fn new(ns: u8, local: &'static str, ty: Option<TypeRef>) -> NamedType {
        NamedType { ns, local, ty }
    }
}
