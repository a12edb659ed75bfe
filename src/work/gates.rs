//! Running gates on a task's finished work where it is (see
//! [`crate::gate`]): in its worktree, or, when it has none (work another
//! clone shared, a worktree removed), in a temporary detached worktree at
//! its branch tip that is removed afterwards.

use super::WorkError;
use crate::gate::{self, Gate};
use crate::git::program;
use crate::store::Store;
use crate::task::review::GateResult;
use std::path::{Path, PathBuf};

/// Runs every gate in `gates` on `id`'s work in `worktree`; the logs go
/// to `logs` as `<prefix>gate-<name>.log`.
pub fn run_in(
    id: &str,
    worktree: &Path,
    gates: &[Gate],
    logs: &Path,
    prefix: &str,
) -> Vec<GateResult> {
    gates
        .iter()
        .map(|g| {
            gate::run(
                g,
                &gate::Place {
                    task: id,
                    worktree,
                    log: logs.join(format!("{prefix}gate-{}.log", g.name)),
                },
            )
        })
        .collect()
}

/// Where `gate` keeps its logs: under the git dir, by task.
pub fn logs_dir(store: &Store) -> PathBuf {
    store.repo.commondir().join("batch").join("gates")
}

/// Runs `gates` on `id`'s finished work: in its worktree when it has one,
/// else at its branch tip in a temporary worktree. `None` when the task has
/// no work to judge (no branch here or shared).
pub fn run_on_work(
    store: &Store,
    id: &str,
    gates: &[Gate],
) -> Result<Option<Vec<GateResult>>, WorkError> {
    let logs = logs_dir(store);
    let prefix = format!("{id}.");
    if let Some(path) = super::worktree::find_worktree(&store.repo, id)? {
        return Ok(Some(run_in(id, &path, gates, &logs, &prefix)));
    }
    let Some(tip) = super::worktree::branch_tip(&store.repo, id) else {
        return Ok(None);
    };
    let path = store
        .repo
        .commondir()
        .join("batch")
        .join("gate-worktrees")
        .join(id);
    let common = store.repo.commondir();
    program::remove_scratch_worktree(&store.root, common, &path);
    program::add_scratch_worktree(&store.root, common, &path, tip)?;
    let results = run_in(id, &path, gates, &logs, &prefix);
    program::remove_scratch_worktree(&store.root, common, &path);
    Ok(Some(results))
}

/// The first failing blocking gate, as an attempt's failure reason (with
/// its output's tail, fed back to the worker).
pub fn blocking_failure(results: &[GateResult]) -> Option<String> {
    let g = results.iter().find(|g| g.blocking && !g.passed)?;
    let code = g
        .exit_code
        .map_or_else(|| "no exit code".to_string(), |c| format!("exit {c}"));
    Some(format!(
        "blocking gate `{}` failed ({code}):\n{}",
        g.name, g.tail
    ))
}
