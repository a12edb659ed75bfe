//! The pool: starts tasks while slots are free, collects finished workers,
//! decides done / retry / fail / pause, lands when asked, and waits for
//! other clones that hold tasks of the same plan.

use super::state::{RunState, TaskState, Timing};
use super::worker::{self, Context, Spawn};
use super::{Event, EventKind, Options, RunError, Waiting, interrupts, io};
use crate::claims::{self, Via};
use crate::git::{git_err, program};
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

/// Consecutive exit-75s after which the run stops.
const MAX_TEMP_FAILURES: u32 = 5;
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
    pub stopped: Option<String>,
    /// How to go on after that stop, when not by running it again.
    pub stop_hint: Option<String>,
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
            stop_hint: None,
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

    /// Picks up where a dead run stopped: what its attempts left running
    /// is killed, and those attempts are queued again (not counted).
    pub fn resume(
        &mut self,
        state: &mut RunState,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<(), RunError> {
        // Every task of the state, not only the order: a task taken out of
        // the plan since may still have a worker of the dead run alive.
        let mut ids = state.order.clone();
        ids.extend(
            state
                .tasks
                .keys()
                .filter(|id| !state.order.contains(id))
                .cloned(),
        );
        for id in ids {
            let in_order = state.order.contains(&id);
            let entry = state.get_mut(&id);
            if in_order
                && self.opts.rerun_failed
                && matches!(entry.state, TaskState::Failed | TaskState::Escalated)
            {
                entry.state = TaskState::Queued;
                entry.attempts = 0;
                entry.finished_at = None;
                self.rerun.insert(id.clone());
                continue;
            }
            if entry.state != TaskState::Running {
                continue;
            }
            let killed = entry
                .token
                .as_deref()
                .map_or(0, |t| worker::kill_leftovers(t, entry.pid));
            entry.state = TaskState::Queued;
            entry.pid = None;
            let log = entry.logs.last().cloned();
            entry.last_error =
                Some("the run that started the previous attempt stopped before it ended".into());
            let detail = match (killed, log) {
                (0, Some(log)) => format!("attempt of a stopped run; log {}", log.display()),
                (n, Some(log)) => format!(
                    "attempt of a stopped run: {n} process(es) left running, killed; log {}",
                    log.display()
                ),
                (_, None) => "attempt of a stopped run".into(),
            };
            self.event(state, on_event, EventKind::Resumed, Some(&id), detail);
        }
        if let Some(remote) = &self.opts.remote {
            self.remote_main = fetch_remote(self.store, remote).ok();
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
                if self.stopped.is_none() {
                    self.stopped = Some("interrupted".into());
                }
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
                let all_final = state.order.iter().all(|id| state.get(id).state.is_final());
                if !all_final && self.opts.land && self.land(state, on_event)? {
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
            }
            if let Some(n) = self.opts.pause_after
                && self.finished_here >= n
                && self.stopped.is_none()
            {
                self.stopped = Some(format!("paused after {n} task(s) (--pause-after)"));
                let detail = format!("{n} task(s) finished: pausing for a look");
                self.event(state, on_event, EventKind::Stopping, None, detail);
            }
        }
        if self.opts.land && self.stopped.is_none() {
            self.land(state, on_event)?;
        }
        let started = state.tasks.values().filter(|t| !t.logs.is_empty()).count();
        let held_back = state
            .order
            .iter()
            .any(|id| state.get(id).state == TaskState::Queued && state.get(id).logs.is_empty());
        if self.opts.max_tasks > 0
            && started >= self.opts.max_tasks
            && held_back
            && self.stopped.is_none()
        {
            // A cap the user set, not a failure: what is left is resumable
            // with a higher cap.
            self.stopped = Some(format!(
                "--max-tasks {} reached ({started} task(s) started)",
                self.opts.max_tasks
            ));
            self.stop_hint =
                Some("a higher --max-tasks (or max_tasks in the plan) starts more".into());
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
        let ever_started = |t: &crate::run::state::TaskRun| !t.logs.is_empty();
        if self.opts.max_tasks > 0
            && !ever_started(state.get(id))
            && state.tasks.values().filter(|t| ever_started(t)).count() >= self.opts.max_tasks
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
        for id in state.order.clone() {
            if self.running.len() >= self.opts.jobs {
                break;
            }
            if state.get(&id).state != TaskState::Queued || self.running.iter().any(|r| r.id == id)
            {
                continue;
            }
            if let Some((final_state, how)) = self.finished_already(&id) {
                self.record_final(state, &id, final_state, on_event, how);
                continue;
            }
            if !self.may_start(state, &id) {
                continue;
            }
            let Ok(task) = self.store.read_task(&id) else {
                continue;
            };
            let dep_failed = task.deps.iter().any(|d| {
                state
                    .tasks
                    .get(d)
                    .is_some_and(|t| matches!(t.state, TaskState::Failed | TaskState::Escalated))
            });
            let blocked = !cache.blockers_of(&id).map_err(StoreError::from)?.is_empty();
            // An epic is closed by the landing of its children, not worked on.
            if task.status != Status::Open || task.kind == Kind::Epic || dep_failed || blocked {
                continue;
            }
            let begun = Instant::now();
            let who = self.claimant();
            let wt = match worktree::start(self.store, &cache, &Target::Id(id.clone()), &who) {
                Ok(s) => s,
                Err(WorkError::Claim(e)) if e.is_lost_race() => continue,
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
        let attempt = entry.attempts + 1;
        let others = claims::read(&self.store.repo)
            .map(|set| {
                set.claims
                    .values()
                    .filter(|c| c.task != id)
                    .map(|c| (c.task.clone(), c.scope.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let context = worker::context_text(
            task,
            &Context {
                attempt,
                attempts: self.opts.retries + 1,
                previous_error: entry.last_error.as_deref(),
                others,
            },
        );
        std::fs::create_dir_all(&self.logs).map_err(io("creating", &self.logs))?;
        let context_path = self.logs.join(format!("{id}.context.md"));
        crate::store::atomic::write_atomic(&context_path, context.as_bytes())
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
            e.started_at = Some(crate::store::now());
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
        let detail = format!("attempt {attempt}, log {}", log.display());
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

    fn finish(
        &mut self,
        state: &mut RunState,
        r: Running,
        status: std::io::Result<ExitStatus>,
        on_event: &mut dyn FnMut(&Event),
    ) -> Result<(), RunError> {
        let id = r.id.clone();
        state.get_mut(&id).pid = None;
        if r.killed {
            let e = state.get_mut(&id);
            e.state = TaskState::Queued;
            e.last_error = Some("the previous attempt was stopped by the run's user".into());
            return Ok(());
        }
        // The worker may have ended the task itself (fail/escalate/done).
        let on_branch = self.branch_status(&id);
        if let Some(s @ (Status::Escalated | Status::Failed)) = on_branch {
            self.share(state, &id, on_event);
            let final_state = if s == Status::Escalated {
                TaskState::Escalated
            } else {
                TaskState::Failed
            };
            let why = self
                .last_note(&id)
                .unwrap_or_else(|| format!("{s} by the worker"));
            state.get_mut(&id).last_error = Some(why.clone());
            self.record_final(state, &id, final_state, on_event, &why);
            return Ok(());
        }
        let code = status.as_ref().ok().and_then(|s| s.code());
        if code == Some(75) && !r.timed_out {
            self.temp_failures += 1;
            state.get_mut(&id).state = TaskState::Queued;
            self.paused_until = Some(Instant::now() + self.backoff);
            let detail = format!(
                "exit 75 (temporary failure): no new starts for {}; log {}",
                humantime::format_duration(self.backoff),
                r.log.display()
            );
            self.event(state, on_event, EventKind::Paused, Some(&id), detail);
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            if self.temp_failures >= MAX_TEMP_FAILURES && self.stopped.is_none() {
                self.stopped = Some(format!(
                    "{MAX_TEMP_FAILURES} temporary failures (exit 75) in a row; run again later"
                ));
                let detail = self.stopped.clone().unwrap_or_default();
                self.event(state, on_event, EventKind::Stopping, None, detail);
            }
            return Ok(());
        }
        self.temp_failures = 0;
        self.backoff = self.opts.backoff;
        let failure = if r.timed_out {
            Some(format!(
                "timed out after {}",
                humantime::format_duration(self.opts.timeout)
            ))
        } else {
            match (&status, code) {
                (Err(e), _) => Some(format!("could not wait for the worker: {e}")),
                (_, Some(0)) => self.validate_and_finish(&id, &r, on_branch),
                (_, Some(c)) => Some(format!("exited with {c}")),
                (Ok(s), None) => Some(format!("killed by {s}")),
            }
        };
        let Some(reason) = failure else {
            self.share(state, &id, on_event);
            let detail = self.done_detail(&id, &r.worktree);
            let e = state.get_mut(&id);
            e.attempts += 1;
            e.last_error = None;
            self.record_final(state, &id, TaskState::Done, on_event, &detail);
            return Ok(());
        };
        let tail = worker::log_tail(&r.log, 30);
        let e = state.get_mut(&id);
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
            let detail = format!("{reason}; trying again (log {})", r.log.display());
            self.event(state, on_event, kind, Some(&id), detail);
            return Ok(());
        }
        let why = format!(
            "{reason} after {attempts} attempt(s); log {}",
            r.log.display()
        );
        let who = self.claimant();
        if let Err(e) = worktree::give_up(self.store, &id, Status::Failed, &why, &who) {
            let detail = format!("could not record the failure on its branch: {e}");
            self.event(state, on_event, EventKind::Warning, Some(&id), detail);
        }
        self.share(state, &id, on_event);
        self.record_final(state, &id, TaskState::Failed, on_event, &why);
        Ok(())
    }

    /// After exit 0: `--validate`, then `done` (the scope check). The
    /// reason it failed, or None.
    fn validate_and_finish(
        &self,
        id: &str,
        r: &Running,
        on_branch: Option<Status>,
    ) -> Option<String> {
        if let Some(cmd) = &self.opts.validate {
            let log = std::fs::File::options().append(true).open(&r.log);
            let (out, err) = match log.and_then(|f| Ok((f.try_clone()?, f))) {
                Ok((a, b)) => (Stdio::from(a), Stdio::from(b)),
                Err(_) => (Stdio::null(), Stdio::null()),
            };
            let status = Command::new("sh")
                .args(["-c", cmd])
                .current_dir(&r.worktree)
                .env("PATH", worker::path_with_self())
                .env("BATCH_TASK", id)
                .env("BATCH_WORKTREE", &r.worktree)
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
        if on_branch == Some(Status::Done) {
            // The worker ran `git batch done` itself.
            return None;
        }
        match worktree::done(self.store, id, &self.opts.worker, None) {
            Ok(_) => None,
            Err(e) => Some(format!("`done` refused: {e}")),
        }
    }

    fn record_final(
        &mut self,
        state: &mut RunState,
        id: &str,
        final_state: TaskState,
        on_event: &mut dyn FnMut(&Event),
        how: &str,
    ) {
        let e = state.get_mut(id);
        e.state = final_state;
        e.finished_at = Some(crate::store::now());
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

    /// The task's status on its local worker branch.
    fn branch_status(&self, id: &str) -> Option<Status> {
        let tip = self
            .store
            .repo
            .refname_to_id(&format!("refs/heads/batch/{id}"))
            .ok()?;
        crate::guard::check::task_at(&self.store.repo, Some(tip), id).map(|t| t.status)
    }

    /// The last note on the task's branch (a failure's or escalation's reason).
    fn last_note(&self, id: &str) -> Option<String> {
        let tip = self
            .store
            .repo
            .refname_to_id(&format!("refs/heads/batch/{id}"))
            .ok()?;
        let task = crate::guard::check::task_at(&self.store.repo, Some(tip), id)?;
        task.notes.last().map(|n| n.text.clone())
    }

    /// Whether the task already reached an end that this run's state does
    /// not know of: landed, finished on its branch (by an earlier run that
    /// died before recording it, or by hand), or by another clone.
    fn finished_already(&self, id: &str) -> Option<(TaskState, &'static str)> {
        let repo = &self.store.repo;
        if self
            .store
            .read_task(id)
            .is_ok_and(|t| t.status == Status::Closed)
            || self.remote_main.is_some_and(|tip| {
                crate::guard::check::task_at(repo, Some(tip), id)
                    .is_some_and(|t| t.status == Status::Closed)
            })
        {
            return Some((TaskState::Elsewhere, "landed already"));
        }
        let rerun = self.rerun.contains(id);
        match self.branch_status(id) {
            Some(Status::Done) => return Some((TaskState::Done, "found done on its branch")),
            Some(Status::Failed) if !rerun => {
                return Some((TaskState::Failed, "found failed on its branch"));
            }
            Some(Status::Escalated) if !rerun => {
                return Some((TaskState::Escalated, "found escalated on its branch"));
            }
            Some(_) => return None,
            None => {}
        }
        let shared = repo.refname_to_id(&format!("refs/batch/work/{id}")).ok()?;
        match crate::guard::check::task_at(repo, Some(shared), id)?.status {
            Status::Done => Some((TaskState::Elsewhere, "done by another clone")),
            Status::Failed if !rerun => Some((TaskState::Failed, "failed in another clone")),
            Status::Escalated if !rerun => {
                Some((TaskState::Escalated, "escalated in another clone"))
            }
            _ => None,
        }
    }

    /// With a remote: the task's branch goes to `refs/batch/work/<id>`
    /// there, so any clone can land it or see that it is finished.
    fn share(&self, state: &RunState, id: &str, on_event: &mut dyn FnMut(&Event)) {
        let Some(remote) = &self.opts.remote else {
            return;
        };
        let spec = format!("+refs/heads/batch/{id}:refs/batch/work/{id}");
        let args = ["push", "--quiet", "--no-verify", remote.as_str(), &spec];
        if let Err(e) = program::ok(&self.store.root, &args) {
            let detail = format!("could not share its branch through {remote}: {e}");
            self.event(state, on_event, EventKind::Warning, Some(id), detail);
        }
    }

    /// With a remote: looks at what other clones did. Tasks they finished
    /// are recorded; true while some task of the run is held by a live
    /// claim of another worker (worth waiting for).
    fn held_elsewhere(
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
        let now = claims::now();
        let mut held = false;
        for id in state.order.clone() {
            if state.get(&id).state.is_final() {
                continue;
            }
            if let Some((final_state, how)) = self.finished_already(&id) {
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

    /// Lands the run's finished tasks. True when something landed.
    fn land(
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
            dry_run: false,
            attempts: 3,
            bisect: true,
            worker: self.opts.worker.clone(),
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
            if l.reason == "test"
                && let Some(e) = state.tasks.get_mut(&l.id)
            {
                e.state = TaskState::Failed;
                e.last_error = Some(l.detail.clone());
            }
        }
        self.left_out.extend(report.left_out.iter().cloned());
        self.save(state)?;
        let detail = format!(
            "{} landed{}, {} left out{}",
            report.landed.len(),
            report
                .commit
                .as_deref()
                .map(|c| format!(" as {}", &c[..c.len().min(10)]))
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

    /// `2 commit(s), 14 receipt line(s)`: what a finished task produced.
    fn done_detail(&self, id: &str, wt: &Path) -> String {
        let repo = &self.store.repo;
        let main = format!("refs/heads/{}", self.store.config.main_branch);
        let commits = (|| -> Option<usize> {
            let tip = repo.refname_to_id(&format!("refs/heads/batch/{id}")).ok()?;
            let mut walk = repo.revwalk().ok()?;
            walk.push(tip).ok()?;
            walk.hide(repo.refname_to_id(&main).ok()?).ok()?;
            Some(walk.count())
        })()
        .unwrap_or(0);
        let receipt = std::fs::read_to_string(wt.join(worktree::receipt_rel(id)))
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

    fn why_waiting(
        &self,
        state: &RunState,
        id: &str,
        set: &claims::ClaimSet,
        cache: Option<&crate::store::Cache>,
    ) -> String {
        if let Some(stop) = &self.stopped {
            return format!("not started: {stop}");
        }
        let Ok(task) = self.store.read_task(id) else {
            return "its task file cannot be read".into();
        };
        if let Some(d) = task.deps.iter().find(|d| {
            state
                .tasks
                .get(*d)
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
        if self.opts.max_tasks > 0 {
            return format!("not started: --max-tasks {}", self.opts.max_tasks);
        }
        "its scope overlaps a live claim".into()
    }
}

/// Fetches the remote's main branch and the work other clones shared;
/// returns the remote's main tip.
fn fetch_remote(store: &Store, remote: &str) -> Result<Oid, RunError> {
    let branch = &store.config.main_branch;
    let tracking = format!("refs/remotes/{remote}/{branch}");
    let spec = format!("+refs/heads/{branch}:{tracking}");
    let work = "+refs/batch/work/*:refs/batch/work/*";
    let args = ["fetch", "--quiet", "--no-tags", remote, &spec, work];
    let out = program::run(&store.root, &args)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("couldn't find remote ref") {
            return Err(RunError::NoRemoteBranch {
                branch: branch.clone(),
                remote: remote.to_string(),
            });
        }
        return Err(program::failed(&args, &out).into());
    }
    Ok(store
        .repo
        .refname_to_id(&tracking)
        .map_err(git_err(format!("reading {tracking}")))?)
}

/// With a remote, worker branches start from the local main branch: it
/// must not hold commits the remote lacks, or every worker branch would
/// carry them into the landing (where they would count against its scope).
pub(super) fn check_pushed(store: &Store, remote: &str) -> Result<(), RunError> {
    let remote_tip = fetch_remote(store, remote)?;
    let branch = &store.config.main_branch;
    let local = format!("refs/heads/{branch}");
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
