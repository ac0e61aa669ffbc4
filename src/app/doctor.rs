//! `xwms-starter doctor`: checks a deployment from the inside and prints a checklist.
//!
//! Run it where the app runs, with the app's environment (`docker run --rm --env-file .env
//! xwms-starter doctor`), after every deploy. Each check passes, warns, fails or is
//! skipped, with the fix in one sentence; the command exits 0 unless a check failed.
//!
//! The doctor only looks: it reads the settings, opens one database connection (the app's
//! own connector, so the TLS it reports is the TLS the app gets) and reads the migration
//! table without creating it, and asks XWMS `info` and `sign-token`. `sign-token` is the
//! only call that tells whether XWMS accepts the credentials; it costs one login token at
//! XWMS that is never used and expires there. Every step is bounded by [`CHECK_TIMEOUT`].
//!
//! It uses awc (the XWMS client), so it must run on an actix runtime (`actix_web::main`,
//! `actix_web::test`).
//!
//! Secrets never reach the report: every text is scrubbed of the client secret, the
//! session key, the metrics token and the database password before it is returned,
//! whatever XWMS or PostgreSQL put in their error messages.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use secrecy::ExposeSecret;
use serde::Serialize;
use url::Url;

use crate::db::{self, PgConnector};
use crate::support::config::{AppEnv, CALLBACK_PATH, Settings, default_redirect_uri};
use crate::support::crypto::SESSION_KEY_MIN_BYTES;
use crate::support::metrics::Metrics;
use crate::xwms::{XwmsClient, XwmsConfig, XwmsError};

/// The longest any one check may take (a connection, a query, a call to XWMS).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Above this offset between XWMS's clock and ours, the clock check warns: the
/// pending-login age and XWMS's token expiry are measured by the two clocks.
pub const MAX_CLOCK_OFFSET: Duration = Duration::from_secs(30);

/// What became of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Works, but worth fixing; does not fail the doctor.
    Warn,
    Fail,
    /// Not applicable here (the sandbox), or impossible after an earlier failure.
    Skip,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// A stable name, for machines (`database`, `xwms_credentials`, ...).
    pub name: &'static str,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do, in one sentence; set on warnings and failures.
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    fn skip(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Skip,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The whole checklist, in the order the checks ran.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    /// True when no check failed (warnings and skipped checks do not count against it).
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.status != Status::Fail)
    }

    /// The check called `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|check| check.name == name)
    }

    /// The checklist for a person: one line per check, its fix on the next.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for check in &self.checks {
            text.push_str(&format!(
                "[{}] {}: {}\n",
                check.status.label(),
                check.name,
                check.detail
            ));
            if let Some(fix) = &check.fix {
                text.push_str(&format!("       fix: {fix}\n"));
            }
        }
        let count = |status| {
            self.checks
                .iter()
                .filter(|check| check.status == status)
                .count()
        };
        text.push_str(&format!(
            "{} passed, {} failed, {} warning(s), {} skipped: {}\n",
            count(Status::Pass),
            count(Status::Fail),
            count(Status::Warn),
            count(Status::Skip),
            if self.passed() {
                "the deployment looks ready"
            } else {
                "fix the failed checks and run the doctor again"
            }
        ));
        text
    }

    /// The checklist for machines: `{"ok": bool, "checks": [{name, status, detail, fix}]}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ok": self.passed(),
            "version": env!("CARGO_PKG_VERSION"),
            "checks": self.checks,
        })
    }
}

