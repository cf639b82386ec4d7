//! The relay example's service, driven as users would: its `App` with `actix_web::test`, and a
//! real server on loopback for the watch streams and the shutdown.

#[path = "../examples/relay/app.rs"]
#[allow(dead_code)]
mod app;

use std::net::SocketAddr;

use actix_web::http::StatusCode;
use actix_web::{test, App};
use serde_json::Value;
use tasktree::prelude::*;
use tasktree::web::{serve_with, Dashboard};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[actix_rt::test]
async fn relay_create_list_delete_and_bad_requests_through_its_app() {
    let root = Root::without_signals();
    let streams = root.add(app::Streams).collection::<app::Stream>();
    let service = test::init_service(
        App::new()
            .configure(app::routes(streams.clone()))
            .service(Dashboard::new(root.as_task()).scope("/tasks")),
    )
    .await;
    let post = |body: &'static str| {
        test::TestRequest::post()
            .uri("/streams")
            .set_payload(body)
            .to_request()
    };

    let created = test::call_service(
        &service,
        post(r#"{"path":"live/cam1","source":{"rateHz":100}}"#),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let duplicate = test::call_service(
        &service,
        post(r#"{"path":"live/cam1","source":{"rateHz":100}}"#),
    )
    .await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    for bad in [
        r#"{"path":"x""#,
        r#"{"path":"x","source":{"rateHz":"fast"}}"#,
        r#"{"path":"","source":{"rateHz":1}}"#,
    ] {
        let resp = test::call_service(&service, post(bad)).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    for req in [
        test::TestRequest::get().uri("/streams/nope/watch"),
        test::TestRequest::delete().uri("/streams/nope"),
    ] {
        assert_eq!(
            test::call_service(&service, req.to_request())
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
    }

    let listed: Vec<app::StreamInfo> = test::call_and_read_body_json(
        &service,
        test::TestRequest::get().uri("/streams").to_request(),
    )
    .await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].path, "live/cam1");

    // The tree is visible under /tasks, in the same App.
    let tree: Value = test::call_and_read_body_json(
        &service,
        test::TestRequest::get()
            .uri("/tasks/api/tasks/tree")
            .to_request(),
    )
    .await;
    let stream = &tree["children"][0]["children"][0];
    assert_eq!(stream["owner"], "Stream");
    assert_eq!(stream["key"], "live/cam1");

    let deleted = test::call_service(
        &service,
        test::TestRequest::delete()
            .uri("/streams/live/cam1")
            .to_request(),
    )
    .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let cam = streams
        .owner()
        .child_by_key("live/cam1")
        .expect("still being disposed or gone");
    assert!(matches!(cam.wait_stopped().await, StopReason::StopByUser(r) if r == "deleted"));
    root.shutdown().await;
}

/// One HTTP/1.1 exchange over loopback: (status, body).
async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).await.unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

/// Opens a watch and returns its line reader, positioned after the headers.
async fn watch(addr: SocketAddr, path: &str) -> tokio::io::Lines<BufReader<TcpStream>> {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(
        format!("GET /streams/{path}/watch HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut lines = BufReader::new(conn).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.is_empty() {
            break;
        }
    }
    lines
}

/// Reads until `n` frames have arrived; returns their numbers.
async fn frames(lines: &mut tokio::io::Lines<BufReader<TcpStream>>, n: usize) -> Vec<u64> {
    let mut got = Vec::new();
    while got.len() < n {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the watch is still open");
        if let Some(frame) = line.split("data: frame ").nth(1) {
            got.push(frame.trim().parse().unwrap());
        }
    }
    got
}

/// Reads to the end of the watch; resolves once the server closes it.
async fn until_closed(mut lines: tokio::io::Lines<BufReader<TcpStream>>) {
    while let Ok(Some(_)) = lines.next_line().await {}
}

async fn start_server(
    root: &Root,
    streams: tasktree::kinds::Collection<app::Stream>,
) -> (SocketAddr, actix_rt::task::JoinHandle<()>) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tree = root.as_task().clone();
    let server = actix_rt::spawn(async move {
        let dashboard = Dashboard::new(&tree);
        serve_with(
            &tree,
            dashboard,
            "/tasks",
            app::routes(streams),
            "127.0.0.1:0".parse().unwrap(),
            move |a| {
                let _ = tx.send(a);
            },
        )
        .await
        .expect("the relay serves");
    });
    (rx.await.unwrap(), server)
}

