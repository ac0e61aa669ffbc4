//! `xwms-starter doctor`: good and bad deployments, checked as the library's report and
//! through the real binary (exit status, `--json`), and the command line around it.

use std::collections::HashMap;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use xwms_starter::app::doctor::{self, Report, Status};
use xwms_starter::support::config::CALLBACK_PATH;
use xwms_starter::support::crypto::new_session_key;

use crate::helpers::{
    FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_DOMAIN, JsonBodyWithKeys, drop_database,
    fake_sign_token, new_test_database, spawn_app,
};

/// A URL where no PostgreSQL listens (port 9, discard), with a password to look for.
const UNREACHABLE_DB_PASSWORD: &str = "unreachable-db-password";

fn unreachable_database() -> String {
    format!("postgres://app:{UNREACHABLE_DB_PASSWORD}@127.0.0.1:9/xwms_starter")
}

/// The doctor's report for these variables (nothing else of the process environment).
async fn doctor_with(vars: &[(&str, &str)]) -> Report {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    doctor::run(|name| vars.get(name).cloned()).await
}

fn status(report: &Report, name: &str) -> Status {
    report
        .check(name)
        .unwrap_or_else(|| panic!("no {name} check in {report:#?}"))
        .status
}

fn detail<'a>(report: &'a Report, name: &str) -> &'a str {
    &report.check(name).expect("the check").detail
}

fn fix<'a>(report: &'a Report, name: &str) -> &'a str {
    report
        .check(name)
        .and_then(|check| check.fix.as_deref())
        .unwrap_or_else(|| panic!("no fix for {name} in {report:#?}"))
}

/// A fake XWMS answering `info` (with `date` as its Date header when given) and
/// `sign-token` as XWMS does for our credentials and callback.
async fn fake_xwms(date: Option<SystemTime>) -> MockServer {
    let xwms = MockServer::start().await;
    let mut info = ResponseTemplate::new(200).set_body_json(json!({
        "status": "success",
        "message": "XWMS API",
        "data": {"application": {"name": "XWMS", "version": "1"}}
    }));
    if let Some(date) = date {
        info = info.insert_header("Date", httpdate(date).as_str());
    }
    Mock::given(method("GET"))
        .and(path("/api/info"))
        .respond_with(info)
        .mount(&xwms)
        .await;
    fake_sign_token(&xwms, "doctor-token-never-used").await;
    xwms
}

fn httpdate(time: SystemTime) -> String {
    actix_web::http::header::HttpDate::from(time).to_string()
}

/// Production with real (fake) XWMS at `xwms`, an https callback and a strong key.
fn production_at<'a>(
    xwms_api: &'a str,
    database_url: &'a str,
    key: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("APP_ENV", "production"),
        ("DATABASE_URL", database_url),
        ("XWMS_API_URL", xwms_api),
        ("XWMS_CLIENT_ID", FAKE_CLIENT_ID),
        ("XWMS_CLIENT_SECRET", FAKE_CLIENT_SECRET),
        ("XWMS_CLIENT_DOMAIN", FAKE_DOMAIN),
        (
            "XWMS_REDIRECT_URI",
            "https://app.example.com/xwms/validateToken",
        ),
        ("SESSION_KEY", key),
    ]
}

fn sign_token_calls(requests: &[wiremock::Request]) -> usize {
    requests
        .iter()
        .filter(|request| request.url.path() == "/api/sign-token")
        .count()
}

// --- The library's report ---------------------------------------------------------