/// Runs every check against the settings `lookup` gives (the process environment in
/// `main`, a map in tests), as `Settings::from_lookup` reads them.
pub async fn run(lookup: impl Fn(&str) -> Option<String>) -> Report {
    let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
    let secrets = secrets_of(&var);
    let mut checks = Vec::new();
    match Settings::from_lookup(&lookup) {
        Err(err) => {
            checks.push(Check::fail(
                "configuration",
                err.to_string(),
                format!(
                    "Set {} as the message says (docs/configuration.md lists every variable).",
                    err.variable
                ),
            ));
            for name in LATER_CHECKS {
                checks.push(Check::skip(name, "the configuration is not valid"));
            }
        }
        Ok(settings) => {
            checks.push(configuration_check(&settings));
            checks.extend(database_checks(&settings).await);
            checks.extend(xwms_checks(&settings).await);
            checks.push(callback_check(&settings));
            checks.push(session_cookie_check(&settings));
            checks.push(session_key_check(&settings, var("SESSION_KEY").as_deref()));
            checks.push(trusted_proxies_check(&settings));
        }
    }
    for check in &mut checks {
        check.detail = scrub(&check.detail, &secrets);
        check.fix = check.fix.as_deref().map(|fix| scrub(fix, &secrets));
    }
    Report { checks }
}

/// Every check after `configuration`, in order.
const LATER_CHECKS: [&str; 9] = [
    "database",
    "migrations",
    "xwms_info",
    "xwms_clock",
    "xwms_credentials",
    "callback",
    "session_cookie",
    "session_key",
    "trusted_proxies",
];

/// The values that must never be printed: client secret, session key, tokens, and the
/// database password (as written in the URL and percent-decoded).
fn secrets_of(var: &impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut secrets: Vec<String> = [
        "XWMS_CLIENT_SECRET",
        "SESSION_KEY",
        "METRICS_TOKEN",
        "XWMS_SANDBOX_CLIENT_SECRET",
    ]
    .into_iter()
    .filter_map(var)
    .map(|value| value.trim().to_owned())
    .collect();
    if let Some(password) = var("DATABASE_URL")
        .and_then(|url| Url::parse(url.trim()).ok())
        .and_then(|url| url.password().map(str::to_owned))
    {
        if let Ok(decoded) = percent_encoding::percent_decode_str(&password).decode_utf8() {
            secrets.push(decoded.into_owned());
        }
        secrets.push(password);
    }
    // Very short values would blank out ordinary words; a secret that short is no secret.
    secrets.retain(|secret| secret.len() >= 4);
    // Longest first, so a secret containing another is replaced whole.
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    secrets
}

fn scrub(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_owned(), |text, secret| {
        text.replace(secret, "[redacted]")
    })
}

/// Runs `step`, or gives up after [`CHECK_TIMEOUT`].
async fn bounded<T>(step: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(CHECK_TIMEOUT, step)
        .await
        .map_err(|_| format!("no answer within {} s", CHECK_TIMEOUT.as_secs()))
}

/// Production with real XWMS: the checks that a demo may skip are strict here.
fn real_production(settings: &Settings) -> bool {
    settings.env == AppEnv::Production && !settings.xwms.uses_sandbox()
}

fn configuration_check(settings: &Settings) -> Check {
    let provider = match &settings.xwms.credentials {
        Some(_) => format!("XWMS at {}", settings.xwms.api_url),
        None => "the built-in sandbox (not real XWMS)".to_owned(),
    };
    Check::pass(
        "configuration",
        format!(
            "valid: APP_ENV={}, logins through {provider}",
            settings.env.as_str()
        ),
    )
}

// --- Database ---------------------------------------------------------------------

