//! The test harness: a real app on a random port, a fresh PostgreSQL database per test
//! (created here, dropped when the test ends), and either the built-in sandbox or a
//! fake XWMS (wiremock) as the provider, always over real HTTP.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once, OnceLock};

use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};
use xwms_starter::app::startup::Application;
use xwms_starter::db;
use xwms_starter::support::config::Settings;
use xwms_starter::web::state::Clock;

/// The PostgreSQL server tests create their databases on: `TEST_DATABASE_URL` (a
/// superuser's URL to a maintenance database such as `postgres`), else the default
/// server at 127.0.0.1:5432 if it lets us in, else a private server started from the
/// machine's PostgreSQL binaries and shared by this run's test binaries (it stops a few
/// seconds after the last of them ends; see crates/dev-postgres).
pub async fn server_url() -> String {
    static URL: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    URL.get_or_init(|| async {
        if let Some(url) = std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
        {
            return url;
        }
        if dev_postgres::server_lets_us_in(dev_postgres::DEFAULT_SERVER)
            .await
            .is_ok()
        {
            return dev_postgres::DEFAULT_SERVER.to_owned();
        }
        let dir = dev_postgres::default_dir("test");
        let server = tokio::task::spawn_blocking(move || dev_postgres::ensure_private_server(&dir))
            .await
            .expect("the private PostgreSQL thread")
            .unwrap_or_else(|err| panic!("no PostgreSQL for the tests: {err}"));
        eprintln!(
            "tests: nothing lets us in at 127.0.0.1:5432 and TEST_DATABASE_URL is unset, so they use a private PostgreSQL in {}",
            server.dir.display()
        );
        server.url
    })
    .await
    .clone()
}

/// A connection to `url`, opened the way the app opens them (its sslmode honoured, with
/// `ca_file` as DATABASE_CA_FILE).
pub async fn connect(url: &str, ca_file: Option<&Path>) -> Result<AsyncPgConnection, String> {
    db::PgConnector::new(url, ca_file)
        .map_err(|err| err.to_string())?
        .connect()
        .await
        .map_err(|err| err.to_string())
}

// ---------------------------------------------------------------------------------
// Log capture: every log line of every app in this test binary, each tagged with the
// actix System it was logged in. Every test app runs in a System of its own (see
// `start_app`), and its worker threads are Arbiters of that System, so the tag tells
// one app's lines from every other's: `TestApp::logs`. `TEST_LOG=1` also prints them.

/// A captured line and the id of the actix System it was logged in (none: a thread
/// outside every System, such as a blocking-pool thread).
type LogLine = (Option<usize>, String);

static LOG_LINES: OnceLock<Mutex<Vec<LogLine>>> = OnceLock::new();

struct CapturingLogger;

impl log::Log for CapturingLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Debug
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let system = actix_web::rt::System::try_current().map(|system| system.id());
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        if std::env::var_os("TEST_LOG").is_some() {
            eprintln!("{line}");
        }
        if let Some(lines) = LOG_LINES.get() {
            lines
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((system, line));
        }
    }

    fn flush(&self) {}
}

fn init_logging() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        LOG_LINES.get_or_init(|| Mutex::new(Vec::new()));
        if log::set_boxed_logger(Box::new(CapturingLogger)).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    });
}

/// Every line logged so far by any app in this test binary: for what must never be
/// logged by anyone. What an app did log is `TestApp::logs`.
pub fn captured_logs() -> Vec<String> {
    logged_in(|_| true)
}

