//! Every way a login can fail gets a clear page with the right status, and no account
//! is created or half-created.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    Provider, TestApp, browser, fake_sign_token, fake_sign_tokens, fake_verify, location,
    spawn_app, spawn_app_with, testid, verified_user,
};

async fn assert_error_page(response: reqwest::Response, status: u16, says: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains(says), "page should say {says:?}:\n{html}");
    assert!(
        !testid(&html, "reference").is_empty(),
        "a reference id is shown"
    );
    assert!(html.contains("XWMS Starter"), "the site layout is used");
}

#[actix_web::test]
async fn a_callback_without_a_token_gets_400() {
    let app = spawn_app().await;
    app.start_login_with(&app.client).await;

    let response = app.get("/xwms/validateToken").await;

    assert_error_page(response, 400, "without a login token").await;
}

#[actix_web::test]
async fn a_provider_failure_message_is_shown_with_a_way_to_start_again() {
    let app = spawn_app().await;
    let callback = app
        .sandbox_callback_with(
            &app.client,
            &[("persona", "ada"), ("outcome", "provider_error")],
        )
        .await;
    assert!(!callback.contains("token="));

    let response = app.client.get(&callback).send().await.unwrap();

    assert_eq!(response.status(), 400);
    let html = response.text().await.unwrap();
    assert!(html.contains("XWMS said: “The sandbox simulated an XWMS error"));
    assert!(
        html.contains("href=\"/xwms/auth\""),
        "offers to start again"
    );
    assert_eq!(app.count("users").await, 0);
}

#[actix_web::test]
async fn a_token_xwms_rejects_gets_401() {
    let app = spawn_app().await;
    let callback = app
        .sandbox_callback_with(
            &app.client,
            &[("persona", "ada"), ("outcome", "invalid_token")],
        )
        .await;

    let response = app.client.get(&callback).send().await.unwrap();

    assert_error_page(response, 401, "XWMS did not accept this login").await;
    assert_eq!(app.count("users").await, 0);
}

#[actix_web::test]
async fn a_callback_in_a_browser_that_did_not_start_the_login_is_refused() {
    let app = spawn_app().await;
    let victim_link = app
        .sandbox_callback_with(
            &app.client,
            &[("persona", "mallory"), ("outcome", "success")],
        )
        .await;

    // The link is opened in another browser (login CSRF, or a copied link).
    let other = browser();
    let response = other.get(&victim_link).send().await.unwrap();

    assert_error_page(response, 400, "not started in this browser").await;
    assert_eq!(app.count("users").await, 0);
}

#[actix_web::test]
async fn session_binding_accepts_a_different_callback_token_for_a_pending_login() {
    let xwms = MockServer::start().await;
    fake_sign_token(&xwms, "issued-token").await;
    fake_verify(&xwms, verified_user("sub-1", "a@example.com"), 1).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[("XWMS_LOGIN_BINDING", "session")]).await;
    app.start_login_with(&app.client).await;

    let response = app.get("/xwms/validateToken?token=a-different-token").await;

    assert_eq!(response.status(), 303);
    assert_eq!(app.count("users").await, 1);
}

async fn login_against(xwms_verify: ResponseTemplate) -> (reqwest::Response, i64) {
    let xwms = MockServer::start().await;
    fake_sign_token(&xwms, "tok").await;
    fake_verify(&xwms, xwms_verify, 1).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    app.start_login_with(&app.client).await;
    let response = app.get("/xwms/validateToken?token=tok").await;
    let users = app.count("users").await;
    (response, users)
}

#[actix_web::test]
async fn an_xwms_5xx_at_verify_gets_502_and_creates_nothing() {
    let (response, users) = login_against(ResponseTemplate::new(503)).await;
    assert_error_page(response, 502, "XWMS had a problem").await;
    assert_eq!(users, 0);
}

#[actix_web::test]
async fn an_xwms_error_envelope_at_verify_gets_401() {
    let envelope = json!({"status": "error", "message": "Invalid token", "data": {}});
    let (response, users) = login_against(ResponseTemplate::new(200).set_body_json(envelope)).await;
    assert_error_page(response, 401, "XWMS did not accept this login").await;
    assert_eq!(users, 0);
}

#[actix_web::test]
async fn a_non_json_answer_gets_502() {
    let html = ResponseTemplate::new(200).set_body_string("<html>maintenance</html>");
    let (response, users) = login_against(html).await;
    assert_error_page(response, 502, "XWMS had a problem").await;
    assert_eq!(users, 0);
}

