//! The lifecycle contract, L1–L15 (DESIGN §3). Each test is named after the rule it proves.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{gate, Gate, Live, Log};
use tasktree::prelude::*;
use tasktree::TaskId;

/// A container that never ends by itself.
#[task(work)]
struct Hub;

/// A job container that logs its own dispose.
#[task(job)]
struct Group {
    name: &'static str,
    log: Log,
}

impl Lifecycle for Group {
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.log.push(format!("dispose {}", self.name));
    }
}

/// A task that stays started (no run, no go) and logs its lifecycle.
#[task]
struct Idle {
    name: &'static str,
    log: Log,
}

impl Lifecycle for Idle {
    async fn start(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.log.push(format!("start {}", self.name));
        Ok(())
    }
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.log.push(format!("dispose {}", self.name));
    }
}

/// A task whose every step waits at a gate the test opens, reporting where it is.
#[task]
struct Gated {
    at: tokio::sync::mpsc::UnboundedSender<&'static str>,
    gate: Gate,
    dispose_gate: Gate,
}

impl Gated {
    async fn pause(&mut self, step: &'static str) {
        let _ = self.at.send(step);
        self.gate.wait().await;
    }
}

impl Lifecycle for Gated {
    async fn start(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.pause("start").await;
        Ok(())
    }
    async fn run(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        let _ = self.at.send("run");
        cx.stopped().await;
        Ok(())
    }
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        let _ = self.at.send("dispose");
        self.dispose_gate.wait().await;
    }
}

