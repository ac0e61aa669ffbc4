//! The sandbox's own API, called the way any client could call it: it may run in
//! production (`XWMS_SANDBOX=true`), so it must refuse what XWMS refuses.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Provider, TestApp, bare_client, spawn_app_with, spawn_https_production_demo};

const SECRET: &str = "the-sandbox-secret-of-this-test";

/// The host of the https deployments below; the sandbox checks it as the client's domain.
const HTTPS_HOST: &str = "app.example.com";

async fn sandbox_app() -> TestApp {
    sandbox_app_with(&[]).await
}

/// [`sandbox_app`] with `extra` settings on top.
async fn sandbox_app_with(extra: &[(&str, &str)]) -> TestApp {
    let mut env = vec![("XWMS_SANDBOX_CLIENT_SECRET", SECRET)];
    env.extend_from_slice(extra);
    spawn_app_with(Provider::Sandbox, &env).await
}

/// `POST {endpoint}` of the sandbox's API with `secret`; the status and the envelope.
async fn call(app: &TestApp, endpoint: &str, secret: &str, body: Value) -> (StatusCode, Value) {
    call_from("localhost", app, endpoint, secret, body).await
}

/// [`call`] by the site at `domain` (the host of the app's callback URL).
async fn call_from(
    domain: &str,
    app: &TestApp,
    endpoint: &str,
    secret: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = bare_client()
        .post(app.url(&format!("/sandbox/xwms/api/{endpoint}")))
        .header("X-Client-Id", "sandbox-client")
        .header("X-Client-Secret", secret)
        .header("X-Client-Domain", domain)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    // Not JSON (an empty body, an HTML page): kept as text, so the status check shows it.
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// `sign-token-verify` of `token` with the right secret.
async fn verify(app: &TestApp, token: &str) -> (StatusCode, Value) {
    call(app, "sign-token-verify", SECRET, json!({ "token": token })).await
}

/// A token of an approved sandbox login (Ada's), not yet verified.
async fn approved_token(app: &TestApp) -> String {
    token_of(app, "success").await
}

/// The body of a `sign-token` call for this app's callback.
fn sign_request(app: &TestApp) -> Value {
    json!({ "redirect_url": app.url("/xwms/validateToken") })
}

/// The token of a sandbox login decided with `outcome` (as Ada), not yet verified.
async fn token_of(app: &TestApp, outcome: &str) -> String {
    let callback = app
        .sandbox_callback_with(&app.client, &[("persona", "ada"), ("outcome", outcome)])
        .await;
    let url = url::Url::parse(&callback).unwrap();
    url.query_pairs()
        .find(|(name, _)| name == "token")
        .map(|(_, token)| token.into_owned())
        .expect("a token in the callback")
}

#[actix_web::test]
async fn the_sandbox_api_refuses_a_wrong_client_secret_on_every_endpoint() {
    let app = sandbox_app().await;
    let token = approved_token(&app).await;

    let (signed, _) = call(&app, "sign-token", "wrong", sign_request(&app)).await;
    let (verified, envelope) =
        call(&app, "sign-token-verify", "wrong", json!({"token": token})).await;

    assert_eq!(signed, StatusCode::UNAUTHORIZED);
    assert_eq!(verified, StatusCode::UNAUTHORIZED);
    assert_eq!(envelope["status"], "error");
    assert_eq!(envelope["data"], json!({}), "no identity given out");
    // The refused call used nothing up: with the right secret the token still works.
    let (status, envelope) = verify(&app, &token).await;
    assert_eq!(status, StatusCode::OK, "{envelope}");
    assert_eq!(envelope["data"]["user"]["sub"], "sandbox-ada");
}

#[actix_web::test]
async fn the_sandbox_signs_a_token_that_says_it_expires_in_ten_minutes() {
    let app = sandbox_app().await;

    let before = chrono::Utc::now();
    let (status, envelope) = call(&app, "sign-token", SECRET, sign_request(&app)).await;
    let after = chrono::Utc::now();

    assert_eq!(status, StatusCode::OK, "{envelope}");
    let data = &envelope["data"];
    assert!(!data["token"].as_str().unwrap().is_empty(), "{envelope}");
    assert!(
        data["url"]
            .as_str()
            .unwrap()
            .starts_with(&app.url("/sandbox/xwms/login/")),
        "{envelope}"
    );
    let expires_at = chrono::DateTime::parse_from_rfc3339(data["expires_at"].as_str().unwrap())
        .unwrap()
        .to_utc();
    let ten_minutes = chrono::Duration::minutes(10);
    assert!(
        before + ten_minutes <= expires_at && expires_at <= after + ten_minutes,
        "{expires_at} is not ten minutes after {before}"
    );
}

#[actix_web::test]
async fn the_sandbox_api_verifies_a_token_once_only() {
    let app = sandbox_app().await;
    let token = approved_token(&app).await;

    let (first, envelope) = verify(&app, &token).await;
    let (again, refusal) = verify(&app, &token).await;

    assert_eq!(first, StatusCode::OK, "{envelope}");
    assert_eq!(envelope["data"]["user"]["sub"], "sandbox-ada");
    assert_eq!(again, StatusCode::BAD_REQUEST);
    assert_eq!(refusal["status"], "error");
    assert_eq!(refusal["message"], "Invalid token");
}

#[actix_web::test]
async fn the_sandbox_plays_xwms_failing_with_a_500_or_refusing_the_token_as_its_visitor_chose() {
    let app = sandbox_app().await;
    let broken = token_of(&app, "server_error").await;
    let poisoned = token_of(&app, "invalid_token").await;

    let (failed, envelope) = verify(&app, &broken).await;
    let (refused, refusal) = verify(&app, &poisoned).await;

    assert_eq!(failed, StatusCode::INTERNAL_SERVER_ERROR, "{envelope}");
    assert_eq!(envelope["message"], "Internal server error");
    assert_eq!(envelope["data"], json!({}), "no identity given out");
    assert_eq!(refused, StatusCode::BAD_REQUEST, "{refusal}");
    assert_eq!(refusal["message"], "Invalid token");
    // Either way the token is used up, as a verified one is.
    for token in [&broken, &poisoned] {
        let (again, refusal) = verify(&app, token).await;
        assert_eq!(again, StatusCode::BAD_REQUEST, "used up: {refusal}");
        assert_eq!(refusal["message"], "Invalid token");
    }
}

#[actix_web::test]
async fn the_sandbox_tells_about_a_sub_it_knows_given_as_text_or_as_a_number() {
    let app = sandbox_app().await;
    approved_token(&app).await;
    // XWMS may send a `sub` as a JSON number; the sandbox keeps it by its digits.
    app.execute_sql("INSERT INTO sandbox_people (sub, name) VALUES ('12345', 'Numbered')")
        .await;
    let user_info = |sub: Value| call(&app, "get/user/info", SECRET, json!({ "sub": sub }));

    let (by_text, ada) = user_info(json!("sandbox-ada")).await;
    let (by_number, numbered) = user_info(json!(12345)).await;
    let (unknown_number, unknown) = user_info(json!(54321)).await;
    let (empty, no_sub) = user_info(json!("")).await;

    assert_eq!(by_text, StatusCode::OK, "{ada}");
    assert_eq!(ada["data"]["user"]["email"], "ada@example.com");
    assert_eq!(by_number, StatusCode::OK, "{numbered}");
    assert_eq!(numbered["data"]["user"]["name"], "Numbered");
    assert_eq!(unknown_number, StatusCode::NOT_FOUND, "{unknown}");
    assert_eq!(unknown["message"], "User not found");
    assert_eq!(empty, StatusCode::BAD_REQUEST, "{no_sub}");
    assert_eq!(no_sub["message"], "sub is required");
}

#[actix_web::test]
async fn the_sandbox_answers_503_while_its_database_cannot_answer_and_works_again_after() {
    let app = sandbox_app_with(&[("DATABASE_STATEMENT_TIMEOUT_MS", "1000")]).await;
    let token = approved_token(&app).await;
    // Every statement on the sandbox's logins waits for this lock until its timeout.
    let blocker = app.hold_lock("sandbox_logins", "ACCESS EXCLUSIVE").await;

    let sign = sign_request(&app);
    let (signed, refusal) = call(&app, "sign-token", SECRET, sign.clone()).await;
    let (verified, unverified) = verify(&app, &token).await;

    assert_eq!(signed, StatusCode::SERVICE_UNAVAILABLE, "{refusal}");
    assert_eq!(refusal["status"], "error");
    assert_eq!(refusal["message"], "Service unavailable");
    assert_eq!(verified, StatusCode::SERVICE_UNAVAILABLE, "{unverified}");
    TestApp::release_lock(blocker).await;
    let (signed, _) = call(&app, "sign-token", SECRET, sign).await;
    let (verified, envelope) = verify(&app, &token).await;
    assert_eq!(signed, StatusCode::OK);
    assert_eq!(
        verified,
        StatusCode::OK,
        "the token was not used up: {envelope}"
    );
}

/// The sandbox's people cookie as one login through its own API, by the site at
/// `domain`, sets it (as Ada).
async fn people_cookie_after_a_login(app: &TestApp, domain: &str) -> String {
    let (status, envelope) = call_from(domain, app, "sign-token", SECRET, sign_request(app)).await;
    assert_eq!(status, StatusCode::OK, "{envelope}");
    let login_page = url::Url::parse(envelope["data"]["url"].as_str().unwrap()).unwrap();
    let decided = bare_client()
        .post(app.url(login_page.path()))
        .form(&[("persona", "ada"), ("outcome", "success")])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), StatusCode::SEE_OTHER);
    decided
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|cookie| cookie.starts_with("xwms_sandbox_people="))
        .expect("the people cookie")
}