#[actix_web::test]
async fn a_verified_user_without_a_sub_gets_502_and_creates_nothing() {
    let no_sub = ResponseTemplate::new(200)
        .set_body_json(json!({"status": "success", "data": {"email": "x@example.com"}}));
    let (response, users) = login_against(no_sub).await;
    assert_error_page(response, 502, "XWMS had a problem").await;
    assert_eq!(users, 0);
}

#[actix_web::test]
async fn an_xwms_that_does_not_answer_in_time_gets_504() {
    let xwms = MockServer::start().await;
    fake_sign_token(&xwms, "tok").await;
    let slow = verified_user("sub-1", "a@example.com").set_delay(Duration::from_secs(5));
    fake_verify(&xwms, slow, 1).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    app.start_login_with(&app.client).await;

    let started = std::time::Instant::now();
    let response = app.get("/xwms/validateToken?token=tok").await;

    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "the 1 s budget is kept"
    );
    assert_error_page(response, 504, "did not answer in time").await;
    assert_eq!(app.count("users").await, 0);
}

#[actix_web::test]
async fn an_xwms_error_at_sign_token_gets_502() {
    let xwms = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/sign-token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": "error", "message": "Unknown client", "data": []})),
        )
        .mount(&xwms)
        .await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;

    let response = app.get("/xwms/auth").await;

    assert_error_page(response, 502, "XWMS had a problem").await;
}

/// The database gone before the callback: its first database step, the rate limit, meets
/// the outage. (The tests after this one fail each later step on its own.)
#[actix_web::test]
async fn the_database_being_down_gets_503_not_500() {
    let app = spawn_app().await;
    let callback = app
        .sandbox_callback_with(&app.client, &[("persona", "ada"), ("outcome", "success")])
        .await;
    app.take_database_down().await;

    let started = std::time::Instant::now();
    let response = app.client.get(&callback).send().await.unwrap();

    assert!(
        started.elapsed() < Duration::from_secs(8),
        "answers within seconds"
    );
    assert_error_page(response, 503, "temporarily unavailable").await;
    let health = app.get("/health").await;
    assert_eq!(health.status(), 503);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["database"]["ok"], false);
    assert_eq!(body["xwms"]["ok"], true);
}

// --- The database failing at each of the callback's own steps ---
//
// Each test below makes PostgreSQL fail at exactly one step, the way an outage does (a
// connection that dies mid-statement, a statement stuck until its timeout), and checks
// that the visitor gets the 503 page, nothing is half-written, and the same browser's
// next login works once the database is back.

/// The app's statement timeout in these tests: a stuck statement ends within a second.
const STATEMENT_TIMEOUT: (&str, &str) = ("DATABASE_STATEMENT_TIMEOUT_MS", "1000");

/// Makes PostgreSQL drop the connection of any statement inserting into `table`, as a
/// server that goes away mid-statement does (`pg_sleep` only waits for the end).
async fn drop_the_connection_of_inserts_into(app: &TestApp, table: &str) {
    app.execute_sql(
        "CREATE FUNCTION test_outage() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(10); RETURN NEW; END $$",
    )
    .await;
    app.execute_sql(&format!(
        "CREATE TRIGGER test_outage BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION test_outage()"
    ))
    .await;
}

#[actix_web::test]
async fn the_database_failing_at_the_token_claim_gets_503_writes_nothing_and_recovers() {
    let app = spawn_app().await;
    let callback = app
        .sandbox_callback_with(&app.client, &[("persona", "ada"), ("outcome", "success")])
        .await;
    drop_the_connection_of_inserts_into(&app, "used_login_tokens").await;

    let response = app.client.get(&callback).send().await.unwrap();

    assert_error_page(response, 503, "temporarily unavailable").await;
    assert_eq!(
        app.count("used_login_tokens").await,
        0,
        "the claim is undone"
    );
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count("security_events").await, 0);
    app.execute_sql("DROP TRIGGER test_outage ON used_login_tokens")
        .await;
    app.log_in_ending_on_the_profile(&app.client).await;
    assert_eq!(app.count("users").await, 1);
}

