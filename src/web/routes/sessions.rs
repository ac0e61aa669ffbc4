//! "Your devices": every signed-in session of the account, and a way to end any other.
//!
//! - `GET /profile/sessions`: the list, the most recently used first: when each session
//!   started and was last used (to the minute at which it was last recorded, at most a
//!   minute behind), and its browser and system. The one asking is "this device" (logging
//!   out ends it); every other has an "End this session" button.
//! - `POST /profile/sessions/end`: ends one (a `SameSiteForm` with the session's CSRF
//!   token, and a recent login: `web::step_up`). Its record goes, so it is signed out at
//!   its next request on every replica; the activity log says so.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::activity::ClientInfo;
use crate::domain::session_records::{SessionListing, end_other_session, list_sessions};
use crate::support::devices::Device;
use crate::support::pages::{PageContext, html_response, see_other};
use crate::web::csrf::{CsrfProtected, SameSiteForm};
use crate::web::error::AppError;
use crate::web::session_state::{TypedSession, page_context};
use crate::web::state::AppState;
use crate::web::step_up::refusal_unless_recent_login;

const SESSIONS_PATH: &str = "/profile/sessions";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(SESSIONS_PATH).route(web::get().to(sessions_page)))
        .service(web::resource("/profile/sessions/end").route(web::post().to(end_session)));
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    page: PageContext,
    csrf_token: String,
    sessions: Vec<(SessionListing, String)>,
    /// After an "End this session": whether it ended now (`true`) or had already ended.
    ended: Option<bool>,
}

#[derive(Deserialize)]
struct SessionsQuery {
    /// Set by the redirect after ending a session: `1` when it ended now, `0` when it had
    /// ended already. Only that is read from the URL: the page shows no text from it.
    ended: Option<String>,
}

/// Signed in only: anyone else is sent home (as `SignedInUser` does; these handlers need
/// the session's own id too, to know which one is "this device").
async fn sessions_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    query: web::Query<SessionsQuery>,
) -> Result<HttpResponse, AppError> {
    let Some(signed_in) = session.signed_in()? else {
        return Ok(see_other("/"));
    };
    let sessions = list_sessions(
        &state.pool,
        signed_in.user_id,
        &signed_in.session_id,
        state.session_limits(),
    )
    .await?;
    let page = page_context(&req);
    let sessions = sessions
        .into_iter()
        .map(|listing| {
            let device = Device::of(listing.user_agent.as_deref()).describe(&page.lang);
            (listing, device)
        })
        .collect();
    let html = SessionsPage {
        csrf_token: session.csrf_token_or_new()?,
        sessions,
        ended: query.ended.as_deref().map(|ended| ended == "1"),
        page,
    }
    .render()?;
    Ok(html_response(html))
}

/// The "End this session" form: which session (its record's id), and the CSRF token
/// every form of ours carries.
#[derive(Deserialize)]
struct EndSessionForm {
    csrf_token: String,
    session: i64,
}

impl CsrfProtected for EndSessionForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Ends another session of this account. Only this account's, and never the one asking
/// (`end_other_session` scopes the delete by both); one that is not there (ended
/// meanwhile, or not this account's) changes nothing and the page says it had ended.
async fn end_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    client: ClientInfo,
    form: SameSiteForm<EndSessionForm>,
) -> Result<HttpResponse, AppError> {
    let Some(signed_in) = session.signed_in()? else {
        return Ok(see_other("/"));
    };
    // A stolen session must not be able to throw its owner out.
    if let Some(refusal) = refusal_unless_recent_login(&req, &state, &session, SESSIONS_PATH)? {
        return Ok(refusal);
    }
    let ended = end_other_session(
        &state.pool,
        signed_in.user_id,
        form.0.session,
        &signed_in.session_id,
        &client,
    )
    .await?;
    let ended = if ended { 1 } else { 0 };
    Ok(see_other(&format!("{SESSIONS_PATH}?ended={ended}")))
}
