//! Writing PDF: object serialization, incremental updates that leave every
//! original byte intact, and full rewrites.

use std::collections::BTreeMap;
use std::io::Write as _;

use crate::error::{Error, Result};
use crate::pdf::document::{Document, XrefStyle};
use crate::pdf::object::{Dict, ObjRef, Object};

/// Serializes `obj` in PDF syntax.
pub fn write_object(out: &mut Vec<u8>, obj: &Object) {
    match obj {
        Object::Null => out.extend_from_slice(b"null"),
        Object::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Object::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Object::Real(r) => write_real(out, *r),
        Object::String(s) => write_string(out, s),
        Object::Name(n) => write_name(out, n),
        Object::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_object(out, item);
            }
            out.push(b']');
        }
        Object::Dict(d) => write_dict(out, d),
        Object::Stream(s) => {
            let mut dict = s.dict.clone();
            dict.set("Length", Object::Integer(s.data.len() as i64));
            write_dict(out, &dict);
            out.extend_from_slice(b"\nstream\n");
            out.extend_from_slice(&s.data);
            out.extend_from_slice(b"\nendstream");
        }
        Object::Reference(r) => {
            let _ = write!(out, "{} {} R", r.id, r.gen_nr);
        }
    }
}

fn write_dict(out: &mut Vec<u8>, d: &Dict) {
    out.extend_from_slice(b"<<");
    for (k, v) in d.iter() {
        out.push(b' ');
        write_name(out, k);
        out.push(b' ');
        write_object(out, v);
    }
    out.extend_from_slice(b" >>");
}

fn write_real(out: &mut Vec<u8>, r: f64) {
    if !r.is_finite() {
        out.push(b'0');
        return;
    }
    if r.fract() == 0.0 && r.abs() < 1e15 {
        let _ = write!(out, "{}", r as i64);
        return;
    }
    let text = format!("{r:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    out.extend_from_slice(if text.is_empty() || text == "-" {
        b"0"
    } else {
        text.as_bytes()
    });
}

/// Writes a name with `#xx` escapes for anything not a regular printable.
pub(crate) fn write_name(out: &mut Vec<u8>, name: &[u8]) {
    out.push(b'/');
    for &b in name {
        let plain = (0x21..=0x7E).contains(&b)
            && !matches!(
                b,
                b'#' | b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
            );
        if plain {
            out.push(b);
        } else {
            let _ = write!(out, "#{b:02X}");
        }
    }
}

/// Writes a string: literal when it is printable text, hexadecimal otherwise.
pub(crate) fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    let printable = s
        .iter()
        .all(|&b| (0x20..=0x7E).contains(&b) || b == b'\n' || b == b'\r' || b == b'\t');
    if !printable {
        out.push(b'<');
        for &b in s {
            let _ = write!(out, "{b:02X}");
        }
        out.push(b'>');
        return;
    }
    out.push(b'(');
    for &b in s {
        match b {
            b'(' | b')' | b'\\' => {
                out.push(b'\\');
                out.push(b);
            }
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
    out.push(b')');
}

/// The body of an object in an update.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// An object to serialize.
    Object(Object),
    /// Bytes already serialized (the signature dictionary, whose
    /// placeholders must sit at known offsets).
    Raw(Vec<u8>),
}

/// The result of writing: the whole file and where each written object's
/// body starts.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) bytes: Vec<u8>,
    pub(crate) body_offsets: BTreeMap<u32, usize>,
}

/// A set of new and replaced objects over a document.
#[derive(Debug)]
pub(crate) struct Update<'d, 'a> {
    doc: &'d Document<'a>,
    next_id: u32,
    changed: BTreeMap<u32, (u16, Body)>,
}

impl<'d, 'a> Update<'d, 'a> {
    pub(crate) fn new(doc: &'d Document<'a>) -> Self {
        Self {
            doc,
            next_id: doc.next_free_id(),
            changed: BTreeMap::new(),
        }
    }

    pub(crate) fn doc(&self) -> &'d Document<'a> {
        self.doc
    }

    /// Adds a new object, returning its reference.
    pub(crate) fn add(&mut self, obj: Object) -> ObjRef {
        let r = self.reserve();
        self.changed.insert(r.id, (0, Body::Object(obj)));
        r
    }

