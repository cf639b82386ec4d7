//! The stream relay's tasks and HTTP routes, shared by `examples/relay.rs` and its tests.
//!
//! ```text
//! Streams (work, a keyed collection)
//! └── Stream (job, key = path)          frames and subscribers live here, reached by `call`
//!     ├── Puller (task, go)             reads frames from the simulated source; retried
//!     ├── Heartbeat (tick)              describes the frame rate every second
//!     └── Subscriber (task, go) × N     one per watcher; ends when the client goes
//! ```
//!
//! Handlers hold typed handles (a `Collection<Stream>`), never locks: every read of a task's
//! state is a `call` into its mailbox.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::web::{self, Bytes};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use tasktree::prelude::*;
use tasktree::TaskId;
use tokio::sync::mpsc;

/// How long a stream with no subscriber is kept before it stops itself, by default.
pub const IDLE_MS: u64 = 5_000;

/// The container of every stream, found by path.
#[task(work)]
pub struct Streams;

/// The simulated source: frames at `rate_hz`; with `fail_every`, the connection breaks after
/// that many frames (so the puller fails and is retried with backoff). `idle_ms`: how long
/// the stream outlives its last subscriber.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    pub rate_hz: u32,
    #[serde(default)]
    pub fail_every: Option<u64>,
    #[serde(default = "idle_ms")]
    pub idle_ms: u64,
}

fn idle_ms() -> u64 {
    IDLE_MS
}

/// One relayed stream.
#[task(job, key = path)]
pub struct Stream {
    pub path: String,
    pub source: Source,
    frames: u64,
    subscribers: HashMap<TaskId, mpsc::Sender<Bytes>>,
}

impl Stream {
    pub fn new(path: String, source: Source) -> Self {
        Self {
            path,
            source,
            frames: 0,
            subscribers: HashMap::new(),
        }
    }

    /// Hands the next frame to every subscriber; one that is gone or too slow misses it.
    fn publish(&mut self) {
        self.frames += 1;
        let line = Bytes::from(format!("data: frame {}\n\n", self.frames));
        self.subscribers.retain(|_, tx| !tx.is_closed());
        for tx in self.subscribers.values() {
            let _ = tx.try_send(line.clone());
        }
    }
}

impl Lifecycle for Stream {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.describe("path", &self.path);
        cx.describe("rateHz", self.source.rate_hz);
        cx.add(Puller {
            source: self.source,
            stream: cx.handle(),
        });
        cx.add(Heartbeat {
            stream: cx.handle(),
            last: 0,
        });
        // When the last subscriber leaves, the stream stops after its idle time unless one
        // comes back.
        let idle = Duration::from_millis(self.source.idle_ms);
        let stream = cx.handle();
        cx.on_descendant_dispose(move |gone| {
            if gone.owner() == "Subscriber" && watchers(&stream) == 0 {
                let stream = stream.clone();
                actix_rt::spawn(async move {
                    tokio::time::sleep(idle).await;
                    if watchers(&stream) == 0 {
                        stream.stop(StopReason::Timeout);
                    }
                });
            }
        });
        Ok(())
    }
}

/// Live subscribers of a stream.
fn watchers(stream: &TaskRef) -> usize {
    stream
        .children()
        .iter()
        .filter(|c| c.owner() == "Subscriber" && c.is_active())
        .count()
}

/// Reads the simulated source and publishes into its stream.
#[task]
pub struct Puller {
    source: Source,
    stream: TaskHandle<Stream>,
}

impl Lifecycle for Puller {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.set_retry(
            Retry::exponential(5, Duration::from_millis(50)).max_interval(Duration::from_secs(2)),
        );
        cx.step("connect", format!("{} Hz", self.source.rate_hz));
        Ok(())
    }

    fn go(&mut self, cx: &mut TaskCx<Self>) -> Option<Go> {
        let (source, stream) = (self.source, self.stream.clone());
        let stopped = cx.stopped();
        Go::new(async move {
            let period = Duration::from_micros(1_000_000 / u64::from(source.rate_hz.max(1)));
            let mut timer = tokio::time::interval(period);
            tokio::pin!(stopped);
            let mut frame = 0u64;
            loop {
                tokio::select! {
                    _ = &mut stopped => return Ok(()),
                    _ = timer.tick() => {}
                }
                frame += 1;
                if source.fail_every.is_some_and(|n| n > 0 && frame % n == 0) {
                    return Err(TaskError::msg(format!(
                        "source dropped the connection at frame {frame}"
                    )));
                }
                // The stream's mailbox, not a lock: the frame is published in turn.
                if stream.call(|s, _| s.publish()).await.is_err() {
                    return Ok(());
                }
            }
        })
    }
}

/// Every second, publishes the stream's frame count and rate as descriptions.
///
/// An *async* tick: it ticks on its own, not in the stream's mailbox, so it may `call` the
/// stream (a mailbox tick calling its own parent would wait on itself).
#[task(async_tick)]
pub struct Heartbeat {
    stream: TaskHandle<Stream>,
    last: u64,
}

impl Tick for Heartbeat {
    fn interval(&self) -> Duration {
        Duration::from_secs(1)
    }

