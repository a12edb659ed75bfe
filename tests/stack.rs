//! Stacked work without landing (`run --stack`, `start --stack`): a
//! dependent starts from its dependency's finished, unlanded branch; `land`
//! lands the stack in order, judges each branch from the base the claims
//! recorded (never from what the branch says), and leaves a dependent out
//! when its base is left out.

use crate::common::TestEnv;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Writes `$d/f` for the task of scope `d/**`, and records which files of
/// other tasks its worktree already has.
const WORKER: &str = r#"#!/bin/sh
d=$(sed -n 's/^- `\([a-z]*\)\/\*\*`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
for o in a b c; do [ -f "$o/f" ] && echo "$d saw $o" >> "$FLOW_LOG"; done
mkdir -p "$d" && echo "$d" > "$d/f"
"#;

fn script(env: &TestEnv, text: &str) -> String {
    let path = env.dir.path().join("stack.sh");
    std::fs::write(&path, text).unwrap();
    format!("sh {}", path.display())
}

#[derive(Deserialize)]
struct Land {
    landed: Vec<String>,
    left_out: Vec<LeftOut>,
}

#[derive(Deserialize)]
struct LeftOut {
    id: String,
    reason: String,
    detail: String,
}

#[derive(Deserialize)]
struct StackBase {
    task: String,
    commit: String,
}

#[derive(Deserialize)]
struct Started {
    path: PathBuf,
    claim: StartedClaim,
}

#[derive(Deserialize)]
struct StartedClaim {
    stack: Option<StackBase>,
}

/// A chain a -> b -> c and no landing: with --stack each starts from the
/// one before's finished branch in the same run; `land` then lands all
/// three in order, each judged on its own commits only.
#[test]
fn a_chain_runs_stacked_and_lands_in_order() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let b = env.create(&["b", "--scope", "b/**", "--dep", &a]);
    let c = env.create(&["c", "--scope", "c/**", "--dep", &b]);
    env.ok(&["plan", "chain", &a, &b, &c]);
    let log = env.dir.path().join("flow.log");
    let exec = script(&env, WORKER);
    let out = env
        .batch_cmd(&[
            "--json", "run", "--plan", "chain", "--stack", "--exec", &exec,
        ])
        .env("FLOW_LOG", &log)
        .output()
        .unwrap();
    crate::common::assert_ok(&out);
    let seen = std::fs::read_to_string(&log).unwrap();
    for line in ["b saw a", "c saw a", "c saw b"] {
        assert!(seen.lines().any(|l| l == line), "no '{line}' in:\n{seen}");
    }
    // The morning review shows each task's own work, not its base's.
    let review: serde_json::Value = env.json(&["review", "--plan", "chain"]);
    let of_c = review["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("{review}"))
        .iter()
        .find(|t| t["id"] == c.as_str())
        .unwrap_or_else(|| panic!("{review}"));
    let files: Vec<&str> = of_c["files"]
        .as_array()
        .unwrap_or_else(|| panic!("{review}"))
        .iter()
        .map(|f| f["path"].as_str().or(f.as_str()).unwrap())
        .collect();
    assert!(files.contains(&"c/f"), "{review}");
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with("a/") || f.starts_with("b/")),
        "{review}"
    );
    let land: Land = env.json(&["land", "--no-push"]);
    assert!(
        land.left_out.is_empty(),
        "{:?}",
        land.left_out.iter().map(|l| &l.detail).collect::<Vec<_>>()
    );
    assert_eq!(land.landed, vec![a.clone(), b.clone(), c.clone()]);
    for d in ["a", "b", "c"] {
        assert_eq!(env.git(&["show", &format!("main:{d}/f")]), format!("{d}\n"));
    }
    // Each change landed once: three work commits, not a's replayed again.
    let subjects = env.git(&["log", "--format=%s", "main", "--", "a/f"]);
    assert_eq!(subjects.lines().count(), 1, "{subjects}");
}

/// Without --stack the dependent waits for a landing that never comes.
#[test]
fn without_stack_a_dependent_waits() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let b = env.create(&["b", "--scope", "b/**", "--dep", &a]);
    let log = env.dir.path().join("flow.log");
    let exec = script(&env, WORKER);
    let out = env
        .batch_cmd(&["--json", "run", &a, &b, "--exec", &exec])
        .env("FLOW_LOG", &log)
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        env.git(&["branch", "--list", &format!("batch/{b}")])
            .is_empty(),
        "b started without --stack: {summary}"
    );
}

fn start_stacked(env: &TestEnv, id: &str) -> Started {
    env.json(&["start", id, "--stack", "--worker", "w2"])
}

/// What a worker that skips every check does: marks its task done and
/// commits everything without the hooks.
fn force_done(env: &TestEnv, wt: &Path, id: &str) {
    let rel = format!(".batch/tasks/{id}.toml");
    let mut task: toml::Table =
        toml::from_str(&std::fs::read_to_string(wt.join(&rel)).unwrap()).unwrap();
    task.insert("status".into(), "done".into());
    std::fs::write(wt.join(&rel), toml::to_string(&task).unwrap()).unwrap();
    env.git_in(wt, &["add", "-A"]);
    env.git_in(wt, &["commit", "-qm", "done", "--no-verify"]);
}

fn finish_by_hand(env: &TestEnv, wt: &Path, id: &str, dir: &str) {
    std::fs::create_dir_all(wt.join(dir)).unwrap();
    std::fs::write(wt.join(dir).join("f"), format!("{dir}\n")).unwrap();
    env.ok_in(wt, &["done", id]);
}

