//! Handles to tasks: [`TaskRef`] for any task, [`TaskHandle<T>`] for a task of known type.
//!
//! Both are `Send + Sync + Clone` and can be kept anywhere (an actix-web `web::Data`, another
//! thread). Dropping every handle of a live task changes nothing: the task keeps running
//! until it is stopped or ends by itself, because its parent holds it.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::panic::Location;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix::{Addr, Message};
use serde::Serialize;
use tokio::sync::oneshot;

use crate::node::{EventSet, Node};
use crate::reason::{HandleError, StopReason};
use crate::retry::Retry;
use crate::state::{Descriptions, Kind, Step, TaskEvent, TaskId, TaskState, Timings};
use crate::strategy::{Intensity, RestartKind, Strategy};
use crate::supervisor::{catch_in, current};
use crate::task::{Adoption, CallMsg, Handles, Task, TaskActor, UserMsg};

/// A handle to any task in the tree, whatever its type.
///
/// It reads the task's state and controls its life: stop, restart, wait, add children.
#[derive(Clone)]
pub struct TaskRef {
    pub(crate) node: Arc<Node>,
}

impl TaskRef {
    pub(crate) fn from_node(node: Arc<Node>) -> Self {
        Self { node }
    }

    /// The task's unique id (L4).
    pub fn id(&self) -> TaskId {
        self.node.id
    }

    /// The task's kind.
    pub fn kind(&self) -> Kind {
        self.node.kind
    }

