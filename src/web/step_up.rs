//! Confirm it's you: what cannot be undone (deleting the account, downloading the data,
//! logging out everywhere) needs a login through XWMS of at most `STEP_UP_MAX_AGE_SECS`.
//!
//! There is no password to ask for, so XWMS is asked again: an older login gets a page
//! that says why, with a "Confirm with XWMS" button (`POST /xwms/confirm`). That starts a
//! login bound to this browser like every login, marked with the signed-in user; the
//! callback refuses it unless it comes back for the same person (`routes::auth`), and then
//! returns to the page of the action, where it can be done.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::support::pages::{CONTENT_SECURITY_POLICY_FORM_TO_XWMS, PageContext, html_response};
use crate::web::error::AppError;
use crate::web::session_state::{TypedSession, page_context};
use crate::web::state::AppState;

#[derive(Template)]
#[template(path = "confirm_needed.html")]
struct ConfirmNeededPage {
    page: PageContext,
    csrf_token: String,
    /// The page of the action, where the confirmation returns.
    next: String,
    minutes: u64,
}

/// `None` when the signed-in person logged in through XWMS recently enough for what
/// cannot be undone; otherwise the answer that refuses it (403, nothing done): a page
/// saying why, whose button confirms with XWMS and comes back to `action_page`.
pub fn refusal_unless_recent_login(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    action_page: &str,
) -> Result<Option<HttpResponse>, AppError> {
    let recent = session.signed_in()?.is_some_and(|signed_in| {
        signed_in.logged_in_within(state.step_up_max_age, state.clock.now_secs())
    });
    if recent {
        return Ok(None);
    }
    let html = ConfirmNeededPage {
        page: page_context(req),
        csrf_token: session.csrf_token_or_new()?,
        next: action_page.to_owned(),
        minutes: state.step_up_max_age.as_secs().div_ceil(60),
    }
    .render()?;
    let mut response = html_response(html);
    *response.status_mut() = StatusCode::FORBIDDEN;
    // Its form posts here, and the answer redirects to XWMS: `form-action 'self'` would
    // make the browser stop at that redirect (as for the "Continue to XWMS" page).
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CONTENT_SECURITY_POLICY_FORM_TO_XWMS),
    );
    Ok(Some(response))
}
