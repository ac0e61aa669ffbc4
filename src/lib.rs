//! xwms-starter: "Log in with XWMS" for actix-web, askama and Diesel on PostgreSQL.
//!
//! Data flows route -> (session, XWMS client, accounts) -> db -> template. The rule the
//! whole crate teaches lives in [`accounts`]: link accounts by `sub`, never by email.

pub mod accounts;
pub mod activity;
pub mod client_info;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod healthcheck;
pub mod metrics;
pub mod routes;
pub mod session;
pub mod startup;
pub mod xwms;