    /// The owner type's name (the user's struct).
    pub fn owner(&self) -> &'static str {
        self.node.owner
    }

    /// The task's key among its siblings, if it has one.
    pub fn key(&self) -> Option<&str> {
        self.node.key.as_deref()
    }

    /// Depth in the tree: the root is 0.
    pub fn level(&self) -> u16 {
        self.node.level
    }

    /// The path of ancestors, `root/Connection:2/Puller:3` (L11).
    pub fn path(&self) -> String {
        self.node.path()
    }

    /// Where the task was added: the caller of `add` (L11).
    pub fn start_reason(&self) -> &'static Location<'static> {
        self.node.location
    }

    /// The task's tracing span: every event of the task is inside it (L11).
    pub fn span(&self) -> &tracing::Span {
        &self.node.span
    }

    /// The parent, or `None` for the root.
    pub fn parent(&self) -> Option<TaskRef> {
        self.node.parent.clone().map(TaskRef::from_node)
    }

    /// The current state (L1).
    pub fn state(&self) -> TaskState {
        self.node.state()
    }

    /// The stop reason, once the task was asked to stop (the first reason given wins).
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.node.reason()
    }

    /// Whether the task was asked to stop.
    pub fn is_stopping(&self) -> bool {
        self.node.is_stopping()
    }

    /// Whether the task has started and is neither stopping nor being disposed.
    pub fn is_active(&self) -> bool {
        self.state().is_active() && !self.is_stopping()
    }

    /// Start time, start and run durations, lifetime (L10).
    pub fn timings(&self) -> Timings {
        self.node.timings()
    }

    /// The task's descriptions (L12).
    pub fn descriptions(&self) -> Descriptions {
        self.node.lock().read(|r| r.descriptions.clone())
    }

    /// Sets a description. Values that cannot be represented as JSON are stored as their
    /// error text.
    pub fn describe(&self, key: impl Into<String>, value: impl Serialize) {
        let value = serde_json::to_value(value)
            .unwrap_or_else(|e| serde_json::Value::String(e.to_string()));
        self.node.describe(key.into(), Some(value));
    }

    /// Removes a description.
    pub fn undescribe(&self, key: &str) {
        self.node.describe(key.to_owned(), None);
    }

    /// Records a named step (GoTask's `Step`); kept in order, visible in snapshots.
    pub fn step(&self, name: impl Into<String>, detail: impl Into<String>) {
        let step = Step {
            name: name.into(),
            detail: detail.into(),
            at: std::time::SystemTime::now(),
        };
        tracing::debug!(parent: &self.node.span, step = %step.name, detail = %step.detail, "step");
        self.node.lock().rare().steps.push(step);
    }

    /// The steps recorded so far.
    pub fn steps(&self) -> Vec<Step> {
        self.node.lock().read(|r| r.steps.clone())
    }

    /// Sets the retry policy (R1). Usually called from `start`.
    pub fn set_retry(&self, retry: Retry) {
        self.node.lock().rare().retry = retry;
    }

    /// The retry policy.
    pub fn retry(&self) -> Retry {
        self.node.lock().read(|r| r.retry)
    }

    /// How many retries the current run of failures has made (R3).
    pub fn retry_count(&self) -> u32 {
        self.node.lock().retry_count
    }

    /// Forgets past failures: the next failure counts as the first (GoTask's
    /// `ResetRetryCount`). The count also resets by itself after a stable period up.
    pub fn reset_retry_count(&self) {
        self.node.lock().retry_count = 0;
    }

    /// How this job restarts its children when one fails (R4). Read at each failure, so a
    /// strategy set while children run applies from their next failure on.
    pub fn set_strategy(&self, strategy: Strategy) {
        self.node.lock().supervision().strategy = strategy;
    }

    /// At most `intensity.max()` restarts of this job's children within its window; one more
    /// and the job fails with [`StopReason::RestartIntensity`] (R4).
    pub fn set_intensity(&self, intensity: Intensity) {
        self.node.lock().supervision().intensity = Some(intensity);
    }

    /// Which endings restart this task (R4); the default is [`RestartKind::Transient`].
    pub fn set_restart(&self, kind: RestartKind) {
        self.node.lock().restart_kind = kind;
    }

    /// How long this task's `dispose` may take: past it, the dispose is abandoned (dropped
    /// at its next `.await`), reported as the description `disposeTimeout` and a warning, and
    /// the rest of the cleanup goes on (L15). Zero abandons any dispose that does not finish
    /// at once.
    pub fn set_dispose_deadline(&self, deadline: Duration) {
        self.node.lock().rare().dispose_deadline = Some(deadline);
    }

    /// The dispose deadline of this task's children that set none of their own.
    pub fn set_child_dispose_deadline(&self, deadline: Duration) {
        self.node.lock().supervision().child_dispose_deadline = Some(deadline);
    }

    /// Stops the task with `reason`. Idempotent: the first reason wins and later calls
    /// return `false` (L5). The task's children are stopped with the same reason at once and
    /// disposed before it, last started first.
    pub fn stop(&self, reason: StopReason) -> bool {
        self.node.stop(reason)
    }

    /// Disposes the task and starts it again, through the retry path: same id, retry count
    /// kept (L14). Returns `false` when the task is stopping or a restart is already asked.
    pub fn restart(&self) -> bool {
        // The root has no parent to restart it.
        let Some(parent) = &self.node.parent else {
            return false;
        };
        let requested = self.node.request_restart();
        if requested {
            parent.ctl(crate::task::Control::ChildRestart(self.node.id));
        }
        requested
    }

    /// Resolves `Ok` once the task has started, or with why it never will (L3).
    ///
    /// Waiting from inside a lifecycle method for a sibling queued behind it in the same
    /// parent's mailbox would never resolve: it fails at once with
    /// [`HandleError::Deadlock`] instead (L14).
    pub async fn wait_started(&self) -> Result<(), HandleError> {
        if let Some(caller) = current() {
            let queued = matches!(self.state(), TaskState::Init | TaskState::Starting);
            let behind = |p: &Arc<Node>| holds(&caller, p);
            if queued
                && (Arc::ptr_eq(&caller, &self.node)
                    || self.node.parent.as_ref().is_some_and(behind))
            {
                return Err(deadlock(&caller, &self.node));
            }
        }
        self.node
            .wait_until(|n| {
                if n.lock().ever_started {
                    Some(Ok(()))
                } else if n.state() == TaskState::Disposed {
                    Some(Err(HandleError::Stopped(n.reason_or_disposed())))
                } else {
                    None
                }
            })
            .await
    }

    /// Resolves with the stop reason once the task is disposed for good (L3).
    pub async fn wait_stopped(&self) -> StopReason {
        self.node
            .wait_until(|n| (n.state() == TaskState::Disposed).then(|| n.reason_or_disposed()))
            .await
    }

    /// Resolves when the task is asked to stop (or to restart): what a `run` or `go` selects on.
    pub fn stopped(&self) -> impl std::future::Future<Output = StopReason> + Send + 'static {
        let node = self.node.clone();
        async move { node.stop_requested().await }
    }

    /// Adds a child. Returns at once; the child is started later in this task's mailbox (L3).
    ///
    /// If this task is stopping, the child is refused with this task's stop reason; if a
    /// sibling has the same key, with [`StopReason::Exists`] (L8). A refused child's handle
    /// is already disposed with that reason, and the value is dropped.
    #[track_caller]
    pub fn add<C: Task + Send>(&self, child: C) -> TaskHandle<C> {
        self.add_at(child, Location::caller())
    }

    pub(crate) fn add_at<C: Task + Send>(
        &self,
        child: C,
        location: &'static Location<'static>,
    ) -> TaskHandle<C> {
        add_child(&self.node, child, location)
    }

    /// Adds a child that stops when this task stops (GoTask's `AddDependTask`).
    ///
    /// In tasktree every child is stopped the moment its parent is, so this is `add`; it
    /// exists so ported code reads the same.
    #[track_caller]
    pub fn add_dependent<C: Task + Send>(&self, child: C) -> TaskHandle<C> {
        self.add_at(child, Location::caller())
    }

    /// Adds a child, waits until it is disposed and returns its stop reason (GoTask's
    /// `RunTask`). If this task is stopped meanwhile, the child is stopped with it.
    #[track_caller]
    pub fn run_task<C: Task + Send>(
        &self,
        child: C,
    ) -> impl std::future::Future<Output = StopReason> + Send + 'static {
        let handle = self.add(child);
        async move { handle.wait_stopped().await }
    }

    /// Associated disposal (L6): this task stops, with the same reason, when `other` stops.
    pub fn uses(&self, other: &TaskRef) {
        let weak = Arc::downgrade(&self.node);
        let already = {
            let mut inner = other.node.lock();
            match other.node.reason() {
                Some(reason) => Some(reason),
                None => {
                    inner.rare().dependents.push(weak);
                    None
                }
            }
        };
        if let Some(reason) = already {
            self.node.stop(reason);
        }
    }

    /// Runs `release` at once when the task is asked to stop, on the thread that stops it,
    /// so a blocked `run` or `go` can return (L5). Runs at once if it is already stopping.
    pub fn on_stop(&self, release: impl FnOnce() + Send + 'static) {
        let mut inner = self.node.lock();
        if !self.node.is_stopping() {
            inner.rare().on_stop.push(Box::new(release));
            return;
        }
        drop(inner);
        if let Err(panic) = crate::supervisor::catch(release) {
            tracing::warn!(parent: &self.node.span, reason = %panic, "on_stop hook panicked");
        }
    }

    /// Calls `hook` when any descendant of this task has started (L13).
    pub fn on_descendant_start(&self, hook: impl Fn(&TaskRef) + Send + Sync + 'static) {
        self.watch(EventSet::only(TaskEvent::Started), move |t, _| hook(t));
    }

    /// Calls `hook` when any descendant of this task has been disposed (L13).
    pub fn on_descendant_dispose(&self, hook: impl Fn(&TaskRef) + Send + Sync + 'static) {
        self.watch(EventSet::only(TaskEvent::Disposed), move |t, _| hook(t));
    }

    /// Calls `hook` when any descendant of this task is about to be retried after a
    /// failure (R2); the failure is in [`TaskRef::last_failure`].
    pub fn on_descendant_retry(&self, hook: impl Fn(&TaskRef) + Send + Sync + 'static) {
        self.watch(EventSet::only(TaskEvent::Retry), move |t, _| hook(t));
    }

    /// Calls `hook` for every [`TaskEvent`] of every descendant of this task: what the web's
    /// event stream is built on. Hooks run on the thread where the event happens; keep them
    /// short (send to a channel).
    pub fn observe_descendants(&self, hook: impl Fn(&TaskRef, TaskEvent) + Send + Sync + 'static) {
        self.watch(EventSet::ALL, hook);
    }

    fn watch(&self, events: EventSet, hook: impl Fn(&TaskRef, TaskEvent) + Send + Sync + 'static) {
        self.node.watch((events, Arc::new(hook)));
    }

    /// The failure that ended the task's last failed attempt, if any.
    pub fn last_failure(&self) -> Option<StopReason> {
        self.node.lock().read(|r| r.last_failure.clone())
    }

    /// The live children, in no particular order.
    pub fn children(&self) -> Vec<TaskRef> {
        self.node
            .lock()
            .children
            .values()
            .cloned()
            .map(TaskRef::from_node)
            .collect()
    }

    /// The child with `key`, if one is registered.
    pub fn child_by_key(&self, key: &str) -> Option<TaskRef> {
        let inner = self.node.lock();
        let id = inner.rare.as_ref()?.keys.get(key)?;
        inner.children.get(id).cloned().map(TaskRef::from_node)
    }

    /// Finds a task by id in this task's subtree (itself included).
    pub fn find(&self, id: TaskId) -> Option<TaskRef> {
        if self.id() == id {
            return Some(self.clone());
        }
        let mut stack = vec![self.node.clone()];
        while let Some(node) = stack.pop() {
            let inner = node.lock();
            if let Some(found) = inner.children.get(&id) {
                return Some(TaskRef::from_node(found.clone()));
            }
            stack.extend(inner.children.values().cloned());
        }
        None
    }

    /// A typed handle to this task, if it is a `C`.
    pub fn downcast<C: Task>(&self) -> Option<TaskHandle<C>> {
        self.node
            .typed
            .is::<Addr<TaskActor<C>>>()
            .then(|| TaskHandle::new(self.node.clone()))
    }

    /// Which child currently holds this task's mailbox (a start, run or dispose), and since
    /// when.
    pub fn blocked_on(&self) -> Option<(TaskId, std::time::Duration)> {
        self.node
            .lock()
            .read(|r| r.blocked_on)
            .map(|(id, since)| (id, since.elapsed()))
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRef")
            .field("id", &self.node.id)
            .field("path", &self.path())
            .field("state", &self.state())
            .finish()
    }
}

