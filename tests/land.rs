//! `land` against a real bare remote: one push for many workers, conflicts,
//! scope, bisection, a moving remote, dependencies, epics, dry runs, crashes.

use crate::common::{TaskJson, TestEnv, fixed_env};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Deserialize)]
struct LeftOutJson {
    id: String,
    reason: String,
    detail: String,
}

#[derive(Debug, Deserialize)]
struct LandJson {
    base: String,
    landed: Vec<String>,
    left_out: Vec<LeftOutJson>,
    commit: Option<String>,
    pushed: bool,
    attempts: u32,
    closed_epics: Vec<String>,
    local_branch: String,
}

/// A repository with a bare `origin` (keeping a reflog of every update).
pub(crate) fn with_remote() -> (TestEnv, PathBuf) {
    let env = TestEnv::new();
    let bare = env.dir.path().join("origin.git");
    env.git(&["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    env.git_in(&bare, &["config", "core.logAllRefUpdates", "always"]);
    env.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    env.git(&["push", "-q", "-u", "origin", "main"]);
    (env, bare)
}

pub(crate) fn sync(env: &TestEnv) {
    env.git(&["push", "-q", "origin", "main"]);
}

/// A worker that starts `id`, writes `files` and finishes.
pub(crate) fn work(env: &TestEnv, id: &str, files: &[(&str, &str)]) -> PathBuf {
    let s: serde_json::Value = env.json(&["start", id, "--worker", &format!("w-{id}")]);
    let wt = PathBuf::from(s["path"].as_str().unwrap());
    for (path, text) in files {
        let p = wt.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    env.ok_in(&wt, &["receipt", &format!("wrote {} file(s)", files.len())]);
    env.ok_in(&wt, &["done"]);
    wt
}

fn land(env: &TestEnv, args: &[&str]) -> LandJson {
    let mut all = vec!["land", "--remote", "origin"];
    all.extend_from_slice(args);
    env.json(&all)
}

fn remote_updates(bare: &Path) -> usize {
    std::fs::read_to_string(bare.join("logs/refs/heads/main"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

pub(crate) fn remote_file(env: &TestEnv, bare: &Path, path: &str) -> Option<String> {
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

pub(crate) fn remote_task(env: &TestEnv, bare: &Path, id: &str) -> String {
    remote_file(env, bare, &format!(".batch/tasks/{id}.toml")).unwrap()
}

#[test]
fn five_workers_land_with_one_push() {
    let (env, bare) = with_remote();
    let ids: Vec<String> = (0..5)
        .map(|i| env.create(&[&format!("part {i}"), "--scope", &format!("p{i}/**")]))
        .collect();
    sync(&env);
    let wts: Vec<PathBuf> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| work(&env, id, &[(&format!("p{i}/a.txt"), "done\n")]))
        .collect();
    let before = remote_updates(&bare);
    let report = land(&env, &[]);
    assert_eq!(report.landed.len(), 5, "{report:?}");
    assert!(report.left_out.is_empty());
    assert!(report.pushed);
    assert_eq!(
        remote_updates(&bare),
        before + 1,
        "exactly one update of main"
    );
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            remote_file(&env, &bare, &format!("p{i}/a.txt")).as_deref(),
            Some("done\n")
        );
        let t = remote_task(&env, &bare, id);
        assert!(
            t.contains("status = \"closed\"") && t.contains("landed = "),
            "{t}"
        );
        assert!(remote_file(&env, &bare, &format!(".batch/receipts/{id}.log")).is_some());
    }
    // Authors and the task trailers come along.
    let log = env.git_in(&bare, &["log", "--format=%an|%B", "main"]);
    for id in &ids {
        assert!(log.contains(&format!("Batch-Task: {id}")), "{log}");
    }
    // Afterwards: claims released, branches and worktrees gone, the
    // user's clean checkout fast-forwarded.
    assert!(env.json::<Vec<serde_json::Value>>(&["claims"]).is_empty());
    assert!(env.git(&["branch", "--list", "batch/*"]).is_empty());
    assert!(wts.iter().all(|w| !w.exists()));
    assert_eq!(
        env.git(&["rev-parse", "main"]).trim(),
        report.commit.unwrap()
    );
    assert!(
        report.local_branch.contains("fast-forwarded"),
        "{}",
        report.local_branch
    );
    let t: TaskJson = env.json(&["show", &ids[0]]);
    assert_eq!(t.status, "closed");
    // Nothing left: a second landing does nothing.
    let again = land(&env, &[]);
    assert!(again.landed.is_empty() && again.commit.is_none());
    assert_eq!(remote_updates(&bare), before + 1);
}

#[test]
fn a_conflict_is_left_out_and_the_others_land() {
    let (env, bare) = with_remote();
    env.write("shared/x.txt", "v1\n");
    env.git(&["add", "shared"]);
    env.git(&["commit", "-q", "-m", "x"]);
    let a = env.create(&["edit x", "--scope", "shared/**"]);
    let b = env.create(&["other", "--scope", "other/**"]);
    sync(&env);
    let wa = env.json::<serde_json::Value>(&["start", &a, "--worker", "wa"]);
    let wa = PathBuf::from(wa["path"].as_str().unwrap());
    // Main moves under the worker.
    env.write("shared/x.txt", "v2 from main\n");
    env.git(&["commit", "-q", "-am", "main edits x"]);
    sync(&env);
    std::fs::write(wa.join("shared/x.txt"), "v2 from worker\n").unwrap();
    env.ok_in(&wa, &["done"]);
    work(&env, &b, &[("other/y.txt", "y\n")]);
    let report = land(&env, &[]);
    assert_eq!(report.landed, vec![b.clone()]);
    assert_eq!(report.left_out.len(), 1);
    assert_eq!(report.left_out[0].id, a);
    assert_eq!(report.left_out[0].reason, "conflict");
    assert!(report.left_out[0].detail.contains("needs rebase onto"));
    assert!(report.left_out[0].detail.contains("shared/x.txt"));
    let t = remote_task(&env, &bare, &a);
    assert!(
        t.contains("needs rebase onto") && !t.contains("status = \"closed\""),
        "{t}"
    );
    // Its branch and worktree are kept for the rebase.
    assert!(wa.exists());
    assert!(
        !env.git(&["branch", "--list", &format!("batch/{a}")])
            .is_empty()
    );
}

#[test]
fn a_failing_test_is_bisected_and_its_culprit_left_out() {
    let (env, bare) = with_remote();
    let ids: Vec<String> = (0..4)
        .map(|i| env.create(&[&format!("t{i}"), "--scope", &format!("m{i}/**")]))
        .collect();
    sync(&env);
    let wts: Vec<PathBuf> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let text = if i == 2 { "broken\n" } else { "ok\n" };
            work(&env, id, &[(&format!("m{i}/state"), text)])
        })
        .collect();
    let report = land(&env, &["--test", "! grep -rq broken m*/state 2>/dev/null"]);
    let mut landed = report.landed.clone();
    landed.sort();
    let mut want: Vec<String> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, id)| id.clone())
        .collect();
    want.sort();
    assert_eq!(landed, want, "{report:?}");
    assert_eq!(report.left_out[0].id, ids[2]);
    assert_eq!(report.left_out[0].reason, "test");
    let t = remote_task(&env, &bare, &ids[2]);
    assert!(t.contains("status = \"failed\""), "{t}");
    // Why, as a record: the reason and the test log that found it.
    let record: toml::Value = toml::from_str(&t).unwrap();
    let failure = &record["failure"];
    assert!(
        failure["reason"]
            .as_str()
            .unwrap()
            .starts_with("the tests fail with it on "),
        "{t}"
    );
    let log = failure["log"].as_str().unwrap();
    assert!(std::path::Path::new(log).is_file(), "{log}");
    assert!(remote_file(&env, &bare, "m2/state").is_none());
    // The verdict is recorded in the live state: failed, with the tail of
    // the test output, the commit that was left out.
    let shown: serde_json::Value = env.json(&["show", &ids[2]]);
    assert_eq!(shown["status"], "failed", "{shown}");
    assert_eq!(shown["live"]["state"], "left_out");
    assert!(
        shown["live"]["reason"]
            .as_str()
            .unwrap()
            .contains("tests fail with it"),
        "{shown}"
    );
    assert!(shown["live"]["commit"].is_string());
    // The verdict holds: a later landing without tests (which would take
    // it, were it a candidate) leaves the culprit alone.
    let again = land(&env, &[]);
    assert!(again.landed.is_empty(), "{again:?}");
    assert!(remote_file(&env, &bare, "m2/state").is_none());
    // Its branch moves on (a fix, `done` again): a candidate once more, and
    // --no-bisect stops at the failure and changes nothing.
    std::fs::write(wts[2].join("m2/state"), "still broken\n").unwrap();
    env.ok_in(&wts[2], &["done"]);
    let out = env.run(&[
        "land",
        "--remote",
        "origin",
        "--test",
        "false",
        "--no-bisect",
    ]);
    assert!(!out.status.success());
}

