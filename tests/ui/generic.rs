use tasktree::task;

#[task]
struct Holder<T> {
    value: T,
}

fn main() {}
