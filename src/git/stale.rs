//! Git lock files that a killed git-batch left behind, recognised and
//! cleared; everybody else's are left alone.
//!
//! git (and libgit2) take a lock by creating `<file>.lock` and remove it when
//! done; a process killed in between leaves it, and every later writer of
//! that file fails until a person deletes it. git cannot tell whose a lock
//! is, so git-batch keeps its own record: each git-batch process that writes
//! git state first registers itself in `<common dir>/batch/procs/<pid>`,
//! holding an flock on that file for as long as it lives (the kernel drops
//! it when the process dies, `kill -9` included), and removes it when it
//! ends normally. A record nobody holds is a git-batch process that died.
//!
//! A lock is taken to be such a process's leftover, and removed, only when
//! all of these hold: a dead record exists that was registered before the
//! lock was last written; no running process has the lock file open; and it
//! has not been written for [`SETTLED`] (a live git writes its lock and
//! renames it away within moments). Everything else (a lock of the user's
//! own git, running or crashed) is waited for by the caller and never
//! deleted. A sweep then drops the dead records, so one kill can explain only
//! the locks that existed when it was noticed.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

/// How long a lock must have been left unwritten before it can be taken
/// for a dead process's.
pub const SETTLED: Duration = Duration::from_secs(1);

/// A lock file that was cleared, and why it was safe to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleared {
    pub lock: PathBuf,
    /// The dead git-batch process it is taken for.
    pub pid: u32,
}

impl std::fmt::Display for Cleared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "removed {}, left by git-batch process {} that was killed",
            self.lock.display(),
            self.pid
        )
    }
}

struct Registered {
    path: PathBuf,
    /// Held for the life of the process: the flock is the "alive" sign.
    _file: std::fs::File,
}

static REGISTERED: OnceLock<Option<Registered>> = OnceLock::new();
static CLEARED: Mutex<Vec<Cleared>> = Mutex::new(Vec::new());

fn procs_dir(common: &Path) -> PathBuf {
    common.join("batch").join("procs")
}

/// Registers this process as one that writes git state in the repository
/// whose common dir is `common` (once per process; later calls only return),
/// after a sweep for what dead ones left. A failure to register is not an
/// error: without the record, only a kill of this process goes unrecognised.
pub fn enter(common: &Path) {
    REGISTERED.get_or_init(|| {
        sweep(common);
        let path = procs_dir(common).join(std::process::id().to_string());
        let file = crate::atomic::try_lock(&path).ok().flatten()?;
        // A record a dead process of the same pid left keeps its old time.
        file.set_modified(SystemTime::now()).ok()?;
        Some(Registered { path, _file: file })
    });
}

/// Removes this process's record (at its normal end).
pub fn leave() {
    if let Some(Some(r)) = REGISTERED.get() {
        let _ = std::fs::remove_file(&r.path);
    }
}

/// The locks cleared so far by this process (for its caller to report),
/// emptied.
pub fn take_cleared() -> Vec<Cleared> {
    std::mem::take(&mut *CLEARED.lock().unwrap_or_else(|e| e.into_inner()))
}

/// A record that nobody holds: its pid and when it was registered.
struct Dead {
    path: PathBuf,
    pid: u32,
    since: SystemTime,
    /// Held while the sweep runs, so that a second sweeper sees it as live.
    _file: std::fs::File,
}

fn dead_records(common: &Path) -> Vec<Dead> {
    let Ok(entries) = std::fs::read_dir(procs_dir(common)) else {
        return Vec::new();
    };
    let mine = std::process::id().to_string();
    entries
        .flatten()
        .filter(|e| e.file_name() != mine.as_str())
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<u32>().ok()?;
            let path = e.path();
            let since = e.metadata().ok()?.modified().ok()?;
            let file = crate::atomic::try_lock(&path).ok().flatten()?;
            Some(Dead {
                path,
                pid,
                since,
                _file: file,
            })
        })
        .collect()
}

