//! The shared record of one task: what any thread may read or ask of it.
//!
//! A `Node` is what handles, snapshots and the stop cascade see. It is `Send + Sync` and
//! holds no user value; the user's value lives on the task's arbiter (see `task.rs`).
//! Stopping is done here, not through a mailbox, so that a task whose parent's mailbox is
//! busy (a sibling's `run` holds it) still learns at once that it must stop (L5).

use std::collections::HashMap;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use std::any::Any;

use actix::Addr;
use tokio::sync::Notify;

use crate::reason::StopReason;
use crate::retry::Retry;
use crate::state::{Descriptions, IdMap, Kind, Step, TaskEvent, TaskId, TaskState, Timings};
use crate::strategy::{RestartKind, Supervision};
use crate::task::{Control, Task, TaskActor};

/// A hook that sees what happens to descendants (L13), with the events it wants.
pub(crate) type Watcher = (
    EventSet,
    Arc<dyn Fn(&crate::TaskRef, TaskEvent) + Send + Sync>,
);

/// A set of [`TaskEvent`]s, as bits.
#[derive(Clone, Copy)]
pub(crate) struct EventSet(u8);

impl EventSet {
    pub(crate) const ALL: EventSet = EventSet(u8::MAX);

    pub(crate) fn only(event: TaskEvent) -> Self {
        Self(1 << event as u8)
    }

    fn contains(self, event: TaskEvent) -> bool {
        self.0 & (1 << event as u8) != 0
    }
}

pub(crate) struct Node {
    pub(crate) id: TaskId,
    pub(crate) kind: Kind,
    pub(crate) owner: &'static str,
    pub(crate) key: Option<String>,
    pub(crate) parent: Option<Arc<Node>>,
    pub(crate) level: u16,
    pub(crate) location: &'static Location<'static>,
    pub(crate) span: tracing::Span,
    /// The task's address (`Addr<TaskActor<T>>`): typed handles downcast it, and
    /// `send_ctl` sends the framework's messages through it. One address per task, never
    /// cloned (each actix sender clone allocates).
    pub(crate) typed: Box<dyn Any + Send + Sync>,
    send_ctl: fn(&(dyn Any + Send + Sync), Control),
    state: AtomicU8,
    /// The final stop reason: the first one set wins (L5).
    reason: OnceLock<Arc<StopReason>>,
    /// `restart()` asked for: the current attempt should end without a final reason.
    restart: AtomicBool,
    /// The user's value is lent to a lifecycle method or message handler right now.
    pub(crate) lent: AtomicBool,
    /// The task's actor has ended (its future completed).
    actor_ended: AtomicBool,
    /// Some hook watches this task's descendants: events bubbling up stop to look here.
    watched: AtomicBool,
    /// Woken at every change a waiter may care about: started, stop or restart asked,
    /// actor ended, disposed.
    changed: Notify,
    inner: Mutex<Inner>,
}

/// What every task uses, kept inline; the rest is in [`Rare`].
#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) timings: Timings,
    pub(crate) retry_count: u32,
    /// When the current attempt started successfully, for the stable-period reset (R3).
    /// On tokio's clock, so tests can pause it (R5).
    pub(crate) up_since: Option<tokio::time::Instant>,
    /// Whether any start of this task succeeded: what `wait_started` reports.
    pub(crate) ever_started: bool,
    /// Counts starts, so a late report from an earlier attempt's `go` is recognised.
    pub(crate) attempt: u32,
    /// Order of the last successful start among siblings, for reverse-order disposal.
    pub(crate) start_seq: u64,
    pub(crate) children: IdMap<Arc<Node>>,
    pub(crate) had_child: bool,
    pub(crate) next_seq: u64,
    /// Which endings restart this task.
    pub(crate) restart_kind: RestartKind,
    /// Allocated the first time one of its fields is set.
    pub(crate) rare: Option<Box<Rare>>,
}

/// What only some tasks use: parents, tasks with descriptions, hooks, keys, a retry policy.
/// Boxed apart so that a plain leaf costs a few hundred bytes (DESIGN §8).
#[derive(Default)]
pub(crate) struct Rare {
    pub(crate) descriptions: Descriptions,
    pub(crate) steps: Vec<Step>,
    pub(crate) retry: Retry,
    pub(crate) keys: HashMap<String, TaskId>,
    /// Which child's lifecycle holds this task's mailbox, since when.
    pub(crate) blocked_on: Option<(TaskId, Instant)>,
    pub(crate) on_stop: Vec<Box<dyn FnOnce() + Send>>,
    /// Tasks that stop when this one stops (they `uses` it, L6).
    pub(crate) dependents: Vec<Weak<Node>>,
    /// Hooks on descendants' events (L13).
    pub(crate) watchers: Vec<Watcher>,
    pub(crate) last_failure: Option<StopReason>,
    /// The job's supervision settings (R4).
    pub(crate) supervision: Supervision,
    /// How long this task's `dispose` may take before it is abandoned (L15).
    pub(crate) dispose_deadline: Option<Duration>,
}

