//! Just enough ASN.1: a DER writer for what we sign, and a BER reader for
//! what others signed (BouncyCastle writes indefinite lengths).

use std::borrow::Cow;

use crate::error::{Error, Result};

/// Object identifiers we use, as DER content bytes.
pub(crate) mod oid {
    /// id-data (1.2.840.113549.1.7.1).
    pub(crate) const DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01];
    /// id-signedData (1.2.840.113549.1.7.2).
    pub(crate) const SIGNED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
    /// id-contentType (1.2.840.113549.1.9.3).
    pub(crate) const CONTENT_TYPE: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x03];
    /// id-messageDigest (1.2.840.113549.1.9.4).
    pub(crate) const MESSAGE_DIGEST: &[u8] =
        &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x04];
    /// id-signingTime (1.2.840.113549.1.9.5).
    pub(crate) const SIGNING_TIME: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x05];
    /// id-aa-signingCertificate (1.2.840.113549.1.9.16.2.12).
    pub(crate) const SIGNING_CERTIFICATE: &[u8] = &[
        0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x0C,
    ];
    /// id-aa-signingCertificateV2 (1.2.840.113549.1.9.16.2.47).
    pub(crate) const SIGNING_CERTIFICATE_V2: &[u8] = &[
        0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x2F,
    ];
    /// id-aa-signatureTimeStampToken (1.2.840.113549.1.9.16.2.14).
    pub(crate) const SIGNATURE_TIME_STAMP: &[u8] = &[
        0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x0E,
    ];
    /// id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4).
    pub(crate) const TST_INFO: &[u8] = &[
        0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x01, 0x04,
    ];
    /// SHA-1 (1.3.14.3.2.26).
    pub(crate) const SHA1: &[u8] = &[0x2B, 0x0E, 0x03, 0x02, 0x1A];
    /// SHA-256 (2.16.840.1.101.3.4.2.1).
    pub(crate) const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    /// SHA-384 (2.16.840.1.101.3.4.2.2).
    pub(crate) const SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
    /// SHA-512 (2.16.840.1.101.3.4.2.3).
    pub(crate) const SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
    /// rsaEncryption (1.2.840.113549.1.1.1).
    pub(crate) const RSA_ENCRYPTION: &[u8] =
        &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
    /// sha1WithRSAEncryption (1.2.840.113549.1.1.5).
    pub(crate) const SHA1_WITH_RSA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x05];
    /// sha256WithRSAEncryption (1.2.840.113549.1.1.11).
    pub(crate) const SHA256_WITH_RSA: &[u8] =
        &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B];
    /// sha384WithRSAEncryption (1.2.840.113549.1.1.12).
    pub(crate) const SHA384_WITH_RSA: &[u8] =
        &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0C];
    /// sha512WithRSAEncryption (1.2.840.113549.1.1.13).
    pub(crate) const SHA512_WITH_RSA: &[u8] =
        &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0D];
    /// id-ecPublicKey (1.2.840.10045.2.1).
    pub(crate) const EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    /// prime256v1 (1.2.840.10045.3.1.7).
    pub(crate) const P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    /// secp384r1 (1.3.132.0.34).
    pub(crate) const P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
    /// ecdsa-with-SHA256 (1.2.840.10045.4.3.2).
    pub(crate) const ECDSA_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
    /// ecdsa-with-SHA384 (1.2.840.10045.4.3.3).
    pub(crate) const ECDSA_SHA384: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03];
}

/// Universal tags.
pub(crate) mod tag {
    pub(crate) const BOOLEAN: u8 = 0x01;
    pub(crate) const INTEGER: u8 = 0x02;
    pub(crate) const BIT_STRING: u8 = 0x03;
    pub(crate) const OCTET_STRING: u8 = 0x04;
    pub(crate) const NULL: u8 = 0x05;
    pub(crate) const OID: u8 = 0x06;
    pub(crate) const UTF8_STRING: u8 = 0x0C;
    pub(crate) const GENERALIZED_TIME: u8 = 0x18;
    pub(crate) const SEQUENCE: u8 = 0x30;
    pub(crate) const SET: u8 = 0x31;
}

// --- Writing DER ---

fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// `tag length content`.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_length(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// A constructed value from already-encoded parts.
pub(crate) fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    push_length(&mut out, len);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// A SEQUENCE of already-encoded parts.
pub(crate) fn seq(parts: &[&[u8]]) -> Vec<u8> {
    constructed(tag::SEQUENCE, parts)
}