/// Clears the locks dead git-batch processes left in this repository (see
/// the module doc); returns how many. Cheap when no process died: one
/// directory read. When one did, a lock written less than [`SETTLED`] ago is
/// waited for (that long at most) before it is judged.
pub fn sweep(common: &Path) -> usize {
    let dead = dead_records(common);
    let Some(earliest) = dead.iter().map(|d| d.since).min() else {
        return 0;
    };
    let deadline = SystemTime::now() + SETTLED + Duration::from_millis(100);
    let mut judged = std::collections::HashSet::new();
    let mut cleared = 0;
    loop {
        let now = SystemTime::now();
        let mut unsettled = false;
        let mut settled = Vec::new();
        for lock in candidates(common) {
            if judged.contains(&lock) {
                continue;
            }
            let Some(written) = std::fs::symlink_metadata(&lock)
                .ok()
                .and_then(|m| m.modified().ok())
            else {
                continue;
            };
            if written < earliest {
                judged.insert(lock);
            } else if now.duration_since(written).is_ok_and(|age| age >= SETTLED) {
                settled.push((lock, written));
            } else {
                unsettled = true;
            }
        }
        if !settled.is_empty() {
            let open = open_files();
            for (lock, written) in settled {
                judged.insert(lock.clone());
                let canonical = std::fs::canonicalize(&lock).unwrap_or_else(|_| lock.clone());
                // The latest death that could have left it names it.
                let by = dead
                    .iter()
                    .filter(|d| d.since <= written)
                    .max_by_key(|d| d.since);
                let Some(by) = by.filter(|_| !open.contains(&canonical)) else {
                    continue;
                };
                if std::fs::remove_file(&lock).is_ok() {
                    cleared += 1;
                    CLEARED
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(Cleared { lock, pid: by.pid });
                }
            }
        }
        if !unsettled || SystemTime::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for d in &dead {
        let _ = std::fs::remove_file(&d.path);
    }
    cleared
}

/// The lock files git-batch's writes can leave: the index of the main
/// checkout and of every linked worktree, HEAD, packed-refs, and any loose
/// ref's.
fn candidates(common: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = ["index.lock", "HEAD.lock", "packed-refs.lock"]
        .iter()
        .map(|n| common.join(n))
        .collect();
    if let Ok(worktrees) = std::fs::read_dir(common.join("worktrees")) {
        for wt in worktrees.flatten() {
            out.push(wt.path().join("index.lock"));
            out.push(wt.path().join("HEAD.lock"));
        }
    }
    out.retain(|p| p.exists());
    let mut dirs = vec![common.join("refs")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => dirs.push(e.path()),
                Ok(t) if t.is_file() && e.file_name().to_string_lossy().ends_with(".lock") => {
                    out.push(e.path())
                }
                _ => {}
            }
        }
    }
    out
}

/// Every file some process has open that this user may look at.
fn open_files() -> std::collections::HashSet<PathBuf> {
    let mut open = std::collections::HashSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return open;
    };
    for p in procs.flatten() {
        if !p
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        open.extend(
            fds.flatten()
                .filter_map(|fd| std::fs::read_link(fd.path()).ok()),
        );
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(path: &Path, secs: u64) {
        let when = SystemTime::now() - Duration::from_secs(secs);
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(when).unwrap();
    }

    /// A record, registered `secs` ago, of a process that is gone.
    fn dead_record(common: &Path, pid: u32, secs: u64) {
        let path = procs_dir(common).join(pid.to_string());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "").unwrap();
        age(&path, secs);
    }

    #[test]
    fn only_a_settled_unopened_lock_written_after_a_death_is_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let common = dir.path();
        std::fs::create_dir_all(common.join("refs/batch")).unwrap();
        // Before any death: the user's, left alone.
        let old = common.join("packed-refs.lock");
        std::fs::write(&old, "").unwrap();
        age(&old, 100);
        dead_record(common, 4_000_001, 50);
        // After it, settled: the dead process's.
        let ours = common.join("refs/batch/claims.lock");
        std::fs::write(&ours, "").unwrap();
        age(&ours, 10);
        // After it, written again and again: a live git's.
        let fresh = common.join("index.lock");
        std::fs::write(&fresh, "").unwrap();
        let writing = std::thread::spawn({
            let fresh = fresh.clone();
            move || {
                for _ in 0..30 {
                    std::fs::write(&fresh, "x").unwrap();
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        });
        // After it, settled, but open: a live git's.
        let held_path = common.join("HEAD.lock");
        std::fs::write(&held_path, "").unwrap();
        age(&held_path, 10);
        let _held = std::fs::File::open(&held_path).unwrap();

        take_cleared();
        assert_eq!(sweep(common), 1);
        assert!(!ours.exists());
        writing.join().unwrap();
        assert!(old.exists() && fresh.exists() && held_path.exists());
        let cleared = take_cleared();
        assert_eq!(cleared.len(), 1);
        assert_eq!(cleared[0].pid, 4_000_001);
        // The death is used up: a later lock is nobody's to clear.
        std::fs::write(&ours, "").unwrap();
        age(&ours, 10);
        assert_eq!(sweep(common), 0);
        assert!(ours.exists());
    }

    #[test]
    fn a_live_record_explains_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let common = dir.path();
        let path = procs_dir(common).join("4000002");
        let _alive = crate::atomic::try_lock(&path).unwrap().unwrap();
        age(&path, 50);
        let lock = common.join("index.lock");
        std::fs::write(&lock, "").unwrap();
        age(&lock, 10);
        assert_eq!(sweep(common), 0);
        assert!(lock.exists() && path.exists());
    }
}
