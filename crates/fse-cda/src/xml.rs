//! A bounded XML parser into an arena document.
//!
//! Every node (the document node, elements, their attributes, text,
//! comments and processing instructions) lives in one vector, numbered in
//! document order: an element is followed by its attributes, then by its
//! children's subtrees. So an element's descendants are the ids between it
//! and [`Document::subtree_end`], document order is id order, and
//! [`Document::elements_named`] answers `//x` with a slice.
//!
//! Safety: no DTD is ever read (a `DOCTYPE` is an error), only the five
//! predefined entities and character references are expanded, and input
//! size, nesting depth and node count are bounded by [`Limits`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use crate::error::{Error, Result};

/// The namespace of the `xml:` prefix.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
/// The XML Schema instance namespace (`xsi:type`).
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// The HL7 v3 namespace CDA2 elements live in.
pub const HL7_NS: &str = "urn:hl7-org:v3";

/// Bounds on what the parser accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Most nodes (elements, attributes, text, comments, PIs).
    pub max_nodes: usize,
}

impl Default for Limits {
    /// 64 MiB, 256 levels, 2 million nodes: far beyond any real CDA2
    /// (the national samples are under 200 KiB and 20 levels deep).
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            max_depth: 256,
            max_nodes: 2_000_000,
        }
    }
}

/// A node of a [`Document`]; ids follow document order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    /// The document node.
    pub const DOCUMENT: NodeId = NodeId(0);

    /// The position of the node in document order.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// An interned string of one document (names and namespace URIs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(u32);

impl Sym {
    /// The empty string: no namespace, no prefix.
    pub const EMPTY: Sym = Sym(0);

    /// The symbol's number, below [`Document::symbol_count`]: lets callers
    /// keep per-document tables indexed by symbol.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// The document node, parent of the root element.
    Document,
    /// An element.
    Element,
    /// An attribute (namespace declarations are not attributes).
    Attribute,
    /// Character data, CDATA sections and references merged.
    Text,
    /// A comment.
    Comment,
    /// A processing instruction; its name is the target.
    ProcessingInstruction,
}

/// A 1-based line and column (in characters) in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

const NONE: u32 = u32::MAX;

/// Names and URIs come from the document, but a collision flood costs at
/// most the node budget in probes; SipHash's protection is not worth its
/// price on every element here.
type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The multiply-rotate hash rustc uses for its own symbol tables.
#[derive(Default, Clone, Copy)]
struct FxHasher {
    hash: u64,
}

impl FxHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[derive(Debug, Clone)]
struct NodeData {
    kind: NodeKind,
    parent: u32,
    first_child: u32,
    next_sibling: u32,
    prev_sibling: u32,
    /// Last id of the subtree (attributes included); the node itself when a leaf.
    end: u32,
    attr_count: u32,
    ns: Sym,
    local: Sym,
    prefix: Sym,
    value_start: u32,
    value_len: u32,
    /// Byte offset in the source where the node starts: its line and
    /// column are worked out only when asked, for a finding.
    offset: u32,
}

/// A parsed XML document.
#[derive(Debug, Clone)]
pub struct Document {
    nodes: Vec<NodeData>,
    text: String,
    symbols: Symbols,
    /// The element names (namespace, local name), numbered in order of
    /// first coming, and their numbers by name.
    element_names: Vec<(Sym, Sym)>,
    name_numbers: FastMap<(Sym, Sym), u32>,
    /// Every element, grouped by name number, each group in document
    /// order: one list for all names rather than an allocation each.
    named: Vec<NodeId>,
    /// By name number, where its group in `named` ends (the previous one's
    /// end is where it starts).
    name_ends: Vec<u32>,
    /// Namespace declarations (element id, prefix, uri), in document order.
    ns_decls: Vec<(u32, Sym, Sym)>,
    /// The decoded source, for the positions of findings.
    source: Box<str>,
    /// The last position asked, from which the next one is counted.
    line_mark: LineMark,
}

impl Document {
    /// Parses `bytes` with the default [`Limits`].
    ///
    /// # Errors
    /// When the input is not well-formed, has a DTD, an undefined entity,
    /// an undeclared prefix, a bad encoding, or exceeds a limit.
    pub fn parse(bytes: &[u8]) -> Result<Document> {
        Self::parse_with(bytes, &Limits::default())
    }

    /// Parses `bytes` within `limits`.
    ///
    /// # Errors
    /// As [`Document::parse`].
    pub fn parse_with(bytes: &[u8], limits: &Limits) -> Result<Document> {
        Self::parse_spaces(bytes, limits, Spaces::Skipped)
    }

    /// [`Document::parse_with`], with quick_xml skipping the white space
    /// before markup or not: the document is the same either way (tests
    /// compare the two).
    fn parse_spaces(bytes: &[u8], limits: &Limits, spaces: Spaces) -> Result<Document> {
        if bytes.len() > limits.max_bytes {
            return Err(Error::TooLarge {
                size: bytes.len(),
                limit: limits.max_bytes,
            });
        }
        let source = decode(bytes)?;
        let (forbidden, has_cr) = scan_controls(&source);
        if let Some(at) = forbidden {
            let pos = position_in(&source, at);
            return Err(Error::NotWellFormed {
                message: format!(
                    "character U+{:04X} is not allowed in XML 1.0",
                    source.as_bytes().get(at).copied().unwrap_or_default()
                ),
                line: pos.line,
                column: pos.column,
                source: None,
            });
        }
        let mut doc = Builder::new(&source, limits, has_cr).run(spaces)?;
        doc.source = source.into();
        Ok(doc)
    }

    /// The number of nodes, the document node included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the document has only its document node (never, once parsed).
    pub fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
    }

    /// The root element.
    pub fn root_element(&self) -> NodeId {
        self.child_elements(NodeId::DOCUMENT)
            .next()
            .unwrap_or(NodeId::DOCUMENT)
    }

    fn node(&self, id: NodeId) -> &NodeData {
        &self.nodes[id.index()]
    }

    /// What the node is.
    pub fn kind(&self, id: NodeId) -> NodeKind {
        self.node(id).kind
    }

    /// Whether the node is an element.
    pub fn is_element(&self, id: NodeId) -> bool {
        self.node(id).kind == NodeKind::Element
    }

    /// The parent (the owner element, for an attribute).
    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        opt(self.node(id).parent)
    }

    /// The first child (attributes are not children).
    pub fn first_child(&self, id: NodeId) -> Option<NodeId> {
        opt(self.node(id).first_child)
    }

    /// The next sibling (for an attribute: the next attribute).
    pub fn next_sibling(&self, id: NodeId) -> Option<NodeId> {
        opt(self.node(id).next_sibling)
    }

    /// The previous sibling (for an attribute: the previous attribute).
    pub fn prev_sibling(&self, id: NodeId) -> Option<NodeId> {
        opt(self.node(id).prev_sibling)
    }

    /// The last id of the node's subtree; the node itself for a leaf.
    pub fn subtree_end(&self, id: NodeId) -> NodeId {
        NodeId(self.node(id).end)
    }

    /// Whether `id` is `ancestor` or lies inside its subtree.
    pub fn is_within(&self, id: NodeId, ancestor: NodeId) -> bool {
        ancestor <= id && id.0 <= self.node(ancestor).end
    }

    /// The children, in order (attributes excluded).
    pub fn children(&self, id: NodeId) -> Siblings<'_> {
        Siblings {
            doc: self,
            next: self.node(id).first_child,
        }
    }

    /// The element children, in order.
    pub fn child_elements(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.children(id).filter(|&c| self.is_element(c))
    }

    /// The element children with this namespace URI and local name.
    pub fn children_named<'a>(
        &'a self,
        id: NodeId,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = NodeId> + 'a {
        self.child_elements(id)
            .filter(move |&c| self.local_name(c) == local && self.namespace(c) == ns)
    }

    /// The first element child with this namespace URI and local name.
    pub fn child_named(&self, id: NodeId, ns: &str, local: &str) -> Option<NodeId> {
        self.children_named(id, ns, local).next()
    }

    /// The attribute nodes of an element, in source order.
    pub fn attributes(&self, id: NodeId) -> impl Iterator<Item = NodeId> + use<> {
        let n = self.node(id).attr_count;
        (id.0 + 1..id.0 + 1 + n).map(NodeId)
    }

    /// The value of the attribute with this namespace URI (`""` for none)
    /// and local name.
    pub fn attribute(&self, id: NodeId, ns: &str, local: &str) -> Option<&str> {
        self.attributes(id)
            .find(|&a| self.local_name(a) == local && self.namespace(a) == ns)
            .map(|a| self.value(a))
    }

    /// The value of the un-namespaced attribute `local`.
    pub fn attr(&self, id: NodeId, local: &str) -> Option<&str> {
        self.attribute(id, "", local)
    }

    /// The descendants in document order, attributes excluded.
    pub fn descendants(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let end = self.node(id).end;
        (id.0 + 1..=end)
            .map(NodeId)
            .filter(|&d| self.node(d).kind != NodeKind::Attribute)
    }

    /// The ancestors, nearest first, ending with the document node.
    pub fn ancestors(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        std::iter::successors(self.parent(id), |&p| self.parent(p))
    }

    /// Every element with this name, in document order.
    pub fn elements_named(&self, ns: Sym, local: Sym) -> &[NodeId] {
        self.name_numbers
            .get(&(ns, local))
            .map_or(&[], |&number| self.elements_numbered(number as usize))
    }

    /// Each element name the document uses (namespace, local name), with
    /// its elements in document order; names in no particular order.
    pub fn element_names(&self) -> impl Iterator<Item = ((Sym, Sym), &[NodeId])> + '_ {
        self.element_names
            .iter()
            .enumerate()
            .map(|(number, &name)| (name, self.elements_numbered(number)))
    }

    /// The elements of the name numbered `number`.
    fn elements_numbered(&self, number: usize) -> &[NodeId] {
        let start = match number.checked_sub(1) {
            Some(before) => self.name_ends.get(before).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.name_ends.get(number).copied().unwrap_or(start);
        self.named
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    /// The symbol of a string, if the document uses it as a name or URI.
    pub fn symbol(&self, s: &str) -> Option<Sym> {
        self.symbols.table.get(s, name_hash(s.as_bytes()))
    }

    /// How many symbols the document has: every [`Sym::index`] is below it.
    pub fn symbol_count(&self) -> usize {
        self.symbols.spans.len()
    }

    /// The namespace URI bound to `prefix` (`""`: the default namespace) in
    /// scope at `id` (an element, or an attribute's element), as the source
    /// declares it; `None` when the prefix is unbound or the default
    /// namespace is undeclared. QName-valued content (`xsi:type="hl7:PQ"`)
    /// needs this: a prefix may be declared without naming any element.
    pub fn lookup_namespace(&self, id: NodeId, prefix: &str) -> Option<&str> {
        if prefix == "xml" {
            return Some(XML_NS);
        }
        let start = if self.kind(id) == NodeKind::Attribute {
            self.parent(id)?
        } else {
            id
        };
        for element in std::iter::once(start).chain(self.ancestors(start)) {
            let from = self.ns_decls.partition_point(|&(e, _, _)| e < element.0);
            let decls = self.ns_decls[from..]
                .iter()
                .take_while(|&&(e, _, _)| e == element.0);
            if let Some(&(_, _, uri)) = decls.filter(|&&(_, p, _)| self.sym_str(p) == prefix).last()
            {
                return (uri != Sym::EMPTY).then(|| self.sym_str(uri));
            }
        }
        None
    }

    /// The string of a symbol.
    pub fn sym_str(&self, sym: Sym) -> &str {
        let (start, len) = self.symbols.spans[sym.index()];
        &self.symbols.table.text[start as usize..(start + len) as usize]
    }

    /// The local name (element, attribute, PI target; `""` otherwise).
    pub fn local_name(&self, id: NodeId) -> &str {
        self.sym_str(self.node(id).local)
    }

    /// The namespace URI (`""` for none).
    pub fn namespace(&self, id: NodeId) -> &str {
        self.sym_str(self.node(id).ns)
    }

    /// The prefix as written in the source (`""` for none).
    pub fn prefix(&self, id: NodeId) -> &str {
        self.sym_str(self.node(id).prefix)
    }

    /// The interned (namespace, local name) pair.
    pub fn name_syms(&self, id: NodeId) -> (Sym, Sym) {
        let n = self.node(id);
        (n.ns, n.local)
    }

    /// The qualified name as written: `prefix:local` or `local`.
    pub fn qualified_name(&self, id: NodeId) -> Cow<'_, str> {
        let n = self.node(id);
        if n.prefix == Sym::EMPTY {
            Cow::Borrowed(self.sym_str(n.local))
        } else {
            Cow::Owned(format!(
                "{}:{}",
                self.sym_str(n.prefix),
                self.sym_str(n.local)
            ))
        }
    }

    /// The node's own text: an attribute's value, a text node's content, a
    /// comment, a PI's data; `""` for elements and the document.
    pub fn value(&self, id: NodeId) -> &str {
        let n = self.node(id);
        &self.text[n.value_start as usize..(n.value_start + n.value_len) as usize]
    }

    /// The XPath string value: the concatenated text of the descendants
    /// for elements and the document, the own text otherwise.
    pub fn string_value(&self, id: NodeId) -> Cow<'_, str> {
        match self.kind(id) {
            NodeKind::Element | NodeKind::Document => {
                let mut texts = self
                    .descendants(id)
                    .filter(|&d| self.kind(d) == NodeKind::Text);
                let Some(first) = texts.next() else {
                    return Cow::Borrowed("");
                };
                match texts.next() {
                    None => Cow::Borrowed(self.value(first)),
                    Some(second) => {
                        let mut s = String::from(self.value(first));
                        s.push_str(self.value(second));
                        texts.for_each(|t| s.push_str(self.value(t)));
                        Cow::Owned(s)
                    }
                }
            }
            _ => Cow::Borrowed(self.value(id)),
        }
    }

    /// Where the node starts in the source (an attribute: its element).
    pub fn position(&self, id: NodeId) -> Position {
        let offset = (self.node(id).offset as usize).min(self.source.len());
        let bytes = self.source.as_bytes();
        // Findings come mostly in document order: line ends are counted on
        // from the last position asked, so a document's findings cost about
        // one pass over it, and a document without any costs nothing.
        let (mark, mark_line) = self.line_mark.get();
        let line = if mark <= offset {
            mark_line + count_line_ends(bytes.get(mark..offset).unwrap_or_default())
        } else {
            1 + count_line_ends(bytes.get(..offset).unwrap_or_default())
        };
        self.line_mark.set(offset, line);
        let start =
            memchr::memrchr(b'\n', bytes.get(..offset).unwrap_or_default()).map_or(0, |i| i + 1);
        Position {
            line: saturate(line),
            column: saturate(column_at(&self.source, start, offset)),
        }
    }
}

