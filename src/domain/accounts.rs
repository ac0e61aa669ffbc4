//! The domain rule of this starter: a local account is found by XWMS `sub`, never by email.
//!
//! Think of `sub` as the number on a library card: the person may move house or
//! change email, the card number stays the same. Email may be missing, may change,
//! and may be shared (or claimed, unverified, by someone else), so it is stored as
//! profile data and never used to decide *who* someone is.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::try_join;

use crate::db::models::{SecurityEvent, User, UserProfile, XwmsConnection};
use crate::db::schema::{users, xwms_connections};
use crate::db::{self, Cached, DbError, DbPool};
use crate::domain::activity::{ClientInfo, EventDetail, EventKind, recent_events, record_event};
use crate::domain::notes;
use crate::domain::session_records::{SessionPlan, start_session};
use crate::support::i18n::Lang;

/// How many times a first login retries after losing the race for a new `sub` to a
/// concurrent login of the same person. One retry always suffices (the winner's row is
/// committed by then); the rest is margin.
const LINK_ATTEMPTS: usize = 3;

/// The person a provider vouches for, cleaned up by the provider's client: everything
/// here is safe to store and show. The identity is the pair (`provider`, `sub`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// Which provider vouched for this person: `sandbox` or `xwms:<API host>`.
    pub provider: String,
    /// The provider's stable user id: with `provider`, the only thing accounts are
    /// linked by.
    pub sub: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    /// Only http(s) URLs survive; anything else (`javascript:`, `data:`) is dropped.
    pub picture: Option<String>,
}

/// The local account a login resolved to, and what this login changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedAccount {
    pub user_id: i64,
    /// Whether the browser's session went on (the same person was signed in already)
    /// rather than a new one starting (`session_records::start_session`).
    pub session_kept: bool,
    pub created: bool,
    /// Set when XWMS sent a different email than the one stored for this `sub`.
    pub email_change: Option<EmailChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EmailChange {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The local user with the XWMS identity linked to it, for the profile page.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: User,
    /// Which provider vouched for `sub` (`sandbox` or `xwms:<API host>`).
    pub provider: String,
    pub sub: String,
    pub first_seen: DateTime<Utc>,
    pub last_login: DateTime<Utc>,
}

enum AttemptError {
    /// A concurrent first login inserted this `sub` first; roll back and retry.
    LostRace,
    Db(DbError),
}

impl From<diesel::result::Error> for AttemptError {
    fn from(err: diesel::result::Error) -> Self {
        AttemptError::Db(err.into())
    }
}

impl From<DbError> for AttemptError {
    fn from(err: DbError) -> Self {
        AttemptError::Db(err)
    }
}

/// Finds the local user for `identity.sub`, or creates one, in one transaction.
///
/// - Known `sub`: the user's name, email and picture are refreshed from XWMS and
///   `last_login_at` is bumped. The account stays the same even if the email changed.
/// - New `sub`: a user and its connection are created together. If a concurrent login
///   of the same new `sub` wins the race, the `INSERT ... ON CONFLICT DO NOTHING`
///   affects no row, this transaction rolls back (so no orphan user is left behind)
///   and the retry finds the winner's account.
///
/// Each branch writes exactly one security event in the same transaction:
/// `account_created`, `login`, or `email_changed`; and the session `session` plans, so an
/// account is never left half signed in (`session_records::start_session`).
///
/// There is deliberately no lookup by email anywhere here.
pub async fn link_account_by_sub(
    pool: &DbPool,
    identity: &VerifiedIdentity,
    session: &SessionPlan,
    client: &ClientInfo,
    lang: &Lang,
) -> Result<LinkedAccount, DbError> {
    for _ in 0..LINK_ATTEMPTS {
        // `BEGIN` goes out with the first statements: see `db::pipelined_transaction`.
        let attempt = db::pipelined_transaction(pool, async |conn| {
            link_in_transaction(conn, identity, session, client, lang).await
        })
        .await;
        match attempt {
            Ok(linked) => return Ok(linked),
            Err(AttemptError::LostRace) => continue,
            Err(AttemptError::Db(err)) => return Err(err),
        }
    }
    Err(DbError::Unavailable(format!(
        "could not link sub after {LINK_ATTEMPTS} attempts under contention"
    )))
}

