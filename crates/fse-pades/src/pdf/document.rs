//! Reading a PDF: header, cross-reference tables and streams (with their
//! `/Prev` chain and hybrid `/XRefStm`), object streams, lazy resolution.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use memchr::memmem;

use crate::error::{Error, Result};
use crate::pdf::filter;
use crate::pdf::lexer::Lexer;
use crate::pdf::object::{Dict, ObjRef, Object, Stream};

/// Bounds on what the reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest decoded stream, in bytes.
    pub max_decoded: usize,
    /// Most cross-reference sections followed through `/Prev`.
    pub max_xref_sections: usize,
    /// Most objects in the cross-reference data.
    pub max_objects: usize,
}

impl Default for Limits {
    /// 256 MiB per stream, 4096 sections, 8 million objects: far beyond any
    /// clinical PDF, small enough that hostile input cannot exhaust memory.
    fn default() -> Self {
        Self {
            max_decoded: 256 << 20,
            max_xref_sections: 4096,
            max_objects: 8_000_000,
        }
    }
}

/// How the newest cross-reference section is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum XrefStyle {
    /// A classic `xref` table.
    Table,
    /// A cross-reference stream (PDF 1.5).
    Stream,
    /// A classic table whose trailer points to a stream too (`/XRefStm`).
    Hybrid,
}

/// Where an object lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Free,
    Offset { offset: usize, gen_nr: u16 },
    Compressed { stream: u32, index: u32 },
}

/// A decoded object stream: the objects' offsets and the data.
#[derive(Debug)]
struct ObjStm {
    first: usize,
    offsets: Vec<(u32, usize)>,
    data: Vec<u8>,
}

/// How deep references may chain while resolving (a `/Length` that is a
/// reference into an object stream whose `/Length` is a reference, ...).
const MAX_RESOLVE_DEPTH: u32 = 16;

/// A parsed PDF over borrowed bytes. Objects are read on demand.
#[derive(Debug)]
pub struct Document<'a> {
    data: &'a [u8],
    header_offset: usize,
    version: String,
    entries: HashMap<u32, Entry>,
    trailer: Dict,
    startxref: usize,
    style: XrefStyle,
    limits: Limits,
    objstm_cache: RefCell<HashMap<u32, Rc<ObjStm>>>,
    depth: Cell<u32>,
    /// Objects the section being read introduced as free.
    section_free: Vec<u32>,
    /// Whether the cross-reference data was rebuilt by scanning.
    repaired: bool,
}

impl<'a> Document<'a> {
    /// Opens `data` with the default [`Limits`].
    ///
    /// # Errors
    /// Not a PDF, truncated (no `startxref`), damaged cross-reference data,
    /// encrypted, or beyond the limits.
    pub fn open(data: &'a [u8]) -> Result<Self> {
        Self::open_with(data, Limits::default())
    }

    /// Opens `data` with explicit limits.
    ///
    /// # Errors
    /// As [`Document::open`].
    pub fn open_with(data: &'a [u8], limits: Limits) -> Result<Self> {
        let mut doc = Self::empty(data, limits)?;
        let startxref = find_startxref(data)?;
        doc.startxref = startxref;
        doc.read_xref_chain(startxref)?;
        doc.check_trailer()?;
        Ok(doc)
    }

