//! Lesson 6 — the root: OS signals and graceful shutdown of the whole tree.
//!
//! `cargo run --example lesson06` shuts the tree down by itself after a moment.
//! `cargo run --example lesson06 -- --until-signal` waits for Ctrl-C (or SIGTERM, SIGHUP,
//! SIGQUIT), then disposes every task, children first, and exits 0; a second Ctrl-C during
//! the shutdown is reported and skips nothing.
#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use common::{Checks, Journal};
use tasktree::prelude::*;

#[task(work)]
struct Server {
    journal: Journal,
}

impl Lifecycle for Server {
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.journal.note("dispose server");
    }
}

#[task]
struct Session {
    n: u32,
    journal: Journal,
}

impl Lifecycle for Session {
    fn go(&mut self, cx: &mut TaskCx<Self>) -> Option<Go> {
        let stopped = cx.stopped();
        Go::new(async move {
            stopped.await;
            Ok(())
        })
    }

    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        // A slow goodbye, so a second signal can arrive during the shutdown.
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.journal.note(format!("dispose session {}", self.n));
    }
}

#[actix::main]
async fn main() {
    let until_signal = std::env::args().any(|a| a == "--until-signal");
    let mut checks = Checks::new("lesson 6: the root and graceful shutdown");
    let journal = Journal::default();
    let root = Root::new();
    let server = root.add(Server {
        journal: journal.clone(),
    });
    for n in 1..=3 {
        server
            .add(Session {
                n,
                journal: journal.clone(),
            })
            .wait_started()
            .await
            .ok();
    }
    print!("{}", root.render());
    let reason = if until_signal {
        println!("ready: press Ctrl-C");
        root.wait_stopped().await
    } else {
        root.shutdown().await
    };
    println!("  root stopped: {reason}");
    checks.check(reason.is(ReasonKind::Exit), "the tree stopped with Exit");
    checks.check(
        journal.events()
            == [
                "dispose session 3",
                "dispose session 2",
                "dispose session 1",
                "dispose server",
            ],
        "every task was disposed, children first, last started first",
    );
    checks.finish();
}
