//! The live state through a real bare remote, seen from two clones: an
//! escalation in one is seen, answered and queued again from the other,
//! and the rerun gets the answer and lands; a failed task is never handed
//! to another agent; a plain `git fetch` is all a clone needs.

use crate::common::TestEnv;
use std::path::{Path, PathBuf};

/// Clone A (the env's repository) with `remote = "origin"` in its config,
/// the bare remote, and clone B of it.
fn two_clones() -> (TestEnv, PathBuf, PathBuf) {
    two_clones_at(TestEnv::new(), |bare| bare.display().to_string())
}

/// [`two_clones`] with the remote at the URL `url` gives for the bare
/// repository's path.
fn two_clones_at(env: TestEnv, url: impl Fn(&Path) -> String) -> (TestEnv, PathBuf, PathBuf) {
    let bare = env.dir.path().join("origin.git");
    env.git(&["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", &url(&bare)]);
    env.config_top("remote = \"origin\"", "share through origin");
    env.git(&["push", "-q", "-u", "origin", "main"]);
    let b = env.dir.path().join("b");
    env.git_in(
        env.dir.path(),
        &["clone", "-q", &url(&bare), b.to_str().unwrap()],
    );
    (env, bare, b)
}

/// A task created in A, pushed, and pulled into B.
fn shared_task(env: &TestEnv, b: &Path, title: &str, scope: &str) -> String {
    let id = env.create(&[title, "--scope", scope]);
    env.git(&["push", "-q", "origin", "main"]);
    env.git_in(b, &["pull", "-q", "--ff-only"]);
    id
}

fn json_in<T: serde::de::DeserializeOwned>(env: &TestEnv, dir: &Path, args: &[&str]) -> T {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&env.ok_in(dir, &all)).unwrap()
}

fn ids(tasks: &[serde_json::Value]) -> Vec<&str> {
    tasks.iter().map(|t| t["id"].as_str().unwrap()).collect()
}

fn fails_in(env: &TestEnv, dir: &Path, args: &[&str]) -> (i32, String) {
    let out = env.batch_cmd_in(dir, args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_escalation_in_one_clone_is_answered_from_another_and_the_rerun_lands() {
    escalate_answer_rerun(two_clones());
}

/// The same through `git daemon`, a network remote.
#[test]
fn an_escalation_is_answered_through_git_daemon() {
    let env = TestEnv::new();
    let daemon = crate::common::Daemon::serve(&env, env.dir.path());
    escalate_answer_rerun(two_clones_at(env, |_| daemon.url("origin.git")));
}

fn escalate_answer_rerun((env, bare, b): (TestEnv, PathBuf, PathBuf)) {
    let id = env.create(&["license headers", "--scope", "lic/**"]);
    env.ok(&["plan", "legal", &id]);
    env.git(&["push", "-q", "origin", "main"]);
    env.git_in(&b, &["pull", "-q", "--ff-only"]);
    let question = "which license header?";
    let started: serde_json::Value = env.json(&["start", &id]);
    let wt = PathBuf::from(started["path"].as_str().unwrap());
    env.ok_in(&wt, &["receipt", "read every header"]);
    env.ok_in(&wt, &["escalate", "--reason", question]);

    // B sees it after a plain fetch: the question, the state, the receipt.
    env.git_in(&b, &["fetch", "-q"]);
    let shown: serde_json::Value = json_in(&env, &b, &["show", &id]);
    assert_eq!(shown["status"], "escalated", "{shown}");
    assert_eq!(shown["live"]["reason"], question);
    assert_eq!(shown["file_status"], "open");
    let human = env.ok_in(&b, &["show", &id]);
    assert!(
        human.contains(question) && human.contains("git batch answer"),
        "{human}"
    );
    let status: serde_json::Value = json_in(&env, &b, &["status", "--plan", "legal"]);
    let line = &status["plans"][0]["tasks"][0];
    assert_eq!(
        (line["state"].as_str(), line["reason"].as_str()),
        (Some("escalated"), Some(question)),
        "{status}"
    );
    assert_eq!(status["plans"][0]["escalated"], 1);
    let escalated: Vec<serde_json::Value> = json_in(&env, &b, &["list", "--status", "escalated"]);
    assert_eq!(ids(&escalated), [id.as_str()]);
    let ready: Vec<serde_json::Value> = json_in(&env, &b, &["ready"]);
    assert!(ready.is_empty(), "{ready:?}");
    let (code, err) = fails_in(&env, &b, &["start", &id]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(question), "{err}");
    let (code, _) = fails_in(&env, &b, &["claim", "--next"]);
    assert_ne!(code, 0);
    let receipt: serde_json::Value = json_in(&env, &b, &["receipts", &id]);
    let lines = receipt["lines"].as_array().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.as_str().unwrap().ends_with("read every header")),
        "{receipt}"
    );

    // B answers and queues it again; A's rerun gets the question and the
    // answer in its context, and lands.
    let answer = "MIT, as in LICENSE";
    env.ok_in(&b, &["answer", &id, answer, "--retry"]);
    // The answer is a note in B's task file too, shared by a push.
    env.git_in(&b, &["push", "-q", "origin", "main"]);
    env.git(&["pull", "-q", "--ff-only"]);
    let ready: Vec<serde_json::Value> = env.json(&["ready"]);
    assert_eq!(ids(&ready), [id.as_str()]);
    let worker = format!(
        "grep -q '{question}' \"$BATCH_CONTEXT\" && grep -q '{answer}' \"$BATCH_CONTEXT\" \
         && mkdir -p lic && echo MIT > lic/header.txt"
    );
    let out = env.run(&["--json", "run", "--ready", "--land", "--exec", &worker]);
    crate::common::assert_ok(&out);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["landed"], serde_json::json!([id]), "{summary}");
    let landed = env.git_in(&bare, &["show", "main:lic/header.txt"]);
    assert_eq!(landed, "MIT\n");

    // Landed: the live state is gone, in B too.
    env.git_in(&b, &["pull", "-q", "--ff-only"]);
    let shown: serde_json::Value = json_in(&env, &b, &["show", &id]);
    assert_eq!(shown["status"], "closed");
    assert!(shown.get("live").is_none(), "{shown}");
}

