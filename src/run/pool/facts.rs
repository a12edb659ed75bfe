//! What the run reads back from git about its tasks: how a task ended on
//! its branch or in another clone, what a finished task produced, and why
//! a queued task did not start.

use super::*;

impl Pool<'_> {
    /// The task as its local worker branch has it.
    fn branch_task(&self, id: &str) -> Option<crate::task::Task> {
        let repo = &self.store.repo;
        let tip = repo
            .refname_to_id(&crate::git::refs::worker_branch_ref(id))
            .ok()?;
        crate::store::at_commit::task_at(repo, Some(tip), id)
    }

    /// The task's status on its local worker branch.
    pub(super) fn branch_status(&self, id: &str) -> Option<Status> {
        self.branch_task(id).map(|t| t.status)
    }

    /// The last note on the task's branch (a failure's or escalation's reason).
    /// Why the task ended on its branch: its failure record, else (a task
    /// file from before the records) its last note.
    pub(super) fn branch_reason(&self, id: &str) -> Option<String> {
        let mut task = self.branch_task(id)?;
        match task.failure {
            Some(f) => Some(f.reason),
            None => task.notes.pop().map(|n| n.text),
        }
    }

    /// Whether a task this run recorded finished is open again with no
    /// branch that holds its work (landed, then reopened by a person).
    pub(super) fn reopened(&self, id: &str, set: &claims::ClaimSet) -> bool {
        let repo = &self.store.repo;
        self.store
            .read_task(id)
            .is_ok_and(|t| t.status == Status::Open)
            && self.branch_task(id).is_none()
            && repo.refname_to_id(&crate::git::refs::work(id)).is_err()
            && !set.is_taken(id)
    }

    /// Whether the task already reached an end that this run's state does
    /// not know of: landed, finished on its branch (by an earlier run that
    /// died before recording it, or by hand), or by another clone.
    pub(super) fn finished_already(
        &self,
        id: &str,
        set: &claims::ClaimSet,
    ) -> Option<(TaskState, &'static str)> {
        let repo = &self.store.repo;
        if self
            .store
            .read_task(id)
            .is_ok_and(|t| t.status == Status::Closed)
            || self.remote_main.is_some_and(|tip| {
                crate::store::at_commit::task_at(repo, Some(tip), id)
                    .is_some_and(|t| t.status == Status::Closed)
            })
        {
            return Some((TaskState::Elsewhere, "landed already"));
        }
        // Queued again by a person (the live state says so, in any clone):
        // a failed or escalated end on its branch is the past.
        let queued_again = set
            .live
            .get(id)
            .is_some_and(|l| l.state == crate::claims::live::Outcome::Retry);
        let rerun = self.rerun.contains(id) || queued_again;
        match self.branch_status(id) {
            // Done work a reviewer rejected goes back to its worker.
            Some(Status::Done) if !queued_again => {
                return Some((TaskState::Done, "found done on its branch"));
            }
            Some(Status::Failed) if !rerun => {
                return Some((TaskState::Failed, "found failed on its branch"));
            }
            Some(Status::Escalated) if !rerun => {
                return Some((TaskState::Escalated, "found escalated on its branch"));
            }
            Some(_) => return None,
            None => {}
        }
        let shared = repo.refname_to_id(&crate::git::refs::work(id)).ok()?;
        match crate::store::at_commit::task_at(repo, Some(shared), id)?.status {
            Status::Done => Some((TaskState::Elsewhere, "done by another clone")),
            Status::Failed if !rerun => Some((TaskState::Failed, "failed in another clone")),
            Status::Escalated if !rerun => {
                Some((TaskState::Escalated, "escalated in another clone"))
            }
            _ => None,
        }
    }

    /// `2 commit(s), 14 receipt line(s)`: what a finished task produced.
    pub(super) fn done_detail(&self, id: &str, wt: &Path) -> String {
        let repo = &self.store.repo;
        let main = crate::git::refs::branch(&self.store.config.main_branch);
        let commits = (|| -> Option<usize> {
            let tip = repo
                .refname_to_id(&crate::git::refs::worker_branch_ref(id))
                .ok()?;
            let mut walk = repo.revwalk().ok()?;
            walk.push(tip).ok()?;
            walk.hide(repo.refname_to_id(&main).ok()?).ok()?;
            Some(walk.count())
        })()
        .unwrap_or(0);
        let receipt = crate::work::receipt::read(&wt.join(Store::receipt_rel(id)))
            .map(|t| t.lines().count())
            .unwrap_or(0);
        format!("{commits} commit(s), {receipt} receipt line(s)")
    }

    /// Why each task that is still queued did not start.
    pub fn waiting(&self, state: &RunState) -> Vec<Waiting> {
        let set = claims::read(&self.store.repo).unwrap_or_default();
        let cache = self.store.cache().ok().map(|(c, _)| c);
        state
            .order
            .iter()
            .filter(|id| !state.get(id).state.is_final())
            .map(|id| {
                let reason = self.why_waiting(state, id, &set, cache.as_ref());
                Waiting {
                    id: id.clone(),
                    reason,
                }
            })
            .collect()
    }

    pub(super) fn why_waiting(
        &self,
        state: &RunState,
        id: &str,
        set: &claims::ClaimSet,
        cache: Option<&crate::store::Cache>,
    ) -> String {
        if let Some(stop) = &self.stopped {
            return format!("not started: {}", stop.why);
        }
        let Ok(task) = self.store.read_task(id) else {
            return "its task file cannot be read".into();
        };
        if let Some(d) = task.deps.iter().find(|d| {
            state
                .tasks
                .get(d.as_str())
                .is_some_and(|t| matches!(t.state, TaskState::Failed | TaskState::Escalated))
        }) {
            return format!("waits for {d}, which {}", state.get(d).state.as_str());
        }
        if let Some(c) = set.claims.get(id).filter(|c| c.worker != self.opts.worker) {
            return format!("claimed by {} since {}", c.worker, c.since);
        }
        if task.status != Status::Open {
            return format!("it is {} on {}", task.status, self.store.config.main_branch);
        }
        if task.kind == Kind::Epic {
            return "an epic: it closes when its children land".into();
        }
        if let Some(b) = cache
            .and_then(|c| c.blockers_of(id).ok())
            .and_then(|b| b.into_iter().next())
        {
            let hint = if self.opts.land {
                ""
            } else {
                " (finished work lands with `git batch land` or `run --land`)"
            };
            return format!("blocked: {b}{hint}");
        }
        "its scope overlaps a live claim".into()
    }
}
