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

pub mod app;
pub mod db;
pub mod dev_database;
pub mod domain;
pub mod support;
pub mod web;
pub mod xwms;
