//! Certificates and keys, and the rustls client configuration.
//!
//! Both identities the FSE wants — the "authentication" certificate (TLS
//! client) and the "signature" certificate (JWTs) — load the same way, from
//! PEM or from PKCS#12 with the password in an environment variable. Trust
//! is pinned: only the configured CA certificates, the operating system's
//! roots only when asked. The provider is ring.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

use crate::config::{KeySource, TlsSettings};
use crate::error::{Error, Result};

/// A certificate chain (leaf first) with its private key.
pub struct KeyMaterial {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The private key of the leaf.
    pub key: PrivateKeyDer<'static>,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field(
                "chain",
                &format_args!("{} certificate(s)", self.chain.len()),
            )
            .field("key", &"<secret>")
            .finish()
    }
}

impl Clone for KeyMaterial {
    fn clone(&self) -> Self {
        KeyMaterial {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl KeyMaterial {
    /// Loads what `source` names; `env` reads the PKCS#12 password variable.
    /// `what` names the identity in errors (`tls`, `signing`).
    ///
    /// # Errors
    /// [`Error::ReadFile`] or [`Error::KeyMaterial`].
    pub fn load(
        source: &KeySource,
        env: &dyn Fn(&str) -> Option<String>,
        what: &str,
    ) -> Result<Self> {
        match source {
            KeySource::Pem { certificate, key } => {
                let cert_pem = read(certificate)?;
                let key_pem = match key {
                    Some(k) => Zeroizing::new(read(k)?),
                    None => Zeroizing::new(cert_pem.clone()),
                };
                Self::from_pem(&cert_pem, &key_pem).map_err(|r| Error::key(what, certificate, r))
            }
            KeySource::Pkcs12 { file, password_env } => {
                let der = read(file)?;
                let password = Zeroizing::new(env(password_env).ok_or_else(|| {
                    Error::key(
                        what,
                        file,
                        format!("the password variable {password_env} is not set"),
                    )
                })?);
                Self::from_pkcs12(&der, &password).map_err(|r| Error::key(what, file, r))
            }
        }
    }

    /// From PEM text: one or more `CERTIFICATE` blocks (leaf first) and a
    /// private key (PKCS#8, PKCS#1 or SEC1), possibly in the same text.
    ///
    /// # Errors
    /// A message saying what is missing or malformed.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> std::result::Result<Self, String> {
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| format!("unreadable PEM certificate: {e}"))?;
        if chain.is_empty() {
            return Err("no CERTIFICATE block found".to_owned());
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| format!("no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}"))?;
        Ok(KeyMaterial { chain, key })
    }

    /// From a PKCS#12 archive and its password: the first key with its chain.
    ///
    /// # Errors
    /// A message saying what is wrong (password, no key, no certificate).
    pub fn from_pkcs12(der: &[u8], password: &str) -> std::result::Result<Self, String> {
        let store = p12_keystore::KeyStore::from_pkcs12(
            der,
            password,
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .map_err(|e| format!("cannot open the PKCS#12 file (wrong password?): {e}"))?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or("the PKCS#12 file holds no private key")?;
        let certs: Vec<CertificateDer<'static>> = chain
            .certs()
            .iter()
            .map(|c| CertificateDer::from(c.as_der().to_vec()))
            .collect();
        if certs.is_empty() {
            return Err("the PKCS#12 file holds no certificate for its key".to_owned());
        }
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec()));
        Ok(KeyMaterial { chain: certs, key })
    }

    /// The leaf certificate, DER.
    pub fn leaf(&self) -> &[u8] {
        self.chain.first().map_or(&[], |c| c.as_ref())
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::ReadFile {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the CA certificates of `files` (PEM, any number of blocks each).
///
/// # Errors
/// [`Error::ReadFile`] or [`Error::KeyMaterial`] when a file has no certificate.
pub fn load_ca_files(files: &[std::path::PathBuf]) -> Result<Vec<CertificateDer<'static>>> {
    let mut out = Vec::new();
    for file in files {
        let pem = read(file)?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::key("tls.ca", file, format!("unreadable PEM: {e}")))?;
        if certs.is_empty() {
            return Err(Error::key("tls.ca", file, "no CERTIFICATE block"));
        }
        out.extend(certs);
    }
    Ok(out)
}

/// Builds the rustls client configuration: ring provider, TLS 1.2 and 1.3,
/// trust in `roots` (plus the OS roots if `system_roots`), and `identity` as
/// the client certificate.
///
/// # Errors
/// [`Error::Tls`] when rustls refuses a certificate or the key;
/// [`Error::KeyMaterial`] when there is nothing to trust.
pub fn client_config(
    identity: Option<&KeyMaterial>,
    roots: &[CertificateDer<'static>],
    system_roots: bool,
) -> Result<rustls::ClientConfig> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store
            .add(root.clone())
            .map_err(|source| Error::Tls { source })?;
    }
    if system_roots {
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            // One unusable system certificate must not stop the others.
            let _ = store.add(cert);
        }
    }
    if store.is_empty() {
        return Err(Error::KeyMaterial {
            what: "tls.ca".to_owned(),
            reason: "nothing to trust: set tls.ca to the CA of CART / the Gateway (or tls.system_roots = true)".to_owned(),
        });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| Error::Tls { source })?
        .with_root_certificates(store);
    let mut config = match identity {
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .map_err(|source| Error::Tls { source })?,
        None => builder.with_no_client_auth(),
    };
    // HTTP/1.1 only: the Gateway's multipart reading is tested with it.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A configuration for plain `http://` to the loopback (simulator, tests):
/// reqwest wants one even when TLS is never used; it trusts nothing.
///
/// # Errors
/// [`Error::Tls`] if rustls refuses the protocol versions.
pub fn client_config_for_plain_http() -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| Error::Tls { source })?
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth())
}

/// [`client_config`] from resolved settings: loads the identity and the CAs.
///
/// # Errors
/// As [`KeyMaterial::load`], [`load_ca_files`] and [`client_config`].
pub fn client_config_from_settings(
    settings: &TlsSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<rustls::ClientConfig> {
    let identity = settings
        .identity
        .as_ref()
        .map(|s| KeyMaterial::load(s, env, "tls"))
        .transpose()?;
    let roots = load_ca_files(&settings.ca)?;
    client_config(identity.as_ref(), &roots, settings.system_roots)
}
