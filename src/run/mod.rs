//! `run`: the hypervisor. Keeps a pool of N worker commands busy, one task
//! each in its own worktree, with timeouts, retries (the error fed back),
//! backoff on temporary failures (exit 75), a log of every attempt, resume
//! after a crash, and one plan shared by several clones through a remote.
//!
//! One thread decides; one small thread per worker waits for its exit and
//! reports it on a channel, so a finished worker is seen at once, and
//! finishes it when it exited 0; a task's start (claim, worktree) runs in a
//! thread of its own too (see `pool`'s `starts` and `finisher`). Every
//! worker runs in its own process group: a timeout kills all it started,
//! and a Ctrl-C at the terminal reaches only the run (first: start nothing
//! new; second: kill the running ones). The state file under the common
//! git dir says where each task stands; claims and branches say the rest,
//! so running the same command again continues where a run stopped.

pub mod context;
mod pool;
pub mod state;
pub mod worker;

use crate::land::LeftOut;
use crate::store::Store;
use crate::work::WorkError;
use pool::Pool;
use state::{RunState, TaskState};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Work(#[from] WorkError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    #[error(transparent)]
    Claim(#[from] crate::claims::ClaimError),
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    #[error("run '{name}' is already going on in this clone (lock {path})")]
    Busy { name: String, path: PathBuf },
    #[error("{what}: {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the state of run '{name}' cannot be read: {path}")]
    BadState {
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("nothing to run: no tasks")]
    Empty,
    #[error(
        "{branch} has {count} commit(s) that {remote} does not have; worker branches would carry them into the landing"
    )]
    Unpushed {
        branch: String,
        remote: String,
        count: usize,
    },
    #[error("{remote} has no branch {branch}")]
    NoRemoteBranch { branch: String, remote: String },
}

pub(crate) fn io<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> RunError + 'a {
    move |source| RunError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Where a run finds work that appears while it goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// The tasks it was given, no others (`run ID...`).
    Fixed,
    /// Every task that becomes ready (`run --ready`).
    Ready,
    /// Every task added to its plan (`run --plan`).
    Plan,
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The run's name: the plan's, `ready`, or one made from the ids. The
    /// same name resumes the same run.
    pub name: String,
    pub plan: Option<String>,
    pub ids: Vec<String>,
    /// With `Follow::Ready`: only tasks with every one of these labels.
    pub labels: Vec<String>,
    /// Where new work comes from while the run goes on.
    pub follow: Follow,
    /// No new starts from then on (`--until`, `--for`).
    pub deadline: Option<std::time::SystemTime>,
    /// The running attempts are killed (not counted) from then on.
    pub hard_deadline: Option<std::time::SystemTime>,
    /// Rate-limit events (exit 75s) in a row after which the run stops.
    pub max_rate_limits: u32,
    /// Shared by every task: at the top of each context file.
    pub instructions: Option<String>,
    /// The context file's layout (checked: see [`context::check_template`]).
    pub template: Option<String>,
    pub exec: String,
    pub jobs: usize,
    pub timeout: Duration,
    pub retries: u32,
    pub validate: Option<String>,
    /// Run on each task's finished work after `validate` (see
    /// [`crate::work::gates`]).
    pub gates: Vec<crate::store::gates::Gate>,
    pub land: bool,
    pub test: Option<String>,
    /// The landings take the test command from the config on their base
    /// (the trusted history), not `test`: it was not named by a flag or plan.
    pub test_from_base: bool,
    /// Stop once this many tasks finished in this invocation.
    pub pause_after: Option<usize>,
    /// Start at most this many tasks of the run in all (0: no limit).
    pub max_tasks: usize,
    /// Claims, sharing and landing through this remote.
    pub remote: Option<String>,
    pub worker: String,
    pub ttl: Duration,
    /// Queue the run's failed and escalated tasks again.
    pub rerun_failed: bool,
    /// Start tasks from their dependencies' finished, unlanded branches
    /// (see [`crate::work::stack`]).
    pub stack: bool,
    /// The first wait after an exit 75; doubled each time after that.
    pub backoff: Duration,
    /// Worktrees of only the task's scope and `.batch/` (see
    /// [`crate::work::sparse`]).
    pub sparse: bool,
}

