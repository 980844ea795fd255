//! CMS SignedData (RFC 5652): built in DER for our signatures, read in BER
//! and verified for anyone's (PDF signatures and RFC 3161 tokens).

use std::borrow::Cow;

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

use crate::asn1::{self, Reader, Tlv, oid, tag};
use crate::error::{Error, Result};
use crate::signer::DigestAlgorithm;

// --- Building ---

/// The issuer Name (DER) and serial INTEGER content of a certificate.
pub(crate) struct CertId<'a> {
    pub(crate) issuer: &'a [u8],
    pub(crate) serial: &'a [u8],
}

pub(crate) fn cert_id(cert: &[u8]) -> Result<CertId<'_>> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert)
        .map_err(|e| Error::Certificate(format!("malformed: {e}")))?;
    Ok(CertId {
        issuer: parsed.tbs_certificate.issuer.as_raw(),
        serial: parsed.tbs_certificate.raw_serial(),
    })
}

fn attribute(oid_content: &[u8], value: &[u8]) -> Vec<u8> {
    asn1::seq(&[
        &asn1::oid(oid_content),
        &asn1::constructed(tag::SET, &[value]),
    ])
}

/// The ESS signing-certificate-v2 attribute value (RFC 5035) for `cert`:
/// SHA-256 hash (the default algorithm, so left out) and issuer/serial.
fn signing_certificate_v2(cert: &[u8]) -> Result<Vec<u8>> {
    let id = cert_id(cert)?;
    let hash = DigestAlgorithm::Sha256.digest(cert);
    let general_names = asn1::seq(&[&asn1::constructed(0xA4, &[id.issuer])]);
    let issuer_serial = asn1::seq(&[&general_names, &asn1::tlv(tag::INTEGER, id.serial)]);
    let ess_cert_id = asn1::seq(&[&asn1::octets(&hash), &issuer_serial]);
    Ok(asn1::seq(&[&asn1::seq(&[&ess_cert_id])]))
}

/// The signed attributes as a DER SET (the form that is signed): content
/// type, message digest and signing-certificate-v2, and no signing time
/// (ETSI EN 319 142-1 B-B: the claimed time is the PDF's `/M`).
pub(crate) fn signed_attributes(
    content_type: &[u8],
    message_digest: &[u8],
    cert: &[u8],
) -> Result<Vec<u8>> {
    Ok(asn1::set_of(
        tag::SET,
        vec![
            attribute(oid::CONTENT_TYPE, &asn1::oid(content_type)),
            attribute(oid::MESSAGE_DIGEST, &asn1::octets(message_digest)),
            attribute(oid::SIGNING_CERTIFICATE_V2, &signing_certificate_v2(cert)?),
        ],
    ))
}

/// The signature-time-stamp unsigned attribute around a token.
pub(crate) fn timestamp_attribute(token: &[u8]) -> Vec<u8> {
    attribute(oid::SIGNATURE_TIME_STAMP, token)
}

/// What goes into one SignerInfo.
pub(crate) struct SignerParts<'a> {
    pub(crate) certificates: &'a [Vec<u8>],
    pub(crate) digest: DigestAlgorithm,
    pub(crate) signature_algorithm: Vec<u8>,
    /// DER SET form (tag 0x31); stored as `[0] IMPLICIT`.
    pub(crate) signed_attributes: &'a [u8],
    pub(crate) signature: &'a [u8],
    pub(crate) unsigned_attributes: Vec<Vec<u8>>,
}

