//! Lesson 5 — a tick task calls `tick` every interval until it is stopped.
#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use common::{Checks, Journal};
use tasktree::prelude::*;

#[task(tick)]
struct Heartbeat {
    beats: u32,
    journal: Journal,
}

impl Tick for Heartbeat {
    fn interval(&self) -> Duration {
        Duration::from_millis(50)
    }

    async fn tick(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.beats += 1;
        self.journal.note(format!("beat {}", self.beats));
        if self.beats == 5 {
            cx.stop(StopReason::StopByUser("five beats are enough".into()));
        }
        Ok(())
    }
}

#[actix::main]
async fn main() {
    let mut checks = Checks::new("lesson 5: a tick task");
    let journal = Journal::default();
    let root = Root::new();
    let heartbeat = root.add(Heartbeat {
        beats: 0,
        journal: journal.clone(),
    });
    let reason = heartbeat.wait_stopped().await;
    println!("  heartbeat stopped: {reason}");
    checks.check(
        journal.count("beat") == 5,
        "exactly five beats: the timer stopped with the task",
    );
    checks.check(
        reason.is(ReasonKind::StopByUser),
        "it stopped because it asked to",
    );
    root.shutdown().await;
    checks.finish();
}
