//! Verifying the signatures of a PDF: the Gateway's check (the CMS over
//! `/ByteRange`, the certificate inside the CMS, `/M` present) and more:
//! coverage, later changes, PAdES level, time-stamp, where the CDA sits.

use std::collections::HashSet;

use crate::asn1::oid;
use crate::cms;
use crate::error::Result;
use crate::extract::{ExtractedCda, Mode, extract_from};
use crate::pdf::{Dict, Document, Object, date, decode_text};
use crate::signer::DigestAlgorithm;
use crate::tsp;

/// What `verify` found in a PDF.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The file's size in bytes.
    pub file_size: usize,
    /// Where the CDA is (the Gateway's order: RESOURCE, then ATTACHMENT).
    pub cda: Option<CdaReport>,
    /// Every signature field with a value, in form order.
    pub signatures: Vec<SignatureReport>,
}

impl Report {
    /// Whether there is at least one signature, every one is valid, and
    /// the last one covers the whole file.
    pub fn all_valid_and_complete(&self) -> bool {
        !self.signatures.is_empty()
            && self.signatures.iter().all(|s| s.valid)
            && self.signatures.iter().any(|s| s.covers_whole_file)
    }
}

/// The CDA found in the file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CdaReport {
    /// Where it is.
    pub mode: Mode,
    /// Its size in bytes.
    pub size: usize,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

/// One signature.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignatureReport {
    /// The field's fully qualified name.
    pub field: String,
    /// `/Filter`.
    pub filter: Option<String>,
    /// `/SubFilter` (`ETSI.CAdES.detached`, `adbe.pkcs7.detached`, ...).
    pub sub_filter: Option<String>,
    /// Whether the CMS verifies over `/ByteRange` with a certificate found
    /// inside it, and `/M` is present (what the Gateway requires).
    pub valid: bool,
    /// Why it is not valid (empty when valid).
    pub problems: Vec<String>,
    /// `/ByteRange` as written.
    pub byte_range: Vec<u64>,
    /// Whether the signed bytes reach the end of the file.
    pub covers_whole_file: bool,
    /// Whether bytes were appended after the signed revision.
    pub modified_after_signing: bool,
    /// The digest algorithm (`SHA-256`).
    pub digest: Option<String>,
    /// The signer certificate's subject (RFC 4514 form).
    pub signer: Option<String>,
    /// The signer certificate (DER), as found inside the CMS.
    #[serde(skip)]
    pub certificate: Option<Vec<u8>>,
    /// The claimed signing time, `/M`, as written.
    pub claimed_time: Option<String>,
    /// `/M` in RFC 3339, when it parses.
    pub claimed_time_rfc3339: Option<String>,
    /// Whether the CMS has a signing-time signed attribute (not B-B).
    pub signing_time_attribute: bool,
    /// Whether a signing-certificate(-v2) attribute names the signer certificate.
    pub signing_certificate_attribute: bool,
    /// The signature time-stamp, if any.
    pub timestamp: Option<TimestampReport>,
    /// The PAdES baseline level met: `B-B` or `B-T`.
    pub pades_level: Option<String>,
    /// Whether the CDA found in the final file is the one inside this
    /// signature's revision (`None` when the file has no CDA).
    pub cda_in_signed_revision: Option<bool>,
}

/// A signature-time-stamp.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TimestampReport {
    /// Whether the token verifies and covers the signature value.
    pub valid: bool,
    /// The time it states, RFC 3339.
    pub time: Option<String>,
    /// Why it is not valid.
    pub problem: Option<String>,
}

