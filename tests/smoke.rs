use tasktree::prelude::*;

#[task(job)]
struct Conn {
    remote: String,
}

#[task]
struct Once {
    n: u32,
}

impl Lifecycle for Once {
    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.n += 1;
        Ok(())
    }
}

#[actix_rt::test]
async fn smoke() {
    let root = Root::new();
    let conn = root.add(Conn { remote: "x".into() });
    conn.wait_started().await.unwrap();
    let len = conn.call(|c, _| c.remote.len()).await.unwrap();
    assert_eq!(len, 1);
    let once = conn.add(Once { n: 0 });
    assert!(once.wait_stopped().await.is(ReasonKind::Complete));
    assert!(conn.wait_stopped().await.is(ReasonKind::AutoStop));
    println!("{}", root.render());
    assert!(root.shutdown().await.is(ReasonKind::Exit));
}
