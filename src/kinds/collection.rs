//! Keyed collections: a container's children found by key (GoTask's `WorkCollection`).

use std::fmt::Display;
use std::marker::PhantomData;
use std::panic::Location;

use crate::handle::{TaskHandle, TaskRef};
use crate::task::Task;

/// A typed view of a container's children of type `C`, found by their key
/// (`#[task(key = field)]`).
///
/// Lookups see only *active* children: started, and neither stopping nor being disposed. Keys are unique
/// among all the container's children: adding a second child with a key already present
/// fails with [`StopReason::Exists`](crate::StopReason::Exists). A lookup on a container that
/// was disposed finds nothing.
///
/// ```
/// use tasktree::prelude::*;
///
/// #[task(work)]
/// struct Sessions;
///
/// #[task(key = user)]
/// struct Session { user: String }
///
/// #[actix::main]
/// async fn main() {
///     let root = Root::new();
///     let sessions = root.add(Sessions).collection::<Session>();
///     sessions.add(Session { user: "ada".into() }).wait_started().await.unwrap();
///     assert!(sessions.contains("ada"));
///     let name = sessions.get("ada").unwrap().call(|s, _| s.user.clone()).await.unwrap();
///     assert_eq!(name, "ada");
///     root.shutdown().await;
/// }
/// ```
pub struct Collection<C: Task> {
    owner: TaskRef,
    _children: PhantomData<fn() -> C>,
}

impl TaskRef {
    /// This task's children of type `C`, by key.
    pub fn collection<C: Task>(&self) -> Collection<C> {
        Collection {
            owner: self.clone(),
            _children: PhantomData,
        }
    }
}

impl<C: Task> Collection<C> {
    /// The container.
    pub fn owner(&self) -> &TaskRef {
        &self.owner
    }

    /// Adds a child to the container.
    #[track_caller]
    pub fn add(&self, child: C) -> TaskHandle<C>
    where
        C: Send,
    {
        self.owner.add_at(child, Location::caller())
    }

    /// The active child with `key`.
    pub fn get(&self, key: &(impl Display + ?Sized)) -> Option<TaskHandle<C>> {
        self.owner
            .child_by_key(&key.to_string())
            .filter(TaskRef::is_active)
            .and_then(|c| c.downcast())
    }

    /// Whether an active child has `key`.
    pub fn contains(&self, key: &(impl Display + ?Sized)) -> bool {
        self.get(key).is_some()
    }

    /// The first active child for which `pred` holds (in no particular order).
    pub fn find(&self, mut pred: impl FnMut(&TaskHandle<C>) -> bool) -> Option<TaskHandle<C>> {
        self.iter().into_iter().find(|c| pred(c))
    }

    /// Every active child, oldest first.
    pub fn iter(&self) -> Vec<TaskHandle<C>> {
        let mut children: Vec<TaskHandle<C>> = self
            .owner
            .children()
            .into_iter()
            .filter(TaskRef::is_active)
            .filter_map(|c| c.downcast())
            .collect();
        children.sort_by_key(|c| c.id());
        children
    }

    /// How many children are active.
    pub fn len(&self) -> usize {
        self.iter().len()
    }

    /// Whether no child is active.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<C: Task> Clone for Collection<C> {
    fn clone(&self) -> Self {
        self.owner.collection()
    }
}
