//! GoTask's ten lessons, in Rust: each example checks its own outcome and exits non-zero
//! when it is not met. `cargo test --workspace` builds the examples; these tests run them.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Where cargo put the example binaries: beside this test's `deps` folder.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile folder")
        .join("examples");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo test --workspace`, which builds the examples",
        path.display()
    );
    path
}

#[test]
fn lessons_01_to_10_pass() {
    for n in 1..=10 {
        let name = format!("lesson{n:02}");
        let out = Command::new(example(&name))
            .output()
            .expect("run the lesson");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("lesson passed"),
            "{name} failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn kill(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("the kill command");
    assert!(status.success(), "kill {signal} {pid}");
}

#[test]
fn l15_a_real_signal_shuts_the_tree_down_and_a_second_one_skips_nothing() {
    let mut child = Command::new(example("lesson06"))
        .arg("--until-signal")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start lesson06");
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    let mut read_until = |marker: &str, seen: &mut Vec<String>| {
        for line in lines.by_ref() {
            let line = line.expect("a line of output");
            let found = line.contains(marker);
            seen.push(line);
            if found {
                return;
            }
        }
        panic!("the lesson ended before printing {marker:?}: {seen:#?}");
    };
    read_until("ready", &mut seen);
    kill("-INT", pid);
    // Disposes are slow in this lesson; a second Ctrl-C lands in the middle of them.
    read_until("dispose session 3", &mut seen);
    kill("-INT", pid);
    read_until("lesson passed", &mut seen);
    let status = child.wait().expect("lesson06 exits");
    assert!(status.success(), "lesson06 exited with {status}: {seen:#?}");
    let disposes: Vec<&String> = seen
        .iter()
        .filter(|l| l.trim_start().starts_with("dispose "))
        .collect();
    assert_eq!(disposes.len(), 4, "{seen:#?}");
}
