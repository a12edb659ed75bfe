//! Gates: `run --gate` / `--blocking-gate`, a plan's and the config's
//! `[[gates]]`, and `git batch gate` afterwards; each result recorded per
//! task (live state, then the task file when it lands), structured.

use crate::common::TestEnv;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
struct Gate {
    name: String,
    passed: bool,
    blocking: bool,
    exit_code: Option<i32>,
    seconds: f64,
    tail: String,
    #[serde(default)]
    fields: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
struct Live {
    state: String,
    #[serde(default)]
    gates: Vec<Gate>,
}

#[derive(Debug, Deserialize)]
struct Shown {
    status: String,
    live: Option<Live>,
    #[serde(default)]
    review: Review,
}

#[derive(Debug, Default, Deserialize)]
struct Review {
    #[serde(default)]
    gates: Vec<Gate>,
}

fn show(env: &TestEnv, id: &str) -> Shown {
    env.json(&["show", id])
}

fn worker(env: &TestEnv) -> String {
    let path = env.dir.path().join("w.sh");
    std::fs::write(&path, "mkdir -p a && echo a > a/f\n").unwrap();
    format!("sh {}", path.display())
}

const SCORE: &str = r#"score=echo checking; echo '{"score": 87.5, "files": 3}'"#;
const SECURITY: &str = r#"sec=echo 'found a secret'; echo '{"security": 2}'; exit 1"#;

/// A scoring gate and a failing (not blocking) security gate: the task is
/// done, flagged, and both results are recorded with their fields; the
/// landing keeps them in the task file.
#[test]
fn gate_results_are_recorded_and_a_failing_gate_only_flags() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let exec = worker(&env);
    let summary: serde_json::Value = env.json(&[
        "run", &a, "--exec", &exec, "--gate", SCORE, "--gate", SECURITY,
    ]);
    assert_eq!(summary["done"], 1, "{summary}");
    let shown = show(&env, &a);
    let live = shown.live.expect("live state");
    assert_eq!(live.state, "done");
    let by: BTreeMap<&str, &Gate> = live.gates.iter().map(|g| (g.name.as_str(), g)).collect();
    let score = by["score"];
    assert!(score.passed && !score.blocking);
    assert_eq!(score.exit_code, Some(0));
    assert_eq!(score.fields["score"], 87.5);
    assert_eq!(score.fields["files"], 3.0);
    assert!(score.tail.contains("checking"), "{}", score.tail);
    assert!(score.seconds >= 0.0);
    let sec = by["sec"];
    assert!(!sec.passed);
    assert_eq!(sec.exit_code, Some(1));
    assert_eq!(sec.fields["security"], 2.0);
    env.ok(&["land", "--no-push"]);
    let landed = show(&env, &a);
    assert_eq!(landed.status, "closed");
    let names: Vec<&str> = landed
        .review
        .gates
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    assert_eq!(names, ["score", "sec"]);
}

/// A blocking gate that fails once: the attempt fails with the gate's
/// output fed back in the next context, then the task is done.
#[test]
fn a_blocking_gate_fails_the_attempt() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let seen = env.dir.path().join("seen.md");
    let path = env.dir.path().join("w.sh");
    std::fs::write(
        &path,
        format!(
            "cat \"$BATCH_CONTEXT\" >> {}\nmkdir -p a && echo a > a/f\n",
            seen.display()
        ),
    )
    .unwrap();
    let exec = format!("sh {}", path.display());
    let count = env.dir.path().join("count");
    let gate = format!(
        "lint=echo x >> {c}; if [ $(wc -l < {c}) -lt 2 ]; then echo 'lint: bad style'; exit 3; fi",
        c = count.display()
    );
    let summary: serde_json::Value = env.json(&[
        "run",
        &a,
        "--exec",
        &exec,
        "--retries",
        "1",
        "--blocking-gate",
        &gate,
    ]);
    assert_eq!(summary["done"], 1, "{summary}");
    let context = std::fs::read_to_string(&seen).unwrap();
    assert!(context.contains("lint: bad style"), "{context}");
    let live = show(&env, &a).live.unwrap();
    assert!(live.gates.iter().any(|g| g.name == "lint" && g.passed));
}

/// The plan's `[[gates]]` apply to `run --plan`, the config's to any run,
/// and a flag overrides both.
#[test]
fn gates_come_from_the_plan_else_the_config() {
    let env = TestEnv::new();
    let config = env.read(".batch/config.toml");
    env.write(
        ".batch/config.toml",
        &format!("{config}\n[[gates]]\nname = \"cfg\"\ncommand = \"true\"\n"),
    );
    env.git(&["commit", "-qam", "config gate"]);
    let a = env.create(&["a", "--scope", "a/**"]);
    let b = env.create(&["b", "--scope", "b/**"]);
    env.ok(&["plan", "p", &a, "--gate", "planned=echo '{\"score\": 50}'"]);
    let exec = worker(&env);
    env.ok(&["run", "--plan", "p", "--exec", &exec]);
    let gates = show(&env, &a).live.unwrap().gates;
    assert_eq!(gates.len(), 1);
    assert_eq!(gates[0].name, "planned");
    let path = env.dir.path().join("wb.sh");
    std::fs::write(&path, "mkdir -p b && echo b > b/f\n").unwrap();
    let exec_b = format!("sh {}", path.display());
    env.ok(&["run", &b, "--exec", &exec_b]);
    let gates = show(&env, &b).live.unwrap().gates;
    assert_eq!(gates.len(), 1);
    assert_eq!(gates[0].name, "cfg");
}

