//! The typed session: the only place that knows session keys.
//!
//! The session lives in an encrypted, HttpOnly cookie (actix-session's cookie store),
//! so replicas need nothing shared but the key and the database. It holds small things
//! only: the user id, the session's random id, a display name, the forms' CSRF token, the
//! logins under way and what changed at the last login. The server keeps one record per
//! signed-in session (`domain::session_records`): a cookie is worth something only while
//! its record is there.

use std::any::Any;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::time::Duration;

use actix_session::{Session, SessionExt, SessionGetError, SessionInsertError};
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::Utc;
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};

use crate::domain::accounts::EmailChange;
use crate::domain::session_records::{session_is_current, session_is_current_reading};
use crate::support::crypto::{random_token, sha256_hex};
use crate::support::pages::{PageContext, see_other};
use crate::web::error::AppError;
use crate::web::state::AppState;
use crate::xwms::sandbox::SANDBOX_API_PATH;

const SIGNED_IN: &str = "signed_in";
const DISPLAY_NAME: &str = "display_name";
const CSRF_TOKEN: &str = "csrf";
const PENDING_LOGINS: &str = "pending_logins";
/// Where versions before several logins could be under way kept their one pending login;
/// removed when the session is next written, never read (such a login gets the "Log in
/// again" page).
const LEGACY_PENDING_LOGIN: &str = "pending_login";

/// How many logins one browser may have under way: a tab each, a double click. The
/// oldest goes first.
pub const MAX_PENDING_LOGINS: usize = 4;
/// How many bytes of `next` the logins under way may keep together, so that four of
/// them and a signed-in session stay well under a cookie's 4 KB. The newest login
/// always keeps its own (at most 512 bytes); an older one whose `next` no longer fits
/// loses it and, if it is finished, ends on the profile.
pub const PENDING_NEXT_BUDGET_BYTES: usize = 1024;
const LAST_LOGIN: &str = "last_login";

/// A login that `/xwms/auth` started in this browser and the callback has not finished.
///
/// Only a SHA-256 of the token is kept: the cookie is encrypted, but a hash means even
/// a leaked key would not reveal a usable token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    token_sha256: String,
    started_at: i64,
    /// Where to go after the login: a same-site path, already validated.
    pub next: Option<String>,
    /// Set for a "Confirm with XWMS": the login must be this user's, or it is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirms_user: Option<i64>,
}

impl PendingLogin {
    pub fn new(token: &str, next: Option<String>) -> Self {
        Self {
            token_sha256: sha256_hex(token),
            started_at: Utc::now().timestamp(),
            next,
            confirms_user: None,
        }
    }

    /// A "Confirm with XWMS" for `user_id`: the login must come back for the same person.
    pub fn confirming(token: &str, next: Option<String>, user_id: i64) -> Self {
        Self {
            confirms_user: Some(user_id),
            ..Self::new(token, next)
        }
    }

    pub fn age_secs(&self) -> i64 {
        Utc::now().timestamp() - self.started_at
    }

    /// Whether the login is still within `max_age` (a replica whose clock runs a few
    /// seconds behind the one that started it sees a small negative age: still fine).
    pub fn is_fresh(&self, max_age: std::time::Duration) -> bool {
        age_within(self.age_secs(), max_age)
    }

    pub fn matches_token(&self, token: &str) -> bool {
        self.token_sha256 == sha256_hex(token)
    }
}

/// Who is signed in, and the times the server checks the session's lifetime against.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedIn {
    pub user_id: i64,
    /// Random id of this session; its SHA-256 names its record in `user_sessions`.
    pub session_id: String,
    /// Unix seconds: the login (absolute limit) and the last request (idle limit).
    pub signed_in_at: i64,
    pub seen_at: i64,
    /// Unix seconds of the last login through XWMS that kept this session (a second tab,
    /// a "Confirm with XWMS"); `None` when there was none since `signed_in_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<i64>,
}

