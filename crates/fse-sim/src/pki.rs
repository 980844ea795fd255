//! A throw-away test PKI: one CA and the five identities the FSE needs.
//!
//! - the **server** certificate of the simulator (for `127.0.0.1` and `localhost`);
//! - the **authentication** certificate, used only as the TLS client certificate;
//! - the **signature** certificate, used only to sign both JWTs, with a common
//!   name in the national style `S1#<region>#<name>`; RSA, because the Gateway
//!   wants RS256;
//! - the **PDF signer**, for the PAdES signature (RSA-2048, as in the
//!   official samples).
//!
//! Everything chains to one CA, which the simulator trusts for mTLS and for
//! the `x5c` of the JWTs. [`TestPki::write_to`] writes PEM files (and
//! PKCS#12 for the client identities); [`TestPki::load`] reads them back.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

use crate::error::{Error, Result};

/// The password of the PKCS#12 files written by [`TestPki::write_to`].
pub const PKCS12_PASSWORD: &str = "fse-sim";

/// The region code put in the test certificates' common names (090, Toscana).
pub const DEFAULT_REGION: &str = "090";

/// A certificate with its private key.
#[derive(Clone)]
pub struct Identity {
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("cert_der", &format_args!("{} bytes", self.cert_der.len()))
            .field("key_der", &"<secret>")
            .finish()
    }
}

impl Identity {
    /// The certificate as PEM.
    pub fn cert_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.cert_der)
    }

    /// The private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        pem_encode("PRIVATE KEY", &self.key_der)
    }

    /// The certificate's subject common name, if it has one.
    pub fn common_name(&self) -> Option<String> {
        common_name_of(&self.cert_der)
    }
}

/// The subject common name of a DER certificate, if it parses and has one.
pub fn common_name_of(cert_der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_owned();
    Some(cn)
}

/// What the generated certificates say.
#[derive(Debug, Clone)]
pub struct PkiOptions {
    /// The name after the region in the national-style common names
    /// (`A1#090#<name>`, `S1#090#<name>`).
    pub name: String,
    /// The three-digit region code in the common names.
    pub region: String,
    /// Host names and IP addresses the server certificate is valid for.
    pub server_names: Vec<String>,
    /// How long every certificate is valid, from one day ago.
    pub validity: Duration,
    /// Bits of the RSA keys (JWT signature and PDF signer).
    pub rsa_bits: usize,
}

impl Default for PkiOptions {
    fn default() -> Self {
        PkiOptions {
            name: "FSE2SIM".to_owned(),
            region: DEFAULT_REGION.to_owned(),
            server_names: vec!["127.0.0.1".to_owned(), "localhost".to_owned()],
            validity: Duration::days(3 * 365),
            rsa_bits: 2048,
        }
    }
}

/// The CA and the identities of a test PKI.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA, which everything chains to.
    pub ca: Identity,
    /// The simulator's TLS server identity.
    pub server: Identity,
    /// The client's authentication (TLS) identity.
    pub client: Identity,
    /// The client's JWT signature identity (RSA, CN `S1#...`).
    pub signing: Identity,
    /// The PAdES signer identity (RSA).
    pub pdf_signer: Identity,
}

/// The files [`TestPki::write_to`] writes, by role.
#[derive(Debug, Clone)]
pub struct PkiFiles {
    /// The directory.
    pub dir: PathBuf,
    /// `ca.cert.pem`.
    pub ca_cert: PathBuf,
    /// `server.cert.pem`.
    pub server_cert: PathBuf,
    /// `server.key.pem`.
    pub server_key: PathBuf,
    /// `client.cert.pem`.
    pub client_cert: PathBuf,
    /// `client.key.pem`.
    pub client_key: PathBuf,
    /// `client.p12`.
    pub client_p12: PathBuf,
    /// `signing.cert.pem`.
    pub signing_cert: PathBuf,
    /// `signing.key.pem`.
    pub signing_key: PathBuf,
    /// `signing.p12`.
    pub signing_p12: PathBuf,
    /// `pdf-signer.cert.pem`.
    pub pdf_signer_cert: PathBuf,
    /// `pdf-signer.key.pem`.
    pub pdf_signer_key: PathBuf,
    /// `pdf-signer.p12`.
    pub pdf_signer_p12: PathBuf,
}

