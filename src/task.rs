//! The traits a user implements, and the actix actor that carries one task.
//!
//! | piece | what it is |
//! |---|---|
//! | [`Task`] | written by `#[task]`: kind, owner type name, key |
//! | [`Lifecycle`] | the user's optional `start`, `run`, `go`, `dispose` |
//! | [`Handles`] | the user's own messages to a task |
//! | `Core<T>` | the user's value on its arbiter, lent to one piece of user code at a time |
//! | `TaskActor<T>` | the actix actor: its mailbox serializes calls and its children's lifecycle |
//!
//! The user's value is lent by turns: a lifecycle method or message handler borrows it for
//! its whole duration (across `.await`s), and `call`s and other messages queue behind it in
//! arrival order. A child's lifecycle runs in the *parent's* mailbox (see `job.rs`); the task's
//! own mailbox stays free for its own children, so a `start` may add children and wait for them.

use std::any::Any;
use std::cell::{Cell, RefCell, RefMut};
use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};

use actix::dev::channel::AddressReceiver;
use actix::dev::ContextFut;
use actix::{Actor, ActorContext, Context, Handler, Message};
use tokio::sync::oneshot;

use crate::context::TaskCx;
use crate::job::Children;
use crate::node::Node;
use crate::reason::{HandleError, StopReason, TaskError};
use crate::state::{Kind, TaskId};
use crate::supervisor::{catch_in, Guarded, Supervise};

/// A boxed, `!Send` future: what user code on a task's arbiter produces.
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What a task is to the framework. Written by `#[task]`; do not implement it by hand.
///
/// ```
/// use tasktree::prelude::*;
///
/// #[task(job)]
/// struct Connection { remote: String }
///
/// assert_eq!(<Connection as Task>::KIND, Kind::Job);
/// assert_eq!(<Connection as Task>::OWNER, "Connection");
/// ```
pub trait Task: Sized + 'static {
    /// The kind, which decides when the task ends.
    const KIND: Kind;
    /// The owner type's name, as shown in paths, snapshots and history.
    const OWNER: &'static str;

    /// The key among siblings (`#[task(key = field)]`): a second sibling with the same key
    /// is refused with [`StopReason::Exists`].
    fn key(&self) -> Option<String> {
        None
    }

    /// The lifecycle methods of this type. Written by `#[task]`.
    #[doc(hidden)]
    fn __vtable() -> Vtable<Self>;

    /// Which of this type's lifecycle methods are the trait's defaults. Written by `#[task]`.
    #[doc(hidden)]
    fn __learned() -> &'static Learned;
}

/// Which of a task type's lifecycle methods turned out to be [`Lifecycle`]'s defaults.
/// A default method records itself the first time it runs; later tasks of the type skip
/// it: no turn with the value, no boxed future, no time in the parent's mailbox. Not
/// public API.
#[doc(hidden)]
pub struct Learned(AtomicU8);

impl Learned {
    const START: u8 = 1;
    const RUN: u8 = 2;
    const GO: u8 = 4;
    const DISPOSE: u8 = 8;

    /// Nothing learned yet.
    pub const fn new() -> Self {
        Self(AtomicU8::new(0))
    }

    fn learn(&self, method: u8) {
        self.0.fetch_or(method, Ordering::Relaxed);
    }

    fn knows(&self, method: u8) -> bool {
        self.0.load(Ordering::Relaxed) & method != 0
    }
}

impl Default for Learned {
    fn default() -> Self {
        Self::new()
    }
}

