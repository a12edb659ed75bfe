//! Plans, `split`, `status`, `review`, `prime` and `demo`.

use crate::common::TestEnv;
use crate::run::{StatusJson, ViewJson, feed, project, split_plan, status, strs};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Deserialize)]
struct PlannedJson {
    plan: PlanJson,
    path: String,
    forced: Vec<serde_json::Value>,
    warnings: Vec<serde_json::Value>,
    commit: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PlanJson {
    name: String,
    status: String,
    config: ConfigJson,
    tasks: Vec<PlanTaskJson>,
}

#[derive(Debug, Deserialize)]
struct ConfigJson {
    jobs: u32,
    timeout: String,
    retries: u32,
    test: Option<String>,
    max_tasks: u32,
}

#[derive(Debug, Deserialize)]
struct PlanTaskJson {
    id: String,
    scope: Vec<String>,
    deps: Vec<String>,
}

fn commits(env: &TestEnv) -> usize {
    env.git(&["rev-list", "--count", "HEAD"])
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn plan_refuses_tasks_that_would_collide() {
    let env = TestEnv::new();
    let a = env.create(&["all of src", "--scope", "src/**"]);
    let b = env.create(&["one file of src", "--scope", "src/x.rs"]);
    let c = env.create(&[
        "the docs",
        "--scope",
        "docs/**",
        "--accept",
        "ok",
        "--estimate",
        "S",
    ]);
    let d = env.create(&["after a", "--scope", "src/y.rs", "--dep", &a]);
    let before = commits(&env);

    let err = env.fails(&["plan", "p", &a, &b, &c], 1);
    assert!(err.contains("cannot run in parallel"), "{err}");
    assert!(err.contains(&format!("{a} and {b} overlap")), "{err}");
    assert!(err.contains("Hint:"), "{err}");
    assert!(!env.repo.join(".batch/batches/p.toml").exists());
    assert_eq!(commits(&env), before, "nothing committed");

    // d waits for a: they never run at the same time, so they may overlap.
    let planned: PlannedJson = env.json(&[
        "plan",
        "p",
        &a,
        &c,
        &d,
        "-j",
        "3",
        "--timeout",
        "10m",
        "--retries",
        "2",
        "--test",
        "make test",
    ]);
    assert_eq!(planned.plan.name, "p");
    assert_eq!(planned.plan.status, "pending");
    assert_eq!(planned.path, ".batch/batches/p.toml");
    let cfg = &planned.plan.config;
    assert_eq!(
        (
            cfg.jobs,
            cfg.timeout.as_str(),
            cfg.retries,
            cfg.test.as_deref(),
            cfg.max_tasks
        ),
        (3, "10m", 2, Some("make test"), 0)
    );
    let ids: Vec<&str> = planned.plan.tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, [a.as_str(), c.as_str(), d.as_str()]);
    assert_eq!(planned.plan.tasks[2].deps, std::slice::from_ref(&a));
    assert_eq!(planned.plan.tasks[0].scope, ["src/**"]);
    assert!(planned.forced.is_empty());
    // Missing acceptance criteria and estimates are warnings, not refusals.
    assert!(!planned.warnings.is_empty());
    assert!(planned.commit.is_some());
    assert_eq!(commits(&env), before + 1);
    let task: crate::common::TaskJson = env.json(&["show", &d]);
    assert_eq!(task.batch.as_deref(), Some("p"));

    // The same name again; a task of another plan; a closed task; --force.
    let err = env.fails(&["plan", "p", &b], 1);
    assert!(err.contains("exists already"), "{err}");
    let err = env.fails(&["plan", "q", &a, &b], 1);
    assert!(err.contains(&format!("{a} belongs to plan 'p'")), "{err}");
    let e = env.create(&["closed one", "--scope", "e/**"]);
    env.ok(&["close", &e]);
    let err = env.fails(&["plan", "q", &e], 1);
    assert!(err.contains("is closed, not open"), "{err}");
    let f = env.create(&["everything", "--scope", "**"]);
    let forced: PlannedJson = env.json(&["plan", "q", &b, &f, "--force"]);
    assert_eq!(forced.forced.len(), 1);
    assert_eq!(forced.forced[0]["kind"], "overlap");
    let bad = env.create(&["bad scope", "--scope", "ok/**"]);
    let path = env.task_file(&bad);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("ok/**", "../out")).unwrap();
    let err = env.fails(&["plan", "r", &bad], 1);
    assert!(err.contains("uses '..'"), "{err}");
}

