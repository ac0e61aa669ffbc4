//! Opening a PostgreSQL connection, over TLS when `DATABASE_URL` asks for it, the way libpq
//! reads the same URL.
//!
//! diesel-async's own `AsyncPgConnection::establish` only speaks plain TCP, so every
//! connection the app makes (the pool, creating the database, the migrations) comes from
//! [`PgConnector::connect`] instead: tokio-postgres with rustls (the `ring` provider), then
//! `AsyncPgConnection::try_from_client_and_connection`.
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | - |
//! | `prefer` (the default) | when the server offers it, else plain | not checked, unless a CA is given (then its chain) |
//! | `require` | always; a server without TLS is refused | not checked, unless a CA is given (then its chain) |
//! | `verify-ca` | always | must chain to the given CA; any host name |
//! | `verify-full` | always | must chain to the CA **and** name the host in the URL |
//!
//! Only `verify-full` stops someone who can redirect the traffic (DNS, a network in the
//! middle) from posing as the database: use it in production. `require` only encrypts.
//!
//! The CA: `sslrootcert=/path` in the URL, else `DATABASE_CA_FILE`, else the Mozilla roots
//! compiled into the binary (webpki-roots), which cover providers whose certificates come
//! from a public CA. `sslrootcert=system` names those roots explicitly and, as in libpq,
//! implies `verify-full` (anything weaker is refused). `verify-ca` needs a CA of its own:
//! with public roots anyone's certificate would chain.
//!
//! Where this differs from libpq: a TLS handshake that fails under `prefer` is an error, not
//! a second try in plain; `sslmode=allow`, client certificates (`sslcert`, `sslkey`) and
//! CRLs are refused at start with a message instead of being half-supported.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use diesel::{ConnectionError, ConnectionResult};
use diesel_async::AsyncPgConnection;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use rustls::{Error as TlsError, SignatureScheme};
use tokio_postgres::config::SslMode as WireSslMode;
use tokio_postgres_rustls::MakeRustlsConnect;
use url::Url;

/// How long we wait for PostgreSQL to accept a new connection (TCP, TLS and login).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// libpq's `sslmode`, the ones this app supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl FromStr for SslMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            "allow" => Err(
                "sslmode=allow is not supported; use disable, prefer, require, verify-ca or verify-full"
                    .to_owned(),
            ),
            other => Err(format!(
                "unknown sslmode {other:?}; use disable, prefer, require, verify-ca or verify-full"
            )),
        }
    }
}

/// A connection setting that cannot be used, naming the variable to fix.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConnectorError {
    pub variable: &'static str,
    pub problem: String,
}

fn url_error(problem: impl Into<String>) -> ConnectorError {
    ConnectorError {
        variable: "DATABASE_URL",
        problem: problem.into(),
    }
}

/// Where the trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CaSource {
    /// `sslrootcert=/path` in the URL.
    UrlFile(PathBuf),
    /// `DATABASE_CA_FILE`.
    SettingFile(PathBuf),
    /// The Mozilla roots compiled in (no CA given, or `sslrootcert=system`).
    BuiltIn,
}

impl CaSource {
    fn variable(&self) -> &'static str {
        match self {
            CaSource::SettingFile(_) => "DATABASE_CA_FILE",
            CaSource::UrlFile(_) | CaSource::BuiltIn => "DATABASE_URL",
        }
    }
}

impl fmt::Display for CaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaSource::UrlFile(path) => write!(f, "sslrootcert {}", path.display()),
            CaSource::SettingFile(path) => write!(f, "DATABASE_CA_FILE {}", path.display()),
            CaSource::BuiltIn => f.write_str("the built-in Mozilla roots"),
        }
    }
}

/// What is checked of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Nothing: encryption only (libpq's `prefer`/`require` without a CA).
    Nothing,
    /// The chain up to a trusted CA, not the host name (`verify-ca`; `require` with a CA).
    Chain,
    /// The chain and the host name (`verify-full`).
    ChainAndHost,
}

/// Everything needed to open a connection to one database: the URL's settings for
/// tokio-postgres (without the TLS parameters handled here), and the TLS policy. Built
/// once at start (it reads the CA file then), cheap to clone.
#[derive(Clone)]
pub struct PgConnector {
    config: tokio_postgres::Config,
    sslmode: SslMode,
    ca: CaSource,
    check: Check,
    /// `None` for `sslmode=disable`.
    tls: Option<MakeRustlsConnect>,
}

