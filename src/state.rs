//! The plain data of a task: its id, kind, state, timings, steps and descriptions.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

/// A task's unique id: assigned at `add`, never reused in the process, kept across retries (L4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TaskId(u64);

static NEXT: AtomicU64 = AtomicU64::new(1);

impl TaskId {
    pub(crate) fn next() -> Self {
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// Whether this id was ever given to a task in this process.
    pub fn was_issued(self) -> bool {
        self.0 > 0 && self.0 < NEXT.load(Ordering::Relaxed)
    }

    /// The id `n` (for parsing ids from outside, such as a URL).
    pub fn from_u64(n: u64) -> Self {
        Self(n)
    }

    /// The id as a number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Hashes a [`TaskId`] to itself with its low bits copied to the top: ids are unique and
/// sequential, so SipHash's defence against crafted keys buys nothing on this hot path.
/// Keeping the low bits puts siblings added together in neighbouring buckets (a remove
/// touches memory a recent one already did); the copy at the top feeds the 7-bit tag
/// the map's probe compares, so neighbours do not all look alike.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n ^ (n << 57);
    }
}

/// A map keyed by task id.
pub(crate) type IdMap<V> =
    std::collections::HashMap<TaskId, V, std::hash::BuildHasherDefault<IdHasher>>;

/// What a task is, which decides when it ends (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    /// Ends when its `run`/`go` returns, it fails, or it is stopped.
    Task,
    /// A container: ends when stopped, or when its last child has ended (`AutoStop`).
    Job,
    /// A keep-alive container: ends only when stopped.
    Work,
    /// Calls `tick` every interval; ends when stopped or a tick fails for good.
    Tick,
    /// Calls `tick(item)` for each item of a stream; ends when the stream ends.
    Channel,
    /// The root of the tree.
    Root,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: [Kind; 6] = [
        Kind::Task,
        Kind::Job,
        Kind::Work,
        Kind::Tick,
        Kind::Channel,
        Kind::Root,
    ];

    /// Whether the kind holds children by design (job, work, root).
    pub fn is_container(self) -> bool {
        matches!(self, Kind::Job | Kind::Work | Kind::Root)
    }

    /// Whether the task ends (`Complete`) when its work — `run`, `go`, its stream — returns.
    pub fn ends_with_its_work(self) -> bool {
        !self.is_container()
    }

    /// The kind's name, as in snapshots.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Task => "task",
            Kind::Job => "job",
            Kind::Work => "work",
            Kind::Tick => "tick",
            Kind::Channel => "channel",
            Kind::Root => "root",
        }
    }
}

/// Where a task is in its life (L1).
///
/// `Init → Starting → Started → Running | Going → Disposing → Disposed`. A retry goes from
/// `Disposing` (after a run failure) or `Starting` (after a start failure) back to `Starting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
#[repr(u8)]
pub enum TaskState {
    /// Added, waiting for its parent to start it.
    Init = 0,
    /// `start` is running in the parent's mailbox.
    Starting = 1,
    /// Started; neither `run` nor `go` is running.
    Started = 2,
    /// `run` is running, holding the parent's mailbox.
    Running = 3,
    /// `go` is running on its own.
    Going = 4,
    /// Being disposed: children first, then `dispose`, resources and hooks.
    Disposing = 5,
    /// Gone for good.
    Disposed = 6,
}

impl TaskState {
    /// Every state, in order.
    pub const ALL: [TaskState; 7] = [
        Self::Init,
        Self::Starting,
        Self::Started,
        Self::Running,
        Self::Going,
        Self::Disposing,
        Self::Disposed,
    ];

    /// The state's name, as in snapshots and metrics: `init`, `starting`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::Starting => "starting",
            Self::Started => "started",
            Self::Running => "running",
            Self::Going => "going",
            Self::Disposing => "disposing",
            Self::Disposed => "disposed",
        }
    }

    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Init,
            1 => Self::Starting,
            2 => Self::Started,
            3 => Self::Running,
            4 => Self::Going,
            5 => Self::Disposing,
            _ => Self::Disposed,
        }
    }

    /// Whether the task has started and is not being disposed: what keyed lookups see.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Started | Self::Running | Self::Going)
    }
}

