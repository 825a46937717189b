//! Opening PostgreSQL connections the way libpq would for the same connection string, TLS
//! included: every connection of the server (the pool, the migrations, the LISTEN connection)
//! is made by [`ConnectTarget::connect`], with rustls.
//!
//! `sslmode` as in libpq ("SSL Support", `libpq-ssl.html`, table "SSL Mode Descriptions"):
//!
//! | sslmode | TLS | server certificate |
//! |---|---|---|
//! | `disable` | never | - |
//! | `prefer` (default) | if the server offers it | not checked, unless a root certificate file exists (then as `verify-ca`) |
//! | `require` | always | the same as `prefer` |
//! | `verify-ca` | always | signed by a root in `sslrootcert` |
//! | `verify-full` | always | signed by a root in `sslrootcert` and issued for the host name |
//!
//! `sslrootcert` is a PEM file of root certificates (default `~/.postgresql/root.crt`), or
//! `system` for the operating system's trusted roots, which, as in libpq 16, implies
//! `verify-full` and refuses weaker modes. A Unix-socket host never uses TLS (PostgreSQL does
//! not offer it there).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{CertificateError, ClientConfig, RootCertStore};
use thiserror::Error;
use tokio_postgres::config::Host;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Connection, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::url::{SslMode, UrlError, split_tls_params};
use super::verify::{ChainOnly, NoVerification};

/// The stream type of a connection made by [`ConnectTarget::connect`].
pub type TlsStream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;

#[derive(Debug, Error)]
pub enum ConnectError {
    #[error("DATABASE_URL: {0}")]
    Url(#[from] UrlError),
    #[error("DATABASE_URL: {0}")]
    Parse(tokio_postgres::Error),
    #[error(
        "sslmode={} verifies the server's certificate, but the root certificate file {} does \
         not exist; name one with sslrootcert=FILE (or sslrootcert=system for the system's \
         trusted roots), or use sslmode=require to encrypt without verifying",
        .mode.as_str(), .path.display()
    )]
    NoRootCert { mode: SslMode, path: PathBuf },
    #[error("sslrootcert {}: {source}", .path.display())]
    RootCert {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("sslrootcert {}: {reason}", .path.display())]
    BadRoots { path: PathBuf, reason: String },
    #[error(
        "sslrootcert=system requires sslmode=verify-full (sslmode={} would not check the \
         certificate's host name)",
        .0.as_str()
    )]
    WeakModeWithSystemRoots(SslMode),
    #[error("TLS setup: {0}")]
    Tls(#[from] rustls::Error),
    #[error("cannot connect to PostgreSQL at {target} (sslmode={}): {}{hint}", .mode.as_str(), chain(.source))]
    Connect {
        target: String,
        mode: SslMode,
        source: tokio_postgres::Error,
        hint: &'static str,
    },
}

/// An error and its causes, joined: tokio-postgres keeps the interesting part (which
/// certificate check failed) in the source chain.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A parsed connection string and the TLS connector it calls for.
#[derive(Clone)]
pub struct ConnectTarget {
    config: tokio_postgres::Config,
    mode: SslMode,
    tls: MakeRustlsConnect,
}

