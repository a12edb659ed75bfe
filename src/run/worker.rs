//! One worker process: how it is spawned (its own process group, its
//! environment, its log, its exit record), how it is killed, and how a
//! resumed run finds the processes a dead run left behind.

use super::RunError;
use crate::store::Store;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Everything a worker process is started with.
pub struct Spawn<'a> {
    pub exec: &'a str,
    pub task: &'a str,
    pub worktree: &'a Path,
    pub context: &'a Path,
    pub log: &'a Path,
    pub attempt: u32,
    pub plan: Option<&'a str>,
    pub worker: &'a str,
    pub token: &'a str,
}

/// Runs the worker (`$1`) and then writes its exit status to `$2`: a run
/// that died meanwhile learns from that file, when it is resumed, that the
/// attempt ran to its end and how. The write is one shell builtin, so the
/// moment between the worker's end and its record (when a resumed run would
/// take the attempt as cut off) is as short as it can be; the record is a
/// few bytes, written at once, and one that does not parse counts as none.
/// A worker killed by a signal is passed on as that signal, so the run sees
/// it as before.
const WRAPPER: &str = r#"sh -c "$1"
s=$?
printf '%s\n' "$s" > "$2"
[ "$s" -gt 128 ] && kill -s "$(kill -l "$s")" $$
exit "$s""#;

/// Where the wrapper records how attempt `log` ended.
pub fn exit_record(log: &Path) -> PathBuf {
    log.with_extension("exit")
}

/// How an attempt whose run died ended, from its exit record: `None` when
/// there is none (it was cut off with the run, or is still running).
pub fn recorded_exit(log: &Path) -> Option<std::process::ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let text = std::fs::read_to_string(exit_record(log)).ok()?;
    let code: i32 = text.trim().parse().ok()?;
    Some(if (129..=128 + 64).contains(&code) {
        // The shell's way of saying "killed by signal code - 128".
        std::process::ExitStatus::from_raw(code - 128)
    } else {
        std::process::ExitStatus::from_raw((code & 0xff) << 8)
    })
}

/// Starts `sh -c EXEC` in the worktree, in a process group of its own (so
/// a timeout kills all it started, and a Ctrl-C at the terminal reaches
/// only the run), with stdout and stderr appended to the attempt's log,
/// and its exit status recorded next to the log (see [`WRAPPER`]).
pub fn spawn(s: &Spawn<'_>) -> Result<Child, RunError> {
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::Io { what, path, source }
    };
    if let Some(dir) = s.log.parent() {
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    }
    let out = std::fs::File::options()
        .create(true)
        .append(true)
        .open(s.log)
        .map_err(io("creating", s.log))?;
    let err = out.try_clone().map_err(io("opening", s.log))?;
    let record = exit_record(s.log);
    let _ = std::fs::remove_file(&record);
    Command::new("sh")
        .arg("-c")
        .arg(WRAPPER)
        .arg("git-batch-worker")
        .arg(s.exec)
        .arg(&record)
        .current_dir(s.worktree)
        .env("PATH", crate::git::program::path_with_self())
        .env("BATCH_TASK", s.task)
        .env("BATCH_CONTEXT", s.context)
        .env("BATCH_WORKTREE", s.worktree)
        .env("BATCH_ATTEMPT", s.attempt.to_string())
        .env("BATCH_PLAN", s.plan.unwrap_or(""))
        .env("BATCH_WORKER", s.worker)
        .env("BATCH_ATTEMPT_TOKEN", s.token)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(io("starting the worker in", s.worktree))
}

/// Kills a worker's whole process group.
pub fn kill_group(pid: u32) {
    // SAFETY: plain kill(2) calls; the child leads its own group (spawned
    // with process_group(0)), so -pid names that group and nothing else.
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
        libc::kill(pid as i32, libc::SIGKILL);
    }
}

/// After a worker's processes were killed (timeout, Ctrl-C, resume): the git
/// locks they may have left in the task's worktree. A `git commit` killed
/// half-way leaves `index.lock`, and every later git command there fails.
/// Nothing but the task's worker works in its worktree, so a lock there now
/// is theirs. Returns how many were removed.
pub fn clear_git_locks(worktree: &Path, id: &str) -> usize {
    let Ok(repo) = git2::Repository::open(worktree) else {
        return 0;
    };
    let branch_lock = repo
        .commondir()
        .join(format!("{}.lock", crate::git::refs::worker_branch_ref(id)));
    [
        repo.path().join("index.lock"),
        repo.path().join("HEAD.lock"),
        branch_lock,
    ]
    .iter()
    .filter(|lock| std::fs::remove_file(lock).is_ok())
    .count()
}

