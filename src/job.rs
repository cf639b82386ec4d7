//! A task's children: their lifecycle, run in this task's mailbox.
//!
//! Every step of a child's life — start, run, dispose, the decision to retry — runs inside
//! the parent actor's `ctx.wait`, so no two of them (nor a `call` to the parent) ever run at
//! the same time or interleave at an `.await` (L2). What reaches the mailbox:
//!
//! | message | what the parent does |
//! |---|---|
//! | `Adopt` | builds the child's actor, starts it, then runs `run` or hands `go` to the child's actor |
//! | `ChildStopped` | disposes the child: its children, `dispose`, resources, hooks |
//! | `ChildEnded` | concludes the attempt as a returned `run` would (a `go` returned, a feed ended, a job failed) |
//! | `ChildRestart` | disposes the child and starts it again (L14) |
//! | `RetryChild` | starts the child again after its backoff delay (R2) |
//! | `DisposeChildren` | disposes every child, last started first (L5) |
//!
//! Each event costs O(1) in the number of siblings; only disposing all children sorts them.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, AsyncContext, Context};
use tokio::sync::oneshot;

use crate::node::Node;
use crate::reason::StopReason;
use crate::state::{IdMap, Kind, TaskEvent, TaskId, TaskState};
use crate::strategy::{RestartKind, Strategy};
use crate::task::{ChildOps, Control, Soon};

/// The children a task's actor drives, by id.
#[derive(Default)]
pub(crate) struct Children {
    links: RefCell<IdMap<Rc<dyn ChildOps>>>,
}

impl Children {
    fn get(&self, id: TaskId) -> Option<Rc<dyn ChildOps>> {
        self.links.borrow().get(&id).cloned()
    }

    /// Every child, in disposal order: those never started first, then the last started
    /// first (L5). Sorting once keeps disposing N children O(N log N).
    fn disposal_order(&self) -> Vec<Rc<dyn ChildOps>> {
        let mut order: Vec<(u64, Rc<dyn ChildOps>)> = self
            .links
            .borrow()
            .values()
            .map(|c| {
                let inner = c.node().lock();
                let rank = if inner.ever_started {
                    inner.start_seq
                } else {
                    u64::MAX
                };
                (rank, c.clone())
            })
            .collect();
        order.sort_by_key(|(rank, _)| std::cmp::Reverse(*rank));
        order.into_iter().map(|(_, c)| c).collect()
    }

    /// The failing child and the live siblings whose start order `pick` accepts, in start
    /// order: who restarts under a one-for-all or rest-for-one strategy.
    fn restart_group(
        &self,
        failing: &Arc<Node>,
        pick: impl Fn(u64) -> bool,
    ) -> Vec<Rc<dyn ChildOps>> {
        let mut group: Vec<(u64, Rc<dyn ChildOps>)> = self
            .links
            .borrow()
            .values()
            .filter_map(|c| {
                let node = c.node();
                let seq = node.lock().start_seq;
                let live = node.state().is_active() && !node.is_stopping();
                let member = Arc::ptr_eq(node, failing) || (live && pick(seq));
                member.then(|| (seq, c.clone()))
            })
            .collect();
        group.sort_by_key(|(seq, _)| *seq);
        group.into_iter().map(|(_, c)| c).collect()
    }

    fn contains(&self, id: TaskId) -> bool {
        self.links.borrow().contains_key(&id)
    }
}

/// How one attempt of a child ended.
enum Ended {
    StartFailed(StopReason),
    Returned(Result<(), StopReason>),
    /// Nothing ended by itself: a stop or restart was asked.
    Interrupted,
}