#[test]
fn a_remote_that_moves_during_the_landing_is_rebuilt_on() {
    let (env, bare) = with_remote();
    let id = env.create(&["mine", "--scope", "mine/**"]);
    sync(&env);
    work(&env, &id, &[("mine/a", "a\n")]);
    // Someone else pushes while our tests run (once).
    let other = env.clone_of(&bare, "other");
    let flag = env.dir.path().join("pushed-once");
    let test = format!(
        "if [ ! -e {flag} ]; then touch {flag} && cd {other} && echo x > theirs.txt && \
         git add theirs.txt && git -c core.hooksPath=/dev/null commit -qm theirs && \
         git -c core.hooksPath=/dev/null push -q origin HEAD:main; fi",
        flag = flag.display(),
        other = other.display()
    );
    let report = land(&env, &["--test", &test]);
    assert_eq!(report.attempts, 2, "{report:?}");
    assert_eq!(report.landed, vec![id.clone()]);
    assert_eq!(
        remote_file(&env, &bare, "theirs.txt").as_deref(),
        Some("x\n")
    );
    assert_eq!(remote_file(&env, &bare, "mine/a").as_deref(), Some("a\n"));
}

#[test]
fn dependency_order_held_back_tasks_and_epics() {
    let (env, bare) = with_remote();
    let epic = env.create(&["epic", "--kind", "epic"]);
    let a = env.create(&["a", "--scope", "a/**", "--parent", &epic]);
    let b = env.create(&["b", "--scope", "b/**", "--parent", &epic]);
    env.write("c/x", "1\n");
    env.git(&["add", "c"]);
    env.git(&["commit", "-q", "-m", "c"]);
    let c = env.create(&["c", "--scope", "c/**"]);
    let d = env.create(&["d", "--scope", "d/**"]);
    sync(&env);
    let wts: Vec<PathBuf> = [&a, &b, &c, &d]
        .iter()
        .map(|id| {
            let s: serde_json::Value = env.json(&["start", id, "--worker", "w"]);
            PathBuf::from(s["path"].as_str().unwrap())
        })
        .collect();
    // Planned on main after the work started: b needs a, d needs c.
    env.ok(&["dep", "add", &b, &a]);
    env.ok(&["dep", "add", &d, &c]);
    env.write("c/x", "2 from main\n");
    env.git(&["commit", "-q", "-am", "main edits c"]);
    sync(&env);
    for (wt, path) in wts.iter().zip(["a/f", "b/f", "c/x", "d/f"]) {
        std::fs::create_dir_all(wt.join(path).parent().unwrap()).unwrap();
        std::fs::write(wt.join(path), "work\n").unwrap();
        env.ok_in(wt, &["done"]);
    }
    let report = land(&env, &[]);
    assert_eq!(report.landed, vec![a.clone(), b.clone()], "{report:?}");
    let reasons: Vec<(&str, &str)> = report
        .left_out
        .iter()
        .map(|l| (l.id.as_str(), l.reason.as_str()))
        .collect();
    assert!(reasons.contains(&(c.as_str(), "conflict")), "{reasons:?}");
    assert!(reasons.contains(&(d.as_str(), "dependency")), "{reasons:?}");
    // a's work comes before b's on main.
    let subjects = env.git_in(
        &bare,
        &[
            "log",
            "--reverse",
            "--format=%(trailers:key=Batch-Task,valueonly)",
            "main",
        ],
    );
    let order: Vec<&str> = subjects.lines().filter(|l| !l.is_empty()).collect();
    let pos = |id: &str| order.iter().position(|l| *l == id).unwrap();
    assert!(pos(&a) < pos(&b), "{order:?}");
    assert_eq!(report.closed_epics, vec![epic.clone()]);
    assert!(remote_task(&env, &bare, &epic).contains("status = \"closed\""));
}

