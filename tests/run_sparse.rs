//! `run --sparse`: each worker sees its task's scope and `.batch/` and
//! nothing else, its work is done and landed as in a full worktree, and a
//! run killed with kill -9 at any moment (also between a worktree's creation
//! and its checkout) resumes to the same end.

use crate::common::TestEnv;
use crate::run::{project, split_plan, summary, worktree_of};
use crate::run_resume::kill_loop;

/// Fails unless the worktree holds exactly its file of `src/` and `.batch/`,
/// and git sees nothing missing; then changes its file.
const WORKER: &str = r#"#!/bin/sh
f=$(sed -n 's/^- `\(src\/[^`]*\)`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
[ -f "$f" ] || { echo "no $f" >&2; exit 3; }
[ -f ".batch/tasks/$BATCH_TASK.toml" ] || { echo "no task file" >&2; exit 3; }
[ ! -e README.md ] || { echo "README.md checked out" >&2; exit 4; }
[ "$(ls src | wc -l)" -eq 1 ] || { echo "other files: $(ls src)" >&2; exit 4; }
[ -z "$(git status --porcelain)" ] || { git status --porcelain >&2; exit 5; }
echo "ported by $BATCH_TASK" > "$f"
"#;

#[test]
fn a_sparse_run_shows_each_worker_its_scope_and_lands() {
    let (env, _bare) = project(8);
    let ids = split_plan(&env, &env.repo, "p", &[]);
    let worker = env.dir.path().join("sparse-worker.sh");
    std::fs::write(&worker, WORKER).unwrap();
    let exec = format!("sh {}", worker.display());
    let args = [
        "--json", "run", "--plan", "p", "--exec", &exec, "-j", "4", "--sparse", "--land",
    ];
    let out = env.batch_cmd(&args).output().unwrap();
    let s = summary(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!((s.done, s.failed, s.queued), (8, 0, 0), "{err}");
    assert_eq!(s.landed.len(), 8, "{err}");
    for i in 1..=8 {
        let text = env.read(&format!("src/m{i:02}.txt"));
        assert!(text.starts_with("ported by "), "src/m{i:02}.txt: {text}");
    }
    assert_eq!(env.read("README.md"), "hello\n");
    assert_eq!(ids.len(), 8);
}

/// The kill loop of `run_resume`, sparse and at -j 8 (every start and
/// finish at once, the finishes in the workers' threads): every task done
/// once, and each worktree it leaves is sparse and clean.
#[test]
fn a_sparse_run_killed_at_random_moments_resumes_without_redoing_work() {
    kill_loop(3, 8, &["--sparse"], |env: &TestEnv, id: &str| {
        let wt = worktree_of(env, &env.repo, id);
        assert!(!wt.join("README.md").exists(), "{id}: not sparse");
        // A kill -9 inside an atomic write leaves its temp file, which
        // git-batch passes over (`worktree::is_leftover_temp`); nothing else.
        let status = env.git_in(&wt, &["status", "--porcelain"]);
        let left: Vec<&str> = status
            .lines()
            .filter(|l| !l.rsplit('/').next().unwrap_or(l).starts_with(".batch-tmp-"))
            .collect();
        assert!(left.is_empty(), "{id}: {status}");
    });
}
