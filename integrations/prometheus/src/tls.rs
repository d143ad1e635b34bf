//! HTTPS for scrapes across an untrusted network: rustls 0.23 with the
//! `ring` provider, a certificate chain and key from PEM files, and
//! optionally a CA whose client certificates are required (mutual TLS).
//!
//! The handshake runs on the connection's own thread under a deadline, so a
//! client that connects and stays silent delays no one else.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

use crate::server::Connection;

/// Why the TLS configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file that cannot be read or holds nothing usable.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// rustls refuses the combination (a key that does not match the certificate, ...).
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// A server TLS configuration.
#[derive(Debug)]
pub struct TlsConfig {
    config: Arc<ServerConfig>,
}

impl TlsConfig {
    /// Loads the certificate chain and private key (PEM), and with
    /// `client_ca` requires clients to present a certificate it signed.
    ///
    /// ```
    /// use nvitop_exporter::tls::TlsConfig;
    /// let err = TlsConfig::load("/nonexistent.crt".as_ref(), "/nonexistent.key".as_ref(), None).unwrap_err();
    /// assert!(err.to_string().starts_with("/nonexistent.crt: "));
    /// ```
    ///
    /// # Errors
    /// [`TlsError`] naming the file or the mismatch.
    pub fn load(certfile: &Path, keyfile: &Path, client_ca: Option<&Path>) -> Result<Self, TlsError> {
        let file_error = |path: &Path| {
            let path = path.to_path_buf();
            move |err: &dyn std::fmt::Display| TlsError::File {
                path: path.clone(),
                message: err.to_string(),
            }
        };
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certfile)
            .map_err(|e| file_error(certfile)(&e))?
            .collect::<Result<_, _>>()
            .map_err(|e| file_error(certfile)(&e))?;
        if chain.is_empty() {
            return Err(file_error(certfile)(&"no PEM certificate in the file"));
        }
        let key = PrivateKeyDer::from_pem_file(keyfile).map_err(|e| file_error(keyfile)(&e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_file_iter(ca).map_err(|e| file_error(ca)(&e))? {
                    let cert = cert.map_err(|e| file_error(ca)(&e))?;
                    roots.add(cert).map_err(|e| file_error(ca)(&e))?;
                }
                if roots.is_empty() {
                    return Err(file_error(ca)(&"no PEM certificate in the file"));
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| TlsError::Config(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// Completes the handshake on `stream` within `deadline` of silence.
    ///
    /// # Errors
    /// The client is not speaking TLS, refuses our certificate, has no
    /// acceptable certificate of its own, or stays silent.
    pub fn accept(&self, mut stream: TcpStream, deadline: Duration) -> std::io::Result<TlsStream> {
        stream.set_read_timeout(Some(deadline))?;
        let mut connection = ServerConnection::new(Arc::clone(&self.config)).map_err(std::io::Error::other)?;
        while connection.is_handshaking() {
            connection.complete_io(&mut stream)?;
        }
        Ok(TlsStream(StreamOwned::new(connection, stream)))
    }
}

/// An established TLS connection.
#[derive(Debug)]
pub struct TlsStream(StreamOwned<ServerConnection, TcpStream>);

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl Connection for TlsStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.0.sock.set_read_timeout(timeout)
    }
}

impl Drop for TlsStream {
    fn drop(&mut self) {
        self.0.conn.send_close_notify();
        let _ = self.0.conn.complete_io(&mut self.0.sock);
    }
}