/// Handles a framework message about this task's children.
pub(crate) fn handle<A>(node: &Arc<Node>, kids: &Rc<Children>, msg: Control, ctx: &mut Context<A>)
where
    A: Actor<Context = Context<A>>,
{
    let parent = node.clone();
    let kids = kids.clone();
    // Unboxed: actix boxes what it waits on, once.
    fn wait<A, F>(ctx: &mut Context<A>, fut: F)
    where
        A: Actor<Context = Context<A>>,
        F: std::future::Future<Output = ()> + 'static,
    {
        ctx.wait(actix::fut::wrap_future::<_, A>(fut));
    }
    // Once this task is stopping, its children are disposed together by `dispose_all`, last
    // started first (L5): a child that ends meanwhile — its `go` returning because of the
    // stop — must not be disposed on its own, out of that order.
    let child_event = matches!(
        msg,
        Control::ChildStopped(_)
            | Control::ChildEnded(..)
            | Control::ChildEvent(..)
            | Control::ChildRestart(_)
            | Control::RetryChild(_)
    );
    if child_event && parent.is_stopping() {
        return;
    }
    match msg {
        Control::Adopt(adoption) => {
            if let Some(ops) = adoption.open() {
                kids.links.borrow_mut().insert(ops.node().id, ops.clone());
                wait(ctx, drive(parent, kids, ops, None));
            }
        }
        Control::ChildStopped(id) => {
            if let Some(ops) = kids.get(id) {
                wait(ctx, drive(parent, kids, ops, Some(Ended::Interrupted)));
            }
        }
        Control::ChildEnded(id, attempt, out) => {
            if let Some(ops) = kids.get(id) {
                let node = ops.node();
                let current = matches!(node.state(), TaskState::Started | TaskState::Going)
                    && node.lock().attempt == attempt;
                if current {
                    wait(ctx, drive(parent, kids, ops, Some(Ended::Returned(out))));
                }
            }
        }
        Control::ChildEvent(id, attempt, done) => {
            if let Some(ops) = kids.get(id) {
                let node = ops.node();
                let current = node.state() == TaskState::Going && node.lock().attempt == attempt;
                if current && !node.is_stopping() && !node.restart_requested() {
                    wait(ctx, async move {
                        let handled = holding(
                            &parent,
                            ops.node(),
                            Instant::now(),
                            ops.clone().handle_pending(),
                        )
                        .await;
                        match handled {
                            Ok(()) => {
                                let _ = done.send(());
                            }
                            Err(reason) => {
                                drive(parent, kids, ops, Some(Ended::Returned(Err(reason)))).await
                            }
                        }
                    });
                }
            }
        }
        Control::ChildRestart(id) => {
            if let Some(ops) = kids.get(id) {
                let idle = matches!(
                    ops.node().state(),
                    TaskState::Init | TaskState::Started | TaskState::Going
                );
                if idle && ops.node().restart_requested() {
                    wait(ctx, drive(parent, kids, ops, Some(Ended::Interrupted)));
                }
            }
        }
        Control::RetryChild(id) => {
            if let Some(ops) = kids.get(id).filter(|c| c.node().state() == TaskState::Init) {
                wait(ctx, drive(parent, kids, ops, None));
            }
        }
        Control::DisposeChildren(reason, done) => {
            wait(ctx, async move {
                dispose_all(&parent, &kids, reason).await;
                let _ = done.send(());
            });
        }
        Control::DisposeSelf => {
            wait(ctx, async move {
                let reason = parent.stopping_with(StopReason::Disposed);
                parent.set_state(TaskState::Disposing);
                dispose_all(&parent, &kids, reason).await;
                parent.with_timings(|t| t.lifetime = Some(t.created.elapsed()));
                // Disposed once the actor has ended too (see `Node::end_actor`).
                parent.ctl(Control::Terminate);
            });
        }
        Control::Drain | Control::Terminate => {}
    }
}

/// Runs a child's attempts until it is left running, waiting for a retry, or disposed.
/// `first` concludes an attempt that ended while the mailbox was free.
async fn drive(
    parent: Arc<Node>,
    kids: Rc<Children>,
    ops: Rc<dyn ChildOps>,
    mut first: Option<Ended>,
) {
    loop {
        let ended = match first.take() {
            Some(ended) => ended,
            None => match attempt(&parent, &ops).await {
                Some(ended) => ended,
                None => return,
            },
        };
        match conclude(&parent, &kids, &ops, ended).await {
            Next::Done => return,
            Next::Again => continue,
            Next::RetryAfter(delay) => {
                schedule(&parent, vec![ops.node().id], delay);
                return;
            }
        }
    }
}

