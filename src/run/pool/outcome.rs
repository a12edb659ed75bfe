//! What happens when a worker exits: an end the worker chose itself
//! (`fail`, `escalate`), exit 75 and its backoff, a retry with the error fed
//! back, `--validate`, and `done` with its scope check.

use super::*;

impl Pool<'_> {
    pub(super) fn finish(
        &mut self,
        state: &mut RunState,
        r: Running,
        status: std::io::Result<ExitStatus>,
        early: Option<finisher::Early>,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<(), RunError> {
        let id = r.id.clone();
        state.get_mut(&id).pid = None;
        if r.killed || r.timed_out {
            worker::clear_git_locks(&r.worktree, &id);
        }
        if r.killed {
            let e = state.get_mut(&id);
            e.state = TaskState::Queued;
            e.last_error = Some("the previous attempt was stopped by the run's user".into());
            return Ok(());
        }
        // The worker may have ended the task itself (fail/escalate/done);
        // a worker that exited 0 was looked at by its own thread already.
        let on_branch = match &early {
            Some(e) => e.on_branch,
            None => self.branch_status(&id),
        };
        if let Some(s @ (Status::Escalated | Status::Failed)) = on_branch {
            self.ended_by_worker(state, &id, s, on_event);
            return Ok(());
        }
        let code = status.as_ref().ok().and_then(|s| s.code());
        if code == Some(75) && !r.timed_out {
            self.rate_limited(state, &r, on_event);
            return Ok(());
        }
        self.temp_failures = 0;
        self.backoff = self.opts.backoff;
        state.rate_limits = 0;
        state.paused_until = None;
        let failure = if r.timed_out {
            Some(format!(
                "timed out after {}",
                humantime::format_duration(self.opts.timeout)
            ))
        } else {
            match (&status, code) {
                (Err(e), _) => Some(format!("could not wait for the worker: {e}")),
                (_, Some(0)) => match early.and_then(|e| e.failure) {
                    Some(failure) => failure,
                    None => finisher::validate_and_finish(
                        self.store,
                        self.opts,
                        &id,
                        &r.log,
                        &r.worktree,
                        on_branch,
                    ),
                },
                (_, Some(c)) => Some(format!("exited with {c}")),
                (Ok(s), None) => Some(format!("killed by {s}")),
            }
        };
        match failure {
            None => {
                self.share(state, &id, on_event);
                let detail = self.done_detail(&id, &r.worktree);
                let e = state.get_mut(&id);
                e.attempts += 1;
                e.last_error = None;
                self.record_final(state, &id, TaskState::Done, on_event, &detail);
            }
            Some(reason) => self.failed_attempt(state, &r, code, reason, on_event),
        }
        Ok(())
    }

    /// The worker ran `git batch fail` or `escalate` itself: its branch says
    /// why, and that is final for this run.
    fn ended_by_worker(
        &mut self,
        state: &mut RunState,
        id: &str,
        s: Status,
        on_event: &mut dyn FnMut(&Event),
    ) {
        self.share(state, id, on_event);
        let final_state = if s == Status::Escalated {
            TaskState::Escalated
        } else {
            TaskState::Failed
        };
        let why = self
            .branch_reason(id)
            .unwrap_or_else(|| format!("{s} by the worker"));
        state.get_mut(id).last_error = Some(why.clone());
        self.record_final(state, id, final_state, on_event, &why);
    }

    /// Exit 75, a temporary failure (a rate limit): the task waits, no new
    /// start for a backoff that doubles each time, and too many in a row
    /// stop the run.
    fn rate_limited(
        &mut self,
        state: &mut RunState,
        r: &Running,
        on_event: &mut dyn FnMut(&Event),
    ) {
        state.get_mut(&r.id).state = TaskState::Queued;
        let now = Instant::now();
        if self.paused_until.is_some_and(|t| now < t) {
            // Part of the burst that started the pause (parallel workers
            // hit the same limit): one event, one wait.
            let detail = format!(
                "exit 75 (temporary failure) during the pause; log {}",
                crate::run::log_name(&r.log)
            );
            self.event(state, on_event, EventKind::Paused, Some(&r.id), detail);
            return;
        }
        self.temp_failures += 1;
        self.paused_until = Some(now + self.backoff);
        state.rate_limits = self.temp_failures;
        let until =
            crate::time::now() + chrono::Duration::from_std(self.backoff).unwrap_or_default();
        state.paused_until = Some(crate::time::format(until));
        let detail = format!(
            "exit 75 (temporary failure): no new starts for {} (rate limit {} of {}); log {}",
            humantime::format_duration(self.backoff),
            self.temp_failures,
            self.opts.max_rate_limits,
            crate::run::log_name(&r.log)
        );
        self.event(state, on_event, EventKind::Paused, Some(&r.id), detail);
        // Never capped below what was asked.
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF.max(self.opts.backoff));
        if self.temp_failures >= self.opts.max_rate_limits && self.stopped.is_none() {
            let why = format!(
                "{} rate limits (exit 75) in a row (--max-rate-limits); run again later",
                self.opts.max_rate_limits
            );
            self.stop(StopReason::RateLimited, why.clone());
            self.event(state, on_event, EventKind::Stopping, None, why);
        }
    }

    /// An attempt that failed for `reason`: tried again while retries are
    /// left (with the error fed back), else recorded as failed on its
    /// branch.
    fn failed_attempt(
        &mut self,
        state: &mut RunState,
        r: &Running,
        code: Option<i32>,
        reason: String,
        on_event: &mut dyn FnMut(&Event),
    ) {
        let id = r.id.as_str();
        let tail = worker::log_tail(&r.log, 30);
        // A worker that failed usually says why last (an error message);
        // when it exited 0 and `--validate` or `done` refused, the reason is
        // theirs and the worker's last line is beside the point.
        let said = tail.lines().rev().map(str::trim).find(|l| !l.is_empty());
        let reason = match said {
            Some(said) if code.is_some_and(|c| c != 0) => {
                format!("{reason}: {}", said.chars().take(160).collect::<String>())
            }
            _ => reason,
        };
        // On one line: it becomes a note, a status line and an event.
        let reason = reason.split_whitespace().collect::<Vec<_>>().join(" ");
        let e = state.get_mut(id);
        e.attempts += 1;
        e.last_error = Some(format!("{reason}\n{tail}").trim_end().to_string());
        let attempts = e.attempts;
        if attempts <= self.opts.retries {
            e.state = TaskState::Queued;
            let kind = if r.timed_out {
                EventKind::Timeout
            } else {
                EventKind::Retry
            };
            let detail = format!(
                "{reason}; trying again (log {})",
                crate::run::log_name(&r.log)
            );
            self.event(state, on_event, kind, Some(id), detail);
            return;
        }
        let ended = worktree::Ended {
            reason: &reason,
            attempt: Some(attempts),
            log: Some(&r.log),
        };
        let why = format!(
            "{reason} after {attempts} attempt(s); log {}",
            crate::run::log_name(&r.log)
        );
        let who = self.claimant();
        if let Err(e) = worktree::give_up(self.store, id, Status::Failed, &ended, &who) {
            let detail = format!("could not record the failure on its branch: {e}");
            self.event(state, on_event, EventKind::Warning, Some(id), detail);
        }
        self.share(state, id, on_event);
        self.record_final(state, id, TaskState::Failed, on_event, &why);
    }

    pub(super) fn record_final(
        &mut self,
        state: &mut RunState,
        id: &str,
        final_state: TaskState,
        on_event: &mut dyn FnMut(&Event),
        how: &str,
    ) {
        let e = state.get_mut(id);
        e.state = final_state;
        e.finished_at = Some(crate::time::now_text());
        if self.started_here.contains(id) {
            self.finished_here += 1;
        }
        self.dirty = true;
        let kind = match final_state {
            TaskState::Done => EventKind::Done,
            TaskState::Failed => EventKind::Failed,
            TaskState::Escalated => EventKind::Escalated,
            _ => EventKind::Finished,
        };
        self.event(state, on_event, kind, Some(id), how.to_string());
    }
}