#[actix_rt::test]
async fn l1_states_go_init_starting_running_disposing_disposed() {
    let root = Root::new();
    let (open, gate) = gate();
    let (open_dispose, dispose_gate) = common::gate();
    let (at, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let task = root.add(Gated {
        at,
        gate,
        dispose_gate,
    });
    assert_eq!(task.state(), TaskState::Init);
    assert_eq!(seen.recv().await, Some("start"));
    assert_eq!(task.state(), TaskState::Starting);
    open.send(true).unwrap();
    assert_eq!(seen.recv().await, Some("run"));
    assert_eq!(task.state(), TaskState::Running);
    task.stop(StopReason::StopByUser("done".into()));
    assert_eq!(seen.recv().await, Some("dispose"));
    assert_eq!(task.state(), TaskState::Disposing);
    open_dispose.send(true).unwrap();
    task.wait_stopped().await;
    assert_eq!(task.state(), TaskState::Disposed);
    root.shutdown().await;
}

#[actix_rt::test]
async fn l1_go_state_is_going_and_started_without_run() {
    let root = Root::new();
    let live = root.add(Live);
    let idle = root.add(Idle {
        name: "idle",
        log: Log::default(),
    });
    live.wait_started().await.unwrap();
    idle.wait_started().await.unwrap();
    // The mailbox answers calls in order, so after a call both lifecycles have settled.
    root.add(Hub).wait_started().await.unwrap();
    assert_eq!(live.state(), TaskState::Going);
    assert_eq!(idle.state(), TaskState::Started);
    root.shutdown().await;
    assert_eq!(live.state(), TaskState::Disposed);
}

/// Overrides `start` and `dispose` only: its `run` and `go` are the trait's defaults.
#[task]
struct Counted {
    starts: Arc<AtomicUsize>,
    disposes: Arc<AtomicUsize>,
}

impl Lifecycle for Counted {
    async fn start(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.starts.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.disposes.fetch_add(1, Ordering::SeqCst);
    }
}

#[actix_rt::test]
async fn l1_defaults_learned_once_overrides_run_every_time() {
    // The framework learns from the first task of a type which methods are the trait's
    // defaults and skips those for later tasks; the methods a type overrides must run
    // for every task, and a skipped default must change nothing a user can see.
    let root = Root::new();
    let (starts, disposes) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    for n in 1..=3 {
        let task = root.add(Counted {
            starts: starts.clone(),
            disposes: disposes.clone(),
        });
        task.wait_started().await.unwrap();
        assert_eq!(
            task.state(),
            TaskState::Started,
            "no run, no go: it stays started"
        );
        task.stop(StopReason::StopByUser("done".into()));
        assert!(task.wait_stopped().await.is(ReasonKind::StopByUser));
        assert_eq!(starts.load(Ordering::SeqCst), n);
        assert_eq!(disposes.load(Ordering::SeqCst), n);
    }
    root.shutdown().await;
}

/// Records how many of its kind are inside a lifecycle method at once.
#[task]
struct Overlap {
    active: Arc<AtomicUsize>,
    worst: Arc<AtomicUsize>,
}

impl Overlap {
    async fn step(&mut self) {
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.worst.fetch_max(now, Ordering::SeqCst);
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        self.active.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Lifecycle for Overlap {
    async fn start(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.step().await;
        Ok(())
    }
    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.step().await;
        Ok(())
    }
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.step().await;
    }
}

#[actix_rt::test]
async fn l2_children_lifecycle_and_calls_to_the_parent_never_interleave() {
    let root = Root::new();
    let hub = root.add(Hub);
    let active = Arc::new(AtomicUsize::new(0));
    let worst = Arc::new(AtomicUsize::new(0));
    let mut children = Vec::new();
    let mut calls = Vec::new();
    for _ in 0..20 {
        children.push(hub.add(Overlap {
            active: active.clone(),
            worst: worst.clone(),
        }));
        let active = active.clone();
        calls.push(hub.call(move |_, _| active.load(Ordering::SeqCst)));
    }
    for call in calls {
        assert_eq!(
            call.await.unwrap(),
            0,
            "a call ran while a child's lifecycle was suspended"
        );
    }
    for child in &children {
        assert!(child.wait_stopped().await.is(ReasonKind::Complete));
    }
    assert_eq!(worst.load(Ordering::SeqCst), 1);
    root.shutdown().await;
}

#[actix_rt::test]
async fn l3_add_returns_at_once_and_waits_resolve() {
    let root = Root::new();
    let log = Log::default();
    let idle = root.add(Idle {
        name: "a",
        log: log.clone(),
    });
    // Nothing has run yet: start happens later, in the parent's mailbox.
    assert_eq!(idle.state(), TaskState::Init);
    assert!(log.entries().is_empty());
    idle.wait_started().await.unwrap();
    assert_eq!(log.entries(), ["start a"]);

    // Stopped before it could start: wait_started fails with the reason.
    let early = root.add(Idle {
        name: "b",
        log: log.clone(),
    });
    early.stop(StopReason::StopByUser("early".into()));
    let err = early.wait_started().await.unwrap_err();
    assert!(matches!(err, HandleError::Stopped(StopReason::StopByUser(ref s)) if s == "early"));
    assert_eq!(log.count("start b"), 0);

    // wait_stopped resolves only after dispose has finished.
    idle.stop(StopReason::StopByUser(String::new()));
    assert!(idle.wait_stopped().await.is(ReasonKind::StopByUser));
    assert_eq!(log.count("dispose a"), 1);
    root.shutdown().await;
}

/// A start that fails the first `fails` times, logging the id it sees.
#[task]
struct Flaky {
    fails: u32,
    ids: Arc<std::sync::Mutex<Vec<TaskId>>>,
}

impl Lifecycle for Flaky {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.set_retry(Retry::exponential(5, Duration::from_millis(1)));
        self.ids.lock().unwrap().push(cx.id());
        if self.fails > 0 {
            self.fails -= 1;
            return Err(TaskError::msg("not yet"));
        }
        Ok(())
    }
}

#[actix_rt::test]
async fn l4_ids_are_unique_and_kept_across_retries() {
    tokio::time::pause();
    let root = Root::new();
    let handles: Vec<_> = (0..100).map(|_| root.add(Hub)).collect();
    let mut ids: Vec<TaskId> = handles.iter().map(|h| h.id()).collect();
    ids.push(root.id());
    let before = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), before);

    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let flaky = root.add(Flaky {
        fails: 2,
        ids: seen.clone(),
    });
    flaky.wait_started().await.unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![flaky.id(); 3]);
    root.shutdown().await;
}

