//! The login flow through the sandbox, and the account-linking rule: by `sub`, never by email.
//! Also: several logins under way in one browser (two tabs, a double click).

use wiremock::MockServer;

use crate::helpers::{
    Provider, TestApp, browser, fake_sign_tokens, fake_verify, session_cookie, spawn_app,
    spawn_app_for_a_race, spawn_app_with, testid, verified_user,
};

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
    // The same browser, so the same session went on: what its first login said stays.
    assert!(
        html.contains("a new local account was created"),
        "the first login's news is kept beside the change"
    );
    assert_eq!(app.count("users").await, 1);
}

/// The user's row version (`xmin`: the transaction that last wrote it) and `updated_at`.
async fn user_row_version(app: &TestApp) -> (String, String) {
    #[derive(diesel::QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::Text)]
        xmin: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        updated_at: String,
    }
    use diesel_async::RunQueryDsl;
    let version: Version =
        diesel::sql_query("SELECT xmin::text AS xmin, updated_at::text AS updated_at FROM users")
            .get_result(&mut app.db().await)
            .await
            .unwrap();
    (version.xmin, version.updated_at)
}

/// Each login answers with the profile `fields` changes from the one before (`{}`: none).
#[actix_web::test]
async fn a_returning_login_writes_the_profile_only_when_xwms_says_something_new() {
    let mut profile = serde_json::json!({
        "sub": "sub-fields",
        "name": "Ada",
        "email": "ada@example.com",
        "email_verified": true,
        "picture": "https://example.com/ada.png",
    });
    let steps = [
        ("the first login", serde_json::json!({})),
        ("nothing new", serde_json::json!({})),
        ("a new name", serde_json::json!({"name": "Ada King"})),
        (
            "the email no longer verified",
            serde_json::json!({"email_verified": false}),
        ),
        (
            "a new picture",
            serde_json::json!({"picture": "https://example.com/king.png"}),
        ),
        (
            "a new email",
            serde_json::json!({"email": "ada@example.org"}),
        ),
    ];
    let xwms = MockServer::start().await;
    let tokens: Vec<String> = (0..steps.len()).map(|i| format!("tok-{i}")).collect();
    fake_sign_tokens(
        &xwms,
        &tokens.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
    let mut answers = Vec::new();
    for (_, change) in &steps {
        for (field, value) in change.as_object().unwrap() {
            profile[field] = value.clone();
        }
        answers.push(profile.clone());
    }
    for answer in answers {
        wiremock::Mock::given(wiremock::matchers::path("/api/sign-token-verify"))
            .respond_with(
                wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
                    "status": "success", "message": "Token verified", "data": answer
                })),
            )
            .up_to_n_times(1)
            .mount(&xwms)
            .await;
    }
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;

    let mut before = None;
    for ((step, _), token) in steps.iter().zip(&tokens) {
        let browser = browser();
        app.get_with(&browser, "/xwms/auth").await;
        let url = format!("/xwms/validateToken?token={token}");
        assert_eq!(callback(&app, &browser, &url).await.0, 303, "{step}");
        let now = user_row_version(&app).await;
        if let Some(before) = &before {
            if *step == "nothing new" {
                assert_eq!(&now, before, "{step}: the row is not written again");
            } else {
                assert_ne!(now.0, before.0, "{step}: the row is written");
                assert_ne!(now.1, before.1, "{step}: updated_at with it");
            }
        }
        before = Some(now);
    }
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
    let app = spawn_app_for_a_race().await;

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

// --- Several logins under way in one browser (two tabs, a double click) ---

/// `GET` of a callback URL (or path) in `browser`: `(status, Location)`.
async fn callback(app: &TestApp, browser: &reqwest::Client, url: &str) -> (u16, String) {
    let url = if url.starts_with('/') {
        app.url(url)
    } else {
        url.to_owned()
    };
    let response = browser.get(&url).send().await.unwrap();
    let status = response.status().as_u16();
    let to = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, to)
}

