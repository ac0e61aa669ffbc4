//! xwms-starter: "Log in with XWMS" for actix-web, askama and Diesel on PostgreSQL.
//!
//! Each folder of `src/` is one layer (docs/architecture.md). A module imports only from
//! its own layer or the ones below it, and `scripts/check-layers` holds every folder to
//! that, top to bottom:
//!
//! - [`app`]: wiring. The server and its middleware ([`app::startup`]), `xwms-starter
//!   doctor` ([`app::doctor`]) and `xwms-starter healthcheck`.
//! - [`web`]: HTTP. The handlers ([`web::routes`]), the typed session in the cookie
//!   ([`web::session_state`]), CSRF, client addresses, the rate limit, the public origin,
//!   the error pages, and [`web::state::AppState`].
//! - [`xwms`]: the provider. The XWMS client, and the sandbox that stands in for XWMS.
//! - [`domain`]: what a product changes. The linking rule ([`domain::accounts`]: by `sub`,
//!   never by email), the activity log, the server's records of sessions, privacy
//!   (download my data, delete my account) and notes (docs/extending.md's example).
//! - [`db`]: storage. The pool, the migrations, the schema and the row types.
//! - [`support`]: the foundation. Configuration, tokens and hashes, URLs, the pages'
//!   shared parts, languages and metrics.
//!
//! Two workspace crates hold infrastructure a product does not edit: `pg-connect`
//! (PostgreSQL over TLS, libpq's `sslmode`s) and `dev-postgres` (the private development
//! database).

pub mod app;
pub mod db;
pub mod domain;
pub mod support;
pub mod web;
pub mod xwms;
