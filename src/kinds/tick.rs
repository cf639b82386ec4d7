//! Tick tasks: `tick` every `interval` (GoTask's `TickTask` and `AsyncTickTask`).

use std::time::Duration;

use tokio::time::{interval_at, Instant, MissedTickBehavior};

use super::{KindError, PollStream};
use crate::context::TaskCx;
use crate::reason::TaskError;
use crate::task::{Event, EventStream, Feed, LocalBoxFuture, Task, Vtable};

/// A task that ticks: `#[task(tick)]` ticks in its parent's mailbox, `#[task(async_tick)]` on
/// its own.
///
/// The first tick comes one `interval` after the start. Stopping the task stops its timer at
/// once. A failing `tick` ends the attempt like a failing `run` (retried as the task's
/// [`Retry`](crate::Retry) allows). A zero interval fails the start with
/// [`KindError::ZeroInterval`].
///
/// ```
/// use std::time::Duration;
/// use tasktree::prelude::*;
///
/// #[task(tick)]
/// struct Heartbeat { beats: u64 }
///
/// impl Tick for Heartbeat {
///     fn interval(&self) -> Duration {
///         Duration::from_millis(200)
///     }
///     async fn tick(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
///         self.beats += 1;
///         Ok(())
///     }
/// }
/// ```
#[allow(async_fn_in_trait)]
pub trait Tick: Task {
    /// Time between ticks, read once per start.
    fn interval(&self) -> Duration;

    /// One tick.
    async fn tick(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError>;
}

fn source<T: Tick>(task: &mut T, _cx: &mut TaskCx<T>) -> Result<EventStream, TaskError> {
    let period = task.interval();
    if period.is_zero() {
        return Err(KindError::ZeroInterval { owner: T::OWNER }.into());
    }
    let mut timer = interval_at(Instant::now() + period, period);
    timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
    Ok(Box::pin(PollStream(
        move |cx: &mut std::task::Context<'_>| timer.poll_tick(cx).map(|_| Some(Ok(Event::Tick))),
    )))
}

fn handle<'a, T: Tick>(
    task: &'a mut T,
    _event: Event,
    cx: &'a mut TaskCx<T>,
) -> LocalBoxFuture<'a, Result<(), TaskError>> {
    Box::pin(task.tick(cx))
}

/// The vtable of a tick task. Written by `#[task(tick)]`; not public API.
pub fn tick_feed<T: Tick>(base: Vtable<T>, in_parent: bool) -> Vtable<T> {
    base.with_feed(Feed {
        source: source::<T>,
        handle: handle::<T>,
        in_parent,
    })
}
