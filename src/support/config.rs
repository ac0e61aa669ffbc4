//! Typed settings in one serde tree: `config/default.toml`, then `config/{APP_ENV}.toml`,
//! then the environment.
//!
//! Every setting is a key of `config/default.toml` and a field below; the TOML files are
//! compiled into the binary, so a container needs nothing but its environment. A key's
//! environment variable is its section and name upper-cased
//! (`[session] idle_timeout_secs` is `SESSION_IDLE_TIMEOUT_SECS`), except in `[server]`
//! and `[security]`, whose keys stand alone (`PORT`, `TRUSTED_PROXIES`); [`ALIASES`] adds
//! the other spellings of XWMS's material. An empty value is unset. The rules between
//! settings live in one place, [`Settings::validate`]; a bad value stops the start with
//! one line naming its variable, and secrets never print.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use actix_web::cookie::Key;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, de::Error as _};
use url::Url;

use pg_connect::read_ca_file;

use crate::support::crypto::parse_session_key;
use crate::support::urls::{absolute_http_url, is_loopback, parse_base_url};

/// Where the app runs (`APP_ENV`). Development relaxes what production insists on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppEnv {
    #[default]
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
    pub variable: String,
    pub problem: String,
}

impl ConfigError {
    fn new(variable: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            problem: problem.into(),
        }
    }
}

/// The whole configuration of one running app: the sections of `config/default.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(skip)]
    pub env: AppEnv,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub xwms: XwmsSettings,
    pub session: SessionSettings,
    pub security: SecuritySettings,
    pub metrics: MetricsSettings,
    pub notes: NotesSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// 0 means one worker per CPU core.
    pub workers: usize,
    /// Requests on another host than the callback URL's are redirected there
    /// (`web::public_origin`).
    pub redirect_to_public_origin: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// May carry a password, so it is a secret.
    pub url: SecretString,
    #[serde(deserialize_with = "positive")]
    pub max_connections: usize,
    #[serde(rename = "acquire_timeout_ms", deserialize_with = "millis")]
    pub acquire_timeout: Duration,
    #[serde(rename = "statement_timeout_ms", deserialize_with = "millis")]
    pub statement_timeout: Duration,
    pub create_if_missing: bool,
    /// The PEM certificates PostgreSQL's certificate must chain to (checked readable at
    /// load); `None`: the built-in Mozilla roots. An `sslrootcert` in the URL comes first.
    #[serde(deserialize_with = "optional")]
    pub ca_file: Option<PathBuf>,
    /// True when `DATABASE_URL` was set; false means the built-in default, which in
    /// development may be replaced by a private server (crates/dev-postgres).
    #[serde(skip)]
    pub url_is_set: bool,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum LoginBinding {
    /// The callback token must be the token `sign-token` issued to this session.
    Token,
    /// Any pending login in this session is enough (for a provider whose callback
    /// token differs from the one `sign-token` returned).
    Session,
}

