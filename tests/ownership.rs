//! Who may start and finish a task: `start` takes only a task committed
//! where its worktree starts, and `done` only from the claim's holder
//! (unless `--force`).

use crate::common::TestEnv;

#[test]
fn start_refuses_a_task_that_is_not_committed() {
    let env = TestEnv::new();
    let id = env.create(&["--no-commit", "draft", "--scope", "a/**"]);
    insta::assert_snapshot!(env.snapshot(&["start", &id], &[&id]), @"
    exit: 1
    --- stdout
    --- stderr
    Error: [0] is not committed on main, where its worktree would start: the worker would find no task there
    Hint: commit the task file first (`git add .batch/tasks && git commit`), then start it
    ");
    // Nothing claimed, no branch, no worktree.
    let claims: Vec<serde_json::Value> = env.json(&["claims"]);
    assert!(claims.is_empty(), "{claims:?}");
    assert!(env.git(&["branch", "--list", "batch/*"]).is_empty());
    // With nothing else to take, `--next` says why; with another task, it
    // passes over the draft with a warning.
    let err = env.fails(&["start", "--next"], 1);
    assert!(err.contains("is not committed on main"), "{err}");
    let other = env.create(&["other", "--scope", "b/**"]);
    insta::assert_snapshot!(env.snapshot(&["start", "--next", "--worker", "w"], &[&id, &other]), @"
    exit: 0
    --- stdout
    [TMP]/repo.worktrees/[1]
    --- stderr
    warning: [0] skipped: not committed on main, where its worktree would start (commit it to start it)
    started [1] on batch/[1] for w
    ");
    // Committed, it starts, and its worktree has it.
    env.git(&["add", ".batch"]);
    env.git(&["commit", "-q", "-m", "the draft"]);
    let s: serde_json::Value = env.json(&["start", &id]);
    let wt = std::path::PathBuf::from(s["path"].as_str().unwrap());
    let current: serde_json::Value =
        serde_json::from_str(&env.ok_in(&wt, &["--json", "current"])).unwrap();
    assert_eq!(current["id"], id.as_str());
}

#[test]
fn done_from_another_worker_is_refused_unless_forced() {
    let env = TestEnv::new();
    let id = env.create(&["a", "--scope", "a/**"]);
    let s: serde_json::Value = env.json(&["start", &id, "--worker", "alice"]);
    let wt = std::path::PathBuf::from(s["path"].as_str().unwrap());
    std::fs::create_dir_all(wt.join("a")).unwrap();
    std::fs::write(wt.join("a/x"), "x\n").unwrap();
    insta::assert_snapshot!(env.snapshot(&["done", &id, "--worker", "bob"], &[&id]), @"
    exit: 3
    --- stdout
    --- stderr
    Error: [0] is claimed by alice, not by bob
    Hint: only the claim's holder finishes the task; run it as that worker, or pass --force
    ");
    let out = env
        .batch_cmd_in(&wt, &["done"])
        .env("BATCH_WORKER", "bob")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let task: crate::common::TaskJson =
        serde_json::from_str(&env.ok_in(&wt, &["--json", "show", &id])).unwrap();
    assert_eq!(
        task.status, "in_progress",
        "refused, yet done on the branch"
    );
    // The holder (named, or found from the claim) finishes it; so does
    // another worker who insists.
    let forced: serde_json::Value = env.json(&["done", &id, "--worker", "bob", "--force"]);
    assert_eq!(forced["status"], "done");
    env.ok_in(&wt, &["done", "--worker", "alice"]);
}
