//! What a new user meets first (issue 18): help under its headings, man
//! pages where `man` finds them, completions, exit codes that agree, file
//! modes, examples that work, and a beads user's habits.

use crate::common::{BIN, TestEnv, fixed_env};
use clap::CommandFactory;
use git_batch::commands::Cli;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

/// Every command, subcommands included, as `(path, clap command)`.
fn every_command() -> Vec<(String, clap::Command)> {
    fn walk(prefix: &str, cmd: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
        for sub in cmd.get_subcommands() {
            let path = format!("{prefix} {}", sub.get_name());
            out.push((path.clone(), sub.clone()));
            walk(&path, sub, out);
        }
    }
    let mut cli = Cli::command();
    cli.build();
    let mut out = Vec::new();
    walk("git batch", &cli, &mut out);
    out
}

#[test]
fn global_flags_have_their_own_heading_in_every_help() {
    let env = TestEnv::bare_repo();
    for (path, _) in every_command() {
        let mut args: Vec<&str> = path.split(' ').skip(2).collect();
        if args.contains(&"help") {
            continue;
        }
        args.push("--help");
        let help = env.ok(&args);
        let (own, global) = help
            .split_once("\nGlobal options:\n")
            .unwrap_or_else(|| panic!("{path} --help has no 'Global options:' heading:\n{help}"));
        // The command's own options: what its Options heading lists.
        let own = own.rsplit_once("\nOptions:\n").map_or("", |(_, o)| o);
        for flag in ["--json", "--quiet", "--color", "-C <DIR>", "--no-commit"] {
            // An option's own line starts with it (`-q, --quiet` with its short).
            let listed = |text: &str| {
                text.lines().any(|l| {
                    let l = l.trim_start();
                    l.starts_with(flag)
                        || l.split_once(", ").is_some_and(|(_, f)| f.starts_with(flag))
                })
            };
            assert!(listed(global), "{path}: {flag} not under Global options");
            assert!(!listed(own), "{path}: {flag} among the command's options");
        }
    }
}

#[test]
fn an_invalid_value_is_a_usage_error_whichever_flag_it_is() {
    let env = TestEnv::new();
    let id = env.create(&["a task"]);
    let cases: &[&[&str]] = &[
        &["create", "x", "-p", "7"],
        &["create", "x", "--estimate", "XL"],
        &["create", "x", "--parent", "no/such"],
        &["create", "x", "--dep", "../up"],
        &["create", "x", "--scope", "src/[a"],
        &["update", &id, "-p", "9"],
        &["update", &id, "--add-scope", "src/[a"],
        &["split", "--title", "t {n}", "-p", "5"],
        &["list", "--parent", "bad id!"],
        &["ready", "--parent", "BAD!"],
        &["claim", "--next", "--parent", "../x"],
        &["init", "--prefix", "b d"],
        &["review", "nope"],
        &["claims", "--history", "-n", "x"],
        &["claim", "--next", "--ttl", "soon"],
    ];
    for args in cases {
        let err = env.fails(args, 2);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // Nothing was written by any of them.
    assert_eq!(env.ok(&["list", "--all"]).lines().count(), 1);
    insta::assert_snapshot!(env.snapshot(&["create", "x", "-p", "7"], &[]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value '7' for '--priority <N>': '7' is not a priority: give 0-4 (0 is highest)

    For more information, try '--help'.
    ");
}

/// Runs `git batch args` under `umask`.
fn with_umask(env: &TestEnv, umask: &str, args: &[&str]) {
    let mut cmd = Command::new("sh");
    fixed_env(&mut cmd, &env.home());
    let out = cmd
        .current_dir(&env.repo)
        .arg("-c")
        .arg(format!("umask {umask}; exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn files_keep_the_users_umask() {
    let env = TestEnv::new();
    with_umask(&env, "022", &["create", "shared"]);
    let id = env
        .ok(&["list"])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(mode(&env.task_file(&id)), 0o644);
    with_umask(&env, "002", &["update", &id, "--title", "group"]);
    assert_eq!(
        mode(&env.task_file(&id)),
        0o664,
        "a rewrite keeps the umask too"
    );
    with_umask(&env, "077", &["plan", "p", &id]);
    assert_eq!(mode(&env.repo.join(".batch/batches/p.toml")), 0o600);
}
