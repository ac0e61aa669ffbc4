//! "Refresh from XWMS" (`POST /profile/refresh`): the profile as XWMS has it now, asked
//! with `get/user/info`, against the sandbox and a stand-in XWMS over HTTP.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_DOMAIN, Provider, TestApp, browser, fake_sign_token,
    fake_verify, spawn_app, spawn_app_with, verified_user,
};

/// Posts the profile's refresh form of the signed-in browser.
async fn refresh(app: &TestApp) -> reqwest::Response {
    let token = TestApp::form_csrf_token(&app.profile_html().await);
    app.client
        .post(app.url("/profile/refresh"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// `(name, email)` of the one user.
async fn stored_profile(app: &TestApp) -> (Option<String>, Option<String>) {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        name: Option<String>,
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        email: Option<String>,
    }
    let mut conn = app.db().await;
    let row: Row = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query("SELECT name, email FROM users"),
        &mut conn,
    )
    .await
    .unwrap();
    (row.name, row.email)
}

/// A stand-in XWMS where `sub` logs in once, with `get/user/info` answering `info`.
async fn signed_in_at_fake_xwms(sub: &str, info: ResponseTemplate) -> (TestApp, MockServer) {
    let xwms = MockServer::start().await;
    fake_sign_token(&xwms, "tok").await;
    fake_verify(&xwms, verified_user(sub, "old@example.com"), 1).await;
    Mock::given(method("POST"))
        .and(path("/api/get/user/info"))
        .and(header("X-Client-Id", FAKE_CLIENT_ID))
        .and(header("X-Client-Secret", FAKE_CLIENT_SECRET))
        .and(header("X-Client-Domain", FAKE_DOMAIN))
        .respond_with(info)
        .mount(&xwms)
        .await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[("XWMS_TIMEOUT_MS", "1000")]).await;
    app.start_login_with(&app.client).await;
    assert_eq!(app.get("/xwms/validateToken?token=tok").await.status(), 303);
    (app, xwms)
}

fn user_info(user: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "status": "success", "message": "User info", "data": { "user": user }
    }))
}

/// The calls the stand-in XWMS got for `get/user/info`, as JSON bodies.
async fn user_info_calls(xwms: &MockServer) -> Vec<Value> {
    xwms.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|request| request.url.path() == "/api/get/user/info")
        .map(|request| serde_json::from_slice(&request.body).unwrap())
        .collect()
}