/// The lifecycle of a task: every method is optional (L1).
///
/// | method | runs | blocks | ends the task when it returns |
/// |---|---|---|---|
/// | `start` | in the parent's mailbox | the parent's mailbox | on `Err` (then retry, R2) |
/// | `run` | in the parent's mailbox | the parent's mailbox, like GoTask's `Run` | a plain task: always (`Ok` is `Complete`); a job or work: on `Err` |
/// | `go` | on its own, beside the task's mailbox | nothing | as `run` |
/// | `dispose` | in the parent's mailbox, after the task's children are disposed | the parent's mailbox | — |
///
/// A method left out costs nothing after the first task of its type: the default records
/// that it ran, and later tasks of the type skip that step without touching the parent's
/// mailbox. `go`'s future is polled by the task's own actor, not by a tokio task of its own.
///
/// `go` cannot hold `&mut self` while the task's messages are handled, so it is a plain
/// method that returns a `'static` future: move into it what it needs (taken out of `self`
/// in `start`, a channel, [`TaskRef::stopped`](crate::TaskRef::stopped), a [`TaskHandle`](crate::TaskHandle)). When
/// the task is stopped, the `go` future is dropped at its next `.await`, after `on_stop`
/// resources were released; clean up in `dispose`.
///
/// ```
/// use tasktree::prelude::*;
///
/// #[task]
/// struct Counter { n: u32 }
///
/// impl Lifecycle for Counter {
///     async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
///         cx.describe("n", self.n);
///         Ok(())
///     }
///     async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
///         self.n += 1;
///         Ok(())
///     }
/// }
/// ```
#[allow(async_fn_in_trait)]
pub trait Lifecycle: Task {
    /// Initialise. An `Err` fails the start; with a retry policy it is tried again (R2).
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        let _ = cx;
        Self::__learned().learn(Learned::START);
        Ok(())
    }

    /// Do the work, holding the parent's mailbox until it returns. Select on
    /// [`TaskRef::stopped`](crate::TaskRef::stopped) to return when the task is stopped.
    async fn run(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        let _ = cx;
        Self::__learned().learn(Learned::RUN);
        Err(TaskError::not_implemented())
    }

    /// Return the work to run on its own, or `None` (the default) for none.
    fn go(&mut self, cx: &mut TaskCx<Self>) -> Option<Go> {
        let _ = cx;
        Self::__learned().learn(Learned::GO);
        None
    }

    /// Release what `start` acquired. Runs after the task's children are disposed.
    async fn dispose(&mut self, cx: &mut TaskCx<Self>) {
        let _ = cx;
        Self::__learned().learn(Learned::DISPOSE);
    }
}

/// The work a task's [`go`](Lifecycle::go) runs on its own.
pub struct Go(pub(crate) LocalBoxFuture<'static, Result<(), TaskError>>);

impl Go {
    /// Wraps the future `go` runs.
    pub fn new(fut: impl Future<Output = Result<(), TaskError>> + 'static) -> Option<Self> {
        Some(Self(Box::pin(fut)))
    }
}

/// A task's own message `M`, handled with the task's state (DESIGN §1: async handlers that
/// use the actor's state). Send it with [`TaskHandle::send`](crate::TaskHandle::send).
///
/// ```
/// use tasktree::prelude::*;
///
/// #[derive(actix::Message)]
/// #[rtype(result = "u64")]
/// struct Add(u64);
///
/// #[task(work)]
/// struct Sum { total: u64 }
///
/// impl Handles<Add> for Sum {
///     async fn handle(&mut self, msg: Add, _cx: &mut TaskCx<Self>) -> u64 {
///         self.total += msg.0;
///         self.total
///     }
/// }
/// ```
#[allow(async_fn_in_trait)]
pub trait Handles<M: Message>: Task {
    /// Handles one message; messages are handled one at a time, in arrival order.
    async fn handle(&mut self, msg: M, cx: &mut TaskCx<Self>) -> M::Result;
}

type Method<T, R> = for<'a> fn(&'a mut T, &'a mut TaskCx<T>) -> LocalBoxFuture<'a, R>;

type GoMethod<T> = fn(&mut T, &mut TaskCx<T>) -> Option<Go>;

type EventMethod<T> =
    for<'a> fn(&'a mut T, Event, &'a mut TaskCx<T>) -> LocalBoxFuture<'a, Result<(), TaskError>>;

/// The lifecycle methods of one task type, as function pointers. Not public API.
#[doc(hidden)]
///
/// A type without a `Lifecycle` impl has no methods at all, and the framework skips them
/// instead of calling defaults.
pub struct Vtable<T: Task> {
    start: Option<Method<T, Result<(), TaskError>>>,
    run: Option<Method<T, Result<(), TaskError>>>,
    go: Option<GoMethod<T>>,
    dispose: Option<Method<T, ()>>,
    feed: Option<Feed<T>>,
}

/// What a task of the feeding kinds (tick, channel) does instead of `go`: consume a source
/// of events, one at a time, in its parent's mailbox or on its own.
pub(crate) struct Feed<T: Task> {
    /// Makes this attempt's source, after a successful start.
    pub(crate) source: fn(&mut T, &mut TaskCx<T>) -> Result<EventStream, TaskError>,
    /// Handles one event.
    pub(crate) handle: EventMethod<T>,
    /// Whether events are handled in the parent's mailbox (serialized with the siblings).
    pub(crate) in_parent: bool,
}

impl<T: Task> Clone for Feed<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Task> Copy for Feed<T> {}

/// One thing for a feeding task to handle.
pub(crate) enum Event {
    /// A timer tick.
    Tick,
    /// An item of a channel's stream (its type is the task's own).
    Item(Box<dyn Any>),
}

/// A source of events; its end ends the task with `Complete`, an error with that error.
pub(crate) type EventStream = Pin<Box<dyn futures_core::Stream<Item = Result<Event, StopReason>>>>;

impl<T: Task> Clone for Vtable<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Task> Copy for Vtable<T> {}

fn lc_start<'a, T: Lifecycle>(
    t: &'a mut T,
    cx: &'a mut TaskCx<T>,
) -> LocalBoxFuture<'a, Result<(), TaskError>> {
    Box::pin(t.start(cx))
}