#[actix_web::test]
async fn the_database_failing_in_the_linking_transaction_gets_503_writes_nothing_and_recovers() {
    let app = spawn_app_with(Provider::Sandbox, &[STATEMENT_TIMEOUT]).await;
    let callback = app
        .sandbox_callback_with(&app.client, &[("persona", "ada"), ("outcome", "success")])
        .await;
    // A late write of the transaction, its security event, waits for a lock until the
    // statement timeout ends it: the user and the XWMS link are written by then.
    let blocker = app.hold_lock("security_events", "EXCLUSIVE").await;

    let response = app.client.get(&callback).send().await.unwrap();

    assert_error_page(response, 503, "temporarily unavailable").await;
    assert_eq!(app.count("users").await, 0, "the new user is rolled back");
    assert_eq!(app.count("xwms_connections").await, 0, "and its XWMS link");
    TestApp::release_lock(blocker).await;
    assert_eq!(app.count("security_events").await, 0);
    app.log_in_ending_on_the_profile(&app.client).await;
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.event_kinds().await, ["account_created"]);
}

#[actix_web::test]
async fn the_database_failing_at_the_session_check_after_the_login_gets_503_and_keeps_the_login() {
    let app = spawn_app_with(Provider::Sandbox, &[STATEMENT_TIMEOUT]).await;
    let callback = app.login_as("ada").await;
    assert_eq!(location(callback.headers()), "/profile");
    // The session check on the next request reads `user_sessions`; nothing else does.
    let blocker = app.hold_lock("user_sessions", "ACCESS EXCLUSIVE").await;

    // The profile sends its reads with the check; the notes page checks alone.
    let profile = app.get("/profile").await;
    let notes = app.get("/notes").await;

    assert_error_page(profile, 503, "temporarily unavailable").await;
    assert_error_page(notes, 503, "temporarily unavailable").await;
    TestApp::release_lock(blocker).await;
    app.assert_signed_in(&app.client).await;
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("user_sessions").await, 1);
}

/// The profile's reads go out with the session check, and the check decides first: for a
/// session that has ended, a failure of the reads does not matter (the visitor is sent
/// home, as without them); for a current one it is the 503 page.
#[actix_web::test]
async fn the_profiles_reads_failing_leave_the_session_checks_answer_first() {
    let app = spawn_app_with(Provider::Sandbox, &[STATEMENT_TIMEOUT]).await;
    let ended_browser = browser();
    let ended = crate::helpers::signed_in_cookie_of(&app, &ended_browser).await;
    app.log_out_with(&ended_browser, "/logout").await;
    app.login_as("ada").await;
    // The profile's activity reads `security_events`; the check does not.
    let blocker = app.hold_lock("security_events", "ACCESS EXCLUSIVE").await;

    let ended_profile = crate::helpers::status_with_cookie(&app, "/profile", &ended).await;
    let current_profile = app.get("/profile").await;

    TestApp::release_lock(blocker).await;
    assert_eq!(ended_profile, 303, "an ended session goes home");
    assert_error_page(current_profile, 503, "temporarily unavailable").await;
    app.assert_signed_in(&app.client).await;
}

#[actix_web::test]
async fn the_start_of_login_leads_to_the_provider_login_page() {
    let app = spawn_app().await;
    let response = app.get("/xwms/auth").await;
    assert_eq!(response.status(), 303);
    let login_page = location(response.headers());
    assert!(login_page.starts_with(&format!(
        "http://localhost:{}/sandbox/xwms/login/",
        app.port
    )));
}

#[actix_web::test]
async fn a_login_that_can_no_longer_be_used_says_why_and_its_log_in_again_keeps_next() {
    let xwms = MockServer::start().await;
    fake_sign_tokens(&xwms, &["late", "used"]).await;
    fake_verify(&xwms, verified_user("sub-1", "a@example.com"), 1).await;
    // Stamps are whole seconds: 3 s leaves the second login in time on a busy machine.
    let app = spawn_app_with(Provider::Fake(&xwms), &[("XWMS_LOGIN_MAX_AGE_SECS", "3")]).await;
    app.get("/xwms/auth?next=/notes").await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    app.get("/xwms/auth?next=/profile%3Ftab%3D1").await;
    app.get("/xwms/validateToken?token=used").await;

    let expired = app.get("/xwms/validateToken?token=late").await;
    let used = app.get("/xwms/validateToken?token=used").await;
    let elsewhere = browser()
        .get(app.url("/xwms/validateToken?token=used"))
        .send()
        .await
        .unwrap();

    let expired = expired.text().await.unwrap();
    assert!(expired.contains("it has expired"), "{expired}");
    assert!(
        expired.contains(r#"href="/xwms/auth?next=%2Fnotes">Log in again</a>"#),
        "{expired}"
    );
    let used = used.text().await.unwrap();
    assert!(used.contains("already used"), "{used}");
    assert!(
        used.contains(r#"href="/xwms/auth">Log in again</a>"#),
        "{used}"
    );
    assert_error_page(elsewhere, 400, "not started in this browser").await;
}
