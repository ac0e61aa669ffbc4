//! The profile: the local account and the XWMS identity linked to it, and why.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::accounts::{Account, find_account};
use crate::activity::{EventKind, recent_events};
use crate::db::models::SecurityEvent;
use crate::error::AppError;
use crate::pages::{PageContext, html_response, see_other};
use crate::session::{LoginSummary, SignedInUser, TypedSession, page_context};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/profile").route(web::get().to(profile)));
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    page: PageContext,
    account: Account,
    last_login: LoginSummary,
    activity: Vec<SecurityEvent>,
}

/// How many recent security events the profile lists.
const RECENT_ACTIVITY: i64 = 10;

impl ProfilePage {
    fn email_or_none(email: &Option<String>) -> &str {
        email.as_deref().unwrap_or("none")
    }

    fn describe_event(kind: &EventKind) -> &'static str {
        kind.describe()
    }
}

/// Signed in only: `SignedInUser` sends anyone else home.
async fn profile(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    user: SignedInUser,
) -> Result<HttpResponse, AppError> {
    let user_id = user.user_id;
    let Some(account) = find_account(&state.pool, user_id).await? else {
        // The account was deleted since the session middleware looked: end the session.
        session.end_signed_in();
        return Ok(see_other("/"));
    };
    let activity = recent_events(&state.pool, user_id, RECENT_ACTIVITY).await?;
    let html = ProfilePage {
        page: page_context(&req),
        account,
        last_login: session.last_login()?.unwrap_or_default(),
        activity,
    }
    .render()?;
    Ok(html_response(html))
}
