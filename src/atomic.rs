//! Crash-safe file writes: a temp file in the same directory, fsync, rename,
//! fsync of the directory. A `kill -9` at any moment leaves the old file or
//! the new one, never a torn one. And the lock files that make processes
//! take turns.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// Temp files start with this, so scans of `.batch/` skip them.
pub const TEMP_PREFIX: &str = ".batch-tmp-";

/// The temp files of [`create_many_atomic`] start with this (and so with
/// [`TEMP_PREFIX`]): under its lock, any such file is a killed one's.
pub const BULK_TEMP_PREFIX: &str = ".batch-tmp-bulk-";

fn temp_in(dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    temp_with(dir, TEMP_PREFIX)
}

fn temp_with(dir: &Path, prefix: &str) -> io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    // tempfile's own default is 0600. The files written here are the
    // user's (task files, plans, configs, exports), so they get the modes
    // any other program would give them: 0666 less the umask, which
    // open(2) applies. The rename keeps the temp file's mode.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Replaces `path` with `data` atomically and durably.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = parent_of(path);
    let mut tmp = temp_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Creates `path` with `data` atomically, failing with `AlreadyExists` if a
/// file is there already (even one created at the same instant by another
/// process).
pub fn create_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = parent_of(path);
    let mut tmp = temp_in(dir)?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Makes a rename or creation in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes many new files at once: each goes to a temp file, one `syncfs`
/// makes all of them durable, then each is renamed into place without
/// clobbering. Per file the guarantee is that of `create_atomic`; the cost is
/// one flush instead of one per file (an import of 100k tasks).
///
/// A `kill -9` skips the temp files' own removal, and a killed bulk write
/// leaves up to one per file. Bulk writes into a directory take turns on a
/// lock of the directory itself (an `flock`, released if the process
/// dies), so the bulk temp files one finds there under it are a dead one's:
/// it removes them.
pub fn create_many_atomic(dir: &Path, files: &[(String, Vec<u8>)]) -> io::Result<()> {
    let turn = File::open(dir)?;
    turn.lock()?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(BULK_TEMP_PREFIX)
        {
            std::fs::remove_file(entry.path())?;
        }
    }
    let mut temps = Vec::with_capacity(files.len());
    for (name, data) in files {
        let mut tmp = temp_with(dir, BULK_TEMP_PREFIX)?;
        tmp.write_all(data)?;
        // Close it now: an import can hold more files than the fd limit.
        temps.push((name, tmp.into_temp_path()));
    }
    sync_fs(dir)?;
    for (name, tmp) in temps {
        tmp.persist_noclobber(dir.join(name)).map_err(|e| e.error)?;
    }
    sync_dir(dir)
}

/// Flushes the whole file system that holds `dir` (Linux `syncfs`).
fn sync_fs(dir: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let handle = File::open(dir)?;
    // SAFETY: syncfs takes a valid open descriptor, which `handle` owns for
    // the duration of the call.
    let rc = unsafe { libc::syncfs(handle.as_raw_fd()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Takes an exclusive lock on `path` (created, with its directory, if
/// missing); released when the returned file is dropped or the process dies.
pub fn lock(path: &Path) -> io::Result<std::fs::File> {
    let file = open_lock(path)?;
    file.lock()?;
    Ok(file)
}

/// The lock file at `path`, created (with its directory) if missing.
fn open_lock(path: &Path) -> io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

/// How large a task file may be: far beyond any real one, small enough that
/// a hostile file cannot take the memory of every command.
pub const TASK_FILE_LIMIT: u64 = 8 << 20;
/// The same for `.batch/config.toml`.
pub const CONFIG_LIMIT: u64 = 1 << 20;
/// The same for a plan manifest (it lists every task of the plan).
pub const PLAN_LIMIT: u64 = 64 << 20;
/// The same for a receipt read whole.
pub const RECEIPT_LIMIT: u64 = 256 << 20;

/// Reads a file git-batch trusts only as data: a symbolic link is refused
/// (its target may be anything: `/dev/zero`, a file outside the
/// repository), so is anything but a regular file, and so is a file larger
/// than `limit`. Errors of that kind have `ErrorKind::InvalidData`.
pub fn read_regular(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let refused = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                refused("is a symbolic link; git-batch reads only regular files".into())
            } else {
                e
            }
        })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused("is not a regular file".into()));
    }
    if meta.len() > limit {
        return Err(refused(format!(
            "is {} bytes, more than the {limit} git-batch reads",
            meta.len()
        )));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(refused(format!(
            "grew past the {limit} bytes git-batch reads"
        )));
    }
    Ok(data)
}

/// [`read_regular`] as UTF-8 text.
pub fn read_regular_text(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_regular(path, limit)?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Takes the lock on `path` if nobody holds it: `Ok(None)` when another
/// process does (for "another land/run is going on" errors).
pub fn try_lock(path: &Path) -> io::Result<Option<std::fs::File>> {
    let file = open_lock(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_not_taken_twice() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.lock");
        let held = try_lock(&p).unwrap();
        assert!(held.is_some());
        assert!(try_lock(&p).unwrap().is_none());
        drop(held);
        assert!(try_lock(&p).unwrap().is_some());
    }

    #[test]
    fn a_bulk_write_removes_what_a_killed_one_left() {
        let dir = tempfile::tempdir().unwrap();
        let killed = dir.path().join(format!("{BULK_TEMP_PREFIX}Ab12"));
        let single = dir.path().join(format!("{TEMP_PREFIX}Cd34"));
        std::fs::write(&killed, b"id = \"cut").unwrap();
        std::fs::write(&single, b"id = \"cut").unwrap();
        create_many_atomic(dir.path(), &[("a.toml".into(), b"a".to_vec())]).unwrap();
        assert!(!killed.exists());
        // Not a bulk write's: it may be a live writer's, so it stays.
        assert!(single.exists());
        assert_eq!(std::fs::read(dir.path().join("a.toml")).unwrap(), b"a");
    }

    #[test]
    fn create_refuses_existing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.toml");
        create_atomic(&p, b"one").unwrap();
        let err = create_atomic(&p, b"two").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        write_atomic(&p, b"three").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"three");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(TEMP_PREFIX)
            })
            .collect();
        assert!(leftovers.is_empty());
    }
}