impl SignedIn {
    /// Whether the person logged in through XWMS within `max_age` of `now`: what cannot
    /// be undone asks for that (`web::step_up`).
    pub fn logged_in_within(&self, max_age: std::time::Duration, now: i64) -> bool {
        let last = self
            .confirmed_at
            .unwrap_or(self.signed_in_at)
            .max(self.signed_in_at);
        age_within(now - last, max_age)
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

    /// The name the pages greet the signed-in person by, after their profile changed.
    pub fn rename(&self, display_name: &str) -> Result<(), SessionInsertError> {
        let display_name: String = display_name.chars().take(MAX_DISPLAY_NAME_CHARS).collect();
        self.0.insert(DISPLAY_NAME, display_name)
    }

    pub fn csrf_token(&self) -> Result<Option<String>, SessionGetError> {
        self.0.get(CSRF_TOKEN)
    }

    /// The session's CSRF token for a form, created on first use. Anonymous sessions get
    /// one too (the "Continue to XWMS" form); `log_in` replaces it.
    pub fn csrf_token_or_new(&self) -> Result<String, AppError> {
        if let Some(token) = self.csrf_token()? {
            return Ok(token);
        }
        let token = random_token();
        self.0.insert(CSRF_TOKEN, &token)?;
        Ok(token)
    }

    pub fn last_login(&self) -> Result<Option<LoginSummary>, SessionGetError> {
        self.0.get(LAST_LOGIN)
    }

    /// The logins under way in this browser, oldest first. Unreadable ones (a cookie from
    /// an older version) count as none.
    pub fn pending_logins(&self) -> Vec<PendingLogin> {
        self.0
            .get(PENDING_LOGINS)
            .unwrap_or_else(|err| {
                log::warn!("unreadable pending logins ignored: {err}");
                None
            })
            .unwrap_or_default()
    }

    /// Adds the login this browser is starting to the ones under way. A second tab or a
    /// second click adds one more instead of replacing the first, so every tab can
    /// finish its own login; all but the `MAX_PENDING_LOGINS` newest are dropped. An
    /// expired one stays until then, so its callback can say "it has expired".
    pub fn start_login(&self, pending: PendingLogin) -> Result<(), SessionInsertError> {
        let mut pending_logins = self.pending_logins();
        pending_logins.push(pending);
        self.set_pending_logins(pending_logins)
    }

    /// Forgets one login under way (its callback used it); the others stay.
    pub fn finish_pending_login(&self, used: &PendingLogin) -> Result<(), SessionInsertError> {
        let mut pending_logins = self.pending_logins();
        if let Some(index) = pending_logins.iter().position(|login| login == used) {
            pending_logins.remove(index);
        }
        self.set_pending_logins(pending_logins)
    }

    fn set_pending_logins(
        &self,
        pending_logins: Vec<PendingLogin>,
    ) -> Result<(), SessionInsertError> {
        self.0.remove(LEGACY_PENDING_LOGIN);
        let pending_logins = bounded(pending_logins);
        if pending_logins.is_empty() {
            self.0.remove(PENDING_LOGINS);
            Ok(())
        } else {
            self.0.insert(PENDING_LOGINS, pending_logins)
        }
    }

    /// A login through XWMS that kept this session (the same person, from a second tab or
    /// a "Confirm with XWMS") happened at `now`: what cannot be undone may be done again.
    pub fn note_confirmed(&self, now: i64) -> Result<(), AppError> {
        if let Some(mut signed_in) = self.signed_in()? {
            signed_in.confirmed_at = Some(now);
            self.0.insert(SIGNED_IN, signed_in)?;
        }
        Ok(())
    }

    /// Notes what a login that kept the session (the same person, from a second tab)
    /// changed: an email change is shown on the profile like after any login.
    pub fn note_login_change(&self, summary: LoginSummary) -> Result<(), AppError> {
        if summary.email_change.is_some() {
            let account_created = self.last_login()?.is_some_and(|last| last.account_created);
            self.0.insert(
                LAST_LOGIN,
                LoginSummary {
                    account_created,
                    ..summary
                },
            )?;
        }
        Ok(())
    }

    /// Starts the signed-in session `session_id`, whose record the login wrote. Everything
    /// the session held before (its CSRF token included) is dropped and a new cookie
    /// value issued (`renew`), so whatever an attacker planted or read before the login is
    /// worth nothing after it. Only the other logins under way in this browser are kept
    /// (the caller has already taken out the one this login used), so the other tabs can
    /// still finish theirs. `now`: the time of `AppState::clock`, which the limits are
    /// checked against.
    pub fn log_in(
        &self,
        now: i64,
        user_id: i64,
        session_id: String,
        display_name: &str,
        summary: LoginSummary,
    ) -> Result<(), AppError> {
        let still_pending = self.pending_logins();
        // `clear` + `renew`, not `purge`: after a purge actix-session drops every later
        // insert of the request, and the cookie would end up deleted.
        self.0.clear();
        self.0.renew();
        self.0.insert(
            SIGNED_IN,
            SignedIn {
                user_id,
                session_id,
                signed_in_at: now,
                seen_at: now,
                confirmed_at: None,
            },
        )?;
        self.rename(display_name)?;
        self.csrf_token_or_new()?;
        self.0.insert(LAST_LOGIN, summary)?;
        self.set_pending_logins(still_pending)?;
        Ok(())
    }

    /// Ends a signed-in session that may no longer be used (a limit passed, logged out
    /// elsewhere, the user deleted, an unreadable cookie) while the request goes on.
    ///
    /// Only the signed-in part is removed: a login this browser has under way stays, so
    /// a person who comes back after their session ended, or whose session ends while
    /// they are at XWMS, finishes their login on the first try. Not `purge`: after a
    /// purge actix-session ignores every insert of the same request, so the login this
    /// very request starts would be lost.
    pub fn end_signed_in(&self) {
        for key in [SIGNED_IN, DISPLAY_NAME, CSRF_TOKEN, LAST_LOGIN] {
            self.0.remove(key);
        }
        self.0.renew();
    }

    /// "Log out": the cookie is deleted in the browser. The response is a redirect, so
    /// nothing is written to the session after this.
    pub fn log_out(&self) {
        self.0.purge();
    }
}

/// The `MAX_PENDING_LOGINS` newest logins, the newer ones keeping their `next` first
/// while the `next`s fit in `PENDING_NEXT_BUDGET_BYTES` together.
fn bounded(mut pending_logins: Vec<PendingLogin>) -> Vec<PendingLogin> {
    let too_many = pending_logins.len().saturating_sub(MAX_PENDING_LOGINS);
    pending_logins.drain(..too_many);
    let mut next_bytes = 0;
    for login in pending_logins.iter_mut().rev() {
        let len = login.next.as_ref().map_or(0, String::len);
        if next_bytes + len > PENDING_NEXT_BUDGET_BYTES {
            login.next = None;
        } else {
            next_bytes += len;
        }
    }
    pending_logins
}

/// What the layout shows for this request: the sandbox banner, who is signed in, and
/// the logout form's CSRF token.
///
/// "Signed in" only when `enforce_session_limits` checked the session on this request
/// (`SessionChecked`): under the paths it skips (`/static/...`, `/health/...`) an error
/// page would otherwise greet the holder of an ended session by name, with a logout form.
pub fn page_context(req: &HttpRequest) -> PageContext {
    let sandbox = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.sandbox);
    let mut page = PageContext::anonymous(sandbox, req);
    let session = TypedSession(req.get_session());
    let checked = req.extensions().contains::<SessionChecked>();
    if checked && matches!(session.user_id(), Ok(Some(_))) {
        page.signed_in_as = Some(
            session
                .display_name()
                .ok()
                .flatten()
                .unwrap_or_else(|| page.t("signed-in-fallback-name")),
        );
        page.csrf_token = session.csrf_token().ok().flatten();
    }
    page
}

