//! A burst of 100,000 adds to one job in a tight loop: every one starts, none is refused
//! (GoTask starts about 650 of 10,000 here: its queue takes 20). Alone in its binary, so
//! `live_tasks()` counts only this tree.

mod common;

use common::Live;
use tasktree::prelude::*;

#[task(job)]
struct Sink;

#[actix_rt::test]
async fn burst_of_100k_adds_all_start() {
    const N: usize = 100_000;
    let root = Root::new();
    let sink = root.add(Sink);
    let leaves: Vec<TaskHandle<Live>> = (0..N).map(|_| sink.add(Live)).collect();
    let mut started = 0;
    for leaf in &leaves {
        leaf.wait_started().await.expect("no add is refused");
        started += 1;
    }
    assert_eq!(started, N);
    assert_eq!(sink.children().len(), N);
    assert_eq!(tasktree::live_tasks(), N + 2);
    root.shutdown().await;
    assert!(leaves.iter().all(|l| l.state() == TaskState::Disposed));
    assert_eq!(tasktree::live_tasks(), 0);
}
