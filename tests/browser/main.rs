//! End-to-end tests in a real browser: headless Chromium, driven over WebDriver,
//! against the real app (sandbox provider, fresh database) on a random port.
//!
//! Needs `chromium` and `chromedriver` (`apt-get install chromium chromium-driver`);
//! without them these tests fail, saying so. Every run saves screenshots of the pages
//! under `target/screenshots/`; `UPDATE_SCREENSHOTS=1` also refreshes
//! `docs/screenshots/`.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../api/helpers.rs"]
mod helpers;
mod journeys;
mod looks;
mod support;
mod your_data;
