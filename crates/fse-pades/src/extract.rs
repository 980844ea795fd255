//! Finding the CDA in a PDF the way the Gateway does.

use crate::error::{Error, Result};
use crate::pdf::{Dict, Document, Object, decode_text};

/// The embedded file's name the Gateway looks for (exact, case-sensitive).
pub const CDA_FILE_NAME: &str = "cda.xml";

/// Where the CDA sits in the PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// An embedded file `cda.xml` in `/Names /EmbeddedFiles` (the normal one).
    Attachment,
    /// The `datasets` XFA resource in `/Names /XFAResources`.
    Resource,
}

impl Mode {
    /// The Gateway's wire name (`ATTACHMENT`, `RESOURCE`).
    pub fn wire_name(self) -> &'static str {
        match self {
            Mode::Attachment => "ATTACHMENT",
            Mode::Resource => "RESOURCE",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Attachment => "attachment",
            Mode::Resource => "resource",
        })
    }
}

/// A CDA found in a PDF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedCda {
    /// The bytes: for ATTACHMENT exactly the embedded file's (decoded)
    /// content; for RESOURCE the first `ClinicalDocument` element.
    pub bytes: Vec<u8>,
    /// Where it was found.
    pub mode: Mode,
}

/// Extracts the CDA as the Gateway does with no `mode`: RESOURCE first,
/// then ATTACHMENT.
///
/// # Errors
/// The PDF cannot be read, or neither place holds a CDA (the error names
/// what each place lacks).
pub fn extract(pdf: &[u8]) -> Result<ExtractedCda> {
    let doc = Document::open(pdf)?;
    extract_from(&doc, None)
}

/// Extracts the CDA from the place `mode` names.
///
/// # Errors
/// As [`extract`].
pub fn extract_mode(pdf: &[u8], mode: Mode) -> Result<ExtractedCda> {
    let doc = Document::open(pdf)?;
    extract_from(&doc, Some(mode))
}

pub(crate) fn extract_from(doc: &Document<'_>, mode: Option<Mode>) -> Result<ExtractedCda> {
    match mode {
        Some(Mode::Attachment) => attachment(doc).map(|bytes| ExtractedCda {
            bytes,
            mode: Mode::Attachment,
        }),
        Some(Mode::Resource) => resource(doc).map(|bytes| ExtractedCda {
            bytes,
            mode: Mode::Resource,
        }),
        None => match resource(doc) {
            Ok(bytes) => Ok(ExtractedCda {
                bytes,
                mode: Mode::Resource,
            }),
            Err(Error::CdaNotFound(why_not_resource)) => match attachment(doc) {
                Ok(bytes) => Ok(ExtractedCda {
                    bytes,
                    mode: Mode::Attachment,
                }),
                Err(Error::CdaNotFound(why_not_attachment)) => Err(Error::CdaNotFound(format!(
                    "RESOURCE mode: {why_not_resource}; ATTACHMENT mode: {why_not_attachment}"
                ))),
                Err(other) => Err(other),
            },
            Err(other) => Err(other),
        },
    }
}

/// The catalog's `/Names` dictionary.
fn names(doc: &Document<'_>) -> Result<Option<Dict>> {
    let catalog = doc.catalog()?;
    match catalog.get("Names") {
        None | Some(Object::Null) => Ok(None),
        Some(n) => doc.resolve_dict(n, "the catalog's /Names").map(Some),
    }
}

/// One entry of a name tree.
pub(crate) struct NameEntry {
    pub(crate) key: Vec<u8>,
    pub(crate) value: Object,
    /// 0 for the root's own `/Names`, 1 for its kids', ...
    pub(crate) depth: usize,
}

/// Every entry of a name tree, in tree order (bounded, loops refused).
pub(crate) fn name_tree_entries(
    get: &dyn Fn(&Object) -> Result<Object>,
    root: &Dict,
) -> Result<Vec<NameEntry>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    walk(get, root, 0, &mut out, &mut seen)?;
    Ok(out)
}

