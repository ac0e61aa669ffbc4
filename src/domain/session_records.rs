//! The server-side records of sessions: an allow-list. The session itself lives in the
//! browser's encrypted cookie; a signed-in cookie is worth something only while its row
//! in `user_sessions` is there. So "your devices" lists every session of an account
//! exactly, and ending one (log out, log out everywhere, end another device, delete the
//! account) is deleting rows: the cookie, and every copy of it, is refused at its next
//! request on every replica.
//!
//! Only a SHA-256 of the cookie's random session id is stored: nothing read from the
//! table could be put into a cookie. Here too: the callback tokens already used.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::join;

use crate::db::models::{NewUserSession, UserSession};
use crate::db::schema::{used_login_tokens, user_sessions, users};
use crate::db::{self, Cached, DbError, DbPool};
use crate::domain::activity::{ClientInfo, EventDetail, EventKind, MAX_AGE_SECS, record_event};
use crate::support::crypto::sha256_hex;

/// The signed-in session a browser has when a login comes back: the login keeps it when
/// it is the same person's, and ends it when it is someone else's.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub user_id: i64,
    /// The random id in the cookie (only its hash reaches the database).
    pub session_id: String,
}

/// What a login does with this browser's session, decided in the login's transaction
/// (`accounts::link_account_by_sub`) once it knows whose login it is.
#[derive(Debug, Clone)]
pub struct SessionPlan {
    pub current: Option<CurrentSession>,
    /// The random id a new session gets, when one is started.
    pub new_session_id: String,
}

/// Starts the session `plan` asks for, for `user_id`, on `conn` (inside the login's
/// transaction, so an account never exists half signed in). Returns true when this
/// browser's session is the same person's and still recorded: it goes on (a second tab, a
/// "Confirm with XWMS"), and is marked used now. Otherwise a new one is recorded, and
/// someone else's session in this browser ends: its record goes, and their activity log
/// says they were logged out.
pub async fn start_session(
    mut conn: &AsyncPgConnection,
    user_id: i64,
    plan: &SessionPlan,
    client: &ClientInfo,
) -> QueryResult<bool> {
    match &plan.current {
        Some(current) if current.user_id == user_id => {
            let kept = Cached(
                diesel::update(this_session(user_id, &current.session_id))
                    .set(user_sessions::last_seen_at.eq(diesel::dsl::now)),
            )
            .execute(&mut conn)
            .await?;
            if kept == 1 {
                return Ok(true);
            }
        }
        Some(replaced) => {
            end_session_in(conn, replaced.user_id, &replaced.session_id, client).await?;
        }
        None => {}
    }
    diesel::insert_into(user_sessions::table)
        .values(NewUserSession {
            token_sha256: &sha256_hex(&plan.new_session_id),
            user_id,
            user_agent: client.user_agent.as_deref(),
        })
        .execute(&mut conn)
        .await?;
    Ok(false)
}

/// The record of `session_id`, if it is `user_id`'s.
fn this_session(user_id: i64, session_id: &str) -> ThisSession {
    user_sessions::table
        .filter(user_sessions::token_sha256.eq(sha256_hex(session_id)))
        .filter(user_sessions::user_id.eq(user_id))
}

type ThisSession = diesel::dsl::Filter<
    diesel::dsl::Filter<user_sessions::table, diesel::dsl::Eq<user_sessions::token_sha256, String>>,
    diesel::dsl::Eq<user_sessions::user_id, i64>,
>;

/// Whether a signed-in session may go on: its record is there (not logged out, not ended
/// from another device, not swept, the user not deleted). One statement per request, of
/// fixed text: it also records "last used" when the stored time is older than
/// `last_used_every`, so that is written at most once per interval whatever the cookie
/// says (a copy of a cookie that never stores its refreshed stamp included).
pub async fn session_is_current(
    pool: &DbPool,
    user_id: i64,
    session_id: &str,
    last_used_every: std::time::Duration,
) -> Result<bool, DbError> {
    let conn = db::connection(pool).await?;
    Ok(check_and_mark_used(&conn, user_id, session_id, last_used_every).await?)
}

