//! What every HTML answer shares: the layout's data, the response helpers and the
//! Content-Security-Policy. Plain data and actix types only, so the app's pages and the
//! sandbox's (a provider of its own) both use them.

use actix_web::HttpResponse;
use actix_web::http::header;

/// What the layout (`templates/base.html`) shows on every page.
pub struct PageContext {
    /// Show the "Sandbox: not real XWMS" banner.
    pub sandbox: bool,
    pub signed_in_as: Option<String>,
    /// The logout form's CSRF token, present when signed in.
    pub csrf_token: Option<String>,
}

impl PageContext {
    /// The layout for a visitor who is not signed in (the sandbox's own pages: the
    /// provider does not know the app's session).
    pub fn anonymous(sandbox: bool) -> Self {
        PageContext {
            sandbox,
            signed_in_as: None,
            csrf_token: None,
        }
    }
}

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

/// The policy of every response (`startup` sends it as a default header).
pub const CONTENT_SECURITY_POLICY: &str = content_security_policy!("'self'");

/// The policy of a page whose form leads to XWMS: browsers block a form whose answer
/// redirects to another origin under `form-action 'self'`.
pub const CONTENT_SECURITY_POLICY_FORM_TO_XWMS: &str = content_security_policy!("'self' https:");
