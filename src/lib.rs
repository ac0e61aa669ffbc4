//! xwms-starter: "Log in with XWMS" for actix-web, askama and Diesel on PostgreSQL.
//!
//! The modules form one-way layers (docs/architecture.md); each imports only from its
//! own layer or the ones below it:
//!
//! - wiring: [`startup`], [`doctor`] (`xwms-starter doctor`: checks a deployment)
//! - web: [`routes`], [`session`], [`csrf`], [`client_info`], [`rate_limit`],
//!   [`public_origin`], [`error`], [`error_page`]
//! - provider: [`xwms`] (the XWMS client, and the sandbox as a provider of its own)
//! - domain: [`accounts`] (the linking rule: by `sub`, never by email), [`activity`],
//!   [`session_state`], the shared [`state`], [`privacy`] (download my data, delete my
//!   account), and [`notes`] (the worked example of docs/extending.md)
//! - storage: [`db`]
//! - foundation: [`config`], [`crypto`], [`urls`], [`pages`], [`i18n`], [`metrics`],
//!   [`healthcheck`], [`dev_database`]

pub mod accounts;
pub mod activity;
pub mod client_info;
pub mod config;
pub mod crypto;
pub mod csrf;
pub mod db;
pub mod dev_database;
pub mod doctor;
pub mod error;
pub mod error_page;
pub mod healthcheck;
pub mod i18n;
pub mod metrics;
pub mod notes;
pub mod pages;
pub mod privacy;
pub mod public_origin;
pub mod rate_limit;
pub mod routes;
pub mod session;
pub mod session_state;
pub mod startup;
pub mod state;
pub mod urls;
pub mod xwms;
