//! How a run is held back and picked up again: `--pause-after`,
//! `--max-tasks`, `--rerun-failed`, `--validate`, a failed dependency, a
//! plan edited between runs, a main branch the remote lacks, and `--ready`.

use crate::run::{project, run_cmd, split_plan, status, summary};

#[test]
fn pause_after_validate_and_a_failed_dependency() {
    let (env, _bare) = project(3);
    let a = env.create(&["a fails validation", "--scope", "src/m01.txt"]);
    let b = env.create(&["b waits for a", "--scope", "src/m02.txt", "--dep", &a]);
    let c = env.create(&["c is free", "--scope", "src/m03.txt"]);
    let state = env.dir.path().join("state");
    // The context names the file; --validate refuses m01's work.
    let validate = "! grep -q 'ported' src/m01.txt";
    let args = [&a, &b, &c]
        .iter()
        .map(|s| s.as_str())
        .chain([
            "--retries",
            "0",
            "--validate",
            validate,
            "--pause-after",
            "1",
            "-j",
            "1",
        ])
        .collect::<Vec<_>>();
    let run = |args: &[&str]| {
        let mut cmd = run_cmd(&env, &env.repo, &state, "0", args);
        cmd.env("WORKER_PLAIN", "1").output().unwrap()
    };
    let out = run(&args);
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&out);
    assert_eq!(s.failed + s.done, 1, "{s:?}");
    assert!(s.stopped.unwrap().contains("--pause-after"));

    let out = run(&args[..args.len() - 4]);
    assert_eq!(out.status.code(), Some(1));
    let s = summary(&out);
    assert_eq!((s.done, s.failed, s.queued), (1, 1, 1), "{s:?}");
    let w = &s.waiting[0];
    assert_eq!(w.id, b);
    assert!(
        w.reason.contains(&a) && w.reason.contains("failed"),
        "{w:?}"
    );
}

