//! The in-memory history store: a bounded ring, the default.

use std::collections::VecDeque;
use std::sync::Mutex;

use super::{
    new_session, BoxFuture, HistoryError, HistoryFilter, HistoryRecord, HistoryStore, Page,
    PageRequest, Retention, StatRow, Stats,
};

/// Keeps the newest `capacity` records in memory.
pub struct MemoryStore {
    capacity: usize,
    session: String,
    /// Oldest first.
    records: Mutex<VecDeque<HistoryRecord>>,
}

impl MemoryStore {
    /// A ring of at most `capacity` records.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            session: new_session(),
            records: Mutex::new(VecDeque::new()),
        }
    }

    fn records(&self) -> std::sync::MutexGuard<'_, VecDeque<HistoryRecord>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Matching records, newest end first; ties keep the newest written first.
    fn matching(&self, filter: &HistoryFilter) -> Vec<HistoryRecord> {
        let mut found: Vec<HistoryRecord> = self
            .records()
            .iter()
            .rev()
            .filter(|r| filter.matches(r))
            .cloned()
            .collect();
        found.sort_by_key(|r| std::cmp::Reverse(r.end_ms));
        found
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl HistoryStore for MemoryStore {
    fn write<'a>(&'a self, batch: &'a [HistoryRecord]) -> BoxFuture<'a, Result<(), HistoryError>> {
        let mut records = self.records();
        for record in batch {
            if records.len() == self.capacity {
                records.pop_front();
            }
            records.push_back(record.clone());
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn query<'a>(
        &'a self,
        filter: &'a HistoryFilter,
        page: PageRequest,
    ) -> BoxFuture<'a, Result<Page, HistoryError>> {
        let out = filter.check().map(|()| {
            let found = self.matching(filter);
            let total = found.len() as u64;
            let items = found
                .into_iter()
                .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
                .take(page.size as usize)
                .collect();
            Page {
                items,
                total,
                page: page.page,
                size: page.size,
            }
        });
        Box::pin(std::future::ready(out))
    }

    fn stats<'a>(
        &'a self,
        filter: &'a HistoryFilter,
    ) -> BoxFuture<'a, Result<Stats, HistoryError>> {
        let out = filter.check().map(|()| {
            Stats::from_rows(self.matching(filter).into_iter().map(|r| StatRow {
                owner: r.owner,
                kind: r.kind,
                state: r.final_state,
                reason: r.reason_kind,
                duration_us: r.duration_us,
            }))
        });
        Box::pin(std::future::ready(out))
    }

    fn retain(&self, policy: Retention) -> BoxFuture<'_, Result<u64, HistoryError>> {
        let mut records = self.records();
        let before = records.len();
        if let Some(age) = policy.max_age {
            let cutoff =
                super::epoch_ms(std::time::SystemTime::now()) as i64 - age.as_millis() as i64;
            records.retain(|r| r.end_ms >= cutoff);
        }
        if let Some(max) = policy.max_rows {
            while records.len() as u64 > max {
                records.pop_front();
            }
        }
        Box::pin(std::future::ready(Ok((before - records.len()) as u64)))
    }

    fn session(&self) -> &str {
        &self.session
    }
}
