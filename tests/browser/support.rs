//! A real browser for the tests: headless Chromium driven over WebDriver.
//!
//! Every `Browser` gets its own chromedriver on a free port and its own fresh Chromium
//! profile in a temporary directory, so two browsers share nothing (no cookies, no
//! cache). When a `Browser` is dropped (also when a test panics) its WebDriver session
//! is deleted, which quits Chromium, chromedriver is killed and the profile removed.
//!
//! A missing Chromium or chromedriver fails the test with a message saying how to
//! install them; browser tests are never skipped silently.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::error::NewSessionError;
use fantoccini::key::Key;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand, WindowHandle};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value as Json, json};

/// How long a page may take to appear after a click or a navigation.
const PAGE_TIMEOUT: Duration = Duration::from_secs(15);

const INSTALL_HINT: &str = "The browser tests drive headless Chromium through chromedriver. \
Install both with `apt-get install chromium chromium-driver` (Debian/Ubuntu), \
or point CHROME_BIN and CHROMEDRIVER at existing binaries.";

/// The desktop viewport every browser starts with.
pub const DESKTOP: (u32, u32) = (1280, 900);

fn find_program(env_var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var).filter(|path| !path.is_empty()) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    names.iter().find_map(|name| {
        dirs.iter()
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

fn chromium_binary() -> PathBuf {
    find_program(
        "CHROME_BIN",
        &[
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ],
    )
    .unwrap_or_else(|| panic!("Chromium was not found. {INSTALL_HINT}"))
}

fn chromedriver_binary() -> PathBuf {
    find_program("CHROMEDRIVER", &["chromedriver"])
        .unwrap_or_else(|| panic!("chromedriver was not found. {INSTALL_HINT}"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free local port")
        .port()
}

fn random_suffix() -> String {
    use rand::Rng;
    let bytes: [u8; 6] = rand::rng().random();
    hex::encode(bytes)
}

/// A chromedriver-only command: runs a Chrome DevTools Protocol method.
#[derive(Debug)]
struct CdpCommand {
    method: &'static str,
    params: Json,
}

impl WebDriverCompatibleCommand for CdpCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.method, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// A running chromedriver and the directory holding its log and Chromium's profile.
/// Dropping it kills chromedriver and removes the directory.
struct Driver {
    process: Child,
    port: u16,
    work_dir: PathBuf,
}

impl Driver {
    fn start() -> Driver {
        let chromedriver = chromedriver_binary();
        let work_dir = std::env::temp_dir().join(format!("xwms-browser-{}", random_suffix()));
        std::fs::create_dir_all(work_dir.join("profile"))
            .expect("create the browser's profile directory");
        let port = free_port();
        let process = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                work_dir.join("chromedriver.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "could not start chromedriver ({}): {err}. {INSTALL_HINT}",
                    chromedriver.display()
                )
            });
        Driver {
            process,
            port,
            work_dir,
        }
    }

    fn profile_dir(&self) -> PathBuf {
        self.work_dir.join("profile")
    }

    /// The last entries chromedriver logged (timestamped lines), to explain a failure.
    fn log_tail(&self) -> String {
        let log =
            std::fs::read_to_string(self.work_dir.join("chromedriver.log")).unwrap_or_default();
        let entries: Vec<&str> = log.lines().filter(|line| line.starts_with('[')).collect();
        entries[entries.len().saturating_sub(12)..].join("\n")
    }

    /// Waits for chromedriver to listen, then opens a session with a fresh profile.
    async fn connect(&mut self, chromium: &Path, javascript: bool) -> Client {
        let webdriver = format!("http://127.0.0.1:{}", self.port);
        let capabilities = capabilities(chromium, &self.profile_dir(), javascript);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let result = ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&webdriver)
                .await;
            let exited = self.process.try_wait().ok().flatten();
            // Only "not listening yet" is worth a retry; chromedriver refusing to start
            // Chromium is final.
            let not_listening_yet = matches!(
                result,
                Err(NewSessionError::Failed(_) | NewSessionError::FailedC(_))
            );
            match result {
                Ok(client) => return client,
                Err(err) if !not_listening_yet || exited.is_some() || Instant::now() > deadline => {
                    panic!(
                        "could not start Chromium through chromedriver: {err}\n\
                     chromedriver log (last lines):\n{}\n{INSTALL_HINT}",
                        self.log_tail()
                    )
                }
                Err(_) => actix_web::rt::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

fn capabilities(chromium: &Path, profile_dir: &Path, javascript: bool) -> Capabilities {
    let (width, height) = DESKTOP;
    let mut chrome_options = json!({
        "binary": chromium.display().to_string(),
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--disable-dev-shm-usage",
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile_dir.display()),
        ],
    });
    if !javascript {
        // The content setting "JavaScript: blocked" for every site, as for a person who
        // turned it off. WebDriver's own scripts (`Browser::execute`) still run.
        chrome_options["prefs"] =
            json!({ "profile.managed_default_content_settings.javascript": 2 });
    }
    let mut capabilities = Capabilities::new();
    capabilities.insert("browserName".to_owned(), json!("chrome"));
    capabilities.insert("goog:chromeOptions".to_owned(), chrome_options);
    capabilities.insert(
        "timeouts".to_owned(),
        json!({ "pageLoad": PAGE_TIMEOUT.as_millis() as u64, "script": 10_000, "implicit": 0 }),
    );
    capabilities
}

/// One headless Chromium with its own chromedriver and profile.
pub struct Browser {
    client: Client,
    session_id: Option<String>,
    /// Declared last: dropped after the session is deleted in `Drop`.
    driver: Driver,
}

impl Browser {
    pub async fn start() -> Browser {
        Self::start_with(true).await
    }

    /// A browser whose pages run no JavaScript (the site setting turned off).
    pub async fn start_without_javascript() -> Browser {
        Self::start_with(false).await
    }

    async fn start_with(javascript: bool) -> Browser {
        let chromium = chromium_binary();
        let mut driver = Driver::start();
        let client = driver.connect(&chromium, javascript).await;
        let session_id = client.session_id().await.ok().flatten();
        let browser = Browser {
            client,
            session_id,
            driver,
        };
        browser.reset_viewport().await;
        browser
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    // -- navigation ---------------------------------------------------------------

    pub async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|err| panic!("open {url}: {err}"));
    }

    /// The window the browser is working in.
    pub async fn window(&self) -> WindowHandle {
        self.client.window().await.expect("the current window")
    }

    /// Opens a new window of this browser (same profile, same cookies: a second tab)
    /// and works in it from now on.
    pub async fn open_new_window(&self) -> WindowHandle {
        let window = self
            .client
            .new_window(false)
            .await
            .expect("open a new window")
            .handle;
        self.switch_to(window.clone()).await;
        window
    }

    pub async fn switch_to(&self, window: WindowHandle) {
        self.client
            .switch_to_window(window)
            .await
            .expect("switch to another window");
    }

    pub async fn back(&self) {
        self.client.back().await.expect("press the back button");
    }

    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("the current URL")
    }

    pub async fn path(&self) -> String {
        self.url().await.path().to_owned()
    }

    // -- what the page shows --------------------------------------------------------

    /// The page's visible text.
    ///
    /// Read again while a navigation replaces the page under it (the body found is then
    /// gone before its text is read), until the page timeout.
    pub async fn text(&self) -> String {
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            let read = match self.client.find(Locator::Css("body")).await {
                Ok(body) => body.text().await,
                Err(err) => Err(err),
            };
            match read {
                Ok(text) => return text,
                Err(err) if Instant::now() > deadline => panic!("the page's text: {err}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Marks the page shown now, so that [`Browser::wait_for_another_page`] can tell when
    /// the next one has replaced it (a form posted to the page it is on comes back with the
    /// same heading, and waiting for the heading alone would return at once).
    pub async fn mark_this_page(&self) {
        self.execute("window.xwmsTestOldPage = true;").await;
    }

    /// Waits until another page than the one [`Browser::mark_this_page`] marked is loaded.
    pub async fn wait_for_another_page(&self) {
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            let replaced = self
                .client
                .execute(
                    "return document.readyState === 'complete' && !window.xwmsTestOldPage;",
                    Vec::new(),
                )
                .await
                .is_ok_and(|answer| answer == Json::Bool(true));
            if replaced {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no other page loaded within {PAGE_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn source(&self) -> String {
        self.client.source().await.expect("the page source")
    }

    pub async fn heading(&self) -> String {
        match self.client.find(Locator::Css("h1")).await {
            Ok(h1) => h1.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the page's `<h1>` reads `text`: the sign that a navigation landed.
    pub async fn wait_for_heading(&self, text: &str) {
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            if self.heading().await.trim() == text {
                return;
            }
            if Instant::now() > deadline {
                let url = self.url().await;
                let page = self.text().await;
                panic!(
                    "expected a page headed “{text}”, but {url} shows:\n{}",
                    page.chars().take(1200).collect::<String>()
                );
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of the element marked `data-testid="{id}"`.
    pub async fn testid(&self, id: &str) -> String {
        self.client
            .find(Locator::Css(&format!("[data-testid=\"{id}\"]")))
            .await
            .unwrap_or_else(|err| panic!("no data-testid={id} on the page: {err}"))
            .text()
            .await
            .expect("element text")
            .trim()
            .to_owned()
    }

    pub async fn execute(&self, script: &str) -> Json {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|err| panic!("run script `{script}`: {err}"))
    }

    // -- acting like a person ---------------------------------------------------------

    async fn find(&self, what: &str, locator: Locator<'_>) -> Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(5))
            .for_element(locator)
            .await
        {
            Ok(element) => element,
            Err(err) => panic!("no {what} on {}: {err}", self.url().await),
        }
    }

    /// Clicks the link whose text is exactly `text`.
    pub async fn click_link(&self, text: &str) {
        let link = self
            .find(&format!("link “{text}”"), Locator::LinkText(text))
            .await;
        link.click()
            .await
            .unwrap_or_else(|err| panic!("click link “{text}”: {err}"));
    }

    /// Clicks the (first) button labelled `text`.
    pub async fn click_button(&self, text: &str) {
        let xpath = format!("//button[normalize-space()='{text}']");
        let button = self
            .find(&format!("button “{text}”"), Locator::XPath(&xpath))
            .await;
        button
            .click()
            .await
            .unwrap_or_else(|err| panic!("click button “{text}”: {err}"));
    }

    /// Picks the radio button whose label contains `text`, by clicking the label.
    pub async fn choose(&self, text: &str) {
        let xpath = format!("//label[contains(normalize-space(.), '{text}')]");
        let label = self
            .find(&format!("choice “{text}”"), Locator::XPath(&xpath))
            .await;
        label
            .click()
            .await
            .unwrap_or_else(|err| panic!("choose “{text}”: {err}"));
        let radio = label
            .find(Locator::Css("input[type=radio]"))
            .await
            .expect("a radio button in the label");
        assert!(
            radio.is_selected().await.expect("radio state"),
            "clicking “{text}” selects it"
        );
    }

    /// Presses a key on the keyboard (sent to whatever has the focus).
    pub async fn press(&self, key: Key) {
        let keys = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value: key.into() })
            .then(KeyAction::Up { value: key.into() });
        self.client
            .perform_actions(keys)
            .await
            .unwrap_or_else(|err| panic!("press {key:?}: {err}"));
    }

    // -- Chrome DevTools: viewport, colour scheme, screenshots ---------------------------

    pub async fn cdp(&self, method: &'static str, params: Json) -> Json {
        self.client
            .issue_cmd(CdpCommand { method, params })
            .await
            .unwrap_or_else(|err| panic!("DevTools {method}: {err}"))
    }

    /// Sends `user_agent` from now on, as another browser on another system would.
    pub async fn pretend_to_be(&self, user_agent: &str) {
        self.cdp(
            "Emulation.setUserAgentOverride",
            json!({ "userAgent": user_agent }),
        )
        .await;
    }

    /// Emulates a phone-sized viewport (`width` CSS pixels wide) until reset.
    pub async fn emulate_width(&self, width: u32, height: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": true }),
        )
        .await;
    }

    /// Back to the desktop viewport, exactly `DESKTOP` (the window's own viewport is
    /// smaller than `--window-size` by the size of the browser's frame).
    pub async fn reset_viewport(&self) {
        let (width, height) = DESKTOP;
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
    }

    /// Makes the page see `prefers-color-scheme: dark` (or light).
    pub async fn emulate_color_scheme(&self, scheme: &str) {
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] }),
        )
        .await;
    }

    /// Saves a PNG of the whole page (not only the viewport) as `{name}.png` under
    /// `target/screenshots/`, and also under `docs/screenshots/` when
    /// `UPDATE_SCREENSHOTS=1`.
    pub async fn screenshot(&self, name: &str) {
        let size = self
            .execute(
                "return [window.innerWidth,
                         Math.max(document.documentElement.scrollHeight, window.innerHeight)];",
            )
            .await;
        let width = size[0].as_f64().unwrap_or(f64::from(DESKTOP.0));
        let height = size[1].as_f64().unwrap_or(f64::from(DESKTOP.1));
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
                }),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("screenshot is base64");
        save_screenshot(name, &png);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Deleting the session makes chromedriver quit Chromium; `driver` then kills
        // chromedriver and removes the profile. Blocking on purpose: Drop cannot await, and this also runs when a test panics.
        if let Some(session_id) = &self.session_id {
            delete_session(self.driver.port, session_id);
        }
    }
}

