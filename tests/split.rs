//! `split` for pipelines: scope templates filled per chunk, `--by-month`
//! finding a date anywhere in an item, and `--align` chaining the batches
//! of one phase to those of an earlier one.

use crate::common::{TaskJson, TestEnv};
use crate::run::feed;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(crate) struct SplitJson {
    pub(crate) tasks: Vec<TaskJson>,
    plan: Option<PlannedJson>,
    commit: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PlannedJson {
    plan: PlanJson,
    warnings: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct PlanJson {
    name: String,
    tasks: Vec<PlanTaskJson>,
}

#[derive(Debug, Deserialize)]
struct PlanTaskJson {
    id: String,
    scope: Vec<String>,
    deps: Vec<String>,
}

/// `split` with `items` on stdin, expected to succeed.
pub(crate) fn split(env: &TestEnv, args: &[&str], items: &str) -> SplitJson {
    let mut all = vec!["--json", "split"];
    all.extend_from_slice(args);
    let out = feed(env, &env.repo, &all, items);
    crate::common::assert_ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `split` with `items` on stdin, expected to exit `code`; its stderr.
fn split_fails(env: &TestEnv, args: &[&str], items: &str, code: i32) -> String {
    let mut all = vec!["split"];
    all.extend_from_slice(args);
    let out = feed(env, &env.repo, &all, items);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    stderr
}

/// What a refused split must leave: the same task files, plans and commits.
struct Untouched {
    tasks: usize,
    plans: usize,
    head: String,
}

impl Untouched {
    fn now(env: &TestEnv) -> Untouched {
        let count = |dir: &str| std::fs::read_dir(env.repo.join(dir)).map_or(0, |d| d.count());
        Untouched {
            tasks: count(".batch/tasks"),
            plans: count(".batch/batches"),
            head: env.git(&["rev-parse", "HEAD"]),
        }
    }

    #[track_caller]
    fn check(&self, env: &TestEnv) {
        let now = Untouched::now(env);
        assert_eq!(
            (now.tasks, now.plans, &now.head),
            (self.tasks, self.plans, &self.head)
        );
        assert_eq!(env.git(&["status", "--porcelain"]), "");
    }
}

#[test]
fn scope_templates_are_filled_per_chunk() {
    let env = TestEnv::new();
    let files = "src/net/a.rs\nsrc/db/c.rs\nsrc/net/b.rs\n";
    let made = split(
        &env,
        &[
            "--by",
            r"^src/([^/]+)/",
            "--title",
            "Index {key}",
            "--scope",
            "out/{key}/**",
            "--scope",
            "logs/{n}-{count}.log",
        ],
        files,
    );
    let scopes: Vec<&[String]> = made.tasks.iter().map(|t| t.scope.as_slice()).collect();
    assert_eq!(
        scopes,
        [
            ["out/net/**", "logs/1-2.log"].map(String::from).as_slice(),
            ["out/db/**", "logs/2-1.log"].map(String::from).as_slice(),
        ]
    );
    // Months as keys; the first and last items taken literally (a `[` in
    // an item is a character, not a class), the glob's own braces kept.
    let tickets = "2026-01-03 a[1]\n2026-02-11 b\n2026-01-28 c\n";
    let made = split(
        &env,
        &[
            "--by-month",
            "--title",
            "Triage {key}",
            "--scope",
            "triage/{key}/{first}.{md,txt}",
            "--scope",
            "/last/{last}",
        ],
        tickets,
    );
    assert_eq!(
        made.tasks[0].scope,
        [
            "triage/2026-01/2026-01-03 a[[]1[]].{md,txt}",
            "last/2026-01-28 c"
        ]
    );
    assert_eq!(
        made.tasks[1].scope,
        ["triage/2026-02/2026-02-11 b.{md,txt}", "last/2026-02-11 b"]
    );
    // Fixed-size chunks fill every field but the key; with the items' own
    // scope beside the template's.
    let made = split(
        &env,
        &[
            "--size",
            "2",
            "--scope-from-items",
            "--title",
            "Port {first}",
            "--scope",
            "out/{n}/**",
        ],
        files,
    );
    assert_eq!(
        made.tasks[0].scope,
        ["out/1/**", "src/net/a.rs", "src/db/c.rs"]
    );
    assert_eq!(made.tasks[1].scope, ["out/2/**", "src/net/b.rs"]);
    assert!(made.commit.is_some());
}

#[test]
fn a_scope_field_the_chunking_lacks_or_a_bad_filled_scope_refuses_the_split() {
    let env = TestEnv::new();
    let before = Untouched::now(&env);
    // `{key}` with fixed sizes: a usage error naming the field and the glob.
    let err = split_fails(
        &env,
        &["--size", "2", "--title", "t {n}", "--scope", "out/{key}/**"],
        "a\nb\nc\n",
        2,
    );
    assert!(err.contains("out/{key}/**"), "{err}");
    assert!(err.contains("{key} needs --by or --by-month"), "{err}");
    before.check(&env);
    // Each filled scope is checked before anything is written: the second
    // chunk's key fills the glob with a path out of the repository.
    let err = split_fails(
        &env,
        &[
            "--by",
            "^([^/]*)/",
            "--title",
            "t {key}",
            "--scope",
            "{key}/**",
            "--plan",
            "p",
        ],
        "ok/1\n../2\n",
        1,
    );
    assert!(err.contains("scope of chunk 2 (key '..')"), "{err}");
    assert!(err.contains("'../**'"), "{err}");
    before.check(&env);
}

#[test]
fn by_month_finds_the_first_date_anywhere_in_an_item() {
    let env = TestEnv::new();
    let lines = "login fails since 2026-03-02 (seen 2026-04-01)\n\
                 [2026-04-17] slow search\n\
                 build 12026-03-01, reported 2026-03-30\n";
    let made = split(
        &env,
        &["--by-month", "--title", "Triage {key} ({count})"],
        lines,
    );
    let titles: Vec<&str> = made.tasks.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles, ["Triage 2026-03 (2)", "Triage 2026-04 (1)"]);
    assert!(
        made.tasks[0].body.contains("- build 12026-03-01"),
        "{}",
        made.tasks[0].body
    );
    // An item with no date is refused by its line, and nothing is written.
    let before = Untouched::now(&env);
    let err = split_fails(
        &env,
        &["--by-month", "--title", "t"],
        "on 2026-01-01 ok\nversion 2026-13 is no month\n",
        1,
    );
    assert!(
        err.contains("stdin:2: no key in 'version 2026-13 is no month'"),
        "{err}"
    );
    before.check(&env);
}

#[test]
fn align_makes_each_chunk_depend_on_the_same_chunk_of_an_earlier_plan() {
    let env = TestEnv::new();
    let months = "2026-01-05 a\n2026-02-07 b\n2026-01-20 c\n";
    // Phase 1: one task per month writing its own output directory.
    let extract = split(
        &env,
        &[
            "--by-month",
            "--title",
            "Extract {key}",
            "--scope",
            "out/{key}/**",
            "--plan",
            "extract",
        ],
        months,
    );
    let extract_plan = extract.plan.unwrap().plan;
    assert_eq!(extract_plan.name, "extract");
    // Phase 3: the same months, each waiting for its own extract task.
    let summary = split(
        &env,
        &[
            "--by-month",
            "--title",
            "Summarize {key}",
            "--scope",
            "sum/{key}.md",
            "--align",
            "extract",
            "--plan",
            "summary",
        ],
        months,
    );
    let expected: Vec<Vec<String>> = extract_plan
        .tasks
        .iter()
        .map(|t| vec![t.id.clone()])
        .collect();
    let deps: Vec<Vec<String>> = summary.tasks.iter().map(|t| t.deps.clone()).collect();
    assert_eq!(deps, expected);
    let planned = summary.plan.unwrap();
    let plan_deps: Vec<Vec<String>> = planned.plan.tasks.iter().map(|t| t.deps.clone()).collect();
    assert_eq!(plan_deps, expected);
    assert_eq!(planned.plan.tasks[1].scope, ["sum/2026-02.md"]);
    // Open dependencies outside the plan are worth a warning, not a refusal.
    let dep_warnings: Vec<&str> = planned
        .warnings
        .iter()
        .filter(|w| w["rule"] == "deps")
        .map(|w| w["task"].as_str().unwrap())
        .collect();
    assert_eq!(dep_warnings.len(), 2, "{:?}", planned.warnings);
    // Only the first phase is ready; the task files say so too.
    let mut ready = env.ready_ids();
    ready.sort();
    let mut first: Vec<String> = extract.tasks.iter().map(|t| t.id.clone()).collect();
    first.sort();
    assert_eq!(ready, first);
    let shown: TaskJson = env.json(&["show", &summary.tasks[0].id]);
    assert_eq!(shown.deps, [extract.tasks[0].id.clone()]);

    // A different number of chunks is refused, saying both counts; so is
    // an unknown plan; neither writes anything.
    let before = Untouched::now(&env);
    let err = split_fails(
        &env,
        &["--by-month", "--title", "t {key}", "--align", "extract"],
        "2026-01-01 only one month\n",
        1,
    );
    assert!(
        err.contains("plan 'extract' has 2 task(s) but the split makes 1 chunk(s)"),
        "{err}"
    );
    let err = split_fails(
        &env,
        &["--size", "1", "--title", "t {n}", "--align", "extract"],
        "a\nb\nc\n",
        1,
    );
    assert!(
        err.contains("has 2 task(s) but the split makes 3 chunk(s)"),
        "{err}"
    );
    let err = split_fails(&env, &["--title", "t", "--align", "nope"], "a\n", 1);
    assert!(err.contains("no plan 'nope'"), "{err}");
    before.check(&env);
}
