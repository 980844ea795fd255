//! RFC 3161 time-stamps: the [`Timestamper`] seam (an HTTP client lives in
//! `fse-transport`), request and response encoding, token checking, and a
//! small in-process [`TimestampAuthority`] for tests and the simulator.

use std::sync::atomic::{AtomicU64, Ordering};

use ring::rand::{SecureRandom as _, SystemRandom};
use time::OffsetDateTime;

use crate::asn1::{self, Reader, oid, tag};
use crate::cms;
use crate::error::{Error, Result};
use crate::signer::{DigestAlgorithm, Signer};

/// Obtains RFC 3161 time-stamp tokens.
pub trait Timestamper {
    /// A TimeStampToken (a DER ContentInfo) whose message imprint is
    /// `digest`, the SHA-256 of the signature value being time-stamped.
    ///
    /// # Errors
    /// The service is unreachable, refuses, or answers something unusable.
    fn timestamp(&self, digest: &[u8; 32]) -> Result<Vec<u8>>;
}

/// The media type of a TimeStampReq body.
pub const REQUEST_CONTENT_TYPE: &str = "application/timestamp-query";
/// The media type of a TimeStampResp body.
pub const RESPONSE_CONTENT_TYPE: &str = "application/timestamp-reply";

/// A fresh random nonce.
pub fn nonce() -> u64 {
    let mut bytes = [0u8; 8];
    // The system RNG only fails where nothing else would work either;
    // a zero nonce is then still a valid (if weaker) request.
    let _ = SystemRandom::new().fill(&mut bytes);
    u64::from_be_bytes(bytes) >> 1
}

/// A DER TimeStampReq for a SHA-256 `digest`, asking for the TSA
/// certificate in the token.
pub fn request(digest: &[u8; 32], nonce: u64) -> Vec<u8> {
    let imprint = asn1::seq(&[&asn1::algorithm_null(oid::SHA256), &asn1::octets(digest)]);
    asn1::seq(&[
        &asn1::integer(1),
        &imprint,
        &asn1::integer(nonce),
        &[tag::BOOLEAN, 1, 0xFF],
    ])
}

/// Takes the token out of a DER TimeStampResp, after checking the status,
/// that the token's imprint is `digest` and, when given, the nonce.
///
/// # Errors
/// A refusal (with the TSA's status text), or a token that does not match.
pub fn token_from_response(
    response: &[u8],
    digest: &[u8; 32],
    nonce: Option<u64>,
) -> Result<Vec<u8>> {
    const WHAT: &str = "TimeStampResp";
    let resp = Reader::new(response, WHAT).expect(tag::SEQUENCE)?;
    let mut f = resp.reader(WHAT);
    let status_info = f.expect(tag::SEQUENCE)?;
    let mut s = status_info.reader(WHAT);
    let status = s.expect(tag::INTEGER)?.content;
    if status != [0] && status != [1] {
        let mut text = Vec::new();
        if let Some(free) = s.optional(tag::SEQUENCE)? {
            let mut t = free.reader(WHAT);
            while !t.is_empty() {
                text.push(String::from_utf8_lossy(t.read()?.content).into_owned());
            }
        }
        let code = status.first().copied().unwrap_or(255);
        return Err(Error::Timestamp(format!(
            "the authority refused (status {code}): {}",
            text.join("; ")
        )));
    }
    let token = f
        .read()
        .map_err(|_| Error::Timestamp("a granted response without a token".into()))?;
    let info = token_info(token.raw)?;
    if info.imprint != digest.as_slice() || info.digest_algorithm != DigestAlgorithm::Sha256 {
        return Err(Error::Timestamp(
            "the token time-stamps a different digest".into(),
        ));
    }
    if let Some(expected) = nonce
        && info.nonce != Some(expected)
    {
        return Err(Error::Timestamp(
            "the token's nonce does not match the request".into(),
        ));
    }
    Ok(token.raw.to_vec())
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// When the authority time-stamped.
    pub time: OffsetDateTime,
    /// The digest algorithm of the imprint.
    pub digest_algorithm: DigestAlgorithm,
    /// The imprint (the digest of what was time-stamped).
    pub imprint: Vec<u8>,
    /// The nonce, if the request had one.
    pub nonce: Option<u64>,
    /// The authority's policy OID, dotted.
    pub policy: String,
}

