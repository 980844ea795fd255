//! PAdES signing (ETSI EN 319 142-1 B-B, and B-T with a time-stamp) as an
//! incremental update: the output starts with the input, byte for byte.

use std::io::Write as _;

use time::OffsetDateTime;

use crate::asn1::oid;
use crate::cms;
use crate::error::{Error, Result};
use crate::pdf::write::Update;
use crate::pdf::{Dict, Document, ObjRef, Object, Stream, date};
use crate::signer::{DigestAlgorithm, SignatureAlgorithm, Signer};
use crate::tsp::Timestamper;

/// How to sign.
#[derive(Clone, Default)]
pub struct SignOptions<'t> {
    /// `/Reason`, e.g. "Firma Digitale".
    pub reason: Option<String>,
    /// `/Location`, e.g. "Firenze, IT".
    pub location: Option<String>,
    /// `/Name`: the signer's name as the PDF shows it.
    pub name: Option<String>,
    /// `/ContactInfo`.
    pub contact_info: Option<String>,
    /// The claimed signing time (`/M`); now, in UTC, when `None` (the local
    /// offset is not reliably known in a multi-threaded process).
    pub time: Option<OffsetDateTime>,
    /// The signature field's name; `SignatureN`, the first free N, when `None`.
    pub field_name: Option<String>,
    /// A time-stamping service: with it the signature is B-T.
    pub timestamper: Option<&'t dyn Timestamper>,
    /// Bytes reserved in `/Contents` for the time-stamp token (B-T only);
    /// 0 means the default of 12 KiB. A larger token makes `sign` retry
    /// once with enough room.
    pub timestamp_reserve: usize,
}

impl std::fmt::Debug for SignOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignOptions")
            .field("reason", &self.reason)
            .field("location", &self.location)
            .field("name", &self.name)
            .field("time", &self.time)
            .field("field_name", &self.field_name)
            .field("timestamper", &self.timestamper.is_some())
            .finish_non_exhaustive()
    }
}

const DEFAULT_TIMESTAMP_RESERVE: usize = 12 * 1024;

/// Signs `pdf` with `signer`: PAdES B-B (`ETSI.CAdES.detached`, signed
/// attributes content-type, message-digest, signing-certificate-v2, no
/// signing-time), B-T when `options.timestamper` is set. The signature is
/// an invisible widget merged into the first page's `/Annots` and the
/// `/AcroForm`, written as an incremental update in the input's
/// cross-reference style.
///
/// # Errors
/// An unreadable, damaged or encrypted PDF, a document certified against
/// changes, a signer or time-stamping failure.
pub fn sign(pdf: &[u8], signer: &dyn Signer, options: &SignOptions<'_>) -> Result<Vec<u8>> {
    let mut reserve = if options.timestamper.is_some() {
        if options.timestamp_reserve == 0 {
            DEFAULT_TIMESTAMP_RESERVE
        } else {
            options.timestamp_reserve
        }
    } else {
        0
    };
    for _attempt in 0..2 {
        let prepared = prepare(
            pdf,
            signer.certificates(),
            signer.algorithm(),
            signer.max_signature_len(),
            options,
            reserve,
        )?;
        let signature = signer.sign(prepared.signed_attributes())?;
        let token = match options.timestamper {
            Some(tsa) => Some(tsa.timestamp(&PreparedSignature::timestamp_digest(&signature))?),
            None => None,
        };
        match prepared.finish(&signature, token.as_deref()) {
            Err(Error::ContentsTooSmall { needed, .. }) if token.is_some() => {
                // The token was larger than guessed: make room and sign again.
                reserve = reserve + needed + 1024;
            }
            other => return other,
        }
    }
    Err(Error::Sign(
        "the time-stamp token does not fit even after resizing".into(),
    ))
}

/// A PDF with its signature dictionary written and `/Contents` still
/// empty: the two-step form of [`sign`], for signers that must be called
/// asynchronously (a remote signing service, an HTTP time-stamp).
#[derive(Debug, Clone)]
pub struct PreparedSignature {
    bytes: Vec<u8>,
    contents_at: usize,
    contents_hex_len: usize,
    digest: DigestAlgorithm,
    signed_attributes: Vec<u8>,
    certificates: Vec<Vec<u8>>,
    algorithm: SignatureAlgorithm,
}

