//! One named test per threat and fault. The threat table of docs/security.md points here.
//!
//! Anchors: RFC 9700 (OAuth 2.0 Security BCP), OWASP ASVS 5.0 (sessions, OAuth, error
//! handling), and actix-session's own acceptance tests.

use std::io::Write as _;
use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    FAKE_LOGIN_URL, Provider, TestApp, browser, fake_sign_token, fake_sign_tokens, fake_verify,
    location, profile_status_with_cookie, session_cookie, signed_in_cookie_of, spawn_app,
    spawn_app_for_a_race, spawn_app_with, status_with_cookie, testid, verified_user,
};

/// A fake XWMS whose `sign-token` gives `answer`.
async fn xwms_whose_sign_token_answers(answer: ResponseTemplate) -> MockServer {
    let xwms = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/sign-token"))
        .respond_with(answer)
        .mount(&xwms)
        .await;
    xwms
}

// --- Login CSRF (RFC 9700 §4.7; XWMS has no `state`, so the session binds the login) ---

/// A fake XWMS whose verify endpoint must be called exactly `verify_calls` times.
async fn fake_xwms(token: &str, verify_calls: u64) -> MockServer {
    let xwms = MockServer::start().await;
    fake_sign_token(&xwms, token).await;
    fake_verify(
        &xwms,
        verified_user("sub-csrf", "csrf@example.com"),
        verify_calls,
    )
    .await;
    xwms
}

#[actix_web::test]
async fn threat_login_csrf_callback_in_a_browser_that_did_not_start_the_login_is_refused() {
    let xwms = fake_xwms("victims-token", 0).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    app.start_login_with(&app.client).await;

    // The attacker makes another browser (the victim's) open the callback.
    let other = browser();
    let response = app
        .get_with(&other, "/xwms/validateToken?token=victims-token")
        .await;

    assert_eq!(response.status(), 400);
    assert_eq!(app.count("users").await, 0);
    // `expect(0)`: XWMS sign-token-verify was never called.
}

#[actix_web::test]
async fn threat_login_csrf_a_token_other_than_the_one_issued_is_refused() {
    let xwms = fake_xwms("issued-token", 0).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    app.start_login_with(&app.client).await;

    let response = app.get("/xwms/validateToken?token=attackers-token").await;

    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("not valid here"));
}

// A reused callback URL meets three defences, each with its own test below (the copied
// cookie one is further down): the login under way is used up, the server remembers
// used tokens, and a login drops the session before it. Each test goes around the
// other two, so it fails when its own defence is removed.

#[actix_web::test]
async fn threat_login_csrf_a_reused_callback_url_finds_its_login_used_up_even_if_the_server_forgot_the_token()
 {
    let xwms = MockServer::start().await;
    fake_sign_tokens(&xwms, &["used-token", "other-tab-token"]).await;
    fake_verify(&xwms, verified_user("sub-csrf", "csrf@example.com"), 1).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    app.get("/xwms/auth").await;
    app.get("/xwms/auth").await;
    let login = app.get("/xwms/validateToken?token=used-token").await;
    assert_eq!(login.status(), 303);
    // Around the server's memory: as if the database had been restored from a backup.
    app.execute_sql("DELETE FROM used_login_tokens").await;

    let replay = app.get("/xwms/validateToken?token=used-token").await;

    assert_eq!(replay.status(), 400);
    assert!(replay.text().await.unwrap().contains("not valid here"));
    // `expect(1)`: the replay did not reach XWMS.
}

#[actix_web::test]
async fn threat_login_csrf_a_login_as_another_person_from_a_second_tab_drops_the_session_before_it()
{
    // A second tab's callback is a login like any other when it is someone else's: the
    // session before it, and what a page of it showed (the CSRF token), is worth nothing.
    let app = spawn_app().await;
    let ada = app
        .sandbox_callback_with(&app.client, &[("persona", "ada"), ("outcome", "success")])
        .await;
    let mallory = app
        .sandbox_callback_with(
            &app.client,
            &[("persona", "mallory"), ("outcome", "success")],
        )
        .await;
    app.client.get(&ada).send().await.unwrap();
    let adas_token = app.logout_token_with(&app.client).await;

    let second_tab = app.client.get(&mallory).send().await.unwrap();

    assert_eq!(location(second_tab.headers()), "/profile");
    assert_eq!(testid(&app.profile_html().await, "sub"), "sandbox-mallory");
    assert_ne!(app.logout_token_with(&app.client).await, adas_token);
    let with_adas_token = app
        .client
        .post(app.url("/logout"))
        .form(&[("csrf_token", adas_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_adas_token.status(),
        403,
        "Ada's page's token is worthless"
    );
}

#[actix_web::test]
async fn threat_login_csrf_a_pending_login_older_than_the_limit_is_refused() {
    // The default limit is 10 minutes (`config/default.toml`); 1 s keeps the test short.
    let xwms = fake_xwms("late-token", 0).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[("XWMS_LOGIN_MAX_AGE_SECS", "1")]).await;
    app.start_login_with(&app.client).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let response = app.get("/xwms/validateToken?token=late-token").await;

    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("it has expired"));
}

// --- Session fixation (ASVS V7.2.4) ---

/// An anonymous session's identity as the server shows it: the CSRF token of the
/// "Continue to XWMS" form (what someone who planted this cookie would know).
async fn continue_page_csrf(app: &TestApp, browser: &reqwest::Client) -> String {
    let page = browser
        .get(app.url("/xwms/auth"))
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        200,
        "another site's link gets the continue page"
    );
    TestApp::form_csrf_token(&page.text().await.unwrap())
}

