//! History (DESIGN §6): the pipeline from a live tree, and every store against the same
//! checks — pagination, each filter, stats, retention, bad input. SQLite runs against a real
//! file; PostgreSQL against a real server (`TASKTREE_PG_URL`, which `.ci/run` provides).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tasktree::history::{
    BoxFuture, History, HistoryError, HistoryFilter, HistoryRecord, HistoryStore, MemoryStore,
    Page, PageRequest, Retention, Stats, DISPOSED, RETRY,
};
use tasktree::prelude::*;

#[task(work)]
struct Hub;

#[task]
struct Done;

impl Lifecycle for Done {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.describe("camera", "cam1");
        Ok(())
    }
    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        Ok(())
    }
}

/// Fails its first run, then completes.
#[task]
struct Flaky {
    runs: u32,
}

impl Lifecycle for Flaky {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.set_retry(Retry::exponential(3, Duration::from_millis(1)));
        Ok(())
    }
    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.runs += 1;
        if self.runs == 1 {
            return Err(TaskError::msg("first run fails"));
        }
        Ok(())
    }
}

/// Runs a small tree with history into `store`; returns the pipeline.
async fn live_tree(store: Arc<dyn HistoryStore>) -> (History, TaskId, TaskId) {
    let root = Root::without_signals();
    let history = History::attach(root.as_task(), store);
    let hub = root.add(Hub);
    let done = hub.add(Done);
    let flaky = hub.add(Flaky { runs: 0 });
    done.wait_stopped().await;
    flaky.wait_stopped().await;
    root.shutdown().await;
    history.flush().await;
    (history, done.id(), flaky.id())
}

use tasktree::TaskId;

async fn check_live_tree(store: Arc<dyn HistoryStore>) {
    let session = store.session().to_owned();
    let (history, done, flaky) = live_tree(store.clone()).await;
    assert_eq!(history.dropped(), 0);
    assert_eq!(history.written(), 4, "done, flaky's retry, flaky, hub");
    // A shared store (PostgreSQL) may hold other runs' records: look at this session's.
    let mine = HistoryFilter {
        session: Some(session.clone()),
        ..HistoryFilter::default()
    };
    let page = store
        .query(&mine, PageRequest::new(0, 50).unwrap())
        .await
        .unwrap();
    assert_eq!(page.total, 4);
    let done_rec = page
        .items
        .iter()
        .find(|r| r.task_id == done.get())
        .expect("done's record");
    assert_eq!(done_rec.final_state, DISPOSED);
    assert_eq!(done_rec.reason_kind, "complete");
    assert_eq!(done_rec.owner, "Done");
    assert_eq!(done_rec.session, session);
    assert!(done_rec.descriptions.contains("cam1"));
    assert!(done_rec.end_ms >= done_rec.start_ms);
    let flaky_recs: Vec<&HistoryRecord> = page
        .items
        .iter()
        .filter(|r| r.task_id == flaky.get())
        .collect();
    let states: Vec<&str> = flaky_recs.iter().map(|r| r.final_state.as_str()).collect();
    assert_eq!(
        states,
        [DISPOSED, RETRY],
        "newest first: the final disposal, then the retried attempt"
    );
    assert!(flaky_recs[1].stop_reason.contains("first run fails"));
    assert_eq!(flaky_recs[1].retry_count, 1);
}

/// A synthetic record: `i` spreads owners, kinds, reasons, parents and times.
fn synthetic(i: i64, session: &str) -> HistoryRecord {
    HistoryRecord {
        task_id: i as u64,
        parent_id: Some((i % 4) as u64),
        kind: ["task", "job"][(i % 2) as usize].to_owned(),
        owner: ["Puller", "Pusher", "Conn"][(i % 3) as usize].to_owned(),
        path: format!("root/T:{i}"),
        level: 1,
        start_ms: 1_000_000 + i * 10,
        end_ms: 1_000_000 + i * 10 + 5,
        duration_us: i * 100,
        final_state: if i % 5 == 0 { RETRY } else { DISPOSED }.to_owned(),
        stop_reason: "x".to_owned(),
        reason_kind: ["complete", "panic"][(i % 2) as usize].to_owned(),
        retry_count: 0,
        max_retry: Some(3),
        descriptions: "{}".to_owned(),
        session: session.to_owned(),
    }
}

