//! What runs user code and actors: panic capture, the "current task", and the supervisor
//! future around each task's actix context.
//!
//! actix 0.13 lets a panic in a handler end the actor's future silently. Here every piece of
//! user code runs inside [`catch`] (sync) or [`Guarded`] (async), which turn a panic into
//! [`StopReason::Panic`] with its message and location (L9). The task's actor itself runs
//! inside [`Supervise`], a last line of defence: should anything still unwind out of the
//! actor, the task is stopped with the panic as its reason instead of vanishing.
//!
//! With the cargo feature `panic-propagate`, nothing is caught: panics unwind as usual, for
//! debugging (GoTask's `taskpanic` build tag).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::task::{Context, Poll};

use crate::node::Node;
use crate::reason::StopReason;

thread_local! {
    /// The task whose user code this thread is executing, if any.
    static CURRENT: RefCell<Option<Arc<Node>>> = const { RefCell::new(None) };
    /// How many guarded sections are active on this thread (the hook stays quiet inside them).
    static GUARDED: Cell<u32> = const { Cell::new(0) };
    /// The location of the last panic seen inside a guarded section.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The task whose user code is running on this thread right now.
pub(crate) fn current() -> Option<Arc<Node>> {
    CURRENT.with(|c| c.borrow().clone())
}

fn install_hook() {
    static HOOK: Once = Once::new();
    // The hook cannot be changed while this thread unwinds; the first guarded section
    // outside a panic installs it.
    if std::thread::panicking() {
        return;
    }
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) > 0 {
                let location = info.location().map(|l| l.to_string());
                LOCATION.with(|l| *l.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
}

/// The text of a panic payload: `&str` and `String` verbatim, anything else named as such.
pub(crate) fn payload_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

fn to_reason(payload: Box<dyn Any + Send>) -> StopReason {
    let message = payload_text(&*payload);
    let location = LOCATION.with(|l| l.borrow_mut().take());
    // Drop the payload here, guarded: a payload whose own Drop panics must not escape.
    if panic::catch_unwind(AssertUnwindSafe(move || drop(payload))).is_err() {
        tracing::warn!("a panic payload panicked while being dropped");
    }
    StopReason::Panic { message, location }
}

/// One guarded section: counts itself for the panic hook and, when it runs a task's code,
/// makes that task current until it ends.
struct Section {
    /// The task that was current before, to restore on exit; `None` when nothing was swapped.
    restore: Option<Option<Arc<Node>>>,
}

impl Section {
    fn enter(node: Option<&Arc<Node>>) -> Self {
        install_hook();
        GUARDED.with(|g| g.set(g.get() + 1));
        let restore = node.map(|n| CURRENT.with(|c| c.borrow_mut().replace(n.clone())));
        Self { restore }
    }
}

impl Drop for Section {
    fn drop(&mut self) {
        GUARDED.with(|g| g.set(g.get() - 1));
        if let Some(previous) = self.restore.take() {
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
}

/// Runs `f`, turning a panic into [`StopReason::Panic`].
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, StopReason> {
    catch_in(None, f)
}

/// Runs `f` as user code of `node` (so deadlock checks know who is calling), turning a
/// panic into [`StopReason::Panic`].
pub(crate) fn catch_in<R>(
    node: Option<&Arc<Node>>,
    f: impl FnOnce() -> R,
) -> Result<R, StopReason> {
    let _section = Section::enter(node);
    if cfg!(feature = "panic-propagate") {
        return Ok(f());
    }
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(to_reason)
}

pin_project_lite::pin_project! {
    /// A future of user code: each poll runs inside the task's span, as the current task,
    /// and a panic ends the future with [`StopReason::Panic`].
    pub(crate) struct Guarded<F> {
        node: Arc<Node>,
        // `None` once finished or poisoned by a panic: never polled again.
        #[pin]
        fut: Option<F>,
    }
}

impl<F> Guarded<F> {
    pub(crate) fn new(node: Arc<Node>, fut: F) -> Self {
        Self {
            node,
            fut: Some(fut),
        }
    }
}

impl<F, T> Future for Guarded<F>
where
    F: Future<Output = Result<T, StopReason>>,
{
    type Output = Result<T, StopReason>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _enter = this.node.span.enter();
        let polled = catch_in(Some(this.node), || match this.fut.as_mut().as_pin_mut() {
            Some(fut) => fut.poll(cx),
            None => Poll::Ready(Err(StopReason::Canceled)),
        });
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => {
                this.fut.set(None);
                Poll::Ready(out)
            }
            Err(panic) => {
                // The future is poisoned; dropping it may run user Drop code, guard that too.
                let _ = catch(|| this.fut.set(None));
                Poll::Ready(Err(panic))
            }
        }
    }
}

/// Task actors alive in this process.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// How many task actors are alive in this process right now: a leak check. After a root's
/// `shutdown` resolves, every actor of its tree has ended.
pub fn live_tasks() -> usize {
    LIVE.load(Ordering::Acquire)
}

/// The future that runs one task's actix context (see the module docs).
pub(crate) struct Supervise<F> {
    node: Arc<Node>,
    fut: F,
}

impl<F> Supervise<F> {
    pub(crate) fn new(node: Arc<Node>, fut: F) -> Self {
        LIVE.fetch_add(1, Ordering::AcqRel);
        Self { node, fut }
    }
}

impl<F> Drop for Supervise<F> {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<F: Future<Output = ()> + Unpin> Future for Supervise<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        match catch(|| Pin::new(&mut this.fut).poll(cx)) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => {
                this.node.end_actor();
                Poll::Ready(())
            }
            Err(panic) => {
                tracing::error!(parent: &this.node.span, reason = %panic, "task actor panicked");
                this.node.abandon(panic);
                this.node.end_actor();
                Poll::Ready(())
            }
        }
    }
}
