//! One error type for handlers: what went wrong, and which status that is.
//!
//! Handlers return `Result<_, AppError>`. `AppError` only picks the status and leaves
//! the body empty; `error_page` then renders every 4xx/5xx with the site layout, a
//! message a person can act on, and a reference id, and logs the cause chain once.

use actix_web::body::BoxBody;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};

use crate::db::DbError;
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
    /// A "Confirm with XWMS" came back for another person than the one signed in.
    #[error("the confirmation came back for another person")]
    NotTheSamePerson,
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
    /// "Refresh from XWMS" got no usable answer (XWMS does not know the person any more,
    /// refused, failed or did not answer in time); nothing was changed.
    #[error("refreshing from XWMS failed")]
    Refresh(#[source] XwmsError),
    /// "Refresh from XWMS" for an account linked through another provider than the one
    /// this app talks to now (the sandbox, another XWMS): that one cannot speak for it.
    #[error("the account is linked through {provider}")]
    RefreshElsewhere { provider: String },
    /// Past the per-client limit of the login steps (`web::rate_limit`): 429, with how
    /// long to wait in `Retry-After`.
    #[error("too many login requests from this client")]
    TooManyRequests { retry_after: std::time::Duration },
    #[error("request refused: {0}")]
    Forbidden(&'static str),
    /// A form sent to another host than the public origin (`public_origin`).
    #[error("request for another host than {public_origin}")]
    WrongHost { public_origin: String },
    #[error("the database is unavailable")]
    DatabaseUnavailable(#[source] DbError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        AppError::Internal(Box::new(err))
    }

    /// A short, stable label for metrics (`xwms_logins_failed_total{reason=...}`).
    pub fn reason(&self) -> &'static str {
        match self {
            AppError::NotFound => "not_found",
            AppError::MissingToken { .. } => "missing_token",
            AppError::LoginRefused(LoginRefusal::Expired) => "expired",
            AppError::LoginRefused(LoginRefusal::TokenReused) => "token_reused",
            AppError::LoginRefused(LoginRefusal::NotTheSamePerson) => "not_the_same_person",
            AppError::LoginRefused(_) => "login_csrf",
            AppError::TokenRejected(_) => "token_rejected",
            AppError::Xwms(XwmsError::Timeout(_)) => "xwms_timeout",
            AppError::Xwms(_) => "xwms_error",
            AppError::Refresh(_) => "refresh_failed",
            AppError::RefreshElsewhere { .. } => "refresh_elsewhere",
            AppError::TooManyRequests { .. } => "rate_limited",
            AppError::Forbidden(_) => "forbidden",
            AppError::WrongHost { .. } => "wrong_host",
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
            AppError::Xwms(err) | AppError::Refresh(err) => err.status_for_user(),
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::RefreshElsewhere { .. } => StatusCode::CONFLICT,
            AppError::WrongHost { .. } => StatusCode::MISDIRECTED_REQUEST,
            AppError::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// An empty body: `render_error_page` fills it in with the site layout.
    fn error_response(&self) -> HttpResponse<BoxBody> {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let AppError::TooManyRequests { retry_after } = self {
            // Whole seconds, rounded up, at least one.
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response.insert_header((header::RETRY_AFTER, seconds.max(1).to_string()));
        }
        response.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
        let retry_after = |after: Duration| {
            AppError::TooManyRequests { retry_after: after }
                .error_response()
                .headers()
                .get(header::RETRY_AFTER)
                .expect("a Retry-After")
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(retry_after(Duration::from_secs(2)), "2");
        assert_eq!(retry_after(Duration::from_millis(1500)), "2");
        assert_eq!(retry_after(Duration::from_millis(1)), "1");
        assert_eq!(retry_after(Duration::ZERO), "1");
    }
}