async fn database_checks(settings: &Settings) -> [Check; 2] {
    let database = &settings.database;
    let connector =
        match PgConnector::new(database.url.expose_secret(), database.ca_file.as_deref()) {
            Ok(connector) => connector,
            Err(err) => {
                return [
                    Check::fail(
                        "database",
                        err.to_string(),
                        format!("Fix {} as the message says (docs/deploy.md).", err.variable),
                    ),
                    Check::skip("migrations", "the database settings cannot be used"),
                ];
            }
        };
    let mut conn = match bounded(connector.connect())
        .await
        .and_then(|connected| connected.map_err(|err| err.to_string()))
    {
        Ok(conn) => conn,
        Err(why) if settings.env == AppEnv::Development && !database.url_is_set => {
            return [
                Check::skip(
                    "database",
                    format!(
                        "DATABASE_URL is not set and the default server did not let us in ({why}); in development the app then starts a private PostgreSQL of its own (when built with the dev-database feature, the default)"
                    ),
                ),
                Check::skip("migrations", "no database to look at"),
            ];
        }
        Err(why) => {
            let fix = if why.contains("does not exist") {
                "Create the database named in DATABASE_URL (or set DATABASE_CREATE_IF_MISSING=true if its user may) and start the app once."
            } else {
                "Check that PostgreSQL runs and that this machine reaches the host and port of DATABASE_URL with its user and password."
            };
            return [
                Check::fail("database", format!("PostgreSQL did not answer: {why}"), fix),
                Check::skip("migrations", "the database did not answer"),
            ];
        }
    };
    let database_check = match bounded(connection_uses_tls(&mut conn)).await {
        Ok(Ok(tls)) => {
            let how = format!(
                "PostgreSQL answers ({connector}); this connection is {}",
                if tls { "over TLS" } else { "not encrypted" }
            );
            if real_production(settings)
                && !connector.is_local()
                && !connector.verifies_the_server()
            {
                Check::warn(
                    "database",
                    format!("{how}, and the server's identity is not verified"),
                    "Add sslmode=verify-full to DATABASE_URL (and DATABASE_CA_FILE for your provider's CA) so nobody in between can pose as the database (docs/deploy.md).",
                )
            } else {
                Check::pass("database", how)
            }
        }
        Ok(Err(err)) => Check::fail(
            "database",
            format!("PostgreSQL accepted the connection but a query failed: {err}"),
            "Check that the user in DATABASE_URL may use its database.",
        ),
        Err(why) => Check::fail(
            "database",
            format!("PostgreSQL accepted the connection but did not answer a query: {why}"),
            "Check the database server's load and logs.",
        ),
    };
    let migrations_check = match bounded(pending_migrations(&mut conn)).await {
        Ok(Ok(state)) => migrations_check(&state),
        Ok(Err(err)) => Check::fail(
            "migrations",
            format!("could not read the applied migrations: {err}"),
            "Check that the user in DATABASE_URL may read __diesel_schema_migrations.",
        ),
        Err(why) => Check::fail(
            "migrations",
            format!("reading the applied migrations: {why}"),
            "Check the database server's load and logs.",
        ),
    };
    [database_check, migrations_check]
}

/// True when PostgreSQL says this very connection is encrypted.
async fn connection_uses_tls(conn: &mut AsyncPgConnection) -> Result<bool, diesel::result::Error> {
    #[derive(QueryableByName)]
    struct Tls {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        ssl: bool,
    }
    let found: Tls = diesel::sql_query(
        "SELECT COALESCE((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false) AS ssl",
    )
    .get_result(conn)
    .await?;
    Ok(found.ssl)
}

/// The embedded migrations compared with the ones the database has applied.
pub struct MigrationState {
    /// Embedded, not applied: `start` will run them.
    pub pending: Vec<String>,
    /// Applied, not embedded: a newer version of the app migrated this database.
    pub unknown: Vec<String>,
    pub embedded: usize,
}

/// Reads Diesel's migration table without creating it (the harness's own
/// `applied_migrations` would create it: the doctor writes nothing).
async fn pending_migrations(
    conn: &mut AsyncPgConnection,
) -> Result<MigrationState, Box<dyn std::error::Error + Send + Sync>> {
    use diesel::migration::MigrationSource;
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let table: Exists =
        diesel::sql_query("SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS exists")
            .get_result(conn)
            .await?;
    let applied: HashSet<String> = if table.exists {
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Version>(conn)
            .await?
            .into_iter()
            .map(|row| row.version)
            .collect()
    } else {
        HashSet::new()
    };
    let embedded = MigrationSource::<diesel::pg::Pg>::migrations(&db::MIGRATIONS)?;
    let embedded_versions: HashSet<String> = embedded
        .iter()
        .map(|migration| migration.name().version().to_string())
        .collect();
    let mut pending: Vec<String> = embedded
        .iter()
        .filter(|migration| !applied.contains(&migration.name().version().to_string()))
        .map(|migration| migration.name().to_string())
        .collect();
    pending.sort();
    let mut unknown: Vec<String> = applied
        .into_iter()
        .filter(|version| !embedded_versions.contains(version))
        .collect();
    unknown.sort();
    Ok(MigrationState {
        pending,
        unknown,
        embedded: embedded.len(),
    })
}

