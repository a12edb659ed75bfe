//! What `land` checks before it works: unknown tasks, a local branch ahead
//! of the remote, a dirty checkout it would move; and how it ends: exit 1
//! when every task was left out, and saying when no test ran.

use crate::common::TestEnv;
use crate::land::{sync, with_remote, work};
use std::path::PathBuf;

#[test]
fn an_unknown_task_is_an_error() {
    let env = TestEnv::new();
    insta::assert_snapshot!(env.snapshot(&["land", "bt-gone"], &[]), @"
    exit: 1
    --- stdout
    --- stderr
    Error: no task 'bt-gone' (no file [TMP]/repo/.batch/tasks/bt-gone.toml)
    Hint: `git batch list --all` shows every task id
    ");
}

#[test]
fn unpushed_commits_on_main_stop_it_as_they_stop_run() {
    let (env, bare) = with_remote();
    // Created here and never pushed: the worker branch carries the commit.
    let id = env.create(&["a", "--scope", "a/**"]);
    work(&env, &id, &[("a/x", "x\n")]);
    let before = env.git_in(&bare, &["rev-parse", "main"]);
    insta::assert_snapshot!(env.snapshot(&["land", "--remote", "origin"], &[&id]), @"
    exit: 1
    --- stdout
    --- stderr
    Error: main has 1 commit(s) that origin does not have; the worker branches carry them, so the landing would judge them as the tasks' work
    Hint: push it first: `git push origin main`
    ");
    assert_eq!(env.git_in(&bare, &["rev-parse", "main"]), before);
    // Pushed, it lands.
    sync(&env);
    let report: serde_json::Value = env.json(&["land", "--remote", "origin"]);
    assert_eq!(report["landed"], serde_json::json!([id]), "{report}");
}

#[test]
fn a_dirty_checkout_without_a_remote_is_refused_before_the_tests() {
    let env = TestEnv::new();
    let id = env.create(&["a", "--scope", "a/**"]);
    work(&env, &id, &[("a/x", "x\n")]);
    // A change the landing does not touch is no obstacle; a file it would
    // write over is.
    env.write("README.md", "changed here\n");
    env.write("a/x", "mine\n");
    let marker = env.dir.path().join("tests-ran");
    let test = format!("touch {}", marker.display());
    insta::assert_snapshot!(env.snapshot(&["land", "--test", &test], &[&id]), @"
    exit: 1
    --- stdout
    --- stderr
    Error: main is checked out in [TMP]/repo with uncommitted changes, and the landing would move it: a/x
    Hint: commit or put those changes aside first; nothing was landed
    ");
    assert!(!marker.exists(), "the tests ran before the refusal");
    // Without it, it lands (and says the tests ran); the other change stays.
    std::fs::remove_file(env.repo.join("a/x")).unwrap();
    let out = env.run(&["land", "--test", &test]);
    crate::common::assert_ok(&out);
    assert!(marker.exists());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("(tests "), "{err}");
    assert_eq!(env.read("README.md"), "changed here\n");
    assert_eq!(env.read("a/x"), "x\n");
}

#[test]
fn without_a_test_command_it_says_no_test_ran() {
    let env = TestEnv::new();
    let id = env.create(&["a", "--scope", "a/**"]);
    work(&env, &id, &[("a/x", "x\n")]);
    let out = env.run(&["land"]);
    crate::common::assert_ok(&out);
    let tip = env.git(&["rev-parse", "--short=10", "main"]);
    let text = crate::common::render_output(
        0,
        &String::from_utf8_lossy(&out.stdout),
        &String::from_utf8_lossy(&out.stderr),
        env.dir.path(),
        &[&id, tip.trim()],
    );
    insta::assert_snapshot!(text, @"
    exit: 0
    --- stdout
    landed   [0]
    --- stderr
    main is now at [1] (no test ran)
    ");
}

#[test]
fn every_task_left_out_exits_1() {
    let env = TestEnv::new();
    let id = env.create(&["a", "--scope", "a/**"]);
    let s: serde_json::Value = env.json(&["start", &id, "--worker", "agent"]);
    let wt = PathBuf::from(s["path"].as_str().unwrap());
    // Outside its scope, hooks skipped, marked done by hand.
    std::fs::write(wt.join("README.md"), "mine\n").unwrap();
    env.done_by_hand(&wt, &id);
    let out = env.run(&["--json", "land"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["landed"], serde_json::json!([]), "{report}");
    assert_eq!(report["left_out"][0]["id"], id.as_str(), "{report}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("every task was left out"), "{err}");
}