/// A DER SET OF: elements sorted by their encodings (X.690 §11.6).
pub(crate) fn set_of(tag: u8, mut items: Vec<Vec<u8>>) -> Vec<u8> {
    items.sort();
    let parts: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
    constructed(tag, &parts)
}

/// An OBJECT IDENTIFIER from its content bytes.
pub(crate) fn oid(content: &[u8]) -> Vec<u8> {
    tlv(tag::OID, content)
}

/// An AlgorithmIdentifier with absent parameters.
pub(crate) fn algorithm(oid_content: &[u8]) -> Vec<u8> {
    seq(&[&oid(oid_content)])
}

/// An AlgorithmIdentifier with NULL parameters (RSA).
pub(crate) fn algorithm_null(oid_content: &[u8]) -> Vec<u8> {
    seq(&[&oid(oid_content), &[tag::NULL, 0]])
}

/// An OCTET STRING.
pub(crate) fn octets(content: &[u8]) -> Vec<u8> {
    tlv(tag::OCTET_STRING, content)
}

/// A non-negative INTEGER from big-endian magnitude bytes.
pub(crate) fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed = {
        let skip = magnitude.iter().take_while(|&&b| b == 0).count();
        &magnitude[skip.min(magnitude.len().saturating_sub(1))..]
    };
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    if content.len() > 1 && content[0] == 0 && content[1] & 0x80 == 0 {
        content.remove(0);
    }
    tlv(tag::INTEGER, &content)
}

/// A small INTEGER.
pub(crate) fn integer(v: u64) -> Vec<u8> {
    unsigned_integer(&v.to_be_bytes())
}

// --- Reading BER ---

/// Deepest nesting the reader follows.
const MAX_DEPTH: usize = 64;

/// One TLV as read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    /// The identifier octet (low tag numbers only).
    pub(crate) tag: u8,
    /// The content octets (for an indefinite length: up to the end-of-contents).
    pub(crate) content: &'a [u8],
    /// The whole encoding, header included.
    pub(crate) raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Whether the constructed bit is set.
    pub(crate) fn is_constructed(&self) -> bool {
        self.tag & 0x20 != 0
    }

    /// A reader over the content (for constructed values).
    pub(crate) fn reader(&self, what: &'static str) -> Reader<'a> {
        Reader::new(self.content, what)
    }

    /// OCTET STRING content, joining BER constructed chunks.
    pub(crate) fn octet_content(&self, what: &'static str) -> Result<Cow<'a, [u8]>> {
        if !self.is_constructed() {
            return Ok(Cow::Borrowed(self.content));
        }
        let mut out = Vec::new();
        let mut r = self.reader(what);
        while !r.is_empty() {
            let chunk = r.read()?;
            out.extend_from_slice(&chunk.octet_content(what)?);
        }
        Ok(Cow::Owned(out))
    }
}

/// A BER reader over a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], what: &'static str) -> Self {
        Self { data, pos: 0, what }
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error::Asn1 {
            what: self.what,
            offset: self.pos,
            message: message.into(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The next tag, if any.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Reads one TLV.
    pub(crate) fn read(&mut self) -> Result<Tlv<'a>> {
        let (tlv, next) = read_at(self.data, self.pos, 0).map_err(|(at, m)| Error::Asn1 {
            what: self.what,
            offset: at,
            message: m,
        })?;
        self.pos = next;
        Ok(tlv)
    }

    /// Reads one TLV and requires `tag`.
    pub(crate) fn expect(&mut self, tag: u8) -> Result<Tlv<'a>> {
        let at = self.pos;
        let t = self.read()?;
        if t.tag != tag {
            self.pos = at;
            return Err(self.err(format!("expected tag 0x{tag:02x}, found 0x{:02x}", t.tag)));
        }
        Ok(t)
    }

    /// Reads the next TLV only if it has `tag`.
    pub(crate) fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>> {
        if self.peek_tag() == Some(tag) {
            self.read().map(Some)
        } else {
            Ok(None)
        }
    }
}

type ReadResult<'a> = std::result::Result<(Tlv<'a>, usize), (usize, String)>;

