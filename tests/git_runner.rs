//! How git-batch runs git: decisions that hold under a translated git,
//! identities taken where git takes them, and values from files that never
//! become options.

use crate::common::{BIN, TestEnv, assert_ok};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A `git` that prints German messages with `LANGUAGE=de` (Debian's git
/// ships its catalogues; a git built without them does not translate).
fn translating_git() -> Option<PathBuf> {
    let candidates = ["git", "/usr/bin/git", "/usr/local/bin/git"];
    candidates.into_iter().map(PathBuf::from).find(|git| {
        Command::new(git)
            .args(["ls-remote", "/nonexistent/repository"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LANG", "C.UTF-8")
            .env("LANGUAGE", "de")
            .output()
            .is_ok_and(|o| {
                let err = String::from_utf8_lossy(&o.stderr);
                !err.is_empty() && !err.contains("fatal:")
            })
    })
}

/// Runs git-batch as a German user would: `LANGUAGE=de`, no `LC_ALL`, and
/// (where the machine has one) a git that translates its messages.
struct German {
    path: std::ffi::OsString,
    translated: bool,
}

impl German {
    fn new(env: &TestEnv) -> German {
        let shim = env.dir.path().join("german-git");
        std::fs::create_dir_all(&shim).unwrap();
        let git = translating_git();
        if let Some(git) = &git {
            let real = if git.is_absolute() {
                git.clone()
            } else {
                which("git").expect("git on PATH")
            };
            std::os::unix::fs::symlink(real, shim.join("git")).unwrap();
        } else {
            eprintln!("no translating git here: the German run uses English messages");
        }
        let bin_dir = Path::new(BIN).parent().unwrap();
        let path = std::env::join_paths(
            [bin_dir.to_path_buf(), shim]
                .into_iter()
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
        )
        .unwrap();
        German {
            path,
            translated: git.is_some(),
        }
    }

    fn run(&self, env: &TestEnv, dir: &Path, args: &[&str]) -> Output {
        env.batch_cmd_in(dir, args)
            .env_remove("LC_ALL")
            .env("LANG", "C.UTF-8")
            .env("LANGUAGE", "de")
            .env("PATH", &self.path)
            .output()
            .unwrap()
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A bare remote `origin` with this repository's main branch.
fn with_remote(env: &TestEnv) -> PathBuf {
    let bare = env.dir.path().join("origin.git");
    env.git_in(
        env.dir.path(),
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    env.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    env.git(&["push", "-q", "origin", "main"]);
    bare
}

#[test]
fn a_translated_git_claims_through_a_remote_that_has_no_claims_yet() {
    let env = TestEnv::new();
    let a = env.create(&["first", "--scope", "a/**"]);
    let b = env.create(&["second", "--scope", "b/**"]);
    let bare = with_remote(&env);
    let german = German::new(&env);
    if german.translated {
        // The premise: this git really answers in German.
        let out = Command::new("git")
            .args(["fetch", bare.to_str().unwrap(), "refs/batch/claims"])
            .current_dir(&env.repo)
            .env("PATH", &german.path)
            .env_remove("LC_ALL")
            .env("LANG", "C.UTF-8")
            .env("LANGUAGE", "de")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("couldn't find remote ref"), "{err}");
    }
    // The first claim ever through this remote: the fetch of a claims ref
    // the remote does not have yet fails, and that must read as "none".
    let out = german.run(&env, &env.repo, &["claim", &a, "--remote", "origin"]);
    assert_ok(&out);
    let out = german.run(&env, &env.repo, &["claims", "--remote", "origin"]);
    assert_ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&a));

    // A second clone that lost the race is told so (exit 3), in German too.
    let clone = env.clone_of(&bare, "clone");
    let late = ["--remote", "origin", "--worker", "late"];
    let out = german.run(&env, &clone, &[&["claim", a.as_str()][..], &late].concat());
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = german.run(&env, &clone, &[&["claim", b.as_str()][..], &late].concat());
    assert_ok(&out);
}

#[test]
fn a_translated_git_lands_after_the_remote_moved_under_the_landing() {
    let env = TestEnv::new();
    let id = env.create(&["work", "--scope", "src/**"]);
    let bare = with_remote(&env);
    let other = env.clone_of(&bare, "other");
    let german = German::new(&env);
    let out = german.run(&env, &env.repo, &["--json", "start", &id]);
    assert_ok(&out);
    let start: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let wt = PathBuf::from(start["path"].as_str().unwrap());
    std::fs::create_dir_all(wt.join("src")).unwrap();
    std::fs::write(wt.join("src/x.txt"), "x\n").unwrap();
    assert_ok(&german.run(&env, &wt, &["done"]));
    // The test command pushes to main from another clone, once: the
    // landing's leased push is then rejected and it must start over on the
    // new tip rather than fail.
    let marker = env.dir.path().join("moved");
    let test = format!(
        "test -e {m} || {{ touch {m} && cd {o} && git -c user.name=o -c user.email=o@e commit -q --allow-empty -m moved && git push -q origin main; }}",
        m = marker.display(),
        o = other.display()
    );
    let out = german.run(
        &env,
        &env.repo,
        &["--json", "land", "--remote", "origin", "--test", &test],
    );
    assert_ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["landed"], serde_json::json!([id]));
    assert_eq!(report["attempts"], 2, "{report}");
    let remote_log = Command::new("git")
        .args(["log", "--format=%s", "-3", "main"])
        .current_dir(&bare)
        .output()
        .unwrap();
    let subjects = String::from_utf8_lossy(&remote_log.stdout);
    let subjects: Vec<&str> = subjects.lines().collect();
    assert_eq!(subjects[0], "batch: land 1 task(s)");
    assert_eq!(subjects[2], "moved", "the work is replayed on the new tip");
}

#[test]
fn a_remote_from_the_config_never_becomes_an_option() {
    let env = TestEnv::new();
    let id = env.create(&["work", "--scope", "src/**"]);
    with_remote(&env);
    let marker = env.dir.path().join("pwned");
    let config = env.read(".batch/config.toml");
    let hostile = format!("--upload-pack=touch {}", marker.display());
    let mut lines: Vec<String> = config
        .lines()
        .filter(|l| !l.starts_with("remote"))
        .map(String::from)
        .collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("main_branch"))
        .unwrap();
    lines.insert(at + 1, format!("remote = {hostile:?}"));
    env.write(".batch/config.toml", &(lines.join("\n") + "\n"));
    for args in [
        vec!["claim", id.as_str()],
        vec!["claims", "--remote", &hostile],
        vec!["land"],
        vec!["run", "--ready", "--exec", "true"],
    ] {
        let out = env.run(&args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            !marker.exists(),
            "{args:?} ran the remote's value as a command"
        );
    }
    // A flag is checked the same way.
    let out = env.run(&["claim", &id, "--remote", &hostile]);
    assert!(!out.status.success());
    assert!(!marker.exists());
}

#[test]
fn identity_comes_from_where_git_takes_it() {
    let env = TestEnv::new();
    env.git(&["config", "--unset", "user.name"]);
    env.git(&["config", "--unset", "user.email"]);
    let global = env.dir.path().join("global.gitconfig");
    std::fs::write(
        &global,
        "[user]\n\tname = Global Gal\n\temail = gal@example.com\n",
    )
    .unwrap();
    let as_user = |args: &[&str]| {
        let out = env
            .batch_cmd(args)
            .env("GIT_CONFIG_GLOBAL", &global)
            .env_remove("GIT_AUTHOR_NAME")
            .env_remove("GIT_AUTHOR_EMAIL")
            .env_remove("GIT_COMMITTER_NAME")
            .env_remove("GIT_COMMITTER_EMAIL")
            .output()
            .unwrap();
        assert_ok(&out);
        String::from_utf8(out.stdout).unwrap()
    };
    let id = as_user(&["create", "a task"]).trim().to_string();
    let task: serde_json::Value = serde_json::from_str(&as_user(&["--json", "show", &id])).unwrap();
    assert_eq!(task["created_by"], "Global Gal");
    let who = env.git(&["log", "-1", "--format=%an <%ae>|%cn <%ce>"]);
    assert_eq!(
        who.trim(),
        "Global Gal <gal@example.com>|Global Gal <gal@example.com>"
    );
    let claim: serde_json::Value =
        serde_json::from_str(&as_user(&["--json", "claim", &id])).unwrap();
    let worker = claim["worker"].as_str().unwrap();
    assert!(worker.starts_with("Global Gal@"), "{worker}");
}