#[actix_web::test]
async fn the_sandbox_people_cookie_is_secure_exactly_when_the_site_is_https() {
    // Two development apps that differ only in the scheme of their public address (the
    // test reaches the https one over http: no redirect to its public origin).
    let https_callback = format!("https://{HTTPS_HOST}/xwms/validateToken");
    let http = sandbox_app().await;
    let https = sandbox_app_with(&[
        ("XWMS_REDIRECT_URI", https_callback.as_str()),
        ("REDIRECT_TO_PUBLIC_ORIGIN", "false"),
    ])
    .await;
    // And a production deployment behind https, as it is deployed.
    let production = spawn_https_production_demo(&[("XWMS_SANDBOX_CLIENT_SECRET", SECRET)]).await;

    let on_http = people_cookie_after_a_login(&http, "localhost").await;
    let on_https = people_cookie_after_a_login(&https, HTTPS_HOST).await;
    let in_production = people_cookie_after_a_login(&production, HTTPS_HOST).await;

    // A browser drops a Secure cookie set over plain http: the people page would stay empty.
    assert!(!on_http.contains("; Secure"), "{on_http}");
    assert!(on_https.contains("; Secure"), "{on_https}");
    assert!(in_production.contains("; Secure"), "{in_production}");
    for cookie in [&on_http, &on_https, &in_production] {
        assert!(cookie.contains("; HttpOnly"), "{cookie}");
        assert!(cookie.contains("; SameSite=Strict"), "{cookie}");
    }
}