/// Something that happened, for the progress display.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    pub kind: EventKind,
    pub task: Option<String>,
    /// Tasks of the run that are final, and all of them.
    pub finished: usize,
    pub total: usize,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Started,
    Done,
    Retry,
    Timeout,
    Failed,
    Escalated,
    /// An exit 75: new starts wait.
    Paused,
    /// Finished by another clone, or found finished.
    Finished,
    Landed,
    Stopping,
    /// An attempt of a dead run, cleaned up to be run again.
    Resumed,
    /// A task that appeared during the run was added to it.
    Found,
    Warning,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Started => "started",
            EventKind::Done => "done",
            EventKind::Retry => "retry",
            EventKind::Timeout => "timeout",
            EventKind::Failed => "failed",
            EventKind::Escalated => "escalated",
            EventKind::Paused => "paused",
            EventKind::Finished => "finished",
            EventKind::Landed => "landed",
            EventKind::Stopping => "stopping",
            EventKind::Resumed => "resumed",
            EventKind::Found => "found",
            EventKind::Warning => "warning",
        }
    }
}

/// Why a run ended (`stop_reason` in `run --json`, and in the run's state
/// for `status --json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Every task reached an end (or waits for nothing this run can do).
    Finished,
    Interrupted,
    Paused,
    MaxTasks,
    RateLimited,
    Deadline,
}

/// A task of the run that did not start, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Waiting {
    pub id: String,
    pub reason: String,
}

/// How a run ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub name: String,
    pub plan: Option<String>,
    pub worker: String,
    pub total: usize,
    pub done: usize,
    pub failed: usize,
    pub escalated: usize,
    pub elsewhere: usize,
    pub queued: usize,
    /// Why it stopped before the end (resumable), if it did.
    pub stopped: Option<String>,
    /// The same, for scripts: `finished` when it did not stop early.
    pub stop_reason: StopReason,
    /// How to go on after `stopped`.
    pub continue_with: Option<String>,
    /// Tasks this run's landings landed.
    pub landed: Vec<String>,
    pub left_out: Vec<LeftOut>,
    pub waiting: Vec<Waiting>,
    pub state_file: PathBuf,
    pub logs: PathBuf,
}

static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);
/// When the last SIGINT came (milliseconds of the monotonic clock).
static LAST_SIGINT_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// SIGINTs closer together than this are one Ctrl-C: `git batch` (git
/// running git-batch) passes the terminal's SIGINT on, so git-batch gets
/// it twice at once; a second Ctrl-C a person presses comes later.
const SAME_CTRL_C_MS: u64 = 50;

extern "C" fn on_sigint(_: libc::c_int) {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime is async-signal-safe and writes only `now`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let ms = now.tv_sec as u64 * 1000 + now.tv_nsec as u64 / 1_000_000 + 1;
    let last = LAST_SIGINT_MS.swap(ms, Ordering::SeqCst);
    if last == 0 || ms.saturating_sub(last) >= SAME_CTRL_C_MS {
        INTERRUPTS.fetch_add(1, Ordering::SeqCst);
    }
}

extern "C" fn on_sigterm(_: libc::c_int) {
    // Like two Ctrl-Cs: stop now, leave everything resumable.
    INTERRUPTS.fetch_add(2, Ordering::SeqCst);
}

pub(crate) fn interrupts() -> usize {
    INTERRUPTS.load(Ordering::SeqCst)
}

/// Where runs keep their state, logs and context files.
pub fn runs_dir(store: &Store) -> PathBuf {
    store.repo.commondir().join("batch").join("runs")
}

/// Where the run `name` keeps its logs (said once when it starts; an
/// event names a log by its file name, see [`log_name`]).
pub fn logs_dir(store: &Store, name: &str) -> PathBuf {
    worker::run_dir(&runs_dir(store), name)
}

/// A log as events name it: its file name (`bt-3k9f.2.log`), in the run's
/// [`logs_dir`]. The whole path, some 70 characters, on every line would
/// fill an 80-column terminal.
pub fn log_name(log: &Path) -> std::borrow::Cow<'_, str> {
    log.file_name().unwrap_or(log.as_os_str()).to_string_lossy()
}