async fn all(store: &dyn HistoryStore, filter: &HistoryFilter) -> Page {
    store
        .query(filter, PageRequest::new(0, 1000).unwrap())
        .await
        .unwrap()
}

/// The checks every store passes.
async fn check_store(store: Arc<dyn HistoryStore>) {
    let session = store.session().to_owned();
    let records: Vec<HistoryRecord> = (1..=1000).map(|i| synthetic(i, &session)).collect();
    store.write(&records).await.unwrap();
    let only_mine = HistoryFilter {
        session: Some(session.clone()),
        ..HistoryFilter::default()
    };

    // Pagination: pages of 50 cover all 1,000 exactly once, newest end first.
    let mut seen = Vec::new();
    for page in 0..20 {
        let got = store
            .query(&only_mine, PageRequest::new(page, 50).unwrap())
            .await
            .unwrap();
        assert_eq!(got.total, 1000);
        assert_eq!(got.items.len(), 50);
        seen.extend(got.items.iter().map(|r| r.task_id));
    }
    let beyond = store
        .query(&only_mine, PageRequest::new(20, 50).unwrap())
        .await
        .unwrap();
    assert!(beyond.items.is_empty());
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "a stable order, newest first"
    );
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 1000);

    // Each filter.
    let count = |f: HistoryFilter| {
        let store = store.clone();
        async move { all(&*store, &f).await.total }
    };
    let base = || HistoryFilter {
        session: Some(session.clone()),
        ..HistoryFilter::default()
    };
    assert_eq!(
        count(HistoryFilter {
            owner: Some("Conn".into()),
            ..base()
        })
        .await,
        333
    );
    assert_eq!(
        count(HistoryFilter {
            kind: Some("job".into()),
            ..base()
        })
        .await,
        500
    );
    assert_eq!(
        count(HistoryFilter {
            parent_id: Some(0),
            ..base()
        })
        .await,
        250
    );
    assert_eq!(
        count(HistoryFilter {
            reason_kind: Some("panic".into()),
            ..base()
        })
        .await,
        500
    );
    assert_eq!(
        count(HistoryFilter {
            final_state: Some(RETRY.into()),
            ..base()
        })
        .await,
        200
    );
    assert_eq!(
        count(HistoryFilter {
            session: Some("another".into()),
            ..HistoryFilter::default()
        })
        .await,
        0
    );
    // Start and end ranges filter on their own columns: record i starts at 1,000,000 + 10i
    // and ends 5 ms later.
    let starts = HistoryFilter {
        started_from: Some(1_000_100),
        started_to: Some(1_000_200),
        ..base()
    };
    assert_eq!(count(starts).await, 11, "i = 10..=20");
    let ends = HistoryFilter {
        ended_from: Some(1_000_100),
        ended_to: Some(1_000_200),
        ..base()
    };
    assert_eq!(
        count(ends).await,
        10,
        "i = 10..=19 (i = 20 ends at 1,000,205)"
    );

    // Stats.
    let stats: Stats = store.stats(&only_mine).await.unwrap();
    assert_eq!(stats.total, 1000);
    assert_eq!(stats.by_kind["task"], 500);
    assert_eq!(stats.by_state[RETRY], 200);
    assert_eq!(stats.by_owner["Puller"], 333);
    assert_eq!(stats.p50_us, 50_100);
    assert_eq!(stats.p99_us, 99_000);
    assert!((stats.mean_us - 50_050.0).abs() < 1e-6);

    // Bad input is refused clearly.
    assert!(matches!(
        PageRequest::new(0, 0),
        Err(HistoryError::BadPageSize(0))
    ));
    assert!(matches!(
        PageRequest::new(0, 1001),
        Err(HistoryError::BadPageSize(1001))
    ));
    let backwards = HistoryFilter {
        ended_from: Some(10),
        ended_to: Some(5),
        ..HistoryFilter::default()
    };
    assert!(matches!(
        store
            .query(&backwards, PageRequest::new(0, 10).unwrap())
            .await,
        Err(HistoryError::BadRange("end"))
    ));
    assert!(store.stats(&backwards).await.is_err());

    // Retention: the newest rows are kept; records older than the age go.
    let removed = store
        .retain(Retention {
            max_age: None,
            max_rows: Some(600),
        })
        .await
        .unwrap();
    assert!(removed >= 400, "{removed}");
    let left = all(&*store, &only_mine).await;
    assert!(left.total <= 600);
    assert!(
        left.items.iter().all(|r| r.task_id > 400),
        "the oldest went first"
    );
    store
        .retain(Retention {
            max_age: Some(Duration::from_secs(60)),
            max_rows: None,
        })
        .await
        .unwrap();
    assert_eq!(
        all(&*store, &only_mine).await.total,
        0,
        "synthetic records are from 1970"
    );
}