/// [`session_is_current`] with a page's own reads sent in the same round trip: `read`'s
/// answer when the session is current, `None` (and the answer dropped) when it is not.
///
/// The check and the reads go out together on one connection (`join!` pipelines them),
/// so the page costs one round trip where it would cost two. The reads run even for a
/// session that turns out to be ended; only reads belong here, never a write. The check
/// decides first: for an ended session the answer is dropped, and so is any error of the
/// reads (the session ends as it would without them).
pub async fn session_is_current_reading<T>(
    pool: &DbPool,
    user_id: i64,
    session_id: &str,
    last_used_every: std::time::Duration,
    read: impl AsyncFnOnce(&AsyncPgConnection) -> QueryResult<T>,
) -> Result<Option<T>, DbError> {
    let conn = db::connection(pool).await?;
    let (current, answer) = join!(
        check_and_mark_used(&conn, user_id, session_id, last_used_every),
        read(&conn)
    );
    if !current? {
        return Ok(None);
    }
    Ok(Some(answer?))
}

async fn check_and_mark_used(
    mut conn: &AsyncPgConnection,
    user_id: i64,
    session_id: &str,
    last_used_every: std::time::Duration,
) -> QueryResult<bool> {
    CheckAndMarkUsed {
        token_sha256: &sha256_hex(session_id),
        user_id,
        last_used_every: whole_secs(last_used_every),
    }
    .get_result(&mut conn)
    .await
}

/// The session check: whether the record of `token_sha256` is `user_id`'s, and, when its
/// "last used" is older than `last_used_every` seconds, that time set to now, in one
/// statement.
///
/// A query type of its own rather than `sql_query`: its text never changes, so it has a
/// static query id and diesel-async prepares it once per connection (one round trip a
/// request, not two: a Parse and then the query). `walk_ast` binds each value where the
/// SQL uses it.
struct CheckAndMarkUsed<'a> {
    token_sha256: &'a str,
    user_id: i64,
    last_used_every: i64,
}

impl QueryFragment<Pg> for CheckAndMarkUsed<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "WITH this AS (SELECT id, last_seen_at FROM user_sessions WHERE token_sha256 = ",
        );
        out.push_bind_param::<Text, _>(self.token_sha256)?;
        out.push_sql(" AND user_id = ");
        out.push_bind_param::<BigInt, _>(&self.user_id)?;
        out.push_sql("), used AS (UPDATE user_sessions SET last_seen_at = now() FROM this ");
        out.push_sql("WHERE user_sessions.id = this.id AND this.last_seen_at < now() - make_interval(secs => ");
        out.push_bind_param::<BigInt, _>(&self.last_used_every)?;
        out.push_sql(") RETURNING 1) SELECT EXISTS (SELECT 1 FROM this)");
        Ok(())
    }
}

impl QueryId for CheckAndMarkUsed<'_> {
    type QueryId = CheckAndMarkUsed<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for CheckAndMarkUsed<'_> {
    type SqlType = Bool;
}

/// Locks `user_id`'s row against deletion (`FOR KEY SHARE`; a deletion under way is
/// waited for) and says whether the user is still there. Every change below takes it
/// before touching the user's session records: "delete my account" locks the user first
/// and then deletes the records with it, so taking them the other way round would deadlock.
async fn user_still_there(mut conn: &AsyncPgConnection, user_id: i64) -> QueryResult<bool> {
    Ok(users::table
        .find(user_id)
        .select(users::id)
        .for_key_share()
        .first::<i64>(&mut conn)
        .await
        .optional()?
        .is_some())
}