impl FromRequest for TypedSession {
    type Error = <Session as FromRequest>::Error;
    type Future = Ready<Result<TypedSession, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(TypedSession(req.get_session())))
    }
}

/// The signed-in user, as a handler argument: a handler that takes one runs only for a
/// signed-in visitor; anyone else is sent home (303 to `/`, where the login button is).
///
/// By the time a handler runs, `enforce_session_limits` has checked the session against
/// the server (within its limits, not logged out, the user still there), so `user_id`
/// names a current user.
#[derive(Debug, Clone, Copy)]
pub struct SignedInUser {
    pub user_id: i64,
}

impl FromRequest for SignedInUser {
    type Error = actix_web::Error;
    type Future = Ready<Result<SignedInUser, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(match TypedSession(req.get_session()).user_id() {
            Ok(Some(user_id)) => Ok(SignedInUser { user_id }),
            // Not an error page: a redirect, which the error pages leave alone (3xx).
            Ok(None) => Err(InternalError::from_response("not signed in", see_other("/")).into()),
            Err(err) => Err(AppError::from(err).into()),
        })
    }
}

/// Middleware: enforces the signed-in session's limits on the server, on every request.
///
/// A cookie is only worth something while (1) it was used within the idle limit,
/// (2) the login is younger than the absolute limit, and (3) its record is in
/// `user_sessions` (logging out, logging out everywhere, ending it from another device
/// and deleting the account delete records). Otherwise the session is ended and the
/// request goes on as anonymous. A cookie copied before logout is therefore worthless
/// after it, although the cookie store keeps the session itself in the browser.
///
/// One statement per request (`session_records::session_is_current`), which also records
/// "last used" at most once per refresh interval. A page registered in [`PageReads`] gets
/// its own reads sent with it, and their answer only if the check lets it in.
///
/// A failure here (the database is down) becomes an error *response*, not an `Err`, so
/// the outer `ErrorHandlers`, security headers and logger still see it.
pub async fn enforce_session_limits(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let path = req.path();
    // Static files, health checks and the sandbox's API (called by our own XWMS client,
    // with no browser session) need no session check, and must answer while the
    // database is down.
    let exempt = path.starts_with("/static/")
        || path == "/health"
        || path.starts_with("/health/")
        || path.starts_with(SANDBOX_API_PATH);
    if !exempt && let Some(state) = req.app_data::<web::Data<AppState>>().cloned() {
        match check_session(&req, &state).await {
            Ok(Some(answer)) => {
                req.extensions_mut().insert(PageReadAnswer(answer));
            }
            Ok(None) => {}
            Err(err) => return Ok(req.error_response(err).map_into_right_body()),
        }
        req.extensions_mut().insert(SessionChecked);
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Marks a request whose session `enforce_session_limits` checked against the server:
/// only then may a page say who is signed in (`page_context`).
#[derive(Debug, Clone, Copy)]
struct SessionChecked;

/// A signed-in page's own reads, sent together with the session check so that the page
/// costs one round trip, not two (`session_records::session_is_current_reading`).
///
/// `enforce_session_limits` sends `read` for a `GET` of the route `pattern` when the
/// cookie is signed in and within its limits, with the cookie's user id, and hands the
/// answer to the handler (`take_page_read`) only when the check lets the request in:
/// the check stays the middleware's, for every request. Only reads: they run before the
/// check's answer is known. Register a page in [`PageReads`]; its handler takes a
/// `SignedInUser` and the answer with `take_page_read`.
#[derive(Clone, Copy)]
pub struct PageRead {
    pub pattern: &'static str,
    pub read: for<'c> fn(&'c AsyncPgConnection, i64) -> PageReadFuture<'c>,
}

/// A [`PageRead`]'s answer, of the type its handler takes back.
pub type PageAnswer = Box<dyn Any>;

/// What a [`PageRead`] returns: its reads, on the connection of the session check.
pub type PageReadFuture<'c> = Pin<Box<dyn Future<Output = QueryResult<PageAnswer>> + 'c>>;

/// The pages whose reads go out with the session check (app data; see [`PageRead`]).
pub struct PageReads(pub Vec<PageRead>);

/// The answer of this request's [`PageRead`], between the middleware and the handler.
struct PageReadAnswer(PageAnswer);

/// The answer the session check brought along for this page. It is there whenever the
/// page is in [`PageReads`] and the session is current (a handler that takes a
/// `SignedInUser` runs only then); anything else is a mistake in the wiring (the page not
/// registered, another pattern, another answer type), and fails loudly rather than
/// quietly costing a round trip more.
pub fn take_page_read<T: 'static>(req: &HttpRequest) -> Result<T, AppError> {
    let answer = req
        .extensions_mut()
        .remove::<PageReadAnswer>()
        .ok_or(PageReadMissing)
        .map_err(AppError::internal)?;
    answer
        .0
        .downcast::<T>()
        .map(|answer| *answer)
        .map_err(|_| AppError::internal(PageReadMissing))
}