/// When things happened to a task (L10). Durations have nanosecond resolution.
#[derive(Debug, Clone)]
pub struct Timings {
    /// Wall-clock time of the `add`.
    pub created_at: SystemTime,
    /// Wall-clock time the last (successful or not) start began.
    pub started_at: Option<SystemTime>,
    /// How long the last `start` took.
    pub start_duration: Option<Duration>,
    /// How long the last `run` took (or, while running, has taken so far: see [`Timings::run_so_far`]).
    pub run_duration: Option<Duration>,
    /// Total lifetime from `add` to the end of dispose, once disposed.
    pub lifetime: Option<Duration>,
    pub(crate) created: Instant,
    pub(crate) run_began: Option<Instant>,
}

/// Timings start at the moment they are made: the task's `add`.
impl Default for Timings {
    fn default() -> Self {
        Self::new()
    }
}

impl Timings {
    fn new() -> Self {
        Self {
            created_at: SystemTime::now(),
            started_at: None,
            start_duration: None,
            run_duration: None,
            lifetime: None,
            created: Instant::now(),
            run_began: None,
        }
    }

    /// The wall-clock time of `at`, from the monotonic clock's distance to the `add`.
    pub(crate) fn wall_clock(&self, at: Instant) -> SystemTime {
        self.created_at + at.saturating_duration_since(self.created)
    }

    /// Time since the task was added (its lifetime so far, or its whole lifetime once disposed).
    pub fn age(&self) -> Duration {
        self.lifetime.unwrap_or_else(|| self.created.elapsed())
    }

    /// How long the current `run` has been running, if one is.
    pub fn run_so_far(&self) -> Option<Duration> {
        self.run_began.map(|t| t.elapsed())
    }
}

/// What happened to a task, as its ancestors' watchers see it (L13) and the web's event
/// stream sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
#[repr(u8)]
pub enum TaskEvent {
    /// A start succeeded.
    Started = 0,
    /// The task was asked to stop.
    Stopping = 1,
    /// The task was disposed for good.
    Disposed = 2,
    /// A failed attempt is about to be retried.
    Retry = 3,
    /// A description was set or removed.
    Described = 4,
}

impl TaskEvent {
    /// The event's name, as in the web's event stream: `started`, `stopping`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Stopping => "stopping",
            Self::Disposed => "disposed",
            Self::Retry => "retry",
            Self::Described => "described",
        }
    }
}

/// A named step a task recorded about itself (GoTask's `Step`), with its time.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Short name of the step.
    pub name: String,
    /// Free text.
    pub detail: String,
    /// When it was recorded (serialized as milliseconds since the Unix epoch).
    #[serde(rename = "atMs", serialize_with = "serialize_epoch_ms")]
    pub at: SystemTime,
}

/// Milliseconds since the Unix epoch: how times are serialized (JSON, history).
pub fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn serialize_epoch_ms<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(epoch_ms(*t))
}

/// A task's descriptions: string keys to JSON values (L12).
pub type Descriptions = std::collections::BTreeMap<String, serde_json::Value>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Metrics index their handles by discriminant: `ALL` must be in declaration order.
    #[test]
    fn all_lists_each_enum_in_declaration_order() {
        for (i, kind) in Kind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i);
        }
        for (i, state) in TaskState::ALL.iter().enumerate() {
            assert_eq!(*state as usize, i);
        }
    }

    /// The names the code writes must be the names serde writes: one vocabulary everywhere.
    #[test]
    fn names_match_their_serialized_form() {
        for state in TaskState::ALL {
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        for kind in Kind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        for event in [
            TaskEvent::Started,
            TaskEvent::Stopping,
            TaskEvent::Disposed,
            TaskEvent::Retry,
            TaskEvent::Described,
        ] {
            assert_eq!(serde_json::to_value(event).unwrap(), event.as_str());
        }
        for reason in crate::ReasonKind::ALL {
            assert_eq!(format!("{reason:?}").to_lowercase(), reason.as_str());
        }
    }
}
