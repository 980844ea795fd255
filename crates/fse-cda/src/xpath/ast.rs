//! The compiled form of an expression: names resolved to a [`NameTable`],
//! variables to slots, regular expressions compiled.

use std::collections::HashMap;
use std::sync::Arc;

use super::value::CmpOp;

/// Index of an expanded name in a [`NameTable`].
pub(crate) type NameId = u32;

/// The expanded names (namespace URI, local name) expressions test, shared
/// by every expression compiled together, so a document resolves each of
/// them to its interned symbols once.
#[derive(Debug, Default, Clone)]
pub struct NameTable {
    /// Each name as indexes into `strings`: most names share their
    /// namespace, and many their local name, so a document looks up each
    /// distinct string once rather than two per name.
    names: Vec<(u32, u32)>,
    name_ids: HashMap<(u32, u32), NameId>,
    strings: Vec<Box<str>>,
    string_ids: HashMap<Box<str>, u32>,
    /// The memo slot of each distinct memoizing predicate, by source text.
    memos: HashMap<Box<str>, u32>,
    /// The distinct path bases (by printed form): id and occurrences.
    bases: HashMap<Box<str>, (u32, u32)>,
    /// The distinct path predicates that read only their node (by
    /// printed form): id and occurrences.
    node_preds: HashMap<Box<str>, (u32, u32)>,
}

impl NameTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn intern(&mut self, ns: &str, local: &str) -> NameId {
        let key = (self.intern_string(ns), self.intern_string(local));
        if let Some(&id) = self.name_ids.get(&key) {
            return id;
        }
        let id = self.names.len() as NameId;
        self.names.push(key);
        self.name_ids.insert(key, id);
        id
    }

    fn intern_string(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.string_ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.into());
        self.string_ids.insert(s.into(), id);
        id
    }

    /// The number of names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether it has no name.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The memo slot for a predicate: the same text always gets the same
    /// slot, so every rule testing `contains(local-name(), 'Person')`
    /// shares one table per document.
    pub(crate) fn memo_for(&mut self, source: &str) -> u32 {
        let next = self.memos.len() as u32;
        *self.memos.entry(source.trim().into()).or_insert(next)
    }

    pub(crate) fn base_for(&mut self, key: &str) -> u32 {
        count_occurrence(&mut self.bases, key)
    }

    /// Per base id: whether it occurs more than once, so caching pays.
    pub(crate) fn shared_bases(&self) -> Vec<bool> {
        occurring_more_than_once(&self.bases)
    }

    /// The id of a path predicate that depends on its node alone: the
    /// same printed form always gets the same id, so `[hl7:code[@code='X']]`
    /// in a rule's context and in its checks is decided once per node.
    pub(crate) fn node_pred_for(&mut self, key: &str) -> u32 {
        count_occurrence(&mut self.node_preds, key)
    }

    /// Per node-predicate id: whether it occurs more than once, so
    /// remembering its value per node pays.
    pub(crate) fn shared_node_preds(&self) -> Vec<bool> {
        occurring_more_than_once(&self.node_preds)
    }

    pub(crate) fn memo_count(&self) -> usize {
        self.memos.len()
    }

    /// The distinct strings of the names.
    pub(crate) fn strings(&self) -> impl Iterator<Item = &str> {
        self.strings.iter().map(|s| &**s)
    }

    /// Each name as (namespace, local name) indexes into [`Self::strings`].
    pub(crate) fn entries(&self) -> &[(u32, u32)] {
        &self.names
    }
}

fn count_occurrence(table: &mut HashMap<Box<str>, (u32, u32)>, key: &str) -> u32 {
    let next = table.len() as u32;
    let entry = table.entry(key.into()).or_insert((next, 0));
    entry.1 += 1;
    entry.0
}

