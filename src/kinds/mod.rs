//! The kinds beyond task, job and work (DESIGN §2).
//!
//! | kind | attribute | trait | ends when | GoTask |
//! |---|---|---|---|---|
//! | tick | `#[task(tick)]` | [`Tick`] | stopped, or a tick fails for good | `TickTask` |
//! | async tick | `#[task(async_tick)]` | [`Tick`] | the same; ticks on its own | `AsyncTickTask` |
//! | channel | `#[task(channel)]` | [`Channel`] | its stream ends (`Complete`) or errors | `ChannelTask` |
//! | keyed collection | `#[task(work)]` + children with `#[task(key = field)]` | [`Collection`] | stopped | `WorkCollection` |
//!
//! A tick task's `tick` runs in its parent's mailbox, like a lifecycle method: serialized with
//! its siblings' lifecycle and with calls to the parent. An async tick task's `tick` runs on
//! its own, beside its mailbox. A channel task's `tick(item)` runs in its parent's mailbox.
//! Either way one event is handled at a time; the next tick is scheduled only after the last
//! one was handled, so slow ticks delay later ones instead of piling up.

mod channel;
mod collection;
mod tick;

pub use channel::{from_iter, from_receiver, from_unbounded, Channel, ItemStream};
pub use collection::Collection;
pub use tick::Tick;

#[doc(hidden)]
pub use channel::channel_feed;
#[doc(hidden)]
pub use tick::tick_feed;

/// A kind's configuration that cannot work.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum KindError {
    /// A tick task returned a zero interval: it would tick in a busy loop.
    #[error("{owner}: a tick interval of zero is refused")]
    ZeroInterval {
        /// The task's type.
        owner: &'static str,
    },
}

/// A `Stream` from a poll function: the one adapter the kinds (and the web's event stream)
/// need, without a stream crate.
pub(crate) struct PollStream<F>(pub(crate) F);

impl<F, I> futures_core::Stream for PollStream<F>
where
    F: FnMut(&mut std::task::Context<'_>) -> std::task::Poll<Option<I>> + Unpin,
{
    type Item = I;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<I>> {
        (self.0)(cx)
    }
}
