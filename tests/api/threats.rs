//! One named test per threat and fault. The README's threat table points here.
//!
//! Anchors: RFC 9700 (OAuth 2.0 Security BCP), OWASP ASVS 5.0 (sessions, OAuth, error
//! handling), and actix-session's own acceptance tests.

use std::io::Write as _;
use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    FAKE_LOGIN_URL, Provider, TestApp, bare_client, browser, fake_sign_token, fake_verify,
    location, session_cookie, spawn_app, spawn_app_with, testid, verified_user,
};

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

#[actix_web::test]
async fn threat_login_csrf_a_reused_callback_url_is_refused() {
    let xwms = fake_xwms("one-time-token", 1).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    assert_eq!(app.start_login_with(&app.client).await, FAKE_LOGIN_URL);
    assert_eq!(
        app.get("/xwms/validateToken?token=one-time-token")
            .await
            .status(),
        303
    );

    let replay = app.get("/xwms/validateToken?token=one-time-token").await;

    assert_eq!(replay.status(), 400);
    // `expect(1)`: the replay did not reach XWMS.
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

#[actix_web::test]
async fn threat_session_fixation_the_cookie_value_changes_at_login() {
    let app = spawn_app().await;

    let (before, callback) = app.login_keeping_the_pre_login_cookie().await;

    let after = session_cookie(callback.headers()).unwrap();
    assert_ne!(before, after);
}

#[actix_web::test]
async fn threat_session_fixation_the_pre_login_cookie_replayed_alone_is_anonymous() {
    let app = spawn_app().await;
    let (planted, _) = app.login_keeping_the_pre_login_cookie().await;
    assert_eq!(
        app.get("/profile").await.status(),
        200,
        "the real browser is signed in"
    );

    let replay = profile_status_with_cookie(&app, &planted).await;

    assert_eq!(replay, 303, "the planted cookie is anonymous");
}

// --- Session lifetime, enforced on the server (ASVS V7.3) ---

/// Logs `browser` in and returns its signed-in cookie (`name=value`): the copy an
/// attacker could hold.
async fn signed_in_cookie_of(app: &TestApp, browser: &reqwest::Client) -> String {
    let callback = app
        .sandbox_callback_with(browser, &[("persona", "ada"), ("outcome", "success")])
        .await;
    let response = browser.get(&callback).send().await.unwrap();
    session_cookie(response.headers()).unwrap()
}

async fn signed_in_cookie(app: &TestApp) -> String {
    signed_in_cookie_of(app, &app.client).await
}

async fn profile_status_with_cookie(app: &TestApp, cookie: &str) -> u16 {
    bare_client()
        .get(app.url("/profile"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn threat_session_idle_limit_ends_an_unused_session() {
    // Default 30 minutes; 2 s here (times are kept in whole seconds).
    let app = spawn_app_with(Provider::Sandbox, &[("SESSION_IDLE_TIMEOUT_SECS", "2")]).await;
    let cookie = signed_in_cookie(&app).await;
    assert_eq!(profile_status_with_cookie(&app, &cookie).await, 200);

    tokio::time::sleep(Duration::from_millis(3100)).await;

    assert_eq!(profile_status_with_cookie(&app, &cookie).await, 303);
}

#[actix_web::test]
async fn threat_session_absolute_limit_ends_even_a_busy_session() {
    // Default 12 hours; 4 s here (times are kept in whole seconds), while the session
    // is used all the time.
    let app = spawn_app_with(Provider::Sandbox, &[("SESSION_ABSOLUTE_TIMEOUT_SECS", "4")]).await;
    let cookie = signed_in_cookie(&app).await;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2000) {
        assert_eq!(profile_status_with_cookie(&app, &cookie).await, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    tokio::time::sleep(Duration::from_millis(3200)).await;

    assert_eq!(profile_status_with_cookie(&app, &cookie).await, 303);
}

#[actix_web::test]
async fn threat_session_a_copied_cookie_replayed_after_logout_is_anonymous() {
    let app = spawn_app().await;
    let copied = signed_in_cookie(&app).await;
    assert_eq!(profile_status_with_cookie(&app, &copied).await, 200);

    let logout = app.log_out_with(&app.client, "/logout").await;

    assert_eq!(logout.status(), 303);
    assert_eq!(profile_status_with_cookie(&app, &copied).await, 303);
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
    let xwms = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/sign-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "success",
            "data": {"token": "t", "url": "javascript:alert(document.cookie)"}
        })))
        .mount(&xwms)
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
    let xwms = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/sign-token"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&xwms)
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

#[actix_web::test]
async fn threat_outbound_a_ten_megabyte_body_is_cut_off() {
    let xwms = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/sign-token"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 10 * 1024 * 1024]))
        .mount(&xwms)
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
async fn threat_outbound_a_compression_bomb_is_not_inflated() {
    // 200 MB of zeros, gzipped to about 200 KB.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..200 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    let xwms = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/sign-token"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Encoding", "gzip")
                .insert_header("Content-Type", "application/json")
                .set_body_bytes(bomb),
        )
        .mount(&xwms)
        .await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;

    let started = Instant::now();
    let response = app.get("/xwms/auth").await;

    assert_eq!(response.status(), 502);
    assert!(started.elapsed() < Duration::from_secs(2));
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
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
    }
}

#[actix_web::test]
async fn threat_downgrade_hsts_is_sent_in_production() {
    let app = spawn_app_with(
        Provider::Sandbox,
        &[
            ("APP_ENV", "production"),
            ("XWMS_SANDBOX", "true"),
            // HSTS goes with https: an https callback makes the deployment an https one.
            (
                "XWMS_REDIRECT_URI",
                "https://app.example.com/xwms/validateToken",
            ),
        ],
    )
    .await;

    let response = app.get("/no/such/page").await;

    let hsts = response.headers()["strict-transport-security"]
        .to_str()
        .unwrap();
    assert!(hsts.contains("max-age=31536000"));
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
    env.push(("TRUSTED_PROXIES", "127.0.0.1"));
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
    let app = spawn_app().await;

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
async fn threat_partial_write_a_failure_between_user_and_connection_leaves_no_orphan() {
    let app = spawn_app().await;
    // Fault injection: the connection insert fails after the user row was written.
    app.execute_sql(
        "CREATE FUNCTION fail_connection() RETURNS trigger AS $$
         BEGIN RAISE EXCEPTION 'injected failure'; END; $$ LANGUAGE plpgsql",
    )
    .await;
    app.execute_sql(
        "CREATE TRIGGER fail_connection BEFORE INSERT ON xwms_connections
         FOR EACH ROW EXECUTE FUNCTION fail_connection()",
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
    let settings = xwms_starter::config::Settings::from_lookup(|name| {
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
