//! Replacement: the next version of a published document.
//!
//! A replacement (`PUT validate-and-replace/{idDoc}`, or the CART
//! equivalent) is a new document of the same set: a new `id`, the same
//! `setId`, `versionNumber` plus one, and exactly one `relatedDocument`
//! of type `RPLC` whose `parentDocument` names the replaced version.
//! [`replace`] makes those changes to a parsed document and writes it back
//! with everything else as it was: comments, whitespace and the order of
//! attributes are kept; namespace declarations are written where the names
//! need them (so unused ones disappear) and attribute quotes become `"`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::metadata::{InstanceId, clinical_document};
use crate::xml::{Document, HL7_NS, NodeId, NodeKind, XML_NS, XSI_NS};

/// What to set on the new version, beyond what a replacement implies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaceOptions {
    /// The new version's id; by default the set's root with the extension
    /// `<set extension>.v<new version>`, unique within the set.
    pub new_id: Option<InstanceId>,
    /// The new version's `effectiveTime` (HL7 `TS`); kept when `None`.
    pub effective_time: Option<String>,
}

/// The new version and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// The new document.
    pub xml: String,
    /// The replaced version's id: the `{idDoc}` of the replace call.
    pub replaced_id: InstanceId,
    /// The new version's id: the request's `identificativoDoc`.
    pub new_id: InstanceId,
    /// The set id, unchanged.
    pub set_id: InstanceId,
    /// The new version number.
    pub version_number: u32,
}

/// Parses `bytes` and returns [`replace`].
///
/// # Errors
/// As [`Document::parse`] and [`replace`].
pub fn replace_bytes(bytes: &[u8], options: &ReplaceOptions) -> Result<Replacement> {
    replace(&Document::parse(bytes)?, options)
}

fn refuse(reason: impl Into<String>) -> Error {
    Error::CannotReplace {
        reason: reason.into(),
    }
}

