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
use actix_web::{HttpResponse, web};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::accounts::link_account_by_sub;
use crate::config::LoginBinding;
use crate::error::{AppError, LoginRefusal};
use crate::routes::AppState;
use crate::session::{LoginSummary, PendingLogin, TypedSession, constant_time_eq};
use crate::xwms::{XwmsClient, XwmsError};

/// Longest callback token we pass on to XWMS; anything longer is not an XWMS token.
const MAX_TOKEN_CHARS: usize = 2048;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/xwms/auth").route(web::get().to(start_login)))
        .service(web::resource("/xwms/validateToken").route(web::get().to(finish_login)))
        .service(web::resource("/logout").route(web::post().to(log_out)));
}

/// (1)+(2) Asks XWMS for a login URL and sends the browser there.
async fn start_login(
    state: web::Data<AppState>,
    xwms: web::Data<XwmsClient>,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    let signed = xwms
        .sign_token(&state.redirect_uri)
        .await
        .map_err(AppError::Xwms)?;
    // XWMS has no `state` parameter, so the session remembers which token it issued:
    // the callback is only accepted in this browser, once, within the time limit.
    session.start_login(PendingLogin::new(signed.token.expose_secret()))?;
    // `parse_sign_token` already refused anything but an absolute http(s) URL.
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, signed.login_url.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

#[derive(Deserialize)]
struct CallbackQuery {
    token: Option<String>,
    /// XWMS's fallback redirect explains failures with these two parameters.
    xwmsmessage_status: Option<String>,
    xwmsmessage_message: Option<String>,
}

/// (3)+(4)+(5) XWMS sent the browser back: check the token belongs to this browser's
/// login, have XWMS verify it, link the account by `sub`, and start a fresh session.
///
/// The token never leaves this function: it is not logged, not rendered, and the
/// answer is a redirect, so the token URL is not kept in the history as a page.
async fn finish_login(
    state: web::Data<AppState>,
    xwms: web::Data<XwmsClient>,
    session: TypedSession,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    let CallbackQuery {
        token,
        xwmsmessage_status,
        xwmsmessage_message,
    } = query.into_inner();
    // Whatever happens next, this login attempt is used up.
    let pending = session.take_pending_login()?;

    let Some(token) = token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else {
        let provider_message = xwmsmessage_message.or(xwmsmessage_status).map(|message| {
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

    // Login CSRF defence: refuse before XWMS is asked anything.
    let pending = pending.ok_or(AppError::LoginRefused(LoginRefusal::NoPendingLogin))?;
    if pending.age_secs() < 0 || pending.age_secs() as u64 > state.login_max_age.as_secs() {
        return Err(AppError::LoginRefused(LoginRefusal::Expired));
    }
    if state.login_binding == LoginBinding::Token && !pending.matches_token(&token) {
        return Err(AppError::LoginRefused(LoginRefusal::TokenMismatch));
    }

    // (4) One attempt only: tokens are single use.
    let identity = xwms
        .verify_token(&token, &state.redirect_uri)
        .await
        .map_err(|err| match err {
            XwmsError::Refused { .. } => AppError::TokenRejected(err),
            other => AppError::Xwms(other),
        })?;

    // (5) The heart of it: the account is found by `sub`, never by email.
    let linked = link_account_by_sub(&state.pool, &identity).await?;
    log::info!(
        "login user_id={} created={} email_changed={}",
        linked.user_id,
        linked.created,
        linked.email_change.is_some()
    );

    let display_name = identity
        .name
        .as_deref()
        .or(identity.email.as_deref())
        .unwrap_or("XWMS user");
    session.log_in(
        linked.user_id,
        display_name,
        LoginSummary {
            account_created: linked.created,
            email_change: linked.email_change,
        },
    )?;

    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/profile"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // The callback URL holds the token: no Referer may carry it anywhere.
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .finish())
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf_token: String,
}

/// Ends the local session (XWMS has no logout endpoint). Requires the session's CSRF
/// token, so another site cannot log people out.
async fn log_out(
    session: TypedSession,
    form: Option<web::Form<LogoutForm>>,
) -> Result<HttpResponse, AppError> {
    if session.user_id()?.is_some() {
        let expected = session.csrf_token()?;
        let sent = form.as_ref().map(|form| form.csrf_token.as_str());
        match (expected.as_deref(), sent) {
            (Some(expected), Some(sent)) if constant_time_eq(expected, sent) => {}
            _ => return Err(AppError::Forbidden("logout without a valid CSRF token")),
        }
    }
    session.log_out();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