fn migrations_check(state: &MigrationState) -> Check {
    if !state.pending.is_empty() {
        return Check::fail(
            "migrations",
            format!(
                "{} of {} migration(s) not applied: {}",
                state.pending.len(),
                state.embedded,
                state.pending.join(", ")
            ),
            "Start the app once (it applies them at start, one replica at a time); the doctor never runs them.",
        );
    }
    if !state.unknown.is_empty() {
        return Check::warn(
            "migrations",
            format!(
                "all {} applied, and {} this version does not know: {}",
                state.embedded,
                state.unknown.len(),
                state.unknown.join(", ")
            ),
            "A newer version migrated this database: deploy that version (or this one knowingly, if its rollout is being undone).",
        );
    }
    Check::pass(
        "migrations",
        format!("current: all {} applied", state.embedded),
    )
}

// --- XWMS -------------------------------------------------------------------------

async fn xwms_checks(settings: &Settings) -> [Check; 3] {
    let Some(credentials) = &settings.xwms.credentials else {
        let why =
            "no XWMS credentials: the built-in sandbox serves the logins (it runs inside the app)";
        return [
            Check::skip("xwms_info", why),
            Check::skip("xwms_clock", why),
            Check::skip("xwms_credentials", why),
        ];
    };
    let metrics = match Metrics::new() {
        Ok(metrics) => Arc::new(metrics),
        Err(err) => {
            let why = format!("could not set up the XWMS client: {err}");
            return [
                Check::fail("xwms_info", why, "Report this as a bug."),
                Check::skip("xwms_clock", "no client"),
                Check::skip("xwms_credentials", "no client"),
            ];
        }
    };
    let api_url = settings.xwms.api_url.clone();
    let client = XwmsClient::new(
        Arc::new(XwmsConfig {
            provider: XwmsConfig::provider_for(&api_url),
            api_url: api_url.clone(),
            credentials: credentials.clone(),
            timeout: settings.xwms.timeout.min(CHECK_TIMEOUT),
        }),
        metrics,
    );

    // When XWMS cannot be reached at all, sign-token would only wait as long again.
    let mut reachable = true;
    let (info, clock) = match bounded(client.info_with_date()).await {
        Ok(Ok(date)) => (
            Check::pass("xwms_info", format!("XWMS answers GET info at {api_url}")),
            clock_check(date, SystemTime::now()),
        ),
        Ok(Err(err)) => {
            reachable = !matches!(err, XwmsError::Timeout(_) | XwmsError::Unreachable(_));
            (
                Check::fail("xwms_info", err.to_string(), xwms_fix(&err)),
                Check::skip("xwms_clock", "XWMS's info answer did not come"),
            )
        }
        Err(why) => {
            reachable = false;
            (
                Check::fail(
                    "xwms_info",
                    format!("GET info: {why}"),
                    "Check XWMS_API_URL and that this machine may reach it (firewall, proxy, DNS).",
                ),
                Check::skip("xwms_clock", "XWMS's info answer did not come"),
            )
        }
    };

    let redirect_uri = effective_redirect_uri(settings);
    const COST: &str = "it cost one sign-token at XWMS, a login token that is never used and expires there; sign-token is the only call that shows whether XWMS accepts the credentials";
    let credentials_check = match &redirect_uri {
        _ if !reachable => Check::skip(
            "xwms_credentials",
            "XWMS could not be reached (see xwms_info), so sign-token was not tried",
        ),
        None => Check::skip(
            "xwms_credentials",
            "no usable callback URL to sign a token for",
        ),
        Some(redirect_uri) => match bounded(client.sign_token(redirect_uri)).await {
            Ok(Ok(_unused)) => Check::pass(
                "xwms_credentials",
                format!(
                    "XWMS accepts the client credentials and the callback {redirect_uri} ({COST})"
                ),
            ),
            Ok(Err(err @ XwmsError::Unauthorized { .. })) => Check::fail(
                "xwms_credentials",
                format!("{err} ({COST})"),
                "Copy XWMS_CLIENT_ID, XWMS_CLIENT_SECRET and XWMS_CLIENT_DOMAIN again from what XWMS issued for this domain.",
            ),
            Ok(Err(err @ XwmsError::Refused { .. })) => Check::fail(
                "xwms_credentials",
                format!("sign-token for {redirect_uri}: {err} ({COST})"),
                "Register exactly XWMS_REDIRECT_URI as the callback of this domain at XWMS, and check the client credentials.",
            ),
            Ok(Err(err)) => Check::fail(
                "xwms_credentials",
                format!("sign-token: {err}"),
                xwms_fix(&err),
            ),
            Err(why) => Check::fail(
                "xwms_credentials",
                format!("sign-token: {why}"),
                "Check XWMS_API_URL and that this machine may reach it (firewall, proxy, DNS).",
            ),
        },
    };
    [info, clock, credentials_check]
}