impl PartialEq for TaskRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
    }
}

impl Eq for TaskRef {}

/// Whether `target`'s mailbox is waiting on `caller`, directly or through a chain of
/// lifecycles that each hold their parent's mailbox.
fn holds(caller: &Arc<Node>, target: &Arc<Node>) -> bool {
    let mut at = Some(caller.clone());
    while let Some(node) = at {
        if target
            .lock()
            .read(|r| r.blocked_on)
            .is_some_and(|(id, _)| id == node.id)
        {
            return true;
        }
        at = node.parent.clone().filter(|p| {
            p.lock()
                .read(|r| r.blocked_on)
                .is_some_and(|(id, _)| id == node.id)
        });
    }
    false
}

fn deadlock(caller: &Node, target: &Node) -> HandleError {
    HandleError::Deadlock {
        caller: caller.path(),
        target: target.path(),
    }
}

/// A `call` or `send` from the current task to `target` that could never be answered.
fn call_deadlock(target: &Arc<Node>) -> Option<HandleError> {
    let caller = current()?;
    let own = Arc::ptr_eq(&caller, target) && target.lent.load(Ordering::Acquire);
    (own || holds(&caller, target)).then(|| deadlock(&caller, target))
}

fn add_child<C: Task + Send>(
    parent: &Arc<Node>,
    value: C,
    location: &'static Location<'static>,
) -> TaskHandle<C> {
    let (tx, rx) = actix::dev::channel::channel(16);
    let addr: Addr<TaskActor<C>> = Addr::new(tx);
    let key = value.key();
    let node = Node::new(key.clone(), Some(parent.clone()), location, addr);
    let refused = {
        let mut inner = parent.lock();
        if let Some(reason) = parent.reason() {
            Some(reason)
        } else if let Some(key) = key.filter(|k| inner.read(|r| r.keys.contains_key(k))) {
            Some(StopReason::Exists(key))
        } else {
            if let Some(key) = &node.key {
                inner.rare().keys.insert(key.clone(), node.id);
            }
            inner.children.insert(node.id, node.clone());
            inner.had_child = true;
            None
        }
    };
    let handle = TaskHandle::new(node.clone());
    match refused {
        Some(reason) => {
            tracing::debug!(parent: &node.span, reason = %reason, "add refused");
            node.mark_stopping(reason);
            node.finish_unstarted();
            let _ = catch_in(None, move || drop(value));
        }
        None => parent.ctl(crate::task::Control::Adopt(Adoption::new(node, rx, value))),
    }
    handle
}