fn opt(raw: u32) -> Option<NodeId> {
    (raw != NONE).then_some(NodeId(raw))
}

/// Iterator over a node's children.
#[derive(Debug, Clone)]
pub struct Siblings<'a> {
    doc: &'a Document,
    next: u32,
}

impl Iterator for Siblings<'_> {
    type Item = NodeId;
    fn next(&mut self) -> Option<NodeId> {
        let id = opt(self.next)?;
        self.next = self.doc.node(id).next_sibling;
        Some(id)
    }
}

/// Turns the input into UTF-8 text: strips a UTF-8 BOM, transcodes UTF-16
/// (by BOM) and any encoding the prolog declares, and rejects invalid bytes.
fn decode(bytes: &[u8]) -> Result<Cow<'_, str>> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(rest);
    }
    if let Some((encoding, _)) = encoding_rs::Encoding::for_bom(bytes) {
        return transcode(bytes, encoding);
    }
    match declared_encoding(bytes) {
        None => utf8(bytes),
        Some(label) => {
            let encoding = encoding_rs::Encoding::for_label(label.as_bytes())
                .ok_or_else(|| Error::UnknownEncoding(label.clone()))?;
            if encoding == encoding_rs::UTF_8 {
                utf8(bytes)
            } else {
                transcode(bytes, encoding)
            }
        }
    }
}

fn utf8(bytes: &[u8]) -> Result<Cow<'_, str>> {
    std::str::from_utf8(bytes)
        .map(Cow::Borrowed)
        .map_err(|e| Error::InvalidEncoding {
            encoding: "UTF-8".into(),
            offset: e.valid_up_to(),
        })
}

fn transcode<'a>(
    bytes: &'a [u8],
    encoding: &'static encoding_rs::Encoding,
) -> Result<Cow<'a, str>> {
    let (text, _, had_errors) = encoding.decode(bytes);
    if had_errors {
        let offset = text.find('\u{FFFD}').unwrap_or(0);
        return Err(Error::InvalidEncoding {
            encoding: encoding.name().into(),
            offset,
        });
    }
    Ok(text)
}

/// The `encoding` pseudo-attribute of an ASCII-compatible XML declaration.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = bytes.strip_prefix(b"<?xml")?;
    let end = head.windows(2).take(512).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|&c| c == '"' || c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].to_string())
}

/// Where each line of `source` starts (byte offsets), the first at 0.
/// The last position a finding asked for: its byte offset and line, in one
/// word so that threads sharing a document read a consistent pair.
#[derive(Debug)]
struct LineMark(AtomicU64);

impl Default for LineMark {
    fn default() -> Self {
        Self(AtomicU64::new(1))
    }
}

impl Clone for LineMark {
    fn clone(&self) -> Self {
        Self(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }
}

impl LineMark {
    /// (offset, line); offset 0 is on line 1.
    fn get(&self) -> (usize, usize) {
        let word = self.0.load(Ordering::Relaxed);
        ((word >> 32) as usize, (word & 0xFFFF_FFFF) as usize)
    }

