//! `run` as a flow, not waves: with `--land`, finished tasks land while
//! other workers keep running, and a dependent starts once its own
//! dependencies have landed.

use crate::common::TestEnv;

/// Writes a worker script into the test's directory; the `--exec` for it.
fn script(env: &TestEnv, name: &str, text: &str) -> String {
    let path = env.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    format!("sh {}", path.display())
}

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
    let log = env.dir.path().join("flow.log");
    let exec = script(&env, "flow.sh", WORKER);
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

/// A month task finds two items and creates a task for each (its
/// children, with keys), failing once after that on m1; an item writes its
/// file.
const LAZY: &str = r#"#!/bin/sh
d=$(sed -n 's/^- `\([a-z0-9/]*\)\/\*\*`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
case "$d" in
  m[0-9])
    for j in 1 2; do
      git batch create --parent "$BATCH_TASK" --key "item$j" --scope "$d/i$j/**" "item $j of $d" >/dev/null || exit 1
    done
    if [ "$d" = m1 ] && [ "$BATCH_ATTEMPT" = 1 ]; then echo "flaky" >&2; exit 1; fi
    mkdir -p "$d" && echo "month $d" > "$d/summary" ;;
  *) mkdir -p "$d" && echo "item $d" > "$d/f" ;;
esac
"#;

/// Lazy batching: three month tasks discover six children between them
/// (one month failing once after it created its children, so its retry
/// meets them again); one `run --ready --land` finishes all nine, and no
/// child is created twice.
#[test]
fn tasks_found_during_the_run_are_run_by_the_same_run() {
    let env = TestEnv::new();
    for m in 1..=3 {
        env.create(&[&format!("month {m}"), "--scope", &format!("m{m}/**")]);
    }
    let exec = script(&env, "lazy.sh", LAZY);
    let out = env
        .batch_cmd(&[
            "--json",
            "run",
            "--ready",
            "--land",
            "-j",
            "2",
            "--retries",
            "1",
            "--exec",
            &exec,
        ])
        .output()
        .unwrap();
    crate::common::assert_ok(&out);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["landed"].as_array().unwrap().len(), 9, "{summary}");
    let all: Vec<serde_json::Value> = env.json(&["list", "--all"]);
    assert_eq!(all.len(), 9, "{all:?}");
    assert!(all.iter().all(|t| t["status"] == "closed"), "{all:?}");
    for m in 1..=3 {
        assert_eq!(
            env.git(&["show", &format!("main:m{m}/summary")]),
            format!("month m{m}\n")
        );
        for j in 1..=2 {
            assert_eq!(
                env.git(&["show", &format!("main:m{m}/i{j}/f")]),
                format!("item m{m}/i{j}\n")
            );
        }
    }
}

