//! Why a task stopped, and the errors at the crate's boundaries.
//!
//! | type | who produces it | who sees it |
//! |---|---|---|
//! | [`StopReason`] | the framework, or the user through [`TaskError`] | `wait_stopped`, `wait_started`, snapshots |
//! | [`TaskError`] | the user's lifecycle methods (`?` on any error) | turned into a [`StopReason`] |
//! | [`HandleError`] | `call`, `send`, `wait_started` on a handle | the caller |
//!
//! This module imports nothing else of the crate.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// Why a task stopped (or, for [`TaskHandle::wait_started`](crate::TaskRef::wait_started),
/// why it never started).
///
/// Cheap to clone: a user's error is shared behind an [`Arc`]. Compare kinds with
/// [`is`](StopReason::is) (GoTask's `StopReasonIs`).
///
/// ```
/// use tasktree::{ReasonKind, StopReason};
/// let r = StopReason::AutoStop(Box::new(StopReason::Complete));
/// assert!(r.is(ReasonKind::AutoStop));
/// assert!(r.root_cause().is(ReasonKind::Complete));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StopReason {
    /// `run` (or `go`) returned `Ok`: the task did its work.
    #[error("complete")]
    Complete,
    /// A job's last child ended; the reason of that child is inside.
    #[error("auto-stop: last child ended with {0}")]
    AutoStop(Box<StopReason>),
    /// Stopped by a person or program through a handle, with their words.
    #[error("stopped by user{}", if .0.is_empty() { String::new() } else { format!(": {}", .0) })]
    StopByUser(String),
    /// The program is exiting (root shutdown or an OS signal).
    #[error("exit")]
    Exit,
    /// Stopped to be started again (`restart`).
    #[error("restart")]
    Restart,
    /// A deadline passed.
    #[error("timeout")]
    Timeout,
    /// The task kept failing and used up its retries; the last failure is inside.
    #[error("retry exhausted after {retries} retries: {last}")]
    RetryExhausted {
        /// How many retries were made.
        retries: u32,
        /// The failure that ended the last attempt.
        last: Box<StopReason>,
    },
    /// User code panicked.
    #[error("panic: {message}{}", .location.as_ref().map(|l| format!(" at {l}")).unwrap_or_default())]
    Panic {
        /// The panic payload as text (`&str` and `String` payloads verbatim).
        message: String,
        /// `file:line:column` of the panic, when the panic hook saw it.
        location: Option<String>,
    },
    /// The task (or its parent) was already disposed.
    #[error("disposed")]
    Disposed,
    /// A sibling with this key already exists.
    #[error("a task with key {0:?} already exists")]
    Exists(String),
    /// The operation was canceled before it could finish.
    #[error("canceled")]
    Canceled,
    /// A supervisor restarted its children too often and gave up.
    #[error("restart intensity exceeded")]
    RestartIntensity,
    /// The user's own error.
    #[error("failed: {0}")]
    Failed(Arc<dyn StdError + Send + Sync + 'static>),
}

/// The kind of a [`StopReason`], without its data: what [`StopReason::is`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum ReasonKind {
    Complete,
    AutoStop,
    StopByUser,
    Exit,
    Restart,
    Timeout,
    RetryExhausted,
    Panic,
    Disposed,
    Exists,
    Canceled,
    RestartIntensity,
    Failed,
}

impl ReasonKind {
    /// Every kind, in declaration order.
    pub const ALL: [ReasonKind; 13] = [
        Self::Complete,
        Self::AutoStop,
        Self::StopByUser,
        Self::Exit,
        Self::Restart,
        Self::Timeout,
        Self::RetryExhausted,
        Self::Panic,
        Self::Disposed,
        Self::Exists,
        Self::Canceled,
        Self::RestartIntensity,
        Self::Failed,
    ];

    /// The kind's name in history, metrics and the web API: `complete`, `retryexhausted`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::AutoStop => "autostop",
            Self::StopByUser => "stopbyuser",
            Self::Exit => "exit",
            Self::Restart => "restart",
            Self::Timeout => "timeout",
            Self::RetryExhausted => "retryexhausted",
            Self::Panic => "panic",
            Self::Disposed => "disposed",
            Self::Exists => "exists",
            Self::Canceled => "canceled",
            Self::RestartIntensity => "restartintensity",
            Self::Failed => "failed",
        }
    }
}

impl StopReason {
    /// The reason's kind.
    pub fn kind(&self) -> ReasonKind {
        match self {
            Self::Complete => ReasonKind::Complete,
            Self::AutoStop(_) => ReasonKind::AutoStop,
            Self::StopByUser(_) => ReasonKind::StopByUser,
            Self::Exit => ReasonKind::Exit,
            Self::Restart => ReasonKind::Restart,
            Self::Timeout => ReasonKind::Timeout,
            Self::RetryExhausted { .. } => ReasonKind::RetryExhausted,
            Self::Panic { .. } => ReasonKind::Panic,
            Self::Disposed => ReasonKind::Disposed,
            Self::Exists(_) => ReasonKind::Exists,
            Self::Canceled => ReasonKind::Canceled,
            Self::RestartIntensity => ReasonKind::RestartIntensity,
            Self::Failed(_) => ReasonKind::Failed,
        }
    }

    /// Whether this reason is of `kind`.
    pub fn is(&self, kind: ReasonKind) -> bool {
        self.kind() == kind
    }

