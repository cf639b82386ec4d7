use tasktree::task;

#[task(job, work)]
struct Conn;

fn main() {}
