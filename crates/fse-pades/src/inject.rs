//! Putting the CDA into a PDF, merging with what the producer wrote.

use md5::{Digest as _, Md5};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::extract::{CDA_FILE_NAME, Mode, is_cda_entry, name_tree_entries};
use crate::pdf::filter::deflate;
use crate::pdf::write::Update;
use crate::pdf::{Dict, Document, ObjRef, Object, Stream, date};

/// How to inject.
#[derive(Debug, Clone)]
pub struct InjectOptions {
    /// Where to put the CDA.
    pub mode: Mode,
    /// Flate-compress the embedded stream (the Gateway reads both).
    pub compress: bool,
    /// `/ModDate` of the embedded file; now (UTC) when `None`.
    pub time: Option<OffsetDateTime>,
    /// Write a complete new file instead of an incremental update.
    pub rewrite: bool,
    /// When the cross-reference data is damaged, rebuild it by scanning
    /// the file for its objects and write a complete new file (instead of
    /// failing). Off by default: a damaged file may have lost content.
    pub repair: bool,
}

impl Default for InjectOptions {
    fn default() -> Self {
        Self {
            mode: Mode::Attachment,
            compress: true,
            time: None,
            rewrite: false,
            repair: false,
        }
    }
}

/// Injects `cda` into `pdf` in `mode`, as an incremental update (the output
/// starts with the input). See [`inject_with`].
///
/// # Errors
/// As [`inject_with`].
pub fn inject(pdf: &[u8], cda: &[u8], mode: Mode) -> Result<Vec<u8>> {
    inject_with(
        pdf,
        cda,
        &InjectOptions {
            mode,
            ..InjectOptions::default()
        },
    )
}

/// Injects `cda` into `pdf`.
///
/// ATTACHMENT: the bytes, exactly as given, become the embedded file
/// `cda.xml` (name-tree key, `/F` and `/UF`), `/Subtype /application#2Fxml`,
/// `/Params` with `/Size`, `/ModDate` and `/CheckSum`, listed in the
/// catalog's `/AF` with `/AFRelationship /Data`. The `/EmbeddedFiles` tree
/// keeps the producer's other files and is written flat (the Gateway reads
/// only the root and one level of `/Kids`); an existing `cda.xml` is
/// replaced. A PDF claiming PDF/A-1 or PDF/A-2 is re-declared PDF/A-3 in
/// its XMP metadata (the only part that allows an XML attachment).
///
/// RESOURCE: the CDA (as UTF-8, without its XML declaration) goes into
/// `<xfa:datasets><xfa:data>`, the `datasets` entry of an indirect
/// `/Names /XFAResources` dictionary.
///
/// # Errors
/// An unreadable, damaged or encrypted PDF; a CDA that is empty or not
/// XML; for RESOURCE, a CDA in an encoding we cannot transcode.
pub fn inject_with(pdf: &[u8], cda: &[u8], options: &InjectOptions) -> Result<Vec<u8>> {
    match Document::open(pdf).and_then(|doc| inject_into(&doc, cda, options, options.rewrite)) {
        Err(
            e @ (Error::DamagedXref { .. }
            | Error::NoStartXref
            | Error::Syntax { .. }
            | Error::MissingObject(_)),
        ) if options.repair => {
            let doc = Document::open_repaired(pdf).map_err(|_| e)?;
            inject_into(&doc, cda, options, true)
        }
        other => other,
    }
}

fn inject_into(
    doc: &Document<'_>,
    cda: &[u8],
    options: &InjectOptions,
    rewrite: bool,
) -> Result<Vec<u8>> {
    let mut up = Update::new(doc);
    apply(&mut up, cda, options)?;
    let written = if rewrite {
        let version = doc.header_version().to_string();
        up.write_full(if version.is_empty() { "1.7" } else { &version })?
    } else {
        up.write_incremental()?
    };
    Ok(written.bytes)
}

