//! Channel tasks: `tick(item)` for each item of a stream (GoTask's `ChannelTask`).

use std::pin::Pin;

use futures_core::Stream;

use super::PollStream;
use crate::context::TaskCx;
use crate::reason::{StopReason, TaskError};
use crate::task::{Event, EventStream, Feed, LocalBoxFuture, Task, Vtable};

/// The stream a channel task consumes: an `Err` item ends the task with that error.
pub type ItemStream<I> = Pin<Box<dyn Stream<Item = Result<I, TaskError>>>>;

/// A task driven by a stream: `#[task(channel)]`.
///
/// After each successful start, [`stream`](Channel::stream) gives the stream to consume;
/// `tick` is called for each item, in order, in the parent's mailbox. The task ends with
/// `Complete` when the stream ends, and with the error when the stream yields one.
///
/// ```
/// use tasktree::prelude::*;
/// use tasktree::kinds::{from_unbounded, ItemStream};
///
/// #[task(channel)]
/// struct Printer { rx: Option<tokio::sync::mpsc::UnboundedReceiver<String>> }
///
/// impl Channel for Printer {
///     type Item = String;
///     fn stream(&mut self, _cx: &mut TaskCx<Self>) -> ItemStream<String> {
///         from_unbounded(self.rx.take().expect("one attempt"))
///     }
///     async fn tick(&mut self, line: String, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
///         println!("{line}");
///         Ok(())
///     }
/// }
/// ```
#[allow(async_fn_in_trait)]
pub trait Channel: Task {
    /// What the stream yields.
    type Item: 'static;

    /// The stream to consume in this attempt.
    fn stream(&mut self, cx: &mut TaskCx<Self>) -> ItemStream<Self::Item>;

    /// Handles one item.
    async fn tick(&mut self, item: Self::Item, cx: &mut TaskCx<Self>) -> Result<(), TaskError>;
}

fn source<T: Channel>(task: &mut T, cx: &mut TaskCx<T>) -> Result<EventStream, TaskError> {
    let mut items = task.stream(cx);
    Ok(Box::pin(PollStream(
        move |cx: &mut std::task::Context<'_>| {
            items.as_mut().poll_next(cx).map(|next| {
                next.map(|item| {
                    item.map(|item| Event::Item(Box::new(item)))
                        .map_err(StopReason::from)
                })
            })
        },
    )))
}

fn handle<'a, T: Channel>(
    task: &'a mut T,
    event: Event,
    cx: &'a mut TaskCx<T>,
) -> LocalBoxFuture<'a, Result<(), TaskError>> {
    match event {
        Event::Item(item) => match item.downcast::<T::Item>() {
            Ok(item) => Box::pin(task.tick(*item, cx)),
            Err(_) => Box::pin(std::future::ready(Err(TaskError::msg(
                "channel item of a foreign type",
            )))),
        },
        Event::Tick => Box::pin(std::future::ready(Ok(()))),
    }
}

/// The vtable of a channel task. Written by `#[task(channel)]`; not public API.
pub fn channel_feed<T: Channel>(base: Vtable<T>) -> Vtable<T> {
    base.with_feed(Feed {
        source: source::<T>,
        handle: handle::<T>,
        in_parent: true,
    })
}

/// A bounded tokio channel's receiver as an item stream.
pub fn from_receiver<I: 'static>(mut rx: tokio::sync::mpsc::Receiver<I>) -> ItemStream<I> {
    Box::pin(PollStream(move |cx: &mut std::task::Context<'_>| {
        rx.poll_recv(cx).map(|i| i.map(Ok))
    }))
}

/// An unbounded tokio channel's receiver as an item stream.
pub fn from_unbounded<I: 'static>(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<I>,
) -> ItemStream<I> {
    Box::pin(PollStream(move |cx: &mut std::task::Context<'_>| {
        rx.poll_recv(cx).map(|i| i.map(Ok))
    }))
}

/// The items of an iterator (`Ok` or `Err`) as an item stream.
pub fn from_iter<I: 'static>(
    items: impl IntoIterator<Item = Result<I, TaskError>> + 'static,
) -> ItemStream<I> {
    let mut items = Box::new(items.into_iter());
    Box::pin(PollStream(move |_: &mut std::task::Context<'_>| {
        std::task::Poll::Ready(items.next())
    }))
}