    /// Reserves a number for an object written later with `set`.
    pub(crate) fn reserve(&mut self) -> ObjRef {
        let r = ObjRef::new(self.next_id);
        self.next_id += 1;
        r
    }

    /// Replaces (or sets a reserved) object.
    pub(crate) fn set(&mut self, r: ObjRef, obj: Object) {
        self.changed.insert(r.id, (r.gen_nr, Body::Object(obj)));
    }

    /// Sets an object from pre-serialized bytes.
    pub(crate) fn set_raw(&mut self, r: ObjRef, bytes: Vec<u8>) {
        self.changed.insert(r.id, (r.gen_nr, Body::Raw(bytes)));
    }

    /// The current value of `r`: as changed here, or as in the document.
    pub(crate) fn get(&self, r: ObjRef) -> Result<Object> {
        match self.changed.get(&r.id) {
            Some((_, Body::Object(o))) => Ok(o.clone()),
            Some((_, Body::Raw(_))) => Err(Error::Sign(format!("object {r} is not readable back"))),
            None => self.doc.resolve(r),
        }
    }

    /// Follows references through the update and the document.
    pub(crate) fn deref(&self, obj: &Object) -> Result<Object> {
        let mut current = obj.clone();
        for _ in 0..16 {
            match current {
                Object::Reference(r) => current = self.get(r)?,
                other => return Ok(other),
            }
        }
        Err(Error::Limit {
            what: "reference chain depth",
            limit: 16,
        })
    }

    /// Resolves `obj` and requires a dictionary.
    pub(crate) fn dict(&self, obj: &Object, what: &str) -> Result<Dict> {
        match self.deref(obj)? {
            Object::Dict(d) => Ok(d),
            Object::Stream(s) => Ok(s.dict),
            other => Err(Error::WrongType {
                what: what.to_string(),
                expected: "dictionary",
                found: other.kind(),
            }),
        }
    }

    fn write_objects(
        &self,
        out: &mut Vec<u8>,
        offsets: &mut BTreeMap<u32, usize>,
        xref: &mut Vec<(u32, u16, usize)>,
    ) {
        for (&id, (gen_nr, body)) in &self.changed {
            let start = out.len();
            let _ = writeln!(out, "{id} {gen_nr} obj");
            offsets.insert(id, out.len());
            match body {
                Body::Object(o) => write_object(out, o),
                Body::Raw(bytes) => out.extend_from_slice(bytes),
            }
            out.extend_from_slice(b"\nendobj\n");
            xref.push((id, *gen_nr, start));
        }
    }

    /// The trailer keys carried from the document, with `/ID` renewed.
    fn base_trailer(&self, size: u32, update_digest: &[u8]) -> Dict {
        let old = self.doc.trailer();
        let mut t = Dict::new();
        t.set("Size", Object::Integer(i64::from(size)));
        for key in ["Root", "Info"] {
            if let Some(v) = old.get(key) {
                t.set(key, v.clone());
            }
        }
        // The first /ID element identifies the document for good; the
        // second changes with every revision (ISO 32000-1 §14.4).
        let permanent = match old.get("ID").and_then(Object::as_array) {
            Some([Object::String(first), ..]) => first.clone(),
            _ => ring::digest::digest(&ring::digest::SHA256, self.doc.data())
                .as_ref()
                .get(..16)
                .unwrap_or_default()
                .to_vec(),
        };
        // Any digest will do for an identifier: SHA-256 (hardware-assisted) cut to 16 bytes.
        let mut h = ring::digest::Context::new(&ring::digest::SHA256);
        h.update(&permanent);
        h.update(update_digest);
        h.update(&(self.doc.data().len() as u64).to_be_bytes());
        let changing = h.finish().as_ref().get(..16).unwrap_or_default().to_vec();
        t.set(
            "ID",
            Object::Array(vec![Object::String(permanent), Object::String(changing)]),
        );
        t
    }