#[actix_rt::test]
async fn l5_stop_is_idempotent_and_first_reason_wins() {
    let root = Root::new();
    let hub = root.add(Hub);
    hub.wait_started().await.unwrap();
    assert!(hub.stop(StopReason::StopByUser("first".into())));
    assert!(!hub.stop(StopReason::Timeout));
    let reason = hub.wait_stopped().await;
    assert!(matches!(reason, StopReason::StopByUser(ref s) if s == "first"));
    assert!(!hub.stop(StopReason::Exit));
    root.shutdown().await;
}

#[actix_rt::test]
async fn l5_children_disposed_before_parent_last_started_first() {
    let root = Root::new();
    let log = Log::default();
    let group = root.add(Group {
        name: "group",
        log: log.clone(),
    });
    let mut children = Vec::new();
    for name in ["c1", "c2", "c3"] {
        let child = group.add(Idle {
            name,
            log: log.clone(),
        });
        child.wait_started().await.unwrap();
        children.push(child);
    }
    let grandchild = children[1].add(Idle {
        name: "g",
        log: log.clone(),
    });
    grandchild.wait_started().await.unwrap();
    group.stop(StopReason::StopByUser("bye".into()));
    group.wait_stopped().await;
    let disposes: Vec<String> = log
        .entries()
        .into_iter()
        .filter(|e| e.starts_with("dispose"))
        .collect();
    assert_eq!(
        disposes,
        [
            "dispose c3",
            "dispose g",
            "dispose c2",
            "dispose c1",
            "dispose group"
        ]
    );
    // Every descendant got the parent's reason.
    assert!(matches!(grandchild.stop_reason(), Some(StopReason::StopByUser(s)) if s == "bye"));
    root.shutdown().await;
}

/// Registers resources and hooks, logs their release.
#[task]
struct Resourceful {
    log: Log,
}

struct Named(&'static str, Log);

impl Drop for Named {
    fn drop(&mut self) {
        self.1.push(format!("drop {}", self.0));
    }
}

impl Lifecycle for Resourceful {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.using(Named("a", self.log.clone()));
        cx.using(Named("b", self.log.clone()));
        let log = self.log.clone();
        cx.on_dispose(move || log.push("on_dispose 1"));
        let log = self.log.clone();
        cx.on_dispose(move || log.push("on_dispose 2"));
        let log = self.log.clone();
        cx.on_stop(move || log.push("on_stop"));
        cx.add(Idle {
            name: "child",
            log: self.log.clone(),
        })
        .wait_started()
        .await?;
        Ok(())
    }
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.log.push("dispose self");
    }
}

#[actix_rt::test]
async fn l5_on_stop_at_once_then_children_dispose_using_reverse_then_on_dispose() {
    let root = Root::new();
    let log = Log::default();
    let task = root.add(Resourceful { log: log.clone() });
    task.wait_started().await.unwrap();
    task.stop(StopReason::StopByUser(String::new()));
    // on_stop ran synchronously inside stop(), before any dispose.
    assert_eq!(log.entries().last().map(String::as_str), Some("on_stop"));
    task.wait_stopped().await;
    let after: Vec<String> = log
        .entries()
        .into_iter()
        .skip_while(|e| e != "on_stop")
        .collect();
    assert_eq!(
        after,
        [
            "on_stop",
            "dispose child",
            "dispose self",
            "drop b",
            "drop a",
            "on_dispose 1",
            "on_dispose 2"
        ]
    );
    root.shutdown().await;
}

/// A run that blocks until its on_stop resource releases it.
#[task]
struct Blocked {
    release: Option<tokio::sync::oneshot::Sender<()>>,
    wait: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl Lifecycle for Blocked {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        let release = self.release.take();
        cx.on_stop(move || drop(release));
        Ok(())
    }
    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        if let Some(wait) = self.wait.take() {
            let _ = wait.await;
        }
        Ok(())
    }
}

#[actix_rt::test]
async fn l5_on_stop_unblocks_a_blocked_run() {
    let root = Root::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = root.add(Blocked {
        release: Some(tx),
        wait: Some(rx),
    });
    task.wait_started().await.unwrap();
    task.stop(StopReason::StopByUser("unblock".into()));
    assert!(task.wait_stopped().await.is(ReasonKind::StopByUser));
    root.shutdown().await;
}

