//! Load generator: many virtual browsers log in with XWMS at once.
//!
//! Each virtual user has its own cookie jar and walks the whole flow, following
//! redirects by hand so every step is timed on its own:
//!
//! 1. `auth`: `GET /xwms/auth` on the app (the app calls `sign-token`) -> redirect to the
//!    provider's login page
//! 2. `provider`: `GET` the provider's login page, `POST` the persona -> 303 to the callback
//! 3. `callback`: `GET /xwms/validateToken?token=` (the app calls `sign-token-verify`,
//!    links the account in one transaction) -> redirect to `/profile`
//! 4. `profile`: `GET /profile` -> 200, and the page must show the `sub` just logged in
//!
//! The provider is always the starter's sandbox (a separate process in `scripts/bench`).
//! The app is the starter (`--app-kind starter`, redirects with 303) or the Express
//! reference (`--app-kind express`, redirects with 302); apart from that status both are
//! held to the same checks, so a failed login is an error for either.
//!
//! It reports logins per second, latency percentiles of the whole flow and of each step,
//! errors by kind, the app's peak RSS (read from `/proc/<pid>/status`) and its own CPU
//! time, as JSON.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::HeaderValue;
use reqwest::redirect::Policy;
use serde::Serialize;
use tokio::sync::Mutex;

#[derive(Debug, Clone, Copy, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Subs {
    /// Every login is a new `sub`: a new user each time (an INSERT-heavy load), in a browser
    /// without cookies (nobody signed in there yet).
    Fresh,
    /// Each virtual user logs in again and again as the same person, in the same browser
    /// (its cookies kept: the person's session there goes on).
    Returning,
}

/// Which app is driven: the only legitimate differences between them are listed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum AppKind {
    /// This starter: `303 See Other` after `/xwms/auth` and after the callback.
    Starter,
    /// The Express reference app: `302 Found` (Express's `res.redirect`) at the same places.
    Express,
}

impl AppKind {
    /// The status of the app's own redirects (to the provider, and to `/profile`).
    fn redirect_status(self) -> u16 {
        match self {
            AppKind::Starter => 303,
            AppKind::Express => 302,
        }
    }
}

#[derive(Debug, Parser)]
#[command(about = "Many browsers logging in with XWMS at once")]
struct Args {
    /// The app's base URL.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    app: String,
    /// Which app runs at `--app` (sets the redirect status it must answer with).
    #[arg(long, value_enum, default_value_t = AppKind::Starter)]
    app_kind: AppKind,
    /// Number of virtual users (browsers) logging in concurrently.
    #[arg(long, default_value_t = 8)]
    users: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Seconds of load before measuring starts (not counted).
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    #[arg(long, value_enum, default_value_t = Subs::Fresh)]
    subs: Subs,
    /// PID of the app, to sample its resident memory.
    #[arg(long)]
    app_pid: Option<u32>,
    /// Write the report as JSON here (it is printed either way).
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Stop after this many logins in all (started, across all users) instead of at the
    /// end of `--duration`; for counting what exactly N logins cost
    /// (`scripts/count-roundtrips` uses `--users 1 --warmup 0 --logins 1`).
    #[arg(long)]
    logins: Option<u64>,
    /// Where the virtual users' connections come from: each from an address of its own
    /// (127.0.0.2, 127.0.0.3, ...: browsers are at different addresses, so each has its own
    /// rate-limit bucket), or all from one address, as browsers behind one NAT would
    /// (every login then updates the same rate-limit row of the starter).
    #[arg(long, value_enum, default_value_t = Addresses::PerUser)]
    addresses: Addresses,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Addresses {
    /// Virtual user `i` connects from the loopback address 127.0.0.2 + i (on Linux every
    /// address of 127.0.0.0/8 is this machine's own; the app must listen on loopback).
    PerUser,
    /// Every virtual user connects from the system's choice (127.0.0.1 on loopback).
    Shared,
}

impl Addresses {
    /// The local address virtual user `id` binds to, if any.
    fn of_user(self, id: usize) -> Option<std::net::IpAddr> {
        let n = u32::try_from(id).ok()?.checked_add(2)?;
        match self {
            // 127.0.0.2 up to 127.255.255.254: far beyond any --users.
            Addresses::PerUser if n < 0x00ff_ffff => {
                Some(std::net::Ipv4Addr::from(0x7f00_0000 | n).into())
            }
            _ => None,
        }
    }
}

const STEPS: [&str; 4] = ["auth", "provider", "callback", "profile"];

/// Latencies in microseconds, 1 µs to 60 s, 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| std::process::exit(2))
}

struct Stats {
    total: Histogram<u64>,
    steps: Vec<Histogram<u64>>,
    logins: u64,
    errors: BTreeMap<String, u64>,
}

impl Stats {
    fn new() -> Self {
        Stats {
            total: histogram(),
            steps: STEPS.iter().map(|_| histogram()).collect(),
            logins: 0,
            errors: BTreeMap::new(),
        }
    }

