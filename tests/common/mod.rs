//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use tasktree::prelude::*;

/// A task whose `go` waits for its stop: alive until stopped.
#[task]
pub struct Live;

impl Lifecycle for Live {
    fn go(&mut self, cx: &mut TaskCx<Self>) -> Option<Go> {
        let stopped = cx.stopped();
        Go::new(async move {
            stopped.await;
            Ok(())
        })
    }
}

/// An ordered record of what happened, shared between tasks and the test.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }

    pub fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn count(&self, entry: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| *e == entry)
            .count()
    }

    /// Position of `entry`; panics with the whole log when missing.
    pub fn pos(&self, entry: &str) -> usize {
        let entries = self.entries();
        entries
            .iter()
            .position(|e| e == entry)
            .unwrap_or_else(|| panic!("{entry:?} not in {entries:?}"))
    }
}

/// A latch a task can await and the test can open (or the other way round).
pub fn gate() -> (tokio::sync::watch::Sender<bool>, Gate) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    (tx, Gate(rx))
}

#[derive(Clone)]
pub struct Gate(tokio::sync::watch::Receiver<bool>);

impl Gate {
    pub async fn wait(&mut self) {
        // A dropped sender opens the gate too: the test is over either way.
        let _ = self.0.wait_for(|open| *open).await;
    }
}

/// A tracing subscriber that records spans and events, to check what the framework emits.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Recorded>>);

#[derive(Default)]
pub struct Recorded {
    /// Each span: its name and fields.
    pub spans: Vec<(String, Vec<(String, String)>)>,
    /// Each event: its message and fields.
    pub events: Vec<(String, Vec<(String, String)>)>,
}

struct Fields(Vec<(String, String)>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl Recorder {
    pub fn span_fields(&self, name: &str) -> Vec<Vec<(String, String)>> {
        let rec = self.0.lock().unwrap();
        rec.spans
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, f)| f.clone())
            .collect()
    }

    /// The fields of every event with this message.
    pub fn event_fields(&self, message: &str) -> Vec<Vec<(String, String)>> {
        let rec = self.0.lock().unwrap();
        rec.events
            .iter()
            .filter(|(m, _)| m == message)
            .map(|(_, f)| f.clone())
            .collect()
    }

    pub fn event_messages(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .events
            .iter()
            .map(|(m, _)| m.clone())
            .collect()
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut fields = Fields(Vec::new());
        span.record(&mut fields);
        let mut rec = self.0.lock().unwrap();
        rec.spans
            .push((span.metadata().name().to_owned(), fields.0));
        tracing::span::Id::from_u64(rec.spans.len() as u64)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        let message = fields
            .0
            .iter()
            .find(|(k, _)| k == "message")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        self.0.lock().unwrap().events.push((message, fields.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
