//! What a person does: log in, log out, come back, hit a failure, follow a stolen link.

use std::time::Duration;

use crate::helpers::{
    Provider, TestApp, browser as http_client, location, spawn_app, spawn_app_with,
};
use crate::support::Browser;

const HOME: &str = "Log in with XWMS";
const SANDBOX: &str = "XWMS sandbox login";
const PROFILE: &str = "Your profile";
const SIGNED_OUT: &str = "You are signed out of this site";
const ADA: &str = "Ada Lovelace (returning user)";
const ADA_NEW_EMAIL: &str = "Ada Lovelace, with a changed email";

/// From the home page through the sandbox's login page to the profile, as `persona`.
async fn log_in(browser: &Browser, app: &TestApp, persona: &str) {
    browser.open(&app.url("/")).await;
    browser.wait_for_heading(HOME).await;
    browser.click_link("Login with XWMS").await;
    browser.wait_for_heading(SANDBOX).await;
    browser.choose(persona).await;
    browser.choose("Log me in").await;
    browser.click_button("Continue").await;
    browser.wait_for_heading(PROFILE).await;
}

#[actix_web::test]
async fn a_first_login_via_a_persona_shows_the_linked_identity_on_the_profile() {
    let app = spawn_app().await;
    let browser = Browser::start().await;

    browser.open(&app.url("/")).await;
    browser.wait_for_heading(HOME).await;
    assert!(browser.text().await.contains("Sandbox: not real XWMS"));
    browser.screenshot("home").await;
    browser.click_link("Login with XWMS").await;
    browser.wait_for_heading(SANDBOX).await;
    assert!(browser.path().await.starts_with("/sandbox/xwms/login/"));
    browser.screenshot("sandbox-login").await;
    browser.choose(ADA).await;
    browser.click_button("Continue").await;

    browser.wait_for_heading(PROFILE).await;
    assert_eq!(browser.path().await, "/profile");
    assert_eq!(browser.testid("sub").await, "sandbox-ada");
    assert_eq!(browser.testid("email").await, "ada@example.com");
    let page = browser.text().await;
    assert!(page.contains("a new local account was created"), "{page}");
    assert!(page.contains("Signed in as Ada Lovelace"), "{page}");
    assert!(
        !browser.url().await.as_str().contains("token="),
        "the token is not left in the address bar"
    );
    browser.screenshot("profile").await;

    browser.open(&app.url("/")).await;
    browser.wait_for_heading(HOME).await;
    assert!(browser.text().await.contains("View your profile"));
    browser.screenshot("home-signed-in").await;
}

#[actix_web::test]
async fn a_browser_opening_127_0_0_1_is_sent_to_the_public_origin_and_logs_in() {
    let app = spawn_app().await;
    let browser = Browser::start().await;

    // The address a person may type; the callback (the public origin) is localhost.
    browser
        .open(&format!("http://127.0.0.1:{}/", app.port))
        .await;
    browser.wait_for_heading(HOME).await;
    browser.click_link("Login with XWMS").await;
    browser.wait_for_heading(SANDBOX).await;
    browser.choose(ADA).await;
    browser.click_button("Continue").await;

    browser.wait_for_heading(PROFILE).await;
    let url = browser.url().await;
    assert_eq!(url.host_str(), Some("localhost"), "{url}");
    assert_eq!(url.path(), "/profile");
    assert_eq!(browser.testid("sub").await, "sandbox-ada");
}

#[actix_web::test]
async fn logging_out_shows_the_signed_out_page_with_the_login_button() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    log_in(&browser, &app, ADA).await;

    browser.click_button("Log out").await;

    browser.wait_for_heading(SIGNED_OUT).await;
    assert_eq!(browser.path().await, "/logged-out");
    browser.screenshot("logged-out").await;
    let page = browser.text().await;
    assert!(page.contains("Login with XWMS"), "{page}");
    assert!(!page.contains("Signed in as"), "{page}");
    browser.open(&app.url("/profile")).await;
    browser.wait_for_heading(HOME).await;
    assert_eq!(
        browser.path().await,
        "/",
        "the profile is gone with the session"
    );
}