    /// Appends the changes as an incremental update: the output starts with
    /// the document's bytes, unchanged, and continues its cross-reference
    /// style (a table after a table, a stream after a stream).
    pub(crate) fn write_incremental(&self) -> Result<Written> {
        if self.doc.is_repaired() {
            return Err(Error::DamagedXref {
                offset: 0,
                message:
                    "a file whose cross-reference data was rebuilt can only be written out whole"
                        .into(),
            });
        }
        let original = self.doc.data();
        let mut out = Vec::with_capacity(original.len() + 4096);
        out.extend_from_slice(original);
        if !matches!(out.last(), Some(b'\n' | b'\r')) {
            out.push(b'\n');
        }
        let mut body_offsets = BTreeMap::new();
        let mut xref = Vec::new();
        let objects_start = out.len();
        self.write_objects(&mut out, &mut body_offsets, &mut xref);
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            out.get(objects_start..).unwrap_or_default(),
        );
        let prev = Object::Integer(self.doc.startxref() as i64);
        match self.doc.xref_style() {
            XrefStyle::Table | XrefStyle::Hybrid => {
                let size = self.next_id.max(self.doc.next_free_id());
                let mut trailer = self.base_trailer(size, digest.as_ref());
                trailer.set("Prev", prev);
                let xref_at = out.len();
                write_xref_table(&mut out, &xref);
                out.extend_from_slice(b"trailer\n");
                write_object(&mut out, &Object::Dict(trailer));
                let _ = write!(out, "\nstartxref\n{xref_at}\n%%EOF\n");
            }
            XrefStyle::Stream => {
                let xref_id = self.next_id.max(self.doc.next_free_id());
                let size = xref_id + 1;
                let xref_at = out.len();
                xref.push((xref_id, 0, xref_at));
                let mut dict = self.base_trailer(size, digest.as_ref());
                dict.set("Prev", prev);
                let stream = xref_stream(dict, &xref);
                let _ = writeln!(out, "{xref_id} 0 obj");
                write_object(&mut out, &stream);
                let _ = write!(out, "\nendobj\nstartxref\n{xref_at}\n%%EOF\n");
            }
        }
        Ok(Written {
            bytes: out,
            body_offsets,
        })
    }

    /// Writes a complete new file holding every object of the document
    /// (object streams unpacked, old cross-reference streams dropped) with
    /// the changes applied, and a classic cross-reference table.
    pub(crate) fn write_full(&self, version: &str) -> Result<Written> {
        let mut out = Vec::with_capacity(self.doc.data().len() + 4096);
        let _ = write!(out, "%PDF-{version}\n%\u{e2}\u{e3}\u{cf}\u{d3}\n");
        let mut body_offsets = BTreeMap::new();
        let mut xref = Vec::new();
        for id in self.doc.object_ids() {
            if self.changed.contains_key(&id) {
                continue;
            }
            let r = ObjRef {
                id,
                gen_nr: self.doc.generation(id),
            };
            let obj = self.doc.resolve(r)?;
            if let Some(d) = obj.as_dict()
                && (d.has_name("Type", "ObjStm") || d.has_name("Type", "XRef"))
            {
                continue;
            }
            let start = out.len();
            let _ = writeln!(out, "{} {} obj", r.id, r.gen_nr);
            body_offsets.insert(id, out.len());
            write_object(&mut out, &obj);
            out.extend_from_slice(b"\nendobj\n");
            xref.push((id, r.gen_nr, start));
        }
        let objects_start = out.len();
        self.write_objects(&mut out, &mut body_offsets, &mut xref);
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            out.get(objects_start..).unwrap_or_default(),
        );
        xref.sort_unstable_by_key(|e| e.0);
        let size = self.next_id.max(self.doc.next_free_id());
        let trailer = self.base_trailer(size, digest.as_ref());
        let xref_at = out.len();
        // A full table from 0, free entries filling the gaps.
        let _ = write!(out, "xref\n0 {size}\n");
        let mut it = xref.iter().peekable();
        for id in 0..size {
            match it.peek() {
                Some(&&(eid, gen_nr, off)) if eid == id => {
                    let _ = write!(out, "{off:010} {gen_nr:05} n\r\n");
                    it.next();
                }
                _ => out.extend_from_slice(if id == 0 {
                    b"0000000000 65535 f\r\n"
                } else {
                    b"0000000000 00000 f\r\n"
                }),
            }
        }
        out.extend_from_slice(b"trailer\n");
        write_object(&mut out, &Object::Dict(trailer));
        let _ = write!(out, "\nstartxref\n{xref_at}\n%%EOF\n");
        Ok(Written {
            bytes: out,
            body_offsets,
        })
    }
}