fn xwms_fix(err: &XwmsError) -> &'static str {
    match err {
        XwmsError::Unauthorized { .. } => {
            "Copy XWMS_CLIENT_ID, XWMS_CLIENT_SECRET and XWMS_CLIENT_DOMAIN again from what XWMS issued for this domain."
        }
        XwmsError::Timeout(_) | XwmsError::Unreachable(_) => {
            "Check XWMS_API_URL and that this machine may reach it (firewall, proxy, DNS)."
        }
        XwmsError::Redirected { .. } => {
            "Set XWMS_API_URL to XWMS's API address itself (https://xwms.nl/api/), not one that redirects."
        }
        _ => {
            "Check XWMS_API_URL (https://xwms.nl/api/) and XWMS's status; try again later if XWMS has trouble."
        }
    }
}

/// Compares XWMS's `Date` with `now` (this machine's clock when the answer came).
fn clock_check(xwms_date: Option<SystemTime>, now: SystemTime) -> Check {
    let Some(xwms_date) = xwms_date else {
        return Check::skip(
            "xwms_clock",
            "XWMS's answer carried no Date header to compare clocks with",
        );
    };
    let (offset, direction) = match xwms_date.duration_since(now) {
        Ok(ahead) => (ahead, "ahead of"),
        Err(behind) => (behind.duration(), "behind"),
    };
    let detail = format!(
        "XWMS's clock (its Date header) is {} s {direction} this machine's",
        offset.as_secs()
    );
    if offset > MAX_CLOCK_OFFSET {
        Check::warn(
            "xwms_clock",
            detail,
            format!(
                "Synchronise this machine's clock (NTP): with more than {} s between the clocks, the pending-login age (XWMS_LOGIN_MAX_AGE_SECS) and XWMS's token expiry disagree.",
                MAX_CLOCK_OFFSET.as_secs()
            ),
        )
    } else {
        Check::pass(
            "xwms_clock",
            format!("{detail} (within {} s)", MAX_CLOCK_OFFSET.as_secs()),
        )
    }
}

// --- The callback, the cookie, the key, the proxies ---------------------------------

/// `XWMS_REDIRECT_URI`, or the default the app uses without it.
fn effective_redirect_uri(settings: &Settings) -> Option<Url> {
    settings
        .xwms
        .redirect_uri
        .clone()
        .or_else(|| default_redirect_uri(settings.server.port).ok())
}