fn occurring_more_than_once(table: &HashMap<Box<str>, (u32, u32)>) -> Vec<bool> {
    let mut shared = vec![false; table.len()];
    for &(id, n) in table.values() {
        if let Some(s) = shared.get_mut(id as usize) {
            *s = n > 1;
        }
    }
    shared
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Axis {
    Child,
    Descendant,
    DescendantOrSelf,
    Attribute,
    SelfNode,
    Parent,
    Ancestor,
    AncestorOrSelf,
    FollowingSibling,
    PrecedingSibling,
    Following,
    Preceding,
}

impl Axis {
    /// Reverse axes number their nodes from the context outwards.
    pub(crate) fn is_reverse(self) -> bool {
        matches!(
            self,
            Axis::Parent
                | Axis::Ancestor
                | Axis::AncestorOrSelf
                | Axis::PrecedingSibling
                | Axis::Preceding
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeTest {
    /// A QName: the axis' principal node kind with this expanded name.
    Name(NameId),
    /// `prefix:*`: any name in the namespace of this entry.
    NsWildcard(NameId),
    /// `*:local`: this local name in any namespace.
    LocalWildcard(NameId),
    /// `*`: any node of the principal kind.
    Any,
    /// `node()`.
    Node,
    /// `text()`.
    Text,
    /// `comment()`.
    Comment,
    /// `processing-instruction()` with an optional target.
    Pi(Option<Box<str>>),
    /// `document-node()`.
    Document,
    /// `element()` / `element(name)`.
    Element(Option<NameId>),
    /// `attribute()` / `attribute(name)`.
    Attribute(Option<NameId>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Count,
    Not,
    True,
    False,
    Boolean,
    Exists,
    Empty,
    String,
    Number,
    Data,
    LocalName,
    Name,
    NamespaceUri,
    Root,
    Contains,
    StartsWith,
    EndsWith,
    StringLength,
    Substring,
    SubstringBefore,
    SubstringAfter,
    Concat,
    StringJoin,
    NormalizeSpace,
    UpperCase,
    LowerCase,
    Translate,
    Matches,
    Replace,
    Tokenize,
    Position,
    Last,
    Sum,
    Floor,
    Ceiling,
    Round,
    Abs,
    DistinctValues,
}

impl Func {
    /// The function of a local name in the `fn` namespace, with its arity
    /// range.
    pub(crate) fn lookup(name: &str) -> Option<(Func, usize, usize)> {
        use Func::*;
        Some(match name {
            "count" => (Count, 1, 1),
            "not" => (Not, 1, 1),
            "true" => (True, 0, 0),
            "false" => (False, 0, 0),
            "boolean" => (Boolean, 1, 1),
            "exists" => (Exists, 1, 1),
            "empty" => (Empty, 1, 1),
            "string" => (String, 0, 1),
            "number" => (Number, 0, 1),
            "data" => (Data, 1, 1),
            "local-name" => (LocalName, 0, 1),
            "name" => (Name, 0, 1),
            "namespace-uri" => (NamespaceUri, 0, 1),
            "root" => (Root, 0, 1),
            "contains" => (Contains, 2, 2),
            "starts-with" => (StartsWith, 2, 2),
            "ends-with" => (EndsWith, 2, 2),
            "string-length" => (StringLength, 0, 1),
            "substring" => (Substring, 2, 3),
            "substring-before" => (SubstringBefore, 2, 2),
            "substring-after" => (SubstringAfter, 2, 2),
            "concat" => (Concat, 2, usize::MAX),
            "string-join" => (StringJoin, 2, 2),
            "normalize-space" => (NormalizeSpace, 0, 1),
            "upper-case" => (UpperCase, 1, 1),
            "lower-case" => (LowerCase, 1, 1),
            "translate" => (Translate, 3, 3),
            "matches" => (Matches, 2, 3),
            "replace" => (Replace, 3, 4),
            "tokenize" => (Tokenize, 2, 3),
            "position" => (Position, 0, 0),
            "last" => (Last, 0, 0),
            "sum" => (Sum, 1, 2),
            "floor" => (Floor, 1, 1),
            "ceiling" => (Ceiling, 1, 1),
            "round" => (Round, 1, 1),
            "abs" => (Abs, 1, 1),
            "distinct-values" => (DistinctValues, 1, 1),
            _ => return None,
        })
    }

    /// Whether the result is (statically) numeric: such a predicate selects
    /// by position.
    pub(crate) fn returns_number(self) -> bool {
        use Func::*;
        matches!(
            self,
            Count | Number | StringLength | Position | Last | Sum | Floor | Ceiling | Round | Abs
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    IDiv,
    Mod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    Union,
    Intersect,
    Except,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeCmp {
    Is,
    Precedes,
    Follows,
}

/// A compiled regular expression with the XPath source it came from.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRegex {
    pub(crate) regex: Arc<regex::Regex>,
    /// The same pattern for `matches()` without the regex crate, when it
    /// is simple enough.
    pub(crate) fast: Option<super::fastmatch::FastMatch>,
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Str(Box<str>),
    Int(i64),
    Dec(f64),
    Dbl(f64),
    Var(u32),
    ContextItem,
    Path(Box<Path>),
    Filter(Box<Expr>, Vec<Pred>),
    Seq(Vec<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `a or b or …`, flat: the official files chain dozens.
    Or(Vec<Expr>),
    /// `a and b and …`, flat.
    And(Vec<Expr>),
    General(CmpOp, Box<Expr>, Box<Expr>),
    /// `count(path) op n` with a streamable path: counts only as far as
    /// the comparison needs.
    CountCmp(Box<Path>, CmpOp, i64),
    /// `@name op 'literal'`: the context element's attribute against a
    /// string, without building a sequence.
    AttrCmp(NameId, CmpOp, Box<str>),
    ValueCmp(CmpOp, Box<Expr>, Box<Expr>),
    NodeCmp(NodeCmp, Box<Expr>, Box<Expr>),
    /// `a op b op c …`, left to right, flat.
    Arith(Box<Expr>, Vec<(ArithOp, Expr)>),
    Neg(Box<Expr>),
    Range(Box<Expr>, Box<Expr>),
    /// `a | b except c …`, left to right, flat.
    Set(Box<Expr>, Vec<(SetOp, Expr)>),
    Call(Func, Vec<Expr>, Option<CompiledRegex>),
}

#[derive(Debug, Clone)]
pub(crate) struct Pred {
    pub(crate) expr: Expr,
    /// The predicate may select by position (its value may be numeric, or
    /// it calls `position()`/`last()`), so it needs the true position.
    pub(crate) positional: bool,
    /// The predicate depends on its context node only through the node's
    /// local name (`*[contains(local-name(), 'Person')]`): its value is
    /// remembered per local name for the document, under this slot.
    pub(crate) memo: Option<u32>,
    /// A streamable path without variables (`[hl7:code[@code='X']]`): its
    /// value depends on the node alone, and when the program has it more
    /// than once it is remembered per node under this id.
    pub(crate) node_memo: Option<u32>,
}

#[derive(Debug, Clone)]
pub(crate) enum Start {
    /// `/…`: the root of the context node's tree.
    Root,
    /// A relative path: the context item.
    Context,
    /// A primary expression (a variable, a function call, `(…)`).
    Expr(Expr),
}

impl Path {
    /// For `@name` (an exact name, no predicate): the name.
    pub(crate) fn lone_attribute(&self) -> Option<NameId> {
        match (&self.start, self.steps.as_slice()) {
            (
                Start::Context,
                [
                    Step::Axis {
                        axis: Axis::Attribute,
                        test: NodeTest::Name(id),
                        preds,
                    },
                ],
            ) if preds.is_empty() => Some(*id),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Step {
    Axis {
        axis: Axis,
        test: NodeTest,
        preds: Vec<Pred>,
    },
    /// A primary expression used as a step (`a/count(b)`, `a/(b|c)`).
    Expr { expr: Expr, preds: Vec<Pred> },
}

#[derive(Debug, Clone)]
pub(crate) struct Path {
    pub(crate) start: Start,
    pub(crate) steps: Vec<Step>,
    /// The path can be walked depth-first, node by node, without ever
    /// reaching a node twice and without needing positions: `count`,
    /// existence and comparisons then need no intermediate node lists.
    pub(crate) streamable: bool,
    /// For a streamable relative path: the id of its *base* (the path with
    /// the last step's predicates left out). Checks of one rule keep asking
    /// for the same bases from the same node
    /// (`count(hl7:code[@code='A'])=1 or count(hl7:code[@code='B'])=1 …`),
    /// so a base used more than once in a program is computed once per
    /// context node and document.
    pub(crate) base: Option<u32>,
}
