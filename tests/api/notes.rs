//! Notes, the worked example of docs/extending.md: a page behind the login, a form that
//! posts, a table of its own, a setting, and first-login work.

use wiremock::MockServer;
use xwms_starter::domain::notes::WELCOME_NOTE;
use xwms_starter::support::i18n::Lang;

use crate::helpers::{
    Provider, TestApp, browser, fake_sign_token, fake_verify, location, spawn_app, spawn_app_with,
    verified_user,
};

/// Posts `body` from `browser`'s notes page, with the CSRF token that page renders.
async fn add_note_with(app: &TestApp, browser: &reqwest::Client, body: &str) -> reqwest::Response {
    let page = app.get_with(browser, "/notes").await.text().await.unwrap();
    let token = TestApp::form_csrf_token(&page);
    browser
        .post(app.url("/notes"))
        .form(&[("csrf_token", token.as_str()), ("body", body)])
        .send()
        .await
        .unwrap()
}

async fn notes_html_with(app: &TestApp, browser: &reqwest::Client) -> String {
    let response = app.get_with(browser, "/notes").await;
    assert_eq!(response.status(), 200, "signed in: the notes page is shown");
    response.text().await.unwrap()
}

#[actix_web::test]
async fn anonymous_visitors_are_sent_home_and_cannot_post_a_note() {
    let app = spawn_app().await;

    let page = app.get("/notes").await;
    let post = app
        .client
        .post(app.url("/notes"))
        .form(&[("csrf_token", "x".repeat(64).as_str()), ("body", "hello")])
        .send()
        .await
        .unwrap();

    assert_eq!(page.status(), 303);
    assert_eq!(location(page.headers()), "/");
    assert_eq!(post.status(), 303);
    assert_eq!(location(post.headers()), "/");
    assert_eq!(app.count("notes").await, 0);
}

#[actix_web::test]
async fn a_signed_in_user_adds_a_note_and_sees_it_first_escaped() {
    let app = spawn_app().await;
    app.login_as("ada").await;

    let added = add_note_with(&app, &app.client, "Buy <b>milk</b> & eggs").await;

    assert_eq!(added.status(), 303, "Post/Redirect/Get");
    assert_eq!(location(added.headers()), "/notes");
    let page = app.get("/notes").await;
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    let note = html
        .find("Buy &#60;b&#62;milk&#60;/b&#62; &#38; eggs")
        .expect("the note, escaped");
    let welcome = html.find("Welcome!").expect("the welcome note");
    assert!(note < welcome, "newest first");
    assert!(!html.contains("<b>milk</b>"));
}

#[actix_web::test]
async fn a_note_posted_from_another_site_or_without_the_token_is_refused_with_403() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    let page = app.get("/notes").await.text().await.unwrap();
    let token = TestApp::form_csrf_token(&page);

    let cross_site = app
        .client
        .post(app.url("/notes"))
        .header("Origin", "https://evil.example")
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("csrf_token", token.as_str()), ("body", "forged")])
        .send()
        .await
        .unwrap();
    let without_token = app
        .client
        .post(app.url("/notes"))
        .form(&[("body", "forged")])
        .send()
        .await
        .unwrap();
    let wrong_token = app
        .client
        .post(app.url("/notes"))
        .form(&[("csrf_token", "0".repeat(64).as_str()), ("body", "forged")])
        .send()
        .await
        .unwrap();

    assert_eq!(cross_site.status(), 403);
    assert_eq!(without_token.status(), 403);
    assert_eq!(wrong_token.status(), 403);
    assert_eq!(app.count("notes WHERE body = 'forged'").await, 0);
}