fn callback_check(settings: &Settings) -> Check {
    let Some(uri) = effective_redirect_uri(settings) else {
        return Check::fail(
            "callback",
            "no callback URL could be built",
            "Set XWMS_REDIRECT_URI to https://<your host>/xwms/validateToken.",
        );
    };
    let set = if settings.xwms.redirect_uri.is_some() {
        "XWMS_REDIRECT_URI"
    } else {
        "the default callback (XWMS_REDIRECT_URI unset)"
    };
    // (A path that does not end in the route is refused by the configuration already.)
    if uri.path() != CALLBACK_PATH {
        return Check::warn(
            "callback",
            format!(
                "{set} {uri} has a prefix before the app's callback route {CALLBACK_PATH}: only right behind a proxy that strips it"
            ),
            format!(
                "Unless a proxy strips the prefix, set XWMS_REDIRECT_URI to https://<your host>{CALLBACK_PATH} and register exactly that at XWMS."
            ),
        );
    }
    if settings.env == AppEnv::Production && uri.scheme() != "https" {
        if settings.xwms.uses_sandbox() {
            return Check::pass(
                "callback",
                format!("{set} {uri}: plain http, acceptable for a sandbox demo only"),
            );
        }
        return Check::fail(
            "callback",
            format!(
                "{set} {uri} is plain http in production: the login token would cross the network readable"
            ),
            format!(
                "Serve the app over https and set XWMS_REDIRECT_URI (and its registration at XWMS) to https://<your host>{CALLBACK_PATH}."
            ),
        );
    }
    Check::pass(
        "callback",
        format!("{set} {uri} is the app's callback route"),
    )
}

fn session_cookie_check(settings: &Settings) -> Check {
    let secure = settings.session.cookie_secure;
    let https = effective_redirect_uri(settings).is_some_and(|uri| uri.scheme() == "https");
    match (secure, https) {
        (true, true) => Check::pass(
            "session_cookie",
            "Secure (__Host-xwms_session), matching the https callback",
        ),
        (false, false) => Check::pass(
            "session_cookie",
            "not Secure, matching the plain-http callback (a browser would not send a Secure cookie back over http)",
        ),
        (false, true) => {
            let detail = "not Secure although the callback is https: the session cookie would also travel over plain http";
            if settings.env == AppEnv::Production {
                Check::fail(
                    "session_cookie",
                    detail,
                    "Remove SESSION_COOKIE_SECURE=false: with an https callback the cookie is Secure by default in production.",
                )
            } else {
                Check::warn(
                    "session_cookie",
                    detail,
                    "Set SESSION_COOKIE_SECURE=true when the app is reached over https (production does so by default).",
                )
            }
        }
        (true, false) => Check::fail(
            "session_cookie",
            "Secure although the callback is plain http: the browser would never send the login cookie back",
            "Set an https XWMS_REDIRECT_URI, or SESSION_COOKIE_SECURE=false for a local demo.",
        ),
    }
}

/// Strong: what `new-session-key` prints, base64 of at least 64 bytes that are not text.
/// 64 random bytes are all printable with a chance of about 1 in 10^27.
fn is_strong_session_key(value: &str) -> bool {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .is_ok_and(|bytes| {
            let distinct: HashSet<u8> = bytes.iter().copied().collect();
            bytes.len() >= SESSION_KEY_MIN_BYTES
                && !bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
                && distinct.len() >= 32
        })
}

fn session_key_check(settings: &Settings, raw: Option<&str>) -> Check {
    const FIX: &str = "Set SESSION_KEY to the output of `xwms-starter new-session-key`, the same on every replica (everyone is logged out once).";
    let production = settings.env == AppEnv::Production;
    match raw {
        None if production && !settings.xwms.uses_sandbox() => Check::fail(
            "session_key",
            "not set: production with real XWMS needs one",
            FIX,
        ),
        None if production => Check::skip(
            "session_key",
            "not set: a random key at each start, acceptable for a sandbox demo only (sessions end on restart); set one before real logins",
        ),
        None => Check::skip(
            "session_key",
            "not set: development uses a random key at each start (sessions end on restart)",
        ),
        Some(value) if is_strong_session_key(value) => Check::pass(
            "session_key",
            "set: base64 of 64 or more random bytes, as new-session-key makes",
        ),
        Some(value) => {
            let detail = format!(
                "set, but a passphrase ({} characters of text), not base64 of 64 random bytes: a guessable key lets anyone forge sessions",
                value.trim().chars().count()
            );
            if production {
                Check::fail("session_key", detail, FIX)
            } else {
                Check::warn("session_key", detail, FIX)
            }
        }
    }
}