/// A ContentInfo holding a SignedData with one signer, DER. `econtent` is
/// `(type, content)`; `None` means detached id-data.
pub(crate) fn signed_data(
    econtent: Option<(&[u8], &[u8])>,
    parts: &SignerParts<'_>,
) -> Result<Vec<u8>> {
    let Some(signer_cert) = parts.certificates.first() else {
        return Err(Error::Certificate("the signer has no certificate".into()));
    };
    let id = cert_id(signer_cert)?;
    let digest_alg = asn1::algorithm_null(parts.digest.oid());
    let sid = asn1::seq(&[id.issuer, &asn1::tlv(tag::INTEGER, id.serial)]);
    let mut signed_attrs = parts.signed_attributes.to_vec();
    if let Some(first) = signed_attrs.first_mut() {
        *first = 0xA0;
    }
    let mut si_parts: Vec<Vec<u8>> = vec![
        asn1::integer(1),
        sid,
        digest_alg.clone(),
        signed_attrs,
        parts.signature_algorithm.clone(),
        asn1::octets(parts.signature),
    ];
    if !parts.unsigned_attributes.is_empty() {
        si_parts.push(asn1::set_of(0xA1, parts.unsigned_attributes.clone()));
    }
    let si_refs: Vec<&[u8]> = si_parts.iter().map(Vec::as_slice).collect();
    let signer_info = asn1::seq(&si_refs);
    let encap = match econtent {
        None => asn1::seq(&[&asn1::oid(oid::DATA)]),
        Some((ty, content)) => asn1::seq(&[
            &asn1::oid(ty),
            &asn1::constructed(0xA0, &[&asn1::octets(content)]),
        ]),
    };
    // Version 3 when the content is not id-data (RFC 5652 §5.1).
    let version = if econtent.is_some_and(|(ty, _)| ty != oid::DATA) {
        3
    } else {
        1
    };
    let sd = asn1::seq(&[
        &asn1::integer(version),
        &asn1::constructed(tag::SET, &[&digest_alg]),
        &encap,
        &asn1::set_of(0xA0, parts.certificates.to_vec()),
        &asn1::constructed(tag::SET, &[&signer_info]),
    ]);
    Ok(asn1::seq(&[
        &asn1::oid(oid::SIGNED_DATA),
        &asn1::constructed(0xA0, &[&sd]),
    ]))
}

// --- Reading ---

/// How a SignerInfo names its certificate.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SignerId<'a> {
    IssuerSerial { issuer: &'a [u8], serial: &'a [u8] },
    KeyId(&'a [u8]),
}

/// A SignerInfo as read.
#[derive(Debug, Clone)]
pub(crate) struct SignerInfo<'a> {
    pub(crate) sid: SignerId<'a>,
    pub(crate) digest_oid: &'a [u8],
    pub(crate) signed_attrs: Option<Tlv<'a>>,
    pub(crate) signature_oid: &'a [u8],
    pub(crate) signature: Cow<'a, [u8]>,
    pub(crate) unsigned_attrs: Option<Tlv<'a>>,
}

/// A SignedData as read.
#[derive(Debug, Clone)]
pub(crate) struct SignedData<'a> {
    pub(crate) econtent_type: &'a [u8],
    pub(crate) econtent: Option<Cow<'a, [u8]>>,
    pub(crate) certificates: Vec<&'a [u8]>,
    pub(crate) signer_infos: Vec<SignerInfo<'a>>,
}

const WHAT: &str = "CMS SignedData";

/// Reads a ContentInfo holding a SignedData. Bytes after it (the zero
/// padding of a PDF `/Contents`) are ignored.
pub(crate) fn parse(der: &[u8]) -> Result<SignedData<'_>> {
    let bad = |m: &str| Error::Asn1 {
        what: WHAT,
        offset: 0,
        message: m.to_string(),
    };
    let ci = Reader::new(der, WHAT).expect(tag::SEQUENCE)?;
    let mut r = ci.reader(WHAT);
    if r.expect(tag::OID)?.content != oid::SIGNED_DATA {
        return Err(bad("the ContentInfo does not hold a SignedData"));
    }
    let explicit = r.expect(0xA0)?;
    let sd = explicit.reader(WHAT).expect(tag::SEQUENCE)?;
    let mut f = sd.reader(WHAT);
    f.expect(tag::INTEGER)?;
    f.expect(tag::SET)?; // digestAlgorithms: each SignerInfo names its own
    let encap = f.expect(tag::SEQUENCE)?;
    let mut e = encap.reader(WHAT);
    let econtent_type = e.expect(tag::OID)?.content;
    let econtent = match e.optional(0xA0)? {
        Some(wrapper) => {
            let inner = wrapper.reader(WHAT).read()?;
            Some(inner.octet_content(WHAT)?)
        }
        None => None,
    };
    let mut certificates = Vec::new();
    if let Some(certs) = f.optional(0xA0)? {
        let mut c = certs.reader(WHAT);
        while !c.is_empty() {
            let cert = c.read()?;
            // Only plain certificates; attribute and other certificate choices are skipped.
            if cert.tag == tag::SEQUENCE {
                certificates.push(cert.raw);
            }
        }
    }
    f.optional(0xA1)?; // CRLs
    let infos = f.expect(tag::SET)?;
    let mut signer_infos = Vec::new();
    let mut ir = infos.reader(WHAT);
    while !ir.is_empty() {
        signer_infos.push(parse_signer_info(ir.expect(tag::SEQUENCE)?)?);
    }
    if signer_infos.is_empty() {
        return Err(bad("no SignerInfo"));
    }
    Ok(SignedData {
        econtent_type,
        econtent,
        certificates,
        signer_infos,
    })
}