impl PgConnector {
    /// Reads `database_url` (a `postgres://` URL) and `ca_file` (`DATABASE_CA_FILE`).
    pub fn new(database_url: &str, ca_file: Option<&Path>) -> Result<PgConnector, ConnectorError> {
        let mut url =
            Url::parse(database_url).map_err(|err| url_error(format!("not a URL ({err})")))?;
        let mut sslmode = None;
        let mut sslrootcert = None;
        // The other parameters exactly as written: re-encoding them (`query_pairs_mut`)
        // would turn `%20` into `+`, which PostgreSQL URLs do not read as a space.
        let mut rest = Vec::new();
        for (key, value, written) in query_parameters(url.query().unwrap_or_default()) {
            match key.as_str() {
                "sslmode" => sslmode = Some(value.parse::<SslMode>().map_err(url_error)?),
                "sslrootcert" => sslrootcert = Some(value),
                // tokio-postgres knows this one (direct TLS, PostgreSQL 17+).
                "sslnegotiation" => rest.push(written),
                other if other.starts_with("ssl") => {
                    return Err(url_error(format!(
                        "{other} is not supported (only sslmode, sslrootcert and sslnegotiation are; no client certificates)"
                    )));
                }
                _ => rest.push(written),
            }
        }
        // tokio-postgres refuses parameters it does not know (sslrootcert, verify-*), so it
        // gets the URL without them; the TLS settings are applied below.
        let rest = rest.join("&");
        url.set_query((!rest.is_empty()).then_some(rest.as_str()));
        let mut config = tokio_postgres::Config::from_str(url.as_str())
            .map_err(|err| url_error(with_causes(&err)))?;

        let system_roots = sslrootcert.as_deref() == Some("system");
        let sslmode = match (sslmode, system_roots) {
            (None, true) => SslMode::VerifyFull,
            (Some(mode), true) if mode != SslMode::VerifyFull => {
                return Err(url_error(format!(
                    "sslrootcert=system needs sslmode=verify-full, not {} (as in libpq: anyone can get a certificate from a public CA for a host they own)",
                    mode.as_str()
                )));
            }
            (Some(mode), _) => mode,
            (None, false) => SslMode::Prefer,
        };
        let ca = match (sslrootcert, ca_file) {
            (Some(system), _) if system == "system" => CaSource::BuiltIn,
            (Some(path), _) => CaSource::UrlFile(PathBuf::from(path)),
            (None, Some(path)) => CaSource::SettingFile(path.to_owned()),
            (None, None) => CaSource::BuiltIn,
        };
        let own_ca = ca != CaSource::BuiltIn;
        let check = match sslmode {
            // As libpq: a CA that was given is used, even by the weaker modes.
            SslMode::Disable | SslMode::Prefer | SslMode::Require if !own_ca => Check::Nothing,
            SslMode::Disable | SslMode::Prefer | SslMode::Require => Check::Chain,
            SslMode::VerifyCa if !own_ca => {
                return Err(url_error(
                    "sslmode=verify-ca needs your provider's CA (sslrootcert=/path or DATABASE_CA_FILE): against public roots any certificate would pass; use verify-full",
                ));
            }
            SslMode::VerifyCa => Check::Chain,
            SslMode::VerifyFull => Check::ChainAndHost,
        };
        config.ssl_mode(match sslmode {
            SslMode::Disable => WireSslMode::Disable,
            SslMode::Prefer => WireSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireSslMode::Require,
        });
        let tls = match sslmode {
            SslMode::Disable => None,
            _ => Some(MakeRustlsConnect::new(client_config(&ca, check)?)),
        };
        Ok(PgConnector {
            config,
            sslmode,
            ca,
            check,
            tls,
        })
    }

    /// The same server and settings, another database (`postgres`, to create ours).
    pub fn for_database(&self, name: &str) -> PgConnector {
        let mut other = self.clone();
        other.config.dbname(name);
        other
    }

    /// The database the URL names.
    pub fn database_name(&self) -> Option<&str> {
        self.config.get_dbname()
    }

    pub fn sslmode(&self) -> SslMode {
        self.sslmode
    }

    /// True when the server must prove it is the host in the URL (`verify-full`).
    pub fn verifies_the_server(&self) -> bool {
        self.check == Check::ChainAndHost
    }

    /// True when every host is this machine (loopback, a Unix socket): nobody in between.
    pub fn is_local(&self) -> bool {
        use tokio_postgres::config::Host;
        let loopback = |name: &str| {
            name.eq_ignore_ascii_case("localhost")
                || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        };
        self.config.get_hosts().iter().all(|host| match host {
            Host::Tcp(name) => loopback(name),
            #[cfg(unix)]
            Host::Unix(_) => true,
        }) && self.config.get_hostaddrs().iter().all(IpAddr::is_loopback)
    }

