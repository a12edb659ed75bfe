//! What users read: messages, hints and exit codes as snapshots, some run
//! in-process through a buffered output layer (`commands::run_captured`),
//! some as the real program.

use crate::common::{TestEnv, render_output};
use git_batch::commands::run_captured;

/// In-process, for commands that only read: the process's environment is
/// the test runner's, which these commands do not consult.
fn inside(env: &TestEnv, args: &[&str], names: &[&str]) -> String {
    let out = run_captured(&env.repo, args);
    render_output(
        i32::from(out.exit),
        &out.stdout,
        &out.stderr,
        env.dir.path(),
        names,
    )
}

#[test]
fn show_and_blocked_print_what_a_person_reads() {
    let env = TestEnv::new();
    let create = |args: &[&str]| {
        let out = env
            .batch_cmd(&[&["create"][..], args].concat())
            .env("GIT_BATCH_NOW", "2026-01-02T03:04:05Z")
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let a = create(&["Port the parser", "--scope", "src/parser/**", "-p", "1"]);
    let b = create(&["Use the new parser", "--dep", &a, "--estimate", "S"]);
    insta::assert_snapshot!(inside(&env, &["show", &b], &[&a, &b]), @"
    exit: 0
    --- stdout
    [1]  Use the new parser
    status:     open    priority: P2    kind: task
    deps:       [0]
    blocked:    depends on [0] (open)
    estimate:   S
    created:    2026-01-02T03:04:05Z by Test Author
    updated:    2026-01-02T03:04:05Z
    --- stderr
    ");
    insta::assert_snapshot!(inside(&env, &["blocked"], &[&a, &b]), @"
    exit: 0
    --- stdout
    [1]       open         P2  task  Use the new parser
        <- depends on [0] (open)
    --- stderr
    ");
}

#[test]
fn an_unknown_task_is_an_error_with_a_hint() {
    let env = TestEnv::new();
    insta::assert_snapshot!(inside(&env, &["show", "bt-nope"], &[]), @"
    exit: 1
    --- stdout
    --- stderr
    Error: no task 'bt-nope' (no file [TMP]/repo/.batch/tasks/bt-nope.toml)
    Hint: `git batch list --all` shows every task id
    ");
    // The program prints what the in-process run printed.
    assert_eq!(
        env.snapshot(&["show", "bt-nope"], &[]),
        inside(&env, &["show", "bt-nope"], &[])
    );
    // The same error, for a script.
    insta::assert_snapshot!(inside(&env, &["--json", "show", "bt-nope"], &[]), @r#"
    exit: 1
    --- stdout
    --- stderr
    {"causes":[],"error":"no task 'bt-nope' (no file [TMP]/repo/.batch/tasks/bt-nope.toml)","exit_code":1,"hints":["`git batch list --all` shows every task id"]}
    "#);
}

#[test]
fn usage_errors_exit_2_and_outside_a_repository_is_a_user_error() {
    let env = TestEnv::new();
    insta::assert_snapshot!(inside(&env, &["show"], &[]), @"
    exit: 2
    --- stdout
    --- stderr
    error: the following required arguments were not provided:
      <ID>

    Usage: git batch show <ID>

    For more information, try '--help'.
    ");
    let outside = env.dir.path().join("not-a-repo");
    std::fs::create_dir_all(&outside).unwrap();
    let out = run_captured(&outside, &["ready"]);
    let text = render_output(
        i32::from(out.exit),
        &out.stdout,
        &out.stderr,
        env.dir.path(),
        &[],
    );
    insta::assert_snapshot!(text, @"
    exit: 1
    --- stdout
    --- stderr
    Error: not a git repository (or any parent up to /): [TMP]/not-a-repo
    Caused by: could not find repository at '[TMP]/not-a-repo'
    Hint: run it inside a git repository, or pass -C <dir>
    ");
}

#[test]
fn a_bad_config_value_names_its_file_line_and_key() {
    let env = TestEnv::new();
    let config = env.read(".batch/config.toml");
    env.write(
        ".batch/config.toml",
        &config.replace("timeout = \"30m\"", "timeout = \"soon\""),
    );
    insta::assert_snapshot!(env.snapshot(&["ready"], &[]), @"
    exit: 1
    --- stdout
    --- stderr
    Error: [TMP]/repo/.batch/config.toml:11: workers.timeout: 'soon' is not a duration (expected e.g. 30m, 2h)
    Hint: fix the file by hand (or `git checkout` it), then run the command again
    ");
}
