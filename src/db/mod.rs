//! PostgreSQL access: the async pool, embedded migrations, and database creation.
//!
//! Queries go through diesel-async, so a slow query waits on a socket instead of
//! blocking an actix worker thread. Migrations use Diesel's sync harness on a thread
//! of their own, once, at start. Every connection is opened by [`PgConnector::connect`]
//! (the workspace crate `pg-connect`), which honours the URL's `sslmode` the way libpq does.

pub mod models;
pub mod round_trips;
pub mod schema;

pub use pg_connect::{CONNECT_TIMEOUT, ConnectorError, PgConnector, SslMode};

use diesel::prelude::*;
use diesel_async::pooled_connection::deadpool::{Object, Pool, PoolError};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use secrecy::ExposeSecret;

use crate::support::config::DatabaseSettings;

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConnection = Object<AsyncPgConnection>;

/// The SQL files under `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// A statement kept in the connection's statement cache by its SQL text, where diesel
/// would parse it anew at every run: one round trip a run instead of two.
///
/// diesel caches no `UPDATE` and no `sql_query` (an `UPDATE`'s `SET` may leave out its
/// `None` fields, so one query type can make several texts). Keyed by the text itself
/// (the wrapped query has no static query id), every distinct text is prepared once per
/// connection, so this is safe for any statement whose text comes from the code, not
/// from input.
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q>(pub Q);

