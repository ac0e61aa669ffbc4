//! Addresses: the one public origin every page is served on, and the client addresses
//! the rate limit counts (dual-stack listeners, hashed keys, the limit over time).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use actix_web::{App, HttpResponse, test as actix_test, web};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use reqwest::redirect::Policy;
use xwms_starter::support::config::{LoginBinding, SecuritySettings};
use xwms_starter::web::rate_limit::{self, RateLimit};
use xwms_starter::web::state::AppState;

use crate::helpers::{
    Provider, TestApp, captured_logs, location, spawn_app, spawn_app_with,
    spawn_https_production_demo,
};

// --- One public origin ---

/// `path` on `127.0.0.1`, while the app's public origin is `localhost`.
fn on_loopback_ip(app: &TestApp, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", app.port)
}

#[actix_web::test]
async fn a_page_opened_on_another_host_is_redirected_to_the_same_path_on_the_public_origin() {
    let app = spawn_app().await;

    let get = app
        .client
        .get(on_loopback_ip(&app, "/profile?tab=1"))
        .send()
        .await
        .unwrap();
    let head = app
        .client
        .head(on_loopback_ip(&app, "/"))
        .send()
        .await
        .unwrap();

    assert_eq!(get.status(), 307);
    assert_eq!(
        location(get.headers()),
        format!("http://localhost:{}/profile?tab=1", app.port)
    );
    assert_eq!(get.headers()["cache-control"], "no-store");
    assert_eq!(head.status(), 307);
    assert_eq!(
        location(head.headers()),
        format!("http://localhost:{}/", app.port)
    );
}

#[actix_web::test]
async fn a_callback_on_another_host_keeps_its_token_in_the_redirect_and_out_of_the_log() {
    let app = spawn_app().await;
    let token = "callback-token-on-the-wrong-host-5f3a";

    let response = app
        .client
        .get(on_loopback_ip(
            &app,
            &format!("/xwms/validateToken?token={token}"),
        ))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 307);
    assert_eq!(
        location(response.headers()),
        format!(
            "http://localhost:{}/xwms/validateToken?token={token}",
            app.port
        )
    );
    // The redirect goes to our own site only, and no response can leak it onwards.
    assert_eq!(response.headers()["referrer-policy"], "same-origin");
    assert!(!captured_logs().iter().any(|line| line.contains(token)));
}

#[actix_web::test]
async fn a_form_sent_to_another_host_gets_a_page_naming_the_public_origin() {
    let app = spawn_app().await;

    let response = app
        .client
        .post(on_loopback_ip(&app, "/logout"))
        .form(&[("csrf_token", "x")])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 421);
    let html = response.text().await.unwrap();
    assert!(html.contains("Wrong address"), "{html}");
    assert!(
        html.contains(&format!("http://localhost:{}", app.port)),
        "{html}"
    );
}

#[actix_web::test]
async fn probes_scrapers_and_the_sandbox_api_answer_on_any_host() {
    let app = spawn_app().await;

    for path in [
        "/health",
        "/health/live",
        "/metrics",
        "/sandbox/xwms/api/info",
    ] {
        let response = app
            .client
            .get(on_loopback_ip(&app, path))
            .send()
            .await
            .unwrap();
        assert_ne!(response.status(), 307, "{path}");
        assert!(!response.headers().contains_key("location"), "{path}");
    }
    // And a whole sandbox login works: the app's XWMS client calls the sandbox's API on
    // 127.0.0.1 while the browser is on localhost.
    app.log_in_ending_on_the_profile(&app.client).await;
}

#[actix_web::test]
async fn the_start_log_names_the_public_url() {
    let app = spawn_app().await;

    let expected = format!(
        "at http://localhost:{}/ (listening on 127.0.0.1:{}",
        app.port, app.port
    );
    assert!(
        app.logs().iter().any(|line| line.contains(&expected)),
        "no start line with {expected:?}"
    );
}

#[actix_web::test]
async fn in_production_requests_are_served_on_the_host_they_arrive_on_by_default() {
    // Behind a proxy that rewrites Host, a redirect would loop: off unless asked for.
    let app = spawn_https_production_demo(&[]).await;

    let response = app.get("/").await;

    assert_eq!(response.status(), 200);
}

#[actix_web::test]
async fn a_forged_host_is_sent_to_the_public_origin_too() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/xwms/auth"))
        .header("Host", "evil.example")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 307);
    assert_eq!(
        location(response.headers()),
        format!("http://localhost:{}/xwms/auth", app.port)
    );
}

