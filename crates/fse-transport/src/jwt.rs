//! The two JWTs: the Bearer token and `FSE-JWT-Signature`.
//!
//! Both are signed with the "signature" certificate's RSA key (RS256 by
//! default, RS384/RS512 selectable), with header `typ: JWT` and
//! `x5c: [base64 DER of that certificate]`. Issuers are `auth:<CN>` and
//! `integrity:<CN>`. Times are integer seconds; there is no `nbf` (GovWay
//! refuses it). Each attempt gets fresh `iat`, `exp` and a random `jti`.
//!
//! The claims themselves are fse-model's [`BearerClaims`] and
//! [`SignatureClaims`].

pub use fse_model::claims::{BearerClaims, SignatureClaims, resource_hl7_type};

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{
    RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512, RsaEncoding, RsaKeyPair,
};
use rustls_pki_types::PrivateKeyDer;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::tls::KeyMaterial;

/// The JWS algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the Gateway's default).
    #[default]
    #[serde(rename = "RS256")]
    Rs256,
    /// With SHA-384.
    #[serde(rename = "RS384")]
    Rs384,
    /// With SHA-512.
    #[serde(rename = "RS512")]
    Rs512,
}

impl Algorithm {
    /// The `alg` header value.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
        }
    }

    fn encoding(self) -> &'static dyn RsaEncoding {
        match self {
            Algorithm::Rs256 => &RSA_PKCS1_SHA256,
            Algorithm::Rs384 => &RSA_PKCS1_SHA384,
            Algorithm::Rs512 => &RSA_PKCS1_SHA512,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "RS256" => Ok(Algorithm::Rs256),
            "RS384" => Ok(Algorithm::Rs384),
            "RS512" => Ok(Algorithm::Rs512),
            _ => Err(format!("`{s}` is not RS256, RS384 or RS512")),
        }
    }
}

/// The "signature" certificate and its RSA key, ready to sign tokens.
pub struct SigningIdentity {
    key: RsaKeyPair,
    cert_der: Vec<u8>,
    common_name: String,
    algorithm: Algorithm,
    rng: SystemRandom,
}

impl fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningIdentity")
            .field("common_name", &self.common_name)
            .field("algorithm", &self.algorithm)
            .field("key", &"<secret>")
            .finish()
    }
}

impl SigningIdentity {
    /// From a loaded certificate and key. The key must be RSA (2048 to
    /// 8192 bits) and belong to the certificate; the certificate must have a
    /// common name.
    ///
    /// # Errors
    /// [`Error::KeyMaterial`] saying which of those fails.
    pub fn new(material: &KeyMaterial, algorithm: Algorithm) -> Result<Self> {
        let bad = |reason: String| Error::KeyMaterial {
            what: "signing".to_owned(),
            reason,
        };
        let key = match &material.key {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => {
                return Err(bad(
                    "the JWT key must be RSA (the Gateway accepts RS256/384/512 only)".to_owned(),
                ));
            }
        }
        .map_err(|e| bad(format!("the key is not a usable RSA key: {e}")))?;
        let cert_der = material.leaf().to_vec();
        let (_, cert) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| bad(format!("unreadable certificate: {e}")))?;
        let cert_public = cert.public_key().subject_public_key.data.as_ref();
        if cert_public != ring::signature::KeyPair::public_key(&key).as_ref() {
            return Err(bad(
                "the private key does not belong to the certificate".to_owned()
            ));
        }
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| bad("the certificate has no common name (CN)".to_owned()))?;
        Ok(SigningIdentity {
            key,
            cert_der,
            common_name,
            algorithm,
            rng: SystemRandom::new(),
        })
    }

    /// The certificate's common name, e.g. `S1#190201234567XX`.
    pub fn common_name(&self) -> &str {
        &self.common_name
    }

    /// The certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The Bearer issuer, `auth:<CN>`.
    pub fn bearer_issuer(&self) -> String {
        format!("auth:{}", self.common_name)
    }

    /// The `FSE-JWT-Signature` issuer, `integrity:<CN>`.
    pub fn signature_issuer(&self) -> String {
        format!("integrity:{}", self.common_name)
    }

    /// Signs `claims` as a compact JWS with `typ: JWT` and `x5c`.
    ///
    /// # Errors
    /// [`Error::KeyMaterial`] if the signature cannot be made.
    pub fn sign<C: Serialize>(&self, claims: &C) -> Result<String> {
        let header = serde_json::json!({
            "alg": self.algorithm.name(),
            "typ": "JWT",
            "x5c": [STANDARD.encode(&self.cert_der)],
        });
        let header = serde_json::to_vec(&header).map_err(Error::json("JWT header"))?;
        let claims = serde_json::to_vec(claims).map_err(Error::json("JWT claims"))?;
        let mut input = URL_SAFE_NO_PAD.encode(header);
        input.push('.');
        input.push_str(&URL_SAFE_NO_PAD.encode(claims));
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                self.algorithm.encoding(),
                &self.rng,
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::KeyMaterial {
                what: "signing".to_owned(),
                reason: "RSA signing failed".to_owned(),
            })?;
        input.push('.');
        input.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(input)
    }
}

/// The reserved claims both tokens carry, fresh for each attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Expires at, seconds since the epoch.
    pub exp: u64,
    /// A random id.
    pub jti: String,
}

impl Stamp {
    /// A stamp issued `now`, valid for `lifetime`, with a random `jti`.
    pub fn new(now: OffsetDateTime, lifetime: Duration) -> Self {
        let iat = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        let life = lifetime.as_secs();
        Stamp {
            iat,
            exp: iat.saturating_add(life),
            jti: uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// Lowercase hex SHA-256, the form of `attachment_hash`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

/// A token's header and claims, decoded but NOT verified (for display and
/// tests).
///
/// # Errors
/// [`Error::InvalidToken`] when it is not three base64url JSON parts.
pub fn decode_unverified(token: &str) -> Result<(serde_json::Value, serde_json::Value)> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::InvalidToken(
            "not three dot-separated parts".to_owned(),
        ));
    };
    let decode = |part: &str, what: &str| -> Result<serde_json::Value> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|e| Error::InvalidToken(format!("{what}: {e}")))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::InvalidToken(format!("{what}: {e}")))
    };
    Ok((decode(h, "header")?, decode(c, "claims")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_parse() {
        assert_eq!("rs384".parse::<Algorithm>(), Ok(Algorithm::Rs384));
        assert!("HS256".parse::<Algorithm>().is_err());
        assert!("RS383".parse::<Algorithm>().is_err());
    }

    #[test]
    fn hash_form() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn stamp_is_seconds_and_unique() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let a = Stamp::new(now, Duration::from_secs(300));
        let b = Stamp::new(now, Duration::from_secs(300));
        assert_eq!(a.iat, 1_700_000_000);
        assert_eq!(a.exp, 1_700_000_300);
        assert_ne!(a.jti, b.jti);
    }

    #[test]
    fn bad_tokens_are_refused() {
        assert!(decode_unverified("a.b").is_err());
        assert!(decode_unverified("a.b.c.d").is_err());
        assert!(decode_unverified("!!.e30.x").is_err());
    }
}
