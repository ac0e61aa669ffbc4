//! The server-side state of sessions. The session itself lives in the browser's
//! encrypted cookie; the server keeps only what must outlive or overrule a cookie:
//! sessions that were logged out, each user's session epoch ("log out on all devices"),
//! and the callback tokens already used.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{ended_sessions, used_login_tokens, users};
use crate::db::{self, DbError, DbPool};
use crate::domain::activity::{ClientInfo, EventKind, MAX_AGE_SECS, record_event};
use crate::support::crypto::sha256_hex;

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
    let mut conn = db::connection(pool).await?;
    conn.transaction(async |conn| {
        diesel::insert_into(ended_sessions::table)
            .values(ended_sessions::session_id.eq(session_id))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        forget_older_than(conn, FORGET_ENDED_SESSIONS, remember_for).await?;
        record_event(conn, Some(user_id), EventKind::Logout, None, client).await
    })
    .await?;
    Ok(())
}

/// "Log out on all devices": bumps the user's session epoch, so every session cookie
/// issued before (on any device, and every copy of it) is refused from now on.
///
/// A user deleted meanwhile (the update waits for a deletion under way, then finds no
/// row) has no sessions left to end: nothing is recorded, as an event naming a user who
/// is gone would break its foreign key.
pub async fn end_all_sessions(
    pool: &DbPool,
    user_id: i64,
    client: &ClientInfo,
) -> Result<(), DbError> {
    let mut conn = db::connection(pool).await?;
    conn.transaction(async |conn| {
        let bumped = diesel::update(users::table.find(user_id))
            .set(users::session_epoch.eq(users::session_epoch + 1))
            .execute(conn)
            .await?;
        if bumped == 0 {
            return Ok(());
        }
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

/// Marks a callback token as used; false if it was used before. Tokens are kept as
/// hashes; `sweep_used_login_tokens` forgets them once no pending login can still use
/// them. One statement of fixed text: each connection prepares it once.
pub async fn claim_login_token(pool: &DbPool, token: &str) -> Result<bool, DbError> {
    let mut conn = db::connection(pool).await?;
    let claimed = diesel::insert_into(used_login_tokens::table)
        .values(used_login_tokens::token_sha256.eq(sha256_hex(token)))
        .on_conflict_do_nothing()
        .execute(&mut conn)
        .await?;
    Ok(claimed == 1)
}

/// Forgets used tokens older than twice `login_max_age` (how long a pending login
/// lives, with a margin for clock skew between replicas): a token that old is refused
/// anyway, as its login has expired. Run by the hourly background job; returns how many
/// went.
pub async fn sweep_used_login_tokens(
    pool: &DbPool,
    login_max_age: std::time::Duration,
) -> Result<usize, DbError> {
    let mut conn = db::connection(pool).await?;
    Ok(forget_older_than(
        &mut conn,
        FORGET_USED_TOKENS,
        login_max_age.saturating_mul(2),
    )
    .await?)
}

const FORGET_ENDED_SESSIONS: &str =
    "DELETE FROM ended_sessions WHERE ended_at < now() - make_interval(secs => $1)";
const FORGET_USED_TOKENS: &str =
    "DELETE FROM used_login_tokens WHERE used_at < now() - make_interval(secs => $1)";

/// Runs one of the `FORGET_*` deletes with `age` as its bound. The bound is computed by
/// PostgreSQL, from the clock that stamped the rows (`DEFAULT now()`): with this
/// machine's clock ahead of the database's, rows would be forgotten early (an ended
/// session's copied cookie accepted again before its absolute limit).
async fn forget_older_than(
    conn: &mut AsyncPgConnection,
    delete: &'static str,
    age: std::time::Duration,
) -> QueryResult<usize> {
    let secs = i64::try_from(age.as_secs())
        .unwrap_or(i64::MAX)
        .min(MAX_AGE_SECS);
    diesel::sql_query(delete)
        .bind::<diesel::sql_types::BigInt, _>(secs)
        .execute(conn)
        .await
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
