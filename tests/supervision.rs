//! Supervision beyond GoTask (R4) and dispose deadlines (L15), on the paused clock.

use std::time::Duration;

use tasktree::prelude::*;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;

#[task(job)]
struct Supervisor;

#[task(work)]
struct Hub;

/// Lives until stopped; its first attempt fails when `trigger` fires (or at once without
/// a trigger, when `fail` says so).
#[task]
struct Worker {
    name: &'static str,
    events: UnboundedSender<String>,
    trigger: Option<oneshot::Receiver<()>>,
    fail_always: bool,
}

impl Worker {
    fn new(name: &'static str, events: &UnboundedSender<String>) -> Self {
        Self {
            name,
            events: events.clone(),
            trigger: None,
            fail_always: false,
        }
    }
}

impl Lifecycle for Worker {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.set_retry(Retry::unbounded(Duration::from_millis(1)));
        let _ = self.events.send(format!("start {}", self.name));
        Ok(())
    }

    fn go(&mut self, cx: &mut TaskCx<Self>) -> Option<Go> {
        let trigger = self.trigger.take();
        let fail_always = self.fail_always;
        let stopped = cx.stopped();
        Go::new(async move {
            if fail_always {
                return Err(TaskError::msg("broken"));
            }
            match trigger {
                Some(trigger) => {
                    let _ = trigger.await;
                    Err(TaskError::msg("triggered"))
                }
                None => {
                    stopped.await;
                    Ok(())
                }
            }
        })
    }

    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        let _ = self.events.send(format!("dispose {}", self.name));
    }
}

/// Reads `n` events.
async fn take(events: &mut UnboundedReceiver<String>, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(events.recv().await.expect("an event"));
    }
    out
}

/// A supervisor with workers a, b, c started in that order; b fails when the returned
/// sender fires.
async fn three(
    root: &Root,
    strategy: Strategy,
) -> (
    TaskHandle<Supervisor>,
    oneshot::Sender<()>,
    UnboundedReceiver<String>,
) {
    let (tx, mut events) = unbounded_channel();
    let sup = root.add(Supervisor);
    sup.set_strategy(strategy);
    let (fire, trigger) = oneshot::channel();
    sup.add(Worker::new("a", &tx)).wait_started().await.unwrap();
    sup.add(Worker {
        trigger: Some(trigger),
        ..Worker::new("b", &tx)
    })
    .wait_started()
    .await
    .unwrap();
    sup.add(Worker::new("c", &tx)).wait_started().await.unwrap();
    assert_eq!(
        take(&mut events, 3).await,
        ["start a", "start b", "start c"]
    );
    (sup, fire, events)
}

#[actix_rt::test]
async fn r4_one_for_one_restarts_only_the_failing_child() {
    tokio::time::pause();
    let root = Root::new();
    let (sup, fire, mut events) = three(&root, Strategy::OneForOne).await;
    fire.send(()).unwrap();
    assert_eq!(take(&mut events, 2).await, ["dispose b", "start b"]);
    sup.call(|_, _| ()).await.unwrap();
    assert!(events.try_recv().is_err());
    root.shutdown().await;
}

#[actix_rt::test]
async fn r4_one_for_all_restarts_siblings() {
    tokio::time::pause();
    let root = Root::new();
    let (_sup, fire, mut events) = three(&root, Strategy::OneForAll).await;
    fire.send(()).unwrap();
    assert_eq!(
        take(&mut events, 6).await,
        [
            "dispose c",
            "dispose b",
            "dispose a",
            "start a",
            "start b",
            "start c"
        ],
        "disposed last started first, started again in start order"
    );
    root.shutdown().await;
}

#[actix_rt::test]
async fn r4_rest_for_one_restarts_the_failing_child_and_those_started_after_it() {
    tokio::time::pause();
    let root = Root::new();
    let (sup, fire, mut events) = three(&root, Strategy::RestForOne).await;
    fire.send(()).unwrap();
    assert_eq!(
        take(&mut events, 4).await,
        ["dispose c", "dispose b", "start b", "start c"]
    );
    sup.call(|_, _| ()).await.unwrap();
    assert!(
        events.try_recv().is_err(),
        "a, started before b, was left alone"
    );
    root.shutdown().await;
}

#[actix_rt::test]
async fn r4_strategy_set_after_children_started_applies_to_the_next_failure() {
    tokio::time::pause();
    let root = Root::new();
    let (sup, fire, mut events) = three(&root, Strategy::OneForOne).await;
    sup.set_strategy(Strategy::OneForAll);
    fire.send(()).unwrap();
    assert_eq!(take(&mut events, 6).await.len(), 6, "all three restarted");
    root.shutdown().await;
}

#[actix_rt::test]
async fn r4_intensity_exceeded_fails_the_job_with_restart_intensity() {
    tokio::time::pause();
    let root = Root::new();
    let (tx, _events) = unbounded_channel();
    let sup = root.add(Supervisor);
    sup.set_intensity(Intensity::new(3, Duration::from_secs(1)).unwrap());
    let worker = sup.add(Worker {
        fail_always: true,
        ..Worker::new("w", &tx)
    });
    assert!(sup.wait_stopped().await.is(ReasonKind::RestartIntensity));
    assert_eq!(
        worker.retry_count(),
        3,
        "three restarts were allowed, the fourth was not"
    );
    assert!(worker.wait_stopped().await.is(ReasonKind::Failed));
    root.shutdown().await;
}