/// Reads the TSTInfo of a token without checking its signature.
///
/// # Errors
/// A malformed token.
pub fn token_info(token: &[u8]) -> Result<TokenInfo> {
    const WHAT: &str = "TSTInfo";
    let sd = cms::parse(token)?;
    if sd.econtent_type != oid::TST_INFO {
        return Err(Error::Timestamp("the token does not hold a TSTInfo".into()));
    }
    let Some(tst) = sd.econtent.as_deref() else {
        return Err(Error::Timestamp("the token has no TSTInfo content".into()));
    };
    let info = Reader::new(tst, WHAT).expect(tag::SEQUENCE)?;
    let mut f = info.reader(WHAT);
    f.expect(tag::INTEGER)?;
    let policy = asn1::oid_string(f.expect(tag::OID)?.content);
    let imprint = f.expect(tag::SEQUENCE)?;
    let mut i = imprint.reader(WHAT);
    let alg_oid = i
        .expect(tag::SEQUENCE)?
        .reader(WHAT)
        .expect(tag::OID)?
        .content;
    let digest_algorithm = DigestAlgorithm::from_oid(alg_oid).ok_or_else(|| {
        Error::Timestamp(format!(
            "unsupported imprint algorithm {}",
            asn1::oid_string(alg_oid)
        ))
    })?;
    let imprint = i.expect(tag::OCTET_STRING)?.content.to_vec();
    f.expect(tag::INTEGER)?; // serialNumber
    let time = parse_generalized_time(f.expect(tag::GENERALIZED_TIME)?.content)
        .ok_or_else(|| Error::Timestamp("malformed genTime".into()))?;
    f.optional(tag::SEQUENCE)?; // accuracy
    f.optional(tag::BOOLEAN)?; // ordering
    let nonce = f.optional(tag::INTEGER)?.and_then(|n| {
        let bytes = n.content;
        (bytes.len() <= 9 && bytes.first().is_some_and(|&b| b & 0x80 == 0))
            .then(|| bytes.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)))
    });
    Ok(TokenInfo {
        time,
        digest_algorithm,
        imprint,
        nonce,
        policy,
    })
}

/// Checks a token over `stamped` (for a signature time-stamp: the
/// signature value): the imprint, and the authority's signature.
///
/// # Errors
/// A description of what does not hold.
pub fn check_token(token: &[u8], stamped: &[u8]) -> std::result::Result<TokenInfo, String> {
    let info = token_info(token).map_err(|e| e.to_string())?;
    if info.digest_algorithm.digest(stamped) != info.imprint {
        return Err("the time-stamp covers different data".into());
    }
    let sd = cms::parse(token).map_err(|e| e.to_string())?;
    let tst = sd.econtent.as_deref().unwrap_or_default().to_vec();
    let si = sd.signer_infos.first().ok_or("no SignerInfo")?;
    let check = cms::check_signer(&sd, si, oid::TST_INFO, &|alg| alg.digest(&tst), &|| {
        tst.clone()
    });
    if let Some(problem) = check.problems.first() {
        return Err(format!("time-stamp token: {problem}"));
    }
    Ok(info)
}

/// Parses `YYYYMMDDHHMMSS[.fff]Z`.
fn parse_generalized_time(raw: &[u8]) -> Option<OffsetDateTime> {
    let s = std::str::from_utf8(raw).ok()?;
    let body = s.strip_suffix('Z')?;
    let (main, _fraction) = body.split_once('.').unwrap_or((body, ""));
    if main.len() != 14 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| main.get(a..b).and_then(|v| v.parse::<u32>().ok());
    let date = time::Date::from_calendar_date(
        i32::try_from(n(0, 4)?).ok()?,
        time::Month::try_from(u8::try_from(n(4, 6)?).ok()?).ok()?,
        u8::try_from(n(6, 8)?).ok()?,
    )
    .ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(n(8, 10)?).ok()?,
        u8::try_from(n(10, 12)?).ok()?,
        u8::try_from(n(12, 14)?).ok()?,
    )
    .ok()?;
    Some(date.with_time(clock).assume_utc())
}

fn generalized_time(t: OffsetDateTime) -> Vec<u8> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let text = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    asn1::tlv(tag::GENERALIZED_TIME, text.as_bytes())
}

/// The fields of a TimeStampReq the authority uses.
struct ParsedRequest {
    alg: Vec<u8>,
    digest: Vec<u8>,
    /// The whole INTEGER, echoed into the TSTInfo.
    nonce: Option<Vec<u8>>,
    cert_req: bool,
}

/// A minimal RFC 3161 time-stamp authority: it answers TimeStampReq DER
/// with TimeStampResp DER, signing tokens with any [`Signer`] (whose
/// certificate should carry the critical timeStamping extended key usage).
pub struct TimestampAuthority<S> {
    signer: S,
    policy: Vec<u8>,
    serial: AtomicU64,
    clock: Box<dyn Fn() -> OffsetDateTime + Send + Sync>,
}

impl<S> std::fmt::Debug for TimestampAuthority<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimestampAuthority")
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

/// The policy our authority states: an OID under the example arc 2.999.
const DEFAULT_POLICY: &[u8] = &[0x88, 0x37, 0x01];

impl<S: Signer> TimestampAuthority<S> {
    /// An authority signing with `signer`, using the system clock.
    pub fn new(signer: S) -> Self {
        Self {
            signer,
            policy: DEFAULT_POLICY.to_vec(),
            serial: AtomicU64::new(1),
            clock: Box::new(OffsetDateTime::now_utc),
        }
    }