#[actix_rt::test]
async fn l6_dependent_child_stops_with_parent() {
    let root = Root::new();
    let log = Log::default();
    let hub = root.add(Hub);
    let dependent = hub.add_dependent(Idle {
        name: "dep",
        log: log.clone(),
    });
    dependent.wait_started().await.unwrap();
    hub.stop(StopReason::Timeout);
    // Stopped at once, with the parent's reason, before any dispose ran.
    assert!(dependent
        .stop_reason()
        .is_some_and(|r| r.is(ReasonKind::Timeout)));
    assert!(dependent.wait_stopped().await.is(ReasonKind::Timeout));
    root.shutdown().await;
}

#[actix_rt::test]
async fn l6_a_task_that_uses_another_stops_when_it_stops() {
    let root = Root::new();
    let log = Log::default();
    let source = root.add(Idle {
        name: "source",
        log: log.clone(),
    });
    let user = root.add(Idle {
        name: "user",
        log: log.clone(),
    });
    user.uses(&source);
    source.wait_started().await.unwrap();
    user.wait_started().await.unwrap();
    source.stop(StopReason::StopByUser("source gone".into()));
    let reason = user.wait_stopped().await;
    assert!(matches!(reason, StopReason::StopByUser(ref s) if s == "source gone"));
    // Using a task that already stopped stops at once.
    let late = root.add(Idle { name: "late", log });
    late.uses(&source);
    assert!(late.wait_stopped().await.is(ReasonKind::StopByUser));
    root.shutdown().await;
}

#[task]
struct Quick;

impl Lifecycle for Quick {
    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        Ok(())
    }
}

#[actix_rt::test]
async fn l7_job_auto_stops_after_last_child_work_does_not() {
    let root = Root::new();
    let log = Log::default();
    let job = root.add(Group {
        name: "job",
        log: log.clone(),
    });
    let work = root.add(Hub);
    let empty = root.add(Group {
        name: "empty",
        log: log.clone(),
    });
    for _ in 0..3 {
        job.add(Quick);
        work.add(Quick);
    }
    let reason = job.wait_stopped().await;
    assert!(matches!(reason, StopReason::AutoStop(ref inner) if inner.is(ReasonKind::Complete)));
    // The work's children have all ended too; the work is still there.
    while !work.children().is_empty() {
        work.call(|_, _| ()).await.unwrap();
    }
    assert!(work.state().is_active());
    // A job that never had a child does not end by itself.
    empty.call(|_, _| ()).await.unwrap();
    assert!(empty.state().is_active() && empty.stop_reason().is_none());
    root.shutdown().await;
}

#[task(key = name)]
struct Keyed {
    name: String,
}

#[actix_rt::test]
async fn l8_add_to_stopped_parent_fails_with_its_reason() {
    let root = Root::new();
    let hub = root.add(Hub);
    hub.wait_started().await.unwrap();
    hub.stop(StopReason::StopByUser("closed".into()));
    let late = hub.add(Quick);
    // Refused at once: already disposed, with the parent's reason.
    assert_eq!(late.state(), TaskState::Disposed);
    assert!(matches!(late.stop_reason(), Some(StopReason::StopByUser(ref s)) if s == "closed"));
    assert!(late.wait_started().await.is_err());
    assert!(matches!(
        late.call(|_, _| ()).await,
        Err(HandleError::Stopped(StopReason::StopByUser(_)))
    ));
    hub.wait_stopped().await;
    let after = hub.add(Quick);
    assert!(after.wait_stopped().await.is(ReasonKind::StopByUser));
    root.shutdown().await;
}

#[actix_rt::test]
async fn l8_duplicate_key_fails_with_exists() {
    let root = Root::new();
    let hub = root.add(Hub);
    let first = hub.add(Keyed {
        name: "cam1".into(),
    });
    let second = hub.add(Keyed {
        name: "cam1".into(),
    });
    assert!(matches!(second.stop_reason(), Some(StopReason::Exists(ref k)) if k == "cam1"));
    first.wait_started().await.unwrap();
    assert_eq!(hub.child_by_key("cam1").map(|t| t.id()), Some(first.id()));
    // The first is untouched; once it is gone the key is free again.
    first.stop(StopReason::StopByUser(String::new()));
    first.wait_stopped().await;
    let third = hub.add(Keyed {
        name: "cam1".into(),
    });
    third.wait_started().await.unwrap();
    root.shutdown().await;
}

