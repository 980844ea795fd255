//! The signing key, behind the [`Signer`] trait: PEM files and PKCS#12
//! files here; an HSM or a remote signing service implements the trait.

use std::path::Path;

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};

use crate::asn1::{self, oid, tag};
use crate::error::{Error, Result};

/// A digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DigestAlgorithm {
    /// SHA-1 (read only, in old signatures).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    pub(crate) fn ring(self) -> &'static ring::digest::Algorithm {
        match self {
            DigestAlgorithm::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            DigestAlgorithm::Sha256 => &ring::digest::SHA256,
            DigestAlgorithm::Sha384 => &ring::digest::SHA384,
            DigestAlgorithm::Sha512 => &ring::digest::SHA512,
        }
    }

    pub(crate) fn oid(self) -> &'static [u8] {
        match self {
            DigestAlgorithm::Sha1 => oid::SHA1,
            DigestAlgorithm::Sha256 => oid::SHA256,
            DigestAlgorithm::Sha384 => oid::SHA384,
            DigestAlgorithm::Sha512 => oid::SHA512,
        }
    }

    pub(crate) fn from_oid(content: &[u8]) -> Option<Self> {
        [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512]
            .into_iter()
            .find(|d| d.oid() == content)
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        ring::digest::digest(self.ring(), data).as_ref().to_vec()
    }

    /// The name as reports print it (`SHA-256`).
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha1 => "SHA-1",
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Sha384 => "SHA-384",
            DigestAlgorithm::Sha512 => "SHA-512",
        }
    }
}

/// How a [`Signer`] signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// RSA PKCS#1 v1.5 with SHA-256 (what the Gateway's samples use).
    RsaPkcs1Sha256,
    /// ECDSA on P-256 with SHA-256.
    EcdsaP256Sha256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384Sha384,
}

impl SignatureAlgorithm {
    /// The digest algorithm that goes with it (content and signed attributes).
    pub fn digest(self) -> DigestAlgorithm {
        match self {
            SignatureAlgorithm::RsaPkcs1Sha256 | SignatureAlgorithm::EcdsaP256Sha256 => {
                DigestAlgorithm::Sha256
            }
            SignatureAlgorithm::EcdsaP384Sha384 => DigestAlgorithm::Sha384,
        }
    }

    /// The CMS `signatureAlgorithm` AlgorithmIdentifier, DER.
    pub(crate) fn algorithm_identifier(self) -> Vec<u8> {
        match self {
            SignatureAlgorithm::RsaPkcs1Sha256 => asn1::algorithm_null(oid::SHA256_WITH_RSA),
            SignatureAlgorithm::EcdsaP256Sha256 => asn1::algorithm(oid::ECDSA_SHA256),
            SignatureAlgorithm::EcdsaP384Sha384 => asn1::algorithm(oid::ECDSA_SHA384),
        }
    }
}

/// A signing key with its certificate chain.
///
/// [`Signer::sign`] receives the exact bytes to sign (the DER of the CMS
/// signed attributes) and returns the signature value: RSA PKCS#1 v1.5 bytes
/// or a DER ECDSA-Sig-Value. An implementation backed by a service that
/// signs digests hashes `message` with [`SignatureAlgorithm::digest`] first.
pub trait Signer {
    /// The signer's certificate first, then its chain (DER). The signer
    /// certificate must be there: the Gateway looks for it inside the CMS.
    fn certificates(&self) -> &[Vec<u8>];
    /// The algorithm of the key.
    fn algorithm(&self) -> SignatureAlgorithm;
    /// The longest signature value the key can produce, in bytes.
    fn max_signature_len(&self) -> usize;
    /// Signs `message`.
    ///
    /// # Errors
    /// Whatever keeps the key from signing (a device error, a refused PIN).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>>;
}

enum Key {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair, SignatureAlgorithm),
}

/// A [`Signer`] over a private key held in memory (from PEM or PKCS#12).
pub struct KeySigner {
    key: Key,
    certificates: Vec<Vec<u8>>,
    rng: SystemRandom,
}

impl std::fmt::Debug for KeySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("KeySigner")
            .field("algorithm", &self.algorithm())
            .field("certificates", &self.certificates.len())
            .finish()
    }
}

