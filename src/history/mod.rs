//! Task history (GoTask's "storable history records", DESIGN §6).
//!
//! [`History::attach`] listens to a tree: every disposal, and every failed attempt that is
//! retried, becomes one [`HistoryRecord`], sent through a bounded channel to a writer that
//! stores records in batches — never on a task's own loop. A full channel or a failing store
//! never blocks the tree: records are dropped and counted ([`History::dropped`],
//! `tasktree_history_dropped_total`).
//!
//! | store | where | feature |
//! |---|---|---|
//! | [`MemoryStore`] | a bounded ring in this process | (always) |
//! | `SqliteStore` | an SQLite file, created and migrated on open | `sqlite` |
//! | `PostgresStore` | a PostgreSQL database shared by several processes | `postgres` |
//!
//! All stores answer the same queries: [`HistoryFilter`] (owner type, kind, start and end
//! time ranges, parent, session, stop reason, final state), [`PageRequest`] pagination in a
//! stable order (newest end first), [`Stats`], and [`Retention`].

mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use sql::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sql::SqliteStore;

use crate::handle::TaskRef;
use crate::reason::StopReason;
use crate::state::epoch_ms;

/// A boxed `Send` future: what a [`HistoryStore`] returns, so stores can be shared across
/// threads (an actix-web handler may query from any worker).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One stored record: a task's disposal, or one of its failed attempts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRecord {
    /// The task's id.
    pub task_id: u64,
    /// Its parent's id.
    pub parent_id: Option<u64>,
    /// `task`, `job`, `work`, `tick`, `channel` or `root`.
    pub kind: String,
    /// The user's type name.
    pub owner: String,
    /// Path of ancestors.
    pub path: String,
    /// Depth in the tree.
    pub level: i64,
    /// When the attempt started (or the task was added, if it never started), ms since the epoch.
    pub start_ms: i64,
    /// When it ended, ms since the epoch.
    pub end_ms: i64,
    /// How long it lived, in microseconds.
    pub duration_us: i64,
    /// `disposed` for a task's end, `retry` for a failed attempt that was retried.
    pub final_state: String,
    /// The stop reason (or the attempt's failure), as text.
    pub stop_reason: String,
    /// The reason's kind, for filtering: `complete`, `panic`, `failed`, ...
    pub reason_kind: String,
    /// Retries made when this record was written.
    pub retry_count: i64,
    /// The retry policy's maximum; `None` when unbounded.
    pub max_retry: Option<i64>,
    /// The task's descriptions, as a JSON object.
    pub descriptions: String,
    /// The process run (session) that wrote the record.
    pub session: String,
}

/// What the final state of a record says.
pub const DISPOSED: &str = "disposed";
/// A failed attempt that was retried.
pub const RETRY: &str = "retry";

impl HistoryRecord {
    /// The record of `task` as it is now, ending with `reason`.
    pub fn of(task: &TaskRef, reason: &StopReason, final_state: &str, session: &str) -> Self {
        let info = task.info();
        let end_ms = epoch_ms(std::time::SystemTime::now()) as i64;
        let start_ms = info.started_at_ms.unwrap_or(info.created_at_ms) as i64;
        Self {
            task_id: info.id.get(),
            parent_id: info.parent_id.map(|p| p.get()),
            kind: info.kind.as_str().to_owned(),
            owner: info.owner.to_owned(),
            path: info.path,
            level: i64::from(info.level),
            start_ms,
            end_ms,
            duration_us: info.age_us as i64,
            final_state: final_state.to_owned(),
            stop_reason: reason.to_string(),
            reason_kind: reason.kind().as_str().to_owned(),
            retry_count: i64::from(info.retry_count),
            max_retry: info.max_retries.map(i64::from),
            descriptions: serde_json::to_string(&info.descriptions)
                .unwrap_or_else(|_| "{}".to_owned()),
            session: session.to_owned(),
        }
    }
}

/// Which records a query wants. Every field is optional; the empty filter matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryFilter {
    /// The user's type name.
    pub owner: Option<String>,
    /// The kind (`task`, `job`, ...).
    pub kind: Option<String>,
    /// The parent's id.
    pub parent_id: Option<u64>,
    /// The session.
    pub session: Option<String>,
    /// The reason's kind (`complete`, `panic`, ...).
    pub reason_kind: Option<String>,
    /// `disposed` or `retry`.
    pub final_state: Option<String>,
    /// Started at or after (ms since the epoch).
    pub started_from: Option<i64>,
    /// Started at or before.
    pub started_to: Option<i64>,
    /// Ended at or after.
    pub ended_from: Option<i64>,
    /// Ended at or before.
    pub ended_to: Option<i64>,
}

impl HistoryFilter {
    /// Refuses ranges that end before they start.
    pub fn check(&self) -> Result<(), HistoryError> {
        for (from, to, what) in [
            (self.started_from, self.started_to, "start"),
            (self.ended_from, self.ended_to, "end"),
        ] {
            if let (Some(from), Some(to)) = (from, to) {
                if to < from {
                    return Err(HistoryError::BadRange(what));
                }
            }
        }
        Ok(())
    }

