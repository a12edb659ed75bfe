//! The landing's reduce step (`land --then`, a plan's `reduce`): what it
//! makes of the stacked work is committed on top, tested and pushed with
//! it; a failing one, or one that touches `.batch/`, pushes nothing.

use crate::common::TestEnv;
use crate::land::{remote_file, sync, with_remote, work};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct LandJson {
    base: String,
    landed: Vec<String>,
    commit: Option<String>,
    pushed: bool,
    reduce: Option<ReducedJson>,
    test_log: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct ReducedJson {
    command: String,
    commit: Option<String>,
    log: PathBuf,
}

fn land(env: &TestEnv, args: &[&str]) -> LandJson {
    let mut all = vec!["land", "--remote", "origin"];
    all.extend_from_slice(args);
    env.json(&all)
}

/// `land` expected to fail with exit 1; its stderr.
fn land_fails(env: &TestEnv, args: &[&str]) -> String {
    let mut all = vec!["land", "--remote", "origin"];
    all.extend_from_slice(args);
    env.fails(&all, 1)
}

fn remote_main(env: &TestEnv, bare: &Path) -> String {
    env.git_in(bare, &["rev-parse", "main"]).trim().to_string()
}

/// Three tasks, each writing its own part under `out/`, done and waiting
/// for a landing.
fn three_parts(env: &TestEnv) -> Vec<String> {
    let ids: Vec<String> = (0..3)
        .map(|i| env.create(&[&format!("part {i}"), "--scope", &format!("out/{i}/**")]))
        .collect();
    sync(env);
    for (i, id) in ids.iter().enumerate() {
        work(
            env,
            id,
            &[(&format!("out/{i}/part.txt"), &format!("part {i}\n"))],
        );
    }
    ids
}

/// Where a failed landing must leave things: the remote where it was, the
/// tasks done on their branches, no landing worktree.
#[track_caller]
fn nothing_landed(env: &TestEnv, bare: &Path, before: &str, ids: &[String]) {
    assert_eq!(remote_main(env, bare), before);
    for id in ids {
        assert!(
            !env.git(&["branch", "--list", &format!("batch/{id}")])
                .is_empty()
        );
    }
    let worktrees = env.git(&["worktree", "list", "--porcelain"]);
    assert!(!worktrees.contains("land-worktree"), "{worktrees}");
    assert!(remote_file(env, bare, "merged.txt").is_none());
}

#[test]
fn a_then_step_lands_its_merged_file_in_the_same_push() {
    let (env, bare) = with_remote();
    let ids = three_parts(&env);
    let before = remote_main(&env, &bare);
    let updates = |bare: &Path| {
        std::fs::read_to_string(bare.join("logs/refs/heads/main"))
            .unwrap()
            .lines()
            .count()
    };
    let updates_before = updates(&bare);
    let worker_commits: usize = ids
        .iter()
        .map(|id| {
            let range = format!("{before}..batch/{id}");
            let n = env.git(&["rev-list", "--count", &range]);
            n.trim().parse::<usize>().unwrap()
        })
        .sum();
    let then = "cat out/*/part.txt > merged.txt";
    // The tests see what the reduce step made.
    let report = land(
        &env,
        &["--then", then, "--test", "grep -qx 'part 2' merged.txt"],
    );
    assert_eq!(report.landed.len(), 3, "{report:?}");
    assert!(report.pushed);
    assert!(report.test_log.is_some());
    let reduce = report.reduce.expect("the reduce step ran");
    assert_eq!(reduce.command, then);
    assert!(reduce.log.is_file());
    let tip = report.commit.unwrap();
    assert_eq!(remote_main(&env, &bare), tip);
    assert_eq!(updates(&bare), updates_before + 1, "one push");
    assert_eq!(
        remote_file(&env, &bare, "merged.txt").as_deref(),
        Some("part 0\npart 1\npart 2\n")
    );
    // The workers' commits, the reduce commit, the landing commit: nothing
    // else, and the reduce right under the landing.
    let range = format!("{}..{tip}", report.base);
    let count = env.git_in(&bare, &["rev-list", "--count", &range]);
    assert_eq!(count.trim().parse::<usize>().unwrap(), worker_commits + 2);
    let below = env.git_in(&bare, &["rev-parse", &format!("{tip}^")]);
    assert_eq!(Some(below.trim()), reduce.commit.as_deref());
    let message = env.git_in(&bare, &["log", "-1", "--format=%B", below.trim()]);
    assert_eq!(message.trim_end(), format!("batch: reduce\n\n{then}"));
    let files = env.git_in(&bare, &["show", "--format=", "--name-only", below.trim()]);
    assert_eq!(files.trim(), "merged.txt");
    let subject = env.git_in(&bare, &["log", "-1", "--format=%s", &tip]);
    assert!(subject.starts_with("batch: land 3 task(s)"), "{subject}");
}

#[test]
fn a_failing_then_step_pushes_nothing() {
    let (env, bare) = with_remote();
    let ids = three_parts(&env);
    let before = remote_main(&env, &bare);
    let err = land_fails(
        &env,
        &[
            "--then",
            "cat out/*/part.txt > merged.txt; echo no room >&2; exit 3",
        ],
    );
    assert!(err.contains("the reduce step `cat out/*/part.txt"), "{err}");
    let log = err
        .split("(log: ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no log named: {err}"));
    assert!(std::fs::read_to_string(log).unwrap().contains("no room"));
    nothing_landed(&env, &bare, &before, &ids);
    // The work is still there for a landing that can reduce it.
    let report = land(&env, &["--then", "cat out/*/part.txt > merged.txt"]);
    assert_eq!(report.landed.len(), 3, "{report:?}");
    assert!(remote_file(&env, &bare, "merged.txt").is_some());
}

