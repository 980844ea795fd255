//! Reading one XSD set: every schema document reachable from `CDA.xsd`,
//! with includes and imports resolved by file name (as the Gateway does,
//! whose store is flat) and chameleon includes taking the includer's
//! target namespace (as libxml2 does).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, anyhow, bail};
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// The XML Schema namespace.
pub const XS: &str = "http://www.w3.org/2001/XMLSchema";

/// An element of a schema document.
#[derive(Debug)]
pub struct Node {
    /// Namespace URI of the element.
    pub ns: String,
    /// Local name.
    pub local: String,
    /// Unprefixed attributes (the only kind XSD components carry).
    pub attrs: Vec<(String, String)>,
    /// Element children, in order.
    pub children: Vec<Node>,
    /// In-scope namespace bindings (prefix, uri), innermost last.
    pub scope: Rc<Vec<(String, String)>>,
    /// 1-based line, for error messages.
    pub line: usize,
}

impl Node {
    /// The attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether this is the XSD element `local`.
    pub fn is(&self, local: &str) -> bool {
        self.ns == XS && self.local == local
    }

    /// The XSD element children, annotations left out.
    pub fn xs_children(&self) -> impl Iterator<Item = &Node> {
        self.children
            .iter()
            .filter(|c| c.ns == XS && c.local != "annotation")
    }

    /// The namespace bound to `prefix` here (`""`: the default namespace).
    pub fn namespace_of(&self, prefix: &str) -> Option<&str> {
        self.scope
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.as_str())
    }
}

/// One schema document as loaded into a target namespace.
#[derive(Debug)]
pub struct SchemaDoc {
    /// File name, for messages.
    pub file: String,
    /// The effective target namespace (the includer's, for a chameleon).
    pub target_ns: String,
    /// Whether the document has no `targetNamespace` of its own: unprefixed
    /// references with no default namespace then mean `target_ns`.
    pub chameleon: bool,
    /// `elementFormDefault="qualified"`.
    pub elements_qualified: bool,
    /// `attributeFormDefault="qualified"`.
    pub attributes_qualified: bool,
    /// The `xs:schema` element.
    pub root: Node,
}

/// Every schema document of a set, in load order (breadth first from
/// `CDA.xsd`), each once per target namespace.
pub fn load_set(dir: &Path) -> anyhow::Result<Vec<SchemaDoc>> {
    let files = index_files(dir)?;
    let entry = dir.join("CDA.xsd");
    let mut queue: std::collections::VecDeque<(PathBuf, Option<String>)> = [(entry, None)].into();
    let mut seen: BTreeSet<(PathBuf, String)> = BTreeSet::new();
    let mut docs = Vec::new();
    while let Some((path, chameleon_ns)) = queue.pop_front() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let root = parse(&text).with_context(|| format!("parsing {}", path.display()))?;
        if !root.is("schema") {
            bail!("{file}: the root element is not xs:schema");
        }
        let own_ns = root.attr("targetNamespace").map(str::to_string);
        let target_ns = match (&own_ns, &chameleon_ns) {
            (Some(own), _) => own.clone(),
            (None, Some(includer)) => includer.clone(),
            (None, None) => String::new(),
        };
        if !seen.insert((path.clone(), target_ns.clone())) {
            continue;
        }
        for child in root.xs_children() {
            let location = || {
                let loc = child
                    .attr("schemaLocation")
                    .ok_or_else(|| anyhow!("{file}: {} without schemaLocation", child.local))?;
                let name = loc.rsplit(['/', '\\']).next().unwrap_or(loc);
                files
                    .get(name)
                    .cloned()
                    .ok_or_else(|| anyhow!("{file}: {name} is not in the set"))
            };
            if child.is("include") {
                queue.push_back((location()?, Some(target_ns.clone())));
            } else if child.is("import") {
                queue.push_back((location()?, None));
            } else if child.is("redefine") {
                bail!("{file}: xs:redefine is not supported");
            }
        }
        docs.push(SchemaDoc {
            file,
            chameleon: own_ns.is_none(),
            target_ns,
            elements_qualified: root.attr("elementFormDefault") == Some("qualified"),
            attributes_qualified: root.attr("attributeFormDefault") == Some("qualified"),
            root,
        });
    }
    Ok(docs)
}

/// The `.xsd` files of the set by file name: the Gateway resolves
/// `schemaLocation` by name only, whatever the relative path says.
fn index_files(dir: &Path) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)
            .with_context(|| format!("listing {}", d.display()))?
            .collect::<Result<_, _>>()?;
        entries.sort_by_key(std::fs::DirEntry::path);
        for entry in entries {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "xsd") {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(previous) = files.insert(name.clone(), path.clone()) {
                    bail!(
                        "{name} found twice: {} and {}",
                        previous.display(),
                        path.display()
                    );
                }
            }
        }
    }
    Ok(files)
}

/// Parses a schema document into a tree of elements (text is dropped:
/// XSD components carry everything in attributes).
fn parse(text: &str) -> anyhow::Result<Node> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    let base_scope = Rc::new(vec![(
        "xml".to_string(),
        "http://www.w3.org/XML/1998/namespace".to_string(),
    )]);
    let (mut line, mut counted) = (1, 0);
    loop {
        let offset = usize::try_from(reader.buffer_position())
            .unwrap_or(0)
            .min(text.len());
        line += text.as_bytes()[counted.min(offset)..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        counted = counted.max(offset);
        let event = reader
            .read_event()
            .map_err(|e| anyhow!("line {line}: {e}"))?;
        match event {
            Event::Start(start) => {
                let scope = stack
                    .last()
                    .map_or_else(|| Rc::clone(&base_scope), |n| Rc::clone(&n.scope));
                stack.push(open(&start, scope, line)?);
            }
            Event::Empty(start) => {
                let scope = stack
                    .last()
                    .map_or_else(|| Rc::clone(&base_scope), |n| Rc::clone(&n.scope));
                let node = open(&start, scope, line)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| anyhow!("unbalanced end tag at line {line}"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    root.ok_or_else(|| anyhow!("no root element"))
}

fn open(
    start: &BytesStart<'_>,
    scope: Rc<Vec<(String, String)>>,
    line: usize,
) -> anyhow::Result<Node> {
    let mut bindings = Vec::new();
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| anyhow!("line {line}: {e}"))?;
        let key = attr.key.as_ref().to_string();
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| anyhow!("line {line}: {e}"))?
            .into_owned();
        if key == "xmlns" {
            bindings.push((String::new(), value));
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            bindings.push((prefix.to_string(), value));
        } else if !key.contains(':') {
            attrs.push((key, value));
        }
    }
    let scope = if bindings.is_empty() {
        scope
    } else {
        let mut all = (*scope).clone();
        all.extend(bindings);
        Rc::new(all)
    };
    let name = start.name().as_ref().to_string();
    let (prefix, local) = name.split_once(':').unwrap_or(("", &name));
    let ns = scope
        .iter()
        .rev()
        .find(|(p, _)| p == prefix)
        .map(|(_, u)| u.clone())
        .or_else(|| prefix.is_empty().then(String::new))
        .ok_or_else(|| anyhow!("line {line}: prefix {prefix:?} is not declared"))?;
    Ok(Node {
        ns,
        local: local.to_string(),
        attrs,
        children: Vec::new(),
        scope,
        line,
    })
}