fn read_at(data: &[u8], start: usize, depth: usize) -> ReadResult<'_> {
    if depth > MAX_DEPTH {
        return Err((start, "nested too deeply".into()));
    }
    let tag = *data
        .get(start)
        .ok_or((start, "unexpected end of data".to_string()))?;
    if tag & 0x1F == 0x1F {
        return Err((start, "high tag numbers are not supported".into()));
    }
    let first = *data
        .get(start + 1)
        .ok_or((start, "unexpected end of data in a length".to_string()))?;
    let mut pos = start + 2;
    if first == 0x80 {
        if tag & 0x20 == 0 {
            return Err((start, "indefinite length on a primitive value".into()));
        }
        // Indefinite: children up to the end-of-contents octets.
        let content_start = pos;
        loop {
            match (data.get(pos), data.get(pos + 1)) {
                (Some(0), Some(0)) => {
                    let content = data.get(content_start..pos).unwrap_or_default();
                    let raw = data.get(start..pos + 2).unwrap_or_default();
                    return Ok((Tlv { tag, content, raw }, pos + 2));
                }
                (None, _) | (_, None) => return Err((pos, "missing end-of-contents".into())),
                _ => {
                    let (_, next) = read_at(data, pos, depth + 1)?;
                    pos = next;
                }
            }
        }
    }
    let len = if first & 0x80 == 0 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7F);
        if n > 8 {
            return Err((start, "length of length too large".into()));
        }
        let bytes = data
            .get(pos..pos + n)
            .ok_or((start, "unexpected end of data in a length".to_string()))?;
        pos += n;
        let v = bytes.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        usize::try_from(v).map_err(|_| (start, "length out of range".to_string()))?
    };
    let end = pos
        .checked_add(len)
        .filter(|&e| e <= data.len())
        .ok_or((start, format!("length {len} runs past the end")))?;
    let content = data.get(pos..end).unwrap_or_default();
    let raw = data.get(start..end).unwrap_or_default();
    Ok((Tlv { tag, content, raw }, end))
}

/// The dotted form of OID content bytes, for messages.
pub(crate) fn oid_string(content: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut v: u64 = 0;
    for &b in content {
        v = (v << 7) | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (v / 40).min(2);
                arcs.push(first);
                arcs.push(v - first * 40);
            } else {
                arcs.push(v);
            }
            v = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_minimal() {
        assert_eq!(integer(0), [2, 1, 0]);
        assert_eq!(integer(127), [2, 1, 127]);
        assert_eq!(integer(128), [2, 2, 0, 128]);
        assert_eq!(unsigned_integer(&[0, 0, 0x01, 0x00]), [2, 2, 1, 0]);
    }

    #[test]
    fn long_lengths_and_sorted_sets() {
        let big = octets(&[7u8; 300]);
        assert_eq!(&big[..4], &[0x04, 0x82, 0x01, 0x2C]);
        assert_eq!(big.len(), 304);
        let set = set_of(tag::SET, vec![vec![0x04, 1, 9], vec![0x02, 1, 5]]);
        assert_eq!(set, [0x31, 6, 0x02, 1, 5, 0x04, 1, 9]);
    }

    #[test]
    fn reads_indefinite_lengths() {
        // SEQUENCE (indefinite) { INTEGER 5, [0] (indefinite) { NULL } }
        let ber = [
            0x30, 0x80, 0x02, 0x01, 0x05, 0xA0, 0x80, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF,
        ];
        let mut r = Reader::new(&ber, "test");
        let seq = r.expect(tag::SEQUENCE).unwrap();
        assert_eq!(seq.raw.len(), 13);
        let mut inner = seq.reader("test");
        assert_eq!(inner.expect(tag::INTEGER).unwrap().content, [5]);
        let tagged = inner.expect(0xA0).unwrap();
        assert_eq!(tagged.content, [0x05, 0x00]);
        assert!(inner.is_empty());
    }

    #[test]
    fn hostile_ber_gets_errors() {
        for bad in [
            &[0x30, 0x05, 0x02][..],
            &[0x30, 0x80, 0x02, 0x01],
            &[0x04, 0x80, 0, 0],
            &[0x1F, 0x01],
            &[0x30, 0x89, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        ] {
            assert!(Reader::new(bad, "t").read().is_err(), "{bad:?}");
        }
        let mut deep = Vec::new();
        for _ in 0..200 {
            deep.extend_from_slice(&[0x30, 0x80]);
        }
        assert!(Reader::new(&deep, "t").read().is_err());
    }

    #[test]
    fn oid_text() {
        assert_eq!(oid_string(oid::SHA256), "2.16.840.1.101.3.4.2.1");
        assert_eq!(
            oid_string(oid::SIGNING_CERTIFICATE_V2),
            "1.2.840.113549.1.9.16.2.47"
        );
    }
}
