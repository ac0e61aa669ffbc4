//! `db::pipelined_transaction`, the login's transaction: its `BEGIN` is not waited for,
//! so what it promises is tested here on its own: all of its work or none of it, an error
//! when PostgreSQL refuses the `COMMIT`, and a connection never back in the pool in the
//! middle of a transaction. And the login's lost race for a new `sub`, which it retries,
//! and the bound on the connections of the workers' pools (`db::PoolRecipe`).

use diesel::sql_types::{BigInt, Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use xwms_starter::db::{self, Cached, DbError, DbPool};

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request};

use crate::helpers::{
    Provider, TestApp, browser, fake_sign_tokens, location, spawn_app, spawn_app_with,
    verified_user,
};

/// An app whose database has a table `probe (v text)` for these tests to write to.
async fn app_with_probe_table() -> TestApp {
    let app = spawn_app().await;
    app.execute_sql("CREATE TABLE probe (v text NOT NULL)")
        .await;
    app
}

/// Writes `value` into `probe`. Kept in the statement cache, as the login's statements
/// are: once a connection has prepared it, it goes out at once, without a Parse first.
async fn write(mut conn: &AsyncPgConnection, value: &str) -> diesel::QueryResult<()> {
    Cached(diesel::sql_query("INSERT INTO probe (v) VALUES ($1)").bind::<Text, _>(value))
        .execute(&mut conn)
        .await?;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

/// The PostgreSQL backend serving `conn`.
async fn backend_pid(mut conn: &AsyncPgConnection) -> diesel::QueryResult<i32> {
    Ok(diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<Pid>(&mut conn)
        .await?
        .pid)
}

/// One transaction on `pool` that writes `value` and commits, so that the pool's
/// connection has `write` prepared; returns that connection's backend.
async fn warm_up(pool: &DbPool, value: &str) -> i32 {
    db::pipelined_transaction(pool, async |conn| -> Result<i32, DbError> {
        write(conn, value).await?;
        Ok(backend_pid(conn).await?)
    })
    .await
    .expect("committed")
}

#[tokio::test]
async fn what_the_work_wrote_is_kept_when_it_succeeds() {
    let app = app_with_probe_table().await;
    let pool = app.pool();
    let backend = warm_up(&pool, "warm").await;
    let outcome: Result<(), DbError> = db::pipelined_transaction(&pool, async |conn| {
        futures_util::try_join!(write(conn, "a"), write(conn, "b"))?;
        Ok(())
    })
    .await;
    outcome.expect("committed");
    assert_eq!(app.count("probe").await, 3);
    // A transaction that ended well gives its connection back to the pool.
    let conn = db::connection(&pool).await.expect("a connection");
    assert_eq!(backend_pid(&conn).await.expect("pid"), backend);
}

#[tokio::test]
async fn nothing_the_work_wrote_is_kept_when_it_fails() {
    let app = app_with_probe_table().await;
    let pool = app.pool();
    // `write` is prepared on the pool's connection now, so the next transactions' first
    // write leaves at once: it runs inside their transaction only if `BEGIN` left first.
    warm_up(&pool, "warm").await;
    // The first write went through, then the work failed: the write must go too.
    let outcome: Result<(), DbError> = db::pipelined_transaction(&pool, async |conn| {
        write(conn, "a").await?;
        Err(DbError::Unavailable("the work failed".to_owned()))
    })
    .await;
    assert!(
        matches!(outcome, Err(DbError::Unavailable(_))),
        "{outcome:?}"
    );
    // And a statement PostgreSQL refused takes what was sent beside it along.
    let outcome: Result<(), DbError> = db::pipelined_transaction(&pool, async |mut conn| {
        let refused = diesel::sql_query("INSERT INTO probe (v) VALUES (NULL)").execute(&mut conn);
        futures_util::try_join!(write(conn, "b"), refused)?;
        Ok(())
    })
    .await;
    assert!(matches!(outcome, Err(DbError::Query(_))), "{outcome:?}");
    assert_eq!(app.count("probe").await, 1, "only the warm-up's row");
    // The connection went back to the pool outside any transaction.
    let conn = db::connection(&pool).await.expect("a connection");
    write(&conn, "c").await.expect("a write of its own");
    drop(conn);
    assert_eq!(app.count("probe").await, 2);
}

#[tokio::test]
async fn a_commit_that_postgresql_refuses_is_an_error_and_keeps_nothing() {
    let app = spawn_app().await;
    // Checked at COMMIT only: each statement succeeds, the COMMIT fails.
    app.execute_sql("CREATE TABLE probe_parent (id int PRIMARY KEY)")
        .await;
    app.execute_sql(
        "CREATE TABLE probe_child (parent int NOT NULL REFERENCES probe_parent \
         DEFERRABLE INITIALLY DEFERRED)",
    )
    .await;
    let pool = app.pool();
    let outcome: Result<(), DbError> = db::pipelined_transaction(&pool, async |mut conn| {
        diesel::sql_query("INSERT INTO probe_child (parent) VALUES (1)")
            .execute(&mut conn)
            .await?;
        Ok(())
    })
    .await;
    assert!(
        matches!(
            outcome,
            Err(DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _
            )))
        ),
        "{outcome:?}"
    );
    assert_eq!(app.count("probe_child").await, 0);
}

