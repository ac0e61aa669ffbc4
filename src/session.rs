//! The typed session: the only place that knows session keys.
//!
//! The session lives in an encrypted, HttpOnly cookie (actix-session's cookie store),
//! so the server keeps no session state and replicas need nothing shared but the key.
//! It holds small things only: the user id, a display name, the logout CSRF token,
//! the pending login and what changed at the last login.

use std::future::{Ready, ready};

use actix_session::{Session, SessionExt, SessionGetError, SessionInsertError};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::Utc;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::accounts::{EmailChange, session_is_current};
use crate::error::AppError;
use crate::routes::AppState;

const SIGNED_IN: &str = "signed_in";
const DISPLAY_NAME: &str = "display_name";
const CSRF_TOKEN: &str = "csrf";
const PENDING_LOGIN: &str = "pending_login";
const LAST_LOGIN: &str = "last_login";

/// A login that `/xwms/auth` started in this browser and the callback has not finished.
///
/// Only a SHA-256 of the token is kept: the cookie is encrypted, but a hash means even
/// a leaked key would not reveal a usable token.
#[derive(Debug, Serialize, Deserialize)]
pub struct PendingLogin {
    token_sha256: String,
    started_at: i64,
    /// Where to go after the login: a same-site path, already validated.
    pub next: Option<String>,
}

impl PendingLogin {
    pub fn new(token: &str, next: Option<String>) -> Self {
        Self {
            token_sha256: sha256_hex(token),
            started_at: Utc::now().timestamp(),
            next,
        }
    }

    pub fn age_secs(&self) -> i64 {
        Utc::now().timestamp() - self.started_at
    }

    pub fn matches_token(&self, token: &str) -> bool {
        self.token_sha256 == sha256_hex(token)
    }
}

/// Who is signed in, and the times the server checks the session's lifetime against.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedIn {
    pub user_id: i64,
    /// Must equal `users.session_epoch`; "log out on all devices" bumps it.
    pub epoch: i32,
    /// Random id of this session; "log out" records it in `ended_sessions`.
    pub session_id: String,
    /// Unix seconds: the login (absolute limit) and the last request (idle limit).
    pub signed_in_at: i64,
    pub seen_at: i64,
}

/// What the last login changed, shown on the profile for the rest of the session.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoginSummary {
    pub account_created: bool,
    pub email_change: Option<EmailChange>,
}

/// Longest display name kept in the cookie (a cookie must stay under 4 KB).
const MAX_DISPLAY_NAME_CHARS: usize = 80;

pub struct TypedSession(Session);

impl TypedSession {
    pub fn from_session(session: Session) -> Self {
        TypedSession(session)
    }

    pub fn user_id(&self) -> Result<Option<i64>, SessionGetError> {
        Ok(self.signed_in()?.map(|signed_in| signed_in.user_id))
    }

    pub fn signed_in(&self) -> Result<Option<SignedIn>, SessionGetError> {
        self.0.get(SIGNED_IN)
    }

    /// Records that the session was used now (for the idle limit).
    pub fn touch(&self, mut signed_in: SignedIn, now: i64) -> Result<(), SessionInsertError> {
        signed_in.seen_at = now;
        self.0.insert(SIGNED_IN, signed_in)
    }

    pub fn display_name(&self) -> Result<Option<String>, SessionGetError> {
        self.0.get(DISPLAY_NAME)
    }

    pub fn csrf_token(&self) -> Result<Option<String>, SessionGetError> {
        self.0.get(CSRF_TOKEN)
    }

    pub fn last_login(&self) -> Result<Option<LoginSummary>, SessionGetError> {
        self.0.get(LAST_LOGIN)
    }

    /// Remembers the login this browser is starting. A second click replaces the first.
    pub fn start_login(&self, pending: PendingLogin) -> Result<(), SessionInsertError> {
        self.0.insert(PENDING_LOGIN, pending)
    }

    /// Takes the pending login out of the session: a callback gets one chance, so a
    /// replayed or second callback finds nothing.
    /// An unreadable pending login (from an older version) counts as none.
    pub fn take_pending_login(&self) -> Option<PendingLogin> {
        let pending = self.0.get(PENDING_LOGIN).unwrap_or_else(|err| {
            log::warn!("unreadable pending login ignored: {err}");
            None
        });
        self.0.remove(PENDING_LOGIN);
        pending
    }

