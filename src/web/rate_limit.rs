//! The per-client limit on starting and finishing logins, for the whole deployment.
//!
//! The state lives in PostgreSQL (`login_rate_limits`), so three replicas behind a load
//! balancer allow what one would, not three times as much. One statement per login step
//! decides and records (GCRA, the algorithm behind token buckets): each client has a
//! "theoretical arrival time" `tat`; a request moves it one interval ahead, and is
//! allowed while `tat` stays within `burst` intervals of now. Refused requests get 429
//! with `Retry-After`. The cost is that one round trip on `/xwms/auth`. The callback counts
//! unless it claims its own login's token (`XWMS_LOGIN_BINDING=token`, the default: the
//! start was counted); with the session binding the token's claim rides on the limit's
//! statement (`count_and_claim`; see docs/security.md "Rate limits").

use std::net::IpAddr;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use ipnet::IpNet;

use crate::db::schema::login_rate_limits;
use crate::db::{self, DbError, DbPool};
use crate::domain::session_records::claim_login_token;
use crate::support::config::SecuritySettings;
use crate::support::crypto::sha256_hex;
use crate::web::client_info::{client_ip, salted_hash};
use crate::web::error::AppError;
use crate::web::state::AppState;

/// `RATE_LIMIT_PER_MINUTE` per client, with `RATE_LIMIT_BURST` at once.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Time between two requests at the sustained rate.
    interval: Duration,
    /// How far ahead of now `tat` may run: `burst` intervals.
    tolerance: Duration,
}

impl RateLimit {
    pub fn new(settings: &SecuritySettings) -> RateLimit {
        let per_minute = u64::from(settings.rate_limit_per_minute.max(1));
        let interval = Duration::from_nanos((60_000_000_000 / per_minute).max(1));
        RateLimit {
            interval,
            tolerance: interval.saturating_mul(settings.rate_limit_burst.max(1)),
        }
    }

    /// The limit of a bucket `share` clients share: `share` times the rate and the
    /// burst (the interval shrinks, the tolerance of `burst` intervals stays in time).
    fn shared_by(self, share: u32) -> RateLimit {
        let interval = (self.interval / share.max(1)).max(Duration::from_nanos(1));
        RateLimit {
            interval,
            tolerance: self.tolerance,
        }
    }
}

/// Allowed, or refused with how long to wait.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Refused { retry_after: Duration },
}

/// Counts one request of `client` against the limit, for every replica at once.
pub async fn check(pool: &DbPool, limit: RateLimit, client: &str) -> Result<Decision, DbError> {
    let mut conn = db::connection(pool).await?;
    // Insert the first request, or move `tat` one interval on; the WHERE makes a request
    // that would overrun the burst change nothing and return no row.
    let allowed: Option<DateTime<Utc>> = Gcra::new(limit, client)
        .get_result(&mut conn)
        .await
        .optional()?;
    if allowed.is_some() {
        return Ok(Decision::Allowed);
    }
    let tat: DateTime<Utc> = login_rate_limits::table
        .find(client)
        .select(login_rate_limits::tat)
        .first(&mut conn)
        .await?;
    Ok(Decision::Refused {
        retry_after: limit.retry_after(tat),
    })
}

impl RateLimit {
    /// How long a request refused while `tat` is where it is waits: until one more
    /// interval fits within the burst again.
    fn retry_after(self, tat: DateTime<Utc>) -> Duration {
        let wait = (tat - Utc::now()).to_std().unwrap_or_default() + self.interval;
        wait.saturating_sub(self.tolerance)
    }
}

/// The GCRA step as one statement: take a slot (insert, or move `tat` on) unless that
/// would put `tat` more than `tolerance` ahead of now; returns the new `tat`, or no row
/// when refused. Intervals in microseconds.
///
/// Written as a query type of its own rather than `sql_query`: its text never changes,
/// so it has a static query id and diesel-async prepares it once per connection (one
/// round trip a login step, not two). `walk_ast` binds each value where the SQL uses it.
struct Gcra<'a> {
    client: &'a str,
    interval: i64,
    tolerance: i64,
}

