//! Starts off the pool's thread: the claim, the worktree and its checkout
//! of each task the pool chose run in a thread of their own, with a store of
//! their own, so starts overlap each other and the pool's other work. The
//! pool keeps the decisions: it chose the task and counts it against `-j`
//! while it starts, and when the start's result arrives it launches the
//! worker (context, state, spawn) or records what the start said about the
//! task. A run killed meanwhile finds the claim and worktree again on its
//! next start, as after a kill inside a start on the pool's thread.

use super::*;

/// A start done in its own thread.
pub(super) struct Begun {
    pub id: String,
    pub task: crate::task::Task,
    /// When the pool chose it (the attempt's `start_ms` counts from here).
    pub begun: Instant,
    pub result: Result<worktree::Started, WorkError>,
}

impl Pool<'_> {
    /// Claims `id` and gives it its worktree, in a thread of its own; the
    /// result arrives as [`Msg::Started`].
    pub(super) fn begin_start(&mut self, id: &str, task: crate::task::Task) {
        let begun = Instant::now();
        self.starting.push(id.to_string());
        let tx = self.tx.clone();
        let root = self.store.root.clone();
        let opts = self.shared_opts.clone();
        let id = id.to_string();
        std::thread::spawn(move || {
            let target = if opts.stack {
                Target::Stacked(id.clone())
            } else {
                Target::Id(id.clone())
            };
            let result = Store::open(&root)
                .map_err(WorkError::from)
                .and_then(|store| {
                    let (cache, _) = store.cache()?;
                    worktree::start(&store, &cache, &target, &claimant(&opts), opts.sparse)
                });
            let _ = tx.send(Msg::Started(Box::new(Begun {
                id,
                task,
                begun,
                result,
            })));
        });
    }

    /// A start's result: its worker launched (true), or what the start
    /// found about the task recorded. A start that ends after the user
    /// asked to kill every worker (a second Ctrl-C, the hard deadline) is
    /// not launched: the task stays queued, and the next run resumes it.
    pub(super) fn started(
        &mut self,
        state: &mut RunState,
        b: Begun,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<bool, RunError> {
        self.starting.retain(|s| *s != b.id);
        let id = b.id;
        let wt = match b.result {
            Ok(s) => s,
            // Still queued, not startable now: tried again after a while.
            Err(WorkError::Claim(e)) if e.is_lost_race() => return Ok(self.refuse(&id)),
            Err(WorkError::Claim(claims::ClaimError::Waiting {
                state: live,
                reason,
                ..
            })) => {
                // Another run or clone ended it: where it stands now.
                use crate::claims::live::Outcome;
                let final_state = match live {
                    Outcome::Escalated => TaskState::Escalated,
                    Outcome::Done => TaskState::Elsewhere,
                    _ => TaskState::Failed,
                };
                let why = format!(
                    "{live} (live state){}",
                    reason.map(|r| format!(": {r}")).unwrap_or_default()
                );
                state.get_mut(&id).last_error = Some(why.clone());
                self.record_final(state, &id, final_state, on_event, &why);
                return Ok(false);
            }
            Err(WorkError::NotOpen {
                status: Status::Closed,
                ..
            }) => {
                let how = "landed by another clone";
                self.record_final(state, &id, TaskState::Elsewhere, on_event, how);
                return Ok(false);
            }
            Err(WorkError::NotOpen { .. } | WorkError::Blocked { .. }) => {
                return Ok(self.refuse(&id));
            }
            Err(
                e
                @ (WorkError::Scope { .. } | WorkError::Epic { .. } | WorkError::PathTaken { .. }),
            ) => {
                // A problem of this task alone: it fails, the run goes on.
                let entry = state.get_mut(&id);
                entry.last_error = Some(e.to_string());
                self.record_final(state, &id, TaskState::Failed, on_event, &e.to_string());
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        };
        let kill_all = interrupts() >= 2
            || self
                .opts
                .hard_deadline
                .is_some_and(|t| std::time::SystemTime::now() >= t);
        if kill_all {
            return Ok(self.refuse(&id));
        }
        self.refused.remove(&id);
        self.launch(state, &id, &b.task, &wt.path, b.begun, on_event)?;
        Ok(true)
    }

    /// A start that found its task not startable now (still queued): not
    /// begun again before [`RETRY_FILL`] has passed; false, not launched.
    fn refuse(&mut self, id: &str) -> bool {
        let until = Instant::now() + RETRY_FILL;
        self.refused.insert(id.to_string(), until);
        false
    }

    /// Workers running and tasks starting: what `-j` counts.
    pub(super) fn busy(&self) -> usize {
        self.running.len() + self.starting.len()
    }

    /// Starting tasks that are new to the run's limits: not started in this
    /// invocation (`--pause-after`), and never started at all (`--max-tasks`).
    pub(super) fn starting_new(&self, state: &RunState) -> (usize, usize) {
        let here = self
            .starting
            .iter()
            .filter(|s| !self.started_here.contains(*s))
            .count();
        let ever = self
            .starting
            .iter()
            .filter(|s| !state.get(s).ever_started())
            .count();
        (here, ever)
    }
}
