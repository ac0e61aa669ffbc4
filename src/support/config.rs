//! Typed settings, layered: `config/default.toml` -> `config/{APP_ENV}.toml` -> environment.
//!
//! The TOML layers are compiled into the binary (a container needs nothing but its
//! environment). Environment variables are applied by hand from one table, so that
//! both spellings XWMS's material uses work, and so that a bad value stops the start
//! with one line naming the variable, not a config-key path.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use actix_web::cookie::Key;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use pg_connect::read_ca_file;

use crate::support::urls::absolute_http_url;

/// Where the app runs. Development relaxes what production insists on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

impl AppEnv {
    pub fn as_str(self) -> &'static str {
        match self {
            AppEnv::Development => "development",
            AppEnv::Production => "production",
        }
    }
}

impl std::str::FromStr for AppEnv {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "development" | "dev" | "local" => Ok(AppEnv::Development),
            "production" | "prod" => Ok(AppEnv::Production),
            other => Err(format!(
                "unknown value {other:?}; use development or production"
            )),
        }
    }
}

/// A start-up configuration problem, always naming the variable to fix.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

/// The whole configuration of one running app.
#[derive(Debug, Clone)]
pub struct Settings {
    pub env: AppEnv,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub xwms: XwmsSettings,
    pub session: SessionSettings,
    pub security: SecuritySettings,
    pub metrics: MetricsSettings,
    pub notes: NotesSettings,
}

/// The notes page (`routes::notes`, the worked example of docs/extending.md).
#[derive(Debug, Clone)]
pub struct NotesSettings {
    /// How many of a user's newest notes `/notes` lists.
    pub per_page: u32,
}

#[derive(Debug, Clone)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// When set, `/metrics` is served only with `Authorization: Bearer <token>`.
    pub token: Option<SecretString>,
}

#[derive(Debug, Clone)]
pub struct SecuritySettings {
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    /// Proxies whose `X-Forwarded-For` is believed: addresses or CIDR ranges; empty
    /// means none.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long the activity log keeps events of existing users...
    pub activity_retention: Duration,
    /// ...and events of nobody: refused logins, and events of deleted users.
    pub anonymous_activity_retention: Duration,
    /// `HSTS_INCLUDE_SUBDOMAINS`: HSTS (sent in production behind https) covers every
    /// subdomain too. Off by default: it would force https on sibling sites of the
    /// domain that this app knows nothing about.
    pub hsts_include_subdomains: bool,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// 0 means one worker per CPU core.
    pub workers: usize,
    /// `REDIRECT_TO_PUBLIC_ORIGIN`: requests on another host than the callback URL's are
    /// redirected there (`public_origin`).
    pub redirect_to_public_origin: bool,
}

#[derive(Clone)]
pub struct DatabaseSettings {
    /// May carry a password, so it is treated as a secret.
    pub url: SecretString,
    pub max_connections: usize,
    pub acquire_timeout: Duration,
    pub statement_timeout: Duration,
    pub create_if_missing: bool,
    /// True when `DATABASE_URL` was set; false means the built-in default, which in
    /// development may be replaced by a private server (crates/dev-postgres).
    pub url_is_set: bool,
    /// `DATABASE_CA_FILE`: the PEM certificates that PostgreSQL's TLS certificate must
    /// chain to (checked readable and non-empty at load). `None`: the built-in Mozilla
    /// roots. An `sslrootcert` in `DATABASE_URL` takes precedence (see `db::tls`).
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url_password(self.url.expose_secret()))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("create_if_missing", &self.create_if_missing)
            .field("url_is_set", &self.url_is_set)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// The credentials XWMS issues for a registered domain.
#[derive(Debug, Clone)]
pub struct XwmsCredentials {
    pub client_id: String,
    /// `SecretString` prints as `[REDACTED]`, so `Debug` of the settings is safe to log.
    pub client_secret: SecretString,
    pub client_domain: String,
}

/// How the callback token is tied to the browser session that started the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginBinding {
    /// The callback token must be the token `sign-token` issued to this session.
    Token,
    /// Any pending login in this session is enough (for a provider whose callback
    /// token differs from the one `sign-token` returned).
    Session,
}

#[derive(Debug, Clone)]
pub struct XwmsSettings {
    pub api_url: Url,
    /// `None` means: no real XWMS configured, use the sandbox (if allowed).
    pub credentials: Option<XwmsCredentials>,
    /// `None` means `http://localhost:{port}/xwms/validateToken`, filled in once the
    /// port is known (see `startup`).
    pub redirect_uri: Option<Url>,
    pub timeout: Duration,
    pub login_binding: LoginBinding,
    pub login_max_age: Duration,
    pub sandbox_allowed: bool,
    /// The secret the sandbox expects; random at each start when unset. Set it to run a
    /// sandbox as a separate provider process (the benchmark does).
    pub sandbox_client_secret: Option<SecretString>,
}

impl XwmsSettings {
    /// True when the built-in stand-in for XWMS serves the logins.
    pub fn uses_sandbox(&self) -> bool {
        self.credentials.is_none()
    }
}

#[derive(Clone)]
pub struct SessionSettings {
    /// `None` in development: a random key is generated at start (sessions end on restart).
    pub key: Option<Key>,
    /// The key was given as printable text, not base64 of random bytes: a passphrase
    /// (refused in production, warned about in development).
    pub key_is_text: bool,
    pub cookie_secure: bool,
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
}

impl fmt::Debug for SessionSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionSettings")
            .field("key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .field("key_is_text", &self.key_is_text)
            .field("cookie_secure", &self.cookie_secure)
            .field("idle_timeout", &self.idle_timeout)
            .field("absolute_timeout", &self.absolute_timeout)
            .finish()
    }
}

