use tasktree::task;

#[task]
union Bits {
    a: u32,
    b: f32,
}

fn main() {}
