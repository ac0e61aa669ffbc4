//! One error type for handlers, and the one place that turns any error response into a
//! friendly page.
//!
//! Handlers return `Result<_, AppError>`. `AppError` only picks the status; the
//! `ErrorHandlers` middleware (`render_error_page`) then renders every 4xx/5xx — ours
//! and actix's own (404, 405, bad query strings) — with the site layout, a message a
//! person can act on, and a reference id. The cause chain goes to the log, once, with
//! the same reference id; the page never shows internals.

use std::fmt::Write as _;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use rand::Rng;

use crate::db::DbError;
use crate::routes::PageContext;
use crate::xwms::XwmsError;

/// Why the callback refused a login before asking XWMS anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoginRefusal {
    #[error("this browser has no login in progress")]
    NoPendingLogin,
    #[error("the login was started too long ago")]
    Expired,
    #[error("the token is not the one issued to this browser")]
    TokenMismatch,
    #[error("the token was used before")]
    TokenReused,
    #[error("the token is malformed")]
    MalformedToken,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("page not found")]
    NotFound,
    /// The callback arrived without `?token=`; XWMS may have said why.
    #[error("login callback without a token")]
    MissingToken { provider_message: Option<String> },
    #[error("login refused: {0}")]
    LoginRefused(LoginRefusal),
    /// XWMS said the callback token is not valid (expired, used, or forged).
    #[error("XWMS did not accept the login token")]
    TokenRejected(#[source] XwmsError),
    #[error("a call to XWMS failed")]
    Xwms(#[source] XwmsError),
    #[error("request refused: {0}")]
    Forbidden(&'static str),
    #[error("the database is unavailable")]
    DatabaseUnavailable(#[source] DbError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        AppError::Internal(Box::new(err))
    }
}

impl AppError {
    /// A short, stable label for metrics (`xwms_logins_failed_total{reason=...}`).
    pub fn reason(&self) -> &'static str {
        match self {
            AppError::NotFound => "not_found",
            AppError::MissingToken { .. } => "missing_token",
            AppError::LoginRefused(LoginRefusal::Expired) => "expired",
            AppError::LoginRefused(LoginRefusal::TokenReused) => "token_reused",
            AppError::LoginRefused(_) => "login_csrf",
            AppError::TokenRejected(_) => "token_rejected",
            AppError::Xwms(XwmsError::Timeout(_)) => "xwms_timeout",
            AppError::Xwms(_) => "xwms_error",
            AppError::Forbidden(_) => "forbidden",
            AppError::DatabaseUnavailable(_) => "database_unavailable",
            AppError::Internal(_) => "internal",
        }
    }
}

impl From<DbError> for AppError {
    fn from(err: DbError) -> Self {
        if err.is_unavailable() {
            AppError::DatabaseUnavailable(err)
        } else {
            AppError::Internal(Box::new(err))
        }
    }
}

impl From<actix_session::SessionGetError> for AppError {
    fn from(err: actix_session::SessionGetError) -> Self {
        AppError::internal(err)
    }
}

impl From<actix_session::SessionInsertError> for AppError {
    fn from(err: actix_session::SessionInsertError) -> Self {
        AppError::internal(err)
    }
}

impl From<askama::Error> for AppError {
    fn from(err: askama::Error) -> Self {
        AppError::internal(err)
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::MissingToken { .. } | AppError::LoginRefused(_) => StatusCode::BAD_REQUEST,
            AppError::TokenRejected(_) => StatusCode::UNAUTHORIZED,
            AppError::Xwms(err) => err.status_for_user(),
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// An empty body: `render_error_page` fills it in with the site layout.
    fn error_response(&self) -> HttpResponse<BoxBody> {
        HttpResponse::build(self.status_code())
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()
    }
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    page: PageContext,
    status: u16,
    title: &'a str,
    message: String,
    /// Show "Try logging in again" (login failures) rather than only "Home".
    offer_login: bool,
    reference: &'a str,
}

/// What a person is told for each failure: what happened and what they can do.
fn describe(error: Option<&AppError>, status: StatusCode) -> (&'static str, String, bool) {
    let text = |s: &str| s.to_owned();
    match error {
        Some(AppError::NotFound) | None if status == StatusCode::NOT_FOUND => (
            "Page not found",
            text("There is nothing at this address. Check the link, or start from the home page."),
            false,
        ),
        Some(AppError::MissingToken { provider_message }) => (
            "Login not completed",
            match provider_message {
                Some(message) => {
                    format!("XWMS sent you back without a login. XWMS said: “{message}”")
                }
                None => text(
                    "XWMS sent you back without a login token, so there is nothing to check. Please start the login again.",
                ),
            },
            true,
        ),
        Some(AppError::LoginRefused(LoginRefusal::Expired)) => (
            "Login took too long",
            text(
                "This login was not finished in time. For your safety it has expired; please start again.",
            ),
            true,
        ),
        Some(AppError::LoginRefused(_)) => (
            "This login link is not valid here",
            text(
                "This login was not started in this browser, or its link was already used. A login link only works once, in the browser that clicked “Login with XWMS”. Please start again.",
            ),
            true,
        ),
        Some(AppError::TokenRejected(_)) => (
            "XWMS did not accept this login",
            text(
                "The login token was refused by XWMS: it may have expired or been used already. Please start the login again.",
            ),
            true,
        ),
        Some(AppError::Xwms(XwmsError::Timeout(_))) => (
            "XWMS is not answering",
            text("XWMS did not answer in time. Nothing was changed; please try again in a moment."),
            true,
        ),
        Some(AppError::Xwms(_)) => (
            "XWMS had a problem",
            text(
                "We could not complete the login with XWMS. Nothing was changed; please try again in a moment.",
            ),
            true,
        ),
        Some(AppError::Forbidden(_)) => (
            "Request refused",
            text(
                "This request could not be verified as coming from this site. Please reload the page and try again.",
            ),
            false,
        ),
        Some(AppError::DatabaseUnavailable(_)) => (
            "Temporarily unavailable",
            text(
                "The service is temporarily unavailable. Nothing was changed; please try again in a moment.",
            ),
            false,
        ),
        _ => match status {
            StatusCode::METHOD_NOT_ALLOWED => (
                "Not allowed",
                text("This page cannot be used that way."),
                false,
            ),
            StatusCode::TOO_MANY_REQUESTS => (
                "Too many requests",
                text("Please wait a moment before trying again."),
                false,
            ),
            status if status.is_client_error() => (
                "Bad request",
                text("The request could not be understood. Please go back and try again."),
                false,
            ),
            _ => (
                "Something went wrong",
                text(
                    "An unexpected error happened on our side. It has been logged; please try again later.",
                ),
                false,
            ),
        },
    }
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

    let (title, message, offer_login) = describe(app_error, status);
    let page = ErrorPage {
        page: PageContext::from_http_request(res.request()),
        status: status.as_u16(),
        title,
        message,
        offer_login,
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