/// Panics in `start` or `dispose` when told to; stays started otherwise.
#[task]
struct Panicky {
    at: &'static str,
    panic: fn(),
    log: Log,
}

impl Lifecycle for Panicky {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        let log = self.log.clone();
        cx.on_dispose(move || log.push("on_dispose"));
        cx.using(Named("resource", self.log.clone()));
        if self.at == "start" {
            (self.panic)();
        }
        Ok(())
    }
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.log.push("dispose");
        if self.at == "dispose" {
            (self.panic)();
        }
    }
}

/// Panics in `run`.
#[task]
struct PanicRun {
    panic: fn(),
}

impl Lifecycle for PanicRun {
    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        (self.panic)();
        Ok(())
    }
}

fn str_panic() {
    panic!("static str");
}
fn string_panic() {
    let text = String::from("owned string");
    std::panic::panic_any(text);
}
fn other_panic() {
    std::panic::panic_any(42_u64);
}

#[actix_rt::test]
async fn l9_panics_in_lifecycle_become_stop_reasons_of_any_payload() {
    let root = Root::new();
    let log = Log::default();
    let sibling = root.add(Hub);
    let tasks = [
        (
            root.add(Panicky {
                at: "start",
                panic: str_panic,
                log: log.clone(),
            })
            .as_task()
            .clone(),
            "static str",
        ),
        (
            root.add(PanicRun {
                panic: string_panic,
            })
            .as_task()
            .clone(),
            "owned string",
        ),
        (
            root.add(Panicky {
                at: "start",
                panic: other_panic,
                log: log.clone(),
            })
            .as_task()
            .clone(),
            "non-string panic payload",
        ),
    ];
    for (task, text) in tasks {
        match task.wait_stopped().await {
            StopReason::Panic { message, location } => {
                assert_eq!(message, text);
                assert!(location.is_some_and(|l| l.contains("lifecycle.rs")));
            }
            other => panic!("expected a panic reason, got {other}"),
        }
    }
    // The parent and the sibling keep working.
    assert!(sibling.state().is_active());
    sibling.call(|_, _| ()).await.unwrap();
    root.add(Quick).wait_stopped().await;
    root.shutdown().await;
}

#[actix_rt::test]
async fn l9_panic_in_dispose_still_completes_cleanup_and_siblings() {
    let root = Root::new();
    let log = Log::default();
    let group = root.add(Group {
        name: "group",
        log: log.clone(),
    });
    let before = group.add(Idle {
        name: "before",
        log: log.clone(),
    });
    let bad = group.add(Panicky {
        at: "dispose",
        panic: string_panic,
        log: log.clone(),
    });
    bad.wait_started().await.unwrap();
    before.wait_started().await.unwrap();
    let after = group.add(Idle {
        name: "after",
        log: log.clone(),
    });
    after.wait_started().await.unwrap();
    group.stop(StopReason::StopByUser(String::new()));
    group.wait_stopped().await;
    assert!(bad.wait_stopped().await.is(ReasonKind::StopByUser));
    assert!(log.pos("dispose after") < log.pos("dispose"));
    assert!(log.pos("dispose") < log.pos("drop resource"));
    assert!(log.pos("drop resource") < log.pos("on_dispose"));
    assert!(log.pos("on_dispose") < log.pos("dispose before"));
    assert!(log.pos("dispose before") < log.pos("dispose group"));
    assert!(bad.descriptions().contains_key("disposeError"));
    root.shutdown().await;
}

