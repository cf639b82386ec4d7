//! Tick, channel and keyed-collection tasks (DESIGN §2), each test named for what it proves.

mod common;

use std::time::Duration;

use common::Log;
use tasktree::kinds::{from_iter, from_unbounded, ItemStream};
use tasktree::prelude::*;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::time::Instant;

#[task(work)]
struct Hub;

/// Reports each tick's time; fails the tick numbered `fail_at`.
#[task(tick)]
struct Beat {
    every: Duration,
    ticks: UnboundedSender<Instant>,
    fail_at: Option<u32>,
    n: u32,
}

impl Tick for Beat {
    fn interval(&self) -> Duration {
        self.every
    }
    async fn tick(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.n += 1;
        let _ = self.ticks.send(Instant::now());
        if Some(self.n) == self.fail_at {
            return Err(TaskError::msg("tick failed"));
        }
        Ok(())
    }
}

/// The same, ticking on its own.
#[task(async_tick)]
struct OwnBeat {
    ticks: UnboundedSender<Instant>,
}

impl Tick for OwnBeat {
    fn interval(&self) -> Duration {
        Duration::from_millis(10)
    }
    async fn tick(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        let _ = self.ticks.send(Instant::now());
        Ok(())
    }
}

#[actix_rt::test]
async fn tick_every_interval_exactly_on_the_paused_clock() {
    tokio::time::pause();
    let root = Root::new();
    let (tx, mut ticks) = unbounded_channel();
    let every = Duration::from_millis(200);
    let beat = root.add(Beat {
        every,
        ticks: tx,
        fail_at: None,
        n: 0,
    });
    beat.wait_started().await.unwrap();
    let started = Instant::now();
    let mut times = Vec::new();
    for _ in 0..5 {
        times.push(ticks.recv().await.unwrap());
    }
    let first = times[0] - started;
    assert!(
        first >= every && first <= every + Duration::from_millis(1),
        "{first:?}"
    );
    for pair in times.windows(2) {
        assert_eq!(pair[1] - pair[0], every);
    }
    assert_eq!(beat.kind(), Kind::Tick);
    assert_eq!(beat.state(), TaskState::Going);
    root.shutdown().await;
}

#[actix_rt::test]
async fn tick_stops_its_timer_at_once_when_stopped() {
    tokio::time::pause();
    let root = Root::new();
    let (tx, mut ticks) = unbounded_channel();
    let beat = root.add(Beat {
        every: Duration::from_millis(50),
        ticks: tx,
        fail_at: None,
        n: 0,
    });
    ticks.recv().await.unwrap();
    beat.stop(StopReason::StopByUser(String::new()));
    beat.wait_stopped().await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(ticks.try_recv().is_err(), "a tick after the stop");
    root.shutdown().await;
}

#[actix_rt::test]
async fn tick_interval_of_zero_is_refused() {
    let root = Root::new();
    let (tx, _ticks) = unbounded_channel();
    let beat = root.add(Beat {
        every: Duration::ZERO,
        ticks: tx,
        fail_at: None,
        n: 0,
    });
    let err = beat.wait_started().await.unwrap_err();
    assert!(
        err.to_string().contains("interval of zero is refused"),
        "{err}"
    );
    root.shutdown().await;
}

#[actix_rt::test]
async fn tick_failure_ends_the_task_with_its_error() {
    tokio::time::pause();
    let root = Root::new();
    let (tx, _ticks) = unbounded_channel();
    let beat = root.add(Beat {
        every: Duration::from_millis(5),
        ticks: tx,
        fail_at: Some(3),
        n: 0,
    });
    let reason = beat.wait_stopped().await;
    assert!(reason.to_string().contains("tick failed"), "{reason}");
    root.shutdown().await;
}

/// Holds its parent's mailbox until released.
#[task]
struct Hog {
    release: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl Lifecycle for Hog {
    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        if let Some(release) = self.release.take() {
            let _ = release.await;
        }
        Ok(())
    }
}

#[actix_rt::test]
async fn tick_runs_in_the_parents_mailbox_async_tick_on_its_own() {
    tokio::time::pause();
    let root = Root::new();
    let hub = root.add(Hub);
    let (tx, mut in_mailbox) = unbounded_channel();
    let (own_tx, mut on_own) = unbounded_channel();
    hub.add(Beat {
        every: Duration::from_millis(10),
        ticks: tx,
        fail_at: None,
        n: 0,
    })
    .wait_started()
    .await
    .unwrap();
    hub.add(OwnBeat { ticks: own_tx })
        .wait_started()
        .await
        .unwrap();
    in_mailbox.recv().await.unwrap();
    // A sibling's run now holds the hub's mailbox.
    let (release, hold) = tokio::sync::oneshot::channel();
    let hog = hub.add(Hog {
        release: Some(hold),
    });
    hog.wait_started().await.unwrap();
    while in_mailbox.try_recv().is_ok() {}
    for _ in 0..5 {
        on_own.recv().await.unwrap();
    }
    assert!(
        in_mailbox.try_recv().is_err(),
        "a mailbox tick ran while a sibling held the mailbox"
    );
    release.send(()).unwrap();
    in_mailbox.recv().await.unwrap();
    root.shutdown().await;
}

