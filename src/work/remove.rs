//! Removing the worktrees, `batch/<id>` branches and shared work refs of
//! many landed tasks in one pass: one scan of the worktrees' admin files,
//! the worktrees removed as `git worktree remove --force` removes them (the
//! working tree's files, then its admin directory), and one `git update-ref
//! --stdin` transaction for every ref. One `git worktree remove` and one
//! `git branch -D` per task read every registered worktree each, so a
//! landing of N branches cost N² reads; this costs N.

use super::branch_of;
use crate::git::{self, GitError, git_err, program};
use git2::Repository;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// A working tree that has (or is busy with) one of the branches asked for.
struct Holder {
    /// Its admin directory, `<common>/worktrees/<name>`; None for the main
    /// working tree, which is never removed.
    admin: Option<PathBuf>,
    /// Its top directory, when it can be read.
    path: Option<PathBuf>,
    /// Locked (`git worktree lock`, or a `git worktree add` killed half
    /// way): one `--force` keeps it, and so does this.
    locked: bool,
    /// Only rebasing or bisecting the branch (HEAD detached): git will not
    /// delete such a branch, and the worktree is not the task's own.
    busy_only: bool,
}

/// What [`remove_landed`] left in place.
#[derive(Debug, Default)]
pub struct Kept {
    /// The tasks whose worktree was kept (locked, the main working tree, or
    /// not removable), and their branch with it.
    pub worktrees: Vec<String>,
}

/// Removes the worktree (forced: uncommitted changes go too, a lock is
/// kept), the branch `batch/<id>` and the work ref `refs/batch/work/<id>`
/// of every task in `ids`. A branch stays while a worktree that could not
/// be removed has it checked out (as `git branch -D` refuses it); the work
/// ref goes regardless. Nothing of a task not in `ids` is touched. The
/// caller holds the worktree turn ([`program::worktree_turn`]).
///
/// A kill half way leaves what a killed `git worktree remove` does (a
/// registered worktree whose directory is gone or partly gone, which `git
/// worktree list` shows as prunable and a later call here removes) and the
/// refs all there or all gone.
pub fn remove_landed(repo: &Repository, root: &Path, ids: &[String]) -> Result<Kept, GitError> {
    let wanted: HashMap<String, &str> = ids
        .iter()
        .map(|id| (git::refs::worker_branch_ref(id), id.as_str()))
        .collect();
    let holders = holders(repo, &wanted)?;
    let mut kept = Kept::default();
    let mut keep_branch: HashSet<&str> = HashSet::new();
    let mut removed_any = false;
    for (id, list) in &holders {
        for h in list {
            let removed = !h.busy_only && !h.locked && remove_one(h);
            removed_any |= removed;
            if !removed {
                keep_branch.insert(id);
                if !h.busy_only {
                    kept.worktrees.push(id.to_string());
                }
            }
        }
    }
    if removed_any {
        // As git does once the last worktree is gone.
        let _ = std::fs::remove_dir(repo.commondir().join("worktrees"));
    }
    let mut refs: Vec<String> = Vec::new();
    for id in ids {
        if !keep_branch.contains(id.as_str()) {
            refs.push(git::refs::worker_branch_ref(id));
        }
        refs.push(git::refs::work(id));
    }
    delete_refs(repo, root, &refs)?;
    drop_branch_config(repo, root, ids, &keep_branch);
    kept.worktrees.sort();
    kept.worktrees.dedup();
    Ok(kept)
}

