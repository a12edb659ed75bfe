//! Commands about a few tasks (`show ID`, `claim ID`, `update`, `close`,
//! `create`, `dep add`) check only the files their answer reads, not every
//! task file, so they cost the same at 100 tasks and at 100 000.
//!
//! Which files those are is [`Cache::sync_about`]'s business: the task,
//! its dependencies, its parents and theirs (blocking flows down), its
//! children (an epic waits for them, `show` lists them). Each is checked by
//! its stat data against what the cache recorded (by content while it is
//! racy), and a changed one is recorded again with the readiness it moves.
//!
//! A task that starts or stops naming one of those (a new child, say) is
//! another file: it is seen through the directory. Creating, removing or
//! replacing a file by a rename (every git checkout, pull and merge, every
//! git-batch write, most editors) changes the directory's stat data, and a
//! command that finds the directory other than the cache last recorded it
//! checks every file, as a query over all tasks always does. What a point
//! command does not see at once is another task's file edited in place
//! (same inode, the directory untouched): the next query over all tasks
//! sees it. The cache trusts the directory's stat data the way it trusts a
//! file's: recorded by a scan that began at least the clock's margin after
//! the directory last changed (see `is_racy`), or by git-batch's own write
//! ([`Cache::note_written`]), which also records the written file, so that
//! its own changes never cost the next command a scan.

use super::rows::{self, Changes, Recorded};
use super::{BrokenFile, Cache, CacheError, RacyFile, is_racy};
use crate::graph::Node;
use crate::store::scan::{self, Aggregate, Fingerprint, Scan};
use rusqlite::{OptionalExtension, TransactionBehavior};
use std::collections::HashMap;

/// Why a task's file is checked, which decides what else is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    /// Only the file: a dependency, a child.
    File,
    /// A parent: its dependencies and its own parents too.
    Ancestor,
    /// A task asked about: all of the above, and its children.
    Asked,
}

/// Records the directory's stat data as trusted when the scan that took it
/// began well after the directory last changed; else forgets it, so that
/// point commands check every file until a later scan. Writes only when
/// that changes what is stored: a read that finds the cache fresh calls it
/// too, and should not queue behind a writer for nothing.
pub(super) fn record_dir(conn: &rusqlite::Connection, scan: &Scan) -> rusqlite::Result<()> {
    let stored: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'dir'", [], |r| r.get(0))
        .optional()?;
    let now = scan.dir.map(|dir| dir.key().to_string());
    // Trusted already (by an earlier scan, or a write of ours) and not
    // changed since: still trusted, however recent the change it recorded.
    if stored.is_some() && stored == now {
        return Ok(());
    }
    let wanted = scan
        .dir
        .filter(|dir| !is_racy(dir.newest_ns(), scan.started_ns))
        .map(|dir| dir.key().to_string());
    if stored == wanted {
        return Ok(());
    }
    match wanted {
        Some(key) => rows::exec_cached(
            conn,
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('dir', ?1)",
            [key],
        )?,
        None => rows::exec_cached(conn, "DELETE FROM meta WHERE key = 'dir'", [])?,
    };
    Ok(())
}

impl Cache {
    /// Brings up to date what an answer about `ids` reads (see the module
    /// doc); checks every file instead when the directory changed since
    /// the cache last recorded it. Returns the files that do not parse.
    pub fn sync_about(&self, ids: &[&str]) -> Result<Vec<BrokenFile>, CacheError> {
        let starts = ids.iter().map(|id| (id.to_string(), Need::Asked)).collect();
        if self.walk_checked(starts, Cache::expand, true)?.is_none() {
            return self.sync();
        }
        self.broken()
    }

