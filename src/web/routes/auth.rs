//! The login flow: start at XWMS, come back with a token, link the account, log out.
//!
//! ```text
//! browser --GET /xwms/auth--> app --POST sign-token--> XWMS        (1) start
//! browser <--303 XWMS login page-- app                              (2) send the browser to XWMS
//! browser --log in at XWMS--> XWMS --303 /xwms/validateToken?token-->(3) XWMS sends it back
//! app --POST sign-token-verify--> XWMS: {sub, name, email, ...}      (4) trade token for identity
//! app: find-or-create user by sub (one transaction); new session     (5) link by sub, log in
//! browser <--303 /profile-- app
//! ```

use actix_web::http::header;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::domain::accounts::{
    LinkedAccount, VerifiedIdentity, link_account_by_sub, user_of_identity,
};
use crate::domain::activity::{ClientInfo, record_refused_login};
use crate::domain::session_records::{
    CurrentSession, SessionPlan, claim_login_token, end_all_sessions, end_session,
};
use crate::support::config::{CALLBACK_PATH, LoginBinding};
use crate::support::crypto::random_token;
use crate::support::i18n::Lang;
use crate::support::metrics::Metrics;
use crate::support::pages::{
    CONTENT_SECURITY_POLICY_FORM_TO_XWMS, PageContext, html_response, see_other,
};
use crate::support::urls::safe_next_path;
use crate::web::client_info::client_ip;
use crate::web::csrf::{
    CsrfProtected, SameSiteForm, check_same_site_form, comes_from_another_site,
    login_start_needs_a_click,
};
use crate::web::error::{AppError, LoginRefusal};
use crate::web::error_page::offer_login_retry;
use crate::web::rate_limit::{CallbackStep, RateLimit, count_and_claim, limit_login_steps};
use crate::web::session_state::{
    LoginSummary, PendingLogin, SignedIn, SignedInUser, TypedSession, page_context,
};
use crate::web::state::AppState;
use crate::web::step_up::refusal_unless_recent_login;
use crate::xwms::{XwmsClient, XwmsError};

/// Longest callback token we pass on to XWMS; anything longer is not an XWMS token.
const MAX_TOKEN_CHARS: usize = 2048;

/// The two login steps share one per-IP rate limit (429 with `Retry-After` past it).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/xwms/auth")
            .wrap(from_fn(limit_login_steps))
            .route(web::get().to(start_login))
            .route(web::post().to(continue_login)),
    )
    .service(
        // The callback counts against the same limit in its own step 2
        // (`count_callback`), where the token's claim rides on the limit's statement.
        web::resource(CALLBACK_PATH)
            // Every answer here, refusals included, is on a URL that may hold a live
            // token: no Referer may carry it anywhere.
            .wrap(DefaultHeaders::new().add((header::REFERRER_POLICY, "no-referrer")))
            .route(web::get().to(finish_login)),
    )
    .service(
        web::resource("/xwms/confirm")
            .wrap(from_fn(limit_login_steps))
            .route(web::post().to(confirm_with_xwms)),
    )
    .service(web::resource("/logout").route(web::post().to(log_out)))
    .service(web::resource(LOGGED_OUT_PATH).route(web::get().to(logged_out)))
    .service(web::resource("/logout/everywhere").route(web::post().to(log_out_everywhere)));
}

#[derive(Deserialize)]
struct StartQuery {
    /// Where to return after the login; honoured only for same-site paths.
    next: Option<String>,
}

/// "Continue to XWMS": the page a login started by another site gets instead of a
/// redirect, so that only a click on our own page can create a pending login.
#[derive(Template)]
#[template(path = "continue_login.html")]
struct ContinuePage {
    page: crate::support::pages::PageContext,
    csrf_token: String,
    next: Option<String>,
}

