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
