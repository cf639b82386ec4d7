//! The documentation stays whole: the Chinese README has every section of the English one,
//! the Chinese course has every lesson, and the guide maps every item of GoTask's API.

use std::collections::BTreeSet;

fn read(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// `## What you get` → `what-you-get`.
fn slug(title: &str) -> String {
    title
        .trim()
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

#[test]
fn docs_chinese_readme_has_every_english_section() {
    let english: BTreeSet<String> = read("README.md")
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(slug)
        .collect();
    let chinese: BTreeSet<String> = read("README.zh-CN.md")
        .lines()
        .filter(|l| l.starts_with("## "))
        .filter_map(|l| l.split("<!-- section: ").nth(1))
        .filter_map(|rest| rest.split(" -->").next())
        .map(str::to_owned)
        .collect();
    let missing: Vec<&String> = english.difference(&chinese).collect();
    assert!(
        missing.is_empty(),
        "README.zh-CN.md lacks these sections of README.md (add a `## … <!-- section: slug -->` heading): {missing:?}"
    );
}

#[test]
fn docs_both_course_pages_cover_every_lesson() {
    for page in ["examples/README.md", "examples/README.zh-CN.md"] {
        let text = read(page);
        for n in 1..=10 {
            let lesson = format!("`lesson{n:02}`");
            assert!(text.contains(&lesson), "{page} does not present {lesson}");
        }
    }
}

#[test]
fn docs_guide_maps_every_gotask_api_item() {
    const GOTASK_API: &[&str] = &[
        "GetTaskID",
        "GetTaskType",
        "GetOwnerType",
        "GetState",
        "GetLevel",
        "GetParent",
        "GetTask",
        "GetTaskPointer",
        "GetKey",
        "Start",
        "Stop",
        "IsStopped",
        "StopReason",
        "StopReasonIs",
        "WaitStarted",
        "WaitStopped",
        "GetDescriptions",
        "GetDescription",
        "SetDescription",
        "RemoveDescription",
        "SetDescriptions",
        "SetRetry",
        "ResetRetryCount",
        "GetRetryCount",
        "GetMaxRetry",
        "Using",
        "OnStop",
        "OnStart",
        "OnDispose",
        "Debug",
        "Info",
        "Warn",
        "Error",
        "Trace",
        "TraceEnabled",
        "RunTask",
        "GetSignal",
        "AddTask",
        "AddDependTask",
        "RangeSubTask",
        "OnDescendantsDispose",
        "OnDescendantsStart",
        "Blocked",
        "EventLoopRunning",
        "Call",
        "GetNextTaskID",
        "FromPointer",
    ];
    let guide = read("docs/guide.md");
    let rows: Vec<&str> = guide.lines().filter(|l| l.starts_with("| `")).collect();
    for item in GOTASK_API {
        let mapped = rows.iter().any(|row| {
            let first = row.split('|').nth(1).unwrap_or("");
            first.contains(&format!("`{item}("))
                || first.contains(&format!("`{item}`"))
                || first.contains(&format!(" `{item}`"))
        });
        assert!(
            mapped,
            "docs/guide.md has no migration row for GoTask's {item}"
        );
    }
}