/// One attempt: start, then `run` (held here) or `go` (polled by the child's own actor
/// future). `None` when the child is left alive: started with no `run`, or going.
async fn attempt(parent: &Arc<Node>, ops: &Rc<dyn ChildOps>) -> Option<Ended> {
    let node = ops.node().clone();
    if node.is_stopping() || node.restart_requested() {
        return Some(Ended::Interrupted);
    }
    // Clock reads are a measurable part of a short task's life: each instant read here
    // serves every timing taken at that moment.
    let began = Instant::now();
    {
        let mut inner = node.lock();
        inner.attempt += 1;
        inner.up_since = None;
        if let Some(rare) = inner.rare.as_deref_mut() {
            rare.supervision.reset();
        }
        inner.timings.started_at = Some(inner.timings.wall_clock(began));
    }
    node.set_state(TaskState::Starting);
    let started = match ops.clone().start() {
        Some(step) => holding(parent, &node, began, step).await,
        None => Ok(()),
    };
    let run_began = Instant::now();
    if let Err(reason) = started {
        node.with_timings(|t| t.start_duration = Some(run_began - began));
        return Some(Ended::StartFailed(reason));
    }
    let seq = {
        let mut inner = parent.lock();
        inner.next_seq += 1;
        inner.next_seq
    };
    {
        let mut inner = node.lock();
        inner.timings.start_duration = Some(run_began - began);
        inner.start_seq = seq;
        inner.ever_started = true;
        // Only a task with a retry policy (kept among the rare fields) needs it (R3).
        inner.up_since = inner.rare.is_some().then(tokio::time::Instant::now);
    }
    node.set_state(TaskState::Started);
    crate::metrics::started(node.kind);
    tracing::debug!(parent: &node.span, "started");
    ops.started();
    node.bubble(TaskEvent::Started);
    if node.is_stopping() || node.restart_requested() {
        return Some(Ended::Interrupted);
    }
    node.set_state(TaskState::Running);
    node.with_timings(|t| t.run_began = Some(run_began));
    let ran = match ops.clone().run() {
        Some(step) => holding(parent, &node, run_began, step).await,
        None => None,
    };
    node.with_timings(|t| {
        if ran.is_some() {
            t.run_duration = Some(run_began.elapsed());
        }
        t.run_began = None;
    });
    if let Some(out) = ran {
        return Some(Ended::Returned(out));
    }
    node.set_state(TaskState::Started);
    let went = match ops.clone().go() {
        Soon::Now(went) => went,
        Soon::Later(step) => step.await,
    };
    match went {
        Ok(true) => {
            node.set_state(TaskState::Going);
            None
        }
        Ok(false) => None,
        Err(panic) => Some(Ended::Returned(Err(panic))),
    }
}

enum Next {
    Done,
    Again,
    RetryAfter(Duration),
}

/// Decides what follows an attempt (R2–R4, L7, L14) and disposes as needed.
async fn conclude(
    parent: &Arc<Node>,
    kids: &Children,
    ops: &Rc<dyn ChildOps>,
    ended: Ended,
) -> Next {
    let node = ops.node();
    if let Some(reason) = node.shared_reason() {
        finish(parent, kids, ops, reason).await;
        return Next::Done;
    }
    if node.take_restart() {
        tracing::debug!(parent: &node.span, "restart");
        crate::metrics::restarted();
        teardown(parent, ops, Arc::new(StopReason::Restart)).await;
        node.set_state(TaskState::Init);
        return Next::Again;
    }
    let kind = node.lock().restart_kind;
    let (ending, restartable) = match ended {
        Ended::Interrupted => return Next::Done,
        Ended::Returned(Ok(())) if !node.kind.ends_with_its_work() => return Next::Done,
        Ended::Returned(Ok(())) => (StopReason::Complete, kind == RestartKind::Permanent),
        Ended::Returned(Err(reason)) | Ended::StartFailed(reason) => {
            crate::metrics::failed(&reason);
            let restartable = match kind {
                RestartKind::Temporary => false,
                RestartKind::Transient => reason.is_retryable(),
                RestartKind::Permanent => true,
            };
            (reason, restartable)
        }
    };
    let decision = if restartable && !parent.is_stopping() {
        plan_retry(node, ending)
    } else {
        Err(ending)
    };
    let (n, delay, failure) = match decision {
        Ok(next) => next,
        Err(reason) => {
            let reason = node.stopping_with(reason);
            finish(parent, kids, ops, reason).await;
            return Next::Done;
        }
    };
    let (admitted, strategy) = {
        let mut inner = parent.lock();
        let supervision = inner.supervision();
        (supervision.admit_restart(), supervision.strategy)
    };
    if !admitted {
        tracing::warn!(parent: &parent.span, child = node.id.get(), "restart intensity exceeded");
        parent.lock().supervision().gave_up = true;
        let reason = node.stopping_with(failure);
        finish(parent, kids, ops, reason).await;
        parent.fail(StopReason::RestartIntensity);
        return Next::Done;
    }
    commit_retry(node, n, delay, &failure);
    let failure = Arc::new(failure);
    let group = match strategy {
        Strategy::OneForOne => return recycle(parent, ops, failure, delay).await,
        Strategy::OneForAll => kids.restart_group(node, |_| true),
        Strategy::RestForOne => {
            let from = node.lock().start_seq;
            kids.restart_group(node, |seq| seq >= from)
        }
    };
    // Boxed, being rare: its loop would make every step's future larger.
    Box::pin(restart_members(parent, group, failure, delay)).await;
    Next::Done
}