#[actix_web::test]
async fn threat_session_fixation_the_session_identity_before_login_is_not_the_one_after() {
    let app = spawn_app().await;
    let before = continue_page_csrf(&app, &app.client).await;
    let to_sandbox = app
        .client
        .post(app.url("/xwms/auth"))
        .form(&[("csrf_token", before.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(to_sandbox.status(), 303);
    let back = app
        .client
        .post(location(to_sandbox.headers()))
        .form(&[("persona", "ada"), ("outcome", "success")])
        .send()
        .await
        .unwrap();
    let callback = app
        .client
        .get(location(back.headers()))
        .send()
        .await
        .unwrap();
    assert_eq!(location(callback.headers()), "/profile");

    let after = app.logout_token_with(&app.client).await;

    assert_ne!(before, after, "login issued a new session identity");
    let with_old_token = app
        .client
        .post(app.url("/logout"))
        .form(&[("csrf_token", before.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_old_token.status(),
        403,
        "the pre-login token is worthless"
    );
}

// --- Session lifetime, enforced on the server (ASVS V7.3) ---

/// Logs `browser` in and returns its signed-in cookie (`name=value`): the copy an
/// attacker could hold.
async fn signed_in_cookie(app: &TestApp) -> String {
    signed_in_cookie_of(app, &app.client).await
}

#[actix_web::test]
async fn threat_session_idle_limit_ends_an_unused_session() {
    // The default limit, 30 minutes, passed on the app's session clock.
    let app = spawn_app().await;
    let cookie = signed_in_cookie(&app).await;
    app.clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(profile_status_with_cookie(&app, &cookie).await, 200);

    app.clock.advance(Duration::from_secs(60 + 1));

    assert_eq!(profile_status_with_cookie(&app, &cookie).await, 303);
}

#[actix_web::test]
async fn threat_session_a_copied_cookie_replayed_after_logout_is_anonymous() {
    let app = spawn_app().await;
    let copied = signed_in_cookie(&app).await;
    // The profile's reads go out with the session check; the notes page checks alone.
    for page in ["/profile", "/notes"] {
        assert_eq!(status_with_cookie(&app, page, &copied).await, 200, "{page}");
    }

    let logout = app.log_out_with(&app.client, "/logout").await;

    assert_eq!(logout.status(), 303);
    for page in ["/profile", "/notes"] {
        assert_eq!(status_with_cookie(&app, page, &copied).await, 303, "{page}");
    }
}

#[actix_web::test]
async fn threat_session_logout_ends_this_session_and_log_out_everywhere_ends_every_session() {
    let app = spawn_app().await;
    let laptop = browser();
    let phone = browser();
    let tablet = browser();
    let laptop_copy = signed_in_cookie_of(&app, &laptop).await;
    app.login_as_with(&phone, "ada").await;
    app.login_as_with(&tablet, "ada").await;

    app.log_out_with(&laptop, "/logout").await;

    assert_eq!(
        profile_status_with_cookie(&app, &laptop_copy).await,
        303,
        "the laptop's session ended"
    );
    assert_eq!(
        app.get_with(&phone, "/profile").await.status(),
        200,
        "the phone is still signed in"
    );

    app.log_out_with(&phone, "/logout/everywhere").await;

    assert_eq!(
        app.get_with(&tablet, "/profile").await.status(),
        303,
        "every session ended"
    );
}

#[actix_web::test]
async fn threat_session_logout_via_get_is_405() {
    let app = spawn_app().await;
    app.login_as("ada").await;

    assert_eq!(app.get("/logout").await.status(), 405);
    assert_eq!(app.get("/profile").await.status(), 200);
}

#[actix_web::test]
async fn threat_session_logout_without_the_csrf_token_is_403() {
    let app = spawn_app().await;
    app.login_as("ada").await;

    let without = app.client.post(app.url("/logout")).send().await.unwrap();
    let wrong = app
        .client
        .post(app.url("/logout"))
        .form(&[("csrf_token", "0".repeat(64))])
        .send()
        .await
        .unwrap();

    assert_eq!(without.status(), 403);
    assert_eq!(wrong.status(), 403);
    // A page that says what happened and what to do, not a generic "bad request".
    let page = wrong.text().await.unwrap();
    assert!(
        page.contains("Request refused") && page.contains("Please reload the page"),
        "{page}"
    );
    assert_eq!(app.get("/profile").await.status(), 200, "still signed in");
}

#[actix_web::test]
async fn threat_session_cross_site_logout_is_403() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    let token = app.logout_token_with(&app.client).await;

    let foreign_origin = app
        .client
        .post(app.url("/logout"))
        .header("Origin", "https://evil.example")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    let cross_site = app
        .client
        .post(app.url("/logout"))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();

    assert_eq!(foreign_origin.status(), 403);
    assert_eq!(cross_site.status(), 403);
    assert_eq!(app.get("/profile").await.status(), 200);
}

// --- Open redirect (RFC 9700 §4.11) ---

async fn destination_after_login(app: &TestApp, next: &str) -> String {
    let browser = browser();
    let start = browser
        .get(app.url("/xwms/auth"))
        .query(&[("next", next)])
        .send()
        .await
        .unwrap();
    let back = browser
        .post(location(start.headers()))
        .form(&[("persona", "ada"), ("outcome", "success")])
        .send()
        .await
        .unwrap();
    let callback = browser.get(location(back.headers())).send().await.unwrap();
    assert_eq!(callback.status(), 303);
    location(callback.headers())
}

#[actix_web::test]
async fn threat_open_redirect_next_is_honoured_only_for_same_site_paths() {
    let app = spawn_app().await;
    assert_eq!(
        destination_after_login(&app, "/profile?tab=activity").await,
        "/profile?tab=activity"
    );

    for hostile in [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "/%2F%2Fevil.example",
        "%2F%2Fevil.example",
        "/%5Cevil.example",
        "/\tevil",
        "/%0d%0aLocation:%20https://evil.example",
        "javascript:alert(1)",
    ] {
        assert_eq!(
            destination_after_login(&app, hostile).await,
            "/",
            "{hostile:?}"
        );
    }
}

#[actix_web::test]
async fn threat_open_redirect_a_non_http_login_url_from_xwms_is_never_followed() {
    let xwms = xwms_whose_sign_token_answers(ResponseTemplate::new(200).set_body_json(json!({
        "status": "success",
        "data": {"token": "t", "url": "javascript:alert(document.cookie)"}
    })))
    .await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;

    let response = app.get("/xwms/auth").await;

    assert_eq!(response.status(), 502);
    assert!(response.headers().get("location").is_none());
}

// --- Token leakage (RFC 9700 §4.2) ---

#[actix_web::test]
async fn threat_token_leakage_the_callback_is_a_303_with_no_referrer_and_no_store() {
    let app = spawn_app().await;
    let callback = app
        .sandbox_callback_with(&app.client, &[("persona", "ada"), ("outcome", "success")])
        .await;

    let response = app.client.get(&callback).send().await.unwrap();

    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(
        response.text().await.unwrap().is_empty(),
        "no page that could hold the token"
    );
}

// --- Outbound calls to XWMS ---

#[actix_web::test]
async fn threat_outbound_a_redirect_is_not_followed_so_the_secret_stays_home() {
    let xwms = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/sign-token"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/steal", elsewhere.uri())),
        )
        .mount(&xwms)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;

    let response = app.get("/xwms/auth").await;

    assert_eq!(response.status(), 502);
}

#[actix_web::test]
async fn threat_outbound_slow_headers_end_within_the_budget() {
    let xwms =
        xwms_whose_sign_token_answers(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
            .await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;

    let started = Instant::now();
    let response = app.get("/xwms/auth").await;

    assert_eq!(response.status(), 504);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}

/// An XWMS that sends its headers, a little of the body, and then nothing.
async fn stalling_xwms() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    actix_web::rt::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = listener.accept().await {
            actix_web::rt::spawn(async move {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"status\":")
                    .await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    format!("http://{address}")
}

#[actix_web::test]
async fn threat_outbound_headers_followed_by_a_stalled_body_end_within_the_budget() {
    let app = spawn_app_with(Provider::At(stalling_xwms().await), &[]).await;

    let started = Instant::now();
    let response = app.get("/xwms/auth").await;

    assert_eq!(response.status(), 504);
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}

/// A valid `sign-token` answer, as raw JSON.
fn sign_token_answer(padding: usize) -> serde_json::Value {
    json!({
        "status": "success",
        "message": "x".repeat(padding),
        "data": { "token": "tok", "url": FAKE_LOGIN_URL },
    })
}

#[actix_web::test]
async fn threat_outbound_an_answer_over_64_kib_is_cut_off() {
    // A valid answer padded to 1 MiB: accepted if our 64 KiB cap were gone (awc's own
    // default cap is 2 MiB).
    let xwms = xwms_whose_sign_token_answers(
        ResponseTemplate::new(200).set_body_json(sign_token_answer(1024 * 1024)),
    )
    .await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;

    let response = app.get("/xwms/auth").await;

    assert_eq!(response.status(), 502);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("XWMS had a problem")
    );
}

#[actix_web::test]
async fn threat_outbound_a_compressed_answer_is_never_inflated() {
    // A valid answer, gzipped. A client that inflated answers would accept it, and would
    // inflate a compression bomb the same way; ours neither asks for compression nor
    // inflates what comes anyway.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(sign_token_answer(10).to_string().as_bytes())
        .unwrap();
    let gzipped = encoder.finish().unwrap();
    let xwms = xwms_whose_sign_token_answers(
        ResponseTemplate::new(200)
            .insert_header("Content-Encoding", "gzip")
            .insert_header("Content-Type", "application/json")
            .set_body_bytes(gzipped),
    )
    .await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;

    let response = app.get("/xwms/auth").await;

    assert_eq!(response.status(), 502);
    let requests = xwms.received_requests().await.unwrap();
    let offered = requests[0]
        .headers
        .get("accept-encoding")
        .map(|value| value.to_str().unwrap().to_owned());
    assert!(
        offered.as_deref().is_none_or(|value| value == "identity"),
        "{offered:?}"
    );
}

#[actix_web::test]
async fn threat_outbound_the_bodies_sent_to_xwms_are_exactly_the_documented_ones() {
    const CALLBACK: &str = "http://app.example.test/xwms/validateToken";
    let xwms = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/sign-token"))
        .and(wiremock::matchers::body_json(
            json!({ "redirect_url": CALLBACK }),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"status": "success", "data": {
                "token": "exact-token", "url": FAKE_LOGIN_URL
            }}),
        ))
        .expect(1)
        .mount(&xwms)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/sign-token-verify"))
        .and(wiremock::matchers::body_json(
            json!({ "token": "exact-token", "redirect_url": CALLBACK }),
        ))
        .respond_with(verified_user("sub-exact", "exact@example.com"))
        .expect(1)
        .mount(&xwms)
        .await;
    // Reached at localhost while the callback names app.example.test, as behind a proxy
    // that does not pass the Host through: no redirect to the public origin then.
    let app = spawn_app_with(
        Provider::Fake(&xwms),
        &[
            ("XWMS_REDIRECT_URI", CALLBACK),
            ("REDIRECT_TO_PUBLIC_ORIGIN", "false"),
        ],
    )
    .await;

    // A forged Host (and forwarded host) must not change where XWMS sends the browser.
    let start = app
        .client
        .get(app.url("/xwms/auth"))
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303);
    let callback = app.get("/xwms/validateToken?token=exact-token").await;

    assert_eq!(callback.status(), 303);
}

