//! Forms that change something: posted from one of our own pages, never by another site.
//!
//! Two checks, both required: the request does not come from another site
//! (`Sec-Fetch-Site`, `Origin`, `Referer`), and it carries the session's CSRF token.
//! `SameSiteForm<T>` does both as an extractor: a handler that takes one only runs for a
//! genuine form post of ours (see docs/extending.md, "A form that posts").

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;

use crate::support::config::LoginBinding;
use crate::support::crypto::constant_time_eq;
use crate::web::error::AppError;
use crate::web::session_state::TypedSession;
use crate::web::state::AppState;

/// A form that carries the page's CSRF token (`<input name="csrf_token">`).
pub trait CsrfProtected {
    fn csrf_token(&self) -> &str;
}

/// A form body of type `T`, accepted only when posted from our own site with this
/// session's CSRF token; otherwise the request is refused with 403 before the handler.
pub struct SameSiteForm<T>(pub T);

impl<T> FromRequest for SameSiteForm<T>
where
    T: DeserializeOwned + CsrfProtected + 'static,
{
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let form = web::Form::<T>::from_request(&req, payload);
        Box::pin(async move {
            // A missing or malformed body is refused like a missing token: the form
            // was not ours.
            let form = form.await.ok().map(web::Form::into_inner);
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or(AppError::Forbidden("no app state"))?;
            let session = TypedSession::extract(&req).await?;
            check_same_site_form(
                &req,
                state,
                &session,
                form.as_ref().map(CsrfProtected::csrf_token),
            )?;
            form.map(SameSiteForm)
                .ok_or_else(|| AppError::Forbidden("form post without a valid CSRF token").into())
        })
    }
}

/// The check every form post of ours passes: sent from one of our own pages (not by
/// another site) and carrying this session's CSRF token.
pub fn check_same_site_form(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
    sent_token: Option<&str>,
) -> Result<(), AppError> {
    if comes_from_another_site(req, state) {
        return Err(AppError::Forbidden("cross-site form post"));
    }
    match (session.csrf_token()?.as_deref(), sent_token) {
        (Some(expected), Some(sent)) if constant_time_eq(expected, sent) => Ok(()),
        _ => Err(AppError::Forbidden("form post without a valid CSRF token")),
    }
}

/// True for a request another site made the browser send: `Sec-Fetch-Site` other than
/// `same-origin` or `none` (typed or bookmarked), or an `Origin` or `Referer` that is
/// not ours (our origin is the callback URL's, from configuration). A request with
/// none of these headers (an old browser, curl) is taken as our own.
pub fn comes_from_another_site(req: &HttpRequest, state: &AppState) -> bool {
    let header = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let ours = state.redirect_uri.origin();
    let foreign = |url: &str| url::Url::parse(url).map_or(true, |url| url.origin() != ours);
    if let Some(site) = header(header::HeaderName::from_static("sec-fetch-site"))
        && !matches!(site, "same-origin" | "none")
    {
        return true;
    }
    header(header::ORIGIN).is_some_and(foreign) || header(header::REFERER).is_some_and(foreign)
}

/// Whether a login start must get the "Continue to XWMS" page instead of a redirect:
/// another site sent it (`comes_from_another_site`), or, with
/// `XWMS_LOGIN_BINDING=session`, nothing says where it came from.
///
/// In session binding any pending login accepts any callback token, so a start that
/// another site can cause is login CSRF. A start without `Sec-Fetch-Site`, `Origin` and
/// `Referer` proves nothing: browsers of the last years send `Sec-Fetch-Site` on every
/// navigation, so only old browsers and scripts are asked for the one extra click. With
/// token binding the callback must bring the token issued to this browser, and such a
/// start goes straight on.
pub fn login_start_needs_a_click(req: &HttpRequest, state: &AppState) -> bool {
    if comes_from_another_site(req, state) {
        return true;
    }
    let says_where_from = [
        header::HeaderName::from_static("sec-fetch-site"),
        header::ORIGIN,
        header::REFERER,
    ]
    .iter()
    .any(|name| req.headers().contains_key(name));
    state.login_binding == LoginBinding::Session && !says_where_from
}
