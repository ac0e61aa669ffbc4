//! `/static/*`: the stylesheet and icons, compiled into the binary so a deployed image
//! is one file plus its environment.

use actix_web::{HttpResponse, web};

use crate::web::error::AppError;

const FILES: &[(&str, &str, &[u8])] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../static/style.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../../static/favicon.svg"),
    ),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/static/{file}").route(web::get().to(static_file)))
        .service(web::resource("/favicon.ico").route(web::get().to(favicon)));
}

async fn static_file(file: web::Path<String>) -> Result<HttpResponse, AppError> {
    serve(&file)
}

async fn favicon() -> Result<HttpResponse, AppError> {
    serve("favicon.svg")
}

fn serve(name: &str) -> Result<HttpResponse, AppError> {
    let (_, content_type, bytes) = FILES
        .iter()
        .find(|(file, _, _)| *file == name)
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(*content_type)
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(*bytes))
}
