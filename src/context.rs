//! [`TaskCx`]: what a task's own code gets besides `&mut self`.

use std::any::Any;
use std::ops::Deref;
use std::rc::Rc;

use crate::handle::{TaskHandle, TaskRef};
use crate::task::{Core, Task};

/// The task's own context, passed to its lifecycle methods, message handlers and `call`
/// closures.
///
/// It is an owned handle (not a borrow of the actor's context), and dereferences to the
/// task's [`TaskRef`]: `cx.id()`, `cx.describe(..)`, `cx.set_retry(..)`, `cx.add(..)`,
/// `cx.stop(..)`, `cx.stopped()` and the rest. What only the task itself may do — resources
/// released after its dispose, hooks that run on its arbiter — is here.
///
/// It lives on the task's arbiter (it is `!Send`); to reach the task from elsewhere, take a
/// [`handle`](TaskCx::handle).
pub struct TaskCx<T: Task> {
    core: Rc<Core<T>>,
    me: TaskRef,
}

impl<T: Task> TaskCx<T> {
    pub(crate) fn new(core: Rc<Core<T>>) -> Self {
        let me = TaskRef::from_node(core.node.clone());
        Self { core, me }
    }

    /// A typed handle to this task, to keep or move into a `go` future.
    pub fn handle(&self) -> TaskHandle<T> {
        TaskHandle::new(self.core.node.clone())
    }

    /// Keeps `resource` until the task is disposed, then drops it: after the task's children
    /// and its own `dispose`, in reverse order of `using` (L5). Each attempt of a retried
    /// task releases what it acquired before the next attempt starts.
    pub fn using<R: Any>(&mut self, resource: R) {
        self.core.local().using.push(Box::new(resource));
    }

    /// Runs `hook` right after this start succeeds (L13).
    pub fn on_start(&mut self, hook: impl FnOnce() + 'static) {
        self.core.local().on_start.push(Box::new(hook));
    }

    /// Runs `hook` after the task is disposed and its `using` resources released, in the
    /// order hooks were added (L5, L13).
    pub fn on_dispose(&mut self, hook: impl FnOnce() + 'static) {
        self.core.local().on_dispose.push(Box::new(hook));
    }
}

impl<T: Task> Deref for TaskCx<T> {
    type Target = TaskRef;

    fn deref(&self) -> &TaskRef {
        &self.me
    }
}