/// The link, inside its transaction. Statements that need nothing from each other's
/// answers are sent together (`try_join!` on one connection pipelines them: one round trip
/// for all; PostgreSQL still runs them one after the other, in order), so a login costs
/// two round trips here, besides the transaction's `COMMIT`.
async fn link_in_transaction(
    conn: &AsyncPgConnection,
    identity: &VerifiedIdentity,
    session: &SessionPlan,
    client: &ClientInfo,
    lang: &Lang,
) -> Result<LinkedAccount, AttemptError> {
    let profile = UserProfile {
        name: identity.name.as_deref(),
        email: identity.email.as_deref(),
        email_verified: identity.email_verified,
        picture_url: identity.picture.as_deref(),
    };
    // The person this `sub` is linked to, locked, their last login bumped; or, only if
    // nobody is linked to it, a new user with the `sub` claimed for them: one statement.
    let (user_id, previous_email) = match find_or_create(conn, identity, &profile).await? {
        Linked::Created(user_id) => {
            return on_new_account(conn, user_id, identity, session, client, lang).await;
        }
        Linked::Found(user_id, email) => (user_id, email),
        Linked::LostRace => return Err(AttemptError::LostRace),
    };
    let email_change =
        (!same_email(previous_email.as_deref(), identity.email.as_deref())).then(|| EmailChange {
            from: previous_email,
            to: identity.email.clone(),
        });
    let (kind, detail) = match &email_change {
        Some(change) => (
            EventKind::EmailChanged,
            Some(EventDetail::EmailChange {
                from: change.from.clone(),
                to: change.to.clone(),
            }),
        ),
        None => (EventKind::Login, None),
    };
    let ((), (), session_kept) = try_join!(
        update_profile(conn, user_id, &profile),
        record_event(conn, Some(user_id), kind, detail, client),
        start_session(conn, user_id, session, client),
    )?;
    Ok(LinkedAccount {
        user_id,
        session_kept,
        created: false,
        email_change,
    })
}