#[actix_web::test]
async fn a_sandbox_token_is_verified_for_ten_minutes_and_refused_after() {
    let app = sandbox_app().await;
    // Nine minutes old: still good.
    let token = approved_token(&app).await;
    app.execute_sql("UPDATE sandbox_logins SET issued_at = now() - interval '9 minutes'")
        .await;
    let (status, envelope) = verify(&app, &token).await;
    assert_eq!(status, StatusCode::OK, "{envelope}");
    // Eleven minutes old: refused, as an unknown token is.
    let token = approved_token(&app).await;
    app.execute_sql("UPDATE sandbox_logins SET issued_at = now() - interval '11 minutes'")
        .await;
    let (status, refusal) = verify(&app, &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refusal}");
    assert_eq!(refusal["status"], "error");
}

/// `count` people the sandbox knows, `filler-1` to `filler-<count>`, seen a day ago and one
/// second apart, `filler-1` the least recently.
async fn add_people(app: &TestApp, count: i64) {
    app.execute_sql(&format!(
        "INSERT INTO sandbox_people (sub, updated_at) \
         SELECT 'filler-' || n, now() - interval '1 day' + n * interval '1 second' \
         FROM generate_series(1, {count}) AS n"
    ))
    .await;
}

#[actix_web::test]
async fn the_sandbox_remembers_at_most_ten_thousand_people_and_forgets_the_oldest_first() {
    let app = sandbox_app().await;
    add_people(&app, 10_000).await;

    app.log_in_ending_on_the_profile(&app.client).await;

    assert_eq!(app.count("sandbox_people").await, 10_000, "still the most");
    assert_eq!(
        app.count("sandbox_people WHERE sub = 'filler-1'").await,
        0,
        "the oldest went"
    );
    assert_eq!(
        app.count("sandbox_people WHERE sub IN ('filler-2', 'sandbox-ada')")
            .await,
        2,
        "the next oldest stays, the new person is in"
    );
}

/// A person the sandbox knows, the least recently seen of a full table, logs in again: a
/// known person takes no new room, so nobody goes. Over the cap (concurrent logins of new
/// people can pass it by a few), the others make room, never the person whose row the login
/// writes.
#[actix_web::test]
async fn a_known_person_who_is_the_oldest_of_ten_thousand_logs_in_again_and_stays() {
    let app = sandbox_app().await;
    add_people(&app, 9_999).await;
    app.execute_sql(
        "INSERT INTO sandbox_people (sub, updated_at) \
         VALUES ('sandbox-ada', now() - interval '2 days')",
    )
    .await;

    app.log_in_ending_on_the_profile(&app.client).await;
    assert_eq!(
        app.count("sandbox_people").await,
        10_000,
        "nobody made room"
    );
    assert_eq!(app.count("sandbox_people WHERE sub = 'filler-1'").await, 1);

    app.execute_sql("INSERT INTO sandbox_people (sub) VALUES ('filler-10000')")
        .await;
    app.execute_sql(
        "UPDATE sandbox_people SET updated_at = now() - interval '2 days' \
         WHERE sub = 'sandbox-ada'",
    )
    .await;
    app.log_in_ending_on_the_profile(&app.client).await;
    assert_eq!(
        app.count("sandbox_people").await,
        10_000,
        "one other made room"
    );
    assert_eq!(
        app.count("sandbox_people WHERE sub IN ('filler-1', 'sandbox-ada')")
            .await,
        1,
        "the oldest other went, the person stays"
    );
    assert_eq!(
        app.count(
            "sandbox_people WHERE sub = 'sandbox-ada' AND updated_at > now() - interval '1 minute'"
        )
        .await,
        1,
        "seen now"
    );
}