/// (1)+(2) Asks XWMS for a login URL and sends the browser there.
///
/// Unless another site sent the browser here: then it gets the "Continue to XWMS" page.
/// Otherwise a site could open `/xwms/auth` in a window (a top-level navigation, so our
/// Lax cookie comes along and a pending login is stored), then send that window to our
/// callback with a token of its own; with `XWMS_LOGIN_BINDING=session` that would log
/// the victim in as the attacker (login CSRF).
async fn start_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    xwms: web::Data<XwmsClient>,
    metrics: web::Data<Metrics>,
    session: TypedSession,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, AppError> {
    let next = query.into_inner().next.map(|raw| safe_next_or_home(&raw));
    if login_start_needs_a_click(&req, &state) {
        let html = ContinuePage {
            csrf_token: session.csrf_token_or_new()?,
            page: page_context(&req),
            next,
        }
        .render()?;
        let mut response = html_response(html);
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(CONTENT_SECURITY_POLICY_FORM_TO_XWMS),
        );
        return Ok(response);
    }
    counted(
        &metrics,
        redirect_to_xwms(&state, &xwms, &session, next, None).await,
    )
}

#[derive(Deserialize)]
struct ContinueForm {
    csrf_token: String,
    next: Option<String>,
}

impl CsrfProtected for ContinueForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// The "Continue to XWMS" button: a same-site POST carrying the session's CSRF token
/// (`SameSiteForm` refuses anything else with 403 before this runs).
async fn continue_login(
    state: web::Data<AppState>,
    xwms: web::Data<XwmsClient>,
    metrics: web::Data<Metrics>,
    session: TypedSession,
    form: SameSiteForm<ContinueForm>,
) -> Result<HttpResponse, AppError> {
    let next = form.0.next.map(|raw| safe_next_or_home(&raw));
    counted(
        &metrics,
        redirect_to_xwms(&state, &xwms, &session, next, None).await,
    )
}

fn counted(
    metrics: &Metrics,
    outcome: Result<HttpResponse, AppError>,
) -> Result<HttpResponse, AppError> {
    match &outcome {
        Ok(_) => metrics.login_started(),
        Err(err) => metrics.login_failed(err.reason()),
    }
    outcome
}

/// An unsafe `next` is not an error, just ignored: the login goes home afterwards.
fn safe_next_or_home(raw: &str) -> String {
    safe_next_path(raw).unwrap_or_else(|| "/".to_owned())
}

/// Starts a login at XWMS and sends the browser there. `confirms_user`: a "Confirm with
/// XWMS" of this signed-in user, whose callback accepts no one else.
async fn redirect_to_xwms(
    state: &AppState,
    xwms: &XwmsClient,
    session: &TypedSession,
    next: Option<String>,
    confirms_user: Option<i64>,
) -> Result<HttpResponse, AppError> {
    let signed = xwms
        .sign_token(&state.redirect_uri)
        .await
        .map_err(AppError::Xwms)?;
    // XWMS has no `state` parameter, so the session remembers which token it issued:
    // the callback is only accepted in this browser, once, within the time limit.
    let token = signed.token.expose_secret();
    session.start_login(match confirms_user {
        Some(user_id) => PendingLogin::confirming(token, next, user_id),
        None => PendingLogin::new(token, next),
    })?;
    // `parse_sign_token` already refused anything but an absolute http(s) URL.
    Ok(see_other(signed.login_url.as_str()))
}

/// "Confirm with XWMS" (`web::step_up`): a login like any other, from our own page with
/// the session's CSRF token, marked with the signed-in user so that the callback refuses
/// it for anyone else; it comes back to `next`, the page of the action.
async fn confirm_with_xwms(
    state: web::Data<AppState>,
    xwms: web::Data<XwmsClient>,
    metrics: web::Data<Metrics>,
    session: TypedSession,
    user: SignedInUser,
    form: SameSiteForm<ContinueForm>,
) -> Result<HttpResponse, AppError> {
    let next = form.0.next.map(|raw| safe_next_or_home(&raw));
    counted(
        &metrics,
        redirect_to_xwms(&state, &xwms, &session, next, Some(user.user_id)).await,
    )
}