    /// Opens one connection, with TLS as `sslmode` says, within [`CONNECT_TIMEOUT`].
    /// Every connection the app makes comes from here.
    pub async fn connect(&self) -> ConnectionResult<AsyncPgConnection> {
        let attempt = async {
            match &self.tls {
                None => {
                    let (client, connection) = self
                        .config
                        .connect(tokio_postgres::NoTls)
                        .await
                        .map_err(|err| self.connect_error(&err))?;
                    AsyncPgConnection::try_from_client_and_connection(client, connection).await
                }
                Some(tls) => {
                    let (client, connection) = self
                        .config
                        .connect(tls.clone())
                        .await
                        .map_err(|err| self.connect_error(&err))?;
                    AsyncPgConnection::try_from_client_and_connection(client, connection).await
                }
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, attempt)
            .await
            .map_err(|_| {
                ConnectionError::BadConnection(format!(
                    "timed out after {} s ({self})",
                    CONNECT_TIMEOUT.as_secs()
                ))
            })?
    }

    /// tokio-postgres's error with its causes (never the URL, so never its password), and
    /// the TLS settings in force: "invalid peer certificate: UnknownIssuer" alone does not
    /// say which CA file was used.
    fn connect_error(&self, err: &tokio_postgres::Error) -> ConnectionError {
        ConnectionError::BadConnection(format!("{} ({self})", with_causes(err)))
    }
}

/// A URL's query as libpq reads it: `key=value` pairs split on `&`, each part
/// percent-decoded (`%20` is a space; `+` is a plus, not a space as in HTML forms). Each
/// comes with its text as written, to pass on unchanged.
fn query_parameters(query: &str) -> impl Iterator<Item = (String, String, &str)> {
    let decode = |part: &str| {
        percent_encoding::percent_decode_str(part)
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .split('&')
        .filter(|written| !written.is_empty())
        .map(move |written| {
            let (key, value) = written.split_once('=').unwrap_or((written, ""));
            (decode(key), decode(value), written)
        })
}

/// `err: its cause: the cause's cause`. tokio-postgres's `Display` says only the kind
/// ("error performing TLS handshake", "db error"); the reason is in its source.
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut cause = err.source();
    while let Some(current) = cause {
        let text = current.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = current.source();
    }
    message
}

/// One line for logs and errors: the TLS policy, never the URL.
impl fmt::Display for PgConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sslmode={}", self.sslmode.as_str())?;
        if self.sslmode == SslMode::Prefer {
            f.write_str(", TLS when the server offers it")?;
        }
        match self.check {
            _ if self.tls.is_none() => f.write_str(", no TLS"),
            Check::Nothing => f.write_str(", certificate not checked"),
            Check::Chain => write!(f, ", certificate checked against {}", self.ca),
            Check::ChainAndHost => {
                write!(f, ", certificate and host name checked against {}", self.ca)
            }
        }
    }
}

impl fmt::Debug for PgConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConnector")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .field("tls", &self.to_string())
            .finish()
    }
}