/// The user's name, email and picture as the provider says them now; nothing is written
/// when they are what is stored already (most logins), so `updated_at` is when the
/// profile last changed, and an unchanged login leaves no new row version behind.
async fn update_profile(
    mut conn: &AsyncPgConnection,
    user_id: i64,
    profile: &UserProfile<'_>,
) -> QueryResult<()> {
    let changed = users::name
        .is_distinct_from(profile.name)
        .or(users::email.is_distinct_from(profile.email))
        .or(users::email_verified.is_distinct_from(profile.email_verified))
        .or(users::picture_url.is_distinct_from(profile.picture_url));
    Cached(
        diesel::update(users::table.find(user_id).filter(changed))
            .set((profile, users::updated_at.eq(diesel::dsl::now))),
    )
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// What [`find_or_create`] found or did.
enum Linked {
    /// The `sub` is linked to this user (locked), whose stored email is this: its last
    /// login is bumped, nothing else was written.
    Found(i64, Option<String>),
    /// First time we see this `sub`: this user was created with the `sub` claimed for it.
    Created(i64),
    /// A concurrent first login of the same `sub` claimed it first (the user written here
    /// has no identity), or the user linked to it was deleted meanwhile: the transaction
    /// must roll back, and the next attempt looks again.
    LostRace,
}

/// The login's lookup by (provider, `sub`), in one statement:
///
/// - `linked`: the user the identity is linked to and their stored email, the user's row
///   locked `FOR NO KEY UPDATE`: two simultaneous logins of the same person link one after
///   the other, while a download of their data or a note being written for them
///   (`FOR KEY SHARE`) need not wait for this login, nor this login for them.
/// - `bumped`: that identity's `last_login_at` set to now. It reads `linked`, so the user's
///   row is locked before the identity's: the user first, then what belongs to them, the
///   order every change of a user's rows keeps (a deletion of the account locks the user,
///   then its rows go by cascade), so two of them never wait for each other in a loop.
/// - `new_user` and `claimed`: only when nobody is linked to the `sub` (every part of one
///   statement sees the same snapshot), a new user, and the `sub` claimed for it. A
///   concurrent first login of the same `sub` that claims it first makes the claim do
///   nothing: the race is lost.
///
/// Text of the code's only, so it is prepared once per connection (`Cached`).
async fn find_or_create(
    mut conn: &AsyncPgConnection,
    identity: &VerifiedIdentity,
    profile: &UserProfile<'_>,
) -> QueryResult<Linked> {
    let row: Lookup = Cached(
        diesel::sql_query(
            "WITH linked AS (SELECT id, email FROM users WHERE id = ANY \
             (SELECT user_id FROM xwms_connections WHERE provider = $5 AND sub = $6) \
             FOR NO KEY UPDATE), \
             bumped AS (UPDATE xwms_connections SET last_login_at = now() \
             WHERE provider = $5 AND sub = $6 AND user_id IN (SELECT id FROM linked)), \
             new_user AS (INSERT INTO users (name, email, email_verified, picture_url) \
             SELECT $1, $2, $3, $4 WHERE NOT EXISTS \
             (SELECT 1 FROM xwms_connections WHERE provider = $5 AND sub = $6) RETURNING id), \
             claimed AS (INSERT INTO xwms_connections (user_id, provider, sub) \
             SELECT id, $5, $6 FROM new_user ON CONFLICT (provider, sub) DO NOTHING \
             RETURNING user_id) \
             SELECT (SELECT id FROM linked) AS linked, (SELECT email FROM linked) AS email, \
             EXISTS (SELECT 1 FROM new_user) AS created, \
             (SELECT user_id FROM claimed) AS claimed",
        )
        .bind::<Nullable<Text>, _>(profile.name)
        .bind::<Nullable<Text>, _>(profile.email)
        .bind::<Bool, _>(profile.email_verified)
        .bind::<Nullable<Text>, _>(profile.picture_url)
        .bind::<Text, _>(&identity.provider)
        .bind::<Text, _>(&identity.sub),
    )
    .get_result(&mut conn)
    .await?;
    Ok(match row {
        Lookup {
            claimed: Some(user_id),
            ..
        } => Linked::Created(user_id),
        Lookup {
            linked: Some(user_id),
            email,
            created: false,
            ..
        } => Linked::Found(user_id, email),
        // A user was written but its `sub` not claimed, or nobody was found and nothing
        // written (the linked user was deleted after the statement's snapshot).
        Lookup { .. } => Linked::LostRace,
    })
}

#[derive(QueryableByName)]
struct Lookup {
    #[diesel(sql_type = Nullable<BigInt>)]
    linked: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    email: Option<String>,
    #[diesel(sql_type = Bool)]
    created: bool,
    #[diesel(sql_type = Nullable<BigInt>)]
    claimed: Option<i64>,
}

/// A new account's first login: its first-login work and its session, sent together.
async fn on_new_account(
    conn: &AsyncPgConnection,
    user_id: i64,
    identity: &VerifiedIdentity,
    session: &SessionPlan,
    client: &ClientInfo,
    lang: &Lang,
) -> Result<LinkedAccount, AttemptError> {
    let ((), session_kept) = try_join!(
        on_first_login(conn, user_id, identity, client, lang),
        start_session(conn, user_id, session, client),
    )?;
    Ok(LinkedAccount {
        user_id,
        session_kept,
        created: true,
        email_change: None,
    })
}

/// The hook for your product's first-login work (a default workspace, a welcome row).
///
/// It runs once per new identity, inside the linking transaction, after the user and
/// its identity row are written. Whatever it writes commits together with the new
/// account, or not at all: when it returns an error, the whole first login is rolled
/// back, no half-made account stays behind, and the visitor gets an error page and can
/// simply try again. Keep it to database work on `conn`; a call to another service
/// cannot be rolled back (queue it in a table instead). See docs/extending.md.
async fn on_first_login(
    conn: &AsyncPgConnection,
    user_id: i64,
    identity: &VerifiedIdentity,
    client: &ClientInfo,
    lang: &Lang,
) -> QueryResult<()> {
    // The starter's own first-login work, sent together (`try_join!`: one round trip,
    // as neither needs the other's result): the "account created" event, saying which
    // provider vouched for the new identity, and the worked example's welcome note, in
    // the language the person logged in with (`lang`). Yours goes here too, on the same
    // `conn`, awaited one by one or joined.
    let created = Some(EventDetail::Provider {
        provider: identity.provider.clone(),
    });
    let event = record_event(
        conn,
        Some(user_id),
        EventKind::AccountCreated,
        created,
        client,
    );
    let welcome_note = notes::add_welcome_note(conn, user_id, lang);
    try_join!(event, welcome_note)?;
    Ok(())
}

/// Email addresses compare case-insensitively: `Ada@Example.com` is no change.
/// What a "Refresh from XWMS" changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refreshed {
    /// Set when XWMS now has another email than the one stored.
    pub email_change: Option<EmailChange>,
    /// The fields XWMS sent as null (as it does without the `userinfo` scope), whose
    /// stored values were kept: `name`, `email`, `picture`.
    pub kept: Vec<&'static str>,
    /// The name to greet the person by now: the name, else the email, as after a login.
    pub display_name: Option<String>,
}

