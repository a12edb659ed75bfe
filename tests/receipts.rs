//! Receipts: appended during the work, never torn, never interleaved.

use crate::common::{BIN, TestEnv, fixed_env};
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `<RFC3339 UTC> <worker> <text>`
fn parse_line(line: &str) -> (String, String, String) {
    let mut parts = line.splitn(3, ' ');
    let (at, worker, text) = (
        parts.next().unwrap(),
        parts
            .next()
            .unwrap_or_else(|| panic!("no worker in {line:?}")),
        parts
            .next()
            .unwrap_or_else(|| panic!("no text in {line:?}")),
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(at).is_ok() && at.ends_with('Z'),
        "bad time in {line:?}"
    );
    (at.into(), worker.into(), text.into())
}

#[test]
fn receipt_appends_lines_and_receipts_prints_them() {
    let env = TestEnv::new();
    let id = env.create(&["work", "--scope", "a/**"]);
    env.ok(&["receipt", &id, "read", "the", "code", "--worker", "w1"]);
    let mut child = env
        .batch_cmd(&["receipt", &id, "-", "--worker", "w1"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"step two\nstep three\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let text = env.ok(&["receipts", &id]);
    let lines: Vec<_> = text.lines().map(parse_line).collect();
    let texts: Vec<&str> = lines.iter().map(|l| l.2.as_str()).collect();
    assert_eq!(texts, ["read the code", "step two", "step three"]);
    assert!(lines.iter().all(|l| l.1 == "w1"));
    let json: serde_json::Value = env.json(&["receipts", &id]);
    assert_eq!(json["lines"].as_array().unwrap().len(), 3);
    // In a worker worktree the receipt goes there, and `receipts` finds it.
    let started: serde_json::Value = env.json(&["start", &id, "--worker", "w1"]);
    let wt = std::path::PathBuf::from(started["path"].as_str().unwrap());
    env.ok_in(&wt, &["receipt", "in the worktree"]);
    assert!(env.ok(&["receipts", &id]).contains(" w1 in the worktree"));
    env.fails(&["receipt", "bt-zzzz", "text"], 1);
}

#[test]
fn eight_processes_append_500_lines_each() {
    let env = TestEnv::new();
    let id = env.create(&["busy"]);
    const PROCS: usize = 8;
    const LINES: usize = 500;
    let children: Vec<_> = (0..PROCS)
        .map(|w| {
            let mut child = env
                .batch_cmd(&["receipt", &id, "-", "--worker", &format!("w{w}")])
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let writer = std::thread::spawn(move || {
                for n in 0..LINES {
                    // Long lines make a torn or interleaved write visible.
                    writeln!(stdin, "line {n} {}", "x".repeat(200 + n % 50)).unwrap();
                }
            });
            (child, writer)
        })
        .collect();
    for (mut child, writer) in children {
        writer.join().unwrap();
        assert!(child.wait().unwrap().success());
    }
    let text = std::fs::read_to_string(env.repo.join(format!(".batch/receipts/{id}.log"))).unwrap();
    assert!(text.ends_with('\n'));
    let mut seen = BTreeSet::new();
    for line in text.lines() {
        let (_, worker, text) = parse_line(line);
        let mut words = text.split(' ');
        assert_eq!(words.next(), Some("line"));
        let n: usize = words.next().unwrap().parse().unwrap();
        assert_eq!(
            words.next().unwrap().len(),
            200 + n % 50,
            "intact: {line:.80}"
        );
        assert!(seen.insert((worker, n)), "duplicate line");
    }
    assert_eq!(seen.len(), PROCS * LINES);
}

const BIG: usize = 4 << 20;

#[test]
fn kill_9_during_receipt_loses_at_most_the_line_being_written() {
    let env = TestEnv::new();
    let id = env.create(&["doomed"]);
    let log = env.repo.join(format!(".batch/receipts/{id}.log"));
    // A streaming writer: each line we see on disk is confirmed, then it is
    // killed at a moment of its own choosing.
    let mut cmd = Command::new(BIN);
    fixed_env(&mut cmd, &env.home());
    let mut child = cmd
        .current_dir(&env.repo)
        .args(["receipt", &id, "-", "--worker", "w"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut confirmed = 0;
    for n in 0..40 {
        writeln!(stdin, "step {n} {}", "y".repeat(5000)).unwrap();
        stdin.flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_to_string(&log)
            .map(|t| t.lines().count())
            .unwrap_or(0)
            <= n
        {
            assert!(Instant::now() < deadline, "line {n} never arrived");
            std::thread::sleep(Duration::from_millis(1));
        }
        confirmed = n + 1;
    }
    // More lines in flight, then kill -9 mid-stream.
    for n in 40..400 {
        if writeln!(stdin, "step {n} {}", "y".repeat(5000)).is_err() {
            break;
        }
        if n == 200 {
            child.kill().unwrap();
        }
    }
    let _ = child.wait();
    // Big lines (4 MB, so that a kill often lands inside the write, which
    // the kernel then cuts short) from writers killed at moments spread over
    // their life.
    let mut torn = 0;
    for k in 0..12u64 {
        let mut cmd = Command::new(BIN);
        fixed_env(&mut cmd, &env.home());
        let mut c = cmd
            .current_dir(&env.repo)
            .args(["receipt", &id, "-", "--worker", &format!("k{k}")])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = c.stdin.take().unwrap();
        let big = format!("big{k} {}\n", "z".repeat(BIG));
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(big.as_bytes());
        });
        std::thread::sleep(Duration::from_micros(k * 1500));
        let _ = c.kill();
        let _ = c.wait();
        let _ = writer.join();
        let raw = std::fs::read(&log).unwrap();
        torn += usize::from(raw.last() != Some(&b'\n'));
    }
    eprintln!("{torn} of 12 big writers were killed in the middle of their write");
    // The next writer cuts off what a killed one left half-written.
    env.ok(&["receipt", &id, "after the kills", "--worker", "z"]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.ends_with('\n'), "no partial last line");
    let mut steps = 0;
    for line in text.lines() {
        let (_, worker, text) = parse_line(line);
        if worker == "w" {
            let (label, rest) = text.split_once(' ').unwrap();
            assert_eq!(label, format!("step {steps}").split_once(' ').unwrap().0);
            assert_eq!(rest.split_once(' ').unwrap().1.len(), 5000, "intact line");
            steps += 1;
        } else {
            if worker == "z" {
                assert_eq!(text, "after the kills");
                continue;
            }
            assert_eq!(
                text.split_once(' ').unwrap().1.len(),
                BIG,
                "intact big line"
            );
        }
    }
    assert!(
        steps >= confirmed,
        "{steps} < {confirmed}: a confirmed line was lost"
    );
}
