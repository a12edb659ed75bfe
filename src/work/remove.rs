//! Removing the worktrees, `batch/<id>` branches and shared work refs of
//! many landed tasks in one pass, in an order a `kill -9` anywhere cannot
//! spoil.
//!
//! One `git worktree remove` and one `git branch -D` per task read every
//! registered worktree each, so a landing of N branches cost N² reads; this
//! reads each worktree's admin files once and deletes every ref in one
//! `git update-ref --stdin` transaction.
//!
//! The worktrees' files are deleted here, not by a git child that outlives
//! a killed git-batch, so a kill can leave a worktree half deleted, which
//! looks like one with uncommitted changes (and the sweep keeps those).
//! Hence the order: first the list of what is to go (each task with the
//! branch tip that landed) is written to [`INTENT`] under `$GIT_DIR/batch/`,
//! atomically; then the worktrees' files, then their admin directories,
//! then the refs; the list is deleted last. A kill anywhere leaves the list,
//! and [`finish_interrupted`] (the next landing's first step) removes what
//! it names by force, half-deleted worktrees too. A branch no longer at the
//! tip that landed has new work: it, its worktree and work ref are kept.

use super::snapshot::head_branch;
use super::{WorkError, branch_of};
use crate::git::{self, GitError, git_err, program};
use git2::{Oid, Repository};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The list of landed tasks being removed, in `$GIT_DIR/batch/`: one line
/// `<id> <tip>` each (`-` for a tip not known).
pub const INTENT: &str = "removing-landed";

/// Threads deleting worktrees at once.
const REMOVE_THREADS: usize = 8;

/// A landed task to remove: its id and the tip of `batch/<id>` that landed
/// (None: whatever the branch holds, as `git branch -D` does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    pub id: String,
    pub tip: Option<Oid>,
}

/// What a removal left in place.
#[derive(Debug, Default)]
pub struct Kept {
    /// Tasks whose worktree was kept (locked, the main working tree, or not
    /// removable), and their branch with it.
    pub worktrees: Vec<String>,
    /// Tasks whose branch moved past the tip that landed: all of it kept.
    pub moved: Vec<String>,
}

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

fn intent_path(common: &Path) -> PathBuf {
    common.join("batch").join(INTENT)
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> WorkError + 'a {
    move |source| WorkError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Removes the worktree (forced: uncommitted changes go too, a lock is
/// kept), the branch `batch/<id>` and the work ref `refs/batch/work/<id>`
/// of every task in `landed`, recording them first so that a kill half way
/// is finished by [`finish_interrupted`]. Nothing of a task not listed is
/// touched. Takes the worktree turn.
pub fn remove_landed(repo: &Repository, root: &Path, landed: &[Landed]) -> Result<Kept, WorkError> {
    if landed.is_empty() {
        return Ok(Kept::default());
    }
    let _turn = program::worktree_turn(repo.commondir())?;
    let intent = intent_path(repo.commondir());
    let mut text = String::new();
    for l in landed {
        let tip = l.tip.map_or_else(|| "-".to_string(), |t| t.to_string());
        text.push_str(&format!("{} {tip}\n", l.id));
    }
    crate::atomic::write_atomic(&intent, text.as_bytes())
        .map_err(io_err("recording the landed tasks to remove", &intent))?;
    let kept = remove_listed(repo, root, landed)?;
    forget_intent(&intent)?;
    Ok(kept)
}

/// Finishes the removal a killed landing left (its list in [`INTENT`]);
/// returns the ids it listed, none when there was nothing to finish.
pub fn finish_interrupted(repo: &Repository, root: &Path) -> Result<Vec<String>, WorkError> {
    let intent = intent_path(repo.commondir());
    let text = match std::fs::read_to_string(&intent) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("reading the landed tasks to remove", &intent)(e)),
    };
    let _turn = program::worktree_turn(repo.commondir())?;
    // Only well-formed lines: the file is ours, but a line that does not
    // read names nothing to delete.
    let landed: Vec<Landed> = text
        .lines()
        .filter_map(|line| {
            let (id, tip) = line.split_once(' ')?;
            crate::task::id::validate_id(id).ok()?;
            let tip = match tip {
                "-" => None,
                t => Some(Oid::from_str(t).ok()?),
            };
            Some(Landed {
                id: id.to_string(),
                tip,
            })
        })
        .collect();
    remove_listed(repo, root, &landed)?;
    forget_intent(&intent)?;
    Ok(landed.into_iter().map(|l| l.id).collect())
}

fn forget_intent(intent: &Path) -> Result<(), WorkError> {
    match std::fs::remove_file(intent) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(io_err("removing the list of landed tasks", intent)(e))
        }
        _ => Ok(()),
    }
}