/// `git batch gate` after the run: results recorded (a result of the same
/// gate replaced); a failing blocking gate records the task failed, exit 1.
#[test]
fn the_gate_command_judges_finished_work_later() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let exec = worker(&env);
    env.ok(&[
        "run",
        &a,
        "--exec",
        &exec,
        "--gate",
        "score=echo '{\"score\": 10}'",
    ]);
    let out: serde_json::Value = env.json(&["gate", &a, "--gate", "score=echo '{\"score\": 90}'"]);
    assert_eq!(out[0]["gates"][0]["fields"]["score"], 90.0, "{out}");
    let gates = show(&env, &a).live.unwrap().gates;
    assert_eq!(gates.len(), 1, "{gates:?}");
    assert_eq!(gates[0].fields["score"], 90.0);
    // Without its worktree: at its branch tip, in a temporary worktree.
    let wt = env.git(&["worktree", "list", "--porcelain"]);
    let path = wt
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .find(|p| p.contains(&a))
        .unwrap()
        .to_string();
    env.git(&["worktree", "remove", "--force", &path]);
    let err = env.fails(
        &["gate", &a, "--blocking-gate", "tests=test -f a/missing"],
        1,
    );
    assert!(err.contains("blocking gate failed"), "{err}");
    assert_eq!(show(&env, &a).live.unwrap().state, "failed");
    let err = env.fails(&["gate", &a], 2);
    assert!(err.contains("no gates"), "{err}");
    let err = env.fails(&["gate", &a, "--gate", "nocommand"], 2);
    assert!(err.contains("NAME=COMMAND"), "{err}");
}

/// Structured receipts count by category, per task and per plan, in
/// `status` and `review`; `review --plan` orders its queue: security
/// findings first, then finished work by priority and score (high first),
/// then escalations, then the rest.
#[test]
fn the_review_queue_and_receipt_counts() {
    let env = TestEnv::new();
    let mk =
        |title: &str, p: &str| env.create(&[title, "--scope", &format!("{title}/**"), "-p", p]);
    let low = mk("low", "3");
    let high = mk("high", "1");
    let risky = mk("risky", "3");
    let asks = mk("asks", "0");
    let best = mk("best", "1");
    let broken = mk("broken", "0");
    env.ok(&["plan", "night", &low, &high, &risky, &asks, &best, &broken]);
    let path = env.dir.path().join("w.sh");
    std::fs::write(
        &path,
        r#"d=$(sed -n 's/^- `\([a-z]*\)\/\*\*`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
case $d in
  asks) git batch escalate --reason "which header?"; exit 0 ;;
  broken) exit 1 ;;
esac
git batch receipt --count task --item "T-$d" "filed a ticket for $d"
git batch receipt --field processed=10 --field skip=1 "checkpoint"
mkdir -p $d && echo $d > $d/f
"#,
    )
    .unwrap();
    let exec = format!("sh {}", path.display());
    let gate = r#"score=if [ -d best ]; then echo '{"score": 95}'; else echo '{"score": 60}'; fi"#;
    let sec = r#"sec=if [ -d risky ]; then echo '{"security": 1}'; exit 1; fi"#;
    // One failed, one escalated: exit 1.
    env.fails(
        &[
            "run",
            "--plan",
            "night",
            "--exec",
            &exec,
            "--retries",
            "0",
            "--gate",
            gate,
            "--gate",
            sec,
        ],
        1,
    );
    let review: serde_json::Value = env.json(&["review", "--plan", "night"]);
    let order: Vec<&str> = review["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["risky", "best", "high", "low", "asks", "broken"],
        "{review}"
    );
    let risky_t = &review["tasks"][0];
    assert_eq!(risky_t["security"], 1);
    assert!(
        risky_t["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "gate sec failed"),
        "{risky_t}"
    );
    assert_eq!(review["tasks"][1]["score"], 95.0);
    assert_eq!(
        review["tasks"][1]["counts"]["task"], 1.0,
        "{}",
        review["tasks"][1]
    );
    // Four tasks did the work: four tickets, 40 processed.
    assert_eq!(review["counts"]["task"], 4.0, "{}", review["counts"]);
    assert_eq!(review["counts"]["processed"], 40.0);
    assert_eq!(review["counts"]["skip"], 4.0);
    let status: serde_json::Value = env.json(&["status", "--plan", "night"]);
    let plan = &status["plans"][0];
    assert_eq!(plan["counts"]["task"], 4.0, "{plan}");
    let text = env.ok(&["status", "--plan", "night"]);
    assert!(
        text.contains("counts: processed 40, skip 4, task 4"),
        "{text}"
    );
    let human = env.ok(&["review", "--plan", "night"]);
    assert!(human.contains("! 1 security finding(s)"), "{human}");
    env.fails(&["receipt", &low, "--count", "Bad", "x"], 2);
    env.fails(&["receipt", &low, "--field", "processed=many", "x"], 2);
}