    fn set(&self, offset: usize, line: usize) {
        // Offsets and lines of a document within the size limit fit in 32
        // bits; past that the mark is simply not kept.
        if let (Ok(offset), Ok(line)) = (u32::try_from(offset), u32::try_from(line)) {
            self.0
                .store(u64::from(offset) << 32 | u64::from(line), Ordering::Relaxed);
        }
    }
}

/// How many line feeds `bytes` holds.
fn count_line_ends(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

/// The 1-based column, in characters, of `offset` on the line starting at `start`.
fn column_at(source: &str, start: usize, offset: usize) -> usize {
    let bytes = source.as_bytes().get(start..offset).unwrap_or_default();
    // Count characters: every byte that is not a UTF-8 continuation byte.
    1 + bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

/// The line and column of a byte offset, counted afresh (for errors).
fn position_in(source: &str, offset: usize) -> Position {
    let offset = offset.min(source.len());
    let before = source.as_bytes().get(..offset).unwrap_or_default();
    let line = 1 + count_line_ends(before);
    let start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    Position {
        line: saturate(line),
        column: saturate(column_at(source, start, offset)),
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Whether quick_xml is asked to skip the white space before markup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spaces {
    /// Skipped by quick_xml and taken back from the source by the builder.
    Skipped,
    /// Kept as Text events.
    #[cfg_attr(not(test), allow(dead_code))]
    Events,
}

/// How many distinct names to make room for up front.
const NAMES_GUESS: usize = 256;

struct Builder<'s> {
    source: &'s str,
    limits: Limits,
    doc: Document,
    /// Open elements, innermost last, with the last child appended so far
    /// and how many `bindings` were in scope before the element's own.
    stack: Vec<(u32, u32, u32)>,
    /// In-scope namespace bindings (prefix, uri).
    bindings: Vec<(Sym, Sym)>,
    /// Where the text not yet made a node starts in the document's text
    /// arena, and its position: character data is written to the arena as
    /// it comes, so a text node's value is never copied twice.
    pending_start: usize,
    pending_at: usize,
    seen_root: bool,
    /// Whether the source has a carriage return: without one, text needs
    /// no line-end normalization.
    has_cr: bool,
    /// Each element's name number with its id, in document order: the
    /// document's name index is built from it at the end.
    element_order: Vec<(u32, u32)>,
    /// Qualified names already split and interned.
    /// Qualified names already split and interned, each with its number.
    qnames: Names<(Sym, Sym, u32)>,
    /// By qualified name number, the namespace and name number of the
    /// last element of that name, and the `bindings_stamp` they were
    /// resolved under: the bindings rarely change (a CDA2 declares its
    /// namespaces on the root), so most elements are resolved and numbered
    /// once per name, not once each.
    qname_elements: Vec<(u32, Sym, u32)>,
    /// Changes whenever `bindings` do.
    bindings_stamp: u32,
    /// By symbol, the last start tag (its stamp) with an attribute of that
    /// local name, and with a declaration of that prefix.
    seen_attrs: Vec<u32>,
    seen_decls: Vec<u32>,
}

impl<'s> Builder<'s> {
    fn new(source: &'s str, limits: &Limits, has_cr: bool) -> Self {
        let mut doc = Document {
            // A guess from the size, never beyond the node budget: one huge text
            // node (a base64 attachment) must not reserve millions of nodes.
            // CDA2 documents have a node per 15 to 35 bytes: rarely regrown.
            nodes: Vec::with_capacity((source.len() / 12 + 8).min(limits.max_nodes)),
            // Text and values come from the source, never longer than there:
            // the arena is never regrown (CDA2 documents fill it about half).
            text: String::with_capacity(source.len()),
            // Room for the names of a typical CDA2 (a few hundred), so the
            // tables are not rehashed as a document's names come in.
            symbols: Symbols {
                table: Names::with_capacity(NAMES_GUESS, Sym::EMPTY),
                spans: Vec::with_capacity(NAMES_GUESS),
            },
            element_names: Vec::with_capacity(NAMES_GUESS),
            name_numbers: FastMap::with_capacity_and_hasher(
                NAMES_GUESS,
                BuildHasherDefault::default(),
            ),
            named: Vec::new(),
            name_ends: Vec::new(),
            // A CDA2 declares a handful of namespaces: room for them up front.
            ns_decls: Vec::with_capacity(8),
            source: Box::default(),
            line_mark: LineMark::default(),
        };
        let empty = intern(&mut doc, "");
        debug_assert_eq!(empty, Sym::EMPTY);
        let xml = intern(&mut doc, "xml");
        let xml_ns = intern(&mut doc, XML_NS);
        doc.nodes.push(NodeData {
            kind: NodeKind::Document,
            parent: NONE,
            first_child: NONE,
            next_sibling: NONE,
            prev_sibling: NONE,
            end: 0,
            attr_count: 0,
            ns: Sym::EMPTY,
            local: Sym::EMPTY,
            prefix: Sym::EMPTY,
            value_start: 0,
            value_len: 0,
            offset: 0,
        });
        Self {
            source,
            limits: *limits,
            doc,
            stack: vec![(0, NONE, 1)],
            bindings: vec![(xml, xml_ns)],
            pending_start: 0,
            pending_at: 0,
            seen_root: false,
            has_cr,
            // CDA2 documents have an element per 50 to 140 bytes.
            element_order: Vec::with_capacity(source.len() / 48 + 8),
            qnames: Names::with_capacity(NAMES_GUESS, (Sym::EMPTY, Sym::EMPTY, NONE)),
            qname_elements: Vec::with_capacity(NAMES_GUESS),
            bindings_stamp: 1,
            seen_attrs: Vec::new(),
            seen_decls: Vec::new(),
        }
    }

    fn run(mut self, spaces: Spaces) -> Result<Document> {
        let mut reader = Reader::from_str(self.source);
        // quick_xml drops a leading U+FEFF without counting it in its
        // positions, which then no longer index the source: the skipped
        // white space could not be found again.
        let skip_spaces = spaces == Spaces::Skipped && !self.source.starts_with('\u{FEFF}');
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.expand_empty_elements = false;
        // Nearly half of a document's events would be the white space
        // between tags: skipped, it costs no event, and is taken back from
        // the source below.
        config.trim_text_start = skip_spaces;
        loop {
            let start = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(err) => {
                    let at = usize::try_from(reader.error_position()).unwrap_or(start);
                    return Err(self.reader_error(err, at));
                }
            };
            let mut at = start;
            if skip_spaces {
                // Where the event starts, from where it ends: no second
                // pass over the skipped white space. Rare events look for
                // it instead.
                let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
                at = match &event {
                    // `<` name attributes `>`, `<` name attributes `/>`
                    Event::Start(e) => end.saturating_sub(e.len() + 2),
                    Event::Empty(e) => end.saturating_sub(e.len() + 3),
                    Event::End(e) => self.end_tag_start(end, e.len()),
                    Event::Text(t) => end.saturating_sub(t.len()),
                    // `&` name `;`
                    Event::GeneralRef(r) => end.saturating_sub(r.len() + 2),
                    Event::Eof => end,
                    _ => skip_space(self.source.as_bytes(), start),
                };
                self.take_skipped_space(start, at);
            }
            match event {
                Event::Start(e) => {
                    self.flush_text()?;
                    self.open(&e, at)?;
                }
                Event::Empty(e) => {
                    self.flush_text()?;
                    self.open(&e, at)?;
                    self.close();
                }
                Event::End(_) => {
                    self.flush_text()?;
                    self.close();
                }
                Event::Text(t) => self.push_source_text(t.as_ref(), at),
                Event::CData(c) => {
                    let text = c.xml10_content();
                    self.push_text(&text, at);
                }
                Event::GeneralRef(r) => {
                    let ch = match r.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        Ok(None) => match quick_xml::escape::resolve_predefined_entity(&r) {
                            Some(s) => s.chars().next().unwrap_or('\u{FFFD}'),
                            None => {
                                let pos = self.position(at);
                                return Err(Error::UndefinedEntity {
                                    name: r.into_inner().into_owned(),
                                    line: pos.line,
                                    column: pos.column,
                                });
                            }
                        },
                        Err(err) => return Err(self.reader_error(err, at)),
                    };
                    self.push_text(ch.encode_utf8(&mut [0; 4]), at);
                }
                Event::Comment(c) => {
                    self.flush_text()?;
                    let text = c.xml10_content();
                    self.leaf(NodeKind::Comment, Sym::EMPTY, &text, at)?;
                }
                Event::PI(pi) => {
                    self.flush_text()?;
                    let target = intern(&mut self.doc, pi.target());
                    let content = pi.content().trim_start().to_string();
                    self.leaf(NodeKind::ProcessingInstruction, target, &content, at)?;
                }
                Event::Decl(_) => {}
                Event::DocType(_) => {
                    let pos = self.position(at);
                    return Err(Error::DtdForbidden {
                        line: pos.line,
                        column: pos.column,
                    });
                }
                Event::Eof => break,
            }
        }
        self.flush_text()?;
        if let Some(&(open, _, _)) = self.stack.get(1) {
            let innermost = self.stack.last().map_or(open, |&(id, _, _)| id);
            let id = NodeId(innermost);
            return Err(Error::Truncated {
                element: self.doc.qualified_name(id).into_owned(),
                line: self.position(self.doc.node(id).offset as usize).line,
            });
        }
        if !self.seen_root {
            return Err(Error::NoRootElement);
        }
        self.doc.nodes[0].end = self.last_id();
        self.index_elements();
        Ok(self.doc)
    }

    /// The line and column of a source offset, for an error.
    fn position(&self, at: usize) -> Position {
        position_in(self.source, at)
    }

    fn reader_error(&mut self, err: quick_xml::Error, at: usize) -> Error {
        let pos = self.position(at);
        Error::NotWellFormed {
            message: err.to_string(),
            line: pos.line,
            column: pos.column,
            source: Some(err),
        }
    }

    fn malformed(&self, at: usize, message: impl Into<String>) -> Error {
        let pos = self.position(at);
        Error::NotWellFormed {
            message: message.into(),
            line: pos.line,
            column: pos.column,
            source: None,
        }
    }

    fn last_id(&self) -> u32 {
        saturate(self.doc.nodes.len() - 1)
    }

    /// Adds the white space quick_xml skipped, from `start` to the event
    /// at `event`, to the pending text, as the Text event it would
    /// otherwise have made.
    #[inline]
    fn take_skipped_space(&mut self, start: usize, event: usize) {
        if event > start {
            let space = self.source.get(start..event).unwrap_or_default();
            debug_assert!(space.bytes().all(is_space), "{space:?}");
            self.push_source_text(space, start);
        }
    }

    /// Where an end tag ending at `end` starts: `</` name, white space, `>`.
    fn end_tag_start(&self, end: usize, name_len: usize) -> usize {
        let before = end.saturating_sub(1);
        let inner = self.source.as_bytes().get(..before).unwrap_or_default();
        let spaces = inner.iter().rev().take_while(|&&b| is_space(b)).count();
        before.saturating_sub(spaces + name_len + 2)
    }

    /// Character data as the source has it: line ends normalized straight
    /// into the arena (what `xml10_content` does through a `Cow` per event).
    #[inline(always)]
    fn push_source_text(&mut self, text: &str, at: usize) {
        if self.doc.text.len() == self.pending_start {
            self.pending_at = at;
        }
        if self.has_cr {
            push_xml10_eols(&mut self.doc.text, text);
        } else {
            self.doc.text.push_str(text);
        }
    }

    fn push_text(&mut self, text: &str, at: usize) {
        if self.doc.text.len() == self.pending_start {
            self.pending_at = at;
        }
        self.doc.text.push_str(text);
    }

    /// Makes the pending text a node. Inlined: every tag comes here, and
    /// nearly every one has text (the white space before it) to flush.
    #[inline]
    fn flush_text(&mut self) -> Result<()> {
        let start = self.pending_start;
        let len = self.doc.text.len() - start;
        if len == 0 {
            return Ok(());
        }
        let at = self.pending_at;
        if self.stack.len() == 1 {
            self.drop_text_outside_root(start, at)?;
        } else {
            self.check_node_budget()?;
            self.leaf_stored(
                NodeKind::Text,
                Sym::EMPTY,
                (saturate(start), saturate(len)),
                at,
            );
        }
        self.pending_start = self.doc.text.len();
        Ok(())
    }

    /// Outside the root element only white space may appear; it makes no node.
    #[cold]
    fn drop_text_outside_root(&mut self, start: usize, at: usize) -> Result<()> {
        let text = self.doc.text.get(start..).unwrap_or_default();
        if !text.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n')) {
            return Err(self.malformed(at, "text outside the root element"));
        }
        self.doc.text.truncate(start);
        Ok(())
    }

    fn check_node_budget(&self) -> Result<()> {
        if self.doc.nodes.len() >= self.limits.max_nodes {
            return Err(Error::TooManyNodes {
                limit: self.limits.max_nodes,
            });
        }
        Ok(())
    }

    fn store_text(&mut self, value: &str) -> (u32, u32) {
        let start = saturate(self.doc.text.len());
        self.doc.text.push_str(value);
        // Stored values are never pending character data (callers flush first).
        self.pending_start = self.doc.text.len();
        (start, saturate(value.len()))
    }

    /// Appends a node as the next child of the innermost open element.
    #[inline]
    fn append(&mut self, mut data: NodeData) -> u32 {
        let id = saturate(self.doc.nodes.len());
        let Some(&(parent, last, _)) = self.stack.last() else {
            return id;
        };
        data.parent = parent;
        data.prev_sibling = last;
        if last == NONE {
            self.doc.nodes[parent as usize].first_child = id;
        } else {
            self.doc.nodes[last as usize].next_sibling = id;
        }
        if let Some(top) = self.stack.last_mut() {
            top.1 = id;
        }
        self.doc.nodes.push(data);
        id
    }

    fn leaf(&mut self, kind: NodeKind, local: Sym, value: &str, at: usize) -> Result<()> {
        self.check_node_budget()?;
        let range = self.store_text(value);
        self.leaf_stored(kind, local, range, at);
        Ok(())
    }

    /// Appends a leaf whose value is already in the text arena.
    ///
    /// Inlined: nearly every tag flushes a text node (the whitespace
    /// between tags), and a call per node costs more than the node.
    #[inline]
    fn leaf_stored(
        &mut self,
        kind: NodeKind,
        local: Sym,
        (value_start, value_len): (u32, u32),
        at: usize,
    ) {
        let id = saturate(self.doc.nodes.len());
        self.append(NodeData {
            kind,
            parent: NONE,
            first_child: NONE,
            next_sibling: NONE,
            prev_sibling: NONE,
            end: id,
            attr_count: 0,
            ns: Sym::EMPTY,
            local,
            prefix: Sym::EMPTY,
            value_start,
            value_len,
            offset: saturate(at),
        });
    }

    fn resolve(&self, prefix: Sym, at: usize) -> Result<Sym> {
        if let Some(&(_, uri)) = self.bindings.iter().rev().find(|(p, _)| *p == prefix) {
            return Ok(uri);
        }
        if prefix == Sym::EMPTY {
            return Ok(Sym::EMPTY);
        }
        let pos = self.position(at);
        Err(Error::UndeclaredPrefix {
            prefix: self.doc.sym_str(prefix).to_string(),
            line: pos.line,
            column: pos.column,
        })
    }

    fn open(&mut self, start: &BytesStart<'_>, at: usize) -> Result<()> {
        if self.stack.len() == 1 {
            if self.seen_root {
                return Err(self.malformed(at, "more than one root element"));
            }
            self.seen_root = true;
        }
        if self.stack.len() > self.limits.max_depth {
            let pos = self.position(at);
            return Err(Error::TooDeep {
                line: pos.line,
                column: pos.column,
                limit: self.limits.max_depth,
            });
        }
        self.check_node_budget()?;

        // The element's node first, then its attributes' as they are read;
        // its name waits for the tag's namespace declarations, which apply
        // to it and to its attributes.
        let mark = self.bindings.len();
        let id = self.append(NodeData {
            kind: NodeKind::Element,
            parent: NONE,
            first_child: NONE,
            next_sibling: NONE,
            prev_sibling: NONE,
            end: NONE,
            attr_count: 0,
            ns: Sym::EMPTY,
            local: Sym::EMPTY,
            prefix: Sym::EMPTY,
            value_start: 0,
            value_len: 0,
            offset: saturate(at),
        });
        let name: &str = start.name().into_inner();
        let (count, prefixed) = self.read_attributes(start, name.len(), at, id)?;

        let (prefix, local, qname) = self.intern_qname(name, at)?;
        let (ns, name) = match self.qname_elements.get(qname as usize) {
            Some(&(stamp, ns, name)) if stamp == self.bindings_stamp => (ns, name),
            _ => self.resolve_element_name(qname, prefix, local, at)?,
        };
        if let Some(element) = self.doc.nodes.get_mut(id as usize) {
            element.attr_count = count;
            element.ns = ns;
            element.local = local;
            element.prefix = prefix;
        }
        self.element_order.push((name, id));
        for &(prefix, uri) in &self.bindings[mark..] {
            self.doc.ns_decls.push((id, prefix, uri));
        }
        if prefixed || id as usize + count as usize >= self.limits.max_nodes {
            self.check_attributes(id, count, at)?;
        }
        self.stack.push((id, NONE, saturate(mark)));
        Ok(())
    }

    /// The attributes' namespaces, and the node budget, in the order they
    /// would be met if each attribute's node were made after the element's
    /// name is known: what an attribute's prefix means depends on the
    /// declarations of the whole tag.
    #[cold]
    fn check_attributes(&mut self, id: u32, count: u32, at: usize) -> Result<()> {
        for aid in id as usize + 1..=id as usize + count as usize {
            if aid >= self.limits.max_nodes {
                return Err(Error::TooManyNodes {
                    limit: self.limits.max_nodes,
                });
            }
            let prefix = self.doc.nodes.get(aid).map_or(Sym::EMPTY, |a| a.prefix);
            // Unprefixed attributes are in no namespace.
            if prefix != Sym::EMPTY {
                let ns = self.resolve(prefix, at)?;
                if let Some(attribute) = self.doc.nodes.get_mut(aid) {
                    attribute.ns = ns;
                }
            }
        }
        Ok(())
    }

    /// Reads a start tag's attributes: namespace declarations into
    /// `bindings`, the others as nodes after the element `id`, their
    /// namespaces left for [`Builder::check_attributes`]. Returns how many
    /// there are, and whether one has a prefix.
    ///
    /// The tag is split here rather than by quick_xml's `Attributes`, which
    /// costs several times more per attribute; the split follows its rules
    /// and reports its errors, with the same positions (in `tag`, the tag's
    /// content from its name on).
    fn read_attributes(
        &mut self,
        tag: &str,
        name_len: usize,
        at: usize,
        id: u32,
    ) -> Result<(u32, bool)> {
        let bytes = tag.as_bytes();
        let mut count = 0;
        let mut prefixed = false;
        // Stamps are the element's id: unique per start tag.
        let stamp = id;
        let mut pos = name_len;
        // Every name of the tag so far with where it starts, once a local
        // name or declared prefix has come twice: from then on each name is
        // checked as it comes, before its value (quick_xml's order, which
        // the verdicts and messages follow).
        // Boxed: most tags never need it, and an empty box is one word.
        let mut names_so_far: Option<Box<HashMap<&[u8], usize>>> = None;
        loop {
            let (key_start, key_end, after_eq) = match next_key(bytes, pos) {
                Ok(Some(found)) => found,
                Ok(None) => return Ok((count, prefixed)),
                Err(e) => return Err(self.bad_attribute(at, &e)),
            };
            let key_bytes = bytes.get(key_start..key_end).unwrap_or_default();
            if let Some(names) = &mut names_so_far {
                if let Some(&previous) = names.get(key_bytes) {
                    return Err(self.duplicated(at, key_start, previous));
                }
                names.insert(key_bytes, key_start);
            }
            let (value_start, value_end, special) = match attribute_value(bytes, after_eq) {
                Ok(found) => found,
                Err(e) => return Err(self.bad_attribute(at, &e)),
            };
            pos = value_end + 1;
            if special {
                self.well_formed_value(tag, value_start, value_end, at)?;
            }
            // XML 1.0 asks for white space between attributes (`a='1'b='2'`
            // is not well-formed), which quick_xml lets pass.
            if bytes.get(pos).is_some_and(|&b| !is_space(b)) {
                return Err(self.malformed(
                    at,
                    format!(
                        "bad attribute: position {pos}: attributes must be separated by white space"
                    ),
                ));
            }
            let key = tag.get(key_start..key_end).unwrap_or_default();
            let decl = if key == "xmlns" {
                Some(None)
            } else {
                key.strip_prefix("xmlns:").map(Some)
            };
            let names = match decl {
                Some(None) => None,
                Some(Some(prefix)) => {
                    if !is_ncname(prefix) {
                        return Err(self.malformed(
                            at,
                            format!("namespace prefix {prefix:?} is not a valid XML name"),
                        ));
                    }
                    Some((intern(&mut self.doc, prefix), None))
                }
                None => {
                    let (p, l, _) = self.intern_qname(key, at)?;
                    Some((p, Some(l)))
                }
            };
            // A name can only repeat if its local name or declared prefix
            // does: the exact check waits for that.
            let fresh = match names {
                None => first_seen(&mut self.seen_decls, Sym::EMPTY, stamp),
                Some((p, None)) => first_seen(&mut self.seen_decls, p, stamp),
                Some((_, Some(l))) => first_seen(&mut self.seen_attrs, l, stamp),
            };
            if !fresh && names_so_far.is_none() {
                let mut names = names_before(bytes, name_len, key_start);
                if let Some(&previous) = names.get(key_bytes) {
                    return Err(self.duplicated(at, key_start, previous));
                }
                names.insert(key_bytes, key_start);
                names_so_far = Some(Box::new(names));
            }
            let raw = tag.get(value_start..value_end).unwrap_or_default();
            // Most values have no tab, line end or reference: only the others
            // go through quick_xml's normalization.
            let value = if special {
                let attribute = quick_xml::events::attributes::Attribute {
                    key: quick_xml::name::QName(key),
                    value: Cow::Borrowed(raw),
                };
                attribute
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|e| match e {
                        quick_xml::Error::Escape(
                            quick_xml::escape::EscapeError::UnrecognizedEntity(_, name),
                        ) => {
                            let pos = self.position(at);
                            Error::UndefinedEntity {
                                name,
                                line: pos.line,
                                column: pos.column,
                            }
                        }
                        other => self.malformed(at, format!("attribute {key}: {other}")),
                    })?
            } else {
                Cow::Borrowed(raw)
            };
            match (decl, names) {
                (Some(None), _) => {
                    // `xmlns=""` undeclares the default namespace: bound to EMPTY.
                    let uri = intern(&mut self.doc, &value);
                    self.bindings.push((Sym::EMPTY, uri));
                    self.bindings_stamp += 1;
                }
                (Some(Some(prefix)), Some((p, _))) => {
                    if value.is_empty() {
                        return Err(self.malformed(
                            at,
                            format!("prefix {prefix:?} bound to an empty namespace"),
                        ));
                    }
                    let uri = intern(&mut self.doc, &value);
                    self.bindings.push((p, uri));
                    self.bindings_stamp += 1;
                }
                (_, Some((p, Some(l)))) => {
                    // The text arena only grows, so the value can be stored before its node exists.
                    let (value_start, value_len) = self.store_text(&value);
                    let aid = saturate(self.doc.nodes.len());
                    let prev = if count == 0 { NONE } else { aid - 1 };
                    if let Some(before) = self.doc.nodes.get_mut(prev as usize) {
                        before.next_sibling = aid;
                    }
                    self.doc.nodes.push(NodeData {
                        kind: NodeKind::Attribute,
                        parent: id,
                        first_child: NONE,
                        next_sibling: NONE,
                        prev_sibling: prev,
                        end: aid,
                        attr_count: 0,
                        ns: Sym::EMPTY,
                        local: l,
                        prefix: p,
                        value_start,
                        value_len,
                        offset: saturate(at),
                    });
                    count += 1;
                    prefixed |= p != Sym::EMPTY;
                }
                _ => {}
            }
        }
    }