impl PkiFiles {
    /// The file names inside `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        let f = |name: &str| dir.join(name);
        PkiFiles {
            dir: dir.to_path_buf(),
            ca_cert: f("ca.cert.pem"),
            server_cert: f("server.cert.pem"),
            server_key: f("server.key.pem"),
            client_cert: f("client.cert.pem"),
            client_key: f("client.key.pem"),
            client_p12: f("client.p12"),
            signing_cert: f("signing.cert.pem"),
            signing_key: f("signing.key.pem"),
            signing_p12: f("signing.p12"),
            pdf_signer_cert: f("pdf-signer.cert.pem"),
            pdf_signer_key: f("pdf-signer.key.pem"),
            pdf_signer_p12: f("pdf-signer.p12"),
        }
    }
}

impl TestPki {
    /// Generates a fresh PKI with the default options.
    ///
    /// # Errors
    /// When a key or certificate cannot be generated.
    pub fn generate() -> Result<Self> {
        Self::generate_with(&PkiOptions::default())
    }

    /// Generates a fresh PKI.
    ///
    /// # Errors
    /// When a key or certificate cannot be generated.
    pub fn generate_with(options: &PkiOptions) -> Result<Self> {
        let not_before = OffsetDateTime::now_utc() - Duration::days(1);
        let not_after = not_before + options.validity;

        let ca_key = ecdsa_key("the CA")?;
        let mut ca_params = base_params(&[], not_before, not_after, "the CA")?;
        ca_params.distinguished_name = dn("fse2 simulator test CA", "fse2 test PKI");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(|e| cert_err("the CA", e))?;
        let ca = Identity {
            cert_der: ca_cert.der().to_vec(),
            key_der: ca_key.serialize_der(),
        };
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = ecdsa_key("the server")?;
        let mut params = base_params(&options.server_names, not_before, not_after, "the server")?;
        params.distinguished_name = dn("fse2 simulator", "fse2 test PKI");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // Client authentication too: the simulator presents it when it
        // pushes notifications over mTLS.
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let server = issue(&params, server_key, &issuer, "the server")?;

        let client_key = ecdsa_key("the authentication certificate")?;
        let mut params = base_params(&[], not_before, not_after, "the authentication certificate")?;
        params.distinguished_name = dn(
            &format!("A1#{}#{}", options.region, options.name),
            "Ministero della Salute",
        );
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = issue(
            &params,
            client_key,
            &issuer,
            "the authentication certificate",
        )?;

        let signing_key = rsa_key(options.rsa_bits, "the signature certificate")?;
        let mut params = base_params(&[], not_before, not_after, "the signature certificate")?;
        params.distinguished_name = dn(
            &format!("S1#{}#{}", options.region, options.name),
            "Ministero della Salute",
        );
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let signing = issue(&params, signing_key, &issuer, "the signature certificate")?;

        let pdf_key = rsa_key(options.rsa_bits, "the PDF signer")?;
        let mut params = base_params(&[], not_before, not_after, "the PDF signer")?;
        params.distinguished_name = dn(&format!("{} PDF signer", options.name), "fse2 test PKI");
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::ContentCommitment,
        ];
        let pdf_signer = issue(&params, pdf_key, &issuer, "the PDF signer")?;