#[derive(Deserialize)]
struct CallbackQuery {
    token: Option<String>,
    /// XWMS's fallback redirect explains failures with these two parameters.
    xwmsmessage_status: Option<String>,
    xwmsmessage_message: Option<String>,
}

/// XWMS sent the browser back: the five steps of [`complete_login`], then the one place
/// that records how the login ended (the metrics, and the event of a refused login).
///
/// The token never leaves this function: it is not logged, not rendered, and the
/// answer is a redirect, so the token URL is not kept in the history as a page.
#[allow(
    clippy::too_many_arguments,
    reason = "each argument is an actix extractor"
)]
async fn finish_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    xwms: web::Data<XwmsClient>,
    session: TypedSession,
    client: ClientInfo,
    lang: Lang,
    metrics: web::Data<Metrics>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    let outcome = complete_login(
        &req,
        &state,
        &xwms,
        &session,
        &client,
        &lang,
        query.into_inner(),
    )
    .await;
    record_login_outcome(&state, &metrics, &client, &outcome).await;
    // (`Referrer-Policy: no-referrer` is added to every answer of this route in `configure`.)
    outcome.map(|login| see_other(&login.destination))
}

/// A login that went through: where the browser goes now, and whether it made an account.
struct CompletedLogin {
    destination: String,
    account_created: bool,
}

/// The login's return, in five steps. Each refuses with its own [`AppError`], and none
/// changes anything before the one that may: a stray callback (an old tab, a link from
/// another site) leaves the session and every login under way as they were.
async fn complete_login(
    req: &HttpRequest,
    state: &AppState,
    xwms: &XwmsClient,
    session: &TypedSession,
    client: &ClientInfo,
    lang: &Lang,
    query: CallbackQuery,
) -> Result<CompletedLogin, AppError> {
    // Only read here: a login under way is used up when XWMS vouches for its token.
    let pending_logins = session.pending_logins();
    // 1. The token XWMS sent back, or what XWMS said instead.
    let token = match token_of_callback(req, query, &pending_logins) {
        Ok(token) => token,
        Err(refused) => {
            count_callback(req, state, None).await?;
            return Err(refused);
        }
    };
    // 2. The login under way in this browser that the token is for, and the token used
    //    only once (login CSRF and replay defences: XWMS is not asked anything before);
    //    the request counted against the rate limit first.
    let pending = pending_login_of(req, state, &pending_logins, &token).await?;
    // 3. XWMS vouches for the token and tells who this is.
    let identity = verify_with_xwms(state, xwms, &token).await?;
    // A "Confirm with XWMS" must come back for the person signed in: another person's
    // login is used up and changes nothing (no account, no session).
    if let Some(user_id) = pending.confirms_user
        && user_of_identity(&state.pool, &identity).await? != Some(user_id)
    {
        session.finish_pending_login(pending)?;
        return Err(AppError::LoginRefused(LoginRefusal::NotTheSamePerson));
    }
    // 4. The heart of it: the account is found by `sub`, never by email; in the same
    //    transaction, the session: this browser's goes on if it is the same person's,
    //    else a new one is recorded (and someone else's here ends).
    let plan = SessionPlan {
        current: session.signed_in()?.map(|signed_in| CurrentSession {
            user_id: signed_in.user_id,
            session_id: signed_in.session_id,
        }),
        new_session_id: random_token(),
    };
    let linked = link_account_by_sub(&state.pool, &identity, &plan, client, lang).await?;
    log::info!(
        "login user_id={} created={} email_changed={}",
        linked.user_id,
        linked.created,
        linked.email_change.is_some()
    );
    // 5. Signed in: a new session, or the same person's from another tab goes on.
    sign_in(
        state,
        session,
        pending,
        &identity,
        &linked,
        plan.new_session_id,
    )?;
    Ok(CompletedLogin {
        destination: pending
            .next
            .clone()
            .unwrap_or_else(|| "/profile".to_owned()),
        account_created: linked.created,
    })
}

