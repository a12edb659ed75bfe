//! What a landing removes afterwards, for many tasks at once: every landed
//! task's worktree (with uncommitted changes too, or already gone from the
//! disk), branch, branch settings and shared work ref; a locked worktree and
//! its branch are kept, and nothing of a task that did not land is touched.

use crate::common::TestEnv;
use crate::land::work;
use std::path::PathBuf;

#[derive(Debug, serde::Deserialize)]
struct LandJson {
    landed: Vec<String>,
    left_out: Vec<serde_json::Value>,
}

fn refs(env: &TestEnv, pattern: &str) -> Vec<String> {
    env.git(&["for-each-ref", "--format=%(refname)", pattern])
        .lines()
        .map(String::from)
        .collect()
}

/// The worktrees `git worktree list` reads (it fails on a broken entry).
fn worktrees(env: &TestEnv) -> Vec<PathBuf> {
    env.git(&["worktree", "list", "--porcelain"])
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .map(PathBuf::from)
        .collect()
}

/// The arguments of every git process in a `GIT_TRACE2_EVENT` trace
/// (after `git` and its `-c` settings).
fn git_commands(trace: &std::path::Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(trace).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "start")
        .map(|e| {
            let argv: Vec<String> = e["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            let mut rest = argv[1..].iter().peekable();
            let mut out = Vec::new();
            while let Some(a) = rest.next() {
                if a == "-c" {
                    rest.next();
                } else {
                    out.push(a.clone());
                }
            }
            out
        })
        .collect()
}

#[test]
fn twelve_landed_tasks_are_cleaned_up_and_the_others_kept() {
    let env = TestEnv::new();
    let ids: Vec<String> = (0..14)
        .map(|i| env.create(&[&format!("part {i}"), "--scope", &format!("p{i}/**")]))
        .collect();
    let mut wts: Vec<PathBuf> = ids
        .iter()
        .enumerate()
        .take(13)
        .map(|(i, id)| work(&env, id, &[(&format!("p{i}/a.txt"), "done\n")]))
        .collect();
    // The last one leaves its scope by hand: left out, all of it kept.
    let (out, out_wt) = (&ids[13], {
        let s: serde_json::Value = env.json(&["start", &ids[13], "--worker", "w-out"]);
        PathBuf::from(s["path"].as_str().unwrap())
    });
    std::fs::write(out_wt.join("elsewhere.txt"), "x\n").unwrap();
    env.done_by_hand(&out_wt, out);
    wts.push(out_wt.clone());
    // Shared work refs, as fetched from another clone's `done`.
    for id in &ids {
        let tip = env.git(&["rev-parse", &format!("batch/{id}")]);
        env.git(&["update-ref", &format!("refs/batch/work/{id}"), tip.trim()]);
    }
    // Landed ones in every state: with uncommitted changes and untracked
    // files (removed, as `--force` did), its directory already deleted by
    // hand (a prunable entry, removed), locked (kept, with its branch), and
    // one with branch settings (dropped with the branch).
    std::fs::write(wts[0].join("p0/a.txt"), "changed after done\n").unwrap();
    std::fs::write(wts[0].join("untracked.txt"), "x\n").unwrap();
    std::fs::remove_dir_all(&wts[1]).unwrap();
    let locked = &ids[2];
    env.git(&["worktree", "lock", wts[2].to_str().unwrap()]);
    env.git(&[
        "config",
        &format!("branch.batch/{}.remote", ids[3]),
        "origin",
    ]);
    env.git(&["config", &format!("branch.batch/{}.remote", out), "origin"]);

    let trace = env.dir.path().join("trace.json");
    let landing = env
        .batch_cmd(&["--json", "land", "--no-push"])
        .env("GIT_TRACE2_EVENT", &trace)
        .output()
        .unwrap();
    assert!(landing.status.success(), "{landing:?}");
    let report: LandJson = serde_json::from_slice(&landing.stdout).unwrap();
    let mut landed = report.landed.clone();
    landed.sort();
    let mut expected: Vec<String> = ids[..13].to_vec();
    expected.sort();
    assert_eq!(landed, expected, "{report:?}");
    assert_eq!(report.left_out.len(), 1, "{report:?}");

    // Kept: the left-out task's worktree, branch, settings and work ref;
    // the locked worktree and its branch.
    let mut kept_worktrees = vec![env.repo.clone(), wts[2].clone(), out_wt.clone()];
    kept_worktrees.sort();
    let mut listed = worktrees(&env);
    listed.sort();
    let canon =
        |v: Vec<PathBuf>| -> Vec<PathBuf> { v.iter().map(|p| p.canonicalize().unwrap()).collect() };
    assert_eq!(canon(listed), canon(kept_worktrees));
    let mut branches = vec![
        format!("refs/heads/batch/{locked}"),
        format!("refs/heads/batch/{out}"),
    ];
    branches.sort();
    assert_eq!(refs(&env, "refs/heads/batch/"), branches);
    assert_eq!(
        refs(&env, "refs/batch/work/"),
        vec![format!("refs/batch/work/{out}")]
    );
    assert!(out_wt.join("elsewhere.txt").exists());
    let settings = env.git(&["config", "--get-regexp", "^branch\\."]);
    assert_eq!(settings.trim(), format!("branch.batch/{out}.remote origin"));
    // In one pass: no `git worktree remove` or `git branch -D` per task
    // (the removals are of the landing's own worktree, and the sweep's try
    // at the locked one), one transaction.
    let ran = git_commands(&trace);
    let count = |cmd: &[&str]| {
        ran.iter()
            .filter(|a| a.len() >= cmd.len() && a.iter().zip(cmd).all(|(a, c)| a == c))
            .count()
    };
    let per_task: Vec<&Vec<String>> = ran
        .iter()
        .filter(|a| a.starts_with(&["worktree".to_string(), "remove".to_string()]))
        .filter(|a| !a.last().unwrap().ends_with("land-worktree"))
        .filter(|a| std::path::Path::new(a.last().unwrap()) != wts[2])
        .collect();
    assert!(per_task.is_empty(), "{per_task:?}");
    assert_eq!(count(&["branch"]), 0, "{ran:?}");
    assert_eq!(count(&["update-ref", "--stdin"]), 1, "{ran:?}");
    // Gone: every other landed worktree, with its directory.
    for (i, wt) in wts.iter().enumerate().take(13) {
        assert_eq!(wt.exists(), i == 2, "{}", wt.display());
    }
    // Unlocked, the kept one goes with the next landing's tidy-up or by hand.
    env.git(&["worktree", "unlock", wts[2].to_str().unwrap()]);
    env.ok(&["abandon", locked, "--force"]);
    assert_eq!(
        refs(&env, "refs/heads/batch/"),
        vec![format!("refs/heads/batch/{out}")]
    );
}
