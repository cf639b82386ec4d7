//! The live dashboard over a demo tree, like GoTask's demo server: a worker that ticks and
//! spawns short children, a few short tasks, a flaky puller that retries with backoff, and a
//! keyed collection of connections with heartbeats. History goes to `tasktree-history.db` in
//! the working directory.
//!
//! `cargo run --example dashboard`, then open http://127.0.0.1:8080/ — Ctrl-C disposes every
//! task, then the server stops. `TASKTREE_ADDR` changes the address; `TASKTREE_TOKEN` sets
//! the token (required beyond loopback).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tasktree::history::{History, HistoryStore, Retention, SqliteStore};
use tasktree::prelude::*;
use tasktree::web::{serve, Dashboard};

#[task(work)]
struct Demo;

/// Ticks every second and spawns a short job each time.
#[task(tick)]
struct Worker {
    ticks: u64,
}

impl Tick for Worker {
    fn interval(&self) -> Duration {
        Duration::from_secs(1)
    }

    async fn tick(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.ticks += 1;
        cx.describe("ticks", self.ticks);
        cx.add(Chore {
            n: self.ticks,
            ms: 1500 + (self.ticks % 4) * 500,
        });
        Ok(())
    }
}

/// A short piece of work.
#[task]
struct Chore {
    n: u64,
    ms: u64,
}

impl Lifecycle for Chore {
    fn go(&mut self, cx: &mut TaskCx<Self>) -> Option<Go> {
        cx.describe("n", self.n);
        let ms = self.ms;
        Go::new(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(())
        })
    }
}

/// Pulls a stream that breaks now and then; retried with backoff.
#[task]
struct Puller {
    url: String,
    attempts: u32,
}

impl Lifecycle for Puller {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.describe("url", &self.url);
        cx.set_retry(
            Retry::unbounded(Duration::from_millis(500)).max_interval(Duration::from_secs(8)),
        );
        self.attempts += 1;
        Ok(())
    }

    fn go(&mut self, cx: &mut TaskCx<Self>) -> Option<Go> {
        let attempt = self.attempts;
        let stopped = cx.stopped();
        Go::new(async move {
            tokio::select! {
                _ = stopped => Ok(()),
                _ = tokio::time::sleep(Duration::from_secs(3 + u64::from(attempt % 5))) => {
                    Err(TaskError::msg(format!("stream broke after attempt {attempt}")))
                }
            }
        })
    }
}

#[task(work)]
struct Connections;

#[task(job, key = remote)]
struct Connection {
    remote: String,
}

impl Lifecycle for Connection {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.describe("remote", &self.remote);
        cx.add(Heartbeat { beats: 0 });
        Ok(())
    }
}

#[task(tick)]
struct Heartbeat {
    beats: u64,
}

impl Tick for Heartbeat {
    fn interval(&self) -> Duration {
        Duration::from_secs(2)
    }

    async fn tick(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.beats += 1;
        cx.describe("beats", self.beats);
        Ok(())
    }
}

/// Completes after a while.
#[task]
struct Short {
    name: &'static str,
    secs: u64,
}

impl Lifecycle for Short {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.step("start", format!("{} for {} s", self.name, self.secs));
        Ok(())
    }

    fn go(&mut self, _cx: &mut TaskCx<Self>) -> Option<Go> {
        let secs = self.secs;
        Go::new(async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            Ok(())
        })
    }
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::var("TASKTREE_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8080".into())
        .parse()?;
    let metrics = tasktree::metrics::install_prometheus()?;
    let root = Root::new();
    let store = Arc::new(SqliteStore::open("tasktree-history.db").await?);
    store
        .retain(Retention {
            max_age: Some(Duration::from_secs(7 * 24 * 3600)),
            max_rows: Some(100_000),
        })
        .await?;
    let history = History::attach(root.as_task(), store.clone());

    let demo = root.add(Demo);
    demo.add(Worker { ticks: 0 });
    demo.add(Puller {
        url: "http://example/live/a.flv".into(),
        attempts: 0,
    });
    for (name, secs) in [("warm-up", 5), ("index", 20), ("report", 60)] {
        demo.add(Short { name, secs });
    }
    let connections = demo.add(Connections).collection::<Connection>();
    for remote in [
        "rtmp://10.0.0.7/live",
        "rtmp://10.0.0.8/live",
        "srt://10.0.0.9:9000",
    ] {
        connections.add(Connection {
            remote: remote.into(),
        });
    }

    let mut dashboard = Dashboard::new(root.as_task())
        .with_history(history)
        .with_metrics(Arc::new(move || metrics.render()));
    if let Ok(token) = std::env::var("TASKTREE_TOKEN") {
        dashboard = dashboard.with_token(token);
    }
    serve(root.as_task(), dashboard, addr, |bound| {
        println!("tasktree dashboard on http://{bound}/ (Ctrl-C to stop)")
    })
    .await?;
    store.close().await?;
    println!("every task disposed; bye");
    Ok(())
}