impl TryFrom<String> for LoginBinding {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.trim().to_ascii_lowercase().as_str() {
            "token" => Ok(Self::Token),
            "session" => Ok(Self::Session),
            other => Err(format!("{other:?}: use token or session")),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XwmsSettings {
    #[serde(deserialize_with = "base_url")]
    pub api_url: Url,
    /// `None` means `http://localhost:{port}/xwms/validateToken`, filled in once the
    /// port is known (see `app::startup`).
    #[serde(deserialize_with = "optional_url")]
    pub redirect_uri: Option<Url>,
    #[serde(rename = "timeout_ms", deserialize_with = "millis")]
    pub timeout: Duration,
    pub login_binding: LoginBinding,
    #[serde(rename = "login_max_age_secs", deserialize_with = "secs")]
    pub login_max_age: Duration,
    #[serde(rename = "sandbox")]
    pub sandbox_allowed: bool,
    /// The secret the sandbox expects; random at each start when unset. Set it to run a
    /// sandbox as a separate provider process (the benchmark does).
    #[serde(deserialize_with = "optional")]
    pub sandbox_client_secret: Option<SecretString>,
    /// Linked from the page after logging out: there one signs out at XWMS too.
    #[serde(deserialize_with = "optional_url")]
    pub account_url: Option<Url>,
    #[serde(deserialize_with = "optional")]
    client_id: Option<String>,
    #[serde(deserialize_with = "optional")]
    client_secret: Option<SecretString>,
    #[serde(deserialize_with = "optional")]
    client_domain: Option<String>,
    /// All three of the above, or `None`: no real XWMS configured, the sandbox serves.
    #[serde(skip)]
    pub credentials: Option<XwmsCredentials>,
}

impl XwmsSettings {
    /// True when the built-in stand-in for XWMS serves the logins.
    pub fn uses_sandbox(&self) -> bool {
        self.credentials.is_none()
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    #[serde(rename = "key", deserialize_with = "optional")]
    key_text: Option<SecretString>,
    /// `None` in development without `SESSION_KEY`: a random key at each start.
    #[serde(skip)]
    pub key: Option<Key>,
    /// The key was printable text, not base64 of random bytes: a passphrase.
    #[serde(skip)]
    pub key_is_text: bool,
    pub cookie_secure: bool,
    #[serde(rename = "idle_timeout_secs", deserialize_with = "secs")]
    pub idle_timeout: Duration,
    #[serde(rename = "absolute_timeout_secs", deserialize_with = "secs")]
    pub absolute_timeout: Duration,
}

impl fmt::Debug for SessionSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionSettings")
            .field("key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .field("cookie_secure", &self.cookie_secure)
            .field("idle_timeout", &self.idle_timeout)
            .field("absolute_timeout", &self.absolute_timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    #[serde(deserialize_with = "positive")]
    pub rate_limit_per_minute: u32,
    #[serde(deserialize_with = "positive")]
    pub rate_limit_burst: u32,
    /// Proxies whose `X-Forwarded-For` is believed: addresses or CIDR ranges.
    #[serde(deserialize_with = "ip_ranges")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long the activity log keeps events of existing users...
    #[serde(rename = "activity_retention_days", deserialize_with = "days")]
    pub activity_retention: Duration,
    /// ...and events of nobody: refused logins, and events of deleted users.
    #[serde(
        rename = "anonymous_activity_retention_days",
        deserialize_with = "days"
    )]
    pub anonymous_activity_retention: Duration,
    /// HSTS covers every subdomain too; off by default, as it would force https on
    /// sibling sites this app knows nothing about.
    pub hsts_include_subdomains: bool,
    /// How recent a login (or a confirmation with XWMS) must be for what cannot be undone.
    #[serde(rename = "step_up_max_age_secs", deserialize_with = "secs")]
    pub step_up_max_age: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// When set, `/metrics` is served only with `Authorization: Bearer <token>`.
    #[serde(deserialize_with = "optional")]
    pub token: Option<SecretString>,
}

/// The notes page (`web::routes::notes`, the worked example of docs/extending.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotesSettings {
    /// How many of a user's newest notes `/notes` lists.
    pub per_page: u32,
}

const DEFAULT_TOML: &str = include_str!("../../config/default.toml");
const DEVELOPMENT_TOML: &str = include_str!("../../config/development.toml");
const PRODUCTION_TOML: &str = include_str!("../../config/production.toml");

/// Other names of a setting's variable, from XWMS's own material (the first set wins).
pub const ALIASES: [(&str, &str); 2] = [
    ("XWMS_API_URI", "xwms.api_url"),
    ("XWMS_DOMAIN", "xwms.client_domain"),
];

/// Sections whose keys are variables of their own (`PORT`, not `SERVER_PORT`).
const UNPREFIXED_SECTIONS: [&str; 2] = ["server", "security"];

/// The shortest idle limit accepted (see `session_state::idle_refresh_after_secs`).
pub const MIN_IDLE_TIMEOUT_SECS: u64 = 2;

/// The most notes one page may list (`NOTES_PER_PAGE`): one query and one render.
pub const MAX_NOTES_PER_PAGE: u32 = 500;

/// The path the app serves the XWMS callback at (`web::routes::auth`):
/// `XWMS_REDIRECT_URI` must end with it.
pub const CALLBACK_PATH: &str = "/xwms/validateToken";

/// The callback without `XWMS_REDIRECT_URI`: XWMS's documented example, on whatever port
/// the app got.
pub fn default_redirect_uri(port: u16) -> Result<Url, url::ParseError> {
    Url::parse(&format!("http://localhost:{port}{CALLBACK_PATH}"))
}

/// The environment variable of a setting's key (`session.idle_timeout_secs`).
pub fn variable_of(key: &str) -> String {
    match key.split_once('.') {
        Some((section, name)) if UNPREFIXED_SECTIONS.contains(&section) => name,
        _ => key,
    }
    .replace('.', "_")
    .to_ascii_uppercase()
}

/// Every setting's key, `section.name`, as `config/default.toml` lists them.
pub fn setting_keys() -> Vec<String> {
    setting_defaults().into_keys().collect()
}

/// Every setting's key and its value in `config/default.toml`.
fn setting_defaults() -> BTreeMap<String, config::Value> {
    let sections = config::Config::builder()
        .add_source(config::File::from_str(
            DEFAULT_TOML,
            config::FileFormat::Toml,
        ))
        .build()
        .and_then(|layers| {
            layers.try_deserialize::<BTreeMap<String, BTreeMap<String, config::Value>>>()
        })
        .unwrap_or_default();
    sections
        .into_iter()
        .flat_map(|(section, keys)| {
            keys.into_iter()
                .map(move |(name, value)| (format!("{section}.{name}"), value))
        })
        .collect()
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
        let var = |name: &str| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
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
        let toml = |text| config::File::from_str(text, config::FileFormat::Toml);
        let mut layers = config::Config::builder()
            .add_source(toml(DEFAULT_TOML))
            .add_source(toml(env_toml));
        // The variable each setting came from, for the messages.
        let mut from_env = BTreeMap::new();
        for (key, default) in setting_defaults() {
            let aliases = ALIASES.iter().filter(|(_, of)| *of == key);
            let names =
                std::iter::once(variable_of(&key)).chain(aliases.map(|(n, _)| n.to_string()));
            if let Some((name, value)) = names
                .into_iter()
                .find_map(|name| var(&name).map(|value| (name, value)))
            {
                // The config crate would read `yes` or `on` as the number 1.
                let number = matches!(
                    default.kind,
                    config::ValueKind::I64(_) | config::ValueKind::U64(_)
                );
                if number && value.parse::<i64>().is_err() {
                    let problem = format!("{value:?} is not a whole number");
                    return Err(ConfigError::new(name, problem));
                }
                layers = layers
                    .set_override(key.as_str(), value)
                    .map_err(|err| ConfigError::new(name.as_str(), err.to_string()))?;
                from_env.insert(key, name);
            }
        }
        let layers = layers
            .build()
            .map_err(|err| ConfigError::new("config/*.toml", err.to_string()))?;
        let mut settings: Settings = serde_path_to_error::deserialize(layers).map_err(|err| {
            let key = err.path().to_string();
            let variable = from_env
                .get(&key)
                .cloned()
                .unwrap_or_else(|| variable_of(&key));
            ConfigError::new(variable, err.into_inner().to_string())
        })?;
        settings.env = env;
        settings.validate(|key| from_env.get(key).cloned())?;
        Ok(settings)
    }