/// Where a consumer's items come from.
enum Source {
    Channel(tokio::sync::mpsc::UnboundedReceiver<u32>),
    Items(Vec<Result<u32, TaskError>>),
}

/// Logs each item.
#[task(channel)]
struct Consumer {
    source: Option<Source>,
    log: Log,
}

impl Channel for Consumer {
    type Item = u32;
    fn stream(&mut self, _cx: &mut TaskCx<Self>) -> ItemStream<u32> {
        match self.source.take() {
            Some(Source::Channel(rx)) => from_unbounded(rx),
            Some(Source::Items(items)) => from_iter(items),
            None => from_iter([]),
        }
    }
    async fn tick(&mut self, item: u32, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        tokio::task::yield_now().await;
        self.log.push(item.to_string());
        Ok(())
    }
}

#[actix_rt::test]
async fn channel_ticks_each_item_in_order_then_completes() {
    let root = Root::new();
    let log = Log::default();
    let (tx, rx) = unbounded_channel();
    let consumer = root.add(Consumer {
        source: Some(Source::Channel(rx)),
        log: log.clone(),
    });
    for i in 0..20 {
        tx.send(i).unwrap();
    }
    drop(tx);
    assert!(consumer.wait_stopped().await.is(ReasonKind::Complete));
    assert_eq!(
        log.entries(),
        (0..20).map(|i| i.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(consumer.kind(), Kind::Channel);
    root.shutdown().await;
}

#[actix_rt::test]
async fn channel_whose_stream_errors_ends_with_that_error() {
    let root = Root::new();
    let log = Log::default();
    let items = vec![Ok(1), Ok(2), Err(TaskError::msg("source broke")), Ok(3)];
    let consumer = root.add(Consumer {
        source: Some(Source::Items(items)),
        log: log.clone(),
    });
    let reason = consumer.wait_stopped().await;
    assert!(reason.to_string().contains("source broke"), "{reason}");
    assert_eq!(log.entries(), ["1", "2"]);
    root.shutdown().await;
}

#[task(key = path)]
struct Stream {
    path: String,
}

#[task(key = path)]
struct Other {
    path: String,
}

#[actix_rt::test]
async fn collection_finds_active_children_by_key() {
    let root = Root::new();
    let streams = root.add(Hub).collection::<Stream>();
    let a = streams.add(Stream {
        path: "live/a".into(),
    });
    // Not started yet: lookups see only active children.
    assert!(!streams.contains("live/a"));
    a.wait_started().await.unwrap();
    streams
        .add(Stream {
            path: "live/b".into(),
        })
        .wait_started()
        .await
        .unwrap();
    streams
        .owner()
        .add(Other {
            path: "other".into(),
        })
        .wait_started()
        .await
        .unwrap();
    assert_eq!(streams.len(), 2, "only children of the collection's type");
    assert_eq!(streams.get("live/a").map(|h| h.id()), Some(a.id()));
    assert!(streams.get("other").is_none());
    let b = streams.find(|h| h.key() == Some("live/b")).unwrap();
    assert_eq!(b.call(|s, _| s.path.clone()).await.unwrap(), "live/b");
    let keys: Vec<String> = streams
        .iter()
        .iter()
        .filter_map(|h| h.key().map(str::to_owned))
        .collect();
    assert_eq!(keys, ["live/a", "live/b"]);
    a.stop(StopReason::StopByUser(String::new()));
    assert!(
        !streams.contains("live/a"),
        "a disposing child is not active"
    );
    a.wait_stopped().await;
    assert_eq!(streams.len(), 1);
    root.shutdown().await;
}

#[actix_rt::test]
async fn collection_refuses_a_duplicate_key_and_finds_nothing_once_disposed() {
    let root = Root::new();
    let streams = root.add(Hub).collection::<Stream>();
    streams
        .add(Stream { path: "cam".into() })
        .wait_started()
        .await
        .unwrap();
    let dup = streams.add(Stream { path: "cam".into() });
    assert!(matches!(dup.wait_stopped().await, StopReason::Exists(k) if k == "cam"));
    assert_eq!(streams.len(), 1);
    root.shutdown().await;
    assert!(streams.get("cam").is_none());
    assert!(streams.is_empty());
    assert!(streams.find(|_| true).is_none());
}

/// Keyed by a method rather than a field.
#[task(key = address())]
struct Peer {
    host: &'static str,
    port: u16,
}

impl Peer {
    fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

#[actix_rt::test]
async fn collection_key_from_a_method() {
    let root = Root::new();
    let peers = root.add(Hub).collection::<Peer>();
    peers
        .add(Peer {
            host: "10.0.0.1",
            port: 1935,
        })
        .wait_started()
        .await
        .unwrap();
    assert!(peers.contains("10.0.0.1:1935"));
    let dup = peers.add(Peer {
        host: "10.0.0.1",
        port: 1935,
    });
    assert!(matches!(dup.stop_reason(), Some(StopReason::Exists(k)) if k == "10.0.0.1:1935"));
    root.shutdown().await;
}
