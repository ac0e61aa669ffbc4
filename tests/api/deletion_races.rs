//! A request of a signed-in user that meets the deletion of their account: the session
//! was checked while the user still existed, then the deletion commits while the
//! request waits for the user row. The answer is the clean "you are signed out"
//! redirect, never a 500 (a serialization failure or a foreign-key violation), and
//! nothing is half written. And a login never waits for a download of the same data, and
//! a logout and a deletion under way at once never deadlock.

use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::helpers::{TestApp, location, spawn_app};

/// The signed-in user's id (the only account in the test's database).
async fn only_user_id(app: &TestApp) -> i64 {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let mut conn = app.db().await;
    diesel::sql_query("SELECT id FROM users")
        .get_result::<Id>(&mut conn)
        .await
        .unwrap()
        .id
}

/// Opens a transaction on a connection of its own and runs `sql` in it, uncommitted:
/// the row locks it takes are held until `commit`.
async fn hold_open(app: &TestApp, sql: &str) -> AsyncPgConnection {
    let mut conn = app.db().await;
    diesel::sql_query("BEGIN").execute(&mut conn).await.unwrap();
    diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    conn
}

async fn commit(mut conn: AsyncPgConnection) {
    diesel::sql_query("COMMIT")
        .execute(&mut conn)
        .await
        .unwrap();
}

/// Posts `form` to `path` from `browser` in a task of its own, so the test can go on while
/// the request waits for a lock; await the handle for the answer.
fn post_in_background(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    form: Vec<(&'static str, String)>,
) -> actix_web::rt::task::JoinHandle<reqwest::Response> {
    let (client, url) = (browser.clone(), app.url(path));
    actix_web::rt::spawn(async move { client.post(url).form(&form).send().await.unwrap() })
}

/// Waits until a query of the app waits for a row lock in the test's database.
async fn until_a_query_waits_for_a_lock(app: &TestApp) {
    until_queries_wait_for_locks(app, 1).await;
}

/// Waits until `n` queries of the app wait for row locks in the test's database.
async fn until_queries_wait_for_locks(app: &TestApp, n: i64) {
    #[derive(QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = BigInt)]
        waiting: i64,
    }
    let mut conn = app.db().await;
    for _ in 0..200 {
        let found: Waiting = diesel::sql_query(format!(
            "SELECT count(*) AS waiting FROM pg_stat_activity \
             WHERE datname = '{}' AND wait_event_type = 'Lock'",
            app.database_name()
        ))
        .get_result(&mut conn)
        .await
        .unwrap();
        if found.waiting >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no query of the app waited for the held lock");
}

/// Signs Ada in, then deletes her user row in a transaction held open.
async fn signed_in_while_a_deletion_is_under_way() -> (TestApp, AsyncPgConnection) {
    let app = spawn_app().await;
    app.log_in_ending_on_the_profile(&app.client).await;
    let user_id = only_user_id(&app).await;
    let deletion = hold_open(&app, &format!("DELETE FROM users WHERE id = {user_id}")).await;
    (app, deletion)
}

#[actix_web::test]
async fn a_download_waiting_for_a_deletion_ends_in_the_signed_out_redirect_not_a_500() {
    let (app, deletion) = signed_in_while_a_deletion_is_under_way().await;

    let download = actix_web::rt::spawn({
        let (client, url) = (app.client.clone(), app.url("/profile/data"));
        async move { client.get(url).send().await.unwrap() }
    });
    until_a_query_waits_for_a_lock(&app).await;
    commit(deletion).await;
    let response = download.await.unwrap();

    assert_eq!(response.status(), 303, "the clean answer, not a 500");
    assert_eq!(location(response.headers()), "/");
    assert_eq!(app.count("users").await, 0);
    assert!(
        !app.event_kinds()
            .await
            .contains(&"data_exported".to_owned()),
        "no download is recorded for a user who is gone"
    );
    let profile = app.get("/profile").await;
    assert_eq!(profile.status(), 303, "the session is over");
}

#[actix_web::test]
async fn a_note_waiting_for_a_deletion_ends_in_the_signed_out_redirect_and_is_not_written() {
    let app = spawn_app().await;
    app.log_in_ending_on_the_profile(&app.client).await;
    let notes_page = app.get("/notes").await.text().await.unwrap();
    let token = TestApp::form_csrf_token(&notes_page);
    let user_id = only_user_id(&app).await;
    let deletion = hold_open(&app, &format!("DELETE FROM users WHERE id = {user_id}")).await;

    let post = post_in_background(
        &app,
        &app.client,
        "/notes",
        vec![
            ("csrf_token", token),
            ("body", "written too late".to_owned()),
        ],
    );
    until_a_query_waits_for_a_lock(&app).await;
    commit(deletion).await;
    let response = post.await.unwrap();

    assert_eq!(response.status(), 303, "the clean answer, not a 500");
    assert_eq!(location(response.headers()), "/");
    assert_eq!(app.count("notes").await, 0);
    assert_eq!(app.get("/notes").await.status(), 303, "the session is over");
}

#[actix_web::test]
async fn logging_out_everywhere_while_a_deletion_commits_ends_in_the_home_redirect() {
    let app = spawn_app().await;
    app.log_in_ending_on_the_profile(&app.client).await;
    let token = app.logout_token_with(&app.client).await;
    let user_id = only_user_id(&app).await;
    let deletion = hold_open(&app, &format!("DELETE FROM users WHERE id = {user_id}")).await;

    let logout = post_in_background(
        &app,
        &app.client,
        "/logout/everywhere",
        vec![("csrf_token", token)],
    );
    until_a_query_waits_for_a_lock(&app).await;
    commit(deletion).await;
    let response = logout.await.unwrap();

    assert_eq!(response.status(), 303, "the clean answer, not a 500");
    assert_eq!(location(response.headers()), "/logged-out?everywhere=1");
    assert!(
        app.events().await.iter().all(|(_, user)| user.is_none()),
        "no event names the deleted user"
    );
}

#[actix_web::test]
async fn a_login_does_not_wait_for_a_download_of_the_same_persons_data() {
    let app = spawn_app().await;
    app.log_in_ending_on_the_profile(&app.client).await;
    let user_id = only_user_id(&app).await;
    // What `privacy::export_personal_data` holds while it reads.
    let download = hold_open(
        &app,
        &format!("SELECT id FROM users WHERE id = {user_id} FOR KEY SHARE"),
    )
    .await;

    let login = tokio::time::timeout(Duration::from_secs(5), app.login_as("ada")).await;

    let response = login.expect("the login finished while the download held its lock");
    assert_eq!(response.status(), 303);
    assert_eq!(location(response.headers()), "/profile");
    commit(download).await;
}

/// A logout and the deletion of the same account, both under way: the logout ends its
/// session's record and writes its event, the deletion deletes the user and (cascading)
/// their session records. Each takes the user's row before the records, so neither waits
/// for the other in a loop (taken the other way round, PostgreSQL would end one of them
/// with a deadlock error: a 500).
#[actix_web::test]
async fn a_logout_and_a_deletion_of_the_same_account_at_once_both_finish() {
    let app = spawn_app().await;
    let (laptop, phone) = (crate::helpers::browser(), crate::helpers::browser());
    app.log_in_ending_on_the_profile(&laptop).await;
    app.log_in_ending_on_the_profile(&phone).await;
    let logout_token = app.logout_token_with(&laptop).await;
    let delete_page = app.get_with(&phone, "/profile/delete").await;
    let delete_token = TestApp::form_csrf_token(&delete_page.text().await.unwrap());
    // Something else holds the session records for a moment (a sweep, say): the logout
    // reaches them first and waits, then the deletion comes.
    let records = hold_open(&app, "SELECT id FROM user_sessions FOR UPDATE").await;
    let logout = post_in_background(&app, &laptop, "/logout", vec![("csrf_token", logout_token)]);
    until_a_query_waits_for_a_lock(&app).await;
    let deletion = post_in_background(
        &app,
        &phone,
        "/profile/delete",
        vec![("csrf_token", delete_token)],
    );
    until_queries_wait_for_locks(&app, 2).await;

    commit(records).await;
    let (logout, deletion) = (logout.await.unwrap(), deletion.await.unwrap());

    assert_eq!(logout.status(), 303, "the logout's clean answer, not a 500");
    assert_eq!(location(logout.headers()), "/logged-out");
    assert_eq!(
        deletion.status(),
        303,
        "the deletion's clean answer, not a 500"
    );
    assert_eq!(location(deletion.headers()), "/account-deleted");
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count("user_sessions").await, 0);
}