    /// A value that holds a tab, line end, reference or `<`: the last is
    /// not allowed in XML 1.0 (quick_xml lets it pass).
    fn well_formed_value(&self, tag: &str, start: usize, end: usize, at: usize) -> Result<()> {
        let value = tag.as_bytes().get(start..end).unwrap_or_default();
        match memchr::memchr(b'<', value) {
            Some(i) => Err(self.malformed(
                at,
                format!(
                    "bad attribute: position {}: `<` is not allowed in an attribute value",
                    start + i
                ),
            )),
            None => Ok(()),
        }
    }

    #[cold]
    fn duplicated(&self, at: usize, key_start: usize, previous: usize) -> Error {
        let e = quick_xml::events::attributes::AttrError::Duplicated(key_start, previous);
        self.bad_attribute(at, &e)
    }

    #[cold]
    fn bad_attribute(&self, at: usize, e: &quick_xml::events::attributes::AttrError) -> Error {
        self.malformed(at, format!("bad attribute: {e}"))
    }

    /// The interned (prefix, local name) of a qualified name, with one hash
    /// lookup for names seen before. A name is checked against the XML and
    /// namespace grammars the first time it comes (quick_xml checks none).
    #[inline]
    fn intern_qname(&mut self, qname: &str, at: usize) -> Result<(Sym, Sym, u32)> {
        let hash = name_hash(qname.as_bytes());
        match self.qnames.get(qname, hash) {
            Some(found) => Ok(found),
            None => self.intern_new_qname(qname, hash, at),
        }
    }

    /// [`Builder::intern_qname`] for a name not seen before: apart, so
    /// that the lookup of the others is short.
    #[cold]
    fn intern_new_qname(&mut self, qname: &str, hash: u64, at: usize) -> Result<(Sym, Sym, u32)> {
        if !is_qname(qname) {
            return Err(self.malformed(at, format!("{qname:?} is not a valid XML qualified name")));
        }
        let symbols = &mut self.doc.symbols;
        let (prefix, local) = match qname.split_once(':') {
            Some((prefix, local)) => (
                symbols.intern(prefix, name_hash(prefix.as_bytes())),
                symbols.intern(local, name_hash(local.as_bytes())),
            ),
            // The local name is the whole name: its hash is already taken.
            None => (Sym::EMPTY, symbols.intern(qname, hash)),
        };
        let found = (prefix, local, saturate(self.qnames.len));
        self.qnames.insert(qname, hash, found);
        Ok(found)
    }

    /// The namespace and name number of an element named `qname` (its
    /// number) under the current bindings, remembered for the next one.
    #[cold]
    fn resolve_element_name(
        &mut self,
        qname: u32,
        prefix: Sym,
        local: Sym,
        at: usize,
    ) -> Result<(Sym, u32)> {
        let ns = self.resolve(prefix, at)?;
        let name = self.element_name(ns, local);
        let i = qname as usize;
        if self.qname_elements.len() <= i {
            self.qname_elements.resize(i + 1, (0, Sym::EMPTY, NONE));
        }
        if let Some(slot) = self.qname_elements.get_mut(i) {
            *slot = (self.bindings_stamp, ns, name);
        }
        Ok((ns, name))
    }

    /// The number of the element name (namespace, local name).
    fn element_name(&mut self, ns: Sym, local: Sym) -> u32 {
        let fresh = saturate(self.doc.element_names.len());
        let number = *self.doc.name_numbers.entry((ns, local)).or_insert(fresh);
        if number == fresh {
            self.doc.element_names.push((ns, local));
        }
        number
    }

    /// Groups the elements by name from `element_order`, as a counting
    /// sort does: counts first, then each element at its place.
    fn index_elements(&mut self) {
        let mut ends = vec![0_u32; self.doc.element_names.len()];
        for &(name, _) in &self.element_order {
            if let Some(count) = ends.get_mut(name as usize) {
                *count += 1;
            }
        }
        // Each name's start, where its next element goes; once all are
        // placed, it is the name's end.
        let mut start = 0;
        for slot in &mut ends {
            let count = *slot;
            *slot = start;
            start += count;
        }
        let mut named = vec![NodeId::DOCUMENT; self.element_order.len()];
        for &(name, id) in &self.element_order {
            if let Some(next) = ends.get_mut(name as usize) {
                if let Some(slot) = named.get_mut(*next as usize) {
                    *slot = NodeId(id);
                }
                *next += 1;
            }
        }
        self.doc.named = named;
        self.doc.name_ends = ends;
    }

    fn close(&mut self) {
        let end = self.last_id();
        if let Some((id, _, mark)) = self.stack.pop() {
            self.doc.nodes[id as usize].end = end;
            if (mark as usize) < self.bindings.len() {
                self.bindings.truncate(mark as usize);
                self.bindings_stamp += 1;
            }
        }
    }
}

