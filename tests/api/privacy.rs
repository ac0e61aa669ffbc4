//! What a person may ask of their account: "Download my data" (`GET /profile/data`) and
//! "Delete my account" (`GET`/`POST /profile/delete`).

use serde_json::Value;

use crate::helpers::{
    TestApp, browser, location, profile_status_with_cookie, signed_in_cookie_of, spawn_app, testid,
};

/// The confirmation page's form token, from `browser`'s `GET /profile/delete`.
async fn delete_form_token(app: &TestApp, browser: &reqwest::Client) -> String {
    let page = app.get_with(browser, "/profile/delete").await;
    assert_eq!(
        page.status(),
        200,
        "signed in: the confirmation page is shown"
    );
    TestApp::form_csrf_token(&page.text().await.unwrap())
}

/// Confirms "Delete my account" in `browser`, as its button does.
async fn delete_account_with(app: &TestApp, browser: &reqwest::Client) -> reqwest::Response {
    let token = delete_form_token(app, browser).await;
    browser
        .post(app.url("/profile/delete"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap()
}

/// The `kind` of every event in a downloaded file, oldest first.
fn activity_kinds(data: &Value) -> Vec<&str> {
    data["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["kind"].as_str().unwrap())
        .collect()
}

async fn downloaded_data(app: &TestApp, browser: &reqwest::Client) -> Value {
    let response = app.get_with(browser, "/profile/data").await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `(kind, user_id is set, detail, ip_hash, user_agent)` of every event, oldest first.
async fn event_rows(
    app: &TestApp,
) -> Vec<(String, bool, Option<String>, Option<String>, Option<String>)> {
    use diesel::QueryableByName;
    use diesel::sql_types::{Bool, Nullable, Text};
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        kind: String,
        #[diesel(sql_type = Bool)]
        has_user: bool,
        #[diesel(sql_type = Nullable<Text>)]
        detail: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        ip_hash: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        user_agent: Option<String>,
    }
    let mut conn = app.db().await;
    diesel::sql_query(
        "SELECT kind::text AS kind, user_id IS NOT NULL AS has_user, detail::text AS detail, ip_hash, user_agent \
         FROM security_events ORDER BY id",
    )
    .load::<Row>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|row| {
        (
            row.kind,
            row.has_user,
            row.detail,
            row.ip_hash,
            row.user_agent,
        )
    })
    .collect()
}

#[actix_web::test]
async fn download_my_data_is_a_private_json_file_of_everything_stored_about_the_user() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    // A second login with a new email address: the log gets an email change.
    app.login_as("ada-new-email").await;

    let response = app.get("/profile/data").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"my-xwms-starter-data.json\""
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let data: Value = response.json().await.unwrap();
    assert_eq!(data["format"], "xwms-starter personal data, version 3");
    assert_eq!(data["account"]["name"], "Ada Lovelace");
    assert_eq!(data["account"]["email"], "ada.lovelace@example.org");
    assert_eq!(
        data["identities"],
        serde_json::json!([{
            "provider": "sandbox",
            "sub": "sandbox-ada",
            "first_seen": data["identities"][0]["first_seen"],
            "last_login": data["identities"][0]["last_login"],
        }])
    );
    let kinds = activity_kinds(&data);
    assert_eq!(
        kinds,
        ["account_created", "email_changed", "data_exported"],
        "the whole log, oldest first, this download included"
    );
    assert_eq!(
        data["activity"][1]["detail"],
        serde_json::json!({"email_change": {
            "from": "ada@example.com",
            "to": "ada.lovelace@example.org",
        }}),
        "the detail as stored: data, not a sentence"
    );
    assert_eq!(data["activity"][0]["user_agent"], "xwms-starter-tests");
    assert!(data["activity"][0]["ip_hash"].is_string());
    assert_eq!(
        data["notes"].as_array().unwrap().len(),
        1,
        "the welcome note"
    );
    assert_eq!(
        data["sessions"],
        serde_json::json!([{
            "started": data["sessions"][0]["started"],
            "last_used": data["sessions"][0]["last_used"],
            "user_agent": "xwms-starter-tests",
        }]),
        "this browser's one session (the second login kept it)"
    );
    let profile = app.profile_html().await;
    assert!(
        profile.contains("Downloaded my data"),
        "the profile lists the download"
    );
}

#[actix_web::test]
async fn download_my_data_is_only_ever_the_signed_in_users_own() {
    let app = spawn_app().await;
    let anonymous = app.get("/profile/data").await;
    assert_eq!(anonymous.status(), 303, "anonymous visitors are sent home");
    assert_eq!(location(anonymous.headers()), "/");

    let ada = browser();
    let grace = browser();
    app.login_as_with(&ada, "ada").await;
    app.login_as_with(&grace, "grace").await;

    let adas = downloaded_data(&app, &ada).await;
    let graces = downloaded_data(&app, &grace).await;

    assert_eq!(adas["identities"][0]["sub"], "sandbox-ada");
    assert_eq!(graces["identities"][0]["sub"], "190612091992");
    assert_ne!(adas["account"]["id"], graces["account"]["id"]);
    assert_eq!(
        graces["activity"].as_array().unwrap().len(),
        2,
        "Grace's own log only: her first login and this download"
    );
}

#[actix_web::test]
async fn the_delete_page_says_what_goes_and_what_stays_and_anonymous_visitors_are_sent_home() {
    let app = spawn_app().await;
    let anonymous = app.get("/profile/delete").await;
    assert_eq!(anonymous.status(), 303);
    assert_eq!(location(anonymous.headers()), "/");

    app.login_as("ada").await;
    let page = app.get("/profile/delete").await;

    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("ada@example.com"), "names the account");
    assert!(html.contains("sandbox-ada"), "names the identity link");
    assert!(
        html.contains("14 days"),
        "how long the anonymous record stays (the default)"
    );
    assert!(html.contains(r#"action="/profile/delete""#));
    assert_eq!(
        app.count("users").await,
        1,
        "showing the page deletes nothing"
    );
}

#[actix_web::test]
async fn deleting_the_account_removes_the_user_and_anonymises_the_activity_log() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    app.login_as("ada-new-email").await;

    let deleted = delete_account_with(&app, &app.client).await;

    assert_eq!(deleted.status(), 303);
    assert_eq!(location(deleted.headers()), "/account-deleted");
    let cookie = deleted.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("Max-Age=0"),
        "this browser's cookie is deleted: {cookie}"
    );
    let done = app.get("/account-deleted").await;
    assert_eq!(done.status(), 200);
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("Your account has been deleted")
    );

    assert_eq!(app.count("users").await, 0);
    assert_eq!(
        app.count("xwms_connections").await,
        0,
        "the sub is free again"
    );
    assert_eq!(app.count("notes").await, 0);
    let events = event_rows(&app).await;
    let kinds: Vec<&str> = events.iter().map(|event| event.0.as_str()).collect();
    assert_eq!(
        kinds,
        ["account_created", "email_changed", "account_deleted"],
        "what happened and when stays, ending with the deletion"
    );
    for (kind, has_user, detail, ip_hash, user_agent) in &events {
        assert!(!has_user, "{kind}: no user");
        assert_eq!(
            (detail, ip_hash, user_agent),
            (&None, &None, &None),
            "{kind}: no email addresses, IP hash or user agent"
        );
    }
    let mut conn = app.db().await;
    let dump: String = {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Dump {
            #[diesel(sql_type = diesel::sql_types::Text)]
            dump: String,
        }
        diesel::sql_query(
            "SELECT coalesce(string_agg(t::text, ' '), '') AS dump FROM security_events t",
        )
        .get_result::<Dump>(&mut conn)
        .await
        .unwrap()
        .dump
    };
    assert!(
        !dump.contains("example"),
        "no email address anywhere in the log: {dump}"
    );
}