#[actix_web::test]
async fn a_migrated_sandbox_deployment_passes_and_the_xwms_checks_say_the_sandbox_serves_logins() {
    let app = spawn_app().await;

    let report = doctor_with(&[("DATABASE_URL", &app.database_url)]).await;

    assert!(report.passed(), "{}", report.to_text());
    assert_eq!(status(&report, "configuration"), Status::Pass);
    assert_eq!(
        detail(&report, "configuration"),
        "valid: APP_ENV=development, logins through the built-in sandbox (not real XWMS)"
    );
    assert_eq!(status(&report, "database"), Status::Pass);
    assert_eq!(status(&report, "migrations"), Status::Pass);
    assert!(detail(&report, "migrations").starts_with("current"));
    for name in ["xwms_info", "xwms_clock", "xwms_credentials"] {
        assert_eq!(status(&report, name), Status::Skip, "{name}");
        assert!(detail(&report, name).contains("sandbox"), "{name}");
    }
    assert!(detail(&report, "database").contains("sslmode="));
}

#[actix_web::test]
async fn real_credentials_pass_and_the_check_says_it_costs_one_unused_sign_token() {
    let app = spawn_app().await;
    let xwms = fake_xwms(None).await;
    let api = format!("{}/api", xwms.uri());
    let key = new_session_key();

    let report = doctor_with(&production_at(&api, &app.database_url, &key)).await;

    assert!(report.passed(), "{}", report.to_text());
    assert_eq!(
        detail(&report, "configuration"),
        format!("valid: APP_ENV=production, logins through XWMS at {api}/")
    );
    assert_eq!(status(&report, "xwms_info"), Status::Pass);
    assert_eq!(status(&report, "xwms_clock"), Status::Pass);
    assert_eq!(status(&report, "xwms_credentials"), Status::Pass);
    assert!(detail(&report, "xwms_credentials").contains("one sign-token"));
    assert_eq!(status(&report, "session_key"), Status::Pass);
    assert_eq!(status(&report, "callback"), Status::Pass);
    assert_eq!(status(&report, "session_cookie"), Status::Pass);
    let requests = xwms.received_requests().await.unwrap();
    assert_eq!(sign_token_calls(&requests), 1, "one sign-token, no more");
    assert!(
        requests
            .iter()
            .all(|request| request.url.path() != "/api/sign-token-verify")
    );
}

#[actix_web::test]
async fn a_wrong_secret_fails_the_credentials_check_and_the_fix_names_the_secret() {
    let app = spawn_app().await;
    let xwms = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/info"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"status": "success", "data": {}})),
        )
        .mount(&xwms)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/sign-token"))
        .and(JsonBodyWithKeys(&["redirect_url"]))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"status": "error", "message": "Invalid client secret", "data": {}}),
        ))
        .expect(1)
        .mount(&xwms)
        .await;
    let api = format!("{}/api", xwms.uri());
    let key = new_session_key();

    let report = doctor_with(&production_at(&api, &app.database_url, &key)).await;

    assert!(!report.passed());
    assert_eq!(status(&report, "xwms_info"), Status::Pass);
    assert_eq!(status(&report, "xwms_credentials"), Status::Fail);
    assert!(fix(&report, "xwms_credentials").contains("XWMS_CLIENT_SECRET"));
    assert!(detail(&report, "xwms_credentials").contains("sign-token"));
}

#[actix_web::test]
async fn an_unreachable_database_fails_skips_the_migrations_and_never_shows_its_password() {
    let url = unreachable_database();

    let report = doctor_with(&[("DATABASE_URL", &url)]).await;

    assert!(!report.passed());
    assert_eq!(status(&report, "database"), Status::Fail);
    assert!(fix(&report, "database").contains("DATABASE_URL"));
    assert_eq!(status(&report, "migrations"), Status::Skip);
    let text = report.to_text();
    assert!(!text.contains(UNREACHABLE_DB_PASSWORD), "{text}");
    assert!(
        !report
            .to_json()
            .to_string()
            .contains(UNREACHABLE_DB_PASSWORD)
    );
}

