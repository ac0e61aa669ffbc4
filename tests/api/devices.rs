//! "Your devices" (`/profile/sessions`): every signed-in session of the account is a record
//! on the server, listed with its browser and system, and any other one can be ended; the
//! session check, logging out, logging out everywhere and deleting the account all go
//! through those records.

use std::time::Duration;

use crate::helpers::{
    TestApp, browser, browser_as, location, profile_status_with_cookie, signed_in_cookie_of,
    spawn_app,
};

const FIREFOX_ON_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const CHROME_ON_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";

/// The page at `path` as `browser` gets it.
async fn html_of(app: &TestApp, browser: &reqwest::Client, path: &str) -> String {
    app.get_with(browser, path).await.text().await.unwrap()
}

/// `browser`'s "your devices" page, which must be shown.
async fn devices_page(app: &TestApp, browser: &reqwest::Client) -> String {
    let page = app.get_with(browser, "/profile/sessions").await;
    assert_eq!(
        page.status(),
        200,
        "the page is shown to a signed-in person"
    );
    page.text().await.unwrap()
}

/// The record ids of the page's "End this session" buttons.
fn end_buttons(page: &str) -> Vec<i64> {
    page.split(r#"name="session" value=""#)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

/// Posts "End this session" for record `id` from `browser`, with the CSRF token of its
/// devices page.
async fn end_session(app: &TestApp, browser: &reqwest::Client, id: i64) -> reqwest::Response {
    let token = TestApp::form_csrf_token(&devices_page(app, browser).await);
    browser
        .post(app.url("/profile/sessions/end"))
        .form(&[("csrf_token", token), ("session", id.to_string())])
        .send()
        .await
        .unwrap()
}

/// Ada signed in on a laptop (Firefox on Linux) and a phone (Chrome on Android).
async fn ada_on_two_devices(app: &TestApp) -> (reqwest::Client, reqwest::Client) {
    let laptop = browser_as(FIREFOX_ON_LINUX);
    let phone = browser_as(CHROME_ON_ANDROID);
    app.log_in_ending_on_the_profile(&laptop).await;
    app.log_in_ending_on_the_profile(&phone).await;
    (laptop, phone)
}

#[actix_web::test]
async fn your_devices_lists_every_session_with_its_browser_and_marks_this_one() {
    let app = spawn_app().await;
    let (laptop, _phone) = ada_on_two_devices(&app).await;
    let grace = browser();
    app.login_as_with(&grace, "grace").await;

    let page = devices_page(&app, &laptop).await;

    assert!(page.contains("Firefox on Linux"), "{page}");
    assert!(page.contains("Android"), "{page}");
    assert_eq!(page.matches("data-this-device").count(), 1, "{page}");
    let this_device = page.split("data-this-device").nth(1).unwrap();
    let this_device = this_device.split("</li>").next().unwrap();
    assert!(this_device.contains("Firefox on Linux"), "{this_device}");
    assert!(
        !this_device.contains("<form"),
        "no end button for this device"
    );
    assert_eq!(end_buttons(&page).len(), 1, "the phone's only: not Grace's");
    let profile = html_of(&app, &laptop, "/profile").await;
    assert!(
        profile.contains(r#"href="/profile/sessions""#),
        "linked from the profile"
    );
}

#[actix_web::test]
async fn ending_another_session_signs_it_out_at_its_next_request_and_is_recorded() {
    let app = spawn_app().await;
    let (laptop, phone) = ada_on_two_devices(&app).await;
    let phone_session = end_buttons(&devices_page(&app, &laptop).await)[0];

    let ended = end_session(&app, &laptop, phone_session).await;

    assert_eq!(ended.status(), 303);
    assert_eq!(location(ended.headers()), "/profile/sessions?ended=1");
    let page = html_of(&app, &laptop, "/profile/sessions?ended=1").await;
    assert!(page.contains("That session has ended"), "{page}");
    assert!(
        end_buttons(&page).is_empty(),
        "the phone is no longer listed"
    );
    let phone_profile = app.get_with(&phone, "/profile").await;
    assert_eq!(phone_profile.status(), 303, "the phone is signed out");
    app.assert_signed_in(&laptop).await;
    assert_eq!(
        app.count(
            "security_events WHERE kind = 'session_ended_elsewhere' \
             AND detail #>> '{ended_session,user_agent}' LIKE '%Android%'"
        )
        .await,
        1
    );
    let profile = html_of(&app, &laptop, "/profile").await;
    assert!(
        profile.contains("Session ended from another device: Chrome on Android"),
        "{profile}"
    );
}

#[actix_web::test]
async fn a_session_ends_no_session_of_another_account_nor_itself() {
    let app = spawn_app().await;
    let ada = browser();
    app.log_in_ending_on_the_profile(&ada).await;
    let grace = browser();
    app.login_as_with(&grace, "grace").await;
    let graces_session = end_buttons(&devices_page(&app, &grace).await);
    assert!(graces_session.is_empty(), "Grace has one session: her own");
    let ids: Vec<i64> = {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        diesel::sql_query("SELECT id FROM user_sessions ORDER BY id")
            .load::<Id>(&mut app.db().await)
            .await
            .unwrap()
            .into_iter()
            .map(|row| row.id)
            .collect()
    };
    let (adas, graces) = (ids[0], ids[1]);

    let someone_elses = end_session(&app, &ada, graces).await;
    let own = end_session(&app, &ada, adas).await;

    for answer in [someone_elses, own] {
        assert_eq!(location(answer.headers()), "/profile/sessions?ended=0");
    }
    app.assert_signed_in(&grace).await;
    app.assert_signed_in(&ada).await;
    assert_eq!(app.count("user_sessions").await, 2);
    assert_eq!(
        app.count("security_events WHERE kind = 'session_ended_elsewhere'")
            .await,
        0
    );
}

#[actix_web::test]
async fn ending_a_session_needs_the_forms_token_and_a_recent_login() {
    let app = spawn_app().await;
    let (laptop, phone) = ada_on_two_devices(&app).await;
    let phone_session = end_buttons(&devices_page(&app, &laptop).await)[0];

    let forged = laptop
        .post(app.url("/profile/sessions/end"))
        .form(&[
            ("csrf_token", "forged"),
            ("session", &phone_session.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let bad_id = laptop
        .post(app.url("/profile/sessions/end"))
        .form(&[
            (
                "csrf_token",
                TestApp::form_csrf_token(&devices_page(&app, &laptop).await),
            ),
            ("session", "not-a-number".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad_id.status(),
        403,
        "a form that is not ours is refused as a whole"
    );
    // Past the step-up limit (5 minutes) but within the session's.
    app.clock.advance(Duration::from_secs(301));
    let stale = end_session(&app, &laptop, phone_session).await;
    assert_eq!(stale.status(), 403);
    let page = stale.text().await.unwrap();
    assert!(
        page.contains(r#"name="next" value="/profile/sessions""#),
        "{page}"
    );

    app.assert_signed_in(&phone).await;
    assert_eq!(app.count("user_sessions").await, 2, "nothing ended");
}

#[actix_web::test]
async fn logging_out_everywhere_and_deleting_the_account_remove_every_record() {
    let app = spawn_app().await;
    let (laptop, phone) = ada_on_two_devices(&app).await;
    let grace = browser();
    app.login_as_with(&grace, "grace").await;
    assert_eq!(app.count("user_sessions").await, 3);

    app.log_out_with(&laptop, "/logout/everywhere").await;

    assert_eq!(app.count("user_sessions").await, 1, "only Grace's is left");
    assert_eq!(app.get_with(&phone, "/profile").await.status(), 303);
    let (laptop, phone) = ada_on_two_devices(&app).await;
    let token = TestApp::form_csrf_token(&html_of(&app, &laptop, "/profile/delete").await);
    let deleted = laptop
        .post(app.url("/profile/delete"))
        .form(&[("csrf_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(location(deleted.headers()), "/account-deleted");
    assert_eq!(app.count("user_sessions").await, 1, "only Grace's is left");
    assert_eq!(app.get_with(&phone, "/profile").await.status(), 303);
    app.assert_signed_in(&grace).await;
}

#[actix_web::test]
async fn a_login_as_someone_else_ends_the_session_it_replaces_and_a_second_tab_adds_none() {
    let app = spawn_app().await;
    let shared = browser();
    app.log_in_ending_on_the_profile(&shared).await;
    let adas_cookie = signed_in_cookie_of(&app, &shared).await;

    app.log_in_ending_on_the_profile(&shared).await;
    assert_eq!(
        app.count("user_sessions").await,
        1,
        "the same person: the same session"
    );
    app.login_as_with(&shared, "grace").await;

    assert_eq!(
        app.count("user_sessions").await,
        1,
        "Ada's record went, Grace's came"
    );
    assert_eq!(
        profile_status_with_cookie(&app, &adas_cookie).await,
        303,
        "a copy of Ada's cookie is refused"
    );
    let profile = html_of(&app, &shared, "/profile").await;
    assert!(profile.contains("Grace"), "{profile}");
}

#[actix_web::test]
async fn last_used_is_written_once_per_refresh_interval_not_per_request() {
    let app = spawn_app().await;
    app.log_in_ending_on_the_profile(&app.client).await;
    // The idle limit is 30 minutes: "last used" is written once a minute at most.
    app.execute_sql("UPDATE user_sessions SET last_seen_at = now() - interval '50 seconds'")
        .await;
    let recent = "user_sessions WHERE last_seen_at > now() - interval '10 seconds'";

    app.assert_signed_in(&app.client).await;
    assert_eq!(app.count(recent).await, 0, "not again within the minute");

    app.execute_sql("UPDATE user_sessions SET last_seen_at = now() - interval '61 seconds'")
        .await;
    app.assert_signed_in(&app.client).await;
    assert_eq!(
        app.count(recent).await,
        1,
        "recorded once the minute has passed"
    );
}

#[actix_web::test]
async fn your_devices_speaks_dutch() {
    let app = spawn_app().await;
    let laptop = browser_as(FIREFOX_ON_LINUX);
    app.log_in_ending_on_the_profile(&laptop).await;
    let page = app
        .get_in_dutch_with(&laptop, "/profile/sessions")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Je apparaten"), "{page}");
    assert!(page.contains("Firefox op Linux"), "{page}");
    assert!(page.contains("Dit apparaat"), "{page}");
}

#[actix_web::test]
async fn your_devices_sends_anyone_not_signed_in_home() {
    let app = spawn_app().await;
    let page = app.get("/profile/sessions").await;
    assert_eq!(page.status(), 303);
    assert_eq!(location(page.headers()), "/");
    let end = app
        .client
        .post(app.url("/profile/sessions/end"))
        .form(&[("csrf_token", "x"), ("session", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        end.status(),
        403,
        "a form that is not ours: no session's token"
    );
}
