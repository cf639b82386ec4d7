//! A read-only view of the live tree (DESIGN §6), for printing, the web API and history.

use std::time::Duration;

use serde::Serialize;

use crate::handle::TaskRef;
use crate::state::{epoch_ms, Descriptions, Kind, Step, TaskId, TaskState};

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// One task as seen at one moment. Field names serialize in camelCase.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInfo {
    /// Unique id.
    pub id: TaskId,
    /// The parent's id; `None` for the root.
    pub parent_id: Option<TaskId>,
    /// Kind.
    pub kind: Kind,
    /// The user's type name.
    pub owner: &'static str,
    /// Key among siblings.
    pub key: Option<String>,
    /// State.
    pub state: TaskState,
    /// Depth; the root is 0.
    pub level: u16,
    /// Path of ancestors.
    pub path: String,
    /// Where it was added: `file:line:column`.
    pub start_reason: String,
    /// When it was added, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
    /// When its last start began, in milliseconds since the Unix epoch.
    pub started_at_ms: Option<u64>,
    /// How long its last start took, in microseconds.
    pub start_duration_us: Option<u64>,
    /// How long its last run took, or has taken so far, in microseconds.
    pub run_duration_us: Option<u64>,
    /// How long it has lived (or lived, once disposed), in microseconds.
    pub age_us: u64,
    /// Descriptions.
    pub descriptions: Descriptions,
    /// Steps recorded.
    pub steps: Vec<Step>,
    /// Retries made in the current run of failures.
    pub retry_count: u32,
    /// Maximum retries; `None` when unbounded.
    pub max_retries: Option<u32>,
    /// The child holding this task's mailbox.
    pub blocked_on: Option<TaskId>,
    /// For how long that child has held it, in microseconds.
    pub blocked_for_us: Option<u64>,
    /// The stop reason, once asked to stop.
    pub stop_reason: Option<String>,
    /// Live children, oldest first (only in [`TaskRef::snapshot`]).
    pub children: Vec<TaskInfo>,
}

impl TaskRef {
    /// This task alone, without children.
    pub fn info(&self) -> TaskInfo {
        let node = &self.node;
        let timings = node.timings();
        let inner = node.lock();
        let blocked = inner.read(|r| r.blocked_on);
        TaskInfo {
            id: node.id,
            parent_id: node.parent.as_ref().map(|p| p.id),
            kind: node.kind,
            owner: node.owner,
            key: node.key.clone(),
            state: node.state(),
            level: node.level,
            path: node.path(),
            start_reason: node.location.to_string(),
            created_at_ms: epoch_ms(timings.created_at),
            started_at_ms: timings.started_at.map(epoch_ms),
            start_duration_us: timings.start_duration.map(micros),
            run_duration_us: timings.run_so_far().or(timings.run_duration).map(micros),
            age_us: micros(timings.age()),
            descriptions: inner.read(|r| r.descriptions.clone()),
            steps: inner.read(|r| r.steps.clone()),
            retry_count: inner.retry_count,
            max_retries: inner.read(|r| r.retry).max_retries(),
            blocked_on: blocked.map(|(id, _)| id),
            blocked_for_us: blocked.map(|(_, since)| micros(since.elapsed())),
            stop_reason: node.reason().map(|r| r.to_string()),
            children: Vec::new(),
        }
    }

    /// This task and its whole live subtree.
    pub fn snapshot(&self) -> TaskInfo {
        let mut info = self.info();
        let mut children = self.children();
        children.sort_by_key(TaskRef::id);
        info.children = children.iter().map(TaskRef::snapshot).collect();
        info
    }

    /// The subtree as indented text, one task a line: for logs and examples.
    pub fn render(&self) -> String {
        fn line(out: &mut String, info: &TaskInfo) {
            let indent = "  ".repeat(info.level as usize);
            let key = info
                .key
                .as_deref()
                .map(|k| format!(" [{k}]"))
                .unwrap_or_default();
            out.push_str(&format!(
                "{indent}{} #{}{key} {} {:?}\n",
                info.owner,
                info.id,
                info.kind.as_str(),
                info.state
            ));
            for child in &info.children {
                line(out, child);
            }
        }
        let mut out = String::new();
        line(&mut out, &self.snapshot());
        out
    }
}
