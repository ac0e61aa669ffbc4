//! Wires the application together: database, listener, provider, shared state,
//! background jobs and the HTTP server, each a step of its own below.
//!
//! `Application::build` does everything that can fail (migrations, binding the port)
//! before it returns, so a misconfigured app stops at start with a clear message, and
//! tests can bind port 0 and ask which port they got.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::{Condition, DefaultHeaders, ErrorHandlers, Logger, from_fn};
use actix_web::{App, HttpServer, web};
use secrecy::ExposeSecret;
#[cfg(feature = "dev-database")]
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use url::Url;

use crate::db::{self, DbError, DbPool};
use crate::domain::activity;
use crate::domain::session_records;
#[cfg(feature = "dev-database")]
use crate::support::config::DatabaseSettings;
use crate::support::config::{AppEnv, Settings, default_redirect_uri};
use crate::support::metrics::Metrics;
use crate::support::pages::CONTENT_SECURITY_POLICY;
use crate::web::error::AppError;
use crate::web::error_page::render_error_page;
use crate::web::public_origin::{
    PublicOrigin, redirect_to_public_origin as redirect_to_public_origin_middleware,
};
use crate::web::rate_limit::{self, RateLimit};
use crate::web::routes;
use crate::web::routes::health::XwmsHealth;
use crate::web::routes::metrics::MetricsAccess;
use crate::web::session_state::{PageReads, enforce_session_limits};
use crate::web::state::{AppState, Clock};
use crate::xwms::sandbox::{self, SANDBOX_API_PATH, SANDBOX_PATH, Sandbox};
use crate::xwms::{XwmsClient, XwmsConfig};

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] db::SetupError),
    #[error("database pool: {0}")]
    Pool(#[source] DbError),
    #[cfg(feature = "dev-database")]
    #[error("database: {0}")]
    DevDatabase(#[from] dev_postgres::DevDatabaseError),
    #[cfg(feature = "dev-database")]
    #[error("database: starting the private server stopped unexpectedly")]
    DevDatabaseThread,
    #[error("could not listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("could not build a URL: {0}")]
    Url(#[from] url::ParseError),
}

pub struct Application {
    port: u16,
    server: Server,
    clock: Arc<Clock>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        for warning in settings.warnings() {
            log::warn!("{warning}");
        }
        let pools = prepare_database(&settings).await?;
        // The start's own work and the hourly background jobs, on this thread's runtime:
        // one connection. The workers build pools of their own (`serve`).
        let pool = pools.build(1).map_err(StartupError::Pool)?;
        let (listener, local) = bind_listener(&settings)?;
        let redirect_uri = match settings.xwms.redirect_uri.clone() {
            Some(uri) => uri,
            None => default_redirect_uri(local.port())?,
        };
        let provider = choose_provider(&settings, &redirect_uri, local, &pool)?;
        let session_key = session_key(&settings);
        let state = shared_state(
            &settings,
            pool,
            redirect_uri.clone(),
            &provider,
            &session_key,
        );
        let public_origin = public_origin(&redirect_uri, &provider)?;
        let clock = state.clock.clone();
        start_background_jobs(&settings, &state);
        let server = serve(
            &settings,
            listener,
            state,
            pools,
            provider,
            session_key,
            public_origin.clone(),
        )?;
        // The address to open: the callback's origin, where the session cookie and the
        // same-site checks work (not necessarily the socket, e.g. 127.0.0.1).
        log::info!(
            "xwms-starter ({}) at {}/ (listening on {local}{}); XWMS callback: {redirect_uri}",
            settings.env.as_str(),
            public_origin.as_str(),
            if settings.server.redirect_to_public_origin {
                ", other hosts redirected there"
            } else {
                ""
            },
        );
        Ok(Application {
            port: local.port(),
            server,
            clock,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The clock the session limits are measured in; tests move it on.
    pub fn clock(&self) -> Arc<Clock> {
        self.clock.clone()
    }

    /// Stops the server from elsewhere (graceful: in-flight requests finish).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests (graceful shutdown).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Development without `DATABASE_URL` only: a private PostgreSQL may stand in for the
/// default server. Production never gets one: it runs against what it was given.
#[cfg(feature = "dev-database")]
fn may_use_a_private_server(env: AppEnv, database: &DatabaseSettings) -> bool {
    env == AppEnv::Development && !database.url_is_set
}

/// Production talking to a database on another machine without checking who answers
/// (`sslmode` short of `verify-full`): worth a warning at start.
fn unverified_remote_database_in_production(env: AppEnv, connector: &db::PgConnector) -> bool {
    env == AppEnv::Production && !connector.is_local() && !connector.verifies_the_server()
}

/// Database: created if allowed and missing, migrated, and what its bounded pools are
/// built from, every connection opened by one connector (TLS as `DATABASE_URL`'s sslmode
/// says).
async fn prepare_database(settings: &Settings) -> Result<db::PoolRecipe, StartupError> {
    #[cfg_attr(not(feature = "dev-database"), allow(unused_mut))]
    let mut database = settings.database.clone();
    // Built without the `dev-database` feature (the Docker image), development without
    // DATABASE_URL uses the default server only.
    #[cfg(feature = "dev-database")]
    if may_use_a_private_server(settings.env, &database) {
        use_a_private_server_unless_the_default_lets_us_in(&mut database).await?;
    }
    let connector = db::PgConnector::new(database.url.expose_secret(), database.ca_file.as_deref())
        .map_err(db::SetupError::from)?;
    log::info!("PostgreSQL connections: {connector}");
    if unverified_remote_database_in_production(settings.env, &connector) {
        log::warn!(
            "DATABASE_URL: the database server's identity is not verified ({connector}); add sslmode=verify-full (docs/deploy.md)"
        );
    }
    if database.create_if_missing && db::create_database_if_missing(&connector).await? {
        log::info!("created the database named in DATABASE_URL");
    }
    let applied = db::run_migrations(&connector).await?;
    if applied > 0 {
        log::info!("applied {applied} database migration(s)");
    }
    Ok(db::PoolRecipe::new(database, connector))
}

/// Development without `DATABASE_URL`: the default server if it lets us in, otherwise a
/// private PostgreSQL of our own (crates/dev-postgres). Never in production.
#[cfg(feature = "dev-database")]
async fn use_a_private_server_unless_the_default_lets_us_in(
    database: &mut DatabaseSettings,
) -> Result<(), StartupError> {
    let default = database.url.expose_secret().to_owned();
    let Err(why) =
        dev_postgres::server_lets_us_in(&dev_postgres::with_database(&default, "postgres")).await
    else {
        return Ok(());
    };
    let dir = dev_postgres::default_dir("dev");
    let server = tokio::task::spawn_blocking(move || dev_postgres::ensure_private_server(&dir))
        .await
        .map_err(|_| StartupError::DevDatabaseThread)??;
    let name = Url::parse(&default)?
        .path()
        .trim_start_matches('/')
        .to_owned();
    log::info!(
        "database: {} did not let us in ({why}), so a private PostgreSQL runs for this app (binaries {}, data in {}, stopped when the app stops); set DATABASE_URL to use your own database instead",
        db_address(&default),
        server.bindir.display(),
        server.dir.display()
    );
    database.url = SecretString::from(dev_postgres::with_database(&server.url, &name));
    database.create_if_missing = true;
    Ok(())
}

/// `host:port` of a database URL, for a log line (never the password).
#[cfg(feature = "dev-database")]
fn db_address(url: &str) -> String {
    Url::parse(url)
        .ok()
        .and_then(|url| {
            Some(format!(
                "{}:{}",
                url.host_str()?,
                url.port().unwrap_or(5432)
            ))
        })
        .unwrap_or_else(|| "the default database".to_owned())
}

/// The public origin: the callback URL's, where every page is served (see
/// `public_origin`).
fn public_origin(
    redirect_uri: &Url,
    provider: &Provider,
) -> Result<web::Data<PublicOrigin>, StartupError> {
    let sandbox_api = provider.sandbox.is_some().then_some(SANDBOX_API_PATH);
    PublicOrigin::new(redirect_uri, sandbox_api)
        .map(web::Data::new)
        .ok_or(StartupError::Url(url::ParseError::EmptyHost))
}

/// Listener: bound now, so a taken port fails the start (and port 0 tells its number).
fn bind_listener(settings: &Settings) -> Result<(TcpListener, SocketAddr), StartupError> {
    let address = format!("{}:{}", settings.server.host, settings.server.port);
    let bind_error = |source| StartupError::Bind {
        address: address.clone(),
        source,
    };
    let listener = TcpListener::bind(&address).map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}

/// The identity provider the login code talks to, over HTTP either way.
struct Provider {
    config: Arc<XwmsConfig>,
    /// The sandbox's state when the sandbox is the provider (served by this very app).
    sandbox: Option<web::Data<Sandbox>>,
}

/// Provider: real XWMS when credentials are configured, otherwise the sandbox.
fn choose_provider(
    settings: &Settings,
    redirect_uri: &Url,
    local: SocketAddr,
    pool: &DbPool,
) -> Result<Provider, StartupError> {
    if let Some(credentials) = &settings.xwms.credentials {
        return Ok(Provider {
            config: Arc::new(XwmsConfig {
                provider: XwmsConfig::provider_for(&settings.xwms.api_url),
                api_url: settings.xwms.api_url.clone(),
                credentials: credentials.clone(),
                timeout: settings.xwms.timeout,
            }),
            sandbox: None,
        });
    }
    let mut public_origin = redirect_uri.clone();
    public_origin.set_path("/");
    public_origin.set_query(None);
    public_origin.set_fragment(None);
    let sandbox = Sandbox::new(
        public_origin,
        settings.xwms.sandbox_client_secret.clone(),
        pool.clone(),
    );
    let api_url = sandbox_api_url(local)?;
    log::warn!(
        "no XWMS credentials configured: logins use the built-in SANDBOX (not real XWMS) at {api_url}"
    );
    Ok(Provider {
        config: Arc::new(XwmsConfig {
            api_url,
            credentials: sandbox.credentials(),
            timeout: settings.xwms.timeout,
            provider: sandbox::PROVIDER.to_owned(),
        }),
        sandbox: Some(web::Data::new(sandbox)),
    })
}

fn session_key(settings: &Settings) -> Key {
    settings.session.key.clone().unwrap_or_else(|| {
        log::warn!(
            "SESSION_KEY is not set: using a random key; sessions end when the app restarts"
        );
        Key::generate()
    })
}

/// Shared state: what every handler may need, built once; each worker gets a copy around a
/// pool of its own (`serve`).
fn shared_state(
    settings: &Settings,
    pool: DbPool,
    redirect_uri: Url,
    provider: &Provider,
    session_key: &Key,
) -> web::Data<AppState> {
    web::Data::new(AppState {
        pool,
        redirect_uri,
        login_binding: settings.xwms.login_binding,
        login_max_age: settings.xwms.login_max_age,
        sandbox: provider.sandbox.is_some(),
        xwms_account_url: settings.xwms.account_url.clone(),
        session_idle_timeout: settings.session.idle_timeout,
        step_up_max_age: settings.security.step_up_max_age,
        session_absolute_timeout: settings.session.absolute_timeout,
        trusted_proxies: Arc::new(settings.security.trusted_proxies.clone()),
        // Stable across restarts when SESSION_KEY is set, so hashes stay comparable.
        ip_hash_salt: Sha256::digest([b"ip-hash:".as_slice(), session_key.master()].concat())
            .to_vec(),
        notes_per_page: settings.notes.per_page.into(),
        anonymous_activity_retention: settings.security.anonymous_activity_retention,
        cookie_secure: settings.session.cookie_secure,
        clock: Arc::new(Clock::default()),
    })
}

/// Logged (debug) after each run of the background jobs.
pub const BACKGROUND_JOBS_DONE: &str = "background jobs: done";

/// Background jobs, at start and then hourly: the rate limit's spent rows, the used login
/// tokens no login can use any more, the session records past their limits, and the
/// activity log's retention (every replica runs
/// them, which is harmless: the deletes are idempotent). The first run is at start (an
/// interval's first tick is immediate), so a replica that restarts more often than hourly
/// still sweeps, and a test can watch the sweeps by starting an app.
fn start_background_jobs(settings: &Settings, state: &web::Data<AppState>) {
    let (pool, users, anonymous, login_max_age) = (
        state.pool.clone(),
        settings.security.activity_retention,
        settings.security.anonymous_activity_retention,
        state.login_max_age,
    );
    let session_limits = state.session_limits();
    actix_web::rt::spawn(async move {
        let mut every_hour = actix_web::rt::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            if let Err(err) = rate_limit::sweep(&pool).await {
                log::warn!("rate limit: sweep failed: {err}");
            }
            if let Err(err) = session_records::sweep_used_login_tokens(&pool, login_max_age).await {
                log::warn!("used login tokens: sweep failed: {err}");
            }
            if let Err(err) = session_records::sweep_sessions(&pool, session_limits).await {
                log::warn!("sessions: sweep failed: {err}");
            }
            match activity::sweep_expired_events(&pool, users, anonymous).await {
                Ok(0) => {}
                Ok(swept) => {
                    log::info!("activity log: {swept} event(s) past their retention deleted")
                }
                Err(err) => log::warn!("activity log: retention sweep failed: {err}"),
            }
            log::debug!("{BACKGROUND_JOBS_DONE}");
        }
    });
}

/// Server: middleware (outermost last), per-worker XWMS client, routes.
fn serve(
    settings: &Settings,
    listener: TcpListener,
    state: web::Data<AppState>,
    pools: db::PoolRecipe,
    provider: Provider,
    session_key: Key,
    public_origin: web::Data<PublicOrigin>,
) -> Result<Server, StartupError> {
    // As actix counts them: `WORKERS`, or one per core.
    let workers = match settings.server.workers {
        0 => std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
        workers => workers,
    };
    // `DATABASE_MAX_CONNECTIONS` shared among the workers, at least one each.
    let pool_sizes = db::worker_pool_sizes(pools.max_connections(), workers);
    log::info!(
        "database pools: {} connection(s) over {workers} worker(s) ({}), and 1 for the start and the background jobs",
        pool_sizes.iter().sum::<usize>(),
        pool_sizes
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    );
    // The factory below runs once in each worker: this hands each its share.
    let next_worker = Arc::new(AtomicUsize::new(0));
    let redirect_to_public_origin = settings.server.redirect_to_public_origin;
    let cookie_secure = settings.session.cookie_secure;
    let hsts = settings.env == AppEnv::Production && cookie_secure;
    let hsts_include_subdomains = settings.security.hsts_include_subdomains;
    let metrics = Arc::new(Metrics::new()?);
    let metrics_access =
        web::Data::new(match (&settings.metrics.token, settings.metrics.enabled) {
            (Some(token), _) => MetricsAccess::Token(token.clone()),
            (None, true) => MetricsAccess::Open,
            (None, false) => MetricsAccess::Off,
        });
    let xwms_health = web::Data::new(XwmsHealth::default());
    let rate_limit = web::Data::new(RateLimit::new(&settings.security));
    // The pages whose own reads go out with the session check.
    let page_reads = web::Data::new(PageReads(vec![routes::profile::PROFILE_READ]));
    let Provider {
        config: xwms_config,
        sandbox,
    } = provider;

    let server = HttpServer::new(move || {
        // This worker's own pool, and the state and sandbox around it (`db::PoolRecipe`).
        // Its recipe built the start's pool already, so it builds this one too; should it
        // ever fail, the worker shares the start's one connection (and says so).
        let size = pool_sizes[next_worker.fetch_add(1, Ordering::Relaxed) % pool_sizes.len()];
        let pool = pools.build(size).unwrap_or_else(|err| {
            log::error!("database pool of a worker: {err}; it shares the start's connection");
            state.pool.clone()
        });
        let sandbox = sandbox
            .as_ref()
            .map(|sandbox| web::Data::new(sandbox.with_pool(pool.clone())));
        let state = web::Data::new(state.with_pool(pool));
        App::new()
            .wrap(from_fn(enforce_session_limits))
            // Outside the session limits (a request for another host is only sent on),
            // inside the error pages (a form for another host gets one).
            .wrap(Condition::new(
                redirect_to_public_origin,
                from_fn(redirect_to_public_origin_middleware),
            ))
            // Turns every error response into the site's error page.
            .wrap(ErrorHandlers::new().default_handler(render_error_page))
            .wrap(session_middleware(session_key.clone(), cookie_secure))
            .wrap(security_headers(hsts, hsts_include_subdomains))
            .wrap(request_logger())
            .app_data(state)
            .app_data(page_reads.clone())
            .app_data(rate_limit.clone())
            .app_data(public_origin.clone())
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
            .configure(routes::auth::configure)
            .configure(routes::profile::configure)
            .configure(routes::sessions::configure)
            .configure(routes::notes::configure)
            .configure(routes::health::configure)
            .configure(routes::static_files::configure)
            .configure(routes::metrics::configure)
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
    .shutdown_timeout(10)
    .workers(workers);
    let address = format!("{}:{}", settings.server.host, settings.server.port);
    Ok(server
        .listen(listener)
        .map_err(|source| StartupError::Bind { address, source })?
        .run())
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

/// `include_subdomains` (`HSTS_INCLUDE_SUBDOMAINS`) extends HSTS to every subdomain: only
/// for a domain whose every site is https, as browsers then refuse plain http on all of
/// them for a year.
fn security_headers(hsts: bool, include_subdomains: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"));
    match (hsts, include_subdomains) {
        (true, true) => headers.add((
            "Strict-Transport-Security",
            "max-age=31536000; includeSubDomains",
        )),
        (true, false) => headers.add(("Strict-Transport-Security", "max-age=31536000")),
        (false, _) => headers,
    }
}

/// Logs method, path, status, size and time. Never the query string: on the callback
/// it holds the login token, and actix's default format would log it.
fn request_logger() -> Logger {
    Logger::new("%{method}xi %{path}xi %s %b %Dms")
        .custom_request_replace("method", |req| req.method().to_string())
        .custom_request_replace("path", |req| req.path().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(url: &str) -> db::PgConnector {
        db::PgConnector::new(url, None).expect("a valid URL")
    }

    #[test]
    fn only_production_warns_of_a_remote_database_it_does_not_verify() {
        let remote = connector("postgres://app@db.example.com/app?sslmode=require");
        let verified = connector("postgres://app@db.example.com/app?sslmode=verify-full");
        let local = connector("postgres://app@127.0.0.1/app?sslmode=require");
        assert!(unverified_remote_database_in_production(
            AppEnv::Production,
            &remote
        ));
        assert!(!unverified_remote_database_in_production(
            AppEnv::Production,
            &verified
        ));
        assert!(!unverified_remote_database_in_production(
            AppEnv::Production,
            &local
        ));
        assert!(!unverified_remote_database_in_production(
            AppEnv::Development,
            &remote
        ));
    }

    #[cfg(feature = "dev-database")]
    #[test]
    fn only_development_without_a_database_url_may_use_a_private_server() {
        let database = |url: Option<&str>| {
            Settings::from_lookup(|name| match name {
                "DATABASE_URL" => url.map(str::to_owned),
                _ => None,
            })
            .expect("settings")
            .database
        };
        let unset = database(None);
        let set = database(Some("postgres://app@127.0.0.1/app"));
        assert!(may_use_a_private_server(AppEnv::Development, &unset));
        assert!(!may_use_a_private_server(AppEnv::Production, &unset));
        assert!(!may_use_a_private_server(AppEnv::Development, &set));
    }

    #[test]
    fn the_sandbox_api_is_reached_where_the_app_listens_on_loopback_for_every_address() {
        let url = |local: &str| sandbox_api_url(local.parse().unwrap()).unwrap().to_string();
        let api = format!("{SANDBOX_PATH}/api/");
        assert_eq!(url("0.0.0.0:3000"), format!("http://127.0.0.1:3000{api}"));
        assert_eq!(url("[::]:3000"), format!("http://[::1]:3000{api}"));
        assert_eq!(url("10.0.0.5:3000"), format!("http://10.0.0.5:3000{api}"));
        assert_eq!(
            url("[2001:db8::5]:3000"),
            format!("http://[2001:db8::5]:3000{api}")
        );
    }

    #[cfg(feature = "dev-database")]
    #[test]
    fn the_log_names_a_database_by_its_host_and_port_never_its_password() {
        assert_eq!(
            db_address("postgres://app:s3cret@db.example:6543/app"),
            "db.example:6543"
        );
        assert_eq!(db_address("postgres://app@127.0.0.1/app"), "127.0.0.1:5432");
        assert_eq!(db_address("not a url"), "the default database");
    }
}
