//! `GET /metrics`: the login flow in Prometheus numbers, and who may read them.

use crate::helpers::{Provider, spawn_app, spawn_app_with};

fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{metrics}"))
}

#[actix_web::test]
async fn metrics_count_logins_accounts_failures_and_xwms_latency() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    app.login_as("ada").await;
    let rejected = app
        .sandbox_callback_with(
            &app.client,
            &[("persona", "ada"), ("outcome", "invalid_token")],
        )
        .await;
    app.client.get(&rejected).send().await.unwrap();

    let response = app.get("/metrics").await;

    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    assert_eq!(value(&text, "xwms_logins_started_total"), 3.0);
    assert_eq!(value(&text, "xwms_logins_succeeded_total"), 2.0);
    assert_eq!(value(&text, "xwms_accounts_created_total"), 1.0);
    assert_eq!(
        value(&text, "xwms_logins_failed_total{reason=\"token_rejected\"}"),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "xwms_call_duration_seconds_count{endpoint=\"sign-token\",outcome=\"ok\"}"
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            "xwms_call_duration_seconds_count{endpoint=\"sign-token-verify\",outcome=\"error\"}"
        ),
        1.0
    );
}

#[actix_web::test]
async fn metrics_are_off_in_production_unless_enabled() {
    let production = [("APP_ENV", "production"), ("XWMS_SANDBOX", "true")];
    let off = spawn_app_with(Provider::Sandbox, &production).await;
    assert_eq!(off.get("/metrics").await.status(), 404);

    let mut enabled = production.to_vec();
    enabled.push(("METRICS_ENABLED", "true"));
    let on = spawn_app_with(Provider::Sandbox, &enabled).await;
    assert_eq!(on.get("/metrics").await.status(), 200);
}

#[actix_web::test]
async fn metrics_protected_by_a_token_need_that_token() {
    let app = spawn_app_with(
        Provider::Sandbox,
        &[
            ("APP_ENV", "production"),
            ("XWMS_SANDBOX", "true"),
            ("METRICS_TOKEN", "scrape-me"),
        ],
    )
    .await;

    let without = app.get("/metrics").await;
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    let right = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap();

    assert_eq!(without.status(), 403);
    assert_eq!(wrong.status(), 403);
    assert_eq!(right.status(), 200);
    assert!(
        right
            .text()
            .await
            .unwrap()
            .contains("xwms_logins_started_total")
    );
}
