//! `db::pipelined_transaction`, the login's transaction: its `BEGIN` is not waited for,
//! so what it promises is tested here on its own: all of its work or none of it, and a
//! connection never back in the pool in the middle of a transaction.

use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use xwms_starter::db::{self, DbError};

use crate::helpers::{TestApp, spawn_app};

/// An app whose database has a table `probe (v text)` for these tests to write to.
async fn app_with_probe_table() -> TestApp {
    let app = spawn_app().await;
    app.execute_sql("CREATE TABLE probe (v text NOT NULL)")
        .await;
    app
}

async fn write(mut conn: &AsyncPgConnection, value: &str) -> diesel::QueryResult<()> {
    diesel::sql_query("INSERT INTO probe (v) VALUES ($1)")
        .bind::<Text, _>(value)
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// `SHOW application_name` on `conn`: a `SET LOCAL` of it lasts until its transaction ends.
async fn application_name(mut conn: &AsyncPgConnection) -> String {
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        name: String,
    }
    diesel::sql_query("SELECT current_setting('application_name') AS name")
        .get_result::<Setting>(&mut conn)
        .await
        .expect("application_name")
        .name
}

#[tokio::test]
async fn what_the_work_wrote_is_kept_when_it_succeeds() {
    let app = app_with_probe_table().await;
    let pool = app.pool();
    let outcome: Result<(), DbError> = db::pipelined_transaction(&pool, async |conn| {
        futures_util::try_join!(write(conn, "a"), write(conn, "b"))?;
        Ok(())
    })
    .await;
    outcome.expect("committed");
    assert_eq!(app.count("probe").await, 2);
}

#[tokio::test]
async fn nothing_the_work_wrote_is_kept_when_it_fails() {
    let app = app_with_probe_table().await;
    let pool = app.pool();
    // The first write went through, then the work failed: the first must go too (it ran
    // inside the transaction, although `BEGIN` was not waited for).
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
    assert_eq!(app.count("probe").await, 0);
    // The connection went back to the pool outside any transaction.
    let conn = db::connection(&pool).await.expect("a connection");
    write(&conn, "c").await.expect("a write of its own");
    drop(conn);
    assert_eq!(app.count("probe").await, 1);
}

#[tokio::test]
async fn a_transaction_dropped_midway_never_returns_its_connection_to_the_pool() {
    let app = app_with_probe_table().await;
    let pool = app.pool();
    // The work writes, marks its transaction, then never ends: the future is dropped (as
    // actix drops a handler's future when the browser goes away).
    let unfinished = db::pipelined_transaction(&pool, async |mut conn| -> Result<(), DbError> {
        write(conn, "a").await?;
        diesel::sql_query("SET LOCAL application_name = 'mid-transaction'")
            .execute(&mut conn)
            .await?;
        std::future::pending::<()>().await;
        Ok(())
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(500), unfinished)
            .await
            .is_err(),
        "the work never ends"
    );
    // The next checkout is a connection outside that transaction; that one is closed, so
    // PostgreSQL rolls back what it wrote.
    let conn = db::connection(&pool).await.expect("a connection");
    assert_ne!(application_name(&conn).await, "mid-transaction");
    drop(conn);
    let in_a_transaction = "pg_stat_activity WHERE datname = current_database() \
                            AND state LIKE 'idle in transaction%'";
    for _ in 0..100 {
        if app.count(in_a_transaction).await == 0 {
            assert_eq!(app.count("probe").await, 0);
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the dropped transaction's connection stayed open, inside its transaction");
}
