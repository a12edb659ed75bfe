//! A fast look at `.batch/tasks/`: every task file's name and stat
//! fingerprint, and one aggregate over all of them, so a reader can tell in
//! one pass whether the cache still matches the files.

use std::hash::{Hash, Hasher};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The stat data that changes whenever a file's content can have changed:
/// inode (a rename), size, modification and change times (ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

impl Fingerprint {
    fn of(meta: &std::fs::Metadata) -> Fingerprint {
        Fingerprint {
            ino: meta.ino(),
            size: meta.len(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
        }
    }

    /// One number for the cache's `files` table.
    pub fn key(&self) -> i64 {
        let mut h = std::hash::DefaultHasher::new();
        self.hash(&mut h);
        h.finish() as i64
    }

    /// The newest of the two times, for the racy-file rule.
    pub fn newest_ns(&self) -> i64 {
        self.mtime_ns.max(self.ctime_ns)
    }
}

/// One task file seen by a scan.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub fp: Fingerprint,
}

/// The files of the tasks directory and their aggregate.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub entries: Vec<Entry>,
    pub aggregate: String,
    /// The wall clock (ns) just before the first file was listed: a file
    /// whose times are older than this (by the clock's margin) cannot
    /// change again without its stat data changing.
    pub started_ns: i64,
}

/// Whether `name` is a task file (and not a temp file or something else).
pub fn is_task_file(name: &str) -> bool {
    name.ends_with(".toml") && !name.starts_with('.') && name.len() > ".toml".len()
}

/// Lists and stats the task files in `dir`; an absent dir is empty.
pub fn scan(dir: &Path) -> io::Result<Scan> {
    let started_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    let read = match std::fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Scan::default()),
        Err(e) => return Err(e),
    };
    let mut dirents = Vec::new();
    for entry in read {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_task_file(name) {
            dirents.push((name.to_string(), entry));
        }
    }
    // stat is the cost of a scan; the two halves go to two threads.
    let half = dirents.len() / 2;
    let (left, right) = dirents.split_at(half);
    let stat_all = |part: &[(String, std::fs::DirEntry)]| -> io::Result<Vec<Entry>> {
        part.iter()
            .filter_map(|(name, entry)| match entry.metadata() {
                // A link is listed too, so that reading it refuses it out
                // loud (a broken file) instead of it silently not existing.
                Ok(meta) if meta.is_file() || meta.file_type().is_symlink() => Some(Ok(Entry {
                    name: name.clone(),
                    fp: Fingerprint::of(&meta),
                })),
                Ok(_) => None,
                // Removed between listing and stat: it is simply gone.
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => Some(Err(e)),
            })
            .collect()
    };
    let entries = if dirents.len() >= 2048 {
        let (first, second) = std::thread::scope(|s| {
            let handle = s.spawn(|| stat_all(right));
            let first = stat_all(left);
            (first, handle.join().expect("stat thread panicked"))
        });
        let mut first = first?;
        first.extend(second?);
        first
    } else {
        stat_all(&dirents)?
    };
    let aggregate = aggregate_of(&entries);
    Ok(Scan {
        entries,
        aggregate,
        started_ns,
    })
}

/// An order-independent digest of all (name, fingerprint) pairs.
fn aggregate_of(entries: &[Entry]) -> String {
    let (mut sum, mut mix) = (0u64, 0u64);
    for e in entries {
        let mut h = std::hash::DefaultHasher::new();
        e.name.hash(&mut h);
        e.fp.hash(&mut h);
        let v = h.finish();
        sum = sum.wrapping_add(v);
        mix ^= v.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
    format!("{}:{sum:016x}:{mix:016x}", entries.len())
}

/// A content hash, for files whose stat data cannot be trusted yet.
pub fn content_hash(data: &[u8]) -> i64 {
    let mut h = std::hash::DefaultHasher::new();
    data.hash(&mut h);
    h.finish() as i64
}
