//! `GET /metrics`: the login flow's counters in the Prometheus text format.
//!
//! In production `/metrics` is off unless `METRICS_ENABLED=true` (open) or `METRICS_TOKEN`
//! is set (then, in any environment, it is served only with `Authorization: Bearer
//! <token>`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::{ExposeSecret, SecretString};

use crate::support::crypto::constant_time_eq;
use crate::support::metrics::Metrics;
use crate::web::error::AppError;

/// Who may read `/metrics`.
#[derive(Clone)]
pub enum MetricsAccess {
    /// Not served (the route answers 404).
    Off,
    Open,
    /// Requires `Authorization: Bearer <token>`.
    Token(SecretString),
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/metrics").route(web::get().to(metrics)));
}

async fn metrics(
    req: HttpRequest,
    metrics: web::Data<Metrics>,
    access: web::Data<MetricsAccess>,
) -> Result<HttpResponse, AppError> {
    match access.get_ref() {
        MetricsAccess::Off => return Err(AppError::NotFound),
        MetricsAccess::Open => {}
        MetricsAccess::Token(expected) => {
            let sent = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .unwrap_or("");
            if !constant_time_eq(sent, expected.expose_secret()) {
                return Err(AppError::Forbidden(
                    "metrics without the right bearer token",
                ));
            }
        }
    }
    let body = metrics.render().map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}