    async fn tick(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        let frames = self.stream.call(|s, _| s.frames).await?;
        self.stream.describe("frames", frames);
        cx.describe("framesPerSecond", frames.saturating_sub(self.last));
        self.last = frames;
        Ok(())
    }
}

/// One watcher: lives while its client reads.
#[task]
pub struct Subscriber {
    tx: mpsc::Sender<Bytes>,
}

impl Lifecycle for Subscriber {
    fn go(&mut self, cx: &mut TaskCx<Self>) -> Option<Go> {
        let (tx, stopped) = (self.tx.clone(), cx.stopped());
        Go::new(async move {
            tokio::select! {
                _ = stopped => {}
                _ = tx.closed() => {}
            }
            Ok(())
        })
    }
}

/// The relay's errors, as JSON.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("no stream at {0:?}")]
    NotFound(String),
    #[error("a stream at {0:?} already exists")]
    Exists(String),
    #[error("the stream stopped: {0}")]
    Gone(String),
}

impl ResponseError for RelayError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        use actix_web::http::StatusCode;
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Exists(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "error": self.to_string() }))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewStream {
    path: String,
    source: Source,
}

/// What `GET /streams` lists.
#[derive(Serialize, Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct StreamInfo {
    pub path: String,
    pub id: u64,
    pub frames: u64,
    pub subscribers: usize,
}

/// The relay's routes, given the collection of streams.
pub fn routes(
    streams: Collection<Stream>,
) -> impl Fn(&mut web::ServiceConfig) + Send + Clone + 'static {
    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::new(streams.clone()))
            .app_data(web::PayloadConfig::new(16 * 1024))
            .route("/streams", web::post().to(create))
            .route("/streams", web::get().to(list))
            .route("/streams/{path:.*}/watch", web::get().to(watch))
            .route("/streams/{path:.*}", web::delete().to(delete));
    }
}

async fn create(
    body: Bytes,
    streams: web::Data<Collection<Stream>>,
) -> Result<HttpResponse, RelayError> {
    let NewStream { path, source } =
        serde_json::from_slice(&body).map_err(|e| RelayError::BadRequest(e.to_string()))?;
    if path.is_empty() || source.rate_hz == 0 {
        return Err(RelayError::BadRequest(
            "path must be non-empty and rateHz above zero".into(),
        ));
    }
    let stream = streams.add(Stream::new(path.clone(), source));
    if let Err(e) = stream.wait_started().await {
        return Err(match stream.stop_reason() {
            Some(StopReason::Exists(_)) => RelayError::Exists(path),
            _ => RelayError::Gone(e.to_string()),
        });
    }
    Ok(HttpResponse::Created().json(serde_json::json!({ "path": path, "id": stream.id() })))
}

async fn list(streams: web::Data<Collection<Stream>>) -> HttpResponse {
    let mut out = Vec::new();
    for stream in streams.iter() {
        let id = stream.id().get();
        let info = stream
            .call(move |s, _| StreamInfo {
                path: s.path.clone(),
                id,
                frames: s.frames,
                subscribers: s.subscribers.len(),
            })
            .await;
        // A stream that stopped between the listing and the call is simply not listed.
        if let Ok(info) = info {
            out.push(info);
        }
    }
    HttpResponse::Ok().json(out)
}

/// The active stream at `path`.
fn find(streams: &Collection<Stream>, path: &str) -> Result<TaskHandle<Stream>, RelayError> {
    streams
        .get(path)
        .ok_or_else(|| RelayError::NotFound(path.to_owned()))
}

async fn delete(
    path: web::Path<String>,
    streams: web::Data<Collection<Stream>>,
) -> Result<HttpResponse, RelayError> {
    let stream = find(&streams, &path)?;
    stream.stop(StopReason::StopByUser("deleted".into()));
    Ok(HttpResponse::Ok().json(serde_json::json!({ "path": *path, "stopping": true })))
}

async fn watch(
    path: web::Path<String>,
    streams: web::Data<Collection<Stream>>,
) -> Result<HttpResponse, RelayError> {
    let stream = find(&streams, &path)?;
    let (tx, mut rx) = mpsc::channel::<Bytes>(64);
    stream
        .call(move |s, cx| {
            let subscriber = cx.add(Subscriber { tx: tx.clone() });
            s.subscribers.insert(subscriber.id(), tx);
        })
        .await
        .map_err(|e| RelayError::Gone(e.to_string()))?;
    let body = futures_stream(move |cx| {
        rx.poll_recv(cx)
            .map(|b| b.map(Ok::<_, std::convert::Infallible>))
    });
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/event-stream"))
        .streaming(body))
}

/// A `Stream` from a poll function.
fn futures_stream<T, F>(poll: F) -> impl futures_core::Stream<Item = T>
where
    F: FnMut(&mut std::task::Context<'_>) -> std::task::Poll<Option<T>> + Unpin,
{
    struct PollFn<F>(F);
    impl<T, F: FnMut(&mut std::task::Context<'_>) -> std::task::Poll<Option<T>> + Unpin>
        futures_core::Stream for PollFn<F>
    {
        type Item = T;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<T>> {
            (self.0)(cx)
        }
    }
    PollFn(poll)
}