// --- Client addresses ---

/// A browser whose connections come from `source` (127.0.0.2 and up are loopback too),
/// to the app at 127.0.0.1 under its public name.
fn browser_from(app: &TestApp, source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .local_address(source.parse::<IpAddr>().unwrap())
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], app.port)))
        .build()
        .unwrap()
}

#[derive(QueryableByName)]
struct Bucket {
    #[diesel(sql_type = diesel::sql_types::Text)]
    client: String,
}

/// The keys of the rate limit's buckets.
async fn bucket_keys(app: &TestApp) -> Vec<String> {
    let mut conn = app.db().await;
    diesel::sql_query("SELECT client FROM login_rate_limits ORDER BY client")
        .load::<Bucket>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|bucket| bucket.client)
        .collect()
}

const ONE_A_MINUTE_BURST_2: &[(&str, &str)] =
    &[("RATE_LIMIT_PER_MINUTE", "1"), ("RATE_LIMIT_BURST", "2")];

#[actix_web::test]
async fn on_a_dual_stack_listener_each_ipv4_client_has_a_bucket_of_its_own() {
    let mut env = ONE_A_MINUTE_BURST_2.to_vec();
    env.push(("HOST", "::"));
    let app = spawn_app_with(Provider::Sandbox, &env).await;
    let first = browser_from(&app, "127.0.0.1");
    let second = browser_from(&app, "127.0.0.2");
    for _ in 0..2 {
        assert_eq!(app.get_with(&first, "/xwms/auth").await.status(), 303);
    }

    let first_again = app.get_with(&first, "/xwms/auth").await;
    let second_client = app.get_with(&second, "/xwms/auth").await;

    assert_eq!(first_again.status(), 429);
    assert_eq!(second_client.status(), 303, "127.0.0.2 has its own bucket");
    assert_eq!(bucket_keys(&app).await.len(), 2);
}

#[actix_web::test]
async fn the_rate_limit_keeps_salted_hashes_never_addresses() {
    let app = spawn_app_with(Provider::Sandbox, ONE_A_MINUTE_BURST_2).await;

    app.get_with(&browser_from(&app, "127.0.0.1"), "/xwms/auth")
        .await;
    app.get_with(&browser_from(&app, "127.0.0.3"), "/xwms/auth")
        .await;

    let keys = bucket_keys(&app).await;
    assert_eq!(keys.len(), 2);
    for key in &keys {
        assert_eq!(key.len(), 64, "{key}");
        assert!(
            key.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "{key}"
        );
    }
    // The table itself refuses an address.
    let mut conn = app.db().await;
    let raw = diesel::sql_query(
        "INSERT INTO login_rate_limits (client, tat) VALUES ('127.0.0.1', now())",
    )
    .execute(&mut conn)
    .await;
    assert!(raw.is_err());
}

// --- The rate limit over time ---
//
// One request a minute with a burst of two: waiting is simulated by moving the buckets'
// `tat` back in the database, so nothing depends on how fast this machine is.

/// Lets `seconds` pass for every bucket.
async fn let_time_pass(app: &TestApp, seconds: u64) {
    app.execute_sql(&format!(
        "UPDATE login_rate_limits SET tat = tat - interval '{seconds} seconds'"
    ))
    .await;
}

async fn start_login_status(app: &TestApp) -> u16 {
    app.get("/xwms/auth").await.status().as_u16()
}

