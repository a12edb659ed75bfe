//! `.batch/config.toml` and plan manifests are checked when they are read:
//! a bad value is a user error (exit 1) naming the file, the line and the
//! key, for every command that reads them, never blamed on a flag; a bad
//! flag is still a usage error (exit 2) naming the flag.

use crate::common::TestEnv;

const CONFIG: &str = ".batch/config.toml";

/// Replaces the config line `from` with `to`; returns its line number.
fn set_line(env: &TestEnv, rel: &str, from: &str, to: &str) -> usize {
    let text = env.read(rel);
    let line = text
        .lines()
        .position(|l| l == from)
        .unwrap_or_else(|| panic!("no line {from:?} in {rel}:\n{text}"));
    env.write(rel, &text.replacen(from, to, 1));
    line + 1
}

/// Every command here reads the config; each must refuse it the same way.
const READERS: &[&[&str]] = &[
    &["ready"],
    &["list"],
    &["run", "--ready", "--exec", "true"],
    &["claim", "--next", "--worker", "w"],
    &["plan", "p"],
    &["land", "--no-push"],
];

#[track_caller]
fn refused_everywhere(env: &TestEnv, rel: &str, line: usize, key: &str) {
    for args in READERS {
        let err = env.fails(args, 1);
        assert!(
            err.contains(&format!("{rel}:{line}: {key}: ")),
            "{args:?} should name {rel}:{line} and {key}:\n{err}"
        );
        assert!(!err.contains("Error: --"), "{args:?} blames a flag:\n{err}");
    }
}

#[test]
fn a_bad_timeout_is_refused_at_load_naming_file_line_and_key() {
    let env = TestEnv::new();
    env.create(&["a task"]);
    let line = set_line(&env, CONFIG, "timeout = \"30m\"", "timeout = \"abc\"");
    refused_everywhere(&env, CONFIG, line, "workers.timeout");
    let err = env.fails(&["ready"], 1);
    assert!(
        err.contains("'abc' is not a duration (expected e.g. 30m, 2h)"),
        "{err}"
    );
}

#[test]
fn a_bad_claim_ttl_is_refused_at_load_not_at_claim_time() {
    let env = TestEnv::new();
    env.create(&["a task"]);
    let line = set_line(&env, CONFIG, "claim_ttl = \"2h\"", "claim_ttl = \"soon\"");
    refused_everywhere(&env, CONFIG, line, "workers.claim_ttl");
}

#[test]
fn a_wrong_type_names_file_line_and_key() {
    let env = TestEnv::new();
    let line = set_line(&env, CONFIG, "jobs = 4", "jobs = \"four\"");
    refused_everywhere(&env, CONFIG, line, "workers.jobs");
    set_line(&env, CONFIG, "jobs = \"four\"", "jobs = 0");
    let err = env.fails(&["ready"], 1);
    assert!(
        err.contains(&format!(
            "{CONFIG}:{line}: workers.jobs: must be at least 1"
        )),
        "{err}"
    );
}

#[test]
fn a_remote_that_would_be_an_option_of_git_is_refused_and_nothing_runs() {
    let env = TestEnv::new();
    env.create(&["a task"]);
    let marker = env.dir.path().join("executed");
    let line = set_line(
        &env,
        CONFIG,
        "commit = true",
        &format!("remote = \"--upload-pack=touch {}\"", marker.display()),
    );
    refused_everywhere(&env, CONFIG, line, "remote");
    env.fails(&["land"], 1);
    env.fails(&["start", "--next", "--worker", "w"], 1);
    assert!(!marker.exists(), "the remote ran as a git option");
    for bad in ["-o", "two words", ""] {
        let text = env.read(CONFIG);
        let current = text
            .lines()
            .find(|l| l.starts_with("remote = "))
            .unwrap()
            .to_string();
        set_line(&env, CONFIG, &current, &format!("remote = {bad:?}"));
        let err = env.fails(&["ready"], 1);
        assert!(err.contains(&format!("{CONFIG}:{line}: remote: ")), "{err}");
    }
}

#[test]
fn a_main_branch_that_would_be_an_option_of_git_is_refused() {
    let env = TestEnv::new();
    let line = set_line(
        &env,
        CONFIG,
        "main_branch = \"main\"",
        "main_branch = \"-x\"",
    );
    refused_everywhere(&env, CONFIG, line, "main_branch");
    let err = env.fails(&["ready"], 1);
    assert!(err.contains("'-x' is not a valid branch name"), "{err}");
    // `init` reads an existing config too.
    let err = env.fails(&["init"], 1);
    assert!(
        err.contains(&format!("{CONFIG}:{line}: main_branch")),
        "{err}"
    );
}

#[test]
fn a_bad_timeout_in_a_plan_names_the_plan_file() {
    let env = TestEnv::new();
    env.create(&["a task", "--scope", "a.txt"]);
    env.ok(&["plan", "p"]);
    let rel = ".batch/batches/p.toml";
    let line = set_line(&env, rel, "timeout = \"30m\"", "timeout = \"abc\"");
    let err = env.fails(&["run", "--plan", "p", "--exec", "true"], 1);
    assert!(
        err.contains(&format!(
            "{rel}:{line}: config.timeout: 'abc' is not a duration"
        )),
        "{err}"
    );
    assert!(!err.contains("--timeout"), "{err}");
}

#[test]
fn bad_flags_are_still_usage_errors_naming_the_flag() {
    let env = TestEnv::new();
    env.create(&["a task"]);
    let err = env.fails(&["run", "--ready", "--exec", "true", "--timeout", "abc"], 2);
    assert!(err.contains("--timeout: 'abc' is not a duration"), "{err}");
    let err = env.fails(&["plan", "p", "--timeout", "abc"], 2);
    assert!(err.contains("--timeout: "), "{err}");
    let err = env.fails(&["claim", "--next", "--worker", "w", "--ttl", "soon"], 2);
    assert!(err.contains("--ttl: 'soon' is not a duration"), "{err}");
    let err = env.fails(&["run", "--ready", "--exec", "true", "-j", "0"], 2);
    assert!(err.contains("--jobs must be at least 1"), "{err}");
}

#[test]
fn flags_win_over_the_plan_which_wins_over_the_config() {
    let env = TestEnv::new();
    env.create(&["a task", "--scope", "a.txt"]);
    set_line(&env, CONFIG, "retries = 1", "retries = 3");
    set_line(&env, CONFIG, "timeout = \"30m\"", "timeout = \"1h 30m\"");
    env.ok(&["plan", "p", "-j", "2"]);
    let plan = env.read(".batch/batches/p.toml");
    // The config's text, kept as written; the flag's value.
    assert!(plan.contains("timeout = \"1h 30m\""), "{plan}");
    assert!(plan.contains("retries = 3"), "{plan}");
    assert!(plan.contains("jobs = 2"), "{plan}");
}
