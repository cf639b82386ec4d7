//! # tasktree
//!
//! Asynchronous tasks as one supervised tree, on actix. Everything in a program — a
//! connection, a stream, a timer, a service — is a *task* with a clear lifecycle, a unique
//! id, timings, descriptions, a start reason and a stop reason, in one tree that can be
//! watched and controlled like an operating system's task manager. The model is the Go
//! library GoTask's; the machinery is actix's.
//!
//! ## Quick start
//!
//! ```
//! use std::time::Duration;
//! use tasktree::prelude::*;
//!
//! #[task(job)] // a container: ends when its last child has ended
//! struct Connection { remote: String }
//!
//! #[task]
//! struct Puller { url: String, frames: u32 }
//!
//! impl Lifecycle for Puller {
//!     async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
//!         cx.describe("url", &self.url);
//!         cx.set_retry(Retry::exponential(3, Duration::from_millis(100)));
//!         Ok(())
//!     }
//!     async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
//!         self.frames += 1; // blocks the parent's mailbox, like GoTask's Run
//!         Ok(())
//!     }
//! }
//!
//! #[actix::main]
//! async fn main() -> Result<(), TaskError> {
//!     let root = Root::new();
//!     let conn = root.add(Connection { remote: "rtmp://example/live".into() });
//!     let puller = conn.add(Puller { url: "http://example/a.flv".into(), frames: 0 });
//!     assert!(puller.wait_stopped().await.is(ReasonKind::Complete));
//!     // The job's last child ended, so the job ended too.
//!     assert!(conn.wait_stopped().await.is(ReasonKind::AutoStop));
//!     root.shutdown().await;
//!     Ok(())
//! }
//! ```
//!
//! ## How the pieces fit
//!
//! | concept | module | |
//! |---|---|---|
//! | why a task stopped; errors | `reason` | [`StopReason`], [`TaskError`], [`HandleError`] |
//! | ids, states, timings, steps, events | `state` | [`TaskId`], [`TaskState`], [`Kind`], [`Timings`], [`TaskEvent`] |
//! | retry policy | `retry` | [`Retry`] |
//! | supervision settings | `strategy` | [`Strategy`], [`Intensity`], [`RestartKind`] |
//! | the shared record of a task: stop cascade, waits, watchers | `node` | |
//! | panic capture, the actor's supervisor future | `supervisor` | [`live_tasks`] |
//! | the user's traits, the actor of a task | `task` | [`Task`], [`Lifecycle`], [`Handles`], [`Go`] |
//! | the task's own context | `context` | [`TaskCx`] |
//! | handles | `handle` | [`TaskRef`], [`TaskHandle`] |
//! | children's lifecycle in the parent's mailbox, retry, strategies | `job` | |
//! | tick, channel, keyed collections | [`kinds`] | [`Tick`](kinds::Tick), [`Channel`](kinds::Channel), [`Collection`](kinds::Collection) |
//! | the root, signals, shutdown | `root` | [`Root`] |
//! | read-only views | `snapshot` | [`TaskInfo`] |
//! | stored history | [`history`] | `History`, `MemoryStore`, `SqliteStore`, `PostgresStore` |
//! | metrics | [`metrics`] | |
//! | web API, event stream, dashboard page (feature `web`) | `web` | `Dashboard`, `serve` |
//!
//! The arrows point one way: `reason ← state ← retry/strategy ← node ← supervisor ← task ←
//! context ← handle ← job ← kinds/root`; the observers — `snapshot`, `history`, `metrics`,
//! `web` — read handles and snapshots and are never imported by the core (the core only calls
//! the `metrics` facade).
//!
//! ## The model
//!
//! **A tree.** [`Root::new`] makes the root; `add` on any handle (or on a task's own
//! [`TaskCx`]) adds a child and returns its [`TaskHandle`] at once. Each task is an actix
//! actor running on the root's arbiter, supervised by its parent.
//!
//! **Kinds.** `#[task]` makes a plain task, which ends when its `run` or `go` returns, when
//! it fails, or when it is stopped. `#[task(job)]` makes a container that ends when its last
//! child has ended ([`StopReason::AutoStop`]); `#[task(work)]` a container that ends only
//! when stopped.
//!
//! **Lifecycle.** [`Lifecycle`] has four optional methods: `start`, `run` (blocking: the
//! parent's mailbox waits for it), `go` (runs on its own) and `dispose`. States go
//! `Init → Starting → Started → Running | Going → Disposing → Disposed` ([`TaskState`]).
//!
//! **Serialization.** A child's `start`, `run` and `dispose` run inside its *parent's*
//! mailbox (actix `ctx.wait`), so for the children of one parent they never run at the same
//! time, nor interleave with each other or with a [`call`](TaskHandle::call) sent to the
//! parent — GoTask's "called in the parent task's goroutine", given by the mailbox. The
//! task's own mailbox stays free, so its `start` can add children and wait for them.
//!
//! **Stopping.** [`stop`](TaskRef::stop) is immediate and idempotent: the first reason wins;
//! `on_stop` resources are released at once; children are stopped with the same reason;
//! then the parent disposes the subtree, children before parents, last started first.
//!
//! **Failures.** A panic in any user code becomes [`StopReason::Panic`]; the parent and the
//! siblings keep working. A failed start is started again, a failed `run` is disposed and
//! started again, as the task's [`Retry`] policy allows; the id stays the same.
//!
//! **Dropping handles.** A task lives until it is stopped or ends by itself; dropping every
//! handle to it changes nothing, because its parent holds it.
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

mod context;
mod handle;
pub mod history;
mod job;
pub mod kinds;
pub mod metrics;
mod node;
mod reason;
mod retry;
mod root;
mod snapshot;
mod state;
mod strategy;
mod supervisor;
mod task;
#[cfg(feature = "web")]
pub mod web;

pub use context::TaskCx;
pub use handle::{TaskHandle, TaskRef};
pub use reason::{HandleError, ReasonKind, StopReason, TaskError};
pub use retry::Retry;
pub use root::{Root, ShutdownTimeout};
pub use snapshot::TaskInfo;
pub use state::{Descriptions, Kind, Step, TaskEvent, TaskId, TaskState, Timings};
pub use strategy::{Intensity, RestartKind, Strategy, SupervisionError};
pub use supervisor::live_tasks;
pub use task::{Go, Handles, Lifecycle, LocalBoxFuture, Task};
pub use tasktree_macros::task;

/// The README's examples, compiled and run as doc tests so they cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The guide's examples, likewise.
#[doc = include_str!("../docs/guide.md")]
#[cfg(doctest)]
pub struct GuideDoctests;

/// The Chinese README's examples, likewise.
#[doc = include_str!("../README.zh-CN.md")]
#[cfg(doctest)]
pub struct ReadmeZhDoctests;

#[doc(hidden)]
pub mod __private {
    pub use crate::kinds::{channel_feed, tick_feed};
    pub use crate::task::__private::*;
    pub use crate::task::{Learned, Vtable};
}

/// Everything a user of tasktree usually needs, in one import.
pub mod prelude {
    pub use crate::kinds::{Channel, Collection, Tick};
    pub use crate::{
        task, Go, HandleError, Handles, Intensity, Kind, Lifecycle, ReasonKind, RestartKind, Retry,
        Root, StopReason, Strategy, Task, TaskCx, TaskError, TaskHandle, TaskRef, TaskState,
    };
}
