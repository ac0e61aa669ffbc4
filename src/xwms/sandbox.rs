//! The sandbox: a built-in stand-in for XWMS, so the demo runs with no XWMS account.
//!
//! It speaks XWMS's HTTP protocol under `/sandbox/xwms/api/` (`info`, `sign-token`,
//! `sign-token-verify`, `get/user/info`, the JSON envelope, the `X-Client-*` headers,
//! single-use tokens), and serves its own login page where the visitor picks who to be,
//! and a people page where a person's name and email can be changed "at XWMS". The
//! app's XWMS client talks to it over real HTTP, exactly as to xwms.nl: the login
//! code has no idea it is not the real thing.
//!
//! Its state (issued tokens) lives in the app's database (`sandbox_logins`), so it works
//! behind several replicas too. It is a demo, never a production component: in
//! production it is refused unless `XWMS_SANDBOX=true`.

use std::time::Duration;

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use crate::db::schema::{sandbox_logins, sandbox_people};
use crate::db::{self, Cached, DbError, DbPool};
use crate::support::config::XwmsCredentials;
use crate::support::crypto::{constant_time_eq, random_token, sha256_hex};
use crate::support::pages::{PageContext, html_response, see_other};
use crate::support::urls::absolute_http_url;

/// Where the sandbox lives in the app's URL space.
pub const SANDBOX_PATH: &str = "/sandbox/xwms";
/// Its API, called by the app's XWMS client (no browser session involved).
pub const SANDBOX_API_PATH: &str = "/sandbox/xwms/api/";
/// How identities the sandbox vouches for are recorded (`xwms_connections.provider`).
pub const PROVIDER: &str = "sandbox";
/// The client id the sandbox issues.
pub const SANDBOX_CLIENT_ID: &str = "sandbox-client";
/// Sandbox tokens live as long as this; older ones are refused and swept.
const TOKEN_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Open logins kept at most, so a flood of `sign-token` calls cannot grow memory forever.
const MAX_OPEN_LOGINS: i64 = 10_000;
/// People kept at most; the least recently seen go first.
const MAX_PEOPLE: i64 = 10_000;
/// The longest `sub`, name or email the sandbox keeps (its table's limits).
const MAX_SUB_CHARS: usize = 255;
const MAX_TEXT_CHARS: usize = 200;
/// The browser's own people: the subs it logged in as through the sandbox, newest first,
/// in a cookie only the sandbox's pages get (`SameSite=Strict`: never on a request from
/// another site). The people page shows and changes only these.
const PEOPLE_COOKIE: &str = "xwms_sandbox_people";
/// At most this many subs, and this many bytes of them, in that cookie.
const MAX_OWN_PEOPLE: usize = 10;
const MAX_OWN_PEOPLE_BYTES: usize = 1500;

fn cut(text: &str, max: usize) -> String {
    text.trim().chars().take(max).collect()
}

