//! The web API (DESIGN §7): every endpoint against a real tree, every bad input, the token,
//! and the event stream over a real server on loopback.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{test, App};
use serde_json::Value;
use tasktree::history::{History, MemoryStore};
use tasktree::prelude::*;
use tasktree::web::{serve, Dashboard, ServeError};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[task(work)]
struct Hub;

#[task(job)]
struct Group;

/// Lives until stopped; counts its starts.
#[task]
struct Worker {
    starts: u32,
}

impl Lifecycle for Worker {
    async fn start(&mut self, cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        self.starts += 1;
        cx.describe("starts", self.starts);
        Ok(())
    }
    fn go(&mut self, cx: &mut TaskCx<Self>) -> Option<Go> {
        let stopped = cx.stopped();
        Go::new(async move {
            stopped.await;
            Ok(())
        })
    }
}

#[task]
struct Quick;

impl Lifecycle for Quick {
    async fn run(&mut self, _cx: &mut TaskCx<Self>) -> Result<(), TaskError> {
        Ok(())
    }
}

struct Tree {
    root: Root,
    hub: TaskHandle<Hub>,
    worker: TaskHandle<Worker>,
    history: History,
}

/// root → hub → group → worker (a grandchild of a child: not only the root's children).
async fn tree() -> Tree {
    let root = Root::without_signals();
    let history = History::attach(root.as_task(), Arc::new(MemoryStore::default()));
    let hub = root.add(Hub);
    let group = hub.add(Group);
    let worker = group.add(Worker { starts: 0 });
    worker.wait_started().await.unwrap();
    hub.add(Quick).wait_stopped().await;
    history.flush().await;
    Tree {
        root,
        hub,
        worker,
        history,
    }
}

macro_rules! app {
    ($dashboard:expr) => {
        test::init_service(App::new().service($dashboard.scope(""))).await
    };
}