fn trusted_proxies_check(settings: &Settings) -> Check {
    let proxies = &settings.security.trusted_proxies;
    if let Some(everything) = proxies.iter().find(|range| range.prefix_len() == 0) {
        return Check::fail(
            "trusted_proxies",
            format!(
                "TRUSTED_PROXIES includes {everything}, the whole internet: anyone can set X-Forwarded-For and choose the address that rate limits and the activity log see"
            ),
            "List only your load balancer's addresses or private ranges in TRUSTED_PROXIES (e.g. 10.0.0.0/8).",
        );
    }
    if proxies.is_empty() {
        return Check::pass(
            "trusted_proxies",
            "none: X-Forwarded-For is ignored and each connection's own address counts (set TRUSTED_PROXIES behind a load balancer)",
        );
    }
    let list: Vec<String> = proxies.iter().map(ToString::to_string).collect();
    Check::pass(
        "trusted_proxies",
        format!("X-Forwarded-For believed only from {}", list.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_session_key_is_strong_and_a_long_passphrase_is_not() {
        assert!(is_strong_session_key(
            &crate::support::crypto::new_session_key()
        ));
        let passphrase = "correct horse battery staple correct horse battery staple and more";
        assert!(!is_strong_session_key(passphrase));
        use base64::Engine as _;
        let encoded_text = base64::engine::general_purpose::STANDARD.encode(passphrase);
        assert!(!is_strong_session_key(&encoded_text));
        let zeros = base64::engine::general_purpose::STANDARD.encode([0u8; 64]);
        assert!(!is_strong_session_key(&zeros));
    }

    #[test]
    fn the_clock_warns_beyond_thirty_seconds_either_way() {
        let now = SystemTime::now();
        let at = |secs: i64| {
            if secs >= 0 {
                now + Duration::from_secs(secs.unsigned_abs())
            } else {
                now - Duration::from_secs(secs.unsigned_abs())
            }
        };
        assert_eq!(clock_check(Some(at(5)), now).status, Status::Pass);
        assert_eq!(clock_check(Some(at(-30)), now).status, Status::Pass);
        assert_eq!(clock_check(Some(at(31)), now).status, Status::Warn);
        assert_eq!(clock_check(Some(at(-120)), now).status, Status::Warn);
        assert_eq!(clock_check(None, now).status, Status::Skip);
    }

    #[test]
    fn secrets_are_scrubbed_from_texts_longest_first() {
        let secrets = secrets_of(&|name: &str| match name {
            "XWMS_CLIENT_SECRET" => Some("abcd".to_owned()),
            "SESSION_KEY" => Some("abcdefgh".to_owned()),
            "DATABASE_URL" => Some("postgres://app:p%40ss-word@db/app".to_owned()),
            _ => None,
        });
        assert_eq!(
            scrub("abcdefgh abcd p@ss-word p%40ss-word", &secrets),
            "[redacted] [redacted] [redacted] [redacted]"
        );
    }

    #[test]
    fn a_failed_check_fails_the_report_but_warnings_and_skips_do_not() {
        let report = |status| Report {
            checks: vec![Check {
                name: "x",
                status,
                detail: String::new(),
                fix: None,
            }],
        };
        assert!(report(Status::Pass).passed());
        assert!(report(Status::Warn).passed());
        assert!(report(Status::Skip).passed());
        assert!(!report(Status::Fail).passed());
        assert_eq!(report(Status::Fail).to_json()["ok"], false);
    }
}