/// No answer of the expected type came with the session check (see [`take_page_read`]).
#[derive(Debug, thiserror::Error)]
#[error("the page's reads did not come with the session check: is it in PageReads?")]
struct PageReadMissing;

/// The [`PageRead`] registered for this request's route, if it is a `GET`.
fn page_read_of(req: &ServiceRequest) -> Option<PageRead> {
    if req.method() != Method::GET {
        return None;
    }
    let reads = req.app_data::<web::Data<PageReads>>()?;
    let pattern = req.match_pattern()?;
    reads.0.iter().find(|read| read.pattern == pattern).copied()
}

/// Checks the signed-in session of `req` (see [`enforce_session_limits`]); returns the
/// answer of the page's [`PageRead`] when there is one and the session is current.
async fn check_session(
    req: &ServiceRequest,
    state: &AppState,
) -> Result<Option<PageAnswer>, AppError> {
    let session = TypedSession(req.get_session());
    let signed_in = match session.signed_in() {
        Ok(Some(signed_in)) => signed_in,
        Ok(None) => return Ok(None),
        // A cookie from an older version of this struct: start over rather than fail
        // every request until the browser is closed.
        Err(err) => {
            log::warn!("unreadable session ended: {err}");
            session.end_signed_in();
            return Ok(None);
        }
    };
    let now = state.clock.now_secs();
    let idle = now - signed_in.seen_at;
    let within_limits = age_within(idle, state.session_idle_timeout)
        && age_within(now - signed_in.signed_in_at, state.session_absolute_timeout);
    let refresh_after = idle_refresh_after_secs(state.session_idle_timeout);
    let last_used_every = Duration::from_secs(refresh_after.unsigned_abs());
    let (user_id, session_id) = (signed_in.user_id, signed_in.session_id.as_str());
    let (current, answer) = match (within_limits, page_read_of(req)) {
        (false, _) => (false, None),
        (true, None) => (
            session_is_current(&state.pool, user_id, session_id, last_used_every).await?,
            None,
        ),
        (true, Some(page)) => {
            let read = async |conn: &AsyncPgConnection| (page.read)(conn, user_id).await;
            match session_is_current_reading(
                &state.pool,
                user_id,
                session_id,
                last_used_every,
                read,
            )
            .await?
            {
                Some(answer) => (true, Some(answer)),
                None => (false, None),
            }
        }
    };
    if !current {
        session.end_signed_in();
    } else if idle >= refresh_after {
        session.touch(signed_in, now)?;
    }
    Ok(answer)
}