impl PreparedSignature {
    /// The bytes the signer must sign (DER of the signed attributes).
    pub fn signed_attributes(&self) -> &[u8] {
        &self.signed_attributes
    }

    /// The SHA-256 a time-stamping authority must stamp for `signature`.
    pub fn timestamp_digest(signature: &[u8]) -> [u8; 32] {
        let d = ring::digest::digest(&ring::digest::SHA256, signature);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }

    /// Puts the CMS (with `signature`, and `timestamp_token` as the
    /// signature-time-stamp when given) into `/Contents`.
    ///
    /// # Errors
    /// The CMS does not fit the reserved room.
    pub fn finish(mut self, signature: &[u8], timestamp_token: Option<&[u8]>) -> Result<Vec<u8>> {
        let unsigned = timestamp_token
            .map(cms::timestamp_attribute)
            .into_iter()
            .collect();
        let parts = cms::SignerParts {
            certificates: &self.certificates,
            digest: self.digest,
            signature_algorithm: self.algorithm.algorithm_identifier(),
            signed_attributes: &self.signed_attributes,
            signature,
            unsigned_attributes: unsigned,
        };
        let der = cms::signed_data(None, &parts)?;
        if der.len() * 2 > self.contents_hex_len {
            return Err(Error::ContentsTooSmall {
                needed: der.len(),
                reserved: self.contents_hex_len / 2,
            });
        }
        let Some(slot) = self
            .bytes
            .get_mut(self.contents_at..self.contents_at + der.len() * 2)
        else {
            return Err(Error::Sign(
                "the /Contents placeholder is out of place".into(),
            ));
        };
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        for (pair, byte) in slot.chunks_exact_mut(2).zip(&der) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0xF)];
        }
        Ok(self.bytes)
    }
}

/// The width of each number in the `/ByteRange` placeholder: files up to
/// 10 GB.
const BYTE_RANGE_DIGITS: usize = 10;