/// Writes the next version of `doc`.
///
/// # Errors
/// [`Error::NotClinicalDocument`]; [`Error::MissingHeaderItem`] without an
/// `id`; [`Error::CannotReplace`] when the version number is not a number,
/// or the new id equals the old id or the set id.
pub fn replace(doc: &Document, options: &ReplaceOptions) -> Result<Replacement> {
    let root = clinical_document(doc)?;
    let child = |name: &str| doc.child_named(root, HL7_NS, name);
    let id_el = child("id").ok_or(Error::MissingHeaderItem {
        path: "ClinicalDocument/id",
    })?;
    let read_id = |el: NodeId| -> Option<InstanceId> {
        let root = doc.attr(el, "root")?.trim();
        (!root.is_empty()).then(|| InstanceId {
            root: root.to_string(),
            extension: doc.attr(el, "extension").map(str::to_string),
        })
    };
    let old_id = read_id(id_el).ok_or(Error::MissingHeaderItem {
        path: "ClinicalDocument/id/@root",
    })?;
    let set_el = child("setId");
    let set_id = set_el.and_then(read_id).unwrap_or_else(|| old_id.clone());
    let version_el = child("versionNumber");
    let old_version: u32 = match version_el.and_then(|v| doc.attr(v, "value")) {
        None => 1,
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| refuse(format!("versionNumber {v:?} is not a whole number")))?,
    };
    let version = old_version
        .checked_add(1)
        .ok_or_else(|| refuse("versionNumber cannot grow any more"))?;
    let new_id = options.new_id.clone().unwrap_or_else(|| {
        let base = set_id.extension.as_deref().unwrap_or("v");
        InstanceId {
            root: set_id.root.clone(),
            extension: Some(format!("{base}.v{version}")),
        }
    });
    if new_id == old_id {
        return Err(refuse("the new id is the replaced document's id"));
    }
    if new_id == set_id {
        return Err(refuse(
            "the new id is the set id: only version 1 has the set's id",
        ));
    }

    let prefix = doc.prefix(root).to_string();
    let q = |local: &str| {
        if prefix.is_empty() {
            local.to_string()
        } else {
            format!("{prefix}:{local}")
        }
    };
    let mut patch = Patch::default();
    patch.attributes.insert(
        id_el,
        vec![
            ("root".into(), new_id.root.clone()),
            ("extension".into(), ext(&new_id)),
        ],
    );
    if let Some(time) = &options.effective_time {
        let el = child("effectiveTime").ok_or(Error::MissingHeaderItem {
            path: "ClinicalDocument/effectiveTime",
        })?;
        patch
            .attributes
            .insert(el, vec![("value".into(), time.clone())]);
    }
    let id_xml = |name: &str, id: &InstanceId| match &id.extension {
        Some(e) => format!(
            "<{} root=\"{}\" extension=\"{}\"/>",
            q(name),
            escape_attr(&id.root),
            escape_attr(e)
        ),
        None => format!("<{} root=\"{}\"/>", q(name), escape_attr(&id.root)),
    };
    let version_xml = |v: u32| format!("<{} value=\"{v}\"/>", q("versionNumber"));
    match version_el {
        Some(el) => {
            patch
                .attributes
                .insert(el, vec![("value".into(), version.to_string())]);
            if set_el.is_none() {
                patch
                    .insert_before
                    .entry(el)
                    .or_default()
                    .push(id_xml("setId", &set_id));
            }
        }
        None => {
            // After languageCode/confidentialityCode/effectiveTime, the
            // first of which the document has.
            let anchor = [
                "languageCode",
                "confidentialityCode",
                "effectiveTime",
                "title",
                "code",
            ]
            .iter()
            .find_map(|n| child(n))
            .unwrap_or(id_el);
            let after = patch
                .insert_after
                .entry(set_el.unwrap_or(anchor))
                .or_default();
            if set_el.is_none() {
                after.push(id_xml("setId", &set_id));
            }
            after.push(version_xml(version));
        }
    }

    let related: Vec<NodeId> = doc
        .children_named(root, HL7_NS, "relatedDocument")
        .collect();
    let mut parent = format!("<{}>", q("parentDocument"));
    parent.push_str(&id_xml("id", &old_id));
    parent.push_str(&id_xml("setId", &set_id));
    parent.push_str(&version_xml(old_version));
    parent.push_str(&format!("</{}>", q("parentDocument")));
    let new_related = format!(
        "<{} typeCode=\"RPLC\">{parent}</{}>",
        q("relatedDocument"),
        q("relatedDocument")
    );
    // In place of the first relatedDocument, else before what follows it
    // in the header (authorization, componentOf, the body).
    let anchor = related.first().copied().or_else(|| {
        doc.child_elements(root).find(|&c| {
            doc.namespace(c) == HL7_NS
                && matches!(
                    doc.local_name(c),
                    "authorization" | "componentOf" | "component"
                )
        })
    });
    match anchor {
        Some(a) => patch.insert_before.entry(a).or_default().push(new_related),
        None => patch.append_to_root.push(new_related),
    }
    patch.remove.extend(related);

    let xml = write(doc, &patch);
    Ok(Replacement {
        xml,
        replaced_id: old_id,
        new_id,
        set_id,
        version_number: version,
    })
}

fn ext(id: &InstanceId) -> String {
    id.extension.clone().unwrap_or_default()
}

/// Changes made while writing a parsed document back.
#[derive(Debug, Default)]
struct Patch {
    /// Attributes to set (replaced in place, else added), per element.
    attributes: HashMap<NodeId, Vec<(String, String)>>,
    /// Elements dropped with their subtree (and the indentation before them).
    remove: HashSet<NodeId>,
    /// Markup written before an element, each on its own line.
    insert_before: HashMap<NodeId, Vec<String>>,
    /// Markup written after an element, each on its own line.
    insert_after: HashMap<NodeId, Vec<String>>,
    /// Markup appended at the end of the root element.
    append_to_root: Vec<String>,
}

