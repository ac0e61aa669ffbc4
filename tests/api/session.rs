//! The session: renewed at login, ended at logout, logout protected against CSRF.

use crate::helpers::{browser, spawn_app};

#[actix_web::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let app = spawn_app().await;
    let response = app.get("/xwms/auth").await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
}

#[actix_web::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    app.login_as("ada").await;

    let response = app.log_out_with(&app.client, "/logout").await;

    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/");
    assert_eq!(app.get("/profile").await.status(), 303, "profile is gone");
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains("Login with XWMS"));
}

#[actix_web::test]
async fn pages_with_personal_data_are_not_cached() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    let profile = app.get("/profile").await;
    assert_eq!(profile.headers()["cache-control"], "no-store");
    let other = browser();
    assert_eq!(app.get_with(&other, "/profile").await.status(), 303);
}

#[actix_web::test]
async fn logout_deletes_the_cookie_in_the_browser() {
    let app = spawn_app().await;
    app.login_as("ada").await;

    let response = app.log_out_with(&app.client, "/logout").await;

    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("xwms_session=;"), "{cookie}");
    assert!(cookie.contains("Max-Age=0"), "{cookie}");
}

#[actix_web::test]
async fn static_files_and_health_answer_a_signed_in_browser_while_the_database_is_down() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    app.take_database_down().await;

    let style = app.get("/static/style.css").await;
    let health = app.get("/health").await;
    let live = app.get("/health/live").await;

    // No session check (which needs the database) stands in their way.
    assert_eq!(style.status(), 200);
    assert_eq!(live.status(), 200);
    assert_eq!(health.status(), 503);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(
        body["database"]["ok"], false,
        "health's own JSON, not an error page"
    );
    app.bring_database_back().await;
}

#[actix_web::test]
async fn a_session_in_use_is_not_rewritten_on_every_request() {
    // The idle clock is refreshed at most every quarter of the idle limit (a minute for
    // the default 30 minutes): a busy page must not send a new cookie each time.
    let app = spawn_app().await;
    app.login_as("ada").await;

    let profile = app.get("/profile").await;

    assert_eq!(profile.status(), 200);
    assert!(
        !profile.headers().contains_key("set-cookie"),
        "{:?}",
        profile.headers().get("set-cookie")
    );
}
