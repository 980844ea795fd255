//! What the GovWay front of the Gateway checks of the two JWTs before the
//! Gateway sees them: the RS256/384/512 signature by the certificate in
//! `x5c`, that certificate's chain to a trusted CA, `exp` and `aud`.
//!
//! The claims themselves are checked by [`crate::claims`], as the
//! Gateway's dispatcher does.

use base64::Engine as _;
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// A JWT whose signature, certificate, expiry and audience were verified.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// The header's `alg`.
    pub alg: String,
    /// The common name of the `x5c` certificate.
    pub signer_common_name: String,
    /// The payload.
    pub claims: Map<String, Value>,
}

/// Why a token was refused by the front.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts, or a part is not JSON.
    #[error("the token is not a JWS in compact form: {0}")]
    Malformed(String),
    /// `alg` is not RS256, RS384 or RS512.
    #[error("unsupported algorithm {0:?}: RS256, RS384 or RS512 expected")]
    Algorithm(String),
    /// No `x5c`, or its first certificate does not parse.
    #[error("x5c: {0}")]
    Certificate(String),
    /// The `x5c` certificate is not issued by a trusted CA, or is not valid now.
    #[error("the certificate in the 'x5c' header cannot be verified against the known CAs: {0}")]
    Untrusted(String),
    /// The signature does not verify with the `x5c` certificate.
    #[error("signature verification failed")]
    Signature,
    /// `exp` is missing, not an integer number of seconds, or in the past.
    #[error("exp: {0}")]
    Expired(String),
    /// `aud` is missing or not one of the accepted audiences.
    #[error("aud: {0}")]
    Audience(String),
}

/// Verifies one compact JWS as GovWay does.
///
/// `anchors` are the DER certificates of the trusted CAs; `audiences` the
/// accepted `aud` values (the base URL with its version segment).
///
/// # Errors
/// The first check that fails.
pub fn verify(
    token: &str,
    anchors: &[Vec<u8>],
    audiences: &[String],
    now: OffsetDateTime,
) -> Result<VerifiedToken, TokenError> {
    let mut parts = token.trim().split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed(
            "expected three dot-separated parts".to_owned(),
        ));
    };
    let header = decode_json(h64, "header")?;
    let claims = decode_json(p64, "payload")?;
    let signature = b64url(s64).map_err(|e| TokenError::Malformed(format!("signature: {e}")))?;

    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let algorithm: &'static ring::signature::RsaParameters = match alg.as_str() {
        "RS256" => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        "RS384" => &ring::signature::RSA_PKCS1_2048_8192_SHA384,
        "RS512" => &ring::signature::RSA_PKCS1_2048_8192_SHA512,
        _ => return Err(TokenError::Algorithm(alg)),
    };

    let cert_der = match header.get("x5c") {
        Some(Value::Array(chain)) => match chain.first().and_then(Value::as_str) {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| TokenError::Certificate(format!("not base64: {e}")))?,
            None => return Err(TokenError::Certificate("empty array".to_owned())),
        },
        Some(_) => {
            return Err(TokenError::Certificate(
                "must be an array of base64 certificates".to_owned(),
            ));
        }
        None => {
            return Err(TokenError::Certificate(
                "missing from the header".to_owned(),
            ));
        }
    };
    let (_, cert) = x509_parser::parse_x509_certificate(&cert_der)
        .map_err(|e| TokenError::Certificate(format!("not an X.509 certificate: {e}")))?;

    check_chain(&cert, anchors, now)?;

    let signed = &token.trim()[..h64.len() + 1 + p64.len()];
    let key = ring::signature::UnparsedPublicKey::new(
        algorithm,
        &cert.public_key().subject_public_key.data,
    );
    key.verify(signed.as_bytes(), &signature)
        .map_err(|_| TokenError::Signature)?;

    check_exp(&claims, now)?;
    check_aud(&claims, audiences)?;

    let signer_common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok(VerifiedToken {
        alg,
        signer_common_name,
        claims,
    })
}

