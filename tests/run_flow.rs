//! `run` as a flow, not waves: with `--land`, finished tasks land while
//! other workers keep running, and a dependent starts once its own
//! dependencies have landed.

use crate::common::TestEnv;

/// Logs "TASK start" and "TASK end"; the task of `b/**` waits (20 s at
/// most) until the task of `c/**` has started.
const WORKER: &str = r#"#!/bin/sh
d=$(sed -n 's/^- `\([a-z]*\)\/\*\*`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
echo "$d start" >> "$FLOW_LOG"
if [ "$d" = b ]; then
  n=0
  while ! grep -q '^c start' "$FLOW_LOG" && [ $n -lt 200 ]; do sleep 0.1; n=$((n + 1)); done
fi
mkdir -p "$d" && echo "$d" > "$d/f"
echo "$d end" >> "$FLOW_LOG"
"#;

/// A chain a -> c next to an unrelated, slow b, two workers: c starts
/// while b still works (it waits for c's start), not after the pool drained.
#[test]
fn a_dependent_starts_once_its_dependency_landed_while_others_work() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let b = env.create(&["b", "--scope", "b/**"]);
    let c = env.create(&["c", "--scope", "c/**", "--dep", &a]);
    let worker = env.dir.path().join("flow.sh");
    std::fs::write(&worker, WORKER).unwrap();
    let log = env.dir.path().join("flow.log");
    let exec = format!("sh {}", worker.display());
    let out = env
        .batch_cmd(&[
            "--json", "run", &a, &b, &c, "--land", "-j", "2", "--exec", &exec,
        ])
        .env("FLOW_LOG", &log)
        .output()
        .unwrap();
    crate::common::assert_ok(&out);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = std::fs::read_to_string(&log).unwrap();
    let at = |line: &str| {
        events
            .lines()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("no '{line}' in {events}"))
    };
    assert!(
        at("c start") < at("b end"),
        "c waited for the pool to drain:\n{events}"
    );
    assert_eq!(summary["landed"].as_array().unwrap().len(), 3, "{summary}");
    for d in ["a", "b", "c"] {
        assert_eq!(env.git(&["show", &format!("main:{d}/f")]), format!("{d}\n"));
    }
}
