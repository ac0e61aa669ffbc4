//! The per-client limit on starting and finishing logins, for the whole deployment.
//!
//! The state lives in PostgreSQL (`login_rate_limits`), so three replicas behind a load
//! balancer allow what one would, not three times as much. One statement per login step
//! decides and records (GCRA, the algorithm behind token buckets): each client has a
//! "theoretical arrival time" `tat`; a request moves it one interval ahead, and is
//! allowed while `tat` stays within `burst` intervals of now. Refused requests get 429
//! with `Retry-After`. The cost is that one round trip on `/xwms/auth` and on the
//! callback (see BENCHMARKS.md).

use std::net::IpAddr;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use ipnet::IpNet;

use crate::db::schema::login_rate_limits;
use crate::db::{self, DbError, DbPool};
use crate::support::config::SecuritySettings;
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
    let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
    let mut conn = db::connection(pool).await?;
    // Insert the first request, or move `tat` one interval on; the WHERE makes a request
    // that would overrun the burst change nothing and return no row.
    let allowed: Option<DateTime<Utc>> = Gcra {
        client,
        interval: micros(limit.interval),
        tolerance: micros(limit.tolerance),
    }
    .get_result(&mut conn)
    .await
    .optional()?;
    if allowed.is_some() {
        return Ok(Decision::Allowed);
    }
    // Refused: wait until one more interval fits within the burst again.
    let tat: DateTime<Utc> = login_rate_limits::table
        .find(client)
        .select(login_rate_limits::tat)
        .first(&mut conn)
        .await?;
    let wait = (tat - Utc::now()).to_std().unwrap_or_default() + limit.interval;
    Ok(Decision::Refused {
        retry_after: wait.saturating_sub(limit.tolerance),
    })
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
    for (net, share) in buckets(client) {
        let key = salted_hash(salt, &net.to_string());
        if let refused @ Decision::Refused { .. } =
            check(pool, limit.shared_by(share), &key).await?
        {
            return Ok(refused);
        }
    }
    Ok(Decision::Allowed)
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
        Ok(Decision::Refused { retry_after }) => {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            let response = HttpResponse::TooManyRequests()
                .insert_header((header::RETRY_AFTER, seconds.max(1).to_string()))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish();
            Ok(req.into_response(response).map_into_right_body())
        }
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
