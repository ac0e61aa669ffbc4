//! The login flow through the sandbox, and the account-linking rule: by `sub`, never by email.

use crate::helpers::{browser, spawn_app, testid};

#[actix_web::test]
async fn a_new_user_logs_in_through_the_sandbox_and_sees_their_linked_identity() {
    let app = spawn_app().await;

    let callback = app.login_as("ada").await;

    assert_eq!(callback.status(), 303);
    assert_eq!(callback.headers()["location"], "/profile");
    let html = app.profile_html().await;
    assert_eq!(testid(&html, "sub"), "sandbox-ada");
    assert_eq!(testid(&html, "email"), "ada@example.com");
    assert!(html.contains("Ada Lovelace"));
    assert!(
        html.contains("library card"),
        "the page explains the sub rule"
    );
    assert!(html.contains("a new local account was created"));
    assert_eq!(app.count("users").await, 1);
    assert_eq!(app.count("xwms_connections").await, 1);
}

#[actix_web::test]
async fn a_returning_user_gets_the_same_account() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    let first_id = testid(&app.profile_html().await, "user-id");

    let other_browser = browser();
    app.login_as_with(&other_browser, "ada").await;
    let html = app
        .get_with(&other_browser, "/profile")
        .await
        .text()
        .await
        .unwrap();

    assert_eq!(testid(&html, "user-id"), first_id);
    assert!(!html.contains("a new local account was created"));
    assert_eq!(app.count("users").await, 1);
}

#[actix_web::test]
async fn a_returning_user_with_a_new_email_keeps_the_same_account_and_sees_a_notice() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    let first_id = testid(&app.profile_html().await, "user-id");

    app.login_as("ada-new-email").await;
    let html = app.profile_html().await;

    assert_eq!(testid(&html, "user-id"), first_id);
    assert_eq!(testid(&html, "email"), "ada.lovelace@example.org");
    assert!(html.contains(
        "<strong>Your email changed from ada@example.com to ada.lovelace@example.org.</strong>"
    ));
    assert!(html.contains("You kept the same account because we link by <code>sub</code>"));
    assert_eq!(app.count("users").await, 1);
}

#[actix_web::test]
async fn a_new_sub_with_an_email_another_user_has_gets_a_second_account() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    let ada_id = testid(&app.profile_html().await, "user-id");

    // Mallory claims ada@example.com (unverified) under her own sub.
    let mallory = browser();
    app.login_as_with(&mallory, "mallory").await;
    let html = app
        .get_with(&mallory, "/profile")
        .await
        .text()
        .await
        .unwrap();

    assert_ne!(testid(&html, "user-id"), ada_id);
    assert_eq!(testid(&html, "sub"), "sandbox-mallory");
    assert_eq!(testid(&html, "email"), "ada@example.com");
    assert_eq!(app.count("users").await, 2);
}

#[actix_web::test]
async fn a_sub_sent_as_a_json_number_is_stored_as_text_and_a_missing_email_shows_none() {
    let app = spawn_app().await;

    app.login_as("grace").await;
    let html = app.profile_html().await;

    assert_eq!(testid(&html, "sub"), "190612091992");
    assert_eq!(testid(&html, "email"), "none");
}

#[actix_web::test]
async fn a_custom_sandbox_user_is_linked_by_the_sub_typed_in() {
    let app = spawn_app().await;

    let callback = app
        .sandbox_callback_with(
            &app.client,
            &[
                ("persona", "custom"),
                ("custom_sub", "my-own-sub"),
                ("custom_name", "Me <b>Myself</b>"),
                ("custom_email", "me@example.net"),
            ],
        )
        .await;
    app.client.get(&callback).send().await.unwrap();
    let html = app.profile_html().await;

    assert_eq!(testid(&html, "sub"), "sandbox-my-own-sub");
    assert!(
        html.contains("Me &#60;b&#62;Myself&#60;/b&#62;"),
        "names are escaped"
    );
}

#[actix_web::test]
async fn twenty_parallel_first_logins_of_one_sub_create_exactly_one_user() {
    let app = spawn_app().await;

    let logins = app.parallel_first_logins(20, "race-sub").await;

    for (_, response) in &logins {
        assert_eq!(response.status(), 303, "every login succeeds");
        assert_eq!(response.headers()["location"], "/profile");
    }
    assert_eq!(app.count("users").await, 1, "exactly one user, no orphans");
    assert_eq!(app.count("xwms_connections").await, 1);
    let mut ids = Vec::new();
    for (browser, _) in &logins {
        let html = app
            .get_with(browser, "/profile")
            .await
            .text()
            .await
            .unwrap();
        ids.push(testid(&html, "user-id"));
    }
    ids.dedup();
    assert_eq!(
        ids.len(),
        1,
        "every browser is signed in to the same account"
    );
}

#[actix_web::test]
async fn anonymous_visitors_are_sent_home_from_the_profile() {
    let app = spawn_app().await;

    let response = app.get("/profile").await;

    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/");
}

#[actix_web::test]
async fn the_home_page_offers_login_and_then_shows_who_is_signed_in() {
    let app = spawn_app().await;
    let anonymous = app.get("/").await.text().await.unwrap();
    assert!(anonymous.contains("Login with XWMS"));
    assert!(anonymous.contains("Sandbox: not real XWMS"));

    app.login_as("ada").await;
    let signed_in = app.get("/").await.text().await.unwrap();

    assert!(signed_in.contains("Signed in as <strong>Ada Lovelace</strong>"));
    assert!(signed_in.contains("href=\"/profile\""));
    assert!(signed_in.contains("action=\"/logout\""));
}
