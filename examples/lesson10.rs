//! Lesson 10 — a complete application: a keyed collection of connections, each with a
//! heartbeat and a puller that retries, and a graceful shutdown.
#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use common::{Checks, Journal};
use tasktree::prelude::*;

#[task(work)]
struct Connections;

#[task(job, key = remote)]
struct Connection {
    remote: String,
    journal: Journal,
}

impl Lifecycle for Connection {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.add(Heartbeat { beats: 0 });
        cx.add(Puller {
            remote: self.remote.clone(),
            attempts: 0,
            journal: self.journal.clone(),
        });
        Ok(())
    }

    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.journal
            .note(format!("dispose connection {}", self.remote));
    }
}

#[task(tick)]
struct Heartbeat {
    beats: u32,
}

impl Tick for Heartbeat {
    fn interval(&self) -> Duration {
        Duration::from_millis(20)
    }

    async fn tick(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.beats += 1;
        cx.describe("beats", self.beats);
        Ok(())
    }
}

#[task]
struct Puller {
    remote: String,
    attempts: u32,
    journal: Journal,
}

impl Lifecycle for Puller {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.set_retry(Retry::exponential(3, Duration::from_millis(10)));
        self.attempts += 1;
        Ok(())
    }

    fn go(&mut self, cx: &mut TaskCx<Self>) -> Option<Go> {
        let (first, journal, remote) = (
            self.attempts == 1,
            self.journal.clone(),
            self.remote.clone(),
        );
        let stopped = cx.stopped();
        Go::new(async move {
            if first {
                return Err(TaskError::msg("source not ready"));
            }
            journal.note(format!("pulling {remote}"));
            stopped.await;
            Ok(())
        })
    }
}

#[actix::main]
async fn main() {
    let mut checks = Checks::new("lesson 10: a complete application");
    let journal = Journal::default();
    let root = Root::new();
    let (pulling, mut pullers) = tokio::sync::mpsc::unbounded_channel();
    root.on_descendant_start(move |t| {
        if t.owner() == "Puller" && t.retry_count() > 0 {
            let _ = pulling.send(t.id());
        }
    });
    let connections = root.add(Connections).collection::<Connection>();
    for remote in ["rtmp://a/live", "rtmp://b/live", "rtmp://c/live"] {
        connections.add(Connection {
            remote: remote.into(),
            journal: journal.clone(),
        });
    }
    let duplicate = connections.add(Connection {
        remote: "rtmp://a/live".into(),
        journal: journal.clone(),
    });
    for _ in 0..3 {
        pullers.recv().await;
    }
    print!("{}", root.render());
    checks.check(connections.len() == 3, "three connections, found by key");
    checks.check(
        duplicate
            .stop_reason()
            .is_some_and(|r| r.is(ReasonKind::Exists)),
        "a second connection with the same key is refused",
    );
    let b = connections.get("rtmp://b/live").map(|c| c.children().len());
    checks.check(b == Some(2), "each connection has a heartbeat and a puller");
    let reason = root.shutdown().await;
    println!("  shut down: {reason}");
    checks.check(
        journal.count("dispose connection") == 3,
        "every connection was disposed",
    );
    checks.check(
        connections.is_empty(),
        "the collection is empty after shutdown",
    );
    checks.finish();
}
