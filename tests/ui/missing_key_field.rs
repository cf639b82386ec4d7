use tasktree::task;

#[task(key = path)]
struct Stream {
    url: String,
}

fn main() {}
