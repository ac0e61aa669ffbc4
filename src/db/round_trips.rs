//! What each request costs the database, statement by statement, in the log.
//!
//! Every pooled connection carries a [`RoundTripLog`] (`build_pool` installs it). At
//! debug level it logs each statement the connection sends, as a new round trip, or as
//! pipelined with the one in flight (sent before its answer came: same round trip), and
//! each statement the connection prepares (a round trip of its own: once per connection
//! for a cached statement, every time for one diesel cannot cache).
//! Only the SQL text is logged, never the values bound to it:
//!
//! ```text
//! RUST_LOG=info,xwms_starter::db::round_trips=debug cargo run
//! ```
//!
//! `tests/api/round_trips.rs` reads these lines to pin what a login and a signed-in page
//! cost, and `scripts/count-roundtrips` counts the same on the wire.

use std::collections::HashSet;
use std::fmt::Write as _;

use diesel::connection::{Instrumentation, InstrumentationEvent};

/// How a logged statement reached PostgreSQL: the words each line starts with.
pub const NEW_ROUND_TRIP: &str = "round trip:";
pub const PIPELINED: &str = "pipelined:";
/// Prepared for this connection's cache: a round trip of its own, once per connection.
pub const PREPARED: &str = "prepare:";
/// Not cacheable (diesel caches no `sql_query` and no `UPDATE`'s `SET`): prepared anew
/// every time it runs, one more round trip each time. A query type with a static query id
/// (`rate_limit::Gcra`) is cached.
pub const NOT_CACHED: &str = "not cached, parsed again:";

/// What one connection has in flight and has prepared, for telling a new round trip from
/// a pipelined statement and a cached statement from one parsed every time.
#[derive(Debug, Default)]
pub struct RoundTripLog {
    in_flight: usize,
    /// Statements this connection has prepared and keeps (diesel's statement cache).
    cached: HashSet<String>,
    /// Statements in flight sent as prepared statements (not `BEGIN`, `COMMIT`).
    prepared_in_flight: Vec<String>,
}

impl Instrumentation for RoundTripLog {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        // Nothing but counting when the log is off: printing a statement costs.
        let logging = log::log_enabled!(log::Level::Debug);
        match event {
            InstrumentationEvent::StartQuery { query, .. } => {
                let how = if self.in_flight == 0 {
                    NEW_ROUND_TRIP
                } else {
                    PIPELINED
                };
                self.in_flight += 1;
                if logging {
                    let text = printed(query);
                    let sql = sql_only(&text);
                    if sql.len() < text.trim().len() {
                        self.prepared_in_flight.push(sql.to_owned());
                    }
                    log::debug!("{how} {sql}");
                }
            }
            InstrumentationEvent::CacheQuery { sql, .. } if logging => {
                self.cached.insert(sql.to_owned());
                log::debug!("{PREPARED} {sql}");
            }
            InstrumentationEvent::FinishQuery { query, .. } => {
                self.in_flight = self.in_flight.saturating_sub(1);
                if logging {
                    let text = printed(query);
                    let sql = text.trim();
                    if let Some(at) = self.prepared_in_flight.iter().position(|s| *s == sql) {
                        self.prepared_in_flight.swap_remove(at);
                        if !self.cached.contains(sql) {
                            log::debug!("{NOT_CACHED} {sql}");
                        }
                    }
                }
            }
            // A statement whose future was dropped (a failed `try_join!`, a request
            // cancelled) never finishes: start counting afresh at each transaction.
            InstrumentationEvent::BeginTransaction { .. }
            | InstrumentationEvent::RollbackTransaction { .. } => {
                self.in_flight = 0;
                self.prepared_in_flight.clear();
            }
            _ => {}
        }
    }
}

/// What diesel prints for a statement; empty when it cannot be printed (an error building
/// it), which is never a reason to fail the statement itself.
fn printed(query: &dyn std::fmt::Display) -> String {
    let mut text = String::new();
    let _ = write!(text, "{query}");
    text
}

/// A statement's SQL without the values diesel prints after it (`-- binds: [...]`): they
/// may be tokens' hashes, emails, addresses. A statement with placeholders (`$1`) but
/// without that marker (diesel printing it some other way) is withheld whole.
fn sql_only(statement: &str) -> &str {
    match statement.split_once(" -- binds:") {
        Some((sql, _)) => sql.trim(),
        None if statement.contains('$') => {
            "(statement withheld: its values could not be told from its SQL)"
        }
        None => statement.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::sql_only;

    #[test]
    fn the_values_bound_to_a_statement_are_never_logged() {
        assert_eq!(
            sql_only(r#"SELECT "a" FROM "t" WHERE "b" = $1 -- binds: ["ada@example.com"]"#),
            r#"SELECT "a" FROM "t" WHERE "b" = $1"#
        );
        assert_eq!(sql_only("BEGIN"), "BEGIN");
        assert!(!sql_only("SELECT 1 WHERE a = $1 [\"secret\"]").contains("secret"));
    }

    #[test]
    fn what_diesel_prints_for_a_real_statement_loses_its_values() {
        use crate::db::schema::users;
        use diesel::prelude::*;
        let query = users::table
            .filter(users::email.eq("secret@example.com"))
            .select(users::id);
        let printed = super::printed(&diesel::debug_query::<diesel::pg::Pg, _>(&query));
        assert!(
            printed.contains("secret@example.com"),
            "diesel prints the value"
        );
        let logged = sql_only(&printed);
        assert!(!logged.contains("secret"), "{logged}");
        assert!(logged.starts_with("SELECT"), "{logged}");
    }
}
