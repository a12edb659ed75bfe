//! A task's finish after its worker exited 0 (`--validate`, the gates,
//! `done` with its scope check and commit), which needs nothing of the
//! pool but the options: so it runs in the thread that saw the worker exit,
//! with a store of its own, while the pool goes on starting and finishing
//! others. The pool keeps the decisions: it records the outcome, retries,
//! shares and saves the state when the result arrives, and a worker it
//! times out or kills is never finished here (see [`Gate`]).

use super::{Options, claimant};
use crate::store::Store;
use crate::task::Status;
use crate::work::worktree;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// Who decides an attempt's end: the pool (a timeout, a kill) or the
/// worker's thread (its exit 0, then the finish). Whoever turns it first
/// wins, so a worker the pool timed out is not finished as done, and one
/// whose finish is under way is not killed as timed out.
#[derive(Debug, Clone, Default)]
pub(super) struct Gate(Arc<AtomicU8>);

const OPEN: u8 = 0;
const FINISHING: u8 = 1;
const CANCELLED: u8 = 2;

impl Gate {
    /// The pool's turn: true when the attempt may be timed out or killed.
    pub fn cancel(&self) -> bool {
        self.turn(CANCELLED)
    }

    /// Neither has decided yet: the worker runs (or just ended).
    pub fn is_open(&self) -> bool {
        self.0.load(Ordering::SeqCst) == OPEN
    }

    /// The worker's thread's turn: true when it may finish the attempt.
    fn finish(&self) -> bool {
        self.turn(FINISHING)
    }

    fn turn(&self, to: u8) -> bool {
        self.0
            .compare_exchange(OPEN, to, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
            || self.0.load(Ordering::SeqCst) == to
    }
}

/// What the worker's thread found and did after an exit 0.
#[derive(Debug)]
pub(super) struct Early {
    /// The task's status on its branch, read after the exit.
    pub on_branch: Option<Status>,
    /// The finish's result (`None` inside: done), when it ran: not when
    /// the worker ended the task itself as failed or escalated.
    pub failure: Option<Option<String>>,
}

/// What the worker's thread needs to finish an attempt on its own.
pub(super) struct Finisher {
    pub root: PathBuf,
    pub opts: Arc<Options>,
    pub gate: Gate,
    pub id: String,
    pub log: PathBuf,
    pub worktree: PathBuf,
}

impl Finisher {
    /// After the worker exited with `code`: the finish, when the exit was 0
    /// and the pool has not taken the attempt back. `None`: the pool does
    /// it all (also when no store could be opened here).
    pub fn after_exit(&self, code: Option<i32>) -> Option<Early> {
        if code != Some(0) || !self.gate.finish() {
            return None;
        }
        let store = Store::open(&self.root).ok()?;
        let on_branch = worktree::branch_task(&store.repo, &self.id).map(|t| t.status);
        if matches!(on_branch, Some(Status::Escalated | Status::Failed)) {
            return Some(Early {
                on_branch,
                failure: None,
            });
        }
        let failure = validate_and_finish(
            &store,
            &self.opts,
            &self.id,
            &self.log,
            &self.worktree,
            on_branch,
        );
        Some(Early {
            on_branch,
            failure: Some(failure),
        })
    }
}

/// After exit 0: `--validate`, then `done` (the scope check). The
/// reason it failed, or None.
pub(super) fn validate_and_finish(
    store: &Store,
    opts: &Options,
    id: &str,
    log_path: &Path,
    wt: &Path,
    on_branch: Option<Status>,
) -> Option<String> {
    if let Some(cmd) = &opts.validate {
        let log = std::fs::File::options().append(true).open(log_path);
        let (out, err) = match log.and_then(|f| Ok((f.try_clone()?, f))) {
            Ok((a, b)) => (Stdio::from(a), Stdio::from(b)),
            Err(_) => (Stdio::null(), Stdio::null()),
        };
        let status = Command::new("sh")
            .args(["-c", cmd])
            .current_dir(wt)
            .env("PATH", crate::git::program::path_with_self())
            .env("BATCH_TASK", id)
            .env("BATCH_WORKTREE", wt)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => return Some(format!("validation `{cmd}` failed ({s})")),
            Err(e) => return Some(format!("validation `{cmd}` could not run: {e}")),
        }
    }
    // Gates judge the work as the worker left it, before `done`: a
    // blocking one that fails makes this a failed attempt.
    let gates = if opts.gates.is_empty() {
        Vec::new()
    } else {
        let logs = log_path.parent().unwrap_or(wt);
        let stem = log_path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix("log"))
            .unwrap_or("")
            .to_string();
        crate::work::gates::run_in(id, wt, &opts.gates, logs, &stem)
    };
    if let Some(why) = crate::work::gates::blocking_failure(&gates) {
        return Some(why);
    }
    let finished = finish_on_branch(store, opts, id, on_branch);
    if finished.is_none() && !gates.is_empty() {
        let recorded = crate::work::live::record_gates(store, id, &claimant(opts), &gates);
        if let Err(e) = recorded {
            return Some(format!("could not record its gates: {e}"));
        }
    }
    finished
}

/// `done` on the branch (the scope check), or, when the worker ran it
/// itself, the same check and the live state it records. The reason it
/// failed, or None.
fn finish_on_branch(
    store: &Store,
    opts: &Options,
    id: &str,
    on_branch: Option<Status>,
) -> Option<String> {
    if on_branch == Some(Status::Done) {
        // The worker ran `git batch done` itself, or set the status by
        // hand and committed with the hooks skipped: its branch gets the
        // scope check of `done` all the same.
        let check = worktree::worktree_store(store, id)
            .and_then(|wt| worktree::scope_violations(store, &wt, id));
        return match check {
            Ok(c) if c.outside.is_empty() => {
                let ending = crate::work::live::Ending {
                    commit: worktree::branch_tip(&store.repo, id).map(|o| o.to_string()),
                    attempts: 1,
                    ..Default::default()
                };
                let recorded = crate::work::live::record(
                    store,
                    id,
                    &claimant(opts),
                    crate::claims::live::Outcome::Done,
                    &ending,
                );
                recorded
                    .err()
                    .map(|e| format!("could not record it done: {e}"))
            }
            Ok(c) => Some(format!(
                "`done` refused: changes outside its scope ({}): {}",
                c.globs.join(" "),
                c.outside.join(", ")
            )),
            Err(e) => Some(format!("`done` refused: {e}")),
        };
    }
    match worktree::done(store, id, &claimant(opts), None) {
        Ok(_) => None,
        Err(e) => Some(format!("`done` refused: {e}")),
    }
}