#[actix_web::test]
async fn threat_outbound_concurrent_health_checks_make_one_xwms_call() {
    let xwms = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/info"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": "success", "data": {}}))
                .set_delay(Duration::from_millis(300)),
        )
        .expect(1)
        .mount(&xwms)
        .await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;

    let checks = futures::future::join_all((0..10).map(|_| app.get("/health"))).await;

    for check in checks {
        assert_eq!(check.status(), 200);
    }
    // `expect(1)`, checked when `xwms` is dropped: one call to XWMS for ten checks.
}

// --- Provider data is untrusted input ---

async fn login_with_xwms_user(user: serde_json::Value) -> (TestApp, MockServer, reqwest::Response) {
    let xwms = MockServer::start().await;
    fake_sign_token(&xwms, "tok").await;
    fake_verify(
        &xwms,
        ResponseTemplate::new(200).set_body_json(json!({"status": "success", "data": user})),
        1,
    )
    .await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    app.start_login_with(&app.client).await;
    let response = app.get("/xwms/validateToken?token=tok").await;
    (app, xwms, response)
}

#[actix_web::test]
async fn threat_provider_data_a_script_in_the_name_is_escaped() {
    let (app, _xwms, response) = login_with_xwms_user(json!({
        "sub": "sub-script", "name": "<script>alert(1)</script>", "email": "s@example.com"
    }))
    .await;
    assert_eq!(response.status(), 303);

    let html = app.profile_html().await;
    let home = app.get("/").await.text().await.unwrap();

    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(!home.contains("<script>"));
}

#[actix_web::test]
async fn threat_provider_data_a_javascript_picture_is_dropped() {
    let (app, _xwms, _) = login_with_xwms_user(json!({
        "sub": "sub-picture", "picture": "javascript:alert(1)"
    }))
    .await;

    let html = app.profile_html().await;

    assert!(!html.contains("javascript:"));
    assert!(html.contains("avatar-empty"));
}

#[actix_web::test]
async fn threat_provider_data_five_kilobyte_fields_are_cut_and_the_cookie_stays_under_4_kb() {
    let long = "x".repeat(5 * 1024);
    let (app, _xwms, response) = login_with_xwms_user(json!({
        "sub": "sub-long",
        "name": long,
        "given_name": long,
        "family_name": long,
        "email": format!("{long}@example.com"),
        "picture": format!("https://example.com/{long}"),
    }))
    .await;

    assert_eq!(response.status(), 303);
    let cookie = session_cookie(response.headers()).unwrap();
    assert!(cookie.len() < 4096, "cookie is {} bytes", cookie.len());
    let html = app.profile_html().await;
    assert!(
        !html.contains(&"x".repeat(201)),
        "the name is cut to 200 characters"
    );
    assert_eq!(
        testid(&html, "email"),
        "none",
        "an address that long is dropped"
    );
}

#[actix_web::test]
async fn threat_provider_data_an_empty_or_ten_thousand_character_sub_is_refused() {
    for sub in [json!(""), json!("x".repeat(10_000)), json!(null)] {
        let (app, _xwms, response) =
            login_with_xwms_user(json!({"sub": sub, "email": "a@example.com"})).await;
        assert_eq!(response.status(), 502, "{sub}");
        assert_eq!(app.count("users").await, 0);
    }
}

// --- Security headers ---

#[actix_web::test]
async fn threat_clickjacking_and_sniffing_headers_are_on_every_response_error_pages_included() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/no/such/page",
        "/xwms/validateToken",
        "/health",
        "/static/style.css",
    ] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert!(csp.contains("object-src 'none'"), "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        // For browsers that do not know frame-ancestors.
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        // The refused callback is shown at a URL that may carry a token.
        let referrer = if path.starts_with("/xwms/validateToken") {
            "no-referrer"
        } else {
            "same-origin"
        };
        assert_eq!(headers["referrer-policy"], referrer, "{path}");
    }
}