#[task(job)]
struct RetriedSupervisor {
    starts: UnboundedSender<()>,
    events: UnboundedSender<String>,
}

impl Lifecycle for RetriedSupervisor {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.set_retry(Retry::exponential(1, Duration::from_millis(5)));
        cx.set_intensity(Intensity::new(1, Duration::from_secs(1)).map_err(TaskError::from)?);
        let _ = self.starts.send(());
        cx.add(Worker {
            fail_always: true,
            ..Worker::new("w", &self.events)
        });
        Ok(())
    }
}

#[actix_rt::test]
async fn r4_a_job_that_gives_up_is_handled_by_its_parents_policy() {
    tokio::time::pause();
    let root = Root::new();
    let (starts, mut started) = unbounded_channel();
    let (events, _events) = unbounded_channel();
    let sup = root.add(RetriedSupervisor { starts, events });
    let reason = sup.wait_stopped().await;
    let mut n = 0;
    while started.try_recv().is_ok() {
        n += 1;
    }
    assert_eq!(
        n, 2,
        "the job failed once and was retried once by its own retry policy"
    );
    assert!(
        matches!(reason, StopReason::RetryExhausted { ref last, .. } if last.is(ReasonKind::RestartIntensity)),
        "{reason}"
    );
    root.shutdown().await;
}

#[actix_rt::test]
async fn r4_zero_intensity_window_is_refused() {
    assert!(matches!(
        Intensity::new(3, Duration::ZERO),
        Err(tasktree::SupervisionError::ZeroWindow)
    ));
    let ok = Intensity::new(0, Duration::from_millis(1)).unwrap();
    assert_eq!((ok.max(), ok.window()), (0, Duration::from_millis(1)));
}

/// Completes its run at once, counting its starts.
#[task]
struct Finisher {
    starts: UnboundedSender<()>,
    kind: RestartKind,
    fail: bool,
}

impl Lifecycle for Finisher {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.set_restart(self.kind);
        cx.set_retry(Retry::exponential(2, Duration::from_millis(1)));
        let _ = self.starts.send(());
        Ok(())
    }

    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        if self.fail {
            return Err(TaskError::msg("failed"));
        }
        Ok(())
    }
}

#[actix_rt::test]
async fn r4_restart_kinds_permanent_transient_temporary() {
    tokio::time::pause();
    let root = Root::new();
    let hub = root.add(Hub);
    for (kind, fail, expected_starts, expected) in [
        (RestartKind::Permanent, false, 3, ReasonKind::Complete),
        (RestartKind::Transient, false, 1, ReasonKind::Complete),
        (RestartKind::Transient, true, 3, ReasonKind::RetryExhausted),
        (RestartKind::Temporary, true, 1, ReasonKind::Failed),
    ] {
        let (starts, mut started) = unbounded_channel();
        let task = hub.add(Finisher { starts, kind, fail });
        let reason = task.wait_stopped().await;
        assert!(reason.is(expected), "{kind:?} fail={fail}: {reason}");
        let mut n = 0;
        while started.try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, expected_starts, "{kind:?} fail={fail}");
    }
    root.shutdown().await;
}

/// A dispose that never finishes.
#[task]
struct Hanging {
    disposed: UnboundedSender<&'static str>,
}

impl Lifecycle for Hanging {
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        let _ = self.disposed.send("dispose began");
        std::future::pending::<()>().await;
    }
}

#[actix_rt::test]
async fn l15_a_dispose_past_its_deadline_is_abandoned_and_reported() {
    tokio::time::pause();
    let root = Root::new();
    let (tx, mut disposed) = unbounded_channel();
    let hung = root.add(Hanging { disposed: tx });
    hung.set_dispose_deadline(Duration::from_secs(2));
    hung.wait_started().await.unwrap();
    let began = tokio::time::Instant::now();
    assert!(
        root.shutdown().await.is(ReasonKind::Exit),
        "the shutdown completes"
    );
    assert_eq!(disposed.recv().await, Some("dispose began"));
    let took = began.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(hung.descriptions()["disposeTimeout"], "timeout");
    assert_eq!(hung.state(), TaskState::Disposed);
}

#[actix_rt::test]
async fn l15_a_zero_deadline_abandons_at_once_and_the_job_default_applies() {
    tokio::time::pause();
    let root = Root::new();
    let sup = root.add(Supervisor);
    sup.set_child_dispose_deadline(Duration::ZERO);
    let (tx, _disposed) = unbounded_channel();
    let hung = sup.add(Hanging { disposed: tx });
    hung.wait_started().await.unwrap();
    let began = tokio::time::Instant::now();
    root.shutdown().await;
    assert_eq!(began.elapsed(), Duration::ZERO);
    assert!(hung.descriptions().contains_key("disposeTimeout"));
}

#[actix_rt::test]
async fn l15_shutdown_within_returns_by_its_deadline_listing_what_did_not_finish() {
    tokio::time::pause();
    let root = Root::new();
    let (tx, _disposed) = unbounded_channel();
    let hung = root.add(Supervisor).add(Hanging { disposed: tx });
    hung.wait_started().await.unwrap();
    let began = tokio::time::Instant::now();
    let err = root
        .shutdown_within(Duration::from_secs(1))
        .await
        .unwrap_err();
    // tokio's timer rounds a deadline up to its next millisecond tick.
    let took = began.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took <= Duration::from_millis(1001),
        "{took:?}"
    );
    assert_eq!(err.pending, [hung.path()]);
}
