//! How the site looks and feels: the 404 page, phones, dark mode, the keyboard.

use fantoccini::key::Key;

use crate::helpers::{TestApp, spawn_app};
use crate::support::{Browser, DESKTOP};

const HOME: &str = "Log in with XWMS";
const SANDBOX: &str = "XWMS sandbox login";
const PROFILE: &str = "Your profile";

async fn log_in_as_ada(browser: &Browser, app: &TestApp) {
    browser.open(&app.url("/")).await;
    browser.click_link("Login with XWMS").await;
    browser.wait_for_heading(SANDBOX).await;
    browser.choose("Ada Lovelace (returning user)").await;
    browser.click_button("Continue").await;
    browser.wait_for_heading(PROFILE).await;
}

/// Fails if the page is wider than the viewport (sideways scrolling on a phone).
async fn assert_no_sideways_scrolling(browser: &Browser, what: &str) {
    let widths = browser
        .execute(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
        )
        .await;
    let (scroll, client) = (widths[0].as_i64(), widths[1].as_i64());
    assert!(
        scroll <= client,
        "{what} scrolls sideways: content {scroll:?} px wide, viewport {client:?} px"
    );
}

#[actix_web::test]
async fn an_unknown_address_shows_a_friendly_not_found_page() {
    let app = spawn_app().await;
    let browser = Browser::start().await;

    browser.open(&app.url("/no/such/page")).await;

    browser.wait_for_heading("Page not found").await;
    let page = browser.text().await;
    assert!(page.to_lowercase().contains("error 404"), "{page}");
    assert!(page.contains("Go to the home page"), "{page}");
    assert!(!page.contains("Log in again"), "{page}");
    browser.screenshot("not-found").await;
    browser.click_link("Go to the home page").await;
    browser.wait_for_heading(HOME).await;
}

#[actix_web::test]
async fn every_page_fits_a_360_pixel_phone_and_has_a_dark_mode() {
    let app = spawn_app().await;
    let browser = Browser::start().await;
    let (width, height) = DESKTOP;

    // Light, on a phone.
    browser.emulate_width(360, 780).await;
    browser.open(&app.url("/")).await;
    browser.wait_for_heading(HOME).await;
    assert_no_sideways_scrolling(&browser, "the home page").await;
    browser.screenshot("home-mobile").await;
    browser.click_link("Login with XWMS").await;
    browser.wait_for_heading(SANDBOX).await;
    assert_no_sideways_scrolling(&browser, "the sandbox login page").await;
    browser.screenshot("sandbox-login-mobile").await;
    browser.choose("Ada Lovelace (returning user)").await;
    browser.click_button("Continue").await;
    browser.wait_for_heading(PROFILE).await;
    assert_no_sideways_scrolling(&browser, "the profile").await;
    browser.screenshot("profile-mobile").await;
    browser.click_link("Your notes").await;
    browser.wait_for_heading("Your notes").await;
    // One long word: it must wrap, not widen the page.
    let long_word = "w".repeat(300);
    browser
        .execute(&format!(
            "document.getElementById('note-body').value = '{long_word}';"
        ))
        .await;
    browser.click_button("Add note").await;
    browser.open(&app.url("/notes")).await;
    browser.wait_for_heading("Your notes").await;
    assert!(
        browser.text().await.contains(&long_word),
        "the note is listed"
    );
    assert_no_sideways_scrolling(&browser, "the notes page").await;
    browser.screenshot("notes-mobile").await;
    browser.open(&app.url("/profile/sessions")).await;
    browser.wait_for_heading("Your devices").await;
    assert_no_sideways_scrolling(&browser, "your devices").await;
    browser.screenshot("your-devices-mobile").await;
    browser.open(&app.url("/nope")).await;
    browser.wait_for_heading("Page not found").await;
    assert_no_sideways_scrolling(&browser, "the 404 page").await;

    // Dark, on the desktop.
    browser.reset_viewport().await;
    let light = browser
        .execute("return getComputedStyle(document.body).backgroundColor;")
        .await;
    browser.emulate_color_scheme("dark").await;
    browser.open(&app.url("/profile")).await;
    browser.wait_for_heading(PROFILE).await;
    let dark = browser
        .execute("return getComputedStyle(document.body).backgroundColor;")
        .await;
    assert_ne!(
        light, dark,
        "prefers-color-scheme: dark changes the colours"
    );
    let inner_width = browser.execute("return window.innerWidth;").await;
    assert_eq!(inner_width.as_u64(), Some(u64::from(width)));
    let inner_height = browser.execute("return window.innerHeight;").await;
    assert_eq!(inner_height.as_u64(), Some(u64::from(height)));
    browser.screenshot("profile-dark").await;
    browser.open(&app.url("/")).await;
    browser.wait_for_heading(HOME).await;
    browser.screenshot("home-dark").await;
    browser.emulate_width(360, 780).await;
    browser.open(&app.url("/profile")).await;
    browser.wait_for_heading(PROFILE).await;
    browser.screenshot("profile-mobile-dark").await;
}