/// The subs of this browser's `PEOPLE_COOKIE`, newest first.
fn own_people(req: &HttpRequest) -> Vec<String> {
    req.cookie(PEOPLE_COOKIE)
        .map(|cookie| {
            cookie
                .value()
                .split(',')
                .filter_map(|sub| percent_encoding::percent_decode_str(sub).decode_utf8().ok())
                .map(|sub| sub.into_owned())
                .filter(|sub| !sub.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// `PEOPLE_COOKIE` with `sub` first, then the browser's others, within the limits.
fn own_people_cookie(req: &HttpRequest, sub: &str, secure: bool) -> Cookie<'static> {
    let mut value = String::new();
    let others = own_people(req).into_iter().filter(|other| other != sub);
    for person in std::iter::once(sub.to_owned())
        .chain(others)
        .take(MAX_OWN_PEOPLE)
    {
        let encoded =
            percent_encoding::utf8_percent_encode(&person, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        if value.len() + encoded.len() + 1 > MAX_OWN_PEOPLE_BYTES {
            break;
        }
        if !value.is_empty() {
            value.push(',');
        }
        value.push_str(&encoded);
    }
    Cookie::build(PEOPLE_COOKIE, value)
        .path(SANDBOX_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(CookieDuration::days(30))
        .finish()
}

/// Where a sandbox login stands (`sandbox_logins.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoginState {
    /// Issued by `sign-token`; the visitor has not picked a persona yet.
    Issued,
    /// The visitor logged in as someone; the token may be verified once.
    Approved,
    /// The visitor asked for the "invalid token" failure.
    Poisoned,
    /// The visitor asked for the "XWMS fails" failure: verify answers 500.
    Broken,
}

impl LoginState {
    fn as_str(self) -> &'static str {
        match self {
            LoginState::Issued => "issued",
            LoginState::Approved => "approved",
            LoginState::Poisoned => "poisoned",
            LoginState::Broken => "broken",
        }
    }
}

/// A login `sign-token-verify` took out of the table.
struct VerifiedLogin {
    state: String,
    user_json: Option<String>,
    issued_at: DateTime<Utc>,
}

/// The sandbox: its credentials and where its state lives (the `sandbox_logins` table,
/// so every replica of the app sees every login).
#[derive(Clone)]
pub struct Sandbox {
    credentials: XwmsCredentials,
    /// Browser-facing origin, e.g. `http://localhost:3000`, for the login page URL.
    public_origin: Url,
    pool: DbPool,
}

impl Sandbox {
    /// `public_origin` is the origin of the configured redirect URI: the browser reaches
    /// the sandbox's login page on the same site as the app.
    /// `client_secret`: the secret callers must send; `None` picks a random one.
    pub fn new(public_origin: Url, client_secret: Option<SecretString>, pool: DbPool) -> Self {
        Sandbox {
            credentials: XwmsCredentials {
                client_id: SANDBOX_CLIENT_ID.to_owned(),
                // Random unless configured: the sandbox checks it like XWMS would.
                client_secret: client_secret.unwrap_or_else(|| SecretString::from(random_token())),
                client_domain: public_origin.host_str().unwrap_or("localhost").to_owned(),
            },
            public_origin,
            pool,
        }
    }

    /// The same sandbox around another pool: a worker's own (`db::PoolRecipe`). Every
    /// field named, so the pool cannot be left out by accident: the sandbox would still
    /// work, on the start's one connection shared by every worker, which no test of
    /// behaviour can tell apart.
    pub fn with_pool(&self, pool: DbPool) -> Sandbox {
        Sandbox {
            credentials: self.credentials.clone(),
            public_origin: self.public_origin.clone(),
            pool,
        }
    }

    /// The credentials the app's XWMS client must send to the sandbox.
    pub fn credentials(&self) -> XwmsCredentials {
        self.credentials.clone()
    }

    fn check_credentials(&self, req: &HttpRequest) -> bool {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("")
        };
        constant_time_eq(header("X-Client-Id"), &self.credentials.client_id)
            && constant_time_eq(
                header("X-Client-Secret"),
                self.credentials.client_secret.expose_secret(),
            )
            && header("X-Client-Domain") == self.credentials.client_domain
    }

    fn lifetime_start() -> DateTime<Utc> {
        Utc::now() - TimeDelta::from_std(TOKEN_LIFETIME).unwrap_or(TimeDelta::MAX)
    }

    /// Stores a new login, sweeping expired ones in the same statement; `None` when too
    /// many are open. (Every part of a statement sees the table as it was before it, so the
    /// count leaves out the expired ones the sweep takes.)
    async fn open_login(&self, redirect_url: &Url) -> Result<Option<(String, String)>, DbError> {
        let mut conn = db::connection(&self.pool).await?;
        let (request_id, token) = (random_token(), random_token());
        let opened = Cached(
            diesel::sql_query(
                "WITH swept AS (DELETE FROM sandbox_logins WHERE issued_at < $5) \
                 INSERT INTO sandbox_logins (request_id, token, token_sha256, redirect_url) \
                 SELECT $1, $2, $3, $4 \
                 WHERE (SELECT count(*) FROM sandbox_logins WHERE issued_at >= $5) < $6",
            )
            .bind::<Text, _>(&request_id)
            .bind::<Text, _>(&token)
            .bind::<Text, _>(sha256_hex(&token))
            .bind::<Text, _>(redirect_url.as_str())
            .bind::<Timestamptz, _>(Self::lifetime_start())
            .bind::<BigInt, _>(MAX_OPEN_LOGINS),
        )
        .execute(&mut conn)
        .await?;
        Ok((opened == 1).then_some((request_id, token)))
    }

    /// Records the person a login vouched for (`user`: flat or under `user`), as XWMS
    /// knows its users: `get/user/info` answers from here.
    async fn remember_person(&self, user: &Value) -> Result<Option<String>, DbError> {
        let user = if user["user"].is_object() {
            &user["user"]
        } else {
            user
        };
        let Some(sub) = sub_text(&user["sub"]).filter(|sub| sub.chars().count() <= MAX_SUB_CHARS)
        else {
            return Ok(None);
        };
        let text = |key: &str| user[key].as_str().map(|text| cut(text, MAX_TEXT_CHARS));
        let mut conn = db::connection(&self.pool).await?;
        // At most MAX_PEOPLE: when a new person would make one too many, the least
        // recently seen others make room, in the same statement (never this person, whose
        // row is written; a person known already takes no new room).
        Cached(
            diesel::sql_query(
                "WITH gone AS (DELETE FROM sandbox_people WHERE sub IN \
                 (SELECT sub FROM sandbox_people WHERE sub <> $1 ORDER BY updated_at \
                 LIMIT greatest((SELECT count(*) FROM sandbox_people) - $5 + 1 \
                 - (SELECT count(*) FROM sandbox_people WHERE sub = $1), 0))) \
                 INSERT INTO sandbox_people (sub, name, email, email_verified, updated_at) \
                 VALUES ($1, $2, $3, $4, now()) ON CONFLICT (sub) DO UPDATE SET \
                 name = EXCLUDED.name, email = EXCLUDED.email, \
                 email_verified = EXCLUDED.email_verified, updated_at = now()",
            )
            .bind::<Text, _>(&sub)
            .bind::<Nullable<Text>, _>(text("name"))
            .bind::<Nullable<Text>, _>(text("email"))
            .bind::<Bool, _>(user["email_verified"].as_bool().unwrap_or(false))
            .bind::<BigInt, _>(MAX_PEOPLE),
        )
        .execute(&mut conn)
        .await?;
        Ok(Some(sub))
    }

    /// The people of `subs` the sandbox knows, most recently seen first (the people page).
    async fn people(&self, subs: &[String]) -> Result<Vec<SandboxPerson>, DbError> {
        let mut conn = db::connection(&self.pool).await?;
        Ok(sandbox_people::table
            .filter(sandbox_people::sub.eq_any(subs))
            .order(sandbox_people::updated_at.desc())
            .select(SandboxPerson::as_select())
            .load(&mut conn)
            .await?)
    }

    async fn person(&self, sub: &str) -> Result<Option<SandboxPerson>, DbError> {
        let mut conn = db::connection(&self.pool).await?;
        Ok(sandbox_people::table
            .find(sub)
            .select(SandboxPerson::as_select())
            .first(&mut conn)
            .await
            .optional()?)
    }

    /// A new name and email for a person the sandbox knows; false if it knows none.
    async fn change_person(
        &self,
        sub: &str,
        name: Option<&str>,
        email: Option<&str>,
    ) -> Result<bool, DbError> {
        let mut conn = db::connection(&self.pool).await?;
        let changed = diesel::update(sandbox_people::table.find(sub))
            .set((
                sandbox_people::name.eq(name),
                sandbox_people::email.eq(email),
                sandbox_people::updated_at.eq(diesel::dsl::now),
            ))
            .execute(&mut conn)
            .await?;
        Ok(changed > 0)
    }

    /// Whether the login page of `request_id` may still be used.
    async fn is_open(&self, request_id: &str) -> Result<bool, DbError> {
        let mut conn = db::connection(&self.pool).await?;
        Ok(diesel::select(diesel::dsl::exists(
            sandbox_logins::table
                .filter(sandbox_logins::request_id.eq(request_id))
                .filter(sandbox_logins::state.eq(LoginState::Issued.as_str()))
                .filter(sandbox_logins::issued_at.ge(Self::lifetime_start())),
        ))
        .get_result(&mut conn)
        .await?)
    }

    /// Records the visitor's choice; answers where to send the browser back, with which
    /// token. `None`: the login is gone (used, expired, never issued).
    async fn decide(
        &self,
        request_id: &str,
        state: LoginState,
        user: Option<&Value>,
    ) -> Result<Option<(String, String)>, DbError> {
        let mut conn = db::connection(&self.pool).await?;
        let still_issued = sandbox_logins::table
            .filter(sandbox_logins::request_id.eq(request_id))
            .filter(sandbox_logins::state.eq(LoginState::Issued.as_str()));
        let back = match state {
            // "XWMS failed the login": it is over; the token will never be verified.
            LoginState::Issued => {
                diesel::delete(still_issued)
                    .returning((sandbox_logins::redirect_url, sandbox_logins::token))
                    .get_result(&mut conn)
                    .await
            }
            // (`Cached`: diesel would parse and plan an `UPDATE` anew every time.)
            _ => {
                Cached(
                    diesel::update(still_issued)
                        .set((
                            sandbox_logins::state.eq(state.as_str()),
                            sandbox_logins::user_json.eq(user.map(Value::to_string)),
                        ))
                        .returning((sandbox_logins::redirect_url, sandbox_logins::token)),
                )
                .get_result(&mut conn)
                .await
            }
        };
        Ok(back.optional()?)
    }

    /// Takes the login of `token` out of the table: tokens are single use.
    async fn take(&self, token: &str) -> Result<Option<VerifiedLogin>, DbError> {
        let mut conn = db::connection(&self.pool).await?;
        let taken: Option<(String, Option<String>, DateTime<Utc>)> = diesel::delete(
            sandbox_logins::table.filter(sandbox_logins::token_sha256.eq(sha256_hex(token))),
        )
        .returning((
            sandbox_logins::state,
            sandbox_logins::user_json,
            sandbox_logins::issued_at,
        ))
        .get_result(&mut conn)
        .await
        .optional()?;
        Ok(taken.map(|(state, user_json, issued_at)| VerifiedLogin {
            state,
            user_json,
            issued_at,
        }))
    }
}

/// Why a sandbox page could not be shown. Only the status is set; the app's error pages
/// (`error_page`) give the answer its body, as for any error response.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("no open sandbox login here")]
    NotFound,
    #[error("a form of the sandbox sent from another site")]
    Forbidden,
    #[error("the sandbox's database is unavailable: {0}")]
    Database(#[from] DbError),
    #[error("rendering the sandbox login page failed: {0}")]
    Render(#[from] askama::Error),
}

impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::Forbidden => StatusCode::FORBIDDEN,
            PageError::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(SANDBOX_PATH)
            .service(web::resource("/api/info").route(web::get().to(info)))
            .service(web::resource("/api/sign-token").route(web::post().to(sign_token)))
            .service(
                web::resource("/api/sign-token-verify").route(web::post().to(sign_token_verify)),
            )
            .service(web::resource("/api/get/user/info").route(web::post().to(user_info)))
            .service(
                web::resource("/people")
                    .route(web::get().to(people_page))
                    .route(web::post().to(change_person)),
            )
            .service(
                web::resource("/login/{request_id}")
                    .route(web::get().to(login_page))
                    .route(web::post().to(login_submit)),
            ),
    );
}

fn envelope(status: StatusCode, outcome: &str, message: &str, data: Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "status": outcome, "message": message, "data": data }))
}

