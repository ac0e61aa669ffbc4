//! The one place that turns any error response into a friendly page.
//!
//! The `ErrorHandlers` middleware calls `render_error_page` for every 4xx/5xx: ours
//! (`AppError`) and actix's own (404, 405, bad query strings). The page gets the site
//! layout, a message a person can act on, and a reference id; the cause chain goes to
//! the log, once, with the same reference id. The page never shows internals.

use std::fmt::Write as _;

use actix_web::HttpMessage as _;
use actix_web::HttpRequest;
use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::ErrorHandlerResponse;
use askama::Template;
use rand::Rng;

use crate::support::i18n::Lang;
use crate::support::pages::PageContext;
use crate::web::error::{AppError, LoginRefusal};
use crate::web::session_state::page_context;
use crate::xwms::XwmsError;

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    page: PageContext,
    status: u16,
    title: String,
    message: String,
    /// Show "Log in again" (login failures) rather than only "Home".
    offer_login: bool,
    /// Where "Log in again" goes: a new login that keeps the failed one's `next`.
    retry_href: String,
    reference: &'a str,
}

/// Where the failed login was going, for the "Log in again" button: set by the login
/// callback (`offer_login_retry`) once it knows which login the request is for.
#[derive(Debug, Clone)]
struct LoginRetry {
    next: Option<String>,
}

/// Lets a failure of this request offer a new login that goes on to `next` (a
/// same-site path, already checked when the login started), so a refused login is
/// never a dead end.
pub fn offer_login_retry(req: &HttpRequest, next: Option<String>) {
    req.extensions_mut().insert(LoginRetry { next });
}

/// `/xwms/auth`, with `?next=` when the failed login had one.
fn retry_href(next: Option<&str>) -> String {
    match next {
        Some(next) => format!(
            "/xwms/auth?next={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ),
        None => "/xwms/auth".to_owned(),
    }
}

/// What a person is told for each failure, in their language: a title and what they can
/// do (message ids of locales/*/main.ftl, `error-*-title` and `-body`), and whether to
/// offer a new login.
fn describe(error: Option<&AppError>, status: StatusCode, lang: &Lang) -> (String, String, bool) {
    let text = |name: &str| {
        (
            lang.text(&format!("error-{name}-title")),
            lang.text(&format!("error-{name}-body")),
        )
    };
    let ((title, message), offer_login) = match error {
        Some(AppError::NotFound) | None if status == StatusCode::NOT_FOUND => {
            (text("not-found"), false)
        }
        Some(AppError::MissingToken { provider_message }) => {
            let (title, body) = text("missing-token");
            let message = match provider_message {
                Some(said) => lang.text_with(
                    "error-missing-token-said",
                    &[("message", said.clone().into())],
                ),
                None => body,
            };
            ((title, message), true)
        }
        Some(AppError::LoginRefused(LoginRefusal::Expired)) => (text("expired"), true),
        Some(AppError::LoginRefused(LoginRefusal::NotTheSamePerson)) => {
            (text("not-same-person"), false)
        }
        Some(AppError::LoginRefused(_)) => (text("link"), true),
        Some(AppError::TokenRejected(_)) => (text("rejected"), true),
        Some(AppError::Xwms(XwmsError::Timeout(_))) => (text("timeout"), true),
        Some(AppError::Xwms(_)) => (text("xwms"), true),
        Some(AppError::Refresh(XwmsError::Refused { message, .. })) => (
            (
                lang.text("error-refresh-title"),
                lang.text_with(
                    "error-refresh-refused-body",
                    &[("message", message.clone().into())],
                ),
            ),
            false,
        ),
        Some(AppError::Refresh(XwmsError::Timeout(_))) => (
            (
                lang.text("error-refresh-title"),
                lang.text("error-refresh-timeout-body"),
            ),
            false,
        ),
        Some(AppError::Refresh(_)) => (text("refresh"), false),
        Some(AppError::RefreshElsewhere { provider }) => (
            (
                lang.text("error-refresh-title"),
                lang.text_with(
                    "error-refresh-elsewhere-body",
                    &[("provider", provider.clone().into())],
                ),
            ),
            false,
        ),
        Some(AppError::Forbidden(_)) => (text("forbidden"), false),
        Some(AppError::WrongHost { public_origin }) => (
            (
                lang.text("error-wrong-host-title"),
                lang.text_with(
                    "error-wrong-host-body",
                    &[("origin", public_origin.clone().into())],
                ),
            ),
            false,
        ),
        Some(AppError::DatabaseUnavailable(_)) => (text("unavailable"), false),
        _ => match status {
            StatusCode::METHOD_NOT_ALLOWED => (text("method"), false),
            StatusCode::TOO_MANY_REQUESTS => (text("too-many"), false),
            status if status.is_client_error() => (text("bad-request"), false),
            _ => (text("internal"), false),
        },
    };
    (title, message, offer_login)
}

/// A short id a person can quote and an operator can find in the log.
fn new_reference() -> String {
    let bytes: [u8; 5] = rand::rng().random();
    hex::encode_upper(bytes)
}

fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(chain, ": {cause}");
        source = cause.source();
    }
    chain
}

/// `ErrorHandlers` hook: gives every 4xx/5xx without a body of its own the error page.
/// Responses that already carry a non-text body (the JSON of `/health`) are left alone.
pub fn render_error_page<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let own_body = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| !value.starts_with("text/plain"));
    if own_body {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }

    let status = res.status();
    let reference = new_reference();
    let app_error = res
        .response()
        .error()
        .and_then(|err| err.as_error::<AppError>());
    // Log once, here, with the cause chain; the page gets only the reference.
    let path = res.request().path().to_owned();
    match (res.response().error(), app_error) {
        // A client past the rate limit is no fault of ours, and a flood of them must not
        // flood the log at warning level.
        (_, Some(AppError::TooManyRequests { .. })) => {
            log::info!("ref={reference} status={} path={path}", status.as_u16())
        }
        (_, Some(err)) if status.is_server_error() => {
            log::error!(
                "ref={reference} status={} path={path} error={}",
                status.as_u16(),
                cause_chain(err)
            )
        }
        (_, Some(err)) => {
            log::warn!(
                "ref={reference} status={} path={path} error={}",
                status.as_u16(),
                cause_chain(err)
            )
        }
        (Some(err), None) => log::warn!(
            "ref={reference} status={} path={path} error={err}",
            status.as_u16()
        ),
        (None, None) => log::info!("ref={reference} status={} path={path}", status.as_u16()),
    }

    let page = page_context(res.request());
    let (title, message, offer_login) = describe(app_error, status, &page.lang);
    let retry_next = res
        .request()
        .extensions()
        .get::<LoginRetry>()
        .and_then(|retry| retry.next.clone());
    let page = ErrorPage {
        page,
        status: status.as_u16(),
        title,
        message,
        offer_login,
        retry_href: retry_href(retry_next.as_deref()),
        reference: &reference,
    };
    let html = page.render().unwrap_or_else(|err| {
        log::error!("ref={reference} rendering the error page failed: {err}");
        format!("Error {}. Reference {reference}.", status.as_u16())
    });
    let (req, mut response) = res.into_parts();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    let response = response.set_body(html).map_into_boxed_body();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}

#[cfg(test)]
mod tests {
    use super::retry_href;

    #[test]
    fn log_in_again_keeps_next_as_one_encoded_query_parameter() {
        assert_eq!(retry_href(None), "/xwms/auth");
        assert_eq!(
            retry_href(Some("/notes?tab=1&x=2")),
            "/xwms/auth?next=%2Fnotes%3Ftab%3D1%26x%3D2"
        );
    }
}
