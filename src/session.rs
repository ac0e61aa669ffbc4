//! The typed session: the only place that knows session keys.
//!
//! The session lives in an encrypted, HttpOnly cookie (actix-session's cookie store),
//! so the server keeps no session state and replicas need nothing shared but the key.
//! It holds small things only: the user id, a display name, the logout CSRF token,
//! the pending login and what changed at the last login.

use std::future::{Ready, ready};

use actix_session::{Session, SessionExt, SessionGetError, SessionInsertError};
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use chrono::Utc;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::accounts::EmailChange;

const USER_ID: &str = "user_id";
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
}

impl PendingLogin {
    pub fn new(token: &str) -> Self {
        Self {
            token_sha256: sha256_hex(token),
            started_at: Utc::now().timestamp(),
        }
    }

    pub fn age_secs(&self) -> i64 {
        Utc::now().timestamp() - self.started_at
    }

    pub fn matches_token(&self, token: &str) -> bool {
        self.token_sha256 == sha256_hex(token)
    }
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
        self.0.get(USER_ID)
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
    pub fn take_pending_login(&self) -> Result<Option<PendingLogin>, SessionGetError> {
        let pending = self.0.get(PENDING_LOGIN);
        self.0.remove(PENDING_LOGIN);
        pending
    }

    /// Starts the signed-in session. The old session is dropped and a new cookie value
    /// issued (`renew`), so a cookie planted before login is worth nothing after it.
    pub fn log_in(
        &self,
        user_id: i64,
        display_name: &str,
        summary: LoginSummary,
    ) -> Result<(), SessionInsertError> {
        // `clear` + `renew`, not `purge`: purge would end with the cookie deleted.
        self.0.clear();
        self.0.renew();
        let display_name: String = display_name.chars().take(MAX_DISPLAY_NAME_CHARS).collect();
        self.0.insert(USER_ID, user_id)?;
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
