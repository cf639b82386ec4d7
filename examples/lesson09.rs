//! Lesson 9 — listening to descendants: `on_descendant_start` and `on_descendant_dispose`
//! see every task below, bubbling up to the root.
#[path = "common/mod.rs"]
mod common;

use common::{Checks, Journal};
use tasktree::prelude::*;

#[task(job)]
struct Room;

#[task]
struct Guest {
    name: &'static str,
}

impl Lifecycle for Guest {
    async fn run(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.describe("name", self.name);
        Ok(())
    }
}

#[actix::main]
async fn main() {
    let mut checks = Checks::new("lesson 9: descendant listeners");
    let journal = Journal::default();
    let root = Root::new();
    let (seen_start, seen_dispose) = (journal.clone(), journal.clone());
    root.on_descendant_start(move |t| seen_start.note(format!("root saw {} start", t.owner())));
    root.on_descendant_dispose(move |t| {
        seen_dispose.note(format!("root saw {} disposed", t.owner()))
    });
    let room = root.add(Room);
    let in_room = journal.clone();
    room.on_descendant_dispose(move |t| in_room.note(format!("room saw {} leave", t.owner())));
    for name in ["ada", "grace"] {
        room.add(Guest { name });
    }
    room.wait_stopped().await;
    checks.check(
        journal.count("root saw Guest start") == 2,
        "the root saw both guests start",
    );
    checks.check(
        journal.count("room saw Guest leave") == 2,
        "the room saw both guests leave",
    );
    checks.check(
        journal.count("root saw Room disposed") == 1,
        "the root saw the room disposed",
    );
    let events = journal.events();
    let first_leave = events.iter().position(|e| e == "room saw Guest leave");
    let root_saw = events.iter().position(|e| e == "root saw Guest disposed");
    checks.check(first_leave < root_saw, "the nearest ancestor hears first");
    root.shutdown().await;
    checks.finish();
}
