//! The scenarios of DESIGN §8, shared by the bench binary and the smoke test.
//! Each returns its figures after checking its own work.

use std::time::{Duration, Instant};

use tasktree::prelude::*;

/// One scenario's figures, printed as one JSON line.
#[derive(Debug, Default)]
pub struct Figures {
    pub scenario: String,
    pub n: u64,
    pub wall_ms: f64,
    pub start_ms: Option<f64>,
    pub stop_ms: Option<f64>,
    pub per_item_ns: f64,
    pub max_rss_kb: u64,
}

impl Figures {
    pub fn json(&self) -> String {
        let opt = |v: Option<f64>| v.map_or("null".to_owned(), |v| format!("{v:.1}"));
        format!(
            "{{\"scenario\":\"{}\",\"n\":{},\"wall_ms\":{:.1},\"start_ms\":{},\"stop_ms\":{},\"per_item_ns\":{:.0},\"max_rss_kb\":{}}}",
            self.scenario,
            self.n,
            self.wall_ms,
            opt(self.start_ms),
            opt(self.stop_ms),
            self.per_item_ns,
            self.max_rss_kb
        )
    }
}

/// Peak resident memory of this process (VmHWM), in kB.
pub fn max_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[task(job)]
struct Job;

/// Returns at once.
#[task]
struct Quick;

impl Lifecycle for Quick {
    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        Ok(())
    }
}

/// Lives until stopped.
#[task]
struct Live;

impl Lifecycle for Live {
    fn go(&mut self, cx: &mut TaskCx<Self>) -> Option<Go> {
        let stopped = cx.stopped();
        Go::new(async move {
            stopped.await;
            Ok(())
        })
    }
}

/// Fails every start; counts them.
#[task]
struct Refuses {
    retries: u32,
    starts: u64,
}

impl Lifecycle for Refuses {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        if self.starts == 0 {
            cx.set_retry(Retry::exponential(self.retries, Duration::ZERO));
        }
        self.starts += 1;
        Err(TaskError::msg("refused"))
    }
}

/// Runs scenario `name` with `n` items. `Err` says what the scenario found wrong.
pub async fn run(name: &str, n: u64) -> Result<Figures, String> {
    let root = Root::without_signals();
    let began = Instant::now();
    let mut f = Figures {
        scenario: name.to_owned(),
        n,
        ..Figures::default()
    };
    match name {
        "S1" => {
            let job = root.add(Job);
            let children: Vec<_> = (0..n).map(|_| job.add(Quick)).collect();
            let reason = job.wait_stopped().await;
            if !reason.is(ReasonKind::AutoStop)
                || children.iter().any(|c| c.state() != TaskState::Disposed)
            {
                return Err(format!(
                    "S1: job ended with {reason}, not every child disposed"
                ));
            }
            f.per_item_ns = began.elapsed().as_nanos() as f64 / n as f64;
        }
        "S2" => {
            let job = root.add(Job);
            let children: Vec<_> = (0..n).map(|_| job.add(Live)).collect();
            for child in &children {
                child.wait_started().await.map_err(|e| format!("S2: {e}"))?;
            }
            let started = began.elapsed();
            drop(children);
            let stopping = Instant::now();
            job.stop(StopReason::StopByUser(String::new()));
            job.wait_stopped().await;
            f.start_ms = Some(ms(started));
            f.stop_ms = Some(ms(stopping.elapsed()));
            f.per_item_ns = began.elapsed().as_nanos() as f64 / n as f64;
        }
        "S3" => {
            let job = root.add(Job);
            job.add(Live)
                .wait_started()
                .await
                .map_err(|e| format!("S3: {e}"))?;
            let calls = Instant::now();
            let mut sum = 0u64;
            for i in 0..n {
                sum += job
                    .call(move |_, _| i)
                    .await
                    .map_err(|e| format!("S3: {e}"))?;
            }
            if sum != n * n.saturating_sub(1) / 2 {
                return Err("S3: calls returned wrong values".into());
            }
            f.per_item_ns = calls.elapsed().as_nanos() as f64 / n as f64;
        }
        "S4" => {
            // n is the depth below the top; fan-out 10: depth 5 is 111,111 tasks.
            let top = root.add(Job);
            let mut level: Vec<TaskRef> = vec![top.as_task().clone()];
            let mut count = 1u64;
            for depth in 1..=n {
                let leaves = depth == n;
                let mut next = Vec::with_capacity(level.len() * 10);
                for parent in &level {
                    for _ in 0..10 {
                        let child: TaskRef = if leaves {
                            parent.add(Live).into()
                        } else {
                            parent.add(Job).into()
                        };
                        next.push(child);
                    }
                }
                count += next.len() as u64;
                level = next;
            }
            for leaf in &level {
                leaf.wait_started().await.map_err(|e| format!("S4: {e}"))?;
            }
            let built = began.elapsed();
            let stopping = Instant::now();
            top.stop(StopReason::StopByUser(String::new()));
            top.wait_stopped().await;
            if level.iter().any(|l| l.state() != TaskState::Disposed) {
                return Err("S4: a leaf was not disposed".into());
            }
            f.n = count;
            f.start_ms = Some(ms(built));
            f.stop_ms = Some(ms(stopping.elapsed()));
            f.per_item_ns = began.elapsed().as_nanos() as f64 / count as f64;
        }
        "S5" => {
            let retries = u32::try_from(n).map_err(|_| "S5: n too large")?;
            let task = root.add(Refuses { retries, starts: 0 });
            let reason = task.wait_stopped().await;
            let starts = task
                .as_task()
                .downcast::<Refuses>()
                .map(|_| task.retry_count());
            if !reason.is(ReasonKind::RetryExhausted) || starts != Some(retries) {
                return Err(format!("S5: ended with {reason} after {starts:?} retries"));
            }
            f.per_item_ns = began.elapsed().as_nanos() as f64 / n as f64;
        }
        #[cfg(feature = "sqlite")]
        "S6" => {
            // S1 with every disposal written to an SQLite file through the history pipeline.
            let dir = std::env::temp_dir().join(format!("tasktree-s6-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|e| format!("S6: {e}"))?;
            let store = tasktree::history::SqliteStore::open(dir.join("history.db"))
                .await
                .map_err(|e| format!("S6: {e}"))?;
            let history = tasktree::history::History::attach_with_queue(
                root.as_task(),
                std::sync::Arc::new(store),
                n as usize + 16,
            );
            let job = root.add(Job);
            let children: Vec<_> = (0..n).map(|_| job.add(Quick)).collect();
            job.wait_stopped().await;
            let churned = began.elapsed();
            let flushing = Instant::now();
            history.flush().await;
            let _ = std::fs::remove_dir_all(&dir);
            if history.written() != n + 1
                || children.iter().any(|c| c.state() != TaskState::Disposed)
            {
                return Err(format!(
                    "S6: {} records written for {} tasks, {} dropped",
                    history.written(),
                    n + 1,
                    history.dropped()
                ));
            }
            f.stop_ms = Some(ms(flushing.elapsed()));
            f.per_item_ns = churned.as_nanos() as f64 / n as f64;
        }
        other => {
            return Err(format!(
                "unknown scenario {other}: expected S1..S6 (S6 needs the feature sqlite)"
            ))
        }
    }
    f.wall_ms = ms(began.elapsed());
    root.shutdown().await;
    f.max_rss_kb = max_rss_kb();
    Ok(f)
}