#[actix_web::test]
async fn pending_migrations_are_listed_and_the_doctor_applies_none() {
    let app = spawn_app().await;
    app.execute_sql(
        "DELETE FROM __diesel_schema_migrations WHERE version = (SELECT max(version) FROM __diesel_schema_migrations)",
    )
    .await;
    let empty = new_test_database().await;

    let behind = doctor_with(&[("DATABASE_URL", &app.database_url)]).await;
    let fresh = doctor_with(&[("DATABASE_URL", &empty)]).await;

    assert_eq!(status(&behind, "migrations"), Status::Fail);
    let newest = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .max()
        .unwrap();
    assert_eq!(
        detail(&behind, "migrations"),
        format!(
            "1 of {} migration(s) not applied: {newest}",
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
                .unwrap()
                .count()
        )
    );
    assert_eq!(status(&fresh, "migrations"), Status::Fail);
    assert!(detail(&fresh, "migrations").contains("_create_users_and_connections"));
    // Looking changed nothing: still one row short, and no migration table in the new one.
    let again = doctor_with(&[("DATABASE_URL", &app.database_url)]).await;
    assert_eq!(detail(&again, "migrations"), detail(&behind, "migrations"));
    let mut conn = crate::helpers::connect(&empty, None).await.unwrap();
    #[derive(diesel::QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let table: Table = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query("SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS exists"),
        &mut conn,
    )
    .await
    .unwrap();
    assert!(!table.exists, "the doctor created the migration table");
    drop(conn);
    drop_database(&empty, None).await.unwrap();
}

#[actix_web::test]
async fn an_http_callback_in_production_fails_naming_xwms_redirect_uri() {
    let app = spawn_app().await;
    let xwms = fake_xwms(None).await;
    let api = format!("{}/api", xwms.uri());
    let key = new_session_key();
    let mut loopback = production_at(&api, &app.database_url, &key);
    loopback.push((
        "XWMS_REDIRECT_URI",
        "http://127.0.0.1:3000/xwms/validateToken",
    ));
    let mut public = production_at(&api, &app.database_url, &key);
    public.push((
        "XWMS_REDIRECT_URI",
        "http://app.example.com/xwms/validateToken",
    ));

    for vars in [loopback, public] {
        let report = doctor_with(&vars).await;

        assert!(!report.passed(), "{}", report.to_text());
        assert!(
            report
                .checks
                .iter()
                .any(|check| check.status == Status::Fail
                    && format!("{} {:?}", check.detail, check.fix).contains("XWMS_REDIRECT_URI")),
            "{}",
            report.to_text()
        );
    }
}

#[actix_web::test]
async fn a_loopback_http_callback_accepted_at_start_still_fails_the_callback_check() {
    let app = spawn_app().await;
    let xwms = fake_xwms(None).await;
    let api = format!("{}/api", xwms.uri());
    let key = new_session_key();
    let mut vars = production_at(&api, &app.database_url, &key);
    vars.push((
        "XWMS_REDIRECT_URI",
        "http://localhost:3000/xwms/validateToken",
    ));

    let report = doctor_with(&vars).await;

    // Unless a later start-up rule refuses it outright (then the configuration fails).
    if status(&report, "configuration") == Status::Pass {
        assert_eq!(status(&report, "callback"), Status::Fail);
        assert!(detail(&report, "callback").contains("plain http in production"));
        assert!(fix(&report, "callback").contains("https"));
    } else {
        assert!(fix(&report, "configuration").contains("XWMS_REDIRECT_URI"));
    }
}