    /// Whether this reason is of any of `kinds` (GoTask's `StopReasonIs(errs...)`).
    pub fn is_any(&self, kinds: &[ReasonKind]) -> bool {
        kinds.contains(&self.kind())
    }

    /// The innermost reason, looking through [`AutoStop`](Self::AutoStop) and
    /// [`RetryExhausted`](Self::RetryExhausted).
    pub fn root_cause(&self) -> &StopReason {
        match self {
            Self::AutoStop(inner) => inner.root_cause(),
            Self::RetryExhausted { last, .. } => last.root_cause(),
            other => other,
        }
    }

    /// A user's error, kept as the reason's source.
    pub fn failed(err: impl StdError + Send + Sync + 'static) -> Self {
        Self::Failed(Arc::new(err))
    }

    /// Whether a task that ended this way may be retried (R3): after a failure (including a
    /// job that gave up on its children, R4), not after it completed, nor when a person, the
    /// program or the framework asked it to stop.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Failed(_)
                | Self::Panic { .. }
                | Self::Timeout
                | Self::Canceled
                | Self::RestartIntensity
        ) && !self.is_not_implemented()
    }

    fn is_not_implemented(&self) -> bool {
        matches!(self, Self::Failed(e) if e.is::<NotImplemented>())
    }
}

/// The error type of lifecycle methods: `?` turns any `std::error::Error + Send + Sync`
/// (and any [`StopReason`]) into one.
///
/// It deliberately does not implement `std::error::Error` itself, so that the blanket
/// conversion can exist (the same choice as `anyhow::Error`).
///
/// ```
/// use tasktree::{TaskError, ReasonKind};
/// fn parse(s: &str) -> Result<u16, TaskError> {
///     Ok(s.parse::<u16>()?)
/// }
/// assert!(parse("x").unwrap_err().reason().is(ReasonKind::Failed));
/// assert!(TaskError::msg("no route").reason().to_string().contains("no route"));
/// ```
pub struct TaskError(Repr);

enum Repr {
    Reason(StopReason),
    /// The default of a lifecycle method the user did not write: allocation-free, because
    /// the framework meets it for every task without a `run`.
    NotImplemented,
}

impl TaskError {
    /// An error from a message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self(Repr::Reason(StopReason::failed(Message(
            message.to_string(),
        ))))
    }

    /// The stop reason this error becomes.
    pub fn reason(&self) -> &StopReason {
        static NOT_IMPLEMENTED: std::sync::LazyLock<StopReason> =
            std::sync::LazyLock::new(|| StopReason::failed(NotImplemented));
        match &self.0 {
            Repr::Reason(reason) => reason,
            Repr::NotImplemented => &NOT_IMPLEMENTED,
        }
    }

    /// Consumes the error into its stop reason.
    pub fn into_reason(self) -> StopReason {
        match self.0 {
            Repr::Reason(reason) => reason,
            Repr::NotImplemented => StopReason::failed(NotImplemented),
        }
    }

    /// The default of a lifecycle method the user did not write. Not public API.
    #[doc(hidden)]
    pub fn not_implemented() -> Self {
        Self(Repr::NotImplemented)
    }

    /// Whether this is [`TaskError::not_implemented`]. Not public API.
    #[doc(hidden)]
    pub fn is_not_implemented(&self) -> bool {
        matches!(self.0, Repr::NotImplemented)
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for TaskError {
    fn from(err: E) -> Self {
        let mut slot = Some(err);
        if let Some(reason) =
            (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<StopReason>>()
        {
            if let Some(reason) = reason.take() {
                return Self(Repr::Reason(reason));
            }
        }
        match slot {
            Some(err) => Self(Repr::Reason(StopReason::failed(err))),
            None => unreachable!("the slot is only emptied when it held a StopReason"),
        }
    }
}

impl From<TaskError> for StopReason {
    fn from(err: TaskError) -> Self {
        err.into_reason()
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.reason(), f)
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.reason(), f)
    }
}

/// Why a handle operation ([`call`](crate::TaskHandle::call), [`send`](crate::TaskHandle::send),
/// [`wait_started`](crate::TaskRef::wait_started)) returned no value.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum HandleError {
    /// The task has stopped (or was never started); its stop reason is inside.
    #[error("task stopped: {0}")]
    Stopped(StopReason),
    /// The closure or handler panicked; the task keeps serving.
    #[error("call panicked: {message}{}", .location.as_ref().map(|l| format!(" at {l}")).unwrap_or_default())]
    Panic {
        /// The panic payload as text.
        message: String,
        /// Where it panicked, when known.
        location: Option<String>,
    },
    /// The call could never be answered: the target's mailbox is waiting on the caller.
    #[error("deadlock: {caller} cannot wait on {target}, which is waiting on it")]
    Deadlock {
        /// Path of the task making the call.
        caller: String,
        /// Path of the task called.
        target: String,
    },
}

impl HandleError {
    /// The panic turned into a call error.
    pub(crate) fn from_panic(reason: StopReason) -> Self {
        match reason {
            StopReason::Panic { message, location } => Self::Panic { message, location },
            other => Self::Stopped(other),
        }
    }
}

#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

#[derive(Debug)]
struct NotImplemented;

impl fmt::Display for NotImplemented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("lifecycle method not implemented")
    }
}

impl StdError for NotImplemented {}