#[actix_web::test]
async fn one_user_never_sees_another_users_notes() {
    let app = spawn_app().await;
    let ada = browser();
    let grace = browser();
    app.login_as_with(&ada, "ada").await;
    app.login_as_with(&grace, "grace").await;

    add_note_with(&app, &ada, "secret of Ada").await;
    add_note_with(&app, &grace, "secret of Grace").await;

    let ada_sees = notes_html_with(&app, &ada).await;
    let grace_sees = notes_html_with(&app, &grace).await;
    assert!(ada_sees.contains("secret of Ada"), "{ada_sees}");
    assert!(!ada_sees.contains("secret of Grace"));
    assert!(grace_sees.contains("secret of Grace"));
    assert!(!grace_sees.contains("secret of Ada"));
    assert_eq!(
        app.count("notes").await,
        4,
        "two welcome notes, two of their own"
    );
}

#[actix_web::test]
async fn an_over_long_or_empty_note_gets_a_clear_400_and_the_text_back() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    let too_long = "n".repeat(1001);

    let long = add_note_with(&app, &app.client, &too_long).await;
    assert_eq!(long.status(), 400);
    let html = long.text().await.unwrap();
    assert!(
        html.contains("A note can be at most 1000 characters long; this one has 1001."),
        "{html}"
    );
    assert!(html.contains(&format!(">{too_long}</textarea>")), "kept");
    assert!(
        html.contains("Your notes"),
        "the notes page, not an error page"
    );

    let empty = add_note_with(&app, &app.client, " \r\n ").await;
    assert_eq!(empty.status(), 400);
    assert!(
        empty
            .text()
            .await
            .unwrap()
            .contains("A note needs some text.")
    );

    let control = add_note_with(&app, &app.client, "a\u{0}b").await;
    assert_eq!(control.status(), 400, "NUL never reaches PostgreSQL");
    assert_eq!(app.count("notes").await, 1, "only the welcome note");
}

#[actix_web::test]
async fn notes_per_page_limits_the_list_to_the_newest_notes() {
    let app = spawn_app_with(Provider::Sandbox, &[("NOTES_PER_PAGE", "2")]).await;
    app.login_as("ada").await;

    for body in ["note one", "note two", "note three"] {
        add_note_with(&app, &app.client, body).await;
    }

    let html = app.get("/notes").await.text().await.unwrap();
    assert!(
        html.contains("note three") && html.contains("note two"),
        "{html}"
    );
    assert!(
        !html.contains("note one") && !html.contains("Welcome!"),
        "{html}"
    );
}

#[actix_web::test]
async fn a_first_login_through_xwms_starts_the_account_with_the_welcome_note() {
    let xwms = MockServer::start().await;
    fake_sign_token(&xwms, "tok").await;
    fake_verify(&xwms, verified_user("sub-1", "a@example.com"), 1).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    app.start_login_with(&app.client).await;

    let callback = app.get("/xwms/validateToken?token=tok").await;

    assert_eq!(callback.status(), 303);
    assert!(
        notes_html_with(&app, &app.client)
            .await
            .contains(&Lang::default().text(WELCOME_NOTE))
    );
    assert_eq!(app.count("notes").await, 1);
}

#[actix_web::test]
async fn a_returning_login_writes_no_second_welcome_note() {
    let app = spawn_app().await;
    app.login_as("ada").await;

    app.login_as_with(&browser(), "ada").await;

    assert_eq!(app.count("notes").await, 1);
}

#[actix_web::test]
async fn when_the_welcome_note_cannot_be_written_the_first_login_leaves_no_account() {
    let app = spawn_app().await;
    // Fault injection in the first-login work: the welcome note's insert fails.
    app.execute_sql(
        "CREATE FUNCTION fail_notes() RETURNS trigger AS $$
         BEGIN RAISE EXCEPTION 'injected note failure'; END; $$ LANGUAGE plpgsql",
    )
    .await;
    app.execute_sql(
        "CREATE TRIGGER fail_notes BEFORE INSERT ON notes
         FOR EACH ROW EXECUTE FUNCTION fail_notes()",
    )
    .await;

    let first = app.login_as("ada").await;

    assert_eq!(first.status(), 500);
    assert_eq!(app.count("users").await, 0, "rolled back with the note");
    assert_eq!(app.count("xwms_connections").await, 0);
    assert_eq!(
        app.count("security_events WHERE kind = 'account_created'")
            .await,
        0
    );
}