pub(crate) fn apply(up: &mut Update<'_, '_>, cda: &[u8], options: &InjectOptions) -> Result<()> {
    check_looks_like_xml(cda)?;
    let time = options.time.unwrap_or_else(OffsetDateTime::now_utc);
    match options.mode {
        Mode::Attachment => attach(up, cda, options.compress, time),
        Mode::Resource => add_resource(up, cda, options.compress),
    }
}

fn check_looks_like_xml(cda: &[u8]) -> Result<()> {
    let body = cda.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(cda);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => Err(Error::Inject("the CDA is empty".into())),
        Some(b'<') => Ok(()),
        // UTF-16 with a byte order mark.
        Some(_) if cda.starts_with(&[0xFF, 0xFE]) || cda.starts_with(&[0xFE, 0xFF]) => Ok(()),
        Some(_) => Err(Error::Inject("the CDA does not start like XML".into())),
    }
}

fn stream(dict: Dict, data: &[u8], compress: bool) -> Object {
    if compress {
        let z = deflate(data, 1);
        Object::Stream(Stream {
            dict: dict.with("Filter", Object::name("FlateDecode")),
            data: z,
        })
    } else {
        Object::Stream(Stream {
            dict,
            data: data.to_vec(),
        })
    }
}

/// A dictionary reachable from `parent[key]`, and where to write it back:
/// its own object when indirect, else inside the parent.
struct Child {
    dict: Dict,
    indirect: Option<ObjRef>,
}

fn child(up: &Update<'_, '_>, parent: &Dict, key: &str) -> Result<Child> {
    match parent.get(key) {
        Some(Object::Reference(r)) => match up.deref(&Object::Reference(*r)) {
            Ok(Object::Dict(d)) => Ok(Child {
                dict: d,
                indirect: Some(*r),
            }),
            // A dangling or non-dictionary entry is replaced.
            _ => Ok(Child {
                dict: Dict::new(),
                indirect: None,
            }),
        },
        Some(Object::Dict(d)) => Ok(Child {
            dict: d.clone(),
            indirect: None,
        }),
        _ => Ok(Child {
            dict: Dict::new(),
            indirect: None,
        }),
    }
}

/// Writes `child` back: into its own object, or into `parent[key]`.
/// Returns whether the parent changed.
fn put_back(up: &mut Update<'_, '_>, parent: &mut Dict, key: &str, child: Child) -> bool {
    match child.indirect {
        Some(r) => {
            up.set(r, Object::Dict(child.dict));
            false
        }
        None => {
            parent.set(key, Object::Dict(child.dict));
            true
        }
    }
}