/// Step 1: the token of the callback's query, trimmed; a missing one is
/// [`AppError::MissingToken`] (with XWMS's own message, for a browser that was logging
/// in), a malformed one is refused.
fn token_of_callback(
    req: &HttpRequest,
    query: CallbackQuery,
    pending_logins: &[PendingLogin],
) -> Result<String, AppError> {
    let CallbackQuery {
        token,
        xwmsmessage_status,
        xwmsmessage_message,
    } = query;
    let Some(token) = token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        // "Log in again" goes where the newest login was going.
        offer_login_retry(req, pending_logins.last().and_then(|p| p.next.clone()));
        // XWMS's message is shown only to a browser that was logging in: otherwise anyone
        // could link to this page with their own "XWMS said: ..." text.
        let provider_message = xwmsmessage_message
            .or(xwmsmessage_status)
            .filter(|_| !pending_logins.is_empty())
            .map(|message| {
                message
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect()
            });
        return Err(AppError::MissingToken { provider_message });
    };
    if token.chars().count() > MAX_TOKEN_CHARS || token.chars().any(char::is_control) {
        return Err(AppError::LoginRefused(LoginRefusal::MalformedToken));
    }
    Ok(token)
}

/// Step 2: the login under way that `token` belongs to, still in time, and the token
/// claimed on the server (refused when it was used before). The request is counted
/// against the rate limit before either answer counts.
async fn pending_login_of<'a>(
    req: &HttpRequest,
    state: &AppState,
    pending_logins: &'a [PendingLogin],
    token: &str,
) -> Result<&'a PendingLogin, AppError> {
    // Login CSRF defence: refuse before XWMS is asked anything.
    let pending = login_of_token(
        pending_logins,
        token,
        state.login_binding,
        state.login_max_age,
    );
    if let Some(pending) = pending {
        // From here on, "Log in again" keeps where this login was going.
        offer_login_retry(req, pending.next.clone());
    }
    let pending = match pending {
        Some(pending) if pending.is_fresh(state.login_max_age) => Ok(pending),
        Some(_) => Err(LoginRefusal::Expired),
        None if pending_logins.is_empty() => Err(LoginRefusal::NoPendingLogin),
        None => Err(LoginRefusal::TokenMismatch),
    };
    // The browser's cookie says "once", but a copy of the cookie from before this
    // callback would say it again: the server remembers every token it has used, for
    // as long as a pending login lives, and refuses it a second time. Only a login that
    // may go on claims its token.
    let claimed = count_callback(req, state, pending.is_ok().then_some(token)).await?;
    let pending = pending.map_err(AppError::LoginRefused)?;
    if !claimed {
        return Err(AppError::LoginRefused(LoginRefusal::TokenReused));
    }
    Ok(pending)
}

