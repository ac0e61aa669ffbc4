//! The background jobs: they run at start (then hourly) with the retention settings the
//! app was given, and delete exactly the rows past them.

use std::time::{Duration, Instant};

use xwms_starter::db;

use crate::helpers::{Provider, TestApp, new_test_database, spawn_app_on_database};

/// A migrated database holding rows on both sides of each retention: what an app
/// restarting on a database in use finds.
async fn database_with_old_and_recent_rows() -> String {
    let database_url = new_test_database().await;
    let connector = db::PgConnector::new(&database_url, None).unwrap();
    db::run_migrations(&connector).await.unwrap();
    let mut conn = crate::helpers::connect(&database_url, None).await.unwrap();
    for sql in [
        "INSERT INTO users (id, name) VALUES (1, 'Ada')",
        // Events of a user (retention 5 days here): 6 days old goes, 4 days old stays.
        "INSERT INTO security_events (user_id, kind, created_at) VALUES
            (1, 'login', now() - interval '6 days'),
            (1, 'logout', now() - interval '4 days')",
        // Events of nobody (2 days): 3 days old goes, 36 hours old stays.
        r#"INSERT INTO security_events (user_id, kind, detail, created_at) VALUES
            (NULL, 'login_refused', '{"refusal": {"reason": "old"}}', now() - interval '3 days'),
            (NULL, 'login_refused', '{"refusal": {"reason": "recent"}}', now() - interval '36 hours')"#,
        // Used tokens (kept twice the 60 s login limit): 3 minutes old goes, 90 s stays.
        "INSERT INTO used_login_tokens (token_sha256, used_at) VALUES
            (repeat('a', 64), now() - interval '3 minutes'),
            (repeat('b', 64), now() - interval '90 seconds')",
        // The rate limit: a client whose time has passed goes, one still limited stays.
        "INSERT INTO login_rate_limits (client, tat) VALUES
            (repeat('1', 64), now() - interval '1 minute'),
            (repeat('2', 64), now() + interval '1 minute')",
        // Sessions (idle limit 10 minutes, absolute an hour, each with two minutes' margin):
        // unused for 20 minutes goes, started 2 hours ago goes, used 5 minutes ago stays.
        "INSERT INTO user_sessions (token_sha256, user_id, created_at, last_seen_at) VALUES
            (repeat('c', 64), 1, now() - interval '30 minutes', now() - interval '20 minutes'),
            (repeat('d', 64), 1, now() - interval '30 minutes', now() - interval '5 minutes'),
            (repeat('e', 64), 1, now() - interval '2 hours', now() - interval '1 minute')",
    ] {
        use diesel_async::RunQueryDsl;
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }
    database_url
}

/// The rows left: events (kind and detail), used tokens, rate-limited clients, sessions.
async fn rows_left(app: &TestApp) -> (i64, i64, i64, i64) {
    (
        app.count("security_events").await,
        app.count("used_login_tokens").await,
        app.count("login_rate_limits").await,
        app.count("user_sessions").await,
    )
}

#[actix_web::test]
async fn the_sweeps_run_at_start_with_the_configured_retention() {
    let database_url = database_with_old_and_recent_rows().await;

    let app = spawn_app_on_database(
        database_url,
        None,
        Provider::Sandbox,
        &[
            ("ACTIVITY_RETENTION_DAYS", "5"),
            ("ANONYMOUS_ACTIVITY_RETENTION_DAYS", "2"),
            ("XWMS_LOGIN_MAX_AGE_SECS", "60"),
            ("SESSION_IDLE_TIMEOUT_SECS", "600"),
            ("SESSION_ABSOLUTE_TIMEOUT_SECS", "3600"),
        ],
    )
    .await;

    let started = Instant::now();
    while rows_left(&app).await != (2, 1, 1, 1) && started.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        rows_left(&app).await,
        (2, 1, 1, 1),
        "one of each kind swept"
    );
    assert_eq!(
        app.count("user_sessions WHERE token_sha256 = repeat('d', 64)")
            .await,
        1,
        "the session in use stays"
    );
    assert_eq!(app.count("security_events WHERE kind = 'logout'").await, 1);
    assert_eq!(
        app.count("security_events WHERE detail #>> '{refusal,reason}' = 'recent'")
            .await,
        1
    );
    assert_eq!(
        app.count("used_login_tokens WHERE token_sha256 = repeat('b', 64)")
            .await,
        1
    );
    assert_eq!(
        app.count("login_rate_limits WHERE client = repeat('2', 64)")
            .await,
        1
    );
}
