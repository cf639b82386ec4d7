//! Metrics through the `metrics` facade (DESIGN §6): the library only emits; the application
//! installs a recorder (with the cargo feature `prometheus`, [`install_prometheus`] does it
//! and gives back a handle that renders the text format for a `/metrics` endpoint).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `tasktree_tasks` | gauge: live tasks | `kind`, `state` |
//! | `tasktree_starts_total` | counter: successful starts | `kind` |
//! | `tasktree_failures_total` | counter: failed attempts and final failures | `reason` |
//! | `tasktree_retries_total` | counter: retries scheduled | |
//! | `tasktree_restarts_total` | counter: restarts (`restart()`, strategies) | |
//! | `tasktree_dispose_seconds` | histogram: time to dispose a task, children included | `kind` |
//! | `tasktree_history_written_total` | counter: history records stored | |
//! | `tasktree_history_dropped_total` | counter: history records dropped (queue full, store down) | |
//!
//! The per-kind and per-state handles are registered once, at the first task event of the
//! process: install the recorder before creating the root (as the `metrics` crate advises),
//! and each event then costs an atomic add, not a key built and looked up.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram};

use crate::reason::StopReason;
use crate::state::{Kind, TaskState};

/// The handles of the hot-path metrics, indexed by kind (and state) discriminant.
struct Handles {
    tasks: [[Gauge; TaskState::ALL.len()]; Kind::ALL.len()],
    starts: [Counter; Kind::ALL.len()],
    dispose: [Histogram; Kind::ALL.len()],
}

fn handles() -> &'static Handles {
    static HANDLES: OnceLock<Handles> = OnceLock::new();
    HANDLES.get_or_init(|| Handles {
        tasks: Kind::ALL.map(|k| {
            TaskState::ALL.map(
                |s| metrics::gauge!("tasktree_tasks", "kind" => k.as_str(), "state" => s.as_str()),
            )
        }),
        starts: Kind::ALL.map(|k| metrics::counter!("tasktree_starts_total", "kind" => k.as_str())),
        dispose: Kind::ALL
            .map(|k| metrics::histogram!("tasktree_dispose_seconds", "kind" => k.as_str())),
    })
}

// `ALL` lists each enum in declaration order (a test in `state.rs` checks it), so a
// discriminant is its index.
fn kind_index(kind: Kind) -> usize {
    kind as usize
}

/// A task moved from `from` to `to`; a disposed task leaves the gauge.
pub(crate) fn transition(kind: Kind, from: Option<TaskState>, to: TaskState) {
    let gauges = &handles().tasks[kind_index(kind)];
    if let Some(from) = from {
        gauges[from as usize].decrement(1.0);
    }
    if to != TaskState::Disposed {
        gauges[to as usize].increment(1.0);
    }
}

pub(crate) fn started(kind: Kind) {
    handles().starts[kind_index(kind)].increment(1);
}

pub(crate) fn failed(reason: &StopReason) {
    metrics::counter!("tasktree_failures_total", "reason" => reason.kind().as_str()).increment(1);
}

pub(crate) fn retried() {
    metrics::counter!("tasktree_retries_total").increment(1);
}

pub(crate) fn restarted() {
    metrics::counter!("tasktree_restarts_total").increment(1);
}

pub(crate) fn disposed(kind: Kind, took: Duration) {
    handles().dispose[kind_index(kind)].record(took.as_secs_f64());
}

pub(crate) fn history_written(n: usize) {
    metrics::counter!("tasktree_history_written_total").increment(n as u64);
}

pub(crate) fn history_dropped(n: usize) {
    metrics::counter!("tasktree_history_dropped_total").increment(n as u64);
}

/// Installs a Prometheus recorder as the process's global recorder and returns the handle
/// whose [`render`](metrics_exporter_prometheus::PrometheusHandle::render) gives the text
/// format, for an actix-web handler at `/metrics`.
#[cfg(feature = "prometheus")]
pub fn install_prometheus(
) -> Result<metrics_exporter_prometheus::PrometheusHandle, metrics_exporter_prometheus::BuildError>
{
    metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()
}
