//! What a login and a signed-in page cost PostgreSQL, pinned statement by statement.
//!
//! The app logs each statement it sends at debug level (`db::round_trips`): a new round
//! trip, or pipelined into the one in flight. These tests read that log around each step
//! of a login and compare it with the budget written here, so a change that adds a
//! statement fails and says which. Statements a connection prepares (once per connection,
//! on its first use of each) are left out: these are the counts of a warm app, as
//! `scripts/count-roundtrips` measures them on the wire. BENCHMARKS.md has the table.

use xwms_starter::db::round_trips::{NEW_ROUND_TRIP, NOT_CACHED, PIPELINED};

use xwms_starter::app::startup::BACKGROUND_JOBS_DONE;

use crate::helpers::{TestApp, browser, location, spawn_app};

/// One round trip: the statements sent together, each as its verb and first table
/// (`INSERT login_rate_limits`). A statement diesel cannot cache is marked
/// [`PARSED_EACH_TIME`]: it costs one more round trip, its Parse, every time.
type RoundTrip = Vec<String>;

const PARSED_EACH_TIME: &str = " +parse";

/// The statements `app` logged from line `from` on, grouped by round trip, with the full
/// SQL of each for the failure message.
fn round_trips_since(app: &TestApp, from: usize) -> (Vec<RoundTrip>, Vec<String>) {
    let mut trips: Vec<RoundTrip> = Vec::new();
    let mut sql = Vec::new();
    for line in app.logs().into_iter().skip(from) {
        let Some((_, message)) = line.split_once("db::round_trips: ") else {
            continue;
        };
        // The sandbox keeps its logins and people in the same database (`sandbox_*`):
        // that is XWMS's work, not
        // the app's.
        if message.contains("sandbox_") {
            continue;
        }
        if let Some(statement) = message.strip_prefix(NEW_ROUND_TRIP) {
            trips.push(vec![summary(statement)]);
        } else if let Some(statement) = message.strip_prefix(PIPELINED) {
            match trips.last_mut() {
                Some(trip) => trip.push(summary(statement)),
                None => trips.push(vec![summary(statement)]),
            }
        } else if let Some(statement) = message.strip_prefix(NOT_CACHED) {
            let parsed = summary(statement);
            if let Some(entry) = trips.iter_mut().flatten().rev().find(|s| **s == parsed) {
                entry.push_str(PARSED_EACH_TIME);
            }
        } else {
            continue;
        }
        sql.push(message.to_owned());
    }
    (trips, sql)
}

/// `INSERT INTO "login_rate_limits" AS l ...` -> `INSERT login_rate_limits`: the verb and
/// the first table named after FROM, INTO or UPDATE.
fn summary(statement: &str) -> String {
    let words: Vec<&str> = statement.split_whitespace().collect();
    let verb = words
        .first()
        .copied()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let table = words
        .windows(2)
        .find(|pair| {
            matches!(
                pair[0].to_ascii_uppercase().as_str(),
                "FROM" | "INTO" | "UPDATE"
            )
        })
        .map(|pair| pair[1].trim_matches(['"', '(', ')', ',']))
        .map(|table| format!(" {table}"))
        .unwrap_or_default();
    format!("{verb}{table}")
}

/// Runs `step`, then asserts the round trips it cost are `expected`.
async fn assert_costs<T>(
    app: &TestApp,
    what: &str,
    expected: &[&[&str]],
    step: impl std::future::Future<Output = T>,
) -> T {
    let from = app.logs().len();
    let outcome = step.await;
    let (trips, sql) = round_trips_since(app, from);
    let expected: Vec<RoundTrip> = expected
        .iter()
        .map(|trip| trip.iter().map(|s| (*s).to_owned()).collect())
        .collect();
    assert_eq!(
        trips,
        expected,
        "{what}: the round trips to PostgreSQL changed (left: now, right: the budget here).\n\
         Its statements now:\n  {}",
        sql.join("\n  ")
    );
    outcome
}

