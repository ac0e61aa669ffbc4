//! Health checks. `GET /health`: the database and XWMS, checked separately, for people
//! and monitoring. For orchestrators: `GET /health/live` (the process serves requests:
//! restart it if not) and `GET /health/ready` (it can serve signed-in users, i.e. the
//! database answers: send it traffic only then).
//!
//! 200 when the database answers (the app can serve signed-in users), 503 when it does
//! not. XWMS being down is reported but does not fail the check: restarting this app
//! would not fix XWMS. The XWMS check has a short budget of its own and its result is
//! reused for a while, so a slow XWMS cannot make health checks time out, and hitting
//! `/health` cannot be used to make the app call XWMS (with its secret) in a loop.

use std::time::{Duration, Instant};

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::db;
use crate::web::state::AppState;
use crate::xwms::XwmsClient;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health").route(web::get().to(health)))
        .service(web::resource("/health/live").route(web::get().to(live)))
        .service(web::resource("/health/ready").route(web::get().to(ready)));
}

#[derive(Serialize)]
struct Probe {
    status: &'static str,
}

fn probe(ok: bool) -> HttpResponse {
    let mut response = if ok {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response
        .insert_header(("Cache-Control", "no-store"))
        .json(Probe {
            status: if ok { "ok" } else { "unavailable" },
        })
}

/// Liveness: answering at all is the answer. It checks nothing else, so a database
/// outage never makes an orchestrator restart every replica (which would not help).
async fn live() -> HttpResponse {
    probe(true)
}

/// Readiness: the database answers (one `SELECT 1`). XWMS is not checked: when XWMS is
/// down, no replica could do better, and signed-in users can still be served.
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let database = db::ping(&state.pool).await;
    if let Err(err) = &database {
        log::warn!("readiness: database check failed: {err}");
    }
    probe(database.is_ok())
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

/// How long one XWMS check may take, and how long its answer is reused.
const XWMS_CHECK_BUDGET: Duration = Duration::from_secs(2);
const XWMS_CHECK_REUSE: Duration = Duration::from_secs(15);

/// The last XWMS check, shared by all workers.
///
/// An async lock held across the call makes it single-flight: while one check is under
/// way, every other `/health` waits for its answer instead of calling XWMS too, so a
/// burst of health checks (every replica's probe, or someone hammering `/health`) costs
/// XWMS at most one call per reuse period.
#[derive(Default)]
pub struct XwmsHealth(tokio::sync::Mutex<Option<(Instant, bool)>>);

impl XwmsHealth {
    async fn check(&self, xwms: &XwmsClient) -> Result<(), &'static str> {
        let mut last = self.0.lock().await;
        let ok = match *last {
            Some((at, ok)) if at.elapsed() < XWMS_CHECK_REUSE => ok,
            _ => {
                let ok = match tokio::time::timeout(XWMS_CHECK_BUDGET, xwms.info()).await {
                    Ok(Ok(())) => true,
                    Ok(Err(err)) => {
                        log::warn!("health: XWMS check failed: {err}");
                        false
                    }
                    Err(_) => {
                        log::warn!("health: XWMS did not answer within {XWMS_CHECK_BUDGET:?}");
                        false
                    }
                };
                *last = Some((Instant::now(), ok));
                ok
            }
        };
        if ok {
            Ok(())
        } else {
            Err("XWMS not answering")
        }
    }
}

async fn health(
    state: web::Data<AppState>,
    xwms: web::Data<XwmsClient>,
    xwms_health: web::Data<XwmsHealth>,
) -> HttpResponse {
    let (database, provider) = tokio::join!(db::ping(&state.pool), xwms_health.check(&xwms));
    if let Err(err) = &database {
        log::warn!("health: database check failed: {err}");
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use secrecy::SecretString;
    use url::Url;

    use super::*;
    use crate::support::config::XwmsCredentials;
    use crate::support::metrics::Metrics;
    use crate::xwms::client::XwmsConfig;

    /// A client of an XWMS that nothing answers for (port 1 of loopback).
    fn client_of_an_absent_xwms() -> XwmsClient {
        let api_url = Url::parse("http://127.0.0.1:1/api/").unwrap();
        XwmsClient::new(
            Arc::new(XwmsConfig {
                provider: XwmsConfig::provider_for(&api_url),
                api_url,
                credentials: XwmsCredentials {
                    client_id: "id".into(),
                    client_secret: SecretString::from("secret".to_owned()),
                    client_domain: "example.com".into(),
                },
                timeout: Duration::from_secs(1),
            }),
            Arc::new(Metrics::new().unwrap()),
        )
    }

    #[actix_web::test]
    async fn an_xwms_check_is_reused_for_its_period_and_then_made_again() {
        let xwms = client_of_an_absent_xwms();
        let checked = |at: Instant| XwmsHealth(tokio::sync::Mutex::new(Some((at, true))));

        let recent = checked(Instant::now());
        assert_eq!(recent.check(&xwms).await, Ok(()), "reused: XWMS not asked");

        let long_ago = Instant::now()
            .checked_sub(XWMS_CHECK_REUSE + Duration::from_secs(1))
            .unwrap();
        let stale = checked(long_ago);
        assert_eq!(
            stale.check(&xwms).await,
            Err("XWMS not answering"),
            "asked again, and it does not answer"
        );
    }
}