fn lc_run<'a, T: Lifecycle>(
    t: &'a mut T,
    cx: &'a mut TaskCx<T>,
) -> LocalBoxFuture<'a, Result<(), TaskError>> {
    Box::pin(t.run(cx))
}

fn lc_dispose<'a, T: Lifecycle>(t: &'a mut T, cx: &'a mut TaskCx<T>) -> LocalBoxFuture<'a, ()> {
    Box::pin(t.dispose(cx))
}

impl<T: Lifecycle> Vtable<T> {
    fn of_lifecycle() -> Self {
        Self {
            start: Some(lc_start::<T>),
            run: Some(lc_run::<T>),
            go: Some(T::go),
            dispose: Some(lc_dispose::<T>),
            feed: None,
        }
    }
}

impl<T: Task> Vtable<T> {
    /// Every method the default: a task with no lifecycle of its own.
    pub(crate) fn empty() -> Self {
        Self {
            start: None,
            run: None,
            go: None,
            dispose: None,
            feed: None,
        }
    }

    /// This vtable, feeding from `feed` instead of running `go`.
    pub(crate) fn with_feed(self, feed: Feed<T>) -> Self {
        Self {
            feed: Some(feed),
            ..self
        }
    }
}

/// What `#[task]` expands to, to find out whether a type implements [`Lifecycle`]
/// (autoref specialisation). Not public API.
#[doc(hidden)]
pub mod __private {
    use super::*;

    /// Stands for the type being probed.
    pub struct Probe<T>(PhantomData<T>);

    impl<T> Probe<T> {
        /// A probe.
        pub const fn new() -> Self {
            Self(PhantomData)
        }
    }

    impl<T> Default for Probe<T> {
        fn default() -> Self {
            Self::new()
        }
    }

    /// Chosen when the type implements [`Lifecycle`].
    pub trait ViaLifecycle<T: Task> {
        /// The vtable.
        fn vtable(self) -> Vtable<T>;
    }

    impl<T: Lifecycle> ViaLifecycle<T> for &&Probe<T> {
        fn vtable(self) -> Vtable<T> {
            Vtable::of_lifecycle()
        }
    }

    /// Chosen otherwise: every method is the default.
    pub trait ViaDefault<T: Task> {
        /// The vtable.
        fn vtable(self) -> Vtable<T>;
    }

    impl<T: Task> ViaDefault<T> for &Probe<T> {
        fn vtable(self) -> Vtable<T> {
            Vtable::empty()
        }
    }
}

/// A call closure, boxed to cross threads.
pub(crate) type CallFn<T> = Box<dyn FnOnce(&mut T, &mut TaskCx<T>) + Send>;

enum Queued<T: Task> {
    /// A `call`: runs synchronously, only from the task's mailbox (L2).
    Call(CallFn<T>),
    /// An async turn (a lifecycle method or a message handler) waiting for the value.
    Turn(oneshot::Sender<()>),
}

/// Resources and hooks a task registered through its `cx`, released after its dispose.
#[derive(Default)]
pub(crate) struct Local {
    pub(crate) using: Vec<Box<dyn Any>>,
    pub(crate) on_start: Vec<Box<dyn FnOnce()>>,
    pub(crate) on_dispose: Vec<Box<dyn FnOnce()>>,
}

