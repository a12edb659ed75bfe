//! A fast look at `.batch/tasks/`: every task file's name and stat
//! fingerprint, and one aggregate over all of them, so a reader can tell in
//! one pass whether the cache still matches the files; and the stat data of
//! the directory itself, which changes whenever a file in it is created,
//! removed or replaced by a rename (but not when one is edited in place).

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
    pub fn of(meta: &std::fs::Metadata) -> Fingerprint {
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
    /// The directory's own stat data, taken before it was listed (`None`
    /// when it does not exist).
    pub dir: Option<Fingerprint>,
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
    let started_ns = now_ns();
    let dir_fp = match std::fs::metadata(dir) {
        Ok(meta) => Some(Fingerprint::of(&meta)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Scan::default()),
        Err(e) => return Err(e),
    };
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
    let mut aggregate = Aggregate::default();
    for e in &entries {
        aggregate.add(&e.name, e.fp.key());
    }
    Ok(Scan {
        entries,
        aggregate: aggregate.to_string(),
        dir: dir_fp,
        started_ns,
    })
}

/// The stat data of the directory `dir` (`None` when it does not exist).
pub fn dir_fingerprint(dir: &Path) -> io::Result<Option<Fingerprint>> {
    match std::fs::metadata(dir) {
        Ok(meta) => Ok(Some(Fingerprint::of(&meta))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The stat data of one task file (`None` when there is none). A link is
/// taken as it is (not followed), as a scan lists it.
pub fn file_fingerprint(path: &Path) -> io::Result<Option<Fingerprint>> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() || meta.file_type().is_symlink() => {
            Ok(Some(Fingerprint::of(&meta)))
        }
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The wall clock in ns since the epoch.
pub fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// An order-independent digest of (name, fingerprint key) pairs, which one
/// file's change updates without the others: the cache keeps it for the
/// files it has recorded, so that after recording one file it still equals
/// what a scan of unchanged files computes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Aggregate {
    count: u64,
    sum: u64,
    mix: u64,
}

impl Aggregate {
    fn value(name: &str, key: i64) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        name.hash(&mut h);
        key.hash(&mut h);
        h.finish()
    }

    pub fn add(&mut self, name: &str, key: i64) {
        let v = Self::value(name, key);
        self.count += 1;
        self.sum = self.sum.wrapping_add(v);
        self.mix ^= v.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }

    pub fn remove(&mut self, name: &str, key: i64) {
        let v = Self::value(name, key);
        self.count = self.count.saturating_sub(1);
        self.sum = self.sum.wrapping_sub(v);
        self.mix ^= v.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }

    pub fn parse(text: &str) -> Option<Aggregate> {
        let mut parts = text.split(':');
        let count = parts.next()?.parse().ok()?;
        let sum = u64::from_str_radix(parts.next()?, 16).ok()?;
        let mix = u64::from_str_radix(parts.next()?, 16).ok()?;
        parts
            .next()
            .is_none()
            .then_some(Aggregate { count, sum, mix })
    }
}

impl std::fmt::Display for Aggregate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{:016x}:{:016x}", self.count, self.sum, self.mix)
    }
}

/// A content hash, for files whose stat data cannot be trusted yet.
pub fn content_hash(data: &[u8]) -> i64 {
    let mut h = std::hash::DefaultHasher::new();
    data.hash(&mut h);
    h.finish() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aggregate_updated_file_by_file_equals_one_computed_at_once() {
        let mut whole = Aggregate::default();
        for (name, key) in [("a.toml", 1), ("b.toml", 2), ("c.toml", 3)] {
            whole.add(name, key);
        }
        let mut step = Aggregate::default();
        for (name, key) in [("c.toml", 3), ("a.toml", 9), ("b.toml", 2)] {
            step.add(name, key);
        }
        assert_ne!(step, whole, "a changed key changes the aggregate");
        step.remove("a.toml", 9);
        step.add("a.toml", 1);
        assert_eq!(step, whole);
        assert_eq!(Aggregate::parse(&whole.to_string()), Some(whole));
        assert_eq!(Aggregate::parse("3:00:zz"), None);
    }
}