#[actix_web::test]
async fn a_returning_login_with_a_changed_email_keeps_the_same_account() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    log_in(&browser, &app, ADA).await;
    let first_id = browser.testid("user-id").await;
    browser.click_button("Log out").await;
    browser.wait_for_heading(SIGNED_OUT).await;

    log_in(&browser, &app, ADA_NEW_EMAIL).await;

    assert_eq!(browser.testid("user-id").await, first_id, "same local user");
    assert_eq!(browser.testid("sub").await, "sandbox-ada");
    assert_eq!(browser.testid("email").await, "ada.lovelace@example.org");
    let page = browser.text().await;
    assert!(page.contains("Your email changed"), "{page}");
    assert!(
        page.contains("from ada@example.com to ada.lovelace@example.org"),
        "{page}"
    );
    assert!(!page.contains("a new local account was created"), "{page}");
    browser.screenshot("profile-email-changed").await;
}

#[actix_web::test]
async fn a_provider_failure_shows_a_friendly_error_page_whose_link_starts_again() {
    let app = spawn_app().await;
    let browser = Browser::start().await;

    // XWMS reports an error and sends the browser back without a token.
    browser.open(&app.url("/")).await;
    browser.click_link("Login with XWMS").await;
    browser.wait_for_heading(SANDBOX).await;
    browser.choose(ADA).await;
    browser.choose("Fail: XWMS reports an error").await;
    browser.click_button("Continue").await;

    browser.wait_for_heading("Login not completed").await;
    let page = browser.text().await;
    assert!(
        page.contains("The sandbox simulated an XWMS error"),
        "{page}"
    );
    assert!(!page.contains("sandbox-ada"), "{page}");
    browser.screenshot("error-login").await;

    browser.click_link("Log in again").await;
    browser.wait_for_heading(SANDBOX).await;

    // XWMS crashes when the app checks the token.
    browser.choose(ADA).await;
    browser
        .choose("Fail: XWMS crashes when the app checks the token")
        .await;
    browser.click_button("Continue").await;

    browser.wait_for_heading("XWMS had a problem").await;
    let page = browser.text().await;
    assert!(page.contains("Nothing was changed"), "{page}");
    assert!(
        !page.to_lowercase().contains("internal server error"),
        "{page}"
    );
    browser.screenshot("error-provider-crash").await;
    browser.click_link("Log in again").await;
    browser.wait_for_heading(SANDBOX).await;
    assert!(browser.path().await.starts_with("/sandbox/xwms/login/"));
}

#[actix_web::test]
async fn a_login_link_opened_in_another_browser_is_refused_and_logs_in_neither() {
    let app = spawn_app().await;
    let browser_a = Browser::start().await;
    let browser_b = Browser::start().await;

    // Browser A starts a login; the login link it would follow is copied instead.
    browser_a.open(&app.url("/")).await;
    browser_a.click_link("Login with XWMS").await;
    browser_a.wait_for_heading(SANDBOX).await;
    let form = browser_a
        .client()
        .find(fantoccini::Locator::Css("form[method=post]"))
        .await
        .expect("the sandbox login form");
    let action = form
        .prop("action")
        .await
        .expect("form action")
        .expect("an absolute form action");
    let answer = http_client()
        .post(&action)
        .form(&[("persona", "ada"), ("outcome", "success")])
        .send()
        .await
        .expect("submit the sandbox form");
    assert_eq!(answer.status(), 303);
    let callback = location(answer.headers());
    assert!(
        callback.contains("/xwms/validateToken?token="),
        "{callback}"
    );

    // Browser B, another profile, opens the copied link.
    browser_b.open(&callback).await;

    browser_b
        .wait_for_heading("This login link is not valid here")
        .await;
    let page = browser_b.text().await;
    assert!(!page.contains("sandbox-ada"), "{page}");
    assert!(!page.contains("Signed in as"), "{page}");
    browser_b.screenshot("error-link-refused").await;
    browser_b.click_link("Log in again").await;
    browser_b.wait_for_heading(SANDBOX).await;
    browser_b.open(&app.url("/profile")).await;
    browser_b.wait_for_heading(HOME).await;
    assert_eq!(browser_b.path().await, "/", "browser B is not logged in");

    browser_a.open(&app.url("/profile")).await;
    browser_a.wait_for_heading(HOME).await;
    assert_eq!(browser_a.path().await, "/", "browser A is not logged in");
    assert!(browser_a.text().await.contains("Login with XWMS"));
}

/// On the sandbox's login page: log in as `persona`, and land on the profile.
async fn finish_at_the_sandbox(browser: &Browser, persona: &str) {
    browser.choose(persona).await;
    browser.choose("Log me in").await;
    browser.click_button("Continue").await;
    browser.wait_for_heading(PROFILE).await;
}