/// The work a task runs beside its mailbox: its `go`, or a feeding task's pump.
enum Work {
    Go(LocalBoxFuture<'static, Result<(), TaskError>>),
    Feed(LocalBoxFuture<'static, Result<(), StopReason>>),
}

impl Work {
    fn poll(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Result<(), StopReason>> {
        match self {
            Work::Go(fut) => fut.as_mut().poll(cx).map_err(TaskError::into_reason),
            Work::Feed(fut) => fut.as_mut().poll(cx),
        }
    }
}

/// The work of the current attempt, polled by the task's own actor future ([`ActorFut`])
/// instead of a tokio task of its own: one task of the runtime per tree task.
#[derive(Default)]
struct Beside {
    work: Option<Work>,
    /// The attempt the work belongs to, reported with its end.
    attempt: u32,
    /// The actor future's waker, to wake it from the parent's side (work handed over, task
    /// disposed). `None` until its first poll, which is queued already.
    waker: Option<Waker>,
}

impl Beside {
    fn wake(&self) {
        if let Some(waker) = &self.waker {
            waker.wake_by_ref();
        }
    }
}

/// The user's value on its arbiter, lent by turns.
pub(crate) struct Core<T: Task> {
    pub(crate) node: Arc<Node>,
    value: RefCell<T>,
    busy: Cell<bool>,
    /// The task is disposed: its actor ends at its next poll (see [`ActorFut`]).
    ending: Cell<bool>,
    queue: RefCell<VecDeque<Queued<T>>>,
    /// Allocated when the task first registers a resource or hook.
    local: RefCell<Option<Box<Local>>>,
    /// The event a feeding task is about to handle.
    pending: RefCell<Option<Event>>,
    /// A feeding task's source, made as the last step of its start.
    source: RefCell<Option<EventStream>>,
    beside: RefCell<Beside>,
}

impl<T: Task> Core<T> {
    /// Builds the task's value and actor on this arbiter and spawns the actor, which reads
    /// its mailbox from `rx`.
    pub(crate) fn spawn(node: Arc<Node>, value: T, rx: AddressReceiver<TaskActor<T>>) -> Rc<Self> {
        let core = Rc::new(Self {
            node,
            value: RefCell::new(value),
            busy: Cell::new(false),
            ending: Cell::new(false),
            queue: RefCell::new(VecDeque::new()),
            local: RefCell::new(None),
            pending: RefCell::new(None),
            source: RefCell::new(None),
            beside: RefCell::new(Beside::default()),
        });
        let actor = TaskActor {
            core: core.clone(),
            children: None,
        };
        let fut = ActorFut {
            ctx: Context::with_receiver(rx).into_future(actor),
            core: core.clone(),
        };
        actix_rt::spawn(Supervise::new(core.node.clone(), fut));
        core
    }

    /// The resources and hooks registered so far, allocated on first use.
    pub(crate) fn local(&self) -> RefMut<'_, Local> {
        RefMut::map(self.local.borrow_mut(), |l| {
            &mut **l.get_or_insert_with(Box::default)
        })
    }

    /// Hands this attempt's work to the actor future, which polls it from now on.
    fn set_work(&self, work: Work) {
        let attempt = self.node.lock().attempt;
        let mut beside = self.beside.borrow_mut();
        beside.work = Some(work);
        beside.attempt = attempt;
        beside.wake();
    }

    /// Polls the work, if any, as the task's user code; its end is reported to the parent.
    fn poll_work(&self, cx: &mut std::task::Context<'_>) {
        let (mut work, attempt) = {
            let mut beside = self.beside.borrow_mut();
            if !beside
                .waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                beside.waker = Some(cx.waker().clone());
            }
            match beside.work.take() {
                Some(work) => (work, beside.attempt),
                None => return,
            }
        };
        // Taken out while polled: the work is user code and may reach this task again. Only
        // the parent's actor hands work over, never during this poll: it is put back as is.
        let polled = {
            let _enter = self.node.span.enter();
            catch_in(Some(&self.node), || work.poll(cx))
        };
        let out = match polled {
            Ok(Poll::Pending) => {
                self.beside.borrow_mut().work = Some(work);
                return;
            }
            Ok(Poll::Ready(out)) => out,
            Err(panic) => Err(panic),
        };
        self.drop_work(work);
        // A stopping parent disposes all its children by itself and ignores their ends
        // (see `job::handle`): when a whole subtree stops, not sending saves a message a task.
        if let Some(parent) = self.node.parent.as_ref().filter(|p| !p.is_stopping()) {
            parent.ctl(Control::ChildEnded(self.node.id, attempt, out));
        }
    }

    /// Drops work whose own `Drop` may be user code that panics.
    fn drop_work(&self, work: Work) {
        if let Err(panic) = catch_in(Some(&self.node), move || drop(work)) {
            tracing::warn!(parent: &self.node.span, reason = %panic, "dropping go panicked");
        }
    }

    /// Drops the current attempt's work, if any: nothing of it runs from now on.
    fn end_work(&self) {
        let work = self.beside.borrow_mut().work.take();
        if let Some(work) = work {
            self.drop_work(work);
        }
    }

    fn cx(self: &Rc<Self>) -> TaskCx<T> {
        TaskCx::new(self.clone())
    }

    /// Waits for the value's turn; the caller then holds it until [`Core::release`].
    async fn acquire(&self) -> Result<(), StopReason> {
        if self.try_acquire() {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        self.queue.borrow_mut().push_back(Queued::Turn(tx));
        rx.await.map_err(|_| self.node.reason_or_disposed())
    }

    /// Takes the value's turn if nobody holds it or waits for it.
    fn try_acquire(&self) -> bool {
        let free = !self.busy.get() && self.queue.borrow().is_empty();
        if free {
            self.busy.set(true);
        }
        free
    }

    /// Hands the value to the next in line: an async turn directly, a call through the
    /// mailbox (so it never runs while the mailbox waits on a child, L2).
    fn release(&self) {
        loop {
            let mut queue = self.queue.borrow_mut();
            match queue.front() {
                None => break,
                Some(Queued::Call(_)) => {
                    drop(queue);
                    self.busy.set(false);
                    self.node.ctl(Control::Drain);
                    return;
                }
                Some(Queued::Turn(_)) => {
                    if let Some(Queued::Turn(tx)) = queue.pop_front() {
                        if tx.send(()).is_ok() {
                            return;
                        }
                    }
                }
            }
        }
        self.busy.set(false);
    }

    /// Runs the queued calls the mailbox may run now.
    fn drain(self: &Rc<Self>) {
        while !self.busy.get() {
            let next = self.queue.borrow_mut().pop_front();
            match next {
                None => return,
                Some(Queued::Call(f)) => self.run_call(f),
                Some(Queued::Turn(tx)) => {
                    self.busy.set(true);
                    if tx.send(()).is_err() {
                        self.busy.set(false);
                    }
                }
            }
        }
    }

    fn call(self: &Rc<Self>, f: CallFn<T>) {
        if self.busy.get() || !self.queue.borrow().is_empty() {
            self.queue.borrow_mut().push_back(Queued::Call(f));
        } else {
            self.run_call(f);
        }
    }

    fn run_call(self: &Rc<Self>, f: CallFn<T>) {
        let mut cx = self.cx();
        let mut value = self.value.borrow_mut();
        // The closure reports its own panic to its caller; nothing else to do here.
        let _ = catch_in(Some(&self.node), || f(&mut value, &mut cx));
    }

    /// Runs one async piece of user code with the value, in turn, guarded against panics.
    /// If the returned future is dropped midway (a dispose abandoned at its deadline), the
    /// turn still passes on.
    // Holding the borrow across `.await` is the lending itself: the turn taken first
    // guarantees no other borrow is attempted until it is released.
    #[allow(clippy::await_holding_refcell_ref)]
    pub(crate) async fn with_value<R: 'static>(
        self: Rc<Self>,
        f: impl for<'a> FnOnce(&'a mut T, &'a mut TaskCx<T>) -> LocalBoxFuture<'a, R> + 'static,
    ) -> Result<R, StopReason> {
        self.acquire().await?;
        let _turn = Turn::take(&self);
        let core = self.clone();
        Guarded::new(self.node.clone(), async move {
            let mut cx = core.cx();
            let mut value = core.value.borrow_mut();
            Ok(f(&mut value, &mut cx).await)
        })
        .await
    }

    /// Runs one synchronous piece of user code with the value, in turn, guarded against
    /// panics: no future to box.
    async fn with_value_now<R>(
        self: &Rc<Self>,
        f: impl FnOnce(&mut T, &mut TaskCx<T>) -> R,
    ) -> Result<R, StopReason> {
        self.acquire().await?;
        self.in_turn(f)
    }

    /// Runs synchronous user code with the value, the turn already acquired; passes the
    /// turn on when done.
    fn in_turn<R>(
        self: &Rc<Self>,
        f: impl FnOnce(&mut T, &mut TaskCx<T>) -> R,
    ) -> Result<R, StopReason> {
        let _turn = Turn::take(self);
        let mut cx = self.cx();
        let mut value = self.value.borrow_mut();
        let _enter = self.node.span.enter();
        catch_in(Some(&self.node), || f(&mut value, &mut cx))
    }

    /// Calls the user's `go` (the turn already acquired) and hands its future to the actor.
    fn begin_go(self: &Rc<Self>, method: GoMethod<T>) -> Result<bool, StopReason> {
        match self.in_turn(method)? {
            Some(Go(fut)) => {
                self.set_work(Work::Go(fut));
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Consumes a feeding task's source until it ends, the task is asked to stop, or an
    /// event fails. In the parent's mailbox, each event is handed over and acknowledged
    /// before the next is taken, so events never pile up in the mailbox.
    async fn pump(
        self: Rc<Self>,
        mut source: EventStream,
        in_parent: bool,
    ) -> Result<(), StopReason> {
        loop {
            let next = tokio::select! {
                biased;
                _ = self.node.stop_requested() => return Ok(()),
                next = std::future::poll_fn(|cx| source.as_mut().poll_next(cx)) => next,
            };
            let event = match next {
                None => return Ok(()),
                Some(Err(reason)) => return Err(reason),
                Some(Ok(event)) => event,
            };
            *self.pending.borrow_mut() = Some(event);
            if in_parent {
                let Some(parent) = &self.node.parent else {
                    return Ok(());
                };
                let (done, handled) = oneshot::channel();
                let attempt = self.node.lock().attempt;
                parent.ctl(Control::ChildEvent(self.node.id, attempt, done));
                if handled.await.is_err() {
                    // The parent declined it: this attempt is ending.
                    return Ok(());
                }
            } else {
                self.clone().handle_pending().await?;
            }
        }
    }

    /// Fails every queued call and turn: the task is gone.
    fn close(&self) {
        self.queue.borrow_mut().clear();
    }
}

/// A turn with the value: marks it lent, and passes it on when dropped, however the
/// holder ends.
struct Turn<'a, T: Task>(&'a Core<T>);

impl<'a, T: Task> Turn<'a, T> {
    fn take(core: &'a Core<T>) -> Self {
        core.node
            .lent
            .store(true, std::sync::atomic::Ordering::Release);
        Self(core)
    }
}

impl<T: Task> Drop for Turn<'_, T> {
    fn drop(&mut self) {
        self.0
            .node
            .lent
            .store(false, std::sync::atomic::Ordering::Release);
        self.0.release();
    }
}

/// A result that is there at once, or a future of it.
pub(crate) enum Soon<R> {
    Now(R),
    Later(LocalBoxFuture<'static, R>),
}

/// What a parent does with a child of any type.
pub(crate) trait ChildOps {
    fn node(&self) -> &Arc<Node>;
    /// `start`; `Err` is a failed start. `None`: nothing to run.
    fn start(self: Rc<Self>) -> Option<LocalBoxFuture<'static, Result<(), StopReason>>>;
    /// `run`, resolving to `None` when the type has no `run`. `None`: known to have none.
    fn run(self: Rc<Self>) -> Option<LocalBoxFuture<'static, Option<Result<(), StopReason>>>>;
    /// `go` (or a feeding task's source): hands it to the task's actor when the type has
    /// one (`true`); its end is reported to the parent.
    fn go(self: Rc<Self>) -> Soon<Result<bool, StopReason>>;
    /// A feeding task's pending event, handled in the parent's mailbox.
    fn handle_pending(self: Rc<Self>) -> LocalBoxFuture<'static, Result<(), StopReason>>;
    /// `dispose`. `None`: nothing to run.
    fn dispose(self: Rc<Self>) -> Option<LocalBoxFuture<'static, Result<(), StopReason>>>;
    /// `on_start` hooks, in the order added.
    fn started(&self);
    /// Drops the `go` future, then `using` resources in reverse order, then runs `on_dispose`
    /// hooks in the order added.
    fn release(&self);
    /// Ends the task's actor: later calls fail with the stop reason.
    fn terminate(&self);
}

impl<T: Task> ChildOps for Core<T> {
    fn node(&self) -> &Arc<Node> {
        &self.node
    }

    fn start(self: Rc<Self>) -> Option<LocalBoxFuture<'static, Result<(), StopReason>>> {
        let vtable = T::__vtable();
        let method = vtable
            .start
            .filter(|_| !T::__learned().knows(Learned::START));
        if method.is_none() && vtable.feed.is_none() {
            return None;
        }
        Some(Box::pin(async move {
            if let Some(method) = method {
                self.clone()
                    .with_value(method)
                    .await?
                    .map_err(TaskError::into_reason)?;
            }
            // A feeding task's source is part of its start: a source that cannot be made
            // (a zero tick interval) fails the start.
            if let Some(feed) = vtable.feed {
                let source = self
                    .with_value_now(|t, cx| (feed.source)(t, cx))
                    .await?
                    .map_err(TaskError::into_reason)?;
                *self.source.borrow_mut() = Some(source);
            }
            Ok(())
        }))
    }

    fn run(self: Rc<Self>) -> Option<LocalBoxFuture<'static, Option<Result<(), StopReason>>>> {
        let method = T::__vtable()
            .run
            .filter(|_| !T::__learned().knows(Learned::RUN))?;
        Some(Box::pin(async move {
            match self.with_value(method).await {
                Ok(Err(e)) if e.is_not_implemented() => None,
                Ok(Ok(())) => Some(Ok(())),
                Ok(Err(e)) => Some(Err(e.into_reason())),
                Err(panic) => Some(Err(panic)),
            }
        }))
    }

    fn go(self: Rc<Self>) -> Soon<Result<bool, StopReason>> {
        let vtable = T::__vtable();
        let source = self.source.borrow_mut().take();
        if let (Some(feed), Some(source)) = (vtable.feed, source) {
            self.set_work(Work::Feed(Box::pin(
                self.clone().pump(source, feed.in_parent),
            )));
            return Soon::Now(Ok(true));
        }
        let Some(method) = vtable.go.filter(|_| !T::__learned().knows(Learned::GO)) else {
            return Soon::Now(Ok(false));
        };
        // Usually nothing holds the value at this point: no future to box then.
        if self.try_acquire() {
            return Soon::Now(self.begin_go(method));
        }
        Soon::Later(Box::pin(async move {
            self.acquire().await?;
            self.begin_go(method)
        }))
    }

    fn handle_pending(self: Rc<Self>) -> LocalBoxFuture<'static, Result<(), StopReason>> {
        Box::pin(async move {
            let (Some(feed), Some(event)) = (T::__vtable().feed, self.pending.borrow_mut().take())
            else {
                return Ok(());
            };
            self.with_value(move |t, cx| (feed.handle)(t, event, cx))
                .await?
                .map_err(TaskError::into_reason)
        })
    }

