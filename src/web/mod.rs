//! HTTP: the handlers and what every request passes through (the session and its limits,
//! CSRF, client addresses, the rate limit, the public origin) and the error pages.

pub mod client_info;
pub mod csrf;
pub mod error;
pub mod error_page;
pub mod public_origin;
pub mod rate_limit;
pub mod routes;
pub mod session_state;
pub mod state;
pub mod step_up;
