//! The profile: the local account and the XWMS identity linked to it, and why; and what
//! a person may do with their data there: download it, or delete the account.
//!
//! - `GET /profile`: the page.
//! - `GET /profile/data`: "Download my data", a JSON file of everything stored about
//!   the signed-in user (`privacy::export_personal_data`).
//! - `GET /profile/delete`: "Delete my account", a page saying what goes and what stays;
//!   its button posts to `POST /profile/delete` (a `SameSiteForm`: our own page, with
//!   the session's CSRF token), which deletes the account and ends the session.
//! - `GET /account-deleted`: where that ends; it shows no personal data.
//! - `POST /profile/refresh`: "Refresh from XWMS", the name, email and picture as XWMS
//!   has them now (`get/user/info`), then back to the profile saying what was kept.

use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::models::SecurityEvent;
use crate::domain::accounts::{
    Account, AccountAndActivity, account_and_activity, find_account, refresh_profile,
};
use crate::domain::activity::{ClientInfo, EventDetail};
use crate::domain::privacy::{delete_account, export_personal_data};
use crate::support::devices::Device;
use crate::support::pages::{PageContext, html_response, see_other};
use crate::web::csrf::{CsrfProtected, SameSiteForm};
use crate::web::error::AppError;
use crate::web::rate_limit::limit_login_steps;
use crate::web::session_state::{
    LoginSummary, PageAnswer, PageRead, SignedInUser, TypedSession, page_context, take_page_read,
};
use crate::web::state::AppState;
use crate::web::step_up::refusal_unless_recent_login;
use crate::xwms::XwmsClient;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(PROFILE_PATH).route(web::get().to(profile)))
        .service(web::resource("/profile/data").route(web::get().to(download_data)))
        .service(
            web::resource("/profile/delete")
                .route(web::get().to(confirm_delete))
                .route(web::post().to(delete)),
        )
        .service(
            web::resource("/profile/refresh")
                // Each refresh calls XWMS: the login steps' per-client limit holds here too.
                .wrap(from_fn(limit_login_steps))
                .route(web::post().to(refresh)),
        )
        .service(web::resource("/account-deleted").route(web::get().to(account_deleted)));
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    page: PageContext,
    account: Account,
    last_login: LoginSummary,
    activity: Vec<SecurityEvent>,
    /// After "Refresh from XWMS": the fields XWMS sent no value for (message ids).
    refreshed: Option<Vec<&'static str>>,
}

#[derive(Deserialize)]
struct ProfileQuery {
    /// Set by the redirect after a refresh: `all`, or the fields kept (`name,email`).
    refreshed: Option<String>,
}

/// The fields a refresh may keep, and their names on the page.
const REFRESH_FIELDS: [(&str, &str); 3] = [
    ("name", "fact-name"),
    ("email", "fact-email"),
    ("picture", "fact-picture"),
];

/// How many recent security events the profile lists.
const RECENT_ACTIVITY: i64 = 10;

const PROFILE_PATH: &str = "/profile";

/// The profile's account and activity, sent with the session check (one round trip for
/// the page; `web::session_state::PageRead`). Registered in `app::startup`.
pub const PROFILE_READ: PageRead = PageRead {
    pattern: PROFILE_PATH,
    read: |conn, user_id| {
        Box::pin(async move {
            let found: AccountAndActivity =
                account_and_activity(conn, user_id, RECENT_ACTIVITY).await?;
            Ok(Box::new(found) as PageAnswer)
        })
    },
};

impl ProfilePage {
    fn email_or_none(&self, email: &Option<String>) -> String {
        email.clone().unwrap_or_else(|| self.page.t("value-none"))
    }

    /// What the activity list shows after an event's name: an email change in the page's
    /// language ("no address" for none), a provider or a reason as it is, the device of a
    /// session ended from another.
    fn event_detail(&self, event: &SecurityEvent) -> Option<String> {
        Some(match EventDetail::of(event)? {
            EventDetail::EmailChange { from, to } => self.page.t2(
                "event-email-change-detail",
                "from",
                self.email_or_none(&from),
                "to",
                self.email_or_none(&to),
            ),
            EventDetail::Provider { provider } => provider,
            EventDetail::Refusal { reason } => reason,
            EventDetail::EndedSession { user_agent } => {
                Device::of(user_agent.as_deref()).describe(&self.page.lang)
            }
        })
    }
}

/// The signed-in user's account; `None`, with the session ended, when it was deleted
/// since the session middleware looked (in another tab): the caller sends them home.
async fn account_of(
    state: &AppState,
    session: &TypedSession,
    user: SignedInUser,
) -> Result<Option<Account>, AppError> {
    let account = find_account(&state.pool, user.user_id).await?;
    Ok(signed_out_unless_found(session, account))
}

/// `found`, or the session ended when the account it is for is gone.
fn signed_out_unless_found<T>(session: &TypedSession, found: Option<T>) -> Option<T> {
    if found.is_none() {
        session.end_signed_in();
    }
    found
}

