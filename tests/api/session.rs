//! The session: renewed at login, ended at logout, logout protected against CSRF.

use wiremock::MockServer;

use crate::helpers::{
    Provider, browser, fake_sign_token, fake_verify, spawn_app, spawn_app_with, verified_user,
};

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
    assert_eq!(response.headers()["location"], "/logged-out");
    assert_eq!(app.get("/profile").await.status(), 303, "profile is gone");
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains("Login with XWMS"));
}

/// The page after a logout with a real XWMS (here a stand-in over HTTP): signed out here,
/// maybe still signed in at XWMS; a link to XWMS's account page only when one is set.
#[actix_web::test]
async fn after_logout_the_page_says_xwms_may_still_know_you_and_links_to_its_account_page() {
    let xwms = MockServer::start().await;
    fake_sign_token(&xwms, "tok").await;
    fake_verify(&xwms, verified_user("sub-1", "a@example.com"), 2).await;
    let account = "https://xwms.example/account";
    for (extra, link) in [(vec![("XWMS_ACCOUNT_URL", account)], true), (vec![], false)] {
        let app = spawn_app_with(Provider::Fake(&xwms), &extra).await;
        app.start_login_with(&app.client).await;
        assert_eq!(app.get("/xwms/validateToken?token=tok").await.status(), 303);

        let response = app.log_out_with(&app.client, "/logout").await;
        assert_eq!(response.headers()["location"], "/logged-out");
        let page = app.get("/logged-out").await.text().await.unwrap();

        assert!(page.contains("You are signed out of this site"), "{page}");
        assert!(
            page.contains("You may still be signed in at XWMS"),
            "{page}"
        );
        assert!(!page.contains("Every other session"), "{page}");
        assert_eq!(
            page.contains(&format!("href=\"{account}\"")),
            link,
            "{page}"
        );
        assert_eq!(page.contains("Sign out at XWMS too"), link, "{page}");
    }
}

#[actix_web::test]
async fn after_logging_out_everywhere_the_page_says_every_device_is_signed_out() {
    let app = spawn_app().await;
    app.login_as("ada").await;

    let response = app.log_out_with(&app.client, "/logout/everywhere").await;

    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/logged-out?everywhere=1");
    let page = app
        .get("/logged-out?everywhere=1")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("You are signed out of this site"), "{page}");
    assert!(
        page.contains("Every other session of your account"),
        "{page}"
    );
    // The sandbox keeps no login of its own, and says so instead.
    assert!(
        page.contains("The sandbox keeps no login of its own"),
        "{page}"
    );
    assert!(
        !page.contains("You may still be signed in at XWMS"),
        "{page}"
    );
    assert!(
        !page.contains("Sign out at XWMS too"),
        "no XWMS_ACCOUNT_URL: {page}"
    );
}

#[actix_web::test]
async fn the_page_after_logout_speaks_dutch() {
    let xwms = MockServer::start().await;
    let app = spawn_app_with(
        Provider::Fake(&xwms),
        &[("XWMS_ACCOUNT_URL", "https://xwms.example/account")],
    )
    .await;

    let page = app.get_in_dutch("/logged-out").await.text().await.unwrap();

    assert!(page.contains("Je bent uitgelogd op deze site"), "{page}");
    assert!(
        page.contains("Misschien ben je nog ingelogd bij XWMS"),
        "{page}"
    );
    assert!(page.contains("Ook uitloggen bij XWMS"), "{page}");
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
