//! How a run left alone stops, and says why: a deadline, rate limits that
//! come in bursts, a pause that lands what finished, a landing that left a
//! task out; `stop_reason` in `run --json` and `status --json`, and
//! `status` saying "stopped" once no run is alive.

use crate::common::TestEnv;

fn tasks(env: &TestEnv, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| env.create(&[&format!("t{i}"), "--scope", &format!("d{i}/**")]))
        .collect()
}

fn run(env: &TestEnv, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let mut all = vec!["--json", "run"];
    all.extend_from_slice(args);
    let out = env.run(&all);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let summary = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad summary ({e}): {stderr}"));
    (out.status.code(), summary, stderr)
}

/// Writes the file of its scope; `$SLOW` seconds first.
const WORKER: &str = "d=$(sed -n 's/^- `\\([a-z0-9]*\\)\\/\\*\\*`$/\\1/p' \"$BATCH_CONTEXT\" | head -n 1); \
     sleep \"${SLOW:-0}\"; mkdir -p \"$d\" && echo \"$d\" > \"$d/f\"";

#[test]
fn a_deadline_stops_new_starts_and_lets_the_running_attempt_finish() {
    let env = TestEnv::new();
    let ids = tasks(&env, 3);
    let mut args = vec!["--exec", WORKER, "-j", "1", "--for", "2s"];
    args.extend(ids.iter().map(String::as_str));
    let out = env
        .batch_cmd(&[&["--json", "run"], &args[..]].concat())
        .env("SLOW", "3")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["stop_reason"], "deadline", "{s}");
    assert_eq!(
        (s["done"].as_u64(), s["queued"].as_u64()),
        (Some(1), Some(2)),
        "{s}"
    );
    // No run is alive: stopped, not running, and no time left to guess.
    let status: serde_json::Value = env.json(&["status"]);
    let view = &status["runs"][0];
    assert_eq!(view["status"], "stopped", "{status}");
    assert_eq!(view["stop_reason"], "deadline");
    assert!(view.get("eta_secs").is_none(), "{status}");
    assert!(env.ok(&["status"]).contains("stopped"));
    // --until in the past: nothing starts at all.
    let (code, s, _) = run(
        &env,
        &["--exec", WORKER, "--until", "2020-01-01T00:00:00Z", &ids[1]],
    );
    assert_eq!((code, s["done"].as_u64()), (Some(75), Some(0)), "{s}");
    let err = env.fails(&["run", "--exec", WORKER, "--until", "soon", &ids[1]], 2);
    assert!(err.contains("--until soon: not a time"), "{err}");
}

/// Three workers hit the same rate limit at once (exit 75 on their first
/// try): one event, not three, so `--max-rate-limits 2` does not stop the
/// run, and all three finish after the pause.
#[test]
fn a_burst_of_rate_limits_from_parallel_workers_counts_once() {
    let env = TestEnv::new();
    let ids = tasks(&env, 3);
    let marks = env.dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let exec = format!(
        "m={m}/$BATCH_TASK; if [ ! -e $m ]; then touch $m; \
         while [ $(ls {m} | wc -l) -lt 3 ]; do sleep 0.05; done; exit 75; fi; {WORKER}",
        m = marks.display()
    );
    let mut args = vec![
        "--exec",
        exec.as_str(),
        "-j",
        "3",
        "--max-rate-limits",
        "2",
        "--backoff",
        "1s",
    ];
    args.extend(ids.iter().map(String::as_str));
    // Without --json: the progress lines on stderr say how it counted.
    let out = env.run(&[&["run"], &args[..]].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("[3/3]"), "{err}");
    assert!(err.contains("rate limit 1 of 2"), "{err}");
    assert!(!err.contains("rate limit 2 of 2"), "one event: {err}");
}

/// `--pause-after 1 --land` lands what finished before it stops; a landing
/// that leaves a task out makes the run exit 1.
#[test]
fn a_pause_lands_first_and_a_task_left_out_is_a_failure() {
    let env = TestEnv::new();
    let ids = tasks(&env, 2);
    let (code, s, err) = run(
        &env,
        &[
            "--exec",
            WORKER,
            "-j",
            "1",
            "--land",
            "--pause-after",
            "1",
            &ids[0],
            &ids[1],
        ],
    );
    assert_eq!(code, Some(75), "{err}");
    assert_eq!(s["stop_reason"], "paused");
    assert_eq!(s["landed"].as_array().unwrap().len(), 1, "{s}");

    let more = tasks(&env, 2);
    let bad = format!(
        "{WORKER}; [ \"$BATCH_TASK\" = {} ] && echo broken > d0/f; true",
        more[0]
    );
    let (code, s, err) = run(
        &env,
        &[
            "--exec",
            &bad,
            "-j",
            "2",
            "--land",
            "--test",
            "! grep -rqs broken .",
            &more[0],
            &more[1],
        ],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("1 left out of a landing"), "{err}");
    assert_eq!(s["left_out"][0]["id"], more[0].as_str(), "{s}");
}