#[actix_web::test]
async fn two_windows_of_one_browser_each_finish_their_own_login() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    browser.open(&app.url("/")).await;
    browser.click_link("Login with XWMS").await;
    browser.wait_for_heading(SANDBOX).await;
    let first = browser.window().await;
    let second = browser.open_new_window().await;
    browser.open(&app.url("/")).await;
    browser.click_link("Login with XWMS").await;
    browser.wait_for_heading(SANDBOX).await;

    browser.switch_to(first.clone()).await;
    finish_at_the_sandbox(&browser, ADA).await;
    browser.switch_to(second).await;
    finish_at_the_sandbox(&browser, ADA).await;

    assert_eq!(browser.path().await, "/profile", "not an error page");
    assert_eq!(browser.testid("sub").await, "sandbox-ada");
    // The first window's page is still good: its logout form works (same session).
    browser.switch_to(first).await;
    browser.click_button("Log out").await;
    browser.wait_for_heading(SIGNED_OUT).await;
    assert!(!browser.text().await.contains("Signed in as"));
}

#[actix_web::test]
async fn the_back_button_after_logout_shows_no_private_data() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    log_in(&browser, &app, ADA).await;
    browser.open(&app.url("/")).await;
    browser.wait_for_heading(HOME).await;
    browser.click_link("View your profile").await;
    browser.wait_for_heading(PROFILE).await;
    assert_eq!(browser.testid("sub").await, "sandbox-ada");
    browser.click_button("Log out").await;
    browser.wait_for_heading(SIGNED_OUT).await;

    browser.back().await;

    // The profile is not in the cache (no-store): it is fetched again and, for an
    // anonymous visitor, redirects home.
    browser.wait_for_heading(HOME).await;
    let page = browser.text().await;
    let source = browser.source().await;
    for private in ["sandbox-ada", "ada@example.com", "Ada Lovelace"] {
        assert!(
            !page.contains(private),
            "{private} shown after logout: {page}"
        );
        assert!(
            !source.contains(private),
            "{private} in the page after logout"
        );
    }
    assert!(page.contains("Login with XWMS"), "{page}");
}

// Time passes on the app's session clock (`TestApp::clock`), not by sleeping, and the
// limits are minutes long: a slow machine cannot end a session before the test means to.

#[actix_web::test]
async fn a_login_after_the_session_ended_ends_on_the_profile_on_the_first_try() {
    let app = spawn_app_with(Provider::Sandbox, &[("SESSION_IDLE_TIMEOUT_SECS", "600")]).await;
    let browser = Browser::start().await;
    log_in(&browser, &app, ADA).await;

    // 1. Back after the idle limit: the home page offers the login again, and it works.
    app.clock.advance(Duration::from_secs(601));
    log_in(&browser, &app, ADA).await;

    // 2. Logged out on all devices from a phone.
    let phone = http_client();
    app.login_as_with(&phone, "ada").await;
    app.log_out_with(&phone, "/logout/everywhere").await;
    log_in(&browser, &app, ADA).await;

    // 3. Signed in, a new login, and the idle limit passes while at XWMS.
    browser.open(&app.url("/xwms/auth")).await;
    browser.wait_for_heading(SANDBOX).await;
    app.clock.advance(Duration::from_secs(601));
    browser.choose(ADA).await;
    browser.choose("Log me in").await;
    browser.click_button("Continue").await;
    browser.wait_for_heading(PROFILE).await;
}

#[actix_web::test]
async fn a_browser_in_use_stays_signed_in_past_the_idle_limit_until_the_absolute_limit() {
    // Idle limit 60 s, absolute 300 s; the browser is used every 30 s of the app's clock,
    // which leaves 30 s for the machine's own slowness at every step.
    let app = spawn_app_with(
        Provider::Sandbox,
        &[
            ("SESSION_IDLE_TIMEOUT_SECS", "60"),
            ("SESSION_ABSOLUTE_TIMEOUT_SECS", "300"),
        ],
    )
    .await;
    let browser = Browser::start().await;
    log_in(&browser, &app, ADA).await;

    // Busy for 270 s, more than four times the idle limit: still signed in.
    for _ in 0..9 {
        app.clock.advance(Duration::from_secs(30));
        browser.open(&app.url("/profile")).await;
        browser.wait_for_heading(PROFILE).await;
    }
    // Still busy, but 300 s after the login the absolute limit ends it.
    app.clock.advance(Duration::from_secs(30));
    browser.open(&app.url("/profile")).await;

    browser.wait_for_heading(HOME).await;
    assert!(browser.text().await.contains("Login with XWMS"));
}

