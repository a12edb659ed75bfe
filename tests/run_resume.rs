//! `run` resumed after `kill -9`: what its workers did while it was dead is
//! recognised (an attempt that ended is finished, not started again; one
//! still running is killed and started again), once on purpose and then at
//! pseudo-random moments in a bounded loop.

use crate::common::TestEnv;
use crate::run::{branch_subjects, leftovers, project, split_plan, status, summary, wait_until};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Logs "TASK start N" and "TASK exit0 N" (right before a successful exit) to
/// `$WORKER_STATE/events`; `$WORKER_MODE` decides what else it does.
const WORKER: &str = r#"#!/bin/sh
state="$WORKER_STATE"
f=$(sed -n 's/^- `\(src\/[^`]*\)`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
echo "$BATCH_TASK start $BATCH_ATTEMPT" >> "$state/events"
run_dead() { ! kill -0 "$(cat "$state/run.pid")" 2>/dev/null; }
if [ "$WORKER_MODE" = once ]; then
  # Each waits until the run is dead, then ends its own way.
  while [ ! -s "$state/run.pid" ] || [ "$(grep -c ' start ' "$state/events")" -lt 3 ]; do
    sleep 0.02
  done
  case "$f" in
    src/m01.txt) kill -9 "$(cat "$state/run.pid")" ;;
  esac
  until run_dead; do sleep 0.02; done
  case "$f" in
    src/m02.txt) echo "m02 gave up" >&2; exit 3 ;;
    src/m03.txt) [ -e "$state/m03.again" ] || { touch "$state/m03.again"; sleep 60; } ;;
  esac
else
  sleep "0.$(( $$ % 3 + 1 ))"
fi
echo "applied by $BATCH_TASK" >> "$f"
echo "$BATCH_TASK exit0 $BATCH_ATTEMPT" >> "$state/events"
"#;

fn run_cmd(env: &TestEnv, state: &Path, mode: &str, args: &[&str]) -> Command {
    let worker = env.dir.path().join("resume-worker.sh");
    std::fs::write(&worker, WORKER).unwrap();
    std::fs::create_dir_all(state).unwrap();
    let exec = format!("sh {}", worker.display());
    let mut all = vec!["--json", "run", "--exec", &exec];
    all.extend_from_slice(args);
    let mut cmd = env.batch_cmd(&all);
    cmd.env("WORKER_STATE", state)
        .env("WORKER_MODE", mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// The processes still alive that work on `id` for this test.
fn alive_for(state: &Path, id: &str) -> usize {
    let needle = format!("BATCH_TASK={id}");
    leftovers(state)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|&b| b == 0).any(|v| v == needle.as_bytes()))
                .unwrap_or(false)
        })
        .count()
}

fn events(state: &Path) -> String {
    std::fs::read_to_string(state.join("events")).unwrap_or_default()
}

/// The ids of the plan's tasks, in file order (`src/m01.txt` first).
fn by_file(env: &TestEnv, ids: &[String], n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| {
            let file = format!("src/m{i:02}.txt");
            ids.iter()
                .find(|id| env.read(&format!(".batch/tasks/{id}.toml")).contains(&file))
                .unwrap()
                .clone()
        })
        .collect()
}

/// The run dies (kill -9) while three workers run. Meanwhile one exits 0,
/// one exits 3, one is still running. The same command, run again, finishes
/// the first (not started again: its work is applied once), records the
/// second's failure with its own reason, and kills and restarts the third.
#[test]
fn a_worker_that_ended_while_its_run_was_dead_is_finished_not_run_again() {
    let (env, _bare) = project(3);
    let ids = split_plan(&env, &env.repo, "p", &["--retries", "0"]);
    let ids = by_file(&env, &ids, 3);
    let state = env.dir.path().join("state");
    let args = ["--plan", "p", "-j", "3"];
    let first = run_cmd(&env, &state, "once", &args).spawn().unwrap();
    let armed = state.join("run.pid.new");
    std::fs::write(&armed, first.id().to_string()).unwrap();
    std::fs::rename(&armed, state.join("run.pid")).unwrap();
    let killed = first.wait_with_output().unwrap();
    assert!(!killed.status.success());
    // The first two end on their own; the third waits to be found.
    wait_until("the first two workers to end", || {
        alive_for(&state, &ids[0]) == 0 && alive_for(&state, &ids[1]) == 0
    });
    assert!(alive_for(&state, &ids[2]) > 0);

    let out = run_cmd(&env, &state, "once", &args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "one failed: {err}");
    let s = summary(&out);
    assert_eq!((s.total, s.done, s.failed, s.queued), (3, 2, 1, 0), "{s:?}");
    assert!(
        leftovers(&state).is_empty(),
        "nothing of the dead run is left"
    );

    let events = events(&state);
    assert_eq!(
        events.matches(&format!("{} start", ids[0])).count(),
        1,
        "{events}"
    );
    assert_eq!(
        env.git(&["show", &format!("batch/{}:src/m01.txt", ids[0])]),
        format!("module 1\napplied by {}\n", ids[0]),
        "its work, once"
    );
    assert_eq!(events.matches(&format!("{} start", ids[1])).count(), 1);
    assert_eq!(events.matches(&format!("{} start", ids[2])).count(), 2);
    for (id, want) in [(&ids[0], 1), (&ids[1], 0), (&ids[2], 1)] {
        let subjects = branch_subjects(&env, &env.repo, id);
        let done = subjects
            .iter()
            .filter(|s| s.starts_with("batch: done"))
            .count();
        assert_eq!(done, want, "{id}: {subjects:?}");
    }
    let v = status(&env, &env.repo, "p");
    let failed = v.task(&ids[1]);
    assert_eq!((failed.state.as_str(), failed.attempts), ("failed", 1));
    let reason = failed.reason.as_deref().unwrap();
    assert!(reason.contains("exited with 3: m02 gave up"), "{reason}");
    // The attempt the resumed run killed does not count.
    assert_eq!(v.task(&ids[2]).attempts, 1);
}

