//! The pool: starts tasks while slots are free (each start in a thread of
//! its own, [`starts`]), collects finished workers (finished in their own
//! threads after an exit 0, [`finisher`]) and hands them to [`outcome`]
//! (done / retry / fail / pause); [`facts`] reads back what git knows of
//! each task; [`shared`] lands and works with other clones through the
//! remote.

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
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

mod facts;
mod finisher;
mod grow;
mod outcome;
mod resume;
mod shared;
mod starts;

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
    /// Whether the pool or the worker's thread decides the attempt's end.
    gate: finisher::Gate,
}

impl Running {
    /// Times out or kills the attempt, unless its worker already exited 0
    /// and its thread is finishing it (that end stands).
    fn take_back(&mut self) -> bool {
        if !self.gate.cancel() {
            return false;
        }
        worker::kill_group(self.pid);
        true
    }
}

/// A worker's end, from its thread: the task, how it exited, when that was
/// seen, and the finish that thread did after an exit 0.
type Exit = (
    String,
    std::io::Result<ExitStatus>,
    Instant,
    Option<finisher::Early>,
);

/// What the pool's threads report.
enum Msg {
    Exit(Exit),
    Started(Box<starts::Begun>),
}

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
    /// The same, for the workers' threads.
    shared_opts: std::sync::Arc<Options>,
    dir: PathBuf,
    logs: PathBuf,
    running: Vec<Running>,
    /// Chosen and starting in their own threads (see [`starts`]).
    starting: Vec<String>,
    /// Starts that came back without a launch (held by another worker or
    /// clone, not open or blocked after all), and when they may be begun
    /// again: until then `fill` passes them over, so a run whose only
    /// queued tasks are held elsewhere goes idle (lands what it finished,
    /// waits for the other clones, or ends) instead of starting them again
    /// and again, as the starts on the pool's thread did.
    refused: HashMap<String, Instant>,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
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
            shared_opts: std::sync::Arc::new(opts.clone()),
            logs: worker::run_dir(&dir, &opts.name),
            dir,
            running: Vec::new(),
            starting: Vec::new(),
            refused: HashMap::new(),
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
        claimant(self.opts)
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
                        r.killed |= r.take_back();
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
                && self.running.iter().any(|r| !r.killed && r.gate.is_open())
            {
                for r in &mut self.running {
                    r.killed |= r.take_back();
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
                && self.busy() < self.opts.jobs
                && (now >= next_fill || self.busy() == 0)
            {
                started = self.fill(state, on_event)?;
                next_fill = now + RETRY_FILL;
                if self.dirty {
                    self.save(state)?;
                }
            }
            if self.busy() == 0 && started == 0 {
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
                // its workers, claims released): the loop looks again.
                if self.opts.land && self.land(state, on_event)? {
                    self.refused.clear();
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
        if self.busy() >= self.opts.jobs {
            return false;
        }
        // The tasks starting count as started.
        let (new_here, new_ever) = self.starting_new(state);
        if let Some(n) = self.opts.pause_after
            && !self.started_here.contains(id)
            && self.started_here.len() + new_here >= n
        {
            return false;
        }
        if self.opts.max_tasks > 0
            && !state.get(id).ever_started()
            && state.started() + new_ever >= self.opts.max_tasks
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
            if self.busy() >= self.opts.jobs {
                break;
            }
            if state.get(&id).state != TaskState::Queued
                || self.running.iter().any(|r| r.id == id)
                || self.starting.contains(&id)
            {
                continue;
            }
            if let Some((final_state, how)) = self.finished_already(&id, &set) {
                self.record_final(state, &id, final_state, on_event, how);
                continue;
            }
            if self
                .refused
                .get(&id)
                .is_some_and(|until| Instant::now() < *until)
            {
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
            self.begin_start(&id, task);
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
        let gate = finisher::Gate::default();
        let finisher = finisher::Finisher {
            root: self.store.root.clone(),
            opts: self.shared_opts.clone(),
            gate: gate.clone(),
            id: id.to_string(),
            log: log.clone(),
            worktree: wt.to_path_buf(),
        };
        std::thread::spawn(move || {
            let status = child.wait();
            let exited = Instant::now();
            let code = status.as_ref().ok().and_then(|s| s.code());
            let early = finisher.after_exit(code);
            let _ = tx.send(Msg::Exit((finisher.id, status, exited, early)));
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
            gate,
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
                r.timed_out = r.take_back();
            }
        }
        let nearest = self
            .running
            .iter()
            .filter(|r| !r.timed_out && !r.killed && r.gate.is_open())
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
        while let Some(msg) = next {
            let (id, status, exited, early) = match msg {
                Msg::Exit(exit) => exit,
                Msg::Started(begun) => {
                    // One that did not launch frees its slot at once.
                    ended |= !self.started(state, *begun, on_event)?;
                    next = self.rx.try_recv().ok();
                    continue;
                }
            };
            if let Some(i) = self.running.iter().position(|r| r.id == id) {
                let r = self.running.remove(i);
                let worker_ms = ms(exited.saturating_duration_since(r.spawned));
                self.finish(state, r, status, early, on_event)?;
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

/// The run's claimant: its worker name, claim lifetime and remote.
fn claimant(opts: &Options) -> Claimant<'_> {
    Claimant {
        worker: opts.worker.clone(),
        ttl: opts.ttl,
        via: match &opts.remote {
            Some(r) => Via::Remote(r),
            None => Via::Local,
        },
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
