//! A task's ends on its branch: `done` (scope checked, everything
//! committed), `fail` and `escalate` (the reason as a note, the task file and
//! receipt committed, the claim released), and the reopening of a failed or
//! escalated task when it is started again. Commits go through the git
//! program so that the repository's hooks run.

use super::claim::Claimant;
use super::live::{self, Ending};
use super::worktree::{ScopeCheck, current_task, scope_violations, worktree_store};
use super::{WorkError, branch_of};
use crate::claims::live::Outcome;
use crate::git::git_err;
use crate::git::program::{self, Git, Hooks};
use crate::store::Store;
use crate::task::{Failure, Note, Status};
use git2::Repository;
use std::path::Path;

/// What `done` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finished {
    pub id: String,
    pub status: Status,
    pub branch: String,
    pub commit: Option<String>,
    /// The files the branch changes since its base.
    pub files: Vec<String>,
}

/// Finishes a task on its branch: refuses out-of-scope changes, then
/// commits everything with status `done`. The claim is kept until landing.
pub fn done(
    store: &Store,
    id: &str,
    who: &Claimant<'_>,
    message: Option<&str>,
) -> Result<Finished, WorkError> {
    let worker = who.worker.as_str();
    let wt = worktree_store(store, id)?;
    let ScopeCheck {
        outside,
        files,
        globs,
    } = scope_violations(store, &wt, id)?;
    if !outside.is_empty() {
        return Err(WorkError::OutOfScope {
            id: id.to_string(),
            scope: globs.join(" "),
            files: outside,
        });
    }
    let before = wt.read_task(id)?;
    let mut task = before.clone();
    task.status = Status::Done;
    task.updated = crate::time::now_text();
    wt.write_task(&task)?;
    let default = format!("batch: done {id} \"{}\"", task.title);
    super::receipt::repair(&wt.root.join(Store::receipt_rel(id)))?;
    // Everything but the temp files a killed write may have left.
    let leftovers = format!(":(exclude,glob)**/{}*", crate::atomic::TEMP_PREFIX);
    let committed = program::ok(&wt.root, &["add", "--all", "--", ".", &leftovers])
        .map_err(WorkError::from)
        .and_then(|_| commit_with_hooks(&wt, message.unwrap_or(&default), worker, &[]));
    let commit = match committed {
        Ok(commit) => commit,
        Err(e) => {
            // Nothing half-done: the task file goes back to what it was.
            let _ = wt.write_task(&before);
            let _ = program::run(&wt.root, &["reset", "--quiet", "--", &Store::task_rel(id)]);
            return Err(e);
        }
    };
    // Every clone sees it finished (and none hands it out) until it lands.
    let ending = Ending {
        commit: commit.clone().or_else(|| tip_of(&wt)),
        attempts: 1,
        ..Ending::default()
    };
    live::record(store, id, who, Outcome::Done, &ending)?;
    let mut files = files;
    let rel = Store::task_rel(id);
    if !files.contains(&rel) {
        files.push(rel);
        files.sort();
    }
    Ok(Finished {
        id: id.to_string(),
        status: Status::Done,
        branch: branch_of(id),
        commit,
        files,
    })
}

/// Refuses `who` finishing `id` when another worker (or the same name in
/// another clone) holds its claim: one worker's `done` must not close
/// another's work in progress.
pub fn check_holder(store: &Store, id: &str, who: &Claimant<'_>) -> Result<(), WorkError> {
    let clone = crate::git::identity::clone_id(&store.repo);
    let set = crate::claims::read(&store.repo)?;
    match set.claims.get(id) {
        Some(c) if !c.held_by(&who.worker, &clone) => Err(WorkError::NotHolder {
            id: id.to_string(),
            holder: c.worker.clone(),
            worker: who.worker.clone(),
        }),
        _ => Ok(()),
    }
}

/// Commits in `wt` with the `git` program, so the repository's hooks run.
/// With `only`, commits just those paths. `None` when nothing changed.
fn commit_with_hooks(
    wt: &Store,
    message: &str,
    worker: &str,
    only: &[String],
) -> Result<Option<String>, WorkError> {
    let mut args: Vec<&str> = vec!["commit", "--quiet", "-m", message];
    let trailer = format!("Batch-Worker: {worker}");
    args.extend(["--trailer", &trailer]);
    // Named here too, so `review` and `check --range` find the task's
    // commits where the hooks are not installed (the commit-msg hook adds
    // the same trailer only when there is none).
    let task_trailer = current_task(wt).map(|id| format!("Batch-Task: {id}"));
    if let Some(t) = &task_trailer {
        args.extend(["--trailer", t]);
    }
    if !only.is_empty() {
        args.push("--");
        args.extend(only.iter().map(String::as_str));
    }
    // Nothing to commit is told by git's exit code, not by its message:
    // `diff --quiet` exits 1 when there are differences.
    let pending = if only.is_empty() {
        Git::new(&wt.root).args(["diff", "--cached", "--quiet"])
    } else {
        Git::new(&wt.root)
            .args(["diff", "--quiet", "HEAD", "--"])
            .args(only)
    }
    .output()?;
    match pending.status.code() {
        Some(0) => return Ok(None),
        Some(1) => {}
        _ => return Err(program::failed(&["diff", "--quiet"], &pending).into()),
    }
    Git::new(&wt.root)
        .hooks(Hooks::Run)
        .identity(&wt.repo)
        .args(&args)
        .ok()?;
    // A fresh handle: the one `wt` holds may cache the old HEAD.
    let head = Repository::open(&wt.root)
        .and_then(|r| r.head().and_then(|h| h.peel_to_commit()).map(|c| c.id()))
        .map_err(git_err("reading the new commit"))?;
    Ok(Some(head.to_string()))
}

