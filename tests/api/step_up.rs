//! Confirm it's you: deleting the account, downloading the data and logging out
//! everywhere need a login through XWMS of at most `STEP_UP_MAX_AGE_SECS` (300 s); an
//! older one is refused with a page whose "Confirm with XWMS" logs in again, as the same
//! person only, and comes back to the action.

use std::time::Duration;

use crate::helpers::{Provider, TestApp, spawn_app, spawn_app_with};

/// Past the default limit of 300 s, well within the idle limit (30 minutes).
const STALE: Duration = Duration::from_secs(301);

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// Posts a form of ours with the session's CSRF token (read from `page`).
async fn post_with_token(app: &TestApp, path: &str, page: &str) -> reqwest::Response {
    let token = TestApp::form_csrf_token(&app.get(page).await.text().await.unwrap());
    app.client
        .post(app.url(path))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap()
}

/// The refusal page's "Confirm with XWMS", then the sandbox's login as `persona`;
/// returns the app's answer to the callback.
async fn confirm_as(app: &TestApp, refusal_page: &str, persona: &str) -> reqwest::Response {
    let token = TestApp::form_csrf_token(refusal_page);
    let next = refusal_page
        .split(r#"name="next" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page of the action")
        .to_owned();
    let started = app
        .client
        .post(app.url("/xwms/confirm"))
        .form(&[("csrf_token", token.as_str()), ("next", next.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 303, "to XWMS (the sandbox)");
    let login_page = location(&started);
    assert!(login_page.contains("/sandbox/xwms/login/"), "{login_page}");
    let at_xwms = app
        .client
        .post(&login_page)
        .form(&[("persona", persona), ("outcome", "success")])
        .send()
        .await
        .unwrap();
    assert_eq!(at_xwms.status(), 303);
    app.client.get(location(&at_xwms)).send().await.unwrap()
}

async fn assert_confirm_page(response: reqwest::Response, action_page: &str) -> String {
    assert_eq!(response.status(), 403, "refused, nothing done");
    // The form's answer redirects to XWMS: a `form-action 'self'` would stop the browser.
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("form-action 'self' https:"), "{csp}");
    let page = response.text().await.unwrap();
    assert!(
        page.contains("Confirm it&#39;s you") || page.contains("Confirm it's you"),
        "{page}"
    );
    assert!(page.contains(r#"action="/xwms/confirm""#), "{page}");
    assert!(
        page.contains(&format!(r#"name="next" value="{action_page}""#)),
        "{page}"
    );
    page
}

#[actix_web::test]
async fn each_action_that_cannot_be_undone_is_refused_after_the_limit_and_nothing_happens() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    app.clock.advance(STALE);
    let events = app.count("security_events").await;

    let delete = post_with_token(&app, "/profile/delete", "/profile/delete").await;
    assert_confirm_page(delete, "/profile/delete").await;
    assert_eq!(app.count("users").await, 1, "not deleted");

    let download = app.get("/profile/data").await;
    assert_eq!(
        download.headers()["content-type"].to_str().unwrap(),
        "text/html; charset=utf-8",
        "no data file"
    );
    let page = assert_confirm_page(download, "/profile").await;
    assert!(!page.contains("\"identities\""), "no data leaves: {page}");

    let everywhere = post_with_token(&app, "/logout/everywhere", "/profile").await;
    assert_confirm_page(everywhere, "/profile").await;
    assert_eq!(app.count("user_sessions").await, 1, "no session ended");
    app.assert_signed_in(&app.client).await;

    assert_eq!(
        app.count("security_events").await,
        events,
        "nothing recorded as done"
    );
}

#[actix_web::test]
async fn within_the_limit_each_action_is_done_at_once() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    app.clock.advance(Duration::from_secs(290));

    assert_eq!(app.get("/profile/data").await.status(), 200);
    let delete = post_with_token(&app, "/profile/delete", "/profile/delete").await;
    assert_eq!(location(&delete), "/account-deleted");
    assert_eq!(app.count("users").await, 0);
}

#[actix_web::test]
async fn right_after_confirming_with_xwms_the_action_page_is_back_and_the_action_is_done() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    app.clock.advance(STALE);
    let refused = post_with_token(&app, "/profile/delete", "/profile/delete").await;
    let page = assert_confirm_page(refused, "/profile/delete").await;

    let back = confirm_as(&app, &page, "ada").await;

    assert_eq!(back.status(), 303);
    assert_eq!(
        location(&back),
        "/profile/delete",
        "the page of the action, not the profile"
    );
    let delete = post_with_token(&app, "/profile/delete", "/profile/delete").await;
    assert_eq!(location(&delete), "/account-deleted");
    assert_eq!(
        app.count("users").await,
        0,
        "deleted after the confirmation"
    );
}

#[actix_web::test]
async fn a_confirmation_as_another_person_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    app.clock.advance(STALE);
    let refused = post_with_token(&app, "/logout/everywhere", "/profile").await;
    let page = assert_confirm_page(refused, "/profile").await;

    let back = confirm_as(&app, &page, "grace").await;

    assert_eq!(back.status(), 400);
    let said = back.text().await.unwrap();
    assert!(said.contains("That was another XWMS account"), "{said}");
    assert_eq!(
        app.count("users").await,
        1,
        "no account for the other person"
    );
    let profile = app.profile_html().await;
    assert!(
        profile.contains("sandbox-ada"),
        "still signed in as before: {profile}"
    );
    let again = post_with_token(&app, "/logout/everywhere", "/profile").await;
    assert_eq!(again.status(), 403, "still not confirmed");
}

#[actix_web::test]
async fn confirming_is_only_for_our_own_form_and_a_signed_in_browser() {
    let app = spawn_app().await;
    let anonymous = app
        .client
        .post(app.url("/xwms/confirm"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
    assert_eq!(location(&anonymous), "/");

    app.login_as("ada").await;
    let token = TestApp::form_csrf_token(&app.profile_html().await);
    let cross_site = app
        .client
        .post(app.url("/xwms/confirm"))
        .header("Origin", "https://evil.example")
        .form(&[("csrf_token", token.as_str()), ("next", "/profile")])
        .send()
        .await
        .unwrap();
    let without_token = app
        .client
        .post(app.url("/xwms/confirm"))
        .form(&[("next", "/profile")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    assert_eq!(without_token.status(), 403);
}

#[actix_web::test]
async fn the_limit_is_step_up_max_age_secs_and_the_page_speaks_dutch() {
    let app = spawn_app_with(Provider::Sandbox, &[("STEP_UP_MAX_AGE_SECS", "600")]).await;
    app.login_as("ada").await;
    app.clock.advance(STALE);
    assert_eq!(
        app.get("/profile/data").await.status(),
        200,
        "within ten minutes"
    );

    app.clock.advance(Duration::from_secs(400));
    let dutch = app.get_in_dutch("/profile/data").await;
    assert_eq!(dutch.status(), 403);
    let page = dutch.text().await.unwrap();
    assert!(page.contains("Bevestigen met XWMS"), "{page}");
    assert!(page.contains("de laatste 10 minuten"), "{page}");
}
