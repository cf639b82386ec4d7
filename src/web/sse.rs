//! Server-Sent Events: the tree's events, pushed live (DESIGN §7).
//!
//! The tree's watcher serializes an event only while someone listens. Each stream gets a
//! forwarder on its worker: events become `id:`/`event:`/`data:` frames, a comment keeps the
//! connection alive every 15 s, a client that falls behind gets a `resync` event (reload the
//! tree), and the stream ends when the tree is disposed, so a server shutdown never waits on
//! an open stream.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};

use crate::handle::TaskRef;
use crate::kinds::PollStream;
use crate::state::{TaskEvent, TaskId, TaskState};

/// How many events a slow client may be behind before it is told to resync.
const BACKLOG: usize = 1024;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Frame<'a> {
    id: TaskId,
    parent_id: Option<TaskId>,
    owner: &'static str,
    kind: &'static str,
    state: TaskState,
    path: String,
    stop_reason: Option<String>,
    event: &'a TaskEvent,
}

/// Starts watching `root`'s tree; the returned sender hands out subscriptions.
pub(crate) fn listen(root: &TaskRef) -> broadcast::Sender<Arc<str>> {
    let (tx, _) = broadcast::channel(BACKLOG);
    let events = tx.clone();
    let seq = AtomicU64::new(0);
    root.observe_descendants(move |task, event| {
        if events.receiver_count() == 0 {
            return;
        }
        let frame = Frame {
            id: task.id(),
            parent_id: task.parent().map(|p| p.id()),
            owner: task.owner(),
            kind: task.kind().as_str(),
            state: task.state(),
            path: task.path(),
            stop_reason: task.stop_reason().map(|r| r.to_string()),
            event: &event,
        };
        let name = event.as_str();
        let data = serde_json::to_string(&frame).unwrap_or_default();
        let n = seq.fetch_add(1, Ordering::Relaxed) + 1;
        let _ = events.send(Arc::from(format!(
            "id: {n}\nevent: {name}\ndata: {data}\n\n"
        )));
    });
    tx
}

/// The body of one event stream, ending when `root` is disposed or the client goes.
pub(crate) fn stream(
    root: &TaskRef,
    events: &broadcast::Sender<Arc<str>>,
) -> impl futures_core::Stream<Item = Result<Bytes, std::convert::Infallible>> + 'static {
    let mut rx = events.subscribe();
    let (tx, mut out) = mpsc::channel::<Bytes>(64);
    let root = root.clone();
    actix_rt::spawn(async move {
        let mut keep_alive = tokio::time::interval(Duration::from_secs(15));
        let stopped = root.wait_stopped();
        tokio::pin!(stopped);
        let _ = tx.send(Bytes::from_static(b": connected\n\n")).await;
        loop {
            let frame = tokio::select! {
                _ = &mut stopped => return,
                _ = keep_alive.tick() => Bytes::from_static(b": keep-alive\n\n"),
                event = rx.recv() => match event {
                    Ok(text) => Bytes::from(text.as_bytes().to_vec()),
                    Err(broadcast::error::RecvError::Lagged(_)) => Bytes::from_static(b"event: resync\ndata: {}\n\n"),
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            };
            if tx.send(frame).await.is_err() {
                return;
            }
        }
    });
    PollStream(move |cx: &mut std::task::Context<'_>| out.poll_recv(cx).map(|b| b.map(Ok)))
}
