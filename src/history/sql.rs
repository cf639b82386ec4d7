//! The SQL stores: SQLite (a file, embedded) and PostgreSQL (shared by several processes).
//! One schema, one set of queries; `sqlx`'s `QueryBuilder` writes each database's
//! placeholders. Times are epoch milliseconds, descriptions JSON text (DESIGN §10).

use sqlx::Row;

use super::{HistoryError, HistoryFilter, HistoryRecord};

const COLUMNS: &str =
    "task_id, parent_id, kind, owner, path, level, start_ms, end_ms, duration_us, \
     final_state, stop_reason, reason_kind, retry_count, max_retry, descriptions, session";

/// The schema after the key column, which differs between the two databases.
fn schema(key: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS tasktree_history (
            seq {key},
            task_id BIGINT NOT NULL,
            parent_id BIGINT,
            kind TEXT NOT NULL,
            owner TEXT NOT NULL,
            path TEXT NOT NULL,
            level BIGINT NOT NULL,
            start_ms BIGINT NOT NULL,
            end_ms BIGINT NOT NULL,
            duration_us BIGINT NOT NULL,
            final_state TEXT NOT NULL,
            stop_reason TEXT NOT NULL,
            reason_kind TEXT NOT NULL,
            retry_count BIGINT NOT NULL,
            max_retry BIGINT,
            descriptions TEXT NOT NULL,
            session TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS tasktree_history_end ON tasktree_history (end_ms, seq);
        CREATE INDEX IF NOT EXISTS tasktree_history_start ON tasktree_history (start_ms);
        CREATE INDEX IF NOT EXISTS tasktree_history_owner ON tasktree_history (owner);
        CREATE INDEX IF NOT EXISTS tasktree_history_kind ON tasktree_history (kind);
        CREATE INDEX IF NOT EXISTS tasktree_history_parent ON tasktree_history (parent_id);
        CREATE INDEX IF NOT EXISTS tasktree_history_session ON tasktree_history (session);
        CREATE INDEX IF NOT EXISTS tasktree_history_reason ON tasktree_history (reason_kind);
        CREATE TABLE IF NOT EXISTS tasktree_sessions (
            id TEXT PRIMARY KEY,
            start_ms BIGINT NOT NULL,
            end_ms BIGINT,
            pid BIGINT NOT NULL,
            args TEXT NOT NULL
        );"
    )
}

fn store_error(e: sqlx::Error) -> HistoryError {
    HistoryError::Store(e.to_string())
}

fn open_error(e: sqlx::Error) -> HistoryError {
    HistoryError::Open(e.to_string())
}

fn now_ms() -> i64 {
    super::epoch_ms(std::time::SystemTime::now()) as i64
}

fn record<R: Row>(row: &R) -> Result<HistoryRecord, sqlx::Error>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    Ok(HistoryRecord {
        task_id: row.try_get::<i64, _>("task_id")? as u64,
        parent_id: row
            .try_get::<Option<i64>, _>("parent_id")?
            .map(|p| p as u64),
        kind: row.try_get("kind")?,
        owner: row.try_get("owner")?,
        path: row.try_get("path")?,
        level: row.try_get("level")?,
        start_ms: row.try_get("start_ms")?,
        end_ms: row.try_get("end_ms")?,
        duration_us: row.try_get("duration_us")?,
        final_state: row.try_get("final_state")?,
        stop_reason: row.try_get("stop_reason")?,
        reason_kind: row.try_get("reason_kind")?,
        retry_count: row.try_get("retry_count")?,
        max_retry: row.try_get("max_retry")?,
        descriptions: row.try_get("descriptions")?,
        session: row.try_get("session")?,
    })
}