impl Gcra<'_> {
    fn new(limit: RateLimit, client: &str) -> Gcra<'_> {
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        Gcra {
            client,
            interval: micros(limit.interval),
            tolerance: micros(limit.tolerance),
        }
    }
}

impl QueryFragment<Pg> for Gcra<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("INSERT INTO login_rate_limits AS l (client, tat) VALUES (");
        out.push_bind_param::<Text, _>(self.client)?;
        out.push_sql(", now() + ");
        out.push_bind_param::<BigInt, _>(&self.interval)?;
        out.push_sql(" * interval '1 microsecond') ON CONFLICT (client) DO UPDATE SET tat = greatest(l.tat, now()) + ");
        out.push_bind_param::<BigInt, _>(&self.interval)?;
        out.push_sql(" * interval '1 microsecond' WHERE greatest(l.tat, now()) + ");
        out.push_bind_param::<BigInt, _>(&self.interval)?;
        out.push_sql(" * interval '1 microsecond' - now() <= ");
        out.push_bind_param::<BigInt, _>(&self.tolerance)?;
        out.push_sql(" * interval '1 microsecond' RETURNING tat");
        Ok(())
    }
}

impl QueryId for Gcra<'_> {
    type QueryId = Gcra<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for Gcra<'_> {
    type SqlType = Timestamptz;
}

/// Counts one request of `client` against each of its buckets, each stored under its
/// salted hash (as the activity log keeps addresses), never the address itself. The
/// first bucket that refuses decides; the coarser ones are not charged then.
async fn check_buckets(
    pool: &DbPool,
    limit: RateLimit,
    salt: &[u8],
    client: IpAddr,
) -> Result<Decision, DbError> {
    for (key, limit) in keyed_buckets(limit, salt, client) {
        if let refused @ Decision::Refused { .. } = check(pool, limit, &key).await? {
            return Ok(refused);
        }
    }
    Ok(Decision::Allowed)
}

/// `client`'s buckets, each as its stored key (the salted hash of its network) and its
/// limit.
fn keyed_buckets(limit: RateLimit, salt: &[u8], client: IpAddr) -> Vec<(String, RateLimit)> {
    buckets(client)
        .into_iter()
        .map(|(net, share)| (salted_hash(salt, &net.to_string()), limit.shared_by(share)))
        .collect()
}

/// What the callback's step decided: refused by the limit, or let through, with whether
/// the token was claimed.
#[derive(Debug, PartialEq, Eq)]
pub enum CallbackStep {
    Refused {
        retry_after: Duration,
    },
    /// `token_claimed` is false when no token was given, or when it was used before.
    Allowed {
        token_claimed: bool,
    },
}

/// The callback's step: one request of `client` counted against its buckets and, only
/// when every bucket lets it through, `token` claimed as used (as
/// `session_records::claim_login_token` does). The claim rides on the last bucket's
/// statement (`GcraThenClaim`), so for an IPv4 client counting and claiming are one
/// round trip.
///
/// Every callback that comes here is counted, refused ones too (their event is a write),
/// but a request past the limit claims nothing: otherwise, with the session binding (which
/// has no token to match), a client could write a used-token row per request without end.
/// (With the token binding a callback claims its own login's token without coming here,
/// and comes here only when it claims nothing: `routes::auth::count_callback`.)
/// No address known (not over TCP: only tests build such requests), or no limit (an app
/// built without one): nothing to count against, the token is claimed alone.
pub async fn count_and_claim(
    pool: &DbPool,
    limit: Option<RateLimit>,
    salt: &[u8],
    client: Option<IpAddr>,
    token: Option<&str>,
) -> Result<CallbackStep, DbError> {
    let mut keyed = limit
        .zip(client)
        .map(|(limit, client)| keyed_buckets(limit, salt, client))
        .unwrap_or_default();
    let Some((last_key, last_limit)) = keyed.pop() else {
        let token_claimed = match token {
            Some(token) => claim_login_token(pool, token).await?,
            None => false,
        };
        return Ok(CallbackStep::Allowed { token_claimed });
    };
    for (key, limit) in keyed {
        if let Decision::Refused { retry_after } = check(pool, limit, &key).await? {
            return Ok(CallbackStep::Refused { retry_after });
        }
    }
    let Some(token) = token else {
        return Ok(match check(pool, last_limit, &last_key).await? {
            Decision::Refused { retry_after } => CallbackStep::Refused { retry_after },
            Decision::Allowed => CallbackStep::Allowed {
                token_claimed: false,
            },
        });
    };
    let mut conn = db::connection(pool).await?;
    let (allowed, stored, token_claimed) = GcraThenClaim {
        step: Gcra::new(last_limit, &last_key),
        token_sha256: &sha256_hex(token),
    }
    .get_result::<(Option<DateTime<Utc>>, Option<DateTime<Utc>>, bool)>(&mut conn)
    .await?;
    Ok(match (allowed, stored) {
        (Some(_), _) => CallbackStep::Allowed { token_claimed },
        (None, stored) => CallbackStep::Refused {
            // (The stored `tat` is read as of the statement's start: none when a
            // concurrent first request of this client inserted the row since; one
            // interval then. Only `Retry-After` is that imprecise, never the decision.)
            retry_after: stored.map_or(last_limit.interval, |tat| last_limit.retry_after(tat)),
        },
    })
}

