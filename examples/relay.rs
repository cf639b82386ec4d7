//! A small stream-relay service built on tasktree: your own actix-web handlers over your own
//! tasks, with the task tree's dashboard mounted at `/tasks` in the same server.
//!
//! ```text
//! cargo run --example relay
//! curl -XPOST localhost:8081/streams -d '{"path":"live/cam1","source":{"rateHz":25,"failEvery":200,"idleMs":5000}}'
//! curl -N localhost:8081/streams/live/cam1/watch      # frames, as Server-Sent Events
//! curl localhost:8081/streams                         # frame and subscriber counts
//! curl -XDELETE localhost:8081/streams/live/cam1
//! open http://127.0.0.1:8081/tasks/                   # the live tree
//! ```
//! Ctrl-C disposes everything, subscribers first, then the server stops.

#[path = "relay/app.rs"]
mod app;

use std::net::SocketAddr;

use tasktree::prelude::*;
use tasktree::web::{serve_with, Dashboard};

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::var("RELAY_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8081".into())
        .parse()?;
    let root = Root::new();
    let streams = root.add(app::Streams).collection::<app::Stream>();
    let dashboard = Dashboard::new(root.as_task());
    serve_with(
        root.as_task(),
        dashboard,
        "/tasks",
        app::routes(streams),
        addr,
        |bound| {
            println!(
                "relay on http://{bound}/streams, tasks on http://{bound}/tasks/ (Ctrl-C to stop)"
            )
        },
    )
    .await?;
    println!("every stream disposed; bye");
    Ok(())
}