/// `run --events`: one JSON object per line on stdout as things happen,
/// the summary last; the exit code as without it.
#[test]
fn events_stream_as_json_lines_and_the_summary_comes_last() {
    let env = TestEnv::new();
    let ids = tasks(&env, 2);
    let exec = format!("[ \"$BATCH_TASK\" = {} ] && exit 3; {WORKER}", ids[1]);
    let out = env.run(&[
        "run",
        "--events",
        "--retries",
        "0",
        "--exec",
        &exec,
        &ids[0],
        &ids[1],
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let (summary, events) = lines.split_last().unwrap();
    assert_eq!(
        (summary["done"].as_u64(), summary["failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(summary["stop_reason"], "finished");
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap(),
                e["task"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(kinds.contains(&("started", ids[0].as_str())), "{kinds:?}");
    assert!(kinds.contains(&("done", ids[0].as_str())), "{kinds:?}");
    assert!(kinds.contains(&("failed", ids[1].as_str())), "{kinds:?}");
    assert!(
        events
            .iter()
            .all(|e| e["at"].is_string() && e["total"] == 2)
    );
}

/// The overnight run left alone: three agents, six tickets, the first
/// three hit a rate limit together (one event), the deadline comes while
/// the second wave works (it finishes, nothing new starts, exit 75 with
/// `deadline`), and in the morning the same command without a deadline
/// finishes the rest.
#[test]
fn an_overnight_run_with_a_deadline_and_rate_limits_resumes_in_the_morning() {
    let env = TestEnv::new();
    let ids = tasks(&env, 6);
    let marks = env.dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let exec = format!(
        "m={m}/$BATCH_TASK; if [ ! -e {m}/limited ] && [ ! -e $m ]; then touch $m; \
         while [ $(ls {m} | wc -l) -lt 3 ]; do sleep 0.05; done; touch {m}/limited.$BATCH_TASK; exit 75; fi; \
         [ -e {m}/limited.$BATCH_TASK ] || touch {m}/limited; sleep \"${{SLOW:-0}}\"; {WORKER}",
        m = marks.display()
    );
    let mut args = vec![
        "--json",
        "run",
        "--exec",
        exec.as_str(),
        "-j",
        "3",
        "--backoff",
        "1s",
        "--for",
        "6s",
    ];
    args.extend(ids.iter().map(String::as_str));
    let out = env.batch_cmd(&args).env("SLOW", "4").output().unwrap();
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(75), "{s}");
    // The rate limit the night had: one event, and until when it waited;
    // the retries that came after it succeeded, so the count went back.
    let name = s["name"].as_str().unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&env.read(&format!(".git/batch/runs/{name}.json"))).unwrap();
    assert!(
        state.get("rate_limits").is_none(),
        "reset by a success: {state}"
    );
    assert_eq!(s["stop_reason"], "deadline", "{s}");
    let first = s["done"].as_u64().unwrap();
    assert!(
        (1..6).contains(&first),
        "some, not all, before the deadline: {s}"
    );
    // The morning: the same command, no deadline.
    let morning: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| *a != "--for" && *a != "6s")
        .collect();
    let out = env.batch_cmd(&morning).output().unwrap();
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert_eq!(
        (s["done"].as_u64(), s["stop_reason"].as_str()),
        (Some(6), Some("finished")),
        "{s}"
    );
}

/// A run stopped by rate limits says so in `status`: how many in a row and
/// until when it waited.
#[test]
fn status_shows_the_rate_limits_a_run_stopped_on() {
    let env = TestEnv::new();
    let ids = tasks(&env, 1);
    let (code, s, _) = run(
        &env,
        &[
            "--exec",
            "exit 75",
            "--max-rate-limits",
            "1",
            "--backoff",
            "1s",
            &ids[0],
        ],
    );
    assert_eq!(
        (code, s["stop_reason"].as_str()),
        (Some(75), Some("rate_limited")),
        "{s}"
    );
    let status: serde_json::Value = env.json(&["status"]);
    let view = &status["runs"][0];
    assert_eq!(view["stop_reason"], "rate_limited", "{status}");
    assert_eq!(view["rate_limits"]["count"], 1, "{status}");
    assert!(view["rate_limits"]["paused_until"].is_string(), "{status}");
    let text = env.ok(&["status"]);
    assert!(
        text.contains("rate limited: 1 event(s) in a row; no new starts until"),
        "{text}"
    );
}

/// One Ctrl-C through the real `git batch` wrapper (a SIGINT to the whole
/// process group, as a terminal sends it; git passes it on as well, so
/// git-batch gets it twice at once): the running workers finish, nothing
/// new starts. git then dies of the signal itself (exit 130: documented;
/// `git-batch run` exits 75).
#[test]
fn one_ctrl_c_through_git_lets_the_running_workers_finish() {
    use std::os::unix::process::CommandExt;
    let env = TestEnv::new();
    let ids = tasks(&env, 4);
    let started = env.dir.path().join("started");
    std::fs::create_dir_all(&started).unwrap();
    let exec = format!("touch {}/$BATCH_TASK; sleep 2; {WORKER}", started.display());
    let mut args = vec!["batch", "--json", "run", "--exec", exec.as_str(), "-j", "2"];
    args.extend(ids.iter().map(String::as_str));
    let mut cmd = std::process::Command::new("git");
    crate::common::fixed_env(&mut cmd, &env.home());
    let child = cmd
        .args(&args)
        .current_dir(&env.repo)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_dir(&started).unwrap().count() < 2 {
        assert!(
            std::time::Instant::now() < until,
            "the workers never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // git-batch, git's child: it gets the terminal's SIGINT and the one git
    // passes on, at once (sent here, so the double is certain).
    let batch = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id()))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse::<i32>()
        .unwrap();
    // SAFETY: signals to the process group this test started, and to the
    // git-batch process in it.
    unsafe {
        libc::kill(-(child.id() as i32), libc::SIGINT);
        libc::kill(batch, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    use std::os::unix::process::ExitStatusExt;
    // git dies of the Ctrl-C itself. Under load its own signal handler may
    // reap git-batch before its main path waits for it, and git then says
    // so instead (a race inside git, not git-batch's exit).
    assert!(
        out.status.signal() == Some(libc::SIGINT)
            || out.status.code() == Some(130)
            || err.contains("waitpid for git-batch failed"),
        "{:?}: {err}",
        out.status
    );
    let s: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(
        (s["done"].as_u64(), s["stop_reason"].as_str()),
        (Some(2), Some("interrupted")),
        "{s}"
    );
    assert_eq!(
        std::fs::read_dir(&started).unwrap().count(),
        2,
        "nothing new started"
    );
}

/// `--kill-after`: that long after the deadline, the attempts still running
/// are killed and queued again (not counted); the run exits 75 on the
/// deadline, and the morning's run does them.
#[test]
fn a_hard_deadline_kills_what_still_runs() {
    let env = TestEnv::new();
    let ids = tasks(&env, 1);
    let exec = format!("sleep \"${{SLOW:-0}}\"; {WORKER}");
    let args = [
        "--exec",
        exec.as_str(),
        "--for",
        "1s",
        "--kill-after",
        "1s",
        ids[0].as_str(),
    ];
    let out = env
        .batch_cmd(&[&["--json", "run"], &args[..]].concat())
        .env("SLOW", "60")
        .output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (out.status.code(), s["stop_reason"].as_str()),
        (Some(75), Some("deadline")),
        "{s}"
    );
    assert_eq!(
        (s["done"].as_u64(), s["queued"].as_u64()),
        (Some(0), Some(1)),
        "{s}"
    );
    let name = s["name"].as_str().unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&env.read(&format!(".git/batch/runs/{name}.json"))).unwrap();
    assert_eq!(
        state["tasks"][&ids[0]]["attempts"], 0,
        "not counted: {state}"
    );
    let err = env.fails(&["run", "--exec", "true", "--kill-after", "1s", &ids[0]], 2);
    assert!(err.contains("--kill-after counts from a deadline"), "{err}");
    let (code, s, _) = run(&env, &["--exec", WORKER, &ids[0]]);
    assert_eq!((code, s["done"].as_u64()), (Some(0), Some(1)), "{s}");
}

/// `BATCH_ATTEMPT` is the attempt's log number: it keeps counting when a
/// failed task is run again with `--rerun-failed`.
#[test]
fn batch_attempt_keeps_counting_across_reruns_with_the_logs() {
    let env = TestEnv::new();
    let ids = tasks(&env, 1);
    let seen = env.dir.path().join("attempts");
    let exec = format!(
        "echo $BATCH_ATTEMPT >> {}; [ $BATCH_ATTEMPT -ge 2 ] || exit 1; {WORKER}",
        seen.display()
    );
    let (code, _, _) = run(&env, &["--exec", &exec, "--retries", "0", &ids[0]]);
    assert_eq!(code, Some(1));
    let (code, s, err) = run(
        &env,
        &["--exec", &exec, "--retries", "0", "--rerun-failed", &ids[0]],
    );
    assert_eq!((code, s["done"].as_u64()), (Some(0), Some(1)), "{err}");
    assert_eq!(std::fs::read_to_string(&seen).unwrap(), "1\n2\n");
    let logs = s["logs"].as_str().unwrap();
    assert!(
        std::path::Path::new(logs)
            .join(format!("{}.2.log", ids[0]))
            .exists()
    );
}
