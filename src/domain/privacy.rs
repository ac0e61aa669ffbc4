//! What a person may ask of their account under the GDPR: a copy of their data
//! ("Download my data", article 15 and 20) and its deletion ("Delete my account",
//! article 17).
//!
//! Both are scoped by the user id the caller got from the signed-in session, never by
//! anything the browser sent. When your product adds a table with personal data, add
//! it to `PersonalData` (and give its foreign key `ON DELETE CASCADE`, or anonymise it
//! in `delete_account`), so both stay complete.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use crate::db::models::{Note, SecurityEvent, User, UserSession, XwmsConnection};
use crate::db::schema::{notes, security_events, user_sessions, users, xwms_connections};
use crate::db::{self, DbError, DbPool};
use crate::domain::activity::{ClientInfo, EventKind, record_event};

/// Names the export's layout, so a reader of an old file knows what it holds.
/// Version 2: an event's `detail` is JSON (`{"email_change": {"from": .., "to": ..}}`),
/// not a sentence. Version 3: the signed-in sessions (`sessions`).
pub const EXPORT_FORMAT: &str = "xwms-starter personal data, version 3";

/// Everything this site stores about one person: the "Download my data" file.
#[derive(Debug, Serialize)]
pub struct PersonalData {
    pub format: &'static str,
    pub exported_at: DateTime<Utc>,
    pub account: AccountData,
    /// The identities this account is linked by: who vouched (`provider`) and the
    /// person's id there (`sub`).
    pub identities: Vec<IdentityData>,
    pub notes: Vec<NoteData>,
    /// The account's signed-in sessions ("your devices"), oldest first.
    pub sessions: Vec<SessionData>,
    /// The whole security activity log of the account, oldest first.
    pub activity: Vec<ActivityData>,
}