    /// The rules between settings and the limits of each. `set(key)` is the variable
    /// that set the key, if one did.
    fn validate(&mut self, set: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let production = self.env == AppEnv::Production;
        let name = |key: &str| set(key).unwrap_or_else(|| variable_of(key));
        let fail = |key: &str, problem: &str| Err(ConfigError::new(name(key), problem));

        // Server: `::` and `[::]` both mean every address, IPv6 and dual-stack IPv4.
        let server = &mut self.server;
        if let Ok(v6) = server.host.parse::<std::net::Ipv6Addr>() {
            server.host = format!("[{v6}]");
        }
        let host_name = |host: &str| {
            host.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
        };
        if format!("{}:{}", server.host, server.port)
            .parse::<SocketAddr>()
            .is_err()
            && !host_name(&server.host)
        {
            return fail("server.host", "not a host name or IP address");
        }

        if self.session.idle_timeout.as_secs() < MIN_IDLE_TIMEOUT_SECS {
            // Stamps are whole seconds: a 1 s limit would end sessions in use.
            return fail(
                "session.idle_timeout_secs",
                &format!("must be at least {MIN_IDLE_TIMEOUT_SECS}"),
            );
        }
        if !(1..=MAX_NOTES_PER_PAGE).contains(&self.notes.per_page) {
            return fail(
                "notes.per_page",
                &format!("must be between 1 and {MAX_NOTES_PER_PAGE}"),
            );
        }

        // Database
        let database = &mut self.database;
        database.url_is_set = set("database.url").is_some();
        match Url::parse(database.url.expose_secret()) {
            Err(err) => return fail("database.url", &format!("not a URL ({err})")),
            Ok(url) if !matches!(url.scheme(), "postgres" | "postgresql") => {
                return fail(
                    "database.url",
                    "must start with postgres:// or postgresql://",
                );
            }
            Ok(url) if url.path().trim_start_matches('/').is_empty() => {
                return fail("database.url", "names no database");
            }
            Ok(_) => {}
        }
        if let Some(path) = &database.ca_file {
            read_ca_file(path)
                .map_err(|problem| ConfigError::new(name("database.ca_file"), problem))?;
        }

        // XWMS: the credentials go together, travel as HTTP headers, and production
        // speaks https (the secret going out, the token coming back).
        let xwms = &mut self.xwms;
        xwms.credentials = match (
            xwms.client_id.take(),
            xwms.client_secret.take(),
            xwms.client_domain.take(),
        ) {
            (None, None, None) => None,
            (Some(client_id), Some(client_secret), Some(client_domain)) => Some(XwmsCredentials {
                client_id,
                client_secret,
                client_domain,
            }),
            (id, secret, _) => {
                let missing = match (id, secret) {
                    (None, _) => "xwms.client_id",
                    (_, None) => "xwms.client_secret",
                    _ => "xwms.client_domain",
                };
                return fail(
                    missing,
                    "missing; XWMS_CLIENT_ID, XWMS_CLIENT_SECRET and XWMS_CLIENT_DOMAIN go together",
                );
            }
        };
        if let Some(credentials) = &xwms.credentials {
            let header_safe = |value: &str| {
                value
                    .bytes()
                    .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
            };
            for (key, value) in [
                ("xwms.client_id", credentials.client_id.as_str()),
                (
                    "xwms.client_secret",
                    credentials.client_secret.expose_secret(),
                ),
                ("xwms.client_domain", credentials.client_domain.as_str()),
            ] {
                if !header_safe(value) {
                    return fail(key, "contains characters not allowed in an HTTP header");
                }
            }
        }
        if let Some(uri) = &xwms.redirect_uri
            && !uri.path().ends_with(CALLBACK_PATH)
        {
            // XWMS would send every login to a page this app does not serve. A prefix
            // is allowed: a proxy may mount the app under a path of its own.
            return fail(
                "xwms.redirect_uri",
                &format!(
                    "its path {:?} is not the callback route {CALLBACK_PATH} (a prefix a proxy strips is fine: /app{CALLBACK_PATH})",
                    uri.path()
                ),
            );
        }
        if production {
            for (key, url) in [
                ("xwms.api_url", Some(&xwms.api_url)),
                ("xwms.redirect_uri", xwms.redirect_uri.as_ref()),
            ] {
                if let Some(url) = url.filter(|url| url.scheme() != "https" && !is_loopback(url)) {
                    return fail(
                        key,
                        &format!(
                            "must be https in production (or on a loopback address), not {url}"
                        ),
                    );
                }
            }
            if xwms.credentials.is_some() && xwms.redirect_uri.is_none() {
                return fail(
                    "xwms.redirect_uri",
                    "missing; production with real XWMS needs the public callback URL registered at XWMS",
                );
            }
        }
        if xwms.credentials.is_none() && !xwms.sandbox_allowed {
            return fail(
                "xwms.client_id",
                if production {
                    "missing; production needs real XWMS credentials (or XWMS_SANDBOX=true for a demo)"
                } else {
                    "missing, and XWMS_SANDBOX=false turns the sandbox off"
                },
            );
        }

        // Session
        let callback_is_https = xwms
            .redirect_uri
            .as_ref()
            .is_some_and(|uri| uri.scheme() == "https");
        let uses_sandbox = xwms.uses_sandbox();
        let session = &mut self.session;
        match session.key_text.take() {
            Some(text) => {
                let (key, is_text) = parse_session_key(text.expose_secret(), production)
                    .map_err(|problem| ConfigError::new(name("session.key"), problem))?;
                (session.key, session.key_is_text) = (Some(key), is_text);
            }
            // A demo (sandbox) in production may run with a generated key; real logins may not.
            None if production && !uses_sandbox => {
                return fail(
                    "session.key",
                    "missing; production needs a key of at least 64 bytes (make one with: xwms-starter new-session-key)",
                );
            }
            None => {}
        }
        // Secure cookies only travel over https: with an http callback the login cookie
        // would never come back, so unless set, the default follows the callback's scheme.
        if set("session.cookie_secure").is_none() {
            session.cookie_secure &= !production || callback_is_https;
        }
        if production && !session.cookie_secure && callback_is_https {
            return fail(
                "session.cookie_secure",
                "false, but the callback (XWMS_REDIRECT_URI) is https: production behind https needs Secure cookies; leave SESSION_COOKIE_SECURE unset",
            );
        }
        if session.cookie_secure && !callback_is_https {
            return fail(
                "session.cookie_secure",
                "true, but the callback (XWMS_REDIRECT_URI) is not https: the browser would never send the login cookie back; set an https XWMS_REDIRECT_URI or SESSION_COOKIE_SECURE=false",
            );
        }

        // Every client a trusted proxy: anyone could pick the address the rate limit and
        // the activity log see by sending X-Forwarded-For.
        if production
            && let Some(everything) = self
                .security
                .trusted_proxies
                .iter()
                .find(|range| range.prefix_len() == 0)
        {
            return fail(
                "security.trusted_proxies",
                &format!(
                    "{everything} trusts every address; name your proxies' addresses or ranges"
                ),
            );
        }
        Ok(())
    }