fn parse_signer_info(si: Tlv<'_>) -> Result<SignerInfo<'_>> {
    let mut f = si.reader(WHAT);
    f.expect(tag::INTEGER)?;
    let sid_tlv = f.read()?;
    let sid = match sid_tlv.tag {
        tag::SEQUENCE => {
            let mut s = sid_tlv.reader(WHAT);
            let issuer = s.expect(tag::SEQUENCE)?.raw;
            let serial = s.expect(tag::INTEGER)?.content;
            SignerId::IssuerSerial { issuer, serial }
        }
        0x80 => SignerId::KeyId(sid_tlv.content),
        0xA0 => SignerId::KeyId(sid_tlv.reader(WHAT).expect(tag::OCTET_STRING)?.content),
        other => {
            return Err(Error::Asn1 {
                what: WHAT,
                offset: 0,
                message: format!("unknown signer identifier tag 0x{other:02x}"),
            });
        }
    };
    let digest_oid = f
        .expect(tag::SEQUENCE)?
        .reader(WHAT)
        .expect(tag::OID)?
        .content;
    let signed_attrs = f.optional(0xA0)?;
    let signature_oid = f
        .expect(tag::SEQUENCE)?
        .reader(WHAT)
        .expect(tag::OID)?
        .content;
    let signature = f.read()?;
    if signature.tag & 0x1F != tag::OCTET_STRING {
        return Err(Error::Asn1 {
            what: WHAT,
            offset: 0,
            message: "the signature is not an OCTET STRING".into(),
        });
    }
    let signature = signature.octet_content(WHAT)?;
    let unsigned_attrs = f.optional(0xA1)?;
    Ok(SignerInfo {
        sid,
        digest_oid,
        signed_attrs,
        signature_oid,
        signature,
        unsigned_attrs,
    })
}

/// The attributes of a `[0]`/`[1]` attribute set: `(type, values)`.
pub(crate) fn attributes<'a>(set: &Tlv<'a>) -> Result<Vec<(&'a [u8], Vec<Tlv<'a>>)>> {
    let mut out = Vec::new();
    let mut r = set.reader("CMS attributes");
    while !r.is_empty() {
        let attr = r.expect(tag::SEQUENCE)?;
        let mut a = attr.reader("CMS attribute");
        let ty = a.expect(tag::OID)?.content;
        let values_set = a.expect(tag::SET)?;
        let mut values = Vec::new();
        let mut v = values_set.reader("CMS attribute values");
        while !v.is_empty() {
            values.push(v.read()?);
        }
        out.push((ty, values));
    }
    Ok(out)
}

/// The first value of attribute `ty`.
pub(crate) fn attribute_value<'a>(
    attrs: &[(&'a [u8], Vec<Tlv<'a>>)],
    ty: &[u8],
) -> Option<Tlv<'a>> {
    attrs
        .iter()
        .find(|(t, _)| *t == ty)
        .and_then(|(_, v)| v.first().copied())
}

