//! Rows as Rust types. Reads and writes are separate types so an insert can never
//! set an id or a timestamp the database owns.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{security_events, users, xwms_connections};

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
    pub session_epoch: i32,
}

#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = users)]
#[diesel(treat_none_as_null = true)]
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

#[derive(Debug, Insertable)]
#[diesel(table_name = xwms_connections)]
pub struct NewXwmsConnection<'a> {
    pub user_id: i64,
    pub provider: &'a str,
    pub sub: &'a str,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = security_events)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct SecurityEvent {
    pub id: i64,
    pub user_id: Option<i64>,
    pub kind: String,
    pub detail: Option<String>,
    pub ip_hash: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = security_events)]
pub struct NewSecurityEvent<'a> {
    pub user_id: Option<i64>,
    pub kind: &'a str,
    pub detail: Option<&'a str>,
    pub ip_hash: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}
