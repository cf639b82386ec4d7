//! What tasktree tells `tracing` (L11). Alone in its own test binary: tracing caches which
//! call sites are enabled process-wide, and tests running beside it without a subscriber
//! would race that cache.

mod common;

use tasktree::prelude::*;

#[task(job)]
struct Group;

#[task]
struct Idle;

/// Fails its first run.
#[task]
struct FailsOnce {
    runs: u32,
}

impl Lifecycle for FailsOnce {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.set_retry(Retry::exponential(2, std::time::Duration::from_millis(3)));
        Ok(())
    }
    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.runs += 1;
        if self.runs == 1 {
            return Err(TaskError::msg("once"));
        }
        Ok(())
    }
}

#[actix_rt::test]
async fn l11_one_span_per_task_with_id_kind_owner_parent_and_lifecycle_events() {
    let recorder = common::Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let root = Root::new();
    let group = root.add(Group);
    let idle = group.add(Idle);
    idle.wait_started().await.unwrap();
    group.add(FailsOnce { runs: 0 }).wait_stopped().await;
    root.shutdown().await;

    let spans = recorder.span_fields("task");
    assert_eq!(spans.len(), 4, "root, group, idle, fails-once: {spans:?}");
    let mine = spans
        .iter()
        .find(|f| f.contains(&("id".to_owned(), idle.id().to_string())))
        .expect("a span for the task");
    for (field, value) in [
        ("kind", "task".to_owned()),
        ("owner", "Idle".to_owned()),
        ("parent", group.id().to_string()),
    ] {
        assert!(
            mine.contains(&(field.to_owned(), value)),
            "{field} in {mine:?}"
        );
    }
    let events = recorder.event_messages();
    for expected in ["started", "stop", "disposed"] {
        assert!(
            events.iter().any(|e| e == expected),
            "no {expected} event in {events:?}"
        );
    }
}
