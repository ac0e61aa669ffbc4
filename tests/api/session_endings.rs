//! Every way a session ends, and the login that comes after it: it must succeed on the
//! first try. (A session ended by its server-side checks used to be purged, and
//! actix-session then dropped everything the same request wrote: the login that
//! request started was lost, and the first callback was refused.)
//!
//! Time passes on the app's session clock (`TestApp::clock`), not by sleeping, and the
//! limits are minutes long: a slow machine cannot end a session before the test means to.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{
    Provider, TEST_SESSION_KEY, browser, browser_with_cookie, forge_session_cookie,
    profile_status_with_cookie, signed_in_cookie_of, spawn_app, spawn_app_with,
};

#[actix_web::test]
async fn a_login_after_the_idle_limit_ends_on_the_profile_on_the_first_try() {
    let app = spawn_app_with(Provider::Sandbox, &[("SESSION_IDLE_TIMEOUT_SECS", "600")]).await;
    app.log_in_ending_on_the_profile(&app.client).await;

    app.clock.advance(Duration::from_secs(601));

    app.log_in_ending_on_the_profile(&app.client).await;
}

#[actix_web::test]
async fn a_login_after_the_absolute_limit_ends_on_the_profile_on_the_first_try() {
    // Below the idle limit (30 minutes), so it is the absolute limit that ends it.
    let app = spawn_app_with(
        Provider::Sandbox,
        &[("SESSION_ABSOLUTE_TIMEOUT_SECS", "600")],
    )
    .await;
    app.log_in_ending_on_the_profile(&app.client).await;

    app.clock.advance(Duration::from_secs(601));

    app.log_in_ending_on_the_profile(&app.client).await;
}

#[actix_web::test]
async fn a_login_after_log_out_on_all_devices_elsewhere_ends_on_the_profile_on_the_first_try() {
    let app = spawn_app().await;
    let laptop = browser();
    let phone = browser();
    app.log_in_ending_on_the_profile(&laptop).await;
    app.log_in_ending_on_the_profile(&phone).await;

    app.log_out_with(&phone, "/logout/everywhere").await;

    app.log_in_ending_on_the_profile(&laptop).await;
}

#[actix_web::test]
async fn a_login_after_this_session_was_logged_out_elsewhere_ends_on_the_profile_on_the_first_try()
{
    let app = spawn_app().await;
    let first = browser();
    let callback = app.login_as_with(&first, "ada").await;
    let cookie = crate::helpers::session_cookie(callback.headers()).unwrap();
    // The same session in a second place (a copied cookie, a synced profile), logged out there.
    let elsewhere = browser_with_cookie(&app.address, &cookie);
    app.assert_signed_in(&elsewhere).await;

    app.log_out_with(&elsewhere, "/logout").await;

    app.log_in_ending_on_the_profile(&first).await;
}

#[actix_web::test]
async fn a_login_after_the_user_was_deleted_ends_on_the_profile_on_the_first_try() {
    let app = spawn_app().await;
    app.log_in_ending_on_the_profile(&app.client).await;

    app.execute_sql("DELETE FROM users").await;

    app.log_in_ending_on_the_profile(&app.client).await;
    assert_eq!(app.count("users").await, 1, "a new account for the sub");
}

#[actix_web::test]
async fn a_login_with_a_cookie_sealed_by_another_key_ends_on_the_profile_on_the_first_try() {
    let app = spawn_app().await;
    // A cookie from before a key rotation (or a restart without SESSION_KEY).
    let other_key = "another-key-another-key-another-key-another-key-another-key-1234567";
    let stale = forge_session_cookie(other_key, &[("display_name", json!("Old"))]);
    let browser = browser_with_cookie(&app.address, &stale);

    app.log_in_ending_on_the_profile(&browser).await;
}

#[actix_web::test]
async fn a_login_with_an_unreadable_signed_in_session_ends_on_the_profile_on_the_first_try() {
    let app = spawn_app_with(Provider::Sandbox, &[("SESSION_KEY", TEST_SESSION_KEY)]).await;
    // Our key, but a session written by an older version of the app.
    let unreadable = forge_session_cookie(
        TEST_SESSION_KEY,
        &[("signed_in", json!({"user": 1, "format": "old"}))],
    );
    let browser = browser_with_cookie(&app.address, &unreadable);

    app.log_in_ending_on_the_profile(&browser).await;
}

#[actix_web::test]
async fn a_session_that_ends_while_the_person_is_at_xwms_still_completes_that_login() {
    let app = spawn_app_with(Provider::Sandbox, &[("SESSION_IDLE_TIMEOUT_SECS", "300")]).await;
    app.log_in_ending_on_the_profile(&app.client).await;
    // Signed in, they start a new login, and take their time at XWMS.
    let callback = app
        .sandbox_callback_with(&app.client, &[("persona", "ada"), ("outcome", "success")])
        .await;

    app.clock.advance(Duration::from_secs(301));
    let response = app.client.get(&callback).send().await.unwrap();

    assert_eq!(response.status(), 303);
    assert_eq!(crate::helpers::location(response.headers()), "/profile");
    app.assert_signed_in(&app.client).await;
}

#[actix_web::test]
async fn a_session_in_use_stays_signed_in_past_the_idle_limit_until_the_absolute_limit() {
    // Idle limit 60 s, absolute 300 s; the browser is used every 30 s of the app's clock
    // and keeps the cookie the server sends back, as a real one does. Every step leaves
    // 30 s for the machine's own slowness before the idle limit could end it.
    let app = spawn_app_with(
        Provider::Sandbox,
        &[
            ("SESSION_IDLE_TIMEOUT_SECS", "60"),
            ("SESSION_ABSOLUTE_TIMEOUT_SECS", "300"),
        ],
    )
    .await;
    app.log_in_ending_on_the_profile(&app.client).await;

    // Busy for 270 s, more than four times the idle limit: still signed in.
    for _ in 0..9 {
        app.clock.advance(Duration::from_secs(30));
        app.assert_signed_in(&app.client).await;
    }
    // Still busy, but 300 s after the login the absolute limit ends it.
    app.clock.advance(Duration::from_secs(30));
    let profile = app.get("/profile").await;

    assert_eq!(
        profile.status(),
        303,
        "the absolute limit ends a busy session"
    );
}

#[actix_web::test]
async fn a_logged_out_sessions_record_goes_and_a_copy_of_its_cookie_is_refused() {
    // The session clock is left alone: the copied cookie below is within its limits, so
    // only its missing record can refuse it.
    let app = spawn_app().await;
    let copied = signed_in_cookie_of(&app, &app.client).await;
    let other = browser();
    app.log_in_ending_on_the_profile(&other).await;
    assert_eq!(app.count("user_sessions").await, 2);

    app.log_out_with(&app.client, "/logout").await;

    assert_eq!(
        app.count("user_sessions").await,
        1,
        "only this one's record goes"
    );
    assert_eq!(
        profile_status_with_cookie(&app, &copied).await,
        303,
        "the copy of the logged-out cookie is refused"
    );
    app.assert_signed_in(&other).await;
}
