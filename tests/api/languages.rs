//! Every page in English and Dutch: chosen by `Accept-Language` or the language switch's
//! cookie, `<html lang>` set, no missing text, dates in the page's language.

use chrono::Datelike;

use crate::helpers::{
    DUTCH_MONTHS, TestApp, browser_with_cookie, location, spawn_app, spawn_https_production_demo,
    testid,
};

/// What a page must show in each language (a text only that language has) and the
/// month names its dates use.
const LANGUAGES: [(&str, &str, [&str; 12]); 2] = [
    (
        "en",
        "Log in with XWMS",
        [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
    ),
    ("nl", "Inloggen met XWMS", DUTCH_MONTHS),
];

/// `GET path` in `browser`: the status and the HTML.
async fn page(app: &TestApp, browser: &reqwest::Client, path: &str) -> (u16, String) {
    let response = app.get_with(browser, path).await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// What this app logged about a text missing from a locale.
fn missing_text_lines(app: &TestApp) -> Vec<String> {
    app.logs()
        .into_iter()
        .filter(|line| line.contains("missing text") || line.contains("page.html("))
        .collect()
}

#[actix_web::test]
async fn every_page_renders_in_english_and_dutch_with_no_missing_text() {
    let app = spawn_app().await;
    for (tag, home_heading, months) in LANGUAGES {
        let browser = browser_with_cookie(&app.address, &format!("lang={tag}"));
        let mut pages = Vec::new();

        pages.push(("home", page(&app, &browser, "/").await));
        pages.push(("not found", page(&app, &browser, "/no-such-page").await));
        pages.push((
            "login refused",
            page(&app, &browser, "/xwms/validateToken?token=abc").await,
        ));
        let continue_page = browser
            .get(app.url("/xwms/auth"))
            .header("Sec-Fetch-Site", "cross-site")
            .send()
            .await
            .unwrap();
        pages.push((
            "continue to XWMS",
            (
                continue_page.status().as_u16(),
                continue_page.text().await.unwrap(),
            ),
        ));
        let sandbox = app.start_login_with(&browser).await;
        let sandbox_page = browser.get(&sandbox).send().await.unwrap();
        pages.push((
            "sandbox login",
            (
                sandbox_page.status().as_u16(),
                sandbox_page.text().await.unwrap(),
            ),
        ));
        let refused = browser
            .post(&sandbox)
            .form(&[("persona", "nobody"), ("outcome", "success")])
            .send()
            .await
            .unwrap();
        pages.push((
            "sandbox refusal",
            (refused.status().as_u16(), refused.text().await.unwrap()),
        ));

        app.login_as_with(&browser, "ada-new-email").await;
        pages.push(("profile", page(&app, &browser, "/profile").await));
        pages.push(("notes", page(&app, &browser, "/notes").await));
        let token = TestApp::form_csrf_token(&pages.last().unwrap().1.1);
        let too_long = browser
            .post(app.url("/notes"))
            .form(&[("csrf_token", token.as_str()), ("body", &"x".repeat(1001))])
            .send()
            .await
            .unwrap();
        pages.push((
            "notes refusal",
            (too_long.status().as_u16(), too_long.text().await.unwrap()),
        ));
        pages.push((
            "delete account",
            page(&app, &browser, "/profile/delete").await,
        ));
        pages.push((
            "account deleted",
            page(&app, &browser, "/account-deleted").await,
        ));
        pages.push((
            "logged out everywhere",
            page(&app, &browser, "/logged-out?everywhere=1").await,
        ));

        let expected_status = [200, 404, 400, 200, 200, 400, 200, 200, 400, 200, 200, 200];
        for ((name, (status, html)), expected) in pages.iter().zip(expected_status) {
            assert_eq!(*status, expected, "{tag} {name}");
            assert!(
                html.contains(&format!(r#"<html lang="{tag}">"#)),
                "{tag} {name}: <html lang>"
            );
            assert!(
                html.contains(&format!(
                    r#"aria-current="true">{}"#,
                    if tag == "en" { "English" } else { "Nederlands" }
                )),
                "{tag} {name}: the language switch marks the page's language"
            );
        }
        let home = &pages[0].1.1;
        assert!(home.contains(home_heading), "{tag} home: {home_heading}");
        let profile = &pages[6].1.1;
        let this_month = months[chrono::Utc::now().month0() as usize];
        assert!(
            profile.contains(this_month),
            "{tag} profile: dates name the month {this_month}"
        );
        assert_eq!(testid(profile, "email"), "ada.lovelace@example.org");
    }
    assert_eq!(
        missing_text_lines(&app),
        Vec::<String>::new(),
        "no page lacked a text"
    );
}

#[actix_web::test]
async fn the_dutch_pages_say_it_in_dutch() {
    let app = spawn_app().await;
    let dutch = browser_with_cookie(&app.address, "lang=nl");

    let (_, not_found) = page(&app, &dutch, "/no-such-page").await;
    let (_, refused) = page(&app, &dutch, "/xwms/validateToken?token=abc").await;
    app.login_as_with(&dutch, "ada").await;
    let (_, profile) = page(&app, &dutch, "/profile").await;
    let (_, notes) = page(&app, &dutch, "/notes").await;

    assert!(
        notes.contains("Welkom! Deze notitie is geschreven toen je voor het eerst inlogde."),
        "the welcome note is written in the language of the first login: {notes}"
    );
    assert!(not_found.contains("Pagina niet gevonden"), "{not_found}");
    assert!(not_found.contains("Fout 404"));
    assert!(refused.contains("Deze inloglink is hier niet geldig"));
    assert!(profile.contains("Je profiel"));
    assert!(
        profile.contains("Account aangemaakt (eerste keer ingelogd)"),
        "the activity log"
    );
    assert!(profile.contains("Uitloggen op alle apparaten"));
    assert!(
        profile.contains("<strong>Welkom!</strong>"),
        "markup of an -html message"
    );
    assert!(!profile.contains("Log out"), "no English left: {profile}");
}

#[actix_web::test]
async fn accept_language_picks_the_language_by_weight_and_english_is_the_default() {
    let app = spawn_app().await;
    let lang_of = async |accept: Option<&str>| {
        let mut request = app.client.get(app.url("/"));
        if let Some(accept) = accept {
            request = request.header("Accept-Language", accept);
        }
        let html = request.send().await.unwrap().text().await.unwrap();
        let start = html.find("<html lang=\"").unwrap() + 12;
        html[start..start + 2].to_owned()
    };

    assert_eq!(lang_of(None).await, "en");
    assert_eq!(lang_of(Some("nl-NL,nl;q=0.9,en;q=0.8")).await, "nl");
    assert_eq!(lang_of(Some("de-DE, en;q=0.3, nl;q=0.5")).await, "nl");
    assert_eq!(lang_of(Some("fr-FR")).await, "en");
}

#[actix_web::test]
async fn the_language_switch_remembers_the_choice_in_a_cookie_and_goes_back() {
    let app = spawn_app().await;

    let switched = app.get("/language/nl?next=/notes").await;

    assert_eq!(switched.status(), 303);
    assert_eq!(location(switched.headers()), "/notes");
    let cookie = switched.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for part in [
        "lang=nl",
        "Path=/",
        "Max-Age=31536000",
        "HttpOnly",
        "SameSite=Lax",
    ] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http in development: {cookie}"
    );
    let home = app.get("/").await.text().await.unwrap();
    assert!(
        home.contains(r#"<html lang="nl">"#),
        "remembered, no login needed"
    );
    assert!(home.contains("Inloggen met XWMS"));
    // The footer's links lead back to the page they are on.
    assert!(home.contains(r#"href="/language/en?next=/""#), "{home}");

    let back = app.get("/language/en?next=/").await;
    assert_eq!(back.status(), 303);
    assert!(
        app.get("/")
            .await
            .text()
            .await
            .unwrap()
            .contains(r#"<html lang="en">"#)
    );
}

#[actix_web::test]
async fn the_language_cookie_is_secure_in_production() {
    let app = spawn_https_production_demo(&[]).await;

    let switched = app.get("/language/nl").await;

    assert_eq!(switched.status(), 303);
    let cookie = switched.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("lang=nl"), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[actix_web::test]
async fn the_language_switch_refuses_unknown_languages_and_foreign_next_urls() {
    let app = spawn_app().await;

    let unknown = app.get("/language/xx").await;
    let foreign = app.get("/language/nl?next=//evil.example/").await;
    let absolute = app.get("/language/nl?next=https://evil.example/").await;
    let none = app.get("/language/nl").await;

    assert_eq!(unknown.status(), 404);
    assert!(unknown.headers().get("set-cookie").is_none());
    assert_eq!(location(foreign.headers()), "/");
    assert_eq!(location(absolute.headers()), "/");
    assert_eq!(location(none.headers()), "/");
}

#[actix_web::test]
async fn the_language_switch_never_carries_the_login_token_or_the_login_flow_url() {
    let app = spawn_app().await;

    let (_, callback) = page(
        &app,
        &app.client,
        "/xwms/validateToken?token=secret-token-123",
    )
    .await;

    assert!(!callback.contains("secret-token-123"));
    assert!(
        callback.contains(r#"href="/language/nl?next=/""#),
        "the switch goes home"
    );
    let (_, other) = page(&app, &app.client, "/no-such-page?token=secret-token-456").await;
    assert!(
        !other.contains("secret-token-456"),
        "no query string in any link"
    );
    assert!(other.contains(r#"href="/language/nl?next=/no-such-page""#));
}

#[actix_web::test]
async fn an_email_change_in_the_activity_log_reads_in_the_pages_language() {
    let app = spawn_app().await;
    let dutch = browser_with_cookie(&app.address, "lang=nl");
    app.login_as_with(&dutch, "ada").await;
    app.login_as_with(&dutch, "ada-new-email").await;

    let (_, profile) = page(&app, &dutch, "/profile").await;

    assert!(
        profile.contains(
            "Je e-mailadres is gewijzigd van ada@example.com naar ada.lovelace@example.org."
        ),
        "{profile}"
    );
    assert!(
        profile.contains(
            "E-mailadres gewijzigd bij XWMS: van ada@example.com naar ada.lovelace@example.org"
        ),
        "the stored detail, in Dutch: {profile}"
    );
}

/// The texts of the page's `<time>` elements, in order: on the profile, the first seen and
/// last login facts, then the activity list.
fn time_texts(html: &str) -> Vec<String> {
    html.split("<time ")
        .skip(1)
        .map(|rest| {
            let text = rest.split('>').nth(1).unwrap_or_default();
            text.split('<').next().unwrap_or_default().to_owned()
        })
        .collect()
}

#[actix_web::test]
async fn the_profile_writes_dates_to_the_minute_and_the_activity_to_the_second_in_each_language() {
    let app = spawn_app().await;
    app.login_as("ada").await;
    let before = chrono::Utc::now();
    let english = app.profile_html().await;
    let dutch = app.get_in_dutch("/profile").await.text().await.unwrap();
    let after = chrono::Utc::now();

    for (html, months) in [(&english, LANGUAGES[0].2), (&dutch, DUTCH_MONTHS)] {
        // "5 December 2026, 09:05 UTC" for the first login (either side of midnight).
        let day = |at: chrono::DateTime<chrono::Utc>| {
            format!(
                "{} {} {}, ",
                at.day(),
                months[at.month0() as usize],
                at.year()
            )
        };
        let times = time_texts(html);
        assert_eq!(
            times.len(),
            3,
            "first seen, last login, one event: {times:?}"
        );
        for (at, colons) in [(&times[0], 1), (&times[1], 1), (&times[2], 2)] {
            // "5 December 2026, 09:05 UTC"; the event to the second: "..., 09:05:07 UTC".
            assert!(
                at.starts_with(&day(before)) || at.starts_with(&day(after)),
                "the date, in the page's language: {at}"
            );
            let clock = at.rsplit(", ").next().unwrap_or_default();
            assert!(clock.ends_with(" UTC"), "{at}");
            assert_eq!(clock.matches(':').count(), colons, "{at}");
        }
    }
}
