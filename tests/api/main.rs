//! Integration tests: the real app over HTTP, a fresh PostgreSQL database per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod activity;
mod background_jobs;
mod callback_errors;
mod database_tls;
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
mod sandbox;
mod session;
mod session_endings;
mod threats;