impl KeySigner {
    /// From PEM text: `certificates` holds the signer certificate and,
    /// optionally, its chain; `key` a `PRIVATE KEY` (PKCS#8), `RSA PRIVATE
    /// KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1) block.
    ///
    /// # Errors
    /// No certificate or key found, an encrypted or unsupported key, or a
    /// key that does not match the certificate.
    pub fn from_pem(certificates: &[u8], key: &[u8]) -> Result<Self> {
        let certs: Vec<Vec<u8>> = pem_blocks(certificates)?
            .into_iter()
            .filter(|(label, _)| label == "CERTIFICATE")
            .map(|(_, der)| der)
            .collect();
        if certs.is_empty() {
            return Err(Error::Certificate(
                "no CERTIFICATE block in the certificate PEM".into(),
            ));
        }
        let blocks = pem_blocks(key)?;
        let Some((label, der)) = blocks.into_iter().find(|(l, _)| l.ends_with("PRIVATE KEY"))
        else {
            return Err(Error::Key("no PRIVATE KEY block in the key PEM".into()));
        };
        let key = match label.as_str() {
            "PRIVATE KEY" => parse_pkcs8(&der)?,
            "RSA PRIVATE KEY" => Key::Rsa(
                RsaKeyPair::from_der(&der)
                    .map_err(|e| Error::Key(format!("PKCS#1 RSA key: {e}")))?,
            ),
            "EC PRIVATE KEY" => parse_pkcs8(&sec1_to_pkcs8(&der)?)?,
            "ENCRYPTED PRIVATE KEY" => {
                return Err(Error::Key(
                    "encrypted PEM keys are not supported: use a PKCS#12 file".into(),
                ));
            }
            other => return Err(Error::Key(format!("unsupported key type `{other}`"))),
        };
        Self::new(key, certs)
    }

    /// From a certificate PEM file and a key PEM file.
    ///
    /// # Errors
    /// As [`KeySigner::from_pem`], or the files cannot be read.
    pub fn from_pem_files(certificates: &Path, key: &Path) -> Result<Self> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|source| Error::Io {
                path: p.to_path_buf(),
                source,
            })
        };
        Self::from_pem(&read(certificates)?, &read(key)?)
    }

    /// From a PKCS#12 (`.p12`, `.pfx`) file's bytes.
    ///
    /// # Errors
    /// A wrong password, a damaged file, no key with a certificate in it.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Self> {
        let store = p12_keystore::KeyStore::from_pkcs12(
            der,
            password,
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .map_err(|e| Error::Pkcs12 {
            message: "cannot open (wrong password or damaged file?)".into(),
            source: Some(e),
        })?;
        let Some((_, chain)) = store.private_key_chain() else {
            return Err(Error::Pkcs12 {
                message: "no private key with its certificate".into(),
                source: None,
            });
        };
        let certs: Vec<Vec<u8>> = chain.certs().iter().map(|c| c.as_der().to_vec()).collect();
        if certs.is_empty() {
            return Err(Error::Pkcs12 {
                message: "the private key has no certificate".into(),
                source: None,
            });
        }
        let key = parse_pkcs8(chain.key().as_der())?;
        Self::new(key, certs)
    }

    /// From a PKCS#12 file.
    ///
    /// # Errors
    /// As [`KeySigner::from_pkcs12`], or the file cannot be read.
    pub fn from_pkcs12_file(path: &Path, password: &str) -> Result<Self> {
        let der = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_pkcs12(&der, password)
    }

    /// From DER: the certificates (any order; the one matching the key
    /// becomes the signer's) and a PKCS#8 private key.
    ///
    /// # Errors
    /// As [`KeySigner::from_pem`].
    pub fn from_der(certificates: Vec<Vec<u8>>, pkcs8: &[u8]) -> Result<Self> {
        Self::new(parse_pkcs8(pkcs8)?, certificates)
    }

    fn new(key: Key, mut certs: Vec<Vec<u8>>) -> Result<Self> {
        let public = match &key {
            Key::Rsa(k) => k.public_key().as_ref().to_vec(),
            Key::Ecdsa(k, _) => k.public_key().as_ref().to_vec(),
        };
        // The signer certificate is the one holding the key's public half.
        let mut leaf = None;
        for (i, der) in certs.iter().enumerate() {
            let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| {
                Error::Certificate(format!("certificate {} is malformed: {e}", i + 1))
            })?;
            if cert.public_key().subject_public_key.data.as_ref() == public.as_slice() {
                leaf = Some(i);
                break;
            }
        }
        let Some(leaf) = leaf else {
            return Err(Error::Key(
                "the private key does not match any of the certificates".into(),
            ));
        };
        let signer_cert = certs.remove(leaf);
        certs.insert(0, signer_cert);
        Ok(Self {
            key,
            certificates: certs,
            rng: SystemRandom::new(),
        })
    }
}

impl Signer for KeySigner {
    fn certificates(&self) -> &[Vec<u8>] {
        &self.certificates
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        match &self.key {
            Key::Rsa(_) => SignatureAlgorithm::RsaPkcs1Sha256,
            Key::Ecdsa(_, alg) => *alg,
        }
    }

