//! Retry, R1–R3 (DESIGN §4), on tokio's paused clock (R5): no test waits for real.

mod common;

use std::time::Duration;

use common::Log;
use tasktree::prelude::*;
use tasktree::TaskId;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::time::Instant;

/// A container so that a retried child's `run` never holds the root's mailbox.
#[task(work)]
struct Hub;

/// Fails its start `fails` times (forever if `None`), telling the test when each start began.
#[task]
struct FailStart {
    retry: Retry,
    fails: Option<u32>,
    starts: UnboundedSender<(TaskId, Instant)>,
    log: Log,
}

impl Lifecycle for FailStart {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.set_retry(self.retry);
        let _ = self.starts.send((cx.id(), Instant::now()));
        self.log.push("start");
        match &mut self.fails {
            Some(0) => Ok(()),
            Some(n) => {
                *n -= 1;
                Err(TaskError::msg("refused"))
            }
            None => Err(TaskError::msg("refused")),
        }
    }
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.log.push("dispose");
    }
}

#[actix_rt::test]
async fn r1_backoff_doubles_from_the_base_and_is_capped() {
    tokio::time::pause();
    let root = Root::new();
    let (tx, mut starts) = unbounded_channel();
    let retry =
        Retry::exponential(4, Duration::from_millis(100)).max_interval(Duration::from_millis(300));
    let task = root.add(FailStart {
        retry,
        fails: None,
        starts: tx,
        log: Log::default(),
    });
    let err = task.wait_started().await.unwrap_err();
    let mut times = Vec::new();
    while let Ok((_, at)) = starts.try_recv() {
        times.push(at);
    }
    // tokio's timer has millisecond ticks and rounds a deadline up to the next one.
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let expected = [100, 200, 300, 300].map(Duration::from_millis);
    assert_eq!(gaps.len(), expected.len());
    for (gap, want) in gaps.iter().zip(expected) {
        assert!(
            *gap >= want && *gap <= want + Duration::from_millis(1),
            "{gaps:?}"
        );
    }
    match err {
        HandleError::Stopped(StopReason::RetryExhausted { retries, last }) => {
            assert_eq!(retries, 4);
            assert!(last.to_string().contains("refused"));
        }
        other => panic!("expected RetryExhausted, got {other}"),
    }
    root.shutdown().await;
}

#[actix_rt::test]
async fn r1_unbounded_retries_until_it_starts() {
    tokio::time::pause();
    let root = Root::new();
    let (tx, _starts) = unbounded_channel();
    let retry = Retry::unbounded(Duration::from_millis(1)).max_interval(Duration::from_millis(5));
    let task = root.add(FailStart {
        retry,
        fails: Some(50),
        starts: tx,
        log: Log::default(),
    });
    task.wait_started().await.unwrap();
    assert_eq!(task.retry_count(), 50);
    assert_eq!(task.descriptions()["retry"], "50/∞");
    root.shutdown().await;
}

#[actix_rt::test]
async fn r5_retry_delays_run_on_the_paused_clock() {
    tokio::time::pause();
    let root = Root::new();
    let (tx, _starts) = unbounded_channel();
    // 1 + 2 + 4 + … + 512 s = 1,023 s of backoff, without waiting for it.
    let retry = Retry::exponential(10, Duration::from_secs(1));
    let began = Instant::now();
    let task = root.add(FailStart {
        retry,
        fails: Some(10),
        starts: tx,
        log: Log::default(),
    });
    task.wait_started().await.unwrap();
    let elapsed = began.elapsed();
    // At most one timer tick (1 ms) of rounding per retry.
    assert!(
        elapsed >= Duration::from_secs(1023) && elapsed <= Duration::from_millis(1_023_010),
        "{elapsed:?}"
    );
    root.shutdown().await;
}

#[actix_rt::test]
async fn r2_start_failure_starts_again_without_dispose_keeping_the_id() {
    tokio::time::pause();
    let root = Root::new();
    let (tx, mut starts) = unbounded_channel();
    let log = Log::default();
    let retry = Retry::exponential(3, Duration::from_millis(10));
    let task = root.add(FailStart {
        retry,
        fails: Some(2),
        starts: tx,
        log: log.clone(),
    });
    task.wait_started().await.unwrap();
    assert_eq!(log.entries(), ["start", "start", "start"]);
    for _ in 0..3 {
        assert_eq!(starts.recv().await.map(|(id, _)| id), Some(task.id()));
    }
    root.shutdown().await;
    assert_eq!(log.entries(), ["start", "start", "start", "dispose"]);
}

/// A run that fails `fails` times after `up` of uptime, then waits for its stop.
#[task]
struct FailRun {
    retry: Retry,
    fails: Option<u32>,
    up: Duration,
    events: UnboundedSender<String>,
}

impl Lifecycle for FailRun {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.set_retry(self.retry);
        let _ = self.events.send(format!("start {}", cx.id()));
        Ok(())
    }
    async fn run(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        tokio::time::sleep(self.up).await;
        match &mut self.fails {
            Some(0) => {
                cx.stopped().await;
                Ok(())
            }
            Some(n) => {
                *n -= 1;
                Err(TaskError::msg("lost the stream"))
            }
            None => Err(TaskError::msg("lost the stream")),
        }
    }
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        let _ = self.events.send("dispose".into());
    }
}