    /// Every task a wait cycle through `starts` can pass (along wait edges:
    /// a task waits for its dependencies, an epic for its children), as the
    /// graph's nodes, each file checked first; and the files met that do
    /// not parse (a cycle through them cannot be seen).
    pub fn wait_reach(&self, starts: &[&str]) -> Result<(Vec<Node>, Vec<BrokenFile>), CacheError> {
        self.reach(starts, |cache, node, queue| {
            queue.extend(node.deps.iter().cloned());
            if node.kind == crate::task::Kind::Epic {
                let children = rows::ids_where(
                    &cache.conn,
                    "SELECT id FROM tasks WHERE parent = ?1",
                    &node.id,
                )
                .map_err(cache.sql())?;
                queue.extend(children);
            }
            Ok(())
        })
    }

    /// `id` and the chain of first parents above it, each file checked first.
    pub fn parent_chain(&self, id: &str) -> Result<Vec<Node>, CacheError> {
        let (nodes, _) = self.reach(&[id], |_, node, queue| {
            queue.extend(node.parent.iter().cloned());
            Ok(())
        })?;
        Ok(nodes)
    }

    /// The nodes met walking from `starts` along `next` (which names the
    /// ids a node leads to), and the files met that do not parse.
    fn reach(
        &self,
        starts: &[&str],
        next: impl Fn(&Cache, &Node, &mut Vec<String>) -> Result<(), CacheError> + Copy,
    ) -> Result<(Vec<Node>, Vec<BrokenFile>), CacheError> {
        let expand = move |cache: &Cache, id: &str, _: Need, queue: &mut Vec<(String, Need)>| {
            if let Some(node) = rows::load_node(&cache.conn, &cache.path, id)? {
                let mut ids = Vec::new();
                next(cache, &node, &mut ids)?;
                queue.extend(ids.into_iter().map(|id| (id, Need::Ancestor)));
            }
            Ok(())
        };
        let starts: Vec<(String, Need)> = starts
            .iter()
            .map(|id| (id.to_string(), Need::Ancestor))
            .collect();
        let met = match self.walk_checked(starts.clone(), expand, true)? {
            Some(met) => met,
            None => {
                self.sync()?;
                self.walk_checked(starts, expand, false)?
                    .expect("a walk that checks nothing always ends")
            }
        };
        let mut nodes = Vec::new();
        for id in met.keys() {
            nodes.extend(rows::load_node(&self.conn, &self.path, id)?);
        }
        nodes.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let broken = self
            .broken()?
            .into_iter()
            .filter(|b| {
                b.path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .is_some_and(|id| met.contains_key(id))
            })
            .collect();
        Ok((nodes, broken))
    }