#[actix_rt::test]
async fn history_memory_store_records_a_live_tree() {
    check_live_tree(Arc::new(MemoryStore::default())).await;
}

#[actix_rt::test]
async fn history_memory_store_queries() {
    check_store(Arc::new(MemoryStore::new(5_000))).await;
}

#[actix_rt::test]
async fn history_memory_ring_keeps_the_newest() {
    let store = MemoryStore::new(10);
    let records: Vec<HistoryRecord> = (1..=25).map(|i| synthetic(i, "s")).collect();
    store.write(&records).await.unwrap();
    let page = all(&store, &HistoryFilter::default()).await;
    assert_eq!(page.total, 10);
    assert_eq!(page.items.first().map(|r| r.task_id), Some(25));
}

/// A store whose writes fail, or wait until released: history must degrade, never block.
struct Broken {
    fail: bool,
    gate: tokio::sync::Semaphore,
    writes: AtomicUsize,
}

impl HistoryStore for Broken {
    fn write<'a>(&'a self, _batch: &'a [HistoryRecord]) -> BoxFuture<'a, Result<(), HistoryError>> {
        Box::pin(async move {
            self.writes.fetch_add(1, Ordering::SeqCst);
            let _permit = self.gate.acquire().await;
            if self.fail {
                return Err(HistoryError::Store("server gone".into()));
            }
            Ok(())
        })
    }
    fn query<'a>(
        &'a self,
        _f: &'a HistoryFilter,
        page: PageRequest,
    ) -> BoxFuture<'a, Result<Page, HistoryError>> {
        Box::pin(async move {
            Ok(Page {
                items: vec![],
                total: 0,
                page: page.page,
                size: page.size,
            })
        })
    }
    fn stats<'a>(&'a self, _f: &'a HistoryFilter) -> BoxFuture<'a, Result<Stats, HistoryError>> {
        Box::pin(async { Ok(Stats::default()) })
    }
    fn retain(&self, _p: Retention) -> BoxFuture<'_, Result<u64, HistoryError>> {
        Box::pin(async { Ok(0) })
    }
    fn session(&self) -> &str {
        "broken"
    }
}

#[actix_rt::test]
async fn history_a_failing_store_is_counted_and_the_tree_keeps_running() {
    let root = Root::without_signals();
    let store = Arc::new(Broken {
        fail: true,
        gate: tokio::sync::Semaphore::new(1_000),
        writes: AtomicUsize::new(0),
    });
    let history = History::attach(root.as_task(), store.clone());
    let hub = root.add(Hub);
    for _ in 0..20 {
        hub.add(Done).wait_stopped().await;
    }
    history.flush().await;
    assert_eq!(history.written(), 0);
    assert_eq!(history.dropped(), 20);
    assert!(hub.is_active(), "the tree is unaffected");
    root.shutdown().await;
}

