//! The home page: what this is, and the way in.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::error::AppError;
use crate::pages::{PageContext, html_response};
use crate::session::page_context;

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
        page: page_context(&req),
    }
    .render()?;
    Ok(html_response(html))
}