fn attach(up: &mut Update<'_, '_>, cda: &[u8], compress: bool, time: OffsetDateTime) -> Result<()> {
    let doc = up.doc();
    let catalog_ref = doc.catalog_ref()?;
    let mut catalog = up.dict(&Object::Reference(catalog_ref), "the document catalog")?;

    let params = Dict::new()
        .with("Size", Object::Integer(cda.len() as i64))
        .with("ModDate", Object::string(&date::format(time)))
        .with("CheckSum", Object::String(Md5::digest(cda).to_vec()));
    let ef_dict = Dict::new()
        .with("Type", Object::name("EmbeddedFile"))
        .with("Subtype", Object::name("application/xml"))
        .with("Params", params);
    let ef = up.add(stream(ef_dict, cda, compress));
    let filespec = up.add(Object::Dict(
        Dict::new()
            .with("Type", Object::name("Filespec"))
            .with("F", Object::string(CDA_FILE_NAME))
            .with("UF", Object::string(CDA_FILE_NAME))
            .with("Desc", Object::string("HL7 CDA2"))
            .with("AFRelationship", Object::name("Data"))
            .with("EF", Dict::new().with("F", ef).with("UF", ef)),
    ));

    // /Names /EmbeddedFiles: flatten, drop any old cda.xml, add ours, sort.
    let mut names = child(up, &catalog, "Names")?;
    let mut tree = child(up, &names.dict, "EmbeddedFiles")?;
    let get = |o: &Object| up.deref(o);
    let entries = name_tree_entries(&get, &tree.dict)?;
    let mut replaced = Vec::new();
    let mut kept: Vec<(Vec<u8>, Object)> = Vec::new();
    for e in entries {
        let spec = up.dict(&e.value, "a file specification").ok();
        if is_cda_entry(&e.key, spec.as_ref()) {
            if let Object::Reference(r) = e.value {
                replaced.push(r);
            }
        } else {
            kept.push((e.key, e.value));
        }
    }
    kept.push((
        CDA_FILE_NAME.as_bytes().to_vec(),
        Object::Reference(filespec),
    ));
    kept.sort_by(|a, b| a.0.cmp(&b.0));
    let flat: Vec<Object> = kept
        .into_iter()
        .flat_map(|(k, v)| [Object::String(k), v])
        .collect();
    tree.dict.remove("Kids");
    tree.dict.remove("Limits");
    tree.dict.set("Names", Object::Array(flat));
    let names_changed = put_back(up, &mut names.dict, "EmbeddedFiles", tree);
    let mut catalog_changed = if names_changed || names.indirect.is_none() {
        put_back(up, &mut catalog, "Names", names)
    } else {
        false
    };

    // /AF: associated files (PDF 2.0, PDF/A-3), merged.
    let (mut af, af_ref) = match catalog.get("AF") {
        Some(Object::Reference(r)) => match up.deref(&Object::Reference(*r))? {
            Object::Array(a) => (a, Some(*r)),
            _ => (Vec::new(), None),
        },
        Some(Object::Array(a)) => (a.clone(), None),
        _ => (Vec::new(), None),
    };
    af.retain(|o| !o.as_ref().is_some_and(|r| replaced.contains(&r)));
    af.push(Object::Reference(filespec));
    match af_ref {
        Some(r) => up.set(r, Object::Array(af)),
        None => {
            catalog.set("AF", Object::Array(af));
            catalog_changed = true;
        }
    }

    if upgrade_pdfa(up, &mut catalog)? {
        catalog_changed = true;
    }
    if catalog_changed {
        up.set(catalog_ref, Object::Dict(catalog));
    }
    Ok(())
}

/// The PDF/A part an XMP packet claims, with where its value sits.
fn pdfa_part(xmp: &str) -> Option<(u8, std::ops::Range<usize>)> {
    // Attribute form: pdfaid:part="2"; element form: <pdfaid:part>2</pdfaid:part>.
    for (open, close) in [
        ("pdfaid:part=\"", '"'),
        ("pdfaid:part='", '\''),
        ("<pdfaid:part>", '<'),
    ] {
        if let Some(at) = xmp.find(open) {
            let start = at + open.len();
            let len = xmp.get(start..)?.find(close)?;
            let value = xmp.get(start..start + len)?.trim();
            let part = value.parse().ok()?;
            return Some((part, start..start + len));
        }
    }
    None
}

