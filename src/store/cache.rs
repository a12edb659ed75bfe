//! The query cache: SQLite under the git dir, derived from the task files.
//!
//! Never the source of truth. Every use starts with [`Cache::sync`], which
//! compares one aggregate of the task files' stat data with the one stored;
//! when they differ, only the changed files are re-read, and readiness is
//! recomputed for the whole graph. A file changed no earlier than the scan
//! that recorded it (within the clock's margin: the kernel stamps files with
//! a coarse clock, and some filesystems keep whole seconds) may change again
//! within the same timestamp, so its content is checked again on the next
//! use, like git's racy-clean rule, until a scan starts after it; a file
//! older than that is trusted as soon as it is scanned. A cache that is
//! missing, of another schema, or corrupt is rebuilt.
//! The questions commands ask of it are in `cache/query.rs`.

mod point;
mod query;
mod readiness;
mod rows;
mod schema;

pub use rows::parse_file;

use super::scan::{self, Scan};
use crate::graph::{Blocker, Node};
use crate::task::{Status, Task};
use rows::Changes;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// From this many files on, a rebuild from nothing drops the indexes first.
const BULK_FILES: usize = 1000;
/// SQLite's page cache during a rebuild (KiB). 128 MiB made no difference
/// to a cold rebuild of 100k tasks beyond the noise (4.2-4.6 s against
/// 4.5-5.5 s, loaded machine) and added some 90 MiB to its peak, which an
/// import pays beside its commit (docs/benchmarks.md).
const REBUILD_CACHE_KIB: u32 = 32 * 1024;
/// How far a file's timestamp may fall behind the wall clock read at the
/// start of a scan: the kernel stamps files with its coarse clock, which
/// lags the fine one by up to a tick (10 ms at 100 Hz); with room to spare.
const CLOCK_MARGIN_NS: i64 = 100_000_000;
/// The same for a filesystem that keeps whole seconds (FAT keeps two).
const COARSE_FS_MARGIN_NS: i64 = 2_000_000_000;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("query cache {path}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("reading {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A row this binary cannot read (written by another git-batch, or
    /// damaged): the cache rebuilds itself from the task files.
    #[error("query cache {path}: the {column} of task '{id}' does not parse")]
    BadRow {
        path: PathBuf,
        id: String,
        column: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A task file that could not be read as a task.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BrokenFile {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

/// Which tasks `list` shows.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    /// Empty: every status but `closed`.
    pub statuses: Vec<Status>,
    pub all: bool,
    pub parent: Option<String>,
    pub label: Option<String>,
}

pub struct Cache {
    conn: Connection,
    path: PathBuf,
    tasks_dir: PathBuf,
    offer: Offer,
}

/// What `ready` offers beyond the graph's answer, decided when it is asked
/// because it changes without a task file changing.
#[derive(Debug, Clone, Copy)]
pub struct Offer {
    /// Tasks deferred until after this (Unix seconds) are not offered.
    pub now: i64,
    /// Offer tasks of beads' non-work types too (config `[beads] ready_all_types`).
    pub all_types: bool,
}

impl Default for Offer {
    fn default() -> Self {
        Offer {
            now: crate::time::now().timestamp(),
            all_types: false,
        }
    }
}

impl Cache {
    /// The same cache, offering by `offer`.
    pub fn offering(mut self, offer: Offer) -> Cache {
        self.offer = offer;
        self
    }

    /// Opens (creating or rebuilding as needed) the cache at `path` for the
    /// task files in `tasks_dir`, and brings it up to date.
    pub fn open_synced(
        path: &Path,
        tasks_dir: &Path,
    ) -> Result<(Cache, Vec<BrokenFile>), CacheError> {
        Cache::open_checked(path, tasks_dir, Cache::sync)
    }

    /// Opens the cache as [`Cache::open_synced`] does, bringing up to date
    /// only what answers about `ids` read (see [`Cache::sync_about`]).
    pub fn open_about(
        path: &Path,
        tasks_dir: &Path,
        ids: &[&str],
    ) -> Result<(Cache, Vec<BrokenFile>), CacheError> {
        Cache::open_checked(path, tasks_dir, |cache| cache.sync_about(ids))
    }

    /// Opens the cache without checking it against the files, to record a
    /// write (see [`Cache::note_written`]).
    pub fn open_unchecked(path: &Path, tasks_dir: &Path) -> Result<Cache, CacheError> {
        Cache::open(path, tasks_dir)
    }

    fn open_checked(
        path: &Path,
        tasks_dir: &Path,
        check: impl Fn(&Cache) -> Result<Vec<BrokenFile>, CacheError>,
    ) -> Result<(Cache, Vec<BrokenFile>), CacheError> {
        let cache = match Cache::open(path, tasks_dir) {
            Ok(cache) => cache,
            // Corrupt or unreadable: it is only a cache, start it over. Not
            // when another process holds it: deleting the files under it
            // would give it (and its readers) an empty cache.
            Err(e) if !is_busy(&e) => {
                remove_db(path);
                Cache::open(path, tasks_dir)?
            }
            Err(e) => return Err(e),
        };
        match check(&cache) {
            Ok(broken) => Ok((cache, broken)),
            Err(e @ CacheError::Sqlite { .. }) if !is_busy(&e) => {
                drop(cache);
                remove_db(path);
                let cache = Cache::open(path, tasks_dir)?;
                let broken = check(&cache)?;
                Ok((cache, broken))
            }
            Err(e) => Err(e),
        }
    }

    fn open(path: &Path, tasks_dir: &Path) -> Result<Cache, CacheError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| CacheError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let sql = |source| CacheError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(60)).map_err(sql)?;
        // Setting up takes turns between processes: SQLite answers a
        // journal-mode change that meets another connection with "database
        // is locked" at once, without the busy timeout.
        let _setup = setup_lock(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;

        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sql)?;
        let current = schema::version();
        if version != current {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE;
                 {DROP_TABLES}
                 {TABLES}
                 {SECONDARY_INDEXES}
                 PRAGMA user_version = {current};
                 COMMIT;",
                DROP_TABLES = schema::DROP_TABLES,
                TABLES = schema::TABLES,
                SECONDARY_INDEXES = schema::SECONDARY_INDEXES,
            ))
            .map_err(sql)?;
        }
        Ok(Cache {
            conn,
            path: path.to_path_buf(),
            tasks_dir: tasks_dir.to_path_buf(),
            offer: Offer::default(),
        })
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> CacheError + '_ {
        |source| CacheError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Brings the cache up to date with the task files; returns the files
    /// that do not parse.
    pub fn sync(&self) -> Result<Vec<BrokenFile>, CacheError> {
        let scan = self.scan()?;
        if self.is_fresh(&scan)? {
            point::record_dir(&self.conn, &scan).map_err(self.sql())?;
        } else {
            match self.rebuild_from(&scan, false) {
                // Readiness reads every stored row, the unchanged ones too.
                Err(CacheError::BadRow { .. }) => self.rebuild_from(&scan, true)?,
                result => result?,
            }
        }
        self.broken()
    }

    fn scan(&self) -> Result<Scan, CacheError> {
        scan::scan(&self.tasks_dir).map_err(|source| CacheError::Io {
            path: self.tasks_dir.clone(),
            source,
        })
    }

    /// Runs `query`; when it meets a row this binary cannot read, rebuilds
    /// the cache from the task files (they are the truth) and runs it once
    /// more. A row that still does not read after a rebuild from nothing is
    /// the error: no loop.
    fn repairing<T>(
        &self,
        query: impl Fn(&Cache) -> Result<T, CacheError>,
    ) -> Result<T, CacheError> {
        match query(self) {
            Err(CacheError::BadRow { .. }) => {
                self.rebuild_from(&self.scan()?, true)?;
                query(self)
            }
            result => result,
        }
    }

    fn meta(&self, key: &str) -> Result<Option<String>, CacheError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.sql())
    }

    /// True when the stored aggregate matches and every racy file still has
    /// the content that was cached. Racy files that have become old enough
    /// are dropped from the list, so that the re-reading stops.
    fn is_fresh(&self, scan: &Scan) -> Result<bool, CacheError> {
        if self.meta("aggregate")?.as_deref() != Some(scan.aggregate.as_str()) {
            return Ok(false);
        }
        let Some(racy_text) = self.meta("racy")? else {
            return Ok(true);
        };
        // An unreadable list: which files to re-check is unknown, so all are.
        let Ok(racy) = serde_json::from_str::<Vec<RacyFile>>(&racy_text) else {
            return Ok(false);
        };
        if racy.is_empty() {
            return Ok(true);
        }
        for file in &racy {
            match crate::atomic::read_regular(
                &self.tasks_dir.join(&file.name),
                crate::atomic::TASK_FILE_LIMIT,
            ) {
                Ok(data) if scan::content_hash(&data) == file.content => {}
                _ => return Ok(false),
            }
        }
        let still: Vec<&RacyFile> = racy
            .iter()
            .filter(|f| is_racy(f.newest_ns, scan.started_ns))
            .collect();
        if still.len() != racy.len() {
            // Only if nobody changed the list meanwhile (a plain compare-and-set).
            self.conn
                .execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'racy' AND value = ?2",
                    params![
                        serde_json::to_string(&still).expect("plain data"),
                        racy_text
                    ],
                )
                .map_err(self.sql())?;
        }
        Ok(true)
    }

    /// Brings the rows up to date with `scan`; `from_scratch` forgets every
    /// row first, in the same transaction, so other processes never see the
    /// cache empty.
    fn rebuild_from(&self, scan: &Scan, from_scratch: bool) -> Result<(), CacheError> {
        let path = self.path.clone();
        let sql = |source| CacheError::Sqlite {
            path: path.clone(),
            source,
        };
        // A rebuild touches every page of every index: with SQLite's small
        // default page cache it spills and re-reads pages all the time.
        // Reads keep the default, so a query's memory stays small.
        self.conn
            .pragma_update(None, "cache_size", -(REBUILD_CACHE_KIB as i64))
            .map_err(sql)?;
        let result = self.rebuild_in_tx(scan, from_scratch);
        self.conn
            .pragma_update(None, "cache_size", -2000)
            .map_err(sql)?;
        result
    }

    fn rebuild_in_tx(&self, scan: &Scan, from_scratch: bool) -> Result<(), CacheError> {
        let path = self.path.clone();
        let sql = |source| CacheError::Sqlite {
            path: path.clone(),
            source,
        };
        // Unchecked: `&self` is enough, so a query can repair the cache it
        // reads. No transaction is open here: queries run in autocommit.
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(sql)?;
        if from_scratch {
            tx.execute_batch(
                "DELETE FROM files; DELETE FROM broken; DELETE FROM tasks;
                 DELETE FROM deps; DELETE FROM parents; DELETE FROM labels;
                 DELETE FROM meta;",
            )
            .map_err(sql)?;
        }

        let old: HashMap<String, (i64, i64)> = {
            let mut stmt = tx
                .prepare("SELECT name, fp, content FROM files")
                .map_err(sql)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
                .map_err(sql)?;
            rows.collect::<Result<_, _>>().map_err(sql)?
        };
        // None: the stored list does not read, so every file is re-checked.
        let old_racy: Option<HashSet<String>> = {
            let racy: Option<String> = tx
                .query_row("SELECT value FROM meta WHERE key = 'racy'", [], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(sql)?;
            match racy {
                None => Some(HashSet::new()),
                Some(text) => serde_json::from_str::<Vec<RacyFile>>(&text)
                    .ok()
                    .map(|files| files.into_iter().map(|f| f.name).collect()),
            }
        };

        let mut racy: Vec<RacyFile> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::with_capacity(scan.entries.len());
        let mut changes = Changes::default();
        // In name order, each primary key insert is an append.
        let mut entries: Vec<&scan::Entry> = scan.entries.iter().collect();
        entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        let mut to_record = Vec::new();
        for entry in entries {
            seen.insert(entry.name.as_str());
            let recorded = old.get(&entry.name).copied();
            let unchanged = matches!(recorded, Some((fp, _)) if fp == entry.fp.key())
                && old_racy.as_ref().is_some_and(|r| !r.contains(&entry.name));
            if !unchanged {
                to_record.push((entry, recorded));
            }
        }
        // A rebuild from nothing, or a checkout that changed most files:
        // each row kept in every secondary index as it is written, and
        // readiness followed change by change, cost more than building the
        // indexes and readiness once at the end (10k changed files: 0.44 s
        // against 0.31 s for a rebuild from nothing, before this). The rows
        // written here are found by primary key alone.
        let bulk = to_record.len() >= BULK_FILES
            && (old.is_empty() || to_record.len() * 4 >= scan.entries.len());
        if bulk {
            tx.execute_batch(schema::DROP_SECONDARY_INDEXES)
                .map_err(sql)?;
        }
        for (entry, recorded) in to_record {
            rows::record_file(
                &tx,
                &self.path,
                &self.tasks_dir,
                &entry.name,
                Some(entry.fp),
                recorded,
                scan.started_ns,
                &mut racy,
                &mut changes,
            )?;
        }
        for name in old.keys() {
            if !seen.contains(name.as_str()) {
                rows::forget_file(&tx, name, &mut changes).map_err(sql)?;
            }
        }
        if bulk {
            readiness::recompute_all(&tx, &self.path)?;
            tx.execute_batch(schema::SECONDARY_INDEXES).map_err(sql)?;
        } else {
            readiness::update(&tx, &self.path, &changes)?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('aggregate', ?1), ('racy', ?2)",
            params![
                scan.aggregate,
                serde_json::to_string(&racy).expect("plain data serializes")
            ],
        )
        .map_err(sql)?;
        point::record_dir(&tx, scan).map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// The task files that do not parse, with line and message.
    pub fn broken(&self) -> Result<Vec<BrokenFile>, CacheError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, line, message FROM broken ORDER BY name")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(BrokenFile {
                    path: self.tasks_dir.join(r.get::<_, String>(0)?),
                    line: r.get::<_, i64>(1)? as usize,
                    message: r.get(2)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Ids whose files exist but do not parse.
    pub fn broken_ids(&self) -> Result<HashSet<String>, CacheError> {
        Ok(self
            .broken()?
            .into_iter()
            .filter_map(|b| {
                b.path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .map(str::to_string)
            })
            .collect())
    }
}

/// A file whose stat data was too recent to trust when it was cached.
#[derive(serde::Serialize, serde::Deserialize)]
struct RacyFile {
    name: String,
    content: i64,
    newest_ns: i64,
}

/// Whether a file last changed at `newest_ns` may still change without its
/// stat data changing, for a scan that started at `scan_started_ns`: its
/// time is not older than the scan by the clock's margin. A time of whole
/// seconds is taken for a filesystem that keeps no more.
fn is_racy(newest_ns: i64, scan_started_ns: i64) -> bool {
    let margin = if newest_ns % 1_000_000_000 == 0 {
        COARSE_FS_MARGIN_NS
    } else {
        CLOCK_MARGIN_NS
    };
    newest_ns >= scan_started_ns.saturating_sub(margin)
}

/// The lock held while a connection sets the database up (`<path>.lock`).
fn setup_lock(path: &Path) -> Result<std::fs::File, CacheError> {
    let mut lock = path.as_os_str().to_owned();
    lock.push(".lock");
    let lock = PathBuf::from(lock);
    crate::atomic::lock(&lock).map_err(|source| CacheError::Io { path: lock, source })
}

/// SQLite gave up waiting for another process.
fn is_busy(e: &CacheError) -> bool {
    matches!(
        e,
        CacheError::Sqlite {
            source: rusqlite::Error::SqliteFailure(f, _),
            ..
        } if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

#[cfg(test)]
mod racy_tests {
    use super::*;

    const TASK: &str = "id = \"bt-1\"\ntitle = \"aaaa\"\nstatus = \"open\"\npriority = 2\nkind = \"task\"\ncreated = \"2026-01-01T00:00:00Z\"\nupdated = \"2026-01-01T00:00:00Z\"\n";

    fn setup() -> (tempfile::TempDir, Cache, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let tasks = dir.path().join("tasks");
        std::fs::create_dir_all(&tasks).unwrap();
        let file = tasks.join("bt-1.toml");
        std::fs::write(&file, TASK).unwrap();
        let cache = Cache::open(&dir.path().join("cache.db"), &tasks).unwrap();
        (dir, cache, file)
    }

    /// A scan as another one would see the same stat data, started at
    /// `started_ns`: what a same-tick edit looks like to the cache.
    fn rescan(scan: &Scan, started_ns: i64) -> Scan {
        Scan {
            started_ns,
            ..scan.clone()
        }
    }

    #[test]
    fn a_file_as_new_as_its_scan_is_checked_by_content_until_a_later_scan() {
        let (_dir, cache, file) = setup();
        let first = cache.scan().unwrap();
        cache.rebuild_from(&first, false).unwrap();
        // Rewritten with the same size and (so it looks) the same stat data.
        std::fs::write(&file, TASK.replace("aaaa", "bbbb")).unwrap();
        assert!(
            !cache.is_fresh(&rescan(&first, first.started_ns)).unwrap(),
            "an edit in the scan's own tick must be seen"
        );
        std::fs::write(&file, TASK).unwrap();
        // A scan that started well after the file's time: the content is
        // checked once more, then the file is trusted by its stat data.
        let later = first.started_ns + 10 * COARSE_FS_MARGIN_NS;
        assert!(cache.is_fresh(&rescan(&first, later)).unwrap());
        std::fs::write(&file, TASK.replace("aaaa", "cccc")).unwrap();
        assert!(
            cache.is_fresh(&rescan(&first, later)).unwrap(),
            "no longer racy: trusted by its stat data (which a real edit changes)"
        );
    }

    #[test]
    fn a_file_older_than_its_scan_is_trusted_at_once() {
        let (_dir, cache, file) = setup();
        let old = std::time::SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let scan = cache.scan().unwrap();
        // Its ctime is new (set_modified changed it): take a scan from later.
        let scan = rescan(&scan, scan.started_ns + 10 * COARSE_FS_MARGIN_NS);
        cache.rebuild_from(&scan, false).unwrap();
        assert_eq!(cache.meta("racy").unwrap().as_deref(), Some("[]"));
    }

    #[test]
    fn the_margin_is_wider_for_whole_second_times() {
        let t = 1_700_000_000_000_000_000;
        assert!(is_racy(t, t));
        assert!(is_racy(t + 1, t + 50_000_000));
        assert!(!is_racy(t + 1, t + 200_000_000));
        assert!(is_racy(t, t + 1_500_000_000));
        assert!(!is_racy(t, t + 2_500_000_000));
    }
}