/// The removal itself: the worktrees' files, their admin directories, then
/// the refs. Each step may be run again on what a killed one left.
fn remove_listed(repo: &Repository, root: &Path, landed: &[Landed]) -> Result<Kept, WorkError> {
    let mut kept = Kept::default();
    // A branch that moved on since it landed holds work that did not land.
    let tips: HashMap<&str, Option<Oid>> = landed
        .iter()
        .map(|l| {
            let now = repo
                .refname_to_id(&git::refs::worker_branch_ref(&l.id))
                .ok();
            (l.id.as_str(), now)
        })
        .collect();
    let mut going: Vec<&str> = Vec::new();
    for l in landed {
        match (tips[l.id.as_str()], l.tip) {
            (Some(now), Some(tip)) if now != tip => kept.moved.push(l.id.clone()),
            _ => going.push(&l.id),
        }
    }
    let wanted: HashMap<String, &str> = going
        .iter()
        .map(|id| (git::refs::worker_branch_ref(id), *id))
        .collect();
    let holders = holders(repo, &wanted)?;
    let all: Vec<(&str, &Holder)> = holders
        .iter()
        .flat_map(|(id, list)| list.iter().map(move |h| (*id, h)))
        .collect();
    // Each worktree goes in the order above on its own, so they can go at
    // once; deleting files mostly waits on the file system's journal, and
    // those waits overlap (400 worktrees of 800 files: 52-101 s one after
    // another, 8-11 s on 8 threads, on this project's benchmark machine).
    let removed = crate::parallel::map_waiting(&all, REMOVE_THREADS, |(_, h)| {
        !h.busy_only && !h.locked && remove_one(h)
    });
    let mut keep_branch: HashSet<&str> = HashSet::new();
    let mut removed_any = false;
    for ((id, h), removed) in all.iter().zip(removed) {
        removed_any |= removed;
        if !removed {
            keep_branch.insert(id);
            if !h.busy_only {
                kept.worktrees.push(id.to_string());
            }
        }
    }
    if removed_any {
        // As git does once the last worktree is gone.
        let _ = std::fs::remove_dir(repo.commondir().join("worktrees"));
    }
    // Each ref with the value read here: one moved meanwhile is not ours.
    let mut refs: Vec<(String, Oid)> = Vec::new();
    for id in &going {
        if !keep_branch.contains(id)
            && let Some(tip) = tips[id]
        {
            refs.push((git::refs::worker_branch_ref(id), tip));
        }
        let work = git::refs::work(id);
        if let Ok(tip) = repo.refname_to_id(&work) {
            refs.push((work, tip));
        }
    }
    delete_refs(repo, root, &refs)?;
    let deleted: HashSet<String> = going
        .iter()
        .filter(|id| !keep_branch.contains(*id))
        .map(|id| branch_of(id))
        .collect();
    drop_branch_config(repo, root, &deleted);
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
    if wanted.is_empty() {
        return Ok(found);
    }
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
/// files, then its admin directory (so a worktree still registered is one
/// to finish, never an entry without its files' owner). When its files
/// cannot all be removed it stays registered (so the branch stays too).
/// True when it is gone.
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

/// Deletes `refs` (each only while at the value given) in one `update-ref
/// --stdin` transaction; should that fail as a whole (a ref locked or moved
/// by another process), each is deleted on its own, best effort.
fn delete_refs(repo: &Repository, root: &Path, refs: &[(String, Oid)]) -> Result<(), GitError> {
    if refs.is_empty() {
        return Ok(());
    }
    let mut input = String::from("start\n");
    for (r, old) in refs {
        input.push_str(&format!("delete {r} {old}\n"));
    }
    input.push_str("prepare\ncommit\n");
    if program::Git::new(root)
        .args(["update-ref", "--stdin"])
        .input(input.into_bytes())
        .succeeds()?
    {
        return Ok(());
    }
    for (r, old) in refs {
        if let Ok(mut reference) = repo.find_reference(r)
            && reference.target() == Some(*old)
        {
            let _ = reference.delete();
        }
    }
    Ok(())
}

/// Removes the `branch.<name>.*` settings of the deleted branches, as
/// `git branch -D` does (worker branches rarely have any: only one pushed
/// with `-u` by hand).
fn drop_branch_config(repo: &Repository, root: &Path, deleted: &HashSet<String>) {
    if deleted.is_empty() {
        return;
    }
    let Ok(config) = repo
        .config()
        .and_then(|c| c.open_level(git2::ConfigLevel::Local))
    else {
        return;
    };
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