fn refuse(status: StatusCode, message: &str) -> HttpResponse {
    envelope(status, "error", message, json!({}))
}

async fn info(req: HttpRequest, sandbox: web::Data<Sandbox>) -> HttpResponse {
    if !sandbox.check_credentials(&req) {
        return refuse(StatusCode::UNAUTHORIZED, "Invalid client credentials");
    }
    envelope(
        StatusCode::OK,
        "success",
        "XWMS sandbox",
        json!({
            "application": { "name": "XWMS sandbox (not real XWMS)", "version": env!("CARGO_PKG_VERSION") },
            "endpoints": ["info", "sign-token", "sign-token-verify", "get/user/info"],
        }),
    )
}

#[derive(Deserialize)]
struct SignTokenRequest {
    redirect_url: String,
}

async fn sign_token(
    req: HttpRequest,
    sandbox: web::Data<Sandbox>,
    body: Option<web::Json<SignTokenRequest>>,
) -> HttpResponse {
    if !sandbox.check_credentials(&req) {
        return refuse(StatusCode::UNAUTHORIZED, "Invalid client credentials");
    }
    let Some(redirect_url) = body.and_then(|body| absolute_http_url(&body.redirect_url)) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "redirect_url must be an absolute http(s) URL",
        );
    };
    let (request_id, token) = match sandbox.open_login(&redirect_url).await {
        Ok(Some(opened)) => opened,
        Ok(None) => {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many open logins; try again later",
            );
        }
        Err(err) => return unavailable(&err),
    };
    let mut login_url = sandbox.public_origin.clone();
    login_url.set_path(&format!("{SANDBOX_PATH}/login/{request_id}"));
    let expires_at = chrono::Utc::now() + TOKEN_LIFETIME;
    envelope(
        StatusCode::OK,
        "success",
        "Token signed",
        json!({
            "client_id": sandbox.credentials.client_id,
            "token": token,
            "expires_at": expires_at.to_rfc3339(),
            "url": login_url.as_str(),
        }),
    )
}