#[actix_web::test]
async fn threat_token_leakage_every_refused_callback_page_sends_no_referrer() {
    let xwms = MockServer::start().await;
    fake_sign_tokens(&xwms, &["expiring", "rejected"]).await;
    let envelope = json!({"status": "error", "message": "Invalid token", "data": {}});
    fake_verify(&xwms, ResponseTemplate::new(200).set_body_json(envelope), 1).await;
    // Stamps are whole seconds: 3 s leaves the second login in time on a busy machine.
    let app = spawn_app_with(Provider::Fake(&xwms), &[("XWMS_LOGIN_MAX_AGE_SECS", "3")]).await;
    app.get("/xwms/auth").await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    app.get("/xwms/auth").await;

    for (callback, status) in [
        ("/xwms/validateToken?token=expiring", 400),
        ("/xwms/validateToken?token=not-issued", 400),
        ("/xwms/validateToken?xwmsmessage_message=nope", 400),
        ("/xwms/validateToken?token=rejected", 401),
        ("/xwms/validateToken?token=rejected", 400),
    ] {
        let response = app.get(callback).await;

        assert_eq!(response.status(), status, "{callback}");
        assert_eq!(
            response.headers()["referrer-policy"],
            "no-referrer",
            "{callback}"
        );
        assert!(
            response.text().await.unwrap().contains("href=\"/xwms/auth"),
            "{callback}: a way to log in again"
        );
    }
    let other_browser = app
        .get_with(&browser(), "/xwms/validateToken?token=rejected")
        .await;
    assert_eq!(other_browser.headers()["referrer-policy"], "no-referrer");
}

#[actix_web::test]
async fn threat_downgrade_hsts_is_sent_in_production() {
    // HSTS goes with https: an https callback makes the deployment an https one.
    let app = crate::helpers::spawn_https_production_demo(&[]).await;

    let response = app.get("/no/such/page").await;

    let hsts = response.headers()["strict-transport-security"]
        .to_str()
        .unwrap();
    assert!(hsts.contains("max-age=31536000"));
    assert!(
        !hsts.contains("includeSubDomains"),
        "only when asked: {hsts}"
    );
    let subdomains =
        crate::helpers::spawn_https_production_demo(&[("HSTS_INCLUDE_SUBDOMAINS", "true")]).await;
    let asked = subdomains.get("/").await;
    let hsts = asked.headers()["strict-transport-security"]
        .to_str()
        .unwrap();
    assert_eq!(hsts, "max-age=31536000; includeSubDomains");
    let development = spawn_app().await;
    assert!(
        !development
            .get("/")
            .await
            .headers()
            .contains_key("strict-transport-security")
    );
}

// --- Rate limits ---

const TIGHT_LIMIT: &[(&str, &str)] = &[("RATE_LIMIT_PER_MINUTE", "1"), ("RATE_LIMIT_BURST", "3")];

#[actix_web::test]
async fn threat_brute_force_login_steps_are_rate_limited_per_ip_with_retry_after() {
    let app = spawn_app_with(Provider::Sandbox, TIGHT_LIMIT).await;
    for _ in 0..3 {
        assert_eq!(app.get("/xwms/auth").await.status(), 303);
    }

    let limited = app.get("/xwms/auth").await;
    let callback = app.get("/xwms/validateToken?token=x").await;

    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    assert!(limited.text().await.unwrap().contains("Too many requests"));
    assert_eq!(callback.status(), 429, "the callback shares the bucket");
    assert_eq!(
        app.get("/").await.status(),
        200,
        "other pages are not limited"
    );
}

/// An app with `binding` allowing `per_minute` login steps a minute, two at once, to each
/// client named in `X-Forwarded-For` (from loopback, a trusted proxy), and the callback URL
/// of a login under way in `app.client` (started from loopback: a bucket of its own).
async fn a_login_under_a_limit_of(binding: &str, per_minute: &str) -> (TestApp, String) {
    let app = spawn_app_with(
        Provider::Sandbox,
        &[
            ("XWMS_LOGIN_BINDING", binding),
            ("RATE_LIMIT_PER_MINUTE", per_minute),
            ("RATE_LIMIT_BURST", "2"),
            ("TRUSTED_PROXIES", "127.0.0.0/8"),
        ],
    )
    .await;
    let callback = app
        .sandbox_callback_with(&app.client, &[("persona", "ada"), ("outcome", "success")])
        .await;
    (app, callback)
}

/// With the session binding (any token matches the browser's newest login) the callback's
/// rate limit and its token claim are one statement (`GcraThenClaim`): a callback past the
/// limit gets 429 and claims nothing, so its login still works once the limit lets the
/// client through again (a claim made anyway would refuse it as used, and would let a
/// client write a used-token row per request without end). An IPv4 client has one bucket,
/// which carries the claim; an IPv6 client is refused here by its /64, before its /48,
/// which carries it (the next test: refused by the /48).
#[actix_web::test]
async fn threat_brute_force_a_callback_past_the_limit_claims_nothing_and_works_once_let_through() {
    for client in ["198.51.100.1", "2001:db8:1:2::1"] {
        // One step every 2 s: the wait below lets the client through again.
        let (app, callback) = a_login_under_a_limit_of("session", "30").await;
        let from_client =
            |url: String| app.client.get(url).header("X-Forwarded-For", client).send();
        for _ in 0..2 {
            let start = app
                .client
                .get(app.url("/xwms/auth"))
                .header("X-Forwarded-For", client)
                // Our own page's link (with the session binding a start that says nothing of
                // where it comes from gets the "Continue to XWMS" page).
                .header("Sec-Fetch-Site", "same-origin")
                .send()
                .await
                .unwrap();
            assert_eq!(start.status(), 303, "{client}: within the burst");
        }
        // The bucket is full for 2 s more; one of them passes.
        tokio::time::sleep(Duration::from_secs(1)).await;

        let limited = from_client(callback.clone()).await.unwrap();
        // Refusals decided before any claim count too, and write no event past the limit:
        // no token, a malformed one, another token than the one issued.
        for path in [
            "/xwms/validateToken",
            "/xwms/validateToken?token=%01",
            "/xwms/validateToken?token=another",
        ] {
            let refused = from_client(app.url(path)).await.unwrap();
            assert_eq!(refused.status(), 429, "{client}: {path}");
        }

        assert_eq!(limited.status(), 429, "{client}");
        assert_eq!(
            limited.headers()["retry-after"],
            "1",
            "{client}: the second that is left, from the stored tat"
        );
        assert_eq!(
            app.count("used_login_tokens").await,
            0,
            "{client}: no claim"
        );
        assert_eq!(app.count("security_events").await, 0, "{client}: no event");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let let_through = from_client(callback).await.unwrap();
        assert_eq!(let_through.status(), 303, "{client}");
        assert_eq!(let_through.headers()["location"], "/profile", "{client}");
        assert_eq!(app.count("used_login_tokens").await, 1, "{client}");
    }
}

#[actix_web::test]
async fn threat_brute_force_an_ipv6_callback_refused_by_its_slash_48_claims_nothing() {
    // One step a minute, so the /48 (16 a minute) refills one every 3.75 s: its burst of 32
    // fills unless the 40 starts below take half a minute (a loaded machine once took 5 s).
    let (app, callback) = a_login_under_a_limit_of("session", "1").await;
    // The /48 allows 16 times the burst: 32 starts from 32 of its /64s fill it (another
    // browser: this one's logins under way stay as they are).
    let filler = browser();
    let mut statuses = Vec::new();
    for n in 1..=40 {
        let start = filler
            .get(app.url("/xwms/auth"))
            .header("X-Forwarded-For", format!("2001:db8:1:{n:x}::1"))
            .send()
            .await
            .unwrap();
        statuses.push(start.status().as_u16());
    }
    assert!(statuses.contains(&429), "the /48 is full: {statuses:?}");

    // A /64 of that /48 never seen before: its own bucket lets it through, the /48 not.
    let limited = app
        .client
        .get(&callback)
        .header("X-Forwarded-For", "2001:db8:1:ff::1")
        .send()
        .await
        .unwrap();

    assert_eq!(limited.status(), 429);
    assert_eq!(app.count("used_login_tokens").await, 0, "no claim");
}