#[actix_web::test]
async fn a_callback_that_is_not_the_apps_route_fails() {
    let app = spawn_app().await;

    let elsewhere = doctor_with(&[
        ("DATABASE_URL", &app.database_url),
        ("XWMS_REDIRECT_URI", "http://localhost:3000/auth/callback"),
    ])
    .await;
    let behind_a_prefix = doctor_with(&[
        ("DATABASE_URL", &app.database_url),
        (
            "XWMS_REDIRECT_URI",
            "http://localhost:3000/app/xwms/validateToken",
        ),
    ])
    .await;

    // The configuration refuses a callback the app does not serve...
    assert_eq!(status(&elsewhere, "configuration"), Status::Fail);
    assert!(fix(&elsewhere, "configuration").contains("XWMS_REDIRECT_URI"));
    assert!(!elsewhere.passed());
    // ...and the doctor warns about one that works only behind a proxy stripping a prefix.
    assert_eq!(status(&behind_a_prefix, "callback"), Status::Warn);
    assert!(fix(&behind_a_prefix, "callback").contains(CALLBACK_PATH));
}

#[actix_web::test]
async fn the_callback_route_the_doctor_expects_is_the_one_the_app_serves() {
    let app = spawn_app().await;

    let response = app.get(CALLBACK_PATH).await;

    assert_ne!(response.status(), 404);
    assert!(response.status().as_u16() < 500);
}

#[actix_web::test]
async fn an_https_callback_with_a_cookie_that_is_not_secure_fails_in_production() {
    let app = spawn_app().await;
    let settings = |env| {
        [
            ("APP_ENV", env),
            ("XWMS_SANDBOX", "true"),
            ("DATABASE_URL", app.database_url.as_str()),
            (
                "XWMS_REDIRECT_URI",
                "https://demo.example.com/xwms/validateToken",
            ),
            ("SESSION_COOKIE_SECURE", "false"),
        ]
    };

    let production = doctor_with(&settings("production")).await;
    let development = doctor_with(&settings("development")).await;

    // Production refuses it at start, so the doctor's configuration check fails...
    assert_eq!(status(&production, "configuration"), Status::Fail);
    assert!(fix(&production, "configuration").contains("SESSION_COOKIE_SECURE"));
    // ...and development, which starts with it, gets the doctor's warning.
    assert_eq!(status(&development, "session_cookie"), Status::Warn);
    assert!(fix(&development, "session_cookie").contains("SESSION_COOKIE_SECURE"));
}

#[actix_web::test]
async fn a_passphrase_session_key_fails_in_production_and_a_new_session_key_passes() {
    let app = spawn_app().await;
    let passphrase = "this passphrase is long enough for the app but not random at all!!";
    let strong_key = new_session_key();
    let demo = |key| {
        [
            ("APP_ENV", "production"),
            ("XWMS_SANDBOX", "true"),
            ("DATABASE_URL", app.database_url.as_str()),
            ("SESSION_KEY", key),
        ]
    };

    let weak = doctor_with(&demo(passphrase)).await;
    let strong = doctor_with(&demo(&strong_key)).await;
    let development = doctor_with(&[
        ("DATABASE_URL", &app.database_url),
        ("SESSION_KEY", passphrase),
    ])
    .await;

    // Production refuses a passphrase at start (the configuration check names it).
    assert_eq!(status(&weak, "configuration"), Status::Fail);
    assert!(fix(&weak, "configuration").contains("SESSION_KEY"));
    assert!(!weak.passed());
    assert_eq!(status(&strong, "session_key"), Status::Pass);
    assert_eq!(status(&development, "session_key"), Status::Warn);
    assert!(development.passed(), "a warning does not fail the doctor");
}

#[actix_web::test]
async fn trusted_proxies_covering_the_whole_internet_fail() {
    let app = spawn_app().await;

    for everything in ["0.0.0.0/0", "::/0", "10.0.0.0/8, ::/0"] {
        let report = doctor_with(&[
            ("DATABASE_URL", &app.database_url),
            ("TRUSTED_PROXIES", everything),
        ])
        .await;

        assert_eq!(
            status(&report, "trusted_proxies"),
            Status::Fail,
            "{everything}"
        );
        assert!(!report.passed(), "{everything}");
    }
    let private = doctor_with(&[
        ("DATABASE_URL", &app.database_url),
        ("TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8"),
    ])
    .await;
    assert_eq!(status(&private, "trusted_proxies"), Status::Pass);
}