/// An app whose background jobs at start are over (they would count in the first
/// request's statements), warmed up by a login of someone else.
async fn quiet_app() -> TestApp {
    let app = spawn_app().await;
    for _ in 0..200 {
        if app
            .logs()
            .iter()
            .any(|line| line.contains(BACKGROUND_JOBS_DONE))
        {
            app.log_in_ending_on_the_profile_as(&browser(), "grace")
                .await;
            return app;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the background jobs at start never finished");
}

/// A login's three requests: the start, XWMS's callback, the profile it lands on.
async fn log_in_counting(
    app: &TestApp,
    browser: &reqwest::Client,
    persona: &str,
    callback_costs: &[&[&str]],
) {
    let login_page =
        assert_costs(app, "GET /xwms/auth", START, app.start_login_with(browser)).await;
    let form = [("persona", persona), ("outcome", "success")];
    let callback = assert_costs(app, "the sandbox's login page", &[], async {
        browser.get(&login_page).send().await.expect("login page");
        let submitted = browser
            .post(&login_page)
            .form(&form)
            .send()
            .await
            .expect("submit");
        location(submitted.headers())
    })
    .await;
    let response = assert_costs(app, "the callback", callback_costs, async {
        browser.get(&callback).send().await.expect("callback")
    })
    .await;
    assert_eq!(location(response.headers()), "/profile");
    let profile = assert_costs(
        app,
        "GET /profile",
        PROFILE,
        app.get_with(browser, "/profile"),
    )
    .await;
    assert_eq!(profile.status(), 200);
}

/// `GET /xwms/auth`: the rate limit.
const START: &[&[&str]] = &[&["INSERT login_rate_limits"]];

/// The profile: the session check, then the page's own work, the account and its
/// activity asked together.
const PROFILE: &[&[&str]] = &[
    &["WITH user_sessions"],
    &["SELECT users", "SELECT security_events"],
];

#[tokio::test]
async fn a_first_login_costs_the_round_trips_budgeted_here() {
    let app = quiet_app().await;
    log_in_counting(&app, &browser(), "ada", FIRST_LOGIN).await;
}

/// A first login's callback: the rate limit, the token claimed, then one transaction:
/// the `sub` looked up (nobody yet), the user created with the `sub` claimed for it, and
/// its first event, welcome note and session record sent together.
const FIRST_LOGIN: &[&[&str]] = &[
    &["INSERT login_rate_limits"],
    &["INSERT used_login_tokens"],
    &["BEGIN"],
    &["SELECT users", "UPDATE xwms_connections"],
    &["WITH users"],
    &[
        "INSERT security_events",
        "INSERT notes",
        "INSERT user_sessions",
    ],
    &["COMMIT"],
];

#[tokio::test]
async fn a_returning_login_costs_the_round_trips_budgeted_here() {
    let app = quiet_app().await;
    log_in_counting(&app, &browser(), "grace", RETURNING_LOGIN).await;
}

/// A returning person's callback: the rate limit, the token claimed, then one
/// transaction: the person found and locked with their last login bumped, then their
/// profile, the login's event and the session record sent together.
const RETURNING_LOGIN: &[&[&str]] = &[
    &["INSERT login_rate_limits"],
    &["INSERT used_login_tokens"],
    &["BEGIN"],
    &["SELECT users", "UPDATE xwms_connections"],
    &[
        "UPDATE users",
        "INSERT security_events",
        "INSERT user_sessions",
    ],
    &["COMMIT"],
];

#[tokio::test]
async fn a_signed_in_page_costs_one_round_trip_before_its_own_work() {
    let app = quiet_app().await;
    let browser = browser();
    app.log_in_ending_on_the_profile(&browser).await;
    // Home shows who is signed in: the session check and nothing else.
    let home = assert_costs(
        &app,
        "GET / signed in",
        &[&["WITH user_sessions"]],
        app.get_with(&browser, "/"),
    )
    .await;
    assert_eq!(home.status(), 200);
    // A visitor who is not signed in costs nothing.
    let anonymous = assert_costs(&app, "GET / anonymous", &[], app.get("/")).await;
    assert_eq!(anonymous.status(), 200);
}

#[test]
fn a_statement_is_summarised_by_its_verb_and_first_table() {
    assert_eq!(
        summary(r#"INSERT INTO "login_rate_limits" AS l (client, tat) VALUES ($1, now())"#),
        "INSERT login_rate_limits"
    );
    assert_eq!(
        summary(r#"SELECT "users"."id" FROM ("users" INNER JOIN "xwms_connections" ON x)"#),
        "SELECT users"
    );
    assert_eq!(summary("BEGIN"), "BEGIN");
    assert_eq!(
        summary("WITH this AS (SELECT id FROM user_sessions WHERE x)"),
        "WITH user_sessions"
    );
}