fn logged_in(system: impl Fn(Option<usize>) -> bool) -> Vec<String> {
    LOG_LINES
        .get()
        .map(|lines| {
            lines
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .filter(|(id, _)| system(*id))
                .map(|(_, line)| line.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// An app started by `start_app`: its port, the System it runs in, a handle to stop it
/// and the clock its session limits are measured in.
pub struct RunningApp {
    pub port: u16,
    pub system_id: usize,
    pub handle: actix_web::dev::ServerHandle,
    pub clock: Arc<Clock>,
}

/// Starts the app the way `main` does, in an actix System of its own on a thread of its
/// own, so its log lines carry their own tag. It runs until `handle` stops it.
pub async fn start_app(settings: Settings) -> Result<RunningApp, String> {
    init_logging();
    let (started, receiver) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("test-app".to_owned())
        .spawn(move || {
            let system = actix_web::rt::System::new();
            let system_id = actix_web::rt::System::current().id();
            system.block_on(async move {
                match Application::build(settings).await {
                    Ok(app) => {
                        let running = RunningApp {
                            port: app.port(),
                            system_id,
                            handle: app.handle(),
                            clock: app.clock(),
                        };
                        if started.send(Ok(running)).is_ok() {
                            let _ = app.run_until_stopped().await;
                        }
                    }
                    Err(err) => {
                        let _ = started.send(Err(err.to_string()));
                    }
                }
            });
        })
        .expect("a thread for the app");
    receiver.await.expect("the app's thread reports its start")
}

// ---------------------------------------------------------------------------------

/// Which XWMS the app talks to.
pub enum Provider<'a> {
    /// The built-in sandbox (no credentials configured).
    Sandbox,
    /// A fake XWMS answering under `{uri}/api/`.
    Fake(&'a MockServer),
    /// A hand-written fake XWMS at this base URL (`http://127.0.0.1:port`).
    At(String),
}

pub const FAKE_CLIENT_ID: &str = "test-client";
pub const FAKE_CLIENT_SECRET: &str = "test-client-secret-value";
pub const FAKE_DOMAIN: &str = "example.com";

pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// A browser: keeps cookies, does not follow redirects.
    pub client: reqwest::Client,
    pub database_url: String,
    /// DATABASE_CA_FILE, when the test set one.
    pub ca_file: Option<PathBuf>,
    /// The clock of the app's session limits: `advance` it to let time pass.
    pub clock: Arc<Clock>,
    /// The actix System the app runs in (its log lines are tagged with it).
    system_id: usize,
    handle: actix_web::dev::ServerHandle,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Provider::Sandbox, &[]).await
}

/// An app for many logins at once (the races): every wait it has (for a pooled connection,
/// for a statement's locks, for the sandbox's answer, which needs a connection of the same
/// pool) may take a minute instead of seconds, so a loaded machine slows the race down
/// instead of turning some of its logins into the 503 or 504 of a timeout. The race is what
/// these tests are about; the timeouts have tests of their own.
pub async fn spawn_app_for_a_race() -> TestApp {
    spawn_app_with(
        Provider::Sandbox,
        &[
            ("DATABASE_ACQUIRE_TIMEOUT_MS", "60000"),
            ("DATABASE_STATEMENT_TIMEOUT_MS", "60000"),
            ("XWMS_TIMEOUT_MS", "60000"),
        ],
    )
    .await
}

/// A production deployment of the sandbox demo behind https (`https://app.example.com`),
/// with `extra` settings on top.
pub async fn spawn_https_production_demo(extra: &[(&str, &str)]) -> TestApp {
    let session_key = xwms_starter::support::crypto::new_session_key();
    let mut env = vec![
        ("APP_ENV", "production"),
        ("XWMS_SANDBOX", "true"),
        ("SESSION_KEY", session_key.as_str()),
        (
            "XWMS_REDIRECT_URI",
            "https://app.example.com/xwms/validateToken",
        ),
    ];
    env.extend_from_slice(extra);
    spawn_app_with(Provider::Sandbox, &env).await
}

/// Starts the app with extra environment variables (e.g. `("XWMS_TIMEOUT_MS", "500")`).
pub async fn spawn_app_with(provider: Provider<'_>, extra_env: &[(&str, &str)]) -> TestApp {
    spawn_app_on(&server_url().await, provider, extra_env).await
}

/// Starts the app on a fresh database of the PostgreSQL server at `server` (a URL whose
/// database is replaced and whose parameters, `sslmode` and the like, are kept).
pub async fn spawn_app_on(
    server: &str,
    provider: Provider<'_>,
    extra_env: &[(&str, &str)],
) -> TestApp {
    init_logging();
    let ca_file = extra_env
        .iter()
        .find(|(key, _)| *key == "DATABASE_CA_FILE")
        .map(|(_, path)| PathBuf::from(path));
    let database_url = new_test_database_on(server, ca_file.as_deref()).await;
    spawn_app_on_database(database_url, ca_file, provider, extra_env).await
}

/// Starts the app on `database_url`, a database the test prepared (it is dropped when
/// the test ends).
pub async fn spawn_app_on_database(
    database_url: String,
    ca_file: Option<PathBuf>,
    provider: Provider<'_>,
    extra_env: &[(&str, &str)],
) -> TestApp {
    let settings = test_settings(&database_url, &provider, extra_env);
    let app = start_app(settings)
        .await
        .unwrap_or_else(|err| panic!("app starts: {err}"));

    TestApp {
        address: format!("http://localhost:{}", app.port),
        port: app.port,
        client: browser(),
        database_url,
        ca_file,
        clock: app.clock,
        system_id: app.system_id,
        handle: app.handle,
    }
}

/// A fresh, empty database on the test server; its URL.
pub async fn new_test_database() -> String {
    new_test_database_on(&server_url().await, None).await
}

/// The URL of a database on the test server that nobody has created (yet).
pub async fn a_database_nobody_created() -> String {
    unused_database_url_on(&server_url().await)
}

fn unused_database_url_on(server: &str) -> String {
    let mut database_url = url::Url::parse(server).expect("the server is a URL");
    database_url.set_path(&format!("xwms_test_{}", random_suffix()));
    database_url.to_string()
}

/// A fresh, empty database on the server at `server`; its URL.
async fn new_test_database_on(server: &str, ca_file: Option<&Path>) -> String {
    let database_url = unused_database_url_on(server);
    let connector = db::PgConnector::new(&database_url, ca_file).expect("test database URL");
    assert!(
        db::create_database_if_missing(&connector)
            .await
            .expect("create test database")
    );
    database_url
}

/// The settings of an app under test: port 0, generous rate limits, the provider.
pub fn test_settings(
    database_url: &str,
    provider: &Provider<'_>,
    extra_env: &[(&str, &str)],
) -> Settings {
    let mut env: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), database_url.to_owned()),
        ("HOST".into(), "127.0.0.1".into()),
        ("PORT".into(), "0".into()),
        ("WORKERS".into(), "2".into()),
        ("XWMS_TIMEOUT_MS".into(), "1000".into()),
        // Tests log in many times from one address; the rate-limit tests lower these.
        ("RATE_LIMIT_PER_MINUTE".into(), "100000".into()),
        ("RATE_LIMIT_BURST".into(), "100000".into()),
    ]);
    let fake_uri = match provider {
        Provider::Sandbox => None,
        Provider::Fake(server) => Some(server.uri()),
        Provider::At(uri) => Some(uri.clone()),
    };
    if let Some(uri) = fake_uri {
        env.insert("XWMS_API_URL".into(), format!("{uri}/api"));
        env.insert("XWMS_CLIENT_ID".into(), FAKE_CLIENT_ID.into());
        env.insert("XWMS_CLIENT_SECRET".into(), FAKE_CLIENT_SECRET.into());
        env.insert("XWMS_CLIENT_DOMAIN".into(), FAKE_DOMAIN.into());
    }
    for (key, value) in extra_env {
        env.insert((*key).to_owned(), (*value).to_owned());
    }
    Settings::from_lookup(|name| env.get(name).cloned()).expect("test settings")
}

