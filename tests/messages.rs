//! A task's own messages (`Handles<M>`): async handlers that use the task's state.

use tasktree::prelude::*;

#[derive(actix::Message)]
#[rtype(result = "Vec<u32>")]
struct Push(u32);

#[derive(actix::Message)]
#[rtype(result = "()")]
struct Explode;

#[task(work)]
struct Journal {
    entries: Vec<u32>,
}

impl Handles<Push> for Journal {
    async fn handle(&mut self, msg: Push, _cx: &mut TaskCx<Self>) -> Vec<u32> {
        // Awaiting inside the handler never lets another message in.
        let before = self.entries.len();
        tokio::task::yield_now().await;
        assert_eq!(self.entries.len(), before);
        self.entries.push(msg.0);
        self.entries.clone()
    }
}

impl Handles<Explode> for Journal {
    async fn handle(&mut self, _msg: Explode, _cx: &mut TaskCx<Self>) {
        panic!("handler exploded");
    }
}

#[actix_rt::test]
async fn messages_are_handled_one_at_a_time_in_order_with_state() {
    let root = Root::new();
    let journal = root.add(Journal {
        entries: Vec::new(),
    });
    let replies: Vec<_> = (0..50).map(|i| journal.send(Push(i))).collect();
    let mut last = Vec::new();
    for reply in replies {
        last = reply.await.unwrap();
    }
    assert_eq!(last, (0..50).collect::<Vec<_>>());
    // Calls see the same state, in the same order.
    assert_eq!(journal.call(|j, _| j.entries.len()).await.unwrap(), 50);
    root.shutdown().await;
}

#[actix_rt::test]
async fn a_panicking_handler_fails_its_send_and_the_task_keeps_serving() {
    let root = Root::new();
    let journal = root.add(Journal {
        entries: Vec::new(),
    });
    let err = journal.send(Explode).await.unwrap_err();
    assert!(
        matches!(err, HandleError::Panic { ref message, .. } if message == "handler exploded"),
        "{err}"
    );
    assert_eq!(journal.send(Push(7)).await.unwrap(), [7]);
    assert!(journal.state().is_active());
    root.shutdown().await;
}

#[actix_rt::test]
async fn a_message_to_a_disposed_task_fails_with_its_stop_reason() {
    let root = Root::new();
    let journal = root.add(Journal {
        entries: Vec::new(),
    });
    journal.wait_started().await.unwrap();
    journal.stop(StopReason::StopByUser("closed".into()));
    journal.wait_stopped().await;
    let err = journal.send(Push(1)).await.unwrap_err();
    assert!(
        matches!(err, HandleError::Stopped(StopReason::StopByUser(ref s)) if s == "closed"),
        "{err}"
    );
    root.shutdown().await;
}

#[actix_rt::test]
async fn handles_work_from_another_thread() {
    let root = Root::new();
    let journal = root.add(Journal {
        entries: Vec::new(),
    });
    journal.wait_started().await.unwrap();
    let remote = journal.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A handle is Send + Sync: drive it from a plain thread with its own runtime, while
    // this arbiter keeps turning by awaiting the answer.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _ = tx.send(rt.block_on(remote.send(Push(3))));
    });
    let reply = rx.await.unwrap();
    assert_eq!(reply.unwrap(), [3]);
    root.shutdown().await;
}
