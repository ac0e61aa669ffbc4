//! The server-side state of sessions. The session itself lives in the browser's
//! encrypted cookie; the server keeps only what must outlive or overrule a cookie:
//! sessions that were logged out, each user's session epoch ("log out on all devices"),
//! and the callback tokens already used.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::activity::{ClientInfo, EventKind, record_event};
use crate::crypto::sha256_hex;
use crate::db::schema::{ended_sessions, users};
use crate::db::{self, DbError, DbPool};

/// "Log out": ends this one session. Its id is remembered as ended, so a copy of the
/// cookie is refused too, until it would have passed the absolute limit anyway; older
/// entries are swept here.
pub async fn end_session(
    pool: &DbPool,
    user_id: i64,
    session_id: &str,
    remember_for: std::time::Duration,
    client: &ClientInfo,
) -> Result<(), DbError> {
    let forget_before = chrono::TimeDelta::from_std(remember_for)
        .ok()
        .and_then(|keep| Utc::now().checked_sub_signed(keep))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut conn = db::connection(pool).await?;
    conn.transaction(async |conn| {
        diesel::insert_into(ended_sessions::table)
            .values(ended_sessions::session_id.eq(session_id))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        diesel::delete(ended_sessions::table.filter(ended_sessions::ended_at.lt(forget_before)))
            .execute(conn)
            .await?;
        record_event(conn, Some(user_id), EventKind::Logout, None, client).await
    })
    .await?;
    Ok(())
}

/// "Log out on all devices": bumps the user's session epoch, so every session cookie
/// issued before (on any device, and every copy of it) is refused from now on.
pub async fn end_all_sessions(
    pool: &DbPool,
    user_id: i64,
    client: &ClientInfo,
) -> Result<(), DbError> {
    let mut conn = db::connection(pool).await?;
    conn.transaction(async |conn| {
        diesel::update(users::table.find(user_id))
            .set(users::session_epoch.eq(users::session_epoch + 1))
            .execute(conn)
            .await?;
        record_event(
            conn,
            Some(user_id),
            EventKind::SessionsRevoked,
            None,
            client,
        )
        .await
    })
    .await?;
    Ok(())
}

/// Marks a callback token as used; false if it was used before. Tokens are kept (as
/// hashes) for `remember_for`, how long a pending login lives, plus a margin for clock
/// skew; older ones are swept by the same statement.
pub async fn claim_login_token(
    pool: &DbPool,
    token: &str,
    remember_for: std::time::Duration,
) -> Result<bool, DbError> {
    let forget_before = chrono::TimeDelta::from_std(remember_for * 2)
        .ok()
        .and_then(|keep| Utc::now().checked_sub_signed(keep))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut conn = db::connection(pool).await?;
    // One round trip: the sweep rides along as a data-modifying CTE.
    let claimed = diesel::sql_query(
        "WITH swept AS (DELETE FROM used_login_tokens WHERE used_at < $2) \
         INSERT INTO used_login_tokens (token_sha256) VALUES ($1) ON CONFLICT DO NOTHING",
    )
    .bind::<diesel::sql_types::Text, _>(sha256_hex(token))
    .bind::<diesel::sql_types::Timestamptz, _>(forget_before)
    .execute(&mut conn)
    .await?;
    Ok(claimed == 1)
}

/// Whether a signed-in session may go on: the user still exists, the session's epoch is
/// the user's current one, and this session was not ended. One query per request.
pub async fn session_is_current(
    pool: &DbPool,
    user_id: i64,
    epoch: i32,
    session_id: &str,
) -> Result<bool, DbError> {
    let mut conn = db::connection(pool).await?;
    let found: Option<(i32, bool)> = users::table
        .find(user_id)
        .select((
            users::session_epoch,
            diesel::dsl::exists(ended_sessions::table.find(session_id)),
        ))
        .first(&mut conn)
        .await
        .optional()?;
    Ok(found == Some((epoch, false)))
}