/// The outcome of checking one SignerInfo.
#[derive(Debug, Clone, Default)]
pub(crate) struct SignerCheck<'a> {
    /// The signer certificate, when found among the CMS certificates.
    pub(crate) certificate: Option<&'a [u8]>,
    /// The digest algorithm the signer used.
    pub(crate) digest: Option<DigestAlgorithm>,
    /// Whether the signed attributes hold a signing-certificate(-v2) that
    /// matches the signer certificate.
    pub(crate) signing_certificate_attr: bool,
    /// Whether the signed attributes hold a signing-time.
    pub(crate) signing_time_attr: bool,
    /// Everything that makes the signature invalid; empty when valid.
    pub(crate) problems: Vec<String>,
}

/// Verifies `si` over content whose digest `content_digest` computes for an
/// algorithm; `content` gives the bytes themselves (needed only when there
/// are no signed attributes).
pub(crate) fn check_signer<'a>(
    sd: &SignedData<'a>,
    si: &SignerInfo<'a>,
    expected_content_type: &[u8],
    content_digest: &dyn Fn(DigestAlgorithm) -> Vec<u8>,
    content: &dyn Fn() -> Vec<u8>,
) -> SignerCheck<'a> {
    let mut check = SignerCheck::default();
    let Some(digest) = DigestAlgorithm::from_oid(si.digest_oid) else {
        check.problems.push(format!(
            "unsupported digest algorithm {}",
            asn1::oid_string(si.digest_oid)
        ));
        return check;
    };
    check.digest = Some(digest);
    check.certificate = sd
        .certificates
        .iter()
        .copied()
        .find(|c| matches_sid(c, si.sid));
    let Some(cert) = check.certificate else {
        check
            .problems
            .push("the signer certificate is not inside the CMS".into());
        return check;
    };
    let message: Cow<'_, [u8]> = match &si.signed_attrs {
        Some(attrs_tlv) => {
            let attrs = match attributes(attrs_tlv) {
                Ok(a) => a,
                Err(e) => {
                    check.problems.push(format!("signed attributes: {e}"));
                    return check;
                }
            };
            match attribute_value(&attrs, oid::CONTENT_TYPE) {
                Some(ct) if ct.tag == tag::OID && ct.content == expected_content_type => {}
                Some(_) => check
                    .problems
                    .push("the content-type attribute does not match the content".into()),
                None => check
                    .problems
                    .push("no content-type signed attribute".into()),
            }
            match attribute_value(&attrs, oid::MESSAGE_DIGEST) {
                Some(md) if md.tag == tag::OCTET_STRING => {
                    if md.content != content_digest(digest).as_slice() {
                        check.problems.push("the message digest does not match the signed bytes: the document was modified".into());
                    }
                }
                _ => check
                    .problems
                    .push("no message-digest signed attribute".into()),
            }
            check.signing_time_attr = attribute_value(&attrs, oid::SIGNING_TIME).is_some();
            check.signing_certificate_attr = signing_certificate_matches(&attrs, cert);
            // Signed as a SET (tag 0x31), not as the [0] it is stored with.
            let mut der = attrs_tlv.raw.to_vec();
            if let Some(first) = der.first_mut() {
                *first = tag::SET;
            }
            if der.get(1) == Some(&0x80) {
                check
                    .problems
                    .push("the signed attributes are not DER (indefinite length)".into());
            }
            Cow::Owned(der)
        }
        None => Cow::Owned(content()),
    };
    if let Err(problem) = verify_signature(cert, si.signature_oid, digest, &message, &si.signature)
    {
        check.problems.push(problem);
    }
    check
}

fn matches_sid(cert: &[u8], sid: SignerId<'_>) -> bool {
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert) else {
        return false;
    };
    match sid {
        SignerId::IssuerSerial { issuer, serial } => {
            parsed.tbs_certificate.issuer.as_raw() == issuer && parsed.tbs_certificate.raw_serial() == serial
        }
        SignerId::KeyId(id) => parsed.extensions().iter().any(|ext| {
            matches!(ext.parsed_extension(), x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) if k.0 == id)
        }),
    }
}

