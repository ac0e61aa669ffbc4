//! Sweeps whose bounds PostgreSQL computes: rows are stamped by the database's clock
//! (`DEFAULT now()`), and the activity log's trigger checks a sweep against it, so a
//! machine whose clock is off from the database's must neither fail a sweep nor forget
//! rows early. The database's clock is set back an hour for these tests by a `now()`
//! of the test database's own that shadows PostgreSQL's.

use std::time::Duration;

use xwms_starter::domain::activity::sweep_expired_events;
use xwms_starter::domain::session_records::{SessionLimits, sweep_sessions};

use crate::helpers::TestApp;
use crate::helpers::spawn_app;

/// From the next connection on, `now()` in the app's database is an hour behind the
/// machine's clock (as a database server whose clock is an hour slow would be).
async fn set_the_database_clock_an_hour_back(app: &TestApp) {
    app.execute_sql(
        "CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql STABLE \
         AS $$ SELECT pg_catalog.now() - interval '1 hour' $$",
    )
    .await;
    app.execute_sql(&format!(
        "ALTER DATABASE \"{}\" SET search_path = public, pg_catalog",
        app.database_name()
    ))
    .await;
}

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

#[actix_web::test]
async fn the_retention_sweep_works_when_the_database_clock_is_behind_the_apps() {
    let app = spawn_app().await;
    app.login_as("ada").await; // account_created
    app.execute_sql("ALTER TABLE security_events DISABLE TRIGGER security_events_append_only")
        .await;
    app.execute_sql("UPDATE security_events SET created_at = now() - interval '2 days'")
        .await;
    app.execute_sql("ALTER TABLE security_events ENABLE TRIGGER security_events_append_only")
        .await;
    app.login_as("ada").await; // login, just now
    set_the_database_clock_an_hour_back(&app).await;

    // A retention of one day: the trigger allows no bound later than a day ago by its
    // clock.
    let swept = sweep_expired_events(&app.pool(), DAY, DAY).await;

    assert_eq!(swept.unwrap(), 1, "the sweep is not rolled back");
    assert_eq!(app.event_kinds().await, ["login"]);
}

#[actix_web::test]
async fn the_session_sweep_goes_by_the_database_clock_never_early() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    set_the_database_clock_an_hour_back(&app).await;
    // By the database's clock: session a was last used 90 minutes ago, b three hours ago,
    // and c started 25 hours ago. The login's own session was stamped an hour "ahead".
    app.execute_sql(
        "INSERT INTO user_sessions (token_sha256, user_id, created_at, last_seen_at) \
         SELECT repeat(name, 64), (SELECT id FROM users), now() - started, now() - seen \
         FROM (VALUES ('a', interval '2 hours', interval '90 minutes'), \
                      ('b', interval '4 hours', interval '3 hours'), \
                      ('c', interval '25 hours', interval '1 minute')) AS s(name, started, seen)",
    )
    .await;
    let limits = SessionLimits {
        idle: 2 * HOUR,
        absolute: DAY,
    };

    let swept = sweep_sessions(&app.pool(), limits).await.unwrap();

    assert_eq!(swept, 2, "b (idle) and c (too old) go");
    assert_eq!(
        app.count("user_sessions WHERE token_sha256 = repeat('a', 64)")
            .await,
        1,
        "the one used 90 minutes ago stays"
    );
    assert_eq!(app.count("user_sessions").await, 2, "and the login's own");
    app.assert_signed_in(&app.client).await;
}

#[actix_web::test]
async fn the_rate_limit_sweep_keeps_a_client_still_limited_by_the_database_clock() {
    let app = spawn_app().await;
    set_the_database_clock_an_hour_back(&app).await;
    // By the database's clock: client a is limited for 30 more minutes, b was an hour ago.
    app.execute_sql(
        "INSERT INTO login_rate_limits (client, tat) VALUES \
         (repeat('a', 64), now() + interval '30 minutes'), \
         (repeat('b', 64), now() - interval '1 hour')",
    )
    .await;

    let swept = xwms_starter::web::rate_limit::sweep(&app.pool())
        .await
        .unwrap();

    // (The app's own sweep at start may have taken b first.)
    assert!(swept <= 1, "only b: {swept}");
    assert_eq!(app.count("login_rate_limits").await, 1);
}