/// The callback's rate limit, the one `limit_login_steps` applies to the other login
/// steps, and the claim of `token` (given when the callback may go on): whether it was
/// claimed (false: used before). Past the limit: [`AppError::TooManyRequests`].
///
/// Every callback that claims no token counts, a refused one too (its event is a write).
/// One whose token is claimed counts only with the `session` binding:
///
/// - `token`: the token matches a login under way in this browser, so a start that this
///   limit counted was issued it, and a token is claimed once. So each counted start buys
///   at most one uncounted claim, one `sign-token-verify` call and one event (a login, or
///   XWMS's refusal), and counting them again would buy nothing: the token is claimed
///   alone, and only when it was used before is the callback counted (the claim then
///   goes first: a refused replay costs two statements, and writes nothing).
/// - `session`: any token matches the browser's newest login, so nothing bounds the
///   claims but this limit. The claim rides on the limit's statement and is made only
///   when the limit lets the callback through (`count_and_claim`).
async fn count_callback(
    req: &HttpRequest,
    state: &AppState,
    token: Option<&str>,
) -> Result<bool, AppError> {
    let token = match (state.login_binding, token) {
        (LoginBinding::Token, Some(token)) => {
            if claim_login_token(&state.pool, token).await? {
                return Ok(true);
            }
            // Used before: counted, as any other refusal, and nothing more to claim.
            None
        }
        (_, token) => token,
    };
    let client = client_ip(
        req.peer_addr().map(|addr| addr.ip()),
        req.headers(),
        &state.trusted_proxies,
    );
    // (`app::startup` adds the limit as app data: an app built without it counts nothing.)
    let limit = req
        .app_data::<web::Data<RateLimit>>()
        .map(|limit| *limit.get_ref());
    match count_and_claim(&state.pool, limit, &state.ip_hash_salt, client, token).await? {
        CallbackStep::Refused { retry_after } => Err(AppError::TooManyRequests { retry_after }),
        CallbackStep::Allowed { token_claimed } => Ok(token_claimed),
    }
}

/// Which of this browser's logins under way a callback with `token` is for, if any.
///
/// `token` binding: the one whose token it is. `session` binding has no token to match,
/// so it takes the newest login still in time (else the newest): the one whose XWMS page
/// the person most likely just used. Nothing is changed here.
fn login_of_token<'a>(
    pending_logins: &'a [PendingLogin],
    token: &str,
    binding: LoginBinding,
    max_age: std::time::Duration,
) -> Option<&'a PendingLogin> {
    let mut newest_first = pending_logins.iter().rev();
    match binding {
        LoginBinding::Token => newest_first.find(|pending| pending.matches_token(token)),
        LoginBinding::Session => newest_first
            .find(|pending| pending.is_fresh(max_age))
            .or_else(|| pending_logins.last()),
    }
}

/// Step 3: XWMS's `sign-token-verify`, one attempt only (tokens are single use).
async fn verify_with_xwms(
    state: &AppState,
    xwms: &XwmsClient,
    token: &str,
) -> Result<VerifiedIdentity, AppError> {
    xwms.verify_token(token, &state.redirect_uri)
        .await
        .map_err(|err| match err {
            // XWMS answered with its error envelope: the token is not (or no longer) valid.
            XwmsError::Refused { .. } => AppError::TokenRejected(err),
            // Anything else, a 401/403 (`Unauthorized`: our credentials) included, is
            // ours or XWMS's, not the user's.
            other => AppError::Xwms(other),
        })
}

/// Step 5: this login is used up (the browser's others stay), and the browser is signed
/// in as the linked user.
fn sign_in(
    state: &AppState,
    session: &TypedSession,
    pending: &PendingLogin,
    identity: &VerifiedIdentity,
    linked: &LinkedAccount,
    new_session_id: String,
) -> Result<(), AppError> {
    session.finish_pending_login(pending)?;
    let summary = LoginSummary {
        account_created: linked.created,
        email_change: linked.email_change.clone(),
    };
    if linked.session_kept {
        // The same person, from a second tab or a "Confirm with XWMS": the session they
        // have goes on, so the forms already open in the other tab (their CSRF token)
        // keep working, and it now counts as a fresh login.
        session.note_login_change(summary)?;
        session.note_confirmed(state.clock.now_secs())?;
    } else {
        let display_name = identity
            .name
            .as_deref()
            .or(identity.email.as_deref())
            .unwrap_or("XWMS user");
        session.log_in(
            state.clock.now_secs(),
            linked.user_id,
            new_session_id,
            display_name,
            summary,
        )?;
    }
    Ok(())
}