/// Why a task ends failed or escalated, for [`give_up`]: the reason (or the
/// question), and the attempt and log when a run knows them.
#[derive(Debug, Clone, Copy)]
pub struct Ended<'a> {
    pub reason: &'a str,
    pub attempt: Option<u32>,
    pub log: Option<&'a Path>,
}

impl<'a> Ended<'a> {
    /// Only a reason (a worker's own `fail` or `escalate`).
    pub fn because(reason: &'a str) -> Ended<'a> {
        Ended {
            reason,
            attempt: None,
            log: None,
        }
    }
}

/// `fail` or `escalate`: the reason as a note, the status on the branch, a
/// commit of the task file and receipt only (the rest of the work stays in
/// the worktree), and the claim released. Branch and worktree are kept.
pub fn give_up(
    store: &Store,
    id: &str,
    status: Status,
    why: &Ended<'_>,
    who: &Claimant<'_>,
) -> Result<Finished, WorkError> {
    let wt = worktree_store(store, id)?;
    let mut task = wt.read_task(id)?;
    let verb = if status == Status::Escalated {
        "escalated"
    } else {
        "failed"
    };
    let failure = Failure {
        reason: why.reason.to_string(),
        attempt: why.attempt,
        log: why.log.map(|l| l.display().to_string()),
        at: crate::time::now_text(),
    };
    let note = format!("{verb}: {}", failure.describe());
    task.failure = Some(failure);
    set_status(&wt, &mut task, status, &who.worker, note)?;
    let reason = why.reason;
    let mut paths = vec![Store::task_rel(id)];
    super::receipt::repair(&wt.root.join(Store::receipt_rel(id)))?;
    if wt.root.join(Store::receipt_rel(id)).exists() {
        paths.push(Store::receipt_rel(id));
    }
    let mut add: Vec<&str> = vec!["add", "--"];
    add.extend(paths.iter().map(String::as_str));
    program::ok(&wt.root, &add)?;
    let message = format!(
        "batch: {verb} {id}: {}",
        reason.lines().next().unwrap_or("")
    );
    let commit = commit_with_hooks(&wt, &message, &who.worker, &paths)?;
    // The claim goes and the end is recorded in one step: no other clone
    // can take the task in between, and every clone sees why it stopped.
    let ending = Ending {
        commit: commit.clone().or_else(|| tip_of(&wt)),
        reason: Some(why.reason.to_string()),
        log: why.log.map(|l| l.display().to_string()),
        attempts: why.attempt.unwrap_or(1),
        release: true,
    };
    let state = if status == Status::Escalated {
        Outcome::Escalated
    } else {
        Outcome::Failed
    };
    live::record(store, id, who, state, &ending)?;
    // Its partial work and receipt, for every clone to see.
    if let crate::claims::Via::Remote(remote) = who.via {
        crate::git::remote::share_work(&store.repo, remote, id)?;
    }
    Ok(Finished {
        id: id.to_string(),
        status,
        branch: branch_of(id),
        commit,
        files: paths,
    })
}

/// A task that failed or was escalated on its kept branch is worked on
/// again: its status there goes back to open, with a note, in a commit, so
/// that the worker, `done` and the run do not take the old end for a new one.
/// Returns the status it had.
pub(super) fn reopen_on_branch(
    path: &Path,
    id: &str,
    who: &Claimant<'_>,
    done_too: bool,
) -> Result<Option<Status>, WorkError> {
    let wt = Store::open(path)?;
    // What the branch committed, not what the file says: a worker killed
    // half-way through `fail` may have written the file and not committed it.
    let head = wt.repo.head().ok().and_then(|h| h.target());
    let Some(was) = crate::store::at_commit::task_at(&wt.repo, head, id).map(|t| t.status) else {
        return Ok(None);
    };
    let again =
        matches!(was, Status::Failed | Status::Escalated) || (done_too && was == Status::Done);
    if !again {
        return Ok(None);
    }
    let mut task = wt.read_task(id)?;
    let note = format!("reopened for another attempt (it was {was})");
    task.failure = None;
    set_status(&wt, &mut task, Status::Open, &who.worker, note)?;
    // The task file is tracked: `commit -- <path>` takes it as it is now.
    let paths = vec![Store::task_rel(id)];
    commit_with_hooks(
        &wt,
        &format!("batch: retry {id} (it was {was})"),
        &who.worker,
        &paths,
    )?;
    Ok(Some(was))
}

/// The commit the worktree's HEAD is at.
fn tip_of(wt: &Store) -> Option<String> {
    let head = wt.repo.head().ok()?.target()?;
    Some(head.to_string())
}

/// The task's new status on its branch, with a note saying why, written to
/// the worktree's task file (the caller commits it).
fn set_status(
    wt: &Store,
    task: &mut crate::task::Task,
    status: Status,
    by: &str,
    note: String,
) -> Result<(), WorkError> {
    let now = crate::time::now_text();
    task.status = status;
    task.updated = now.clone();
    task.notes.push(Note {
        at: now,
        by: by.to_string(),
        text: note,
    });
    wt.write_task(task)?;
    Ok(())
}