/// When the catalog's XMP claims PDF/A-1 or PDF/A-2, re-declares it
/// PDF/A-3. Returns whether the catalog changed.
fn upgrade_pdfa(up: &mut Update<'_, '_>, catalog: &mut Dict) -> Result<bool> {
    let Some(meta) = catalog.get("Metadata").cloned() else {
        return Ok(false);
    };
    let Ok(Object::Stream(stream)) = up.deref(&meta) else {
        return Ok(false);
    };
    let xml = up.doc().decode_stream(&stream)?;
    let Ok(text) = String::from_utf8(xml) else {
        return Ok(false);
    };
    let Some((part, range)) = pdfa_part(&text) else {
        return Ok(false);
    };
    if part >= 3 {
        return Ok(false);
    }
    let mut updated = String::with_capacity(text.len());
    updated.push_str(text.get(..range.start).unwrap_or_default());
    updated.push('3');
    updated.push_str(text.get(range.end..).unwrap_or_default());
    // PDF/A-1 named its amendment; PDF/A-3 has none to claim.
    let updated = remove_amd(&updated);
    // Metadata streams stay unfiltered in PDF/A.
    let mut dict = stream.dict.clone();
    for key in ["Filter", "DecodeParms", "DP", "Length"] {
        dict.remove(key);
    }
    let new_meta = Object::Stream(Stream {
        dict,
        data: updated.into_bytes(),
    });
    let mut catalog_changed = false;
    match meta {
        Object::Reference(r) => up.set(r, new_meta),
        _ => {
            let r = up.add(new_meta);
            catalog.set("Metadata", r);
            catalog_changed = true;
        }
    }
    // PDF/A-3 is built on PDF 1.7; an update cannot touch the header, the
    // catalog's /Version can.
    let header = up.doc().header_version().to_string();
    let declared = catalog
        .name("Version")
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let current = declared.as_deref().unwrap_or(&header);
    if version_less(current, "1.7") {
        catalog.set("Version", Object::name("1.7"));
        catalog_changed = true;
    }
    Ok(catalog_changed)
}

fn remove_amd(xmp: &str) -> String {
    for open in ["pdfaid:amd=\"", "pdfaid:amd='"] {
        if let Some(at) = xmp.find(open) {
            let quote = if open.ends_with('"') { '"' } else { '\'' };
            if let Some(len) = xmp.get(at + open.len()..).and_then(|r| r.find(quote)) {
                let end = at + open.len() + len + 1;
                return format!(
                    "{}{}",
                    xmp.get(..at).unwrap_or_default().trim_end_matches(' '),
                    xmp.get(end..).unwrap_or_default()
                );
            }
        }
    }
    if let (Some(s), Some(e)) = (xmp.find("<pdfaid:amd>"), xmp.find("</pdfaid:amd>"))
        && s < e
    {
        return format!(
            "{}{}",
            xmp.get(..s).unwrap_or_default(),
            xmp.get(e + "</pdfaid:amd>".len()..).unwrap_or_default()
        );
    }
    xmp.to_string()
}

fn version_less(a: &str, b: &str) -> bool {
    let parse = |v: &str| -> (u32, u32) {
        let (maj, min) = v.split_once('.').unwrap_or((v, "0"));
        (maj.parse().unwrap_or(0), min.parse().unwrap_or(0))
    };
    parse(a) < parse(b)
}

/// The CDA as UTF-8 text without BOM or XML declaration.
fn cda_for_resource(cda: &[u8]) -> Result<String> {
    let (encoding, body) = match encoding_rs::Encoding::for_bom(cda) {
        Some((enc, bom)) => (enc, cda.get(bom..).unwrap_or_default()),
        None => {
            let declared = declared_encoding(cda);
            let enc = match declared {
                Some(label) => {
                    encoding_rs::Encoding::for_label(label.as_bytes()).ok_or_else(|| {
                        Error::Inject(format!("the CDA declares the unknown encoding {label:?}"))
                    })?
                }
                None => encoding_rs::UTF_8,
            };
            (enc, cda)
        }
    };
    let (text, _, had_errors) = encoding.decode(body);
    if had_errors {
        return Err(Error::Inject(format!(
            "the CDA is not valid {}",
            encoding.name()
        )));
    }
    let mut text = text.into_owned();
    let trimmed = text.trim_start();
    if trimmed.starts_with("<?xml")
        && let Some(end) = trimmed.find("?>")
    {
        text = trimmed.get(end + 2..).unwrap_or_default().to_string();
    }
    Ok(text)
}