/// A session key tests can forge cookies with (`forge_session_cookie`): 68 bytes of text.
/// (No project name in it: `scripts/rename` must not change its length below 64.)
pub const TEST_SESSION_KEY: &str =
    "test-session-key-for-forged-cookies-0123456789-0123456789-0123456789";

/// A session cookie (`xwms_session=...`) as the app would write it, encrypted with
/// `key`: `state` maps session keys to values, each stored as JSON text.
pub fn forge_session_cookie(key: &str, state: &[(&str, serde_json::Value)]) -> String {
    use actix_web::cookie::{Cookie, CookieJar, Key};
    let state: HashMap<&str, String> = state
        .iter()
        .map(|(name, value)| (*name, value.to_string()))
        .collect();
    let key = Key::from(key.as_bytes());
    let mut jar = CookieJar::new();
    jar.private_mut(&key).add(Cookie::new(
        "xwms_session",
        serde_json::to_string(&state).expect("session state as JSON"),
    ));
    format!(
        "xwms_session={}",
        jar.get("xwms_session").expect("the forged cookie").value()
    )
}

/// A new browser that already holds `cookie` (`name=value`) for the app at `url`.
pub fn browser_with_cookie(url: &str, cookie: &str) -> reqwest::Client {
    let jar = reqwest::cookie::Jar::default();
    jar.add_cookie_str(&format!("{cookie}; Path=/"), &url.parse().expect("app URL"));
    reqwest::Client::builder()
        .user_agent("xwms-starter-tests")
        .redirect(Policy::none())
        .cookie_provider(std::sync::Arc::new(jar))
        .build()
        .expect("reqwest client")
}

