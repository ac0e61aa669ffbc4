//! Load generator: many virtual browsers log in with XWMS at once.
//!
//! Each virtual user has its own cookie jar and walks the whole flow, following
//! redirects by hand so every step is timed on its own:
//!
//! 1. `auth`: `GET /xwms/auth` on the app (the app calls `sign-token`) -> 303 to the provider
//! 2. `provider`: `GET` the provider's login page, `POST` the persona -> 303 to the callback
//! 3. `callback`: `GET /xwms/validateToken?token=` (the app calls `sign-token-verify`,
//!    links the account in one transaction) -> 303 to `/profile`
//! 4. `profile`: `GET /profile` (one more query) -> 200
//!
//! It reports logins per second, latency percentiles of the whole flow and of each step,
//! errors by kind, and the app's peak RSS (read from `/proc/<pid>/status`), as JSON.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use reqwest::redirect::Policy;
use serde::Serialize;
use tokio::sync::Mutex;

#[derive(Debug, Clone, Copy, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Subs {
    /// Every login is a new `sub`: a new user each time (an INSERT-heavy load).
    Fresh,
    /// Each virtual user logs in again and again as the same person.
    Returning,
}

#[derive(Debug, Parser)]
#[command(about = "Many browsers logging in with XWMS at once")]
struct Args {
    /// The app's base URL.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    app: String,
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
    users: usize,
    subs: Subs,
    duration_secs: u64,
    warmup_secs: u64,
    logins: u64,
    logins_per_sec: f64,
    errors: BTreeMap<String, u64>,
    latency_total: Percentiles,
    latency_steps: BTreeMap<&'static str, Percentiles>,
    app_rss_kb_before: Option<u64>,
    app_rss_kb_peak: Option<u64>,
}

/// Resident set size of a process, in KiB.
fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
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
async fn login(client: &reqwest::Client, app: &str, sub: &str) -> Result<[Duration; 4], String> {
    let mut times = [Duration::ZERO; 4];

    let started = Instant::now();
    let response = error_kind(
        "auth",
        client.get(format!("{app}/xwms/auth")).send().await,
        303,
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
    let response = error_kind(
        "provider",
        client.post(&login_page).form(&form).send().await,
        303,
    )?;
    let callback = location(&response)?;
    times[1] = started.elapsed();

    let started = Instant::now();
    let response = error_kind("callback", client.get(&callback).send().await, 303)?;
    let destination = location(&response)?;
    times[2] = started.elapsed();

    let started = Instant::now();
    error_kind(
        "profile",
        client.get(format!("{app}{destination}")).send().await,
        200,
    )?
    .bytes()
    .await
    .map_err(|_| "profile: body".to_owned())?;
    times[3] = started.elapsed();
    Ok(times)
}

async fn virtual_user(
    id: usize,
    args: Arc<Args>,
    measuring: Arc<AtomicBool>,
    deadline: Instant,
    run: u64,
) -> Stats {
    let mut stats = Stats::new();
    let Ok(client) = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
    else {
        stats.errors.insert("client: build".to_owned(), 1);
        return stats;
    };
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let sub = match args.subs {
            Subs::Fresh => format!("bench-{run}-{id}-{n}"),
            Subs::Returning => format!("bench-returning-{id}"),
        };
        let started = Instant::now();
        let outcome = login(&client, &args.app, &sub).await;
        let elapsed = started.elapsed();
        if !measuring.load(Ordering::Relaxed) {
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
    let args = Arc::new(Args::parse());
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let measuring = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(args.warmup);
    let deadline = measure_from + Duration::from_secs(args.duration);

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
        .map(|id| {
            tokio::spawn(virtual_user(
                id,
                args.clone(),
                measuring.clone(),
                deadline,
                run,
            ))
        })
        .collect();
    tokio::time::sleep_until(measure_from.into()).await;
    measuring.store(true, Ordering::Relaxed);
    let measured_start = Instant::now();

    let mut stats = Stats::new();
    for user in users {
        if let Ok(user_stats) = user.await {
            stats.merge(&user_stats);
        }
    }
    let measured = measured_start.elapsed().as_secs_f64().max(0.001);
    if let Some(sampler) = sampler {
        let _ = sampler.await;
    }

    let report = Report {
        users: args.users,
        subs: args.subs,
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