#[tokio::test]
async fn a_transaction_dropped_midway_never_returns_its_connection_to_the_pool() {
    let app = app_with_probe_table().await;
    let pool = app.pool();
    // The work writes, marks its transaction, says so, then never ends; the future is
    // dropped then (as actix drops a handler's future when the browser goes away).
    let (inside, midway) = tokio::sync::oneshot::channel::<()>();
    let mut unfinished = Box::pin(db::pipelined_transaction(&pool, async move |mut conn| {
        write(conn, "a").await?;
        diesel::sql_query("SET LOCAL application_name = 'mid-transaction'")
            .execute(&mut conn)
            .await?;
        let _ = inside.send(());
        std::future::pending::<()>().await;
        Ok::<(), DbError>(())
    }));
    tokio::select! {
        outcome = &mut unfinished => panic!("the work never ends, yet: {outcome:?}"),
        reached = midway => reached.expect("the work got inside its transaction"),
    }
    drop(unfinished);
    // The next checkout is a connection outside that transaction; that one is closed, so
    // PostgreSQL rolls back what it wrote.
    let mut conn = db::connection(&pool).await.expect("a connection");
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let name = diesel::sql_query("SELECT current_setting('application_name') AS name")
        .get_result::<Setting>(&mut conn)
        .await
        .expect("application_name")
        .name;
    assert_ne!(name, "mid-transaction");
    drop(conn);
    let in_a_transaction = "pg_stat_activity WHERE datname = current_database() \
                            AND state LIKE 'idle in transaction%'";
    for _ in 0..100 {
        if app.count(in_a_transaction).await == 0 {
            assert_eq!(app.count("probe").await, 0);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the dropped transaction's connection stayed open, inside its transaction");
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[tokio::test]
async fn a_first_login_that_loses_the_race_for_its_sub_signs_in_to_the_winners_account() {
    let app = spawn_app().await;
    // The sandbox prefixes a custom `sub` with `sandbox-`.
    let (custom_sub, sub) = ("race-for-this-sub", "sandbox-race-for-this-sub");
    // Another transaction links `sub` to an account of its own and has not committed yet.
    let mut winner = app.db().await;
    winner
        .batch_execute(&format!(
            "BEGIN; \
             INSERT INTO users (name) VALUES ('The Winner'); \
             INSERT INTO xwms_connections (user_id, provider, sub) \
             VALUES (currval('users_id_seq'), 'sandbox', '{sub}')"
        ))
        .await
        .expect("the winner's uncommitted link");
    let winner_id = diesel::sql_query("SELECT currval('users_id_seq') AS id")
        .get_result::<Id>(&mut winner)
        .await
        .expect("the winner's account")
        .id;
    // The login finds no link yet, writes a user of its own, and waits at the claim of
    // `sub` for the other transaction.
    let browser = browser();
    let form = [
        ("persona", "custom"),
        ("custom_sub", custom_sub),
        ("outcome", "success"),
    ];
    let callback = app.sandbox_callback_with(&browser, &form).await;
    let login = tokio::spawn({
        let browser = browser.clone();
        async move { browser.get(&callback).send().await.expect("callback") }
    });
    let waiting = "pg_stat_activity WHERE datname = current_database() \
                   AND wait_event_type = 'Lock'";
    let mut waited = false;
    for _ in 0..200 {
        if app.count(waiting).await > 0 {
            waited = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    if !waited {
        let response = login.await.expect("the login finished");
        panic!(
            "the login never waited at the claim of its sub: {} {:?}",
            response.status(),
            response.text().await
        );
    }
    winner
        .batch_execute("COMMIT")
        .await
        .expect("the winner commits");
    // The login lost: its user is rolled back, and it signs in to the winner's account.
    let response = login.await.expect("the login finished");
    assert_eq!(location(response.headers()), "/profile");
    assert_eq!(app.count("users").await, 1, "no second, orphan user");
    let login_events = diesel::sql_query(
        "SELECT user_id AS id FROM security_events WHERE kind IN ('login', 'email_changed')",
    )
    .get_result::<Id>(&mut winner)
    .await
    .expect("the login's event");
    assert_eq!(login_events.id, winner_id);
}

/// Each worker has a pool of its own, `DATABASE_MAX_CONNECTIONS` shared among them: 3
/// workers and 7 connections make pools of 3, 2 and 2 (the one left over goes to the
/// first), so however many logins run at once, the app holds at most 7 connections for
/// requests and 1 for the start and the background jobs (the first run of which is at
/// start). Uneven on purpose: a worker handed another's share (every one the first's
/// pool of 3) would make up to 10. And the pools fill: each browser here connects anew,
/// and actix hands new connections to its workers in turn, so each worker runs 8 of the
/// logins at once from a pool of its own (8 connections in every run so far; the test
/// asks at least 6). XWMS is a fake elsewhere, so only the workers' requests use the
/// pools (the sandbox would use them too): were they left on the start's one connection,
/// the app would hold 1.
#[tokio::test]
async fn the_workers_pools_hold_at_most_database_max_connections_together() {
    let xwms = MockServer::start().await;
    let tokens: Vec<String> = (0..24).map(|n| format!("pool-bound-{n}")).collect();
    fake_sign_tokens(
        &xwms,
        &tokens.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    // A person of their own for every token: 24 first logins, none waiting for another's.
    Mock::given(method("POST"))
        .and(path("/api/sign-token-verify"))
        .respond_with(|request: &Request| {
            let body: serde_json::Value = request.body_json().expect("a JSON body");
            let token = body["token"].as_str().expect("a token");
            verified_user(token, &format!("{token}@example.com"))
        })
        .expect(24)
        .mount(&xwms)
        .await;
    let app = spawn_app_with(
        Provider::Fake(&xwms),
        &[
            ("WORKERS", "3"),
            ("DATABASE_MAX_CONNECTIONS", "7"),
            ("DATABASE_ACQUIRE_TIMEOUT_MS", "60000"),
        ],
    )
    .await;
    let mut browsers = Vec::new();
    for _ in &tokens {
        let browser = browser();
        app.start_login_with(&browser).await;
        browsers.push(browser);
    }
    let logins = futures::future::join_all(browsers.iter().zip(&tokens).map(|(browser, token)| {
        browser
            .get(app.url(&format!("/xwms/validateToken?token={token}")))
            .send()
    }))
    .await;
    for login in logins {
        let login = login.expect("callback");
        assert_eq!(login.status(), 303);
        assert_eq!(location(login.headers()), "/profile");
    }
    // Besides the app's connections, the one `count` opens to ask.
    let connections = app
        .count("pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'")
        .await
        - 1;
    assert!(
        (6..=8).contains(&connections),
        "{connections} connections to the app's database"
    );
}