#[actix_rt::test]
async fn l9_panic_in_go_and_in_call() {
    #[task]
    struct BadGo;
    impl Lifecycle for BadGo {
        fn go(&mut self, _cx: &mut TaskCx<Self>) -> Option<Go> {
            Go::new(async {
                tokio::task::yield_now().await;
                panic!("go broke");
            })
        }
    }
    let root = Root::new();
    let bad = root.add(BadGo);
    assert!(
        matches!(bad.wait_stopped().await, StopReason::Panic { message, .. } if message == "go broke")
    );

    let job = root.add(Group {
        name: "job",
        log: Log::default(),
    });
    job.add(Hub);
    for panic in [str_panic as fn(), string_panic, other_panic] {
        let err = job.call(move |_, _| panic()).await.unwrap_err();
        assert!(matches!(err, HandleError::Panic { .. }), "{err}");
    }
    // The job keeps serving calls and its children.
    assert_eq!(job.call(|g, _| g.name).await.unwrap(), "job");
    job.add(Quick).wait_stopped().await;
    root.shutdown().await;
}

#[actix_rt::test]
async fn l10_timings_are_recorded() {
    let root = Root::new();
    let task = root.add(Quick);
    task.wait_stopped().await;
    let t = task.timings();
    assert!(t.started_at.is_some_and(|s| s >= t.created_at));
    let start = t.start_duration.expect("start duration");
    let run = t.run_duration.expect("run duration");
    let life = t.lifetime.expect("lifetime");
    assert!(life >= start + run);
    // Nanosecond resolution: a lifetime this short is not rounded to zero.
    assert!(life.as_nanos() > 0);
    root.shutdown().await;
}

#[actix_rt::test]
async fn l11_start_reason_and_path() {
    let root = Root::new();
    let group = root.add(Group {
        name: "g",
        log: Log::default(),
    });
    let line = line!() + 1;
    let idle = group.add(Idle {
        name: "i",
        log: Log::default(),
    });
    assert_eq!(idle.start_reason().line(), line);
    assert!(idle.start_reason().file().ends_with("lifecycle.rs"));
    assert_eq!(
        idle.path(),
        format!("root/Group:{}/Idle:{}", group.id(), idle.id())
    );
    root.shutdown().await;
}

#[task]
struct Described;

impl Lifecycle for Described {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.describe("url", "http://example/a.flv");
        cx.describe("port", 1935);
        cx.step("connect", "dialing");
        Ok(())
    }
}

#[actix_rt::test]
async fn l12_descriptions_set_any_time_and_visible_in_snapshots() {
    let root = Root::new();
    let task = root.add(Described);
    task.wait_started().await.unwrap();
    task.describe("later", serde_json::json!({"k": [1, 2]}));
    let d = task.descriptions();
    assert_eq!(d["url"], "http://example/a.flv");
    assert_eq!(d["port"], 1935);
    assert_eq!(d["later"]["k"][1], 2);
    task.undescribe("port");
    let info = root.snapshot();
    let mine = info.children.iter().find(|c| c.id == task.id()).unwrap();
    assert!(!mine.descriptions.contains_key("port"));
    assert_eq!(mine.steps[0].name, "connect");
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(
        json["children"][0]["descriptions"]["url"],
        "http://example/a.flv"
    );
    root.shutdown().await;
}

#[task]
struct Hooked {
    log: Log,
}

impl Lifecycle for Hooked {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.log.push("start");
        let log = self.log.clone();
        cx.on_start(move || log.push("on_start"));
        let log = self.log.clone();
        cx.on_stop(move || log.push("on_stop"));
        let log = self.log.clone();
        cx.on_dispose(move || log.push("on_dispose"));
        Ok(())
    }
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.log.push("dispose");
    }
}

#[actix_rt::test]
async fn l13_hooks_run_in_order_and_descendant_hooks_bubble() {
    let root = Root::new();
    let log = Log::default();
    let seen = Log::default();
    let (s1, s2) = (seen.clone(), seen.clone());
    root.on_descendant_start(move |t| s1.push(format!("root saw start {}", t.owner())));
    root.on_descendant_dispose(move |t| s2.push(format!("root saw dispose {}", t.owner())));
    let group = root.add(Group {
        name: "g",
        log: Log::default(),
    });
    let s3 = seen.clone();
    group.on_descendant_start(move |t| s3.push(format!("group saw start {}", t.owner())));
    let hooked = group.add(Hooked { log: log.clone() });
    hooked.wait_started().await.unwrap();
    hooked.stop(StopReason::StopByUser(String::new()));
    hooked.wait_stopped().await;
    assert_eq!(
        log.entries(),
        ["start", "on_start", "on_stop", "dispose", "on_dispose"]
    );
    let seen_entries = seen.entries();
    assert!(
        seen.pos("group saw start Hooked") < seen.pos("root saw start Hooked"),
        "{seen_entries:?}"
    );
    assert_eq!(seen.count("root saw start Group"), 1);
    assert_eq!(seen.count("root saw dispose Hooked"), 1);
    root.shutdown().await;
}

