//! The dashboard in a real browser: Debian's headless chromium, driven by fantoccini through
//! chromedriver, against the running `dashboard` example. The tree renders, a pushed event
//! updates it without a reload, and a stop button stops a task. A screenshot is saved as
//! `<target tmp dir>/dashboard.png`. Runs with `--features browser` (`.ci/run` installs
//! `chromium` and `chromium-driver`).
#![cfg(feature = "browser")]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

/// A free loopback port.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Kills the process when the test ends, whatever happens.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    exe.parent()
        .and_then(|d| d.parent())
        .expect("target dir")
        .join("examples")
        .join(name)
}

/// Starts the dashboard example on `port`; returns once it listens.
fn start_dashboard(port: u16, dir: &std::path::Path) -> Reaped {
    let mut child = Command::new(example("dashboard"))
        .env("TASKTREE_ADDR", format!("127.0.0.1:{port}"))
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the dashboard example is built by `cargo test`");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("dashboard on"));
    assert!(listening, "the dashboard example did not start");
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Reaped(child)
}

/// Starts chromedriver on `port`; returns once it accepts connections.
fn start_driver(port: u16) -> Reaped {
    let mut child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver)");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("started successfully"));
    assert!(ready, "chromedriver did not start");
    std::thread::spawn(move || for _ in lines {});
    Reaped(child)
}

/// Whether chromium and its driver are installed; outside CI, a machine without them skips.
fn browser_available() -> bool {
    let found = ["chromedriver", "chromium"].iter().all(|b| {
        Command::new(b)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have chromium and chromium-driver (.ci/run installs them)"
        );
        eprintln!("SKIPPED: chromium or chromedriver not installed (apt-get install chromium chromium-driver)");
    }
    found
}

#[actix_rt::test]
async fn browser_tree_renders_updates_live_and_stops_a_task() {
    if !browser_available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("tasktree-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (app_port, driver_port) = (free_port(), free_port());
    let mut app = start_dashboard(app_port, &dir);
    let _driver = start_driver(driver_port);

    let profile = dir.join("chromium-profile");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a chromium session");

    client
        .goto(&format!("http://127.0.0.1:{app_port}/"))
        .await
        .unwrap();
    // The tree renders: rows for the demo's tasks.
    let waiter = client.wait().at_most(Duration::from_secs(20));
    waiter
        .for_element(Locator::XPath("//tr[@data-id][td[contains(., 'Worker')]]"))
        .await
        .expect("the tree renders");
    let ids = |rows: Vec<fantoccini::elements::Element>| async move {
        let mut ids = Vec::new();
        for row in rows {
            if let Ok(Some(id)) = row.attr("data-id").await {
                ids.push(id.parse::<u64>().unwrap_or(0));
            }
        }
        ids
    };
    let before = ids(client.find_all(Locator::Css("tr[data-id]")).await.unwrap()).await;
    let newest = before.iter().copied().max().unwrap_or(0);

    // The demo worker adds a task every second: it appears without a reload, pushed by SSE.
    let xpath = format!("//tr[@data-id > {newest}]");
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::XPath(&xpath))
        .await
        .expect("a pushed update shows a new task");
    let live = client
        .find(Locator::Id("live"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(live, "live", "the event stream is connected");

    // Stop the long "report" task with its button (confirmations answered by the test).
    let row = client
        .find(Locator::XPath(
            "//tr[@data-id][td[contains(., 'Short')]][last()]",
        ))
        .await
        .unwrap();
    let id = row.attr("data-id").await.unwrap().expect("a task id");
    client
        .execute(
            "window.confirm = () => true; window.prompt = () => 'from the browser';",
            vec![],
        )
        .await
        .unwrap();
    row.find(Locator::Css("button[data-action=stop]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Wait for the page itself to drop the row: a DOM observer resolves when it is gone.
    let removed = client
        .execute_async(
            r#"const [id, done] = arguments;
               const gone = () => !document.querySelector(`tr[data-id="${id}"]`);
               if (gone()) { done(true); return; }
               new MutationObserver((_, seen) => { if (gone()) { seen.disconnect(); done(true); } })
                 .observe(document.body, { childList: true, subtree: true });"#,
            vec![json!(id)],
        )
        .await
        .expect("the stopped task's row disappears");
    assert_eq!(removed, json!(true));

    let png = client.screenshot().await.unwrap();
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&shot, png).unwrap();
    println!("screenshot: {}", shot.display());
    client.close().await.unwrap();

    // Ctrl-C: the example disposes its tree and exits 0.
    let pid = app.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let status = app.0.wait().unwrap();
    assert!(status.success(), "the dashboard exited with {status}");
    let _ = std::fs::remove_dir_all(&dir);
}
