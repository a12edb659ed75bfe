//! Worker worktrees: `start` claims a task and checks out `batch/<id>` from
//! the main tip in its own worktree (the task's ends there are in
//! [`super::finish`]); `abandon` removes a worktree and branch only when asked.

use super::claim::{self, Claimant, Claimed, Target};
use super::{WorkError, branch_of, sparse, task_of_branch};
use crate::git::{self, git_err, program};
use crate::scope::Scope;
use crate::store::{Cache, Store, at_commit};
use crate::task::{Status, Task};
use git2::{Oid, Repository, StatusOptions};
use std::path::{Path, PathBuf};

pub use super::finish::{Ended, Finished, done, give_up};

/// A worker's worktree.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Started {
    pub id: String,
    pub path: PathBuf,
    pub branch: String,
    pub scope: Vec<String>,
    /// The worktree already existed: this is a resume.
    pub resumed: bool,
    /// The task had failed or was escalated on its branch and is open
    /// there again (with a note and a commit): this is another attempt.
    pub reopened: Option<Status>,
    pub claim: Claimed,
}

/// The worktree that has `batch/<id>` checked out, if any.
///
/// Not with `git worktree list`: that command fails outright while another
/// process is adding a worktree (it finds the new one's `commondir` still
/// empty), and workers look up their worktree while the pool starts others.
/// Here a worktree that cannot be read (half made, or its directory gone) is
/// skipped: it is not the one asked for, whose worktree was complete before
/// its worker started.
pub fn find_worktree(repo: &Repository, id: &str) -> Result<Option<PathBuf>, WorkError> {
    super::snapshot::find(repo, id)
}

/// The task of the worktree `store` is in (its branch is `batch/<id>`).
pub fn current_task(store: &Store) -> Option<String> {
    let branch = git::current_branch(&store.repo)?;
    task_of_branch(&branch).map(String::from)
}

/// The task named, or the current worktree's.
pub fn task_or_current(store: &Store, id: Option<&str>) -> Result<String, WorkError> {
    match id {
        Some(id) => {
            crate::task::id::validate_id(id).map_err(crate::store::StoreError::from)?;
            Ok(id.to_string())
        }
        None => current_task(store).ok_or_else(|| WorkError::NoCurrentTask {
            dir: store.root.clone(),
        }),
    }
}

fn main_tip(store: &Store) -> Result<Oid, WorkError> {
    let name = git::refs::branch(&store.config.main_branch);
    store
        .main_tip()
        .map_err(|e| git_err(format!("reading {name}"))(e).into())
}

/// The tip of `id`'s work: its local branch `batch/<id>`, else the one
/// another clone shared as `refs/batch/work/<id>` (fetched).
pub fn branch_tip(repo: &Repository, id: &str) -> Option<Oid> {
    [git::refs::worker_branch_ref(id), git::refs::work(id)]
        .iter()
        .find_map(|r| repo.refname_to_id(r).ok())
}

/// The task as its worker branch has it (see [`branch_tip`]).
pub fn branch_task(repo: &Repository, id: &str) -> Option<Task> {
    crate::store::at_commit::task_at(repo, Some(branch_tip(repo, id)?), id)
}

/// Where `start` puts the worktree of `id`.
pub fn worktree_path(store: &Store, id: &str) -> PathBuf {
    let repo_name = store
        .root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repo".into());
    // A worker worktree's own top is not the repository's name: place
    // siblings next to the main working tree.
    let top = main_worktree_top(&store.repo).unwrap_or_else(|| store.root.clone());
    let repo_name = top
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or(repo_name);
    let dir = store
        .config
        .workers
        .worktree_dir
        .replace("{repo}", &repo_name);
    normalize(&top.join(dir)).join(id)
}

/// The top of the main working tree (the common dir's parent).
pub fn main_worktree_top(repo: &Repository) -> Option<PathBuf> {
    let common = repo.commondir();
    let common = common
        .canonicalize()
        .unwrap_or_else(|_| common.to_path_buf());
    (common.file_name()? == ".git").then(|| common.parent().map(Path::to_path_buf))?
}