#[actix_rt::test]
async fn l13_observers_see_starts_descriptions_stops_and_disposals() {
    let root = Root::new();
    let seen = Log::default();
    let log = seen.clone();
    root.observe_descendants(move |t, event| log.push(format!("{} {}", t.owner(), event.as_str())));
    let task = root.add(Described);
    task.wait_started().await.unwrap();
    task.describe("later", 1);
    task.undescribe("later");
    task.stop(StopReason::StopByUser(String::new()));
    task.wait_stopped().await;
    let events: Vec<String> = seen.entries();
    assert_eq!(
        events,
        [
            "Described described",
            "Described described",
            "Described started",
            "Described described",
            "Described described",
            "Described stopping",
            "Described disposed"
        ]
    );
    root.shutdown().await;
}

#[task]
struct Caller {
    parent: TaskHandle<Group>,
    sibling: Option<tokio::sync::oneshot::Receiver<TaskRef>>,
}

impl Lifecycle for Caller {
    async fn run(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        let err = self.parent.call(|g, _| g.name).await.unwrap_err();
        cx.describe("call", err.to_string());
        if let Some(rx) = self.sibling.take() {
            let sibling = rx.await?;
            let err = sibling.wait_started().await.unwrap_err();
            cx.describe("wait", err.to_string());
        }
        let own = cx.handle().call(|_, _| ()).await.unwrap_err();
        cx.describe("own", own.to_string());
        Ok(())
    }
}

#[actix_rt::test]
async fn l14_call_is_typed_and_deadlocks_fail_at_once() {
    let root = Root::new();
    let group = root.add(Group {
        name: "grp",
        log: Log::default(),
    });
    assert_eq!(
        group
            .call(|g, cx| format!("{}:{}", g.name, cx.id()))
            .await
            .unwrap(),
        format!("grp:{}", group.id())
    );
    let (tx, rx) = tokio::sync::oneshot::channel();
    let caller = group.add(Caller {
        parent: group.clone(),
        sibling: Some(rx),
    });
    let sibling = group.add(Quick);
    tx.send(sibling.as_task().clone()).unwrap();
    caller.wait_stopped().await;
    let d = caller.descriptions();
    let call = d["call"].as_str().unwrap();
    assert!(
        call.contains("deadlock") && call.contains(&caller.path()) && call.contains(&group.path()),
        "{call}"
    );
    assert!(d["wait"].as_str().unwrap().contains("deadlock"));
    assert!(d["own"].as_str().unwrap().contains("deadlock"));
    root.shutdown().await;
    // On a disposed job, a call fails cleanly with the job's stop reason.
    // (The group is a job: it ended by itself when its last child did.)
    let err = group.call(|g, _| g.name).await.unwrap_err();
    assert!(
        matches!(err, HandleError::Stopped(ref r) if r.is(ReasonKind::AutoStop)),
        "{err}"
    );
}

#[task(job)]
struct Runner {
    done: tokio::sync::mpsc::UnboundedSender<String>,
}

impl Lifecycle for Runner {
    async fn run(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        let reason = cx.run_task(Quick).await;
        let _ = self.done.send(format!("child ended: {reason}"));
        Ok(())
    }
}

#[actix_rt::test]
async fn l14_run_task_returns_the_child_reason_and_stops_with_the_caller() {
    let root = Root::new();
    let (done, mut ended) = tokio::sync::mpsc::unbounded_channel();
    root.add(Runner { done });
    assert_eq!(ended.recv().await.as_deref(), Some("child ended: complete"));

    let hub = root.add(Hub);
    let pending = hub.run_task(Live);
    hub.stop(StopReason::StopByUser("caller gone".into()));
    assert!(matches!(pending.await, StopReason::StopByUser(s) if s == "caller gone"));
    root.shutdown().await;
}

