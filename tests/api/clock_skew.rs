//! Sweeps whose bounds PostgreSQL computes: rows are stamped by the database's clock
//! (`DEFAULT now()`), and the activity log's trigger checks a sweep against it, so a
//! machine whose clock is off from the database's must neither fail a sweep nor forget
//! rows early. The database's clock is set back an hour for these tests by a `now()`
//! of the test database's own that shadows PostgreSQL's.

use std::time::Duration;

use xwms_starter::domain::activity::{ClientInfo, sweep_expired_events};
use xwms_starter::domain::session_records::end_session;

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
async fn a_logout_forgets_ended_sessions_by_the_database_clock_never_early() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    set_the_database_clock_an_hour_back(&app).await;
    // By the database's clock: session a ended 90 minutes ago, b three hours ago.
    app.execute_sql(
        "INSERT INTO ended_sessions (session_id, ended_at) VALUES \
         (repeat('a', 64), now() - interval '90 minutes'), \
         (repeat('b', 64), now() - interval '3 hours')",
    )
    .await;
    let user_id = app.events().await[0].1.unwrap();

    // Sessions live at most two hours: an entry younger than that must stay.
    end_session(
        &app.pool(),
        user_id,
        &"c".repeat(64),
        2 * Duration::from_secs(3600),
        &ClientInfo::default(),
    )
    .await
    .unwrap();

    assert_eq!(
        ended_session_ids(&app).await,
        ["a".repeat(64), "c".repeat(64)],
        "the one ended 90 minutes ago stays, the one of 3 hours ago goes"
    );
}

async fn ended_session_ids(app: &TestApp) -> Vec<String> {
    use diesel::QueryableByName;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Ended {
        #[diesel(sql_type = diesel::sql_types::Text)]
        session_id: String,
    }
    let mut conn = app.db().await;
    diesel::sql_query("SELECT session_id FROM ended_sessions ORDER BY session_id")
        .load::<Ended>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|ended| ended.session_id)
        .collect()
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