/// Writes an update's `xref` table: one subsection per run of numbers.
fn write_xref_table(out: &mut Vec<u8>, entries: &[(u32, u16, usize)]) {
    let mut sorted = entries.to_vec();
    sorted.sort_unstable_by_key(|e| e.0);
    out.extend_from_slice(b"xref\n");
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i + 1;
        while j < sorted.len() && sorted[j].0 == sorted[j - 1].0 + 1 {
            j += 1;
        }
        let _ = writeln!(out, "{} {}", sorted[i].0, j - i);
        for &(_, gen_nr, off) in &sorted[i..j] {
            // Entries are exactly 20 bytes: the EOL is two characters.
            let _ = write!(out, "{off:010} {gen_nr:05} n\r\n");
        }
        i = j;
    }
}

/// Builds an uncompressed cross-reference stream over `entries`.
fn xref_stream(mut dict: Dict, entries: &[(u32, u16, usize)]) -> Object {
    let mut sorted = entries.to_vec();
    sorted.sort_unstable_by_key(|e| e.0);
    let max_off = sorted.iter().map(|e| e.2).max().unwrap_or(0) as u64;
    let w1 = (1..=8)
        .find(|&w| w == 8 || max_off < 1u64 << (8 * w))
        .unwrap_or(8);
    let mut index = Vec::new();
    let mut data = Vec::with_capacity(sorted.len() * (3 + w1));
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i + 1;
        while j < sorted.len() && sorted[j].0 == sorted[j - 1].0 + 1 {
            j += 1;
        }
        index.push(Object::Integer(i64::from(sorted[i].0)));
        index.push(Object::Integer((j - i) as i64));
        for &(_, gen_nr, off) in &sorted[i..j] {
            data.push(1);
            data.extend_from_slice(&(off as u64).to_be_bytes()[8 - w1..]);
            data.extend_from_slice(&gen_nr.to_be_bytes());
        }
        i = j;
    }
    dict.set("Type", Object::name("XRef"));
    dict.set(
        "W",
        Object::Array(vec![1.into(), (w1 as i64).into(), 2.into()]),
    );
    dict.set("Index", Object::Array(index));
    Object::Stream(crate::pdf::object::Stream { dict, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::lexer::Lexer;

    fn roundtrip(obj: &Object) -> Object {
        let mut out = Vec::new();
        write_object(&mut out, obj);
        Lexer::new(&out, 0).object(0).unwrap()
    }

    #[test]
    fn objects_roundtrip() {
        let obj = Object::Dict(
            Dict::new()
                .with("Name", Object::name("a b/c#(x)"))
                .with("Str", Object::string("(paren) back\\slash\nline"))
                .with("Bin", Object::String(vec![0, 0xFF, 0x10]))
                .with(
                    "Arr",
                    Object::Array(vec![
                        Object::Real(0.5),
                        Object::Real(-2.0),
                        Object::Null,
                        Object::Bool(true),
                    ]),
                )
                .with("Ref", Object::Reference(ObjRef { id: 12, gen_nr: 3 })),
        );
        assert_eq!(
            roundtrip(&obj),
            obj.clone()
                .as_dict()
                .map(|d| {
                    let mut d = d.clone();
                    d.set(
                        "Arr",
                        Object::Array(vec![
                            Object::Real(0.5),
                            Object::Integer(-2),
                            Object::Null,
                            Object::Bool(true),
                        ]),
                    );
                    Object::Dict(d)
                })
                .unwrap()
        );
    }

    #[test]
    fn reals_are_plain_decimals() {
        let mut out = Vec::new();
        write_real(&mut out, 1.0 / 3.0);
        assert_eq!(out, b"0.333333");
        out.clear();
        write_real(&mut out, 1e-9);
        assert_eq!(out, b"0");
    }
}
