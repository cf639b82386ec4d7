//! Retry policy and backoff arithmetic (R1, R3). Pure: no actix, no clock.

use std::time::Duration;

/// How often and how fast a failing task is started again.
///
/// The delay before retry `n` (1-based) is `base × 2^(n-1)`, capped at the max interval
/// (GoTask's exponential backoff). The retry count resets only after the task has stayed up
/// for a stable period (by default the max interval, or 10× the base), so a task whose `run`
/// fails right after every good start ends with
/// [`RetryExhausted`](crate::StopReason::RetryExhausted) instead of retrying forever (R3).
///
/// ```
/// use std::time::Duration;
/// use tasktree::Retry;
/// let r = Retry::exponential(5, Duration::from_millis(100)).max_interval(Duration::from_millis(300));
/// assert_eq!(r.delay(1), Duration::from_millis(100));
/// assert_eq!(r.delay(2), Duration::from_millis(200));
/// assert_eq!(r.delay(3), Duration::from_millis(300));
/// assert!(r.allows(5) && !r.allows(6));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    max: Option<u32>,
    base: Duration,
    cap: Option<Duration>,
    stable: Option<Duration>,
}

impl Retry {
    /// No retry: the first failure is final. The default.
    pub const NONE: Retry = Retry {
        max: Some(0),
        base: Duration::ZERO,
        cap: None,
        stable: None,
    };

    /// At most `max_retries` retries with exponential backoff from `base`.
    pub fn exponential(max_retries: u32, base: Duration) -> Self {
        Self {
            max: Some(max_retries),
            base,
            cap: None,
            stable: None,
        }
    }

    /// Retries without limit, with exponential backoff from `base` (GoTask's `-1`).
    pub fn unbounded(base: Duration) -> Self {
        Self {
            max: None,
            base,
            cap: None,
            stable: None,
        }
    }

    /// GoTask's `SetRetry(maxRetry, interval)`: a negative `max_retries` means unbounded.
    pub fn from_gotask(max_retries: i64, base: Duration) -> Self {
        match u32::try_from(max_retries) {
            Ok(max) => Self::exponential(max, base),
            Err(_) if max_retries < 0 => Self::unbounded(base),
            Err(_) => Self::exponential(u32::MAX, base),
        }
    }

    /// Caps every delay at `cap`.
    pub fn max_interval(mut self, cap: Duration) -> Self {
        self.cap = Some(cap);
        self
    }

    /// How long a task must stay up before its retry count resets.
    pub fn stable_after(mut self, period: Duration) -> Self {
        self.stable = Some(period);
        self
    }

    /// The maximum number of retries, `None` when unbounded.
    pub fn max_retries(&self) -> Option<u32> {
        self.max
    }

    /// Whether retry number `n` (1-based) is allowed.
    pub fn allows(&self, n: u32) -> bool {
        self.max.is_none_or(|max| n <= max)
    }

    /// The delay before retry number `n` (1-based).
    pub fn delay(&self, n: u32) -> Duration {
        let shift = n.saturating_sub(1).min(31);
        let delay = self.base.saturating_mul(1u32 << shift);
        match self.cap {
            Some(cap) => delay.min(cap),
            None => delay,
        }
    }

    /// The period after which the retry count resets.
    pub fn stable_period(&self) -> Duration {
        self.stable
            .or(self.cap)
            .unwrap_or_else(|| self.base.saturating_mul(10))
    }

    /// The `n/max` text shown in descriptions and snapshots.
    pub fn describe(&self, n: u32) -> String {
        match self.max {
            Some(max) => format!("{n}/{max}"),
            None => format!("{n}/∞"),
        }
    }
}

impl Default for Retry {
    fn default() -> Self {
        Self::NONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_and_caps() {
        let r = Retry::unbounded(Duration::from_secs(1)).max_interval(Duration::from_secs(30));
        let delays: Vec<u64> = (1..=7).map(|n| r.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(r.delay(1_000), Duration::from_secs(30));
        assert!(r.allows(u32::MAX));
    }

    #[test]
    fn gotask_negative_is_unbounded() {
        assert_eq!(Retry::from_gotask(-1, Duration::ZERO).max_retries(), None);
        assert_eq!(Retry::from_gotask(3, Duration::ZERO).max_retries(), Some(3));
    }

    #[test]
    fn stable_period_defaults() {
        let base = Duration::from_millis(10);
        assert_eq!(Retry::exponential(1, base).stable_period(), base * 10);
        let capped = Retry::exponential(1, base).max_interval(Duration::from_secs(2));
        assert_eq!(capped.stable_period(), Duration::from_secs(2));
    }
}