/// Ends one session of `user_id` on `conn`, recorded as `logout`; nothing when the user or
/// the record is gone already.
async fn end_session_in(
    mut conn: &AsyncPgConnection,
    user_id: i64,
    session_id: &str,
    client: &ClientInfo,
) -> QueryResult<()> {
    if !user_still_there(conn, user_id).await? {
        return Ok(());
    }
    let ended = diesel::delete(this_session(user_id, session_id))
        .execute(&mut conn)
        .await?;
    if ended == 0 {
        return Ok(());
    }
    record_event(conn, Some(user_id), EventKind::Logout, None, client).await
}

/// "Log out": ends this one session (its record goes, so a copy of the cookie dies too),
/// recorded as `logout`. A session already ended meanwhile records nothing.
pub async fn end_session(
    pool: &DbPool,
    user_id: i64,
    session_id: &str,
    client: &ClientInfo,
) -> Result<(), DbError> {
    let mut conn = db::connection(pool).await?;
    conn.transaction(async |conn| end_session_in(conn, user_id, session_id, client).await)
        .await?;
    Ok(())
}

/// "Log out on all devices": every session of the account ends, on every device (and
/// every copy of every cookie), recorded as `sessions_revoked`.
///
/// The user's row is locked first (`FOR NO KEY UPDATE`, as a login of this person locks
/// it): a login that is linking this person meanwhile finishes first and its new session
/// ends here too, or starts after and is not ended. No session left to end (a deletion of
/// the user, or another "log out everywhere", came first) records nothing.
pub async fn end_all_sessions(
    pool: &DbPool,
    user_id: i64,
    client: &ClientInfo,
) -> Result<(), DbError> {
    let mut conn = db::connection(pool).await?;
    conn.transaction(async |conn| {
        let found = users::table
            .find(user_id)
            .select(users::id)
            .for_no_key_update()
            .first::<i64>(conn)
            .await
            .optional()?;
        if found.is_none() {
            return Ok(());
        }
        let ended = diesel::delete(user_sessions::table.filter(user_sessions::user_id.eq(user_id)))
            .execute(conn)
            .await?;
        if ended == 0 {
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

/// "End this session" on "your devices": ends the session `id` of `user_id`, unless it is
/// the one asking (`own_session_id`; logging out serves for that), recorded as
/// `session_ended_elsewhere` with the ended session's user agent. False when there is no
/// such session of this user (ended meanwhile, someone else's, this one).
pub async fn end_other_session(
    pool: &DbPool,
    user_id: i64,
    id: i64,
    own_session_id: &str,
    client: &ClientInfo,
) -> Result<bool, DbError> {
    let mut conn = db::connection(pool).await?;
    let ended = conn
        .transaction(async |conn| {
            if !user_still_there(conn, user_id).await? {
                return Ok(false);
            }
            let Some(user_agent) = diesel::delete(
                user_sessions::table
                    .filter(user_sessions::id.eq(id))
                    .filter(user_sessions::user_id.eq(user_id))
                    .filter(user_sessions::token_sha256.ne(sha256_hex(own_session_id))),
            )
            .returning(user_sessions::user_agent)
            .get_result::<Option<String>>(conn)
            .await
            .optional()?
            else {
                return Ok(false);
            };
            record_event(
                conn,
                Some(user_id),
                EventKind::SessionEndedElsewhere,
                Some(EventDetail::EndedSession { user_agent }),
                client,
            )
            .await?;
            QueryResult::Ok(true)
        })
        .await?;
    Ok(ended)
}

/// A signed-in session as "your devices" shows it.
#[derive(Debug, Clone)]
pub struct SessionListing {
    pub id: i64,
    pub started: DateTime<Utc>,
    pub last_used: DateTime<Utc>,
    pub user_agent: Option<String>,
    /// The session of the browser asking.
    pub this_device: bool,
}

/// The account's sessions still in use, the most recently used first, the one of
/// `own_session_id` marked. A record past its idle or absolute limit (with the margin of
/// [`RECORD_MARGIN_SECS`]) is not listed: it is refused anyway, and the next sweep deletes
/// it.
pub async fn list_sessions(
    pool: &DbPool,
    user_id: i64,
    own_session_id: &str,
    limits: SessionLimits,
) -> Result<Vec<SessionListing>, DbError> {
    let mut conn = db::connection(pool).await?;
    let own = sha256_hex(own_session_id);
    let (idle, absolute) = limits.bounds_secs();
    let rows: Vec<UserSession> = user_sessions::table
        .filter(user_sessions::user_id.eq(user_id))
        // By the database's clock, the one that stamped the rows: with this machine's
        // clock ahead of the database's, sessions in use would look older than they are.
        .filter(
            diesel::dsl::sql::<Bool>("last_seen_at > now() - make_interval(secs => ")
                .bind::<BigInt, _>(idle)
                .sql(") AND created_at > now() - make_interval(secs => ")
                .bind::<BigInt, _>(absolute)
                .sql(")"),
        )
        .order((user_sessions::last_seen_at.desc(), user_sessions::id.desc()))
        .select(UserSession::as_select())
        .load(&mut conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| SessionListing {
            this_device: row.token_sha256 == own,
            id: row.id,
            started: row.created_at,
            last_used: row.last_seen_at,
            user_agent: row.user_agent,
        })
        .collect())
}

/// The session limits, for deciding on the server which records no cookie can use.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    pub idle: std::time::Duration,
    pub absolute: std::time::Duration,
}

/// How long past its limits a record still counts as possibly in use: its "last used" is
/// written at most once per refresh interval (a minute at most), so it may be up to that
/// much older than the cookie's own stamp, which another replica may have written a few
/// seconds ahead (`CLOCK_SKEW_SECS`). Both are measured as elapsed time, each by one clock,
/// so an offset between the app's clock and the database's does not count.
pub const RECORD_MARGIN_SECS: i64 = 120;

impl SessionLimits {
    /// The idle and absolute bounds in seconds, with the margin.
    fn bounds_secs(self) -> (i64, i64) {
        let secs = |limit| whole_secs(limit).saturating_add(RECORD_MARGIN_SECS);
        (secs(self.idle), secs(self.absolute))
    }
}

/// A duration as whole seconds for a bound PostgreSQL computes, at most [`MAX_AGE_SECS`].
fn whole_secs(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs())
        .unwrap_or(i64::MAX)
        .min(MAX_AGE_SECS)
}

/// Deletes the session records no cookie can use any more (past the idle or the
/// absolute limit, with a margin). Run by the hourly background job; returns how many
/// went.
pub async fn sweep_sessions(pool: &DbPool, limits: SessionLimits) -> Result<usize, DbError> {
    let mut conn = db::connection(pool).await?;
    let (idle, absolute) = limits.bounds_secs();
    Ok(diesel::sql_query(FORGET_SESSIONS)
        .bind::<BigInt, _>(idle)
        .bind::<BigInt, _>(absolute)
        .execute(&mut conn)
        .await?)
}

const FORGET_SESSIONS: &str = "DELETE FROM user_sessions \
     WHERE last_seen_at < now() - make_interval(secs => $1) \
        OR created_at < now() - make_interval(secs => $2)";

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
/// went. The bound is computed by PostgreSQL, from the clock that stamped the rows.
pub async fn sweep_used_login_tokens(
    pool: &DbPool,
    login_max_age: std::time::Duration,
) -> Result<usize, DbError> {
    let mut conn = db::connection(pool).await?;
    let secs = whole_secs(login_max_age.saturating_mul(2));
    Ok(diesel::sql_query(
        "DELETE FROM used_login_tokens WHERE used_at < now() - make_interval(secs => $1)",
    )
    .bind::<BigInt, _>(secs)
    .execute(&mut conn)
    .await?)
}
