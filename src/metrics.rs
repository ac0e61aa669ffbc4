//! Prometheus metrics for the login flow, served at `GET /metrics` in the text format.
//!
//! Each app has its own registry (no global state), so tests and several apps in one
//! process do not mix their numbers. In production `/metrics` is off unless
//! `METRICS_ENABLED=true` (open) or `METRICS_TOKEN` is set (then, in any environment, it
//! is served only with `Authorization: Bearer <token>`).

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};
use secrecy::{ExposeSecret, SecretString};

use crate::crypto::constant_time_eq;
use crate::error::AppError;

/// The login flow's counters and XWMS call latencies.
pub struct Metrics {
    registry: Registry,
    logins_started: IntCounter,
    logins_succeeded: IntCounter,
    logins_failed: IntCounterVec,
    accounts_created: IntCounter,
    xwms_call_seconds: HistogramVec,
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let logins_started = IntCounter::new(
            "xwms_logins_started_total",
            "Logins started (GET /xwms/auth answered with a redirect to XWMS).",
        )?;
        let logins_succeeded = IntCounter::new(
            "xwms_logins_succeeded_total",
            "Logins completed: token verified, account linked, session started.",
        )?;
        let logins_failed = IntCounterVec::new(
            Opts::new("xwms_logins_failed_total", "Failed login steps, by reason."),
            &["reason"],
        )?;
        let accounts_created = IntCounter::new(
            "xwms_accounts_created_total",
            "Local accounts created for a sub seen for the first time.",
        )?;
        let xwms_call_seconds = HistogramVec::new(
            HistogramOpts::new(
                "xwms_call_duration_seconds",
                "Latency of calls to XWMS, by endpoint and outcome.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["endpoint", "outcome"],
        )?;
        registry.register(Box::new(logins_started.clone()))?;
        registry.register(Box::new(logins_succeeded.clone()))?;
        registry.register(Box::new(logins_failed.clone()))?;
        registry.register(Box::new(accounts_created.clone()))?;
        registry.register(Box::new(xwms_call_seconds.clone()))?;
        Ok(Metrics {
            registry,
            logins_started,
            logins_succeeded,
            logins_failed,
            accounts_created,
            xwms_call_seconds,
        })
    }

    pub fn login_started(&self) {
        self.logins_started.inc();
    }

    pub fn login_succeeded(&self, account_created: bool) {
        self.logins_succeeded.inc();
        if account_created {
            self.accounts_created.inc();
        }
    }

    pub fn login_failed(&self, reason: &str) {
        self.logins_failed.with_label_values(&[reason]).inc();
    }

    pub fn xwms_call(&self, endpoint: &str, ok: bool, elapsed: Duration) {
        self.xwms_call_seconds
            .with_label_values(&[endpoint, if ok { "ok" } else { "error" }])
            .observe(elapsed.as_secs_f64());
    }

    fn render(&self) -> Result<String, prometheus::Error> {
        TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}

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
