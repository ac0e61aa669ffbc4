//! The security activity log: an append-only record of identity events.
//!
//! Events that record a change (account created, login, email changed, logout) are
//! written with the same connection, inside the same transaction, as the change, so
//! the log and the data can never disagree. A refused login changes nothing and is
//! written on its own.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};

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

/// What an event says beyond its kind, stored as JSON in `security_events.detail` and
/// read back as this type (never parsed out of a sentence). Each text is cut to
/// [`MAX_DETAIL_CHARS`] characters when written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventDetail {
    /// `email_changed`: the address before and after (`None`: no address).
    EmailChange {
        from: Option<String>,
        to: Option<String>,
    },
    /// `account_created`: the identity provider that vouched for the new identity.
    Provider { provider: String },
    /// `login_refused`: why, in words.
    Refusal { reason: String },
    /// `session_ended_elsewhere`: the user agent of the session that was ended.
    EndedSession { user_agent: Option<String> },
}

/// The longest text an event's detail keeps.
pub const MAX_DETAIL_CHARS: usize = 500;

impl EventDetail {
    /// This detail with every text cut to [`MAX_DETAIL_CHARS`], as JSON.
    fn to_json(&self) -> serde_json::Value {
        let cut = |text: &str| text.chars().take(MAX_DETAIL_CHARS).collect::<String>();
        let bounded = match self {
            Self::EmailChange { from, to } => Self::EmailChange {
                from: from.as_deref().map(cut),
                to: to.as_deref().map(cut),
            },
            Self::Provider { provider } => Self::Provider {
                provider: cut(provider),
            },
            Self::Refusal { reason } => Self::Refusal {
                reason: cut(reason),
            },
            Self::EndedSession { user_agent } => Self::EndedSession {
                user_agent: user_agent.as_deref().map(cut),
            },
        };
        serde_json::to_value(bounded).unwrap_or(serde_json::Value::Null)
    }

    /// The detail of a stored event; `None` when it has none, or one this code does not
    /// know (written by a newer version).
    pub fn of(event: &SecurityEvent) -> Option<Self> {
        serde_json::from_value(event.detail.clone()?).ok()
    }
}

/// Writes one event with `conn`; call it inside the transaction of the change it records.
pub async fn record_event(
    mut conn: &AsyncPgConnection,
    user_id: Option<i64>,
    kind: EventKind,
    detail: Option<EventDetail>,
    client: &ClientInfo,
) -> QueryResult<()> {
    diesel::insert_into(security_events::table)
        .values(NewSecurityEvent {
            user_id,
            kind,
            detail: detail.as_ref().map(EventDetail::to_json),
            ip_hash: client.ip_hash.as_deref(),
            user_agent: client.user_agent.as_deref(),
        })
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Records a refused login (nothing else changes, so it stands alone).
pub async fn record_refused_login(
    pool: &DbPool,
    reason: &str,
    client: &ClientInfo,
) -> Result<(), DbError> {
    let conn = db::connection(pool).await?;
    record_event(
        &conn,
        None,
        EventKind::LoginRefused,
        Some(EventDetail::Refusal {
            reason: reason.to_owned(),
        }),
        client,
    )
    .await?;
    Ok(())
}

/// The user's most recent events, newest first.
pub async fn recent_events(
    mut conn: &AsyncPgConnection,
    user_id: i64,
    limit: i64,
) -> QueryResult<Vec<SecurityEvent>> {
    security_events::table
        .filter(security_events::user_id.eq(user_id))
        .order((
            security_events::created_at.desc(),
            security_events::id.desc(),
        ))
        .limit(limit)
        .select(SecurityEvent::as_select())
        .load(&mut conn)
        .await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detail_is_stored_as_tagged_json_with_every_text_cut_to_the_limit() {
        let long = "x".repeat(MAX_DETAIL_CHARS + 20);
        let stored = EventDetail::EmailChange {
            from: None,
            to: Some(long.clone()),
        }
        .to_json();
        assert_eq!(stored["email_change"]["from"], serde_json::Value::Null);
        assert_eq!(
            stored["email_change"]["to"].as_str().map(str::len),
            Some(MAX_DETAIL_CHARS)
        );
        let reason = EventDetail::Refusal { reason: long }.to_json();
        assert_eq!(
            reason["refusal"]["reason"].as_str().map(str::len),
            Some(MAX_DETAIL_CHARS)
        );
        assert_eq!(
            EventDetail::Provider {
                provider: "sandbox".to_owned()
            }
            .to_json(),
            serde_json::json!({"provider": {"provider": "sandbox"}})
        );
    }

    #[test]
    fn a_stored_detail_reads_back_as_the_same_value_and_an_unknown_one_as_none() {
        let event = |detail| SecurityEvent {
            id: 1,
            user_id: None,
            kind: EventKind::EmailChanged,
            detail,
            ip_hash: None,
            user_agent: None,
            created_at: chrono::Utc::now(),
        };
        let change = EventDetail::EmailChange {
            from: Some("a@example.com".to_owned()),
            to: None,
        };
        assert_eq!(
            EventDetail::of(&event(Some(change.to_json()))),
            Some(change)
        );
        assert_eq!(EventDetail::of(&event(None)), None);
        assert_eq!(
            EventDetail::of(&event(Some(serde_json::json!({"renamed": {}})))),
            None
        );
    }
}
