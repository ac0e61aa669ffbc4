//! The home page: what this is, and the way in; and the language switch.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::support::i18n::{LANGUAGE_COOKIE, Lang};
use crate::support::pages::{PageContext, html_response, see_other};
use crate::support::urls::safe_next_path;
use crate::web::error::AppError;
use crate::web::session_state::page_context;
use crate::web::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(home)))
        .service(web::resource("/language/{tag}").route(web::get().to(switch_language)));
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    page: PageContext,
}

async fn home(req: HttpRequest) -> Result<HttpResponse, AppError> {
    let html = HomePage {
        page: page_context(&req),
    }
    .render()?;
    Ok(html_response(html))
}

#[derive(Deserialize)]
struct SwitchQuery {
    /// The page to return to; honoured only for same-site paths.
    next: Option<String>,
}

/// How long the language switch's choice is remembered.
const LANGUAGE_COOKIE_DAYS: i64 = 365;

/// The language switch (a link in every page's footer): remembers the choice in a
/// cookie, no login needed, and goes back to the page it was clicked on. A language the
/// site does not speak is a 404.
async fn switch_language(
    state: web::Data<AppState>,
    tag: web::Path<String>,
    query: web::Query<SwitchQuery>,
) -> Result<HttpResponse, AppError> {
    let lang = Lang::from_tag(&tag).ok_or(AppError::NotFound)?;
    let back = query
        .next
        .as_deref()
        .and_then(safe_next_path)
        .unwrap_or_else(|| "/".to_owned());
    let cookie = Cookie::build(LANGUAGE_COOKIE, lang.tag())
        .path("/")
        .max_age(CookieDuration::days(LANGUAGE_COOKIE_DAYS))
        .same_site(SameSite::Lax)
        .http_only(true)
        .secure(state.cookie_secure)
        .finish();
    let mut response = see_other(&back);
    response.add_cookie(&cookie).map_err(AppError::internal)?;
    Ok(response)
}