    /// Opens `data` ignoring its cross-reference data: every `id gen obj`
    /// in the file is found by scanning (the last definition wins), object
    /// streams are unpacked, and the trailer is the last one naming a
    /// `/Root` (or the last catalog). For files whose cross-reference data
    /// is damaged; such a document can only be written out whole
    /// (an incremental update needs a sound previous revision).
    ///
    /// # Errors
    /// Not a PDF, no catalog found, encrypted.
    pub fn open_repaired(data: &'a [u8]) -> Result<Self> {
        let mut doc = Self::empty(data, Limits::default())?;
        doc.repaired = true;
        let mut trailer: Option<Dict> = None;
        let mut catalog: Option<u32> = None;
        let mut object_streams = Vec::new();
        for at in memmem::find_iter(data, b"obj") {
            let Some((id, start)) = object_header_before(data, at) else {
                continue;
            };
            if data.get(at + 3).is_some_and(|&b| {
                !crate::pdf::lexer::is_whitespace(b) && !crate::pdf::lexer::is_delimiter(b)
            }) {
                continue; // `objective`, `objstm`, ...
            }
            if doc.entries.len() >= doc.limits.max_objects {
                return Err(Error::Limit {
                    what: "objects",
                    limit: doc.limits.max_objects as u64,
                });
            }
            let mut lx = Lexer::new(data, start);
            let Ok(ind) = lx.indirect() else { continue };
            doc.entries.insert(
                id,
                Entry::Offset {
                    offset: start,
                    gen_nr: ind.id.gen_nr,
                },
            );
            if let Some(d) = ind.value.as_dict() {
                if d.has_name("Type", "ObjStm") {
                    object_streams.push(id);
                } else if d.has_name("Type", "Catalog") {
                    catalog = Some(id);
                } else if d.has_name("Type", "XRef") && d.contains("Root") {
                    trailer = Some(d.clone());
                }
            }
        }
        for at in memmem::find_iter(data, b"trailer") {
            let mut lx = Lexer::new(data, at + b"trailer".len());
            if let Ok(Object::Dict(d)) = lx.object(0)
                && d.contains("Root")
            {
                trailer = Some(d);
            }
        }
        for stream in object_streams {
            let Ok(objstm) = doc.object_stream(stream) else {
                continue;
            };
            for (index, &(id, _)) in objstm.offsets.iter().enumerate() {
                let Ok(index) = u32::try_from(index) else {
                    break;
                };
                // A direct definition is the newer one.
                doc.entries
                    .entry(id)
                    .or_insert(Entry::Compressed { stream, index });
            }
        }
        let mut trailer = trailer.unwrap_or_default();
        let root_ok = trailer
            .get("Root")
            .and_then(Object::as_ref)
            .is_some_and(|r| {
                doc.resolve(r).ok().and_then(|o| {
                    o.as_dict()
                        .map(|d| d.has_name("Type", "Catalog") || d.contains("Pages"))
                }) == Some(true)
            });
        if !root_ok {
            let Some(id) = catalog else {
                return Err(Error::Missing(
                    "a document catalog (the file cannot be repaired)".into(),
                ));
            };
            trailer.set(
                "Root",
                Object::Reference(ObjRef {
                    id,
                    gen_nr: doc.generation(id),
                }),
            );
        }
        for key in [
            "Prev",
            "XRefStm",
            "Type",
            "W",
            "Index",
            "Filter",
            "DecodeParms",
            "Length",
        ] {
            trailer.remove(key);
        }
        doc.trailer = trailer;
        doc.check_trailer()?;
        Ok(doc)
    }

    /// Whether the cross-reference data was rebuilt by [`Document::open_repaired`].
    pub fn is_repaired(&self) -> bool {
        self.repaired
    }

    fn empty(data: &'a [u8], limits: Limits) -> Result<Self> {
        let head = data.get(..data.len().min(1024)).unwrap_or_default();
        let header_offset = memmem::find(head, b"%PDF-").ok_or(Error::NotPdf)?;
        let version = data
            .get(header_offset + 5..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit() || **b == b'.')
            .take(8)
            .map(|&b| char::from(b))
            .collect::<String>();
        Ok(Document {
            data,
            header_offset,
            version,
            entries: HashMap::new(),
            trailer: Dict::new(),
            startxref: 0,
            style: XrefStyle::Table,
            limits,
            objstm_cache: RefCell::new(HashMap::new()),
            depth: Cell::new(0),
            section_free: Vec::new(),
            repaired: false,
        })
    }

    fn check_trailer(&self) -> Result<()> {
        if self.trailer.contains("Encrypt") {
            return Err(Error::Encrypted);
        }
        match self.trailer.get("Root") {
            Some(Object::Reference(_)) => Ok(()),
            Some(other) => Err(Error::WrongType {
                what: "trailer /Root".into(),
                expected: "reference",
                found: other.kind(),
            }),
            None => Err(Error::Missing(
                "the trailer's /Root (document catalog)".into(),
            )),
        }
    }

    /// The bytes the document was opened from.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The version in the `%PDF-x.y` header.
    pub fn header_version(&self) -> &str {
        &self.version
    }

    /// The newest trailer (for a cross-reference stream: its dictionary).
    pub fn trailer(&self) -> &Dict {
        &self.trailer
    }

    /// The offset of the newest cross-reference section (`startxref`).
    pub fn startxref(&self) -> usize {
        self.startxref
    }

