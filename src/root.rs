//! [`Root`]: the top of the tree, and graceful shutdown (L15).

use std::ops::Deref;
use std::panic::Location;
use std::time::Duration;

use actix::Addr;

use crate::handle::{TaskHandle, TaskRef};
use crate::node::Node;
use crate::reason::StopReason;
use crate::state::{Kind, TaskState};
use crate::task::{Core, Learned, Task, TaskActor, Vtable};

/// The root of a task tree: add top-level tasks to it, shut it all down with it.
///
/// Create it inside a running actix system (`#[actix::main]`, `#[actix_rt::test]`); every
/// task of the tree is an actor on that system's arbiter.
///
/// ```
/// use tasktree::prelude::*;
///
/// #[task(work)]
/// struct Service;
///
/// #[actix::main]
/// async fn main() {
///     let root = Root::new();
///     let service = root.add(Service);
///     service.wait_started().await.unwrap();
///     assert!(root.shutdown().await.is(ReasonKind::Exit));
///     assert_eq!(service.state(), TaskState::Disposed);
/// }
/// ```
pub struct Root {
    handle: TaskHandle<RootTask>,
}

/// The root's own (empty) value.
#[doc(hidden)]
pub struct RootTask;

impl Task for RootTask {
    const KIND: Kind = Kind::Root;
    const OWNER: &'static str = "root";

    fn __vtable() -> Vtable<Self> {
        Vtable::empty()
    }

    fn __learned() -> &'static Learned {
        static LEARNED: Learned = Learned::new();
        &LEARNED
    }
}

/// The root's shutdown did not finish by its deadline.
#[derive(Debug, Clone, thiserror::Error)]
#[error("shutdown deadline passed with {} task(s) not disposed: {}", .pending.len(), .pending.join(", "))]
pub struct ShutdownTimeout {
    /// Paths of the tasks that were not disposed in time (their dispose hangs, or one of
    /// their descendants' does).
    pub pending: Vec<String>,
}

impl Root {
    /// Creates the root on the current arbiter, started at once, and installs OS signal
    /// handling: the first SIGINT, SIGTERM, SIGHUP or SIGQUIT shuts the tree down gracefully
    /// with [`StopReason::Exit`]; later ones are reported and change nothing, so a second
    /// Ctrl-C never skips a dispose. Await [`wait_stopped`](TaskRef::wait_stopped) in `main`
    /// and return when it resolves.
    ///
    /// With an actix-web server in the same process, let the root own the signals: build the
    /// server with `.disable_signals()` and stop it when the root is disposed.
    ///
    /// # Panics
    ///
    /// Outside a running actix system (there is no arbiter to run the root on).
    #[track_caller]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let root = Self::at(Location::caller());
        actix_rt::spawn(signals::watch(root.as_task().clone()));
        root
    }

    /// Creates the root without touching OS signals (for tests, and for programs that
    /// handle signals themselves and call [`shutdown`](Root::shutdown)).
    #[track_caller]
    pub fn without_signals() -> Self {
        Self::at(Location::caller())
    }

    fn at(location: &'static Location<'static>) -> Self {
        let (tx, rx) = actix::dev::channel::channel(16);
        let addr: Addr<TaskActor<RootTask>> = Addr::new(tx);
        let node = Node::new(None, None, location, addr);
        Core::spawn(node.clone(), RootTask, rx);
        node.lock().ever_started = true;
        node.set_state(TaskState::Started);
        Self {
            handle: TaskHandle::new(node),
        }
    }

    /// The root as an untyped handle.
    pub fn as_task(&self) -> &TaskRef {
        &self.handle
    }

    /// Stops the whole tree with [`StopReason::Exit`] and resolves once every task has been
    /// disposed, children before parents. Returns the root's stop reason (`Exit`, or the
    /// reason it was stopped with before).
    pub async fn shutdown(&self) -> StopReason {
        self.stop(StopReason::Exit);
        self.wait_stopped().await
    }

    /// Like [`shutdown`](Root::shutdown), but gives up after `deadline` and reports the
    /// tasks not yet disposed instead of hanging the process.
    pub async fn shutdown_within(&self, deadline: Duration) -> Result<StopReason, ShutdownTimeout> {
        self.stop(StopReason::Exit);
        match tokio::time::timeout(deadline, self.wait_stopped()).await {
            Ok(reason) => Ok(reason),
            Err(_) => {
                let mut pending = Vec::new();
                let mut stack = vec![self.as_task().clone()];
                while let Some(task) = stack.pop() {
                    let children = task.children();
                    if children.is_empty() && task.state() != TaskState::Disposed {
                        pending.push(task.path());
                    }
                    stack.extend(children);
                }
                tracing::warn!(pending = ?pending, "shutdown deadline passed");
                Err(ShutdownTimeout { pending })
            }
        }
    }
}

impl Deref for Root {
    type Target = TaskRef;

    fn deref(&self) -> &TaskRef {
        &self.handle
    }
}

mod signals {
    //! The root owns the process's termination signals.

    use crate::handle::TaskRef;
    use crate::reason::StopReason;

    /// Stops `root` with `Exit` at the first signal; reports later ones; ends with the root.
    pub(super) async fn watch(root: TaskRef) {
        let Some(mut signals) = Signals::install() else {
            tracing::warn!("cannot listen for termination signals");
            return;
        };
        let mut first = true;
        loop {
            let name = tokio::select! {
                _ = root.wait_stopped() => return,
                name = signals.recv() => name,
            };
            if first {
                tracing::info!(signal = name, "signal received: shutting down");
                root.stop(StopReason::Exit);
                first = false;
            } else {
                tracing::warn!(
                    signal = name,
                    "signal received again: shutdown already in progress"
                );
            }
        }
    }

    #[cfg(unix)]
    struct Signals(Vec<(tokio::signal::unix::Signal, &'static str)>);

    #[cfg(unix)]
    impl Signals {
        fn install() -> Option<Self> {
            use tokio::signal::unix::{signal, SignalKind};
            let kinds = [
                (SignalKind::interrupt(), "SIGINT"),
                (SignalKind::terminate(), "SIGTERM"),
                (SignalKind::hangup(), "SIGHUP"),
                (SignalKind::quit(), "SIGQUIT"),
            ];
            let mut streams = Vec::new();
            for (kind, name) in kinds {
                streams.push((signal(kind).ok()?, name));
            }
            Some(Self(streams))
        }

        async fn recv(&mut self) -> &'static str {
            std::future::poll_fn(|cx| {
                for (stream, name) in &mut self.0 {
                    if stream.poll_recv(cx).is_ready() {
                        return std::task::Poll::Ready(*name);
                    }
                }
                std::task::Poll::Pending
            })
            .await
        }
    }

    #[cfg(not(unix))]
    struct Signals;

    #[cfg(not(unix))]
    impl Signals {
        fn install() -> Option<Self> {
            Some(Self)
        }

        async fn recv(&mut self) -> &'static str {
            let _ = tokio::signal::ctrl_c().await;
            "ctrl-c"
        }
    }
}