/// Logs `browser` in as Ada; returns the session cookie (`name=value`) the callback set,
/// a copy of it to replay later.
pub async fn signed_in_cookie_of(app: &TestApp, browser: &reqwest::Client) -> String {
    let callback = app
        .sandbox_callback_with(browser, &[("persona", "ada"), ("outcome", "success")])
        .await;
    let response = browser.get(&callback).send().await.expect("callback");
    session_cookie(response.headers()).expect("a session cookie")
}

/// The status of `GET /profile` with only `cookie`: 200 signed in, 303 not.
pub async fn profile_status_with_cookie(app: &TestApp, cookie: &str) -> u16 {
    status_with_cookie(app, "/profile", cookie).await
}

/// The status of `GET path` sent with only `cookie`.
pub async fn status_with_cookie(app: &TestApp, path: &str, cookie: &str) -> u16 {
    bare_client()
        .get(app.url(path))
        .header("Cookie", cookie)
        .send()
        .await
        .expect("profile")
        .status()
        .as_u16()
}

/// The month names of Dutch dates, January first: what the pages must show in Dutch.
pub const DUTCH_MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
];

/// A client without a cookie jar, for replaying a cookie by hand.
pub fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("reqwest client")
}

/// A new browser: its own cookie jar, redirects not followed.
///
/// No idle connection is kept for reuse: on a loaded machine a connection may sit idle
/// until the app's keep-alive (5 s) closes it just as the next request is sent on it,
/// which fails with "connection closed before message completed" (a real browser retries
/// such a request; reqwest does not).
pub fn browser() -> reqwest::Client {
    browser_as("xwms-starter-tests")
}

/// A new browser (as [`browser`]) that sends `user_agent`.
pub fn browser_as(user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(user_agent)
        .redirect(Policy::none())
        .pool_max_idle_per_host(0)
        .cookie_store(true)
        .build()
        .expect("reqwest client")
}

fn random_suffix() -> String {
    use rand::Rng;
    let bytes: [u8; 8] = rand::rng().random();
    hex::encode(bytes)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the app (its thread ends with it); the command is sent at once.
        drop(self.handle.stop(false));
        // Drop the database on a thread of its own: Drop cannot await, and the test's
        // runtime may be shutting down.
        let url = self.database_url.clone();
        let ca_file = self.ca_file.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            if let Err(err) = runtime.block_on(drop_database(&url, ca_file.as_deref())) {
                eprintln!("could not drop test database: {err}");
            }
        })
        .join();
    }
}