/// How many seconds a replica's clock may be behind the one that wrote a timestamp: a
/// session or login stamped by another replica may look this far in the future.
pub const CLOCK_SKEW_SECS: i64 = 5;

/// Whether an age in whole seconds is below `limit`; a small negative age (clock skew
/// between replicas) counts as fresh, a large one (a forged or broken stamp) does not.
fn age_within(age_secs: i64, limit: std::time::Duration) -> bool {
    age_secs >= -CLOCK_SKEW_SECS && age_secs < i64::try_from(limit.as_secs()).unwrap_or(i64::MAX)
}

/// How stale `seen_at` may get before the cookie is rewritten: a quarter of the idle
/// limit, at most a minute, at least a second. Rewriting on every request would cost a
/// new `Set-Cookie` each time; waiting longer than the limit allows would end sessions
/// in use. Stamps are whole seconds, so the idle limit must be at least 2 s (config
/// refuses less): a session used every second then never reaches its limit.
pub fn idle_refresh_after_secs(idle_timeout: std::time::Duration) -> i64 {
    i64::try_from(idle_timeout.as_secs() / 4)
        .unwrap_or(i64::MAX)
        .clamp(1, 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_idle_clock_is_refreshed_every_quarter_of_the_limit_between_a_second_and_a_minute() {
        let after = |secs| idle_refresh_after_secs(Duration::from_secs(secs));
        assert_eq!(after(2), 1);
        assert_eq!(after(8), 2);
        assert_eq!(after(1800), 60);
        assert_eq!(after(86_400), 60);
    }

    #[test]
    fn only_the_four_newest_logins_are_kept_and_the_newest_keep_their_next_first() {
        let login = |n: usize| {
            PendingLogin::new(
                &format!("tok-{n}"),
                Some(format!("/{n}{}", "a".repeat(510))),
            )
        };
        let kept = bounded((0..6).map(login).collect());

        assert_eq!(kept.len(), MAX_PENDING_LOGINS);
        assert!(kept[0].matches_token("tok-2"), "the two oldest went");
        let nexts: Vec<bool> = kept.iter().map(|login| login.next.is_some()).collect();
        assert_eq!(
            nexts,
            [false, false, true, true],
            "1024 bytes: two 512-byte nexts"
        );
        let short = bounded(vec![
            PendingLogin::new("a", Some("/notes".into())),
            PendingLogin::new("b", None),
        ]);
        assert_eq!(short[0].next.as_deref(), Some("/notes"));
    }

    #[test]
    fn ages_within_a_few_seconds_of_clock_skew_count_as_fresh() {
        let limit = Duration::from_secs(10);
        assert!(age_within(0, limit));
        assert!(age_within(9, limit));
        assert!(!age_within(10, limit));
        assert!(age_within(-CLOCK_SKEW_SECS, limit));
        assert!(!age_within(-CLOCK_SKEW_SECS - 1, limit));
    }
}
