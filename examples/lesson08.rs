//! Lesson 8 — retry: an unstable task fails its first run and succeeds on retry.
#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use common::{Checks, Journal};
use tasktree::prelude::*;

#[task(work)]
struct Ingest;

#[task]
struct Unstable {
    attempts: u32,
    journal: Journal,
}

impl Lifecycle for Unstable {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.set_retry(
            Retry::exponential(3, Duration::from_millis(20))
                .max_interval(Duration::from_millis(200)),
        );
        self.attempts += 1;
        self.journal.note(format!(
            "start, attempt {} (task {})",
            self.attempts,
            cx.id()
        ));
        Ok(())
    }

    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        if self.attempts == 1 {
            self.journal.note("run: connection reset");
            return Err(TaskError::msg("connection reset"));
        }
        self.journal.note("run: all data pulled");
        Ok(())
    }

    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.journal.note("dispose");
    }
}

#[actix::main]
async fn main() {
    let mut checks = Checks::new("lesson 8: retry");
    let journal = Journal::default();
    let root = Root::new();
    let task = root.add(Ingest).add(Unstable {
        attempts: 0,
        journal: journal.clone(),
    });
    let reason = task.wait_stopped().await;
    println!("  stopped: {reason} after {} retry", task.retry_count());
    checks.check(reason.is(ReasonKind::Complete), "the retry succeeded");
    checks.check(task.retry_count() == 1, "one retry was made");
    checks.check(
        journal.count("start") == 2,
        "started twice, with the same id",
    );
    checks.check(
        journal.count("dispose") == 2,
        "the failed run was disposed before the retry",
    );
    root.shutdown().await;
    checks.finish();
}
