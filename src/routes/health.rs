//! `GET /health`: the database and XWMS, checked separately.
//!
//! 200 when the database answers (the app can serve signed-in users), 503 when it does
//! not. XWMS being down is reported but does not fail the check: restarting this app
//! would not fix XWMS.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::db;
use crate::routes::AppState;
use crate::xwms::XwmsClient;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health").route(web::get().to(health)));
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    database: Check,
    xwms: Check,
    provider: &'static str,
}

#[derive(Serialize)]
struct Check {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

async fn health(state: web::Data<AppState>, xwms: web::Data<XwmsClient>) -> HttpResponse {
    let (database, provider) = tokio::join!(db::ping(&state.pool), xwms.info());
    if let Err(err) = &database {
        log::warn!("health: database check failed: {err}");
    }
    if let Err(err) = &provider {
        log::warn!("health: XWMS check failed: {err}");
    }
    let body = Health {
        status: if database.is_ok() {
            "ok"
        } else {
            "unavailable"
        },
        database: Check {
            ok: database.is_ok(),
            error: database.is_err().then_some("database not answering"),
        },
        xwms: Check {
            ok: provider.is_ok(),
            error: provider.is_err().then_some("XWMS not answering"),
        },
        provider: if state.sandbox { "sandbox" } else { "xwms" },
    };
    let mut response = if database.is_ok() {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}
