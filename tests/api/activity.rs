//! The security activity log: one event per linking branch, refusals and logouts
//! recorded, append-only, shown on the profile.

use crate::helpers::{browser, spawn_app};

#[actix_web::test]
async fn each_branch_of_the_linking_code_writes_exactly_one_event() {
    let app = spawn_app().await;

    app.login_as("ada").await; // new sub
    app.login_as("ada").await; // returning, same email
    app.login_as("ada-new-email").await; // returning, email changed

    let events = app.events().await;
    let kinds: Vec<&str> = events.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["account_created", "login", "email_changed"]);
    assert!(events.iter().all(|(_, user)| user.is_some()));
}

#[actix_web::test]
async fn a_refused_login_is_recorded_without_guessing_who_it_was() {
    let app = spawn_app().await;
    let link = app
        .sandbox_callback_with(&app.client, &[("persona", "ada"), ("outcome", "success")])
        .await;

    let other = browser();
    assert_eq!(other.get(&link).send().await.unwrap().status(), 400);

    assert_eq!(app.events().await, [("login_refused".to_owned(), None)]);
}

#[actix_web::test]
async fn a_refused_logins_event_says_why_it_was_refused() {
    let app = spawn_app().await;
    // A browser with no login under way, then one whose login has another token.
    browser()
        .get(app.url("/xwms/validateToken?token=stray"))
        .send()
        .await
        .unwrap();
    app.get("/xwms/auth").await;
    app.get("/xwms/validateToken?token=another").await;

    #[derive(diesel::QueryableByName)]
    struct Reason {
        #[diesel(sql_type = diesel::sql_types::Text)]
        reason: String,
    }
    use diesel_async::RunQueryDsl;
    let reasons: Vec<String> = diesel::sql_query(
        "SELECT detail->'refusal'->>'reason' AS reason FROM security_events ORDER BY id",
    )
    .load::<Reason>(&mut app.db().await)
    .await
    .unwrap()
    .into_iter()
    .map(|row| row.reason)
    .collect();

    assert_eq!(
        reasons,
        [
            "login refused: this browser has no login in progress",
            "login refused: the token is not the one issued to this browser",
        ]
    );
}

#[actix_web::test]
async fn logout_is_recorded_with_a_hashed_ip_and_the_user_agent() {
    let app = spawn_app().await;
    app.login_as("ada").await;

    app.log_out_with(&app.client, "/logout").await;

    let kinds = app.event_kinds().await;
    assert_eq!(kinds, ["account_created", "logout"]);
    assert_eq!(
        app.count("security_events WHERE kind = 'logout' AND user_agent = 'xwms-starter-tests' AND length(ip_hash) = 64 AND ip_hash NOT LIKE '%127.0.0.1%'")
            .await,
        1
    );
}

#[actix_web::test]
async fn logging_out_on_all_devices_is_recorded_as_sessions_revoked() {
    let app = spawn_app().await;
    app.login_as("ada").await;

    app.log_out_with(&app.client, "/logout/everywhere").await;

    let kinds = app.event_kinds().await;
    assert_eq!(kinds, ["account_created", "sessions_revoked"]);
}

#[actix_web::test]
async fn the_activity_log_is_append_only() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    let mut conn = app.db().await;
    use diesel_async::RunQueryDsl;

    let update = diesel::sql_query("UPDATE security_events SET kind = 'login'")
        .execute(&mut conn)
        .await;
    let delete = diesel::sql_query("DELETE FROM security_events")
        .execute(&mut conn)
        .await;

    assert!(update.unwrap_err().to_string().contains("append-only"));
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    assert_eq!(app.count("security_events").await, 1);
}

#[actix_web::test]
async fn deleting_a_user_keeps_their_events_without_the_user() {
    let app = spawn_app().await;
    app.login_as("ada").await;

    app.execute_sql("DELETE FROM users").await;

    assert_eq!(app.events().await, [("account_created".to_owned(), None)]);
    assert_eq!(app.count("xwms_connections").await, 0);
    assert_eq!(
        app.get("/profile").await.status(),
        303,
        "the session ends with the user"
    );
}

#[actix_web::test]
async fn the_profile_shows_recent_activity() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    app.login_as("ada-new-email").await;

    let html = app.profile_html().await;

    assert!(html.contains("Recent security activity"));
    assert!(html.contains("data-kind=\"account_created\""));
    assert!(html.contains("data-kind=\"email_changed\""));
    assert!(html.contains("from ada@example.com to ada.lovelace@example.org"));
}

#[actix_web::test]
async fn deleting_a_user_clears_the_personal_data_of_their_events() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    app.login_as("ada-new-email").await; // "from ada@example.com to ada.lovelace@..."

    app.execute_sql("DELETE FROM users").await;

    assert_eq!(
        app.count("security_events WHERE detail::text LIKE '%@%' OR ip_hash IS NOT NULL OR user_agent IS NOT NULL")
            .await,
        0,
        "no email, IP hash or user agent outlives the user"
    );
    assert_eq!(
        app.count("security_events").await,
        2,
        "what happened, and when, stays"
    );
}

/// Backdates every event of `kind` by `days`. The append-only trigger refuses updates,
/// so it is switched off for this one fixture statement.
async fn backdate(app: &crate::helpers::TestApp, kind: &str, days: i64) {
    app.execute_sql("ALTER TABLE security_events DISABLE TRIGGER security_events_append_only")
        .await;
    app.execute_sql(&format!(
        "UPDATE security_events SET created_at = now() - interval '{days} days' WHERE kind = '{kind}'"
    ))
    .await;
    app.execute_sql("ALTER TABLE security_events ENABLE TRIGGER security_events_append_only")
        .await;
}

#[actix_web::test]
async fn the_retention_sweep_deletes_exactly_the_events_past_their_retention() {
    let app = spawn_app().await;
    app.login_as("ada").await; // account_created: a user's event
    app.login_as("ada").await; // login
    app.get("/xwms/validateToken?token=forged").await; // login_refused: nobody's
    backdate(&app, "account_created", 100).await; // past 90 days
    backdate(&app, "login", 80).await; // within 90 days
    backdate(&app, "login_refused", 20).await; // past 14 days for nobody's events
    let pool = app.pool();
    let day = std::time::Duration::from_secs(24 * 3600);

    let swept = xwms_starter::domain::activity::sweep_expired_events(&pool, 90 * day, 14 * day)
        .await
        .unwrap();

    assert_eq!(swept, 2);
    assert_eq!(app.event_kinds().await, ["login"]);
}

#[actix_web::test]
async fn the_trigger_refuses_a_sweep_that_would_delete_events_younger_than_a_day() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    let mut conn = app.db().await;
    use diesel_async::{AsyncConnection, RunQueryDsl};

    // A "retention" of zero days: everything up to now.
    let outcome = conn
        .transaction(async |conn| {
            diesel::sql_query(
                "SELECT set_config('xwms.retention_users_before', now()::text, true)",
            )
            .execute(conn)
            .await?;
            diesel::sql_query("DELETE FROM security_events")
                .execute(conn)
                .await
        })
        .await;

    assert!(outcome.unwrap_err().to_string().contains("append-only"));
    assert_eq!(app.count("security_events").await, 1);
}