/// Strings of one document by their text, each with a value: qualified
/// names with their interned parts, and the symbols themselves. A table of
/// its own rather than a map: the hash is taken once over whole words, a
/// string seen before costs one comparison, and a new one is copied into a
/// shared buffer instead of an allocation of its own.
#[derive(Clone)]
struct Names<V> {
    /// Open addressing with linear probing; a power of two in number, at
    /// most half full.
    slots: Vec<NameSlot<V>>,
    /// `64 - log2(slots.len())`: slots are chosen by the hash's top bits,
    /// the best mixed ones of a multiplicative hash.
    shift: u32,
    len: usize,
    text: String,
    /// The value of an empty slot (never read).
    blank: V,
}

#[derive(Clone, Copy)]
struct NameSlot<V> {
    /// Never zero for a used slot: zero marks an empty one.
    hash: u64,
    start: u32,
    len: u32,
    value: V,
}

impl<V: Copy> Names<V> {
    fn with_capacity(names: usize, blank: V) -> Self {
        let slots = (names * 2).next_power_of_two().max(16);
        Self {
            slots: vec![Self::empty_slot(blank); slots],
            shift: 64 - slots.trailing_zeros(),
            len: 0,
            text: String::with_capacity(names * 16),
            blank,
        }
    }

    fn empty_slot(blank: V) -> NameSlot<V> {
        NameSlot {
            hash: 0,
            start: 0,
            len: 0,
            value: blank,
        }
    }

    fn home(&self, hash: u64) -> usize {
        (hash >> self.shift) as usize
    }

    /// The value of `name`, whose [`name_hash`] is `hash`.
    #[inline]
    fn get(&self, name: &str, hash: u64) -> Option<V> {
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash);
        loop {
            let slot = self.slots.get(i)?;
            if slot.hash == 0 {
                return None;
            }
            if slot.hash == hash
                && self
                    .text
                    .as_bytes()
                    .get(slot.start as usize..(slot.start + slot.len) as usize)
                    .is_some_and(|text| same_bytes(text, name.as_bytes()))
            {
                return Some(slot.value);
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds a name `get` did not find; returns where its text is.
    fn insert(&mut self, name: &str, hash: u64, value: V) -> (u32, u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let start = saturate(self.text.len());
        let len = saturate(name.len());
        self.text.push_str(name);
        self.place(NameSlot {
            hash,
            start,
            len,
            value,
        });
        self.len += 1;
        (start, len)
    }

    fn place(&mut self, new: NameSlot<V>) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(new.hash);
        while let Some(slot) = self.slots.get_mut(i) {
            if slot.hash == 0 {
                *slot = new;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    #[cold]
    fn grow(&mut self) {
        let doubled = vec![Self::empty_slot(self.blank); self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        self.shift -= 1;
        for slot in old.into_iter().filter(|s| s.hash != 0) {
            self.place(slot);
        }
    }
}

/// The symbols of a document: numbered in the order they first come, each
/// string stored once in the table's text.
#[derive(Clone)]
struct Symbols {
    table: Names<Sym>,
    /// By symbol, where its string is in `table.text`.
    spans: Vec<(u32, u32)>,
}

impl Symbols {
    /// The symbol of `s`, whose [`name_hash`] is `hash`, added if new.
    fn intern(&mut self, s: &str, hash: u64) -> Sym {
        if let Some(sym) = self.table.get(s, hash) {
            return sym;
        }
        let sym = Sym(saturate(self.spans.len()));
        let span = self.table.insert(s, hash, sym);
        self.spans.push(span);
        sym
    }
}

impl std::fmt::Debug for Symbols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = &self.table.text;
        f.debug_list()
            .entries(
                self.spans
                    .iter()
                    .map(|&(start, len)| text.get(start as usize..(start + len) as usize)),
            )
            .finish()
    }
}

/// Every byte counts, read a word at a time: the tail as one word that
/// overlaps the last whole one, or for short names pieced from loads that
/// together cover every byte. With the length mixed in, no two names read
/// the same words. Never zero.
fn name_hash(name: &[u8]) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.add(name.len() as u64);
    let mut chunks = name.chunks_exact(8);
    for chunk in &mut chunks {
        hasher.add(word(chunk));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let tail = if name.len() >= 8 {
            word(name.get(name.len() - 8..).unwrap_or_default())
        } else if rest.len() >= 4 {
            let low = half_word(rest.get(..4).unwrap_or_default());
            let high = half_word(rest.get(rest.len() - 4..).unwrap_or_default());
            low | high << 32
        } else {
            let at = |i: usize| u64::from(rest.get(i).copied().unwrap_or(0));
            at(0) | at(rest.len() / 2) << 8 | at(rest.len() - 1) << 16
        };
        hasher.add(tail);
    }
    hasher.hash | 1
}

/// Whether two byte strings are equal: names of up to 16 bytes, nearly
/// all of them, are compared as two words that together cover them, not
/// by a call to `memcmp`.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    match len {
        8..=16 => word(a) == word(b) && word(last(a, 8)) == word(last(b, 8)),
        4..=7 => half_word(a) == half_word(b) && half_word(last(a, 4)) == half_word(last(b, 4)),
        _ => a == b,
    }
}

/// The last `n` bytes (all of them if fewer).
fn last(bytes: &[u8], n: usize) -> &[u8] {
    bytes
        .get(bytes.len().saturating_sub(n)..)
        .unwrap_or_default()
}

/// Eight bytes as a little-endian word (zero if `bytes` is shorter).
fn word(bytes: &[u8]) -> u64 {
    bytes
        .first_chunk::<8>()
        .map_or(0, |chunk| u64::from_le_bytes(*chunk))
}

/// Four bytes as a little-endian word (zero if `bytes` is shorter).
fn half_word(bytes: &[u8]) -> u64 {
    bytes
        .first_chunk::<4>()
        .map_or(0, |chunk| u64::from(u32::from_le_bytes(*chunk)))
}

/// Appends `text` with XML 1.0 line-end handling: `\r\n` and a lone `\r`
/// become `\n`.
fn push_xml10_eols(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(i) = memchr::memchr(b'\r', rest.as_bytes()) {
        out.push_str(rest.get(..i).unwrap_or_default());
        out.push('\n');
        let after = rest.get(i + 1..).unwrap_or_default();
        rest = after.strip_prefix('\n').unwrap_or(after);
    }
    out.push_str(rest);
}

/// Where the first control character XML 1.0 forbids (all below U+0020
/// but tab, line feed and carriage return) is, anywhere in the document:
/// quick_xml lets them pass; and whether there is a carriage return, so
/// that text without one skips the line-end normalization. One pass with
/// no early exit, so it is vectorized; the position is looked for only
/// when there is one.
fn scan_controls(source: &str) -> (Option<usize>, bool) {
    const BAD: u8 = 1;
    const CR: u8 = 2;
    let bad = |b: u8| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r');
    let bytes = source.as_bytes();
    let found = bytes.iter().fold(0, |found, &b| {
        found | (u8::from(bad(b)) * BAD) | (u8::from(b == b'\r') * CR)
    });
    let at = if found & BAD == 0 {
        None
    } else {
        bytes.iter().position(|&b| bad(b))
    };
    (at, found & CR != 0)
}