#[actix_web::test]
async fn two_tabs_started_in_one_browser_both_finish_their_login_in_the_order_started() {
    let app = spawn_app().await;
    let ada = [("persona", "ada"), ("outcome", "success")];
    let first_tab = app.sandbox_callback_with(&app.client, &ada).await;
    let second_tab = app.sandbox_callback_with(&app.client, &ada).await;

    let first = callback(&app, &app.client, &first_tab).await;
    let forms_token = app.logout_token_with(&app.client).await;
    let second = callback(&app, &app.client, &second_tab).await;

    assert_eq!(first, (303, "/profile".to_owned()));
    assert_eq!(second, (303, "/profile".to_owned()), "not an error page");
    assert_eq!(testid(&app.profile_html().await, "sub"), "sandbox-ada");
    assert_eq!(
        app.logout_token_with(&app.client).await,
        forms_token,
        "the same person's session goes on: forms open in the first tab still work"
    );
    assert_eq!(app.count("users").await, 1);
}

#[actix_web::test]
async fn two_tabs_started_in_one_browser_both_finish_their_login_in_the_reverse_order() {
    let app = spawn_app().await;
    let ada = [("persona", "ada"), ("outcome", "success")];
    let first_tab = app.sandbox_callback_with(&app.client, &ada).await;
    let second_tab = app.sandbox_callback_with(&app.client, &ada).await;

    let second = callback(&app, &app.client, &second_tab).await;
    let first = callback(&app, &app.client, &first_tab).await;

    assert_eq!(second, (303, "/profile".to_owned()));
    assert_eq!(first, (303, "/profile".to_owned()), "not an error page");
    assert_eq!(testid(&app.profile_html().await, "sub"), "sandbox-ada");
}

#[actix_web::test]
async fn a_stray_callback_between_the_start_and_the_real_callback_leaves_the_login_under_way() {
    for binding in ["token", "session"] {
        let app = spawn_app_with(Provider::Sandbox, &[("XWMS_LOGIN_BINDING", binding)]).await;
        let real = app
            .sandbox_callback_with(&app.client, &[("persona", "ada"), ("outcome", "success")])
            .await;

        // An old tab, a link from another site, a double click answered out of order.
        let stray = callback(&app, &app.client, "/xwms/validateToken?token=stray").await;
        let empty = callback(&app, &app.client, "/xwms/validateToken").await;
        let finished = callback(&app, &app.client, &real).await;

        assert_eq!(stray.0 / 100, 4, "{binding}: the stray callback is refused");
        assert_eq!(empty.0, 400, "{binding}");
        assert_eq!(finished, (303, "/profile".to_owned()), "{binding}");
    }
}

/// A fake XWMS that issues `tokens` in turn and vouches for one person `verify_calls` times.
async fn xwms_issuing(tokens: &[&str], verify_calls: u64) -> MockServer {
    let xwms = MockServer::start().await;
    fake_sign_tokens(&xwms, tokens).await;
    fake_verify(
        &xwms,
        verified_user("sub-tabs", "tabs@example.com"),
        verify_calls,
    )
    .await;
    xwms
}

#[actix_web::test]
async fn two_logins_started_within_the_same_second_each_finish_on_their_own_next() {
    let xwms = xwms_issuing(&["tok-notes", "tok-settings"], 2).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    // Both stamps must fall in one second (the pending logins' times are whole seconds).
    loop {
        let second = chrono::Utc::now().timestamp();
        app.get("/xwms/auth?next=/notes").await;
        app.get("/xwms/auth?next=/profile%3Ftab%3Dsettings").await;
        if chrono::Utc::now().timestamp() == second {
            break;
        }
        xwms.reset().await;
        fake_sign_tokens(&xwms, &["tok-notes", "tok-settings"]).await;
        fake_verify(&xwms, verified_user("sub-tabs", "tabs@example.com"), 2).await;
        app.execute_sql("SELECT 1").await;
    }

    let settings = callback(&app, &app.client, "/xwms/validateToken?token=tok-settings").await;
    let notes = callback(&app, &app.client, "/xwms/validateToken?token=tok-notes").await;

    assert_eq!(settings, (303, "/profile?tab=settings".to_owned()));
    assert_eq!(notes, (303, "/notes".to_owned()));
}