#[test]
fn a_then_step_that_changes_batch_files_is_refused() {
    let (env, bare) = with_remote();
    let ids = three_parts(&env);
    let before = remote_main(&env, &bare);
    let edit = format!(
        "cat out/*/part.txt > merged.txt; echo '# closed' >> .batch/tasks/{}.toml",
        ids[0]
    );
    let err = land_fails(&env, &["--then", &edit]);
    assert!(err.contains("changed files under .batch/"), "{err}");
    assert!(
        err.contains(&format!(".batch/tasks/{}.toml", ids[0])),
        "{err}"
    );
    nothing_landed(&env, &bare, &before, &ids);
    // Committing it is no way around: what the step did is judged from
    // the stack it ran on.
    let sneak = "touch .batch/extra && git add .batch/extra && \
                 git -c user.name=r -c user.email=r@x commit -q --no-verify -m sneak";
    let err = land_fails(&env, &["--then", sneak]);
    assert!(err.contains(".batch/extra"), "{err}");
    nothing_landed(&env, &bare, &before, &ids);
}

/// A plan's `reduce` runs in `land --plan`, taken from the plan as the
/// base has it, not from this checkout's copy.
#[test]
fn a_plans_reduce_comes_from_the_base() {
    let (env, bare) = with_remote();
    // The plan's test command too.
    let ran = env.dir.path().join("ran-base");
    let test = format!("touch {}", ran.display());
    let out = crate::run::feed(
        &env,
        &env.repo,
        &[
            "--json",
            "split",
            "--title",
            "Part {n}",
            "--scope",
            "out/{n}/**",
            "--plan",
            "parts",
            "--reduce",
            "cat out/*/part.txt > by-base.txt",
            "--test",
            &test,
        ],
        "a\nb\n",
    );
    crate::common::assert_ok(&out);
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        made["plan"]["plan"]["config"]["reduce"],
        "cat out/*/part.txt > by-base.txt"
    );
    let ids: Vec<String> = made["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    sync(&env);
    for (i, id) in ids.iter().enumerate() {
        work(
            &env,
            id,
            &[(&format!("out/{}/part.txt", i + 1), &format!("{i}\n"))],
        );
    }
    // Changed here, not committed: not what the base says.
    let plan = env.read(".batch/batches/parts.toml");
    env.write(
        ".batch/batches/parts.toml",
        &plan
            .replace("by-base.txt", "by-checkout.txt")
            .replace("ran-base", "ran-checkout"),
    );
    let report = land(&env, &["--plan", "parts"]);
    assert!(ran.exists(), "the plan's test as the base has it ran");
    assert!(!env.dir.path().join("ran-checkout").exists());
    assert_eq!(report.landed.len(), 2, "{report:?}");
    assert!(report.reduce.unwrap().commit.is_some());
    assert_eq!(
        remote_file(&env, &bare, "by-base.txt").as_deref(),
        Some("0\n1\n")
    );
    assert!(remote_file(&env, &bare, "by-checkout.txt").is_none());
}

/// A run of a plan lands its trains with the plan's reduce step: at the end
/// the main branch has what it made of every task.
#[test]
fn a_plans_reduce_runs_in_the_runs_landings() {
    let (env, _bare) = crate::run::project(3);
    crate::run::split_plan(
        &env,
        &env.repo,
        "rd",
        &["--reduce", "cat src/*.txt > merged.txt"],
    );
    let exec =
        "f=$(sed -n 's/^- `\\(src\\/[^`]*\\)`$/\\1/p' \"$BATCH_CONTEXT\"); echo new > \"$f\"";
    let out = env.run(&["--json", "run", "--plan", "rd", "--exec", exec, "--land"]);
    crate::common::assert_ok(&out);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["landed"].as_array().unwrap().len(), 3, "{summary}");
    let merged = env.git(&["show", "main:merged.txt"]);
    assert_eq!(merged, "new\nnew\nnew\n");
    let subjects = env.git(&["log", "--format=%s", "main"]);
    assert!(subjects.lines().any(|s| s == "batch: reduce"), "{subjects}");
}