    fn dispose(self: Rc<Self>) -> Option<LocalBoxFuture<'static, Result<(), StopReason>>> {
        let method = T::__vtable()
            .dispose
            .filter(|_| !T::__learned().knows(Learned::DISPOSE))?;
        Some(Box::pin(self.with_value(method)))
    }

    fn started(&self) {
        let hooks = match self.local.borrow_mut().as_deref_mut() {
            Some(local) => std::mem::take(&mut local.on_start),
            None => return,
        };
        for hook in hooks {
            if let Err(panic) = catch_in(Some(&self.node), hook) {
                tracing::warn!(parent: &self.node.span, reason = %panic, "on_start hook panicked");
            }
        }
    }

    fn release(&self) {
        self.end_work();
        let Some(mut local) = self.local.borrow_mut().take() else {
            return;
        };
        while let Some(resource) = local.using.pop() {
            if let Err(panic) = catch_in(Some(&self.node), move || drop(resource)) {
                tracing::warn!(parent: &self.node.span, reason = %panic, "releasing a resource panicked");
            }
        }
        for hook in local.on_dispose {
            if let Err(panic) = catch_in(Some(&self.node), hook) {
                tracing::warn!(parent: &self.node.span, reason = %panic, "on_dispose hook panicked");
            }
        }
    }

    fn terminate(&self) {
        // Not a message: the actor future is woken and stops its context itself, which
        // saves an envelope per task. Messages already in the mailbox are still handled
        // in that last poll, as they would be before a message sent behind them.
        self.ending.set(true);
        self.beside.borrow().wake();
    }
}

