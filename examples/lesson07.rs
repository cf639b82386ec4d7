//! Lesson 7 — resources: `using` (released after dispose, in reverse) and `on_stop`
//! (released at once, so a blocked `run` can return).
#[path = "common/mod.rs"]
mod common;

use common::{Checks, Journal};
use tasktree::prelude::*;

/// A resource that says when it is released.
struct Resource {
    name: &'static str,
    journal: Journal,
}

impl Drop for Resource {
    fn drop(&mut self) {
        self.journal.note(format!("release {}", self.name));
    }
}

#[task(work)]
struct Pool;

#[task]
struct Reader {
    journal: Journal,
    unblock: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl Lifecycle for Reader {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.using(Resource {
            name: "socket",
            journal: self.journal.clone(),
        });
        cx.using(Resource {
            name: "buffer",
            journal: self.journal.clone(),
        });
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.unblock = Some(rx);
        let journal = self.journal.clone();
        cx.on_stop(move || {
            journal.note("on_stop: closing the socket to unblock run");
            let _ = tx.send(());
        });
        Ok(())
    }

    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.journal.note("run: blocked reading");
        if let Some(unblock) = self.unblock.take() {
            let _ = unblock.await;
        }
        self.journal.note("run: unblocked");
        Ok(())
    }

    async fn dispose(&mut self, _cx: &mut TaskCx<Self>) {
        self.journal.note("dispose reader");
    }
}

#[actix::main]
async fn main() {
    let mut checks = Checks::new("lesson 7: resources");
    let journal = Journal::default();
    let root = Root::new();
    let reader = root.add(Pool).add(Reader {
        journal: journal.clone(),
        unblock: None,
    });
    reader.wait_started().await.ok();
    reader.stop(StopReason::StopByUser("closing".into()));
    reader.wait_stopped().await;
    checks.check(
        journal.events()
            == [
                "run: blocked reading",
                "on_stop: closing the socket to unblock run",
                "run: unblocked",
                "dispose reader",
                "release buffer",
                "release socket",
            ],
        "on_stop at once, then dispose, then `using` resources in reverse order",
    );
    root.shutdown().await;
    checks.finish();
}