    fn merge(&mut self, other: &Stats) {
        let _ = self.total.add(&other.total);
        for (mine, theirs) in self.steps.iter_mut().zip(&other.steps) {
            let _ = mine.add(theirs);
        }
        self.logins += other.logins;
        for (kind, count) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += count;
        }
    }
}

#[derive(Serialize)]
struct Percentiles {
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    count: u64,
}

fn percentiles(histogram: &Histogram<u64>) -> Percentiles {
    let ms = |micros: u64| (micros as f64 / 1000.0 * 100.0).round() / 100.0;
    Percentiles {
        p50_ms: ms(histogram.value_at_quantile(0.50)),
        p90_ms: ms(histogram.value_at_quantile(0.90)),
        p99_ms: ms(histogram.value_at_quantile(0.99)),
        max_ms: ms(histogram.max()),
        count: histogram.len(),
    }
}

#[derive(Serialize)]
struct Report {
    app_kind: AppKind,
    users: usize,
    subs: Subs,
    addresses: Addresses,
    duration_secs: u64,
    warmup_secs: u64,
    logins: u64,
    logins_per_sec: f64,
    errors: BTreeMap<String, u64>,
    latency_total: Percentiles,
    latency_steps: BTreeMap<&'static str, Percentiles>,
    app_rss_kb_before: Option<u64>,
    app_rss_kb_peak: Option<u64>,
    /// Completed logins including the warm-up and the tail after `--duration` (what the
    /// processes' CPU time over the whole run of loadgen paid for).
    logins_all: u64,
    /// Wall-clock seconds of the whole run, warm-up included.
    elapsed_all_secs: f64,
    /// CPU time (user + system) of loadgen itself over the whole run.
    loadgen_cpu_ms: Option<u64>,
}

/// Resident set size of a process, in KiB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time (user + system) of this process so far, in milliseconds.
fn own_cpu_ms() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may contain spaces):
    // state is field 3, utime field 14 and stime field 15, in clock ticks (USER_HZ, 100
    // on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 10)
}

/// Why a step did not do what a browser expects.
fn error_kind(
    step: &str,
    outcome: Result<reqwest::Response, reqwest::Error>,
    want: u16,
) -> Result<reqwest::Response, String> {
    match outcome {
        Ok(response) if response.status().as_u16() == want => Ok(response),
        Ok(response) => Err(format!("{step}: HTTP {}", response.status().as_u16())),
        Err(err) if err.is_timeout() => Err(format!("{step}: timeout")),
        Err(err) if err.is_connect() => Err(format!("{step}: connect")),
        Err(_) => Err(format!("{step}: transport")),
    }
}

fn location(response: &reqwest::Response) -> Result<String, String> {
    response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| "no Location header".to_owned())
}

/// One login, every step timed. Returns the step durations.
async fn login(
    client: &reqwest::Client,
    app: &str,
    kind: AppKind,
    sub: &str,
) -> Result<[Duration; 4], String> {
    let mut times = [Duration::ZERO; 4];
    let redirect = kind.redirect_status();

    let started = Instant::now();
    let response = error_kind(
        "auth",
        client.get(format!("{app}/xwms/auth")).send().await,
        redirect,
    )?;
    let login_page = location(&response)?;
    times[0] = started.elapsed();

    let started = Instant::now();
    error_kind("provider", client.get(&login_page).send().await, 200)?
        .bytes()
        .await
        .map_err(|_| "provider: body".to_owned())?;
    let form = [
        ("persona", "custom"),
        ("custom_sub", sub),
        ("custom_name", "Load Test"),
        ("outcome", "success"),
    ];
    // The provider is the starter's sandbox for both apps: always 303.
    let response = error_kind(
        "provider",
        client.post(&login_page).form(&form).send().await,
        303,
    )?;
    let callback = location(&response)?;
    times[1] = started.elapsed();

    let started = Instant::now();
    let response = error_kind("callback", client.get(&callback).send().await, redirect)?;
    let destination = location(&response)?;
    // Both apps send a logged-in browser to `/profile`; anywhere else is a failed login.
    if destination != "/profile" {
        return Err("callback: not redirected to /profile".to_owned());
    }
    times[2] = started.elapsed();

    let started = Instant::now();
    let body = error_kind(
        "profile",
        client.get(format!("{app}{destination}")).send().await,
        200,
    )?
    .text()
    .await
    .map_err(|_| "profile: body".to_owned())?;
    // Both apps show the linked `sub` as `<code ...>sub</code>` (the sandbox hands out a
    // custom sub with a `sandbox-` prefix): a profile page of someone else, or none, is
    // an error, not a login.
    if !body.contains(&format!(">sandbox-{sub}</code>")) {
        return Err("profile: sub not shown".to_owned());
    }
    times[3] = started.elapsed();
    Ok(times)
}

/// What all virtual users share.
struct Shared {
    args: Args,
    measuring: AtomicBool,
    deadline: Instant,
    run: u64,
    /// Logins started so far (for `--logins`).
    started: AtomicU64,
    /// Logins completed successfully so far, warm-up included.
    completed: AtomicU64,
}