#[derive(Deserialize)]
struct VerifyRequest {
    token: String,
}

async fn sign_token_verify(
    req: HttpRequest,
    sandbox: web::Data<Sandbox>,
    body: Option<web::Json<VerifyRequest>>,
) -> HttpResponse {
    if !sandbox.check_credentials(&req) {
        return refuse(StatusCode::UNAUTHORIZED, "Invalid client credentials");
    }
    let Some(token) = body.map(|body| body.into_inner().token) else {
        return refuse(StatusCode::BAD_REQUEST, "Invalid token");
    };
    // Single use: whatever the outcome, the login is removed.
    let login = match sandbox.take(&token).await {
        Ok(Some(login)) => login,
        Ok(None) => return refuse(StatusCode::BAD_REQUEST, "Invalid token"),
        Err(err) => return unavailable(&err),
    };
    if login.issued_at < Sandbox::lifetime_start() {
        return refuse(StatusCode::BAD_REQUEST, "Token expired");
    }
    let user = login
        .user_json
        .as_deref()
        .and_then(|text| serde_json::from_str::<Value>(text).ok());
    match (login.state.as_str(), user) {
        ("approved", Some(user)) => envelope(StatusCode::OK, "success", "Token verified", user),
        ("broken", _) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
        _ => refuse(StatusCode::BAD_REQUEST, "Invalid token"),
    }
}

