//! The resume of a run that died (`kill -9`, a crash): what its workers did
//! meanwhile is recognised from the state file, the attempts' tokens and
//! exit records, and the claims, before the pool starts anything.

use super::*;

impl Pool<'_> {
    /// Picks up where a dead run stopped: an attempt that ran to its end
    /// meanwhile (its exit record says how) is finished as if the run had
    /// seen it exit; what is still running is killed, and those attempts
    /// are queued again (not counted).
    pub fn resume(
        &mut self,
        state: &mut RunState,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<(), RunError> {
        // Every task of the state, not only the order: a task taken out of
        // the plan since may still have a worker of the dead run alive.
        let in_order: HashSet<String> = state.order.iter().cloned().collect();
        let set = claims::read(&self.store.repo).unwrap_or_default();
        let mut ids = state.order.clone();
        ids.extend(
            state
                .tasks
                .keys()
                .filter(|id| !in_order.contains(*id))
                .cloned(),
        );
        if let Some(remote) = &self.opts.remote {
            self.remote_main = fetch_remote(self.store, remote).ok();
        }
        for id in ids {
            let in_order = in_order.contains(&id);
            let entry = state.get_mut(&id);
            if in_order
                && self.opts.rerun_failed
                && matches!(entry.state, TaskState::Failed | TaskState::Escalated)
            {
                entry.state = TaskState::Queued;
                entry.attempts = 0;
                entry.finished_at = None;
                self.rerun.insert(id.clone());
                // Every clone's readers see it queued again, answers kept.
                crate::work::live::retry(self.store, std::slice::from_ref(&id), &self.claimant())?;
                continue;
            }
            if in_order
                && matches!(
                    entry.state,
                    TaskState::Done | TaskState::Failed | TaskState::Escalated
                )
                && set
                    .live
                    .get(&id)
                    .is_some_and(|l| l.state == crate::claims::live::Outcome::Retry)
            {
                // A person queued it again since (`retry`, `answer --retry`,
                // a rejected review): the shared state is the truth.
                entry.state = TaskState::Queued;
                entry.attempts = 0;
                entry.finished_at = None;
                let detail = "queued again by a person: runs again".to_string();
                self.event(state, on_event, EventKind::Resumed, Some(&id), detail);
                continue;
            }
            if in_order
                && matches!(entry.state, TaskState::Failed | TaskState::Escalated)
                && self
                    .store
                    .read_task(&id)
                    .is_ok_and(|t| t.status == Status::Closed)
            {
                // A person closed it (an approval, a fix by hand): not this
                // run's failure any more.
                entry.state = TaskState::Elsewhere;
                let detail = "closed by hand since: counted as finished".to_string();
                self.event(state, on_event, EventKind::Resumed, Some(&id), detail);
                continue;
            }
            if in_order
                && matches!(entry.state, TaskState::Done | TaskState::Elsewhere)
                && self.reopened(&id, &set)
            {
                // Landed, then reopened by a person: the file says open and
                // no branch holds its work, so it runs again.
                let entry = state.get_mut(&id);
                entry.state = TaskState::Queued;
                entry.finished_at = None;
                let detail = "reopened since it landed: queued again".to_string();
                self.event(state, on_event, EventKind::Resumed, Some(&id), detail);
                continue;
            }
            let entry = state.get_mut(&id);
            if entry.state != TaskState::Running {
                continue;
            }
            let killed = entry
                .token
                .as_deref()
                .map_or(0, |t| worker::kill_leftovers(t, entry.pid));
            let wt = worktree::find_worktree(&self.store.repo, &id)
                .ok()
                .flatten();
            if let Some(wt) = &wt {
                worker::wait_until_idle(wt);
            }
            // Read after the kill: a worker that ended first wrote it; one
            // the kill cut off reads as SIGKILL, and is queued again.
            let ended = entry
                .logs
                .last()
                .and_then(|l| worker::recorded_exit(l))
                .filter(|s| {
                    use std::os::unix::process::ExitStatusExt;
                    !(killed > 0 && s.signal() == Some(libc::SIGKILL))
                });
            if let (Some(status), Some(wt), Some(log)) = (ended, &wt, entry.logs.last()) {
                let detail = format!(
                    "attempt of a stopped run ended meanwhile ({status}); log {}",
                    crate::run::log_name(log)
                );
                let ran = Running {
                    id: id.clone(),
                    pid: entry.pid.unwrap_or(0),
                    spawned: Instant::now(),
                    deadline: Instant::now() + self.opts.timeout,
                    log: log.clone(),
                    worktree: wt.clone(),
                    timed_out: false,
                    killed: false,
                    gate: finisher::Gate::default(),
                };
                self.event(state, on_event, EventKind::Resumed, Some(&id), detail);
                if killed > 0 {
                    worker::clear_git_locks(wt, &id);
                }
                self.finish(state, ran, Ok(status), None, on_event)?;
                continue;
            }
            if killed > 0
                && let Some(wt) = &wt
            {
                worker::clear_git_locks(wt, &id);
            }
            let entry = state.get_mut(&id);
            entry.state = TaskState::Queued;
            entry.pid = None;
            let log = entry.logs.last().cloned();
            let stopped = "the run that started the previous attempt stopped before it ended";
            // The error that made that attempt a retry still matters to the next.
            entry.last_error = Some(match entry.last_error.take() {
                Some(earlier) if !earlier.starts_with(stopped) => {
                    format!("{stopped}; the attempt before it failed:\n{earlier}")
                }
                Some(earlier) => earlier,
                None => stopped.into(),
            });
            let detail = match (killed, log) {
                (0, Some(log)) => format!(
                    "attempt of a stopped run; log {}",
                    crate::run::log_name(&log)
                ),
                (n, Some(log)) => format!(
                    "attempt of a stopped run: {n} process(es) left running, killed; log {}",
                    crate::run::log_name(&log)
                ),
                (_, None) => "attempt of a stopped run".into(),
            };
            self.event(state, on_event, EventKind::Resumed, Some(&id), detail);
        }
        self.save(state)
    }
}