/// The one place a login's end is recorded: the metrics, and for a refused login its
/// event in the activity log (a refused login changes nothing else, so its event stands
/// alone). Failing to record never changes the answer.
async fn record_login_outcome(
    state: &AppState,
    metrics: &Metrics,
    client: &ClientInfo,
    outcome: &Result<CompletedLogin, AppError>,
) {
    match outcome {
        // Past the rate limit: not a login attempt (as on `/xwms/auth`, nothing counted).
        Err(AppError::TooManyRequests { .. }) => return,
        Ok(login) => metrics.login_succeeded(login.account_created),
        Err(err) => metrics.login_failed(err.reason()),
    }
    if let Err(
        err @ (AppError::MissingToken { .. }
        | AppError::LoginRefused(_)
        | AppError::TokenRejected(_)),
    ) = outcome
        && let Err(db_err) = record_refused_login(&state.pool, &err.to_string(), client).await
    {
        log::warn!("could not record a refused login: {db_err}");
    }
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf_token: String,
}

/// "Log out": ends this session (XWMS has no logout endpoint). Its record goes, so a copy
/// of the cookie dies too; other devices stay signed in.
async fn log_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    client: ClientInfo,
    form: Option<web::Form<LogoutForm>>,
) -> Result<HttpResponse, AppError> {
    if let Some(signed_in) = checked_logout(&req, &state, &session, form.as_deref())? {
        end_session(
            &state.pool,
            signed_in.user_id,
            &signed_in.session_id,
            &client,
        )
        .await?;
    }
    session.log_out();
    Ok(see_other(LOGGED_OUT_PATH))
}

/// "Log out on all devices": every record of the account's sessions goes, ending them all.
async fn log_out_everywhere(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    client: ClientInfo,
    form: Option<web::Form<LogoutForm>>,
) -> Result<HttpResponse, AppError> {
    if let Some(signed_in) = checked_logout(&req, &state, &session, form.as_deref())? {
        if let Some(refusal) = refusal_unless_recent_login(&req, &state, &session, "/profile")? {
            return Ok(refusal);
        }
        end_all_sessions(&state.pool, signed_in.user_id, &client).await?;
    }
    session.log_out();
    Ok(see_other(&format!("{LOGGED_OUT_PATH}?everywhere=1")))
}

/// Where both logouts end.
const LOGGED_OUT_PATH: &str = "/logged-out";

#[derive(Template)]
#[template(path = "logged_out.html")]
struct LoggedOutPage {
    page: PageContext,
    everywhere: bool,
    account_url: Option<String>,
}

#[derive(Deserialize)]
struct LoggedOutQuery {
    everywhere: Option<String>,
}

/// After a logout: this site has signed the browser out, but XWMS has no logout of its
/// own to call, so the person may still be signed in there (the next "Login with XWMS" may
/// go straight through). Says so plainly, and links to XWMS's account page when
/// `XWMS_ACCOUNT_URL` is set (not for the sandbox, which keeps no login). Anyone may open
/// it: it holds nothing of anyone.
async fn logged_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LoggedOutQuery>,
) -> Result<HttpResponse, AppError> {
    let html = LoggedOutPage {
        page: page_context(&req),
        everywhere: query.everywhere.is_some(),
        account_url: state.xwms_account_url.as_ref().map(ToString::to_string),
    }
    .render()?;
    Ok(html_response(html))
}

/// Both logouts require the session's CSRF token and refuse cross-site requests, so
/// another site cannot log people out. Returns the signed-in session, if any.
fn checked_logout(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    form: Option<&LogoutForm>,
) -> Result<Option<SignedIn>, AppError> {
    let Some(signed_in) = session.signed_in()? else {
        if comes_from_another_site(req, state) {
            return Err(AppError::Forbidden("cross-site form post"));
        }
        return Ok(None);
    };
    check_same_site_form(
        req,
        state,
        session,
        form.map(|form| form.csrf_token.as_str()),
    )?;
    Ok(Some(signed_in))
}
