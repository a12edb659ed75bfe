//! Where every task's work is, read in one pass: the tips of the worker
//! branches and shared work refs ([`Tips`]) and which worktree has which
//! branch checked out ([`Checkouts`]). A view over many tasks (`review`,
//! `status` of a plan) asks both once per task; looking each up on its
//! own read every worktree's `HEAD` once per task (a thousand tasks with
//! their worktrees: a million reads) and every ref file once per task.
//!
//! The answers are those of [`super::worktree::branch_tip`] and
//! [`super::worktree::find_worktree`], which share [`each_checkout`] with
//! [`Checkouts`]: one rule for which worktree counts, read at one time.

use super::{WorkError, branch_of};
use crate::git::{self, git_err};
use git2::{Oid, Repository};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The commit of every local worker branch and every shared work ref.
#[derive(Debug, Default)]
pub struct Tips {
    by_ref: HashMap<String, Oid>,
}

impl Tips {
    /// Both namespaces listed once; a ref that cannot be read is left out,
    /// as a lookup of it finds nothing.
    pub fn read(repo: &Repository) -> Tips {
        let mut by_ref = HashMap::new();
        for glob in [
            git::refs::worker_branch_glob(),
            git::refs::WORK_GLOB.to_string(),
        ] {
            let Ok(refs) = repo.references_glob(&glob) else {
                continue;
            };
            for r in refs.flatten() {
                // A symbolic ref counts where it points, as a lookup by name.
                let target = r.resolve().ok().and_then(|r| r.target());
                if let (Ok(name), Some(oid)) = (r.name(), target) {
                    by_ref.insert(name.to_string(), oid);
                }
            }
        }
        Tips { by_ref }
    }

    /// As [`super::worktree::branch_tip`]: the local branch, else the
    /// shared work.
    pub fn tip(&self, id: &str) -> Option<Oid> {
        [git::refs::worker_branch_ref(id), git::refs::work(id)]
            .iter()
            .find_map(|r| self.by_ref.get(r).copied())
    }
}

/// A working tree with a branch checked out, as [`each_checkout`] finds it.
#[derive(Debug, Clone)]
pub enum Checkout {
    /// The directory of the current or the main working tree (`None` when
    /// it is gone).
    Dir(Option<PathBuf>),
    /// A linked worktree by its name under `.git/worktrees`: opened only
    /// when it is the one wanted.
    Linked(String),
}

impl Checkout {
    /// Its directory; `None` when a linked worktree cannot be opened (then
    /// it is not the one, and the search goes on).
    fn dir(&self, repo: &Repository) -> Option<Option<PathBuf>> {
        let existing = |p: &Path| Some(p.to_path_buf()).filter(|p| p.exists());
        match self {
            Checkout::Dir(d) => Some(d.as_deref().and_then(existing)),
            Checkout::Linked(name) => repo.find_worktree(name).ok().map(|wt| existing(wt.path())),
        }
    }
}

/// Calls `visit` with each working tree's checked-out branch (the full ref
/// name) in the order a lookup trusts them: the current working tree, the
/// main one, then each linked worktree; stops when `visit` says so.
///
/// Each working tree's HEAD file is read directly (gitrepository-layout):
/// opening every worktree as a repository, config and all, made this twice
/// as slow as `git worktree list` with a hundred worktrees. A worktree that
/// cannot be read (half made, or its directory gone) is skipped.
pub fn each_checkout(
    repo: &Repository,
    mut visit: impl FnMut(&str, Checkout) -> bool,
) -> Result<(), WorkError> {
    // The common case: a worker asking from its own worktree.
    if let Some(current) = git::current_branch(repo)
        && visit(
            &git::refs::branch(&current),
            Checkout::Dir(repo.workdir().map(Path::to_path_buf)),
        )
    {
        return Ok(());
    }
    let common = repo.commondir();
    if let Some(branch) = head_branch(common)
        && visit(
            &branch,
            Checkout::Dir(super::worktree::main_worktree_top(repo)),
        )
    {
        return Ok(());
    }
    let names = repo.worktrees().map_err(git_err("listing the worktrees"))?;
    for name in names.iter().flatten().flatten() {
        if let Some(branch) = head_branch(&common.join("worktrees").join(name))
            && visit(&branch, Checkout::Linked(name.to_string()))
        {
            return Ok(());
        }
    }
    Ok(())
}

/// The branch a git dir's HEAD names (`ref: refs/heads/...`), read as a
/// file; `None` when detached or unreadable.
pub(super) fn head_branch(git_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    Some(text.trim_end().strip_prefix("ref: ")?.to_string())
}

/// The worktree of `id` found by [`each_checkout`]: the first that has
/// `batch/<id>` checked out and can be opened.
pub fn find(repo: &Repository, id: &str) -> Result<Option<PathBuf>, WorkError> {
    let want = git::refs::branch(&branch_of(id));
    let mut found = None;
    each_checkout(repo, |branch, at| {
        if branch == want {
            found = at.dir(repo);
        }
        found.is_some()
    })?;
    Ok(found.flatten())
}

/// Which worktree has which branch checked out, every worktree's HEAD read
/// once.
#[derive(Debug, Default)]
pub struct Checkouts {
    /// By branch ref, the working trees that have it, in lookup order.
    by_branch: HashMap<String, Vec<Checkout>>,
    /// The answers given, by task: a linked worktree is opened once.
    found: RefCell<HashMap<String, Option<PathBuf>>>,
}

impl Checkouts {
    pub fn read(repo: &Repository) -> Result<Checkouts, WorkError> {
        let mut by_branch: HashMap<String, Vec<Checkout>> = HashMap::new();
        each_checkout(repo, |branch, at| {
            by_branch.entry(branch.to_string()).or_default().push(at);
            false
        })?;
        Ok(Checkouts {
            by_branch,
            found: RefCell::default(),
        })
    }

    /// As [`find`] would have answered when this was read.
    pub fn worktree(&self, repo: &Repository, id: &str) -> Option<PathBuf> {
        if let Some(known) = self.found.borrow().get(id) {
            return known.clone();
        }
        let dir = self
            .by_branch
            .get(&git::refs::branch(&branch_of(id)))
            .and_then(|all| all.iter().find_map(|at| at.dir(repo)).flatten());
        self.found.borrow_mut().insert(id.to_string(), dir.clone());
        dir
    }
}