#[test]
fn a_failed_task_is_never_handed_to_another_agent() {
    let (env, _bare, b) = two_clones();
    let id = shared_task(&env, &b, "slow tests", "slow/**");
    let other = shared_task(&env, &b, "docs", "docs/**");
    let started: serde_json::Value = env.json(&["start", &id]);
    let wt = PathBuf::from(started["path"].as_str().unwrap());
    env.ok_in(&wt, &["fail", "--reason", "the tests time out"]);

    env.git_in(&b, &["fetch", "-q"]);
    let ready: Vec<serde_json::Value> = json_in(&env, &b, &["ready"]);
    assert_eq!(ids(&ready), [other.as_str()]);
    let claimed: serde_json::Value = json_in(&env, &b, &["claim", "--next"]);
    assert_eq!(claimed["task"], other.as_str(), "{claimed}");
    let (code, err) = fails_in(&env, &b, &["claim", &id]);
    assert_eq!(code, 1);
    assert!(err.contains("failed: the tests time out"), "{err}");
    // A run of everything ready in B does not start it either.
    env.ok_in(&b, &["release", &other]);
    let out = env
        .batch_cmd_in(&b, &["--json", "run", "--ready", "--exec", "true"])
        .output()
        .unwrap();
    crate::common::assert_ok(&out);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (summary["total"].as_u64(), summary["done"].as_u64()),
        (Some(1), Some(1)),
        "{summary}"
    );
    let worktrees = env.git_in(&b, &["worktree", "list"]);
    assert!(!worktrees.contains(&id), "{worktrees}");
    let failed: Vec<serde_json::Value> = json_in(&env, &b, &["list", "--status", "failed"]);
    assert_eq!(ids(&failed), [id.as_str()]);
    let blocked_dep = env.create_in(&b, &["after slow", "--scope", "after/**", "--dep", &id]);
    let blocked = env.ok_in(&b, &["blocked"]);
    assert!(
        blocked.contains(&format!("waits for {id}, which failed")),
        "{blocked_dep}: {blocked}"
    );

    // A person acts: queued again, it is ready everywhere after a fetch.
    env.ok_in(&b, &["retry", &id]);
    env.git(&["fetch", "-q"]);
    let ready: Vec<serde_json::Value> = env.json(&["ready"]);
    assert!(ids(&ready).contains(&id.as_str()), "{ready:?}");
}

