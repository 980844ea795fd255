//! PDF objects (ISO 32000-1 §7.3), owned.

use std::fmt;

/// A reference to an indirect object: `id gen R`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjRef {
    /// The object number.
    pub id: u32,
    /// The generation number.
    pub gen_nr: u16,
}

impl ObjRef {
    /// A reference to generation 0 of `id`.
    pub fn new(id: u32) -> Self {
        Self { id, gen_nr: 0 }
    }
}

impl fmt::Display for ObjRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} R", self.id, self.gen_nr)
    }
}

/// A PDF object. Streams keep their data encoded, as found in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Integer(i64),
    /// A real number.
    Real(f64),
    /// A string, literal or hexadecimal, as decoded bytes.
    String(Vec<u8>),
    /// A name, without the slash, `#xx` escapes decoded.
    Name(Vec<u8>),
    /// An array.
    Array(Vec<Object>),
    /// A dictionary.
    Dict(Dict),
    /// A stream: its dictionary and its (still encoded) data.
    Stream(Stream),
    /// A reference to an indirect object.
    Reference(ObjRef),
}

impl Object {
    /// A name object from text.
    pub fn name(s: &str) -> Object {
        Object::Name(s.as_bytes().to_vec())
    }

    /// A string object from text (its UTF-8 bytes; use [`Object::text`]
    /// for text strings that may hold non-ASCII characters).
    pub fn string(s: &str) -> Object {
        Object::String(s.as_bytes().to_vec())
    }

    /// A PDF text string (ISO 32000-1 §7.9.2.2): ASCII as is, anything
    /// else as UTF-16BE with a byte order mark, which every reader decodes.
    pub fn text(s: &str) -> Object {
        if s.is_ascii() {
            return Object::String(s.as_bytes().to_vec());
        }
        let mut bytes = vec![0xFE, 0xFF];
        for unit in s.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        Object::String(bytes)
    }

    /// The integer, if this is one (reals with no fraction count too).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Object::Integer(i) => Some(*i),
            Object::Real(r) if r.fract() == 0.0 && r.abs() < 9.0e15 => Some(*r as i64),
            _ => None,
        }
    }

    /// The number, integer or real.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Object::Integer(i) => Some(*i as f64),
            Object::Real(r) => Some(*r),
            _ => None,
        }
    }

    /// The name's bytes, if this is a name.
    pub fn as_name(&self) -> Option<&[u8]> {
        match self {
            Object::Name(n) => Some(n),
            _ => None,
        }
    }

    /// The string's bytes, if this is a string.
    pub fn as_string(&self) -> Option<&[u8]> {
        match self {
            Object::String(s) => Some(s),
            _ => None,
        }
    }

    /// The dictionary, if this is one (a stream's dictionary counts).
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Object::Dict(d) => Some(d),
            Object::Stream(s) => Some(&s.dict),
            _ => None,
        }
    }

    /// The array, if this is one.
    pub fn as_array(&self) -> Option<&[Object]> {
        match self {
            Object::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The reference, if this is one.
    pub fn as_ref(&self) -> Option<ObjRef> {
        match self {
            Object::Reference(r) => Some(*r),
            _ => None,
        }
    }

    /// What kind of object this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Object::Null => "null",
            Object::Bool(_) => "boolean",
            Object::Integer(_) => "integer",
            Object::Real(_) => "real",
            Object::String(_) => "string",
            Object::Name(_) => "name",
            Object::Array(_) => "array",
            Object::Dict(_) => "dictionary",
            Object::Stream(_) => "stream",
            Object::Reference(_) => "reference",
        }
    }
}

impl From<ObjRef> for Object {
    fn from(r: ObjRef) -> Self {
        Object::Reference(r)
    }
}

impl From<Dict> for Object {
    fn from(d: Dict) -> Self {
        Object::Dict(d)
    }
}

impl From<i64> for Object {
    fn from(i: i64) -> Self {
        Object::Integer(i)
    }
}

/// A dictionary. Keys keep their order; a later `set` of an existing key
/// replaces it in place.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dict(Vec<(Vec<u8>, Object)>);

impl Dict {
    /// An empty dictionary.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// The value of `key` (without its slash).
    pub fn get(&self, key: &str) -> Option<&Object> {
        let key = key.as_bytes();
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A mutable reference to the value of `key`.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Object> {
        let key = key.as_bytes();
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`, replacing any previous value in place.
    pub fn set(&mut self, key: &str, value: impl Into<Object>) {
        let value = value.into();
        match self.get_mut(key) {
            Some(slot) => *slot = value,
            None => self.0.push((key.as_bytes().to_vec(), value)),
        }
    }

    /// Builder form of [`Dict::set`].
    pub fn with(mut self, key: &str, value: impl Into<Object>) -> Self {
        self.set(key, value);
        self
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Object> {
        let key = key.as_bytes();
        let at = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(at).1)
    }

    /// Inserts a raw key (bytes as parsed); used by the parser.
    pub(crate) fn push_raw(&mut self, key: Vec<u8>, value: Object) {
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.0.push((key, value));
        }
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Object)> {
        self.0.iter().map(|(k, v)| (k.as_slice(), v))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The name value of `key`, if it is a name.
    pub fn name(&self, key: &str) -> Option<&[u8]> {
        self.get(key).and_then(Object::as_name)
    }

    /// Whether `key` holds the name `value`.
    pub fn has_name(&self, key: &str, value: &str) -> bool {
        self.name(key) == Some(value.as_bytes())
    }
}

/// A stream: dictionary and encoded data.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// The stream dictionary (`/Length` is rewritten on output).
    pub dict: Dict,
    /// The data as stored in the file, still encoded by `/Filter`.
    pub data: Vec<u8>,
}
