//! `run` end to end against real repositories and a real bare remote: a
//! shell worker that edits its files and writes receipts, failures fed
//! back, a timeout, an escalation, an exit 75, a `kill -9` half-way and the
//! resume, two clones sharing one plan, `status --json` at every stage,
//! one landing, and `review` showing every receipt line.

use crate::common::{TestEnv, fixed_env};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize)]
pub struct StatusJson {
    pub plans: Vec<ViewJson>,
    pub runs: Vec<ViewJson>,
}

#[derive(Debug, Deserialize)]
pub struct ViewJson {
    pub name: String,
    pub plan: Option<String>,
    #[serde(default)]
    pub recorded: Option<String>,
    pub status: String,
    pub total: usize,
    pub closed: usize,
    pub done: usize,
    pub running: usize,
    pub failed: usize,
    pub escalated: usize,
    pub queued: usize,
    pub tasks: Vec<LineJson>,
}

#[derive(Debug, Deserialize)]
pub struct LineJson {
    pub id: String,
    pub title: String,
    pub state: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub log: Option<PathBuf>,
    #[serde(default)]
    pub worker: Option<String>,
    pub attempts: u32,
}

impl ViewJson {
    /// The counts add up, and each matches the task lines.
    pub fn check_consistent(&self) {
        let sum =
            self.closed + self.done + self.running + self.failed + self.escalated + self.queued;
        assert_eq!(sum, self.total, "{self:#?}");
        assert_eq!(self.tasks.len(), self.total);
        assert!(self.tasks.iter().all(|t| !t.title.is_empty()));
        for (n, state) in [
            (self.closed, "closed"),
            (self.done, "done"),
            (self.running, "running"),
            (self.failed, "failed"),
            (self.escalated, "escalated"),
            (self.queued, "queued"),
        ] {
            assert_eq!(
                self.tasks.iter().filter(|t| t.state == state).count(),
                n,
                "{state}: {self:#?}"
            );
        }
    }

    pub fn task(&self, id: &str) -> &LineJson {
        self.tasks.iter().find(|t| t.id == id).unwrap()
    }
}

#[derive(Debug, Deserialize)]
pub struct SummaryJson {
    pub total: usize,
    pub done: usize,
    pub failed: usize,
    pub escalated: usize,
    pub elsewhere: usize,
    pub queued: usize,
    pub stopped: Option<String>,
    pub continue_with: Option<String>,
    pub landed: Vec<String>,
    pub waiting: Vec<WaitingJson>,
}

#[derive(Debug, Deserialize)]
pub struct WaitingJson {
    pub id: String,
    pub reason: String,
}

/// The test's worker: finds its file in the context, ports it, writes two
/// receipt lines. Some files misbehave on purpose.
pub const WORKER: &str = r#"#!/bin/sh
state="$WORKER_STATE"
f=$(sed -n 's/^- `\(src\/[^`]*\)`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
[ -n "$f" ] || { echo "no file in the context" >&2; exit 9; }
echo "$BATCH_TASK $BATCH_ATTEMPT start $f" >> "$state/events"
[ -n "$WORKER_PLAIN" ] || case "$f" in
  src/m03.txt)
    if [ "$BATCH_ATTEMPT" = 1 ]; then echo "m03: the parser exploded" >&2; exit 1; fi
    grep -q "the parser exploded" "$BATCH_CONTEXT" || { echo "the error was not fed back" >&2; exit 3; } ;;
  src/m05.txt) sleep 30 ;;
  src/m07.txt)
    git batch receipt "read $f: the license header is unclear"
    git batch escalate --reason "which license header?"
    exit 0 ;;
  src/m09.txt)
    if [ ! -e "$state/m09.75" ]; then touch "$state/m09.75"; echo "rate limited" >&2; exit 75; fi ;;