#[actix_web::test]
async fn after_deleting_a_copied_cookie_and_every_other_device_are_signed_out() {
    let app = spawn_app().await;
    let laptop = browser();
    let phone = browser();
    let laptop_copy = signed_in_cookie_of(&app, &laptop).await;
    app.login_as_with(&phone, "ada").await;
    app.assert_signed_in(&phone).await;

    delete_account_with(&app, &laptop).await;

    assert_eq!(
        profile_status_with_cookie(&app, &laptop_copy).await,
        303,
        "a copy of the deleting browser's cookie is refused"
    );
    // The home page first: the profile ends a session whose user is gone by itself
    // (`account_of`), which would hide a session check that let this one through.
    let phone_home = app.get_with(&phone, "/").await.text().await.unwrap();
    assert!(
        !phone_home.contains("Signed in as"),
        "the other device's session ended: it shows as logged out"
    );
    let phone_profile = app.get_with(&phone, "/profile").await;
    assert_eq!(phone_profile.status(), 303, "and the profile sends it home");
}

#[actix_web::test]
async fn logging_in_again_after_deleting_makes_a_new_empty_account() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    let old_id = testid(&app.profile_html().await, "user-id");
    delete_account_with(&app, &app.client).await;

    let again = app.login_as("ada").await;

    assert_eq!(again.status(), 303);
    assert_eq!(location(again.headers()), "/profile");
    let html = app.profile_html().await;
    assert_ne!(testid(&html, "user-id"), old_id, "a new account");
    assert!(
        html.contains("a new local account was created for you"),
        "the profile says it is new"
    );
    assert_eq!(app.count("notes").await, 1, "only the new welcome note");
    let data = downloaded_data(&app, &app.client).await;
    let kinds = activity_kinds(&data);
    assert_eq!(
        kinds,
        ["account_created", "data_exported"],
        "none of the old account's history"
    );
}