/// Writes the `HistoryStore` impl of one SQL store type: the same code for both databases,
/// each expansion concrete so `sqlx` needs no generic bounds.
macro_rules! sql_store {
    ($store:ident, $db:ty, $pool:ty) => {
        impl $store {
            /// Adds ` WHERE …` for `filter` to `qb`.
            fn push_filter<'a>(qb: &mut sqlx::QueryBuilder<'a, $db>, filter: &'a HistoryFilter) {
                qb.push(" WHERE 1 = 1");
                let texts = [
                    (" AND owner = ", &filter.owner),
                    (" AND kind = ", &filter.kind),
                    (" AND session = ", &filter.session),
                    (" AND reason_kind = ", &filter.reason_kind),
                    (" AND final_state = ", &filter.final_state),
                ];
                for (clause, value) in texts {
                    if let Some(value) = value {
                        qb.push(clause).push_bind(value.as_str());
                    }
                }
                let numbers = [
                    (" AND parent_id = ", filter.parent_id.map(|p| p as i64)),
                    (" AND start_ms >= ", filter.started_from),
                    (" AND start_ms <= ", filter.started_to),
                    (" AND end_ms >= ", filter.ended_from),
                    (" AND end_ms <= ", filter.ended_to),
                ];
                for (clause, value) in numbers {
                    if let Some(value) = value {
                        qb.push(clause).push_bind(value);
                    }
                }
            }

            /// Creates the tables if missing (`key` is the database's auto-increment key
            /// column) and records this process run as a new session.
            async fn migrate(pool: $pool, key: &str) -> Result<Self, HistoryError> {
                sqlx::raw_sql(&schema(key)).execute(&pool).await.map_err(open_error)?;
                let session = super::new_session();
                Self::begin_session(&pool, &session).await?;
                Ok(Self { pool, session })
            }

            async fn begin_session(pool: &$pool, session: &str) -> Result<(), HistoryError> {
                let args: Vec<String> = std::env::args().collect();
                let mut qb = sqlx::QueryBuilder::<$db>::new("INSERT INTO tasktree_sessions (id, start_ms, pid, args) ");
                qb.push_values([()], |mut row, ()| {
                    row.push_bind(session)
                        .push_bind(now_ms())
                        .push_bind(i64::from(std::process::id()))
                        .push_bind(args.join(" "));
                });
                qb.build().execute(pool).await.map(|_| ()).map_err(open_error)
            }

            /// Marks this session ended; call it at shutdown.
            pub async fn close(&self) -> Result<(), HistoryError> {
                let mut qb = sqlx::QueryBuilder::<$db>::new("UPDATE tasktree_sessions SET end_ms = ");
                qb.push_bind(now_ms()).push(" WHERE id = ").push_bind(self.session.as_str());
                qb.build().execute(&self.pool).await.map(|_| ()).map_err(store_error)
            }

            /// The sessions recorded in this store: (id, start ms, end ms, pid, args).
            pub async fn sessions(&self) -> Result<Vec<(String, i64, Option<i64>, i64, String)>, HistoryError> {
                let rows = sqlx::query("SELECT id, start_ms, end_ms, pid, args FROM tasktree_sessions ORDER BY start_ms")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                rows.iter()
                    .map(|r| Ok((r.try_get("id")?, r.try_get("start_ms")?, r.try_get("end_ms")?, r.try_get("pid")?, r.try_get("args")?)))
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(store_error)
            }
        }

        impl super::HistoryStore for $store {
            fn write<'a>(&'a self, batch: &'a [HistoryRecord]) -> super::BoxFuture<'a, Result<(), HistoryError>> {
                Box::pin(async move {
                    for chunk in batch.chunks(500) {
                        let mut qb = sqlx::QueryBuilder::<$db>::new(format!("INSERT INTO tasktree_history ({COLUMNS}) "));
                        qb.push_values(chunk, |mut row, r| {
                            row.push_bind(r.task_id as i64)
                                .push_bind(r.parent_id.map(|p| p as i64))
                                .push_bind(r.kind.as_str())
                                .push_bind(r.owner.as_str())
                                .push_bind(r.path.as_str())
                                .push_bind(r.level)
                                .push_bind(r.start_ms)
                                .push_bind(r.end_ms)
                                .push_bind(r.duration_us)
                                .push_bind(r.final_state.as_str())
                                .push_bind(r.stop_reason.as_str())
                                .push_bind(r.reason_kind.as_str())
                                .push_bind(r.retry_count)
                                .push_bind(r.max_retry)
                                .push_bind(r.descriptions.as_str())
                                .push_bind(r.session.as_str());
                        });
                        qb.build().execute(&self.pool).await.map_err(store_error)?;
                    }
                    Ok(())
                })
            }

            fn query<'a>(&'a self, filter: &'a HistoryFilter, page: super::PageRequest) -> super::BoxFuture<'a, Result<super::Page, HistoryError>> {
                Box::pin(async move {
                    filter.check()?;
                    let mut count = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) AS n FROM tasktree_history");
                    Self::push_filter(&mut count, filter);
                    let total: i64 = count
                        .build()
                        .fetch_one(&self.pool)
                        .await
                        .and_then(|row| row.try_get("n"))
                        .map_err(store_error)?;
                    let mut qb = sqlx::QueryBuilder::<$db>::new(format!("SELECT {COLUMNS} FROM tasktree_history"));
                    Self::push_filter(&mut qb, filter);
                    qb.push(" ORDER BY end_ms DESC, seq DESC LIMIT ")
                        .push_bind(page.size as i64)
                        .push(" OFFSET ")
                        .push_bind(i64::try_from(page.offset()).unwrap_or(i64::MAX));
                    let rows = qb.build().fetch_all(&self.pool).await.map_err(store_error)?;
                    let items = rows.iter().map(record).collect::<Result<_, _>>().map_err(store_error)?;
                    Ok(super::Page { items, total: total as u64, page: page.page, size: page.size })
                })
            }

            fn stats<'a>(&'a self, filter: &'a HistoryFilter) -> super::BoxFuture<'a, Result<super::Stats, HistoryError>> {
                Box::pin(async move {
                    filter.check()?;
                    let mut qb = sqlx::QueryBuilder::<$db>::new(
                        "SELECT owner, kind, final_state, reason_kind, duration_us FROM tasktree_history",
                    );
                    Self::push_filter(&mut qb, filter);
                    let rows = qb.build().fetch_all(&self.pool).await.map_err(store_error)?;
                    let rows = rows
                        .iter()
                        .map(|r| {
                            Ok(super::StatRow {
                                owner: r.try_get("owner")?,
                                kind: r.try_get("kind")?,
                                state: r.try_get("final_state")?,
                                reason: r.try_get("reason_kind")?,
                                duration_us: r.try_get("duration_us")?,
                            })
                        })
                        .collect::<Result<Vec<_>, sqlx::Error>>()
                        .map_err(store_error)?;
                    Ok(super::Stats::from_rows(rows))
                })
            }

            fn retain(&self, policy: super::Retention) -> super::BoxFuture<'_, Result<u64, HistoryError>> {
                Box::pin(async move {
                    let mut removed = 0;
                    if let Some(age) = policy.max_age {
                        let mut qb = sqlx::QueryBuilder::<$db>::new("DELETE FROM tasktree_history WHERE end_ms < ");
                        qb.push_bind(now_ms() - age.as_millis() as i64);
                        removed += qb.build().execute(&self.pool).await.map_err(store_error)?.rows_affected();
                    }
                    if let Some(max) = policy.max_rows {
                        let mut qb = sqlx::QueryBuilder::<$db>::new(
                            "DELETE FROM tasktree_history WHERE seq NOT IN \
                             (SELECT seq FROM tasktree_history ORDER BY end_ms DESC, seq DESC LIMIT ",
                        );
                        qb.push_bind(i64::try_from(max).unwrap_or(i64::MAX)).push(")");
                        removed += qb.build().execute(&self.pool).await.map_err(store_error)?.rows_affected();
                    }
                    Ok(removed)
                })
            }

            fn session(&self) -> &str {
                &self.session
            }
        }
    };
}