/// Decodes the payload without verifying anything (for the journal of
/// calls, and for tokens refused before verification).
pub fn peek_claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.trim().split('.').nth(1)?;
    decode_json(payload, "payload").ok()
}

fn check_chain(
    cert: &x509_parser::certificate::X509Certificate<'_>,
    anchors: &[Vec<u8>],
    now: OffsetDateTime,
) -> Result<(), TokenError> {
    let validity = cert.validity();
    let ts = now.unix_timestamp();
    if ts < validity.not_before.timestamp() || ts > validity.not_after.timestamp() {
        return Err(TokenError::Untrusted(
            "the certificate is not valid at this time".to_owned(),
        ));
    }
    for anchor in anchors {
        let Ok((_, ca)) = x509_parser::parse_x509_certificate(anchor) else {
            continue;
        };
        if ca.subject() == cert.issuer() && cert.verify_signature(Some(ca.public_key())).is_ok() {
            return Ok(());
        }
    }
    Err(TokenError::Untrusted(format!(
        "issuer {} is not trusted",
        cert.issuer()
    )))
}

fn check_exp(claims: &Map<String, Value>, now: OffsetDateTime) -> Result<(), TokenError> {
    let exp = match claims.get("exp") {
        None => return Err(TokenError::Expired("missing".to_owned())),
        Some(v) => v
            .as_i64()
            .ok_or_else(|| TokenError::Expired("must be an integer".to_owned()))?,
    };
    // Milliseconds (a mistake the spec's own example makes) read as a date
    // thousands of years away: refuse them clearly instead of accepting.
    if exp > 100_000_000_000 {
        return Err(TokenError::Expired(format!(
            "{exp} looks like milliseconds: seconds since 1970 expected"
        )));
    }
    if exp <= now.unix_timestamp() {
        return Err(TokenError::Expired(format!("the token expired at {exp}")));
    }
    Ok(())
}

fn check_aud(claims: &Map<String, Value>, audiences: &[String]) -> Result<(), TokenError> {
    let accepted = |a: &str| {
        audiences
            .iter()
            .any(|x| x.trim_end_matches('/') == a.trim_end_matches('/'))
    };
    match claims.get("aud") {
        None => Err(TokenError::Audience("missing".to_owned())),
        Some(Value::String(a)) if accepted(a) => Ok(()),
        Some(Value::Array(list)) if list.iter().filter_map(Value::as_str).any(accepted) => Ok(()),
        Some(other) => Err(TokenError::Audience(format!(
            "{other} is not this Gateway (expected {})",
            audiences.join(" or ")
        ))),
    }
}

fn decode_json(part: &str, what: &str) -> Result<Map<String, Value>, TokenError> {
    let bytes = b64url(part).map_err(|e| TokenError::Malformed(format!("{what}: {e}")))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(TokenError::Malformed(format!("{what}: not a JSON object"))),
        Err(e) => Err(TokenError::Malformed(format!("{what}: {e}"))),
    }
}

fn b64url(part: &str) -> Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part.trim_end_matches('='))
}

/// Signs `claims` as a compact RS256 JWS with `x5c` = `cert_der`, with an
/// RSA PKCS#8 key: what a client does, for the simulator's own tests, the
/// demo and benches.
///
/// # Errors
/// When the key is not an RSA PKCS#8 key ring accepts.
pub fn sign_rs256(
    claims: &Map<String, Value>,
    key_pkcs8: &[u8],
    cert_der: &[u8],
) -> Result<String, String> {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = serde_json::json!({
        "alg": "RS256",
        "typ": "JWT",
        "x5c": [base64::engine::general_purpose::STANDARD.encode(cert_der)],
    });
    let signing_input = format!(
        "{}.{}",
        engine.encode(header.to_string()),
        engine.encode(Value::Object(claims.clone()).to_string())
    );
    let key = ring::signature::RsaKeyPair::from_pkcs8(key_pkcs8).map_err(|e| e.to_string())?;
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|e| e.to_string())?;
    Ok(format!("{signing_input}.{}", engine.encode(signature)))
}