    /// Walks from `starts`, `expand` naming what each task's answer reads
    /// next, checking each task's file on the way (by stat data, by content
    /// while racy) and recording again the ones that changed, then walking
    /// on from what they name now. `None`, with nothing checked, when the
    /// directory is not as the cache recorded it: then only a check of
    /// every file is exact. Without `check`, after such a check, it only
    /// walks the rows.
    fn walk_checked(
        &self,
        starts: Vec<(String, Need)>,
        expand: impl Fn(&Cache, &str, Need, &mut Vec<(String, Need)>) -> Result<(), CacheError>,
        check: bool,
    ) -> Result<Option<HashMap<String, Need>>, CacheError> {
        if !check {
            let mut met: HashMap<String, Need> = HashMap::new();
            let mut queue = starts;
            while let Some((id, need)) = queue.pop() {
                if met.get(&id).is_some_and(|b| *b >= need) {
                    continue;
                }
                met.insert(id.clone(), need);
                expand(self, &id, need, &mut queue)?;
            }
            return Ok(Some(met));
        }
        let started_ns = scan::now_ns();
        let dir = scan::dir_fingerprint(&self.tasks_dir).map_err(|source| CacheError::Io {
            path: self.tasks_dir.clone(),
            source,
        })?;
        let trusted = self.meta("dir")?;
        if dir.is_none_or(|d| trusted != Some(d.key().to_string())) {
            return Ok(None);
        }
        let Some(racy) = self.racy_files()? else {
            return Ok(None);
        };
        // Racy files first: changed in place, their stat data may not say so.
        let mut stale: Vec<(String, Option<Fingerprint>)> = Vec::new();
        let mut outgrown = false;
        for file in racy.values() {
            let path = self.tasks_dir.join(&file.name);
            match crate::atomic::read_regular(&path, crate::atomic::TASK_FILE_LIMIT) {
                Ok(data) if scan::content_hash(&data) == file.content => {
                    outgrown |= !is_racy(file.newest_ns, started_ns);
                }
                _ => stale.push((file.name.clone(), self.stat_file(&file.name)?)),
            }
        }
        let mut checked: HashMap<String, Need> = HashMap::new();
        let mut queue = starts;
        loop {
            while let Some((id, need)) = queue.pop() {
                let before = checked.get(&id).copied();
                if before.is_some_and(|b| b >= need) {
                    continue;
                }
                checked.insert(id.clone(), need);
                let name = format!("{id}.toml");
                if before.is_none()
                    && !racy.contains_key(&name)
                    && crate::task::id::validate_id(&id).is_ok()
                {
                    let fp = self.stat_file(&name)?;
                    let recorded = rows::recorded(&self.conn, &name).map_err(self.sql())?;
                    if fp.map(|f| f.key()) != recorded.map(|r| r.0) {
                        stale.push((name, fp));
                    }
                }
                expand(self, &id, need, &mut queue)?;
            }
            if stale.is_empty() && !outgrown {
                break;
            }
            let names = std::mem::take(&mut stale);
            self.record_files(&names, started_ns, None)?;
            outgrown = false;
            // What the recorded files name now is walked too.
            for (name, _) in names {
                let id = name.trim_end_matches(".toml").to_string();
                if let Some(need) = checked.get(&id).copied() {
                    checked.insert(id.clone(), Need::File);
                    queue.push((id, need));
                }
            }
            if queue.is_empty() {
                break;
            }
        }
        Ok(Some(checked))
    }

    /// Records a file git-batch has just written (`name` in the tasks
    /// directory), with the readiness it moves; `dir_before` is the
    /// directory's stat data from before the write. When the cache had
    /// recorded the directory as it was then, it records it as it is now:
    /// the write is the one change in between that it knows of.
    pub fn note_written(
        &self,
        name: &str,
        dir_before: Option<Fingerprint>,
    ) -> Result<(), CacheError> {
        let started_ns = scan::now_ns();
        let dir_after =
            scan::dir_fingerprint(&self.tasks_dir).map_err(|source| CacheError::Io {
                path: self.tasks_dir.clone(),
                source,
            })?;
        let fp = self.stat_file(name)?;
        let dir = dir_before.zip(dir_after);
        self.record_files(&[(name.to_string(), fp)], started_ns, dir)
    }

    fn stat_file(&self, name: &str) -> Result<Option<Fingerprint>, CacheError> {
        let path = self.tasks_dir.join(name);
        scan::file_fingerprint(&path).map_err(|source| CacheError::Io { path, source })
    }

    /// The racy files by name; `None` when the stored list does not read.
    fn racy_files(&self) -> Result<Option<HashMap<String, RacyFile>>, CacheError> {
        let Some(text) = self.meta("racy")? else {
            return Ok(Some(HashMap::new()));
        };
        Ok(serde_json::from_str::<Vec<RacyFile>>(&text)
            .ok()
            .map(|files| files.into_iter().map(|f| (f.name.clone(), f)).collect()))
    }

