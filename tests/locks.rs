//! Git locks: one that a killed git-batch (or a git it started) left is
//! recognised and cleared with a message; one held by the user's own git is
//! waited for and never deleted, nor is one a git of the user's left.

use crate::common::TestEnv;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A `run` whose worker (a child of git-batch) takes the main checkout's
/// index lock and the claims ref's lock, then waits; the run is killed with
/// kill -9, and so is its worker. Returns the two lock paths.
fn killed_run_leaving_locks(env: &TestEnv) -> (PathBuf, PathBuf) {
    env.create(&["w", "--scope", "w/**"]);
    let git = env.repo.join(".git");
    let index = git.join("index.lock");
    let claims = git.join("refs/batch/claims.lock");
    let marker = env.dir.path().join("locked");
    let exec = format!(
        ": > {i} && : > {c} && touch {m} && sleep 60",
        i = index.display(),
        c = claims.display(),
        m = marker.display()
    );
    let mut run: Child = env
        .batch_cmd(&["run", "--ready", "--exec", &exec])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while !marker.exists() {
        assert!(Instant::now() < until, "the worker never took the locks");
        std::thread::sleep(Duration::from_millis(20));
    }
    run.kill().unwrap();
    run.wait().unwrap();
    kill_task_workers(&env.repo);
    (index, claims)
}

/// Kills the workers of runs in this repository (their own process group
/// outlives the run), as a machine's shutdown would.
fn kill_task_workers(repo: &Path) {
    let needle = format!("BATCH_WORKTREE={}", repo.parent().unwrap().display());
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if env
            .split(|&b| b == 0)
            .any(|v| v.starts_with(needle.as_bytes()))
        {
            // SAFETY: a signal to a process this test's run started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

#[test]
fn locks_a_killed_git_batch_left_are_cleared_with_a_message() {
    let env = TestEnv::new();
    let (index, claims) = killed_run_leaving_locks(&env);
    assert!(index.exists() && claims.exists());
    // A metadata commit needs the index; a claim needs the claims ref.
    let out = env
        .batch_cmd(&["create", "after the kill", "--scope", "a/**"])
        .env("GIT_BATCH_LOCK_WAIT", "3")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("removed") && err.contains("index.lock") && err.contains("was killed"),
        "{err}"
    );
    assert!(err.contains("claims.lock"), "every lock it left: {err}");
    assert!(!index.exists() && !claims.exists());
    let listed: Vec<serde_json::Value> = env.json(&["list"]);
    let id = listed
        .iter()
        .find(|t| t["title"] == "after the kill")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.ok(&["claim", &id]);
    assert_eq!(
        env.git(&["status", "--porcelain", "--untracked-files=no"]),
        ""
    );
    // Nothing more to say the next time.
    let out = env.run(&["create", "and again"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("removed"));
}

#[test]
fn a_lock_of_the_users_own_git_is_waited_for_and_never_deleted() {
    let env = TestEnv::new();
    // A git-batch was killed here before (its record is what makes a lock
    // look like its own), and then the user's git takes the index.
    killed_run_leaving_locks(&env);
    env.ok(&["create", "clears what the kill left"]);
    let (_i, _c) = killed_run_leaving_locks(&env);
    let lock = env.repo.join(".git/index.lock");
    // Still held: the user's git is working (it holds the file open).
    let _ = std::fs::remove_file(&lock);
    let mut holder = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("exec 3>{}; sleep 3", lock.display()))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let out = env
        .batch_cmd(&["create", "while the user's git works"])
        .env("GIT_BATCH_LOCK_WAIT", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("another git process holds"), "{err}");
    assert!(lock.exists(), "never deleted");
    holder.wait().unwrap();
    // The user's git died and left it: theirs to remove, git says so too.
    let out = env
        .batch_cmd(&["create", "after the user's git died"])
        .env("GIT_BATCH_LOCK_WAIT", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(lock.exists(), "never deleted");
    assert_eq!(
        env.git(&["status", "--porcelain", "--untracked-files=no"]),
        ""
    );
}

/// `create` killed at pseudo-random moments, in a repository whose index is
/// big enough that a kill can land while the index is written: the next
/// `create` always succeeds (whatever lock the kill left) and the checkout
/// keeps nothing half-done.
#[test]
fn create_killed_at_random_moments_never_needs_a_person() {
    let env = TestEnv::new();
    for i in 0..3000 {
        env.write(&format!("src/f{i:04}.txt"), "x\n");
    }
    env.git(&["add", "src"]);
    env.git(&["commit", "-q", "-m", "many files"]);
    let mut seed: u64 = 0x005E_ED0F_10C4;
    let mut cut = 0;
    for round in 0..24 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_micros(seed % 40_000);
        let mut child = env
            .batch_cmd(&["create", &format!("killed {round}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            cut += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let out = env
            .batch_cmd(&["create", &format!("after {round}")])
            .env("GIT_BATCH_LOCK_WAIT", "3")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "round {round} (kill after {delay:?}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The two commits' files and the index agree with HEAD.
        assert_eq!(
            env.git(&["status", "--porcelain", "--untracked-files=no"]),
            "",
            "round {round}"
        );
    }
    eprintln!("{cut} of 24 creates were cut off by the kill");
    assert_eq!(env.git(&["fsck", "--no-progress", "--no-dangling"]), "");
}