/// A login of a person and the deletion of their account, both under way: the deletion
/// finishes, and the login, which waited for the user's row, finds no account and makes a
/// new one. Both lock the user before its identity row (the deletion's cascade takes that
/// one); the other way round, PostgreSQL would end one of them with a deadlock error: a
/// 500.
#[actix_web::test]
async fn a_login_and_a_deletion_of_the_same_account_at_once_both_finish() {
    let app = spawn_app().await;
    let (phone, laptop) = (crate::helpers::browser(), crate::helpers::browser());
    app.log_in_ending_on_the_profile(&phone).await;
    let delete_page = app.get_with(&phone, "/profile/delete").await;
    let delete_token = TestApp::form_csrf_token(&delete_page.text().await.unwrap());
    let callback = app
        .sandbox_callback_with(&laptop, &[("persona", "ada"), ("outcome", "success")])
        .await;
    // Something holds Ada's identity row for a moment: the deletion reaches it first and
    // waits, then the login comes.
    let identity = hold_open(&app, "SELECT id FROM xwms_connections FOR UPDATE").await;
    let deletion = post_in_background(
        &app,
        &phone,
        "/profile/delete",
        vec![("csrf_token", delete_token)],
    );
    until_a_query_waits_for_a_lock(&app).await;
    let login = actix_web::rt::spawn(async move { laptop.get(callback).send().await.unwrap() });
    until_queries_wait_for_locks(&app, 2).await;

    commit(identity).await;
    let (deletion, login) = (deletion.await.unwrap(), login.await.unwrap());

    assert_eq!(
        deletion.status(),
        303,
        "the deletion's clean answer, not a 500"
    );
    assert_eq!(location(deletion.headers()), "/account-deleted");
    assert_eq!(login.status(), 303, "the login's clean answer, not a 500");
    assert_eq!(location(login.headers()), "/profile");
    assert_eq!(app.count("users").await, 1, "a new account for the login");
    assert_eq!(app.count("xwms_connections").await, 1);
}