// Confirm it's you: after STEP_UP_MAX_AGE_SECS (300 s) on the app's clock, deleting the
// account asks for a fresh login through XWMS, then comes back to the delete page.
#[actix_web::test]
async fn deleting_after_the_limit_is_confirmed_with_xwms_and_comes_back_to_the_action() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    log_in(&browser, &app, ADA).await;
    app.clock.advance(Duration::from_secs(301));

    browser.open(&app.url("/profile/delete")).await;
    browser.wait_for_heading("Delete your account?").await;
    browser.click_button("Delete my account").await;
    browser.wait_for_heading("Confirm it's you").await;
    browser.screenshot("confirm-it-is-you").await;
    assert_eq!(app.count("users").await, 1, "nothing done yet");

    browser.click_button("Confirm with XWMS").await;
    browser.wait_for_heading(SANDBOX).await;
    browser.choose(ADA).await;
    browser.choose("Log me in").await;
    browser.click_button("Continue").await;
    browser.wait_for_heading("Delete your account?").await;
    assert_eq!(
        browser.path().await,
        "/profile/delete",
        "back at the action, not the profile"
    );
    browser.click_button("Delete my account").await;
    browser
        .wait_for_heading("Your account has been deleted")
        .await;
    assert_eq!(app.count("users").await, 0);
}

// Refresh from XWMS in the sandbox: the name changed at the sandbox's people page shows on
// the profile after the refresh.
#[actix_web::test]
async fn a_name_changed_at_the_sandbox_xwms_arrives_with_refresh_from_xwms() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    log_in(&browser, &app, ADA).await;

    browser
        .click_link("Change a person's name or email at the sandbox XWMS")
        .await;
    browser.wait_for_heading("People at the sandbox XWMS").await;
    browser.mark_this_page().await;
    browser
        .execute(
            "const form = [...document.querySelectorAll('form[data-testid=person]')]
               .find(f => f.querySelector('input[name=sub]').value === 'sandbox-ada');
             form.querySelector('input[name=name]').value = 'Ada King';
             form.querySelector('button').click();",
        )
        .await;
    // The form comes back to the same page: wait for the new one, or opening the profile
    // could cut the post short.
    browser.wait_for_another_page().await;
    browser.wait_for_heading("People at the sandbox XWMS").await;
    browser.open(&app.url("/profile")).await;
    browser.wait_for_heading(PROFILE).await;
    browser.mark_this_page().await;
    browser.click_button("Refresh from XWMS").await;
    browser.wait_for_another_page().await;
    browser.wait_for_heading(PROFILE).await;
    let page = browser.text().await;
    assert!(page.contains("Refreshed from XWMS."), "{page}");
    assert!(page.contains("Ada King"), "{page}");
    browser.screenshot("profile-refreshed").await;
}

// Your devices: Ada on a laptop and a phone; the laptop ends the phone's session, and the
// phone's next page is the signed-out home page.
#[actix_web::test]
async fn a_session_ended_from_your_devices_is_signed_out_at_its_next_page() {
    let app = spawn_app().await;
    let laptop = Browser::start().await;
    laptop
        .pretend_to_be(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
             Chrome/156.0.0.0 Safari/537.36",
        )
        .await;
    let phone = Browser::start().await;
    phone
        .pretend_to_be(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 \
             (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        )
        .await;
    log_in(&phone, &app, ADA).await;
    log_in(&laptop, &app, ADA).await;

    laptop.click_link("Your devices").await;
    laptop.wait_for_heading("Your devices").await;
    let page = laptop.text().await;
    assert!(page.contains("Chrome on Windows"), "{page}");
    assert!(page.contains("Safari on iPhone"), "{page}");
    assert_eq!(page.matches("This device").count(), 1, "{page}");
    laptop.screenshot("your-devices").await;
    laptop.click_button("End this session").await;
    laptop.wait_for_heading("Your devices").await;
    let page = laptop.text().await;
    assert!(page.contains("That session has ended"), "{page}");
    assert!(!page.contains("Safari on iPhone"), "{page}");

    phone.open(&app.url("/profile")).await;
    phone.wait_for_heading(HOME).await;
    laptop.open(&app.url("/profile")).await;
    laptop.wait_for_heading(PROFILE).await;
    let activity = laptop.testid("activity").await;
    assert!(
        activity.contains("Session ended from another device: Safari on iPhone"),
        "{activity}"
    );
}