/// `start --stack` by hand: refused while the dependency is not done,
/// then started from its done commit; `done` there counts only the
/// dependent's own files.
#[test]
fn start_stack_takes_the_dependencys_done_commit() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let b = env.create(&["b", "--scope", "b/**", "--dep", &a]);
    let wa: Started = env.json(&["start", &a, "--worker", "w1"]);
    assert!(wa.claim.stack.is_none());
    let err = env.fails(&["start", &b, "--stack", "--worker", "w2"], 1);
    assert!(err.contains("blocked"), "{err}");
    finish_by_hand(&env, &wa.path, &a, "a");
    let a_tip = env.git(&["rev-parse", &format!("batch/{a}")]);
    // Plain `start` still waits for the landing.
    let err = env.fails(&["start", &b, "--worker", "w2"], 1);
    assert!(err.contains("blocked"), "{err}");
    let wb = start_stacked(&env, &b);
    let base = wb.claim.stack.expect("stacked");
    assert_eq!(base.task, a);
    assert_eq!(base.commit, a_tip.trim());
    assert!(wb.path.join("a/f").exists(), "b's worktree lacks a's work");
    finish_by_hand(&env, &wb.path, &b, "b");
    let land: Land = env.json(&["land", "--no-push"]);
    assert_eq!(land.landed, vec![a, b]);
}

/// a's work breaks the tests: the landing leaves a out, and b, stacked
/// on it, out with it (never landed without its base).
#[test]
fn a_dependent_is_left_out_with_its_base() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let b = env.create(&["b", "--scope", "b/**", "--dep", &a]);
    let other = env.create(&["other", "--scope", "o/**"]);
    let wa: Started = env.json(&["start", &a, "--worker", "w1"]);
    finish_by_hand(&env, &wa.path, &a, "a");
    let wb = start_stacked(&env, &b);
    finish_by_hand(&env, &wb.path, &b, "b");
    let wo: Started = env.json(&["start", &other, "--worker", "w3"]);
    finish_by_hand(&env, &wo.path, &other, "o");
    let land: Land = env.json(&["land", "--no-push", "--test", "test ! -f a/f"]);
    assert_eq!(land.landed, vec![other]);
    let reason = |id: &str| {
        land.left_out
            .iter()
            .find(|l| l.id == id)
            .map(|l| (l.reason.clone(), l.detail.clone()))
            .unwrap_or_else(|| panic!("{id} not left out"))
    };
    assert_eq!(reason(&a).0, "test");
    let (why, detail) = reason(&b);
    assert_eq!(why, "dependency", "{detail}");
    assert!(detail.contains(&a), "{detail}");
    assert!(env.git(&["ls-tree", "main", "b/"]).is_empty());
}

/// The stack base is the claims', not the branch's: a stacked branch
/// whose own commit reaches into its base's files is left out, and one
/// that dropped its recorded base (history rewritten to carry a's change
/// as its own) is judged whole and left out too.
#[test]
fn a_stacked_branch_is_judged_from_the_recorded_base() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let b = env.create(&["b", "--scope", "b/**", "--dep", &a]);
    let c = env.create(&["c", "--scope", "c/**", "--dep", &a]);
    let wa: Started = env.json(&["start", &a, "--worker", "w1"]);
    finish_by_hand(&env, &wa.path, &a, "a");
    // b: its own commit changes a's file too.
    let wb = start_stacked(&env, &b);
    std::fs::write(wb.path.join("a/f"), "b was here\n").unwrap();
    std::fs::create_dir_all(wb.path.join("b")).unwrap();
    std::fs::write(wb.path.join("b/f"), "b\n").unwrap();
    force_done(&env, &wb.path, &b);
    // c: started stacked, then its history is rewritten from main with a
    // copy of a's change, so the recorded base is no longer in it.
    let wc = start_stacked(&env, &c);
    assert!(wc.claim.stack.is_some());
    env.git_in(&wc.path, &["reset", "-q", "--hard", "main"]);
    std::fs::create_dir_all(wc.path.join("a")).unwrap();
    std::fs::write(wc.path.join("a/f"), "a\n").unwrap();
    std::fs::create_dir_all(wc.path.join("c")).unwrap();
    std::fs::write(wc.path.join("c/f"), "c\n").unwrap();
    force_done(&env, &wc.path, &c);
    let land: Land = env.json(&["land", "--no-push"]);
    assert_eq!(land.landed, vec![a.clone()]);
    for id in [&b, &c] {
        let l = land
            .left_out
            .iter()
            .find(|l| &l.id == id)
            .unwrap_or_else(|| panic!("{id} not left out"));
        assert_eq!(l.reason, "scope", "{id}: {}", l.detail);
        assert!(l.detail.contains("a/f"), "{id}: {}", l.detail);
    }
    assert_eq!(env.git(&["show", "main:a/f"]), "a\n");
}

/// --stack with --land: the dependent may start before its base landed,
/// and lands after it, on its own commits, whichever comes first.
#[test]
fn stack_and_land_together_land_the_chain() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let b = env.create(&["b", "--scope", "b/**", "--dep", &a]);
    let c = env.create(&["c", "--scope", "c/**", "--dep", &b]);
    let log = env.dir.path().join("flow.log");
    let exec = script(&env, WORKER);
    let out = env
        .batch_cmd(&[
            "--json", "run", &a, &b, &c, "--stack", "--land", "--exec", &exec,
        ])
        .env("FLOW_LOG", &log)
        .output()
        .unwrap();
    crate::common::assert_ok(&out);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["landed"].as_array().unwrap().len(), 3, "{summary}");
    for d in ["a", "b", "c"] {
        assert_eq!(env.git(&["show", &format!("main:{d}/f")]), format!("{d}\n"));
    }
}
