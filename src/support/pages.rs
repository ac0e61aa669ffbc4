//! What every HTML answer shares: the layout's data, the response helpers and the
//! Content-Security-Policy. Plain data and actix types only, so the app's pages and the
//! sandbox's (a provider of its own) both use them.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::support::i18n::Lang;

/// What the layout (`templates/base.html`) shows on every page, and the page's language:
/// templates get every text through it (`page.t("id")`, see `i18n`).
pub struct PageContext {
    /// Show the "Sandbox: not real XWMS" banner.
    pub sandbox: bool,
    pub signed_in_as: Option<String>,
    /// The logout form's CSRF token, present when signed in.
    pub csrf_token: Option<String>,
    pub lang: Lang,
    /// This page's path, percent-encoded: where the language switch returns.
    pub here: String,
}

/// What stays as it is in the language switch's `?next=`: a path's own characters.
const NEXT_KEEPS: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.');

impl PageContext {
    /// The layout for a visitor who is not signed in (the sandbox's own pages: the
    /// provider does not know the app's session), in the request's language.
    pub fn anonymous(sandbox: bool, req: &HttpRequest) -> Self {
        // The language switch comes back to this page's path: never its query (the login
        // callback's carries the token), never a URL of the login flow, which is
        // single-use, and never a path that answered a form post (`/logout` has no page):
        // those switch on the home page.
        let path = req.path();
        let here = if path.starts_with("/xwms/") || req.method() != Method::GET {
            "/"
        } else {
            path
        };
        PageContext {
            sandbox,
            signed_in_as: None,
            csrf_token: None,
            lang: Lang::of_request(req),
            here: utf8_percent_encode(here, NEXT_KEEPS).to_string(),
        }
    }

    /// The text `id` in the page's language (escaped by askama like any text).
    pub fn t(&self, id: impl AsRef<str>) -> String {
        self.lang.text(id.as_ref())
    }

    /// The text `id` with one text argument.
    pub fn t1(&self, id: &str, name: &'static str, value: impl AsRef<str>) -> String {
        self.lang
            .text_with(id, &[(name, value.as_ref().to_owned().into())])
    }

    /// The text `id` with two text arguments.
    pub fn t2(
        &self,
        id: &str,
        name: &'static str,
        value: impl AsRef<str>,
        name2: &'static str,
        value2: impl AsRef<str>,
    ) -> String {
        self.lang.text_with(
            id,
            &[
                (name, value.as_ref().to_owned().into()),
                (name2, value2.as_ref().to_owned().into()),
            ],
        )
    }

    /// The text `id` with one number argument (for plurals: `{ $days -> ... }`).
    pub fn count<N: Copy + TryInto<i64>>(&self, id: &str, name: &'static str, value: &N) -> String {
        let value = (*value).try_into().unwrap_or(i64::MAX);
        self.lang.text_with(id, &[(name, value.into())])
    }

    /// A message with markup, for `{{ page.html("...-html")|safe }}`: only ids ending in
    /// `-html`, which take no arguments (so nothing from outside is ever unescaped).
    pub fn html(&self, id: &str) -> String {
        if id.ends_with("-html") {
            self.lang.text(id)
        } else {
            log::warn!("page.html({id:?}): only -html messages may be shown unescaped");
            String::new()
        }
    }

    /// A moment in the page's language, to the minute.
    pub fn datetime(&self, at: &DateTime<Utc>) -> String {
        self.lang.datetime(at, false)
    }

    /// A moment in the page's language, to the second.
    pub fn datetime_seconds(&self, at: &DateTime<Utc>) -> String {
        self.lang.datetime(at, true)
    }

    /// The language switch: every language the site speaks, as (tag, own name, is this
    /// page's language).
    pub fn languages(&self) -> Vec<(String, String, bool)> {
        Lang::all()
            .map(|lang| {
                let current = lang == self.lang;
                (lang.tag(), lang.name(), current)
            })
            .collect()
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