/// `DELETE /session/{id}` with a plain blocking HTTP/1.1 request.
fn delete_session(port: u16, session_id: &str) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{session_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // chromedriver answers once Chromium has quit; it may keep the connection open,
    // so read one response (headers, then Content-Length bytes) rather than to EOF.
    let mut answer = Vec::new();
    let mut chunk = [0_u8; 4096];
    while let Ok(read) = stream.read(&mut chunk) {
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..read]);
        if response_complete(&answer) {
            break;
        }
    }
}

fn response_complete(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let headers = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let length = headers
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    answer.len() >= end + 4 + length
}

// -- screenshots ---------------------------------------------------------------------

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `$CARGO_TARGET_DIR/screenshots`, or `target/screenshots` in the project.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_relative() {
                manifest_dir().join(dir)
            } else {
                dir
            }
        })
        .unwrap_or_else(|| manifest_dir().join("target"));
    target.join("screenshots")
}

fn update_docs() -> bool {
    std::env::var("UPDATE_SCREENSHOTS").is_ok_and(|value| !value.is_empty() && value != "0")
}

fn save_screenshot(name: &str, png: &[u8]) {
    let mut dirs = vec![screenshot_dir()];
    if update_docs() {
        dirs.push(manifest_dir().join("docs").join("screenshots"));
    }
    for dir in dirs {
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|err| panic!("create {}: {err}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|err| panic!("write {}: {err}", path.display()));
    }
}