    /// Uses `clock` for the time-stamps.
    #[must_use]
    pub fn with_clock(
        mut self,
        clock: impl Fn() -> OffsetDateTime + Send + Sync + 'static,
    ) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Answers a DER TimeStampReq with a DER TimeStampResp: a token, or a
    /// rejection (status 2) naming what is wrong with the request.
    pub fn respond(&self, request: &[u8]) -> Vec<u8> {
        match self.grant(request) {
            Ok(token) => asn1::seq(&[&asn1::seq(&[&asn1::integer(0)]), &token]),
            Err(reason) => {
                let text = asn1::seq(&[&asn1::tlv(tag::UTF8_STRING, reason.as_bytes())]);
                // failInfo badRequest (bit 2) or badAlg (bit 0).
                let fail = asn1::tlv(tag::BIT_STRING, &[0x05, 0x20]);
                asn1::seq(&[&asn1::seq(&[&asn1::integer(2), &text, &fail])])
            }
        }
    }

    fn grant(&self, request: &[u8]) -> std::result::Result<Vec<u8>, String> {
        const WHAT: &str = "TimeStampReq";
        let parse = || -> Result<ParsedRequest> {
            let req = Reader::new(request, WHAT).expect(tag::SEQUENCE)?;
            let mut f = req.reader(WHAT);
            f.expect(tag::INTEGER)?;
            let imprint = f.expect(tag::SEQUENCE)?;
            let mut i = imprint.reader(WHAT);
            let alg = i
                .expect(tag::SEQUENCE)?
                .reader(WHAT)
                .expect(tag::OID)?
                .content
                .to_vec();
            let digest = i.expect(tag::OCTET_STRING)?.content.to_vec();
            f.optional(tag::OID)?;
            let nonce = f.optional(tag::INTEGER)?.map(|n| n.raw.to_vec());
            let cert_req = f.optional(tag::BOOLEAN)?.is_some_and(|b| b.content != [0]);
            Ok(ParsedRequest {
                alg,
                digest,
                nonce,
                cert_req,
            })
        };
        let ParsedRequest {
            alg,
            digest,
            nonce,
            cert_req,
        } = parse().map_err(|e| format!("malformed request: {e}"))?;
        let Some(alg_kind) = DigestAlgorithm::from_oid(&alg) else {
            return Err("unsupported hash algorithm".into());
        };
        if digest.len() != alg_kind.digest(b"").len() {
            return Err("the digest length does not fit its algorithm".into());
        }
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let imprint = asn1::seq(&[&asn1::algorithm_null(&alg), &asn1::octets(&digest)]);
        let policy = asn1::oid(&self.policy);
        let mut fields: Vec<Vec<u8>> = vec![
            asn1::integer(1),
            policy,
            imprint,
            asn1::integer(serial),
            generalized_time((self.clock)()),
        ];
        if let Some(n) = nonce {
            fields.push(n);
        }
        let refs: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
        let tst_info = asn1::seq(&refs);
        let digest_alg = self.signer.algorithm().digest();
        let certs = self.signer.certificates();
        let signer_cert = certs.first().ok_or("the authority has no certificate")?;
        let attrs =
            cms::signed_attributes(oid::TST_INFO, &digest_alg.digest(&tst_info), signer_cert)
                .map_err(|e| e.to_string())?;
        let signature = self.signer.sign(&attrs).map_err(|e| e.to_string())?;
        let included: &[Vec<u8>] = if cert_req { certs } else { &certs[..1] };
        let parts = cms::SignerParts {
            certificates: included,
            digest: digest_alg,
            signature_algorithm: self.signer.algorithm().algorithm_identifier(),
            signed_attributes: &attrs,
            signature: &signature,
            unsigned_attributes: Vec::new(),
        };
        cms::signed_data(Some((oid::TST_INFO, &tst_info)), &parts).map_err(|e| e.to_string())
    }
}

impl<S: Signer> Timestamper for TimestampAuthority<S> {
    fn timestamp(&self, digest: &[u8; 32]) -> Result<Vec<u8>> {
        let n = nonce();
        let response = self.respond(&request(digest, n));
        token_from_response(&response, digest, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalized_time_roundtrip() {
        let t = parse_generalized_time(b"20240306110037Z").unwrap();
        assert_eq!(t.unix_timestamp(), 1_709_722_837);
        assert_eq!(&generalized_time(t)[2..], b"20240306110037Z");
        assert!(parse_generalized_time(b"20240306110037.123Z").is_some());
        assert!(parse_generalized_time(b"2024030611003Z").is_none());
    }

    #[test]
    fn refusals_are_errors_with_the_reason() {
        struct Broken;
        impl Signer for Broken {
            fn certificates(&self) -> &[Vec<u8>] {
                &[]
            }
            fn algorithm(&self) -> crate::signer::SignatureAlgorithm {
                crate::signer::SignatureAlgorithm::RsaPkcs1Sha256
            }
            fn max_signature_len(&self) -> usize {
                256
            }
            fn sign(&self, _: &[u8]) -> Result<Vec<u8>> {
                Err(Error::Signing("no".into()))
            }
        }
        let tsa = TimestampAuthority::new(Broken);
        let err = token_from_response(&tsa.respond(b"garbage"), &[0; 32], None).unwrap_err();
        assert!(err.to_string().contains("malformed request"), "{err}");
        let err = tsa.timestamp(&[1; 32]).unwrap_err();
        assert!(err.to_string().contains("no certificate"), "{err}");
    }
}
