//! Our own PDF reader and writer: objects, cross-reference tables and
//! streams, object streams, incremental updates, Flate. Bounded and
//! panic-free on hostile input; no system library.

pub mod date;
mod document;
pub(crate) mod filter;
pub(crate) mod lexer;
mod object;
pub(crate) mod write;

pub use document::{Document, Limits, XrefStyle};
pub use object::{Dict, ObjRef, Object, Stream};
pub use write::write_object;

/// Decodes a PDF text string (ISO 32000-1 §7.9.2.2): UTF-16BE with a byte
/// order mark, UTF-8 with one (PDF 2.0), or PDFDocEncoding, read here as
/// Latin-1 (they differ only in rarely used punctuation).
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some(utf16) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = utf16
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    if let Some(utf8) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(utf8).into_owned();
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}