#[test]
fn plan_takes_the_ready_tasks_or_a_parents_open_descendants() {
    let env = TestEnv::new();
    let epic = env.create(&["migrate", "--kind", "epic"]);
    let sub = env.create(&["the parser", "--kind", "epic", "--parent", &epic]);
    // Children from split --parent, grandchildren under the sub-epic.
    let out = feed(
        &env,
        &env.repo,
        &[
            "--json",
            "split",
            "--scope-from-items",
            "--title",
            "Port {first}",
            "--parent",
            &epic,
        ],
        "src/a.rs\nsrc/b.rs\n",
    );
    crate::common::assert_ok(&out);
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kids: Vec<String> = made["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    for id in &kids {
        let t: crate::common::TaskJson = env.json(&["show", id]);
        assert_eq!(t.parent.as_deref(), Some(epic.as_str()));
    }
    let grandchild = env.create(&["lexer", "--parent", &sub, "--scope", "lex/**"]);
    let done = env.create(&["old", "--parent", &epic, "--scope", "old/**"]);
    env.ok(&["close", &done]);
    let outside = env.create(&["docs", "--scope", "docs/**"]);
    let held = env.create(&["held", "--scope", "held/**"]);
    env.ok(&["claim", &held, "--worker", "someone"]);

    let ids = |p: &PlannedJson| {
        let mut v: Vec<String> = p.plan.tasks.iter().map(|t| t.id.clone()).collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    // --parent: every open descendant, epics left out, closed ones too.
    let by_parent: PlannedJson = env.json(&["plan", "kids", "--parent", &epic]);
    let mut want = kids.clone();
    want.push(grandchild.clone());
    assert_eq!(ids(&by_parent), sorted(want));
    // --ready (and no ids at all): ready and nobody's, not in a plan yet.
    let by_ready: PlannedJson = env.json(&["plan", "rest", "--ready"]);
    assert_eq!(ids(&by_ready), vec![outside.clone()]);
    let err = env.fails(&["plan", "none"], 1);
    assert!(err.contains("no task"), "{err}");
    let err = env.fails(&["plan", "x", "--parent", "bt-nope"], 1);
    assert!(err.contains("no task 'bt-nope'"), "{err}");
    let err = env.fails(&["plan", "x", &outside, "--ready"], 2);
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn split_by_size_by_regex_and_by_month() {
    let env = TestEnv::new();
    let files = "src/net/a.rs\nsrc/net/b.rs\nsrc/db/c.rs\n\nsrc/net/d.rs\nsrc/db/e.rs\n";
    let out = feed(
        &env,
        &env.repo,
        &[
            "--json",
            "split",
            "--size",
            "2",
            "--scope-from-items",
            "--title",
            "Port {first}..{last} ({count}, #{n})",
        ],
        files,
    );
    crate::common::assert_ok(&out);
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tasks = made["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 3);
    assert_eq!(tasks[0]["title"], "Port src/net/a.rs..src/net/b.rs (2, #1)");
    assert_eq!(tasks[2]["title"], "Port src/db/e.rs..src/db/e.rs (1, #3)");
    assert_eq!(
        tasks[1]["scope"],
        serde_json::json!(["src/db/c.rs", "src/net/d.rs"])
    );
    assert!(
        tasks[1]["body"]
            .as_str()
            .unwrap()
            .contains("- src/db/c.rs\n")
    );
    assert!(made["commit"].is_string());
    let log = env.git(&["log", "-1", "--format=%s%n%b", "--name-only"]);
    assert!(log.starts_with("batch: split into 3 tasks"), "{log}");
    assert_eq!(
        log.matches(".batch/tasks/").count(),
        3,
        "one commit holds all: {log}"
    );

    let out = feed(
        &env,
        &env.repo,
        &[
            "--json",
            "split",
            "--by",
            r"^src/([^/]+)/",
            "--scope-from-items",
            "--title",
            "Port the {key} module",
            "-l",
            "port",
            "--accept",
            "builds",
        ],
        files,
    );
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let titles: Vec<&str> = made["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Port the net module", "Port the db module"]);
    assert_eq!(made["tasks"][0]["labels"], serde_json::json!(["port"]));
    assert_eq!(
        made["tasks"][1]["acceptance"],
        serde_json::json!(["builds"])
    );

    let tickets = "2026-01-03 login fails\n2026-02-11 slow search\n2026-01-28 typo in footer\n";
    let out = feed(
        &env,
        &env.repo,
        &[
            "--json",
            "split",
            "--by-month",
            "--title",
            "Triage {key} ({count} tickets)",
        ],
        tickets,
    );
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(made["tasks"][0]["title"], "Triage 2026-01 (2 tickets)");
    assert_eq!(made["tasks"][1]["title"], "Triage 2026-02 (1 tickets)");

    // Bad input: a clear error, nothing written, nothing committed.
    let tasks_before = std::fs::read_dir(env.repo.join(".batch/tasks"))
        .unwrap()
        .count();
    let before = commits(&env);
    let out = feed(
        &env,
        &env.repo,
        &["split", "--by-month", "--title", "t"],
        "2026-01-01 ok\nno date here\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stdin:2: no key in 'no date here'"));
    let out = feed(
        &env,
        &env.repo,
        &["split", "--by", "(", "--title", "t"],
        "a\n",
    );
    assert_eq!(out.status.code(), Some(2));
    let out = feed(&env, &env.repo, &["split", "--title", "t"], "\n\n");
    assert_eq!(out.status.code(), Some(1));
    // A plan that would be refused takes its new tasks with it.
    let out = feed(
        &env,
        &env.repo,
        &[
            "split",
            "--scope-from-items",
            "--title",
            "t {first}",
            "--plan",
            "bad",
        ],
        "src\nsrc/a.rs\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("overlap"));
    assert_eq!(
        std::fs::read_dir(env.repo.join(".batch/tasks"))
            .unwrap()
            .count(),
        tasks_before
    );
    assert!(!env.repo.join(".batch/batches/bad.toml").exists());
    assert_eq!(commits(&env), before);
    assert!(env.git(&["status", "--porcelain"]).trim().is_empty());
}

/// Replaces each id by its place in `ids`, for snapshots.
fn redact(text: &str, ids: &[String]) -> String {
    let mut out = text.to_string();
    for (i, id) in ids.iter().enumerate() {
        out = out.replace(id.as_str(), &format!("<t{}>", i + 1));
    }
    out
}

#[test]
fn status_shows_each_stage_of_a_plan() {
    let (env, _bare) = project(3);
    let ids = split_plan(&env, &env.repo, "st", &[]);
    let text = redact(&env.ok(&["status"]), &ids);
    insta::assert_snapshot!(text, @r"
    plan st  pending  3 task(s)
      0 closed, 0 done, 0 running, 0 failed, 0 escalated, 3 queued
    ");

    // A worker by hand: running, then done (ready for review).
    let s: serde_json::Value = env.json(&["start", &ids[0], "--worker", "alice"]);
    let wt = Path::new(s["path"].as_str().unwrap()).to_path_buf();
    let v = status(&env, &env.repo, "st");
    assert_eq!((v.status.as_str(), v.running, v.queued), ("running", 1, 2));
    assert_eq!(v.task(&ids[0]).worker.as_deref(), Some("alice"));
    std::fs::write(wt.join("src/m01.txt"), "ported\n").unwrap();
    env.ok_in(&wt, &["receipt", "ported m01"]);
    env.ok_in(&wt, &["done"]);
    let s: serde_json::Value = env.json(&["start", &ids[1], "--worker", "bob"]);
    let wt2 = Path::new(s["path"].as_str().unwrap()).to_path_buf();
    env.ok_in(&wt2, &["fail", "--reason", "the API is gone"]);
    let text = redact(&env.ok(&["status", "--plan", "st"]), &ids);
    let text: Vec<&str> = text.lines().filter(|l| !l.contains("elapsed")).collect();
    insta::assert_snapshot!(text.join("\n"), @r"
    plan st  running  3 task(s)
      0 closed, 1 done, 0 running, 1 failed, 0 escalated, 1 queued
      failed:
        <t2>  the API is gone
      done, ready for review (`git batch review`) and landing:
        <t1>  Port src/m01.txt
    ");

    // --watch ends when nothing is left to wait for; with --json, a line each.
    env.ok(&["land", "--no-push"]);
    let s: serde_json::Value = env.json(&["start", &ids[2], "--worker", "carol"]);
    let wt3 = Path::new(s["path"].as_str().unwrap()).to_path_buf();
    env.ok_in(&wt3, &["escalate", "--reason", "keep the old name?"]);
    let out = env.ok(&["--json", "status", "--watch", "--interval", "100ms"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    let all: StatusJson = serde_json::from_str(&out).unwrap();
    let v: &ViewJson = &all.plans[0];
    v.check_consistent();
    assert_eq!((v.closed, v.failed, v.escalated), (1, 1, 1));
    assert_eq!(v.status, "completed");
    assert_eq!(
        v.recorded.as_deref(),
        Some("running"),
        "the manifest moves with landings"
    );
    assert_eq!(
        v.task(&ids[2]).reason.as_deref(),
        Some("keep the old name?")
    );
    assert!(all.runs.is_empty());
}

#[test]
fn review_of_a_plan_and_of_a_range_and_marking_it_reviewed() {
    let (env, _bare) = project(3);
    let ids = split_plan(&env, &env.repo, "rv", &[]);
    let base = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    let exec = "f=$(sed -n 's/^- `\\(src\\/[^`]*\\)`$/\\1/p' \"$BATCH_CONTEXT\"); echo new > \"$f\"; git batch receipt \"rewrote $f\"; git batch receipt 'ran the checks'";
    let out = env.run(&["--json", "run", "--plan", "rv", "--exec", exec, "--land"]);
    crate::common::assert_ok(&out);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["landed"].as_array().unwrap().len(), 3, "{s}");

    let plan: serde_json::Value = env.json(&["review", "--plan", "rv", "--patch"]);
    let tasks = plan["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 3);
    // The review queue: all landed, of one priority, unscored: by id.
    let mut sorted = ids.clone();
    sorted.sort();
    let queue: Vec<&str> = tasks.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(queue, sorted);
    for (i, id) in ids.iter().enumerate() {
        let t = tasks.iter().find(|t| t["id"] == id.as_str()).unwrap();
        assert_eq!(t["state"], "closed");
        let receipt = strs(&t["receipt"]);
        assert_eq!(receipt.len(), 2, "{t}");
        assert!(receipt[0].ends_with(&format!("rewrote src/m{:02}.txt", i + 1)));
        let file = &t["files"][0];
        assert_eq!(file["path"], format!("src/m{:02}.txt", i + 1));
        assert_eq!(
            (file["added"].as_u64(), file["removed"].as_u64()),
            (Some(1), Some(1))
        );
        assert!(t["patch"].as_str().unwrap().contains("+new"));
        assert_eq!(t["files"].as_array().unwrap().len(), 1, "only its own file");
    }
    // The range of the landing gives the same tasks and lines.
    let range: serde_json::Value = env.json(&["review", &format!("{base}..main")]);
    let mut by_range: Vec<&serde_json::Value> = range["tasks"].as_array().unwrap().iter().collect();
    by_range.sort_by_key(|t| t["id"].as_str().unwrap().to_string());
    let mut by_plan: Vec<&serde_json::Value> = tasks.iter().collect();
    by_plan.sort_by_key(|t| t["id"].as_str().unwrap().to_string());
    for (a, b) in by_range.iter().zip(&by_plan) {
        assert_eq!(a["receipt"], b["receipt"]);
        assert_eq!(a["files"], b["files"]);
    }
    // One worker's branch as a range.
    let text = env.ok(&["review"]);
    assert!(text.starts_with("review of plan rv (3 task(s))"), "{text}");
    assert!(
        text.contains("  + ") && text.contains("    M src/m01.txt  +1 -1"),
        "{text}"
    );

    env.ok(&["review", "--plan", "rv", "--mark-reviewed"]);
    let v = status(&env, &env.repo, "rv");
    assert_eq!(
        (v.status.as_str(), v.recorded.as_deref()),
        ("reviewed", Some("reviewed"))
    );
    assert_eq!(
        env.git(&["log", "-1", "--format=%s"]).trim(),
        "batch: plan rv reviewed"
    );

    split_plan(&env, &env.repo, "later", &[]);
    let err = env.fails(&["review", "--plan", "later", "--mark-reviewed"], 1);
    assert!(err.contains("not completed"), "{err}");
    let err = env.fails(&["review", "nonsense"], 2);
    assert!(err.contains("not a range"), "{err}");
    env.fails(&["review", "--plan", "nope"], 1);
}

#[test]
fn prime_tells_an_agent_how_to_work_here() {
    let env = TestEnv::new();
    let text = env.ok(&["prime"]);
    for needle in [
        "git batch start --next",
        "git batch receipt",
        "git batch done",
        "git batch escalate",
        "scope",
        "BATCH_CONTEXT",
    ] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }
    let id = env.create(&["a task", "--scope", "a/**"]);
    let s: serde_json::Value = env.json(&["start", &id]);
    let inside = env.ok_in(Path::new(s["path"].as_str().unwrap()), &["--json", "prime"]);
    let v: serde_json::Value = serde_json::from_str(&inside).unwrap();
    assert_eq!(v["task"], id.as_str());
    assert!(
        v["text"]
            .as_str()
            .unwrap()
            .contains(&format!("You are in the worktree of {id}: a task"))
    );
}

#[test]
fn demo_runs_the_whole_loop() {
    let env = TestEnv::bare_repo();
    let dir = env.dir.path().join("demo");
    let out = env.ok(&["demo", dir.to_str().unwrap()]);
    assert!(out.contains("plan book  completed  8 task(s)"), "{out}");
    assert!(
        out.contains("8 closed, 0 done, 0 running, 0 failed"),
        "{out}"
    );
    assert!(out.contains("review of plan book (8 task(s))"), "{out}");
    // What the landing did, said once (issue 18).
    assert!(
        out.contains("each landing ran the tests (`sh check.sh`) once and pushed once."),
        "{out}"
    );
    assert!(
        out.contains("gave up: no outline"),
        "the retried task's receipt: {out}"
    );
    let work = dir.join("work");
    let v = status(&env, &work, "book");
    assert_eq!((v.closed, v.recorded.as_deref()), (8, Some("completed")));
    let remote = dir.join("remote.git");
    let chapters = env.git_in(&remote, &["ls-tree", "--name-only", "main", "docs/"]);
    assert_eq!(chapters.lines().count(), 8);
    for chapter in chapters.lines() {
        let text = env.git_in(&remote, &["show", &format!("main:{chapter}")]);
        assert!(!text.contains("TODO"), "{chapter}: {text}");
    }
    // Landed in trains while the others worked: one push per train, each
    // tested, fewer pushes than tasks.
    let landings = env.git_in(&remote, &["log", "--format=%s", "main"]);
    let pushes = landings.matches("batch: land").count();
    assert!((1..8).contains(&pushes), "{landings}");
    // A second demo into the same directory is refused.
    let err = env.fails(&["demo", dir.to_str().unwrap()], 1);
    assert!(err.contains("not empty"), "{err}");
}
