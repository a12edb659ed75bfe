//! `review` of a plan whose tasks stand everywhere at once: landed, done
//! with and without their worktree, done only as another clone's shared
//! work, failed, escalated, running with receipt lines not yet committed,
//! and queued. Review reads every task's branch and worktree in one pass
//! (`work::snapshot`); what it says of each task is what `status` says and
//! where `git` finds its work.

use crate::common::TestEnv;
use crate::run::{project, split_plan, status};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Done for most files; m04 fails, m05 escalates.
const WORKER: &str = r#"#!/bin/sh
f=$(sed -n 's/^- `\(src\/[^`]*\)`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
echo "reviewed by $BATCH_TASK" >> "$f"
git batch receipt "touched $f"
git batch receipt --count file --item "$f" "counted $f"
case "$f" in
  src/m04.txt) echo "m04 broke" >&2; exit 1 ;;
  src/m05.txt) git batch escalate --reason "which header for $f?" ;;
esac
exit 0
"#;

fn worktrees(env: &TestEnv) -> BTreeMap<String, PathBuf> {
    let list = env.git(&["worktree", "list", "--porcelain"]);
    let mut out = BTreeMap::new();
    let mut path = None;
    for l in list.lines() {
        if let Some(p) = l.strip_prefix("worktree ") {
            path = Some(PathBuf::from(p));
        } else if let Some(b) = l.strip_prefix("branch refs/heads/batch/") {
            out.insert(b.to_string(), path.take().unwrap());
        }
    }
    out
}

fn short(env: &TestEnv, rev: &str) -> String {
    let full = env.git(&["rev-parse", rev]);
    full.trim()[..10].to_string()
}

#[test]
fn review_of_a_plan_in_every_state_says_what_status_and_git_say() {
    let (env, _bare) = project(8);
    let ids = split_plan(&env, &env.repo, "mix", &[]);
    let id = |n: usize| ids[n - 1].as_str();
    let worker = env.dir.path().join("review-worker.sh");
    std::fs::write(&worker, WORKER).unwrap();
    let exec = format!("sh {}", worker.display());
    // m01..m06 run; m07 is started by hand, m08 never.
    let mut args = vec!["run", "--exec", &exec, "-j", "2", "--retries", "0"];
    args.extend((1..=6).map(id));
    let out = env.run(&args);
    assert_eq!(out.status.code(), Some(1), "m04 fails, m05 escalates");
    env.ok(&["land", id(1), id(2)]);
    // m06's work only as another clone shares it: no local branch, no
    // worktree, the shared work ref.
    let wt = worktrees(&env);
    let tip6 = env.git(&["rev-parse", &format!("batch/{}", id(6))]);
    env.git(&["worktree", "remove", "--force", wt[id(6)].to_str().unwrap()]);
    env.git(&["branch", "-D", &format!("batch/{}", id(6))]);
    env.git(&[
        "update-ref",
        &format!("refs/batch/work/{}", id(6)),
        tip6.trim(),
    ]);
    // m03 done, its worktree gone, its branch kept.
    env.git(&["worktree", "remove", "--force", wt[id(3)].to_str().unwrap()]);
    // m07 running: receipt lines on disk, nothing committed.
    let started: serde_json::Value = env.json(&["start", id(7), "--worker", "w7"]);
    let wt7 = Path::new(started["path"].as_str().unwrap()).to_path_buf();
    env.ok_in(&wt7, &["receipt", "halfway through m07"]);
    env.ok_in(
        &wt7,
        &[
            "receipt",
            "--count",
            "file",
            "--item",
            "src/m07.txt",
            "counted",
        ],
    );

    let review: serde_json::Value = env.json(&["review", "--plan", "mix"]);
    let tasks: BTreeMap<String, &serde_json::Value> = review["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap().to_string(), t))
        .collect();
    assert_eq!(tasks.len(), 8);
    let view = status(&env, &env.repo, "mix");
    for (task_id, t) in &tasks {
        let line = view.task(task_id);
        assert_eq!(t["state"], line.state.as_str(), "{task_id}: {t}");
        assert_eq!(
            t["reason"].as_str(),
            line.reason.as_deref(),
            "{task_id}: {t}"
        );
        assert_eq!(t["title"], line.title.as_str());
    }
    let state = |n| tasks[id(n)]["state"].as_str().unwrap();
    assert_eq!(
        (1..=8).map(state).collect::<Vec<_>>(),
        [
            "closed",
            "closed",
            "done",
            "failed",
            "escalated",
            "done",
            "running",
            "queued"
        ]
    );
    // Work not landed: from where its branch (or shared work) left main
    // to its tip, as git has them.
    for (n, tip) in [
        (3, format!("batch/{}", id(3))),
        (4, format!("batch/{}", id(4))),
        (5, format!("batch/{}", id(5))),
        (6, format!("refs/batch/work/{}", id(6))),
        (7, format!("batch/{}", id(7))),
    ] {
        let base = env.git(&["merge-base", &tip, "main"]);
        let want = format!("{}..{}", short(&env, base.trim()), short(&env, &tip));
        assert_eq!(tasks[id(n)]["range"], want.as_str(), "m0{n}");
    }
    for n in [3, 4, 5, 6] {
        let t = tasks[id(n)];
        let receipt: Vec<&str> = t["receipt"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(receipt.len(), 2, "m0{n}: {t}");
        assert!(
            receipt[0].ends_with(&format!("touched src/m0{n}.txt")),
            "{t}"
        );
        assert_eq!(t["counts"]["file"], 1.0, "m0{n}: {t}");
    }
    // Done work is committed; a failure or an escalation commits only its
    // task file and receipt (the work stays in the worktree); landed work
    // is found through the landing.
    for n in [3, 6] {
        let t = tasks[id(n)];
        assert_eq!(t["files"][0]["path"], format!("src/m0{n}.txt"), "{t}");
    }
    for n in [4, 5] {
        assert_eq!(tasks[id(n)]["files"], serde_json::json!([]), "m0{n}");
    }
    for n in [1, 2] {
        let t = tasks[id(n)];
        assert_eq!(t["files"][0]["path"], format!("src/m0{n}.txt"), "{t}");
        assert!(t["landed"].is_string(), "{t}");
    }
    // The running task's receipt is its worktree's file, not committed yet.
    let t7 = tasks[id(7)];
    let receipt7 =
        std::fs::read_to_string(wt7.join(format!(".batch/receipts/{}.log", id(7)))).unwrap();
    let lines7: Vec<&str> = receipt7.lines().collect();
    assert_eq!(lines7.len(), 2, "{receipt7}");
    assert_eq!(t7["receipt"], serde_json::json!(lines7), "{t7}");
    assert_eq!(t7["counts"]["file"], 1.0, "{t7}");
    // Nothing for the queued one.
    let t8 = tasks[id(8)];
    assert!(
        t8.get("range").is_none() && t8["receipt"] == serde_json::json!([]),
        "{t8}"
    );
    assert_eq!(review["counts"]["file"], 7.0, "{review}");

    // From inside a worker's worktree: the same facts about every task
    // (the worktree that is the current one is found first).
    let inside: serde_json::Value =
        serde_json::from_str(&env.ok_in(&wt7, &["--json", "review", "--plan", "mix"])).unwrap();
    assert_eq!(inside["tasks"], review["tasks"]);
}
