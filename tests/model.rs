//! Model-based test: random sequences of add / stop / fail / call against a small reference
//! model of the tree; after each step the live tree's snapshot matches the model. Seeded
//! (`MODEL_SEED` reruns one sequence), so a failure reproduces.

use std::collections::BTreeSet;
use std::sync::Arc;

use tasktree::prelude::*;
use tasktree::{TaskId, TaskInfo};
use tokio::sync::Notify;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

#[task(work)]
struct Box_;

#[task(job)]
struct Job;

/// Lives until stopped, or fails when told to.
#[task]
struct Leaf {
    fail: Arc<Notify>,
}

impl Lifecycle for Leaf {
    fn go(&mut self, cx: &mut TaskCx<Self>) -> Option<Go> {
        let (fail, stopped) = (self.fail.clone(), cx.stopped());
        Go::new(async move {
            tokio::select! {
                _ = stopped => Ok(()),
                _ = fail.notified() => Err(TaskError::msg("told to fail")),
            }
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    Root,
    Work,
    Job,
    Leaf,
}

struct Node {
    task: TaskRef,
    shape: Shape,
    parent: Option<usize>,
    alive: bool,
    had_child: bool,
    fail: Option<Arc<Notify>>,
}

struct Model {
    nodes: Vec<Node>,
}

impl Model {
    fn alive_children(&self, i: usize) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.parent == Some(i) && n.alive)
            .count()
    }

    /// Marks `i` and its subtree dead; returns the jobs that then end by themselves (L7).
    fn kill(&mut self, i: usize) -> Vec<usize> {
        let mut stack = vec![i];
        while let Some(at) = stack.pop() {
            self.nodes[at].alive = false;
            stack.extend(
                (0..self.nodes.len())
                    .filter(|&c| self.nodes[c].parent == Some(at) && self.nodes[c].alive),
            );
        }
        let mut ended = Vec::new();
        let mut at = self.nodes[i].parent;
        while let Some(p) = at {
            let node = &self.nodes[p];
            if node.shape == Shape::Job
                && node.alive
                && node.had_child
                && self.alive_children(p) == 0
            {
                self.nodes[p].alive = false;
                ended.push(p);
                at = self.nodes[p].parent;
            } else {
                break;
            }
        }
        ended
    }

    fn expected(&self) -> BTreeSet<(TaskId, Option<TaskId>)> {
        self.nodes
            .iter()
            .filter(|n| n.alive)
            .map(|n| (n.task.id(), n.parent.map(|p| self.nodes[p].task.id())))
            .collect()
    }

    fn pick(&self, rng: &mut Rng, pred: impl Fn(&Node) -> bool) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| pred(&self.nodes[i]))
            .collect();
        (!candidates.is_empty()).then(|| candidates[rng.below(candidates.len())])
    }
}

fn live(info: &TaskInfo, out: &mut BTreeSet<(TaskId, Option<TaskId>)>) {
    out.insert((info.id, info.parent_id));
    for child in &info.children {
        live(child, out);
    }
}

async fn run_sequence(seed: u64, steps: usize) {
    let mut rng = Rng(seed | 1);
    let root = Root::without_signals();
    let mut model = Model {
        nodes: vec![Node {
            task: root.as_task().clone(),
            shape: Shape::Root,
            parent: None,
            alive: true,
            had_child: false,
            fail: None,
        }],
    };
    for step in 0..steps {
        let op = rng.below(10);
        let what = match op {
            0..=4 => {
                let Some(p) = model.pick(&mut rng, |n| n.alive && n.shape != Shape::Leaf) else {
                    continue;
                };
                let shape = [Shape::Work, Shape::Job, Shape::Leaf][rng.below(3)];
                let parent = model.nodes[p].task.clone();
                let fail = Arc::new(Notify::new());
                let task: TaskRef = match shape {
                    Shape::Work => parent.add(Box_).into(),
                    Shape::Job => parent.add(Job).into(),
                    _ => parent.add(Leaf { fail: fail.clone() }).into(),
                };
                task.wait_started()
                    .await
                    .unwrap_or_else(|e| panic!("seed {seed} step {step}: start failed: {e}"));
                model.nodes[p].had_child = true;
                model.nodes.push(Node {
                    task,
                    shape,
                    parent: Some(p),
                    alive: true,
                    had_child: false,
                    fail: Some(fail),
                });
                format!("add {shape:?} under {p}")
            }
            5 | 6 => {
                let Some(i) = model.pick(&mut rng, |n| n.alive && n.shape != Shape::Root) else {
                    continue;
                };
                model.nodes[i]
                    .task
                    .stop(StopReason::StopByUser("model".into()));
                model.nodes[i].task.wait_stopped().await;
                for j in model.kill(i) {
                    assert!(
                        model.nodes[j]
                            .task
                            .wait_stopped()
                            .await
                            .is(ReasonKind::AutoStop),
                        "seed {seed} step {step}"
                    );
                }
                format!("stop {i}")
            }
            7 => {
                let Some(i) = model.pick(&mut rng, |n| n.alive && n.shape == Shape::Leaf) else {
                    continue;
                };
                if let Some(fail) = &model.nodes[i].fail {
                    fail.notify_one();
                }
                assert!(
                    model.nodes[i]
                        .task
                        .wait_stopped()
                        .await
                        .is(ReasonKind::Failed),
                    "seed {seed} step {step}"
                );
                for j in model.kill(i) {
                    model.nodes[j].task.wait_stopped().await;
                }
                format!("fail {i}")
            }
            8 => {
                let Some(i) = model.pick(&mut rng, |n| {
                    n.shape == Shape::Job || n.shape == Shape::Work
                }) else {
                    continue;
                };
                let alive = model.nodes[i].alive;
                let answer = match model.nodes[i].shape {
                    Shape::Job => {
                        model.nodes[i]
                            .task
                            .downcast::<Job>()
                            .unwrap()
                            .call(|_, cx| cx.id())
                            .await
                    }
                    _ => {
                        model.nodes[i]
                            .task
                            .downcast::<Box_>()
                            .unwrap()
                            .call(|_, cx| cx.id())
                            .await
                    }
                };
                match answer {
                    Ok(id) => assert!(
                        alive && id == model.nodes[i].task.id(),
                        "seed {seed} step {step}"
                    ),
                    Err(HandleError::Stopped(_)) => assert!(
                        !alive,
                        "seed {seed} step {step}: a live task refused a call"
                    ),
                    Err(e) => panic!("seed {seed} step {step}: {e}"),
                }
                format!("call {i}")
            }
            _ => {
                let Some(i) = model.pick(&mut rng, |n| !n.alive && n.shape != Shape::Leaf) else {
                    continue;
                };
                let late = model.nodes[i].task.add(Box_);
                assert_eq!(
                    late.state(),
                    TaskState::Disposed,
                    "seed {seed} step {step}: added to a stopped task"
                );
                format!("add to stopped {i}")
            }
        };
        let mut actual = BTreeSet::new();
        live(&root.snapshot(), &mut actual);
        assert_eq!(
            actual,
            model.expected(),
            "seed {seed} step {step} after {what}"
        );
    }
    root.shutdown().await;
    assert!(
        model
            .nodes
            .iter()
            .all(|n| n.task.state() == TaskState::Disposed),
        "seed {seed}"
    );
}

#[actix_rt::test]
async fn model_random_sequences_match_the_reference_tree() {
    let seeds: Vec<u64> = match std::env::var("MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => vec![seed],
        None => (1..=150).collect(),
    };
    for seed in seeds {
        run_sequence(seed, 60).await;
    }
}
