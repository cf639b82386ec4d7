//! Lesson 1 — a basic task: `start`, `run`, `dispose`, and its stop reason.
#[path = "common/mod.rs"]
mod common;

use common::{Checks, Journal};
use tasktree::prelude::*;

#[task]
struct Greeter {
    name: String,
    journal: Journal,
}

impl Lifecycle for Greeter {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.describe("name", &self.name);
        self.journal
            .note(format!("start: hello {} (task {})", self.name, cx.id()));
        Ok(())
    }

    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.journal.note("run: working");
        Ok(())
    }

    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.journal.note("dispose: goodbye");
    }
}

#[actix::main]
async fn main() {
    let mut checks = Checks::new("lesson 1: a basic task");
    let journal = Journal::default();
    let root = Root::new();
    let greeter = root.add(Greeter {
        name: "tasktree".into(),
        journal: journal.clone(),
    });
    let reason = greeter.wait_stopped().await;
    println!(
        "  stopped: {reason}, lived {:?}",
        greeter.timings().lifetime.unwrap_or_default()
    );
    checks.check(
        reason.is(ReasonKind::Complete),
        "a task whose run returns Ok ends with Complete",
    );
    checks.check(
        journal
            .events()
            .iter()
            .map(|e| e.split(':').next().unwrap_or(""))
            .collect::<Vec<_>>()
            == ["start", "run", "dispose"],
        "start, run and dispose ran in that order",
    );
    checks.check(
        greeter.descriptions()["name"] == "tasktree",
        "descriptions outlive the task",
    );
    root.shutdown().await;
    checks.finish();
}