impl std::fmt::Debug for ConnectTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectTarget")
            .field("target", &self.describe())
            .field("sslmode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl ConnectTarget {
    /// Parses `url` and loads the root certificates it names. No network access.
    pub fn parse(url: &str) -> Result<ConnectTarget, ConnectError> {
        let split = split_tls_params(url)?;
        let mut config: tokio_postgres::Config = split.rest.parse().map_err(ConnectError::Parse)?;
        let system = split.sslrootcert.as_deref() == Some("system");
        let mut mode = match split.sslmode {
            Some(mode) => mode,
            None if system => SslMode::VerifyFull,
            None => SslMode::Prefer,
        };
        if system && mode != SslMode::VerifyFull {
            return Err(ConnectError::WeakModeWithSystemRoots(mode));
        }
        let only_sockets = !config.get_hosts().is_empty()
            && config
                .get_hosts()
                .iter()
                .all(|h| !matches!(h, Host::Tcp(_)));
        if only_sockets {
            mode = SslMode::Disable;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = match (mode, split.sslrootcert.as_deref()) {
            (SslMode::Disable, _) => None,
            (_, Some("system")) => Some(system_roots()?),
            (_, Some(path)) => Some(file_roots(Path::new(path))?),
            (_, None) => {
                let path = default_root_cert();
                match (mode, path.exists()) {
                    (_, true) => Some(file_roots(&path)?),
                    (SslMode::VerifyCa | SslMode::VerifyFull, false) => {
                        return Err(ConnectError::NoRootCert { mode, path });
                    }
                    _ => None,
                }
            }
        };
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()?;
        let client = match (mode, roots) {
            (SslMode::VerifyFull, Some(roots)) => {
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            // libpq: with a root certificate file, prefer and require check the chain too.
            (_, Some(roots)) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| ConnectError::Tls(rustls::Error::General(e.to_string())))?,
                )))
                .with_no_client_auth(),
            (_, None) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
                .with_no_client_auth(),
        };
        config.ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        Ok(ConnectTarget {
            config,
            mode,
            tls: MakeRustlsConnect::new(client),
        })
    }

    /// The effective `sslmode` (`disable` for a Unix socket).
    pub fn ssl_mode(&self) -> SslMode {
        self.mode
    }

    /// Opens one connection; the caller drives the returned [`Connection`].
    pub async fn connect(&self) -> Result<(Client, Connection<Socket, TlsStream>), ConnectError> {
        self.config
            .connect(self.tls.clone())
            .await
            .map_err(|source| ConnectError::Connect {
                target: self.describe(),
                mode: self.mode,
                hint: hint(self.mode, &source),
                source,
            })
    }

    /// `host:port` (or socket directory) of every host, for messages.
    fn describe(&self) -> String {
        let ports = self.config.get_ports();
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
                match host {
                    Host::Tcp(name) => format!("{name}:{port}"),
                    Host::Unix(dir) => format!("socket {}/.s.PGSQL.{port}", dir.display()),
                }
            })
            .collect();
        if hosts.is_empty() {
            "localhost:5432".to_owned()
        } else {
            hosts.join(", ")
        }
    }
}

/// What to change when the server refuses a connection because of its encryption, or the
/// server's certificate fails a check.
fn hint(mode: SslMode, error: &tokio_postgres::Error) -> &'static str {
    // PostgreSQL's words for a pg_hba.conf that has only `hostssl` lines for this client.
    let refused_plaintext = error
        .as_db_error()
        .is_some_and(|db| db.message().contains("no encryption"));
    if mode == SslMode::Disable && refused_plaintext {
        return " (the server accepts only TLS connections here: use sslmode=require or \
                stronger)";
    }
    match certificate_error(error) {
        Some(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => {
            " (the certificate is not issued for this host name: connect with a name it \
             names, or use sslmode=verify-ca to check only its issuer)"
        }
        Some(CertificateError::UnknownIssuer | CertificateError::BadSignature) => {
            " (the certificate is not signed by a root in sslrootcert)"
        }
        _ => "",
    }
}

/// The rustls certificate error behind a failed handshake: tokio-postgres wraps it in an
/// `io::Error`, whose `source()` skips the wrapped error, so each cause is unwrapped by hand.
fn certificate_error(error: &tokio_postgres::Error) -> Option<&CertificateError> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        let inner = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map_or(current, |inner| inner as &(dyn std::error::Error + 'static));
        if let Some(rustls::Error::InvalidCertificate(cert)) = inner.downcast_ref::<rustls::Error>()
        {
            return Some(cert);
        }
        cause = current.source();
    }
    None
}

/// `~/.postgresql/root.crt`, libpq's default `sslrootcert`.
fn default_root_cert() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    home.join(".postgresql").join("root.crt")
}

fn file_roots(path: &Path) -> Result<RootCertStore, ConnectError> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|source| ConnectError::RootCert {
            path: path.to_owned(),
            source,
        })?;
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(ConnectError::BadRoots {
            path: path.to_owned(),
            reason: "no usable PEM certificate in the file".to_owned(),
        });
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, ConnectError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(ConnectError::BadRoots {
            path: PathBuf::from("system"),
            reason: format!("no trusted root certificates found ({:?})", found.errors),
        });
    }
    Ok(roots)
}