/// A person the sandbox knows (`sandbox_people`).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sandbox_people)]
#[diesel(check_for_backend(diesel::pg::Pg))]
struct SandboxPerson {
    sub: String,
    name: Option<String>,
    email: Option<String>,
    email_verified: bool,
}

/// A `sub` as the sandbox stores it: a string as it is, a number by its digits.
fn sub_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => number.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

#[derive(Deserialize)]
struct UserInfoRequest {
    sub: Value,
}

/// `POST get/user/info`: what the sandbox knows about a `sub` now, under `data.user`, as
/// XWMS answers; a person it does not know is an error envelope.
async fn user_info(
    req: HttpRequest,
    sandbox: web::Data<Sandbox>,
    body: Option<web::Json<UserInfoRequest>>,
) -> HttpResponse {
    if !sandbox.check_credentials(&req) {
        return refuse(StatusCode::UNAUTHORIZED, "Invalid client credentials");
    }
    let Some(sub) = body.and_then(|body| sub_text(&body.sub)) else {
        return refuse(StatusCode::BAD_REQUEST, "sub is required");
    };
    match sandbox.person(&sub).await {
        Ok(Some(person)) => envelope(
            StatusCode::OK,
            "success",
            "User info",
            json!({ "user": {
                "sub": person.sub,
                "name": person.name,
                "email": person.email,
                "email_verified": person.email_verified,
                "picture": null,
            }}),
        ),
        Ok(None) => refuse(StatusCode::NOT_FOUND, "User not found"),
        Err(err) => unavailable(&err),
    }
}