#[actix_web::test]
async fn a_refresh_takes_the_name_and_email_changed_at_the_sandbox_xwms() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    let people = app.get("/sandbox/xwms/people").await.text().await.unwrap();
    assert!(people.contains("sandbox-ada"), "{people}");

    let changed = app
        .client
        .post(app.url("/sandbox/xwms/people"))
        .form(&[
            ("sub", "sandbox-ada"),
            ("name", "Ada King"),
            ("email", "ada.king@example.org"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 303);
    assert_eq!(
        stored_profile(&app).await.0.as_deref(),
        Some("Ada Lovelace"),
        "changed at XWMS only, until the refresh"
    );

    let response = refresh(&app).await;

    assert_eq!(response.status(), 303);
    // The sandbox sends no picture: the stored one (none) is kept, and the page says so.
    assert_eq!(location(&response), "/profile?refreshed=picture");
    assert_eq!(
        stored_profile(&app).await,
        (
            Some("Ada King".to_owned()),
            Some("ada.king@example.org".to_owned())
        )
    );
    let profile = app
        .get("/profile?refreshed=picture")
        .await
        .text()
        .await
        .unwrap();
    assert!(profile.contains("Refreshed from XWMS."), "{profile}");
    // The notice names the fields the query names, and only those.
    let notice = profile
        .split(r#"data-testid="refreshed""#)
        .nth(1)
        .and_then(|rest| rest.split("</div>").next())
        .unwrap_or_default();
    assert!(notice.contains("Picture"), "{notice}");
    assert!(
        !notice.contains("Name") && !notice.contains("Email"),
        "{notice}"
    );
    assert!(profile.contains("Signed in as"), "{profile}");
    assert!(
        profile.contains("<strong>Ada King</strong>"),
        "the pages greet the new name: {profile}"
    );
    assert!(
        profile.contains("Your email changed from ada@example.com to ada.king@example.org."),
        "{profile}"
    );
    assert!(
        profile.contains("Email changed at XWMS: from ada@example.com to ada.king@example.org"),
        "{profile}"
    );
    assert_eq!(app.count("users").await, 1, "the same account");
}

#[actix_web::test]
async fn xwms_is_asked_for_the_sub_as_a_number_and_null_fields_keep_the_stored_values() {
    let (app, xwms) = signed_in_at_fake_xwms(
        "12345",
        user_info(json!({"sub": 12345, "name": null, "email": null, "picture": null})),
    )
    .await;
    let before = stored_profile(&app).await;
    let events_before = app.count("security_events").await;

    let response = refresh(&app).await;

    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/profile?refreshed=name,email,picture");
    assert_eq!(
        stored_profile(&app).await,
        before,
        "nothing XWMS left out is lost"
    );
    assert_eq!(
        app.count("security_events").await,
        events_before,
        "no email change"
    );
    assert_eq!(
        user_info_calls(&xwms).await,
        [json!({"sub": 12345, "socials": false})],
        "a numeric sub goes as a number, as XWMS's own helpers send it"
    );
    let profile = app.get(&location(&response)).await.text().await.unwrap();
    assert!(
        profile.contains(
            "XWMS sent no value for these, so the ones stored here are kept: Name, Email, Picture."
        ),
        "{profile}"
    );
    let dutch = app
        .get_in_dutch(&location(&response))
        .await
        .text()
        .await
        .unwrap();
    assert!(dutch.contains("Vernieuwd vanuit XWMS."), "{dutch}");
}

#[actix_web::test]
async fn a_text_sub_is_sent_as_text_and_a_new_email_is_recorded() {
    let (app, xwms) = signed_in_at_fake_xwms(
        "sub-7",
        user_info(json!({"name": "New Name", "email": "new@example.com", "email_verified": true})),
    )
    .await;

    let response = refresh(&app).await;

    assert_eq!(location(&response), "/profile?refreshed=picture");
    assert_eq!(
        stored_profile(&app).await,
        (
            Some("New Name".to_owned()),
            Some("new@example.com".to_owned())
        )
    );
    assert_eq!(
        user_info_calls(&xwms).await,
        [json!({"sub": "sub-7", "socials": false})]
    );
    assert_eq!(
        app.count("security_events WHERE kind = 'email_changed'")
            .await,
        1,
        "the email change is in the activity log"
    );
}

/// XWMS no longer knowing the person, answering about another sub, or not answering in
/// time: a page that says so, and nothing changed.
#[actix_web::test]
async fn a_refresh_xwms_cannot_answer_changes_nothing_and_says_why() {
    let not_found = ResponseTemplate::new(404).set_body_json(json!({
        "status": "error", "message": "User not found", "data": {}
    }));
    let another =
        user_info(json!({"sub": "someone-else", "name": "Mallory", "email": "m@example.com"}));
    let slow = user_info(json!({"name": "Late"})).set_delay(Duration::from_secs(3));
    for (answer, status, says) in [
        (not_found, 502, "(User not found). Nothing was changed."),
        (another, 502, "XWMS did not give this account"),
        (slow, 504, "XWMS did not answer in time"),
    ] {
        let (app, _xwms) = signed_in_at_fake_xwms("sub-1", answer).await;
        let before = stored_profile(&app).await;
        let events_before = app.count("security_events").await;

        let response = refresh(&app).await;

        assert_eq!(response.status(), status, "{says}");
        let page = response.text().await.unwrap();
        assert!(page.contains("Could not refresh from XWMS"), "{page}");
        assert!(page.contains(says), "{says}: {page}");
        assert_eq!(
            stored_profile(&app).await,
            before,
            "{says}: nothing changed"
        );
        assert_eq!(app.count("security_events").await, events_before, "{says}");
        app.assert_signed_in(&app.client).await;
    }
}

#[actix_web::test]
async fn a_cross_site_or_tokenless_refresh_is_refused_and_asks_xwms_nothing() {
    let (app, xwms) = signed_in_at_fake_xwms("sub-1", user_info(json!({"name": "Changed"}))).await;
    let token = TestApp::form_csrf_token(&app.profile_html().await);

    let cross_site = app
        .client
        .post(app.url("/profile/refresh"))
        .header("Origin", "https://evil.example")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    let without_token = app
        .client
        .post(app.url("/profile/refresh"))
        .send()
        .await
        .unwrap();

    assert_eq!(cross_site.status(), 403);
    assert_eq!(without_token.status(), 403);
    assert!(
        user_info_calls(&xwms).await.is_empty(),
        "XWMS was asked nothing"
    );
    assert_eq!(stored_profile(&app).await.0.as_deref(), Some("Fake Person"));
}

#[actix_web::test]
async fn an_anonymous_refresh_goes_home_and_the_sandbox_answers_only_with_its_secret() {
    let app = spawn_app().await;
    let anonymous = app
        .client
        .post(app.url("/profile/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
    assert_eq!(location(&anonymous), "/");

    let without_secret = app
        .client
        .post(app.url("/sandbox/xwms/api/get/user/info"))
        .json(&json!({"sub": "sandbox-ada", "socials": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(without_secret.status(), 401);
}

#[actix_web::test]
async fn the_sandbox_shows_and_changes_only_this_browsers_people_and_nothing_from_another_site() {
    let app = spawn_app().await;
    app.login_as("ada").await;

    let cross_site = app
        .client
        .post(app.url("/sandbox/xwms/people"))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[
            ("sub", "sandbox-ada"),
            ("name", "Mallory"),
            ("email", "m@example.com"),
        ])
        .send()
        .await
        .unwrap();
    let unknown = app
        .client
        .post(app.url("/sandbox/xwms/people"))
        .form(&[("sub", "sandbox-nobody"), ("name", "X"), ("email", "")])
        .send()
        .await
        .unwrap();

    // Another browser (another visitor of a public demo) sees nobody and changes nothing.
    let stranger = browser();
    let their_page = stranger
        .get(app.url("/sandbox/xwms/people"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let their_change = stranger
        .post(app.url("/sandbox/xwms/people"))
        .form(&[
            ("sub", "sandbox-ada"),
            ("name", "Mallory"),
            ("email", "m@example.com"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(cross_site.status(), 403);
    assert_eq!(unknown.status(), 404);
    assert_eq!(their_change.status(), 404, "not one of their people");
    assert!(!their_page.contains("sandbox-ada"), "{their_page}");
    assert!(!their_page.contains("ada@example.com"), "{their_page}");
    let people = app.get("/sandbox/xwms/people").await.text().await.unwrap();
    assert!(people.contains("ada@example.com"), "unchanged: {people}");
    assert!(!people.contains("Mallory"), "{people}");
}

#[actix_web::test]
async fn an_account_linked_through_another_provider_is_not_refreshed_by_this_one() {
    let (app, xwms) = signed_in_at_fake_xwms("sub-1", user_info(json!({"name": "Changed"}))).await;
    // As if the account had been made in the sandbox, before real XWMS was configured.
    app.execute_sql("UPDATE xwms_connections SET provider = 'sandbox'")
        .await;

    let response = refresh(&app).await;

    assert_eq!(response.status(), 409);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("This account is linked through sandbox"),
        "{page}"
    );
    assert!(
        user_info_calls(&xwms).await.is_empty(),
        "XWMS was asked nothing"
    );
    assert_eq!(stored_profile(&app).await.0.as_deref(), Some("Fake Person"));
}
