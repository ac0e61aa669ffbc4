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
        conn.revert_last_migration(xwms_starter::db::MIGRATIONS)
            .unwrap();
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