#[actix_web::test]
async fn an_xwms_clock_minutes_away_from_ours_warns_and_a_close_one_passes() {
    let app = spawn_app().await;
    let key = new_session_key();
    let behind = fake_xwms(Some(SystemTime::now() - Duration::from_secs(300))).await;
    let close = fake_xwms(Some(SystemTime::now() + Duration::from_secs(2))).await;
    let (behind_api, close_api) = (
        format!("{}/api", behind.uri()),
        format!("{}/api", close.uri()),
    );

    let off = doctor_with(&production_at(&behind_api, &app.database_url, &key)).await;
    let fine = doctor_with(&production_at(&close_api, &app.database_url, &key)).await;

    assert_eq!(
        status(&off, "xwms_clock"),
        Status::Warn,
        "{}",
        off.to_text()
    );
    assert!(detail(&off, "xwms_clock").contains("behind"));
    assert!(fix(&off, "xwms_clock").contains("XWMS_LOGIN_MAX_AGE_SECS"));
    assert!(off.passed(), "a clock warning does not fail the doctor");
    assert_eq!(
        status(&fine, "xwms_clock"),
        Status::Pass,
        "{}",
        fine.to_text()
    );
}

#[actix_web::test]
async fn secrets_never_reach_the_report_even_when_xwms_echoes_them() {
    let xwms = MockServer::start().await;
    let echo = json!({
        "status": "error",
        "message": format!("client secret {FAKE_CLIENT_SECRET} is not valid for this domain"),
        "data": {}
    });
    for (verb, endpoint) in [("GET", "/api/info"), ("POST", "/api/sign-token")] {
        Mock::given(method(verb))
            .and(path(endpoint))
            .respond_with(ResponseTemplate::new(422).set_body_json(echo.clone()))
            .mount(&xwms)
            .await;
    }
    let api = format!("{}/api", xwms.uri());
    let url = unreachable_database();
    let passphrase = "a session key passphrase that is long enough to be accepted by config";

    let report = doctor_with(&[
        ("DATABASE_URL", &url),
        ("XWMS_API_URL", &api),
        ("XWMS_CLIENT_ID", FAKE_CLIENT_ID),
        ("XWMS_CLIENT_SECRET", FAKE_CLIENT_SECRET),
        ("XWMS_CLIENT_DOMAIN", FAKE_DOMAIN),
        ("SESSION_KEY", passphrase),
    ])
    .await;

    assert_eq!(status(&report, "xwms_credentials"), Status::Fail);
    assert!(detail(&report, "xwms_credentials").contains("[redacted]"));
    for printed in [report.to_text(), report.to_json().to_string()] {
        for secret in [FAKE_CLIENT_SECRET, UNREACHABLE_DB_PASSWORD, passphrase] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
    }
}

#[actix_web::test]
async fn an_invalid_configuration_fails_first_and_skips_every_other_check() {
    let report = doctor_with(&[("APP_ENV", "production")]).await;

    assert_eq!(status(&report, "configuration"), Status::Fail);
    assert!(fix(&report, "configuration").contains("XWMS_CLIENT_ID"));
    assert!(
        report.checks[1..]
            .iter()
            .all(|check| check.status == Status::Skip)
    );
    assert_eq!(report.checks.len(), 10);
}

// --- The binary -------------------------------------------------------------------