#[derive(Template)]
#[template(path = "sandbox_people.html")]
struct SandboxPeoplePage {
    page: PageContext,
    people: Vec<SandboxPerson>,
}

/// The sandbox's people page: the people this browser logged in as through it, each with a
/// form that changes their name and email "at XWMS" (what a person would do in their XWMS
/// account). Nobody else's: a public demo would otherwise list every visitor's details.
async fn people_page(
    req: HttpRequest,
    sandbox: web::Data<Sandbox>,
) -> Result<HttpResponse, PageError> {
    let html = SandboxPeoplePage {
        page: PageContext::anonymous(true, &req),
        people: sandbox.people(&own_people(&req)).await?,
    }
    .render()?;
    Ok(html_response(html))
}

#[derive(Deserialize)]
struct PersonForm {
    sub: String,
    name: Option<String>,
    email: Option<String>,
}

/// Changes a person's name and email. Refused from another site (a demo, but a page on
/// the web should not let any site rename its people).
async fn change_person(
    req: HttpRequest,
    sandbox: web::Data<Sandbox>,
    form: web::Form<PersonForm>,
) -> Result<HttpResponse, PageError> {
    let site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok());
    if matches!(site, Some("cross-site" | "same-site")) {
        return Err(PageError::Forbidden);
    }
    let form = form.into_inner();
    // Only this browser's own people: the cookie never comes with another site's form.
    if !own_people(&req).contains(&form.sub) {
        return Err(PageError::NotFound);
    }
    let text = |value: Option<String>| {
        value
            .map(|v| cut(&v, MAX_TEXT_CHARS))
            .filter(|v| !v.is_empty())
    };
    if !sandbox
        .change_person(
            &form.sub,
            text(form.name).as_deref(),
            text(form.email).as_deref(),
        )
        .await?
    {
        return Err(PageError::NotFound);
    }
    Ok(see_other(&format!("{SANDBOX_PATH}/people")))
}