/// Every working tree that has one of `wanted`'s branches checked out (or
/// is rebasing or bisecting it), by task: one read of each admin directory.
fn holders<'a>(
    repo: &Repository,
    wanted: &HashMap<String, &'a str>,
) -> Result<HashMap<&'a str, Vec<Holder>>, GitError> {
    let mut found: HashMap<&str, Vec<Holder>> = HashMap::new();
    let common = repo.commondir();
    if let Some(id) = head_branch(common).and_then(|b| wanted.get(&b)) {
        found.entry(id).or_default().push(Holder {
            admin: None,
            path: None,
            locked: false,
            busy_only: false,
        });
    }
    let names = repo.worktrees().map_err(git_err("listing the worktrees"))?;
    for name in names.iter().flatten().flatten() {
        let admin = common.join("worktrees").join(name);
        let (id, busy_only) = match head_branch(&admin).and_then(|b| wanted.get(&b)) {
            Some(id) => (*id, false),
            None => match busy_branch(&admin).and_then(|b| wanted.get(&b)) {
                Some(id) => (*id, true),
                None => continue,
            },
        };
        let path = repo
            .find_worktree(name)
            .ok()
            .map(|w| w.path().to_path_buf());
        found.entry(id).or_default().push(Holder {
            locked: admin.join("locked").exists(),
            admin: Some(admin),
            path,
            busy_only,
        });
    }
    Ok(found)
}

/// The branch a git dir's HEAD names (`ref: refs/heads/...`).
fn head_branch(git_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    Some(text.trim_end().strip_prefix("ref: ")?.to_string())
}

/// The branch a rebase or bisect in this git dir works on.
fn busy_branch(git_dir: &Path) -> Option<String> {
    for f in ["rebase-merge/head-name", "rebase-apply/head-name"] {
        if let Ok(text) = std::fs::read_to_string(git_dir.join(f)) {
            return Some(text.trim_end().to_string());
        }
    }
    let start = std::fs::read_to_string(git_dir.join("BISECT_START")).ok()?;
    Some(git::refs::branch(start.trim_end()))
}

/// Removes one linked worktree as `git worktree remove --force` does: its
/// files, then its admin directory. When its files cannot all be removed
/// it stays registered (so the branch stays too). True when it is gone.
fn remove_one(h: &Holder) -> bool {
    let Some(admin) = &h.admin else {
        return false;
    };
    // Without its path (an unreadable `gitdir`) git could not name it
    // either: it stays.
    let Some(path) = &h.path else {
        return false;
    };
    if path.exists() && std::fs::remove_dir_all(path).is_err() {
        return false;
    }
    std::fs::remove_dir_all(admin).is_ok() || !admin.exists()
}

/// Deletes `refs` (missing ones are fine) in one `update-ref --stdin`
/// transaction; should that fail as a whole (a ref locked by another
/// process), each is deleted on its own, best effort.
fn delete_refs(repo: &Repository, root: &Path, refs: &[String]) -> Result<(), GitError> {
    if refs.is_empty() {
        return Ok(());
    }
    let mut input = String::from("start\n");
    for r in refs {
        input.push_str(&format!("delete {r}\n"));
    }
    input.push_str("prepare\ncommit\n");
    if program::Git::new(root)
        .args(["update-ref", "--stdin"])
        .input(input.into_bytes())
        .succeeds()?
    {
        return Ok(());
    }
    for r in refs {
        if let Ok(mut reference) = repo.find_reference(r) {
            let _ = reference.delete();
        }
    }
    Ok(())
}

/// Removes the `branch.<name>.*` settings of the deleted branches, as
/// `git branch -D` does (worker branches rarely have any: only one pushed
/// with `-u` by hand).
fn drop_branch_config(repo: &Repository, root: &Path, ids: &[String], kept: &HashSet<&str>) {
    let Ok(config) = repo
        .config()
        .and_then(|c| c.open_level(git2::ConfigLevel::Local))
    else {
        return;
    };
    let deleted: HashSet<String> = ids
        .iter()
        .filter(|id| !kept.contains(id.as_str()))
        .map(|id| branch_of(id))
        .collect();
    let mut sections = BTreeSet::new();
    if let Ok(mut entries) = config.entries(Some("^branch\\.")) {
        while let Some(Ok(entry)) = entries.next() {
            let Ok(name) = entry.name() else { continue };
            let section = name
                .strip_prefix("branch.")
                .and_then(|n| n.rsplit_once('.'))
                .map(|(s, _key)| s);
            if let Some(s) = section.filter(|s| deleted.contains(*s)) {
                sections.insert(format!("branch.{s}"));
            }
        }
    }
    for s in sections {
        let _ = program::run(root, &["config", "--local", "--remove-section", &s]);
    }
}