    fn max_signature_len(&self) -> usize {
        match &self.key {
            Key::Rsa(k) => k.public().modulus_len(),
            // DER SEQUENCE of two INTEGERs of up to n+1 bytes each.
            Key::Ecdsa(_, SignatureAlgorithm::EcdsaP384Sha384) => 2 + 2 * (2 + 49),
            Key::Ecdsa(..) => 2 + 2 * (2 + 33),
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        match &self.key {
            Key::Rsa(k) => {
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                    .map_err(|_| Error::Signing("RSA signing failed".into()))?;
                Ok(sig)
            }
            Key::Ecdsa(k, _) => {
                let sig = k
                    .sign(&self.rng, message)
                    .map_err(|_| Error::Signing("ECDSA signing failed".into()))?;
                Ok(sig.as_ref().to_vec())
            }
        }
    }
}

fn parse_pkcs8(der: &[u8]) -> Result<Key> {
    // The algorithm OID tells RSA from EC: PrivateKeyInfo { version, AlgorithmIdentifier, ... }.
    let mut r = asn1::Reader::new(der, "PKCS#8 private key");
    let info = r.expect(tag::SEQUENCE)?;
    let mut fields = info.reader("PKCS#8 private key");
    fields.expect(tag::INTEGER)?;
    let alg = fields.expect(tag::SEQUENCE)?;
    let mut alg_fields = alg.reader("PKCS#8 algorithm");
    let alg_oid = alg_fields.expect(tag::OID)?;
    let rng = SystemRandom::new();
    if alg_oid.content == oid::RSA_ENCRYPTION {
        return RsaKeyPair::from_pkcs8(der)
            .map(Key::Rsa)
            .map_err(|e| Error::Key(format!("RSA key: {e}")));
    }
    if alg_oid.content == oid::EC_PUBLIC_KEY {
        let curve = alg_fields
            .optional(tag::OID)?
            .map(|t| t.content)
            .unwrap_or_default();
        let (ring_alg, alg) = if curve == oid::P256 {
            (
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                SignatureAlgorithm::EcdsaP256Sha256,
            )
        } else if curve == oid::P384 {
            (
                &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                SignatureAlgorithm::EcdsaP384Sha384,
            )
        } else {
            return Err(Error::Key(format!(
                "unsupported elliptic curve {}",
                asn1::oid_string(curve)
            )));
        };
        return EcdsaKeyPair::from_pkcs8(ring_alg, der, &rng)
            .map(|k| Key::Ecdsa(k, alg))
            .map_err(|e| Error::Key(format!("EC key: {e}")));
    }
    Err(Error::Key(format!(
        "unsupported key algorithm {}",
        asn1::oid_string(alg_oid.content)
    )))
}

/// Wraps a SEC1 `ECPrivateKey` into PKCS#8, taking the curve from its
/// parameters.
fn sec1_to_pkcs8(sec1: &[u8]) -> Result<Vec<u8>> {
    let mut r = asn1::Reader::new(sec1, "EC private key");
    let key = r.expect(tag::SEQUENCE)?;
    let mut fields = key.reader("EC private key");
    fields.expect(tag::INTEGER)?;
    fields.expect(tag::OCTET_STRING)?;
    let curve = match fields.optional(0xA0)? {
        Some(params) => params
            .reader("EC parameters")
            .expect(tag::OID)?
            .content
            .to_vec(),
        None => {
            return Err(Error::Key(
                "the EC private key does not name its curve".into(),
            ));
        }
    };
    let alg = asn1::seq(&[&asn1::oid(oid::EC_PUBLIC_KEY), &asn1::oid(&curve)]);
    Ok(asn1::seq(&[&asn1::integer(0), &alg, &asn1::octets(sec1)]))
}

/// The blocks of a PEM text: `(label, DER)`.
fn pem_blocks(text: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let text = String::from_utf8_lossy(text);
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            current = Some((label.to_string(), String::new()));
        } else if let Some(label) = line
            .strip_prefix("-----END ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            let Some((open, body)) = current.take() else {
                continue;
            };
            if open != label {
                return Err(Error::Key(format!(
                    "PEM block BEGIN {open} ends with END {label}"
                )));
            }
            let der = base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .map_err(|e| Error::Key(format!("PEM block {open}: bad base64 ({e})")))?;
            blocks.push((open, der));
        } else if let Some((label, body)) = current.as_mut() {
            if line.contains(':') {
                // RFC 1421 headers (Proc-Type: 4,ENCRYPTED) mean a legacy encrypted key.
                return Err(Error::Key(format!(
                    "PEM block {label} is encrypted: use a PKCS#12 file"
                )));
            }
            body.push_str(line);
        }
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_parsing() {
        let pem = b"junk\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n-----BEGIN X-----\nBA==\n-----END X-----\n";
        let blocks = pem_blocks(pem).unwrap();
        assert_eq!(
            blocks,
            vec![
                ("CERTIFICATE".to_string(), vec![1, 2, 3]),
                ("X".to_string(), vec![4])
            ]
        );
        assert!(pem_blocks(b"-----BEGIN A-----\nAQID\n-----END B-----\n").is_err());
        assert!(pem_blocks(b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n-----END RSA PRIVATE KEY-----\n").is_err());
    }

    #[test]
    fn rejects_garbage_keys() {
        let cert = b"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
        let err = KeySigner::from_pem(
            cert,
            b"-----BEGIN PRIVATE KEY-----\nAQID\n-----END PRIVATE KEY-----\n",
        )
        .unwrap_err();
        assert!(matches!(err, Error::Asn1 { .. }), "{err}");
        let err = KeySigner::from_pem(b"nothing", b"").unwrap_err();
        assert!(matches!(err, Error::Certificate(_)), "{err}");
        let err = KeySigner::from_pkcs12(b"not a p12", "pw").unwrap_err();
        assert!(matches!(err, Error::Pkcs12 { .. }), "{err}");
    }
}