/// History in an SQLite file: created and migrated on open, nothing to install.
#[cfg(feature = "sqlite")]
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
    session: String,
}

#[cfg(feature = "sqlite")]
impl SqliteStore {
    /// Opens (creating if missing) the history file at `path` and records this session.
    /// A corrupt file, or a path that cannot be a database, gives [`HistoryError::Open`].
    pub async fn open(path: impl AsRef<std::path::Path>) -> Result<Self, HistoryError> {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        Self::migrate(pool, "INTEGER PRIMARY KEY AUTOINCREMENT").await
    }
}

#[cfg(feature = "sqlite")]
sql_store!(SqliteStore, sqlx::Sqlite, sqlx::SqlitePool);

/// History in PostgreSQL, for several processes sharing one history (each its own session).
#[cfg(feature = "postgres")]
pub struct PostgresStore {
    pool: sqlx::PgPool,
    session: String,
}

#[cfg(feature = "postgres")]
impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host/db`), creates the tables if missing,
    /// and records this session. An unreachable server gives [`HistoryError::Open`] within
    /// `connect_timeout`.
    pub async fn connect(
        url: &str,
        connect_timeout: std::time::Duration,
    ) -> Result<Self, HistoryError> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(connect_timeout)
            .connect(url)
            .await
            .map_err(open_error)?;
        Self::migrate(pool, "BIGSERIAL PRIMARY KEY").await
    }
}

#[cfg(feature = "postgres")]
sql_store!(PostgresStore, sqlx::Postgres, sqlx::PgPool);
