//! Builds the application: database, provider, session, middleware and routes.
//!
//! `Application::build` does everything that can fail (migrations, binding the port)
//! before it returns, so a misconfigured app stops at start with a clear message, and
//! tests can bind port 0 and ask which port they got.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::sync::Arc;

use actix_governor::GovernorConfigBuilder;
use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, ErrorHandlers, Logger, from_fn};
use actix_web::{App, HttpServer, web};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use url::Url;

use crate::client_info::ClientIpKey;
use crate::config::{AppEnv, Settings};
use crate::db;
use crate::error::{AppError, render_error_page};
use crate::metrics::{Metrics, MetricsAccess};
use crate::routes::{self, AppState};
use crate::session::enforce_session_limits;
use crate::xwms::sandbox::{self, SANDBOX_PATH, Sandbox};
use crate::xwms::{XwmsClient, XwmsConfig};

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(String),
    #[error("could not listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("metrics: {0}")]
    Metrics(String),
    #[error("invalid rate limit settings")]
    RateLimit,
    #[error("could not build a URL: {0}")]
    Url(#[from] url::ParseError),
}

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let database_url = settings.database.url.expose_secret().to_owned();
        if settings.database.create_if_missing
            && db::create_database_if_missing(&database_url)
                .await
                .map_err(StartupError::Database)?
        {
            log::info!("created the database named in DATABASE_URL");
        }
        let applied = db::run_migrations(&database_url)
            .await
            .map_err(StartupError::Database)?;
        if applied > 0 {
            log::info!("applied {applied} database migration(s)");
        }
        let pool = db::build_pool(&settings.database)
            .map_err(|err| StartupError::Database(err.to_string()))?;

        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address).map_err(|source| StartupError::Bind {
            address: address.clone(),
            source,
        })?;
        let local = listener.local_addr().map_err(|source| StartupError::Bind {
            address: address.clone(),
            source,
        })?;
        let port = local.port();

        let redirect_uri = match settings.xwms.redirect_uri.clone() {
            Some(uri) => uri,
            None => default_redirect_uri(port)?,
        };

        // The provider: real XWMS, or the sandbox served by this very app. Either way the
        // login code gets an `XwmsClient` that speaks HTTP to it.
        let (xwms_config, sandbox) = match &settings.xwms.credentials {
            Some(credentials) => (
                XwmsConfig {
                    provider: XwmsConfig::provider_for(&settings.xwms.api_url),
                    api_url: settings.xwms.api_url.clone(),
                    credentials: credentials.clone(),
                    timeout: settings.xwms.timeout,
                },
                None,
            ),
            None => {
                let mut public_origin = redirect_uri.clone();
                public_origin.set_path("/");
                public_origin.set_query(None);
                public_origin.set_fragment(None);
                let sandbox =
                    Sandbox::new(public_origin, settings.xwms.sandbox_client_secret.clone());
                let api_url = sandbox_api_url(local)?;
                log::warn!(
                    "no XWMS credentials configured: logins use the built-in SANDBOX (not real XWMS) at {api_url}"
                );
                (
                    XwmsConfig {
                        api_url,
                        credentials: sandbox.credentials(),
                        timeout: settings.xwms.timeout,
                        provider: sandbox::PROVIDER.to_owned(),
                    },
                    Some(web::Data::new(sandbox)),
                )
            }
        };
        let xwms_config = Arc::new(xwms_config);

        let session_key = settings.session.key.clone().unwrap_or_else(|| {
            log::warn!(
                "SESSION_KEY is not set: using a random key; sessions end when the app restarts"
            );
            Key::generate()
        });
        let cookie_secure = settings.session.cookie_secure;
        let hsts = settings.env == AppEnv::Production && cookie_secure;

        let metrics =
            Arc::new(Metrics::new().map_err(|err| StartupError::Metrics(err.to_string()))?);
        let metrics_access =
            web::Data::new(match (&settings.metrics.token, settings.metrics.enabled) {
                (Some(token), _) => MetricsAccess::Token(token.clone()),
                (None, true) => MetricsAccess::Open,
                (None, false) => MetricsAccess::Off,
            });
        let xwms_health = web::Data::new(routes::health::XwmsHealth::default());
        let trusted_proxies = Arc::new(settings.security.trusted_proxies.clone());
        let rate_limit = rate_limit(&settings, trusted_proxies.clone())?;
        let state = web::Data::new(AppState {
            pool,
            redirect_uri: redirect_uri.clone(),
            login_binding: settings.xwms.login_binding,
            login_max_age: settings.xwms.login_max_age,
            sandbox: sandbox.is_some(),
            session_idle_timeout: settings.session.idle_timeout,
            session_absolute_timeout: settings.session.absolute_timeout,
            trusted_proxies,
            // Stable across restarts when SESSION_KEY is set, so hashes stay comparable.
            ip_hash_salt: Sha256::digest([b"ip-hash:".as_slice(), session_key.master()].concat())
                .to_vec(),
        });

        // The limiter keeps a bucket per client address; forget the ones that are full
        // again, so memory does not grow with every address ever seen.
        let limiter = rate_limit.limiter().clone();
        actix_web::rt::spawn(async move {
            let mut every_minute =
                actix_web::rt::time::interval(std::time::Duration::from_secs(60));
            loop {
                every_minute.tick().await;
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        });

        let mut server = HttpServer::new(move || {
            let sandbox = sandbox.clone();
            App::new()
                .wrap(from_fn(enforce_session_limits))
                // Turns every error response into the site's error page.
                .wrap(ErrorHandlers::new().default_handler(render_error_page))
                .wrap(session_middleware(session_key.clone(), cookie_secure))
                .wrap(security_headers(hsts))
                .wrap(request_logger())
                .app_data(state.clone())
                // awc::Client is not Send: one per worker, built here.
                .app_data(web::Data::new(XwmsClient::new(
                    xwms_config.clone(),
                    metrics.clone(),
                )))
                .app_data(web::Data::from(metrics.clone()))
                .app_data(metrics_access.clone())
                .app_data(xwms_health.clone())
                .app_data(web::JsonConfig::default().limit(16 * 1024))
                .app_data(web::FormConfig::default().limit(16 * 1024))
                .configure(routes::home::configure)
                .configure(|cfg| routes::auth::configure(cfg, &rate_limit))
                .configure(routes::profile::configure)
                .configure(routes::health::configure)
                .configure(routes::static_files::configure)
                .configure(crate::metrics::configure)
                .configure(|cfg| {
                    if let Some(sandbox) = sandbox {
                        cfg.app_data(sandbox);
                        sandbox::configure(cfg);
                    }
                })
                .default_service(web::to(|| async {
                    Err::<actix_web::HttpResponse, _>(AppError::NotFound)
                }))
        })
        .shutdown_timeout(10);
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind { address, source })?
            .run();

        log::info!(
            "xwms-starter ({}) listening on http://{local}; XWMS callback: {redirect_uri}",
            settings.env.as_str()
        );
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests (graceful shutdown).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// XWMS's documented example callback, on whatever port we got.
fn default_redirect_uri(port: u16) -> Result<Url, url::ParseError> {
    Url::parse(&format!("http://localhost:{port}/xwms/validateToken"))
}

