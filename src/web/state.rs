//! The state of every worker: what the handlers and the web layer's middleware need besides
//! the per-worker XWMS client. Built once and copied into each worker around a database pool
//! of the worker's own ([`AppState::with_pool`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

use crate::db::DbPool;
use crate::domain::session_records::SessionLimits;
use crate::support::config::LoginBinding;

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    /// Where XWMS sends the browser back. From configuration, never from request headers:
    /// a forged `Host` header must not be able to point XWMS at another site. Its origin
    /// is "our site" for the same-site checks.
    pub redirect_uri: Url,
    pub login_binding: LoginBinding,
    pub login_max_age: Duration,
    /// True when the built-in sandbox stands in for XWMS: every page says so.
    pub sandbox: bool,
    /// `XWMS_ACCOUNT_URL`: the page after logging out links to it.
    pub xwms_account_url: Option<Url>,
    pub session_idle_timeout: Duration,
    /// `STEP_UP_MAX_AGE_SECS`: how recent a login must be for what cannot be undone.
    pub step_up_max_age: Duration,
    pub session_absolute_timeout: Duration,
    /// Proxies whose `X-Forwarded-For` is believed (addresses or ranges).
    pub trusted_proxies: Arc<Vec<IpNet>>,
    /// Salt for hashing client IPs in the activity log and the rate limit's keys.
    pub ip_hash_salt: Vec<u8>,
    /// How many notes `/notes` lists (`NOTES_PER_PAGE`).
    pub notes_per_page: i64,
    /// How long anonymous events are kept (`ANONYMOUS_ACTIVITY_RETENTION_DAYS`): the
    /// "Delete my account" page tells how long its record stays.
    pub anonymous_activity_retention: Duration,
    /// `SESSION_COOKIE_SECURE`: the language switch's cookie is `Secure` too.
    pub cookie_secure: bool,
    /// The time the session limits are measured in (see [`Clock`]).
    pub clock: Arc<Clock>,
}

impl AppState {
    /// The same state around another pool: a worker's own (`db::PoolRecipe`).
    pub fn with_pool(&self, pool: DbPool) -> AppState {
        AppState {
            pool,
            ..self.clone()
        }
    }

    /// The session limits, as the server's records of sessions are kept and listed by.
    pub fn session_limits(&self) -> SessionLimits {
        SessionLimits {
            idle: self.session_idle_timeout,
            absolute: self.session_absolute_timeout,
        }
    }
}

/// The clock of the session limits: the system clock, plus an offset that only tests
/// move (`Application::clock`), so a test can let an hour pass without sleeping, and a
/// slow machine cannot end a session a test expects to be alive. Whole seconds, like the
/// stamps in the cookie.
#[derive(Debug, Default)]
pub struct Clock {
    offset_secs: AtomicI64,
}

impl Clock {
    /// Unix seconds.
    pub fn now_secs(&self) -> i64 {
        chrono::Utc::now()
            .timestamp()
            .saturating_add(self.offset_secs.load(Ordering::Relaxed))
    }

    /// Moves this clock `by` ahead.
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.offset_secs.fetch_add(secs, Ordering::Relaxed);
    }
}