/// The TOML layers, as written in `config/*.toml`.
#[derive(Debug, Deserialize)]
struct FileSettings {
    server: FileServer,
    database: FileDatabase,
    xwms: FileXwms,
    session: FileSession,
    security: FileSecurity,
    metrics: FileMetrics,
    notes: FileNotes,
}

#[derive(Debug, Deserialize)]
struct FileNotes {
    per_page: u32,
}

#[derive(Debug, Deserialize)]
struct FileMetrics {
    enabled: bool,
}

#[derive(Debug, Deserialize)]
struct FileSecurity {
    rate_limit_per_minute: u32,
    rate_limit_burst: u32,
    trusted_proxies: String,
    activity_retention_days: u64,
    anonymous_activity_retention_days: u64,
    hsts_include_subdomains: bool,
}

#[derive(Debug, Deserialize)]
struct FileServer {
    host: String,
    port: u16,
    workers: usize,
    redirect_to_public_origin: bool,
}

#[derive(Debug, Deserialize)]
struct FileDatabase {
    url: String,
    max_connections: usize,
    acquire_timeout_ms: u64,
    statement_timeout_ms: u64,
    create_if_missing: bool,
}

#[derive(Debug, Deserialize)]
struct FileXwms {
    api_url: String,
    timeout_ms: u64,
    login_binding: String,
    login_max_age_secs: u64,
    sandbox: bool,
}

#[derive(Debug, Deserialize)]
struct FileSession {
    cookie_secure: bool,
    idle_timeout_secs: u64,
    absolute_timeout_secs: u64,
}

const DEFAULT_TOML: &str = include_str!("../../config/default.toml");
const DEVELOPMENT_TOML: &str = include_str!("../../config/development.toml");
const PRODUCTION_TOML: &str = include_str!("../../config/production.toml");

fn days(count: u64) -> Duration {
    Duration::from_secs(count.saturating_mul(24 * 60 * 60))
}

/// The shortest idle limit accepted (see `session::idle_refresh_after_secs`).
pub const MIN_IDLE_TIMEOUT_SECS: u64 = 2;

/// The most notes one page may list (`NOTES_PER_PAGE`): the page is one query and one
/// render, so keep it small.
pub const MAX_NOTES_PER_PAGE: u32 = 500;

/// Session keys shorter than this are refused: actix signs and encrypts with 64 bytes.
pub const SESSION_KEY_MIN_BYTES: usize = 64;

/// The path the app serves the XWMS callback at (`routes::auth`): `XWMS_REDIRECT_URI`
/// must end with it.
pub const CALLBACK_PATH: &str = "/xwms/validateToken";

/// The callback without `XWMS_REDIRECT_URI`: XWMS's documented example, on whatever port
/// the app got.
pub fn default_redirect_uri(port: u16) -> Result<Url, url::ParseError> {
    Url::parse(&format!("http://localhost:{port}{CALLBACK_PATH}"))
}

impl Settings {
    /// Reads `APP_ENV` and the rest of the process environment.
    pub fn load() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds settings from the TOML layers and a variable lookup. Tests pass a map here
    /// instead of touching the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        // An empty variable counts as unset: `.env.example` is copied with blanks.
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let first_of = |names: &[&'static str]| {
            names
                .iter()
                .find_map(|name| var(name).map(|value| (*name, value)))
        };

        let env: AppEnv = match var("APP_ENV") {
            Some(value) => value
                .parse()
                .map_err(|problem| ConfigError::new("APP_ENV", problem))?,
            None => AppEnv::Development,
        };
        let env_toml = match env {
            AppEnv::Development => DEVELOPMENT_TOML,
            AppEnv::Production => PRODUCTION_TOML,
        };
        let file: FileSettings = config::Config::builder()
            .add_source(config::File::from_str(
                DEFAULT_TOML,
                config::FileFormat::Toml,
            ))
            .add_source(config::File::from_str(env_toml, config::FileFormat::Toml))
            .build()
            .and_then(|layers| layers.try_deserialize())
            .map_err(|err| ConfigError::new("config/*.toml", err.to_string()))?;