/// Drops a test database, closing any connection still open to it.
pub async fn drop_database(database_url: &str, ca_file: Option<&Path>) -> Result<(), String> {
    let mut url = url::Url::parse(database_url).map_err(|err| err.to_string())?;
    let name = url.path().trim_start_matches('/').to_owned();
    url.set_path("/postgres");
    let mut conn = connect(url.as_str(), ca_file).await?;
    diesel::sql_query(format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        db::quote_identifier(&name)
    ))
    .execute(&mut conn)
    .await
    .map_err(|err| err.to_string())?;
    Ok(())
}

pub fn location(headers: &HeaderMap) -> String {
    headers
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .expect("ASCII location")
        .to_owned()
}

pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.contains("xwms_session="))
        .map(|value| value.split(';').next().unwrap_or_default().to_owned())
}

impl TestApp {
    /// Every line this app logged so far (and nothing another app logged).
    pub fn logs(&self) -> Vec<String> {
        logged_in(|system| system == Some(self.system_id))
    }

    /// The log line of the error page whose reference id is `reference`.
    pub fn log_line_of_reference(&self, reference: &str) -> String {
        let marker = format!("ref={reference} ");
        self.logs()
            .into_iter()
            .find(|line| line.contains(&marker))
            .unwrap_or_else(|| panic!("no log line of reference {reference}"))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(&self.client, path).await
    }

    pub async fn get_with(&self, browser: &reqwest::Client, path: &str) -> reqwest::Response {
        browser.get(self.url(path)).send().await.expect("request")
    }

    /// `GET path` in the test's browser, asking for the page in Dutch.
    pub async fn get_in_dutch(&self, path: &str) -> reqwest::Response {
        self.get_in_dutch_with(&self.client, path).await
    }

    /// `GET path` in `browser`, asking for the page in Dutch.
    pub async fn get_in_dutch_with(
        &self,
        browser: &reqwest::Client,
        path: &str,
    ) -> reqwest::Response {
        let request = browser.get(self.url(path)).header("Accept-Language", "nl");
        request.send().await.expect("request")
    }