        Ok(TestPki {
            ca,
            server,
            client,
            signing,
            pdf_signer,
        })
    }

    /// Writes the PEM files (and PKCS#12 files for the client identities,
    /// password [`PKCS12_PASSWORD`]) into `dir`, creating it.
    ///
    /// # Errors
    /// When a file cannot be written.
    pub fn write_to(&self, dir: &Path) -> Result<PkiFiles> {
        fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        let files = PkiFiles::in_dir(dir);
        write(&files.ca_cert, self.ca.cert_pem().as_bytes())?;
        write(&files.server_cert, self.server.cert_pem().as_bytes())?;
        write_secret(&files.server_key, self.server.key_pem().as_bytes())?;
        for (identity, cert, key, p12, alias) in [
            (
                &self.client,
                &files.client_cert,
                &files.client_key,
                &files.client_p12,
                "client",
            ),
            (
                &self.signing,
                &files.signing_cert,
                &files.signing_key,
                &files.signing_p12,
                "signing",
            ),
            (
                &self.pdf_signer,
                &files.pdf_signer_cert,
                &files.pdf_signer_key,
                &files.pdf_signer_p12,
                "pdf-signer",
            ),
        ] {
            write(cert, identity.cert_pem().as_bytes())?;
            write_secret(key, identity.key_pem().as_bytes())?;
            write_secret(p12, &self.pkcs12(identity, alias)?)?;
        }
        Ok(files)
    }

    /// Reads a PKI written by [`TestPki::write_to`]. The CA key is not
    /// written, so the loaded `ca` has an empty `key_der`.
    ///
    /// # Errors
    /// When a file is missing or is not the PEM it should be.
    pub fn load(dir: &Path) -> Result<Self> {
        let files = PkiFiles::in_dir(dir);
        let ca = Identity {
            cert_der: read_cert(&files.ca_cert)?,
            key_der: Vec::new(),
        };
        let pair = |cert: &Path, key: &Path| -> Result<Identity> {
            Ok(Identity {
                cert_der: read_cert(cert)?,
                key_der: read_key(key)?,
            })
        };
        Ok(TestPki {
            ca,
            server: pair(&files.server_cert, &files.server_key)?,
            client: pair(&files.client_cert, &files.client_key)?,
            signing: pair(&files.signing_cert, &files.signing_key)?,
            pdf_signer: pair(&files.pdf_signer_cert, &files.pdf_signer_key)?,
        })
    }

    /// A PKCS#12 file holding `identity` with the chain up to the CA.
    ///
    /// # Errors
    /// When the PKCS#12 library refuses the key or certificates.
    pub fn pkcs12(&self, identity: &Identity, alias: &str) -> Result<Vec<u8>> {
        let p12_err = |reason: String| Error::Pkcs12 {
            what: alias.to_owned(),
            reason,
        };
        let key = p12_keystore::PrivateKey::from_der(&identity.key_der)
            .map_err(|e| p12_err(e.to_string()))?;
        let certs = [&identity.cert_der, &self.ca.cert_der]
            .into_iter()
            .map(|der| p12_keystore::Certificate::from_der(der).map_err(|e| p12_err(e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        let local_key_id =
            ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &identity.cert_der);
        let chain = p12_keystore::PrivateKeyChain::new(local_key_id.as_ref(), key, certs);
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry(alias, p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        store
            .writer(PKCS12_PASSWORD)
            .write()
            .map_err(|e| p12_err(e.to_string()))
    }
}

fn base_params(
    names: &[String],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    what: &str,
) -> Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| cert_err(what, e))?;
    for name in names {
        let san = match name.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(name.clone().try_into().map_err(|e| cert_err(what, e))?),
        };
        params.subject_alt_names.push(san);
    }
    params.not_before = not_before;
    params.not_after = not_after;
    let mut serial = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut serial).map_err(
        |_| Error::RsaKey {
            what: what.to_owned(),
            reason: "the system random source failed".to_owned(),
        },
    )?;
    serial[0] &= 0x7f;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    Ok(params)
}

fn dn(common_name: &str, organization: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "IT");
    dn.push(DnType::OrganizationName, organization);
    dn.push(DnType::CommonName, common_name);
    dn
}

fn issue(
    params: &CertificateParams,
    key: KeyPair,
    issuer: &Issuer<'_, KeyPair>,
    what: &str,
) -> Result<Identity> {
    let cert = params
        .signed_by(&key, issuer)
        .map_err(|e| cert_err(what, e))?;
    Ok(Identity {
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
    })
}

fn ecdsa_key(what: &str) -> Result<KeyPair> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| cert_err(what, e))
}