/// A small deterministic PRNG (xorshift64*), so a failing round can be
/// replayed from its number.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// Rounds of: a run of six tasks killed with kill -9 at a pseudo-random
/// moment (twice), then resumed to its end. Whatever the moment, every task
/// ends done, no worker is started again after it exited 0, and each branch
/// has one `done` commit.
#[test]
fn a_run_killed_at_random_moments_resumes_without_redoing_work() {
    kill_loop(4, 3, &[], |_, _| {});
}

/// [`a_run_killed_at_random_moments_resumes_without_redoing_work`]'s rounds
/// at `-j jobs` with `extra` run flags; `check` looks at each task at the
/// end.
pub fn kill_loop(rounds: u64, jobs: u32, extra: &[&str], check: impl Fn(&TestEnv, &str)) {
    const TASKS: usize = 6;
    let jobs = jobs.to_string();
    for round in 0..rounds {
        let mut seed = 0x9E37_79B9_7F4A_7C15 ^ (round + 1);
        let (env, _bare) = project(TASKS);
        let ids = split_plan(&env, &env.repo, "p", &[]);
        let state = env.dir.path().join("state");
        let mut args = vec!["--plan", "p", "-j", &jobs];
        args.extend_from_slice(extra);
        let args = args.as_slice();
        let mut kills = Vec::new();
        for _ in 0..2 {
            let delay = Duration::from_millis(next(&mut seed) % 900);
            let mut child = run_cmd(&env, &state, "random", args).spawn().unwrap();
            std::thread::sleep(delay);
            let ended = child.try_wait().unwrap().is_some();
            child.kill().unwrap();
            child.wait().unwrap();
            kills.push((delay, ended));
        }
        // Let the orphaned workers end on their own, or not: both must work.
        if next(&mut seed).is_multiple_of(2) {
            let until = Instant::now() + Duration::from_secs(5);
            while !leftovers(&state).is_empty() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let out = run_cmd(&env, &state, "random", args).output().unwrap();
        let diag = format!(
            "round {round}, kills {kills:?}\n{}\n{}\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            events(&state),
            String::from_utf8_lossy(&env.run(&["status", "--plan", "p"]).stdout),
            std::fs::read_to_string(env.repo.join(".git/batch/runs/p.json")).unwrap_or_default()
        );
        eprintln!("round {round}: kills after {kills:?}");
        assert!(out.status.success(), "{diag}");
        let s = summary(&out);
        assert_eq!((s.done, s.queued, s.failed), (TASKS, 0, 0), "{diag}");
        assert!(leftovers(&state).is_empty(), "{diag}");
        let events = events(&state);
        for id in &ids {
            let lines: Vec<&str> = events
                .lines()
                .filter(|l| l.split(' ').next() == Some(id.as_str()))
                .collect();
            // A worker killed by the resume between its marker and its
            // exit did not exit 0: its exit record says SIGKILL (137).
            let killed_after_marker = |line: &str| {
                let n = line.rsplit(' ').next().unwrap_or("");
                let record = env.repo.join(format!(".git/batch/runs/p/{id}.{n}.exit"));
                std::fs::read_to_string(record).is_ok_and(|t| t.trim() == "137")
            };
            let exited = lines
                .iter()
                .position(|l| l.contains(" exit0") && !killed_after_marker(l));
            let exited = exited.unwrap_or_else(|| panic!("{id} never exited 0: {diag}"));
            assert!(
                lines[exited + 1..].iter().all(|l| !l.contains(" start ")),
                "{id} was started again after it exited 0: {diag}"
            );
            let subjects = branch_subjects(&env, &env.repo, id);
            let done = subjects
                .iter()
                .filter(|s| s.starts_with("batch: done"))
                .count();
            assert_eq!(done, 1, "{id}: {subjects:?} {diag}");
            check(&env, id);
        }
        // A commit cut off by a kill may be left dangling; nothing broken.
        assert_eq!(env.git(&["fsck", "--no-progress", "--no-dangling"]), "");
    }
}