/// Runs the real binary with only `vars` in its environment, in an empty directory (no
/// stray `.env`), and kills it if it has not ended within 30 s (a command that started
/// the server instead of answering).
fn run_binary(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let dir = std::env::temp_dir().join(format!(
        "xwms-doctor-test-{}",
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_xwms-starter"))
        .args(args)
        .env_clear()
        .envs(vars.iter().copied())
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("xwms-starter {args:?} did not end: it started something");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    output
}

async fn run_binary_async(args: &[&'static str], vars: Vec<(&'static str, String)>) -> Output {
    let args = args.to_vec();
    tokio::task::spawn_blocking(move || {
        let vars: Vec<(&str, &str)> = vars
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        run_binary(&args, &vars)
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn the_doctor_binary_exits_0_with_json_for_a_good_deployment_and_1_for_a_bad_one() {
    let app = spawn_app().await;

    let good = run_binary_async(
        &["doctor", "--json"],
        vec![("DATABASE_URL", app.database_url.clone())],
    )
    .await;
    let bad = run_binary_async(
        &["doctor", "--json"],
        vec![("DATABASE_URL", unreachable_database())],
    )
    .await;
    let text = run_binary_async(&["doctor"], vec![("DATABASE_URL", unreachable_database())]).await;

    assert_eq!(good.status.code(), Some(0), "{good:?}");
    let report: serde_json::Value = serde_json::from_slice(&good.stdout).unwrap();
    assert_eq!(report["ok"], true);
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 10);
    assert!(
        checks
            .iter()
            .any(|check| check["name"] == "database" && check["status"] == "pass")
    );

    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    let report: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert!(checks_named(&report, "database")["fix"].is_string());
    assert!(!String::from_utf8_lossy(&bad.stdout).contains(UNREACHABLE_DB_PASSWORD));

    assert_eq!(text.status.code(), Some(1));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("[FAIL] database:"), "{text}");
    assert!(text.contains("       fix: "), "{text}");
}

fn checks_named<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == name)
        .unwrap()
}

#[test]
fn help_lists_the_subcommands_and_starts_nothing() {
    let help = run_binary(&["--help"], &[]);

    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8(help.stdout).unwrap();
    for command in ["serve", "doctor", "new-session-key", "healthcheck"] {
        assert!(text.contains(command), "{command} in {text}");
    }
    let version = run_binary(&["--version"], &[]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(version.stdout).unwrap().trim(),
        format!("xwms-starter {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn an_unknown_argument_or_mistyped_command_is_an_error_that_names_it() {
    for args in [&["--bogus"][..], &["doctr"], &["doctor", "--jsn"]] {
        let output = run_binary(args, &[]);

        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        let named = args.last().unwrap();
        assert!(stderr.contains(named), "{named} in {stderr}");
    }
}

#[actix_web::test]
async fn new_session_key_and_healthcheck_work_as_before() {
    let app = spawn_app().await;

    let key = run_binary_async(&["new-session-key"], vec![]).await;
    let healthy = run_binary_async(&["healthcheck"], vec![("PORT", app.port.to_string())]).await;
    let nobody = run_binary_async(&["healthcheck"], vec![("PORT", "9".to_owned())]).await;

    assert_eq!(key.status.code(), Some(0));
    let key = String::from_utf8(key.stdout).unwrap();
    assert_eq!(key.lines().count(), 1);
    assert!(
        xwms_starter::support::config::Settings::from_lookup(
            |name| (name == "SESSION_KEY").then(|| key.trim().to_owned())
        )
        .unwrap()
        .session
        .key
        .is_some()
    );
    assert_eq!(healthy.status.code(), Some(0), "{healthy:?}");
    assert_eq!(nobody.status.code(), Some(1));
}

#[actix_web::test]
async fn an_unreachable_xwms_fails_info_and_does_not_try_sign_token() {
    let app = spawn_app().await;
    let key = new_session_key();

    let report = doctor_with(&production_at(
        "http://127.0.0.1:9/api",
        &app.database_url,
        &key,
    ))
    .await;

    assert_eq!(status(&report, "xwms_info"), Status::Fail);
    assert!(fix(&report, "xwms_info").contains("XWMS_API_URL"));
    assert_eq!(status(&report, "xwms_clock"), Status::Skip);
    assert_eq!(status(&report, "xwms_credentials"), Status::Skip);
    assert!(!report.passed());
}