/// A browser's cookie jar that can be emptied: with `--subs fresh` every login starts with
/// none (a new person, in a browser of their own), over the same connections.
#[derive(Default)]
struct CookieJar(std::sync::RwLock<Arc<Jar>>);

impl CookieJar {
    fn jar(&self) -> Arc<Jar> {
        self.0.read().map(|jar| jar.clone()).unwrap_or_default()
    }

    fn forget_all(&self) {
        if let Ok(mut jar) = self.0.write() {
            *jar = Arc::default();
        }
    }
}

impl CookieStore for CookieJar {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &reqwest::Url) {
        self.jar().set_cookies(headers, url);
    }

    fn cookies(&self, url: &reqwest::Url) -> Option<HeaderValue> {
        self.jar().cookies(url)
    }
}

async fn virtual_user(id: usize, shared: Arc<Shared>) -> Stats {
    let args = &shared.args;
    let mut stats = Stats::new();
    let cookies = Arc::new(CookieJar::default());
    let Ok(client) = reqwest::Client::builder()
        .local_address(args.addresses.of_user(id))
        .cookie_provider(cookies.clone())
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
    else {
        stats.errors.insert("client: build".to_owned(), 1);
        return stats;
    };
    let mut n = 0u64;
    while Instant::now() < shared.deadline {
        if let Some(limit) = args.logins
            && shared.started.fetch_add(1, Ordering::Relaxed) >= limit
        {
            break;
        }
        n += 1;
        let sub = match args.subs {
            Subs::Fresh => {
                cookies.forget_all();
                format!("bench-{}-{id}-{n}", shared.run)
            }
            Subs::Returning => format!("bench-returning-{id}"),
        };
        let started = Instant::now();
        let outcome = login(&client, &args.app, args.app_kind, &sub).await;
        let elapsed = started.elapsed();
        if outcome.is_ok() {
            shared.completed.fetch_add(1, Ordering::Relaxed);
        }
        if !shared.measuring.load(Ordering::Relaxed) {
            continue;
        }
        match outcome {
            Ok(times) => {
                stats.logins += 1;
                let _ = stats.total.record(elapsed.as_micros() as u64);
                for (histogram, time) in stats.steps.iter_mut().zip(times) {
                    let _ = histogram.record(time.as_micros().max(1) as u64);
                }
            }
            Err(kind) => {
                *stats.errors.entry(kind).or_default() += 1;
                // Back off a little so a failing app is not hammered in a tight loop.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    stats
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let deadline = measure_from + Duration::from_secs(args.duration);
    let shared = Arc::new(Shared {
        measuring: AtomicBool::new(args.warmup == 0),
        deadline,
        run,
        started: AtomicU64::new(0),
        completed: AtomicU64::new(0),
        args,
    });
    let args = &shared.args;

    let rss_before = args.app_pid.and_then(rss_kb);
    let peak = Arc::new(Mutex::new(rss_before));
    let sampler = args.app_pid.map(|pid| {
        let peak = peak.clone();
        tokio::spawn(async move {
            while Instant::now() < deadline {
                if let Some(now) = rss_kb(pid) {
                    let mut peak = peak.lock().await;
                    *peak = Some(peak.map_or(now, |seen| seen.max(now)));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    });

    let users: Vec<_> = (0..args.users)
        .map(|id| tokio::spawn(virtual_user(id, shared.clone())))
        .collect();
    tokio::time::sleep_until(measure_from.into()).await;
    shared.measuring.store(true, Ordering::Relaxed);
    let measured_start = Instant::now();

    let mut stats = Stats::new();
    for user in users {
        if let Ok(user_stats) = user.await {
            stats.merge(&user_stats);
        }
    }
    let measured = measured_start.elapsed().as_secs_f64().max(0.001);
    // The users are done (at the deadline, or earlier with `--logins`): one last sample.
    if let Some(sampler) = sampler {
        sampler.abort();
        if let Some(now) = args.app_pid.and_then(rss_kb) {
            let mut peak = peak.lock().await;
            *peak = Some(peak.map_or(now, |seen| seen.max(now)));
        }
    }

    let report = Report {
        app_kind: args.app_kind,
        users: args.users,
        subs: args.subs,
        addresses: args.addresses,
        duration_secs: args.duration,
        warmup_secs: args.warmup,
        logins: stats.logins,
        logins_per_sec: (stats.logins as f64 / measured * 10.0).round() / 10.0,
        errors: stats.errors.clone(),
        latency_total: percentiles(&stats.total),
        latency_steps: STEPS
            .iter()
            .copied()
            .zip(stats.steps.iter().map(percentiles))
            .collect(),
        app_rss_kb_before: rss_before,
        app_rss_kb_peak: *peak.lock().await,
        logins_all: shared.completed.load(Ordering::Relaxed),
        elapsed_all_secs: (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        loadgen_cpu_ms: own_cpu_ms(),
    };
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    println!("{json}");
    if let Some(path) = &args.json
        && let Err(err) = std::fs::write(path, &json)
    {
        eprintln!("could not write {}: {err}", path.display());
        std::process::exit(1);
    }
}