/// Disposes a one-for-all or rest-for-one group, last started first, then starts it again
/// in start order, all after the failing child's delay.
async fn restart_members(
    parent: &Arc<Node>,
    group: Vec<Rc<dyn ChildOps>>,
    failure: Arc<StopReason>,
    delay: Duration,
) {
    for member in group.iter().rev() {
        teardown(parent, member, failure.clone()).await;
        member.node().set_state(TaskState::Init);
    }
    crate::metrics::restarted();
    let ids: Vec<TaskId> = group.iter().map(|m| m.node().id).collect();
    schedule(parent, ids, delay);
}

/// Disposes the attempt of one child that will be started again after `delay`.
async fn recycle(
    parent: &Arc<Node>,
    ops: &Rc<dyn ChildOps>,
    failure: Arc<StopReason>,
    delay: Duration,
) -> Next {
    teardown(parent, ops, failure).await;
    ops.node().set_state(TaskState::Init);
    Next::RetryAfter(delay)
}

/// Starts the children `ids` again, in this order, after `delay`.
fn schedule(parent: &Arc<Node>, ids: Vec<TaskId>, delay: Duration) {
    let parent = parent.clone();
    let send = move || {
        for id in ids {
            parent.ctl(Control::RetryChild(id));
        }
    };
    if delay.is_zero() {
        send();
    } else {
        actix_rt::spawn(async move {
            tokio::time::sleep(delay).await;
            send();
        });
    }
}

/// The number and delay of the next retry, or the final reason when there is none (R1, R3).
fn plan_retry(node: &Node, failure: StopReason) -> Result<(u32, Duration, StopReason), StopReason> {
    let mut inner = node.lock();
    let retry = inner.read(|r| r.retry);
    if inner
        .up_since
        .is_some_and(|since| since.elapsed() >= retry.stable_period())
    {
        inner.retry_count = 0;
    }
    let n = inner.retry_count + 1;
    if retry.allows(n) {
        return Ok((n, retry.delay(n), failure));
    }
    Err(
        if inner.retry_count == 0 || failure.is(crate::ReasonKind::Complete) {
            failure
        } else {
            StopReason::RetryExhausted {
                retries: inner.retry_count,
                last: Box::new(failure),
            }
        },
    )
}

/// Records retry number `n`, visible as the description `retry` (R3).
fn commit_retry(node: &Arc<Node>, n: u32, delay: Duration, failure: &StopReason) {
    let shown = {
        let mut inner = node.lock();
        inner.retry_count = n;
        let rare = inner.rare();
        rare.last_failure = Some(failure.clone());
        rare.retry.describe(n)
    };
    node.describe("retry".to_owned(), Some(serde_json::Value::String(shown)));
    crate::metrics::retried();
    tracing::info!(parent: &node.span, attempt = n, delay_ms = delay.as_millis() as u64, reason = %failure, "retry");
    node.bubble(TaskEvent::Retry);
}

/// Disposes a child for good and forgets it; then a job whose last child this was stops
/// with `AutoStop` (L7).
// The reason travels as the task's own shared `Arc`: a copy would be 48 bytes in each
// nested step's future, which decides whether it fits malloc's small-size cache.
async fn finish(
    parent: &Arc<Node>,
    kids: &Children,
    ops: &Rc<dyn ChildOps>,
    reason: Arc<StopReason>,
) {
    let dismissed = dismiss(parent, kids, ops, reason).await;
    settle(parent, dismissed).await;
}

/// A child torn down, forgotten and told to end its actor, not yet recorded as disposed.
struct Dismissed {
    ops: Rc<dyn ChildOps>,
    reason: Arc<StopReason>,
    began: Instant,
    /// It was its parent's last child.
    last: bool,
}

/// The first half of [`finish`]: everything that runs in the parent's mailbox.
async fn dismiss(
    parent: &Arc<Node>,
    kids: &Children,
    ops: &Rc<dyn ChildOps>,
    reason: Arc<StopReason>,
) -> Dismissed {
    let node = ops.node();
    let began = Instant::now();
    teardown(parent, ops, reason.clone()).await;
    kids.links.borrow_mut().remove(&node.id);
    let last = {
        let mut inner = parent.lock();
        inner.forget(node);
        let gave_up = inner.read(|r| r.supervision.gave_up);
        inner.children.is_empty() && inner.had_child && !gave_up
    };
    ops.terminate();
    Dismissed {
        ops: ops.clone(),
        reason,
        began,
        last,
    }
}