/// Updates the profile of `user_id` from what its provider says now (`identity`, for the
/// `sub` linked to this user), as a login would: name, email and picture, the email change
/// recorded in the activity log in the same transaction. A field the provider sent as null
/// keeps its stored value. `None` when the user no longer exists.
pub async fn refresh_profile(
    pool: &DbPool,
    user_id: i64,
    identity: &VerifiedIdentity,
    client: &ClientInfo,
) -> Result<Option<Refreshed>, DbError> {
    let mut conn = db::connection(pool).await?;
    let refreshed = conn
        .transaction(async |conn| {
            let Some(stored) = users::table
                .find(user_id)
                .select(User::as_select())
                .for_no_key_update()
                .first(conn)
                .await
                .optional()?
            else {
                return Ok(None);
            };
            let kept: Vec<&'static str> = [
                ("name", identity.name.is_none()),
                ("email", identity.email.is_none()),
                ("picture", identity.picture.is_none()),
            ]
            .into_iter()
            .filter_map(|(field, missing)| missing.then_some(field))
            .collect();
            let (email, email_verified) = match &identity.email {
                Some(email) => (Some(email.as_str()), identity.email_verified),
                None => (stored.email.as_deref(), stored.email_verified),
            };
            let profile = UserProfile {
                name: identity.name.as_deref().or(stored.name.as_deref()),
                email,
                email_verified,
                picture_url: identity
                    .picture
                    .as_deref()
                    .or(stored.picture_url.as_deref()),
            };
            diesel::update(users::table.find(user_id))
                .set((&profile, users::updated_at.eq(diesel::dsl::now)))
                .execute(conn)
                .await?;
            let email_change = (!same_email(stored.email.as_deref(), email)).then(|| EmailChange {
                from: stored.email.clone(),
                to: email.map(str::to_owned),
            });
            if let Some(change) = &email_change {
                let detail = EventDetail::EmailChange {
                    from: change.from.clone(),
                    to: change.to.clone(),
                };
                record_event(
                    conn,
                    Some(user_id),
                    EventKind::EmailChanged,
                    Some(detail),
                    client,
                )
                .await?;
            }
            let display_name = profile.name.or(profile.email).map(str::to_owned);
            Ok::<_, diesel::result::Error>(Some(Refreshed {
                email_change,
                kept,
                display_name,
            }))
        })
        .await?;
    Ok(refreshed)
}

fn same_email(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (None, None) => true,
        _ => false,
    }
}

/// The local user `identity` is linked to, if any; creates nothing (a "Confirm with
/// XWMS" compares it with the signed-in user before anything is written).
pub async fn user_of_identity(
    pool: &DbPool,
    identity: &VerifiedIdentity,
) -> Result<Option<i64>, DbError> {
    let mut conn = db::connection(pool).await?;
    Ok(xwms_connections::table
        .filter(xwms_connections::provider.eq(&identity.provider))
        .filter(xwms_connections::sub.eq(&identity.sub))
        .select(xwms_connections::user_id)
        .first(&mut conn)
        .await
        .optional()?)
}

/// Loads the account behind a session's user id; `None` if it no longer exists.
pub async fn find_account(pool: &DbPool, user_id: i64) -> Result<Option<Account>, DbError> {
    let conn = db::connection(pool).await?;
    Ok(account_of_user(&conn, user_id).await?)
}

/// An account and its newest security events; `None` if the account no longer exists.
pub type AccountAndActivity = Option<(Account, Vec<SecurityEvent>)>;

/// The account and its newest `events` security events, for the profile page: asked
/// together on `conn` (one round trip), beside whatever else is in flight there (the
/// profile sends them with the session check).
pub async fn account_and_activity(
    conn: &AsyncPgConnection,
    user_id: i64,
    events: i64,
) -> QueryResult<AccountAndActivity> {
    let (account, activity) = try_join!(
        account_of_user(conn, user_id),
        recent_events(conn, user_id, events)
    )?;
    Ok(account.map(|account| (account, activity)))
}

async fn account_of_user(
    mut conn: &AsyncPgConnection,
    user_id: i64,
) -> QueryResult<Option<Account>> {
    let row: Option<(User, XwmsConnection)> = users::table
        .inner_join(xwms_connections::table)
        .filter(users::id.eq(user_id))
        .select((User::as_select(), XwmsConnection::as_select()))
        .order(xwms_connections::last_login_at.desc())
        .first(&mut conn)
        .await
        .optional()?;
    Ok(row.map(|(user, connection)| Account {
        user,
        provider: connection.provider,
        sub: connection.sub,
        first_seen: connection.created_at,
        last_login: connection.last_login_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::same_email;

    #[test]
    fn email_comparison_ignores_case_and_sees_appearing_or_vanishing_addresses() {
        assert!(same_email(Some("Ada@Example.com"), Some("ada@example.com")));
        assert!(same_email(None, None));
        assert!(!same_email(Some("ada@example.com"), None));
        assert!(!same_email(None, Some("ada@example.com")));
        assert!(!same_email(
            Some("ada@example.com"),
            Some("ada@example.org")
        ));
    }
}