/// A child on its way to its parent's arbiter, where its actor is built.
///
/// If it is dropped unopened (the parent's actor ended first), the child is disposed with
/// the parent's stop reason, so no waiter hangs (L8: nothing lost or leaked).
pub(crate) struct Adoption {
    node: Arc<Node>,
    make: Option<Box<dyn FnOnce() -> Rc<dyn ChildOps> + Send>>,
}

impl Adoption {
    pub(crate) fn new<T: Task + Send>(
        node: Arc<Node>,
        rx: AddressReceiver<TaskActor<T>>,
        value: T,
    ) -> Self {
        let child = node.clone();
        let make = move || -> Rc<dyn ChildOps> { Core::spawn(child, value, rx) };
        Self {
            node,
            make: Some(Box::new(make)),
        }
    }

    /// Builds the child's actor on this arbiter.
    pub(crate) fn open(mut self) -> Option<Rc<dyn ChildOps>> {
        self.make.take().map(|make| make())
    }
}

impl Drop for Adoption {
    fn drop(&mut self) {
        if let Some(make) = self.make.take() {
            let parent_reason = self.node.parent.as_ref().and_then(|p| p.reason());
            self.node
                .mark_stopping(parent_reason.unwrap_or(StopReason::Disposed));
            let _ = crate::supervisor::catch(move || drop(make));
            self.node.finish_unstarted();
        }
    }
}