#[actix_web::test]
async fn a_fifth_login_started_in_one_browser_pushes_out_the_oldest() {
    let tokens = ["tok-1", "tok-2", "tok-3", "tok-4", "tok-5"];
    let xwms = xwms_issuing(&tokens, 4).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    for _ in tokens {
        app.get("/xwms/auth").await;
    }

    let oldest = callback(&app, &app.client, "/xwms/validateToken?token=tok-1").await;
    let mut others = Vec::new();
    for token in &tokens[1..] {
        let url = format!("/xwms/validateToken?token={token}");
        others.push(callback(&app, &app.client, &url).await.0);
    }

    assert_eq!(oldest.0, 400, "only the four newest are kept");
    assert_eq!(others, [303, 303, 303, 303]);
}

#[actix_web::test]
async fn in_session_binding_a_callback_finishes_the_newest_login_under_way_and_leaves_the_others() {
    // No token to match: each callback takes the newest login still in time (documented
    // in the README, `XWMS_LOGIN_BINDING`).
    let xwms = xwms_issuing(&["tok-a", "tok-b"], 2).await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[("XWMS_LOGIN_BINDING", "session")]).await;
    // A click on our own page: browsers say so (`Sec-Fetch-Site`), and session binding
    // insists on it.
    for next in ["/notes", "/profile"] {
        app.client
            .get(app.url(&format!("/xwms/auth?next={next}")))
            .header("Sec-Fetch-Site", "same-origin")
            .send()
            .await
            .unwrap();
    }

    let newest = callback(&app, &app.client, "/xwms/validateToken?token=other-1").await;
    let older = callback(&app, &app.client, "/xwms/validateToken?token=other-2").await;
    let none_left = callback(&app, &app.client, "/xwms/validateToken?token=other-3").await;

    assert_eq!(newest, (303, "/profile".to_owned()));
    assert_eq!(older, (303, "/notes".to_owned()));
    assert_eq!(none_left.0, 400, "each login under way is used once");
}

#[actix_web::test]
async fn four_logins_under_way_with_the_longest_next_keep_a_signed_in_cookie_under_4_kb() {
    let long = "x".repeat(5 * 1024);
    let xwms = MockServer::start().await;
    let tokens = ["tok-0", "tok-1", "tok-2", "tok-3", "tok-4", "tok-5"];
    fake_sign_tokens(&xwms, &tokens).await;
    fake_verify(
        &xwms,
        wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "status": "success",
            "data": { "sub": "sub-long", "name": long, "email": format!("{long}@example.com") }
        })),
        3,
    )
    .await;
    let app = spawn_app_with(Provider::Fake(&xwms), &[]).await;
    app.get("/xwms/auth").await;
    app.get("/xwms/validateToken?token=tok-0").await;
    // The longest `next` a login keeps is 512 bytes.
    let next = |n: usize| format!("/{n}{}", "a".repeat(510));
    let mut cookie = String::new();
    for n in 1..=4 {
        let start = app.get(&format!("/xwms/auth?next={}", next(n))).await;
        cookie = session_cookie(start.headers()).unwrap();
    }
    // In production the cookie is `__Host-xwms_session`: seven bytes more.
    let limit = 4096 - "__Host-".len();
    assert!(cookie.len() < limit, "cookie is {} bytes", cookie.len());

    let newest = callback(&app, &app.client, "/xwms/validateToken?token=tok-4").await;
    let after = app.get("/xwms/auth?next=/notes").await;
    let oldest = callback(&app, &app.client, "/xwms/validateToken?token=tok-1").await;

    assert_eq!(newest, (303, next(4)));
    let cookie = session_cookie(after.headers()).unwrap();
    assert!(cookie.len() < limit, "cookie is {} bytes", cookie.len());
    assert_eq!(
        oldest,
        (303, "/profile".to_owned()),
        "an older login whose next no longer fits ends on the profile"
    );
}