esac
# With run.pid armed: the first plain worker to start once four tasks have
# finished kills the run with kill -9 (once: mkdir is atomic) and stays alive,
# so a worker of the dead run is surely running when it is resumed.
case "$f" in src/m0[3579].txt) ;; *)
  if [ -s "$state/run.pid" ] && [ "$(grep -c ' finished ' "$state/events")" -ge 4 ] \
    && mkdir "$state/killed" 2>/dev/null; then
    kill -9 "$(cat "$state/run.pid")"; sleep 30
  fi ;;
esac
sleep "${WORKER_DELAY:-0}"
echo "ported by $BATCH_TASK" > "$f"
git batch receipt "ported $f"
git batch receipt "checked $f on attempt $BATCH_ATTEMPT"
echo "$BATCH_TASK $BATCH_ATTEMPT finished $f" >> "$state/events"
"#;

/// A repository with `n` files `src/mNN.txt`, `.batch/`, and a bare origin
/// it is pushed to.
pub fn project(n: usize) -> (TestEnv, PathBuf) {
    let env = TestEnv::new();
    for i in 1..=n {
        env.write(&format!("src/m{i:02}.txt"), &format!("module {i}\n"));
    }
    env.git(&["add", "src"]);
    env.git(&["commit", "-q", "-m", "modules"]);
    let bare = env.dir.path().join("origin.git");
    env.git(&["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    env.git_in(&bare, &["config", "core.logAllRefUpdates", "always"]);
    env.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    env.git(&["push", "-q", "-u", "origin", "main"]);
    (env, bare)
}

/// `git ls-files src | git batch split ... --plan NAME`; returns the ids.
pub fn split_plan(env: &TestEnv, dir: &Path, plan: &str, extra: &[&str]) -> Vec<String> {
    let files = env.git_in(dir, &["ls-files", "src"]);
    let mut args = vec![
        "--json",
        "split",
        "--size",
        "1",
        "--scope-from-items",
        "--title",
        "Port {first}",
        "--plan",
        plan,
    ];
    args.extend_from_slice(extra);
    let out = feed(env, dir, &args, &files);
    crate::common::assert_ok(&out);
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    made["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

/// Runs git-batch in `dir` with `input` on stdin.
pub fn feed(env: &TestEnv, dir: &Path, args: &[&str], input: &str) -> Output {
    let mut child = env
        .batch_cmd_in(dir, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    // A command that refuses its arguments exits without reading its input:
    // the broken pipe is not the test's failure, the exit status says it.
    match child.stdin.take().unwrap().write_all(input.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("writing stdin: {e}"),
        _ => {}
    }
    child.wait_with_output().unwrap()
}

pub fn status(env: &TestEnv, dir: &Path, plan: &str) -> ViewJson {
    let out = env.ok_in(dir, &["--json", "status", "--plan", plan]);
    let mut s: StatusJson = serde_json::from_str(&out).unwrap();
    let v = s.plans.remove(0);
    assert!(v.plan.as_deref() == Some(plan) && v.name == plan, "{v:?}");
    v.check_consistent();
    v
}

/// A `run` command with the worker and its environment, not yet started.
pub fn run_cmd(env: &TestEnv, dir: &Path, state: &Path, delay: &str, args: &[&str]) -> Command {
    let worker = env.dir.path().join("worker.sh");
    if !worker.exists() {
        std::fs::write(&worker, WORKER).unwrap();
    }
    std::fs::create_dir_all(state).unwrap();
    let exec = format!("sh {}", worker.display());
    let mut all = vec!["--json", "run", "--exec", &exec];
    all.extend_from_slice(args);
    let mut cmd = env.batch_cmd_in(dir, &all);
    cmd.env("WORKER_STATE", state)
        .env("WORKER_DELAY", delay)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

pub fn summary(out: &Output) -> SummaryJson {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "bad summary ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(90);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Processes still running that were started by a run of this test (their
/// environment names the test's state directory).
pub fn leftovers(state: &Path) -> Vec<i32> {
    let needle = format!("WORKER_STATE={}", state.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|&b| b == 0).any(|v| v == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// The subjects of the commits `main..batch/<id>`.
pub fn branch_subjects(env: &TestEnv, dir: &Path, id: &str) -> Vec<String> {
    env.git_in(dir, &["log", "--format=%s", &format!("main..batch/{id}")])
        .lines()
        .map(String::from)
        .collect()
}

fn remote_updates(bare: &Path) -> usize {
    std::fs::read_to_string(bare.join("logs/refs/heads/main"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn remote_file(env: &TestEnv, bare: &Path, path: &str) -> Option<String> {
    let mut cmd = Command::new("git");
    fixed_env(&mut cmd, &env.home());
    let out = cmd
        .current_dir(bare)
        .args(["show", &format!("main:{path}")])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn id_of(env: &TestEnv, ids: &[String], file: &str) -> String {
    ids.iter()
        .find(|id| env.read(&format!(".batch/tasks/{id}.toml")).contains(file))
        .unwrap()
        .clone()
}

#[test]
fn twelve_tasks_failures_kill_and_resume_then_one_landing() {
    let (env, bare) = project(12);
    let ids = split_plan(
        &env,
        &env.repo,
        "port",
        &["--retries", "1", "--timeout", "3s"],
    );
    assert_eq!(ids.len(), 12);
    env.git(&["push", "-q", "origin", "main"]);
    let before = status(&env, &env.repo, "port");
    assert_eq!((before.status.as_str(), before.queued), ("pending", 12));

    let state = env.dir.path().join("state");
    let args = ["--plan", "port", "-j", "4", "--remote", "origin"];
    let first: Child = run_cmd(&env, &env.repo, &state, "1", &args)
        .spawn()
        .unwrap();
    // Half-way, kill -9, from inside: a worker does it (see WORKER) at a
    // moment when it is alive itself, not between two attempts.
    let armed = state.join("run.pid.new");
    std::fs::write(&armed, first.id().to_string()).unwrap();
    std::fs::rename(&armed, state.join("run.pid")).unwrap();
    let killed = first.wait_with_output().unwrap();
    assert!(!killed.status.success());
    let mid = status(&env, &env.repo, "port");
    // Four workers had finished; the pool may not have recorded all of
    // them (one per slot) before it died.
    assert!(mid.done >= 1 && mid.queued + mid.running > 0, "{mid:#?}");
    // Its workers live on in their own process groups, until the same
    // command, run again, finds and kills them.
    assert!(!leftovers(&state).is_empty());
    let out = run_cmd(&env, &env.repo, &state, "1", &args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "failed + escalated: {stderr}");
    let s = summary(&out);
    assert_eq!(
        (s.total, s.done, s.failed, s.escalated, s.queued),
        (12, 10, 1, 1, 0),
        "{s:?}\n{stderr}\n{}\n{}",
        env.ok(&["status", "--plan", "port"]),
        std::fs::read_to_string(state.join("events")).unwrap_or_default()
    );
    assert!(s.stopped.is_none() && s.landed.is_empty() && s.waiting.is_empty());
    assert!(
        leftovers(&state).is_empty(),
        "nothing of the killed run is left"
    );

    let m03 = id_of(&env, &ids, "src/m03.txt");
    let m05 = id_of(&env, &ids, "src/m05.txt");
    let m07 = id_of(&env, &ids, "src/m07.txt");
    let m09 = id_of(&env, &ids, "src/m09.txt");
    let after = status(&env, &env.repo, "port");
    assert_eq!(
        (
            after.done,
            after.failed,
            after.escalated,
            after.running,
            after.queued
        ),
        (10, 1, 1, 0, 0)
    );
    assert_eq!(after.status, "completed");
    let failed = after.task(&m05);
    assert_eq!((failed.state.as_str(), failed.attempts), ("failed", 2));
    assert!(
        failed
            .reason
            .as_deref()
            .unwrap()
            .contains("timed out after 3s"),
        "{failed:?}"
    );
    assert!(failed.log.as_ref().unwrap().exists());
    let escalated = after.task(&m07);
    assert!(
        escalated
            .reason
            .as_deref()
            .unwrap()
            .contains("which license header?")
    );
    // Failing once, then passing, with the error fed back (else exit 3).
    let events = std::fs::read_to_string(state.join("events")).unwrap();
    assert!(events.contains(&format!("{m03} 1 start")));
    assert!(events.contains(&format!("{m03} 2 finished")));
    // Exit 75 uses up no retry, but BATCH_ATTEMPT keeps counting with the
    // logs: its first run is attempt 1, the one after the pause attempt 2
    // (or more, had the kill met it), and it finished on its one try.
    assert!(events.contains(&format!("{m09} 1 start")), "{events}");
    let m09_finished = events
        .lines()
        .find(|l| l.starts_with(&format!("{m09} ")) && l.contains(" finished "))
        .unwrap_or_else(|| panic!("{events}"));
    let n: u32 = m09_finished.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(n >= 2, "{events}");
    assert_eq!(after.task(&m09).attempts, 1, "one counted attempt");

    // No task done twice: one `done` commit per finished branch.
    for id in &ids {
        let subjects = branch_subjects(&env, &env.repo, id);
        let done = subjects
            .iter()
            .filter(|s| s.starts_with("batch: done"))
            .count();
        let want = usize::from(*id != m05 && *id != m07);
        assert_eq!(done, want, "{id}: {subjects:?}");
    }

    // Land: the ten, one push.
    let updates = remote_updates(&bare);
    let land: serde_json::Value = env.json(&["land", "--remote", "origin"]);
    assert_eq!(land["landed"].as_array().unwrap().len(), 10, "{land}");
    assert_eq!(remote_updates(&bare), updates + 1);
    let landed = status(&env, &env.repo, "port");
    assert_eq!((landed.closed, landed.failed, landed.escalated), (10, 1, 1));
    assert_eq!(landed.recorded.as_deref(), Some("completed"));

    // The review shows every receipt line of every task.
    let review: serde_json::Value = env.json(&["review", "--plan", "port"]);
    let tasks = review["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 12);
    for t in tasks {
        let id = t["id"].as_str().unwrap();
        let lines = strs(&t["receipt"]);
        let file = if id == m07 || id == m05 {
            let path = worktree_of(&env, &env.repo, id);
            std::fs::read_to_string(path.join(format!(".batch/receipts/{id}.log")))
                .unwrap_or_default()
        } else {
            remote_file(&env, &bare, &format!(".batch/receipts/{id}.log")).unwrap()
        };
        let want: Vec<&str> = file.lines().collect();
        assert_eq!(lines, want, "{id}");
        if id != m05 && id != m07 {
            assert!(
                lines.iter().any(|l| l.contains("ported src/m")),
                "{id}: {lines:?}"
            );
            assert_eq!(t["files"].as_array().unwrap().len(), 1, "{t}");
        }
    }
    let text = env.ok(&["review", "--plan", "port"]);
    assert!(text.contains("which license header?") && text.contains("+ "));
}

#[test]
fn two_clones_share_one_plan_through_the_remote() {
    let (env, bare) = project(12);
    let ids = split_plan(&env, &env.repo, "shared", &[]);
    env.git(&["push", "-q", "origin", "main"]);
    let other = env.dir.path().join("other");
    env.git(&[
        "clone",
        "-q",
        bare.to_str().unwrap(),
        other.to_str().unwrap(),
    ]);
    env.git_in(&other, &["config", "user.name", "Other"]);
    env.git_in(&other, &["config", "user.email", "other@example.com"]);
    env.ok_in(&other, &["hooks", "install"]);

    let state = env.dir.path().join("state");
    let args = ["--plan", "shared", "-j", "2", "--remote", "origin"];
    let plain = |dir: &Path| {
        let mut cmd = run_cmd(&env, dir, &state, "0.3", &args);
        cmd.env("WORKER_PLAIN", "1");
        cmd.spawn().unwrap()
    };
    let (a, b) = (plain(&env.repo), plain(&other));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for out in [&a, &b] {
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (sa, sb) = (summary(&a), summary(&b));
    assert_eq!(sa.done + sb.done, 12, "{sa:?} {sb:?}");
    assert_eq!(sa.done + sa.elsewhere, 12);
    assert_eq!(sb.done + sb.elsewhere, 12);

    // Each task was done by exactly one clone: one `done` commit among the
    // two clones' branches, one worker run that finished it.
    let events = std::fs::read_to_string(state.join("events")).unwrap();
    for id in &ids {
        let mut done = 0;
        for dir in [&env.repo, &other] {
            let has = env
                .git_in(dir, &["branch", "--list", &format!("batch/{id}")])
                .contains(id);
            if has {
                done += branch_subjects(&env, dir, id)
                    .iter()
                    .filter(|s| s.starts_with("batch: done"))
                    .count();
            }
        }
        assert_eq!(done, 1, "{id}");
        assert_eq!(events.matches(&format!("{id} 1 finished")).count(), 1);
    }
    // Both clones see the same picture.
    for dir in [&env.repo, &other] {
        env.git_in(
            dir,
            &[
                "fetch",
                "-q",
                "origin",
                "+refs/batch/work/*:refs/batch/work/*",
            ],
        );
        let v = status(&env, dir, "shared");
        assert_eq!(v.done, 12, "{v:#?}");
    }

    // One landing from one clone lands the work of both, in one push.
    let updates = remote_updates(&bare);
    let land: serde_json::Value = env.json(&["land", "--remote", "origin"]);
    assert_eq!(land["landed"].as_array().unwrap().len(), 12, "{land}");
    assert_eq!(remote_updates(&bare), updates + 1);
    for i in 1..=12 {
        let text = remote_file(&env, &bare, &format!("src/m{i:02}.txt")).unwrap();
        assert!(text.starts_with("ported by "), "{text}");
    }
    let shared_left = env.git_in(&bare, &["for-each-ref", "refs/batch/work"]);
    assert!(shared_left.trim().is_empty(), "{shared_left}");
    let v = status(&env, &env.repo, "shared");
    assert_eq!((v.closed, v.recorded.as_deref()), (12, Some("completed")));

    // The other clone, landing after (before and after it pulls): nothing
    // lands twice, and its own worktrees and branches of what landed go,
    // except a worktree with changes and a branch that moved on.
    let mine: Vec<String> = env
        .git_in(
            &other,
            &["branch", "--list", "batch/*", "--format=%(refname:short)"],
        )
        .lines()
        .map(|b| b.trim_start_matches("batch/").to_string())
        .collect();
    assert!(mine.len() >= 2, "{mine:?}");
    let (dirty, moved) = (&mine[0], &mine[1]);
    let dirty_wt = worktree_of(&env, &other, dirty);
    std::fs::write(dirty_wt.join("notes.txt"), "mine\n").unwrap();
    let moved_wt = worktree_of(&env, &other, moved);
    env.git_in(&moved_wt, &["commit", "-q", "--allow-empty", "-m", "more"]);
    for pulled in [false, true] {
        if pulled {
            env.git_in(&other, &["pull", "-q", "--ff-only", "origin", "main"]);
        }
        let again: serde_json::Value =
            serde_json::from_str(&env.ok_in(&other, &["--json", "land", "--remote", "origin"]))
                .unwrap();
        assert!(again["landed"].as_array().unwrap().is_empty(), "{again}");
        assert!(again["commit"].is_null(), "{again}");
        let removed = strs(&again["removed"]);
        // Landed is landed, whether this clone pulled the landing or only
        // fetched it.
        let v = status(&env, &other, "shared");
        assert_eq!((v.closed, v.done, v.running), (12, 0, 0), "{v:#?}");
        if pulled {
            assert!(removed.is_empty(), "{again}");
        } else {
            let mut want: Vec<&str> = mine[2..].iter().map(String::as_str).collect();
            want.sort();
            assert_eq!(removed, want);
        }
    }
    assert_eq!(remote_updates(&bare), updates + 1);
    let left = env.git_in(
        &other,
        &["branch", "--list", "batch/*", "--format=%(refname:short)"],
    );
    let mut left: Vec<&str> = left.lines().collect();
    left.sort();
    let mut kept = vec![format!("batch/{dirty}"), format!("batch/{moved}")];
    kept.sort();
    assert_eq!(left, kept);
    assert!(dirty_wt.join("notes.txt").exists() && moved_wt.exists());
    let worktrees = env.git_in(&other, &["worktree", "list", "--porcelain"]);
    assert_eq!(worktrees.matches("worktree ").count(), 3, "{worktrees}");
}

/// A JSON array of strings.
pub fn strs(v: &serde_json::Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// The worktree of `id` in the clone at `dir`.
pub fn worktree_of(env: &TestEnv, dir: &Path, id: &str) -> PathBuf {
    let list = env.git_in(dir, &["worktree", "list", "--porcelain"]);
    let path = list
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .find(|p| p.ends_with(id))
        .unwrap_or_else(|| panic!("no worktree of {id}: {list}"));
    PathBuf::from(path)
}

#[test]
fn ctrl_c_stops_starting_and_the_run_resumes() {
    let (env, _bare) = project(6);
    split_plan(&env, &env.repo, "calm", &[]);
    let state = env.dir.path().join("state");
    let args = ["--plan", "calm", "-j", "2"];
    let spawn = |delay: &str| {
        let mut cmd = run_cmd(&env, &env.repo, &state, delay, &args);
        cmd.env("WORKER_PLAIN", "1").spawn().unwrap()
    };
    let started = |n: usize| {
        wait_until("running tasks", || {
            std::fs::read_to_string(state.join("events"))
                .map(|e| e.matches(" start ").count() >= n)
                .unwrap_or(false)
        })
    };
    let interrupt = |child: &Child| {
        // SAFETY: a signal to the child we started.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    };
    // First Ctrl-C: nothing new starts; the two running ones finish.
    let child = spawn("1");
    started(2);
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(err.contains("run the same command again"), "{err}");
    let s = summary(&out);
    assert_eq!(s.done, 2, "the running ones finish: {s:?}");
    assert_eq!(s.stopped.as_deref(), Some("interrupted"));
    assert_eq!(s.queued, 4);
    let v = status(&env, &env.repo, "calm");
    assert_eq!((v.done, v.queued), (2, 4));

    // Two Ctrl-Cs: the running workers are killed, their attempts not counted.
    let begun = Instant::now();
    let child = spawn("30");
    started(4);
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(200));
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(75));
    assert!(
        begun.elapsed() < Duration::from_secs(25),
        "the workers were killed"
    );
    let s = summary(&out);
    assert_eq!((s.done, s.queued), (2, 4), "{s:?}");
    assert!(leftovers(&state).is_empty(), "no worker left running");
    let run: serde_json::Value =
        serde_json::from_str(&env.read(".git/batch/runs/calm.json")).unwrap();
    let queued: Vec<&serde_json::Value> = run["tasks"]
        .as_object()
        .unwrap()
        .values()
        .filter(|t| t["state"] == "queued")
        .collect();
    assert_eq!(queued.len(), 4);
    assert!(queued.iter().all(|t| t["attempts"] == 0), "{queued:?}");

    let out = spawn("0").wait_with_output().unwrap();
    crate::common::assert_ok(&out);
    let s = summary(&out);
    assert_eq!((s.done, s.queued), (6, 0));
}