/// A handle to a task whose type is known: everything [`TaskRef`] does, plus `call` and
/// `send`, which reach the task's own value.
pub struct TaskHandle<T: Task> {
    task: TaskRef,
    _type: PhantomData<fn() -> T>,
}

impl<T: Task> TaskHandle<T> {
    pub(crate) fn new(node: Arc<Node>) -> Self {
        Self {
            task: TaskRef::from_node(node),
            _type: PhantomData,
        }
    }

    /// The untyped handle.
    pub fn as_task(&self) -> &TaskRef {
        &self.task
    }

    /// Runs `f` in the task's mailbox with its value and returns what `f` returns (L14).
    ///
    /// Calls to one task run one at a time, in order, never during one of its children's
    /// lifecycle methods (L2), and wait while the task's own lifecycle method or message
    /// handler holds the value. A panic in `f` fails this call with [`HandleError::Panic`]
    /// and the task keeps serving (L9). A call on a stopped task fails with its stop reason;
    /// a call that could never be answered (from the very lifecycle the target is waiting
    /// on) fails at once with [`HandleError::Deadlock`].
    pub async fn call<R, F>(&self, f: F) -> Result<R, HandleError>
    where
        R: Send + 'static,
        F: FnOnce(&mut T, &mut crate::TaskCx<T>) -> R + Send + 'static,
    {
        if let Some(err) = call_deadlock(&self.task.node) {
            return Err(err);
        }
        let (tx, rx) = oneshot::channel();
        let node = self.task.node.clone();
        let msg = CallMsg(Box::new(move |value: &mut T, cx: &mut crate::TaskCx<T>| {
            let out = catch_in(Some(&node), || f(value, cx)).map_err(HandleError::from_panic);
            let _ = tx.send(out);
        }));
        if let Some(addr) = self.addr() {
            addr.do_send(msg);
        }
        self.answer(rx).await
    }