    /// Whether `record` matches.
    pub fn matches(&self, r: &HistoryRecord) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.owner, &r.owner)
            && eq(&self.kind, &r.kind)
            && eq(&self.session, &r.session)
            && eq(&self.reason_kind, &r.reason_kind)
            && eq(&self.final_state, &r.final_state)
            && self.parent_id.is_none_or(|p| r.parent_id == Some(p))
            && self.started_from.is_none_or(|t| r.start_ms >= t)
            && self.started_to.is_none_or(|t| r.start_ms <= t)
            && self.ended_from.is_none_or(|t| r.end_ms >= t)
            && self.ended_to.is_none_or(|t| r.end_ms <= t)
    }
}

/// One page of a query: `page` counts from 0, `size` is 1 to [`PageRequest::MAX_SIZE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Which page, from 0.
    pub page: u64,
    /// Records per page.
    pub size: u64,
}

impl PageRequest {
    /// The largest page size.
    pub const MAX_SIZE: u64 = 1_000;

    /// Page `page` of `size` records, checked.
    pub fn new(page: u64, size: u64) -> Result<Self, HistoryError> {
        if size == 0 || size > Self::MAX_SIZE {
            return Err(HistoryError::BadPageSize(size));
        }
        Ok(Self { page, size })
    }

    pub(crate) fn offset(&self) -> u64 {
        self.page.saturating_mul(self.size)
    }
}

/// A page of records, newest end first, and how many match in all.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// The records of this page.
    pub items: Vec<HistoryRecord>,
    /// How many records match the filter.
    pub total: u64,
    /// This page's number.
    pub page: u64,
    /// The page size.
    pub size: u64,
}

/// Counts and durations over the records a filter matches.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// How many records.
    pub total: u64,
    /// Count per owner type.
    pub by_owner: BTreeMap<String, u64>,
    /// Count per kind.
    pub by_kind: BTreeMap<String, u64>,
    /// Count per final state.
    pub by_state: BTreeMap<String, u64>,
    /// Count per reason kind.
    pub by_reason: BTreeMap<String, u64>,
    /// Mean duration, µs.
    pub mean_us: f64,
    /// Median duration, µs.
    pub p50_us: i64,
    /// 95th percentile, µs.
    pub p95_us: i64,
    /// 99th percentile, µs.
    pub p99_us: i64,
}

/// What [`Stats`] are computed from: one row per record.
pub(crate) struct StatRow {
    pub(crate) owner: String,
    pub(crate) kind: String,
    pub(crate) state: String,
    pub(crate) reason: String,
    pub(crate) duration_us: i64,
}

impl Stats {
    pub(crate) fn from_rows(rows: impl IntoIterator<Item = StatRow>) -> Self {
        let mut stats = Stats::default();
        let mut durations = Vec::new();
        for row in rows {
            stats.total += 1;
            *stats.by_owner.entry(row.owner).or_default() += 1;
            *stats.by_kind.entry(row.kind).or_default() += 1;
            *stats.by_state.entry(row.state).or_default() += 1;
            *stats.by_reason.entry(row.reason).or_default() += 1;
            durations.push(row.duration_us);
        }
        if durations.is_empty() {
            return stats;
        }
        durations.sort_unstable();
        let at = |q: f64| durations[((durations.len() - 1) as f64 * q).round() as usize];
        stats.mean_us = durations.iter().map(|d| *d as f64).sum::<f64>() / durations.len() as f64;
        stats.p50_us = at(0.50);
        stats.p95_us = at(0.95);
        stats.p99_us = at(0.99);
        stats
    }
}

/// What to keep: records newer than `max_age`, and at most `max_rows` of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Drop records that ended longer ago than this.
    pub max_age: Option<Duration>,
    /// Keep at most this many records, the newest.
    pub max_rows: Option<u64>,
}

/// Why a history operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// A page size of 0 or over 1,000.
    #[error("page size {0} is out of range: 1 to 1000")]
    BadPageSize(u64),
    /// A time range whose end is before its start.
    #[error("the {0} time range ends before it starts")]
    BadRange(&'static str),
    /// The store could not be opened (a corrupt or read-only file, an unreachable server).
    #[error("cannot open the history store: {0}")]
    Open(String),
    /// The store failed a read or a write.
    #[error("history store error: {0}")]
    Store(String),
}

/// Where history records live. Implementations answer every query alike.
pub trait HistoryStore: Send + Sync + 'static {
    /// Stores a batch of records.
    fn write<'a>(&'a self, batch: &'a [HistoryRecord]) -> BoxFuture<'a, Result<(), HistoryError>>;
    /// One page of the records `filter` matches, newest end first.
    fn query<'a>(
        &'a self,
        filter: &'a HistoryFilter,
        page: PageRequest,
    ) -> BoxFuture<'a, Result<Page, HistoryError>>;
    /// Counts and durations over the records `filter` matches.
    fn stats<'a>(&'a self, filter: &'a HistoryFilter)
        -> BoxFuture<'a, Result<Stats, HistoryError>>;
    /// Removes what `policy` does not keep; returns how many records went.
    fn retain(&self, policy: Retention) -> BoxFuture<'_, Result<u64, HistoryError>>;
    /// This process run's session id.
    fn session(&self) -> &str;
}

