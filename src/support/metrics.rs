//! Prometheus metrics for the login flow (served by `routes::metrics`).
//!
//! Each app has its own registry (no global state), so tests and several apps in one
//! process do not mix their numbers.

use std::time::Duration;

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

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

    /// Everything in the Prometheus text format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}