/// A worker's own commit of a child task it created passes the scope
/// guard's pre-commit hook and `done`; a new task that is not its child
/// does not.
#[test]
fn a_worker_commits_tasks_of_its_own_children_and_no_others() {
    let env = TestEnv::new();
    let id = env.create(&["month", "--scope", "m/**"]);
    let started: serde_json::Value = env.json(&["start", &id]);
    let wt = std::path::PathBuf::from(started["path"].as_str().unwrap());
    let child = env.ok_in(
        &wt,
        &[
            "--no-commit",
            "create",
            "--parent",
            &id,
            "--key",
            "a",
            "item a",
        ],
    );
    let child = child.trim();
    env.git_in(&wt, &["add", "-A"]);
    env.git_in(&wt, &["commit", "-q", "-m", "found item a"]);
    // Again with the same key: the same task, nothing new.
    let again = env.ok_in(&wt, &["create", "--parent", &id, "--key", "a", "item a"]);
    assert_eq!(again.trim(), child);
    let stray = env.ok_in(&wt, &["--no-commit", "create", "not a child"]);
    env.git_in(&wt, &["add", "-A"]);
    let out = std::process::Command::new("git")
        .args(["commit", "-q", "-m", "a stray task"])
        .current_dir(&wt)
        .envs(
            env.batch_cmd(&[])
                .get_envs()
                .filter_map(|(k, v)| Some((k, v?))),
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the hook refused it");
    assert!(err.contains(stray.trim()), "{err}");
    env.git_in(&wt, &["reset", "-q", "--hard"]);
    env.git_in(&wt, &["clean", "-q", "-fd"]);
    env.ok_in(&wt, &["done"]);
}

/// One prompt for the whole batch: `plan --instructions FILE` puts it in
/// the plan, and every worker's context file starts with it; `run
/// --context-template` lays the file out another way; a template with an
/// unknown placeholder is refused before anything starts.
#[test]
fn a_plan_carries_the_batch_instructions_and_a_template_lays_out_the_context() {
    let env = TestEnv::new();
    let a = env.create(&["port a", "--scope", "a/**"]);
    let b = env.create(&["port b", "--scope", "b/**"]);
    let prompt = env.dir.path().join("prompt.md");
    std::fs::write(&prompt, "Use tracing, never log::.\n").unwrap();
    env.ok(&[
        "plan",
        "p",
        &a,
        &b,
        "--instructions",
        prompt.to_str().unwrap(),
    ]);
    let seen = env.dir.path().join("seen");
    std::fs::create_dir_all(&seen).unwrap();
    let exec = format!("cp \"$BATCH_CONTEXT\" {}/$BATCH_TASK.md", seen.display());
    env.ok(&["run", "--plan", "p", "--exec", &exec]);
    for id in [&a, &b] {
        let text = std::fs::read_to_string(seen.join(format!("{id}.md"))).unwrap();
        assert!(
            text.starts_with(
                "# Instructions for every task of this batch\n\nUse tracing, never log::."
            ),
            "{text}"
        );
        assert!(text.contains(&format!("# Task {id}")), "{text}");
    }

    let c = env.create(&["port c", "--scope", "c/**"]);
    let template = env.dir.path().join("template.md");
    std::fs::write(
        &template,
        "TASK {id}: {title}\n{{not a placeholder}}\n{scope}",
    )
    .unwrap();
    let t = template.to_str().unwrap();
    env.ok(&["run", &c, "--context-template", t, "--exec", &exec]);
    let text = std::fs::read_to_string(seen.join(format!("{c}.md"))).unwrap();
    assert!(
        text.starts_with(&format!(
            "TASK {c}: port c\n{{not a placeholder}}\n## Scope"
        )),
        "{text}"
    );
    std::fs::write(&template, "{task_title}").unwrap();
    let d = env.create(&["port d", "--scope", "d/**"]);
    let err = env.fails(&["run", &d, "--context-template", t, "--exec", "true"], 2);
    assert!(err.contains("unknown placeholder {task_title}"), "{err}");
    let claims: Vec<serde_json::Value> = env.json(&["claims"]);
    assert!(claims.iter().all(|c| c["task"] != d.as_str()), "{claims:?}");
}

/// The task files are the truth, the run's state only a record: a gate the
/// run saw fail but a person closed lets its dependent run in the same run
/// (no --rerun-failed), and a task reopened after it landed runs again.
#[test]
fn a_closed_gate_unblocks_and_a_reopened_task_runs_again() {
    let env = TestEnv::new();
    let gate = env.create(&["approve", "--scope", "gate/**"]);
    let after = env.create(&["after", "--scope", "after/**", "--dep", &gate]);
    let log = env.dir.path().join("starts.log");
    let exec = format!(
        "echo $BATCH_TASK >> {}; [ $BATCH_TASK = {gate} ] && exit 3; mkdir -p after && echo x > after/f",
        log.display()
    );
    let args = [
        "run",
        &gate,
        &after,
        "--retries",
        "0",
        "--land",
        "--exec",
        &exec,
    ];
    let out = env.run(&args);
    assert_eq!(out.status.code(), Some(1), "the gate failed");
    env.ok(&["close", &gate, "--reason", "approved by a person"]);
    let out = env.run(&args);
    crate::common::assert_ok(&out);
    let shown: serde_json::Value = env.json(&["show", &after]);
    assert_eq!(shown["status"], "closed", "{shown}");

    env.ok(&["reopen", &after]);
    let out = env.run(&args);
    crate::common::assert_ok(&out);
    let starts = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        starts.lines().filter(|l| *l == after).count(),
        2,
        "{starts}"
    );
    let shown: serde_json::Value = env.json(&["show", &after]);
    assert_eq!(shown["status"], "closed", "{shown}");
}