/// The processes whose environment carries `BATCH_ATTEMPT_TOKEN=token`:
/// what is left of an attempt whose run died (`kill -9` of the run leaves
/// its workers running, since they are in their own process groups).
fn processes_with(token: &str) -> Vec<i32> {
    let needle = format!("BATCH_ATTEMPT_TOKEN={token}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|&b| b == 0).any(|v| v == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// Whether `pid` is the recording shell of [`WRAPPER`] (its `$0`).
fn is_wrapper(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| c.split(|&b| b == 0).nth(3) == Some(b"git-batch-worker"))
        .unwrap_or(false)
}

/// Every process in process group `group`.
fn in_group(group: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                // SAFETY: getpgid only reads.
                .filter(|&p| unsafe { libc::getpgid(p) } == group)
                .collect()
        })
        .unwrap_or_default()
}

/// Kills whatever still runs of an attempt of a dead run, and waits (up to
/// a few seconds) until it is gone. Returns how many processes were found.
///
/// The recording shell is killed last: the worker may have ended an
/// instant ago, its status not yet written, and a shell killed before it
/// writes would make a finished attempt look cut off (and run twice). So
/// the worker's processes go first; the shell then records how they ended
/// (a worker killed here reads as SIGKILL, see [`recorded_exit`]).
pub fn kill_leftovers(token: &str, pid: Option<u32>) -> usize {
    let found = processes_with(token);
    let wrappers: Vec<i32> = found.iter().copied().filter(|&p| is_wrapper(p)).collect();
    for &p in &found {
        if wrappers.contains(&p) {
            continue;
        }
        // SAFETY: getpgid only reads.
        let group = unsafe { libc::getpgid(p) };
        let members = if group > 1 { in_group(group) } else { vec![p] };
        for m in members.into_iter().chain([p]) {
            if !wrappers.contains(&m) {
                // SAFETY: a process of this attempt's group or token.
                unsafe { libc::kill(m, libc::SIGKILL) };
            }
        }
    }
    // The shell writes its record as its worker ends; then it goes too.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until
        && wrappers
            .iter()
            .any(|&w| Path::new(&format!("/proc/{w}")).exists() && !is_zombie(w))
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    for &w in &wrappers {
        // SAFETY: the recording shell of this attempt.
        unsafe {
            let group = libc::getpgid(w);
            if group > 1 {
                libc::kill(-group, libc::SIGKILL);
            }
            libc::kill(w, libc::SIGKILL);
        }
    }
    if found.is_empty()
        && let Some(pid) = pid
        && !std::path::Path::new("/proc/self").exists()
    {
        // No /proc to look in: the recorded group is the best we know.
        kill_group(pid);
    }
    let until = Instant::now() + Duration::from_secs(5);
    while !found.is_empty() && Instant::now() < until && !processes_with(token).is_empty() {
        std::thread::sleep(Duration::from_millis(20));
    }
    found.len()
}

/// Whether `pid` has ended and waits for its parent to reap it.
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Waits (10 s at most) until no process works in `worktree` any more. A
/// run killed inside `done` leaves its `git commit` running there (it is
/// the run's child, not the worker's, so the attempt's token does not find
/// it); what the branch says is only known once it is over.
pub fn wait_until_idle(worktree: &Path) {
    let Ok(dir) = std::fs::canonicalize(worktree) else {
        return;
    };
    let me = std::process::id().to_string();
    let busy = || {
        std::fs::read_dir("/proc")
            .map(|rd| {
                rd.flatten().any(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    name.bytes().all(|b| b.is_ascii_digit())
                        && name != me.as_str()
                        && std::fs::read_link(e.path().join("cwd"))
                            .is_ok_and(|cwd| cwd.starts_with(&dir))
                })
            })
            .unwrap_or(false)
    };
    let until = Instant::now() + Duration::from_secs(10);
    while busy() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last `lines` lines of a log.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// This clone's id (see [`crate::git::identity::clone_id`]).
pub fn clone_id(store: &Store) -> String {
    crate::git::identity::clone_id(&store.repo)
}

/// The worker name a run uses by default: `batch.worker` (else
/// user@host), with this clone's id.
pub fn default_worker(store: &Store) -> String {
    format!(
        "{}#{}",
        crate::git::identity::worker(&store.repo),
        clone_id(store)
    )
}

/// Where the logs and context files of run `name` go.
pub fn run_dir(runs: &Path, name: &str) -> PathBuf {
    runs.join(name)
}
