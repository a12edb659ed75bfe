//! What a landing checks before it does any work, so that it stops with a
//! clear message instead of failing half-way (or landing nothing and
//! calling that a success): the tasks named exist, the local branch holds
//! nothing the remote lacks, and a checkout the landing will move has no
//! changes to the files it lands.

use super::{LandError, Options};
use crate::git::{self, git_err, program};
use crate::store::Store;
use crate::work::worktree;
use git2::{Oid, Repository};

/// Every task named on the command line is known: a task file here, or a
/// worker branch (a child created on a branch).
pub fn check_known(store: &Store, ids: &[String]) -> Result<(), LandError> {
    for id in ids {
        crate::task::id::validate_id(id).map_err(crate::store::StoreError::from)?;
        if !store.exists(id) && worktree::branch_tip(&store.repo, id).is_none() {
            return Err(crate::store::StoreError::UnknownTask {
                id: id.clone(),
                path: store.task_path(id),
            }
            .into());
        }
    }
    Ok(())
}

/// Without a push the landing fast-forwards the checkout of the branch; a
/// change there to a file the landing changes too (a worker's file, a task
/// file it closes, a receipt) would stop that only after the tests, with
/// git's own merge error, so it is refused now. Other changes are left
/// alone, as the fast-forward leaves them.
pub(super) fn check_clean_checkout(
    store: &Store,
    opts: &Options,
    base: Oid,
) -> Result<(), LandError> {
    if (opts.push && opts.remote.is_some()) || opts.dry_run {
        return Ok(());
    }
    let main_wt = worktree::main_worktree_top(&store.repo).unwrap_or_else(|| store.root.clone());
    let checked_out = Repository::open(&main_wt)
        .ok()
        .and_then(|r| git::current_branch(&r))
        .as_deref()
        == Some(opts.branch.as_str());
    if !checked_out {
        return Ok(());
    }
    let status = program::ok(
        &main_wt,
        &["status", "--porcelain", "--untracked-files=all"],
    )?;
    let changed: Vec<String> = status
        .lines()
        .filter_map(|l| l.get(3..))
        .map(|p| p.rsplit(" -> ").next().unwrap_or(p).to_string())
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    let touched = landing_touches(store, opts, base)?;
    let files: Vec<String> = changed
        .into_iter()
        .filter(|f| {
            touched.contains(f)
                || f.starts_with(".batch/tasks/")
                || f.starts_with(".batch/receipts/")
        })
        .collect();
    if files.is_empty() {
        return Ok(());
    }
    Err(LandError::DirtyCheckout {
        branch: opts.branch.clone(),
        path: main_wt,
        files,
    })
}

/// The files the branches a landing would take change since they left
/// `base`'s history.
fn landing_touches(
    store: &Store,
    opts: &Options,
    base: Oid,
) -> Result<std::collections::HashSet<String>, LandError> {
    let repo = &store.repo;
    let mut out = std::collections::HashSet::new();
    let walk = || git_err("reading the branches to land");
    for c in super::candidates(repo, opts.only.as_deref(), Some(base))? {
        let from = repo.merge_base(base, c.tip).map_err(walk())?;
        let old = repo
            .find_commit(from)
            .and_then(|c| c.tree())
            .map_err(walk())?;
        let new = repo
            .find_commit(c.tip)
            .and_then(|c| c.tree())
            .map_err(walk())?;
        let diff = repo
            .diff_tree_to_tree(Some(&old), Some(&new), None)
            .map_err(walk())?;
        for d in diff.deltas() {
            for f in [d.old_file().path(), d.new_file().path()]
                .into_iter()
                .flatten()
            {
                out.insert(f.to_string_lossy().into_owned());
            }
        }
    }
    Ok(out)
}

/// With a push, the landing starts from the remote's tip (`base`) while
/// the worker branches started from the local branch: commits only the
/// local branch has would ride along in every branch and count against
/// its scope, as they do for `run`. So the local branch must hold none.
pub(super) fn check_pushed(store: &Store, opts: &Options, base: Oid) -> Result<(), LandError> {
    let Some(remote) = opts.remote.as_deref().filter(|_| opts.push) else {
        return Ok(());
    };
    let local = git::refs::branch(&opts.branch);
    let Ok(local_tip) = store.repo.refname_to_id(&local) else {
        return Ok(());
    };
    let mut walk = store
        .repo
        .revwalk()
        .map_err(git_err("walking the branch"))?;
    walk.push(local_tip)
        .map_err(git_err("walking the branch"))?;
    walk.hide(base).map_err(git_err("walking the branch"))?;
    let count = walk.count();
    if count == 0 {
        return Ok(());
    }
    Err(LandError::Unpushed {
        branch: opts.branch.clone(),
        remote: remote.to_string(),
        count,
    })
}