/// Never a static id: the cache key is always the text (and the types bound to it).
impl<Q> diesel::query_builder::QueryId for Cached<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>>
    diesel::query_builder::QueryFragment<diesel::pg::Pg> for Cached<Q>
{
    fn walk_ast<'b>(
        &'b self,
        pass: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &diesel::pg::Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no database connection available: {0}")]
    Unavailable(String),
    #[error("query failed: {0}")]
    Query(#[from] diesel::result::Error),
}

/// Why the database could not be prepared at start (created, migrated).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("DATABASE_URL: {0}")]
    BadUrl(String),
    /// The URL's connection or TLS settings, or the CA file, cannot be used.
    #[error(transparent)]
    Settings(#[from] ConnectorError),
    #[error("connecting to PostgreSQL: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("{0}")]
    Query(#[from] diesel::result::Error),
    #[error("running the migrations: {0}")]
    Migrations(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the migration thread stopped unexpectedly")]
    MigrationThread,
    #[error("the migration thread's runtime: {0}")]
    MigrationRuntime(#[source] std::io::Error),
}

impl From<PoolError> for DbError {
    fn from(err: PoolError) -> Self {
        DbError::Unavailable(err.to_string())
    }
}

impl DbError {
    /// True when the failure is PostgreSQL being unreachable or shutting connections down,
    /// which deserves a 503 ("try again"), not a 500.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            DbError::Unavailable(_) => true,
            // The connection died under us (diesel-async reports a closed socket, which
            // has no SQLSTATE, as `UnableToSendCommand`).
            DbError::Query(Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            )) => true,
            DbError::Query(Error::DatabaseError(DatabaseErrorKind::Unknown, info)) => {
                // PostgreSQL's own words for "try again": our statement timeout, or the
                // server shutting connections down (restart, failover, admin).
                let message = info.message();
                message.starts_with("canceling statement due to statement timeout")
                    || message.starts_with("terminating connection")
                    || message.contains("the database system is")
            }
            _ => false,
        }
    }
}

/// Builds the bounded pool; its connections come from `connector`. No connection is
/// opened here; the first query does that.
pub fn build_pool(settings: &DatabaseSettings, connector: PgConnector) -> Result<DbPool, DbError> {
    let statement_timeout_ms = settings.statement_timeout.as_millis();
    let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
    // `Fast`: a pooled connection is reused unless it is closed or mid-transaction,
    // without a `SELECT 1` round trip per checkout (the default). A connection that
    // PostgreSQL dropped shows up as closed, so recovery after a restart still works
    // (tested in `threat_database_down_mid_run_...`); measured in BENCHMARKS.md.
    manager_config.recycling_method = RecyclingMethod::Fast;
    // Every new connection is opened by the connector (TLS as the URL's sslmode says,
    // within CONNECT_TIMEOUT; it was built from the same URL the manager holds) and gets a
    // statement timeout, so a stuck query ends as an error instead of holding a pool slot
    // forever. Its statements are logged at debug level (`round_trips`).
    manager_config.custom_setup = Box::new(move |_url| {
        let connector = connector.clone();
        async move {
            let mut conn = connector.connect().await?;
            diesel::sql_query(format!("SET statement_timeout = {statement_timeout_ms}"))
                .execute(&mut conn)
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            conn.set_instrumentation(round_trips::RoundTripLog::default());
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        settings.url.expose_secret(),
        manager_config,
    );
    Pool::builder(manager)
        .max_size(settings.max_connections)
        .wait_timeout(Some(settings.acquire_timeout))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .recycle_timeout(Some(settings.acquire_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|err| DbError::Unavailable(err.to_string()))
}

/// How `max_connections` is shared among the pools of `workers` workers: evenly, the first
/// ones one more where it does not divide, and at least one each (so with more workers than
/// connections, the app holds one per worker).
pub fn worker_pool_sizes(max_connections: usize, workers: usize) -> Vec<usize> {
    let workers = workers.max(1);
    (0..workers)
        .map(|worker| {
            let share = max_connections / workers + usize::from(worker < max_connections % workers);
            share.max(1)
        })
        .collect()
}

/// What a pool is built from, kept to build more: every actix worker builds a pool of its
/// own (`app::startup::serve`). A connection's messages are written and read by a task on
/// the runtime that opened it, and each worker is a single-threaded runtime of its own: a
/// connection shared between workers would wake the other worker's thread on the way there
/// and again on the way back, every round trip, while one from its own worker's pool never
/// leaves that thread (measured in BENCHMARKS.md).
#[derive(Clone)]
pub struct PoolRecipe {
    settings: DatabaseSettings,
    connector: PgConnector,
}

impl PoolRecipe {
    pub fn new(settings: DatabaseSettings, connector: PgConnector) -> Self {
        PoolRecipe {
            settings,
            connector,
        }
    }

    /// `DATABASE_MAX_CONNECTIONS`: how many connections all of the app's pools may hold.
    pub fn max_connections(&self) -> usize {
        self.settings.max_connections
    }

    /// A pool of at most `max_connections`, otherwise as configured.
    pub fn build(&self, max_connections: usize) -> Result<DbPool, DbError> {
        let settings = DatabaseSettings {
            max_connections,
            ..self.settings.clone()
        };
        build_pool(&settings, self.connector.clone())
    }
}

/// Checks out a connection, waiting at most the configured acquire timeout.
pub async fn connection(pool: &DbPool) -> Result<DbConnection, DbError> {
    Ok(pool.get().await?)
}

/// Runs `work` in one transaction, on a connection of its own: like diesel's
/// `conn.transaction(...)`, but one round trip shorter. diesel waits for PostgreSQL's answer
/// to `BEGIN` before it sends anything else; here `BEGIN` goes out in the same round trip as
/// `work`'s first statements (PostgreSQL runs a connection's statements in the order they
/// arrive, so those run inside the transaction). Used where the round trips count: the
/// login (BENCHMARKS.md).
///
/// Rolls back when `work` returns `Err`. Commits when it returns `Ok`, and returns its value
/// only if PostgreSQL accepted the `COMMIT`: one it refuses (a deferred constraint, say) is
/// an error, and nothing of `work` was kept. `COMMIT` is a round trip of its own: sent
/// together with `work`'s last statements, it could overtake one of them still being
/// prepared, which would then run after the transaction, outside it. (Should `BEGIN` itself
/// fail, the answer is an error too; it can only fail with the connection, and then so does
/// everything sent after it.)
///
/// `work` gets the connection shared (`&AsyncPgConnection`), so it can send statements
/// together with `try_join!` but cannot nest a diesel transaction. If this future is
/// dropped before the end (the browser went away mid-login), the connection may still be
/// inside the transaction: it is taken out of the pool and closed, and PostgreSQL rolls
/// back whatever it had not committed yet (dropped while waiting for the answer to
/// `COMMIT`, the transaction may have committed). The connection goes back to the pool only
/// after a `COMMIT` or `ROLLBACK` that PostgreSQL answered without an error.
pub async fn pipelined_transaction<R, E>(
    pool: &DbPool,
    work: impl AsyncFnOnce(&AsyncPgConnection) -> Result<R, E>,
) -> Result<R, E>
where
    E: From<DbError>,
{
    let mut open = OpenTransaction(None);
    let conn: &AsyncPgConnection = open.0.insert(connection(pool).await?);
    let (begun, outcome) = futures_util::join!(send(conn, "BEGIN"), work(conn));
    let committing = begun.is_ok() && outcome.is_ok();
    let ended = send(conn, if committing { "COMMIT" } else { "ROLLBACK" }).await;
    if ended.is_ok() {
        open.close();
    }
    let value = outcome?;
    begun.map_err(DbError::Query)?;
    ended.map_err(DbError::Query)?;
    Ok(value)
}

/// `sql` as a simple query on a shared connection (so it can go out beside others).
async fn send(mut conn: &AsyncPgConnection, sql: &str) -> QueryResult<()> {
    conn.batch_execute(sql).await
}

/// A pooled connection inside a [`pipelined_transaction`]. Dropped while still open, it
/// takes its connection out of the pool and closes it: diesel's transaction manager does
/// not know of this transaction, so the pool would otherwise hand the connection out again
/// in the middle of it.
struct OpenTransaction(Option<DbConnection>);

impl OpenTransaction {
    /// The transaction ended: back to the pool with the connection.
    fn close(&mut self) {
        self.0.take();
    }
}

impl Drop for OpenTransaction {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            drop(Object::take(conn));
        }
    }
}

/// `SELECT 1`, for `/health`.
pub async fn ping(pool: &DbPool) -> Result<(), DbError> {
    let mut conn = connection(pool).await?;
    diesel::select(1.into_sql::<diesel::sql_types::Integer>())
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Runs the embedded migrations that have not run yet.
///
/// Diesel's migration harness is synchronous, so it runs on a thread of its own and the
/// caller awaits the result. There, a small runtime of its own opens the connection (the
/// connector's, TLS included) and keeps driving its socket while the harness blocks on
/// each statement through `AsyncConnectionWrapper`. PostgreSQL's transactional DDL plus
/// Diesel's migration table make this safe when several replicas start at once: see
/// docs/deploy.md.
pub async fn run_migrations(connector: &PgConnector) -> Result<usize, SetupError> {
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    let connector = connector.clone();
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let outcome = (|| {
            // Multi-threaded (one worker): its worker drives the connection's socket while
            // this thread blocks in the harness. A current-thread runtime would only make
            // progress inside its own `block_on`.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .map_err(SetupError::MigrationRuntime)?;
            let conn = runtime.block_on(connector.connect())?;
            let mut conn = {
                // The wrapper blocks on this runtime's handle (it takes the current one).
                let _entered = runtime.enter();
                AsyncConnectionWrapper::<AsyncPgConnection>::from(conn)
            };
            // One migrator at a time, even across replicas; released when the connection closes.
            diesel::RunQueryDsl::execute(
                diesel::sql_query("SELECT pg_advisory_lock(72101)"),
                &mut conn,
            )?;
            conn.run_pending_migrations(MIGRATIONS)
                .map(|versions| versions.len())
                .map_err(SetupError::Migrations)
        })();
        let _ = done.send(outcome);
    });
    result.await.map_err(|_| SetupError::MigrationThread)?
}

/// Creates the database `connector` names when it does not exist yet (development
/// convenience, and the test harness), connected to the server's `postgres` database.
/// Returns true if it was created.
pub async fn create_database_if_missing(connector: &PgConnector) -> Result<bool, SetupError> {
    let name = connector
        .database_name()
        .ok_or_else(|| SetupError::BadUrl("names no database".to_owned()))?
        .to_owned();
    let mut conn = connector.for_database("postgres").connect().await?;
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let found: Found =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(&name)
            .get_result(&mut conn)
            .await?;
    if found.exists {
        return Ok(false);
    }
    match diesel::sql_query(format!("CREATE DATABASE {}", quote_identifier(&name)))
        .execute(&mut conn)
        .await
    {
        Ok(_) => Ok(true),
        // Another process created it between our check and our CREATE: fine.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// `name` as a quoted SQL identifier.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::{DbError, worker_pool_sizes};
    use diesel::result::{DatabaseErrorKind, Error};

    fn database_error(kind: DatabaseErrorKind, message: &str) -> DbError {
        DbError::Query(Error::DatabaseError(kind, Box::new(message.to_owned())))
    }

    #[test]
    fn a_dead_or_refusing_database_is_unavailable() {
        for err in [
            DbError::Unavailable("pool timed out".into()),
            database_error(DatabaseErrorKind::UnableToSendCommand, "connection closed"),
            database_error(DatabaseErrorKind::ClosedConnection, "closed"),
            database_error(
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            database_error(
                DatabaseErrorKind::Unknown,
                "canceling statement due to statement timeout",
            ),
        ] {
            assert!(err.is_unavailable(), "{err}");
        }
    }

    #[test]
    fn bugs_are_not_mistaken_for_an_outage() {
        for err in [
            database_error(
                DatabaseErrorKind::CheckViolation,
                "new row for relation \"xwms_connections\" violates check constraint",
            ),
            database_error(
                DatabaseErrorKind::Unknown,
                "relation \"xwms_connections\" does not exist",
            ),
            DbError::Query(Error::NotFound),
        ] {
            assert!(!err.is_unavailable(), "{err}");
        }
    }

    #[test]
    fn the_connections_are_shared_out_evenly_with_at_least_one_per_worker() {
        assert_eq!(worker_pool_sizes(10, 2), [5, 5]);
        assert_eq!(worker_pool_sizes(10, 3), [4, 3, 3]);
        assert_eq!(worker_pool_sizes(6, 3), [2, 2, 2]);
        assert_eq!(worker_pool_sizes(2, 4), [1, 1, 1, 1]);
        assert_eq!(worker_pool_sizes(1, 1), [1]);
        assert_eq!(worker_pool_sizes(10, 0), [10]);
    }
}