/// Writes the incremental update with placeholders, fills `/ByteRange`,
/// digests the covered bytes and builds the signed attributes.
///
/// `max_signature_len` sizes `/Contents` (with `timestamp_reserve` more
/// bytes for a B-T token).
///
/// # Errors
/// As [`sign`].
pub fn prepare(
    pdf: &[u8],
    certificates: &[Vec<u8>],
    algorithm: SignatureAlgorithm,
    max_signature_len: usize,
    options: &SignOptions<'_>,
    timestamp_reserve: usize,
) -> Result<PreparedSignature> {
    let Some(signer_cert) = certificates.first() else {
        return Err(Error::Certificate("the signer has no certificate".into()));
    };
    let digest = algorithm.digest();
    // Size /Contents from a CMS with a dummy signature of the longest length.
    let dummy_attrs = cms::signed_attributes(oid::DATA, &digest.digest(b""), signer_cert)?;
    let dummy = vec![0xFFu8; max_signature_len];
    let parts = cms::SignerParts {
        certificates,
        digest,
        signature_algorithm: algorithm.algorithm_identifier(),
        signed_attributes: &dummy_attrs,
        signature: &dummy,
        unsigned_attributes: Vec::new(),
    };
    let room = cms::signed_data(None, &parts)?.len()
        + if timestamp_reserve > 0 {
            timestamp_reserve + 64
        } else {
            0
        };

    let doc = Document::open(pdf)?;
    let mut up = Update::new(&doc);
    let catalog_ref = doc.catalog_ref()?;
    let mut catalog = doc.catalog()?;
    refuse_if_locked(&up, &catalog)?;
    let page = first_page(&up, &catalog)?;

    let sig_ref = up.reserve();
    let ap = up.add(Object::Stream(Stream {
        dict: Dict::new()
            .with("Type", Object::name("XObject"))
            .with("Subtype", Object::name("Form"))
            .with("BBox", zero_rect()),
        data: Vec::new(),
    }));

    // The form: merge into what is there.
    let (mut acro, acro_ref) = match catalog.get("AcroForm") {
        Some(Object::Reference(r)) => (up.dict(&Object::Reference(*r), "/AcroForm")?, Some(*r)),
        Some(Object::Dict(d)) => (d.clone(), None),
        _ => (Dict::new(), None),
    };
    let (fields, fields_ref) = match acro.get("Fields") {
        Some(Object::Reference(r)) => match up.deref(&Object::Reference(*r))? {
            Object::Array(a) => (a, Some(*r)),
            _ => (Vec::new(), None),
        },
        Some(Object::Array(a)) => (a.clone(), None),
        _ => (Vec::new(), None),
    };
    let field_name = match &options.field_name {
        Some(n) => n.clone(),
        None => free_field_name(&up, &fields),
    };
    let widget = up.add(Object::Dict(
        Dict::new()
            .with("Type", Object::name("Annot"))
            .with("Subtype", Object::name("Widget"))
            .with("FT", Object::name("Sig"))
            .with("T", Object::text(&field_name))
            .with("V", sig_ref)
            .with("P", page)
            // Print + Locked: PDF/A wants printable annotations.
            .with("F", 132)
            .with("Rect", zero_rect())
            .with("AP", Dict::new().with("N", ap)),
    ));
    let mut fields = fields;
    fields.push(Object::Reference(widget));
    match fields_ref {
        Some(r) => up.set(r, Object::Array(fields)),
        None => acro.set("Fields", Object::Array(fields)),
    }
    let flags = acro.get("SigFlags").and_then(Object::as_i64).unwrap_or(0);
    acro.set("SigFlags", flags | 3);
    match acro_ref {
        Some(r) => up.set(r, Object::Dict(acro)),
        None => {
            catalog.set("AcroForm", Object::Dict(acro));
            up.set(catalog_ref, Object::Dict(catalog));
        }
    }

    // The page's annotations: merge too.
    let mut page_dict = up.dict(&Object::Reference(page), "the first page")?;
    match page_dict.get("Annots") {
        Some(Object::Reference(r)) => {
            let r = *r;
            let mut annots = match up.deref(&Object::Reference(r))? {
                Object::Array(a) => a,
                _ => Vec::new(),
            };
            annots.push(Object::Reference(widget));
            up.set(r, Object::Array(annots));
        }
        Some(Object::Array(a)) => {
            let mut annots = a.clone();
            annots.push(Object::Reference(widget));
            page_dict.set("Annots", Object::Array(annots));
            up.set(page, Object::Dict(page_dict));
        }
        _ => {
            page_dict.set("Annots", Object::Array(vec![Object::Reference(widget)]));
            up.set(page, Object::Dict(page_dict));
        }
    }

    // The signature dictionary, serialized here so its placeholders sit at
    // known offsets.
    let time = options.time.unwrap_or_else(OffsetDateTime::now_utc);
    let mut sig = Vec::with_capacity(room * 2 + 512);
    sig.extend_from_slice(
        b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /M ",
    );
    crate::pdf::write_object(&mut sig, &Object::string(&date::format(time)));
    for (key, value) in [
        ("Name", &options.name),
        ("Reason", &options.reason),
        ("Location", &options.location),
        ("ContactInfo", &options.contact_info),
    ] {
        if let Some(v) = value {
            let _ = write!(sig, " /{key} ");
            crate::pdf::write_object(&mut sig, &Object::text(v));
        }
    }
    sig.extend_from_slice(b" /ByteRange ");
    let byte_range_at = sig.len();
    sig.push(b'[');
    for i in 0..4 {
        if i > 0 {
            sig.push(b' ');
        }
        sig.extend(std::iter::repeat_n(b'0', BYTE_RANGE_DIGITS));
    }
    sig.push(b']');
    let byte_range_len = sig.len() - byte_range_at;
    sig.extend_from_slice(b" /Contents ");
    let lt_at = sig.len();
    sig.push(b'<');
    sig.extend(std::iter::repeat_n(b'0', room * 2));
    sig.push(b'>');
    sig.extend_from_slice(b" >>");
    up.set_raw(sig_ref, sig);

    let written = up.write_incremental()?;
    let mut bytes = written.bytes;
    let Some(&body_at) = written.body_offsets.get(&sig_ref.id) else {
        return Err(Error::Sign(
            "the signature dictionary was not written".into(),
        ));
    };
    let lt = body_at + lt_at;
    let gt_end = lt + room * 2 + 2;
    let total = bytes.len();
    let range = format!("[0 {lt} {gt_end} {}", total - gt_end);
    if range.len() + 1 > byte_range_len {
        return Err(Error::Sign(
            "the file is too large for the /ByteRange placeholder".into(),
        ));
    }
    let mut patched = range.into_bytes();
    patched.resize(byte_range_len - 1, b' ');
    patched.push(b']');
    bytes
        .get_mut(body_at + byte_range_at..body_at + byte_range_at + byte_range_len)
        .ok_or_else(|| Error::Sign("the /ByteRange placeholder is out of place".into()))?
        .copy_from_slice(&patched);

    let mut ctx = ring::digest::Context::new(digest.ring());
    ctx.update(bytes.get(..lt).unwrap_or_default());
    ctx.update(bytes.get(gt_end..).unwrap_or_default());
    let message_digest = ctx.finish();
    let signed_attributes =
        cms::signed_attributes(oid::DATA, message_digest.as_ref(), signer_cert)?;
    Ok(PreparedSignature {
        bytes,
        contents_at: lt + 1,
        contents_hex_len: room * 2,
        digest,
        signed_attributes,
        certificates: certificates.to_vec(),
        algorithm,
    })
}

