//! Supervision settings beyond GoTask, after Erlang/OTP (R4): how a job restarts its
//! children, how often it may, and which endings restart a child at all.
//!
//! | setting | set on | decides |
//! |---|---|---|
//! | [`Strategy`] | the job | which children restart when one fails |
//! | [`Intensity`] | the job | how many restarts in a window before the job itself fails |
//! | [`RestartKind`] | the child | whether an ending may restart the child |
//! | [`Retry`](crate::Retry) | the child | how often and after what delay it restarts |
//!
//! Settings are read when a child ends, so changing them while children run affects the
//! next ending, not the past ones.

use std::time::Duration;

/// Which children restart when one fails (OTP's restart strategies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Only the failing child (the default, and GoTask's only behaviour).
    #[default]
    OneForOne,
    /// Every child: all are disposed, last started first, then started again in start order.
    OneForAll,
    /// The failing child and those started after it.
    RestForOne,
}

/// Which endings restart a child (OTP's child restart types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartKind {
    /// Restarted after any ending of its own, even `Complete`.
    Permanent,
    /// Restarted only after a failure (the default).
    #[default]
    Transient,
    /// Never restarted.
    Temporary,
}

/// At most `max` restarts of a job's children within `window`; one more and the job itself
/// fails with [`StopReason::RestartIntensity`](crate::StopReason::RestartIntensity), and its
/// own parent's policy applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intensity {
    max: u32,
    window: Duration,
}

/// A supervision setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisionError {
    /// A restart-intensity window of zero would never count two restarts together.
    #[error("a restart-intensity window must be longer than zero")]
    ZeroWindow,
}

impl Intensity {
    /// `max` restarts within `window`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tasktree::Intensity;
    /// assert!(Intensity::new(3, Duration::from_secs(5)).is_ok());
    /// assert!(Intensity::new(3, Duration::ZERO).is_err());
    /// ```
    pub fn new(max: u32, window: Duration) -> Result<Self, SupervisionError> {
        if window.is_zero() {
            return Err(SupervisionError::ZeroWindow);
        }
        Ok(Self { max, window })
    }

    /// The most restarts allowed within the window.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }
}

/// A job's supervision state, allocated only for jobs that set something.
#[derive(Debug, Default)]
pub(crate) struct Supervision {
    pub(crate) strategy: Strategy,
    pub(crate) intensity: Option<Intensity>,
    /// When recent restarts happened, oldest first (on tokio's clock).
    pub(crate) restarts: std::collections::VecDeque<tokio::time::Instant>,
    /// The dispose deadline of children that have none of their own.
    pub(crate) child_dispose_deadline: Option<Duration>,
    /// The job exceeded its intensity and is failing: its last children ending is not an
    /// `AutoStop`.
    pub(crate) gave_up: bool,
}

impl Supervision {
    /// A new attempt of the job starts with a clean record.
    pub(crate) fn reset(&mut self) {
        self.restarts.clear();
        self.gave_up = false;
    }

    /// Counts a restart now; `false` when it exceeds the intensity.
    pub(crate) fn admit_restart(&mut self) -> bool {
        let Some(intensity) = self.intensity else {
            return true;
        };
        let now = tokio::time::Instant::now();
        while self
            .restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) >= intensity.window)
        {
            self.restarts.pop_front();
        }
        self.restarts.push_back(now);
        self.restarts.len() <= intensity.max as usize
    }
}