/// An RSA key: ring cannot generate one, so the pure-Rust `rsa` crate does,
/// and ring signs with it from then on.
fn rsa_key(bits: usize, what: &str) -> Result<KeyPair> {
    use rsa::pkcs8::EncodePrivateKey;
    let rsa_err = |reason: String| Error::RsaKey {
        what: what.to_owned(),
        reason,
    };
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits)
        .map_err(|e| rsa_err(e.to_string()))?;
    let der = key.to_pkcs8_der().map_err(|e| rsa_err(e.to_string()))?;
    KeyPair::from_pkcs8_der_and_sign_algo(
        &PrivatePkcs8KeyDer::from(der.as_bytes()),
        &rcgen::PKCS_RSA_SHA256,
    )
    .map_err(|e| cert_err(what, e))
}

fn cert_err(what: &str, source: rcgen::Error) -> Error {
    Error::CertificateGeneration {
        what: what.to_owned(),
        source,
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(|e| Error::io("writing", path, e))
}

/// Writes a private key readable by its owner only (on Unix).
fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    write(path, bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io("setting permissions of", path, e))?;
    }
    Ok(())
}

fn read_cert(path: &Path) -> Result<Vec<u8>> {
    CertificateDer::from_pem_file(path)
        .map(|c| c.to_vec())
        .map_err(|e| Error::InvalidPem {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

fn read_key(path: &Path) -> Result<Vec<u8>> {
    PrivatePkcs8KeyDer::from_pem_file(path)
        .map(|k| k.secret_pkcs8_der().to_vec())
        .map_err(|e| Error::InvalidPem {
            path: path.to_path_buf(),
            reason: format!("expected a PKCS#8 private key: {e}"),
        })
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> PkiOptions {
        PkiOptions {
            rsa_bits: 2048,
            ..PkiOptions::default()
        }
    }

    #[test]
    fn generated_pki_chains_to_its_ca_with_national_common_names() {
        let pki = TestPki::generate_with(&small()).expect("pki");
        let (_, ca) = x509_parser::parse_x509_certificate(&pki.ca.cert_der).expect("ca");
        for id in [&pki.server, &pki.client, &pki.signing, &pki.pdf_signer] {
            let (_, cert) = x509_parser::parse_x509_certificate(&id.cert_der).expect("cert");
            cert.verify_signature(Some(ca.public_key()))
                .expect("signed by the CA");
            assert_eq!(cert.issuer(), ca.subject());
        }
        assert_eq!(pki.signing.common_name().as_deref(), Some("S1#090#FSE2SIM"));
        assert_eq!(pki.client.common_name().as_deref(), Some("A1#090#FSE2SIM"));
        // RS256 needs an RSA key that ring accepts.
        ring::signature::RsaKeyPair::from_pkcs8(&pki.signing.key_der).expect("RSA signing key");
        ring::signature::RsaKeyPair::from_pkcs8(&pki.pdf_signer.key_der).expect("RSA PDF key");
    }

    #[test]
    fn written_pki_loads_back_and_pkcs12_opens_with_the_password() {
        let pki = TestPki::generate_with(&small()).expect("pki");
        let dir = tempfile::tempdir().expect("tempdir");
        let files = pki.write_to(dir.path()).expect("write");
        let loaded = TestPki::load(dir.path()).expect("load");
        assert_eq!(loaded.signing.cert_der, pki.signing.cert_der);
        assert_eq!(loaded.signing.key_der, pki.signing.key_der);
        assert_eq!(loaded.server.key_der, pki.server.key_der);
        let p12 = fs::read(&files.client_p12).expect("p12");
        let store = p12_keystore::KeyStore::from_pkcs12(
            &p12,
            PKCS12_PASSWORD,
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .expect("open p12");
        let (_, chain) = store.private_key_chain().expect("key chain");
        assert_eq!(
            chain.certs().first().map(|c| c.as_der().to_vec()),
            Some(pki.client.cert_der.clone())
        );
        assert!(TestPki::load(&dir.path().join("missing")).is_err());
    }
}