/// Sends `msg` to the task actor whose address `typed` holds.
fn send_ctl<T: Task>(typed: &(dyn Any + Send + Sync), msg: Control) {
    if let Some(addr) = typed.downcast_ref::<Addr<TaskActor<T>>>() {
        addr.do_send(msg);
    }
}

impl Inner {
    /// The rare fields, allocated on first use.
    pub(crate) fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// The supervision settings, created on first use.
    pub(crate) fn supervision(&mut self) -> &mut Supervision {
        &mut self.rare().supervision
    }

    /// Reads a rare field, or its default when none was ever set.
    pub(crate) fn read<R: Default>(&self, f: impl FnOnce(&Rare) -> R) -> R {
        self.rare.as_deref().map(f).unwrap_or_default()
    }

    /// Records which child's lifecycle holds the mailbox (`None`: no child's).
    pub(crate) fn set_blocked_on(&mut self, on: Option<(TaskId, Instant)>) {
        if on.is_some() || self.rare.is_some() {
            self.rare().blocked_on = on;
        }
    }

    /// Removes `child` from this registry (and its key, if the key is still its own).
    pub(crate) fn forget(&mut self, child: &Node) {
        self.children.remove(&child.id);
        if let (Some(key), Some(rare)) = (&child.key, self.rare.as_deref_mut()) {
            if rare.keys.get(key) == Some(&child.id) {
                rare.keys.remove(key);
            }
        }
    }
}