    /// What is allowed but probably a mistake, for the log at start (one line each,
    /// naming the variable). Production refuses most of these outright (`validate`);
    /// development only warns, as a local setup may have its reasons.
    pub fn warnings(&self) -> Vec<String> {
        let callback = self.xwms.redirect_uri.as_ref();
        let callback_is_https = callback.is_some_and(|uri| uri.scheme() == "https");
        let everything = self
            .security
            .trusted_proxies
            .iter()
            .find(|range| range.prefix_len() == 0);
        let prefixed = callback
            .map(Url::path)
            .filter(|path| *path != CALLBACK_PATH);
        [
            (self.env != AppEnv::Production && callback_is_https).then(|| format!(
                "APP_ENV: not production, but the callback ({}) is https: this looks like a deployment running with development settings (sandbox allowed, cookies as in development); set APP_ENV=production",
                callback.map(Url::as_str).unwrap_or_default()
            )),
            (!self.session.cookie_secure && callback_is_https).then(|| {
                "SESSION_COOKIE_SECURE: false behind an https callback: the session cookie may also travel over plain http".to_owned()
            }),
            everything.map(|range| format!(
                "TRUSTED_PROXIES: {range} trusts every address, so any client chooses the address the rate limit and the activity log see"
            )),
            self.session.key_is_text.then(|| {
                "SESSION_KEY: only printable characters, used as raw bytes: a passphrase has far less than 64 bytes of randomness; make a key with: xwms-starter new-session-key".to_owned()
            }),
            prefixed.map(|path| format!(
                "XWMS_REDIRECT_URI: its path {path} has a prefix before {CALLBACK_PATH}: a proxy must strip it before the request reaches this app"
            )),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// An optional text setting: empty (the TOML default) is unset.
fn optional<'de, D: Deserializer<'de>, T: From<String>>(d: D) -> Result<Option<T>, D::Error> {
    let text = String::deserialize(d)?;
    Ok(Some(text.trim())
        .filter(|text| !text.is_empty())
        .map(|text| T::from(text.to_owned())))
}

fn optional_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    optional::<D, String>(d)?
        .map(|text| {
            absolute_http_url(&text)
                .ok_or_else(|| D::Error::custom("must be an absolute http:// or https:// URL"))
        })
        .transpose()
}

fn base_url<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
    parse_base_url(&String::deserialize(d)?).map_err(D::Error::custom)
}

/// A count or a length of time where 0 would mean "never works" (or, for PostgreSQL's
/// statement_timeout, no limit at all).
fn positive<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default + PartialEq>(
    d: D,
) -> Result<T, D::Error> {
    let value = T::deserialize(d)?;
    if value == T::default() {
        return Err(D::Error::custom("must be above 0"));
    }
    Ok(value)
}

fn millis<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    positive(d).map(Duration::from_millis)
}