/// Whether an ESS signing-certificate(-v2) attribute names `cert` (hash).
fn signing_certificate_matches(attrs: &[(&[u8], Vec<Tlv<'_>>)], cert: &[u8]) -> bool {
    let check = |value: Tlv<'_>, v2: bool| -> Result<bool> {
        let mut certs = value
            .reader("signing certificate")
            .expect(tag::SEQUENCE)?
            .reader("signing certificate");
        let first = certs.expect(tag::SEQUENCE)?;
        let mut f = first.reader("ESSCertID");
        let digest = if v2 {
            match f.optional(tag::SEQUENCE)? {
                Some(alg) => {
                    DigestAlgorithm::from_oid(alg.reader("ESSCertIDv2").expect(tag::OID)?.content)
                }
                None => Some(DigestAlgorithm::Sha256),
            }
        } else {
            Some(DigestAlgorithm::Sha1)
        };
        let hash = f.expect(tag::OCTET_STRING)?.content;
        Ok(digest.is_some_and(|d| d.digest(cert) == hash))
    };
    if let Some(v) = attribute_value(attrs, oid::SIGNING_CERTIFICATE_V2) {
        return check(v, true).unwrap_or(false);
    }
    if let Some(v) = attribute_value(attrs, oid::SIGNING_CERTIFICATE) {
        return check(v, false).unwrap_or(false);
    }
    false
}

/// Verifies `signature` over `message` with the certificate's public key.
pub(crate) fn verify_signature(
    cert: &[u8],
    signature_oid: &[u8],
    digest: DigestAlgorithm,
    message: &[u8],
    sig: &[u8],
) -> std::result::Result<(), String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert)
        .map_err(|e| format!("signer certificate malformed: {e}"))?;
    let spki = parsed.public_key();
    let key_oid = spki.algorithm.algorithm.as_bytes();
    let key = spki.subject_public_key.data.as_ref();
    // The hash comes from the signature algorithm when it names one.
    let hash = match signature_oid {
        o if o == oid::SHA1_WITH_RSA => DigestAlgorithm::Sha1,
        o if o == oid::SHA256_WITH_RSA || o == oid::ECDSA_SHA256 => DigestAlgorithm::Sha256,
        o if o == oid::SHA384_WITH_RSA || o == oid::ECDSA_SHA384 => DigestAlgorithm::Sha384,
        o if o == oid::SHA512_WITH_RSA => DigestAlgorithm::Sha512,
        o if o == oid::RSA_ENCRYPTION || o == oid::EC_PUBLIC_KEY => digest,
        other => {
            return Err(format!(
                "unsupported signature algorithm {}",
                asn1::oid_string(other)
            ));
        }
    };
    let alg: &'static dyn VerificationAlgorithm = if key_oid == oid::RSA_ENCRYPTION {
        match hash {
            DigestAlgorithm::Sha1 => &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
            DigestAlgorithm::Sha256 => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            DigestAlgorithm::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            DigestAlgorithm::Sha512 => &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
        }
    } else if key_oid == oid::EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .map(|p| p.data)
            .unwrap_or_default();
        match (curve == oid::P256, curve == oid::P384, hash) {
            (true, _, DigestAlgorithm::Sha256) => &signature::ECDSA_P256_SHA256_ASN1,
            (true, _, DigestAlgorithm::Sha384) => &signature::ECDSA_P256_SHA384_ASN1,
            (_, true, DigestAlgorithm::Sha256) => &signature::ECDSA_P384_SHA256_ASN1,
            (_, true, DigestAlgorithm::Sha384) => &signature::ECDSA_P384_SHA384_ASN1,
            _ => return Err(format!("unsupported ECDSA curve or hash ({})", hash.name())),
        }
    } else {
        return Err(format!(
            "unsupported key algorithm {}",
            asn1::oid_string(key_oid)
        ));
    };
    UnparsedPublicKey::new(alg, key)
        .verify(message, sig)
        .map_err(|_| {
            "the signature value does not verify with the signer certificate's key".to_string()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            &b""[..],
            b"\x30\x03\x06\x01\x00",
            b"\x30\x80\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07\x01\x00\x00",
        ] {
            assert!(parse(bad).is_err());
        }
    }
}