#[test]
fn a_run_refuses_local_commits_the_remote_lacks() {
    let (env, _bare) = project(2);
    split_plan(&env, &env.repo, "early", &[]);
    let state = env.dir.path().join("state");
    let out = run_cmd(
        &env,
        &env.repo,
        &state,
        "0",
        &["--plan", "early", "--remote", "origin"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("commit(s) that origin does not have"), "{err}");
    assert!(err.contains("git push origin main"), "{err}");
    assert!(!state.join("events").exists(), "no worker ran");
}

#[test]
fn a_task_taken_out_of_the_plan_is_not_run() {
    let (env, _bare) = project(3);
    let ids = split_plan(&env, &env.repo, "trim", &[]);
    let state = env.dir.path().join("state");
    let run = |extra: &[&str]| {
        let mut args = vec!["--plan", "trim", "-j", "1"];
        args.extend_from_slice(extra);
        run_cmd(&env, &env.repo, &state, "0", &args)
            .env("WORKER_PLAIN", "1")
            .output()
            .unwrap()
    };
    let out = run(&["--pause-after", "1"]);
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(summary(&out).done, 1);

    // The reviewer drops the last task from the manifest and commits that.
    let dropped = &ids[2];
    let path = env.repo.join(".batch/batches/trim.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text
        .split("[[tasks]]")
        .filter(|block| !block.contains(&format!("id = \"{dropped}\"")))
        .collect();
    assert_eq!(kept.len(), 3, "the header and two tasks:\n{text}");
    std::fs::write(&path, kept.join("[[tasks]]")).unwrap();
    env.git(&["commit", "-q", "-am", "trim: drop a task"]);

    let out = run(&[]);
    crate::common::assert_ok(&out);
    let s = summary(&out);
    assert_eq!((s.total, s.done, s.queued), (2, 2, 0), "{s:?}");
    let events = std::fs::read_to_string(state.join("events")).unwrap();
    assert!(!events.contains(dropped.as_str()), "{events}");
    assert_eq!(status(&env, &env.repo, "trim").total, 2);
}

#[test]
fn max_tasks_stops_the_run_and_a_higher_cap_goes_on() {
    let (env, _bare) = project(3);
    split_plan(&env, &env.repo, "capped", &[]);
    let state = env.dir.path().join("state");
    let run = |cap: &str| {
        run_cmd(
            &env,
            &env.repo,
            &state,
            "0",
            &["--plan", "capped", "--max-tasks", cap],
        )
        .env("WORKER_PLAIN", "1")
        .output()
        .unwrap()
    };
    let out = run("1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    let s = summary(&out);
    assert_eq!((s.done, s.queued), (1, 2), "{s:?}");
    assert!(
        s.stopped.as_deref().unwrap().contains("--max-tasks 1"),
        "{s:?}"
    );
    assert!(
        s.continue_with
            .as_deref()
            .unwrap()
            .contains("higher --max-tasks")
    );
    assert!(
        s.waiting.iter().all(|w| w.reason.contains("--max-tasks 1")),
        "{s:?}"
    );
    assert!(err.contains("a higher --max-tasks"), "{err}");

    let out = run("3");
    crate::common::assert_ok(&out);
    let s = summary(&out);
    assert_eq!(
        (s.done, s.queued, s.stopped.as_deref()),
        (3, 0, None),
        "{s:?}"
    );
}

#[test]
fn failed_tasks_stay_failed_until_rerun_failed() {
    // The worker fails m03's first attempt of each run with "the parser
    // exploded", and its second unless that error was fed back.
    let (env, _bare) = project(3);
    let ids = split_plan(&env, &env.repo, "again", &[]);
    let state = env.dir.path().join("state");
    let run = |extra: &[&str]| {
        let mut args = vec!["--plan", "again", "-j", "1"];
        args.extend_from_slice(extra);
        run_cmd(&env, &env.repo, &state, "0", &args)
            .output()
            .unwrap()
    };
    let out = run(&["--retries", "0"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!((summary(&out).done, summary(&out).failed), (2, 1));
    assert!(err.contains("`--rerun-failed` tries"), "{err}");
    // The reason names the worker's last word, as the failure record on
    // the branch has it (not a note's text with its heading and log).
    let v = status(&env, &env.repo, "again");
    let reason = v.task(&ids[2]).reason.clone().unwrap();
    assert_eq!(reason, "exited with 1: m03: the parser exploded");
    let human = env.ok_in(&env.repo, &["status", "--plan", "again"]);
    let line = format!("    {}  exited with 1: m03: the parser exploded\n", ids[2]);
    assert!(human.contains(&line), "{human}");

    let out = run(&["--retries", "1"]);
    assert_eq!(out.status.code(), Some(1), "failed stays failed");
    assert_eq!(summary(&out).failed, 1);

    let out = run(&["--retries", "1", "--rerun-failed"]);
    crate::common::assert_ok(&out);
    let s = summary(&out);
    assert_eq!((s.done, s.failed), (3, 0), "{s:?}");
    let v = status(&env, &env.repo, "again");
    assert_eq!((v.done, v.failed), (3, 0), "{v:?}");
    // The branch tells the story: failed, reopened, done.
    let branch = format!("batch/{}", ids[2]);
    let log = env.git(&["log", "--format=%s", &branch]);
    let subjects: Vec<&str> = log.lines().take(3).collect();
    assert!(subjects[0].starts_with("batch: done"), "{log}");
    assert!(subjects[2].starts_with("batch: failed"), "{log}");
    assert_eq!(
        subjects[1],
        format!("batch: retry {} (it was failed)", ids[2])
    );
}

#[test]
fn a_worker_out_of_scope_fails_with_the_files_on_one_line() {
    let (env, _bare) = project(2);
    let ids = split_plan(&env, &env.repo, "stray", &[]);
    let out = env
        .batch_cmd_in(
            &env.repo,
            &[
                "run",
                "--plan",
                "stray",
                "-j",
                "1",
                "--retries",
                "0",
                "--exec",
                "echo all went well; echo stray >> src/m01.txt",
            ],
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // m01's task may edit m01; m02's may not, and `done` says which file.
    let failed: Vec<&str> = err.lines().filter(|l| l.contains(" failed (")).collect();
    assert_eq!(failed.len(), 1, "{err}");
    assert!(
        failed[0].starts_with(&format!("[2/2] {} failed (", ids[1])),
        "{err}"
    );
    assert!(failed[0].contains("outside its scope"), "{err}");
    assert!(
        failed[0].contains("src/m01.txt after 1 attempt(s)"),
        "{err}"
    );
    // The worker exited 0: its last line is not the reason, `done`'s is.
    assert!(!failed[0].contains("all went well"), "{err}");
    let v = status(&env, &env.repo, "stray");
    let reason = v.task(&ids[1]).reason.clone().unwrap();
    assert!(
        !reason.contains('\n') && reason.contains("src/m01.txt"),
        "{reason}"
    );
}

#[test]
fn a_killed_attempt_leaves_no_git_lock_behind_for_the_next() {
    // The first attempt takes the worktree's index lock, as a `git commit`
    // does, and is killed at its timeout with the lock held.
    let (env, _bare) = project(1);
    split_plan(&env, &env.repo, "locked", &[]);
    let exec = r#"if [ "$BATCH_ATTEMPT" = 1 ]; then touch "$(git rev-parse --git-dir)/index.lock"; sleep 30; fi; echo ported > src/m01.txt"#;
    let out = env
        .batch_cmd_in(
            &env.repo,
            &[
                "--json",
                "run",
                "--plan",
                "locked",
                "--timeout",
                "1s",
                "--retries",
                "1",
                "--exec",
                exec,
            ],
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let s = summary(&out);
    assert_eq!((s.done, s.failed), (1, 0), "{s:?}");
}

/// `run --ready` runs the ready tasks nobody holds; without a selection the
/// run is refused as a usage error.
#[test]
fn run_ready_takes_the_free_ready_tasks() {
    let (env, _bare) = project(3);
    let free = env.create(&["free", "--scope", "src/m01.txt"]);
    let held = env.create(&["held", "--scope", "src/m02.txt"]);
    let later = env.create(&["later", "--scope", "src/m03.txt", "--dep", &held]);
    env.ok(&["claim", &held, "--worker", "someone"]);
    let state = env.dir.path().join("state");
    let out = run_cmd(&env, &env.repo, &state, "0", &["--ready"])
        .env("WORKER_PLAIN", "1")
        .output()
        .unwrap();
    crate::common::assert_ok(&out);
    let s = summary(&out);
    assert_eq!((s.total, s.done), (1, 1), "{s:?}");
    // Done on its branch (main hears of it when it lands); no branch for
    // the others.
    let on_branch = env.git(&["show", &format!("batch/{free}:.batch/tasks/{free}.toml")]);
    assert!(on_branch.contains("status = \"done\""), "{on_branch}");
    let branches = env.git(&["branch", "--list", "batch/*"]);
    assert_eq!(branches.lines().count(), 1, "{branches}");
    assert!(!branches.contains(&later) && !branches.contains(&held));
    let err = env.fails(&["run", "--exec", "true"], 2);
    assert!(err.contains("--plan NAME, task ids, or --ready"), "{err}");
}