fn zero_rect() -> Object {
    Object::Array(vec![0.into(), 0.into(), 0.into(), 0.into()])
}

/// The first page in the page tree (bounded walk, loops refused).
fn first_page(up: &Update<'_, '_>, catalog: &Dict) -> Result<ObjRef> {
    let mut node = catalog
        .get("Pages")
        .and_then(Object::as_ref)
        .ok_or_else(|| Error::Missing("the catalog's /Pages".into()))?;
    for _ in 0..64 {
        let dict = up.dict(&Object::Reference(node), "a page tree node")?;
        match dict.get("Kids") {
            Some(kids) if !dict.has_name("Type", "Page") => {
                let kids = match up.deref(kids)? {
                    Object::Array(a) => a,
                    other => {
                        return Err(Error::WrongType {
                            what: "/Kids".into(),
                            expected: "array",
                            found: other.kind(),
                        });
                    }
                };
                node = kids
                    .first()
                    .and_then(Object::as_ref)
                    .ok_or_else(|| Error::Missing("a page (empty /Kids)".into()))?;
            }
            _ => return Ok(node),
        }
    }
    Err(Error::Limit {
        what: "page tree depth",
        limit: 64,
    })
}

/// `Signature1`, `Signature2`, ...: the first not taken by a field.
fn free_field_name(up: &Update<'_, '_>, fields: &[Object]) -> String {
    let taken: Vec<Vec<u8>> = fields
        .iter()
        .filter_map(|f| up.dict(f, "a form field").ok())
        .filter_map(|d| d.get("T").and_then(Object::as_string).map(<[u8]>::to_vec))
        .collect();
    (1..)
        .map(|n| format!("Signature{n}"))
        .find(|name| !taken.iter().any(|t| t == name.as_bytes()))
        .unwrap_or_else(|| "Signature".to_string())
}

/// Refuses a document certified with "no changes allowed" (DocMDP P=1):
/// any signature would break its certification.
fn refuse_if_locked(up: &Update<'_, '_>, catalog: &Dict) -> Result<()> {
    let Some(perms) = catalog.get("Perms") else {
        return Ok(());
    };
    let Ok(perms) = up.dict(perms, "/Perms") else {
        return Ok(());
    };
    let Some(docmdp) = perms.get("DocMDP") else {
        return Ok(());
    };
    let Ok(sig) = up.dict(docmdp, "/DocMDP") else {
        return Ok(());
    };
    let level = sig
        .get("Reference")
        .and_then(|r| up.deref(r).ok())
        .and_then(|r| r.as_array().and_then(|a| a.first().cloned()))
        .and_then(|r| up.dict(&r, "signature reference").ok())
        .and_then(|r| {
            r.get("TransformParams")
                .and_then(|p| up.dict(p, "transform parameters").ok())
        })
        .and_then(|p| p.get("P").and_then(Object::as_i64))
        .unwrap_or(2);
    if level == 1 {
        return Err(Error::Sign(
            "the document is certified with no changes allowed (DocMDP P=1)".into(),
        ));
    }
    Ok(())
}