    /// How the newest cross-reference section is written.
    pub fn xref_style(&self) -> XrefStyle {
        self.style
    }

    /// The highest object number in use or declared by `/Size`, plus one:
    /// the first number safe for a new object.
    pub fn next_free_id(&self) -> u32 {
        let max_entry = self
            .entries
            .keys()
            .copied()
            .max()
            .map_or(1, |m| m.saturating_add(1));
        let size = self
            .trailer
            .get("Size")
            .and_then(Object::as_i64)
            .and_then(|s| u32::try_from(s).ok())
            .unwrap_or(0);
        max_entry.max(size).max(1)
    }

    /// The numbers of the objects in use, sorted.
    pub fn object_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .entries
            .iter()
            .filter(|(_, e)| !matches!(e, Entry::Free))
            .map(|(&id, _)| id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The generation number the cross-reference data gives `id` (0 when
    /// it lives in an object stream or is unknown).
    pub fn generation(&self, id: u32) -> u16 {
        match self.entries.get(&id) {
            Some(Entry::Offset { gen_nr, .. }) => *gen_nr,
            _ => 0,
        }
    }

    /// The reference to the document catalog.
    pub fn catalog_ref(&self) -> Result<ObjRef> {
        self.trailer
            .get("Root")
            .and_then(Object::as_ref)
            .ok_or_else(|| Error::Missing("/Root".into()))
    }

    /// The document catalog.
    ///
    /// # Errors
    /// When it is missing or not a dictionary.
    pub fn catalog(&self) -> Result<Dict> {
        let r = self.catalog_ref()?;
        self.resolve_dict(&Object::Reference(r), "the document catalog")
    }

    /// Resolves an indirect object.
    ///
    /// # Errors
    /// Missing object, damaged cross-reference entry, syntax error.
    pub fn resolve(&self, r: ObjRef) -> Result<Object> {
        let depth = self.depth.get();
        if depth >= MAX_RESOLVE_DEPTH {
            return Err(Error::Limit {
                what: "reference chain depth",
                limit: u64::from(MAX_RESOLVE_DEPTH),
            });
        }
        self.depth.set(depth + 1);
        let result = self.resolve_inner(r);
        self.depth.set(depth);
        result
    }

    fn resolve_inner(&self, r: ObjRef) -> Result<Object> {
        match self.entries.get(&r.id).copied() {
            None | Some(Entry::Free) => Err(Error::MissingObject(r)),
            Some(Entry::Offset { offset, .. }) => self.object_at(r.id, offset),
            Some(Entry::Compressed { stream, index }) => self.compressed_object(r, stream, index),
        }
    }

    /// Follows references until a direct object (bounded).
    ///
    /// # Errors
    /// As [`Document::resolve`].
    pub fn deref(&self, obj: &Object) -> Result<Object> {
        let mut current = obj.clone();
        for _ in 0..MAX_RESOLVE_DEPTH {
            match current {
                Object::Reference(r) => current = self.resolve(r)?,
                other => return Ok(other),
            }
        }
        Err(Error::Limit {
            what: "reference chain depth",
            limit: u64::from(MAX_RESOLVE_DEPTH),
        })
    }

    /// Resolves `obj` and requires a dictionary (a stream's dictionary
    /// counts). `what` names it in errors.
    ///
    /// # Errors
    /// As [`Document::resolve`], or a wrong type.
    pub fn resolve_dict(&self, obj: &Object, what: &str) -> Result<Dict> {
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

    /// Resolves `obj` and requires an array.
    ///
    /// # Errors
    /// As [`Document::resolve`], or a wrong type.
    pub fn resolve_array(&self, obj: &Object, what: &str) -> Result<Vec<Object>> {
        match self.deref(obj)? {
            Object::Array(a) => Ok(a),
            other => Err(Error::WrongType {
                what: what.to_string(),
                expected: "array",
                found: other.kind(),
            }),
        }
    }

    /// Decodes a stream's data through its filters.
    ///
    /// # Errors
    /// An unsupported filter, damaged data, or beyond the decoded-size limit.
    pub fn decode_stream(&self, stream: &Stream) -> Result<Vec<u8>> {
        let mut dict = Dict::new();
        for key in ["Filter", "DecodeParms", "DP"] {
            if let Some(v) = stream.dict.get(key) {
                let v = self.deref(v)?;
                let v = match v {
                    Object::Array(items) => Object::Array(
                        items
                            .iter()
                            .map(|i| self.deref(i))
                            .collect::<Result<Vec<_>>>()?,
                    ),
                    other => other,
                };
                dict.set(key, v);
            }
        }
        if stream.dict.contains("F") {
            return Err(Error::Filter {
                filter: "/F".into(),
                message: "external stream data is not supported".into(),
            });
        }
        filter::decode(&dict, &stream.data, self.limits.max_decoded)
    }

    fn object_at(&self, id: u32, offset: usize) -> Result<Object> {
        let mut found = self.try_object_at(id, offset);
        // Files with junk before `%PDF-` often count offsets from the header.
        if found.is_err()
            && self.header_offset > 0
            && let Ok(obj) = self.try_object_at(id, offset + self.header_offset)
        {
            found = Ok(obj);
        }
        found
    }

    fn try_object_at(&self, id: u32, offset: usize) -> Result<Object> {
        if offset >= self.data.len() {
            return Err(Error::DamagedXref {
                offset,
                message: format!("object {id} is said to start beyond the end of the file"),
            });
        }
        let mut lx = Lexer::new(self.data, offset);
        lx.skip_ws();
        let ind = lx.indirect().map_err(|e| Error::DamagedXref {
            offset,
            message: format!("object {id} is not where the cross-reference data says ({e})"),
        })?;
        if ind.id.id != id {
            return Err(Error::DamagedXref {
                offset,
                message: format!("expected object {id}, found object {}", ind.id.id),
            });
        }
        match (ind.value, ind.stream_data) {
            (Object::Dict(dict), Some(start)) => {
                let data = self.stream_bytes(&dict, start, id)?;
                Ok(Object::Stream(Stream { dict, data }))
            }
            (value, _) => Ok(value),
        }
    }

    /// The raw bytes of a stream starting at `start`, using `/Length` when
    /// it is right and the `endstream` keyword when it is not.
    fn stream_bytes(&self, dict: &Dict, start: usize, id: u32) -> Result<Vec<u8>> {
        let length = match dict.get("Length") {
            Some(Object::Reference(r)) if r.id != id => {
                self.resolve(*r).ok().and_then(|o| o.as_i64())
            }
            Some(other) => other.as_i64(),
            None => None,
        };
        if let Some(len) = length.and_then(|l| usize::try_from(l).ok())
            && let Some(end) = start.checked_add(len)
            && end <= self.data.len()
        {
            let mut lx = Lexer::new(self.data, end);
            if lx.eat_keyword(b"endstream") {
                return Ok(self.data.get(start..end).unwrap_or_default().to_vec());
            }
        }
        // Wrong or missing /Length: the data ends before `endstream`.
        let rest = self.data.get(start..).unwrap_or_default();
        let Some(at) = memmem::find(rest, b"endstream") else {
            return Err(Error::Syntax {
                offset: start,
                message: format!("stream of object {id} has no `endstream`"),
            });
        };
        let mut body = rest.get(..at).unwrap_or_default();
        if let Some(b) = body.strip_suffix(b"\r\n") {
            body = b;
        } else if let Some(b) = body
            .strip_suffix(b"\n")
            .or_else(|| body.strip_suffix(b"\r"))
        {
            body = b;
        }
        Ok(body.to_vec())
    }

    fn compressed_object(&self, r: ObjRef, stream: u32, index: u32) -> Result<Object> {
        let objstm = self.object_stream(stream)?;
        let Some(&(id, rel)) = objstm.offsets.get(index as usize) else {
            return Err(Error::DamagedXref {
                offset: 0,
                message: format!(
                    "object {} is said to be number {index} of object stream {stream}, which is shorter",
                    r.id
                ),
            });
        };
        if id != r.id {
            return Err(Error::DamagedXref {
                offset: 0,
                message: format!(
                    "object stream {stream} holds object {id} where {} was expected",
                    r.id
                ),
            });
        }
        let start = objstm.first.saturating_add(rel);
        if start >= objstm.data.len() {
            return Err(Error::DamagedXref {
                offset: 0,
                message: format!("object {id} lies beyond its object stream"),
            });
        }
        let mut lx = Lexer::new(&objstm.data, start);
        lx.object(0).map_err(|e| match e {
            Error::Syntax { offset, message } => Error::Syntax {
                offset,
                message: format!("{message} (in object stream {stream}, object {id})"),
            },
            other => other,
        })
    }

    fn object_stream(&self, id: u32) -> Result<Rc<ObjStm>> {
        if let Some(s) = self.objstm_cache.borrow().get(&id) {
            return Ok(Rc::clone(s));
        }
        let Object::Stream(stream) = self.resolve(ObjRef::new(id))? else {
            return Err(Error::WrongType {
                what: format!("object stream {id}"),
                expected: "stream",
                found: "non-stream",
            });
        };
        let n = stream.dict.get("N").and_then(Object::as_i64).unwrap_or(-1);
        let first = stream
            .dict
            .get("First")
            .and_then(Object::as_i64)
            .unwrap_or(-1);
        let data = self.decode_stream(&stream)?;
        let (Ok(n), Ok(first)) = (usize::try_from(n), usize::try_from(first)) else {
            return Err(Error::Missing(format!(
                "/N or /First of object stream {id}"
            )));
        };
        if first > data.len() || n > data.len() {
            return Err(Error::DamagedXref {
                offset: 0,
                message: format!("object stream {id}: /N or /First out of range"),
            });
        }
        let mut lx = Lexer::new(data.get(..first).unwrap_or_default(), 0);
        let mut offsets = Vec::with_capacity(n);
        for _ in 0..n {
            let (Some(obj), Some(off)) = (lx.read_unsigned(), lx.read_unsigned()) else {
                return Err(Error::DamagedXref {
                    offset: 0,
                    message: format!("object stream {id}: damaged header"),
                });
            };
            let (Ok(obj), Ok(off)) = (u32::try_from(obj), usize::try_from(off)) else {
                return Err(Error::DamagedXref {
                    offset: 0,
                    message: format!("object stream {id}: number out of range"),
                });
            };
            offsets.push((obj, off));
        }
        let parsed = Rc::new(ObjStm {
            first,
            offsets,
            data,
        });
        self.objstm_cache
            .borrow_mut()
            .insert(id, Rc::clone(&parsed));
        Ok(parsed)
    }

    // --- Cross-reference data ---

    fn read_xref_chain(&mut self, start: usize) -> Result<()> {
        let mut visited = HashSet::new();
        let mut next = Some(start);
        let mut first = true;
        while let Some(offset) = next {
            if !visited.insert(offset) {
                break; // a /Prev loop: every section is read once
            }
            if visited.len() > self.limits.max_xref_sections {
                return Err(Error::Limit {
                    what: "cross-reference sections",
                    limit: self.limits.max_xref_sections as u64,
                });
            }
            self.section_free.clear();
            let (trailer, style) = self.read_xref_section(offset)?;
            if let Some(stm) = trailer
                .get("XRefStm")
                .and_then(Object::as_i64)
                .and_then(|o| usize::try_from(o).ok())
            {
                // Hybrid file: the stream fills what the table leaves out,
                // including objects the table lists as free for old readers.
                if visited.insert(stm) {
                    let marked_free = std::mem::take(&mut self.section_free);
                    for id in &marked_free {
                        self.entries.remove(id);
                    }
                    self.read_xref_section(stm)?;
                    for id in marked_free {
                        self.entries.entry(id).or_insert(Entry::Free);
                    }
                }
            }
            next = trailer
                .get("Prev")
                .and_then(Object::as_i64)
                .and_then(|o| usize::try_from(o).ok());
            if first {
                self.style = if style == XrefStyle::Table && trailer.contains("XRefStm") {
                    XrefStyle::Hybrid
                } else {
                    style
                };
                self.trailer = trailer;
                first = false;
            }
        }
        Ok(())
    }

    fn read_xref_section(&mut self, offset: usize) -> Result<(Dict, XrefStyle)> {
        let mut result = self.try_xref_section(offset);
        if result.is_err()
            && self.header_offset > 0
            && let Ok(found) = self.try_xref_section(offset + self.header_offset)
        {
            result = Ok(found);
        }
        result
    }

    fn try_xref_section(&mut self, offset: usize) -> Result<(Dict, XrefStyle)> {
        if offset >= self.data.len() {
            return Err(Error::DamagedXref {
                offset,
                message: "cross-reference offset beyond the end of the file".into(),
            });
        }
        let mut lx = Lexer::new(self.data, offset);
        if lx.eat_keyword(b"xref") {
            return self.xref_table(lx).map(|t| (t, XrefStyle::Table));
        }
        let ind = lx.indirect().map_err(|e| Error::DamagedXref {
            offset,
            message: format!("neither an `xref` table nor a cross-reference stream ({e})"),
        })?;
        let (Object::Dict(dict), Some(start)) = (ind.value, ind.stream_data) else {
            return Err(Error::DamagedXref {
                offset,
                message: "expected a cross-reference stream".into(),
            });
        };
        if !dict.has_name("Type", "XRef") {
            return Err(Error::DamagedXref {
                offset,
                message: "the object at startxref is not /Type /XRef".into(),
            });
        }
        let data = self.stream_bytes(&dict, start, ind.id.id)?;
        self.xref_stream(
            offset,
            &Stream {
                dict: dict.clone(),
                data,
            },
        )?;
        Ok((dict, XrefStyle::Stream))
    }

    fn insert_entry(&mut self, id: u32, entry: Entry) -> Result<()> {
        if self.entries.len() >= self.limits.max_objects {
            return Err(Error::Limit {
                what: "objects",
                limit: self.limits.max_objects as u64,
            });
        }
        // Newer sections are read first and win.
        if let std::collections::hash_map::Entry::Vacant(slot) = self.entries.entry(id) {
            slot.insert(entry);
            if entry == Entry::Free {
                self.section_free.push(id);
            }
        }
        Ok(())
    }

    fn xref_table(&mut self, mut lx: Lexer<'a>) -> Result<Dict> {
        loop {
            if lx.eat_keyword(b"trailer") {
                let at = lx.pos();
                return match lx.object(0)? {
                    Object::Dict(d) => Ok(d),
                    other => Err(Error::DamagedXref {
                        offset: at,
                        message: format!("trailer is a {}", other.kind()),
                    }),
                };
            }
            let at = lx.pos();
            let (Some(first), Some(count)) = (lx.read_unsigned(), lx.read_unsigned()) else {
                return Err(Error::DamagedXref {
                    offset: at,
                    message: "expected a subsection `first count` or `trailer`".into(),
                });
            };
            // Every entry takes at least 18 bytes: bound count by what is left.
            let remaining = self.data.len().saturating_sub(lx.pos()) as u64;
            if count > remaining / 18 + 1 {
                return Err(Error::DamagedXref {
                    offset: at,
                    message: format!("subsection claims {count} entries"),
                });
            }
            for i in 0..count {
                let at = lx.pos();
                let (Some(off), Some(gen_nr)) = (lx.read_unsigned(), lx.read_unsigned()) else {
                    return Err(Error::DamagedXref {
                        offset: at,
                        message: "malformed cross-reference entry".into(),
                    });
                };
                let kind = if lx.eat_keyword(b"n") {
                    true
                } else if lx.eat_keyword(b"f") {
                    false
                } else {
                    return Err(Error::DamagedXref {
                        offset: at,
                        message: "entry is neither `n` nor `f`".into(),
                    });
                };
                let Ok(id) = u32::try_from(first + i) else {
                    return Err(Error::DamagedXref {
                        offset: at,
                        message: "object number out of range".into(),
                    });
                };
                let entry = match (kind, usize::try_from(off), u16::try_from(gen_nr)) {
                    (false, _, _) => Entry::Free,
                    (true, Ok(offset), Ok(gen_nr)) => Entry::Offset { offset, gen_nr },
                    _ => {
                        return Err(Error::DamagedXref {
                            offset: at,
                            message: "entry out of range".into(),
                        });
                    }
                };
                // Some writers number the first subsection from 1 while
                // listing the free head entry: object 0 is never real.
                if id == 0 && matches!(entry, Entry::Offset { .. }) {
                    continue;
                }
                self.insert_entry(id, entry)?;
            }
        }
    }

    fn xref_stream(&mut self, offset: usize, stream: &Stream) -> Result<()> {
        let bad = |message: &str| Error::DamagedXref {
            offset,
            message: format!("cross-reference stream: {message}"),
        };
        let widths: Vec<usize> = stream
            .dict
            .get("W")
            .and_then(Object::as_array)
            .ok_or_else(|| bad("no /W"))?
            .iter()
            .map(|w| {
                w.as_i64()
                    .and_then(|w| usize::try_from(w).ok())
                    .filter(|&w| w <= 8)
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("/W entries must be integers from 0 to 8"))?;
        let [w0, w1, w2] = widths[..] else {
            return Err(bad("/W must have three entries"));
        };
        let row = w0 + w1 + w2;
        if row == 0 {
            return Err(bad("/W is all zeros"));
        }
        let size = stream
            .dict
            .get("Size")
            .and_then(Object::as_i64)
            .ok_or_else(|| bad("no /Size"))?;
        let index: Vec<i64> = match stream.dict.get("Index").and_then(Object::as_array) {
            Some(items) => items
                .iter()
                .map(Object::as_i64)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("bad /Index"))?,
            None => vec![0, size],
        };
        // The stream's own dictionary has no references to resolve here.
        let data = filter::decode(&stream.dict, &stream.data, self.limits.max_decoded)?;
        let mut rows = data.chunks_exact(row);
        for pair in index.chunks(2) {
            let [first, count] = pair[..] else {
                return Err(bad("odd /Index"));
            };
            let (Ok(first), Ok(count)) = (u32::try_from(first), u64::try_from(count)) else {
                return Err(bad("negative /Index"));
            };
            for i in 0..count {
                let Some(r) = rows.next() else {
                    return Err(bad("fewer entries than /Index declares"));
                };
                let field = |from: usize, len: usize| {
                    r[from..from + len]
                        .iter()
                        .fold(0u64, |acc, &b| acc << 8 | u64::from(b))
                };
                let kind = if w0 == 0 { 1 } else { field(0, w0) };
                let (f1, f2) = (field(w0, w1), field(w0 + w1, w2));
                let Some(id) = u64::from(first)
                    .checked_add(i)
                    .and_then(|v| u32::try_from(v).ok())
                else {
                    return Err(bad("object number out of range"));
                };
                let entry = match kind {
                    0 => Entry::Free,
                    1 => Entry::Offset {
                        offset: usize::try_from(f1).map_err(|_| bad("offset out of range"))?,
                        gen_nr: u16::try_from(f2).unwrap_or(0),
                    },
                    2 => Entry::Compressed {
                        stream: u32::try_from(f1)
                            .map_err(|_| bad("object stream number out of range"))?,
                        index: u32::try_from(f2).map_err(|_| bad("index out of range"))?,
                    },
                    // Unknown types are to be ignored (ISO 32000-1 §7.5.8.3).
                    _ => continue,
                };
                if id == 0 {
                    continue;
                }
                self.insert_entry(id, entry)?;
            }
        }
        Ok(())
    }
}

/// For an `obj` keyword at `at`, the object number and the offset of the
/// `id gen obj` header, when the keyword is preceded by two numbers at the
/// start of a token.
fn object_header_before(data: &[u8], at: usize) -> Option<(u32, usize)> {
    let ws = crate::pdf::lexer::is_whitespace;
    let mut i = at;
    let skip_ws = |mut i: usize| {
        while i > 0 && data.get(i - 1).copied().is_some_and(ws) {
            i -= 1;
        }
        i
    };
    let digits_back = |mut i: usize| {
        let end = i;
        while i > 0 && data.get(i - 1).is_some_and(u8::is_ascii_digit) {
            i -= 1;
        }
        (i, end)
    };
    i = skip_ws(i);
    if i == at {
        return None;
    }
    let (gen_start, gen_end) = digits_back(i);
    if gen_start == gen_end || gen_end - gen_start > 5 {
        return None;
    }
    i = skip_ws(gen_start);
    if i == gen_start {
        return None;
    }
    let (id_start, id_end) = digits_back(i);
    if id_start == id_end || id_end - id_start > 10 {
        return None;
    }
    if id_start > 0
        && data
            .get(id_start - 1)
            .is_some_and(|&b| !ws(b) && !crate::pdf::lexer::is_delimiter(b))
    {
        return None;
    }
    let id: u32 = std::str::from_utf8(data.get(id_start..id_end)?)
        .ok()?
        .parse()
        .ok()?;
    (id > 0).then_some((id, id_start))
}

/// Finds the offset after the last `startxref` keyword, and refuses a
/// file that goes on after it (an update cut short: its own `startxref`
/// was lost, and reading the older revision would silently drop it).
fn find_startxref(data: &[u8]) -> Result<usize> {
    // The keyword sits in the last kilobyte; allow trailing junk.
    let tail_start = data.len().saturating_sub(4096);
    let tail = data.get(tail_start..).unwrap_or_default();
    let at = memmem::rfind(tail, b"startxref").ok_or(Error::NoStartXref)?;
    let mut lx = Lexer::new(data, tail_start + at + b"startxref".len());
    let offset = lx.read_unsigned().ok_or(Error::NoStartXref)?;
    let rest = data.get(lx.pos()..).unwrap_or_default();
    let mut leftover = 0usize;
    let mut i = 0;
    while i < rest.len() {
        if rest.get(i..i + 5) == Some(b"%%EOF") {
            i += 5;
        } else {
            if !crate::pdf::lexer::is_whitespace(rest[i]) {
                leftover += 1;
            }
            i += 1;
        }
    }
    // A few stray bytes after %%EOF are common and harmless.
    if leftover > 32 {
        return Err(Error::DamagedXref {
            offset: lx.pos(),
            message: format!(
                "{} bytes follow the last complete revision: the file is truncated in the middle of an update, or damaged",
                rest.len()
            ),
        });
    }
    usize::try_from(offset).map_err(|_| Error::NoStartXref)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny PDF with correct offsets, written by hand.
    fn tiny() -> Vec<u8> {
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for body in [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] /Contents 4 0 R >>",
            "<< /Length 5 0 R >>\nstream\nBT ET\nendstream",
            "5",
        ] {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", offsets.len()).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(b"xref\n0 6\n0000000000 65535 f \n");
        for o in offsets {
            out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!("trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n").as_bytes(),
        );
        out
    }

    #[test]
    fn reads_a_table_file() {
        let data = tiny();
        let doc = Document::open(&data).unwrap();
        assert_eq!(doc.header_version(), "1.4");
        assert_eq!(doc.xref_style(), XrefStyle::Table);
        assert_eq!(doc.object_ids(), vec![1, 2, 3, 4, 5]);
        assert_eq!(doc.next_free_id(), 6);
        assert!(doc.catalog().unwrap().has_name("Type", "Catalog"));
        let Object::Stream(s) = doc.resolve(ObjRef::new(4)).unwrap() else {
            panic!("not a stream")
        };
        assert_eq!(s.data, b"BT ET");
    }

    #[test]
    fn clear_errors_for_bad_input() {
        assert!(matches!(Document::open(b"hello world"), Err(Error::NotPdf)));
        let data = tiny();
        let truncated = &data[..data.len() / 2];
        assert!(matches!(Document::open(truncated), Err(Error::NoStartXref)));
        // An update cut short after a complete revision is not read as the older revision.
        let mut cut = data.clone();
        cut.extend_from_slice(
            b"6 0 obj\n<< /Type /Annot /Subtype /Text /Rect [0 0 1 1] >>\nendobj\nxref\n0 1",
        );
        let err = Document::open(&cut).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        let mut moved = data.clone();
        let at = memmem::rfind(&moved, b"startxref\n").unwrap() + 10;
        moved[at] = b'1'; // startxref now points into the middle of nowhere
        let err = Document::open(&moved).unwrap_err();
        assert!(matches!(err, Error::DamagedXref { .. }), "{err}");
        let encrypted = String::from_utf8(data.clone())
            .unwrap()
            .replace("/Root 1 0 R", "/Root 1 0 R /Encrypt 9 0 R");
        assert!(matches!(
            Document::open(encrypted.as_bytes()),
            Err(Error::Encrypted)
        ));
    }

    #[test]
    fn wrong_offset_is_damaged_xref() {
        let data = String::from_utf8(tiny()).unwrap();
        // Shift object 3's entry by 7 bytes.
        let doc = Document::open(data.as_bytes()).unwrap();
        let Some(Entry::Offset { offset, .. }) = doc.entries.get(&3).copied() else {
            panic!()
        };
        let broken = data.replace(
            &format!("{offset:010} 00000 n"),
            &format!("{:010} 00000 n", offset + 7),
        );
        let doc = Document::open(broken.as_bytes()).unwrap();
        let err = doc.resolve(ObjRef::new(3)).unwrap_err();
        assert!(matches!(err, Error::DamagedXref { .. }), "{err}");
    }
}
