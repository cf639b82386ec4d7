use tasktree::task;

#[task(jobb)]
struct Conn;

fn main() {}
