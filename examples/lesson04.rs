//! Lesson 4 — a channel task handles each item of a stream, in order.
#[path = "common/mod.rs"]
mod common;

use common::{Checks, Journal};
use tasktree::kinds::{from_unbounded, ItemStream};
use tasktree::prelude::*;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

#[task(channel)]
struct Mailbox {
    inbox: Option<UnboundedReceiver<String>>,
    journal: Journal,
}

impl Channel for Mailbox {
    type Item = String;

    fn stream(&mut self, _cx: &mut TaskCx<Self>) -> ItemStream<String> {
        from_unbounded(self.inbox.take().expect("started once"))
    }

    async fn tick(&mut self, letter: String, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.journal.note(format!("received {letter}"));
        Ok(())
    }
}

#[actix::main]
async fn main() {
    let mut checks = Checks::new("lesson 4: a channel task");
    let journal = Journal::default();
    let root = Root::new();
    let (post, inbox) = unbounded_channel();
    let mailbox = root.add(Mailbox {
        inbox: Some(inbox),
        journal: journal.clone(),
    });
    for n in 1..=5 {
        post.send(format!("letter {n}")).expect("mailbox alive");
    }
    drop(post);
    let reason = mailbox.wait_stopped().await;
    println!("  mailbox stopped: {reason}");
    let expected: Vec<String> = (1..=5).map(|n| format!("received letter {n}")).collect();
    checks.check(
        journal.events() == expected,
        "every item was handled, in order",
    );
    checks.check(
        reason.is(ReasonKind::Complete),
        "the task completed when its stream ended",
    );
    root.shutdown().await;
    checks.finish();
}
