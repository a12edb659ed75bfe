//! Many processes at once, and processes killed mid-write.

use crate::common::{TaskJson, TestEnv};
use std::process::Stdio;
use std::time::Duration;

#[test]
fn eight_processes_creating_and_reading_at_once() {
    let env = TestEnv::new();
    const PROCS: usize = 8;
    const EACH: usize = 6;
    let script = format!(
        "for i in $(seq 1 {EACH}); do \
           \"$BIN\" create \"task $W-$i\" -l w$W || exit 10; \
           \"$BIN\" --json ready > /dev/null || exit 11; \
           \"$BIN\" --json list > /dev/null || exit 12; \
         done"
    );
    let children: Vec<_> = (0..PROCS)
        .map(|w| {
            let mut cmd = std::process::Command::new("sh");
            crate::common::fixed_env(&mut cmd, &env.home());
            cmd.current_dir(&env.repo)
                .env("BIN", crate::common::BIN)
                .env("W", w.to_string())
                .args(["-c", &script])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "worker failed ({:?}): {err}",
            out.status.code()
        );
        assert!(!err.contains("locked"), "{err}");
        assert!(!err.to_lowercase().contains("error"), "{err}");
    }
    let all: Vec<TaskJson> = env.json(&["list", "--all"]);
    assert_eq!(all.len(), PROCS * EACH);
    for w in 0..PROCS {
        for i in 1..=EACH {
            let title = format!("task {w}-{i}");
            assert!(all.iter().any(|t| t.title == title), "{title} missing");
        }
    }
    // Every create is its own commit, none lost, and the index agrees.
    let log = env.git(&["log", "--format=%s"]);
    assert_eq!(
        log.lines()
            .filter(|l| l.starts_with("batch: create"))
            .count(),
        PROCS * EACH
    );
    assert_eq!(env.git(&["status", "--porcelain"]), "");
    let tree = env.git(&["ls-tree", "--name-only", "HEAD", ".batch/tasks/"]);
    assert_eq!(
        tree.lines().filter(|l| l.ends_with(".toml")).count(),
        PROCS * EACH
    );
}

#[test]
fn killed_writers_never_leave_a_torn_file() {
    let env = TestEnv::new();
    let id = env.create(&["target"]);
    // Large bodies make a torn write easy to see if writes were not atomic.
    let bodies: Vec<String> = (0..4)
        .map(|k| format!("{}\n", char::from(b'a' + k).to_string().repeat(2_000_000)))
        .collect();
    let files: Vec<_> = bodies
        .iter()
        .enumerate()
        .map(|(k, b)| {
            let p = env.dir.path().join(format!("body{k}.txt"));
            std::fs::write(&p, b).unwrap();
            p
        })
        .collect();
    let mut killed = 0;
    for round in 0..24 {
        let file = &files[round % files.len()];
        let mut child = env
            .batch_cmd(&[
                "--no-commit",
                "update",
                &id,
                "--body-file",
                file.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis((round as u64 * 7) % 40));
        if child.try_wait().unwrap().is_none() {
            // SIGKILL: no destructor, no cleanup.
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        let text = std::fs::read_to_string(env.task_file(&id)).unwrap();
        let task = git_batch::task::parse_task(&text)
            .unwrap_or_else(|e| panic!("round {round}: torn task file: {e}"));
        let body = task.body.as_str();
        assert!(
            body.is_empty() || bodies.iter().any(|b| b == body),
            "round {round}: body is a mix of writes"
        );
    }
    assert!(
        killed > 0,
        "no writer was killed mid-way; the test proved nothing"
    );
    // The store still works and leftovers are not taken for tasks.
    let all: Vec<TaskJson> = env.json(&["list", "--all"]);
    assert_eq!(all.len(), 1);
}
