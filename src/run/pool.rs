//! The pool: starts tasks while slots are free, collects finished workers
//! and hands them to [`outcome`] (done / retry / fail / pause); [`facts`]
//! reads back what git knows of each task; [`shared`] lands and works with
//! other clones through the remote.

use super::context::{self, Context};
use super::state::{RunState, TaskState, Timing};
use super::worker::{self, Spawn};
use super::{Event, EventKind, Follow, Options, RunError, StopReason, Waiting, interrupts, io};
use crate::claims::{self, Via};
use crate::git::git_err;
use crate::land::LeftOut;
use crate::store::{Store, StoreError};
use crate::task::{Kind, Status};
use crate::work::claim::{Claimant, Target};
use crate::work::{WorkError, worktree};
use git2::Oid;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

mod facts;
mod grow;
mod outcome;
mod shared;

pub(super) use shared::check_pushed;
use shared::fetch_remote;

/// How often starts that could not happen are tried again.
const RETRY_FILL: Duration = Duration::from_secs(1);
/// How often a run waiting for other clones looks at the remote.
const POLL_OTHERS: Duration = Duration::from_secs(2);
/// The longest wait after an exit 75.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

struct Running {
    id: String,
    pid: u32,
    spawned: Instant,
    deadline: Instant,
    log: PathBuf,
    worktree: PathBuf,
    timed_out: bool,
    /// Killed by a second Ctrl-C or an abort: not the worker's failure.
    killed: bool,
}

type Exit = (String, std::io::Result<ExitStatus>);

/// Why a run stopped before its end, and how to go on.
#[derive(Debug, Clone)]
pub(super) struct Stop {
    pub reason: StopReason,
    pub why: String,
    pub continue_with: String,
}

pub(super) struct Pool<'a> {
    store: &'a Store,
    opts: &'a Options,
    dir: PathBuf,
    logs: PathBuf,
    running: Vec<Running>,
    tx: Sender<Exit>,
    rx: Receiver<Exit>,
    paused_until: Option<Instant>,
    backoff: Duration,
    temp_failures: u32,
    /// Why the run stops before its end, and how to go on; the first wins.
    pub stopped: Option<Stop>,
    pub landed: Vec<String>,
    pub left_out: Vec<LeftOut>,
    /// Left out of a landing already: not tried again by this run.
    land_tried: HashSet<String>,
    /// Tasks that reached an end in this invocation, and tasks started.
    finished_here: usize,
    started_here: HashSet<String>,
    /// Queued again by `--rerun-failed`: their failed branch does not count.
    rerun: HashSet<String>,
    /// The remote's main branch as last fetched.
    remote_main: Option<Oid>,
    /// The state changed since it was last saved.
    dirty: bool,
}

