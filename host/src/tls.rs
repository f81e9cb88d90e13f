//! TLS with rustls (ring provider): the hub's server certificate (from
//! files, or self-signed and written to disk at start so clients can trust
//! it) and the client configuration connectors use for `https://` and
//! `wss://` platforms (LivePerson's official SDK speaks nothing else).
//!
//! Owns: certificates and rustls configuration. Knows nothing of what runs
//! over the connections.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::ring::default_provider;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

fn file_error(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// The certificates in a PEM file.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(path, e))?;
    if certificates.is_empty() {
        return Err(file_error(path, "no certificate in the file"));
    }
    Ok(certificates)
}

/// A server configuration from PEM files.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certificates = read_certificates(cert_file)?;
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| file_error(key_file, e))?;
    ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .map(Arc::new)
        .map_err(|e| TlsError::Config(e.to_string()))
}

/// Generates a self-signed certificate for `localhost` and `127.0.0.1`,
/// writes it (and its key) into `dir`, and returns the certificate's path.
pub fn self_signed(dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let generated =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Config(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
    let (cert_file, key_file) = (dir.join("hub-cert.pem"), dir.join("hub-key.pem"));
    std::fs::write(&cert_file, generated.cert.pem()).map_err(|e| file_error(&cert_file, e))?;
    std::fs::write(&key_file, generated.signing_key.serialize_pem())
        .map_err(|e| file_error(&key_file, e))?;
    Ok((cert_file, key_file))
}

/// A client configuration trusting `ca_file` if given, else the public
/// web PKI roots.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    client_config_with_identity(ca_file, None)
}

/// [`client_config`] that also shows servers asking for one the client
/// certificate `identity` (certificate file and key file, PEM).
pub fn client_config_with_identity(
    ca_file: Option<&Path>,
    identity: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for certificate in read_certificates(path)? {
                roots.add(certificate).map_err(|e| file_error(path, e))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert_file, key_file)) => {
            let certificates = read_certificates(cert_file)?;
            let key =
                PrivateKeyDer::from_pem_file(key_file).map_err(|e| file_error(key_file, e))?;
            builder
                .with_client_auth_cert(certificates, key)
                .map_err(|e| {
                    TlsError::Config(format!(
                        "the client certificate {} with the key {}: {e}",
                        cert_file.display(),
                        key_file.display()
                    ))
                })?
        }
    };
    Ok(Arc::new(config))
}
