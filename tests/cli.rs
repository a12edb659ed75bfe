//! The command line itself: definition, help, completions, man page, global
//! flags, exit codes, colour and broken pipes.

use crate::common::{BIN, TestEnv, fixed_env};
use clap::CommandFactory;
use git_batch::commands::Cli;
use std::io::Read;
use std::process::{Command, Stdio};

#[test]
fn cli_definition_is_valid() {
    Cli::command().debug_assert();
}

#[test]
fn help_lists_every_command() {
    let env = TestEnv::bare_repo();
    let help = env.ok(&["--help"]);
    for cmd in [
        "init",
        "create",
        "show",
        "list",
        "update",
        "close",
        "reopen",
        "note",
        "dep",
        "ready",
        "blocked",
        "import",
        "export",
        "completions",
        "man",
    ] {
        assert!(
            help.contains(&format!("\n  {cmd} ")),
            "--help lacks {cmd}:\n{help}"
        );
    }
    assert!(help.contains("Exit codes"));
    let dep_help = env.ok(&["dep", "--help"]);
    assert!(dep_help.contains("cycles"));
}

#[test]
fn usage_errors_exit_2() {
    let env = TestEnv::new();
    env.fails(&[], 2);
    env.fails(&["no-such-command"], 2);
    env.fails(&["create"], 2);
    env.fails(&["list", "--status", "nonsense"], 2);
    env.fails(&["create", "x", "--estimate", "XL"], 2);
    assert_eq!(env.run(&["--version"]).status.code(), Some(0));
}

#[test]
fn completions_and_man_page() {
    let env = TestEnv::bare_repo();
    let bash = env.ok(&["completions", "bash"]);
    assert!(bash.contains("git-batch") && bash.contains("create"));
    let zsh = env.ok(&["completions", "zsh"]);
    assert!(zsh.contains("#compdef"));
    let man = env.ok(&["man"]);
    assert!(man.contains(".TH") && man.contains("ready"), "{man}");
    let out = env.dir.path().join("man");
    env.ok(&["man", "--out-dir", out.to_str().unwrap()]);
    assert!(out.join("git-batch.1").exists());
    assert!(out.join("git-batch-create.1").exists());
}

#[test]
fn dash_c_runs_elsewhere() {
    let env = TestEnv::new();
    let id = env.create(&["from here"]);
    let other = tempfile::tempdir().unwrap();
    let out = env.ok_in(
        other.path(),
        &["-C", env.repo.to_str().unwrap(), "show", &id],
    );
    assert!(out.contains("from here"));
    insta::assert_snapshot!(env.snapshot(&["-C", "/definitely/not/here", "list"], &[]), @"
    exit: 1
    --- stdout
    --- stderr
    Error: -C /definitely/not/here: cannot run there
    Caused by: No such file or directory (os error 2)
    Hint: give -C a directory inside the repository
    ");
}

#[test]
fn outside_a_repository_is_a_clear_error() {
    let env = TestEnv::bare_repo();
    let outside = tempfile::tempdir().unwrap();
    let out = env
        .batch_cmd_in(outside.path(), &["list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a git repository"), "{err}");
    assert!(err.contains("Hint:"), "{err}");
    // Inside a repository without .batch/: says to run init.
    insta::assert_snapshot!(env.snapshot(&["list"], &[]), @"
    exit: 1
    --- stdout
    --- stderr
    Error: not a git-batch repository: [TMP]/repo/.batch/config.toml does not exist
    Hint: run `git batch init` first
    ");
}

#[test]
fn json_errors_are_one_json_line_on_stderr() {
    let env = TestEnv::new();
    let out = env.run(&["--json", "show", "bt-nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["exit_code"], 1);
    assert!(err["error"].as_str().unwrap().contains("bt-nope"));
    assert!(!err["hints"].as_array().unwrap().is_empty());
}

#[test]
fn colour_follows_flag_and_no_color() {
    let env = TestEnv::new();
    env.create(&["coloured"]);
    let plain = env.ok(&["list"]);
    assert!(!plain.contains('\u{1b}'), "NO_COLOR set, got escapes");
    let coloured = env.ok(&["--color", "always", "list"]);
    assert!(
        coloured.contains('\u{1b}'),
        "--color always gave no escapes"
    );
    let never = env.ok(&["--color", "never", "list"]);
    assert!(!never.contains('\u{1b}'));
}

#[test]
fn broken_pipe_is_a_clean_exit() {
    let env = TestEnv::new();
    let file = env.dir.path().join("many.jsonl");
    let lines: String = (0..3000)
        .map(|i| format!("{{\"id\":\"bt-{i:05}\",\"title\":\"task {i} {}\",\"status\":\"open\",\"priority\":2}}\n", "x".repeat(100)))
        .collect();
    std::fs::write(&file, lines).unwrap();
    env.ok(&["import", "--beads", file.to_str().unwrap()]);
    let mut cmd = Command::new(BIN);
    fixed_env(&mut cmd, &env.home());
    let mut child = cmd
        .current_dir(&env.repo)
        .args(["list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 10];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout); // the reader goes away, like `| head -c 10`
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("Error"), "{stderr}");
}

#[test]
fn quiet_silences_status_but_not_data() {
    let env = TestEnv::new();
    let out = env.run(&["-q", "create", "quiet one"]);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("bt-"));
}

#[test]
fn quiet_silences_confirmations() {
    let env = TestEnv::bare_repo();
    let out = env.run(&["init", "-q"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let id = env.create(&["a task"]);
    for args in [
        vec!["update", id.as_str(), "-p", "1", "-q"],
        vec!["note", id.as_str(), "a note", "-q"],
        vec!["close", id.as_str(), "-q"],
        vec!["reopen", id.as_str(), "-q"],
    ] {
        let out = env.run(&args);
        assert!(out.status.success(), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "", "{args:?}");
    }
    // Without -q the same commands confirm what they did.
    assert!(env.ok(&["note", &id, "another"]).contains(&id));
}