#[actix_rt::test]
async fn r2_run_failure_disposes_then_starts_again() {
    tokio::time::pause();
    let root = Root::new();
    let (events, mut seen) = unbounded_channel();
    let task = root.add(Hub).add(FailRun {
        retry: Retry::exponential(3, Duration::from_millis(10)),
        fails: Some(2),
        up: Duration::ZERO,
        events,
    });
    let start = format!("start {}", task.id());
    let mut order = Vec::new();
    for _ in 0..5 {
        order.push(seen.recv().await.unwrap());
    }
    assert_eq!(order, [&start, "dispose", &start, "dispose", &start]);
    assert!(task.state().is_active());
    root.shutdown().await;
}

#[actix_rt::test]
async fn r3_run_that_keeps_failing_ends_with_retry_exhausted() {
    tokio::time::pause();
    let root = Root::new();
    let (events, mut seen) = unbounded_channel();
    let task = root.add(Hub).add(FailRun {
        retry: Retry::exponential(2, Duration::from_millis(1)),
        fails: None,
        up: Duration::ZERO,
        events,
    });
    match task.wait_stopped().await {
        StopReason::RetryExhausted { retries, last } => {
            assert_eq!(retries, 2);
            assert!(matches!(*last, StopReason::Failed(_)));
        }
        other => panic!("expected RetryExhausted, got {other}"),
    }
    let mut starts = 0;
    while let Ok(e) = seen.try_recv() {
        starts += usize::from(e.starts_with("start"));
    }
    assert_eq!(
        starts, 3,
        "one start and two retries, not GoTask's endless loop"
    );
    assert_eq!(task.descriptions()["retry"], "2/2");
    root.shutdown().await;
}

#[actix_rt::test]
async fn r3_count_resets_only_after_a_stable_period_up() {
    tokio::time::pause();
    let root = Root::new();
    let (events, mut seen) = unbounded_channel();
    // Up for 1 s each time, longer than the stable period (10 × 10 ms): every failure is
    // the first of its run, so one retry is always allowed.
    let task = root.add(Hub).add(FailRun {
        retry: Retry::exponential(1, Duration::from_millis(10)),
        fails: None,
        up: Duration::from_secs(1),
        events,
    });
    let mut starts = 0;
    while starts < 6 {
        if seen.recv().await.unwrap().starts_with("start") {
            starts += 1;
        }
    }
    assert!(task.stop_reason().is_none());
    assert_eq!(task.retry_count(), 1);
    task.stop(StopReason::StopByUser(String::new()));
    assert!(task.wait_stopped().await.is(ReasonKind::StopByUser));
    root.shutdown().await;
}

#[actix_rt::test]
async fn r3_no_retry_after_complete_stop_by_user_exit_or_parent_stop() {
    tokio::time::pause();
    let root = Root::new();
    let retry = Retry::exponential(5, Duration::from_millis(1));
    let count_starts = |mut rx: tokio::sync::mpsc::UnboundedReceiver<String>| {
        let mut n = 0;
        while let Ok(e) = rx.try_recv() {
            n += usize::from(e.starts_with("start"));
        }
        n
    };

    // Complete: run returned Ok.
    #[task]
    struct Done {
        events: UnboundedSender<String>,
    }
    impl Lifecycle for Done {
        async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
            cx.set_retry(Retry::exponential(5, Duration::from_millis(1)));
            let _ = self.events.send("start".into());
            Ok(())
        }
        async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
            Ok(())
        }
    }
    let (events, seen) = unbounded_channel();
    assert!(root
        .add(Done { events })
        .wait_stopped()
        .await
        .is(ReasonKind::Complete));
    assert_eq!(count_starts(seen), 1);

    // StopByUser, while the run fails because of the stop.
    let hub = root.add(Hub);
    let (events, seen) = unbounded_channel();
    let task = hub.add(FailRun {
        retry,
        fails: Some(0),
        up: Duration::ZERO,
        events,
    });
    task.wait_started().await.unwrap();
    task.stop(StopReason::StopByUser("enough".into()));
    assert!(task.wait_stopped().await.is(ReasonKind::StopByUser));
    assert_eq!(count_starts(seen), 1);

    // The parent stops: the child is not retried, whatever its run returns.
    let (events, seen) = unbounded_channel();
    let child = hub.add(FailRun {
        retry,
        fails: Some(0),
        up: Duration::ZERO,
        events,
    });
    child.wait_started().await.unwrap();
    hub.stop(StopReason::Timeout);
    assert!(child.wait_stopped().await.is(ReasonKind::Timeout));
    assert_eq!(count_starts(seen), 1);

    // Exit: the root shuts down.
    let (events, seen) = unbounded_channel();
    let last = root.add(Hub).add(FailRun {
        retry,
        fails: Some(0),
        up: Duration::ZERO,
        events,
    });
    last.wait_started().await.unwrap();
    root.shutdown().await;
    assert!(last.wait_stopped().await.is(ReasonKind::Exit));
    assert_eq!(count_starts(seen), 1);
}

#[actix_rt::test]
async fn r3_retry_count_is_a_description() {
    tokio::time::pause();
    let root = Root::new();
    let (events, mut seen) = unbounded_channel();
    let task = root.add(Hub).add(FailRun {
        retry: Retry::exponential(3, Duration::from_millis(10)),
        fails: Some(1),
        up: Duration::ZERO,
        events,
    });
    for _ in 0..3 {
        seen.recv().await;
    }
    assert_eq!(task.descriptions()["retry"], "1/3");
    let info = task.info();
    assert_eq!((info.retry_count, info.max_retries), (1, Some(3)));
    root.shutdown().await;
}
