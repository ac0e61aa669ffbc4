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
