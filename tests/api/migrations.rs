//! Migrations run on data that exists: what a deployment upgrading from an older
//! version has in its tables.

use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::MigrationHarness;

use crate::helpers::spawn_app;

/// Rolls the app's database back to before migration 4 (identity providers), fills it
/// as an older version would have, and migrates it again.
#[actix_web::test]
async fn existing_identities_get_their_provider() {
    let app = spawn_app().await;
    let url = app.database_url.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> =
            diesel::Connection::establish(&url).unwrap();
        // Back to just before the migration that introduced providers.
        loop {
            let reverted = conn
                .revert_last_migration(xwms_starter::db::MIGRATIONS)
                .unwrap()
                .to_string();
            if reverted.replace('-', "").starts_with("20261202000004") {
                break;
            }
        }
        for sql in [
            "INSERT INTO users (id, name) VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Real')",
            "INSERT INTO xwms_connections (user_id, sub) VALUES \
             (1, 'sandbox-ada'), (2, '190612091992'), (3, 'xwms-user-1234')",
        ] {
            diesel::RunQueryDsl::execute(diesel::sql_query(sql), &mut conn).unwrap();
        }
        conn.run_pending_migrations(xwms_starter::db::MIGRATIONS)
            .unwrap();
    })
    .await
    .unwrap();

    let identities = app.identities().await;

    assert_eq!(
        identities,
        [
            ("sandbox".to_owned(), "sandbox-ada".to_owned()),
            ("sandbox".to_owned(), "190612091992".to_owned()),
            ("xwms:xwms.nl".to_owned(), "xwms-user-1234".to_owned()),
        ]
    );
}

/// Rolls the app's database back to before migration 12 (structured event details),
/// writes the details as the older version did (sentences and names), and migrates again:
/// each becomes the JSON the app now writes, and going down gives the old text back.
#[actix_web::test]
async fn existing_event_details_become_structured_and_can_go_back() {
    let app = spawn_app().await;
    let url = app.database_url.clone();
    let old_details = [
        ("email_changed", "from ada@example.com to none"),
        ("email_changed", "from none to ada@example.org"),
        ("account_created", "xwms:xwms.nl"),
        (
            "login_refused",
            "this login was not started in this browser",
        ),
    ];
    let read_back = tokio::task::spawn_blocking(move || {
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> =
            diesel::Connection::establish(&url).unwrap();
        // Back to just before migration 12 (the later ones touch other tables).
        loop {
            let reverted = conn
                .revert_last_migration(xwms_starter::db::MIGRATIONS)
                .unwrap()
                .to_string();
            if reverted.replace('-', "").starts_with("20261205000012") {
                break;
            }
        }
        diesel::RunQueryDsl::execute(
            diesel::sql_query("INSERT INTO users (id, name) VALUES (1, 'Ada')"),
            &mut conn,
        )
        .unwrap();
        for (kind, detail) in old_details {
            diesel::RunQueryDsl::execute(
                diesel::sql_query(format!(
                    "INSERT INTO security_events (user_id, kind, detail) VALUES (1, '{kind}', '{detail}')"
                )),
                &mut conn,
            )
            .unwrap();
        }
        conn.run_pending_migrations(xwms_starter::db::MIGRATIONS)
            .unwrap();
        let json = details(&mut conn);
        while !conn
            .revert_last_migration(xwms_starter::db::MIGRATIONS)
            .unwrap()
            .to_string()
            .replace('-', "")
            .starts_with("20261205000012")
        {}
        let text = details(&mut conn);
        conn.run_pending_migrations(xwms_starter::db::MIGRATIONS)
            .unwrap();
        (json, text)
    })
    .await
    .unwrap();

    assert_eq!(
        read_back.0,
        [
            r#"{"email_change": {"to": null, "from": "ada@example.com"}}"#,
            r#"{"email_change": {"to": "ada@example.org", "from": null}}"#,
            r#"{"provider": {"provider": "xwms:xwms.nl"}}"#,
            r#"{"refusal": {"reason": "this login was not started in this browser"}}"#,
        ]
    );
    assert_eq!(
        read_back.1,
        old_details.map(|(_, detail)| detail.to_owned()),
        "down gives the old text back"
    );
}

/// `detail::text` of every event, oldest first.
fn details(conn: &mut AsyncConnectionWrapper<AsyncPgConnection>) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    diesel::RunQueryDsl::load::<Row>(
        diesel::sql_query("SELECT detail::text AS detail FROM security_events ORDER BY id"),
        conn,
    )
    .unwrap()
    .into_iter()
    .map(|row| row.detail)
    .collect()
}

/// Every value the `security_event_kind` column can hold reads back as an `EventKind`
/// and is written back as the same value: the Rust enum and the column agree.
#[actix_web::test]
async fn every_security_event_kind_in_the_database_is_one_rust_enum_variant() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use xwms_starter::db::schema::sql_types::SecurityEventKind;
    use xwms_starter::domain::activity::EventKind;

    let app = spawn_app().await;
    let mut conn = app.db().await;

    #[derive(QueryableByName)]
    struct Kind {
        #[diesel(sql_type = SecurityEventKind)]
        kind: EventKind,
    }
    let stored: Vec<EventKind> =
        diesel::sql_query("SELECT unnest(enum_range(NULL::security_event_kind)) AS kind")
            .load::<Kind>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.kind)
            .collect();

    assert_eq!(stored, EventKind::ALL, "same kinds, same order");
    for kind in EventKind::ALL {
        let back: EventKind = diesel::select(kind.into_sql::<SecurityEventKind>())
            .get_result(&mut conn)
            .await
            .unwrap();
        assert_eq!(back, kind);
    }
}

/// Only the rate limit's state is `UNLOGGED` (no WAL, emptied by a crash): losing it is
/// harmless. Every other table is logged: a crash must not lose an account, its events,
/// its session records or the memory of used callback tokens (docs/security.md). And it is
/// indexed by its key alone, so that the update of every login step can stay on its page
/// without touching an index (a HOT update).
#[actix_web::test]
async fn only_the_rate_limits_table_is_unlogged_and_its_only_index_is_its_key() {
    let app = spawn_app().await;
    let unlogged = |name: &str| {
        format!("pg_class WHERE relname = '{name}' AND relkind = 'r' AND relpersistence = 'u'")
    };
    assert_eq!(app.count(&unlogged("login_rate_limits")).await, 1);
    assert_eq!(
        app.count(
            "pg_class WHERE relkind = 'r' AND relpersistence = 'u' \
             AND relnamespace = 'public'::regnamespace"
        )
        .await,
        1,
        "no other table of the app is unlogged"
    );
    assert_eq!(
        app.count("pg_indexes WHERE tablename = 'login_rate_limits'")
            .await,
        1,
        "the primary key only: no index on tat"
    );
}
