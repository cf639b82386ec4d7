//! Lesson 2 — a job manages several children and ends when the last one has ended.
#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use common::{Checks, Journal};
use tasktree::prelude::*;

#[task(job)]
struct Download {
    journal: Journal,
}

impl Lifecycle for Download {
    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.journal.note("dispose job");
    }
}

#[task]
struct Part {
    n: u32,
    journal: Journal,
}

impl Lifecycle for Part {
    fn go(&mut self, _cx: &mut TaskCx<Self>) -> Option<Go> {
        let (n, journal) = (self.n, self.journal.clone());
        Go::new(async move {
            tokio::time::sleep(Duration::from_millis(10 * u64::from(n))).await;
            journal.note(format!("part {n} done"));
            Ok(())
        })
    }

    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.journal.note(format!("dispose part {}", self.n));
    }
}

#[actix::main]
async fn main() {
    let mut checks = Checks::new("lesson 2: a job with several children");
    let journal = Journal::default();
    let root = Root::new();
    let job = root.add(Download {
        journal: journal.clone(),
    });
    for n in 1..=3 {
        job.add(Part {
            n,
            journal: journal.clone(),
        });
    }
    let reason = job.wait_stopped().await;
    println!("  job stopped: {reason}");
    checks.check(
        reason.is(ReasonKind::AutoStop),
        "the job auto-stopped after its last child",
    );
    checks.check(
        journal.count("dispose part") == 3,
        "every part was disposed",
    );
    checks.check(
        journal.events().last().map(String::as_str) == Some("dispose job"),
        "the job was disposed after its children",
    );
    root.shutdown().await;
    checks.finish();
}