/// The worker of the joining test: logs its task (every start, in both
/// clones, to one file) and writes the file its scope names.
const JOIN_WORKER: &str = r#"#!/bin/sh
echo "$BATCH_TASK" >> "$JOIN_LOG"
d=$(sed -n 's/^- `\([a-z0-9]*\)\/\*\*`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
sleep "0.$(( $$ % 4 ))"
mkdir -p "$d" && echo "done by $BATCH_TASK" > "$d/f"
"#;

/// Two clones run one plan of eight tasks of mixed durations, the second
/// starting half a second after the first, ten times over: every task's
/// worker runs exactly once, and all eight land.
#[test]
fn a_clone_joining_a_plan_runs_nothing_twice() {
    for round in 0..10 {
        let (env, bare, b) = two_clones();
        let ids: Vec<String> = (0..8)
            .map(|i| env.create(&[&format!("part {i}"), "--scope", &format!("m{i}/**")]))
            .collect();
        let mut args = vec!["plan", "p"];
        args.extend(ids.iter().map(String::as_str));
        env.ok(&args);
        env.git(&["push", "-q", "origin", "main"]);
        env.git_in(&b, &["pull", "-q", "--ff-only"]);
        let worker = env.dir.path().join("join-worker.sh");
        std::fs::write(&worker, JOIN_WORKER).unwrap();
        let log = env.dir.path().join("starts.log");
        let exec = format!("sh {}", worker.display());
        let run = |dir: &Path| {
            env.batch_cmd_in(
                dir,
                &[
                    "--json", "run", "--plan", "p", "--land", "-j", "2", "--exec", &exec,
                ],
            )
            .env("JOIN_LOG", &log)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        };
        let first = run(&env.repo);
        std::thread::sleep(std::time::Duration::from_millis(500));
        let second = run(&b);
        // Bounded: two runs that each wait for the other (a done task kept
        // unlanded while the other clone holds the one left) never end.
        let limit = std::time::Duration::from_secs(120);
        let ended = [
            crate::common::output_within(first, limit),
            crate::common::output_within(second, limit),
        ];
        let in_time = ended.iter().all(Result::is_ok);
        let outs = ended.map(|o| o.unwrap_or_else(|o| o));
        let starts = std::fs::read_to_string(&log).unwrap_or_default();
        let diag = format!(
            "round {round}:\n{starts}\n{}\n{}",
            String::from_utf8_lossy(&outs[0].stderr),
            String::from_utf8_lossy(&outs[1].stderr)
        );
        assert!(in_time, "a run still running after {limit:?}: {diag}");
        for id in &ids {
            assert_eq!(
                starts.lines().filter(|l| l == id).count(),
                1,
                "{id}: {diag}"
            );
        }
        for out in &outs {
            assert!(out.status.success(), "{diag}");
        }
        for i in 0..8 {
            let landed = env.git_in(&bare, &["show", &format!("main:m{i}/f")]);
            assert!(landed.starts_with("done by "), "{diag}");
        }
    }
}

/// The race the joining test can only hit by chance, made certain: A lands a
/// task (its claim released) while B has not pulled; B's claim of it, by id
/// or as the next ready task, is decided with the remote's main fetched
/// with the claims, and refused.
#[test]
fn a_task_another_clone_landed_is_not_claimed_before_a_pull() {
    let (env, _bare, b) = two_clones();
    let id = shared_task(&env, &b, "only once", "once/**");
    let started: serde_json::Value = env.json(&["start", &id]);
    let wt = PathBuf::from(started["path"].as_str().unwrap());
    std::fs::create_dir_all(wt.join("once")).unwrap();
    std::fs::write(wt.join("once/f"), "x\n").unwrap();
    env.ok_in(&wt, &["done"]);
    env.ok(&["land"]);
    assert!(env.json::<Vec<serde_json::Value>>(&["claims"]).is_empty());

    let (code, err) = fails_in(&env, &b, &["claim", &id]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("closed"), "{err}");
    let (code, err) = fails_in(&env, &b, &["claim", "--next"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("no ready task could be claimed"), "{err}");
}

/// `retry A B` queues both in one step of the claims ref (one commit of
/// its history, one push through a remote), not one per task.
#[test]
fn retrying_many_tasks_is_one_step() {
    let env = TestEnv::new();
    let ids: Vec<String> = (0..2)
        .map(|i| env.create(&[&format!("t{i}"), "--scope", &format!("d{i}/**")]))
        .collect();
    for id in &ids {
        let started: serde_json::Value = env.json(&["start", id]);
        let wt = PathBuf::from(started["path"].as_str().unwrap());
        env.ok_in(&wt, &["fail", "--reason", "no"]);
    }
    let before: Vec<serde_json::Value> = env.json(&["claims", "--history"]);
    let out: Vec<serde_json::Value> = env.json(&["retry", &ids[0], &ids[1]]);
    assert!(out.iter().all(|r| r["changed"] == true), "{out:?}");
    let after: Vec<serde_json::Value> = env.json(&["claims", "--history"]);
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
    let ready: Vec<serde_json::Value> = env.json(&["ready"]);
    assert_eq!(ready.len(), 2, "{ready:?}");
}