/// With the token binding a callback claims only the token issued to a login this browser
/// started, and each start was counted: so the claim itself is not counted (its login goes
/// through with the client's bucket full), while every callback that goes no further is.
/// A copy of the cookie replaying the used token is counted: 429 past the limit, refused as
/// used (with its event) within it. The defence the limit keeps: no claim, and no event,
/// past the limit for any callback that does not finish a login a counted start began.
#[actix_web::test]
async fn threat_brute_force_with_the_token_binding_a_callback_counts_unless_it_claims_its_own_token()
 {
    for client in ["198.51.100.1", "2001:db8:1:2::1"] {
        // One step every 5 s: the wait below lets the client through again.
        let (app, callback) = a_login_under_a_limit_of("token", "12").await;
        let from = |browser: &reqwest::Client, url: String| {
            browser.get(url).header("X-Forwarded-For", client).send()
        };
        let mut copied = String::new();
        for _ in 0..2 {
            let start = from(&app.client, app.url("/xwms/auth")).await.unwrap();
            assert_eq!(start.status(), 303, "{client}: within the burst");
            // The cookie with every login under way, the callback's among them.
            copied = session_cookie(start.headers()).unwrap();
        }
        let copied_cookie = crate::helpers::browser_with_cookie(&app.address, &copied);
        let refused = from(&app.client, app.url("/xwms/validateToken?token=another")).await;
        assert_eq!(
            refused.unwrap().status(),
            429,
            "{client}: the bucket is full"
        );

        let finished = from(&app.client, callback.clone()).await.unwrap();
        assert_eq!(
            finished.status(),
            303,
            "{client}: its own token, not counted"
        );
        assert_eq!(finished.headers()["location"], "/profile", "{client}");
        assert_eq!(app.count("used_login_tokens").await, 1, "{client}");

        let replayed = from(&copied_cookie, callback.clone()).await.unwrap();
        assert_eq!(replayed.status(), 429, "{client}: a used token is counted");
        assert_eq!(
            app.count("security_events").await,
            1,
            "{client}: the login's event only, none for the replay past the limit"
        );
        tokio::time::sleep(Duration::from_millis(5100)).await;
        let replayed = from(&copied_cookie, callback).await.unwrap();
        assert_eq!(
            replayed.status(),
            400,
            "{client}: refused as used once let through"
        );
        assert_eq!(app.count("security_events").await, 2, "{client}: its event");
    }
}

#[actix_web::test]
async fn threat_brute_force_a_spoofed_forwarded_for_does_not_reset_the_bucket() {
    let app = spawn_app_with(Provider::Sandbox, TIGHT_LIMIT).await;
    for _ in 0..3 {
        app.get("/xwms/auth").await;
    }

    let spoofed = app
        .client
        .get(app.url("/xwms/auth"))
        .header("X-Forwarded-For", "198.51.100.77")
        .send()
        .await
        .unwrap();

    assert_eq!(spoofed.status(), 429);
}

#[actix_web::test]
async fn threat_brute_force_behind_a_trusted_proxy_each_client_gets_its_own_bucket() {
    let mut env = TIGHT_LIMIT.to_vec();
    // A range, as proxies in Docker and Kubernetes networks come from ranges.
    env.push(("TRUSTED_PROXIES", "127.0.0.0/8"));
    let app = spawn_app_with(Provider::Sandbox, &env).await;
    let from = |ip: &'static str| {
        app.client
            .get(app.url("/xwms/auth"))
            .header("X-Forwarded-For", ip)
            .send()
    };
    for _ in 0..3 {
        assert_eq!(from("198.51.100.1").await.unwrap().status(), 303);
    }

    assert_eq!(from("198.51.100.1").await.unwrap().status(), 429);
    assert_eq!(from("198.51.100.2").await.unwrap().status(), 303);
}

// --- Concurrency ---

#[actix_web::test]
async fn threat_race_fifty_parallel_first_logins_of_one_sub_make_one_user_and_no_5xx() {
    // Fifty callbacks share ten connections: on a loaded machine some would wait longer than
    // the default 2 s for one and get the pool's 503 (or the sandbox's answer would take
    // longer than XWMS_TIMEOUT_MS: a 504).
    let app = spawn_app_for_a_race().await;

    let logins = app.parallel_first_logins(50, "race-50").await;

    for (_, response) in &logins {
        assert_eq!(response.status(), 303);
    }
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("xwms_connections").await, 1);
    assert_eq!(
        app.count("security_events WHERE kind = 'account_created'")
            .await,
        1
    );
}

#[actix_web::test]
async fn threat_partial_write_a_failure_at_the_last_write_of_a_first_login_leaves_nothing() {
    let app = spawn_app().await;
    // Fault injection: the session record, the last write of a first login, fails after
    // the user, its identity, its event and its welcome note were written.
    app.execute_sql(
        "CREATE FUNCTION fail_session() RETURNS trigger AS $$
         BEGIN RAISE EXCEPTION 'injected failure'; END; $$ LANGUAGE plpgsql",
    )
    .await;
    app.execute_sql(
        "CREATE TRIGGER fail_session BEFORE INSERT ON user_sessions
         FOR EACH ROW EXECUTE FUNCTION fail_session()",
    )
    .await;

    let response = app.login_as("ada").await;

    assert_eq!(response.status(), 500);
    let html = response.text().await.unwrap();
    assert!(html.contains("Something went wrong"));
    assert!(
        !html.contains("injected failure"),
        "no internals on the page"
    );
    assert_eq!(
        app.count("users").await,
        0,
        "the user insert was rolled back"
    );
    assert_eq!(app.count("xwms_connections").await, 0);
    assert_eq!(app.count("notes").await, 0);
    assert_eq!(
        app.count("security_events WHERE kind <> 'login_refused'")
            .await,
        0
    );
}

// --- Database faults ---

#[actix_web::test]
async fn threat_database_down_the_503_for_a_signed_in_user_is_a_full_error_page() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    app.take_database_down().await;

    // The session check (middleware) is the first to need the database here.
    let response = app.get("/").await;

    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("content-security-policy"));
    let html = response.text().await.unwrap();
    assert!(html.contains("Temporarily unavailable"));
    assert!(!testid(&html, "reference").is_empty());
    app.bring_database_back().await;
}

#[actix_web::test]
async fn threat_database_down_mid_run_gives_503_within_seconds_and_recovers_without_restart() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    let callback = app
        .sandbox_callback_with(&browser(), &[("persona", "grace"), ("outcome", "success")])
        .await;
    app.take_database_down().await;

    let started = Instant::now();
    let profile = app.get("/profile").await;
    assert_eq!(profile.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.get("/health").await.status(), 503);
    drop(callback);

    app.bring_database_back().await;

    assert_eq!(app.get("/health").await.status(), 200);
    let returning = browser();
    assert_eq!(app.login_as_with(&returning, "grace").await.status(), 303);
    assert_eq!(app.get_with(&returning, "/profile").await.status(), 200);
}

// --- Secrets ---

