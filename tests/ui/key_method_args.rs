use tasktree::task;

#[task(key = address(1))]
struct Peer {
    port: u16,
}

fn main() {}
