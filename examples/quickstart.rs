//! Builds a small tree, prints it, and shuts it down gracefully.
//!
//! `cargo run --example quickstart`

use std::time::Duration;

use tasktree::prelude::*;

/// A connection: a job that ends when its last child has ended.
#[task(job, key = remote)]
struct Connection {
    remote: String,
}

/// Pulls a stream; its first run fails and is retried with backoff.
#[task]
struct Puller {
    url: String,
    attempts: u32,
}

impl Lifecycle for Puller {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.describe("url", &self.url);
        cx.set_retry(
            Retry::exponential(3, Duration::from_millis(100)).max_interval(Duration::from_secs(2)),
        );
        Ok(())
    }

    fn go(&mut self, cx: &mut TaskCx<Self>) -> Option<Go> {
        self.attempts += 1;
        let first = self.attempts == 1;
        let stopped = cx.stopped();
        Go::new(async move {
            if first {
                return Err(TaskError::msg("source not ready"));
            }
            stopped.await;
            Ok(())
        })
    }
}

/// Counts heartbeats until stopped.
#[task]
struct Heartbeat {
    beats: u32,
}

impl Lifecycle for Heartbeat {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.beats += 1;
        cx.step("beat", format!("beat {}", self.beats));
        Ok(())
    }

    async fn dispose(&mut self, cx: &mut TaskCx<Self>) {
        println!("disposing {} after {} beat(s)", cx.path(), self.beats);
    }
}

#[actix::main]
async fn main() -> Result<(), TaskError> {
    let root = Root::new();
    // Every start below the root is reported here: the puller's retry shows up as a second start.
    let (started, mut starts) = tokio::sync::mpsc::unbounded_channel();
    root.on_descendant_start(move |task| {
        let _ = started.send((task.owner(), task.id()));
    });
    let conn = root.add(Connection {
        remote: "rtmp://example/live".into(),
    });
    let puller = conn.add(Puller {
        url: "http://example/a.flv".into(),
        attempts: 0,
    });
    let heartbeat = conn.add(Heartbeat { beats: 0 });
    heartbeat.wait_started().await?;
    puller.wait_started().await?;

    let remote_len = conn.call(|c, _cx| c.remote.len()).await?;
    println!("connection remote has {remote_len} bytes");

    // The puller's first go failed; wait until its retry has started.
    let mut puller_starts = 0;
    while puller_starts < 2 {
        match starts.recv().await {
            Some(("Puller", _)) => puller_starts += 1,
            Some(_) => {}
            None => break,
        }
    }
    println!("{}", root.render());
    println!(
        "{}",
        serde_json::to_string_pretty(&puller.info()).map_err(TaskError::from)?
    );

    let reason = root.shutdown().await;
    println!(
        "shut down: {reason}; puller ended with {}",
        puller.wait_stopped().await
    );
    Ok(())
}
