use std::rc::Rc;
use tasktree::prelude::*;

#[task]
struct Local {
    shared: Rc<u32>,
}

fn add(root: &Root) {
    // A task may be added from any thread, so its value must be Send.
    root.add(Local { shared: Rc::new(1) });
}

fn main() {}