/// The GCRA step and, only when it lets the request through, the token's claim, in one
/// statement: returns the new `tat` (NULL when refused), the `tat` stored before (for
/// the refusal's `Retry-After`: every part of a statement sees the table as it was
/// before it), and whether the token was claimed (false: used before, or refused).
/// Fixed text, like `Gcra`: prepared once per connection.
struct GcraThenClaim<'a> {
    step: Gcra<'a>,
    token_sha256: &'a str,
}

impl QueryFragment<Pg> for GcraThenClaim<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH step AS (");
        self.step.walk_ast(out.reborrow())?;
        out.push_sql("), claim AS (INSERT INTO used_login_tokens (token_sha256) SELECT ");
        out.push_bind_param::<Text, _>(self.token_sha256)?;
        out.push_sql(" FROM step ON CONFLICT DO NOTHING RETURNING 1) ");
        out.push_sql("SELECT (SELECT tat FROM step), ");
        out.push_sql("(SELECT tat FROM login_rate_limits WHERE client = ");
        out.push_bind_param::<Text, _>(self.step.client)?;
        out.push_sql("), EXISTS (SELECT 1 FROM claim)");
        Ok(())
    }
}

impl QueryId for GcraThenClaim<'_> {
    type QueryId = GcraThenClaim<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for GcraThenClaim<'_> {
    type SqlType = (Nullable<Timestamptz>, Nullable<Timestamptz>, Bool);
}

/// Forgets clients whose `tat` has passed (they would start afresh anyway). "Passed" by
/// the database's clock, the one `tat` is computed with: by this machine's clock, when
/// it runs ahead, a client still limited would be forgotten and start afresh.
pub async fn sweep(pool: &DbPool) -> Result<usize, DbError> {
    let mut conn = db::connection(pool).await?;
    Ok(
        diesel::sql_query("DELETE FROM login_rate_limits WHERE tat < now()")
            .execute(&mut conn)
            .await?,
    )
}

/// How many clients' worth of requests the coarse IPv6 bucket (a /48) allows.
pub const SLASH_48_SHARE: u32 = 16;

/// The buckets a client address counts against: its own, and for IPv6 a coarser one.
///
/// One bucket per IPv4 address, but per IPv6 /64: a single client usually holds a whole
/// /64 and could otherwise take a fresh bucket for every request. A site is commonly
/// given a /48, though, which holds 65,536 /64s; so an IPv6 client also counts against
/// its /48, which allows `SLASH_48_SHARE` times the limit (room for a household or an
/// office whose devices sit in different /64s, but no longer 65,536 fresh buckets).
/// `ip` must be canonical (`client_ip` makes it so): a mapped IPv4 address grouped as
/// IPv6 would put every IPv4 client into the bucket `::/64`.
pub fn buckets(ip: IpAddr) -> Vec<(IpNet, u32)> {
    let net = |prefix: u8| IpNet::new(ip, prefix).map(|net| net.trunc()).ok();
    match ip {
        IpAddr::V4(_) => net(32).map(|net| vec![(net, 1)]).unwrap_or_default(),
        IpAddr::V6(_) => [(net(64), 1), (net(48), SLASH_48_SHARE)]
            .into_iter()
            .filter_map(|(net, share)| Some((net?, share)))
            .collect(),
    }
}

