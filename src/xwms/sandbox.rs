//! The sandbox: a built-in stand-in for XWMS, so the demo runs with no XWMS account.
//!
//! It speaks XWMS's HTTP protocol under `/sandbox/xwms/api/` (`info`, `sign-token`,
//! `sign-token-verify`, the JSON envelope, the `X-Client-*` headers, single-use
//! tokens), and serves its own login page where the visitor picks who to be. The
//! app's XWMS client talks to it over real HTTP, exactly as to xwms.nl: the login
//! code has no idea it is not the real thing.
//!
//! Its state (issued tokens) lives in memory: it is a demo for one process, never a
//! production component. In production it is refused unless `XWMS_SANDBOX=true`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use crate::config::XwmsCredentials;
use crate::crypto::{constant_time_eq, random_token};
use crate::pages::{PageContext, html_response, see_other};
use crate::urls::absolute_http_url;

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
const MAX_OPEN_LOGINS: usize = 10_000;

/// One login, from `sign-token` to `sign-token-verify`.
struct SandboxLogin {
    token: String,
    redirect_url: Url,
    issued_at: Instant,
    state: LoginState,
}

enum LoginState {
    /// Issued by `sign-token`; the visitor has not picked a persona yet.
    Issued,
    /// The visitor logged in as this person; the token may be verified once.
    Approved(Value),
    /// The visitor asked for the "invalid token" failure.
    Poisoned,
    /// The visitor asked for the "XWMS fails" failure: verify answers 500.
    Broken,
}

/// The sandbox's own state, shared by all workers of this process.
pub struct Sandbox {
    credentials: XwmsCredentials,
    /// Browser-facing origin, e.g. `http://localhost:3000`, for the login page URL.
    public_origin: Url,
    /// Open logins by request id (the id in the login page URL, which is not the token).
    logins: Mutex<HashMap<String, SandboxLogin>>,
}

impl Sandbox {
    /// `public_origin` is the origin of the configured redirect URI: the browser reaches
    /// the sandbox's login page on the same site as the app.
    /// `client_secret`: the secret callers must send; `None` picks a random one.
    pub fn new(public_origin: Url, client_secret: Option<SecretString>) -> Self {
        Sandbox {
            credentials: XwmsCredentials {
                client_id: SANDBOX_CLIENT_ID.to_owned(),
                // Random unless configured: the sandbox checks it like XWMS would.
                client_secret: client_secret.unwrap_or_else(|| SecretString::from(random_token())),
                client_domain: public_origin.host_str().unwrap_or("localhost").to_owned(),
            },
            public_origin,
            logins: Mutex::new(HashMap::new()),
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

    fn with_logins<T>(&self, f: impl FnOnce(&mut HashMap<String, SandboxLogin>) -> T) -> T {
        // A poisoned lock only means another request panicked mid-update; the map is
        // still usable for a demo, so recover rather than fail every later request.
        let mut logins = self
            .logins
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut logins)
    }
}

/// Why a sandbox page could not be shown. Only the status is set; the app's error pages
/// (`error_page`) give the answer its body, as for any error response.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("no open sandbox login here")]
    NotFound,
    #[error("rendering the sandbox login page failed: {0}")]
    Render(#[from] askama::Error),
}

impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::NotFound => StatusCode::NOT_FOUND,
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
            "endpoints": ["info", "sign-token", "sign-token-verify"],
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
    let request_id = random_token();
    let token = random_token();
    let stored = sandbox.with_logins(|logins| {
        logins.retain(|_, login| login.issued_at.elapsed() < TOKEN_LIFETIME);
        if logins.len() >= MAX_OPEN_LOGINS {
            return false;
        }
        logins.insert(
            request_id.clone(),
            SandboxLogin {
                token: token.clone(),
                redirect_url,
                issued_at: Instant::now(),
                state: LoginState::Issued,
            },
        );
        true
    });
    if !stored {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many open logins; try again later",
        );
    }
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
    // Single use: whatever the outcome, the login is removed from the map.
    let login = sandbox.with_logins(|logins| {
        let request_id = logins
            .iter()
            .find(|(_, login)| constant_time_eq(&login.token, &token))
            .map(|(id, _)| id.clone())?;
        logins.remove(&request_id)
    });
    let Some(login) = login else {
        return refuse(StatusCode::BAD_REQUEST, "Invalid token");
    };
    if login.issued_at.elapsed() >= TOKEN_LIFETIME {
        return refuse(StatusCode::BAD_REQUEST, "Token expired");
    }
    match login.state {
        LoginState::Approved(user) => envelope(StatusCode::OK, "success", "Token verified", user),
        LoginState::Broken => refuse(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
        LoginState::Issued | LoginState::Poisoned => {
            refuse(StatusCode::BAD_REQUEST, "Invalid token")
        }
    }
}

