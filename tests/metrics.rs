//! Metrics are emitted through the `metrics` facade and read back from a real Prometheus
//! recorder, installed for this test's thread only.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use tasktree::prelude::*;

#[task(work)]
struct Hub;

#[task]
struct FailsOnce {
    runs: u32,
}

impl Lifecycle for FailsOnce {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        cx.set_retry(Retry::exponential(2, Duration::ZERO));
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

/// The value of the first sample line of `name` (with any labels) in the text format.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(name) && l.contains(labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[actix_rt::test]
async fn metrics_count_starts_failures_retries_disposals_and_live_tasks() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);

    let root = Root::without_signals();
    let hub = root.add(Hub);
    hub.wait_started().await.unwrap();
    let live = handle.render();
    assert_eq!(
        sample(&live, "tasktree_tasks", "kind=\"work\",state=\"started\""),
        Some(1.0),
        "{live}"
    );

    let task = hub.add(FailsOnce { runs: 0 });
    assert!(task.wait_stopped().await.is(ReasonKind::Complete));
    root.shutdown().await;

    let text = handle.render();
    assert_eq!(
        sample(&text, "tasktree_starts_total", "kind=\"task\""),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "tasktree_failures_total", "reason=\"failed\""),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "tasktree_retries_total", ""),
        Some(1.0),
        "{text}"
    );
    assert!(text.contains("tasktree_dispose_seconds"), "{text}");
    // Everything was disposed: no live task in any state.
    for line in text.lines().filter(|l| l.starts_with("tasktree_tasks{")) {
        assert!(line.ends_with(" 0"), "a task left in the gauge: {line}");
    }
}