#[derive(Debug, Serialize)]
pub struct SessionData {
    pub started: DateTime<Utc>,
    pub last_used: DateTime<Utc>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AccountData {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub picture_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct IdentityData {
    pub provider: String,
    pub sub: String,
    pub first_seen: DateTime<Utc>,
    pub last_login: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct NoteData {
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct ActivityData {
    pub kind: String,
    /// The event's detail as stored: JSON, e.g. `{"email_change": {"from": .., "to": ..}}`.
    pub detail: Option<serde_json::Value>,
    /// A salted SHA-256 of the address the request came from, as stored: the address
    /// itself is never kept.
    pub ip_hash: Option<String>,
    pub user_agent: Option<String>,
    pub at: DateTime<Utc>,
}

/// Records the download (`data_exported`: a stolen session could take everything in one
/// request, and the person sees it on their profile) and reads everything stored about
/// `user_id`, in one transaction at one snapshot: a login or a note written meanwhile is
/// either wholly in the file or not at all, and the file ends with this download. The
/// user row is locked against deletion meanwhile. `None` if the user no longer exists.
///
/// A deletion that was under way when the lock was asked for makes the lock wait; when
/// it commits, PostgreSQL refuses our snapshot (serialization failure, 40001), as the
/// row it saw is gone. One new attempt, at a new snapshot, then finds no user: `None`,
/// the same answer as a deletion that finished before the request.
pub async fn export_personal_data(
    pool: &DbPool,
    user_id: i64,
    client: &ClientInfo,
) -> Result<Option<PersonalData>, DbError> {
    let mut conn = db::connection(pool).await?;
    match read_personal_data(&mut conn, user_id, client).await {
        Err(diesel::result::Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => {
            Ok(read_personal_data(&mut conn, user_id, client).await?)
        }
        outcome => Ok(outcome?),
    }
}

async fn read_personal_data(
    conn: &mut AsyncPgConnection,
    user_id: i64,
    client: &ClientInfo,
) -> QueryResult<Option<PersonalData>> {
    conn.build_transaction()
        .repeatable_read()
        .run(async |conn| {
            let Some(user) = users::table
                .find(user_id)
                .select(User::as_select())
                .for_key_share()
                .first(conn)
                .await
                .optional()?
            else {
                return Ok(None);
            };
            record_event(conn, Some(user_id), EventKind::DataExported, None, client).await?;
            let identities: Vec<XwmsConnection> = xwms_connections::table
                .filter(xwms_connections::user_id.eq(user_id))
                .order(xwms_connections::id)
                .select(XwmsConnection::as_select())
                .load(conn)
                .await?;
            let notes: Vec<Note> = notes::table
                .filter(notes::user_id.eq(user_id))
                .order(notes::id)
                .select(Note::as_select())
                .load(conn)
                .await?;
            let sessions: Vec<UserSession> = user_sessions::table
                .filter(user_sessions::user_id.eq(user_id))
                .order(user_sessions::id)
                .select(UserSession::as_select())
                .load(conn)
                .await?;
            let activity: Vec<SecurityEvent> = security_events::table
                .filter(security_events::user_id.eq(user_id))
                .order(security_events::id)
                .select(SecurityEvent::as_select())
                .load(conn)
                .await?;
            Ok::<_, diesel::result::Error>(Some(PersonalData {
                format: EXPORT_FORMAT,
                exported_at: Utc::now(),
                account: AccountData {
                    id: user.id,
                    name: user.name,
                    email: user.email,
                    email_verified: user.email_verified,
                    picture_url: user.picture_url,
                    created_at: user.created_at,
                    updated_at: user.updated_at,
                },
                identities: identities
                    .into_iter()
                    .map(|identity| IdentityData {
                        provider: identity.provider,
                        sub: identity.sub,
                        first_seen: identity.created_at,
                        last_login: identity.last_login_at,
                    })
                    .collect(),
                notes: notes
                    .into_iter()
                    .map(|note| NoteData {
                        body: note.body,
                        created_at: note.created_at,
                    })
                    .collect(),
                sessions: sessions
                    .into_iter()
                    .map(|session| SessionData {
                        started: session.created_at,
                        last_used: session.last_seen_at,
                        user_agent: session.user_agent,
                    })
                    .collect(),
                activity: activity
                    .into_iter()
                    .map(|event| ActivityData {
                        kind: event.kind.as_str().to_owned(),
                        detail: event.detail,
                        ip_hash: event.ip_hash,
                        user_agent: event.user_agent,
                        at: event.created_at,
                    })
                    .collect(),
            }))
        })
        .await
}

/// "Delete my account": the user, their identity links and notes go; their activity
/// log stays only as anonymous events; every session of theirs on every device ends.
/// All of it in one transaction: a failure anywhere leaves everything as it was.
///
/// - The user row is deleted; `xwms_connections` and `notes` go with it (`ON DELETE
///   CASCADE`), so the `sub` is free: logging in with it again makes a new, empty
///   account.
/// - `security_events` rows lose their user (`ON DELETE SET NULL`), and the table's
///   trigger clears their personal data as they do: detail (an email change names
///   addresses), IP hash and user agent. What happened and when stays.
/// - One `account_deleted` event is written first, with the user's id and this
///   request's client info, and is anonymised with the rest: the minimal record that
///   an account was deleted, and when. Anonymous events are swept after
///   `ANONYMOUS_ACTIVITY_RETENTION_DAYS`.
/// - Sessions: their records go with the user (`ON DELETE CASCADE`), and every
///   signed-in request checks its record (`session_records::session_is_current`), so
///   every cookie of this user, on any device, is refused from the next request on.
///
/// Returns false if there was no such user (deleted meanwhile, in another tab).
pub async fn delete_account(
    pool: &DbPool,
    user_id: i64,
    client: &ClientInfo,
) -> Result<bool, DbError> {
    let mut conn = db::connection(pool).await?;
    let deleted = conn
        .transaction(async |conn| {
            // The user first, then what belongs to them (by cascade), the order a login
            // locks them in: a login of this person at the same moment waits for us
            // instead of deadlocking, then finds no account and makes a new one.
            let found: Option<i64> = users::table
                .find(user_id)
                .select(users::id)
                .for_update()
                .first(conn)
                .await
                .optional()?;
            if found.is_none() {
                return Ok(false);
            }
            record_event(conn, Some(user_id), EventKind::AccountDeleted, None, client).await?;
            diesel::delete(users::table.find(user_id))
                .execute(conn)
                .await?;
            Ok::<_, diesel::result::Error>(true)
        })
        .await?;
    Ok(deleted)
}
