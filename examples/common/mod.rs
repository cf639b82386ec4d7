//! What every lesson uses: a journal of what happened, and checks that decide the exit code.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

/// An ordered journal of events, shared by the tasks of a lesson and printed as it grows.
#[derive(Clone, Default)]
pub struct Journal(Arc<Mutex<Vec<String>>>);

impl Journal {
    pub fn note(&self, event: impl Into<String>) {
        let event = event.into();
        println!("  {event}");
        self.0.lock().expect("journal").push(event);
    }

    pub fn events(&self) -> Vec<String> {
        self.0.lock().expect("journal").clone()
    }

    pub fn count(&self, prefix: &str) -> usize {
        self.events()
            .iter()
            .filter(|e| e.starts_with(prefix))
            .count()
    }
}

/// The lesson's expectations: each is printed; any failure makes the lesson exit non-zero.
pub struct Checks {
    failed: usize,
}

impl Checks {
    pub fn new(title: &str) -> Self {
        println!("== {title}");
        Self { failed: 0 }
    }

    pub fn check(&mut self, ok: bool, what: &str) {
        println!("{} {what}", if ok { "[ok]  " } else { "[FAIL]" });
        if !ok {
            self.failed += 1;
        }
    }

    /// Exits 1 if any check failed.
    pub fn finish(self) {
        if self.failed > 0 {
            eprintln!("{} check(s) failed", self.failed);
            std::process::exit(1);
        }
        println!("lesson passed");
    }
}