fn walk(
    get: &dyn Fn(&Object) -> Result<Object>,
    node: &Dict,
    depth: usize,
    out: &mut Vec<NameEntry>,
    seen: &mut std::collections::HashSet<u32>,
) -> Result<()> {
    if depth > 32 {
        return Err(Error::Limit {
            what: "name tree depth",
            limit: 32,
        });
    }
    if let Some(names) = node.get("Names")
        && let Object::Array(items) = get(names)?
    {
        for pair in items.chunks(2) {
            if let [key, value] = pair {
                let key = match get(key)? {
                    Object::String(s) => s,
                    _ => continue,
                };
                out.push(NameEntry {
                    key,
                    value: value.clone(),
                    depth,
                });
            }
        }
    }
    if let Some(kids) = node.get("Kids")
        && let Object::Array(kids) = get(kids)?
    {
        for kid in kids {
            if let Object::Reference(r) = kid
                && !seen.insert(r.id)
            {
                continue;
            }
            if let Object::Dict(d) = get(&kid)? {
                walk(get, &d, depth + 1, out, seen)?;
            }
        }
    }
    Ok(())
}

/// The file name of a file specification: `/UF`, else `/F`.
pub(crate) fn filespec_name(filespec: &Dict) -> Option<String> {
    ["UF", "F"]
        .iter()
        .find_map(|k| filespec.get(k).and_then(Object::as_string))
        .map(decode_text)
}

/// Whether a name-tree entry is the CDA: its key or its file name is
/// exactly `cda.xml`.
pub(crate) fn is_cda_entry(key: &[u8], filespec: Option<&Dict>) -> bool {
    decode_text(key) == CDA_FILE_NAME
        || filespec
            .and_then(filespec_name)
            .is_some_and(|n| n == CDA_FILE_NAME)
}

fn attachment(doc: &Document<'_>) -> Result<Vec<u8>> {
    let Some(names) = names(doc)? else {
        return Err(Error::CdaNotFound("the catalog has no /Names".into()));
    };
    let Some(ef) = names.get("EmbeddedFiles") else {
        return Err(Error::CdaNotFound("/Names has no /EmbeddedFiles".into()));
    };
    let root = doc.resolve_dict(ef, "/EmbeddedFiles")?;
    let get = |o: &Object| doc.deref(o);
    let entries = name_tree_entries(&get, &root)?;
    let mut seen_names = Vec::new();
    let mut too_deep = false;
    for entry in &entries {
        let filespec = doc
            .resolve_dict(&entry.value, "an embedded file specification")
            .ok();
        if !is_cda_entry(&entry.key, filespec.as_ref()) {
            seen_names.push(decode_text(&entry.key));
            continue;
        }
        // The Gateway reads the root's /Names or one level of /Kids.
        if entry.depth > 1 {
            too_deep = true;
            continue;
        }
        let Some(filespec) = filespec else {
            return Err(Error::CdaNotFound(
                "the cda.xml entry is not a file specification".into(),
            ));
        };
        let Some(ef) = filespec.get("EF") else {
            return Err(Error::CdaNotFound(
                "the cda.xml file specification has no /EF".into(),
            ));
        };
        let ef = doc.resolve_dict(ef, "/EF of cda.xml")?;
        let Some(stream) = ef.get("F").or_else(|| ef.get("UF")) else {
            return Err(Error::CdaNotFound(
                "the cda.xml file specification has no /EF /F stream".into(),
            ));
        };
        let Object::Stream(stream) = doc.deref(stream)? else {
            return Err(Error::CdaNotFound(
                "/EF /F of cda.xml is not a stream".into(),
            ));
        };
        return doc.decode_stream(&stream);
    }
    if too_deep {
        return Err(Error::CdaNotFound(
            "cda.xml sits deeper than one level of /Kids in the /EmbeddedFiles name tree, where the Gateway does not look".into(),
        ));
    }
    if seen_names.is_empty() {
        Err(Error::CdaNotFound("/EmbeddedFiles is empty".into()))
    } else {
        Err(Error::CdaNotFound(format!(
            "no embedded file named cda.xml (found: {})",
            seen_names.join(", ")
        )))
    }
}