    /// `GET /xwms/auth` in `browser`, as a click on our own login button sends it
    /// (`Sec-Fetch-Site: same-origin`): returns the provider's login URL.
    pub async fn start_login_with(&self, browser: &reqwest::Client) -> String {
        let response = browser
            .get(self.url("/xwms/auth"))
            .header("Sec-Fetch-Site", "same-origin")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 303, "start of login redirects");
        location(response.headers())
    }

    /// Starts a login in `browser` and submits the sandbox's login form; returns the
    /// callback URL (with its token) that the sandbox sends the browser to.
    pub async fn sandbox_callback_with(
        &self,
        browser: &reqwest::Client,
        form: &[(&str, &str)],
    ) -> String {
        let login_page = self.start_login_with(browser).await;
        assert!(login_page.contains("/sandbox/xwms/login/"), "{login_page}");
        let page = browser.get(&login_page).send().await.expect("login page");
        assert_eq!(page.status(), 200);
        let response = browser
            .post(&login_page)
            .form(form)
            .send()
            .await
            .expect("submit");
        assert_eq!(response.status(), 303, "sandbox redirects back to the app");
        location(response.headers())
    }

    /// Logs `browser` in as a sandbox persona; returns the callback's response.
    pub async fn login_as_with(
        &self,
        browser: &reqwest::Client,
        persona: &str,
    ) -> reqwest::Response {
        let callback = self
            .sandbox_callback_with(browser, &[("persona", persona), ("outcome", "success")])
            .await;
        browser.get(&callback).send().await.expect("callback")
    }

    pub async fn login_as(&self, persona: &str) -> reqwest::Response {
        self.login_as_with(&self.client, persona).await
    }

    /// Logs `browser` in as Ada, start to finish, and asserts it ends on the profile on
    /// this first try.
    pub async fn log_in_ending_on_the_profile(&self, browser: &reqwest::Client) {
        self.log_in_ending_on_the_profile_as(browser, "ada").await;
    }

    /// The same as a sandbox `persona`.
    pub async fn log_in_ending_on_the_profile_as(&self, browser: &reqwest::Client, persona: &str) {
        let callback = self.login_as_with(browser, persona).await;
        assert_eq!(callback.status(), 303, "the callback accepts the login");
        assert_eq!(location(callback.headers()), "/profile");
        self.assert_signed_in(browser).await;
    }

    /// `browser` sees its profile (not a redirect home).
    pub async fn assert_signed_in(&self, browser: &reqwest::Client) {
        let profile = self.get_with(browser, "/profile").await;
        assert_eq!(profile.status(), 200, "signed in: the profile is shown");
    }

    pub async fn profile_html(&self) -> String {
        let response = self.get("/profile").await;
        assert_eq!(response.status(), 200, "profile is shown");
        response.text().await.expect("profile body")
    }

    /// `n` browsers each get a valid, bound callback for the same new `sub`, then all
    /// come back at once. Returns the browsers and their callback responses.
    pub async fn parallel_first_logins(
        &self,
        n: usize,
        sub: &str,
    ) -> Vec<(reqwest::Client, reqwest::Response)> {
        let form = [
            ("persona", "custom"),
            ("custom_sub", sub),
            ("outcome", "success"),
        ];
        let mut pending = Vec::new();
        for _ in 0..n {
            let browser = browser();
            let callback = self.sandbox_callback_with(&browser, &form).await;
            pending.push((browser, callback));
        }
        let responses =
            futures::future::join_all(pending.iter().map(|(browser, url)| browser.get(url).send()))
                .await;
        pending
            .into_iter()
            .zip(responses)
            .map(|((browser, _), response)| (browser, response.expect("callback")))
            .collect()
    }

    /// Submits `browser`'s logout form to `path` (`/logout` or `/logout/everywhere`).
    pub async fn log_out_with(&self, browser: &reqwest::Client, path: &str) -> reqwest::Response {
        let token = self.logout_token_with(browser).await;
        browser
            .post(self.url(path))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await
            .expect("logout")
    }

    /// The CSRF token of the logout form on a page of the signed-in `browser`.
    pub async fn logout_token_with(&self, browser: &reqwest::Client) -> String {
        let html = self
            .get_with(browser, "/")
            .await
            .text()
            .await
            .expect("home");
        Self::form_csrf_token(&html)
    }

    /// A pool on the app's database, as the app builds it, for calling the library's
    /// own functions in a test.
    pub fn pool(&self) -> db::DbPool {
        let database = Settings::from_lookup(|name| {
            (name == "DATABASE_URL").then(|| self.database_url.clone())
        })
        .expect("settings for the test database")
        .database;
        let connector = db::PgConnector::new(&self.database_url, self.ca_file.as_deref())
            .expect("test database URL");
        db::build_pool(&database, connector).expect("a pool")
    }

    pub async fn db(&self) -> AsyncPgConnection {
        connect(&self.database_url, self.ca_file.as_deref())
            .await
            .expect("test database connection")
    }

    /// `SELECT count(*) FROM {table}`.
    pub async fn count(&self, table: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            count: i64,
        }
        let mut conn = self.db().await;
        diesel::sql_query(format!("SELECT count(*) AS count FROM {table}"))
            .get_result::<Count>(&mut conn)
            .await
            .expect("count")
            .count
    }

    /// Makes PostgreSQL refuse this app's database, as if it had gone away.
    pub async fn take_database_down(&self) {
        let name = self.database_name();
        let mut conn = connect(&server_url().await, None).await.expect("server");
        diesel::sql_query(format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"))
            .execute(&mut conn)
            .await
            .expect("disallow connections");
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .execute(&mut conn)
        .await
        .expect("terminate connections");
        // pg_terminate_backend only signals: wait until the backends are really gone.
        #[derive(QueryableByName)]
        struct Left {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            left: i64,
        }
        for _ in 0..100 {
            let left: Left = diesel::sql_query(format!(
                "SELECT count(*) AS left FROM pg_stat_activity WHERE datname = '{name}'"
            ))
            .get_result(&mut conn)
            .await
            .expect("count backends");
            if left.left == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("backends of {name} did not go away");
    }

    /// Undoes `take_database_down`.
    pub async fn bring_database_back(&self) {
        let name = self.database_name();
        let mut conn = connect(&server_url().await, None).await.expect("server");
        diesel::sql_query(format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"))
            .execute(&mut conn)
            .await
            .expect("allow connections");
    }

    pub fn database_name(&self) -> String {
        url::Url::parse(&self.database_url)
            .expect("database URL")
            .path()
            .trim_start_matches('/')
            .to_owned()
    }

    /// Takes `LOCK TABLE {table} IN {mode} MODE` in a transaction of its own and holds it
    /// until `release_lock`: the app's statements that need the table wait, until their
    /// statement timeout, as on a stuck database.
    pub async fn hold_lock(&self, table: &str, mode: &str) -> AsyncPgConnection {
        let mut conn = self.db().await;
        for sql in [
            "BEGIN".to_owned(),
            format!("LOCK TABLE {table} IN {mode} MODE"),
        ] {
            diesel::sql_query(sql)
                .execute(&mut conn)
                .await
                .expect("lock the table");
        }
        conn
    }

    pub async fn release_lock(mut conn: AsyncPgConnection) {
        diesel::sql_query("ROLLBACK")
            .execute(&mut conn)
            .await
            .expect("release the lock");
    }

    /// Runs one SQL statement on the test database (test fixtures, fault injection).
    pub async fn execute_sql(&self, sql: &str) {
        let mut conn = self.db().await;
        diesel::sql_query(sql)
            .execute(&mut conn)
            .await
            .expect("test SQL");
    }

    /// The `ip_hash` of every security event, oldest first.
    pub async fn event_ip_hashes(&self) -> Vec<Option<String>> {
        #[derive(QueryableByName)]
        struct Hash {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            ip_hash: Option<String>,
        }
        let mut conn = self.db().await;
        diesel::sql_query("SELECT ip_hash FROM security_events ORDER BY id")
            .load::<Hash>(&mut conn)
            .await
            .expect("ip hashes")
            .into_iter()
            .map(|row| row.ip_hash)
            .collect()
    }

    /// `(provider, sub)` of every linked identity, by id.
    pub async fn identities(&self) -> Vec<(String, String)> {
        #[derive(QueryableByName)]
        struct Identity {
            #[diesel(sql_type = diesel::sql_types::Text)]
            provider: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            sub: String,
        }
        let mut conn = self.db().await;
        diesel::sql_query("SELECT provider, sub FROM xwms_connections ORDER BY id")
            .load::<Identity>(&mut conn)
            .await
            .expect("identities")
            .into_iter()
            .map(|row| (row.provider, row.sub))
            .collect()
    }

    /// The CSRF token of the form on a page's HTML.
    pub fn form_csrf_token(html: &str) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = html.find(marker).expect("a form with a CSRF token") + marker.len();
        html[start..start + 64].to_owned()
    }

    /// The kind of every security event, oldest first.
    pub async fn event_kinds(&self) -> Vec<String> {
        self.events()
            .await
            .into_iter()
            .map(|(kind, _)| kind)
            .collect()
    }

    /// `(kind, user_id)` of every security event, oldest first.
    pub async fn events(&self) -> Vec<(String, Option<i64>)> {
        #[derive(QueryableByName)]
        struct Event {
            #[diesel(sql_type = diesel::sql_types::Text)]
            kind: String,
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
            user_id: Option<i64>,
        }
        let mut conn = self.db().await;
        diesel::sql_query("SELECT kind, user_id FROM security_events ORDER BY id")
            .load::<Event>(&mut conn)
            .await
            .expect("events")
            .into_iter()
            .map(|event| (event.kind, event.user_id))
            .collect()
    }
}

/// Value found between `data-testid="{id}">` and the next `<`.
pub fn testid(html: &str, id: &str) -> String {
    let marker = format!("data-testid=\"{id}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {id} in page"))
        + marker.len();
    html[start..]
        .split('<')
        .next()
        .unwrap_or_default()
        .to_owned()
}

