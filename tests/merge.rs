//! Task files merged field by field: by the landing's replay, and by the
//! merge driver in a user's `git pull`, with real git and a bare remote.

use crate::common::{TestEnv, fixed_env};
use crate::land::{remote_task, sync, with_remote};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// git-batch in `dir` at a fixed time (`GIT_BATCH_NOW`), so notes sort
/// the way the test says.
fn at(env: &TestEnv, dir: &Path, now: &str, args: &[&str]) -> String {
    let out = env
        .batch_cmd_in(dir, args)
        .env("GIT_BATCH_NOW", now)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git batch {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A git command in `dir`, whatever its exit status.
fn git_out(env: &TestEnv, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("git");
    fixed_env(&mut cmd, &env.home());
    cmd.current_dir(dir).args(args).output().unwrap()
}

fn task_in(dir: &Path, id: &str) -> toml::Value {
    let text = std::fs::read_to_string(dir.join(format!(".batch/tasks/{id}.toml"))).unwrap();
    toml::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"))
}

fn note_texts(task: &toml::Value) -> Vec<String> {
    task.get("notes")
        .and_then(|n| n.as_array())
        .map(|notes| {
            notes
                .iter()
                .map(|n| n["text"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Starts `id` as a worker and returns its worktree.
fn start(env: &TestEnv, id: &str) -> PathBuf {
    let s: serde_json::Value = env.json(&["start", id, "--worker", "w"]);
    PathBuf::from(s["path"].as_str().unwrap())
}

/// The issue "landing keeps everyone's words": while the worker notes and
/// finishes on its branch, a reviewer notes and rewrites the body on main.
/// The replay's task file conflict used to take the worker's file whole.
#[test]
fn a_landing_keeps_the_reviewers_note_and_body_and_the_workers_note() {
    let (env, bare) = with_remote();
    let id = env.create(&["port the parser", "--scope", "p/**", "-d", "draft"]);
    sync(&env);
    let wt = start(&env, &id);
    std::fs::create_dir_all(wt.join("p")).unwrap();
    std::fs::write(wt.join("p/a.txt"), "ported\n").unwrap();
    at(
        &env,
        &wt,
        "2026-03-01T10:00:00Z",
        &["note", &id, "worker: ported"],
    );
    env.ok_in(&wt, &["done"]);
    // Later than the worker's note, but on main: time order, not side
    // order, puts it second.
    let now = "2026-03-01T10:30:00Z";
    at(
        &env,
        &env.repo,
        now,
        &["note", &id, "reviewer: mind the BOM"],
    );
    at(
        &env,
        &env.repo,
        now,
        &["update", &id, "--body", "handle the BOM too"],
    );
    sync(&env);

    let report: serde_json::Value = env.json(&["land", "--remote", "origin"]);
    assert_eq!(report["landed"], serde_json::json!([id]), "{report}");
    let t: toml::Value = toml::from_str(&remote_task(&env, &bare, &id)).unwrap();
    assert_eq!(t["status"].as_str(), Some("closed"), "{t}");
    assert_eq!(t["body"].as_str(), Some("handle the BOM too"), "{t}");
    let notes = note_texts(&t);
    let pos = |text: &str| {
        notes
            .iter()
            .position(|n| n == text)
            .unwrap_or_else(|| panic!("no note {text:?} in {notes:?}"))
    };
    assert!(
        pos("worker: ported") < pos("reviewer: mind the BOM"),
        "{notes:?}"
    );
    // Merged without a clash, and said so.
    let merged = report["merged"].as_array().expect("a merged list");
    assert_eq!(merged.len(), 1, "{report}");
    assert_eq!(merged[0]["id"], serde_json::json!(id));
    assert_eq!(merged[0]["clashes"], serde_json::json!([]));
    assert_eq!(merged[0]["whole"], serde_json::json!(false));
}

/// A user noted a task locally while a landing closed it upstream: their
/// `git pull` (merge or rebase) merges the task file through the driver.
#[test]
fn a_pull_keeps_a_local_note_on_a_task_landed_upstream() {
    let (env, bare) = with_remote();
    let id = env.create(&["t", "--scope", "t/**"]);
    sync(&env);
    let merging = env.clone_of(&bare, "merging");
    let rebasing = env.clone_of(&bare, "rebasing");
    for (dir, text) in [
        (&merging, "merging: a thought"),
        (&rebasing, "rebasing: a thought"),
    ] {
        at(&env, dir, "2026-03-01T09:00:00Z", &["note", &id, text]);
    }
    let wt = start(&env, &id);
    std::fs::create_dir_all(wt.join("t")).unwrap();
    std::fs::write(wt.join("t/f"), "f\n").unwrap();
    at(
        &env,
        &wt,
        "2026-03-01T10:00:00Z",
        &["note", &id, "worker: done it"],
    );
    env.ok_in(&wt, &["done"]);
    let report: serde_json::Value = env.json(&["land", "--remote", "origin"]);
    assert_eq!(report["landed"], serde_json::json!([id]), "{report}");

    for (dir, mode, mine) in [
        (&merging, "--no-rebase", "merging: a thought"),
        (&rebasing, "--rebase", "rebasing: a thought"),
    ] {
        let out = git_out(&env, dir, &["pull", "-q", mode, "origin", "main"]);
        assert!(
            out.status.success(),
            "git pull {mode}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let t = task_in(dir, &id);
        assert_eq!(t["status"].as_str(), Some("closed"), "{mode}: {t}");
        assert!(t.get("landed").is_some(), "{mode}: {t}");
        assert_eq!(
            note_texts(&t)
                .iter()
                .filter(|n| *n == mine || *n == "worker: done it")
                .collect::<Vec<_>>(),
            [mine, "worker: done it"],
            "{mode}: {t}"
        );
        // Nothing left half-merged, and git-batch reads the result.
        assert_eq!(env.git_in(dir, &["status", "--porcelain"]), "", "{mode}");
        let shown: serde_json::Value =
            serde_json::from_str(&env.ok_in(dir, &["--json", "show", &id])).unwrap();
        assert_eq!(shown["status"], "closed");
    }
}

/// A title changed on both sides is the people's field: the merge keeps
/// ours and says what it dropped.
#[test]
fn a_title_changed_on_both_sides_keeps_ours_and_is_reported() {
    let (env, bare) = with_remote();
    let id = env.create(&["the title"]);
    sync(&env);
    let other = env.clone_of(&bare, "other");
    env.ok(&["update", &id, "--title", "upstream's title"]);
    sync(&env);
    env.ok_in(&other, &["update", &id, "--title", "my title"]);
    let out = git_out(&env, &other, &["pull", "--no-rebase", "origin", "main"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(task_in(&other, &id)["title"].as_str(), Some("my title"));
    assert!(
        stderr.contains(&format!(
            ".batch/tasks/{id}.toml: title changed on both sides; kept ours, not theirs \"upstream's title\""
        )),
        "{stderr}"
    );
}

/// In a landing a clash can only be over a worker's field (a branch that
/// changes any other is left out for its scope): main deferred the task
/// while its worker finished it. The worker's status wins, and the
/// landing's report says so.
#[test]
fn a_landing_reports_a_clash_and_gives_the_worker_its_status() {
    let (env, bare) = with_remote();
    let id = env.create(&["t", "--scope", "t/**"]);
    sync(&env);
    let wt = start(&env, &id);
    std::fs::create_dir_all(wt.join("t")).unwrap();
    std::fs::write(wt.join("t/f"), "f\n").unwrap();
    env.ok_in(&wt, &["done"]);
    env.ok(&["update", &id, "--status", "deferred"]);
    sync(&env);
    let report: serde_json::Value = env.json(&["land", "--remote", "origin"]);
    assert_eq!(report["landed"], serde_json::json!([id]), "{report}");
    let merged = &report["merged"][0];
    assert_eq!(merged["id"], serde_json::json!(id), "{report}");
    assert_eq!(merged["branch"], serde_json::json!(id));
    assert_eq!(
        merged["clashes"],
        serde_json::json!([{
            "field": "status", "kept": "theirs", "ours": "deferred", "theirs": "done"
        }]),
        "{report}"
    );
    assert!(remote_task(&env, &bare, &id).contains("status = \"closed\""));
    // And in words, without --json.
    let again = env.create(&["u", "--scope", "u/**"]);
    sync(&env);
    let wt = start(&env, &again);
    std::fs::create_dir_all(wt.join("u")).unwrap();
    std::fs::write(wt.join("u/f"), "f\n").unwrap();
    env.ok_in(&wt, &["done"]);
    env.ok(&["update", &again, "--status", "deferred"]);
    sync(&env);
    let out = env.run(&["land", "--remote", "origin"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{again} (replaying {again}): status changed on both sides; kept the branch's, not main's \"deferred\""
        )),
        "{stderr}"
    );
}

/// A version that does not read as a task is left to a person: the pull
/// stops with git's conflict markers in the file.
#[test]
fn a_task_file_that_does_not_parse_is_a_conflict_with_markers() {
    let (env, bare) = with_remote();
    let id = env.create(&["the title"]);
    sync(&env);
    let other = env.clone_of(&bare, "other");
    // The clone's first command sets the driver up.
    env.ok_in(&other, &["show", &id]);
    env.ok(&["note", &id, "upstream's note"]);
    sync(&env);
    let rel = format!(".batch/tasks/{id}.toml");
    let path = other.join(&rel);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}colour = \"red\"\n")).unwrap();
    env.git_in(&other, &["commit", "-q", "--no-verify", "-am", "by hand"]);
    let out = git_out(&env, &other, &["pull", "--no-rebase", "origin", "main"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot merge it field by field (ours: line"),
        "{stderr}"
    );
    let merged = std::fs::read_to_string(&path).unwrap();
    assert!(
        merged.contains("<<<<<<< ours") && merged.contains(">>>>>>> theirs"),
        "{merged}"
    );
    let unmerged = env.git_in(&other, &["diff", "--name-only", "--diff-filter=U"]);
    assert_eq!(unmerged.trim(), rel);
}

/// `init` sets the driver up: the config (only where git has none; a
/// user's own driver is kept) and, in a repository an older `init` made,
/// the attribute line.
#[test]
fn init_sets_up_the_driver_and_keeps_a_users_own() {
    let env = TestEnv::new();
    let driver = |dir: &Path| {
        env.git_in(dir, &["config", "merge.batch-task.driver"])
            .trim()
            .to_string()
    };
    assert_eq!(driver(&env.repo), "git-batch merge-task %O %A %B %P");
    assert!(
        env.read(".batch/.gitattributes")
            .lines()
            .any(|l| l == "tasks/*.toml merge=batch-task")
    );
    // An older init's attributes: the line is added and committed.
    env.write(
        ".batch/.gitattributes",
        "receipts/*.log merge=union\n*.bin binary",
    );
    env.git(&["commit", "-q", "-am", "old attributes"]);
    let out = env.ok(&["init"]);
    assert!(out.contains("updated .batch/.gitattributes"), "{out}");
    assert_eq!(
        env.read(".batch/.gitattributes"),
        "receipts/*.log merge=union\n*.bin binary\n# Task files merge field by field \
         (`git batch merge-task`): both sides' notes and edits are kept.\n\
         tasks/*.toml merge=batch-task\n"
    );
    assert_eq!(env.git(&["status", "--porcelain"]), "");
    assert!(env.ok(&["init"]).contains("nothing to do"));
    // A clone gets the config from its first command; a driver the user
    // set is not replaced.
    let bare = env.dir.path().join("origin.git");
    env.git(&["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    env.git(&["push", "-q", bare.to_str().unwrap(), "main"]);
    let clone = env.clone_of(&bare, "clone");
    env.ok_in(&clone, &["list"]);
    assert_eq!(driver(&clone), "git-batch merge-task %O %A %B %P");
    env.git_in(
        &clone,
        &[
            "config",
            "merge.batch-task.driver",
            "/opt/git-batch merge-task %O %A %B",
        ],
    );
    env.ok_in(&clone, &["list"]);
    assert_eq!(driver(&clone), "/opt/git-batch merge-task %O %A %B");
}