/// Verifies every signature of `pdf`.
///
/// # Errors
/// Only when the PDF cannot be read; problems of a signature are in its
/// report.
pub fn verify(pdf: &[u8]) -> Result<Report> {
    let doc = Document::open(pdf)?;
    let cda = extract_from(&doc, None).ok();
    let mut signatures = Vec::new();
    for (field, sig) in signature_fields(&doc)? {
        signatures.push(check_signature(&doc, field, &sig, cda.as_ref()));
    }
    Ok(Report {
        file_size: pdf.len(),
        cda: cda.map(|c| CdaReport {
            mode: c.mode,
            size: c.bytes.len(),
            sha256: hex(&DigestAlgorithm::Sha256.digest(&c.bytes)),
        }),
        signatures,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `(qualified name, signature dictionary)` of every signed signature field.
fn signature_fields(doc: &Document<'_>) -> Result<Vec<(String, Dict)>> {
    let catalog = doc.catalog()?;
    let Some(acro) = catalog.get("AcroForm") else {
        return Ok(Vec::new());
    };
    let Ok(acro) = doc.resolve_dict(acro, "/AcroForm") else {
        return Ok(Vec::new());
    };
    let Some(fields) = acro.get("Fields") else {
        return Ok(Vec::new());
    };
    let Ok(fields) = doc.resolve_array(fields, "/Fields") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<(Object, String, Option<Vec<u8>>, usize)> = fields
        .into_iter()
        .rev()
        .map(|f| (f, String::new(), None, 0))
        .collect();
    while let Some((field, parent_name, inherited_ft, depth)) = stack.pop() {
        if depth > 32 || out.len() > 10_000 {
            break;
        }
        if let Object::Reference(r) = &field
            && !seen.insert(r.id)
        {
            continue;
        }
        let Ok(dict) = doc.resolve_dict(&field, "a form field") else {
            continue;
        };
        let name = match dict.get("T").and_then(Object::as_string) {
            Some(t) if parent_name.is_empty() => decode_text(t),
            Some(t) => format!("{parent_name}.{}", decode_text(t)),
            None => parent_name.clone(),
        };
        let ft = dict.name("FT").map(<[u8]>::to_vec).or(inherited_ft);
        if ft.as_deref() == Some(b"Sig")
            && let Some(v) = dict.get("V")
            && let Ok(sig) = doc.resolve_dict(v, "a signature value")
        {
            out.push((name.clone(), sig));
        }
        if let Some(kids) = dict.get("Kids")
            && let Ok(kids) = doc.resolve_array(kids, "/Kids")
        {
            for kid in kids.into_iter().rev() {
                stack.push((kid, name.clone(), ft.clone(), depth + 1));
            }
        }
    }
    Ok(out)
}

fn check_signature(
    doc: &Document<'_>,
    field: String,
    sig: &Dict,
    cda: Option<&ExtractedCda>,
) -> SignatureReport {
    let data = doc.data();
    let name_of = |key: &str| {
        sig.name(key)
            .map(|n| String::from_utf8_lossy(n).into_owned())
    };
    let claimed_time = sig.get("M").and_then(Object::as_string).map(decode_text);
    let mut report = SignatureReport {
        field,
        filter: name_of("Filter"),
        sub_filter: name_of("SubFilter"),
        valid: false,
        problems: Vec::new(),
        byte_range: Vec::new(),
        covers_whole_file: false,
        modified_after_signing: false,
        digest: None,
        signer: None,
        certificate: None,
        claimed_time_rfc3339: claimed_time.as_deref().and_then(date::parse).and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        }),
        claimed_time,
        signing_time_attribute: false,
        signing_certificate_attribute: false,
        timestamp: None,
        pades_level: None,
        cda_in_signed_revision: None,
    };
    if report.claimed_time.is_none() {
        // The Gateway fails with "La firma del pdf non risulta valida".
        report
            .problems
            .push("no /M (signing time): the Gateway rejects the signature".into());
    }

    // /ByteRange: ascending, inside the file, the gap exactly the /Contents string.
    let ranges: Option<Vec<u64>> = sig
        .get("ByteRange")
        .and_then(|b| doc.deref(b).ok())
        .and_then(|b| {
            b.as_array().map(|a| {
                a.iter()
                    .map(|n| n.as_i64().and_then(|v| u64::try_from(v).ok()))
                    .collect()
            })
        })
        .flatten();
    let Some(ranges) = ranges.filter(|r| r.len() >= 4 && r.len() % 2 == 0) else {
        report.problems.push("no usable /ByteRange".into());
        return report;
    };
    report.byte_range = ranges.clone();
    let spans: Vec<(usize, usize)> = ranges
        .chunks(2)
        .map(|p| {
            (
                usize::try_from(p[0]).unwrap_or(usize::MAX),
                usize::try_from(p[1]).unwrap_or(usize::MAX),
            )
        })
        .collect();
    let mut ok_layout = spans.first().is_some_and(|s| s.0 == 0);
    let mut prev_end = 0usize;
    for &(start, len) in &spans {
        let end = start.checked_add(len);
        if start < prev_end || end.is_none_or(|e| e > data.len()) {
            ok_layout = false;
            break;
        }
        prev_end = end.unwrap_or(0);
    }
    if !ok_layout {
        report
            .problems
            .push("/ByteRange is not ascending from 0 inside the file".into());
        return report;
    }
    let signed_end = prev_end;
    report.covers_whole_file = signed_end == data.len();
    report.modified_after_signing = signed_end < data.len();
    // The CMS is read from the gap's bytes: those are what the ranges leave out.
    let gap_start = spans[0].1;
    let gap_end = spans.get(1).map_or(gap_start, |s| s.0);
    let gap = data.get(gap_start..gap_end).unwrap_or_default();
    let Some(cms_der) = gap
        .strip_prefix(b"<")
        .and_then(|g| g.strip_suffix(b">"))
        .and_then(decode_hex)
    else {
        report
            .problems
            .push("the bytes /ByteRange leaves out are not the hexadecimal /Contents".into());
        return report;
    };
    if spans.len() > 2 {
        report.problems.push(
            "/ByteRange has more than two ranges: some bytes besides /Contents are unsigned".into(),
        );
    }

    let sd = match cms::parse(&cms_der) {
        Ok(sd) => sd,
        Err(e) => {
            report.problems.push(format!("the CMS cannot be read: {e}"));
            return report;
        }
    };
    let Some(si) = sd.signer_infos.first() else {
        report.problems.push("the CMS has no signer".into());
        return report;
    };
    let digest_ranges = |alg: DigestAlgorithm| -> Vec<u8> {
        let mut ctx = ring::digest::Context::new(alg.ring());
        for &(start, len) in &spans {
            ctx.update(data.get(start..start + len).unwrap_or_default());
        }
        ctx.finish().as_ref().to_vec()
    };
    let content = || -> Vec<u8> {
        spans
            .iter()
            .flat_map(|&(s, l)| data.get(s..s + l).unwrap_or_default().iter().copied())
            .collect()
    };
    let check = cms::check_signer(&sd, si, oid::DATA, &digest_ranges, &content);
    if sd.econtent.is_some() {
        report
            .problems
            .push("the CMS encapsulates content: not a detached signature".into());
    }
    report.digest = check.digest.map(|d| d.name().to_string());
    report.signing_time_attribute = check.signing_time_attr;
    report.signing_certificate_attribute = check.signing_certificate_attr;
    report.signer = check
        .certificate
        .and_then(|c| x509_parser::parse_x509_certificate(c).ok())
        .map(|(_, c)| c.subject().to_string());
    report.certificate = check.certificate.map(<[u8]>::to_vec);
    report.problems.extend(check.problems);

    if let Some(unsigned) = &si.unsigned_attrs
        && let Ok(attrs) = cms::attributes(unsigned)
        && let Some(token) = cms::attribute_value(&attrs, oid::SIGNATURE_TIME_STAMP)
    {
        report.timestamp = Some(match tsp::check_token(token.raw, &si.signature) {
            Ok(info) => TimestampReport {
                valid: true,
                time: info
                    .time
                    .format(&time::format_description::well_known::Rfc3339)
                    .ok(),
                problem: None,
            },
            Err(problem) => TimestampReport {
                valid: false,
                time: None,
                problem: Some(problem),
            },
        });
    }
    report.valid = report.problems.is_empty();

    let cades = report.sub_filter.as_deref() == Some("ETSI.CAdES.detached");
    if report.valid
        && cades
        && report.signing_certificate_attribute
        && !report.signing_time_attribute
    {
        let stamped = report.timestamp.as_ref().is_some_and(|t| t.valid);
        report.pades_level = Some(if stamped { "B-T" } else { "B-B" }.into());
    }

    report.cda_in_signed_revision = cda.map(|final_cda| {
        if report.covers_whole_file {
            return true;
        }
        let Some(prefix) = data.get(..signed_end) else {
            return false;
        };
        Document::open(prefix)
            .ok()
            .and_then(|old| extract_from(&old, Some(final_cda.mode)).ok())
            .is_some_and(|old_cda| old_cda.bytes == final_cda.bytes)
    });
    report
}

fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex
        .iter()
        .copied()
        .filter(|b| !crate::pdf::lexer::is_whitespace(*b))
        .collect();
    let mut out = Vec::with_capacity(digits.len() / 2 + 1);
    for pair in digits.chunks(2) {
        let v = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
        let hi = v(pair[0])?;
        let lo = match pair.get(1) {
            Some(&b) => v(b)?,
            None => 0,
        };
        out.push(hi << 4 | lo);
    }
    Some(out)
}