/// The people a visitor can be. `ada` appears twice on purpose: same `sub`, new email.
struct Persona {
    id: &'static str,
    title: &'static str,
    explains: &'static str,
}

const PERSONAS: &[Persona] = &[
    Persona {
        id: "new",
        title: "A brand-new user",
        explains: "A fresh sub every time: you get a new local account.",
    },
    Persona {
        id: "ada",
        title: "Ada Lovelace (returning user)",
        explains: "sub sandbox-ada, ada@example.com, verified. Log in twice: same account.",
    },
    Persona {
        id: "ada-new-email",
        title: "Ada Lovelace, with a changed email",
        explains: "Same sub sandbox-ada, now ada.lovelace@example.org: same account, email updated.",
    },
    Persona {
        id: "grace",
        title: "Grace Hopper (no email)",
        explains: "XWMS sends no email, and the sub as a JSON number (190612091992).",
    },
    Persona {
        id: "mallory",
        title: "Mallory (unverified, claims Ada's email)",
        explains: "sub sandbox-mallory, ada@example.com unverified: a separate account, never Ada's.",
    },
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

fn login_is_open(sandbox: &Sandbox, request_id: &str) -> bool {
    sandbox.with_logins(|logins| {
        logins.get(request_id).is_some_and(|login| {
            matches!(login.state, LoginState::Issued) && login.issued_at.elapsed() < TOKEN_LIFETIME
        })
    })
}

async fn login_page(
    sandbox: web::Data<Sandbox>,
    request_id: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    if !login_is_open(&sandbox, &request_id) {
        return Err(PageError::NotFound);
    }
    render_login_page(&request_id, None, StatusCode::OK)
}

fn render_login_page(
    request_id: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let html = SandboxLoginPage {
        // The provider's page: it does not know the app's session.
        page: PageContext::anonymous(true),
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
    sandbox: web::Data<Sandbox>,
    request_id: web::Path<String>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let form = form.into_inner();
    if !login_is_open(&sandbox, &request_id) {
        return Err(PageError::NotFound);
    }
    let outcome = form.outcome.as_deref().unwrap_or("success");
    let new_state = match outcome {
        "invalid_token" => LoginState::Poisoned,
        "server_error" => LoginState::Broken,
        "provider_error" => LoginState::Issued,
        _ => {
            let user = match form.persona.as_deref() {
                Some("custom") => {
                    let sub = form.custom_sub.as_deref().unwrap_or("").trim().to_owned();
                    if sub.is_empty() {
                        return render_login_page(
                            &request_id,
                            Some("Type a sub for your own user (any text, e.g. my-test-user)."),
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
                            &request_id,
                            Some("Pick one of the people below."),
                            StatusCode::BAD_REQUEST,
                        );
                    }
                },
                None => {
                    return render_login_page(
                        &request_id,
                        Some("Pick one of the people below."),
                        StatusCode::BAD_REQUEST,
                    );
                }
            };
            LoginState::Approved(user)
        }
    };

    let (redirect_url, token) = match sandbox.with_logins(|logins| {
        let login = logins.get_mut(request_id.as_str())?;
        let back = (login.redirect_url.clone(), login.token.clone());
        if outcome == "provider_error" {
            logins.remove(request_id.as_str());
        } else {
            login.state = new_state;
        }
        Some(back)
    }) {
        Some(found) => found,
        None => return Err(PageError::NotFound),
    };

    // Back to the app, like XWMS: `?token=` on success, the fallback message on failure.
    let mut back = redirect_url;
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
    Ok(response)
}