#[actix_web::test]
async fn retry_after_says_when_the_next_login_step_is_let_through() {
    let app = spawn_app_with(Provider::Sandbox, ONE_A_MINUTE_BURST_2).await;
    for _ in 0..2 {
        assert_eq!(start_login_status(&app).await, 303);
    }

    let refused = app.get("/xwms/auth").await;

    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // One interval (60 s), less the moment the requests took.
    assert!(
        (50..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    // Half of it is not enough...
    let_time_pass(&app, retry_after / 2).await;
    assert_eq!(start_login_status(&app).await, 429);
    // ...all of it lets exactly one more through.
    let_time_pass(&app, retry_after - retry_after / 2).await;
    assert_eq!(start_login_status(&app).await, 303);
    assert_eq!(start_login_status(&app).await, 429);
}

#[actix_web::test]
async fn a_long_idle_gives_back_the_burst_and_no_more() {
    let app = spawn_app_with(Provider::Sandbox, ONE_A_MINUTE_BURST_2).await;
    for _ in 0..2 {
        assert_eq!(start_login_status(&app).await, 303);
    }

    let_time_pass(&app, 7 * 24 * 3600).await;

    assert_eq!(start_login_status(&app).await, 303);
    assert_eq!(start_login_status(&app).await, 303);
    assert_eq!(
        start_login_status(&app).await,
        429,
        "a week idle is still a burst of 2"
    );
}

#[actix_web::test]
async fn the_sweep_forgets_only_clients_whose_time_has_passed() {
    let app = spawn_app().await;
    let (past, future) = ("a".repeat(64), "b".repeat(64));
    app.execute_sql(&format!(
        "INSERT INTO login_rate_limits (client, tat) VALUES \
         ('{past}', now() - interval '1 second'), ('{future}', now() + interval '1 hour')"
    ))
    .await;

    let swept = rate_limit::sweep(&app.pool()).await.unwrap();

    // (The app's own sweep at start may have taken the past row first.)
    assert!(swept <= 1, "{swept}");
    assert_eq!(bucket_keys(&app).await, [future]);
}

/// A limit of one request a minute.
fn one_a_minute() -> RateLimit {
    RateLimit::new(&SecuritySettings {
        rate_limit_per_minute: 1,
        rate_limit_burst: 1,
        trusted_proxies: Vec::new(),
        activity_retention: Duration::ZERO,
        anonymous_activity_retention: Duration::ZERO,
        hsts_include_subdomains: false,
        step_up_max_age: Duration::from_secs(300),
    })
}

/// The app's state for a bare test service on the app's database.
fn state_of(app: &TestApp) -> web::Data<AppState> {
    web::Data::new(AppState {
        pool: app.pool(),
        redirect_uri: url::Url::parse(&app.url("/xwms/validateToken")).unwrap(),
        login_binding: LoginBinding::Token,
        login_max_age: Duration::from_secs(600),
        sandbox: true,
        xwms_account_url: None,
        session_idle_timeout: Duration::from_secs(3600),
        step_up_max_age: Duration::from_secs(300),
        session_absolute_timeout: Duration::from_secs(3600),
        trusted_proxies: Default::default(),
        ip_hash_salt: b"salt".to_vec(),
        notes_per_page: 10,
        anonymous_activity_retention: Duration::from_secs(3600),
        cookie_secure: false,
        clock: Default::default(),
    })
}

#[actix_web::test]
async fn a_request_with_no_known_client_address_is_let_through_and_counted_nowhere() {
    let app = spawn_app().await;
    let service = actix_test::init_service(
        App::new()
            .app_data(state_of(&app))
            .app_data(web::Data::new(one_a_minute()))
            .wrap(actix_web::middleware::from_fn(
                rate_limit::limit_login_steps,
            ))
            .route("/step", web::get().to(HttpResponse::Ok)),
    )
    .await;
    let status_from = |peer: Option<&str>| {
        let mut request = actix_test::TestRequest::get().uri("/step");
        if let Some(peer) = peer {
            request = request.peer_addr(peer.parse().unwrap());
        }
        actix_test::call_service(&service, request.to_request())
    };

    for _ in 0..3 {
        assert_eq!(status_from(None).await.status(), 200);
    }
    assert!(bucket_keys(&app).await.is_empty());
    // The same service does limit a request whose address it knows.
    assert_eq!(status_from(Some("198.51.100.7:4000")).await.status(), 200);
    assert_eq!(status_from(Some("198.51.100.7:4000")).await.status(), 429);
}

#[actix_web::test]
async fn a_callback_with_no_known_client_address_claims_its_token_alone_and_only_once() {
    let app = spawn_app().await;
    let pool = app.pool();
    let limit = Some(one_a_minute());
    let step = |token| rate_limit::count_and_claim(&pool, limit, b"salt", None, token);

    let first = step(Some("tok-1")).await.unwrap();
    let again = step(Some("tok-1")).await.unwrap();
    let another = step(Some("tok-2")).await.unwrap();
    let no_token = step(None).await.unwrap();

    use rate_limit::CallbackStep::Allowed;
    assert_eq!(
        first,
        Allowed {
            token_claimed: true
        }
    );
    assert_eq!(
        again,
        Allowed {
            token_claimed: false
        },
        "used before"
    );
    assert_eq!(
        another,
        Allowed {
            token_claimed: true
        }
    );
    assert_eq!(
        no_token,
        Allowed {
            token_claimed: false
        },
        "nothing to claim"
    );
    assert_eq!(app.count("used_login_tokens").await, 2);
    assert!(bucket_keys(&app).await.is_empty(), "counted nowhere");
}
