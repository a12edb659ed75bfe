//! `branch_prefix` in `.batch/config.toml`: worker branches named
//! `<prefix><id>` (for review tooling that expects one) by every command,
//! the hooks, the run, the landing and the server's pre-receive check.

use crate::common::{BIN, TestEnv, fixed_env};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn start(env: &TestEnv, id: &str) -> (PathBuf, String) {
    let s: serde_json::Value = env.json(&["start", id, "--worker", "w1"]);
    (
        PathBuf::from(s["path"].as_str().unwrap()),
        s["branch"].as_str().unwrap().to_string(),
    )
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// start, current, done, land and run all use the configured prefix; the
/// default `batch/` is not used.
#[test]
fn worker_branches_take_the_configured_prefix() {
    let env = TestEnv::new();
    env.config_top("branch_prefix = \"agent/\"", "agent branches");
    let a = env.create(&["a", "--scope", "a/**"]);
    let (wt, branch) = start(&env, &a);
    assert_eq!(branch, format!("agent/{a}"));
    assert_eq!(
        env.git_in(&wt, &["rev-parse", "--abbrev-ref", "HEAD"])
            .trim(),
        branch
    );
    let current: serde_json::Value =
        serde_json::from_str(&env.ok_in(&wt, &["--json", "current"])).unwrap();
    assert_eq!(current["id"], a.as_str(), "{current}");
    write(&wt, "a/f", "a\n");
    env.ok_in(&wt, &["done"]);
    let land: serde_json::Value = env.json(&["land", "--no-push"]);
    assert_eq!(land["landed"][0], a.as_str(), "{land}");
    assert_eq!(env.git(&["show", "main:a/f"]), "a\n");

    let b = env.create(&["b", "--scope", "b/**"]);
    let script = env.dir.path().join("w.sh");
    let exec = format!("sh {}", script.display());
    std::fs::write(
        &script,
        "git rev-parse --abbrev-ref HEAD >&2\nmkdir -p b && echo b > b/f\n",
    )
    .unwrap();
    let summary: serde_json::Value = env.json(&["run", &b, "--land", "--exec", &exec]);
    assert_eq!(summary["landed"][0], b.as_str(), "{summary}");
    assert!(
        env.git(&["branch", "--list", "batch/*"]).is_empty(),
        "a batch/ branch was made"
    );
}

#[test]
fn a_bad_prefix_is_refused_with_its_line() {
    let env = TestEnv::new();
    let config = env.read(".batch/config.toml");
    env.write(
        ".batch/config.toml",
        &format!("branch_prefix = \"-x\"\n{config}"),
    );
    let err = env.fails(&["ready"], 1);
    assert!(
        err.contains("config.toml:1") && err.contains("branch_prefix"),
        "{err}"
    );
}

/// The server reads the prefix from its own main branch: a push to
/// `refs/heads/agent/<id>` is judged as that task's work.
#[test]
fn the_server_judges_prefixed_branches_as_the_tasks() {
    let env = TestEnv::new();
    env.config_top("branch_prefix = \"agent/\"", "agent branches");
    let bare = env.dir.path().join("server.git");
    env.git(&["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    let out = Command::new(BIN)
        .current_dir(&bare)
        .args(["hooks", "install", "--server"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    crate::common::assert_ok(&out);
    let id = env.create(&["auth", "--scope", "src/auth/**"]);
    env.git(&["push", "-q", "origin", "main"]);
    let (wt, branch) = start(&env, &id);
    write(&wt, "README.md", "changed\n");
    env.git_in(&wt, &["add", "-A"]);
    env.git_in(&wt, &["commit", "-q", "--no-verify", "-m", "readme"]);
    let mut cmd = Command::new("git");
    fixed_env(&mut cmd, &env.home());
    let out = cmd
        .current_dir(&wt)
        // Past this clone's own pre-push hook, as a worker could.
        .args([
            "push",
            "--no-verify",
            "origin",
            &format!("HEAD:refs/heads/{branch}"),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted:\n{err}");
    assert!(err.contains("README.md"), "{err}");
}