/// Resolves `..` and `.` without touching the disk (the dir may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Claims a task (or the next one) and gives it a worktree; for a task the
/// worker already holds with a worktree, returns that one. With `sparse`
/// only the task's scope and `.batch/` are checked out (see
/// [`super::sparse`]).
pub fn start(
    store: &Store,
    cache: &Cache,
    target: &Target,
    who: &Claimant<'_>,
    sparse: bool,
) -> Result<Started, WorkError> {
    crate::git::stale::enter(store.repo.commondir());
    // The worktree has the task only when its file is committed where the
    // branch starts (main's tip, or a stack base checked once it is known).
    let claimed = claim::claim(store, cache, target, who, false, Some(main_tip(store)?))?;
    let id = claimed.claim.task.clone();
    if let Some(s) = &claimed.claim.stack
        && find_worktree(&store.repo, &id)?.is_none()
        && Oid::from_str(&s.commit)
            .ok()
            .and_then(|at| crate::store::at_commit::task_at(&store.repo, Some(at), &id))
            .is_none()
    {
        if !claimed.renewed {
            let _ = claim::release(store, &id, who, true);
        }
        return Err(WorkError::NotCommitted {
            id,
            branch: format!("{}'s branch", s.task),
        });
    }
    let branch = branch_of(&id);
    let scope = claimed.claim.scope.clone();
    // Only a branch that existed before can hold an earlier end.
    let common = store.repo.commondir();
    let (path, resumed, kept_branch) = match find_worktree(&store.repo, &id)? {
        Some(path) => {
            if let Some(patterns) = sparse::pending(common, &id) {
                // Made by a process that died before its checkout ended.
                sparse::checkout(common, &id, &path, &patterns)?;
            }
            (path, true, true)
        }
        None => {
            let path = worktree_path(store, &id);
            let patterns = if sparse {
                sparse::patterns(&scope)
            } else {
                None
            };
            let stack = claimed.claim.stack.as_ref();
            match add_worktree(store, &id, &path, stack, patterns.as_deref()) {
                Ok(kept) => (path, false, kept),
                Err(e) => {
                    // Nothing half-done: a claim without its worktree is let go.
                    if !claimed.renewed {
                        let _ = claim::release(store, &id, who, true);
                    }
                    return Err(e);
                }
            }
        }
    };
    let reopened = if kept_branch {
        // Done work is reopened only when a person queued it again (a
        // rejected review, a retry after a landing left it out).
        let queued_again = crate::claims::read(&store.repo).is_ok_and(|s| {
            s.live
                .get(&id)
                .is_some_and(|l| l.state == crate::claims::live::Outcome::Retry)
        });
        super::finish::reopen_on_branch(&path, &id, who, queued_again)?
    } else {
        None
    };
    Ok(Started {
        id,
        path,
        branch,
        scope,
        resumed,
        reopened,
        claim: claimed,
    })
}