/// Writes a document back with a patch applied.
fn write(doc: &Document, patch: &Patch) -> String {
    let mut out = String::with_capacity(doc.len() * 24);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let mut scope: Vec<(String, String)> = vec![("xml".into(), XML_NS.into())];
    let top: Vec<NodeId> = doc.children(NodeId::DOCUMENT).collect();
    for (i, &node) in top.iter().enumerate() {
        if doc.kind(node) == NodeKind::Text {
            continue;
        }
        write_node(doc, node, patch, &mut scope, &mut out);
        if i + 1 < top.len() || doc.kind(node) == NodeKind::Element {
            out.push('\n');
        }
    }
    out
}

/// The indentation a child would have: the whitespace after the last line
/// break of the text before `node`, if that text is only whitespace.
fn indentation_before(doc: &Document, node: NodeId) -> Option<String> {
    let prev = doc.prev_sibling(node)?;
    if doc.kind(prev) != NodeKind::Text {
        return None;
    }
    let text = doc.value(prev);
    if !text.trim().is_empty() {
        return None;
    }
    text.rfind('\n').map(|at| text[at..].to_string())
}

fn write_node(
    doc: &Document,
    node: NodeId,
    patch: &Patch,
    scope: &mut Vec<(String, String)>,
    out: &mut String,
) {
    match doc.kind(node) {
        NodeKind::Element => write_element(doc, node, patch, scope, out),
        NodeKind::Text => escape_text(doc.value(node), out),
        NodeKind::Comment => {
            out.push_str("<!--");
            out.push_str(doc.value(node));
            out.push_str("-->");
        }
        NodeKind::ProcessingInstruction => {
            out.push_str("<?");
            out.push_str(doc.local_name(node));
            if !doc.value(node).is_empty() {
                out.push(' ');
                out.push_str(doc.value(node));
            }
            out.push_str("?>");
        }
        NodeKind::Document | NodeKind::Attribute => {}
    }
}

fn bound<'a>(scope: &'a [(String, String)], prefix: &str) -> Option<&'a str> {
    scope
        .iter()
        .rev()
        .find(|(p, _)| p == prefix)
        .map(|(_, u)| u.as_str())
}