/// The sandbox's answer when its database is unavailable, like XWMS when it is down.
fn unavailable(err: &DbError) -> HttpResponse {
    log::warn!("sandbox: database unavailable: {err}");
    refuse(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable")
}

/// The people a visitor can be. `ada` appears twice on purpose: same `sub`, new email.
struct Persona {
    id: &'static str,
}

impl Persona {
    /// Message ids (`persona-ada-title`, `persona-ada-explains`): the page's language.
    fn title_id(&self) -> String {
        format!("persona-{}-title", self.id)
    }

    fn explains_id(&self) -> String {
        format!("persona-{}-explains", self.id)
    }
}

/// The people the sandbox offers, in this order; each has a title and an explanation
/// in locales/*/main.ftl.
const PERSONAS: &[Persona] = &[
    Persona { id: "new" },
    Persona { id: "ada" },
    Persona {
        id: "ada-new-email",
    },
    Persona { id: "grace" },
    Persona { id: "mallory" },
];

/// The user data the sandbox returns for a persona, in the shapes real XWMS uses.
fn persona_user(id: &str) -> Option<Value> {
    let user = match id {
        "new" => {
            let suffix = &random_token()[..10];
            json!({
                "sub": format!("sandbox-new-{suffix}"),
                "name": "New Visitor",
                "given_name": "New",
                "family_name": "Visitor",
                "email": format!("visitor-{suffix}@example.com"),
                "email_verified": true,
                "picture": null,
            })
        }
        // Nested under `data.user`, as some XWMS answers are.
        "ada" => json!({ "user": {
            "sub": "sandbox-ada",
            "name": "Ada Lovelace",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email": "ada@example.com",
            "email_verified": true,
        }}),
        "ada-new-email" => json!({ "user": {
            "sub": "sandbox-ada",
            "name": "Ada Lovelace",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email": "ada.lovelace@example.org",
            "email_verified": true,
        }}),
        "grace" => json!({
            "sub": 190_612_091_992_u64,
            "name": "Grace Hopper",
            "given_name": "Grace",
            "family_name": "Hopper",
            "email_verified": false,
        }),
        "mallory" => json!({
            "sub": "sandbox-mallory",
            "name": "Mallory",
            "given_name": "Mallory",
            "family_name": null,
            "email": "ada@example.com",
            "email_verified": false,
        }),
        _ => return None,
    };
    Some(user)
}

#[derive(Template)]
#[template(path = "sandbox_login.html")]
struct SandboxLoginPage<'a> {
    page: PageContext,
    request_id: &'a str,
    personas: &'static [Persona],
    error: Option<&'a str>,
}

async fn login_page(
    req: HttpRequest,
    sandbox: web::Data<Sandbox>,
    request_id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    if !sandbox.is_open(&request_id).await? {
        return Err(PageError::NotFound);
    }
    render_login_page(&req, &request_id, None, StatusCode::OK)
}

/// `error` is a message id (`sandbox-pick-someone`), shown in the page's language.
fn render_login_page(
    req: &HttpRequest,
    request_id: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let html = SandboxLoginPage {
        // The provider's page: it does not know the app's session.
        page: PageContext::anonymous(true, req),
        request_id,
        personas: PERSONAS,
        error,
    }
    .render()?;
    let mut response = html_response(html);
    *response.status_mut() = status;
    Ok(response)
}

#[derive(Deserialize)]
struct LoginForm {
    /// A persona id, or "custom".
    persona: Option<String>,
    custom_sub: Option<String>,
    custom_name: Option<String>,
    custom_email: Option<String>,
    custom_email_verified: Option<String>,
    /// "success" (default), "provider_error", "invalid_token" or "server_error".
    outcome: Option<String>,
}