#[actix_rt::test]
async fn relay_watch_frames_then_delete_ends_the_watch() {
    let root = Root::without_signals();
    let streams = root.add(app::Streams).collection::<app::Stream>();
    let (addr, server) = start_server(&root, streams.clone()).await;

    let (status, _) = http(
        addr,
        "POST",
        "/streams",
        r#"{"path":"live/a","source":{"rateHz":200}}"#,
    )
    .await;
    assert_eq!(status, 201);
    let mut lines = watch(addr, "live/a").await;
    let got = frames(&mut lines, 3).await;
    assert!(
        got.windows(2).all(|w| w[1] > w[0]),
        "frames in order: {got:?}"
    );

    let (status, body) = http(addr, "GET", "/streams", "").await;
    assert_eq!(status, 200);
    let listed: Vec<app::StreamInfo> = serde_json::from_str(&body).unwrap();
    assert!(
        listed[0].frames >= 3 && listed[0].subscribers == 1,
        "{listed:?}"
    );

    let (status, _) = http(addr, "DELETE", "/streams/live/a", "").await;
    assert_eq!(status, 200);
    until_closed(lines).await;
    root.shutdown().await;
    server.await.unwrap();
}

#[actix_rt::test]
async fn relay_puller_failure_is_retried_and_visible_in_the_tree() {
    let root = Root::without_signals();
    let (retried, mut retries) = tokio::sync::mpsc::unbounded_channel();
    root.on_descendant_retry(move |t| {
        if t.owner() == "Puller" {
            let _ = retried.send(t.id());
        }
    });
    let streams = root.add(app::Streams).collection::<app::Stream>();
    let (addr, server) = start_server(&root, streams).await;
    let (status, _) = http(
        addr,
        "POST",
        "/streams",
        r#"{"path":"flaky","source":{"rateHz":500,"failEvery":5}}"#,
    )
    .await;
    assert_eq!(status, 201);
    let puller = retries
        .recv()
        .await
        .expect("the puller failed and was retried");
    let (_, body) = http(addr, "GET", &format!("/tasks/api/tasks/{puller}"), "").await;
    let detail: Value = serde_json::from_str(&body).unwrap();
    assert!(detail["retryCount"].as_u64().unwrap_or(0) >= 1, "{detail}");
    assert!(detail["descriptions"]["retry"].is_string(), "{detail}");
    root.shutdown().await;
    server.await.unwrap();
}

#[actix_rt::test]
async fn relay_shutdown_with_watchers_connected_disposes_everything_subscribers_first() {
    let root = Root::without_signals();
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = order.clone();
    root.on_descendant_dispose(move |t| seen.lock().unwrap().push(t.owner()));
    let streams = root.add(app::Streams).collection::<app::Stream>();
    let (addr, server) = start_server(&root, streams.clone()).await;
    for path in ["one", "two"] {
        let (status, _) = http(
            addr,
            "POST",
            "/streams",
            &format!(r#"{{"path":"{path}","source":{{"rateHz":100}}}}"#),
        )
        .await;
        assert_eq!(status, 201);
    }
    let mut watchers = Vec::new();
    for path in ["one", "two"] {
        let mut lines = watch(addr, path).await;
        frames(&mut lines, 1).await;
        watchers.push(lines);
    }
    let handles = streams.iter();
    assert_eq!(handles.len(), 2);

    root.shutdown().await;
    for lines in watchers {
        until_closed(lines).await;
    }
    server.await.unwrap();
    assert!(handles.iter().all(|s| s.state() == TaskState::Disposed));
    let order = order.lock().unwrap().clone();
    // Within each stream: the subscriber (started last) first, the stream itself last.
    for stream_end in order
        .iter()
        .enumerate()
        .filter(|(_, o)| **o == "Stream")
        .map(|(i, _)| i)
    {
        let before = &order[..stream_end];
        assert!(
            before.iter().filter(|o| **o == "Subscriber").count() >= 1,
            "{order:?}"
        );
    }
    assert_eq!(
        order.iter().filter(|o| **o == "Subscriber").count(),
        2,
        "{order:?}"
    );
    assert_eq!(order.last().copied(), Some("Streams"), "{order:?}");
}

#[actix_rt::test]
async fn relay_stream_stops_when_its_last_subscriber_has_been_gone_for_its_idle_time() {
    let root = Root::without_signals();
    let streams = root.add(app::Streams).collection::<app::Stream>();
    let (addr, server) = start_server(&root, streams.clone()).await;
    let (status, _) = http(
        addr,
        "POST",
        "/streams",
        r#"{"path":"idle","source":{"rateHz":100,"idleMs":50}}"#,
    )
    .await;
    assert_eq!(status, 201);
    let stream = streams.get("idle").expect("the stream");
    let mut lines = watch(addr, "idle").await;
    frames(&mut lines, 2).await;
    // The client goes; the subscriber ends; 50 ms later the stream stops itself.
    drop(lines);
    assert!(stream.wait_stopped().await.is(ReasonKind::Timeout));
    assert!(streams.get("idle").is_none());
    root.shutdown().await;
    server.await.unwrap();
}