#[actix_web::test]
async fn threat_secret_disclosure_debug_output_of_config_and_client_hides_secrets() {
    let settings = xwms_starter::support::config::Settings::from_lookup(|name| {
        match name {
            "XWMS_CLIENT_ID" => Some("id"),
            "XWMS_CLIENT_SECRET" => Some("super-secret-client-value"),
            "XWMS_CLIENT_DOMAIN" => Some("example.com"),
            "SESSION_KEY" => {
                Some("k3y-material-that-is-long-enough-to-be-a-real-session-key-0123456789")
            }
            _ => None,
        }
        .map(str::to_owned)
    })
    .unwrap();
    let client_config = xwms_starter::xwms::XwmsConfig {
        api_url: settings.xwms.api_url.clone(),
        credentials: settings.xwms.credentials.clone().unwrap(),
        timeout: settings.xwms.timeout,
        provider: "xwms:test".to_owned(),
    };

    for printed in [format!("{settings:?}"), format!("{client_config:?}")] {
        assert!(!printed.contains("super-secret-client-value"), "{printed}");
        assert!(!printed.contains("k3y-material"), "{printed}");
    }
}

// --- Login CSRF: starting a login (RFC 9700 §4.7) ---

/// Runs the attack in one binding mode: another site opens our login start in the
/// victim's window, then sends that window to our callback with its own token.
async fn a_login_started_by_another_site_needs_a_click_on_our_page(binding: &str) {
    let xwms = fake_xwms("attackers-token", 0).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[("XWMS_LOGIN_BINDING", binding)]).await;
    let victim = browser();
    let cross_site = |path: &str| {
        victim
            .get(app.url(path))
            .header("Sec-Fetch-Site", "cross-site")
            .send()
    };

    let start = cross_site("/xwms/auth").await.unwrap();
    assert_eq!(start.status(), 200, "{binding}: a page, not a redirect");
    let page = start.text().await.unwrap();
    assert!(page.contains("Continue to XWMS"), "{binding}");
    let callback = cross_site("/xwms/validateToken?token=attackers-token")
        .await
        .unwrap();

    assert_eq!(
        callback.status(),
        400,
        "{binding}: no pending login was made"
    );
    assert_eq!(app.count("users").await, 0);
    let sign_token_calls = xwms.received_requests().await.unwrap().len();
    assert_eq!(sign_token_calls, 0, "{binding}: XWMS was not asked");

    // A referer or origin from elsewhere counts as another site too.
    for (name, value) in [("Referer", "https://evil.example/page"), ("Origin", "null")] {
        let start = victim
            .get(app.url("/xwms/auth"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), 200, "{binding}: {name}: {value}");
    }
    // The button posts back to us; the other site cannot post it for the victim.
    let token = TestApp::form_csrf_token(&page);
    let forged = victim
        .post(app.url("/xwms/auth"))
        .header("Origin", "https://evil.example")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403, "{binding}");
    let without_token = victim.post(app.url("/xwms/auth")).send().await.unwrap();
    assert_eq!(without_token.status(), 403, "{binding}");
}

#[actix_web::test]
async fn threat_login_csrf_a_login_started_by_another_site_needs_a_click_in_token_binding() {
    a_login_started_by_another_site_needs_a_click_on_our_page("token").await;
}

#[actix_web::test]
async fn threat_login_csrf_a_login_started_by_another_site_needs_a_click_in_session_binding() {
    a_login_started_by_another_site_needs_a_click_on_our_page("session").await;
}

