//! The scope guard: hooks (install, chaining, husky-style hooksPath,
//! pre-commit, commit-msg, pre-push, pre-receive) and `check`.

use crate::common::{BIN, TestEnv, fixed_env};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn git_out(env: &TestEnv, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("git");
    fixed_env(&mut cmd, &env.home());
    cmd.current_dir(dir).args(args).output().unwrap()
}

fn start(env: &TestEnv, id: &str) -> PathBuf {
    let s: serde_json::Value = env.json(&["start", id, "--worker", "w1"]);
    PathBuf::from(s["path"].as_str().unwrap())
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn pre_commit_refuses_out_of_scope_files_in_a_worker_worktree() {
    let env = TestEnv::new();
    let id = env.create(&["auth", "--scope", "src/auth/**"]);
    let wt = start(&env, &id);
    write(&wt, "src/auth/login.rs", "fn login() {}\n");
    write(&wt, "src/db.rs", "oops\n");
    env.git_in(&wt, &["add", "-A"]);
    let out = git_out(&env, &wt, &["commit", "-q", "-m", "work"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("outside the scope of {id} (src/auth/**)")),
        "{err}"
    );
    assert!(
        err.contains("  src/db.rs") && !err.contains("login.rs"),
        "{err}"
    );
    // Inside the scope, the same kind of commit goes through, with the
    // task trailer added by commit-msg.
    env.git_in(&wt, &["reset", "-q", "src/db.rs"]);
    env.git_in(&wt, &["commit", "-q", "-m", "login"]);
    let msg = env.git_in(&wt, &["log", "-1", "--format=%B"]);
    assert_eq!(
        msg.matches(&format!("Batch-Task: {id}")).count(),
        1,
        "{msg}"
    );
    // --amend keeps one trailer.
    env.git_in(&wt, &["commit", "-q", "--amend", "-m", "login, again"]);
    let msg = env.git_in(&wt, &["log", "-1", "--format=%B"]);
    assert_eq!(
        msg.matches(&format!("Batch-Task: {id}")).count(),
        1,
        "{msg}"
    );
    env.git_in(&wt, &["commit", "-q", "--amend", "--no-edit"]);
    let msg = env.git_in(&wt, &["log", "-1", "--format=%B"]);
    assert_eq!(msg.matches("Batch-Task:").count(), 1, "{msg}");
    // In the main checkout there is no task: no trailer, no scope.
    env.write("anything.txt", "x\n");
    env.git(&["add", "anything.txt"]);
    env.git(&["commit", "-q", "-m", "main work"]);
    assert!(
        !env.git(&["log", "-1", "--format=%B"])
            .contains("Batch-Task")
    );
}

#[test]
fn pre_commit_refuses_broken_task_files_with_file_and_line() {
    let env = TestEnv::new();
    let a = env.create(&["a"]);
    let path = format!(".batch/tasks/{a}.toml");
    let text = env.read(&path);
    // An unknown dependency.
    env.write(&path, &text.replace("deps = []", "deps = [\"bt-nope\"]"));
    env.git(&["add", &path]);
    let out = git_out(&env, &env.repo, &["commit", "-q", "-m", "x"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = text.lines().position(|l| l.starts_with("deps")).unwrap() + 1;
    assert!(
        err.contains(&format!("{path}:{line}: depends on unknown task bt-nope")),
        "{err}"
    );
    // A file that does not parse.
    env.write(&path, "id = \"broken\n");
    env.git(&["add", &path]);
    let out = git_out(&env, &env.repo, &["commit", "-q", "-m", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("{path}:1:")));
    // A cycle made by hand.
    let b = env.create(&["b", "--dep", &a]);
    env.write(
        &path,
        &text.replace("deps = []", &format!("deps = [\"{b}\"]")),
    );
    env.git(&["add", &path]);
    let out = git_out(&env, &env.repo, &["commit", "-q", "-m", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("dependency cycle"));
    // A file whose name is not a task id (it could not be addressed, or
    // would escape .batch/ if used as one).
    env.write(".batch/tasks/..sneaky.toml", &text);
    env.git(&["add", ".batch/tasks/..sneaky.toml"]);
    let out = git_out(&env, &env.repo, &["commit", "-q", "-m", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid task id"));
    env.git(&["rm", "-q", "--cached", ".batch/tasks/..sneaky.toml"]);
    std::fs::remove_file(env.repo.join(".batch/tasks/..sneaky.toml")).unwrap();
    // Back to a good file: the commit goes through.
    env.write(&path, &text);
    env.git(&["add", &path]);
    env.git(&["commit", "-q", "--allow-empty", "-m", "fine"]);
}

#[test]
fn install_chains_existing_hooks_and_uninstall_restores_them() {
    let env = TestEnv::bare_repo();
    let hooks = env.repo.join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let mine = "#!/bin/sh\necho mine-ran >> \"$(git rev-parse --git-dir)/mine.log\"\nexit ${MINE_EXIT:-0}\n";
    write(&hooks, "pre-commit", mine);
    set_exec(&hooks.join("pre-commit"));
    env.ok(&["init"]);
    assert!(hooks.join("pre-commit.pre-git-batch").exists());
    let status: Vec<serde_json::Value> = env.json(&["hooks", "status"]);
    assert!(status.iter().all(|s| s["state"] == "installed"));
    assert!(
        status[0]["chained"]
            .as_str()
            .unwrap()
            .ends_with("pre-commit.pre-git-batch")
    );
    // Idempotent.
    let again: Vec<serde_json::Value> = env.json(&["hooks", "install"]);
    assert!(again.iter().all(|c| c["action"] == "unchanged"));

    env.write("a.txt", "a\n");
    env.git(&["add", "a.txt"]);
    env.git(&["commit", "-q", "-m", "a"]);
    assert_eq!(env.read(".git/mine.log"), "mine-ran\n", "the old hook ran");
    // Its failure still blocks.
    env.write("b.txt", "b\n");
    env.git(&["add", "b.txt"]);
    let mut cmd = Command::new("git");
    fixed_env(&mut cmd, &env.home());
    let out = cmd
        .current_dir(&env.repo)
        .env("MINE_EXIT", "1")
        .args(["commit", "-q", "-m", "b"])
        .output()
        .unwrap();
    assert!(!out.status.success());

    let removed: Vec<serde_json::Value> = env.json(&["hooks", "uninstall"]);
    assert_eq!(removed[0]["action"], "restored");
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        mine
    );
    assert!(!hooks.join("pre-commit.pre-git-batch").exists());
    assert!(!hooks.join("commit-msg").exists());
}

#[test]
fn init_no_hooks_installs_none() {
    let env = TestEnv::bare_repo();
    env.ok(&["init", "--no-hooks"]);
    assert!(!env.repo.join(".git/hooks/pre-commit").exists());
    let status: Vec<serde_json::Value> = env.json(&["hooks", "status"]);
    assert!(status.iter().all(|s| s["state"] == "missing"));
}

#[test]
fn a_husky_style_hooks_path_is_respected() {
    let env = TestEnv::bare_repo();
    // husky: core.hooksPath = .husky/_ with its own scripts there.
    let husky = env.repo.join(".husky/_");
    write(
        &husky,
        "pre-commit",
        "#!/bin/sh\necho husky >> .husky-ran\n",
    );
    set_exec(&husky.join("pre-commit"));
    env.git(&["config", "core.hooksPath", ".husky/_"]);
    env.ok(&["init"]);
    assert!(husky.join("commit-msg").exists());
    assert!(husky.join("pre-commit.pre-git-batch").exists());
    assert!(!env.repo.join(".git/hooks/pre-commit").exists());
    // The guard runs through hooksPath (here: a task file that does not
    // parse), after husky's own hook.
    let id = env.create(&["t", "--scope", "docs/**"]);
    env.write(&format!(".batch/tasks/{id}.toml"), "not toml\n");
    env.git(&["add", ".batch"]);
    let out = git_out(&env, &env.repo, &["commit", "-q", "-m", "x"]);
    assert!(!out.status.success(), "the guard runs through hooksPath");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("{id}.toml:1:")));
    assert!(env.repo.join(".husky-ran").exists(), "husky's hook ran too");
    env.ok(&["hooks", "uninstall"]);
    assert!(!husky.join("pre-commit.pre-git-batch").exists());
    assert!(
        std::fs::read_to_string(husky.join("pre-commit"))
            .unwrap()
            .contains("husky")
    );
}

#[test]
fn a_shim_without_git_batch_says_how_to_fix_it() {
    let env = TestEnv::new();
    env.write("x.txt", "x\n");
    env.git(&["add", "x.txt"]);
    let mut cmd = Command::new("git");
    fixed_env(&mut cmd, &env.home());
    let out = cmd
        .current_dir(&env.repo)
        .env("PATH", "/usr/bin:/bin:/usr/local/bin")
        .args(["commit", "-q", "-m", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs git-batch, which is not on PATH"),
        "{err}"
    );
    assert!(err.contains("git batch hooks uninstall"), "{err}");
}

#[test]
fn pre_push_refuses_a_workers_push() {
    let env = TestEnv::new();
    let bare = env.dir.path().join("remote.git");
    env.git(&["init", "-q", "--bare", bare.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    env.git(&["push", "-q", "origin", "main"]);
    let id = env.create(&["t", "--scope", "a/**"]);
    let wt = start(&env, &id);
    for refspec in [format!("batch/{id}"), "HEAD:main".to_string()] {
        let out = git_out(&env, &wt, &["push", "-q", "origin", &refspec]);
        assert!(!out.status.success(), "{refspec}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("workers commit locally"));
    }
    // Finished work shared under refs/batch/ is fine; so is main's checkout.
    push_work(&env, &wt, &id);
    env.git(&["push", "-q", "origin", "main"]);
}

#[derive(Debug, Deserialize)]
struct CheckJson {
    ok: bool,
    tasks: Vec<String>,
    problems: Vec<serde_json::Value>,
}

#[test]
fn check_finds_overlaps_cycles_and_readiness_misses() {
    let env = TestEnv::new();
    let full = |title: &str, scope: &str| {
        env.create(&[
            title,
            "--scope",
            scope,
            "--accept",
            "tests pass",
            "--estimate",
            "S",
        ])
    };
    let a = full("all src", "src/**");
    let b = full("auth", "src/auth/*.rs");
    let c = full("docs", "docs/**");
    let out = env
        .batch_cmd(&["--json", "check", &a, &b, &c])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: CheckJson = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!report.ok);
    assert_eq!(report.tasks.len(), 3);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let p = &report.problems[0];
    assert_eq!(p["kind"], "overlap");
    assert_eq!(
        (p["a"].as_str(), p["b"].as_str()),
        (Some(a.as_str()), Some(b.as_str()))
    );
    assert_eq!(p["overlap"]["kind"], "prefix");
    assert_eq!(p["overlap"]["a"], "src/**");
    assert_eq!(p["overlap"]["b"], "src/auth/*.rs");
    // With a file in the tree, the overlap names it.
    env.write("src/auth/login.rs", "x\n");
    env.git(&["add", "src"]);
    env.git(&["commit", "-q", "-m", "code"]);
    let out = env
        .batch_cmd(&["--json", "check", &a, &b])
        .output()
        .unwrap();
    let report: CheckJson = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.problems[0]["overlap"]["kind"], "files");
    assert_eq!(
        report.problems[0]["overlap"]["examples"][0],
        "src/auth/login.rs"
    );
    assert!(env.fails(&["check", &a, &b], 1).contains("1 problem(s)"));
    // Disjoint, complete tasks pass.
    env.ok(&["check", &b, &c]);

    // Readiness misses and a dependency within the set.
    let bare = env.create(&["vague"]);
    let asks = env.create(&[
        "unsure",
        "--scope",
        "x/**",
        "--estimate",
        "M",
        "--accept",
        "which format?",
        "--dep",
        &c,
    ]);
    let out = env
        .batch_cmd(&["--json", "check", &bare, &asks, &c])
        .output()
        .unwrap();
    let report: CheckJson = serde_json::from_slice(&out.stdout).unwrap();
    let rules: Vec<(&str, &str)> = report
        .problems
        .iter()
        .filter(|p| p["kind"] == "readiness")
        .map(|p| (p["task"].as_str().unwrap(), p["rule"].as_str().unwrap()))
        .collect();
    for want in [
        (bare.as_str(), "acceptance"),
        (bare.as_str(), "scope"),
        (bare.as_str(), "estimate"),
        (asks.as_str(), "questions"),
        (asks.as_str(), "deps"),
    ] {
        assert!(rules.contains(&want), "{want:?} not in {rules:?}");
    }
    assert!(
        report
            .problems
            .iter()
            .any(|p| p["kind"] == "depends_within_set" && p["task"] == asks.as_str())
    );
    // A rule can be turned off in config.
    let config = env.read(".batch/config.toml");
    env.write(
        ".batch/config.toml",
        &config.replace("estimate = true", "estimate = false"),
    );
    let out = env.batch_cmd(&["--json", "check", &bare]).output().unwrap();
    let report: CheckJson = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!report.problems.iter().any(|p| p["rule"] == "estimate"));

    // An unknown dependency (made by hand) is named.
    let ghost_path = format!(".batch/tasks/{bare}.toml");
    let ghost = env.read(&ghost_path);
    env.write(
        &ghost_path,
        &ghost.replace("deps = []", "deps = [\"bt-gone\"]"),
    );
    let out = env.batch_cmd(&["--json", "check", &bare]).output().unwrap();
    let report: CheckJson = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p["kind"] == "unknown_dep" && p["dep"] == "bt-gone")
    );
    env.write(&ghost_path, &ghost);

    // A cycle made by hand is found.
    let path = format!(".batch/tasks/{c}.toml");
    let text = env.read(&path);
    env.write(
        &path,
        &text.replace("deps = []", &format!("deps = [\"{asks}\"]")),
    );
    let out = env.batch_cmd(&["--json", "check", &c]).output().unwrap();
    let report: CheckJson = serde_json::from_slice(&out.stdout).unwrap();
    let cycle = report
        .problems
        .iter()
        .find(|p| p["kind"] == "cycle")
        .expect("a cycle");
    assert_eq!(cycle["path"].as_array().unwrap().len(), 3);
}

#[test]
fn check_range_catches_a_no_verify_commit() {
    let env = TestEnv::new();
    let id = env.create(&["auth", "--scope", "src/auth/**"]);
    let wt = start(&env, &id);
    let base = env.git_in(&wt, &["rev-parse", "HEAD"]).trim().to_string();
    write(&wt, "src/auth/a.rs", "a\n");
    env.git_in(&wt, &["add", "-A"]);
    env.git_in(&wt, &["commit", "-q", "-m", "in scope"]);
    let range = format!("{base}..HEAD");
    let report: serde_json::Value =
        serde_json::from_str(&env.ok_in(&wt, &["--json", "check", "--range", &range])).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["checked"], 1);
    // Skipping the hooks skips the trailer too: the branch names the task.
    write(&wt, "Cargo.toml", "sneaky\n");
    env.git_in(&wt, &["add", "-A"]);
    env.git_in(&wt, &["commit", "-q", "--no-verify", "-m", "sneaky"]);
    let out = env
        .batch_cmd_in(&wt, &["--json", "check", "--range", &range])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &report["problems"][0];
    assert_eq!(p["kind"], "out_of_scope");
    assert_eq!(p["files"][0], "Cargo.toml");
    assert_eq!(p["task"], id.as_str());
    // From the main checkout, --task says whose commits they are.
    let branch_range = format!("{base}..batch/{id}");
    env.fails(&["check", "--range", &branch_range, "--task", &id], 1);
    // A trailer naming an unknown task fails.
    write(&wt, "src/auth/b.rs", "b\n");
    env.git_in(&wt, &["add", "-A"]);
    env.git_in(
        &wt,
        &[
            "commit",
            "-q",
            "--no-verify",
            "-m",
            "b\n\nBatch-Task: bt-zzzz",
        ],
    );
    // On the task's own branch the branch decides whose it is: a trailer
    // naming another task is itself a problem.
    let out = env
        .batch_cmd_in(&wt, &["--json", "check", "--range", "HEAD~1..HEAD"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["problems"][0]["kind"], "foreign_trailer");
    // On no worker ref, the trailer names the task: an unknown one fails.
    let branch = format!("batch/{id}");
    let out = env
        .batch_cmd(&[
            "--json",
            "check",
            "--range",
            &format!("{branch}~1..{branch}"),
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["problems"][0]["kind"], "unknown_task");
    env.fails(&["check", "--range", "nonsense"], 2);
}

#[test]
fn pre_receive_rejects_out_of_scope_pushes_to_a_bare_repository() {
    let env = TestEnv::new();
    let bare = env.dir.path().join("server.git");
    env.git(&["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    env.git(&["push", "-q", "origin", "main"]);
    let out = Command::new(BIN)
        .current_dir(&bare)
        .args(["--json", "hooks", "install", "--server"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    crate::common::assert_ok(&out);
    assert!(bare.join("hooks/pre-receive").exists());

    let id = env.create(&["auth", "--scope", "src/auth/**"]);
    env.git(&["push", "-q", "origin", "main"]);
    let wt = start(&env, &id);
    write(&wt, "src/auth/a.rs", "a\n");
    write(&wt, "README.md", "changed\n");
    env.git_in(&wt, &["add", "-A"]);
    env.git_in(&wt, &["commit", "-q", "--no-verify", "-m", "both"]);
    // Pushed to the worker's ref on the server: attributed to its task.
    let mut cmd = Command::new("git");
    fixed_env(&mut cmd, &env.home());
    let out = cmd
        .current_dir(&wt)
        .env("GIT_BATCH_LANDING", "1")
        .args(["push", "origin", &format!("HEAD:refs/batch/work/{id}")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("README.md") && err.contains("pre-receive"),
        "{err}"
    );
    assert!(
        git_out(&env, &bare, &["for-each-ref", "refs/batch/work"])
            .stdout
            .is_empty()
    );
    // In scope, it is accepted.
    env.git_in(&wt, &["reset", "-q", "--hard", "HEAD~1"]);
    write(&wt, "src/auth/a.rs", "a\n");
    env.git_in(&wt, &["add", "-A"]);
    env.git_in(&wt, &["commit", "-q", "-m", "auth only"]);
    push_work(&env, &wt, &id);
}

/// Pushes the worktree's HEAD to `refs/batch/work/<id>`, expecting success.
fn push_work(env: &TestEnv, wt: &Path, id: &str) {
    let refspec = format!("HEAD:refs/batch/work/{id}");
    let out = git_out(env, wt, &["push", "-q", "origin", &refspec]);
    crate::common::assert_ok(&out);
}

fn set_exec(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
