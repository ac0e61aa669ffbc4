//! Integration tests: the real app over HTTP, a fresh PostgreSQL database per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod activity;
mod addresses;
mod callback_errors;
// Unix only: it runs PostgreSQL servers of its own as another user.
mod clock_skew;
#[cfg(unix)]
mod database_tls;
mod deletion_races;
mod doctor;
mod guide;
mod helpers;
mod languages;
mod logging;
mod login_flow;
mod metrics;
mod migrations;
mod notes;
mod pages;
mod privacy;
mod readme;
mod replicas;
mod session;
mod session_endings;
mod threats;