    /// Queues what `id`'s answer reads besides its own file, from its rows.
    fn expand(
        &self,
        id: &str,
        need: Need,
        queue: &mut Vec<(String, Need)>,
    ) -> Result<(), CacheError> {
        if need == Need::File {
            return Ok(());
        }
        let sql = self.sql();
        for dep in
            rows::ids_where(&self.conn, "SELECT dep FROM deps WHERE id = ?1", id).map_err(&sql)?
        {
            queue.push((dep, Need::File));
        }
        for parent in rows::ids_where(&self.conn, "SELECT parent FROM parents WHERE id = ?1", id)
            .map_err(&sql)?
        {
            queue.push((parent, Need::Ancestor));
        }
        if need == Need::Asked {
            for child in rows::ids_where(&self.conn, "SELECT id FROM parents WHERE parent = ?1", id)
                .map_err(&sql)?
            {
                queue.push((child, Need::File));
            }
        }
        Ok(())
    }

    /// Records `files` (name, stat data now) in one transaction: their rows,
    /// the aggregate, the racy list (checking again the racy files that are
    /// old enough now, and dropping them), the readiness they move. With
    /// `dir` (before, after a write of git-batch's own), the directory is
    /// recorded as it is after, when the cache had it as it was before.
    fn record_files(
        &self,
        files: &[(String, Option<Fingerprint>)],
        started_ns: i64,
        dir: Option<(Fingerprint, Fingerprint)>,
    ) -> Result<(), CacheError> {
        let sql = self.sql();
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(&sql)?;
        let meta = |key: &str| -> rusqlite::Result<Option<String>> {
            tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
        };
        let mut aggregate = meta("aggregate")
            .map_err(&sql)?
            .as_deref()
            .and_then(Aggregate::parse);
        let mut racy: Vec<RacyFile> = match meta("racy").map_err(&sql)? {
            None => Vec::new(),
            Some(text) => serde_json::from_str(&text).unwrap_or_default(),
        };
        let was_current = match dir {
            Some((before, _)) => meta("dir").map_err(&sql)? == Some(before.key().to_string()),
            None => false,
        };
        let mut changes = Changes::default();
        let mut fresh_racy = Vec::new();
        for (name, fp) in files {
            let old: Option<Recorded> = rows::recorded(&tx, name).map_err(&sql)?;
            // Checked against the transaction's rows: another process may
            // have recorded the same change meanwhile.
            let in_racy = racy.iter().any(|r| &r.name == name);
            if !in_racy && fp.map(|f| f.key()) == old.map(|o| o.0) {
                continue;
            }
            racy.retain(|r| &r.name != name);
            rows::record_file(
                &tx,
                &self.path,
                &self.tasks_dir,
                name,
                *fp,
                old,
                started_ns,
                &mut fresh_racy,
                &mut changes,
            )?;
            if let Some(a) = aggregate.as_mut() {
                if let Some((key, _)) = old {
                    a.remove(name, key);
                }
                if let Some(fp) = fp
                    && rows::recorded(&tx, name).map_err(&sql)?.is_some()
                {
                    a.add(name, fp.key());
                }
            }
        }
        // Racy files old enough now are trusted once their content is
        // checked again; one changed in place is recorded again.
        let mut kept = Vec::new();
        for file in racy {
            if is_racy(file.newest_ns, started_ns) {
                kept.push(file);
                continue;
            }
            let path = self.tasks_dir.join(&file.name);
            match crate::atomic::read_regular(&path, crate::atomic::TASK_FILE_LIMIT) {
                Ok(data) if scan::content_hash(&data) == file.content => {}
                _ => kept.push(file),
            }
        }
        kept.extend(fresh_racy);
        rows::exec_cached(
            &tx,
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('racy', ?1)",
            [serde_json::to_string(&kept).expect("plain data serializes")],
        )
        .map_err(&sql)?;
        if let Some(a) = aggregate {
            rows::exec_cached(
                &tx,
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('aggregate', ?1)",
                [a.to_string()],
            )
            .map_err(&sql)?;
        }
        if let Some((_, after)) = dir
            && was_current
        {
            rows::exec_cached(
                &tx,
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('dir', ?1)",
                [after.key().to_string()],
            )
            .map_err(&sql)?;
        }
        super::readiness::update(&tx, &self.path, &changes)?;
        tx.commit().map_err(&sql)
    }
}