    /// Sends the task one of its own messages ([`Handles`]) and waits for the answer.
    pub async fn send<M>(&self, msg: M) -> Result<M::Result, HandleError>
    where
        T: Handles<M>,
        M: Message + Send + 'static,
        M::Result: Send + 'static,
    {
        if let Some(err) = call_deadlock(&self.task.node) {
            return Err(err);
        }
        let (reply, rx) = oneshot::channel();
        if let Some(addr) = self.addr() {
            // A dropped message drops `reply`: the caller then sees the stop reason.
            addr.do_send(UserMsg { msg, reply });
        }
        self.answer(rx).await
    }

    /// The task's actor. Only a `TaskHandle<T>` of a `T` task is ever built, so this is
    /// `Some`; were it not, a message would be dropped and its caller see the stop reason.
    fn addr(&self) -> Option<&Addr<TaskActor<T>>> {
        self.task.node.typed.downcast_ref::<Addr<TaskActor<T>>>()
    }

    async fn answer<R>(
        &self,
        rx: oneshot::Receiver<Result<R, HandleError>>,
    ) -> Result<R, HandleError> {
        match rx.await {
            Ok(out) => out,
            Err(_) => Err(HandleError::Stopped(self.task.node.reason_or_disposed())),
        }
    }
}

impl<T: Task> Deref for TaskHandle<T> {
    type Target = TaskRef;

    fn deref(&self) -> &TaskRef {
        &self.task
    }
}

impl<T: Task> Clone for TaskHandle<T> {
    fn clone(&self) -> Self {
        Self {
            task: self.task.clone(),
            _type: PhantomData,
        }
    }
}

impl<T: Task> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.task.fmt(f)
    }
}

impl<T: Task> From<TaskHandle<T>> for TaskRef {
    fn from(handle: TaskHandle<T>) -> Self {
        handle.task
    }
}