        let parse_number = |name: &'static str, fallback: u64| -> Result<u64, ConfigError> {
            match var(name) {
                Some(value) => value.trim().parse().map_err(|_| {
                    ConfigError::new(name, format!("{value:?} is not a whole number"))
                }),
                None => Ok(fallback),
            }
        };
        // Durations and limits where 0 would mean "never works" (or, for PostgreSQL's
        // statement_timeout, "no limit at all").
        let parse_positive = |name: &'static str, fallback: u64| -> Result<u64, ConfigError> {
            match parse_number(name, fallback)? {
                0 => Err(ConfigError::new(name, "must be above 0")),
                value => Ok(value),
            }
        };
        let parse_bool = |name: &'static str, fallback: bool| -> Result<bool, ConfigError> {
            match var(name) {
                Some(value) => match value.trim().to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" => Ok(true),
                    "0" | "false" | "no" | "off" => Ok(false),
                    _ => Err(ConfigError::new(
                        name,
                        format!("{value:?} is not true or false"),
                    )),
                },
                None => Ok(fallback),
            }
        };

        // Server
        let host = var("HOST").unwrap_or(file.server.host);
        // `::` and `[::]` both mean "every address, IPv6 and (dual-stack) IPv4": an IPv6
        // address is kept in brackets, so `{host}:{port}` is a socket address either way.
        let host = match host.trim().parse::<std::net::Ipv6Addr>() {
            Ok(v6) => format!("[{v6}]"),
            Err(_) => host,
        };
        let port = u16::try_from(parse_number("PORT", file.server.port.into())?)
            .map_err(|_| ConfigError::new("PORT", "must be between 0 and 65535"))?;
        let workers = parse_number("WORKERS", file.server.workers as u64)? as usize;
        let redirect_to_public_origin = parse_bool(
            "REDIRECT_TO_PUBLIC_ORIGIN",
            file.server.redirect_to_public_origin,
        )?;
        format!("{host}:{port}")
            .parse::<SocketAddr>()
            .or_else(|_| {
                // A host name such as `localhost` is fine too; only reject garbage.
                if host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
                {
                    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
                } else {
                    Err(ConfigError::new(
                        "HOST",
                        format!("{host:?} is not a host name or IP address"),
                    ))
                }
            })?;

        // Database
        let url_is_set = var("DATABASE_URL").is_some();
        let database_url = var("DATABASE_URL").unwrap_or(file.database.url);
        let parsed = Url::parse(&database_url)
            .map_err(|err| ConfigError::new("DATABASE_URL", format!("not a URL ({err})")))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "must start with postgres:// or postgresql://",
            ));
        }
        if parsed.path().trim_start_matches('/').is_empty() {
            return Err(ConfigError::new("DATABASE_URL", "names no database"));
        }
        let max_connections = parse_number(
            "DATABASE_MAX_CONNECTIONS",
            file.database.max_connections as u64,
        )? as usize;
        if max_connections == 0 {
            return Err(ConfigError::new(
                "DATABASE_MAX_CONNECTIONS",
                "must be at least 1",
            ));
        }
        let database = DatabaseSettings {
            url: SecretString::from(database_url),
            max_connections,
            acquire_timeout: Duration::from_millis(parse_positive(
                "DATABASE_ACQUIRE_TIMEOUT_MS",
                file.database.acquire_timeout_ms,
            )?),
            statement_timeout: Duration::from_millis(parse_positive(
                "DATABASE_STATEMENT_TIMEOUT_MS",
                file.database.statement_timeout_ms,
            )?),
            create_if_missing: parse_bool(
                "DATABASE_CREATE_IF_MISSING",
                file.database.create_if_missing,
            )?,
            url_is_set,
            ca_file: match var("DATABASE_CA_FILE") {
                Some(path) => {
                    let path = PathBuf::from(path.trim());
                    read_ca_file(&path)
                        .map_err(|problem| ConfigError::new("DATABASE_CA_FILE", problem))?;
                    Some(path)
                }
                None => None,
            },
        };

        // XWMS
        let (api_url_name, api_url) = first_of(&["XWMS_API_URL", "XWMS_API_URI"])
            .unwrap_or(("XWMS_API_URL", file.xwms.api_url));
        let api_url = parse_base_url(api_url_name, &api_url)?;
        let client_id = first_of(&["XWMS_CLIENT_ID"]);
        let client_secret = first_of(&["XWMS_CLIENT_SECRET"]);
        let client_domain = first_of(&["XWMS_CLIENT_DOMAIN", "XWMS_DOMAIN"]);
        let credentials = match (client_id, client_secret, client_domain) {
            (None, None, None) => None,
            (Some((_, id)), Some((_, secret)), Some((_, domain))) => Some(XwmsCredentials {
                client_id: id.trim().to_owned(),
                client_secret: SecretString::from(secret.trim().to_owned()),
                client_domain: domain.trim().to_owned(),
            }),
            (id, secret, _) => {
                let missing = if id.is_none() {
                    "XWMS_CLIENT_ID"
                } else if secret.is_none() {
                    "XWMS_CLIENT_SECRET"
                } else {
                    "XWMS_CLIENT_DOMAIN"
                };
                return Err(ConfigError::new(
                    missing,
                    "missing; XWMS_CLIENT_ID, XWMS_CLIENT_SECRET and XWMS_CLIENT_DOMAIN go together",
                ));
            }
        };
        let redirect_uri = match var("XWMS_REDIRECT_URI") {
            Some(value) => Some(absolute_http_url(&value).ok_or_else(|| {
                ConfigError::new(
                    "XWMS_REDIRECT_URI",
                    "must be an absolute http:// or https:// URL",
                )
            })?),
            None => None,
        };
        if let Some(uri) = &redirect_uri
            && !uri.path().ends_with(CALLBACK_PATH)
        {
            // XWMS would send every login to a page this app does not serve. A prefix
            // before it is allowed: a proxy may mount the app under a path of its own.
            return Err(ConfigError::new(
                "XWMS_REDIRECT_URI",
                format!(
                    "its path {:?} is not the callback route {CALLBACK_PATH} (a prefix a proxy strips is fine: /app{CALLBACK_PATH})",
                    uri.path()
                ),
            ));
        }
        let login_binding = match var("XWMS_LOGIN_BINDING")
            .unwrap_or(file.xwms.login_binding)
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "token" => LoginBinding::Token,
            "session" => LoginBinding::Session,
            other => {
                return Err(ConfigError::new(
                    "XWMS_LOGIN_BINDING",
                    format!("{other:?}: use token or session"),
                ));
            }
        };
        if env == AppEnv::Production {
            // Over plain http the client secret (to XWMS) and the login token (back from
            // it) would cross the network readable by anyone on the way.
            require_https_unless_loopback(api_url_name, &api_url)?;
            if let Some(uri) = &redirect_uri {
                require_https_unless_loopback("XWMS_REDIRECT_URI", uri)?;
            }
        }
        if env == AppEnv::Production && credentials.is_some() && redirect_uri.is_none() {
            return Err(ConfigError::new(
                "XWMS_REDIRECT_URI",
                "missing; production with real XWMS needs the public callback URL registered at XWMS",
            ));
        }
        if let Some(credentials) = &credentials {
            // They travel as HTTP headers: find a stray newline now, not at the first login.
            let header_safe = |value: &str| {
                value
                    .bytes()
                    .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
            };
            for (name, value) in [
                ("XWMS_CLIENT_ID", credentials.client_id.as_str()),
                (
                    "XWMS_CLIENT_SECRET",
                    credentials.client_secret.expose_secret(),
                ),
                ("XWMS_CLIENT_DOMAIN", credentials.client_domain.as_str()),
            ] {
                if !header_safe(value) {
                    return Err(ConfigError::new(
                        name,
                        "contains characters not allowed in an HTTP header",
                    ));
                }
            }
        }
        let sandbox_allowed = parse_bool("XWMS_SANDBOX", file.xwms.sandbox)?;
        if credentials.is_none() && !sandbox_allowed {
            return Err(ConfigError::new(
                "XWMS_CLIENT_ID",
                match env {
                    AppEnv::Production => {
                        "missing; production needs real XWMS credentials (or XWMS_SANDBOX=true for a demo)"
                    }
                    AppEnv::Development => "missing, and XWMS_SANDBOX=false turns the sandbox off",
                },
            ));
        }
        let timeout = Duration::from_millis(parse_number("XWMS_TIMEOUT_MS", file.xwms.timeout_ms)?);
        if timeout.is_zero() {
            return Err(ConfigError::new("XWMS_TIMEOUT_MS", "must be above 0"));
        }
        let xwms = XwmsSettings {
            api_url,
            credentials,
            redirect_uri,
            timeout,
            login_binding,
            login_max_age: Duration::from_secs(parse_positive(
                "XWMS_LOGIN_MAX_AGE_SECS",
                file.xwms.login_max_age_secs,
            )?),
            sandbox_allowed,
            sandbox_client_secret: var("XWMS_SANDBOX_CLIENT_SECRET")
                .map(|secret| SecretString::from(secret.trim().to_owned())),
        };

        // Session
        let key = match var("SESSION_KEY") {
            Some(value) => Some(parse_session_key(&value, env)?),
            // A demo (sandbox) in production may run with a generated key; real logins may not.
            None if env == AppEnv::Production && !xwms.uses_sandbox() => {
                return Err(ConfigError::new(
                    "SESSION_KEY",
                    "missing; production needs a key of at least 64 bytes (make one with: xwms-starter new-session-key)",
                ));
            }
            None => None,
        };
        // Secure cookies only travel over https: with an http callback (a local demo) the
        // pending-login cookie would never come back, so the default follows the scheme.
        let callback_is_https = xwms
            .redirect_uri
            .as_ref()
            .is_some_and(|uri| uri.scheme() == "https");
        let cookie_secure = parse_bool(
            "SESSION_COOKIE_SECURE",
            file.session.cookie_secure && (env == AppEnv::Development || callback_is_https),
        )?;
        if env == AppEnv::Production && !cookie_secure && callback_is_https {
            // The session cookie would also travel over plain http, readable on the way,
            // whenever something sends the browser to an http:// address of this site.
            return Err(ConfigError::new(
                "SESSION_COOKIE_SECURE",
                "false, but the callback (XWMS_REDIRECT_URI) is https: production behind https needs Secure cookies; leave SESSION_COOKIE_SECURE unset",
            ));
        }
        if cookie_secure && !callback_is_https {
            return Err(ConfigError::new(
                "SESSION_COOKIE_SECURE",
                "true, but the callback (XWMS_REDIRECT_URI) is not https: the browser would never send the login cookie back; set an https XWMS_REDIRECT_URI or SESSION_COOKIE_SECURE=false",
            ));
        }
        let idle_timeout_secs =
            parse_positive("SESSION_IDLE_TIMEOUT_SECS", file.session.idle_timeout_secs)?;
        if idle_timeout_secs < MIN_IDLE_TIMEOUT_SECS {
            // Stamps are whole seconds: a 1 s limit would end sessions in use.
            return Err(ConfigError::new(
                "SESSION_IDLE_TIMEOUT_SECS",
                format!("must be at least {MIN_IDLE_TIMEOUT_SECS}"),
            ));
        }
        let key_is_text = key.as_ref().is_some_and(|(_, is_text)| *is_text);
        let session = SessionSettings {
            key: key.map(|(key, _)| key),
            key_is_text,
            cookie_secure,
            idle_timeout: Duration::from_secs(idle_timeout_secs),
            absolute_timeout: Duration::from_secs(parse_positive(
                "SESSION_ABSOLUTE_TIMEOUT_SECS",
                file.session.absolute_timeout_secs,
            )?),
        };

        // Security
        let per_minute = |name: &'static str, fallback: u32| -> Result<u32, ConfigError> {
            let value = parse_number(name, fallback.into())?;
            u32::try_from(value)
                .ok()
                .filter(|value| *value > 0)
                .ok_or_else(|| ConfigError::new(name, "must be between 1 and 4294967295"))
        };
        let trusted_proxies = var("TRUSTED_PROXIES")
            .unwrap_or(file.security.trusted_proxies)
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map(canonical_range)
                    .map_err(|_| {
                        ConfigError::new(
                            "TRUSTED_PROXIES",
                            format!("{entry:?} is not an IP address or CIDR range"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if env == AppEnv::Production
            && let Some(everything) = trusted_proxies.iter().find(|range| range.prefix_len() == 0)
        {
            // Every client would be a trusted proxy: anyone could pick the address the rate
            // limit and the activity log see by sending X-Forwarded-For.
            return Err(ConfigError::new(
                "TRUSTED_PROXIES",
                format!(
                    "{everything} trusts every address; name your proxies' addresses or ranges"
                ),
            ));
        }
        let security = SecuritySettings {
            rate_limit_per_minute: per_minute(
                "RATE_LIMIT_PER_MINUTE",
                file.security.rate_limit_per_minute,
            )?,
            rate_limit_burst: per_minute("RATE_LIMIT_BURST", file.security.rate_limit_burst)?,
            trusted_proxies,
            activity_retention: days(parse_positive(
                "ACTIVITY_RETENTION_DAYS",
                file.security.activity_retention_days,
            )?),
            anonymous_activity_retention: days(parse_positive(
                "ANONYMOUS_ACTIVITY_RETENTION_DAYS",
                file.security.anonymous_activity_retention_days,
            )?),
            hsts_include_subdomains: parse_bool(
                "HSTS_INCLUDE_SUBDOMAINS",
                file.security.hsts_include_subdomains,
            )?,
        };

        let metrics = MetricsSettings {
            enabled: parse_bool("METRICS_ENABLED", file.metrics.enabled)?,
            token: var("METRICS_TOKEN").map(|token| SecretString::from(token.trim().to_owned())),
        };

        // Notes
        let notes = NotesSettings {
            per_page: u32::try_from(parse_number("NOTES_PER_PAGE", file.notes.per_page.into())?)
                .ok()
                .filter(|per_page| (1..=MAX_NOTES_PER_PAGE).contains(per_page))
                .ok_or_else(|| {
                    ConfigError::new(
                        "NOTES_PER_PAGE",
                        format!("must be between 1 and {MAX_NOTES_PER_PAGE}"),
                    )
                })?,
        };

        Ok(Settings {
            env,
            server: ServerSettings {
                host,
                port,
                workers,
                redirect_to_public_origin,
            },
            database,
            xwms,
            session,
            security,
            metrics,
            notes,
        })
    }
}

/// A range of IPv4-mapped IPv6 addresses (`::ffff:10.0.0.0/104`) as the IPv4 range it
/// stands for: client addresses are compared in canonical form (`client_info`), so a
/// mapped range would otherwise never match.
fn canonical_range(net: ipnet::IpNet) -> ipnet::IpNet {
    match net {
        ipnet::IpNet::V6(v6) if v6.prefix_len() >= 96 => v6
            .addr()
            .to_ipv4_mapped()
            .and_then(|v4| ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).ok())
            .map_or(net, ipnet::IpNet::V4),
        net => net,
    }
}

impl Settings {
    /// What is allowed but probably a mistake, for the log at start (one line each,
    /// naming the variable). Production refuses most of these outright (`from_lookup`);
    /// development only warns, as a local setup may have its reasons.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let callback = self.xwms.redirect_uri.as_ref();
        let callback_is_https = callback.is_some_and(|uri| uri.scheme() == "https");
        if self.env != AppEnv::Production && callback_is_https {
            warnings.push(format!(
                "APP_ENV: not production, but the callback ({}) is https: this looks like a deployment running with development settings (sandbox allowed, cookies as in development); set APP_ENV=production",
                callback.map(Url::as_str).unwrap_or_default()
            ));
        }
        if !self.session.cookie_secure && callback_is_https {
            warnings.push(
                "SESSION_COOKIE_SECURE: false behind an https callback: the session cookie may also travel over plain http".to_owned(),
            );
        }
        if let Some(everything) = self
            .security
            .trusted_proxies
            .iter()
            .find(|range| range.prefix_len() == 0)
        {
            warnings.push(format!(
                "TRUSTED_PROXIES: {everything} trusts every address, so any client chooses the address the rate limit and the activity log see"
            ));
        }
        if self.session.key_is_text {
            warnings.push(
                "SESSION_KEY: only printable characters, used as raw bytes: a passphrase has far less than 64 bytes of randomness; make a key with: xwms-starter new-session-key".to_owned(),
            );
        }
        if let Some(uri) = callback
            && uri.path() != CALLBACK_PATH
        {
            warnings.push(format!(
                "XWMS_REDIRECT_URI: its path {} has a prefix before {CALLBACK_PATH}: a proxy must strip it before the request reaches this app",
                uri.path()
            ));
        }
        warnings
    }
}