/// Signed in only: `SignedInUser` sends anyone else home. The user's data came with the
/// session check, for the user it checked (`PROFILE_READ`).
async fn profile(
    req: HttpRequest,
    session: TypedSession,
    _signed_in: SignedInUser,
    query: web::Query<ProfileQuery>,
) -> Result<HttpResponse, AppError> {
    // The account and its activity: read together with the session check (`PROFILE_READ`),
    // which brings them whenever the session is current, as it is for a `SignedInUser`.
    let found: AccountAndActivity = take_page_read(&req)?;
    let Some((account, activity)) = signed_out_unless_found(&session, found) else {
        return Ok(see_other("/"));
    };
    let html = ProfilePage {
        page: page_context(&req),
        account,
        last_login: session.last_login()?.unwrap_or_default(),
        activity,
        // Only names of the fields above are taken from the query: it is only text.
        refreshed: query.refreshed.as_deref().map(|kept| {
            REFRESH_FIELDS
                .iter()
                .filter(|(field, _)| kept.split(',').any(|named| named == *field))
                .map(|(_, message)| *message)
                .collect()
        }),
    }
    .render()?;
    Ok(html_response(html))
}

/// "Download my data": everything stored about the signed-in user, as a JSON file.
/// Only ever the session's own user; anyone else is sent home by `SignedInUser`.
/// The download is recorded in the activity log, in the same transaction as the
/// reading (see `privacy::export_personal_data`), so the file ends with it.
async fn download_data(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    user: SignedInUser,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    // Everything in one file: a stolen session's best prize. No data leaves without a
    // recent login.
    if let Some(refusal) = refusal_unless_recent_login(&req, &state, &session, "/profile")? {
        return Ok(refusal);
    }
    let Some(data) = export_personal_data(&state.pool, user.user_id, &client).await? else {
        session.end_signed_in();
        return Ok(see_other("/"));
    };
    let json = serde_json::to_vec_pretty(&data).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"my-xwms-starter-data.json\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(json))
}

#[derive(Template)]
#[template(path = "delete_account.html")]
struct DeleteAccountPage {
    page: PageContext,
    csrf_token: String,
    account: Account,
    /// How long the anonymous "account deleted" record is kept, in days.
    record_kept_days: u64,
}

async fn confirm_delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    user: SignedInUser,
) -> Result<HttpResponse, AppError> {
    let Some(account) = account_of(&state, &session, user).await? else {
        return Ok(see_other("/"));
    };
    let html = DeleteAccountPage {
        page: page_context(&req),
        csrf_token: session.csrf_token_or_new()?,
        account,
        record_kept_days: state.anonymous_activity_retention.as_secs() / 86_400,
    }
    .render()?;
    Ok(html_response(html))
}

/// The confirmation form: nothing but the CSRF token every form of ours carries.
#[derive(Deserialize)]
struct DeleteForm {
    csrf_token: String,
}

impl CsrfProtected for DeleteForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// Deletes the signed-in user's account (see `privacy::delete_account` for what goes
/// and what stays), then deletes this browser's cookie. The user's other sessions end
/// at their next request, because their user is gone.
async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    user: SignedInUser,
    client: ClientInfo,
    _form: SameSiteForm<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(refusal) = refusal_unless_recent_login(&req, &state, &session, "/profile/delete")? {
        return Ok(refusal);
    }
    if !delete_account(&state.pool, user.user_id, &client).await? {
        // Deleted meanwhile (another tab): the outcome the person asked for.
        log::info!("account {} was already deleted", user.user_id);
    }
    session.log_out();
    Ok(see_other("/account-deleted"))
}

/// The refresh button's form: the CSRF token every form of ours carries.
type RefreshForm = DeleteForm;

/// "Refresh from XWMS": asks XWMS (`get/user/info`) for this account's `sub` and updates
/// the name, email and picture as a login would (`accounts::refresh_profile`; an email
/// change gets its notice and its event). A field XWMS sends as null keeps its stored
/// value, and the profile says which. XWMS refusing (a person it no longer knows), failing
/// or not answering in time is an error page; nothing is changed then.
async fn refresh(
    state: web::Data<AppState>,
    xwms: web::Data<XwmsClient>,
    session: TypedSession,
    user: SignedInUser,
    client: ClientInfo,
    _form: SameSiteForm<RefreshForm>,
) -> Result<HttpResponse, AppError> {
    let Some(account) = account_of(&state, &session, user).await? else {
        return Ok(see_other("/"));
    };
    if account.provider != xwms.provider() {
        // Linked through another provider (the sandbox, another XWMS): this one cannot
        // speak for that sub.
        return Err(AppError::RefreshElsewhere {
            provider: account.provider,
        });
    }
    let identity = xwms
        .user_info(&account.sub)
        .await
        .map_err(AppError::Refresh)?;
    let Some(refreshed) = refresh_profile(&state.pool, user.user_id, &identity, &client).await?
    else {
        session.end_signed_in();
        return Ok(see_other("/"));
    };
    if let Some(name) = &refreshed.display_name {
        session.rename(name)?;
    }
    if let Some(change) = refreshed.email_change {
        session.note_login_change(LoginSummary {
            account_created: false,
            email_change: Some(change),
        })?;
    }
    let kept = if refreshed.kept.is_empty() {
        "all".to_owned()
    } else {
        refreshed.kept.join(",")
    };
    Ok(see_other(&format!("/profile?refreshed={kept}")))
}

#[derive(Template)]
#[template(path = "account_deleted.html")]
struct AccountDeletedPage {
    page: PageContext,
}

async fn account_deleted(req: HttpRequest) -> Result<HttpResponse, AppError> {
    let html = AccountDeletedPage {
        page: page_context(&req),
    }
    .render()?;
    Ok(html_response(html))
}