/// A retry starts from the branch's last commit plus the previous
/// attempt's edits inside the scope: its uncommitted edits outside the
/// scope (a tracked file changed, a stray file) are removed, and the
/// context says so.
#[test]
fn a_retry_starts_without_the_previous_attempts_out_of_scope_edits() {
    let env = TestEnv::new();
    let id = env.create(&["t", "--scope", "a/**"]);
    let seen = env.dir.path().join("seen");
    let exec = format!(
        "if [ $BATCH_ATTEMPT = 1 ]; then mkdir -p a && echo keep > a/keep && echo stray > stray.txt \
         && echo changed > README.md && exit 1; fi; \
         {{ ls; cat README.md; cat a/keep; cat \"$BATCH_CONTEXT\"; }} > {}",
        seen.display()
    );
    env.ok(&["run", &id, "--retries", "1", "--exec", &exec]);
    let seen = std::fs::read_to_string(&seen).unwrap();
    // `ls` shows no stray.txt, README.md is the branch's again.
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(
        &lines[..4],
        ["README.md", "a", "hello", "keep"],
        "README.md put back: {seen}"
    );
    assert!(seen.contains("keep\n"), "in-scope work kept: {seen}");
    assert!(seen.contains("## Removed before this attempt"), "{seen}");
    assert!(
        seen.contains("- `README.md`") && seen.contains("- `stray.txt`"),
        "{seen}"
    );
}

/// Writes `out/<phase>/<n>` for its chunk (phase and n from its scope);
/// the validator fails phase 2's second chunk once, and the retry checks
/// that the validator's error reached it.
const PIPELINE: &str = r#"#!/bin/sh
d=$(sed -n 's/^- `\(out\/[a-z0-9]*\/[0-9]*\)\/\*\*`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
if [ "$d" = out/p2/2 ] && [ "$BATCH_ATTEMPT" = 2 ]; then
  grep -q "the header is missing" "$BATCH_CONTEXT" || { echo "no validator error fed back" >&2; exit 9; }
fi
mkdir -p "$d" && echo "$d" > "$d/result"
echo "$d" > "$PIPE_MARKS/$BATCH_TASK.dir"
echo "$BATCH_TASK $d" >> "$PIPE_LOG"
"#;

/// The three-phase pipeline: six items in chunks of two, phase 2 aligned
/// on phase 1 and phase 3 on phase 2 (`split --align`), one `run --ready
/// --land --validate` for all of it; a chunk of phase 2 fails its validator
/// once and is retried with the validator's error; chunk k of a phase
/// starts only once chunk k of the phase before it landed.
#[test]
fn a_three_phase_pipeline_of_aligned_batches_runs_in_one_command() {
    let env = TestEnv::new();
    let items = "i1\ni2\ni3\ni4\ni5\ni6\n";
    let mut previous: Option<String> = None;
    for phase in ["p1", "p2", "p3"] {
        let scope = format!("out/{phase}/{{n}}/**");
        let title = format!("{phase} chunk {{n}}");
        let mut args = vec![
            "split", "--size", "2", "--title", &title, "--scope", &scope, "--plan", phase,
        ];
        if let Some(p) = &previous {
            args.extend(["--align", p.as_str()]);
        }
        let out = crate::run::feed(&env, &env.repo, &args, items);
        crate::common::assert_ok(&out);
        previous = Some(phase.to_string());
    }
    let worker = env.dir.path().join("pipeline.sh");
    std::fs::write(&worker, PIPELINE).unwrap();
    let log = env.dir.path().join("pipe.log");
    let marks = env.dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let validate = format!(
        "if [ \"$(cat {m}/$BATCH_TASK.dir)\" = out/p2/2 ] && [ ! -e {m}/once ]; then \
         touch {m}/once; echo 'the header is missing' >&2; exit 1; fi",
        m = marks.display()
    );
    let exec = format!("sh {}", worker.display());
    let out = env
        .batch_cmd(&[
            "--json",
            "run",
            "--ready",
            "--land",
            "-j",
            "3",
            "--retries",
            "1",
            "--validate",
            &validate,
            "--exec",
            &exec,
        ])
        .env("PIPE_LOG", &log)
        .env("PIPE_MARKS", &marks)
        .output()
        .unwrap();
    crate::common::assert_ok(&out);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["landed"].as_array().unwrap().len(), 9, "{summary}");
    assert!(marks.join("once").exists(), "the validator failed once");
    let order: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap().to_string())
        .collect();
    for k in 1..=3 {
        let at = |phase: &str| {
            order
                .iter()
                .position(|d| *d == format!("out/{phase}/{k}"))
                .unwrap()
        };
        assert!(
            at("p1") < at("p2") && at("p2") < at("p3"),
            "chunk {k}: {order:?}"
        );
        for phase in ["p1", "p2", "p3"] {
            assert_eq!(
                env.git(&["show", &format!("main:out/{phase}/{k}/result")]),
                format!("out/{phase}/{k}\n")
            );
        }
    }
}