fn declared_encoding(cda: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(cda.get(..cda.len().min(200))?);
    let decl = head.trim_start().strip_prefix("<?xml")?;
    let decl = decl.get(..decl.find("?>")?)?;
    let at = decl.find("encoding")?;
    let rest = decl
        .get(at + "encoding".len()..)?
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next()?;
    let rest = rest.get(1..)?;
    Some(rest.get(..rest.find(quote)?)?.to_string())
}

fn add_resource(up: &mut Update<'_, '_>, cda: &[u8], compress: bool) -> Result<()> {
    let doc = up.doc();
    let catalog_ref = doc.catalog_ref()?;
    let mut catalog = up.dict(&Object::Reference(catalog_ref), "the document catalog")?;
    let text = cda_for_resource(cda)?;
    let datasets = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xfa:datasets xmlns:xfa=\"http://www.xfa.org/schema/xfa-data/1.0/\"><xfa:data>{text}</xfa:data></xfa:datasets>\n"
    );
    let data_ref = up.add(stream(Dict::new(), datasets.as_bytes(), compress));

    let mut names = child(up, &catalog, "Names")?;
    let tree = child(up, &names.dict, "XFAResources")?;
    let get = |o: &Object| up.deref(o);
    let mut kept: Vec<(Vec<u8>, Object)> = name_tree_entries(&get, &tree.dict)?
        .into_iter()
        .filter(|e| e.key != b"datasets")
        .map(|e| (e.key, e.value))
        .collect();
    kept.push((b"datasets".to_vec(), Object::Reference(data_ref)));
    kept.sort_by(|a, b| a.0.cmp(&b.0));
    let flat: Vec<Object> = kept
        .into_iter()
        .flat_map(|(k, v)| [Object::String(k), v])
        .collect();
    let mut tree_dict = tree.dict;
    tree_dict.remove("Kids");
    tree_dict.remove("Limits");
    tree_dict.set("Names", Object::Array(flat));
    // The Gateway's reader wants /XFAResources as an indirect dictionary.
    let tree_ref = match tree.indirect {
        Some(r) => {
            up.set(r, Object::Dict(tree_dict));
            r
        }
        None => up.add(Object::Dict(tree_dict)),
    };
    let names_changed = if names.dict.get("XFAResources").and_then(Object::as_ref) == Some(tree_ref)
    {
        false
    } else {
        names.dict.set("XFAResources", tree_ref);
        true
    };
    match names.indirect {
        Some(r) if names_changed => up.set(r, Object::Dict(names.dict)),
        Some(_) => {}
        None => {
            catalog.set("Names", Object::Dict(names.dict));
            up.set(catalog_ref, Object::Dict(catalog));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdfa_claims() {
        assert_eq!(
            pdfa_part("<r pdfaid:part=\"2\" pdfaid:conformance=\"B\"/>").map(|p| p.0),
            Some(2)
        );
        assert_eq!(
            pdfa_part("<pdfaid:part>1</pdfaid:part>").map(|p| p.0),
            Some(1)
        );
        assert_eq!(pdfa_part("<x/>"), None);
        assert_eq!(
            remove_amd("<r pdfaid:part=\"3\" pdfaid:amd=\"2005\"/>"),
            "<r pdfaid:part=\"3\"/>"
        );
    }

    #[test]
    fn resource_text_is_utf8_without_prolog() {
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<ClinicalDocument>Citt\xe0</ClinicalDocument>";
        assert_eq!(
            cda_for_resource(latin1).unwrap(),
            "\n<ClinicalDocument>Citt\u{e0}</ClinicalDocument>"
        );
        assert!(cda_for_resource(b"<?xml version='1.0' encoding='klingon'?><a/>").is_err());
        assert!(check_looks_like_xml(b"  \n").is_err());
        assert!(check_looks_like_xml(b"%PDF").is_err());
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_less("1.4", "1.7"));
        assert!(!version_less("2.0", "1.7"));
        assert!(version_less("1.10", "2.0"));
    }
}