/// What the tree hands the writer: the task and how it ended. The record is built by the
/// writer, off the parent's mailbox.
enum Write {
    Ended(TaskRef, StopReason, &'static str),
    Flush(oneshot::Sender<()>),
}

#[derive(Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
}

/// A tree's history pipeline: hooks on the tree, a bounded channel, a batching writer.
#[derive(Clone)]
pub struct History {
    store: Arc<dyn HistoryStore>,
    tx: mpsc::Sender<Write>,
    counters: Arc<Counters>,
}

impl History {
    /// The default queue length between the tree and the writer.
    pub const QUEUE: usize = 10_000;

    /// Records every disposal and every retried failure below `root` (a task, usually the
    /// root) into `store`. The records are built and written on a thread of their own, so
    /// the tree's arbiter only hands over the ended task; the writer ends when the tree and
    /// every clone of this `History` are gone.
    pub fn attach(root: &TaskRef, store: Arc<dyn HistoryStore>) -> Self {
        Self::attach_with_queue(root, store, Self::QUEUE)
    }

    /// [`attach`](History::attach) with a queue of `capacity` records.
    pub fn attach_with_queue(
        root: &TaskRef,
        store: Arc<dyn HistoryStore>,
        capacity: usize,
    ) -> Self {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let counters = Arc::new(Counters::default());
        let history = Self {
            store: store.clone(),
            tx,
            counters: counters.clone(),
        };
        spawn_writer(store, rx, counters);
        let on_dispose = history.clone();
        root.on_descendant_dispose(move |task| {
            let reason = task.stop_reason().unwrap_or(StopReason::Disposed);
            on_dispose.submit(Write::Ended(task.clone(), reason, DISPOSED));
        });
        let on_retry = history.clone();
        root.on_descendant_retry(move |task| {
            let failure = task.last_failure().unwrap_or(StopReason::Disposed);
            on_retry.submit(Write::Ended(task.clone(), failure, RETRY));
        });
        history
    }

    fn submit(&self, ended: Write) {
        if self.tx.try_send(ended).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            crate::metrics::history_dropped(1);
        }
    }

    /// The store, for queries.
    pub fn store(&self) -> &Arc<dyn HistoryStore> {
        &self.store
    }

    /// Records stored so far.
    pub fn written(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
    }

    /// Records dropped so far: the queue was full, or the store failed a batch.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Resolves once every record submitted before the call has been stored (or dropped).
    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.tx.send(Write::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }
}

/// Runs the writer on its own thread and runtime: building records and encoding them for
/// the database would otherwise take the tree's arbiter thread.
fn spawn_writer(store: Arc<dyn HistoryStore>, rx: mpsc::Receiver<Write>, counters: Arc<Counters>) {
    let spawned = std::thread::Builder::new()
        .name("tasktree-history".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(write_loop(store, rx, counters)),
                Err(e) => tracing::error!(error = %e, "cannot start the history writer"),
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the history writer thread");
    }
}

async fn write_loop(
    store: Arc<dyn HistoryStore>,
    mut rx: mpsc::Receiver<Write>,
    counters: Arc<Counters>,
) {
    let mut inbox = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut inbox, BATCH).await > 0 {
        let mut batch = Vec::with_capacity(inbox.len());
        let mut flushes = Vec::new();
        for item in inbox.drain(..) {
            match item {
                Write::Ended(task, reason, state) => {
                    batch.push(HistoryRecord::of(&task, &reason, state, store.session()))
                }
                Write::Flush(done) => flushes.push(done),
            }
        }
        if !batch.is_empty() {
            match store.write(&batch).await {
                Ok(()) => {
                    counters
                        .written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    crate::metrics::history_written(batch.len());
                }
                Err(e) => {
                    tracing::warn!(error = %e, records = batch.len(), "history write failed; records dropped");
                    counters
                        .dropped
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    crate::metrics::history_dropped(batch.len());
                }
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
        // Let records gather before the next batch: while the writer lingers it is not
        // waiting on the channel, so the tree's sends need not wake this thread each time.
        tokio::time::sleep(LINGER).await;
    }
}

/// The most records written in one batch: with [`LINGER`], up to ~800,000 records a second.
const BATCH: usize = 4096;

/// How long the writer lets records gather between batches.
const LINGER: std::time::Duration = std::time::Duration::from_millis(5);

/// A session id for this process run: time and pid, unique enough across processes.
pub(crate) fn new_session() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{:x}-{:x}", now.as_micros(), std::process::id())
}