async fn json(resp: actix_web::dev::ServiceResponse) -> (StatusCode, Value) {
    let status = resp.status();
    let body = test::read_body(resp).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[actix_rt::test]
async fn web_reads_tree_list_detail_stats_history_metrics_and_page() {
    let t = tree().await;
    let dashboard = Dashboard::new(t.root.as_task())
        .with_history(t.history.clone())
        .with_metrics(Arc::new(|| "tasktree_test 1\n".to_owned()));
    let app = app!(dashboard);

    let page = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = String::from_utf8(test::read_body(page).await.to_vec()).unwrap();
    assert!(html.contains("<title>tasktree</title>") && html.contains("app.js"));
    for asset in ["/app.js", "/style.css"] {
        let resp = test::call_service(&app, test::TestRequest::get().uri(asset).to_request()).await;
        assert_eq!(resp.status(), StatusCode::OK, "{asset}");
    }

    let (status, tree) = json(
        test::call_service(
            &app,
            test::TestRequest::get().uri("/api/tasks/tree").to_request(),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tree["kind"], "root");
    assert_eq!(tree["children"][0]["owner"], "Hub");
    assert_eq!(
        tree["children"][0]["children"][0]["children"][0]["owner"],
        "Worker"
    );

    let (status, list) = json(
        test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/api/tasks?kind=job")
                .to_request(),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["owner"], "Group");
    let (_, going) = json(
        test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/api/tasks?state=going&owner=Worker")
                .to_request(),
        )
        .await,
    )
    .await;
    assert_eq!(going.as_array().map(Vec::len), Some(1));

    // Any id in the tree, not only the root's children.
    let uri = format!("/api/tasks/{}", t.worker.id());
    let (status, detail) =
        json(test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["owner"], "Worker");
    assert_eq!(detail["descriptions"]["starts"], 1);
    assert_eq!(detail["path"], Value::String(t.worker.path()));
    let uri = format!("/api/tasks/{}", t.hub.id());
    let (_, hub) =
        json(test::call_service(&app, test::TestRequest::get().uri(&uri).to_request()).await).await;
    assert_eq!(hub["childIds"].as_array().map(Vec::len), Some(1));

    let (status, stats) = json(
        test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/api/tasks/stats")
                .to_request(),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["live"]["total"], 4, "root, hub, group, worker");
    assert_eq!(stats["live"]["byKind"]["job"], 1);
    assert_eq!(stats["history"]["total"], 1, "the quick task");

    let (status, page) = json(
        test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/api/tasks/history?owner=Quick&page=0&size=10")
                .to_request(),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["reasonKind"], "complete");

    let metrics =
        test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(metrics.status(), StatusCode::OK);
    assert_eq!(test::read_body(metrics).await, "tasktree_test 1\n");
    t.root.shutdown().await;
}

#[actix_rt::test]
async fn web_stop_with_reason_restart_and_their_conflicts() {
    let t = tree().await;
    let app = app!(Dashboard::new(t.root.as_task()));

    let (started, mut starts) = tokio::sync::mpsc::unbounded_channel();
    t.hub.on_descendant_start(move |task| {
        if task.owner() == "Worker" {
            let _ = started.send(task.id());
        }
    });
    let restart = format!("/api/tasks/{}/restart", t.worker.id());
    let (status, body) =
        json(test::call_service(&app, test::TestRequest::post().uri(&restart).to_request()).await)
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A real restart, through the retry path: disposed, then started again, same id.
    assert_eq!(starts.recv().await, Some(t.worker.id()));
    assert_eq!(t.worker.descriptions()["starts"], 2);

    let stop = format!("/api/tasks/{}/stop", t.worker.id());
    let req = test::TestRequest::post()
        .uri(&stop)
        .set_payload(r#"{"reason":"maintenance"}"#)
        .to_request();
    let (status, body) = json(test::call_service(&app, req).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        matches!(t.worker.stop_reason(), Some(StopReason::StopByUser(r)) if r == "maintenance")
    );
    // Again while it is stopping, then once it is gone: both conflicts.
    let again = test::TestRequest::post().uri(&stop).to_request();
    let (status, body) = json(test::call_service(&app, again).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "conflict");
    t.worker.wait_stopped().await;
    let gone = test::TestRequest::post().uri(&stop).to_request();
    let (status, body) = json(test::call_service(&app, gone).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) =
        json(test::call_service(&app, test::TestRequest::post().uri(&restart).to_request()).await)
            .await;
    assert_eq!(status, StatusCode::CONFLICT);
    t.root.shutdown().await;
}

#[actix_rt::test]
async fn web_bad_input_gets_json_errors_and_never_panics() {
    let t = tree().await;
    let with_history = app!(Dashboard::new(t.root.as_task()).with_history(t.history.clone()));
    let hub_stop = format!("/api/tasks/{}/stop", t.hub.id());
    let big = format!(r#"{{"reason":"{}"}}"#, "x".repeat(10_000));
    let cases: Vec<(test::TestRequest, StatusCode, &str)> = vec![
        (
            test::TestRequest::get().uri("/api/tasks/abc"),
            StatusCode::BAD_REQUEST,
            "bad_id",
        ),
        (
            test::TestRequest::get().uri("/api/tasks/-1"),
            StatusCode::BAD_REQUEST,
            "bad_id",
        ),
        (
            test::TestRequest::get().uri("/api/tasks/0"),
            StatusCode::BAD_REQUEST,
            "bad_id",
        ),
        (
            test::TestRequest::get().uri("/api/tasks/99999999"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            test::TestRequest::post().uri("/api/tasks/99999999/stop"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            test::TestRequest::post()
                .uri(&hub_stop)
                .set_payload("{not json"),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            test::TestRequest::post()
                .uri(&hub_stop)
                .set_payload(r#"{"reason": 3}"#),
            StatusCode::BAD_REQUEST,
            "bad_json",
        ),
        (
            test::TestRequest::post().uri(&hub_stop).set_payload(big),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            test::TestRequest::get().uri("/api/tasks?kind=gizmo"),
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            test::TestRequest::get().uri("/api/tasks/history?kind=0"),
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            test::TestRequest::get().uri("/api/tasks/history?size=0"),
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            test::TestRequest::get().uri("/api/tasks/history?size=1001"),
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            test::TestRequest::get().uri("/api/tasks/history?endFrom=yesterday"),
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            test::TestRequest::get().uri("/api/tasks/history?endFrom=10&endTo=5"),
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
        (
            test::TestRequest::get().uri("/api/tasks/history?page=x"),
            StatusCode::BAD_REQUEST,
            "bad_query",
        ),
    ];
    for (req, status, code) in cases {
        let req = req.to_request();
        let what = format!("{} {}", req.method(), req.uri());
        let (got, body) = json(test::call_service(&with_history, req).await).await;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["code"], code, "{what}: {body}");
        assert!(body["error"].is_string(), "{what}: {body}");
    }
    assert!(t.hub.is_active(), "no bad request touched the tree");

    let without = app!(Dashboard::new(t.root.as_task()));
    for uri in ["/api/tasks/history", "/metrics"] {
        let (status, body) = json(
            test::call_service(&without, test::TestRequest::get().uri(uri).to_request()).await,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(body["code"], "not_enabled");
    }
    t.root.shutdown().await;
}

#[actix_rt::test]
async fn web_token_guards_controls_and_the_event_stream() {
    let t = tree().await;
    let app = app!(Dashboard::new(t.root.as_task()).with_token("s3cret"));
    let stop = format!("/api/tasks/{}/stop", t.worker.id());
    for req in [
        test::TestRequest::post().uri(&stop),
        test::TestRequest::post()
            .uri(&stop)
            .insert_header(("Authorization", "Bearer wrong")),
        test::TestRequest::get().uri("/api/events"),
        test::TestRequest::get().uri("/api/events?token=wrong"),
    ] {
        let (status, body) = json(test::call_service(&app, req.to_request()).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "unauthorized");
    }
    // Reads stay open; the right token in a header, a cookie or the query works.
    let read = test::call_service(
        &app,
        test::TestRequest::get().uri("/api/tasks/tree").to_request(),
    )
    .await;
    assert_eq!(read.status(), StatusCode::OK);
    let events = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/api/events?token=s3cret")
            .to_request(),
    )
    .await;
    assert_eq!(events.status(), StatusCode::OK);
    drop(events);
    let cookie = actix_web::cookie::Cookie::new("tasktree_token", "s3cret");
    let restart = format!("/api/tasks/{}/restart", t.worker.id());
    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri(&restart)
            .cookie(cookie)
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = test::call_service(
        &app,
        test::TestRequest::post()
            .uri(&stop)
            .insert_header(("Authorization", "Bearer s3cret"))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    t.root.shutdown().await;
}

#[actix_rt::test]
async fn web_serve_refuses_beyond_loopback_without_a_token() {
    let root = Root::without_signals();
    let err = serve(
        root.as_task(),
        Dashboard::new(root.as_task()),
        "0.0.0.0:0".parse().unwrap(),
        |_| {},
    )
    .await;
    assert!(matches!(err, Err(ServeError::TokenRequired(_))));
    root.shutdown().await;
}

#[actix_rt::test]
async fn web_events_stream_started_and_disposed_in_order_and_end_with_the_server() {
    let root = Root::without_signals();
    let hub = root.add(Hub);
    hub.wait_started().await.unwrap();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let tree = root.as_task().clone();
    let dashboard = Dashboard::new(&tree);
    let server = actix_rt::spawn(async move {
        serve(
            &tree,
            dashboard,
            "127.0.0.1:0".parse().unwrap(),
            move |bound| {
                let _ = addr_tx.send(bound);
            },
        )
        .await
    });
    let addr = addr_rx.await.unwrap();

    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (read, mut write) = stream.into_split();
    write
        .write_all(
            format!(
                "GET /api/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains(": connected") {
            break;
        }
    }
    let quick = hub.add(Quick);
    let id = quick.id();
    let mut seen = Vec::new();
    let mut event = String::new();
    while let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap_or(Ok(None))
    {
        if let Some(name) = line.strip_prefix("event: ") {
            event = name.to_owned();
        } else if let Some(data) = line.strip_prefix("data: ") {
            let frame: Value = serde_json::from_str(data).unwrap();
            if frame["id"] == id.get() {
                seen.push(event.clone());
                if event == "disposed" {
                    break;
                }
            }
        }
    }
    assert_eq!(seen, ["started", "stopping", "disposed"]);
    // Shutting the tree down ends the stream, and with it the server.
    root.shutdown().await;
    let rest = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = lines.next_line().await {}
    })
    .await;
    assert!(rest.is_ok(), "the event stream ended with the tree");
    assert!(
        matches!(server.await, Ok(Ok(()))),
        "the server stopped cleanly"
    );
}