/// Whether `name` is an XML 1.0 name without a colon (an NCName of the
/// namespaces recommendation).
fn is_ncname(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

/// Whether `name` is a qualified name: an NCName, or two joined by one colon.
fn is_qname(name: &str) -> bool {
    if name.is_ascii() {
        is_ascii_qname(name.as_bytes())
    } else {
        is_unicode_qname(name)
    }
}

/// [`is_qname`] by characters, for any name.
fn is_unicode_qname(name: &str) -> bool {
    match name.split_once(':') {
        Some((prefix, local)) => is_ncname(prefix) && is_ncname(local),
        None => is_ncname(name),
    }
}

/// [`is_qname`] for ASCII, where a name start is a letter or `_` and a
/// name character adds digits, `-` and `.`: one pass over bytes, since
/// nearly every name of a document is ASCII.
fn is_ascii_qname(name: &[u8]) -> bool {
    let mut at_start = true;
    let mut colons = 0;
    for &b in name {
        let ok = if at_start {
            b.is_ascii_alphabetic() || b == b'_'
        } else if b == b':' {
            colons += 1;
            at_start = true;
            continue;
        } else {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')
        };
        if !ok {
            return false;
        }
        at_start = false;
    }
    !at_start && colons <= 1
}

/// XML 1.0 (fifth edition) `NameStartChar`, the colon left out.
fn is_name_start(c: char) -> bool {
    matches!(c,
        'A'..='Z' | 'a'..='z' | '_'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 (fifth edition) `NameChar`, the colon left out.
fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c,
            '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// XML white space, as quick_xml's tag splitting knows it.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// `from` moved past white space.
fn skip_space(bytes: &[u8], from: usize) -> usize {
    let rest = bytes.get(from..).unwrap_or_default();
    from + rest
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(rest.len())
}

/// The next attribute name of a start tag from `pos` on, as quick_xml
/// splits it: (start, end, just past its `=`); `None` past the last one.
/// Its first byte always belongs to the name, even a `=`.
fn next_key(
    bytes: &[u8],
    pos: usize,
) -> std::result::Result<Option<(usize, usize, usize)>, quick_xml::events::attributes::AttrError> {
    use quick_xml::events::attributes::AttrError;
    let start = skip_space(bytes, pos);
    if start >= bytes.len() {
        return Ok(None);
    }
    let rest = bytes.get(start + 1..).unwrap_or_default();
    let end = start
        + 1
        + rest
            .iter()
            .position(|&b| b == b'=' || is_space(b))
            .unwrap_or(rest.len());
    let eq = match bytes.get(end) {
        None => return Err(AttrError::ExpectedEq(bytes.len())),
        Some(b'=') => end,
        Some(_) => {
            let eq = skip_space(bytes, end);
            match bytes.get(eq) {
                None => return Err(AttrError::ExpectedEq(bytes.len())),
                Some(b'=') => eq,
                Some(_) => return Err(AttrError::ExpectedEq(eq)),
            }
        }
    };
    Ok(Some((start, end, eq + 1)))
}

/// The quoted value after an attribute's `=`: (start, end) inside the
/// quotes, and whether it holds a tab, a line end or a reference.
fn attribute_value(
    bytes: &[u8],
    after_eq: usize,
) -> std::result::Result<(usize, usize, bool), quick_xml::events::attributes::AttrError> {
    use quick_xml::events::attributes::AttrError;
    let open = skip_space(bytes, after_eq);
    let quote = match bytes.get(open) {
        None => return Err(AttrError::ExpectedValue(bytes.len())),
        Some(&q @ (b'"' | b'\'')) => q,
        Some(_) => return Err(AttrError::UnquotedValue(open)),
    };
    let start = open + 1;
    let rest = bytes.get(start..).unwrap_or_default();
    match memchr::memchr(quote, rest) {
        Some(len) => {
            let value = rest.get(..len).unwrap_or_default();
            // No early exit, so the loop is vectorized; other control bytes
            // only send a value through a normalization that keeps them.
            let special = value.iter().fold(false, |found, &b| {
                found | (b < 0x20) | (b == b'&') | (b == b'<')
            });
            Ok((start, start + len, special))
        }
        None => Err(AttrError::ExpectedQuote(bytes.len(), quote)),
    }
}

/// The names of a tag's attributes before `until`, each with where it
/// starts; all of them were split without error already. A std map, with
/// its seeded hash: the names come from the document, and a tag may have
/// many of them.
#[cold]
fn names_before(bytes: &[u8], name_len: usize, until: usize) -> HashMap<&[u8], usize> {
    let mut names = HashMap::new();
    let mut pos = name_len;
    while let Ok(Some((start, end, after_eq))) = next_key(bytes, pos) {
        if start >= until {
            break;
        }
        names
            .entry(bytes.get(start..end).unwrap_or_default())
            .or_insert(start);
        let Ok((_, value_end, _)) = attribute_value(bytes, after_eq) else {
            break;
        };
        pos = value_end + 1;
    }
    names
}

/// Stamps `sym` as seen in the tag `stamp`; false when it already was.
fn first_seen(table: &mut Vec<u32>, sym: Sym, stamp: u32) -> bool {
    let i = sym.index();
    if table.len() <= i {
        table.resize(i + 1, NONE);
    }
    table
        .get_mut(i)
        .is_some_and(|seen| std::mem::replace(seen, stamp) != stamp)
}

fn intern(doc: &mut Document, s: &str) -> Sym {
    doc.symbols.intern(s, name_hash(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Document> {
        Document::parse(s.as_bytes())
    }

    #[test]
    fn builds_tree_in_document_order() {
        let doc = parse(
            "<?xml version=\"1.0\"?>\n<a xmlns=\"urn:hl7-org:v3\" x=\"1\"><b y='2' z=\"3\">hi &amp; <![CDATA[<there>]]></b><!--c--><c/></a>",
        )
        .unwrap();
        let a = doc.root_element();
        assert_eq!(doc.local_name(a), "a");
        assert_eq!(doc.namespace(a), HL7_NS);
        assert_eq!(doc.attr(a, "x"), Some("1"));
        let kids: Vec<_> = doc.children(a).collect();
        assert_eq!(kids.len(), 3);
        let b = kids[0];
        assert_eq!(
            doc.attributes(b)
                .map(|x| doc.local_name(x))
                .collect::<Vec<_>>(),
            ["y", "z"]
        );
        assert_eq!(doc.string_value(b), "hi & <there>");
        assert_eq!(doc.kind(kids[1]), NodeKind::Comment);
        assert_eq!(doc.string_value(a), "hi & <there>");
        // Document order equals id order and subtrees are contiguous.
        let all: Vec<_> = doc.descendants(NodeId::DOCUMENT).collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert!(doc.is_within(kids[2], a));
        assert!(!doc.is_within(a, b));
        let ns = doc.symbol(HL7_NS).unwrap();
        let c = doc.symbol("c").unwrap();
        assert_eq!(doc.elements_named(ns, c), &[kids[2]]);
        assert_eq!(doc.prev_sibling(kids[2]), Some(kids[1]));
        assert_eq!(doc.position(a), Position { line: 2, column: 1 });
    }

    #[test]
    fn positions_count_characters() {
        let doc = parse("<r>\n  <é/><x/>\n <y/></r>").unwrap();
        let r = doc.root_element();
        let els: Vec<_> = doc.child_elements(r).collect();
        assert_eq!(doc.position(els[0]), Position { line: 2, column: 3 });
        assert_eq!(doc.position(els[1]), Position { line: 2, column: 7 });
        assert_eq!(doc.position(els[2]), Position { line: 3, column: 2 });
    }

    #[test]
    fn positions_asked_in_any_order_are_counted_right() {
        let mut xml = String::from("<r>\n");
        for i in 0..200 {
            xml.push_str(&" ".repeat(i % 7));
            xml.push_str(&format!("<e{}é a='{i}'/>", i % 3));
            if i % 4 != 0 {
                xml.push('\n');
            }
        }
        xml.push_str("</r>");
        let doc = parse(&xml).unwrap();
        let ids: Vec<NodeId> = doc.descendants(NodeId::DOCUMENT).collect();
        let expected = |n: NodeId| position_in(&xml, doc.node(n).offset as usize);
        // Forward, backward, then jumping about, each from the mark left before.
        for &n in ids.iter().chain(ids.iter().rev()) {
            assert_eq!(doc.position(n), expected(n), "{n:?}");
        }
        for k in 0..ids.len() {
            let n = ids[(k * 37) % ids.len()];
            assert_eq!(doc.position(n), expected(n), "{n:?}");
        }
        // A clone keeps its own mark and agrees.
        let copy = doc.clone();
        assert_eq!(copy.position(ids[5]), expected(ids[5]));
        assert_eq!(
            doc.position(ids[ids.len() - 1]),
            expected(ids[ids.len() - 1])
        );
    }

    #[test]
    fn positions_on_long_mixed_lines_and_errors() {
        let line = format!("<r>{}<x/>è<y/>", "a".repeat(5000));
        let doc = parse(&format!("{line}\n</r>")).unwrap();
        let kids: Vec<_> = doc.child_elements(doc.root_element()).collect();
        assert_eq!(
            doc.position(kids[0]),
            Position {
                line: 1,
                column: 5004
            }
        );
        assert_eq!(
            doc.position(kids[1]),
            Position {
                line: 1,
                column: 5009
            }
        );
        // An error points at its own line, even after the reader moved on.
        match parse("<r>\n  <a></b>\n</r>") {
            Err(Error::NotWellFormed { line, .. }) => assert_eq!(line, 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn prefixes_and_xsi_type() {
        let doc = parse(
            r#"<cda:r xmlns:cda="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><cda:v xsi:type="PQ" value="1"/></cda:r>"#,
        )
        .unwrap();
        let v = doc.child_elements(doc.root_element()).next().unwrap();
        assert_eq!(doc.namespace(v), HL7_NS);
        assert_eq!(doc.attribute(v, XSI_NS, "type"), Some("PQ"));
        assert_eq!(doc.qualified_name(v), "cda:v");
        assert_eq!(doc.attr(v, "value"), Some("1"));
    }

    #[test]
    fn looks_up_in_scope_namespaces() {
        let doc = parse(
            r#"<r xmlns="urn:a" xmlns:h="urn:h"><x xmlns:h="urn:h2" h:t="1"><y xmlns=""/></x><z/></r>"#,
        )
        .unwrap();
        let r = doc.root_element();
        let kids: Vec<_> = doc.child_elements(r).collect();
        let (x, z) = (kids[0], kids[1]);
        let y = doc.child_elements(x).next().unwrap();
        assert_eq!(doc.lookup_namespace(r, "h"), Some("urn:h"));
        assert_eq!(doc.lookup_namespace(x, "h"), Some("urn:h2"));
        assert_eq!(doc.lookup_namespace(z, "h"), Some("urn:h"));
        assert_eq!(doc.lookup_namespace(y, ""), None);
        assert_eq!(doc.lookup_namespace(x, ""), Some("urn:a"));
        assert_eq!(
            doc.lookup_namespace(doc.attributes(x).next().unwrap(), "h"),
            Some("urn:h2")
        );
        assert_eq!(doc.lookup_namespace(y, "nope"), None);
        assert_eq!(doc.lookup_namespace(y, "xml"), Some(XML_NS));
        let a = doc.symbol("urn:a").unwrap();
        assert!(a.index() < doc.symbol_count());
    }

    #[test]
    fn attribute_values_are_normalized() {
        let doc = parse("<r a=\"x\ty&#10;z\"/>").unwrap();
        assert_eq!(doc.attr(doc.root_element(), "a"), Some("x y\nz"));
    }

    #[test]
    fn rejects_dtd_and_entities() {
        let bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><lolz>&lol2;</lolz>";
        assert!(matches!(
            parse(bomb),
            Err(Error::DtdForbidden { line: 1, .. })
        ));
        assert!(
            matches!(parse("<r>&foo;</r>"), Err(Error::UndefinedEntity { name, .. }) if name == "foo")
        );
        assert!(matches!(
            parse("<r a='&foo;'/>"),
            Err(Error::UndefinedEntity { .. })
        ));
    }

    #[test]
    fn bounds_depth_size_and_nodes() {
        let deep = "<a>".repeat(100_000) + &"</a>".repeat(100_000);
        assert!(matches!(
            parse(&deep),
            Err(Error::TooDeep { limit: 256, .. })
        ));
        let limits = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            Document::parse_with(b"<r>0123456789</r>", &limits),
            Err(Error::TooLarge { .. })
        ));
        let limits = Limits {
            max_nodes: 3,
            ..Limits::default()
        };
        assert!(matches!(
            Document::parse_with(b"<r><a/><b/></r>", &limits),
            Err(Error::TooManyNodes { .. })
        ));
    }

    #[test]
    fn rejects_malformed_input_with_a_position() {
        assert!(matches!(parse(""), Err(Error::NoRootElement)));
        assert!(matches!(
            parse("<r><a></r>"),
            Err(Error::NotWellFormed { .. })
        ));
        assert!(matches!(parse("<r><a>"), Err(Error::Truncated { element, .. }) if element == "a"));
        assert!(matches!(
            parse("<r/><s/>"),
            Err(Error::NotWellFormed { .. })
        ));
        assert!(matches!(
            parse("<r/>junk"),
            Err(Error::NotWellFormed { .. })
        ));
        assert!(matches!(
            parse("<p:r/>"),
            Err(Error::UndeclaredPrefix { .. })
        ));
        assert!(matches!(
            parse("<r a='1' a='2'/>"),
            Err(Error::NotWellFormed { .. })
        ));
        assert!(matches!(
            Document::parse(b"<r>\xff</r>"),
            Err(Error::InvalidEncoding { offset: 3, .. })
        ));
    }

    #[test]
    fn repeated_attribute_names() {
        let message = |xml: &str| match parse(xml) {
            Err(Error::NotWellFormed { message, .. }) => message,
            other => panic!("{xml}: {other:?}"),
        };
        // quick_xml's own verdict, positions included.
        assert_eq!(
            message("<r a='1' b='2' a='3'/>"),
            "bad attribute: position 14: duplicated attribute, previous declaration at position 2"
        );
        assert!(message("<r xmlns:p='u' xmlns:p='v'/>").contains("duplicated attribute"));
        assert!(message("<r xmlns='u' xmlns='v'/>").contains("duplicated attribute"));
        // A repeated name is reported before a bad value in the same attribute.
        assert!(message("<r a='1' a='&bad;'/>").contains("duplicated attribute"));
        // Same local name or same (empty) prefix, different names: fine, and
        // read exactly as without the repetition.
        let doc = parse("<r xmlns:p='u' xmlns:q='v' p:x='1' q:x='2' x='3'><s x='4'/></r>").unwrap();
        let r = doc.root_element();
        assert_eq!(doc.attribute(r, "u", "x"), Some("1"));
        assert_eq!(doc.attribute(r, "v", "x"), Some("2"));
        assert_eq!(doc.attr(r, "x"), Some("3"));
        assert_eq!(doc.attributes(r).count(), 3);
        assert_eq!(doc.lookup_namespace(r, "q"), Some("v"));
    }

    fn not_well_formed(xml: &str) -> String {
        match parse(xml) {
            Err(Error::NotWellFormed { message, .. }) => message,
            other => panic!("{xml}: {other:?}"),
        }
    }

    fn attributes_of(xml: &str) -> Vec<(String, String)> {
        let doc = parse(xml).unwrap();
        let r = doc.root_element();
        doc.attributes(r)
            .map(|a| (doc.qualified_name(a).into_owned(), doc.value(a).to_string()))
            .collect()
    }

    #[test]
    fn splits_attributes_around_space_and_quotes() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|&(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            attributes_of("<r a='1' b=\"2\"\n\tc \r\n=\t 'x\"y' d=\"x'y\" e='' f='a=b>c'/>"),
            pairs(&[
                ("a", "1"),
                ("b", "2"),
                ("c", "x\"y"),
                ("d", "x'y"),
                ("e", ""),
                ("f", "a=b>c")
            ])
        );
        assert_eq!(attributes_of("<r a='1' ><x/></r>"), pairs(&[("a", "1")]));
        assert_eq!(attributes_of("<r a='1'/>"), pairs(&[("a", "1")]));
        assert_eq!(attributes_of("<r a='1'></r>"), pairs(&[("a", "1")]));
        assert_eq!(attributes_of("<r a='&lt;'/>"), pairs(&[("a", "<")]));
    }

    #[test]
    fn rejects_what_xml_forbids_and_quick_xml_lets_pass() {
        // Attributes not separated by white space.
        assert_eq!(
            not_well_formed("<r a='1'b='2'/>"),
            "bad attribute: position 7: attributes must be separated by white space"
        );
        assert_eq!(
            not_well_formed("<r a=\"1\"b=\"2\"></r>"),
            "bad attribute: position 7: attributes must be separated by white space"
        );
        // `<` in a value, raw, among other characters or after a reference.
        assert_eq!(
            not_well_formed("<r a='<'/>"),
            "bad attribute: position 5: `<` is not allowed in an attribute value"
        );
        assert_eq!(
            not_well_formed("<r a='x &amp; <y'/>"),
            "bad attribute: position 13: `<` is not allowed in an attribute value"
        );
        // Names that are not XML names, for elements and attributes.
        assert_eq!(
            not_well_formed("<r 1a='1'/>"),
            "\"1a\" is not a valid XML qualified name"
        );
        assert_eq!(
            not_well_formed("<r><-x/></r>"),
            "\"-x\" is not a valid XML qualified name"
        );
        assert_eq!(
            not_well_formed("<r xmlns:p='u' p:a:b='1'/>"),
            "\"p:a:b\" is not a valid XML qualified name"
        );
        assert_eq!(
            not_well_formed("<r :a='1'/>"),
            "\":a\" is not a valid XML qualified name"
        );
        assert_eq!(
            not_well_formed("<r xmlns:='v'/>"),
            "namespace prefix \"\" is not a valid XML name"
        );
        assert_eq!(
            not_well_formed("<r xmlns:1p='v'/>"),
            "namespace prefix \"1p\" is not a valid XML name"
        );
        // Names outside ASCII, and the characters allowed after the first.
        let doc = parse("<città xmlns:é='u' é:x-y.z_1·='1'><_a/></città>").unwrap();
        assert_eq!(doc.local_name(doc.root_element()), "città");
        assert_eq!(
            doc.attribute(doc.root_element(), "u", "x-y.z_1·"),
            Some("1")
        );
    }

    #[test]
    fn control_characters_are_rejected_where_they_are() {
        for (xml, line, column) in [
            ("<r>a\u{1}b</r>", 1, 5),
            ("<r a='x\u{8}'/>", 1, 8),
            ("<r>\n<!-- \u{1f} --></r>", 2, 6),
            ("<r><![CDATA[\u{0}]]></r>", 1, 13),
        ] {
            match parse(xml) {
                Err(Error::NotWellFormed {
                    message,
                    line: l,
                    column: c,
                    ..
                }) => {
                    assert!(message.contains("is not allowed in XML 1.0"), "{message}");
                    assert_eq!((l, c), (line, column), "{xml:?}");
                }
                other => panic!("{xml:?}: {other:?}"),
            }
        }
        // Tab, line feed and carriage return are allowed anywhere.
        assert!(parse("<r a='\t\r\n'>\t\r\n</r>").is_ok());
    }

    #[test]
    fn attribute_syntax_errors_say_where() {
        assert_eq!(
            not_well_formed("<r a/>"),
            "bad attribute: position 3: attribute key must be directly followed by `=` or space"
        );
        assert_eq!(
            not_well_formed("<r a b='1'/>"),
            "bad attribute: position 4: attribute key must be directly followed by `=` or space"
        );
        assert_eq!(
            not_well_formed("<r a='1' b/>"),
            "bad attribute: position 9: attribute key must be directly followed by `=` or space"
        );
        assert_eq!(
            not_well_formed("<r a=/>"),
            "bad attribute: position 4: `=` must be followed by an attribute value"
        );
        assert_eq!(
            not_well_formed("<r a = />"),
            "bad attribute: position 6: `=` must be followed by an attribute value"
        );
        assert_eq!(
            not_well_formed("<r a=1/>"),
            "bad attribute: position 4: attribute value must be enclosed in `\"` or `'`"
        );
        // A quote in a name: the name is what is wrong.
        assert_eq!(
            not_well_formed("<r a'b='' c=\"'/>"),
            "\"a'b\" is not a valid XML qualified name"
        );
        // Not closed before the end of input: the reader's own error.
        assert!(not_well_formed("<r a='1/>").contains("attribute value not closed"));
        // The error is placed at the start tag.
        match parse("<r>\n  <x a='1' b/></r>") {
            Err(Error::NotWellFormed { line, column, .. }) => assert_eq!((line, column), (2, 3)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn repeated_names_and_bad_values_in_quick_xml_order() {
        // A value not quoted is found before the name repeats...
        assert_eq!(
            not_well_formed("<r a='1' a=2/>"),
            "bad attribute: position 10: attribute value must be enclosed in `\"` or `'`"
        );
        // ...but once a local name has come twice in the tag, every later
        // name is checked before its value.
        assert_eq!(
            not_well_formed("<r xmlns:p='u' xmlns:q='v' p:x='1' q:x='2' q:x=3/>"),
            "bad attribute: position 42: duplicated attribute, previous declaration at position 34"
        );
        assert_eq!(
            not_well_formed("<r xmlns:p='u' p:x='1' x='2' b='3' b='&bad;'/>"),
            "bad attribute: position 34: duplicated attribute, previous declaration at position 28"
        );
        assert_eq!(
            not_well_formed("<r xmlns='u' xmlns:p='v' xmlns:p='w'/>"),
            "bad attribute: position 24: duplicated attribute, previous declaration at position 12"
        );
        // Many attributes, one repeated at the end.
        let many: String = (0..100)
            .map(|i| format!(" p:a{i}='{i}' q:a{i}='{i}'"))
            .collect();
        let xml = format!("<r xmlns:p='u' xmlns:q='v'{many} q:a7='x'/>");
        let message = not_well_formed(&xml);
        assert!(
            message.contains("duplicated attribute, previous declaration at position 161"),
            "{message}"
        );
        let doc = parse(&format!("<r xmlns:p='u' xmlns:q='v'{many}/>")).unwrap();
        assert_eq!(doc.attributes(doc.root_element()).count(), 200);
    }

    #[test]
    fn attribute_values_are_normalized_and_references_resolved() {
        assert_eq!(
            attributes_of(
                "<r a='x\r\ny\rz\nw\tv' b='&lt;&gt;&amp;&quot;&apos;' c='&#65;&#x42;&#x20;.'/>"
            ),
            [
                ("a".to_string(), "x y z w v".to_string()),
                ("b".to_string(), "<>&\"'".to_string()),
                ("c".to_string(), "AB .".to_string()),
            ]
        );
        assert!(matches!(
            parse("<r a='x&bad;'/>"),
            Err(Error::UndefinedEntity { name, line: 1, column: 1 }) if name == "bad"
        ));
        assert!(not_well_formed("<r a='x&amp'/>").starts_with("attribute a: "));
        assert!(not_well_formed("<r a='&#0;'/>").starts_with("attribute a: "));
        assert!(not_well_formed("<r a='&#xD800;'/>").starts_with("attribute a: "));
    }

    #[test]
    fn namespace_declarations() {
        let doc = parse(
            "<p:r xmlns:p='urn:p' xmlns='urn:d' a='1' p:b='2'><x xmlns=''/><p:y xmlns:p=\"urn:q\"/></p:r>",
        )
        .unwrap();
        let r = doc.root_element();
        assert_eq!(doc.namespace(r), "urn:p");
        // Declarations are not attributes; unprefixed attributes have no namespace.
        assert_eq!(doc.attributes(r).count(), 2);
        assert_eq!(doc.attribute(r, "", "a"), Some("1"));
        assert_eq!(doc.attribute(r, "urn:p", "b"), Some("2"));
        let kids: Vec<_> = doc.child_elements(r).collect();
        assert_eq!(doc.namespace(kids[0]), "");
        assert_eq!(doc.namespace(kids[1]), "urn:q");
        assert_eq!(
            not_well_formed("<r xmlns:p=''/>"),
            "prefix \"p\" bound to an empty namespace"
        );
        assert!(matches!(
            parse("<r p:a='1'/>"),
            Err(Error::UndeclaredPrefix { prefix, .. }) if prefix == "p"
        ));
        // A declaration applies to the attributes of its own tag, wherever it is.
        let doc = parse("<r p:a='1' xmlns:p='urn:p'/>").unwrap();
        assert_eq!(doc.attribute(doc.root_element(), "urn:p", "a"), Some("1"));
    }

    #[test]
    fn many_distinct_names_keep_their_symbols() {
        // Far more names than the table starts with, of every short length
        // (each way of hashing a name's tail), prefixed and not.
        let names: Vec<String> = (0..3000)
            .map(|i| format!("x{}{i}", "n".repeat(i % 19)))
            .collect();
        let mut xml = String::from("<r xmlns:p='urn:p'>");
        for (i, name) in names.iter().enumerate() {
            let qname = if i % 3 == 0 {
                format!("p:{name}")
            } else {
                name.clone()
            };
            xml.push_str(&format!("<{qname} {qname}='{i}'/>"));
        }
        // Every name a second time, found in the table this time.
        for name in &names {
            xml.push_str(&format!("<{name}/>"));
        }
        xml.push_str("</r>");
        let doc = parse(&xml).unwrap();
        let kids: Vec<_> = doc.child_elements(doc.root_element()).collect();
        assert_eq!(kids.len(), 2 * names.len());
        for (i, name) in names.iter().enumerate() {
            let (first, again) = (kids[i], kids[names.len() + i]);
            assert_eq!(doc.local_name(first), name);
            assert_eq!(doc.local_name(again), name);
            assert_eq!(doc.name_syms(again).1, doc.name_syms(first).1);
            let ns = if i % 3 == 0 { "urn:p" } else { "" };
            assert_eq!(doc.namespace(first), ns);
            assert_eq!(doc.attribute(first, ns, name), Some(i.to_string().as_str()));
        }
    }

    #[test]
    fn ascii_names_are_judged_as_by_characters() {
        let alphabet = ['a', 'Z', '_', '1', '-', '.', ':', ' ', '<'];
        // Every string of up to four characters from the alphabet.
        let mut names = vec![String::new()];
        let mut last = names.clone();
        for _ in 0..4 {
            last = last
                .iter()
                .flat_map(|n| alphabet.iter().map(move |&c| format!("{n}{c}")))
                .collect();
            names.extend(last.iter().cloned());
        }
        for name in &names {
            assert_eq!(
                is_ascii_qname(name.as_bytes()),
                is_unicode_qname(name),
                "{name:?}"
            );
        }
        assert!(is_qname("hl7:ClinicalDocument") && is_qname("sdtc:raceCode"));
        assert!(is_qname("città") && !is_qname("città:") && !is_qname("1città"));
    }

    #[test]
    fn text_line_ends_are_normalized() {
        let doc = parse("<r>a\r\nb\rc\n&amp;\r</r>").unwrap();
        assert_eq!(doc.string_value(doc.root_element()), "a\nb\nc\n&\n");
    }

    #[test]
    fn decodes_declared_and_bom_encodings() {
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r>caf\xe9</r>";
        let doc = Document::parse(latin1).unwrap();
        assert_eq!(doc.string_value(doc.root_element()), "café");
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in "<r>é</r>".encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        let doc = Document::parse(&utf16).unwrap();
        assert_eq!(doc.string_value(doc.root_element()), "é");
        assert!(matches!(
            Document::parse(b"<?xml version='1.0' encoding='klingon'?><r/>"),
            Err(Error::UnknownEncoding(_))
        ));
    }

    #[test]
    fn a_name_resolves_under_the_bindings_of_each_element() {
        let doc = parse(
            "<r xmlns='urn:a' xmlns:p='urn:p1'>\
               <x/><p:y/>\
               <s xmlns='urn:b' xmlns:p='urn:p2'><x/><p:y/><t xmlns=''><x/></t><x/></s>\
               <x/><p:y/>\
               <s xmlns:p='urn:p3'><p:y/></s>\
               <p:y/><x/>\
             </r>",
        )
        .unwrap();
        let names: Vec<_> = doc
            .descendants(doc.root_element())
            .filter(|&e| doc.is_element(e))
            .map(|e| format!("{}{{{}}}", doc.local_name(e), doc.namespace(e)))
            .collect();
        assert_eq!(
            names,
            [
                "x{urn:a}",
                "y{urn:p1}",
                "s{urn:b}",
                "x{urn:b}",
                "y{urn:p2}",
                "t{}",
                "x{}",
                "x{urn:b}",
                "x{urn:a}",
                "y{urn:p1}",
                "s{urn:a}",
                "y{urn:p3}",
                "y{urn:p1}",
                "x{urn:a}",
            ]
        );
        let sym = |s: &str| doc.symbol(s).unwrap();
        let count = |ns: &str, local: &str| doc.elements_named(sym(ns), sym(local)).len();
        assert_eq!(count("urn:a", "x"), 3);
        assert_eq!(count("urn:b", "x"), 2);
        assert_eq!(count("", "x"), 1);
        assert_eq!(count("urn:p1", "y"), 3);
        // A prefix undeclared again once its element closes.
        let err = parse("<r><s xmlns:p='urn:p'><p:y/></s><p:y/></r>").unwrap_err();
        assert!(matches!(err, Error::UndeclaredPrefix { .. }), "{err:?}");
    }

    #[test]
    fn names_compared_by_words_as_by_bytes() {
        for len in 0..=20 {
            let a: Vec<u8> = (0..len).map(|i| b'a' + i).collect();
            assert!(same_bytes(&a, &a.clone()), "{len}");
            for other in [len.saturating_sub(1), len + 1] {
                let b: Vec<u8> = (0..other).map(|i| b'a' + i).collect();
                assert_eq!(same_bytes(&a, &b), a == b, "{len} {other}");
            }
            for at in 0..usize::from(len) {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a, &b), "{len} {at}");
            }
        }
    }

    #[test]
    fn the_name_index_lists_every_element_under_its_name_in_document_order() {
        let doc =
            parse("<r xmlns:p='urn:p'><a/><b><a/><p:a/><c><b/></c></b><p:a/>text<a/><d/></r>")
                .unwrap();
        let mut expected: Vec<((Sym, Sym), Vec<NodeId>)> = Vec::new();
        for e in std::iter::once(doc.root_element()).chain(doc.descendants(doc.root_element())) {
            if !doc.is_element(e) {
                continue;
            }
            let name = doc.name_syms(e);
            match expected.iter_mut().find(|(n, _)| *n == name) {
                Some((_, ids)) => ids.push(e),
                None => expected.push((name, vec![e])),
            }
        }
        let mut indexed: Vec<_> = doc
            .element_names()
            .map(|(name, ids)| (name, ids.to_vec()))
            .collect();
        indexed.sort();
        expected.sort();
        assert_eq!(indexed, expected);
        for (name, ids) in &expected {
            assert_eq!(doc.elements_named(name.0, name.1), ids.as_slice());
        }
        let a = doc.symbol("a").unwrap();
        assert_eq!(doc.elements_named(Sym::EMPTY, a).len(), 3);
        assert_eq!(doc.elements_named(doc.symbol("urn:p").unwrap(), a).len(), 2);
        assert!(doc.elements_named(a, a).is_empty());
    }

    #[test]
    fn attributes_count_against_the_node_budget_in_order() {
        let parse_within = |xml: &str, max_nodes| {
            let limits = Limits {
                max_nodes,
                ..Limits::default()
            };
            Document::parse_with(xml.as_bytes(), &limits)
        };
        // The document, r, a, b, c, d: six nodes.
        let xml = "<r a='1' b='2'><c d='3'/></r>";
        for max_nodes in 1..=7 {
            let result = parse_within(xml, max_nodes);
            assert_eq!(
                matches!(result, Err(Error::TooManyNodes { .. })),
                max_nodes < 6,
                "{max_nodes}: {result:?}"
            );
        }
        // Each attribute is counted, then its prefix resolved: the
        // document, r, a, p:b, c.
        let xml = "<r a='1' p:b='2' c='3'/>";
        for (max_nodes, too_many) in [(2, true), (3, true), (4, false), (5, false), (9, false)] {
            match parse_within(xml, max_nodes) {
                Err(Error::TooManyNodes { .. }) => assert!(too_many, "{max_nodes}"),
                Err(Error::UndeclaredPrefix { prefix, .. }) => {
                    assert!(!too_many && prefix == "p", "{max_nodes}");
                }
                other => panic!("{max_nodes}: {other:?}"),
            }
        }
        // A prefix declared after its attribute, in the same tag.
        let doc = parse("<r p:a='1' b='2' xmlns:p='urn:p'/>").unwrap();
        let attrs: Vec<_> = doc
            .attributes(doc.root_element())
            .map(|a| (doc.namespace(a), doc.local_name(a), doc.value(a)))
            .collect();
        assert_eq!(attrs, [("urn:p", "a", "1"), ("", "b", "2")]);
    }

    /// The document (or the error) with quick_xml skipping the white space
    /// before markup, and as quick_xml's Text events give it: every node,
    /// the text arena, symbols, name index and offsets must agree.
    fn both_ways(xml: &str) -> String {
        let render =
            |spaces| match Document::parse_spaces(xml.as_bytes(), &Limits::default(), spaces) {
                Ok(doc) => format!("{doc:#?}"),
                Err(e) => format!("error {e} {e:?}"),
            };
        let skipped = render(Spaces::Skipped);
        let events = render(Spaces::Events);
        assert_eq!(skipped, events, "{xml:?}");
        skipped
    }

    #[test]
    fn skipped_white_space_gives_the_same_document() {
        let documents = [
            "<r/>",
            "<?xml version=\"1.0\"?>\n<r>\n  <a x='1'>\n    <b/>\n  </a>\n</r>\n",
            "\n \t<?xml version='1.0'?>  \n<!-- c -->\n<?pi  data ?>\n<r/>\n\t<!--after-->\n ",
            "<r>  a  <b> b </b>  c  </r>",
            "<r> &amp; <b/>&#x41; &lt;\t&gt;\n</r>",
            "<r>&amp;  &amp;  x&#10;  </r>",
            "<r>  <![CDATA[ cd ]]>  <![CDATA[]]>\n</r>",
            "<r>  <!-- c -->  <?p  d?>  text  <!--c2-->  </r>",
            "<r>\r\n  <a>\r\n    x\r\n  </a>\r  \r\n</r>\r\n",
            "<r>\r  &amp;\r\n  <![CDATA[\r\n]]>\r\n</r>",
            "<r>  <a  x = '1'  y=\"2\" />  <b\n\t/>  </r  >",
            "<r>  </r >  ",
            "<r>\n  <a>\n  </a  \n>\n</r>",
            "<r xmlns='urn:hl7-org:v3' xmlns:s='urn:s'>\n <s:a s:x='1'/>\n <a/>\n</r>",
            "<r>é  <a>ü</a>  日本 </r>",
            // White space before a document without a declaration.
            "  \n<r>  </r>",
            // Errors, with their positions.
            "<r>\n  <a>\n  </b>\n</r>",
            "<r>\n  &bogus;  </r>",
            "<r>\n  &#xZZ;  </r>",
            "<r>\n  x &amp y\n</r>",
            "<r/>\n  text\n",
            "<r/>\n  <s/>",
            "\n  <r>\n  <a>\n ",
            "\n <!DOCTYPE r>\n<r/>",
            "<r>\n  <a x='1' x='2'/>\n</r>",
            "<r>\n  <1a/>\n</r>",
            "<r>\n  <p:a/>\n</r>",
            "<r>\n  <!-- a -- b -->\n</r>",
            "<r>\n  <![CDATA[ x \n</r>",
            "<r>\n  <a\n",
            "<r>\n  </a>\n</r>",
            "  ",
            "",
            // quick_xml drops a leading U+FEFF without counting it: the
            // skipped white space is not taken back, and nothing changes.
            "\u{FEFF}\u{FEFF}  <r>  <a/>  </r>",
        ];
        for xml in documents {
            both_ways(xml);
        }
    }

    #[test]
    fn white_space_around_markup_stays_in_text_nodes() {
        let xml = "<?xml version=\"1.0\"?>\n<r>\n  <a>  x &amp; y  </a>\r\n  <!--c-->\t<b/>  <![CDATA[ z ]]>  </r>\n";
        both_ways(xml);
        let doc = parse(xml).unwrap();
        let r = doc.root_element();
        let kids: Vec<_> = doc.children(r).collect();
        let texts: Vec<_> = kids
            .iter()
            .filter(|&&k| doc.kind(k) == NodeKind::Text)
            .map(|&k| (doc.value(k), doc.position(k)))
            .collect();
        let at = |line, column| Position { line, column };
        assert_eq!(
            texts,
            [
                ("\n  ", at(2, 4)),
                ("\n  ", at(3, 23)),
                ("\t", at(4, 11)),
                // CDATA merges with the white space around it.
                ("   z   ", at(4, 16)),
            ]
        );
        let a = kids[1];
        assert_eq!(doc.position(a), at(3, 3));
        assert_eq!(doc.string_value(a), "  x & y  ");
        // The text and the reference around it are one node, at its start.
        let a_text: Vec<_> = doc.children(a).collect();
        assert_eq!(a_text.len(), 1);
        assert_eq!(doc.position(a_text[0]), at(3, 6));
        assert_eq!(doc.position(kids[5]), at(4, 12));
        assert_eq!(doc.string_value(r), "\n    x & y  \n  \t   z   ");
    }

    mod spaces {
        use super::*;
        use proptest::prelude::*;

        /// Markup, text and white space in every combination, mostly
        /// well-formed: elements nest, and stray pieces make errors.
        fn content() -> impl Strategy<Value = String> {
            let leaf = prop::sample::select(vec![
                " ",
                "  ",
                "\n",
                "\r\n",
                "\r",
                "\t",
                "x",
                " y ",
                "&amp;",
                "&#x41;",
                "&#10;",
                "<![CDATA[ c ]]>",
                "<!-- c -->",
                "<?p d ?>",
                "<e/>",
                "<e a='1' b=\"&lt; \n\"/>",
                "é",
                "&nope;",
                "</z>",
                "&",
                "<!DOCTYPE d>",
            ])
            .prop_map(str::to_string);
            leaf.prop_recursive(4, 48, 6, |inner| {
                (
                    prop::sample::select(vec!["a", "p:b", "c"]),
                    prop::collection::vec(inner, 0..6),
                    prop::sample::select(vec!["", " ", "\n  "]),
                )
                    .prop_map(|(name, children, space)| {
                        format!("<{name}{space}>{}</{name}{space}>", children.concat())
                    })
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            #[test]
            fn skipped_white_space_gives_the_same_document(
                before in prop::sample::select(vec!["", "  \n", "<?xml version='1.0'?>", "<?xml version='1.0'?>\r\n "]),
                body in prop::collection::vec(content(), 0..6),
                after in prop::sample::select(vec!["", "\n", " \r\n\t", "\n<!--end-->\n", " x"]),
            ) {
                let xml = format!("{before}<r xmlns:p='urn:p'>{}</r>{after}", body.concat());
                both_ways(&xml);
            }
        }
    }
}