#[actix_web::test]
async fn threat_login_csrf_a_start_that_says_nothing_of_where_it_came_from_needs_a_click_in_session_binding()
 {
    let xwms = fake_xwms("unasked-token", 0).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[("XWMS_LOGIN_BINDING", "session")]).await;
    let victim = browser();

    // No Sec-Fetch-Site, Origin or Referer: an old browser, or a request made for it.
    let start = victim.get(app.url("/xwms/auth")).send().await.unwrap();

    assert_eq!(start.status(), 200, "a page, not a redirect");
    assert!(start.text().await.unwrap().contains("Continue to XWMS"));
    let callback = victim
        .get(app.url("/xwms/validateToken?token=unasked-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), 400, "no pending login was made");
    assert_eq!(app.count("users").await, 0);
    let sign_token_calls = xwms.received_requests().await.unwrap().len();
    assert_eq!(sign_token_calls, 0, "XWMS was not asked");
}

#[actix_web::test]
async fn a_start_that_says_nothing_of_where_it_came_from_goes_straight_on_in_token_binding() {
    let xwms = fake_xwms("issued-token", 0).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;

    let start = browser().get(app.url("/xwms/auth")).send().await.unwrap();

    assert_eq!(
        start.status(),
        303,
        "the callback must bring the issued token"
    );
}

#[actix_web::test]
async fn the_continue_button_on_our_own_page_goes_on_to_xwms_and_keeps_next() {
    let xwms = fake_xwms("clicked-token", 1).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    let page = app
        .client
        .get(app.url("/xwms/auth?next=/profile%3Ftab%3D1"))
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"name="next" value="/profile?tab=1""#),
        "{html}"
    );

    let click = app
        .client
        .post(app.url("/xwms/auth"))
        .header("Origin", app.address.as_str())
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[
            ("csrf_token", TestApp::form_csrf_token(&html).as_str()),
            ("next", "/profile?tab=1"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(click.status(), 303);
    assert_eq!(location(click.headers()), FAKE_LOGIN_URL);
    let callback = app.get("/xwms/validateToken?token=clicked-token").await;
    assert_eq!(location(callback.headers()), "/profile?tab=1");
}

/// A login with `token` through a fake XWMS that would verify it only once; returns the
/// app, the fake (its `expect(1)` is checked when dropped) and a copy of the browser's
/// cookie taken before the callback: what a thief would replay.
async fn log_in_keeping_a_copy_of_the_cookie(token: &str) -> (TestApp, MockServer, String) {
    let xwms = MockServer::start().await;
    fake_sign_token(&xwms, token).await;
    fake_verify(&xwms, verified_user("sub-replay", "r@example.com"), 1).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    let start = app.get("/xwms/auth").await;
    let copied = session_cookie(start.headers()).unwrap();
    let callback = app.get(&format!("/xwms/validateToken?token={token}")).await;
    assert_eq!(callback.status(), 303);
    (app, xwms, copied)
}

#[actix_web::test]
async fn threat_login_csrf_a_copied_cookie_cannot_replay_a_used_token() {
    // This fake XWMS would accept the token any number of times: only our server's
    // memory of used tokens stands in the way.
    let (app, _xwms, copied) = log_in_keeping_a_copy_of_the_cookie("used-once").await;

    let thief = crate::helpers::browser_with_cookie(&app.address, &copied);
    let replay = app
        .get_with(&thief, "/xwms/validateToken?token=used-once")
        .await;

    assert_eq!(replay.status(), 400);
    assert!(replay.text().await.unwrap().contains("not valid here"));
    assert_eq!(app.get_with(&thief, "/profile").await.status(), 303);
    // `expect(1)`: XWMS was asked once.
}

// --- Cookies and headers in production ---

#[actix_web::test]
async fn threat_session_the_production_cookie_is_host_prefixed_and_secure_with_hsts() {
    let xwms = MockServer::start().await;
    fake_sign_token(&xwms, "prod-token").await;
    let app = spawn_app_with(
        Provider::Fake(&xwms),
        &[
            ("APP_ENV", "production"),
            (
                "XWMS_REDIRECT_URI",
                "https://app.example.com/xwms/validateToken",
            ),
            (
                "SESSION_KEY",
                &xwms_starter::support::crypto::new_session_key(),
            ),
        ],
    )
    .await;

    let response = app.get("/xwms/auth").await;

    assert_eq!(response.status(), 303);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("__Host-xwms_session="), "{cookie}");
    for attribute in ["Secure", "HttpOnly", "Path=/", "SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
    assert!(!cookie.contains("Domain="), "host-only: {cookie}");
    let hsts = response.headers()["strict-transport-security"]
        .to_str()
        .unwrap();
    assert!(hsts.contains("max-age=31536000"), "{hsts}");
}

// --- Privacy of the activity log ---

async fn ip_hash_with_key(key: &str) -> String {
    let app = spawn_app_with(Provider::Sandbox, &[("SESSION_KEY", key)]).await;
    app.login_as("ada").await;
    app.event_ip_hashes().await[0].clone().expect("an ip hash")
}

#[actix_web::test]
async fn threat_privacy_the_ip_hash_is_salted_per_deployment() {
    const OTHER_KEY: &str = "a-second-deployment-key-a-second-deployment-key-0123456789-abcdefgh";

    let first = ip_hash_with_key(crate::helpers::TEST_SESSION_KEY).await;
    let again = ip_hash_with_key(crate::helpers::TEST_SESSION_KEY).await;
    let other = ip_hash_with_key(OTHER_KEY).await;

    assert_eq!(
        first, again,
        "same IP, same key: comparable across restarts"
    );
    assert_ne!(first, other, "same IP, another key: another hash");
    use sha2::Digest as _;
    let unsalted = hex::encode(sha2::Sha256::digest(b"127.0.0.1"));
    assert_ne!(first, unsalted, "not a plain hash of the address");
}

// --- Identities that can never collide ---

/// A login where XWMS's verify answer is exactly `body` (raw JSON text).
async fn login_with_raw_verify_answer(body: String) -> (TestApp, MockServer, reqwest::Response) {
    let xwms = MockServer::start().await;
    fake_sign_token(&xwms, "tok").await;
    fake_verify(
        &xwms,
        ResponseTemplate::new(200).set_body_raw(body, "application/json"),
        1,
    )
    .await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    app.start_login_with(&app.client).await;
    let response = app.get("/xwms/validateToken?token=tok").await;
    (app, xwms, response)
}

#[actix_web::test]
async fn threat_identity_a_numeric_sub_beyond_64_bits_or_with_a_fraction_is_refused() {
    // Parsed as floats, 18446744073709551616 and ...617 would be the same account.
    for sub in [
        "18446744073709551616",
        "18446744073709551617",
        "42.0",
        "4.2e1",
    ] {
        let (app, _xwms, response) = login_with_raw_verify_answer(format!(
            r#"{{"status":"success","data":{{"sub":{sub}}}}}"#
        ))
        .await;
        assert_eq!(response.status(), 502, "{sub}");
        assert_eq!(app.count("users").await, 0, "{sub}");
    }
    let (app, _xwms, response) = login_with_raw_verify_answer(
        r#"{"status":"success","data":{"sub":18446744073709551615}}"#.to_owned(),
    )
    .await;
    assert_eq!(response.status(), 303, "the largest 64-bit integer is fine");
    assert_eq!(app.identities().await[0].1, "18446744073709551615");
}

#[actix_web::test]
async fn threat_identity_a_sub_with_surrounding_whitespace_is_refused_not_trimmed() {
    let (app, _xwms, response) =
        login_with_xwms_user(json!({"sub": " sub-ada ", "email": "a@example.com"})).await;

    assert_eq!(response.status(), 502);
    assert_eq!(app.count("users").await, 0);
}

#[actix_web::test]
async fn threat_identity_a_sandbox_identity_never_owns_a_real_xwms_account() {
    // Grace's sandbox sub is a bare number, as a real XWMS sub could be.
    let sandbox = spawn_app().await;
    sandbox.login_as("grace").await;
    let xwms = MockServer::start().await;
    fake_sign_token(&xwms, "real-token").await;
    fake_verify(&xwms, verified_user("190612091992", "real@example.com"), 1).await;
    let real = spawn_app_with(
        Provider::Fake(&xwms),
        &[("DATABASE_URL", sandbox.database_url.as_str())],
    )
    .await;
    real.start_login_with(&real.client).await;

    let login = real.get("/xwms/validateToken?token=real-token").await;

    assert_eq!(login.status(), 303);
    assert_eq!(
        sandbox.count("users").await,
        2,
        "a new account, not Grace's"
    );
    let identities = sandbox.identities().await;
    assert_eq!(
        identities[0],
        ("sandbox".to_owned(), "190612091992".to_owned())
    );
    assert_eq!(identities[1].1, "190612091992");
    assert!(
        identities[1].0.starts_with("xwms:127.0.0.1:"),
        "{identities:?}"
    );
    let profile = real.profile_html().await;
    assert!(profile.contains("real@example.com"));
}

// --- Operator errors are not the visitor's ---

#[actix_web::test]
async fn threat_misconfiguration_a_401_from_xwms_is_our_credentials_not_a_refused_login() {
    let xwms = MockServer::start().await;
    fake_sign_token(&xwms, "tok-401").await;
    // XWMS's body says "Invalid token", but a 401 means it never looked at the token.
    fake_verify(
        &xwms,
        ResponseTemplate::new(401)
            .set_body_json(json!({"status": "error", "message": "Invalid token", "data": {}})),
        1,
    )
    .await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    app.start_login_with(&app.client).await;

    let response = app.get("/xwms/validateToken?token=tok-401").await;

    assert_eq!(response.status(), 502);
    let page = response.text().await.unwrap();
    assert!(page.contains("XWMS had a problem"), "{page}");
    assert!(!page.contains("did not accept this login"));
    assert!(
        !app.event_kinds()
            .await
            .contains(&"login_refused".to_owned()),
        "not recorded as a refused login"
    );
    let reference = testid(&page, "reference");
    let logged = app.log_line_of_reference(&reference);
    assert!(
        logged.starts_with("ERROR") && logged.contains("(HTTP 401): check XWMS_CLIENT_ID"),
        "an operator-facing log line: {logged}"
    );
}

#[actix_web::test]
async fn threat_misconfiguration_a_403_at_the_start_is_an_error_page_not_a_redirect() {
    let xwms =
        xwms_whose_sign_token_answers(ResponseTemplate::new(403).set_body_string("Forbidden"))
            .await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;

    let response = app.get("/xwms/auth").await;

    // A 403 whatever its body, told apart from any other refusal: the page is XWMS's
    // problem, and the log tells the operator to check the credentials.
    assert_eq!(response.status(), 502);
    let page = response.text().await.unwrap();
    assert!(page.contains("XWMS had a problem"), "{page}");
    let logged = app.log_line_of_reference(&testid(&page, "reference"));
    assert!(
        logged.starts_with("ERROR")
            && logged.contains("XWMS refused our client credentials (HTTP 403)")
            && logged.contains("check XWMS_CLIENT_ID"),
        "{logged}"
    );
}

#[actix_web::test]
async fn threat_misconfiguration_any_other_non_json_4xx_at_the_start_is_not_taken_for_our_credentials()
 {
    let xwms =
        xwms_whose_sign_token_answers(ResponseTemplate::new(400).set_body_string("Bad Request"))
            .await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;

    let response = app.get("/xwms/auth").await;

    assert_eq!(response.status(), 502);
    let page = response.text().await.unwrap();
    let logged = app.log_line_of_reference(&testid(&page, "reference"));
    assert!(
        logged.contains("XWMS refused the request (HTTP 400)"),
        "{logged}"
    );
    assert!(!logged.contains("XWMS_CLIENT_ID"), "{logged}");
}

// --- Clock skew between replicas ---

#[actix_web::test]
async fn a_session_or_login_stamped_a_few_seconds_ahead_by_another_replica_is_accepted() {
    use crate::helpers::{TEST_SESSION_KEY, browser_with_cookie, forge_session_cookie};
    let xwms = fake_xwms("skewed-token", 1).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[("SESSION_KEY", TEST_SESSION_KEY)]).await;
    let now = chrono::Utc::now().timestamp();
    let pending = |started_at: i64| {
        forge_session_cookie(
            TEST_SESSION_KEY,
            &[(
                "pending_logins",
                json!([{
                    "token_sha256": xwms_starter::support::crypto::sha256_hex("skewed-token"),
                    "started_at": started_at,
                    "next": null,
                }]),
            )],
        )
    };
    let far_ahead = browser_with_cookie(&app.address, &pending(now + 60));
    let refused = app
        .get_with(&far_ahead, "/xwms/validateToken?token=skewed-token")
        .await;
    assert_eq!(
        refused.status(),
        400,
        "a login a minute in the future is forged"
    );

    let slightly_ahead = browser_with_cookie(&app.address, &pending(now + 3));
    let login = app
        .get_with(&slightly_ahead, "/xwms/validateToken?token=skewed-token")
        .await;
    assert_eq!(login.status(), 303, "three seconds of skew are tolerated");

    let signed_in = |stamp: i64| {
        forge_session_cookie(
            TEST_SESSION_KEY,
            &[(
                "signed_in",
                json!({
                    "user_id": 1, "session_id": "a".repeat(64),
                    "signed_in_at": stamp, "seen_at": stamp,
                }),
            )],
        )
    };
    // The forged session's record, as its login would have written it.
    app.execute_sql(
        "INSERT INTO user_sessions (token_sha256, user_id) \
         VALUES (encode(sha256(repeat('a', 64)::bytea), 'hex'), 1)",
    )
    .await;
    let skewed = browser_with_cookie(&app.address, &signed_in(now + 3));
    assert_eq!(app.get_with(&skewed, "/profile").await.status(), 200);
    let forged = browser_with_cookie(&app.address, &signed_in(now + 60));
    assert_eq!(app.get_with(&forged, "/profile").await.status(), 303);
}

#[actix_web::test]
async fn threat_partial_write_a_failing_first_login_hook_rolls_the_whole_first_login_back() {
    let app = spawn_app().await;
    app.login_as_with(&browser(), "grace").await;
    // Fault injection in `accounts::on_first_login`: its write fails.
    app.execute_sql(
        "CREATE FUNCTION fail_first_login() RETURNS trigger AS $$
         BEGIN RAISE EXCEPTION 'injected hook failure'; END; $$ LANGUAGE plpgsql",
    )
    .await;
    app.execute_sql(
        "CREATE TRIGGER fail_first_login BEFORE INSERT ON security_events
         FOR EACH ROW WHEN (NEW.kind = 'account_created') EXECUTE FUNCTION fail_first_login()",
    )
    .await;

    let first = app.login_as("ada").await;

    assert_eq!(first.status(), 500);
    assert_eq!(
        app.count("users").await,
        1,
        "only Grace: Ada's user rolled back"
    );
    assert_eq!(
        app.count("xwms_connections WHERE sub = 'sandbox-ada'")
            .await,
        0
    );
    let returning = app.login_as_with(&browser(), "grace").await;
    assert_eq!(
        returning.status(),
        303,
        "the hook runs at first logins only"
    );
}

#[actix_web::test]
async fn threat_login_csrf_a_used_token_is_remembered_longer_than_a_login_may_take() {
    let (app, _xwms, copied) = log_in_keeping_a_copy_of_the_cookie("used-long-ago").await;
    // Used 9 minutes ago: still within the 10 minutes a pending login may live. The
    // hourly sweep then forgets what the server may forget.
    app.execute_sql("UPDATE used_login_tokens SET used_at = now() - interval '9 minutes'")
        .await;
    let pool = app.pool();
    let ten_minutes = Duration::from_secs(600);
    xwms_starter::domain::session_records::sweep_used_login_tokens(&pool, ten_minutes)
        .await
        .unwrap();

    let thief = crate::helpers::browser_with_cookie(&app.address, &copied);
    let replay = app
        .get_with(&thief, "/xwms/validateToken?token=used-long-ago")
        .await;

    assert_eq!(replay.status(), 400, "the server still remembers the token");
}

#[actix_web::test]
async fn the_hourly_sweep_forgets_used_tokens_once_no_login_can_use_them() {
    let (app, _xwms, _copied) = log_in_keeping_a_copy_of_the_cookie("used-ages-ago").await;
    let pool = app.pool();
    let ten_minutes = Duration::from_secs(600);
    let sweep = async || {
        xwms_starter::domain::session_records::sweep_used_login_tokens(&pool, ten_minutes)
            .await
            .unwrap()
    };
    assert_eq!(sweep().await, 0, "a token used just now stays");

    // Older than twice the 10 minutes a pending login may live (clock-skew margin).
    app.execute_sql("UPDATE used_login_tokens SET used_at = now() - interval '21 minutes'")
        .await;

    assert_eq!(sweep().await, 1);
    assert_eq!(app.count("used_login_tokens").await, 0);
}

#[actix_web::test]
async fn a_token_of_exactly_the_longest_allowed_length_is_accepted() {
    // 2048 characters is the most the callback takes (`MAX_TOKEN_CHARS`); one more is
    // refused by the test below.
    let token = "t".repeat(2048);
    let xwms = fake_xwms(&token, 1).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    app.start_login_with(&app.client).await;

    let response = app.get(&format!("/xwms/validateToken?token={token}")).await;

    assert_eq!(response.status(), 303, "the longest token logs in");
    assert_eq!(location(response.headers()), "/profile");
}

#[actix_web::test]
async fn threat_login_csrf_an_overlong_or_control_character_token_never_reaches_xwms() {
    // In session binding any token of a browser with a login under way would be sent to
    // XWMS; a token no XWMS issues (too long, control characters) must be refused first.
    let xwms = fake_xwms("issued", 0).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[("XWMS_LOGIN_BINDING", "session")]).await;
    for token in ["x".repeat(2049), "x".repeat(3000), "abc%07def".to_owned()] {
        app.start_login_with(&app.client).await;

        let response = app.get(&format!("/xwms/validateToken?token={token}")).await;

        assert_eq!(response.status(), 400, "{}", &token[..9]);
    }
    // `expect(0)`: XWMS was never asked.
}