    /// Starts the signed-in session. The old session is dropped and a new cookie value
    /// issued (`renew`), so a cookie planted before login is worth nothing after it.
    pub fn log_in(
        &self,
        user_id: i64,
        session_epoch: i32,
        display_name: &str,
        summary: LoginSummary,
    ) -> Result<(), SessionInsertError> {
        // `clear` + `renew`, not `purge`: purge would end with the cookie deleted.
        self.0.clear();
        self.0.renew();
        let display_name: String = display_name.chars().take(MAX_DISPLAY_NAME_CHARS).collect();
        let now = Utc::now().timestamp();
        self.0.insert(
            SIGNED_IN,
            SignedIn {
                user_id,
                epoch: session_epoch,
                session_id: random_token(),
                signed_in_at: now,
                seen_at: now,
            },
        )?;
        self.0.insert(DISPLAY_NAME, display_name)?;
        self.0.insert(CSRF_TOKEN, random_token())?;
        self.0.insert(LAST_LOGIN, summary)?;
        Ok(())
    }

    /// Ends the session: the cookie is cleared in the browser.
    pub fn log_out(&self) {
        self.0.purge();
    }
}

impl FromRequest for TypedSession {
    type Error = <Session as FromRequest>::Error;
    type Future = Ready<Result<TypedSession, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(TypedSession(req.get_session())))
    }
}

/// 32 random bytes as hex: CSRF tokens and sandbox tokens.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Compares two secrets without stopping at the first differing byte.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Middleware: enforces the signed-in session's limits on the server, on every request.
///
/// A cookie is only worth something while (1) it was used within the idle limit,
/// (2) the login is younger than the absolute limit, (3) it was not logged out (its id is
/// not in `ended_sessions`), and (4) its epoch still equals the user's `session_epoch`
/// ("log out on all devices" bumps it). Otherwise the session is ended and the request
/// goes on as anonymous. A cookie copied before logout is therefore worthless after it,
/// although the cookie store keeps the session itself in the browser.
///
/// A failure here (the database is down) becomes an error *response*, not an `Err`, so
/// the outer `ErrorHandlers`, security headers and logger still see it.
pub async fn enforce_session_limits(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let path = req.path();
    let exempt = path.starts_with("/static/")
        || path == "/health"
        || path.starts_with(crate::xwms::sandbox::SANDBOX_API_PATH);
    if !exempt
        && let Some(state) = req.app_data::<web::Data<AppState>>().cloned()
        && let Err(err) = check_session(&TypedSession(req.get_session()), &state).await
    {
        return Ok(req.error_response(err).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

async fn check_session(session: &TypedSession, state: &AppState) -> Result<(), AppError> {
    let signed_in = match session.signed_in() {
        Ok(Some(signed_in)) => signed_in,
        Ok(None) => return Ok(()),
        // A cookie from an older version of this struct: start over rather than fail
        // every request until the browser is closed.
        Err(err) => {
            log::warn!("unreadable session ended: {err}");
            session.log_out();
            return Ok(());
        }
    };
    let now = Utc::now().timestamp();
    let idle = now - signed_in.seen_at;
    let age = now - signed_in.signed_in_at;
    let within_limits = idle >= 0
        && age >= 0
        && (idle as u64) < state.session_idle_timeout.as_secs()
        && (age as u64) < state.session_absolute_timeout.as_secs();
    let current = within_limits
        && session_is_current(
            &state.pool,
            signed_in.user_id,
            signed_in.epoch,
            &signed_in.session_id,
        )
        .await?;
    if !current {
        session.log_out();
    } else if idle >= SEEN_AT_RESOLUTION_SECS {
        // Refresh the idle clock at most once a minute, not on every request.
        session.touch(signed_in, now)?;
    }
    Ok(())
}

/// How stale `seen_at` may get before the cookie is rewritten.
const SEEN_AT_RESOLUTION_SECS: i64 = 60;
