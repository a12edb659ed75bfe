//! Scopes are paths from the repository root (format 2): what the README's
//! bare names mean to `check` and `plan`, that the same meaning holds where
//! work is judged (`done`, the pre-commit hook, the landing), the paths
//! `split` writes, and the migration of a format 1 store.

use crate::common::{TaskJson, TestEnv};
use std::path::PathBuf;

/// A task `check` finds ready but for its scope.
fn task(env: &TestEnv, title: &str, scope: &str) -> String {
    env.create(&[
        title,
        "--scope",
        scope,
        "--accept",
        "it works",
        "--estimate",
        "S",
    ])
}

#[test]
fn two_top_level_files_do_not_overlap_and_an_overlap_names_a_path() {
    let env = TestEnv::new();
    let cargo = task(&env, "cargo", "Cargo.toml");
    let readme = task(&env, "readme", "README.md");
    env.ok(&["check", &cargo, &readme]);
    env.ok(&["plan", "two", &cargo, &readme]);
    // Any depth is said so, and overlaps the top-level file; with no such
    // file in the tree yet, the message makes one up from the two globs.
    let any = task(&env, "any", "**/Cargo.toml");
    let src = task(&env, "src", "src/*.rs");
    let lib = task(&env, "lib", "**/lib.rs");
    insta::assert_snapshot!(env.snapshot(&["check", &cargo, &any, &src, &lib], &[&cargo, &any, &src, &lib]), @"
    exit: 1
    --- stdout
    [0] and [1] overlap: 'Cargo.toml' and '**/Cargo.toml' can match the same files (e.g. Cargo.toml)
    [0] and [3] overlap: 'Cargo.toml' and '**/lib.rs' can match the same files (e.g. Cargo.toml/lib.rs)
    [2] and [3] overlap: 'src/*.rs' and '**/lib.rs' can match the same files (e.g. src/lib.rs)
    --- stderr
    Error: 3 problem(s) in 4 task(s)
    ");
    // A file of the tree is the example when there is one.
    let docs = task(&env, "docs", "*.md");
    insta::assert_snapshot!(env.snapshot(&["check", &readme, &docs], &[&readme, &docs]), @"
    exit: 1
    --- stdout
    [0] and [1] overlap: both match README.md
    --- stderr
    Error: 1 problem(s) in 2 task(s)
    ");
}

#[test]
fn create_and_update_write_no_leading_slash() {
    let env = TestEnv::new();
    let id = env.create(&["a", "--scope", "/Makefile", "--scope", "!/gen/**"]);
    let task: TaskJson = env.json(&["show", &id]);
    assert_eq!(task.scope, ["Makefile", "!gen/**"]);
    env.ok(&[
        "update",
        &id,
        "--add-scope",
        "/docs/",
        "--rm-scope",
        "/Makefile",
    ]);
    let task: TaskJson = env.json(&["show", &id]);
    assert_eq!(task.scope, ["!gen/**", "docs/"]);
}

/// Worktree of a task with scope `Cargo.toml`, where the worker writes the
/// top-level file (in scope) and `sub/Cargo.toml` (not).
fn below_the_top(env: &TestEnv) -> (String, PathBuf) {
    let id = env.create(&["cargo", "--scope", "Cargo.toml"]);
    let s: serde_json::Value = env.json(&["start", &id, "--worker", "agent"]);
    let wt = PathBuf::from(s["path"].as_str().unwrap());
    std::fs::write(wt.join("Cargo.toml"), "[package]\n").unwrap();
    std::fs::create_dir_all(wt.join("sub")).unwrap();
    std::fs::write(wt.join("sub/Cargo.toml"), "[package]\n").unwrap();
    (id, wt)
}

#[test]
fn a_file_below_a_top_level_scope_is_refused_by_done_the_hook_and_the_landing() {
    let env = TestEnv::new();
    let (id, wt) = below_the_top(&env);
    let out = env.batch_cmd_in(&wt, &["done"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("  sub/Cargo.toml"), "{err}");
    assert!(!err.contains("  Cargo.toml"), "{err}");
    // The pre-commit hook judges by the same matcher.
    env.git_in(&wt, &["add", "-A"]);
    let mut commit = std::process::Command::new("git");
    crate::common::fixed_env(&mut commit, &env.home());
    let out = commit
        .current_dir(&wt)
        .args(["commit", "-q", "-m", "both"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the hook let sub/Cargo.toml in");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sub/Cargo.toml"), "{err}");
    // An agent that skips the hook and marks itself done is left out.
    env.done_by_hand(&wt, &id);
    let out = env
        .batch_cmd(&["--json", "land", "--no-push"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["landed"], serde_json::json!([]), "{report}");
    assert_eq!(report["left_out"][0]["reason"], "scope", "{report}");
    let detail = report["left_out"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("sub/Cargo.toml"), "{detail}");
    assert!(env.git(&["ls-tree", "main", "Cargo.toml"]).is_empty());
}

#[test]
fn the_top_level_file_alone_is_done_and_lands() {
    let env = TestEnv::new();
    let (id, wt) = below_the_top(&env);
    std::fs::remove_dir_all(wt.join("sub")).unwrap();
    env.ok_in(&wt, &["done"]);
    let report: serde_json::Value = env.json(&["land", "--no-push"]);
    assert_eq!(report["landed"], serde_json::json!([id]), "{report}");
}

#[test]
fn split_scopes_from_items_are_paths_from_the_root() {
    let env = TestEnv::new();
    let made = crate::split::split(
        &env,
        &[
            "--scope-from-items",
            "--title",
            "Fix {first}",
            "--scope",
            "/notes/{n}.md",
            "--accept",
            "fixed",
            "--estimate",
            "S",
        ],
        "a.txt\n./b.txt\n/c.txt\nsrc/d.rs\n",
    );
    let scopes: Vec<&[String]> = made.tasks.iter().map(|t| t.scope.as_slice()).collect();
    assert_eq!(
        scopes,
        [
            ["notes/1.md", "a.txt"].map(String::from).as_slice(),
            ["notes/2.md", "b.txt"].map(String::from).as_slice(),
            ["notes/3.md", "c.txt"].map(String::from).as_slice(),
            ["notes/4.md", "src/d.rs"].map(String::from).as_slice(),
        ]
    );
    // Top-level names of different tasks are apart.
    env.ok(&["check", "--ready"]);
}

#[test]
fn a_format_1_store_is_warned_about_and_init_migrates_it() {
    let env = TestEnv::new();
    let id = env.create(&[
        "old",
        "--scope",
        "src/*.rs",
        "--scope",
        "/Makefile",
        "--scope",
        "*.md",
        "--scope",
        "!gen.md",
        "--scope",
        "docs/",
        "--scope",
        "notes",
    ]);
    // As a format 1 store has it (written by hand: git-batch writes no `/`).
    let rel = format!(".batch/tasks/{id}.toml");
    let text = env.read(&rel).replace("\"Makefile\"", "\"/Makefile\"");
    env.write(&rel, &text);
    let config = env.read(".batch/config.toml");
    assert!(config.contains("format = 2"), "{config}");
    env.write(
        ".batch/config.toml",
        &config.replace("format = 2", "format = 1"),
    );
    env.git(&["commit", "-q", "-am", "a format 1 store"]);
    insta::assert_snapshot!(env.snapshot(&["list"], &[&id]), @"
    exit: 0
    --- stdout
    [0]       open         P2  task  old
    --- stderr
    warning: .batch/config.toml has format 1: scopes are now paths from the repository root (`Cargo.toml` is the top-level file, `**/Cargo.toml` one at any depth); run `git batch init` to rewrite the task files' scopes with their old meaning
    ");
    // Not under a claim taken with the old meaning.
    env.ok(&["claim", &id, "--worker", "w"]);
    let err = env.fails(&["init"], 1);
    assert!(err.contains("while 1 task(s) are claimed"), "{err}");
    env.ok(&["release", &id, "--worker", "w"]);
    let init = env.ok(&["--json", "init"]);
    let report: serde_json::Value = serde_json::from_str(&init).unwrap();
    let updated: Vec<String> = serde_json::from_value(report["updated"].clone()).unwrap();
    assert_eq!(updated, [rel.clone(), ".batch/config.toml".to_string()]);
    let task: TaskJson = env.json(&["show", &id]);
    assert_eq!(
        task.scope,
        [
            "src/*.rs",
            "Makefile",
            "**/*.md",
            "!**/gen.md",
            "!**/gen.md/**",
            "**/docs/**",
            "**/notes",
            "**/notes/**"
        ]
    );
    assert!(env.read(".batch/config.toml").contains("format = 2"));
    // Committed, and no warning any more.
    assert!(env.git(&["status", "--porcelain"]).is_empty());
    let out = env.run(&["ready"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