// ---------------------------------------------------------------------------------
// The fake XWMS.

pub const FAKE_LOGIN_URL: &str = "https://xwms.example/login/abc";

/// Matches a JSON body that is an object with exactly these keys, each a non-empty
/// string, `redirect_url` (when asked for) an absolute URL of our callback path: the
/// fake XWMS answers only the requests the real one documents.
pub struct JsonBodyWithKeys(pub &'static [&'static str]);

impl Match for JsonBodyWithKeys {
    fn matches(&self, request: &Request) -> bool {
        let Ok(serde_json::Value::Object(body)) = serde_json::from_slice(&request.body) else {
            return false;
        };
        body.len() == self.0.len()
            && self.0.iter().all(|key| {
                body.get(*key)
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|value| !value.is_empty())
            })
            && body.get("redirect_url").is_none_or(|url| {
                url.as_str()
                    .and_then(|url| url::Url::parse(url).ok())
                    .is_some_and(|url| url.path() == "/xwms/validateToken")
            })
    }
}

/// Mounts `sign-token` answering with `token`; it only answers calls that carry our
/// credentials headers and the documented body, so anything else shows up as a failed
/// login.
pub async fn fake_sign_token(server: &MockServer, token: &str) {
    sign_token_answering(token).mount(server).await;
}

