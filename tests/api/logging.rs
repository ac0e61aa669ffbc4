//! Tokens are secrets: they must never reach the log.

use serde_json::json;
use wiremock::{MockServer, ResponseTemplate};

use crate::helpers::{
    Provider, a_database_nobody_created, captured_logs, fake_sign_token, fake_verify, spawn_app,
    spawn_app_on_database, spawn_app_with, start_app, test_settings, verified_user,
};

#[actix_web::test]
async fn an_https_callback_without_app_env_production_is_warned_about_at_start() {
    const CALLBACK: &str = "https://warned-at-start.example/xwms/validateToken";

    let app = spawn_app_with(Provider::Sandbox, &[("XWMS_REDIRECT_URI", CALLBACK)]).await;

    let logs = app.logs();
    assert!(
        logs.iter().any(|line| line.starts_with("WARN")
            && line.contains("APP_ENV: not production")
            && line.contains(CALLBACK)),
        "{logs:#?}"
    );
}

#[actix_web::test]
async fn threat_token_leakage_the_token_and_client_secret_never_appear_in_the_log() {
    const TOKEN: &str = "tok-SECRET-3f9a1c7e";
    const BAD_TOKEN: &str = "tok-FORGED-77aa21";
    let xwms = MockServer::start().await;
    fake_sign_token(&xwms, TOKEN).await;
    fake_verify(&xwms, verified_user("sub-log", "log@example.com"), 1).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;

    // A successful login, a forged callback, and a replay.
    app.start_login_with(&app.client).await;
    let ok = app.get(&format!("/xwms/validateToken?token={TOKEN}")).await;
    assert_eq!(ok.status(), 303);
    app.start_login_with(&app.client).await;
    assert_eq!(
        app.get(&format!("/xwms/validateToken?token={BAD_TOKEN}"))
            .await
            .status(),
        400
    );
    assert_eq!(
        app.get(&format!("/xwms/validateToken?token={TOKEN}"))
            .await
            .status(),
        400
    );

    assert!(
        app.logs()
            .iter()
            .any(|line| line.contains("GET /xwms/validateToken 303")),
        "the callback itself is logged (path only)"
    );
    // No app's log, not only this one's, may hold them.
    for line in &captured_logs() {
        assert!(!line.contains(TOKEN), "token in log: {line}");
        assert!(!line.contains(BAD_TOKEN), "token in log: {line}");
        assert!(
            !line.contains(crate::helpers::FAKE_CLIENT_SECRET),
            "secret in log: {line}"
        );
    }
}

#[actix_web::test]
async fn threat_token_leakage_a_rejected_token_is_in_no_log_line_and_no_page() {
    const TOKEN: &str = "tok-REJECTED-8c2d";
    let xwms = MockServer::start().await;
    fake_sign_token(&xwms, TOKEN).await;
    let refusal = ResponseTemplate::new(400)
        .set_body_json(json!({"status": "error", "message": "Invalid token", "data": {}}));
    fake_verify(&xwms, refusal, 1).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    app.start_login_with(&app.client).await;

    let response = app.get(&format!("/xwms/validateToken?token={TOKEN}")).await;

    assert_eq!(response.status(), 401);
    let page = response.text().await.unwrap();
    assert!(!page.contains(TOKEN), "the token is not shown on the page");
    assert!(captured_logs().iter().all(|line| !line.contains(TOKEN)));
}

#[actix_web::test]
async fn each_test_app_reads_only_its_own_log_lines() {
    let first = spawn_app().await;
    let second = spawn_app().await;

    first.get("/only-the-first-app-was-asked-this").await;

    let asked = |app: &crate::helpers::TestApp| {
        app.logs()
            .iter()
            .any(|line| line.contains("GET /only-the-first-app-was-asked-this 404"))
    };
    assert!(asked(&first), "the app's own request is in its log");
    assert!(!asked(&second), "another app's line is not");
}

#[actix_web::test]
async fn a_start_on_a_migrated_database_logs_no_migration_count() {
    let first = spawn_app().await;

    let restarted =
        spawn_app_on_database(first.database_url.clone(), None, Provider::Sandbox, &[]).await;

    assert!(
        first
            .logs()
            .iter()
            .any(|line| line.contains("database migration(s)")),
        "the first start migrated"
    );
    let said = restarted.logs();
    assert!(
        !said
            .iter()
            .any(|line| line.contains("database migration(s)")),
        "nothing was applied at the restart: {said:?}"
    );
}

/// `DATABASE_CREATE_IF_MISSING` (on in development, off in production): a start creates
/// the database only when it is on and the database is missing, and says so only then.
#[actix_web::test]
async fn a_missing_database_is_created_only_when_allowed_and_the_log_says_so() {
    let missing = a_database_nobody_created().await;
    let not_allowed = test_settings(
        &missing,
        &Provider::Sandbox,
        &[("DATABASE_CREATE_IF_MISSING", "false")],
    );
    let refused = match start_app(not_allowed).await {
        Ok(_) => panic!("the app started on a database it may not create"),
        Err(err) => err,
    };
    let name = missing.rsplit('/').next().unwrap();
    assert!(refused.contains(name), "names the database: {refused}");

    let created = spawn_app_on_database(missing, None, Provider::Sandbox, &[]).await;
    let said = |app: &crate::helpers::TestApp| {
        app.logs()
            .iter()
            .any(|line| line.contains("created the database named in DATABASE_URL"))
    };
    assert!(
        said(&created),
        "the database was created, and the log says so"
    );
    assert_eq!(created.get("/health/ready").await.status(), 200);
    assert!(
        !said(&spawn_app().await),
        "a database that exists is not created"
    );
}

/// `WORKERS`: that many worker threads; 0, one per core (actix's line "starting N workers",
/// logged before the app has started, says how many).
#[actix_web::test]
async fn workers_sets_the_number_of_worker_threads_and_0_means_one_per_core() {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    for (setting, workers) in [
        ((cores + 1).to_string(), cores + 1),
        ("0".to_owned(), cores),
    ] {
        let app = spawn_app_with(Provider::Sandbox, &[("WORKERS", &setting)]).await;
        let said = format!("starting {workers} workers");
        let logs = app.logs();
        assert!(
            logs.iter().any(|line| line.contains(&said)),
            "WORKERS={setting}: {logs:?}"
        );
    }
}

#[actix_web::test]
async fn the_start_log_says_how_many_migrations_a_new_database_got() {
    let app = spawn_app().await;
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("migrations/")
        .filter(|entry| entry.as_ref().is_ok_and(|entry| entry.path().is_dir()))
        .count();
    let expected = format!("applied {migrations} database migration(s)");
    assert!(
        app.logs().iter().any(|line| line.contains(&expected)),
        "no start line with {expected:?}"
    );
}