#[task]
struct Restartable {
    log: Log,
    started: tokio::sync::mpsc::UnboundedSender<TaskId>,
}

impl Lifecycle for Restartable {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.log.push(format!("start {}", cx.id()));
        let _ = self.started.send(cx.id());
        Ok(())
    }
    async fn run(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.stopped().await;
        Ok(())
    }
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.log.push("dispose");
    }
}

#[actix_rt::test]
async fn l14_restart_disposes_and_starts_again_in_place() {
    let root = Root::new();
    let log = Log::default();
    let (started, mut starts) = tokio::sync::mpsc::unbounded_channel();
    // Its run holds its parent's mailbox, so it gets a parent of its own.
    let task = root.add(Hub).add(Restartable {
        log: log.clone(),
        started,
    });
    assert_eq!(starts.recv().await, Some(task.id()));
    assert!(task.restart());
    assert!(
        !task.restart(),
        "a second restart while one is pending is refused"
    );
    assert_eq!(starts.recv().await, Some(task.id()));
    let start = format!("start {}", task.id());
    assert_eq!(log.entries(), [start.clone(), "dispose".into(), start]);
    assert!(task.stop_reason().is_none());
    // An idle task (no run) restarts the same way; the mailbox answers the call after it.
    let idle_log = Log::default();
    let hub = root.add(Hub);
    let idle = hub.add(Idle {
        name: "i",
        log: idle_log.clone(),
    });
    idle.wait_started().await.unwrap();
    assert!(idle.restart());
    hub.call(|_, _| ()).await.unwrap();
    assert_eq!(idle_log.entries(), ["start i", "dispose i", "start i"]);
    // The root has no parent to restart it: refused, and it is not left half-asked.
    assert!(!root.restart());
    let asked = tokio::time::timeout(Duration::ZERO, root.stopped()).await;
    assert!(asked.is_err(), "the root's stop signal fired: {asked:?}");
    root.shutdown().await;
    assert!(!task.restart());
}

#[task]
struct Stuck;

impl Lifecycle for Stuck {
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        std::future::pending::<()>().await;
    }
}

#[actix_rt::test]
async fn l15_shutdown_disposes_everything_children_first() {
    let root = Root::new();
    let log = Log::default();
    let group = root.add(Group {
        name: "g",
        log: log.clone(),
    });
    for name in ["a", "b"] {
        group
            .add(Idle {
                name,
                log: log.clone(),
            })
            .wait_started()
            .await
            .unwrap();
    }
    let all: Vec<TaskRef> = std::iter::once(group.as_task().clone())
        .chain(group.children())
        .collect();
    assert!(root.shutdown().await.is(ReasonKind::Exit));
    assert_eq!(
        log.entries()
            .iter()
            .filter(|e| e.starts_with("dispose"))
            .count(),
        3
    );
    assert_eq!(log.entries().last().map(String::as_str), Some("dispose g"));
    assert!(all.iter().all(|t| t.state() == TaskState::Disposed));
    assert_eq!(root.state(), TaskState::Disposed);
}

#[actix_rt::test]
async fn l15_shutdown_deadline_reports_hung_disposes() {
    tokio::time::pause();
    let root = Root::new();
    let hub = root.add(Hub);
    let stuck = hub.add(Stuck);
    stuck.wait_started().await.unwrap();
    let err = root
        .shutdown_within(Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(err.pending, [stuck.path()]);
}

#[actix_rt::test]
async fn dropping_every_handle_keeps_the_task_running() {
    let root = Root::new();
    let log = Log::default();
    let id = {
        let idle = root.add(Idle {
            name: "orphan",
            log: log.clone(),
        });
        idle.wait_started().await.unwrap();
        idle.id()
    };
    let found = root.find(id).expect("still in the tree");
    assert!(found.state().is_active());
    root.shutdown().await;
    assert_eq!(log.count("dispose orphan"), 1);
}
