//! Pages, headers and health.

use crate::helpers::{bare_client, signed_in_cookie_of, spawn_app, testid};

#[actix_web::test]
async fn unknown_paths_get_the_site_layout_404() {
    let app = spawn_app().await;

    let response = app.get("/no/such/page").await;

    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found"));
    assert!(html.contains("<header class=\"site-header\">"));
    assert!(html.contains("Sandbox: not real XWMS"));
}

#[actix_web::test]
async fn an_error_page_under_an_unchecked_path_never_greets_the_holder_of_an_ended_session() {
    let app = spawn_app().await;
    let copied = signed_in_cookie_of(&app, &app.client).await;
    app.log_out_with(&app.client, "/logout").await;
    let with_copy = |path: &str| {
        bare_client()
            .get(app.url(path))
            .header("Cookie", copied.clone())
            .send()
    };

    for path in ["/static/nope", "/health/nope"] {
        let response = with_copy(path).await.unwrap();

        assert_eq!(response.status(), 404, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains("Page not found"), "{path}");
        assert!(!html.contains("Signed in as"), "{path}: {html}");
        assert!(!html.contains("action=\"/logout\""), "{path}: {html}");
    }
    // The same page under a checked path: the copy is refused there as well.
    let checked = with_copy("/no/such/page")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!checked.contains("Signed in as"));
}

#[actix_web::test]
async fn an_error_page_under_a_checked_path_still_shows_who_is_signed_in() {
    let app = spawn_app().await;
    app.log_in_ending_on_the_profile(&app.client).await;

    let html = app.get("/no/such/page").await.text().await.unwrap();

    assert!(html.contains("Signed in as"), "{html}");
    assert!(html.contains("action=\"/logout\""));
}

#[actix_web::test]
async fn framework_errors_like_a_wrong_method_get_the_error_page_too() {
    let app = spawn_app().await;

    let response = app.client.delete(app.url("/")).send().await.unwrap();

    assert_eq!(response.status(), 405);
    let html = response.text().await.unwrap();
    assert!(html.contains("Not allowed"), "{html}");
}

#[actix_web::test]
async fn any_other_client_error_of_the_framework_is_a_bad_request_page_not_an_internal_one() {
    let app = spawn_app().await;

    // Past the 16 KiB a form may have (the sandbox's login form): refused by the
    // framework before the handler runs.
    let response = app
        .client
        .post(app.url("/sandbox/xwms/login/0"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("persona={}", "a".repeat(20 * 1024)))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 413);
    let html = response.text().await.unwrap();
    assert!(html.contains("Bad request"), "{html}");
    assert!(!html.contains("Something went wrong"), "{html}");
}

/// Each error page has a reference of its own, which its one log line carries.
#[actix_web::test]
async fn every_error_page_has_a_reference_of_its_own_to_quote() {
    let app = spawn_app().await;

    let mut references = Vec::new();
    for _ in 0..2 {
        let html = app.get("/no/such/page").await.text().await.unwrap();
        let reference = testid(&html, "reference");
        assert_eq!(reference.len(), 10, "{reference}");
        assert!(
            reference
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        references.push(reference);
    }

    assert_ne!(references[0], references[1]);
    for reference in &references {
        let marker = format!("ref={reference} ");
        let lines: Vec<String> = app
            .logs()
            .into_iter()
            .filter(|line| line.contains(&marker))
            .collect();
        // A 404 is the visitor's mistake, not the app's fault: a warning, not an error.
        assert!(
            lines.len() == 1 && lines[0].starts_with("WARN") && lines[0].contains("status=404"),
            "{lines:?}"
        );
    }
}

#[actix_web::test]
async fn health_reports_the_database_and_xwms_separately() {
    let app = spawn_app().await;

    let response = app.get("/health").await;

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"]["ok"], true);
    assert_eq!(body["xwms"]["ok"], true);
    assert_eq!(body["provider"], "sandbox");
}

#[actix_web::test]
async fn liveness_ignores_the_database_and_readiness_follows_it() {
    let app = spawn_app().await;
    // Both answer in JSON and are never cached: a cached "ok" would hide an outage.
    for probe in ["/health/live", "/health/ready"] {
        let answer = app.get(probe).await;
        assert_eq!(answer.status(), 200, "{probe}");
        assert_eq!(answer.headers()["cache-control"], "no-store", "{probe}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body, serde_json::json!({"status": "ok"}), "{probe}");
    }

    app.take_database_down().await;

    assert_eq!(
        app.get("/health/live").await.status(),
        200,
        "no restart loop"
    );
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 503, "no traffic without a database");
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    app.bring_database_back().await;
    assert_eq!(app.get("/health/ready").await.status(), 200);
}

#[actix_web::test]
async fn the_stylesheet_is_served_from_the_binary() {
    let app = spawn_app().await;
    let response = app.get("/static/style.css").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/css; charset=utf-8"
    );
    assert_eq!(app.get("/static/nope.css").await.status(), 404);
}

#[actix_web::test]
async fn favicon_ico_is_the_sites_svg_icon_for_browsers_that_ask_for_it_by_that_name() {
    let app = spawn_app().await;

    let ico = app.get("/favicon.ico").await;
    let svg = app.get("/static/favicon.svg").await;

    let content_type = |response: &reqwest::Response| {
        let value = response.headers().get("content-type");
        value
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(ico.status(), 200);
    assert_eq!(content_type(&ico).as_deref(), Some("image/svg+xml"));
    assert_eq!(content_type(&svg).as_deref(), Some("image/svg+xml"));
    let icon = ico.bytes().await.unwrap();
    assert!(icon.starts_with(b"<svg"), "{icon:?}");
    assert_eq!(icon, svg.bytes().await.unwrap());
}

#[actix_web::test]
async fn the_healthcheck_command_passes_against_a_healthy_app_and_fails_without_one() {
    let app = spawn_app().await;
    let port = app.port;

    let healthy =
        actix_web::rt::task::spawn_blocking(move || xwms_starter::app::healthcheck::probe(port))
            .await
            .unwrap();
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nobody = xwms_starter::app::healthcheck::probe(unused);

    assert_eq!(healthy, Ok(()));
    assert!(nobody.is_err());
}

/// The `content` of the page's `<meta name="description">`, if it has one.
fn meta_description(html: &str) -> Option<String> {
    let start = html.find("<meta name=\"description\" content=\"")? + 34;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].to_owned())
}

#[actix_web::test]
async fn every_page_says_what_it_is_in_a_meta_description_of_its_own() {
    let app = spawn_app().await;
    let home = app.get("/").await.text().await.unwrap();
    let login_page = app.start_login_with(&app.client).await;
    let sandbox = app.client.get(&login_page).send().await.unwrap();
    let sandbox = sandbox.text().await.unwrap();
    app.login_as("ada").await;
    let profile = app.profile_html().await;
    let not_found = app.get("/no/such/page").await.text().await.unwrap();

    let descriptions: Vec<String> = [&home, &sandbox, &profile, &not_found]
        .into_iter()
        .map(|html| meta_description(html).expect("a meta description"))
        .collect();

    for description in &descriptions {
        assert!(
            description.len() > 50,
            "a sentence, not a word: {description}"
        );
    }
    let distinct: std::collections::HashSet<_> = descriptions[..3].iter().collect();
    assert_eq!(
        distinct.len(),
        3,
        "home, sandbox and profile each describe themselves"
    );
}