/// The sandbox's API as the app's own XWMS client reaches it: over loopback HTTP.
fn sandbox_api_url(local: SocketAddr) -> Result<Url, url::ParseError> {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Url::parse(&format!(
        "http://{}{SANDBOX_PATH}/api/",
        SocketAddr::new(ip, local.port())
    ))
}

/// The per-client-IP limit on starting and finishing logins. One limiter, shared by all
/// workers (the config holds it behind an `Arc`).
pub type RateLimit = actix_governor::GovernorConfig<
    ClientIpKey,
    actix_governor::governor::middleware::NoOpMiddleware<
        actix_governor::governor::clock::QuantaInstant,
    >,
>;

fn rate_limit(
    settings: &Settings,
    trusted_proxies: Arc<Vec<ipnet::IpNet>>,
) -> Result<RateLimit, StartupError> {
    let per_minute = u64::from(settings.security.rate_limit_per_minute);
    GovernorConfigBuilder::default()
        .key_extractor(ClientIpKey { trusted_proxies })
        .period(std::time::Duration::from_nanos(
            (60_000_000_000 / per_minute.max(1)).max(1),
        ))
        .burst_size(settings.security.rate_limit_burst)
        .finish()
        .ok_or(StartupError::RateLimit)
}

fn session_middleware(key: Key, secure: bool) -> SessionMiddleware<CookieSessionStore> {
    // `__Host-` makes browsers refuse the cookie unless it is Secure, host-only and
    // Path=/, so a sibling subdomain cannot plant one.
    let name = if secure {
        "__Host-xwms_session"
    } else {
        "xwms_session"
    };
    SessionMiddleware::builder(CookieSessionStore::default(), key)
        .cookie_name(name.to_owned())
        .cookie_secure(secure)
        .cookie_http_only(true)
        // Lax, not Strict: the callback is a top-level navigation coming from XWMS,
        // and Strict would drop the cookie holding the pending login.
        .cookie_same_site(SameSite::Lax)
        .cookie_path("/".to_owned())
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(BrowserSession::default())
        .build()
}

fn security_headers(hsts: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", routes::CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"));
    if hsts {
        headers.add((
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        headers
    }
}

/// Logs method, path, status, size and time. Never the query string: on the callback
/// it holds the login token, and actix's default format would log it.
fn request_logger() -> Logger {
    Logger::new("%{method}xi %{path}xi %s %b %Dms")
        .custom_request_replace("method", |req| req.method().to_string())
        .custom_request_replace("path", |req| req.path().to_owned())
}