impl Node {
    pub(crate) fn new<T: Task>(
        key: Option<String>,
        parent: Option<Arc<Node>>,
        location: &'static Location<'static>,
        addr: Addr<TaskActor<T>>,
    ) -> Arc<Self> {
        let (id, kind, owner) = (TaskId::next(), T::KIND, T::OWNER);
        let level = parent.as_ref().map_or(0, |p| p.level + 1);
        let span = tracing::info_span!(
            "task",
            id = id.get(),
            kind = kind.as_str(),
            owner,
            parent = parent.as_ref().map(|p| p.id.get())
        );
        crate::metrics::transition(kind, None, TaskState::Init);
        Arc::new(Self {
            id,
            kind,
            owner,
            key,
            parent,
            level,
            location,
            span,
            typed: Box::new(addr),
            send_ctl: send_ctl::<T>,
            state: AtomicU8::new(TaskState::Init as u8),
            reason: OnceLock::new(),
            restart: AtomicBool::new(false),
            lent: AtomicBool::new(false),
            actor_ended: AtomicBool::new(false),
            watched: AtomicBool::new(false),
            changed: Notify::new(),
            inner: Mutex::new(Inner::default()),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means a panic elsewhere while holding it; the data is plain.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn timings(&self) -> Timings {
        self.lock().timings.clone()
    }

    pub(crate) fn with_timings(&self, f: impl FnOnce(&mut Timings)) {
        f(&mut self.lock().timings)
    }

    pub(crate) fn state(&self) -> TaskState {
        TaskState::from_u8(self.state.load(Ordering::Acquire))
    }

    pub(crate) fn set_state(&self, state: TaskState) {
        let from = TaskState::from_u8(self.state.swap(state as u8, Ordering::AcqRel));
        if from != state {
            crate::metrics::transition(self.kind, Some(from), state);
        }
        // Waiters only look for a first start and for the end (`wait_started`,
        // `wait_stopped`); waking them at every step would cost a lock each.
        if matches!(state, TaskState::Started | TaskState::Disposed) {
            self.changed.notify_waiters();
        }
    }

    pub(crate) fn reason(&self) -> Option<StopReason> {
        self.reason.get().map(|r| StopReason::clone(r))
    }

    /// The stop reason as stored: cloning it copies nothing.
    pub(crate) fn shared_reason(&self) -> Option<Arc<StopReason>> {
        self.reason.get().cloned()
    }

    /// Marks the task stopping with `reason` unless it already is, and returns the reason
    /// that won.
    pub(crate) fn stopping_with(self: &Arc<Self>, reason: StopReason) -> Arc<StopReason> {
        if let Some(won) = self.shared_reason() {
            return won;
        }
        let reason = Arc::new(reason);
        self.stop_with(reason.clone());
        self.shared_reason().unwrap_or(reason)
    }

    /// The reason to report for a task that can no longer answer.
    pub(crate) fn reason_or_disposed(&self) -> StopReason {
        self.reason().unwrap_or(StopReason::Disposed)
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.reason.get().is_some()
    }

    pub(crate) fn restart_requested(&self) -> bool {
        self.restart.load(Ordering::Acquire)
    }

    pub(crate) fn take_restart(&self) -> bool {
        self.restart.swap(false, Ordering::AcqRel)
    }

    /// Asks the current attempt to end so the parent can start the task again.
    pub(crate) fn request_restart(&self) -> bool {
        if self.is_stopping() || self.restart.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.changed.notify_waiters();
        true
    }

    /// Sends the task's actor one of the framework's messages (dropped if it has ended).
    pub(crate) fn ctl(&self, msg: Control) {
        (self.send_ctl)(&*self.typed, msg)
    }

    /// Records that the task's actor has ended, for whoever waits on it. A task with no
    /// parent (the root) has no one to finish it, so its end is its disposal.
    pub(crate) fn end_actor(&self) {
        self.actor_ended.store(true, Ordering::Release);
        if self.parent.is_none() {
            self.set_state(TaskState::Disposed);
        }
        self.changed.notify_waiters();
    }

    /// Resolves once the task's actor has ended.
    pub(crate) async fn actor_gone(&self) {
        self.wait_until(|n| n.actor_ended.load(Ordering::Acquire).then_some(()))
            .await
    }

    /// Fails the current attempt of a task that has no `run` or `go` of its own to fail
    /// with (a job giving up on its children): its parent concludes it like a failed `run`,
    /// so the parent's policy applies. The root just stops.
    pub(crate) fn fail(self: &Arc<Self>, reason: StopReason) {
        match &self.parent {
            Some(parent) => {
                let attempt = self.lock().attempt;
                parent.ctl(Control::ChildEnded(self.id, attempt, Err(reason)));
            }
            None => {
                self.stop(reason);
            }
        }
    }

    /// Path of ancestors, `root/Conn:2/Puller:3` (L11).
    pub(crate) fn path(&self) -> String {
        let mut parts = Vec::with_capacity(self.level as usize + 1);
        let mut at = Some(self);
        while let Some(n) = at {
            parts.push(n.label());
            at = n.parent.as_deref();
        }
        parts.reverse();
        parts.join("/")
    }

    pub(crate) fn label(&self) -> String {
        if self.kind == Kind::Root {
            return "root".to_owned();
        }
        match &self.key {
            Some(key) => format!("{}:{}[{}]", self.owner, self.id, key),
            None => format!("{}:{}", self.owner, self.id),
        }
    }

    /// Marks the task stopping with `reason` unless it already is (the first reason wins),
    /// releases its `on_stop` resources, stops its children and dependents with the same
    /// reason, then tells whoever disposes it. Returns whether this call did it.
    pub(crate) fn stop(self: &Arc<Self>, reason: StopReason) -> bool {
        if !self.mark_stopping(reason) {
            return false;
        }
        match &self.parent {
            Some(parent) => parent.ctl(Control::ChildStopped(self.id)),
            None => self.ctl(Control::DisposeSelf),
        }
        true
    }

    /// `stop` without telling the parent: for the cascade (the parent disposes the subtree
    /// itself) and for the parent's own lifecycle code, which disposes the child next.
    pub(crate) fn mark_stopping(self: &Arc<Self>, reason: StopReason) -> bool {
        !self.is_stopping() && self.stop_with(Arc::new(reason))
    }

    /// `mark_stopping` with a reason shared by a whole cascade: one allocation for the
    /// subtree, not a copy of the reason per task.
    pub(crate) fn stop_with(self: &Arc<Self>, reason: Arc<StopReason>) -> bool {
        if self.reason.set(reason.clone()).is_err() {
            return false;
        }
        tracing::debug!(parent: &self.span, reason = %reason, "stop");
        self.changed.notify_waiters();
        let (on_stop, children, dependents) = {
            let mut inner = self.lock();
            // In no particular order: only disposal is ordered (last started first, L5), and
            // sorting here would cost a lock per child on every cascade.
            let children: Vec<Arc<Node>> = inner.children.values().cloned().collect();
            match inner.rare.as_deref_mut() {
                Some(rare) => (
                    std::mem::take(&mut rare.on_stop),
                    children,
                    std::mem::take(&mut rare.dependents),
                ),
                None => (Vec::new(), children, Vec::new()),
            }
        };
        for release in on_stop {
            if let Err(panic) = crate::supervisor::catch(release) {
                tracing::warn!(parent: &self.span, reason = %panic, "on_stop hook panicked");
            }
        }
        self.bubble(TaskEvent::Stopping);
        for child in children {
            child.stop_with(reason.clone());
        }
        for dependent in dependents.iter().filter_map(Weak::upgrade) {
            dependent.stop(StopReason::clone(&reason));
        }
        true
    }

    /// Ends a task that never reached its parent's mailbox (refused, or its parent went away
    /// first): it is disposed with its stop reason and leaves its parent's registry.
    pub(crate) fn finish_unstarted(self: &Arc<Self>) {
        self.mark_stopping(StopReason::Disposed);
        self.with_timings(|t| t.lifetime = Some(t.created.elapsed()));
        if let Some(parent) = &self.parent {
            let mut inner = parent.lock();
            inner.forget(self);
        }
        self.set_state(TaskState::Disposed);
    }

    /// The task's actor died under a panic the guards did not catch: end the task with it so
    /// that no waiter hangs and the parent forgets it.
    pub(crate) fn abandon(self: &Arc<Self>, panic: StopReason) {
        self.mark_stopping(panic);
        if let Some(parent) = &self.parent {
            parent.ctl(Control::ChildStopped(self.id));
        }
        self.set_state(TaskState::Disposed);
    }

    /// Records a failure as a description, so snapshots and history show it.
    pub(crate) fn describe_failure(self: &Arc<Self>, key: &str, reason: &StopReason) {
        self.describe(
            key.to_owned(),
            Some(serde_json::Value::String(reason.to_string())),
        );
    }

    /// Sets (`Some`) or removes (`None`) a description, and tells the ancestors' watchers.
    pub(crate) fn describe(self: &Arc<Self>, key: String, value: Option<serde_json::Value>) {
        {
            let mut inner = self.lock();
            match value {
                Some(value) => inner.rare().descriptions.insert(key, value),
                None => inner.rare().descriptions.remove(&key),
            };
        }
        self.bubble(TaskEvent::Described);
    }

    /// Adds a hook on descendants' events (L13).
    pub(crate) fn watch(&self, watcher: Watcher) {
        self.lock().rare().watchers.push(watcher);
        self.watched.store(true, Ordering::Release);
    }

    /// Resolves when `pred` holds, re-checking at every change.
    pub(crate) async fn wait_until<R>(&self, mut pred: impl FnMut(&Self) -> Option<R>) -> R {
        // Often true already (a parent settling a child whose actor has ended): answer
        // without registering a waiter, which takes the notifier's lock.
        if let Some(r) = pred(self) {
            return r;
        }
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(r) = pred(self) {
                return r;
            }
            notified.await;
        }
    }

    /// Resolves when the task is asked to stop or restart: what `run` and `go` select on.
    pub(crate) async fn stop_requested(&self) -> StopReason {
        self.wait_until(|n| {
            n.reason()
                .or_else(|| n.restart_requested().then_some(StopReason::Restart))
        })
        .await
    }

    /// Tells every ancestor's watchers of `event`, nearest first, up to the root (L13).
    pub(crate) fn bubble(self: &Arc<Self>, event: TaskEvent) {
        let mut me: Option<crate::TaskRef> = None;
        // Borrowed, not cloned: this task keeps its ancestors alive, and a clone per
        // ancestor per event would be two atomic operations each.
        let mut at = self.parent.as_ref();
        while let Some(ancestor) = at {
            at = ancestor.parent.as_ref();
            if !ancestor.watched.load(Ordering::Acquire) {
                continue;
            }
            let hooks: Vec<Watcher> = ancestor.lock().read(|rare| {
                rare.watchers
                    .iter()
                    .filter(|(set, _)| set.contains(event))
                    .cloned()
                    .collect()
            });
            for (_, hook) in hooks {
                let task = me.get_or_insert_with(|| crate::TaskRef::from_node(self.clone()));
                if let Err(panic) = crate::supervisor::catch(|| hook(task, event)) {
                    tracing::warn!(parent: &ancestor.span, reason = %panic, "descendant hook panicked");
                }
            }
        }
    }
}
