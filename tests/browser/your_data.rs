//! A person's own data, in their own language: the language switch, a whole visit in
//! Dutch, and "Delete my account" from the profile to the last page.

use chrono::Datelike;

use crate::helpers::{DUTCH_MONTHS, TestApp, spawn_app};
use crate::support::Browser;

async fn page_language(browser: &Browser) -> String {
    browser
        .execute("return document.documentElement.lang;")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// From the English home page, through the language switch and the sandbox in Dutch, to
/// the profile as Ada; with `screenshots`, the Dutch home and sandbox pages are saved.
async fn log_in_as_ada_in_dutch(browser: &Browser, app: &TestApp, screenshots: bool) {
    browser.open(&app.url("/")).await;
    browser.wait_for_heading("Log in with XWMS").await;
    assert_eq!(page_language(browser).await, "en");
    browser.click_link("Nederlands").await;
    browser.wait_for_heading("Inloggen met XWMS").await;
    assert_eq!(page_language(browser).await, "nl");
    assert_eq!(
        browser.path().await,
        "/",
        "the switch comes back to the page"
    );
    if screenshots {
        browser.screenshot("home-nl").await;
    }
    browser.click_link("Inloggen met XWMS").await;
    browser
        .wait_for_heading("Inloggen bij de XWMS-sandbox")
        .await;
    if screenshots {
        browser.screenshot("sandbox-login-nl").await;
    }
    browser
        .choose("Ada Lovelace (terugkerende gebruiker)")
        .await;
    browser.choose("Log me in").await;
    browser.click_button("Doorgaan").await;
    browser.wait_for_heading("Je profiel").await;
}

#[actix_web::test]
async fn a_visit_in_dutch_from_the_language_switch_to_deleting_the_account() {
    let app = spawn_app().await;
    let browser = Browser::start().await;

    log_in_as_ada_in_dutch(&browser, &app, true).await;
    let profile = browser.text().await;
    assert!(profile.contains("Ingelogd als Ada Lovelace"), "{profile}");
    assert!(profile.contains("Welkom!"), "{profile}");
    let month = DUTCH_MONTHS[chrono::Utc::now().month0() as usize];
    assert!(
        profile.contains(month),
        "dates in Dutch ({month}): {profile}"
    );
    browser.screenshot("profile-nl").await;

    browser.click_link("Mijn account verwijderen").await;
    browser.wait_for_heading("Je account verwijderen?").await;
    browser.screenshot("delete-account-nl").await;
    browser.click_button("Mijn account verwijderen").await;
    browser.wait_for_heading("Je account is verwijderd").await;
    browser.screenshot("account-deleted-nl").await;

    browser.open(&app.url("/profile")).await;
    browser.wait_for_heading("Inloggen met XWMS").await;
    assert!(
        !browser.text().await.contains("Ingelogd als"),
        "signed out, still in Dutch"
    );
    assert_eq!(app.count("users").await, 0);

    browser.open(&app.url("/bestaat-niet")).await;
    browser.wait_for_heading("Pagina niet gevonden").await;
    browser.screenshot("not-found-nl").await;
}

#[actix_web::test]
async fn deleting_the_account_signs_out_and_the_next_login_starts_a_new_empty_account() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    log_in_as_ada_in_dutch(&browser, &app, false).await;
    browser.click_link("English").await;
    browser.wait_for_heading("Your profile").await;
    let first_id = browser.testid("user-id").await;
    browser.screenshot("profile").await;

    browser.click_link("Delete my account").await;
    browser.wait_for_heading("Delete your account?").await;
    assert!(
        browser.text().await.contains("sandbox-ada"),
        "names the identity link"
    );
    browser.screenshot("delete-account").await;
    browser.click_link("Cancel").await;
    browser.wait_for_heading("Your profile").await;
    assert_eq!(app.count("users").await, 1, "cancel deletes nothing");

    browser.click_link("Delete my account").await;
    browser.wait_for_heading("Delete your account?").await;
    browser.click_button("Delete my account").await;
    browser
        .wait_for_heading("Your account has been deleted")
        .await;
    browser.click_link("Go to the home page").await;
    browser.wait_for_heading("Log in with XWMS").await;
    browser.click_link("Login with XWMS").await;
    browser.wait_for_heading("XWMS sandbox login").await;
    browser.choose("Ada Lovelace (returning user)").await;
    browser.click_button("Continue").await;
    browser.wait_for_heading("Your profile").await;

    let page = browser.text().await;
    assert!(
        page.contains("a new local account was created for you"),
        "{page}"
    );
    assert_ne!(browser.testid("user-id").await, first_id, "a new account");
}
