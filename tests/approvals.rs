//! The reviewer's verdicts: `approve`, `reject --reason`, `land
//! --approved`, a plan becoming `reviewed`, and carry-over of unfinished
//! tasks to the next plan.

use crate::common::TestEnv;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Verdict {
    verdict: String,
    by: String,
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Live {
    state: String,
    verdict: Option<Verdict>,
}

#[derive(Debug, Default, Deserialize)]
struct Review {
    verdict: Option<Verdict>,
}

#[derive(Debug, Deserialize)]
struct Shown {
    status: String,
    batch: Option<String>,
    live: Option<Live>,
    #[serde(default)]
    review: Review,
}

fn show(env: &TestEnv, id: &str) -> Shown {
    env.json(&["show", id])
}

/// Writes `<dir>/f` for the task whose scope is `<dir>/**`, and keeps a
/// copy of every context file it is given.
fn worker(env: &TestEnv) -> String {
    let seen = env.dir.path().join("seen.md");
    let path = env.dir.path().join("w.sh");
    std::fs::write(
        &path,
        format!(
            "cat \"$BATCH_CONTEXT\" >> {}\n\
             d=$(sed -n 's/^- `\\([a-z]*\\)\\/\\*\\*`$/\\1/p' \"$BATCH_CONTEXT\" | head -n 1)\n\
             mkdir -p $d && echo \"$BATCH_ATTEMPT\" > $d/f\n",
            seen.display()
        ),
    )
    .unwrap();
    format!("sh {}", path.display())
}

#[test]
fn only_approved_work_lands_with_approved() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let b = env.create(&["b", "--scope", "b/**"]);
    env.ok(&["plan", "p", &a, &b]);
    let exec = worker(&env);
    env.ok(&["run", "--plan", "p", "--exec", &exec]);
    let err = env.fails(&["approve", "nope-1"], 1);
    assert!(err.contains("nope-1"), "{err}");
    let out: serde_json::Value = env.json(&["approve", &a]);
    assert_eq!(out["tasks"][0]["recorded_in"], "live", "{out}");
    let live = show(&env, &a).live.unwrap();
    assert_eq!(live.state, "done");
    assert_eq!(live.verdict.unwrap().verdict, "approved");
    let land: serde_json::Value = env.json(&["land", "--no-push", "--approved"]);
    assert_eq!(land["landed"], serde_json::json!([a]), "{land}");
    assert_eq!(land["unapproved"], serde_json::json!([b]), "{land}");
    let landed = show(&env, &a);
    assert_eq!(landed.status, "closed");
    let v = landed
        .review
        .verdict
        .expect("the verdict lands with the work");
    assert_eq!(v.verdict, "approved");
    assert!(!v.by.is_empty());
    // Landed work takes a late approval in its file; not a rejection.
    let out: serde_json::Value = env.json(&["approve", &a]);
    assert_eq!(out["tasks"][0]["recorded_in"], "file", "{out}");
    let err = env.fails(&["reject", &a, "--reason", "late"], 1);
    assert!(err.contains("landed already"), "{err}");
}

/// A rejection sends the work back: queued again, rerun on its branch
/// with the reason in its context; the new work has no verdict yet.
#[test]
fn a_rejected_task_goes_back_to_its_worker_with_the_reason() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let exec = worker(&env);
    env.ok(&["run", &a, "--exec", &exec]);
    env.fails(&["reject", &a, "--reason", ""], 2);
    env.ok(&["reject", &a, "--reason", "the header is wrong"]);
    let live = show(&env, &a).live.unwrap();
    assert_eq!(live.state, "retry");
    assert_eq!(
        live.verdict.unwrap().reason.as_deref(),
        Some("the header is wrong")
    );
    let summary: serde_json::Value = env.json(&["run", &a, "--exec", &exec]);
    assert_eq!(summary["done"], 1, "{summary}");
    let seen = std::fs::read_to_string(env.dir.path().join("seen.md")).unwrap();
    assert!(seen.contains("the header is wrong"), "{seen}");
    let live = show(&env, &a).live.unwrap();
    assert_eq!(live.state, "done");
    assert!(live.verdict.is_none(), "the new work is not judged yet");
    // It was reworked, not just found done again.
    let branch = format!("batch/{a}");
    assert_eq!(env.git(&["show", &format!("{branch}:a/f")]), "2\n");
}

#[test]
fn unfinished_work_cannot_be_judged() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let err = env.fails(&["approve", &a], 1);
    assert!(err.contains("not finished"), "{err}");
    let err = env.fails(&["reject", &a, "--reason", "x"], 1);
    assert!(err.contains("not finished"), "{err}");
}

/// The plan is `reviewed` once every task has a verdict or was carried
/// over; carry-over moves the unfinished tasks to the next plan (today's
/// refusal of a task of another plan does not apply to them).
#[test]
fn carry_over_and_the_reviewed_plan() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let b = env.create(&["b", "--scope", "b/**"]);
    let c = env.create(&["c", "--scope", "c/**"]);
    env.ok(&["plan", "p", &a, &b, &c]);
    let exec = worker(&env);
    env.ok(&["run", &a, "--exec", &exec]);
    // Without carry-over the other plan's tasks are refused.
    let err = env.fails(&["plan", "q", &b], 1);
    assert!(err.contains("belongs to plan 'p'"), "{err}");
    let planned: serde_json::Value = env.json(&["plan", "q", "--carry-over", "p"]);
    let ids: Vec<&str> = planned["plan"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [b.as_str(), c.as_str()], "{planned}");
    assert_eq!(show(&env, &b).batch.as_deref(), Some("q"));
    let p = env.read(".batch/batches/p.toml");
    assert!(p.contains("[carried_over]"), "{p}");
    let out: serde_json::Value = env.json(&["approve", &a]);
    assert_eq!(out["reviewed_plans"], serde_json::json!(["p"]), "{out}");
    let p = env.read(".batch/batches/p.toml");
    assert!(p.contains("status = \"reviewed\""), "{p}");
    // A task taken out of its plan can go into another.
    env.ok(&["update", &c, "--no-plan"]);
    assert!(show(&env, &c).batch.is_none());
}