/// The framework's messages to a task's actor.
pub(crate) enum Control {
    /// Take a new child: build its actor here and start it.
    Adopt(Adoption),
    /// A child was stopped: dispose it.
    ChildStopped(TaskId),
    /// A child's `go` (or its feed) returned, or the child failed, in the given attempt.
    ChildEnded(TaskId, u32, Result<(), StopReason>),
    /// A feeding child has an event for this mailbox; acknowledge once handled.
    ChildEvent(TaskId, u32, oneshot::Sender<()>),
    /// A child asked to be restarted.
    ChildRestart(TaskId),
    /// A child's retry delay is over: start it again.
    RetryChild(TaskId),
    /// Dispose every child, last started first, then answer.
    DisposeChildren(Arc<StopReason>, oneshot::Sender<()>),
    /// A task with no parent (the root) was stopped: dispose its subtree and itself.
    DisposeSelf,
    /// Run the calls that queued while the value was lent.
    Drain,
    /// The root is disposed: stop its actor (a child's actor is ended by its parent, see
    /// `ChildOps::terminate`).
    Terminate,
}

impl Message for Control {
    type Result = ();
}

/// The actor that carries one task: its mailbox serializes the calls sent to the task and
/// the lifecycle of the task's children.
pub(crate) struct TaskActor<T: Task> {
    core: Rc<Core<T>>,
    /// Allocated with the first child.
    children: Option<Rc<Children>>,
}

