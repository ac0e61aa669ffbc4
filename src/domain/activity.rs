//! The security activity log: an append-only record of identity events.
//!
//! Events that record a change (account created, login, email changed, logout) are
//! written with the same connection, inside the same transaction, as the change, so
//! the log and the data can never disagree. A refused login changes nothing and is
//! written on its own.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

pub use crate::db::models::EventKind;
use crate::db::models::{NewSecurityEvent, SecurityEvent};
use crate::db::schema::security_events;
use crate::db::{self, DbError, DbPool};

/// What the activity log records about the request behind an event (the web layer's
/// `client_info` fills it in).
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// SHA-256 of salt + IP, hex; never the address itself.
    pub ip_hash: Option<String>,
    pub user_agent: Option<String>,
}

/// Writes one event with `conn`; call it inside the transaction of the change it records.
pub async fn record_event(
    conn: &mut AsyncPgConnection,
    user_id: Option<i64>,
    kind: EventKind,
    detail: Option<&str>,
    client: &ClientInfo,
) -> QueryResult<()> {
    let detail = detail.map(|text| text.chars().take(500).collect::<String>());
    diesel::insert_into(security_events::table)
        .values(NewSecurityEvent {
            user_id,
            kind,
            detail: detail.as_deref(),
            ip_hash: client.ip_hash.as_deref(),
            user_agent: client.user_agent.as_deref(),
        })
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a refused login (nothing else changes, so it stands alone).
pub async fn record_refused_login(
    pool: &DbPool,
    reason: &str,
    client: &ClientInfo,
) -> Result<(), DbError> {
    let mut conn = db::connection(pool).await?;
    record_event(
        &mut conn,
        None,
        EventKind::LoginRefused,
        Some(reason),
        client,
    )
    .await?;
    Ok(())
}

/// The user's most recent events, newest first.
pub async fn recent_events(
    pool: &DbPool,
    user_id: i64,
    limit: i64,
) -> Result<Vec<SecurityEvent>, DbError> {
    let mut conn = db::connection(pool).await?;
    Ok(security_events::table
        .filter(security_events::user_id.eq(user_id))
        .order((
            security_events::created_at.desc(),
            security_events::id.desc(),
        ))
        .limit(limit)
        .select(SecurityEvent::as_select())
        .load(&mut conn)
        .await?)
}

/// The longest age a sweep computes a bound for, about 4000 years: PostgreSQL's
/// timestamps begin in 4713 BC, and nothing stored is that old anyway.
pub const MAX_AGE_SECS: i64 = 126_000_000_000;

/// Deletes events past their retention: `users` for events of existing users,
/// `anonymous` for events of nobody (refused logins, events of deleted users). Returns
/// how many went. The table's trigger refuses any other deletion: this statement tells
/// it, in two transaction-local settings, how far it may go.
///
/// The bounds are computed by PostgreSQL (`now() - interval`), from the clock the trigger
/// checks them against: with bounds from this machine's clock, a clock a little ahead of
/// the database's would make every sweep roll back.
pub async fn sweep_expired_events(
    pool: &DbPool,
    users: std::time::Duration,
    anonymous: std::time::Duration,
) -> Result<usize, DbError> {
    let secs = |age: std::time::Duration| {
        i64::try_from(age.as_secs())
            .unwrap_or(i64::MAX)
            .min(MAX_AGE_SECS)
    };
    let mut conn = db::connection(pool).await?;
    use diesel_async::AsyncConnection as _;
    let swept = conn
        .transaction(async |conn| {
            diesel::sql_query(
                "SELECT set_config('xwms.retention_users_before', \
                            (now() - make_interval(secs => $1))::text, true), \
                        set_config('xwms.retention_anonymous_before', \
                            (now() - make_interval(secs => $2))::text, true)",
            )
            .bind::<diesel::sql_types::BigInt, _>(secs(users))
            .bind::<diesel::sql_types::BigInt, _>(secs(anonymous))
            .execute(conn)
            .await?;
            // The same bounds, read back: what is deleted is exactly what the trigger allows.
            diesel::sql_query(
                "DELETE FROM security_events WHERE \
                 (user_id IS NOT NULL AND created_at < \
                     current_setting('xwms.retention_users_before')::timestamptz) \
                 OR (user_id IS NULL AND created_at < \
                     current_setting('xwms.retention_anonymous_before')::timestamptz)",
            )
            .execute(conn)
            .await
        })
        .await?;
    Ok(swept)
}
