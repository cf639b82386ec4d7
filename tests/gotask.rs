//! GoTask's own test suite, ported: the same scenarios, written for tasktree.

mod common;

use std::time::Duration;

use common::Log;
use tasktree::prelude::*;

#[task(work)]
struct Hub;

#[task(job)]
struct Parent {
    log: Log,
}

impl Lifecycle for Parent {
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.log.push("dispose parent");
    }
}

#[task]
struct Child {
    name: &'static str,
    log: Log,
    finish: bool,
}

impl Lifecycle for Child {
    /// A finishing child completes at once; the others live until stopped.
    fn go(&mut self, cx: &mut TaskCx<Self>) -> Option<Go> {
        let finish = self.finish;
        let stopped = cx.stopped();
        Go::new(async move {
            if !finish {
                stopped.await;
            }
            Ok(())
        })
    }
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.log.push(format!("dispose {}", self.name));
    }
}

#[actix_rt::test]
async fn gotask_add_task_to_root() {
    let root = Root::new();
    let hub = root.add(Hub);
    hub.wait_started().await.unwrap();
    assert_eq!(root.children(), [hub.as_task().clone()]);
    assert_eq!(hub.parent(), Some(root.as_task().clone()));
    root.shutdown().await;
}

#[task]
struct AlwaysFails {
    starts: u32,
}

impl Lifecycle for AlwaysFails {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.set_retry(Retry::from_gotask(3, Duration::from_secs(1)));
        self.starts += 1;
        cx.describe("starts", self.starts);
        Err(TaskError::msg("always"))
    }
}

#[actix_rt::test]
async fn gotask_retry_count_3() {
    tokio::time::pause();
    let root = Root::new();
    let task = root.add(AlwaysFails { starts: 0 });
    assert!(task.wait_started().await.is_err());
    assert_eq!(task.retry_count(), 3);
    assert_eq!(task.descriptions()["starts"], 4);
    assert!(task.wait_stopped().await.is(ReasonKind::RetryExhausted));
    root.shutdown().await;
}

#[actix_rt::test]
async fn gotask_call_on_an_idle_job() {
    let root = Root::new();
    let job = root.add(Parent {
        log: Log::default(),
    });
    job.wait_started().await.unwrap();
    let answer = job.call(|_, cx| cx.id()).await.unwrap();
    assert_eq!(answer, job.id());
    // An idle job stays: a call is not a child.
    assert!(job.state().is_active());
    root.shutdown().await;
}

#[actix_rt::test]
async fn gotask_stop_by_external_cancellation() {
    let root = Root::new();
    let hub = root.add(Hub);
    let child = hub.add(Child {
        name: "c",
        log: Log::default(),
        finish: false,
    });
    child.wait_started().await.unwrap();
    // The cancellation comes from another OS thread, as a context's cancel would.
    let remote = child.as_task().clone();
    std::thread::spawn(move || remote.stop(StopReason::Canceled))
        .join()
        .unwrap();
    assert!(child.wait_stopped().await.is(ReasonKind::Canceled));
    root.shutdown().await;
}

#[actix_rt::test]
async fn gotask_parent_stop_order() {
    let root = Root::new();
    let log = Log::default();
    let parent = root.add(Parent { log: log.clone() });
    for name in ["1", "2", "3"] {
        parent
            .add(Child {
                name,
                log: log.clone(),
                finish: false,
            })
            .wait_started()
            .await
            .unwrap();
    }
    parent.stop(StopReason::StopByUser(String::new()));
    parent.wait_stopped().await;
    // Deterministic, unlike GoTask's map order: last started, first disposed.
    assert_eq!(
        log.entries(),
        ["dispose 3", "dispose 2", "dispose 1", "dispose parent"]
    );
    root.shutdown().await;
}

#[actix_rt::test]
async fn gotask_parent_auto_stop() {
    let root = Root::new();
    let log = Log::default();
    let parent = root.add(Parent { log: log.clone() });
    parent.add(Child {
        name: "a",
        log: log.clone(),
        finish: true,
    });
    parent.add(Child {
        name: "b",
        log: log.clone(),
        finish: true,
    });
    assert!(parent.wait_stopped().await.is(ReasonKind::AutoStop));
    assert_eq!(log.entries(), ["dispose a", "dispose b", "dispose parent"]);
    root.shutdown().await;
}

#[task]
struct HookOrder {
    log: Log,
}

impl Lifecycle for HookOrder {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        let log = self.log.clone();
        cx.on_start(move || log.push("on_start"));
        let log = self.log.clone();
        cx.on_stop(move || log.push("on_stop"));
        let log = self.log.clone();
        cx.on_dispose(move || log.push("on_dispose"));
        Ok(())
    }
    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.log.push("run");
        Ok(())
    }
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.log.push("dispose");
    }
}

#[actix_rt::test]
async fn gotask_hooks_order() {
    let root = Root::new();
    let log = Log::default();
    let task = root.add(HookOrder { log: log.clone() });
    assert!(task.wait_stopped().await.is(ReasonKind::Complete));
    assert_eq!(
        log.entries(),
        ["on_start", "run", "on_stop", "dispose", "on_dispose"]
    );
    root.shutdown().await;
}

#[task]
struct BadStart {
    log: Log,
}

impl Lifecycle for BadStart {
    async fn start(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused").into())
    }
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.log.push("dispose");
    }
}

#[actix_rt::test]
async fn gotask_start_failure() {
    let root = Root::new();
    let log = Log::default();
    let task = root.add(BadStart { log: log.clone() });
    let err = task.wait_started().await.unwrap_err();
    match err {
        HandleError::Stopped(StopReason::Failed(source)) => {
            let io = source
                .downcast_ref::<std::io::Error>()
                .expect("the user's error is kept");
            assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected Failed, got {other}"),
    }
    // dispose releases what a successful start acquired; this start acquired nothing.
    assert!(log.entries().is_empty());
    root.shutdown().await;
}

/// A start that blocks until the task's own on_stop hook releases it.
#[task]
struct BlockedStart {
    entered: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Lifecycle for BlockedStart {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        cx.on_stop(move || drop(release));
        if let Some(entered) = self.entered.take() {
            let _ = entered.send(());
        }
        let _ = released.await;
        Err(TaskError::msg("stopped while starting"))
    }
}

#[actix_rt::test]
async fn gotask_child_whose_start_blocks_until_on_stop() {
    let root = Root::new();
    let hub = root.add(Hub);
    let (entered, in_start) = tokio::sync::oneshot::channel();
    let child = hub.add(BlockedStart {
        entered: Some(entered),
    });
    in_start.await.unwrap();
    assert_eq!(child.state(), TaskState::Starting);
    child.stop(StopReason::StopByUser("unblock".into()));
    assert!(child.wait_stopped().await.is(ReasonKind::StopByUser));
    assert!(child.wait_started().await.is_err());
    root.shutdown().await;
}