/// Parses the XWMS base URL and makes sure it ends in `/`, so that
/// `join("sign-token")` keeps the `/api` segment.
pub fn parse_base_url(variable: &'static str, value: &str) -> Result<Url, ConfigError> {
    let mut url = absolute_http_url(value)
        .ok_or_else(|| ConfigError::new(variable, "must be an absolute http:// or https:// URL"))?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// Production talks to XWMS and receives its callback over https only; a loopback
/// address (a local demo, a sidecar) is the one exception.
fn require_https_unless_loopback(variable: &'static str, url: &Url) -> Result<(), ConfigError> {
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if url.scheme() == "https" || loopback {
        Ok(())
    } else {
        Err(ConfigError::new(
            variable,
            format!("must be https in production (or on a loopback address), not {url}"),
        ))
    }
}

/// A new random `SESSION_KEY`: 64 random bytes as base64 on one line (what
/// `xwms-starter new-session-key` prints).
pub fn new_session_key() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(Key::generate().master())
}

/// Accepts the key as base64 (what `xwms-starter new-session-key` prints) or as raw
/// text; returns it, and whether it was text. In production a key whose bytes are all
/// printable characters is refused: that is a passphrase or a demo value, not 64 random
/// bytes (base64 of random bytes decodes to bytes that are almost never all printable).
fn parse_session_key(value: &str, env: AppEnv) -> Result<(Key, bool), ConfigError> {
    use base64::Engine as _;
    let value = value.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()
        .filter(|decoded| decoded.len() >= SESSION_KEY_MIN_BYTES)
        .unwrap_or_else(|| value.as_bytes().to_vec());
    if bytes.len() < SESSION_KEY_MIN_BYTES {
        return Err(ConfigError::new(
            "SESSION_KEY",
            format!(
                "too short: {} bytes, at least {SESSION_KEY_MIN_BYTES} needed (make one with: xwms-starter new-session-key)",
                bytes.len()
            ),
        ));
    }
    let is_text = bytes.iter().all(|b| (b' '..=b'~').contains(b));
    if is_text && env == AppEnv::Production {
        return Err(ConfigError::new(
            "SESSION_KEY",
            "only printable characters: a passphrase, not a key; production needs 64 random bytes as base64 (make one with: xwms-starter new-session-key)",
        ));
    }
    let key = Key::try_from(bytes.as_slice())
        .map_err(|_| ConfigError::new("SESSION_KEY", "could not be used as a key"))?;
    Ok((key, is_text))
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`, for logs.
pub fn redact_url_password(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "[unparseable URL]".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings_from(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(move |name| vars.get(name).cloned())
    }

    /// Whether the start-up warnings name `variable`.
    fn warns_about(settings: &Settings, variable: &str) -> bool {
        settings
            .warnings()
            .iter()
            .any(|warning| warning.starts_with(&format!("{variable}:")))
    }

    fn error_variable(pairs: &[(&str, &str)]) -> &'static str {
        match settings_from(pairs) {
            Err(err) => err.variable,
            Ok(_) => "no error",
        }
    }

    const LONG_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123";
    /// 64 bytes (0 to 63) as base64: a key as `new-session-key` makes one, not text.
    const RANDOM_KEY: &str =
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==";

    #[test]
    fn development_without_credentials_uses_the_sandbox() {
        let settings = settings_from(&[]).unwrap();
        assert_eq!(settings.env, AppEnv::Development);
        assert!(settings.xwms.uses_sandbox());
        assert_eq!(settings.server.port, 3000);
        assert!(!settings.session.cookie_secure);
        assert!(settings.database.create_if_missing);
    }

    #[test]
    fn both_spellings_of_the_xwms_variables_are_accepted() {
        let settings = settings_from(&[
            ("XWMS_CLIENT_ID", "id"),
            ("XWMS_CLIENT_SECRET", "secret"),
            ("XWMS_DOMAIN", "example.com"),
            ("XWMS_API_URI", "https://xwms.example/api"),
        ])
        .unwrap();
        let credentials = settings.xwms.credentials.unwrap();
        assert_eq!(credentials.client_domain, "example.com");
        assert_eq!(settings.xwms.api_url.as_str(), "https://xwms.example/api/");
    }

    #[test]
    fn the_api_url_gets_its_trailing_slash_so_joins_keep_the_api_segment() {
        let url = parse_base_url("XWMS_API_URL", "https://xwms.nl/api").unwrap();
        assert_eq!(
            url.join("sign-token").unwrap().as_str(),
            "https://xwms.nl/api/sign-token"
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        assert_eq!(error_variable(&[("PORT", "abc")]), "PORT");
        assert_eq!(error_variable(&[("PORT", "70000")]), "PORT");
        assert_eq!(error_variable(&[("APP_ENV", "staging")]), "APP_ENV");
        assert_eq!(
            error_variable(&[("DATABASE_URL", "mysql://x/y")]),
            "DATABASE_URL"
        );
        assert_eq!(
            error_variable(&[("XWMS_API_URL", "not a url")]),
            "XWMS_API_URL"
        );
        assert_eq!(
            error_variable(&[("XWMS_REDIRECT_URI", "ftp://x/cb")]),
            "XWMS_REDIRECT_URI"
        );
        assert_eq!(
            error_variable(&[("XWMS_LOGIN_BINDING", "email")]),
            "XWMS_LOGIN_BINDING"
        );
        assert_eq!(error_variable(&[("SESSION_KEY", "short")]), "SESSION_KEY");
        assert_eq!(error_variable(&[("XWMS_SANDBOX", "maybe")]), "XWMS_SANDBOX");
        assert_eq!(
            error_variable(&[("TRUSTED_PROXIES", "10.0.0.1, proxy")]),
            "TRUSTED_PROXIES"
        );
        assert_eq!(
            error_variable(&[("RATE_LIMIT_BURST", "0")]),
            "RATE_LIMIT_BURST"
        );
    }

    #[test]
    fn partial_credentials_name_the_missing_one() {
        assert_eq!(
            error_variable(&[
                ("XWMS_CLIENT_ID", "id"),
                ("XWMS_CLIENT_DOMAIN", "example.com")
            ]),
            "XWMS_CLIENT_SECRET"
        );
    }

    #[test]
    fn production_refuses_the_sandbox_unless_explicitly_enabled() {
        assert_eq!(
            error_variable(&[("APP_ENV", "production")]),
            "XWMS_CLIENT_ID"
        );
        let demo = settings_from(&[("APP_ENV", "production"), ("XWMS_SANDBOX", "true")]).unwrap();
        assert!(demo.xwms.uses_sandbox());
        assert!(
            !demo.session.cookie_secure,
            "http://localhost demo: no Secure cookie"
        );
    }

    #[test]
    fn production_with_real_credentials_needs_a_session_key() {
        let real = [
            ("APP_ENV", "production"),
            ("XWMS_CLIENT_ID", "id"),
            ("XWMS_CLIENT_SECRET", "secret"),
            ("XWMS_CLIENT_DOMAIN", "example.com"),
        ];
        assert_eq!(error_variable(&real), "XWMS_REDIRECT_URI");
        let mut with_callback = real.to_vec();
        with_callback.push((
            "XWMS_REDIRECT_URI",
            "https://app.example.com/xwms/validateToken",
        ));
        assert_eq!(error_variable(&with_callback), "SESSION_KEY");
        with_callback.push(("SESSION_KEY", RANDOM_KEY));
        let settings = settings_from(&with_callback).unwrap();
        assert!(settings.session.key.is_some());
        assert!(
            settings.session.cookie_secure,
            "https callback: Secure cookie"
        );
    }

    const REAL: [(&str, &str); 5] = [
        ("APP_ENV", "production"),
        ("XWMS_CLIENT_ID", "id"),
        ("XWMS_CLIENT_SECRET", "secret"),
        ("XWMS_CLIENT_DOMAIN", "example.com"),
        ("SESSION_KEY", RANDOM_KEY),
    ];

    fn production_with(extra: &[(&'static str, &'static str)]) -> &'static str {
        let mut pairs = REAL.to_vec();
        pairs.extend_from_slice(extra);
        error_variable(&pairs)
    }

    #[test]
    fn production_needs_https_to_xwms_and_for_the_callback_loopback_excepted() {
        let https_callback = (
            "XWMS_REDIRECT_URI",
            "https://app.example.com/xwms/validateToken",
        );
        assert_eq!(production_with(&[https_callback]), "no error");
        assert_eq!(
            production_with(&[https_callback, ("XWMS_API_URL", "http://xwms.example/api/")]),
            "XWMS_API_URL"
        );
        assert_eq!(
            production_with(&[https_callback, ("XWMS_API_URI", "http://xwms.example/api/")]),
            "XWMS_API_URI"
        );
        assert_eq!(
            production_with(&[(
                "XWMS_REDIRECT_URI",
                "http://app.example.com/xwms/validateToken"
            )]),
            "XWMS_REDIRECT_URI"
        );
        for loopback in [
            "http://localhost:3000/xwms/validateToken",
            "http://127.0.0.1:3000/xwms/validateToken",
            "http://[::1]:3000/xwms/validateToken",
        ] {
            assert_eq!(
                production_with(&[
                    ("XWMS_REDIRECT_URI", loopback),
                    ("XWMS_API_URL", "http://127.0.0.1:8081/api/")
                ]),
                "no error",
                "{loopback}"
            );
        }
        // Development may use plain http anywhere.
        assert!(settings_from(&[("XWMS_API_URL", "http://xwms.test/api/")]).is_ok());
    }

    #[test]
    fn secure_cookies_with_an_http_callback_are_refused_at_start() {
        assert_eq!(
            error_variable(&[("SESSION_COOKIE_SECURE", "true")]),
            "SESSION_COOKIE_SECURE"
        );
        assert_eq!(
            error_variable(&[
                ("SESSION_COOKIE_SECURE", "true"),
                (
                    "XWMS_REDIRECT_URI",
                    "http://localhost:3000/xwms/validateToken"
                )
            ]),
            "SESSION_COOKIE_SECURE"
        );
        let ok = settings_from(&[
            ("SESSION_COOKIE_SECURE", "true"),
            (
                "XWMS_REDIRECT_URI",
                "https://app.example.com/xwms/validateToken",
            ),
        ])
        .unwrap();
        assert!(ok.session.cookie_secure);
    }

    #[test]
    fn the_idle_limit_is_at_least_two_seconds() {
        assert_eq!(
            error_variable(&[("SESSION_IDLE_TIMEOUT_SECS", "1")]),
            "SESSION_IDLE_TIMEOUT_SECS"
        );
        let two = settings_from(&[("SESSION_IDLE_TIMEOUT_SECS", "2")]).unwrap();
        assert_eq!(two.session.idle_timeout, Duration::from_secs(2));
    }

    #[test]
    fn notes_per_page_defaults_to_fifty_and_stays_between_one_and_the_maximum() {
        assert_eq!(settings_from(&[]).unwrap().notes.per_page, 50);
        let two = settings_from(&[("NOTES_PER_PAGE", "2")]).unwrap();
        assert_eq!(two.notes.per_page, 2);
        for bad in ["0", "501", "many"] {
            assert_eq!(
                error_variable(&[("NOTES_PER_PAGE", bad)]),
                "NOTES_PER_PAGE",
                "{bad}"
            );
        }
    }

    #[test]
    fn trusted_proxies_are_addresses_or_cidr_ranges() {
        let ranges = |value: &str| -> Vec<String> {
            settings_from(&[("TRUSTED_PROXIES", value)])
                .unwrap()
                .security
                .trusted_proxies
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(
            ranges("10.0.0.0/8, fd00::/8, 192.0.2.7"),
            ["10.0.0.0/8", "fd00::/8", "192.0.2.7/32"]
        );
        // Mapped IPv4 is read as the IPv4 it stands for (addresses are compared so).
        assert_eq!(
            ranges("::ffff:10.0.0.0/104, ::ffff:192.0.2.7"),
            ["10.0.0.0/8", "192.0.2.7/32"]
        );
        assert_eq!(
            error_variable(&[("TRUSTED_PROXIES", "10.0.0.0/33")]),
            "TRUSTED_PROXIES"
        );
    }

    #[test]
    fn host_accepts_ipv6_with_or_without_brackets() {
        for host in ["::", "[::]"] {
            let settings = settings_from(&[("HOST", host)]).unwrap();
            assert_eq!(settings.server.host, "[::]", "{host}");
        }
        let settings = settings_from(&[("HOST", "::1")]).unwrap();
        assert_eq!(settings.server.host, "[::1]");
        let settings = settings_from(&[("HOST", "localhost")]).unwrap();
        assert_eq!(settings.server.host, "localhost");
        assert_eq!(error_variable(&[("HOST", "no:such host")]), "HOST");
    }

    /// A file under the temp dir with `contents`, removed when dropped.
    struct TempFile(PathBuf);

    impl TempFile {
        fn with(contents: &str) -> TempFile {
            use rand::Rng;
            let name = format!("xwms-config-test-{:016x}.pem", rand::rng().random::<u64>());
            let path = std::env::temp_dir().join(name);
            std::fs::write(&path, contents).unwrap();
            TempFile(path)
        }

        fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn a_ca_file_must_be_readable_and_hold_a_certificate() {
        assert_eq!(
            error_variable(&[("DATABASE_CA_FILE", "/nonexistent/ca.pem")]),
            "DATABASE_CA_FILE"
        );
        let key_only = TempFile::with(&rcgen::KeyPair::generate().unwrap().serialize_pem());
        let err = settings_from(&[("DATABASE_CA_FILE", key_only.path())]).unwrap_err();
        assert_eq!(err.variable, "DATABASE_CA_FILE");
        assert!(err.to_string().contains("no certificate"), "{err}");
        let broken = TempFile::with("-----BEGIN CERTIFICATE-----\nnot base64\n");
        assert_eq!(
            error_variable(&[("DATABASE_CA_FILE", broken.path())]),
            "DATABASE_CA_FILE"
        );

        let ca = rcgen::generate_simple_self_signed(vec!["db.example".to_owned()]).unwrap();
        let good = TempFile::with(&ca.cert.pem());
        let settings = settings_from(&[("DATABASE_CA_FILE", good.path())]).unwrap();
        assert_eq!(settings.database.ca_file.as_deref(), Some(good.0.as_path()));
        assert_eq!(read_ca_file(&good.0).unwrap().len(), 1);
        assert_eq!(settings_from(&[]).unwrap().database.ca_file, None);
    }

    #[test]
    fn a_new_session_key_is_one_line_accepted_as_session_key_and_never_repeats() {
        let key = new_session_key();
        assert!(!key.contains('\n'));
        let settings = settings_from(&[("SESSION_KEY", key.as_str())]).unwrap();
        assert!(settings.session.key.is_some());
        assert_ne!(key, new_session_key());
    }

    const HTTPS_CALLBACK: (&str, &str) = (
        "XWMS_REDIRECT_URI",
        "https://app.example.com/xwms/validateToken",
    );

    #[test]
    fn production_refuses_a_session_key_of_printable_characters_and_development_warns() {
        assert_eq!(
            production_with(&[HTTPS_CALLBACK, ("SESSION_KEY", LONG_KEY)]),
            "SESSION_KEY"
        );
        let generated = new_session_key();
        let mut real = REAL.to_vec();
        real.extend([HTTPS_CALLBACK, ("SESSION_KEY", generated.as_str())]);
        let settings = settings_from(&real).unwrap();
        assert!(!settings.session.key_is_text);
        assert!(settings.warnings().is_empty(), "{:?}", settings.warnings());

        let development = settings_from(&[("SESSION_KEY", LONG_KEY)]).unwrap();
        assert!(development.session.key.is_some());
        assert!(
            warns_about(&development, "SESSION_KEY"),
            "{:?}",
            development.warnings()
        );
    }

    #[test]
    fn production_refuses_insecure_cookies_behind_an_https_callback_and_development_warns() {
        assert_eq!(
            production_with(&[HTTPS_CALLBACK, ("SESSION_COOKIE_SECURE", "false")]),
            "SESSION_COOKIE_SECURE"
        );
        let development =
            settings_from(&[HTTPS_CALLBACK, ("SESSION_COOKIE_SECURE", "false")]).unwrap();
        assert!(warns_about(&development, "SESSION_COOKIE_SECURE"));
    }

    #[test]
    fn production_refuses_trusting_every_address_as_a_proxy_and_development_warns() {
        for everything in ["0.0.0.0/0", "::/0", "10.0.0.1, 0.0.0.0/0"] {
            assert_eq!(
                production_with(&[HTTPS_CALLBACK, ("TRUSTED_PROXIES", everything)]),
                "TRUSTED_PROXIES",
                "{everything}"
            );
        }
        assert_eq!(
            production_with(&[HTTPS_CALLBACK, ("TRUSTED_PROXIES", "10.0.0.0/8")]),
            "no error"
        );
        let development = settings_from(&[("TRUSTED_PROXIES", "::/0")]).unwrap();
        assert!(warns_about(&development, "TRUSTED_PROXIES"));
    }

    #[test]
    fn a_callback_url_must_end_in_the_callback_route_and_a_prefix_is_warned_about() {
        for wrong in [
            "https://app.example.com/",
            "https://app.example.com/callback",
            "https://app.example.com/xwms/validateToken/extra",
        ] {
            assert_eq!(
                error_variable(&[("XWMS_REDIRECT_URI", wrong)]),
                "XWMS_REDIRECT_URI",
                "{wrong}"
            );
        }
        let exact = settings_from(&[(
            "XWMS_REDIRECT_URI",
            "http://localhost:3000/xwms/validateToken?from=xwms",
        )])
        .unwrap();
        assert!(exact.warnings().is_empty(), "{:?}", exact.warnings());
        let behind_a_proxy = settings_from(&[(
            "XWMS_REDIRECT_URI",
            "http://localhost:3000/app/xwms/validateToken",
        )])
        .unwrap();
        assert!(warns_about(&behind_a_proxy, "XWMS_REDIRECT_URI"));
    }

    #[test]
    fn an_https_callback_without_app_env_production_is_warned_about() {
        let development = settings_from(&[HTTPS_CALLBACK]).unwrap();
        assert!(
            warns_about(&development, "APP_ENV"),
            "{:?}",
            development.warnings()
        );
        let local = settings_from(&[]).unwrap();
        assert!(local.warnings().is_empty(), "{:?}", local.warnings());
    }

    #[test]
    fn hsts_covers_subdomains_only_when_asked() {
        assert!(!settings_from(&[]).unwrap().security.hsts_include_subdomains);
        let asked = settings_from(&[("HSTS_INCLUDE_SUBDOMAINS", "true")]).unwrap();
        assert!(asked.security.hsts_include_subdomains);
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let settings = settings_from(&[
            ("XWMS_CLIENT_ID", "id"),
            ("XWMS_CLIENT_SECRET", "very-secret-value"),
            ("XWMS_CLIENT_DOMAIN", "example.com"),
            ("SESSION_KEY", LONG_KEY),
            ("DATABASE_URL", "postgres://app:db-password@db/app"),
        ])
        .unwrap();
        let printed = format!("{settings:?}");
        assert!(!printed.contains("very-secret-value"), "{printed}");
        assert!(!printed.contains(LONG_KEY), "{printed}");
        assert!(!printed.contains("db-password"), "{printed}");
        assert!(printed.contains("REDACTED"));
    }
}