#[actix_web::test]
async fn a_cross_site_or_tokenless_delete_is_refused_with_403_and_deletes_nothing() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    let token = delete_form_token(&app, &app.client).await;

    let post = async |header: Option<(&str, &str)>, token: &str| {
        let mut request = app.client.post(app.url("/profile/delete"));
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        request.form(&[("csrf_token", token)]).send().await.unwrap()
    };

    let cross_site = post(Some(("Origin", "https://evil.example")), &token).await;
    let cross_site_fetch = post(Some(("Sec-Fetch-Site", "cross-site")), &token).await;
    let without_token = post(None, "").await;
    let wrong_token = post(None, &"0".repeat(64)).await;
    let via_get = app.get("/profile/delete?csrf_token=x").await;

    assert_eq!(cross_site.status(), 403);
    assert_eq!(cross_site_fetch.status(), 403);
    assert_eq!(without_token.status(), 403);
    assert_eq!(wrong_token.status(), 403);
    assert_eq!(
        via_get.status(),
        200,
        "GET only shows the confirmation page"
    );
    assert_eq!(app.count("users").await, 1, "nothing was deleted");
    assert_eq!(app.count("xwms_connections").await, 1);
    app.assert_signed_in(&app.client).await;
}

#[actix_web::test]
async fn a_database_failure_in_the_middle_of_deleting_deletes_nothing() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    let before = event_rows(&app).await;
    // The account_deleted event is written, then deleting the user fails.
    app.execute_sql(
        "CREATE FUNCTION refuse_delete() RETURNS trigger AS $$ BEGIN \
         RAISE EXCEPTION 'disk on fire (test)'; END; $$ LANGUAGE plpgsql",
    )
    .await;
    app.execute_sql(
        "CREATE TRIGGER refuse_delete BEFORE DELETE ON users \
         FOR EACH ROW EXECUTE FUNCTION refuse_delete()",
    )
    .await;

    let failed = delete_account_with(&app, &app.client).await;

    assert_eq!(failed.status(), 500);
    let page = failed.text().await.unwrap();
    assert!(page.contains("Something went wrong"), "the error page");
    assert!(!page.contains("disk on fire"), "no internals on the page");
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("xwms_connections").await, 1);
    assert_eq!(app.count("notes").await, 1);
    assert_eq!(
        event_rows(&app).await,
        before,
        "no account_deleted event, nothing anonymised"
    );
    app.assert_signed_in(&app.client).await;

    app.execute_sql("DROP TRIGGER refuse_delete ON users").await;
    let retried = delete_account_with(&app, &app.client).await;
    assert_eq!(
        retried.status(),
        303,
        "once the fault is gone, a retry deletes"
    );
    assert_eq!(app.count("users").await, 0);
}