fn secs<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    positive(d).map(Duration::from_secs)
}

fn days<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    positive(d).map(|days: u64| Duration::from_secs(days.saturating_mul(24 * 60 * 60)))
}

/// Comma-separated addresses and CIDR ranges; an IPv4-mapped IPv6 range
/// (`::ffff:10.0.0.0/104`) becomes the IPv4 range it stands for, as client addresses are
/// compared in canonical form (`web::client_info`).
fn ip_ranges<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let canonical = |net: ipnet::IpNet| match net {
        ipnet::IpNet::V6(v6) if v6.prefix_len() >= 96 => v6
            .addr()
            .to_ipv4_mapped()
            .and_then(|v4| ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).ok())
            .map_or(net, ipnet::IpNet::V4),
        net => net,
    };
    String::deserialize(d)?
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(canonical)
                .map_err(|_| {
                    D::Error::custom(format!("{entry:?} is not an IP address or CIDR range"))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::crypto::new_session_key;
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

    fn error_variable(pairs: &[(&str, &str)]) -> String {
        match settings_from(pairs) {
            Err(err) => err.variable,
            Ok(_) => "no error".to_owned(),
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
    fn credentials_travel_as_http_headers_so_only_their_characters_are_accepted() {
        let with = |variable: &'static str, value: &'static str| {
            let mut pairs = vec![
                ("XWMS_CLIENT_ID", "id"),
                ("XWMS_CLIENT_SECRET", "secret"),
                ("XWMS_CLIENT_DOMAIN", "example.com"),
            ];
            pairs.retain(|(name, _)| *name != variable);
            pairs.push((variable, value));
            settings_from(&pairs)
        };
        for variable in ["XWMS_CLIENT_ID", "XWMS_CLIENT_SECRET", "XWMS_CLIENT_DOMAIN"] {
            for bad in [
                "line\nbreak",
                "carriage\rreturn",
                "nul\0byte",
                "caf\u{e9}",
                "del\u{7f}",
            ] {
                let err = with(variable, bad).unwrap_err();
                assert_eq!(err.variable, variable, "{bad:?}");
                assert!(err.problem.contains("HTTP header"), "{}", err.problem);
            }
            // Printable ASCII, spaces and tabs inside are what a header value may hold.
            let accepted = with(variable, "a\tb c~!")
                .unwrap()
                .xwms
                .credentials
                .unwrap();
            let value = match variable {
                "XWMS_CLIENT_ID" => accepted.client_id,
                "XWMS_CLIENT_SECRET" => accepted.client_secret.expose_secret().to_owned(),
                _ => accepted.client_domain,
            };
            assert_eq!(value, "a\tb c~!");
        }
    }

    #[test]
    fn the_api_url_gets_its_trailing_slash_so_joins_keep_the_api_segment() {
        let url = parse_base_url("https://xwms.nl/api").unwrap();
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
        for no_database in [
            "postgres://db",
            "postgres://db/",
            "postgresql://u@db:5432//",
        ] {
            let err = settings_from(&[("DATABASE_URL", no_database)]).unwrap_err();
            assert_eq!(
                (err.variable.as_str(), err.problem.as_str()),
                ("DATABASE_URL", "names no database"),
                "{no_database}"
            );
        }
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
    fn a_number_is_only_ever_a_whole_number_never_a_word() {
        for (name, value) in [
            ("PORT", "yes"),
            ("WORKERS", "off"),
            ("NOTES_PER_PAGE", "true"),
        ] {
            let err = settings_from(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name);
            assert!(err.problem.contains("is not a whole number"), "{err}");
        }
        assert_eq!(
            settings_from(&[("PORT", " 8080 ")]).unwrap().server.port,
            8080
        );
    }

    #[test]
    fn partial_credentials_name_the_missing_one() {
        let all = [
            ("XWMS_CLIENT_ID", "id"),
            ("XWMS_CLIENT_SECRET", "secret"),
            ("XWMS_CLIENT_DOMAIN", "example.com"),
        ];
        for (missing, _) in all {
            let given: Vec<_> = all
                .into_iter()
                .filter(|(name, _)| *name != missing)
                .collect();
            let err = settings_from(&given).unwrap_err();
            assert_eq!(err.variable, missing);
            assert!(err.problem.starts_with("missing; "), "{}", err.problem);
        }
        // Only one of the three: the first missing one is named.
        assert_eq!(
            error_variable(&[("XWMS_CLIENT_DOMAIN", "example.com")]),
            "XWMS_CLIENT_ID"
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

    fn production_with(extra: &[(&'static str, &'static str)]) -> String {
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
        // Shorter than /96 it covers more than the mapped IPv4 space: it stays IPv6.
        assert_eq!(ranges("::ffff:0.0.0.0/80"), ["::ffff:0.0.0.0/80"]);
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