fn write_element(
    doc: &Document,
    el: NodeId,
    patch: &Patch,
    scope: &mut Vec<(String, String)>,
    out: &mut String,
) {
    let mark = scope.len();
    // The bindings this element's names need.
    let mut needed: Vec<(String, String)> =
        vec![(doc.prefix(el).to_string(), doc.namespace(el).to_string())];
    for a in doc.attributes(el) {
        if !doc.prefix(a).is_empty() {
            needed.push((doc.prefix(a).to_string(), doc.namespace(a).to_string()));
        }
        // xsi:type="p:T" refers to a prefix in its value.
        if doc.local_name(a) == "type"
            && doc.namespace(a) == XSI_NS
            && let Some((p, _)) = doc.value(a).split_once(':')
            && let Some(uri) = doc.lookup_namespace(el, p)
        {
            needed.push((p.to_string(), uri.to_string()));
        }
    }
    out.push('<');
    out.push_str(&doc.qualified_name(el));
    let mut declared = HashSet::new();
    for (prefix, uri) in needed {
        if prefix == "xml"
            || bound(scope, &prefix) == Some(uri.as_str())
            || (prefix.is_empty() && uri.is_empty() && bound(scope, "").is_none())
        {
            continue;
        }
        if !declared.insert(prefix.clone()) {
            continue;
        }
        if prefix.is_empty() {
            let _ = write!(out, " xmlns=\"{}\"", escape_attr(&uri));
        } else {
            let _ = write!(out, " xmlns:{prefix}=\"{}\"", escape_attr(&uri));
        }
        scope.push((prefix, uri));
    }
    let mut overrides: Vec<(String, String)> =
        patch.attributes.get(&el).cloned().unwrap_or_default();
    for a in doc.attributes(el) {
        let value = match overrides
            .iter()
            .position(|(n, _)| doc.prefix(a).is_empty() && *n == doc.local_name(a))
        {
            Some(i) => overrides.remove(i).1,
            None => doc.value(a).to_string(),
        };
        let _ = write!(
            out,
            " {}=\"{}\"",
            doc.qualified_name(a),
            escape_attr(&value)
        );
    }
    for (name, value) in overrides {
        let _ = write!(out, " {name}=\"{}\"", escape_attr(&value));
    }
    let children: Vec<NodeId> = doc.children(el).collect();
    let is_root = doc.parent(el) == Some(NodeId::DOCUMENT);
    let appended = if is_root {
        patch.append_to_root.as_slice()
    } else {
        &[]
    };
    if children.is_empty() && appended.is_empty() {
        out.push_str("/>");
        scope.truncate(mark);
        return;
    }
    out.push('>');
    for (i, &child) in children.iter().enumerate() {
        // Drop a removed element and the indentation that led to it.
        if doc.kind(child) == NodeKind::Text
            && doc.value(child).trim().is_empty()
            && children
                .get(i + 1)
                .is_some_and(|next| patch.remove.contains(next))
        {
            continue;
        }
        if patch.remove.contains(&child) {
            if let Some(inserts) = patch.insert_before.get(&child) {
                let indent = indentation_before(doc, child).unwrap_or_else(|| "\n".into());
                for x in inserts {
                    out.push_str(&indent);
                    out.push_str(x);
                }
            }
            continue;
        }
        if let Some(inserts) = patch.insert_before.get(&child) {
            let indent = indentation_before(doc, child).unwrap_or_default();
            for x in inserts {
                out.push_str(x);
                out.push_str(if indent.is_empty() { "\n" } else { &indent });
            }
        }
        write_node(doc, child, patch, scope, out);
        if let Some(inserts) = patch.insert_after.get(&child) {
            let indent = indentation_before(doc, child).unwrap_or_else(|| "\n".into());
            for x in inserts {
                out.push_str(&indent);
                out.push_str(x);
            }
        }
    }
    for x in appended {
        out.push('\n');
        out.push_str(x);
    }
    if !appended.is_empty() {
        out.push('\n');
    }
    out.push_str("</");
    out.push_str(&doc.qualified_name(el));
    out.push('>');
    scope.truncate(mark);
}

fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(xml: &str) -> String {
        let doc = Document::parse(xml.as_bytes()).unwrap();
        write(&doc, &Patch::default())
    }

    #[test]
    fn an_unpatched_document_keeps_its_content() {
        let xml = "<!-- lead -->\n<r xmlns=\"urn:hl7-org:v3\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
                   xmlns:unused=\"urn:u\">\n  <a x='1 &amp; &quot;2&quot;'>t &lt; u</a>\n  <v xsi:type=\"PQ\"/>\n  \
                   <!--c--><?pi data?>\n  <n xmlns=\"\"><m/></n>\n</r>";
        let out = roundtrip(xml);
        assert_eq!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- lead -->\n<r xmlns=\"urn:hl7-org:v3\">\n  \
             <a x=\"1 &amp; &quot;2&quot;\">t &lt; u</a>\n  <v xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsi:type=\"PQ\"/>\n  <!--c--><?pi data?>\n  <n xmlns=\"\"><m/></n>\n</r>\n"
        );
        // Same canonical content: the cda-match form ignores declarations.
        let a = crate::cda_match::canonical_form(&Document::parse(xml.as_bytes()).unwrap());
        let b = crate::cda_match::canonical_form(&Document::parse(out.as_bytes()).unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn prefixed_documents_stay_prefixed() {
        let xml = "<h:r xmlns:h=\"urn:hl7-org:v3\"><h:x xsi:type=\"h:CD\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"/></h:r>";
        let out = roundtrip(xml);
        let doc = Document::parse(out.as_bytes()).unwrap();
        let x = doc.child_elements(doc.root_element()).next().unwrap();
        assert_eq!(doc.namespace(x), HL7_NS);
        assert_eq!(doc.lookup_namespace(x, "h"), Some(HL7_NS));
    }
}