/// `sign-token` keeps at most 10,000 logins open (a flood of calls cannot grow the table
/// without end): past that it answers 503. An expired login does not count: the same
/// statement sweeps it, so it makes room.
#[actix_web::test]
async fn the_sandbox_keeps_at_most_ten_thousand_logins_open_and_an_expired_one_makes_room() {
    let app = sandbox_app().await;
    app.execute_sql(
        "INSERT INTO sandbox_logins (request_id, token, token_sha256, redirect_url, issued_at) \
         SELECT md5('r' || n) || md5('r' || n), md5('t' || n) || md5('t' || n), \
                md5('s' || n) || md5('s' || n), \
                'http://localhost/', \
                CASE WHEN n = 1 THEN now() - interval '11 minutes' ELSE now() END \
         FROM generate_series(1, 10000) AS n",
    )
    .await;

    let (status, envelope) = call(&app, "sign-token", SECRET, sign_request(&app)).await;
    assert_eq!(status, StatusCode::OK, "{envelope}");
    assert_eq!(
        app.count("sandbox_logins").await,
        10_000,
        "the expired one went"
    );
    assert_eq!(
        app.count("sandbox_logins WHERE issued_at < now() - interval '10 minutes'")
            .await,
        0
    );

    let (status, envelope) = call(&app, "sign-token", SECRET, sign_request(&app)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{envelope}");
    assert_eq!(envelope["status"], "error");
    assert_eq!(app.count("sandbox_logins").await, 10_000, "nothing added");
}

#[actix_web::test]
async fn a_login_page_is_served_only_while_its_login_is_open() {
    let app = sandbox_app().await;
    let login_page = app.start_login_with(&app.client).await;
    let status = |url: String| {
        let client = app.client.clone();
        async move { client.get(url).send().await.unwrap().status() }
    };
    assert_eq!(status(login_page.clone()).await, StatusCode::OK);

    let decided = app
        .client
        .post(&login_page)
        .form(&[("persona", "ada"), ("outcome", "success")])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), StatusCode::SEE_OTHER);

    assert_eq!(
        status(login_page).await,
        StatusCode::NOT_FOUND,
        "a decided login's page is gone"
    );
    let unknown = format!("/sandbox/xwms/login/{}", "0".repeat(64));
    assert_eq!(status(app.url(&unknown)).await, StatusCode::NOT_FOUND);

    // "XWMS failed the login" ends it too: back to the app with the error, page gone.
    let failed_page = app.start_login_with(&app.client).await;
    let failed = app
        .client
        .post(&failed_page)
        .form(&[("outcome", "provider_error")])
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::SEE_OTHER);
    let back = failed.headers()["location"].to_str().unwrap();
    assert!(back.contains("xwmsmessage_status=error"), "{back}");
    assert!(!back.contains("token="), "{back}");
    assert_eq!(
        status(failed_page).await,
        StatusCode::NOT_FOUND,
        "a failed login's page is gone"
    );
    assert_eq!(app.count("sandbox_logins").await, 1, "only the decided one");
}

#[actix_web::test]
async fn changing_a_person_the_sandbox_has_forgotten_is_a_404_and_creates_nobody() {
    let app = sandbox_app().await;
    approved_token(&app).await;
    let change = || {
        app.client
            .post(app.url("/sandbox/xwms/people"))
            .form(&[("sub", "sandbox-ada"), ("name", "Ada L."), ("email", "")])
            .send()
    };
    // Ada is one of this browser's people: a change goes through.
    assert_eq!(change().await.unwrap().status(), StatusCode::SEE_OTHER);
    // Forgotten since (the sandbox keeps at most 10,000 people); still in this browser's list.
    app.execute_sql("DELETE FROM sandbox_people WHERE sub = 'sandbox-ada'")
        .await;

    let forgotten = change().await.unwrap();

    assert_eq!(forgotten.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("sandbox_people").await, 0);
}
