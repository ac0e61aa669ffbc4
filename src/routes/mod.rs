//! HTTP routes, one module per area, and what every page's layout needs.

pub mod auth;
pub mod health;
pub mod home;
pub mod profile;
pub mod static_files;

use std::time::Duration;

use actix_session::SessionExt;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use url::Url;

use crate::config::LoginBinding;
use crate::db::DbPool;
use crate::session::TypedSession;

/// Shared by every worker: what the handlers need besides the per-worker XWMS client.
pub struct AppState {
    pub pool: DbPool,
    /// Where XWMS sends the browser back. From configuration, never from request headers:
    /// a forged `Host` header must not be able to point XWMS at another site.
    pub redirect_uri: Url,
    pub login_binding: LoginBinding,
    pub login_max_age: Duration,
    /// True when the built-in sandbox stands in for XWMS: every page says so.
    pub sandbox: bool,
    pub session_idle_timeout: Duration,
    pub session_absolute_timeout: Duration,
    pub trusted_proxies: std::sync::Arc<Vec<ipnet::IpNet>>,
    /// Salt for hashing client IPs in the activity log.
    pub ip_hash_salt: Vec<u8>,
}

/// A Content-Security-Policy: only our own scripts, styles and images (plus https and
/// data: pictures), no plugins, no framing, no `<base>`; forms may go where `$forms` says.
macro_rules! content_security_policy {
    ($forms:literal) => {
        concat!(
            "default-src 'self'; img-src 'self' https: data:; object-src 'none'; ",
            "frame-ancestors 'none'; base-uri 'none'; form-action ",
            $forms
        )
    };
}

/// The policy of every response (see `startup::security_headers`).
pub const CONTENT_SECURITY_POLICY: &str = content_security_policy!("'self'");

/// The policy of a page whose form leads to XWMS: browsers block a form whose answer
/// redirects to another origin under `form-action 'self'`.
pub const CONTENT_SECURITY_POLICY_FORM_TO_XWMS: &str = content_security_policy!("'self' https:");

/// A rendered page. Pages may show personal data, so browsers must not keep them:
/// after logout the back button must not bring a profile back.
pub fn html_response(html: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html)
}

/// A 303 to `location` that no cache keeps (every redirect of the login flow).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// What the layout (`templates/base.html`) shows on every page.
pub struct PageContext {
    pub sandbox: bool,
    pub signed_in_as: Option<String>,
    /// The logout form's CSRF token, present when signed in.
    pub csrf_token: Option<String>,
}

impl PageContext {
    pub fn from_http_request(req: &HttpRequest) -> Self {
        let sandbox = req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|state| state.sandbox);
        let session = TypedSession::from_session(req.get_session());
        let signed_in = matches!(session.user_id(), Ok(Some(_)));
        PageContext {
            sandbox,
            signed_in_as: signed_in
                .then(|| session.display_name().ok().flatten())
                .flatten()
                .or_else(|| signed_in.then(|| "your XWMS account".to_owned())),
            csrf_token: signed_in
                .then(|| session.csrf_token().ok().flatten())
                .flatten(),
        }
    }
}