/// Presses Tab until the focused element's text or value matches, at most 25 times.
async fn tab_to(browser: &Browser, wanted: &str) {
    for _ in 0..25 {
        browser.press(Key::Tab).await;
        let focused = browser
            .execute(
                "const el = document.activeElement;
                 return (el.value && el.type === 'radio' ? el.value : el.textContent || '').trim();",
            )
            .await;
        if focused.as_str() == Some(wanted) {
            return;
        }
    }
    panic!("Tab never reached “{wanted}”");
}

/// The focused element shows a visible focus ring.
async fn assert_focus_is_visible(browser: &Browser) {
    let outline = browser
        .execute(
            "const s = getComputedStyle(document.activeElement);
             return [s.outlineStyle, parseFloat(s.outlineWidth)];",
        )
        .await;
    assert_ne!(outline[0], "none", "focus is visible: {outline}");
    assert!(
        outline[1].as_f64().unwrap_or(0.0) >= 2.0,
        "focus is visible: {outline}"
    );
}

#[actix_web::test]
async fn the_whole_login_works_with_the_keyboard_alone_and_without_javascript() {
    let app = spawn_app().await;
    let browser = Browser::start_without_javascript().await;
    // JavaScript really is off: this page's script would change its heading.
    browser
        .open("data:text/html,<h1>off</h1><script>document.querySelector('h1').textContent='on'</script>")
        .await;
    assert_eq!(
        browser.heading().await,
        "off",
        "the browser runs no page scripts"
    );

    browser.open(&app.url("/")).await;
    browser.wait_for_heading(HOME).await;
    let scripts = browser
        .execute("return document.querySelectorAll('script').length;")
        .await;
    assert_eq!(scripts.as_u64(), Some(0), "the pages need no JavaScript");

    tab_to(&browser, "Login with XWMS").await;
    assert_focus_is_visible(&browser).await;
    browser.press(Key::Enter).await;
    browser.wait_for_heading(SANDBOX).await;

    // The first persona has the focus in its group; the arrow key picks the next: Ada.
    tab_to(&browser, "new").await;
    assert_focus_is_visible(&browser).await;
    browser.press(Key::Down).await;
    tab_to(&browser, "Continue").await;
    assert_focus_is_visible(&browser).await;
    browser.press(Key::Enter).await;

    browser.wait_for_heading(PROFILE).await;
    assert_eq!(browser.testid("sub").await, "sandbox-ada");
    tab_to(&browser, "Log out").await;
    assert_focus_is_visible(&browser).await;
    browser.press(Key::Enter).await;
    browser
        .wait_for_heading("You are signed out of this site")
        .await;
    assert!(browser.text().await.contains("Login with XWMS"));
}
