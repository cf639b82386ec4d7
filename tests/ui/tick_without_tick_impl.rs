use tasktree::task;

// A tick task must say how it ticks: implement `tasktree::kinds::Tick`.
#[task(tick)]
struct Heartbeat;

fn main() {}
