//! Rows as Rust types. Reads and writes are separate types so an insert can never
//! set an id or a timestamp the database owns.

use std::io::Write as _;

use chrono::{DateTime, Utc};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::prelude::*;
use diesel::serialize::{self, IsNull, Output, ToSql};

use super::schema::sql_types::SecurityEventKind;
use super::schema::{notes, security_events, user_sessions, users, xwms_connections};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub picture_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `treat_none_as_default_value = false` on every `Insertable` here: each field is a bound
/// value (`None` a bound NULL), never the `DEFAULT` keyword. diesel's default leaves room
/// for `DEFAULT`, which makes it treat the statement's text as variable, and diesel-async
/// then prepares it anew at every insert (a round trip more). Fixed text is prepared once
/// per connection.
#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = users)]
#[diesel(treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct UserProfile<'a> {
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub email_verified: bool,
    pub picture_url: Option<&'a str>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Associations)]
#[diesel(table_name = xwms_connections)]
#[diesel(belongs_to(User))]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct XwmsConnection {
    pub id: i64,
    pub user_id: i64,
    /// `sandbox` or `xwms:<API host>`: a `sub` is unique only within its provider.
    pub provider: String,
    pub sub: String,
    pub created_at: DateTime<Utc>,
    pub last_login_at: DateTime<Utc>,
}

/// A note of the worked example (`notes`, docs/extending.md).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Associations)]
#[diesel(table_name = notes)]
#[diesel(belongs_to(User))]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct Note {
    pub id: i64,
    pub user_id: i64,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = notes)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewNote<'a> {
    pub user_id: i64,
    pub body: &'a str,
}

/// A signed-in session's record (`domain::session_records`).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Associations)]
#[diesel(table_name = user_sessions)]
#[diesel(belongs_to(User))]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct UserSession {
    pub id: i64,
    /// SHA-256 (hex) of the random session id in the cookie.
    pub token_sha256: String,
    pub user_id: i64,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = user_sessions)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewUserSession<'a> {
    pub token_sha256: &'a str,
    pub user_id: i64,
    pub user_agent: Option<&'a str>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = security_events)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct SecurityEvent {
    pub id: i64,
    pub user_id: Option<i64>,
    pub kind: EventKind,
    /// JSON of a `domain::activity::EventDetail`.
    pub detail: Option<serde_json::Value>,
    pub ip_hash: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = security_events)]
#[diesel(treat_none_as_default_value = false)]
pub struct NewSecurityEvent<'a> {
    pub user_id: Option<i64>,
    pub kind: EventKind,
    pub detail: Option<serde_json::Value>,
    pub ip_hash: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// The kinds of security event: one Rust enum for the `security_event_kind` column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = SecurityEventKind)]
pub enum EventKind {
    AccountCreated,
    Login,
    EmailChanged,
    LoginRefused,
    /// This session ended ("Log out").
    Logout,
    /// Every session of the account ended ("Log out on all devices").
    SessionsRevoked,
    /// The person deleted their account. The event outlives the user, without their
    /// id or any personal data (see `privacy::delete_account`).
    AccountDeleted,
    /// The person downloaded their data ("Download my data").
    DataExported,
    /// One of the account's sessions was ended from another ("your devices").
    SessionEndedElsewhere,
}

impl EventKind {
    /// Every kind, for reading the column back.
    pub const ALL: [EventKind; 9] = [
        EventKind::AccountCreated,
        EventKind::Login,
        EventKind::EmailChanged,
        EventKind::LoginRefused,
        EventKind::Logout,
        EventKind::SessionsRevoked,
        EventKind::AccountDeleted,
        EventKind::DataExported,
        EventKind::SessionEndedElsewhere,
    ];

    /// The value stored in `security_events.kind` (an exhaustive match: a new kind does
    /// not compile until it has one).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::AccountCreated => "account_created",
            EventKind::Login => "login",
            EventKind::EmailChanged => "email_changed",
            EventKind::LoginRefused => "login_refused",
            EventKind::Logout => "logout",
            EventKind::SessionsRevoked => "sessions_revoked",
            EventKind::AccountDeleted => "account_deleted",
            EventKind::DataExported => "data_exported",
            EventKind::SessionEndedElsewhere => "session_ended_elsewhere",
        }
    }

    /// The message (locales/*/main.ftl) that names the event on the profile page:
    /// `event-` and the stored value.
    pub fn message_id(self) -> String {
        format!("event-{}", self.as_str())
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A PostgreSQL enum travels as its label's bytes.
impl ToSql<SecurityEventKind, Pg> for EventKind {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.as_str().as_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<SecurityEventKind, Pg> for EventKind {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        let label = value.as_bytes();
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().as_bytes() == label)
            .ok_or_else(|| format!("unknown security event kind {label:?}").into())
    }
}