#[test]
fn dry_run_changes_nothing() {
    let (env, bare) = with_remote();
    let id = env.create(&["t", "--scope", "t/**"]);
    sync(&env);
    let wt = work(&env, &id, &[("t/a", "a\n")]);
    let before = env.git_in(&bare, &["rev-parse", "main"]);
    let report = land(&env, &["--dry-run"]);
    assert!(report.landed.contains(&id));
    assert!(report.commit.is_none() && !report.pushed);
    assert_eq!(env.git_in(&bare, &["rev-parse", "main"]), before);
    assert!(wt.exists());
    assert_eq!(env.json::<Vec<serde_json::Value>>(&["claims"]).len(), 1);
    assert!(
        !env.git(&["branch", "--list", &format!("batch/{id}")])
            .is_empty()
    );
    assert!(
        env.read(&format!(".batch/tasks/{id}.toml"))
            .contains("status = \"open\"")
    );
}

#[test]
fn a_killed_landing_is_finished_by_the_next_one_and_a_dirty_checkout_is_left_alone() {
    let (env, bare) = with_remote();
    let ids: Vec<String> = (0..3)
        .map(|i| env.create(&[&format!("k{i}"), "--scope", &format!("k{i}/**")]))
        .collect();
    sync(&env);
    for (i, id) in ids.iter().enumerate() {
        work(&env, id, &[(&format!("k{i}/f"), "f\n")]);
    }
    let before = env.git_in(&bare, &["rev-parse", "main"]);
    let marker = env.dir.path().join("testing");
    let slow = format!("touch {} && sleep 30", marker.display());
    let mut child = env
        .batch_cmd(&["land", "--remote", "origin", "--test", &slow])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !marker.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the landing never reached its tests"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // A second landing meanwhile is refused.
    let busy = env.run(&["land", "--remote", "origin"]);
    assert_eq!(busy.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&busy.stderr).contains("another `git batch land` is running"));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        env.git_in(&bare, &["rev-parse", "main"]),
        before,
        "remote untouched"
    );

    // The user edits README meanwhile (not committed).
    env.write("README.md", "my own edit\n");
    let report = land(&env, &[]);
    assert_eq!(report.landed.len(), 3, "{report:?}");
    for i in 0..3 {
        assert!(remote_file(&env, &bare, &format!("k{i}/f")).is_some());
    }
    assert_eq!(env.read("README.md"), "my own edit\n");
    assert!(
        report.local_branch.contains("left alone"),
        "{}",
        report.local_branch
    );
    assert_ne!(report.base, "");
}