/// Mounts `sign-token` answering with each of `tokens` once, in order: one browser can
/// start several logins, each with its own token.
pub async fn fake_sign_tokens(server: &MockServer, tokens: &[&str]) {
    for token in tokens {
        sign_token_answering(token)
            .up_to_n_times(1)
            .mount(server)
            .await;
    }
}

fn sign_token_answering(token: &str) -> Mock {
    Mock::given(method("POST"))
        .and(path("/api/sign-token"))
        .and(JsonBodyWithKeys(&["redirect_url"]))
        .and(header("X-Client-Id", FAKE_CLIENT_ID))
        .and(header("X-Client-Secret", FAKE_CLIENT_SECRET))
        .and(header("X-Client-Domain", FAKE_DOMAIN))
        .and(header("Accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "success",
            "message": "Token signed",
            "data": {
                "client_id": FAKE_CLIENT_ID,
                "token": token,
                "expires_at": "2030-01-01T00:00:00Z",
                "url": FAKE_LOGIN_URL,
            }
        })))
}

/// Mounts `sign-token-verify` with the given answer, expected `calls` times.
pub async fn fake_verify(server: &MockServer, response: ResponseTemplate, calls: u64) {
    Mock::given(method("POST"))
        .and(path("/api/sign-token-verify"))
        .and(JsonBodyWithKeys(&["token", "redirect_url"]))
        .and(header("X-Client-Secret", FAKE_CLIENT_SECRET))
        .respond_with(response)
        .expect(calls)
        .mount(server)
        .await;
}

pub fn verified_user(sub: &str, email: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "status": "success",
        "message": "Token verified",
        "data": { "sub": sub, "name": "Fake Person", "email": email, "email_verified": true }
    }))
}