/// The second half of [`finish`]: the task is disposed once its actor is gone too, so
/// that nothing of it keeps running; then a job whose last child this was auto-stops.
async fn settle(parent: &Arc<Node>, dismissed: Dismissed) {
    let Dismissed {
        ops,
        reason,
        began,
        last,
    } = dismissed;
    let node = ops.node();
    node.actor_gone().await;
    let ended = Instant::now();
    node.with_timings(|t| t.lifetime = Some(ended - t.created));
    node.set_state(TaskState::Disposed);
    let took = ended - began;
    crate::metrics::disposed(node.kind, took);
    tracing::debug!(parent: &node.span, reason = %reason, duration_us = took.as_micros() as u64, "disposed");
    node.bubble(TaskEvent::Disposed);
    if last && parent.kind == Kind::Job && parent.state().is_active() {
        parent.stop(StopReason::AutoStop(Box::new(StopReason::clone(&reason))));
    }
}

/// Disposes what an attempt acquired: the child's children (last started first), its
/// `dispose` if its start succeeded, then its resources and hooks. A panic in `dispose` is
/// reported and the rest still runs (L9).
async fn teardown(parent: &Arc<Node>, ops: &Rc<dyn ChildOps>, reason: Arc<StopReason>) {
    let node = ops.node().clone();
    let was = node.state();
    node.set_state(TaskState::Disposing);
    let has_children = !node.lock().children.is_empty();
    if has_children {
        let (done, wait) = oneshot::channel();
        node.ctl(Control::DisposeChildren(reason, done));
        let _ = wait.await;
    }
    let started = matches!(
        was,
        TaskState::Started | TaskState::Running | TaskState::Going
    );
    let step = if started { ops.clone().dispose() } else { None };
    if let Some(step) = step {
        let deadline = node
            .lock()
            .read(|r| r.dispose_deadline)
            .or_else(|| parent.lock().read(|r| r.supervision.child_dispose_deadline));
        let dispose = holding(parent, &node, Instant::now(), step);
        let disposed = match deadline {
            None => Some(dispose.await),
            // Boxed: the timer would make every step's future larger, deadline or not.
            Some(deadline) => Box::pin(within(deadline, dispose)).await,
        };
        let disposed = disposed.unwrap_or_else(|| {
            tracing::warn!(parent: &node.span, deadline_ms = deadline.unwrap_or_default().as_millis() as u64, "dispose abandoned at its deadline");
            node.describe_failure("disposeTimeout", &StopReason::Timeout);
            Ok(())
        });
        if let Err(panic) = disposed {
            tracing::warn!(parent: &node.span, reason = %panic, "dispose failed");
            node.describe_failure("disposeError", &panic);
        }
    }
    ops.release();
}

/// Disposes every child of `parent`, last started first (L5).
async fn dispose_all(parent: &Arc<Node>, kids: &Children, shared: Arc<StopReason>) {
    // Children adopted while these are disposed are picked up by the next round.
    loop {
        let order = kids.disposal_order();
        if order.is_empty() {
            return;
        }
        // Each child is disposed in order, but their actors end together: waiting for each
        // before disposing the next would cost a switch to the parent's actor per child.
        let mut dismissed = Vec::with_capacity(order.len());
        for child in order {
            if kids.contains(child.node().id) {
                child.node().stop_with(shared.clone());
                let reason = child
                    .node()
                    .shared_reason()
                    .unwrap_or_else(|| shared.clone());
                dismissed.push(dismiss(parent, kids, &child, reason).await);
            }
        }
        for child in dismissed {
            settle(parent, child).await;
        }
    }
}

/// `fut`'s output if it finishes within `deadline`; a zero deadline polls it just once.
async fn within<F: std::future::Future>(deadline: Duration, fut: F) -> Option<F::Output> {
    if deadline.is_zero() {
        let mut fut = std::pin::pin!(fut);
        return std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match fut.as_mut().poll(cx) {
                std::task::Poll::Ready(out) => Some(out),
                std::task::Poll::Pending => None,
            })
        })
        .await;
    }
    tokio::time::timeout(deadline, fut).await.ok()
}

/// Runs one lifecycle step of `child`, recording that it holds `parent`'s mailbox from
/// `since` (the caller's clock read).
async fn holding<R>(
    parent: &Node,
    child: &Node,
    since: Instant,
    step: impl std::future::Future<Output = R>,
) -> R {
    /// Clears the record however the step ends: done, or dropped at a deadline.
    struct Held<'a>(&'a Node);
    impl Drop for Held<'_> {
        fn drop(&mut self) {
            self.0.lock().set_blocked_on(None);
        }
    }
    parent.lock().set_blocked_on(Some((child.id, since)));
    let _held = Held(parent);
    step.await
}