impl<'a> Pool<'a> {
    pub fn new(store: &'a Store, opts: &'a Options, dir: PathBuf) -> Pool<'a> {
        let (tx, rx) = channel();
        Pool {
            store,
            opts,
            logs: worker::run_dir(&dir, &opts.name),
            dir,
            running: Vec::new(),
            tx,
            rx,
            paused_until: None,
            backoff: opts.backoff,
            temp_failures: 0,
            stopped: None,
            landed: Vec::new(),
            left_out: Vec::new(),
            land_tried: HashSet::new(),
            finished_here: 0,
            started_here: HashSet::new(),
            rerun: HashSet::new(),
            remote_main: None,
            dirty: false,
        }
    }

    fn claimant(&self) -> Claimant<'_> {
        Claimant {
            worker: self.opts.worker.clone(),
            ttl: self.opts.ttl,
            via: match &self.opts.remote {
                Some(r) => Via::Remote(r),
                None => Via::Local,
            },
        }
    }

    fn event(
        &self,
        state: &RunState,
        on_event: &mut dyn FnMut(&Event),
        kind: EventKind,
        task: Option<&str>,
        detail: String,
    ) {
        on_event(&Event {
            kind,
            task: task.map(String::from),
            finished: state.finished(),
            total: state.order.len(),
            detail,
        });
    }

    fn save(&mut self, state: &mut RunState) -> Result<(), RunError> {
        self.dirty = false;
        state.save(&self.dir).map_err(io("writing", &self.dir))
    }

    /// Stops starting tasks (the first reason wins); running the same
    /// command again goes on.
    fn stop(&mut self, reason: StopReason, why: impl Into<String>) {
        self.stop_with(
            reason,
            why,
            "run the same command again to continue where it stopped",
        );
    }

    fn stop_with(&mut self, reason: StopReason, why: impl Into<String>, continue_with: &str) {
        if self.stopped.is_none() {
            self.stopped = Some(Stop {
                reason,
                why: why.into(),
                continue_with: continue_with.to_string(),
            });
        }
    }

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
                };
                self.event(state, on_event, EventKind::Resumed, Some(&id), detail);
                if killed > 0 {
                    worker::clear_git_locks(wt, &id);
                }
                self.finish(state, ran, Ok(status), on_event)?;
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

    pub fn drive(
        &mut self,
        state: &mut RunState,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<(), RunError> {
        let mut next_fill = Instant::now();
        let mut seen_interrupts = 0;
        loop {
            let n = interrupts();
            if n > seen_interrupts {
                seen_interrupts = n;
                self.stop(StopReason::Interrupted, "interrupted");
                if n >= 2 {
                    for r in &mut self.running {
                        r.killed = true;
                        worker::kill_group(r.pid);
                    }
                    let detail = format!("killing {} running worker(s)", self.running.len());
                    self.event(state, on_event, EventKind::Stopping, None, detail);
                } else {
                    let detail =
                        "no new tasks; Ctrl-C again kills the running ones (all is resumable)";
                    self.event(state, on_event, EventKind::Stopping, None, detail.into());
                }
            }
            let now = Instant::now();
            if let Some(deadline) = self.opts.deadline
                && std::time::SystemTime::now() >= deadline
                && self.stopped.is_none()
            {
                // No new starts; the running attempts finish.
                self.stop(StopReason::Deadline, "the deadline passed (--until/--for)");
                let detail = format!(
                    "deadline: no new tasks; {} running one(s) finish",
                    self.running.len()
                );
                self.event(state, on_event, EventKind::Stopping, None, detail);
            }
            if let Some(hard) = self.opts.hard_deadline
                && std::time::SystemTime::now() >= hard
                && self.running.iter().any(|r| !r.killed)
            {
                for r in &mut self.running {
                    r.killed = true;
                    worker::kill_group(r.pid);
                }
                let detail = format!(
                    "hard deadline (--kill-after): killing {} running worker(s)",
                    self.running.len()
                );
                self.event(state, on_event, EventKind::Stopping, None, detail);
            }
            let paused = self.paused_until.is_some_and(|t| now < t);
            if !paused {
                self.paused_until = None;
            }
            let mut started = 0;
            if self.stopped.is_none()
                && !paused
                && self.running.len() < self.opts.jobs
                && (now >= next_fill || self.running.is_empty())
            {
                started = self.fill(state, on_event)?;
                next_fill = now + RETRY_FILL;
                if self.dirty {
                    self.save(state)?;
                }
            }
            if self.running.is_empty() && started == 0 {
                if self.stopped.is_some() {
                    break;
                }
                if paused {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                if self.grow(state, on_event)? > 0 {
                    continue;
                }
                let all_final = state.order.iter().all(|id| state.get(id).state.is_final());
                // Landed work can bring more (dependents, tasks found by
                // its workers): the loop looks again.
                if self.opts.land && self.land(state, on_event)? {
                    continue;
                }
                let held = !all_final
                    && self.opts.remote.is_some()
                    && self.held_elsewhere(state, on_event)?;
                if self.dirty {
                    self.save(state)?;
                }
                if held {
                    sleep_unless_interrupted(POLL_OTHERS);
                    continue;
                }
                break;
            }
            if self.wait_some(state, on_event)? {
                next_fill = Instant::now();
                // No pool-drain barrier: a train lands while others work.
                if self.opts.land
                    && self.stopped.is_none()
                    && self.train_due(state)
                    && self.land(state, on_event)?
                {
                    self.grow(state, on_event)?;
                }
            }
            if let Some(n) = self.opts.pause_after
                && self.finished_here >= n
                && self.stopped.is_none()
            {
                self.stop(
                    StopReason::Paused,
                    format!("paused after {n} task(s) (--pause-after)"),
                );
                let detail = format!("{n} task(s) finished: pausing for a look");
                self.event(state, on_event, EventKind::Stopping, None, detail);
            }
        }
        // What finished lands, also before a pause or at a deadline (not
        // after a Ctrl-C: the user wants out).
        if self.opts.land
            && self
                .stopped
                .as_ref()
                .is_none_or(|s| s.reason != StopReason::Interrupted)
        {
            self.land(state, on_event)?;
        }
        let held_back = state
            .order
            .iter()
            .any(|id| state.get(id).state == TaskState::Queued && !state.get(id).ever_started());
        if self.opts.max_tasks > 0 && state.started() >= self.opts.max_tasks && held_back {
            // A cap the user set, not a failure: a higher one goes on.
            let why = format!(
                "--max-tasks {} reached ({} task(s) started)",
                self.opts.max_tasks,
                state.started()
            );
            self.stop_with(
                StopReason::MaxTasks,
                why,
                "a higher --max-tasks (or max_tasks in the plan) starts more",
            );
        }
        Ok(())
    }

    /// After an error: the running workers are killed and their attempts
    /// queued again, so the run can be resumed.
    pub fn abort(&mut self, state: &mut RunState) {
        for r in self.running.drain(..) {
            worker::kill_group(r.pid);
            if let Some(e) = state.tasks.get_mut(&r.id) {
                e.state = TaskState::Queued;
                e.pid = None;
            }
        }
        let _ = state.save(&self.dir);
    }

    /// Whether the run may start `id` now: a free slot, and neither
    /// `--pause-after` nor `--max-tasks` would be passed by a new task
    /// (a retry of a task already started is not a new one).
    fn may_start(&self, state: &RunState, id: &str) -> bool {
        if self.running.len() >= self.opts.jobs {
            return false;
        }
        if let Some(n) = self.opts.pause_after
            && !self.started_here.contains(id)
            && self.started_here.len() >= n
        {
            return false;
        }
        if self.opts.max_tasks > 0
            && !state.get(id).ever_started()
            && state.started() >= self.opts.max_tasks
        {
            return false;
        }
        true
    }

    /// Starts tasks while slots are free; returns how many started.
    fn fill(
        &mut self,
        state: &mut RunState,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<usize, RunError> {
        let mut started = 0;
        let (cache, _) = self.store.cache()?;
        // Read once per fill, not per task.
        let set = claims::read(&self.store.repo).unwrap_or_default();
        for id in state.order.clone() {
            if self.running.len() >= self.opts.jobs {
                break;
            }
            if state.get(&id).state != TaskState::Queued || self.running.iter().any(|r| r.id == id)
            {
                continue;
            }
            if let Some((final_state, how)) = self.finished_already(&id, &set) {
                self.record_final(state, &id, final_state, on_event, how);
                continue;
            }
            if !self.may_start(state, &id) {
                continue;
            }
            let Ok(task) = self.store.read_task(&id) else {
                continue;
            };
            // The task files are the truth: a dependency this run saw fail
            // but a person closed since (an approval gate) holds nothing up.
            let dep_failed =
                task.deps.iter().any(|d| {
                    state.tasks.get(d.as_str()).is_some_and(|t| {
                        matches!(t.state, TaskState::Failed | TaskState::Escalated)
                    }) && self
                        .store
                        .read_task(d)
                        .is_ok_and(|t| t.status != Status::Closed)
                });
            let blockers = cache.blockers_of(&id).map_err(StoreError::from)?;
            let stacked = self.opts.stack
                && !blockers.is_empty()
                && crate::work::stack::stack_base(&self.store.repo, &set, &blockers).is_some();
            let blocked = !blockers.is_empty() && !stacked;
            // An epic is closed by the landing of its children, not worked on.
            if task.status != Status::Open || task.kind == Kind::Epic || dep_failed || blocked {
                continue;
            }
            let begun = Instant::now();
            let who = self.claimant();
            let target = if self.opts.stack {
                Target::Stacked(id.clone())
            } else {
                Target::Id(id.clone())
            };
            let wt = match worktree::start(self.store, &cache, &target, &who) {
                Ok(s) => s,
                Err(WorkError::Claim(e)) if e.is_lost_race() => continue,
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
                    continue;
                }
                Err(WorkError::NotOpen {
                    status: Status::Closed,
                    ..
                }) => {
                    let how = "landed by another clone";
                    self.record_final(state, &id, TaskState::Elsewhere, on_event, how);
                    continue;
                }
                Err(WorkError::NotOpen { .. } | WorkError::Blocked { .. }) => continue,
                Err(
                    e @ (WorkError::Scope { .. }
                    | WorkError::Epic { .. }
                    | WorkError::PathTaken { .. }),
                ) => {
                    // A problem of this task alone: it fails, the run goes on.
                    let entry = state.get_mut(&id);
                    entry.last_error = Some(e.to_string());
                    self.record_final(state, &id, TaskState::Failed, on_event, &e.to_string());
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            self.launch(state, &id, &task, &wt.path, begun, on_event)?;
            started += 1;
        }
        Ok(started)
    }

    /// Writes the context, records the attempt (before the spawn, so a
    /// crash in between still leaves its token), and spawns the worker.
    fn launch(
        &mut self,
        state: &mut RunState,
        id: &str,
        task: &crate::task::Task,
        wt: &Path,
        begun: Instant,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<(), RunError> {
        let entry = state.get(id).clone();
        // The attempt's number is its log's: it keeps counting over resumes,
        // reruns and exit 75s (which do not use up a retry).
        let attempt = entry.logs.len() as u32 + 1;
        let retries_left = (self.opts.retries + 1).saturating_sub(entry.attempts + 1);
        // A retry starts from the branch's last commit plus only what the
        // task may keep of the previous attempt's uncommitted edits.
        let cleaned = if entry.ever_started() {
            worktree::drop_out_of_scope_edits(self.store, wt, id)?
        } else {
            Vec::new()
        };
        let set = claims::read(&self.store.repo).unwrap_or_default();
        let others = set
            .claims
            .values()
            .filter(|c| c.task != id)
            .map(|c| (c.task.clone(), c.scope.clone()))
            .collect();
        let context = context::context_text(
            task,
            &Context {
                attempt,
                retries_left,
                previous_error: entry.last_error.as_deref(),
                others,
                live: set.live.get(id),
                instructions: self.opts.instructions.as_deref(),
                cleaned: &cleaned,
                template: self.opts.template.as_deref(),
            },
        );
        std::fs::create_dir_all(&self.logs).map_err(io("creating", &self.logs))?;
        let context_path = self.logs.join(format!("{id}.context.md"));
        crate::atomic::write_atomic(&context_path, context.as_bytes())
            .map_err(io("writing", &context_path))?;
        let log = self.logs.join(format!("{id}.{}.log", entry.logs.len() + 1));
        let token = format!(
            "{}:{id}:{}:{}",
            self.opts.name,
            entry.logs.len() + 1,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        {
            let e = state.get_mut(id);
            e.state = TaskState::Running;
            e.logs.push(log.clone());
            e.started_at = Some(crate::time::now_text());
            e.token = Some(token.clone());
            e.pid = None;
        }
        self.save(state)?;
        let mut child = worker::spawn(&Spawn {
            exec: &self.opts.exec,
            task: id,
            worktree: wt,
            context: &context_path,
            log: &log,
            attempt,
            plan: self.opts.plan.as_deref(),
            worker: &self.opts.worker,
            token: &token,
        })?;
        let pid = child.id();
        let spawned = Instant::now();
        let e = state.get_mut(id);
        e.pid = Some(pid);
        e.timing = Some(Timing {
            start_ms: ms(spawned - begun),
            ..Timing::default()
        });
        // Saved with the next change: the token saved before the spawn is
        // what finds this attempt's processes after a crash.
        let tx = self.tx.clone();
        let task_id = id.to_string();
        std::thread::spawn(move || {
            let status = child.wait();
            let _ = tx.send((task_id, status));
        });
        self.started_here.insert(id.to_string());
        self.running.push(Running {
            id: id.to_string(),
            pid,
            spawned,
            deadline: Instant::now() + self.opts.timeout,
            log: log.clone(),
            worktree: wt.to_path_buf(),
            timed_out: false,
            killed: false,
        });
        // The log is `<id>.<attempt>.log` in the run's logs_dir, said once.
        let detail = format!("attempt {attempt}");
        self.event(state, on_event, EventKind::Started, Some(id), detail);
        Ok(())
    }

    /// Waits for a worker to end, a deadline, or a moment (to see Ctrl-C).
    /// True when a worker ended.
    fn wait_some(
        &mut self,
        state: &mut RunState,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<bool, RunError> {
        let now = Instant::now();
        for r in &mut self.running {
            if !r.timed_out && !r.killed && now >= r.deadline {
                r.timed_out = true;
                worker::kill_group(r.pid);
            }
        }
        let nearest = self
            .running
            .iter()
            .filter(|r| !r.timed_out && !r.killed)
            .map(|r| r.deadline.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::MAX);
        let mut wait = nearest.min(Duration::from_millis(100));
        if let Some(until) = self.paused_until {
            wait = wait.min(until.saturating_duration_since(now));
        }
        let mut ended = false;
        let mut next = match self.rx.recv_timeout(wait) {
            Ok(exit) => Some(exit),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => unreachable!("the pool holds a sender"),
        };
        while let Some((id, status)) = next {
            if let Some(i) = self.running.iter().position(|r| r.id == id) {
                let r = self.running.remove(i);
                let exited = Instant::now();
                let worker_ms = ms(exited - r.spawned);
                self.finish(state, r, status, on_event)?;
                if let Some(t) = &mut state.get_mut(&id).timing {
                    t.worker_ms = worker_ms;
                    t.finish_ms = ms(exited.elapsed());
                }
                self.save(state)?;
                ended = true;
            }
            next = self.rx.try_recv().ok();
        }
        Ok(ended)
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

fn sleep_unless_interrupted(total: Duration) {
    let until = Instant::now() + total;
    let seen = interrupts();
    while Instant::now() < until && interrupts() == seen {
        std::thread::sleep(Duration::from_millis(50));
    }
}
