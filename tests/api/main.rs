//! Integration tests: the real app over HTTP, a fresh PostgreSQL database per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod activity;
mod addresses;
mod background_jobs;
mod callback_errors;
mod clock_skew;
// Unix only: it runs PostgreSQL servers of its own as another user.
#[cfg(unix)]
mod database_tls;
mod deletion_races;
mod devices;
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
mod refresh;
mod replicas;
mod round_trips;
mod sandbox;
mod session;
mod session_endings;
mod step_up;
mod threats;
mod transactions;