#[actix_rt::test]
async fn history_a_full_queue_drops_and_counts_instead_of_blocking() {
    let root = Root::without_signals();
    // The store blocks on its first write: the queue of 4 fills up behind it.
    let store = Arc::new(Broken {
        fail: false,
        gate: tokio::sync::Semaphore::new(0),
        writes: AtomicUsize::new(0),
    });
    let history = History::attach_with_queue(root.as_task(), store.clone(), 4);
    let hub = root.add(Hub);
    for _ in 0..50 {
        hub.add(Done).wait_stopped().await;
    }
    assert!(history.dropped() >= 40, "dropped {}", history.dropped());
    assert!(hub.is_active());
    store.gate.add_permits(1_000);
    history.flush().await;
    assert_eq!(history.written() + history.dropped(), 50);
    root.shutdown().await;
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use tasktree::history::SqliteStore;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tasktree-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[actix_rt::test]
    async fn history_sqlite_store_records_a_live_tree_and_survives_reopening() {
        let dir = temp_dir("sqlite-live");
        let file = dir.join("history.db");
        let first = Arc::new(SqliteStore::open(&file).await.unwrap());
        check_live_tree(first.clone()).await;
        first.close().await.unwrap();
        drop(first);
        let reopened = SqliteStore::open(&file).await.unwrap();
        let page = reopened
            .query(&HistoryFilter::default(), PageRequest::new(0, 10).unwrap())
            .await
            .unwrap();
        assert_eq!(page.total, 4, "the records are in the file");
        let sessions = reopened.sessions().await.unwrap();
        assert_eq!(sessions.len(), 2, "one session per open");
        assert!(sessions[0].2.is_some(), "the first session was closed");
        assert_eq!(sessions[0].3, i64::from(std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[actix_rt::test]
    async fn history_sqlite_store_queries() {
        let dir = temp_dir("sqlite-queries");
        check_store(Arc::new(SqliteStore::open(dir.join("h.db")).await.unwrap())).await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[actix_rt::test]
    async fn history_sqlite_corrupt_file_or_directory_is_a_typed_error() {
        let dir = temp_dir("sqlite-bad");
        let corrupt = dir.join("corrupt.db");
        std::fs::write(&corrupt, vec![0x5a_u8; 8192]).unwrap();
        assert!(matches!(
            SqliteStore::open(&corrupt).await,
            Err(HistoryError::Open(_))
        ));
        assert!(matches!(
            SqliteStore::open(&dir).await,
            Err(HistoryError::Open(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use tasktree::history::PostgresStore;

    /// The server `.ci/run` starts; elsewhere, set `TASKTREE_PG_URL`.
    fn url() -> String {
        std::env::var("TASKTREE_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres:tasktree@127.0.0.1:5432/postgres".into())
    }

    /// Connects, or — outside CI only — skips with a notice.
    async fn connect() -> Option<PostgresStore> {
        match PostgresStore::connect(&url(), Duration::from_secs(5)).await {
            Ok(store) => Some(store),
            Err(e) if std::env::var_os("CI").is_none() => {
                eprintln!(
                    "SKIPPED: no PostgreSQL at {} ({e}); .ci/run starts one",
                    url()
                );
                None
            }
            Err(e) => panic!("PostgreSQL must be reachable in CI: {e}"),
        }
    }

    #[actix_rt::test]
    async fn history_postgres_store_records_a_live_tree_and_queries() {
        let Some(store) = connect().await else { return };
        let store = Arc::new(store);
        check_live_tree(store.clone()).await;
        // A second process (a second store, its own session) shares the same history.
        let Some(other) = connect().await else { return };
        let other = Arc::new(other);
        assert_ne!(other.session(), store.session());
        let mine = HistoryFilter {
            session: Some(store.session().to_owned()),
            ..HistoryFilter::default()
        };
        assert_eq!(
            other
                .query(&mine, PageRequest::new(0, 10).unwrap())
                .await
                .unwrap()
                .total,
            4
        );
        check_store(other).await;
    }

    #[actix_rt::test]
    async fn history_postgres_unreachable_is_a_typed_error() {
        let err = PostgresStore::connect(
            "postgres://nobody:x@127.0.0.1:1/none",
            Duration::from_secs(2),
        )
        .await;
        assert!(matches!(err, Err(HistoryError::Open(_))));
    }
}