/// Adds the worktree, its new branch from the main branch's tip or from
/// the `stack` base; true when it checked out a branch kept from before.
/// The checkout (of the whole tree, or with `sparse` patterns only those)
/// runs after the worktree turn is given back: the turn guards git's admin
/// files, which are complete by then, and the checkout is most of a new
/// worktree's time, so starts in parallel would wait for each other's.
fn add_worktree(
    store: &Store,
    id: &str,
    path: &Path,
    stack: Option<&crate::claims::StackBase>,
    sparse: Option<&[String]>,
) -> Result<bool, WorkError> {
    if path.exists() {
        return Err(WorkError::PathTaken {
            id: id.to_string(),
            path: path.to_path_buf(),
        });
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| WorkError::Io {
            what: "creating",
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let branch = branch_of(id);
    let path_text = path.to_string_lossy().into_owned();
    let branch_exists = store
        .repo
        .find_branch(&branch, git2::BranchType::Local)
        .is_ok();
    let tip = match stack {
        Some(s) => s.commit.clone(),
        None => main_tip(store)?.to_string(),
    };
    let mut args = vec!["worktree", "add", "--quiet", "--no-checkout"];
    if branch_exists {
        // A kept branch (after `fail`): continue its work, not a new one.
        args.extend([path_text.as_str(), &branch]);
    } else {
        args.extend(["-b", &branch, &path_text, &tip]);
    }
    let common = store.repo.commondir();
    // Written over one an abandoned half-made worktree left.
    let patterns = sparse.unwrap_or_default();
    sparse::begin(common, id, patterns)?;
    let turn = program::worktree_turn(common)?;
    if let Err(e) = program::ok(&store.root, &args) {
        if !path.exists() {
            sparse::cancel(common, id);
        }
        return Err(e.into());
    }
    drop(turn);
    sparse::checkout(common, id, path, patterns)?;
    Ok(branch_exists)
}

/// The store of `id`'s worktree (the current one when it is that worktree).
pub fn worktree_store(store: &Store, id: &str) -> Result<Store, WorkError> {
    if current_task(store).as_deref() == Some(id) {
        return Ok(Store::open(&store.root)?);
    }
    let path = find_worktree(&store.repo, id)?
        .ok_or_else(|| WorkError::NoWorktree { id: id.to_string() })?;
    Ok(Store::open(&path)?)
}

/// Every file the worktree changes since `base`: committed, staged,
/// unstaged and untracked (not ignored).
fn changed_files(repo: &Repository, base: Oid) -> Result<Vec<String>, WorkError> {
    let mut files = std::collections::BTreeSet::new();
    let base_tree = repo
        .find_commit(base)
        .and_then(|c| c.tree())
        .map_err(git_err("reading the base tree"))?;
    let head_tree = repo
        .head()
        .and_then(|h| h.peel_to_tree())
        .map_err(git_err("reading HEAD"))?;
    let diff = repo
        .diff_tree_to_tree(Some(&base_tree), Some(&head_tree), None)
        .map_err(git_err("diffing the branch"))?;
    files.extend(git::diff_paths(&diff));
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    let statuses = repo
        .statuses(Some(&mut opts))
        .map_err(git_err("reading the worktree status"))?;
    let skipped = sparse::skipped(repo);
    for entry in statuses.iter() {
        if sparse::only_skipped(&skipped, &entry) {
            continue;
        }
        if let Ok(p) = entry.path() {
            // A temp file a killed write left behind is nobody's change.
            if !is_leftover_temp(p) {
                files.insert(p.to_string());
            }
        }
        if let Some(p) = entry
            .head_to_index()
            .and_then(|d| d.old_file().path().map(Path::to_path_buf))
        {
            files.insert(p.to_string_lossy().into_owned());
        }
    }
    Ok(files.into_iter().collect())
}

/// A temp file of an atomic write (`.batch-tmp-*`), left by a killed one.
pub fn is_leftover_temp(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|name| name.starts_with(crate::atomic::TEMP_PREFIX))
}

/// The task as it stood where the current worktree's branch left main: its
/// scope is the one the work is held to (a worker cannot widen it by editing
/// its own task file).
pub fn base_task(store: &Store, id: &str) -> Result<Option<Task>, WorkError> {
    let base = branch_base(store, store)?;
    match at_commit::task_at(&store.repo, Some(base), id) {
        Some(t) => Ok(Some(t)),
        None => Ok(store.read_task(id).ok()),
    }
}

/// Before a retry in a kept worktree: the previous attempt's uncommitted
/// edits outside the task's scope (as the task stands where the branch
/// started) are removed, tracked files put back as the branch has them and
/// untracked ones deleted, so the next attempt starts from the branch's
/// last commit plus only what it may keep. Returns the paths removed.
pub fn drop_out_of_scope_edits(
    store: &Store,
    path: &Path,
    id: &str,
) -> Result<Vec<String>, WorkError> {
    let wt = Store::open(path)?;
    let base = branch_base(store, &wt)?;
    let globs = at_commit::task_at(&wt.repo, Some(base), id)
        .map(|t| t.scope)
        .unwrap_or_default();
    let scope = Scope::parse(&globs).map_err(|source| WorkError::Scope {
        id: id.to_string(),
        source,
    })?;
    let out = program::ok(
        path,
        &[
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--no-renames",
        ],
    )?;
    let mut tracked = Vec::new();
    let mut untracked = Vec::new();
    for entry in out.split('\0').filter(|e| e.len() > 3) {
        let (code, file) = entry.split_at(3);
        if code.starts_with("??") {
            untracked.push(file.to_string());
        } else {
            tracked.push(file.to_string());
        }
    }
    let mut outside = crate::store::outside_scope(
        &scope,
        id,
        tracked.iter().chain(&untracked).map(String::as_str),
    );
    keep_out_new_children(&wt, base, id, &mut outside);
    outside.retain(|f| !is_leftover_temp(f));
    let put_back: Vec<&str> = outside
        .iter()
        .filter(|f| tracked.contains(f))
        .map(String::as_str)
        .collect();
    if !put_back.is_empty() {
        let mut args = vec!["restore", "--source=HEAD", "--staged", "--worktree", "--"];
        args.extend(&put_back);
        program::ok(path, &args)?;
    }
    for f in outside.iter().filter(|f| untracked.contains(f)) {
        let full = path.join(f);
        std::fs::remove_file(&full).map_err(|source| WorkError::Io {
            what: "removing",
            path: full,
            source,
        })?;
    }
    Ok(outside)
}

/// Leaves out of `outside` the new task files of `id`'s own children: a
/// worker may create tasks it finds while working (the landing's trust
/// check allows the same), never change another task's file.
pub fn keep_out_new_children(wt: &Store, base: Oid, id: &str, outside: &mut Vec<String>) {
    outside.retain(|f| {
        let child = f
            .strip_prefix(".batch/tasks/")
            .and_then(|n| n.strip_suffix(".toml"))
            .filter(|c| !c.contains('/'));
        let Some(child) = child else {
            return true;
        };
        let new = at_commit::task_at(&wt.repo, Some(base), child).is_none();
        !(new
            && wt
                .read_task(child)
                .is_ok_and(|t| t.parent.as_deref() == Some(id)))
    });
}

/// The commit the branch started from: where it meets the main branch.
pub fn branch_base_of(store: &Store) -> Result<Oid, WorkError> {
    branch_base(store, store)
}

/// The commit the branch started from: where it meets the main branch.
fn branch_base(store: &Store, wt: &Store) -> Result<Oid, WorkError> {
    let (head, main) = head_and_main(store, wt)?;
    wt.repo
        .merge_base(head, main)
        .map_err(|e| git_err("finding where the branch starts")(e).into())
}

/// The worktree's HEAD commit and the main branch's tip.
fn head_and_main(store: &Store, wt: &Store) -> Result<(Oid, Oid), WorkError> {
    let head = wt
        .repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(git_err("reading HEAD"))?
        .id();
    Ok((head, main_tip(store)?))
}

/// What a branch changes, checked against its task's scope.
pub struct ScopeCheck {
    /// Files outside the scope (its own task file and receipt are allowed).
    pub outside: Vec<String>,
    /// Every file the branch changes.
    pub files: Vec<String>,
    /// The scope, as the task stood where the branch started.
    pub globs: Vec<String>,
}

/// Where the worktree's own work starts: its stack base when the claims
/// record one its HEAD contains (the commits below are its dependency's),
/// else where it meets the main branch.
fn work_start(store: &Store, wt: &Store, id: &str) -> Result<Oid, WorkError> {
    let (head, main) = head_and_main(store, wt)?;
    let set = crate::claims::read(&store.repo)?;
    let range = super::stack::WorkRange::in_set(&wt.repo, &set, id, head, main)
        .map_err(git_err("finding where the branch starts"))?;
    Ok(range.start())
}

pub fn scope_violations(store: &Store, wt: &Store, id: &str) -> Result<ScopeCheck, WorkError> {
    // The scope is the task's where the branch left main; the changes are
    // its own, from where its work started.
    let base = branch_base(store, wt)?;
    let files = changed_files(&wt.repo, work_start(store, wt, id)?)?;
    let globs = match at_commit::task_at(&wt.repo, Some(base), id) {
        Some(t) => t.scope,
        None => wt.read_task(id)?.scope,
    };
    let scope = Scope::parse(&globs).map_err(|source| WorkError::Scope {
        id: id.to_string(),
        source,
    })?;
    let mut outside = crate::store::outside_scope(&scope, id, files.iter().map(String::as_str));
    keep_out_new_children(wt, base, id, &mut outside);
    Ok(ScopeCheck {
        outside,
        files,
        globs,
    })
}

/// What `abandon` removed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Abandoned {
    pub id: String,
    pub worktree: Option<PathBuf>,
    pub branch: Option<String>,
    pub released: bool,
}

