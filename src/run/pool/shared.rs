//! Beyond one clone: sharing finished branches through the remote, seeing
//! what other clones finished or hold, landing the run's work, and the
//! check that the local main branch holds nothing the remote lacks.

use super::*;

impl Pool<'_> {
    /// With a remote: the task's branch goes to `refs/batch/work/<id>`
    /// there, so any clone can land it or see that it is finished.
    pub(super) fn share(&self, state: &RunState, id: &str, on_event: &mut dyn FnMut(&Event)) {
        let Some(remote) = &self.opts.remote else {
            return;
        };
        if let Err(e) = crate::git::remote::share_work(&self.store.repo, remote, id) {
            let detail = format!("could not share its branch through {remote}: {e}");
            self.event(state, on_event, EventKind::Warning, Some(id), detail);
        }
    }

    /// With a remote: looks at what other clones did. Tasks they finished
    /// are recorded; true while some task of the run is held by a live
    /// claim of another worker (worth waiting for).
    pub(super) fn held_elsewhere(
        &mut self,
        state: &mut RunState,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<bool, RunError> {
        let Some(remote) = self.opts.remote.clone() else {
            return Ok(false);
        };
        if let Ok(tip) = fetch_remote(self.store, &remote) {
            self.remote_main = Some(tip);
        }
        claims::refresh(&self.store.repo, &remote)?;
        let set = claims::read(&self.store.repo)?;
        let now = crate::time::now();
        let mut held = false;
        for id in state.order.clone() {
            if state.get(&id).state.is_final() {
                continue;
            }
            if let Some((final_state, how)) = self.finished_already(&id, &set) {
                self.record_final(state, &id, final_state, on_event, how);
            } else if set
                .claims
                .get(&id)
                .is_some_and(|c| c.worker != self.opts.worker && !c.is_expired(now))
            {
                held = true;
            }
        }
        Ok(held)
    }

    /// Whether the finished, unlanded tasks should land now, while other
    /// workers go on: one of them is what a queued task of the run waits
    /// for (its dependent starts once it lands), or they make a full train
    /// (as many as there are workers).
    pub(super) fn train_due(&self, state: &RunState) -> bool {
        let finished: Vec<&String> = state
            .order
            .iter()
            .filter(|id| state.get(id).state == TaskState::Done && !self.land_tried.contains(*id))
            .filter(|id| !self.landed.contains(*id))
            .collect();
        if finished.is_empty() {
            return false;
        }
        if finished.len() >= self.opts.jobs {
            return true;
        }
        state
            .order
            .iter()
            .filter(|id| state.get(id).state == TaskState::Queued)
            .filter_map(|id| self.store.read_task(id).ok())
            .any(|t| {
                t.deps
                    .iter()
                    .any(|d| finished.iter().any(|f| f.as_str() == d.as_str()))
            })
    }

    /// Lands the run's finished tasks. True when something landed.
    pub(super) fn land(
        &mut self,
        state: &mut RunState,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<bool, RunError> {
        let only: Vec<String> = state
            .order
            .iter()
            .filter(|id| matches!(state.get(id).state, TaskState::Done | TaskState::Elsewhere))
            .filter(|id| !self.land_tried.contains(*id))
            .filter(|id| {
                self.store
                    .read_task(id)
                    .is_ok_and(|t| t.status != Status::Closed)
            })
            .cloned()
            .collect();
        if only.is_empty() {
            return Ok(false);
        }
        let opts = crate::land::Options {
            only: Some(only),
            push: self.opts.remote.is_some(),
            remote: self.opts.remote.clone(),
            branch: self.store.config.main_branch.clone(),
            test: self.opts.test.clone(),
            test_from_base: self.opts.test_from_base,
            test_plan: self.opts.plan.clone(),
            // A plan's trains run its reduce step, as `land --plan` does.
            reduce: match &self.opts.plan {
                Some(name) => crate::land::Reduce::Plan(name.clone()),
                None => crate::land::Reduce::None,
            },
            dry_run: false,
            attempts: 3,
            bisect: true,
            worker: self.opts.worker.clone(),
            approved_only: false,
        };
        let report = match crate::land::land(self.store, &opts) {
            Ok(r) => r,
            Err(e) => {
                let detail = format!("the landing failed: {e}");
                self.event(state, on_event, EventKind::Warning, None, detail);
                return Ok(false);
            }
        };
        self.landed.extend(report.landed.iter().cloned());
        for l in &report.left_out {
            self.land_tried.insert(l.id.clone());
            if l.reason == crate::land::LeftOutReason::Test
                && let Some(e) = state.tasks.get_mut(&l.id)
            {
                e.state = TaskState::Failed;
                e.last_error = Some(l.detail.clone());
            }
        }
        self.left_out.extend(report.left_out.iter().cloned());
        self.save(state)?;
        // The event's kind says "landed" already ("[7/8] landed: 7 task(s) ...").
        let detail = format!(
            "{} task(s){}, {} left out{}",
            report.landed.len(),
            report
                .commit
                .as_deref()
                .map(|c| format!(" as {}", crate::git::short(c)))
                .unwrap_or_default(),
            report.left_out.len(),
            report
                .left_out
                .iter()
                .map(|l| format!("; {} ({})", l.id, l.reason))
                .collect::<String>()
        );
        self.event(state, on_event, EventKind::Landed, None, detail);
        Ok(!report.landed.is_empty())
    }
}

/// Fetches the remote's main branch and the work other clones shared;
/// returns the remote's main tip.
pub(super) fn fetch_remote(store: &Store, remote: &str) -> Result<Oid, RunError> {
    let branch = &store.config.main_branch;
    crate::git::remote::fetch_main(&store.repo, remote, branch)?.ok_or_else(|| {
        RunError::NoRemoteBranch {
            branch: branch.clone(),
            remote: remote.to_string(),
        }
    })
}

/// With a remote, worker branches start from the local main branch: it
/// must not hold commits the remote lacks, or every worker branch would
/// carry them into the landing (where they would count against its scope).
pub(crate) fn check_pushed(store: &Store, remote: &str) -> Result<(), RunError> {
    let remote_tip = fetch_remote(store, remote)?;
    let branch = &store.config.main_branch;
    let local = crate::git::refs::branch(branch);
    let repo = &store.repo;
    let local_tip = repo
        .refname_to_id(&local)
        .map_err(git_err(format!("reading {local}")))?;
    let mut walk = repo.revwalk().map_err(git_err("walking the branch"))?;
    walk.push(local_tip)
        .map_err(git_err("walking the branch"))?;
    walk.hide(remote_tip)
        .map_err(git_err("walking the branch"))?;
    let count = walk.count();
    if count > 0 {
        return Err(RunError::Unpushed {
            branch: branch.clone(),
            remote: remote.to_string(),
            count,
        });
    }
    Ok(())
}