/// Runs the tasks. `on_event` gets every event as it happens.
pub fn run(
    store: &Store,
    opts: &Options,
    on_event: &mut dyn FnMut(&Event),
) -> Result<Summary, RunError> {
    if opts.ids.is_empty() {
        return Err(RunError::Empty);
    }
    for id in &opts.ids {
        store.read_task(id)?;
    }
    crate::git::stale::enter(store.repo.commondir());
    let dir = runs_dir(store);
    std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    let lock_path = dir.join(format!("{}.lock", opts.name));
    let Some(_lock) = crate::atomic::try_lock(&lock_path).map_err(io("locking", &lock_path))?
    else {
        return Err(RunError::Busy {
            name: opts.name.clone(),
            path: lock_path,
        });
    };
    if let Some(remote) = &opts.remote {
        pool::check_pushed(store, remote)?;
    }
    let mut state = match RunState::load(&dir, &opts.name) {
        Ok(Some(s)) => s,
        Ok(None) => RunState {
            name: opts.name.clone(),
            plan: opts.plan.clone(),
            worker: opts.worker.clone(),
            started: crate::time::now_text(),
            ..RunState::default()
        },
        Err(source) => {
            return Err(RunError::BadState {
                name: opts.name.clone(),
                path: RunState::path(&dir, &opts.name),
                source,
            });
        }
    };
    if opts.plan.is_some() {
        // The plan is the truth: a task taken out of it is not run.
        state.order = opts.ids.clone();
    } else {
        // `--ready` finds other tasks each time: what an earlier run of the
        // same name took stays (its running attempts are resumed).
        for id in &opts.ids {
            if !state.order.contains(id) {
                state.order.push(id.clone());
            }
        }
    }
    for id in &opts.ids {
        state.tasks.entry(id.clone()).or_default();
    }
    INTERRUPTS.store(0, Ordering::SeqCst);
    LAST_SIGINT_MS.store(0, Ordering::SeqCst);
    // SAFETY: the handlers only touch an atomic; the old ones are restored
    // below.
    let previous = unsafe {
        (
            libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t),
            libc::signal(libc::SIGTERM, on_sigterm as *const () as libc::sighandler_t),
        )
    };
    let mut pool = Pool::new(store, opts, dir.clone());
    let result = pool
        .resume(&mut state, on_event)
        .and_then(|()| pool.drive(&mut state, on_event));
    if result.is_err() {
        pool.abort(&mut state);
    }
    // SAFETY: restoring the handlers that were there.
    unsafe {
        libc::signal(libc::SIGINT, previous.0);
        libc::signal(libc::SIGTERM, previous.1);
    }
    state.stop_reason = Some(
        pool.stopped
            .as_ref()
            .map_or(StopReason::Finished, |s| s.reason),
    );
    let saved = state.save(&dir).map_err(io("writing", &dir));
    result?;
    saved?;
    let waiting = pool.waiting(&state);
    Ok(Summary {
        name: opts.name.clone(),
        plan: opts.plan.clone(),
        worker: opts.worker.clone(),
        total: state.order.len(),
        done: state.count(TaskState::Done),
        failed: state.count(TaskState::Failed),
        escalated: state.count(TaskState::Escalated),
        elsewhere: state.count(TaskState::Elsewhere),
        queued: state.count(TaskState::Queued) + state.count(TaskState::Running),
        stopped: pool.stopped.as_ref().map(|s| s.why.clone()),
        stop_reason: pool
            .stopped
            .as_ref()
            .map_or(StopReason::Finished, |s| s.reason),
        continue_with: pool.stopped.as_ref().map(|s| s.continue_with.clone()),
        landed: pool.landed.clone(),
        left_out: pool.left_out.clone(),
        waiting,
        state_file: RunState::path(&dir, &opts.name),
        logs: worker::run_dir(&dir, &opts.name),
    })
}

/// Whether a run of this name is going on in this clone (its lock is held).
pub fn is_alive(store: &Store, name: &str) -> bool {
    let lock = runs_dir(store).join(format!("{name}.lock"));
    if !lock.exists() {
        return false;
    }
    matches!(crate::atomic::try_lock(&lock), Ok(None))
}

/// The run name for a set of ids without a plan.
pub fn adhoc_name(ids: &[String]) -> String {
    let mut sorted = ids.to_vec();
    sorted.sort();
    format!(
        "adhoc-{:08x}",
        crate::store::scan::content_hash(sorted.join(",").as_bytes()) as u32
    )
}

/// Every run's state in this clone, by name (for `status`).
pub fn states(store: &Store) -> HashMap<String, RunState> {
    RunState::all(&runs_dir(store))
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect()
}
