//! Lesson 3 — a work is a keep-alive container: it outlives its children.
#[path = "common/mod.rs"]
mod common;

use common::{Checks, Journal};
use tasktree::prelude::*;

#[task(work)]
struct Service;

#[task]
struct Request {
    n: u32,
    journal: Journal,
}

impl Lifecycle for Request {
    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.journal.note(format!("request {} served", self.n));
        Ok(())
    }
}

#[actix::main]
async fn main() {
    let mut checks = Checks::new("lesson 3: a work outlives its children");
    let journal = Journal::default();
    let root = Root::new();
    let service = root.add(Service);
    let requests: Vec<_> = (1..=3)
        .map(|n| {
            service.add(Request {
                n,
                journal: journal.clone(),
            })
        })
        .collect();
    for request in &requests {
        request.wait_stopped().await;
    }
    println!("  service state after its requests: {:?}", service.state());
    checks.check(journal.count("request") == 3, "every request was served");
    checks.check(
        service.is_active(),
        "the work is still running with no children",
    );
    service.stop(StopReason::StopByUser("maintenance".into()));
    let reason = service.wait_stopped().await;
    println!("  service stopped: {reason}");
    checks.check(
        reason.is(ReasonKind::StopByUser),
        "a work ends only when stopped",
    );
    root.shutdown().await;
    checks.finish();
}