/// Removes `id`'s worktree and branch (and its claim). Refuses, unless
/// `force`, when the worktree has uncommitted changes or the branch has
/// commits that are not on the main branch.
pub fn abandon(
    store: &Store,
    id: &str,
    who: &Claimant<'_>,
    force: bool,
) -> Result<Abandoned, WorkError> {
    let branch = branch_of(id);
    let worktree = find_worktree(&store.repo, id)?;
    let branch_ref = store
        .repo
        .find_branch(&branch, git2::BranchType::Local)
        .ok();
    if !force {
        if let Some(path) = &worktree {
            let wt = Repository::open(path).map_err(git_err("opening the worktree"))?;
            let mut opts = StatusOptions::new();
            opts.include_untracked(true).include_ignored(false);
            let skipped = sparse::skipped(&wt);
            let dirty = wt
                .statuses(Some(&mut opts))
                .map_err(git_err("reading the worktree status"))?
                .iter()
                .any(|e| {
                    e.status() != git2::Status::CURRENT && !sparse::only_skipped(&skipped, &e)
                });
            if dirty {
                return Err(WorkError::Dirty {
                    id: id.to_string(),
                    path: path.clone(),
                });
            }
        }
        if let Some(b) = &branch_ref {
            let tip = b
                .get()
                .resolve()
                .ok()
                .and_then(|r| r.target())
                .ok_or_else(|| {
                    git_err(format!("reading {branch}"))(git2::Error::from_str(
                        "the branch points at no commit",
                    ))
                })?;
            let main = main_tip(store)?;
            let mut walk = store
                .repo
                .revwalk()
                .map_err(git_err("walking the branch"))?;
            walk.push(tip).map_err(git_err("walking the branch"))?;
            walk.hide(main).map_err(git_err("walking the branch"))?;
            let count = walk.count();
            if count > 0 {
                return Err(WorkError::Unlanded {
                    id: id.to_string(),
                    branch: branch.clone(),
                    count,
                    main: store.config.main_branch.clone(),
                });
            }
        }
    }
    let turn = program::worktree_turn(store.repo.commondir())?;
    if let Some(path) = &worktree {
        let path_text = path.to_string_lossy().into_owned();
        let mut args = vec!["worktree", "remove"];
        if force {
            args.push("--force");
        }
        args.push(&path_text);
        program::ok(&store.root, &args)?;
    }
    if branch_ref.is_some() {
        program::ok(&store.root, &["branch", "--quiet", "-D", &branch])?;
    }
    drop(turn);
    let released = match claim::release(store, id, who, true) {
        Ok(_) => true,
        Err(WorkError::Claim(crate::claims::ClaimError::NotClaimed { .. })) => false,
        Err(e) => return Err(e),
    };
    Ok(Abandoned {
        id: id.to_string(),
        worktree,
        branch: branch_ref.map(|_| branch),
        released,
    })
}