async fn login_submit(
    req: HttpRequest,
    sandbox: web::Data<Sandbox>,
    request_id: web::Path<String>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    if !sandbox.is_open(&request_id).await? {
        return Err(PageError::NotFound);
    }
    let outcome = form.outcome.as_deref().unwrap_or("success");
    let (new_state, user) = match outcome {
        "invalid_token" => (LoginState::Poisoned, None),
        "server_error" => (LoginState::Broken, None),
        "provider_error" => (LoginState::Issued, None),
        _ => {
            let user = match form.persona.as_deref() {
                Some("custom") => {
                    let sub = form.custom_sub.as_deref().unwrap_or("").trim().to_owned();
                    if sub.is_empty() {
                        return render_login_page(
                            &req,
                            &request_id,
                            Some("sandbox-need-sub"),
                            StatusCode::BAD_REQUEST,
                        );
                    }
                    let text = |value: Option<String>| {
                        value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
                    };
                    json!({
                        // Prefixed, so a sandbox demo can never create an account for a
                        // sub that real XWMS hands out (same database, later switch).
                        "sub": format!("sandbox-{sub}"),
                        "name": text(form.custom_name),
                        "email": text(form.custom_email),
                        "email_verified": form.custom_email_verified.is_some(),
                    })
                }
                Some(id) => match persona_user(id) {
                    Some(user) => user,
                    None => {
                        return render_login_page(
                            &req,
                            &request_id,
                            Some("sandbox-pick-someone"),
                            StatusCode::BAD_REQUEST,
                        );
                    }
                },
                None => {
                    return render_login_page(
                        &req,
                        &request_id,
                        Some("sandbox-pick-someone"),
                        StatusCode::BAD_REQUEST,
                    );
                }
            };
            (LoginState::Approved, Some(user))
        }
    };

    // The person first: if this fails, the login is still open and can be tried again.
    let remembered = match &user {
        Some(user) => sandbox.remember_person(user).await?,
        None => None,
    };
    let Some((redirect_url, token)) = sandbox
        .decide(&request_id, new_state, user.as_ref())
        .await?
    else {
        return Err(PageError::NotFound);
    };
    let Some(mut back) = absolute_http_url(&redirect_url) else {
        return Err(PageError::NotFound);
    };

    // Back to the app, like XWMS: `?token=` on success, the fallback message on failure.
    if outcome == "provider_error" {
        back.query_pairs_mut()
            .append_pair("xwmsmessage_status", "error")
            .append_pair(
                "xwmsmessage_message",
                "The sandbox simulated an XWMS error: login cancelled.",
            );
    } else {
        back.query_pairs_mut().append_pair("token", &token);
    }
    let mut response = see_other(back.as_str());
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    if let Some(sub) = remembered {
        let secure = sandbox.public_origin.scheme() == "https";
        response
            .add_cookie(&own_people_cookie(&req, &sub, secure))
            .map_err(|_| PageError::NotFound)?;
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn with_people(value: &str) -> HttpRequest {
        TestRequest::default()
            .cookie(Cookie::new(PEOPLE_COOKIE, value.to_owned()))
            .to_http_request()
    }

    #[test]
    fn the_people_cookie_puts_the_newest_first_once_and_keeps_the_others() {
        let cookie = own_people_cookie(&with_people("b,a,c"), "a", true);
        assert_eq!(cookie.value(), "a,b,c", "a moves to the front, no second a");
        assert_eq!(own_people(&with_people(cookie.value())), ["a", "b", "c"]);
        let first = own_people_cookie(&TestRequest::default().to_http_request(), "x y", false);
        assert_eq!(first.value(), "x%20y");
        assert_eq!(first.secure(), Some(false));
    }

    #[test]
    fn the_people_cookie_stays_within_its_count_and_its_bytes() {
        let many: Vec<String> = (0..20).map(|n| format!("p{n}")).collect();
        let cookie = own_people_cookie(&with_people(&many.join(",")), "new", true);
        let kept = own_people(&with_people(cookie.value()));
        assert_eq!(kept.len(), MAX_OWN_PEOPLE);
        assert_eq!(kept[..3], ["new", "p0", "p1"]);

        // Subs of 300 bytes: four fit in 1,500 bytes with their commas, a fifth would not.
        let long: Vec<String> = (0..6).map(|n| format!("{n}{}", "s".repeat(299))).collect();
        let cookie = own_people_cookie(&with_people(&long[1..].join(",")), &long[0], true);
        assert!(cookie.value().len() <= MAX_OWN_PEOPLE_BYTES);
        assert_eq!(own_people(&with_people(cookie.value())), long[..4]);
        // Exactly at the limit still fits.
        let exact = "e".repeat(MAX_OWN_PEOPLE_BYTES - 1);
        let cookie = own_people_cookie(&TestRequest::default().to_http_request(), &exact, true);
        assert_eq!(cookie.value(), exact);
        let over = "o".repeat(MAX_OWN_PEOPLE_BYTES);
        let cookie = own_people_cookie(&TestRequest::default().to_http_request(), &over, true);
        assert_eq!(cookie.value(), "", "one byte over the limit does not fit");
    }
}