/// A landing killed right after its push (a server hook kills it, so the
/// moment is exact): the next landing, with nothing left to land, releases
/// the claims the killed one held and fast-forwards the user's checkout it
/// left behind, and a landing worktree left locked by a
/// `git worktree add` that was killed does not stop later landings.
#[test]
fn a_landing_killed_after_its_push_leaves_no_claims_behind() {
    let (env, bare) = with_remote();
    let id = env.create(&["k", "--scope", "k/**"]);
    sync(&env);
    work(&env, &id, &[("k/f", "f\n")]);
    // Kills the git-batch process that is pushing, once.
    let hook = bare.join("hooks/post-receive");
    let marker = env.dir.path().join("killed");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\n[ -e {m} ] && exit 0\ntouch {m}\np=$$\nwhile [ \"$p\" -gt 1 ]; do\n  p=$(cut -d' ' -f4 /proc/$p/stat)\n  case \"$(cat /proc/$p/comm)\" in git-batch*) kill -9 \"$p\"; exit 0;; esac\ndone\n",
            m = marker.display()
        ),
    )
    .unwrap();
    set_exec(&hook);
    let out = env.run(&["land", "--remote", "origin"]);
    assert!(!out.status.success(), "the landing was killed");
    assert!(marker.exists());
    let on_remote = remote_task(&env, &bare, &id);
    assert!(
        on_remote.contains("status = \"closed\""),
        "it did land: {on_remote}"
    );
    let claims: Vec<serde_json::Value> = env.json(&["claims"]);
    assert_eq!(claims.len(), 1, "the killed landing left its claim");

    // A landing worktree left locked, as a killed `worktree add` leaves it.
    let common = env.repo.join(".git");
    let wt = common.join("batch/land-worktree");
    let _ = std::fs::remove_dir_all(&wt);
    env.git(&["worktree", "prune"]);
    env.git(&[
        "worktree",
        "add",
        "-q",
        "--lock",
        "--detach",
        wt.to_str().unwrap(),
        "HEAD",
    ]);
    std::fs::remove_dir_all(&wt).unwrap();

    let report = land(&env, &[]);
    assert!(report.landed.is_empty(), "{report:?}");
    let claims: Vec<serde_json::Value> = env.json(&["claims"]);
    assert!(claims.is_empty(), "{claims:?}");
    // The user's checkout, left behind what the killed landing pushed.
    assert_eq!(
        env.git(&["rev-parse", "main"]),
        env.git_in(&bare, &["rev-parse", "main"])
    );
    assert!(
        report.local_branch.contains("fast-forwarded"),
        "{}",
        report.local_branch
    );
    assert_eq!(env.git(&["status", "--porcelain"]), "");
    let worktrees = env.git(&["worktree", "list", "--porcelain"]);
    assert!(!worktrees.contains("land-worktree"), "{worktrees}");
    assert_eq!(env.git(&["fsck", "--no-progress"]), "");
}

fn set_exec(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Without `--test`, the landing runs the test command of the config on the
/// base it lands on (the trusted history), not whatever this checkout's file
/// says now.
#[test]
fn the_landing_runs_the_test_command_of_the_base() {
    let (env, _bare) = with_remote();
    let id = env.create(&["k", "--scope", "k/**"]);
    let base_marker = env.dir.path().join("ran-base");
    let local_marker = env.dir.path().join("ran-local");
    let command = format!("test_command = \"touch {}\"", base_marker.display());
    env.config_top(&command, "the team's test command");
    sync(&env);
    work(&env, &id, &[("k/f", "f\n")]);
    // Changed here, not committed: not what the base says.
    let committed = env.read(".batch/config.toml");
    env.write(
        ".batch/config.toml",
        &committed.replace(
            &base_marker.display().to_string(),
            &local_marker.display().to_string(),
        ),
    );
    let report = land(&env, &[]);
    assert_eq!(report.landed, vec![id], "{report:?}");
    assert!(base_marker.exists(), "the base's test command ran");
    assert!(!local_marker.exists(), "not the checkout's");
}