/// Middleware for the login steps: 429 with `Retry-After` past the limit. A failure
/// (the database is down) becomes an error response, like any other.
pub async fn limit_login_steps(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let (Some(state), Some(limit)) = (
        req.app_data::<web::Data<AppState>>().cloned(),
        req.app_data::<web::Data<RateLimit>>()
            .map(|limit| *limit.get_ref()),
    ) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    // No address known (not over TCP: only tests build such requests): nothing to count
    // against, and one shared bucket for all of them would let one lock out the rest.
    let Some(client) = client_ip(
        req.peer_addr().map(|addr| addr.ip()),
        req.headers(),
        &state.trusted_proxies,
    ) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    match check_buckets(&state.pool, limit, &state.ip_hash_salt, client).await {
        Ok(Decision::Allowed) => Ok(next.call(req).await?.map_into_left_body()),
        Ok(Decision::Refused { retry_after }) => Ok(req
            .error_response(AppError::TooManyRequests { retry_after })
            .map_into_right_body()),
        Err(err) => Ok(req
            .error_response(AppError::from(err))
            .map_into_right_body()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_slash_64_and_a_larger_one_per_slash_48() {
        let expected = vec![
            (net("2001:db8:1:2::/64"), 1),
            (net("2001:db8:1::/48"), SLASH_48_SHARE),
        ];
        assert_eq!(buckets(ip("2001:db8:1:2:aaaa::1")), expected);
        assert_eq!(buckets(ip("2001:db8:1:2:bbbb::9")), expected);
        // Another /64 of the same /48: a bucket of its own, the /48 in common.
        assert_eq!(
            buckets(ip("2001:db8:1:3::1")),
            vec![
                (net("2001:db8:1:3::/64"), 1),
                (net("2001:db8:1::/48"), SLASH_48_SHARE),
            ]
        );
    }

    #[test]
    fn each_ipv4_address_has_a_bucket_of_its_own() {
        assert_eq!(
            buckets(ip("198.51.100.7")),
            vec![(net("198.51.100.7/32"), 1)]
        );
    }

    #[test]
    fn a_mapped_ipv4_client_has_its_own_ipv4_bucket_once_made_canonical() {
        // What a listener on [::] sees; `client_ip` makes it canonical before grouping.
        let seen_by_a_dual_stack_listener = ip("::ffff:198.51.100.7");
        let client = client_ip(
            Some(seen_by_a_dual_stack_listener),
            &actix_web::http::header::HeaderMap::new(),
            &[],
        )
        .unwrap();
        assert_eq!(buckets(client), vec![(net("198.51.100.7/32"), 1)]);
        let other = client_ip(
            Some(ip("::ffff:198.51.100.8")),
            &actix_web::http::header::HeaderMap::new(),
            &[],
        )
        .unwrap();
        assert_ne!(buckets(client), buckets(other));
    }

    #[test]
    fn a_shared_bucket_allows_share_times_the_rate_and_the_burst() {
        let limit = RateLimit {
            interval: Duration::from_secs(2),
            tolerance: Duration::from_secs(20),
        };
        let shared = limit.shared_by(16);
        assert_eq!(shared.interval, Duration::from_millis(125));
        assert_eq!(shared.tolerance, Duration::from_secs(20));
        assert_eq!(
            shared.tolerance.as_nanos() / shared.interval.as_nanos(),
            160,
            "16 times the burst of 10"
        );
    }

    #[test]
    fn the_tolerance_is_burst_intervals() {
        let limit = RateLimit::new(&SecuritySettings {
            rate_limit_per_minute: 30,
            rate_limit_burst: 10,
            trusted_proxies: Vec::new(),
            activity_retention: Duration::ZERO,
            anonymous_activity_retention: Duration::ZERO,
            hsts_include_subdomains: false,
            step_up_max_age: Duration::from_secs(300),
        });
        assert_eq!(limit.interval, Duration::from_secs(2));
        assert_eq!(limit.tolerance, Duration::from_secs(20));
    }
}
