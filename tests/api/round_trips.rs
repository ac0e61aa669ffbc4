//! What a login and a signed-in page cost PostgreSQL, pinned statement by statement.
//!
//! The app logs each statement it sends at debug level (`db::round_trips`): a new round
//! trip, or pipelined into the one in flight. These tests read that log around each step
//! of a login and compare it with the budget written here, so a change that adds, removes
//! or reorders a statement fails and says which (how the statements group into round trips
//! is checked as far as the scheduler allows: see `assert_within_budget`). Statements a connection prepares (once per connection,
//! on its first use of each) are left out: these are the counts of a warm app, as
//! `scripts/count-roundtrips` measures them on the wire. BENCHMARKS.md has the table.

use xwms_starter::app::startup::BACKGROUND_JOBS_DONE;
use xwms_starter::db::round_trips::{NEW_ROUND_TRIP, NOT_CACHED, PIPELINED};

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

/// What one request cost: its round trips, and the SQL of each statement (for messages).
struct Measured {
    what: &'static str,
    trips: Vec<RoundTrip>,
    sql: Vec<String>,
}

/// Runs `step` and measures what it cost.
async fn measure<T>(
    app: &TestApp,
    what: &'static str,
    step: impl std::future::Future<Output = T>,
) -> (T, Measured) {
    let from = app.logs().len();
    let outcome = step.await;
    let (trips, sql) = round_trips_since(app, from);
    (outcome, Measured { what, trips, sql })
}

/// Asserts that every request of `measured` cost exactly its `budget`'s statements, in the
/// budget's order (or fails naming the request and listing what it sent now), and never
/// sent together what the budget has in different round trips.
///
/// How the statements group into round trips is the app's doing only in part: statements
/// joined with `try_join!` go out together, but whether PostgreSQL's answer to the first
/// comes back before the second leaves is the scheduler's (a connection is driven by the
/// thread that opened it; on a loaded machine, or when that is another thread than the
/// handler's, the first may complete before the second is sent, and the group shows as two
/// round trips, on the wire too). So a group may show split here; `scripts/count-roundtrips`
/// measures the grouping on the wire (BENCHMARKS.md).
fn assert_within_budget(budget: &[(&str, &[&[&str]])], measured: &[Measured]) {
    assert_eq!(measured.len(), budget.len());
    for (request, (_, trips)) in measured.iter().zip(budget) {
        let expected: Vec<String> = trips.concat().iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(
            request.trips.concat(),
            expected,
            "{}: the statements sent to PostgreSQL changed (left: now, right: the budget \
             here).\nIts statements now:\n  {}",
            request.what,
            request.sql.join("\n  ")
        );
        // Each round trip seen lies within one of the budget's.
        let group_of: Vec<usize> = trips
            .iter()
            .enumerate()
            .flat_map(|(group, trip)| std::iter::repeat_n(group, trip.len()))
            .collect();
        let mut at = 0;
        for trip in &request.trips {
            let groups: Vec<usize> = group_of[at..at + trip.len()].to_vec();
            assert!(
                groups.windows(2).all(|pair| pair[0] == pair[1]),
                "{}: {trip:?} went out together, which the budget here has in separate round \
                 trips: update the budget.\nIts statements now:\n  {}",
                request.what,
                request.sql.join("\n  ")
            );
            at += trip.len();
        }
    }
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

/// A login in a new browser, measured request by request: the start, the sandbox's
/// login page (XWMS's work: nothing of the app's), XWMS's callback, the profile it lands on.
async fn log_in_measuring(app: &TestApp, persona: &str) -> Vec<Measured> {
    let browser = browser();
    let (login_page, start) = measure(app, "GET /xwms/auth", app.start_login_with(&browser)).await;
    let form = [("persona", persona), ("outcome", "success")];
    let (callback, sandbox) = measure(app, "the sandbox's login page", async {
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
    let (response, finish) = measure(app, "the callback", async {
        browser.get(&callback).send().await.expect("callback")
    })
    .await;
    assert_eq!(location(response.headers()), "/profile");
    let (profile, page) = measure(app, "GET /profile", app.get_with(&browser, "/profile")).await;
    assert_eq!(profile.status(), 200);
    vec![start, sandbox, finish, page]
}

/// The budget of a whole login whose callback costs `callback`.
fn login_budget(
    callback: &'static [&'static [&'static str]],
) -> [(&'static str, &'static [&'static [&'static str]]); 4] {
    [
        ("GET /xwms/auth", START),
        ("the sandbox's login page", &[]),
        ("the callback", callback),
        ("GET /profile", PROFILE),
    ]
}

/// `GET /xwms/auth`: the rate limit.
const START: &[&[&str]] = &[&["INSERT login_rate_limits"]];

/// The profile: the session check with the page's own work, the account and its
/// activity, asked together (`PROFILE_READ`).
const PROFILE: &[&[&str]] = &[&[
    "WITH user_sessions",
    "SELECT users",
    "SELECT security_events",
]];

#[tokio::test]
async fn a_first_login_costs_the_round_trips_budgeted_here() {
    let app = quiet_app().await;
    // "new": a persona with a new `sub`.
    assert_within_budget(
        &login_budget(FIRST_LOGIN),
        &log_in_measuring(&app, "new").await,
    );
}

/// A first login's callback: the token's claim (the token binding: the start that was issued
/// it was counted, so the claim is not; `auth::count_callback`), then one
/// transaction whose `BEGIN` goes out with its first statement: the `sub` looked up
/// (nobody yet) and, in the same statement, the user created with the `sub` claimed for
/// it; then its first event, welcome note and session record sent together; the `COMMIT`.
const FIRST_LOGIN: &[&[&str]] = &[
    &["INSERT used_login_tokens"],
    &["BEGIN", "WITH users"],
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
    assert_within_budget(
        &login_budget(RETURNING_LOGIN),
        &log_in_measuring(&app, "grace").await,
    );
}

/// A returning person's callback: the token's claim, as for a first login, then
/// one transaction whose `BEGIN` goes out with its first statement: the person found and
/// locked with their last login bumped, in one statement (which creates no user); then
/// their profile, the login's event and the session record sent together; the `COMMIT`.
const RETURNING_LOGIN: &[&[&str]] = &[
    &["INSERT used_login_tokens"],
    &["BEGIN", "WITH users"],
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
    // Home shows who is signed in: the session check and nothing else. A visitor who is
    // not signed in costs nothing.
    let budget: [(&str, &[&[&str]]); 2] = [
        ("GET / signed in", &[&["WITH user_sessions"]]),
        ("GET / anonymous", &[]),
    ];
    let (home, signed_in) = measure(&app, "GET / signed in", app.get_with(&browser, "/")).await;
    assert_eq!(home.status(), 200);
    let (home, anonymous) = measure(&app, "GET / anonymous", app.get("/")).await;
    assert_eq!(home.status(), 200);
    assert_within_budget(&budget, &[signed_in, anonymous]);
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