/// A task's actor context together with the work it runs beside its mailbox.
pub(crate) struct ActorFut<T: Task> {
    ctx: ContextFut<TaskActor<T>, Context<TaskActor<T>>>,
    core: Rc<Core<T>>,
}

impl<T: Task> Future for ActorFut<T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.core.ending.get() {
            this.core.close();
            ActorContext::stop(this.ctx.ctx());
        }
        if Pin::new(&mut this.ctx).poll(cx).is_ready() {
            // Nothing of the task runs once its actor has ended.
            this.core.end_work();
            return Poll::Ready(());
        }
        this.core.poll_work(cx);
        Poll::Pending
    }
}

impl<T: Task> Actor for TaskActor<T> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Lifecycle messages must never be refused: the framework sends with `do_send`,
        // which ignores the capacity; this keeps `send` from user code roomy too.
        ctx.set_mailbox_capacity(1024);
    }
}

impl<T: Task> Handler<Control> for TaskActor<T> {
    type Result = ();

    fn handle(&mut self, msg: Control, ctx: &mut Self::Context) {
        match msg {
            Control::Drain => self.core.drain(),
            Control::Terminate => {
                self.core.close();
                ctx.stop();
            }
            other => {
                let children = self.children.get_or_insert_with(Rc::default);
                crate::job::handle(&self.core.node, children, other, ctx)
            }
        }
    }
}

/// A `call` closure on its way to the task.
pub(crate) struct CallMsg<T: Task>(pub(crate) CallFn<T>);

impl<T: Task> Message for CallMsg<T> {
    type Result = ();
}

impl<T: Task> Handler<CallMsg<T>> for TaskActor<T> {
    type Result = ();

    fn handle(&mut self, msg: CallMsg<T>, _ctx: &mut Self::Context) {
        self.core.call(msg.0);
    }
}

/// A user's message on its way to the task, with where to answer.
pub(crate) struct UserMsg<M: Message> {
    pub(crate) msg: M,
    pub(crate) reply: oneshot::Sender<Result<M::Result, HandleError>>,
}

impl<M: Message + 'static> Message for UserMsg<M> {
    type Result = ();
}

impl<T, M> Handler<UserMsg<M>> for TaskActor<T>
where
    T: Handles<M>,
    M: Message + 'static,
    M::Result: 'static,
{
    type Result = ();

    fn handle(&mut self, msg: UserMsg<M>, _ctx: &mut Self::Context) {
        let core = self.core.clone();
        let UserMsg { msg, reply } = msg;
        // Spawned, not awaited in the actor: the handler may await without holding the
        // mailbox, so the task's children keep starting meanwhile.
        actix_rt::spawn(async move {
            let out = core
                .with_value(move |t, cx| Box::pin(T::handle(t, msg, cx)))
                .await
                .map_err(HandleError::from_panic);
            let _ = reply.send(out);
        });
    }
}
