//! The home page: what this is, and the way in.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::error::AppError;
use crate::routes::PageContext;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(home)));
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    page: PageContext,
}

async fn home(req: HttpRequest) -> Result<HttpResponse, AppError> {
    let html = HomePage {
        page: PageContext::from_http_request(&req),
    }
    .render()?;
    Ok(html_response(html))
}

/// A rendered page. Pages may show personal data, so browsers must not keep them:
/// after logout the back button must not bring a profile back.
pub fn html_response(html: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(html)
}