/// rustls settings for `check`, with the `ring` provider (no process-wide default needed).
fn client_config(ca: &CaSource, check: Check) -> Result<ClientConfig, ConnectorError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls_error = |problem: String| ConnectorError {
        variable: ca.variable(),
        problem,
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| tls_error(format!("TLS setup: {err}")))?;
    let mut config = match check {
        Check::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptionOnly {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        Check::Chain => {
            let chain = WebPkiServerVerifier::builder_with_provider(
                Arc::new(root_store(ca)?),
                provider.clone(),
            )
            .build()
            .map_err(|err| tls_error(format!("TLS setup: {err}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(chain)))
                .with_no_client_auth()
        }
        Check::ChainAndHost => builder
            .with_root_certificates(root_store(ca)?)
            .with_no_client_auth(),
    };
    // What libpq 17 sends; needed for sslnegotiation=direct, ignored by older servers.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(config)
}

/// The trusted CAs: the given file's certificates, or the built-in roots.
fn root_store(ca: &CaSource) -> Result<RootCertStore, ConnectorError> {
    let path = match ca {
        CaSource::BuiltIn => {
            return Ok(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            });
        }
        CaSource::UrlFile(path) | CaSource::SettingFile(path) => path,
    };
    let problem = |problem: String| ConnectorError {
        variable: ca.variable(),
        problem,
    };
    let certificates = read_ca_file(path).map_err(problem)?;
    let mut roots = RootCertStore::empty();
    for certificate in certificates {
        roots.add(certificate).map_err(|err| {
            problem(format!(
                "{}: a certificate cannot be used as a CA: {err}",
                path.display()
            ))
        })?;
    }
    Ok(roots)
}

/// `prefer`/`require` without a CA: any certificate is accepted (encryption only, as
/// libpq), but the handshake's signatures are still checked, so the session key belongs to
/// whoever holds the certificate's key.
#[derive(Debug)]
struct EncryptionOnly {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for EncryptionOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `verify-ca`: rustls's verifier, minus the host-name check. rustls checks the chain
/// first and the name last, so a name error means the chain was good.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The certificates of a PEM file of CA certificates (`DATABASE_CA_FILE`, `sslrootcert`):
/// an error, for a person to read, when the file is unreadable, is not PEM or holds no
/// certificate (a private key alone, say).
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = std::fs::read(path)
        .map_err(|err| format!("cannot read the CA file {}: {err}", path.display()))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| format!("{} is not a readable PEM file: {err}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!(
            "{} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(url: &str) -> Result<PgConnector, ConnectorError> {
        PgConnector::new(url, None)
    }

    fn problem(url: &str) -> String {
        match connector(url) {
            Ok(found) => format!("no error: {found}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn only_verify_full_verifies_the_server_and_only_loopback_is_local() {
        let connector = |url: &str| PgConnector::new(url, None).unwrap();
        assert!(connector("postgres://db.example/app?sslmode=verify-full").verifies_the_server());
        for mode in ["disable", "prefer", "require"] {
            let url = format!("postgres://db.example/app?sslmode={mode}");
            assert!(!connector(&url).verifies_the_server(), "{mode}");
        }
        assert!(connector("postgres://127.0.0.1/app").is_local());
        assert!(connector("postgres://localhost/app").is_local());
        assert!(!connector("postgres://db.example/app").is_local());
    }

    #[test]
    fn a_plain_url_prefers_tls_without_checking_the_certificate() {
        let plain = connector("postgres://postgres@127.0.0.1:5432/app").unwrap();
        assert_eq!(plain.sslmode(), SslMode::Prefer);
        assert_eq!(plain.check, Check::Nothing);
        assert!(plain.tls.is_some());
        assert_eq!(plain.config.get_ssl_mode(), WireSslMode::Prefer);
        assert_eq!(plain.database_name(), Some("app"));
        assert_eq!(
            plain.for_database("postgres").database_name(),
            Some("postgres")
        );
        assert_eq!(
            plain.to_string(),
            "sslmode=prefer, TLS when the server offers it, certificate not checked"
        );
        assert!(plain.is_local() && !plain.verifies_the_server());
    }

    #[test]
    fn only_loopback_hosts_are_local() {
        for local in [
            "postgres://u@localhost/app",
            "postgres://u@[::1]/app",
            "postgres://u@localhost/app?host=/var/run/postgresql",
        ] {
            assert!(connector(local).unwrap().is_local(), "{local}");
        }
        for remote in [
            "postgres://u@db.example.com/app",
            "postgres://u@10.0.0.5/app",
            "postgres://u@localhost/app?hostaddr=10.0.0.5",
        ] {
            assert!(!connector(remote).unwrap().is_local(), "{remote}");
        }
    }

    #[test]
    fn each_sslmode_means_what_it_means_in_libpq() {
        let disable = connector("postgres://h/app?sslmode=disable").unwrap();
        assert!(disable.tls.is_none());
        assert_eq!(disable.config.get_ssl_mode(), WireSslMode::Disable);
        let require = connector("postgres://h/app?sslmode=require").unwrap();
        assert_eq!(
            (require.check, require.config.get_ssl_mode()),
            (Check::Nothing, WireSslMode::Require)
        );
        let full = connector("postgres://h/app?sslmode=verify-full").unwrap();
        assert_eq!(
            (full.check, full.config.get_ssl_mode(), full.ca.clone()),
            (Check::ChainAndHost, WireSslMode::Require, CaSource::BuiltIn)
        );
        assert_eq!(
            full.to_string(),
            "sslmode=verify-full, certificate and host name checked against the built-in Mozilla roots"
        );
    }

    #[test]
    fn sslrootcert_is_read_here_and_not_passed_to_tokio_postgres() {
        let ca = rcgen::generate_simple_self_signed(vec!["db.example".to_owned()]).unwrap();
        let path = std::env::temp_dir().join(format!("xwms-tls-unit-{}.pem", std::process::id()));
        std::fs::write(&path, ca.cert.pem()).unwrap();
        let url = format!(
            "postgres://u@db.example/app?sslmode=verify-ca&sslrootcert={}&application_name=x",
            path.display()
        );
        let verify_ca = connector(&url).unwrap();
        assert_eq!(verify_ca.check, Check::Chain);
        assert_eq!(verify_ca.ca, CaSource::UrlFile(path.clone()));
        assert_eq!(verify_ca.config.get_application_name(), Some("x"));
        // libpq: `require` with a CA checks the chain.
        let require = PgConnector::new("postgres://u@h/app?sslmode=require", Some(&path)).unwrap();
        assert_eq!(require.check, Check::Chain);
        assert_eq!(require.ca, CaSource::SettingFile(path.clone()));
        // The URL's CA wins over DATABASE_CA_FILE.
        let both = PgConnector::new(&url, Some(Path::new("/elsewhere.pem"))).unwrap();
        assert_eq!(both.ca, CaSource::UrlFile(path.clone()));
        std::fs::remove_file(&path).unwrap();

        let missing = problem("postgres://h/app?sslmode=verify-full&sslrootcert=/nonexistent.pem");
        assert!(
            missing.starts_with("DATABASE_URL: cannot read the CA file /nonexistent.pem"),
            "{missing}"
        );
        let missing = PgConnector::new("postgres://h/app", Some(Path::new("/nonexistent.pem")))
            .unwrap_err()
            .to_string();
        assert!(missing.starts_with("DATABASE_CA_FILE: "), "{missing}");
    }

    #[test]
    fn query_values_reach_postgresql_as_written_spaces_and_plus_signs_included() {
        let ca = rcgen::generate_simple_self_signed(vec!["db.example".to_owned()]).unwrap();
        let path = std::env::temp_dir().join(format!("xwms-tls-unit-{}+1.pem", std::process::id()));
        std::fs::write(&path, ca.cert.pem()).unwrap();
        let url = format!(
            "postgres://u@h/app?application_name=My%20App&options=-c%20search_path%3Dapp&sslmode=require&sslrootcert={}",
            path.display()
        );

        let found = connector(&url);
        std::fs::remove_file(&path).unwrap();
        let found = found.unwrap();

        assert_eq!(found.config.get_application_name(), Some("My App"));
        assert_eq!(found.config.get_options(), Some("-c search_path=app"));
        // As libpq: `+` is a plus sign in a PostgreSQL URL.
        assert_eq!(found.ca, CaSource::UrlFile(path));
        let plus = connector("postgres://u@h/app?application_name=a+b").unwrap();
        assert_eq!(plus.config.get_application_name(), Some("a+b"));
    }

    #[test]
    fn system_roots_need_verify_full_and_verify_ca_needs_a_ca_of_its_own() {
        let system = connector("postgres://h/app?sslrootcert=system").unwrap();
        assert_eq!(system.sslmode(), SslMode::VerifyFull);
        for weaker in ["require", "verify-ca", "prefer", "disable"] {
            let err = problem(&format!(
                "postgres://h/app?sslrootcert=system&sslmode={weaker}"
            ));
            assert!(err.contains("needs sslmode=verify-full"), "{err}");
        }
        let err = problem("postgres://h/app?sslmode=verify-ca");
        assert!(err.contains("needs your provider's CA"), "{err}");
    }

    #[test]
    fn unsupported_settings_are_refused_by_name() {
        for (url, expected) in [
            (
                "postgres://h/app?sslmode=allow",
                "sslmode=allow is not supported",
            ),
            ("postgres://h/app?sslmode=verify_full", "unknown sslmode"),
            (
                "postgres://h/app?sslcert=/c.pem",
                "sslcert is not supported",
            ),
            ("postgres://h/app?sslkey=/k.pem", "sslkey is not supported"),
            ("postgres://h/app?bogus=1", "unknown option"),
        ] {
            let err = problem(url);
            assert!(err.starts_with("DATABASE_URL: "), "{err}");
            assert!(err.contains(expected), "{url}: {err}");
        }
    }

    #[test]
    fn the_password_is_never_shown() {
        let url = "postgres://app:s3cret-pw@db.example:5432/app?sslmode=require";
        let found = connector(url).unwrap();
        assert!(!format!("{found:?} {found}").contains("s3cret-pw"));
        let err = problem("postgres://app:s3cret-pw@db.example:notaport/app");
        assert!(!err.contains("s3cret-pw"), "{err}");
        let err = problem("postgres://app:s3cret-pw@db.example/app?sslmode=nope");
        assert!(!err.contains("s3cret-pw"), "{err}");
    }
}