fn resource(doc: &Document<'_>) -> Result<Vec<u8>> {
    let Some(names) = names(doc)? else {
        return Err(Error::CdaNotFound("the catalog has no /Names".into()));
    };
    let Some(xfa) = names.get("XFAResources") else {
        return Err(Error::CdaNotFound("/Names has no /XFAResources".into()));
    };
    let root = doc.resolve_dict(xfa, "/XFAResources")?;
    let get = |o: &Object| doc.deref(o);
    let entries = name_tree_entries(&get, &root)?;
    let Some(entry) = entries.iter().find(|e| e.key == b"datasets") else {
        return Err(Error::CdaNotFound(
            "/XFAResources has no `datasets` entry".into(),
        ));
    };
    let Object::Stream(stream) = doc.deref(&entry.value)? else {
        return Err(Error::CdaNotFound(
            "the `datasets` XFA resource is not a stream".into(),
        ));
    };
    let data = doc.decode_stream(&stream)?;
    first_clinical_document(&data)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| {
            Error::CdaNotFound(
                "the `datasets` XFA resource holds no ClinicalDocument element".into(),
            )
        })
}

/// The bytes of the first `ClinicalDocument` element (any prefix), from
/// its start tag to its matching end tag.
pub(crate) fn first_clinical_document(xml: &[u8]) -> Option<&[u8]> {
    const NAME: &[u8] = b"ClinicalDocument";
    let finder = memchr::memmem::Finder::new(NAME);
    let mut start = None;
    let mut qname: &[u8] = b"";
    for at in finder.find_iter(xml) {
        // Walk back over an optional `prefix:` to the `<`.
        let mut lt = at;
        if xml.get(at.wrapping_sub(1)) == Some(&b':') {
            lt = at - 1;
            while lt > 0
                && xml
                    .get(lt - 1)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            {
                lt -= 1;
            }
        }
        let after = xml.get(at + NAME.len()).copied();
        if lt > 0
            && xml.get(lt - 1) == Some(&b'<')
            && matches!(after, Some(b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/'))
        {
            start = Some(lt - 1);
            qname = xml.get(lt..at + NAME.len())?;
            break;
        }
    }
    let start = start?;
    // Matching end tag, counting nested elements of the same name.
    let open: Vec<u8> = [b"<".as_slice(), qname].concat();
    let close: Vec<u8> = [b"</".as_slice(), qname].concat();
    let mut depth = 0usize;
    let mut pos = start;
    while pos < xml.len() {
        let rest = xml.get(pos..)?;
        let next_open = memchr::memmem::find(rest, &open).map(|i| pos + i);
        let next_close = memchr::memmem::find(rest, &close).map(|i| pos + i);
        match (next_open, next_close) {
            (Some(o), Some(c)) if o < c => {
                let tag_end = o + memchr::memchr(b'>', xml.get(o..)?)?;
                let self_closing = xml.get(tag_end.wrapping_sub(1)) == Some(&b'/');
                let boundary = xml.get(o + open.len()).copied();
                if matches!(boundary, Some(b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/'))
                    && !self_closing
                {
                    depth += 1;
                } else if self_closing && depth == 0 {
                    return xml.get(start..=tag_end);
                }
                pos = tag_end + 1;
            }
            (_, Some(c)) => {
                let tag_end = c + memchr::memchr(b'>', xml.get(c..)?)?;
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return xml.get(start..=tag_end);
                }
                pos = tag_end + 1;
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_clinical_document() {
        let xml = b"<xfa:datasets xmlns:xfa=\"x\"><xfa:data><ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>t</title></ClinicalDocument><ClinicalDocument/></xfa:data></xfa:datasets>";
        assert_eq!(
            first_clinical_document(xml).unwrap(),
            b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>t</title></ClinicalDocument>"
        );
        let prefixed = b"<d><hl7:ClinicalDocument a='1'><hl7:x/></hl7:ClinicalDocument></d>";
        assert_eq!(
            first_clinical_document(prefixed).unwrap(),
            b"<hl7:ClinicalDocument a='1'><hl7:x/></hl7:ClinicalDocument>"
        );
        assert!(first_clinical_document(b"<a><ClinicalDocumentX/></a>").is_none());
        assert!(first_clinical_document(b"<ClinicalDocument>unclosed").is_none());
    }
}
