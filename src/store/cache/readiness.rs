//! The stored readiness (`tasks.ready`, `tasks.blocked_by`), brought up to
//! date after files changed: for the tasks the change can reach, not for
//! the whole graph, unless that reach is a large part of it.
//!
//! What a task's readiness reads (see [`crate::graph`]): the status of its
//! dependencies, the chain of its parents and their dependencies, and, for
//! an epic, its children. So a change to task `c` can change the readiness
//! of `c` itself, of the tasks that depend on `c` (their blockers), of the
//! descendants of both (blocking flows down from a parent) and of the
//! parents `c` had or has (an epic counts its open children); nothing else.
//! Those are recomputed with [`graph::analyze`] over a subgraph that holds
//! every node their answer reads, so the answer is the one the whole graph
//! would give.

use super::CacheError;
use super::rows::{self, Changes};
use crate::graph::{self, Node};
use crate::task::Kind;
use rusqlite::params;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Past this many tasks to recompute, the whole graph is cheaper than the
/// lookups that pick them out (one lookup costs about what analysing 20
/// tasks of the whole graph does).
const MAX_AFFECTED: usize = 5000;

/// Brings the stored readiness up to date after `changes`.
pub(super) fn update(
    tx: &rusqlite::Transaction,
    path: &Path,
    changes: &Changes,
) -> Result<(), CacheError> {
    if changes.is_empty() {
        return Ok(());
    }
    match affected(tx, path, changes, MAX_AFFECTED)? {
        Some(ids) => recompute_some(tx, path, &ids),
        None => recompute_all(tx, path),
    }
}

fn sql_error(path: &Path) -> impl Fn(rusqlite::Error) -> CacheError + '_ {
    |source| CacheError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// The tasks whose readiness `changes` can change; `None` past `limit`.
fn affected(
    tx: &rusqlite::Transaction,
    path: &Path,
    changes: &Changes,
    limit: usize,
) -> Result<Option<HashSet<String>>, CacheError> {
    let sql = sql_error(path);
    if changes.ids.len() > limit {
        return Ok(None);
    }
    // The changed tasks and their dependents: their own blockers moved.
    let mut heads: HashSet<String> = changes.ids.clone();
    for id in &changes.ids {
        heads.extend(rows::ids_where(tx, "SELECT id FROM deps WHERE dep = ?1", id).map_err(&sql)?);
    }
    // Their descendants inherit what they pass on.
    let mut out = heads.clone();
    let mut stack: Vec<String> = heads.into_iter().collect();
    while let Some(id) = stack.pop() {
        if out.len() > limit {
            return Ok(None);
        }
        for child in
            rows::ids_where(tx, "SELECT id FROM parents WHERE parent = ?1", &id).map_err(&sql)?
        {
            if out.insert(child.clone()) {
                stack.push(child);
            }
        }
    }
    // The parents, before and after: an epic counts its open children.
    out.extend(changes.old_parents.iter().cloned());
    for id in &changes.ids {
        out.extend(
            rows::ids_where(tx, "SELECT parent FROM parents WHERE id = ?1", id).map_err(&sql)?,
        );
    }
    Ok((out.len() <= limit).then_some(out))
}

/// Recomputes the readiness of `ids` from the subgraph their answer reads:
/// themselves, every ancestor (through every parent), the dependencies of
/// all of those, and the children of the epics among `ids`.
fn recompute_some(
    tx: &rusqlite::Transaction,
    path: &Path,
    ids: &HashSet<String>,
) -> Result<(), CacheError> {
    let sql = sql_error(path);
    let mut world: HashMap<String, Option<Node>> = HashMap::new();
    let load = |id: &str, world: &mut HashMap<String, Option<Node>>| -> Result<(), CacheError> {
        if !world.contains_key(id) {
            let node = rows::load_node(tx, path, id)?;
            world.insert(id.to_string(), node);
        }
        Ok(())
    };
    // Ancestors, transitively; a parent loop ends where it meets itself.
    let mut stack: Vec<String> = ids.iter().cloned().collect();
    let mut lineage: HashSet<String> = ids.clone();
    while let Some(id) = stack.pop() {
        load(&id, &mut world)?;
        if let Some(Some(node)) = world.get(&id) {
            for parent in node.parents() {
                if lineage.insert(parent.to_string()) {
                    stack.push(parent.to_string());
                }
            }
        }
    }
    for id in &lineage {
        let deps = match world.get(id) {
            Some(Some(node)) => node.deps.clone(),
            _ => Vec::new(),
        };
        for dep in deps {
            load(&dep, &mut world)?;
        }
    }
    for id in ids {
        if matches!(world.get(id), Some(Some(n)) if n.kind == Kind::Epic) {
            for child in
                rows::ids_where(tx, "SELECT id FROM parents WHERE parent = ?1", id).map_err(&sql)?
            {
                load(&child, &mut world)?;
            }
        }
    }
    let mut nodes: Vec<Node> = world.into_values().flatten().collect();
    // Where a chain of first parents loops, the blocker the graph names
    // depends on where the whole graph's walk entered the loop: only the
    // whole graph gives the same answer.
    if has_parent_loop(&nodes) {
        return recompute_all(tx, path);
    }
    nodes.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let unreadable = rows::unreadable(tx).map_err(&sql)?;
    let analysis = graph::analyze(&nodes, &unreadable);
    let mut update = tx
        .prepare_cached(
            "UPDATE tasks SET ready = ?2, blocked_by = ?3
             WHERE id = ?1 AND (ready != ?2 OR blocked_by != ?3)",
        )
        .map_err(&sql)?;
    for (node, a) in nodes.iter().zip(analysis) {
        if ids.contains(&node.id) {
            let blocked_by = serde_json::to_string(&a.blockers).expect("blockers serialize");
            update
                .execute(params![node.id, a.ready, blocked_by])
                .map_err(&sql)?;
        }
    }
    Ok(())
}

/// Whether following first parents from some node comes back to a node
/// already passed.
fn has_parent_loop(nodes: &[Node]) -> bool {
    let parent: HashMap<&str, &str> = nodes
        .iter()
        .filter_map(|n| Some((n.id.as_str(), n.parent.as_deref()?)))
        .collect();
    let mut clear: HashSet<&str> = HashSet::new();
    for n in nodes {
        let mut on_chain = HashSet::new();
        let mut cur = n.id.as_str();
        loop {
            if clear.contains(cur) {
                break;
            }
            if !on_chain.insert(cur) {
                return true;
            }
            match parent.get(cur) {
                Some(p) => cur = p,
                None => break,
            }
        }
        clear.extend(on_chain);
    }
    false
}

/// Recomputes the readiness of every task.
pub(super) fn recompute_all(tx: &rusqlite::Transaction, path: &Path) -> Result<(), CacheError> {
    let sql = sql_error(path);
    let nodes = rows::load_nodes(tx, path)?;
    let unreadable = rows::unreadable(tx).map_err(&sql)?;
    let old: HashMap<String, (bool, String)> = {
        let mut stmt = tx
            .prepare("SELECT id, ready, blocked_by FROM tasks")
            .map_err(&sql)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
            .map_err(&sql)?;
        rows.collect::<Result<_, _>>().map_err(&sql)?
    };
    let analysis = graph::analyze(&nodes, &unreadable);
    let mut update = tx
        .prepare_cached("UPDATE tasks SET ready = ?2, blocked_by = ?3 WHERE id = ?1")
        .map_err(&sql)?;
    for (node, a) in nodes.iter().zip(analysis) {
        let blocked_by = serde_json::to_string(&a.blockers).expect("blockers serialize");
        if old.get(&node.id) != Some(&(a.ready, blocked_by.clone())) {
            update
                .execute(params![node.id, a.ready, blocked_by])
                .map_err(&sql)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The readiness kept up to date change by change must be the one a
    //! rebuild from nothing computes, for any graph and any change: random
    //! graphs (cycles, unknown and broken ids, epics, several parents),
    //! random edits, compared row by row with a fresh cache.

    use super::super::Cache;
    use crate::store::scan;
    use crate::task::{Kind, Status, Task, TaskId};
    use std::path::Path;

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n
        }
    }

    const TASKS: u64 = 30;

    fn random_task(rng: &mut Rng, i: u64) -> Task {
        random_task_among(rng, i, TASKS)
    }

    /// A random task `bt-<i>` in a tracker of `tasks` tasks.
    fn random_task_among(rng: &mut Rng, i: u64, tasks: u64) -> Task {
        let id = |n: u64| TaskId::parse(&format!("bt-{n}")).unwrap();
        let mut task = Task::new(id(i), format!("task {i}"), "2026-01-01T00:00:00Z", "t");
        task.status = [
            Status::Open,
            Status::Open,
            Status::Closed,
            Status::InProgress,
            Status::Deferred,
            Status::Failed,
        ][rng.below(6) as usize];
        task.kind = if rng.below(4) == 0 {
            Kind::Epic
        } else {
            Kind::Task
        };
        // Ids up to tasks + 3 name tasks that may not exist.
        if rng.below(2) == 0 {
            task.parent = Some(id(rng.below(tasks + 3)));
        }
        if rng.below(8) == 0 {
            task.other_parents.push(id(rng.below(tasks + 3)));
        }
        for _ in 0..rng.below(3) {
            let dep = id(rng.below(tasks + 3));
            if !task.deps.contains(&dep) {
                task.deps.push(dep);
            }
        }
        task.template = rng.below(12) == 0;
        task
    }

    fn write(dir: &Path, rng: &mut Rng, i: u64) {
        let text = if rng.below(10) == 0 {
            "not = [a task".to_string()
        } else {
            crate::task::render_task(&random_task(rng, i))
        };
        std::fs::write(dir.join(format!("bt-{i}.toml")), text).unwrap();
    }

    fn readiness(cache: &Cache) -> Vec<(String, bool, String)> {
        let mut stmt = cache
            .conn
            .prepare("SELECT id, ready, blocked_by FROM tasks ORDER BY id")
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        rows.map(Result::unwrap).collect()
    }

    fn from_scratch(root: &Path, tasks: &Path) -> Vec<(String, bool, String)> {
        let db = root.join(format!("fresh-{}.db", scan::now_ns()));
        let (cache, _) = Cache::open_synced(&db, tasks).unwrap();
        readiness(&cache)
    }

    /// Makes the cache trust the directory's stat data, as it does once a
    /// scan began the clock's margin after the directory last changed, so
    /// that point checks and recorded writes take their own path.
    fn trust_dir(cache: &Cache) {
        if cache.meta("dir").unwrap().is_none() {
            std::thread::sleep(std::time::Duration::from_millis(150));
            cache.sync().unwrap();
        }
        assert!(
            cache.meta("dir").unwrap().is_some(),
            "the directory is trusted"
        );
    }

    #[test]
    fn readiness_kept_up_to_date_is_the_whole_graphs() {
        for seed in 0..12u64 {
            let mut rng = Rng(seed);
            let root = tempfile::tempdir().unwrap();
            let tasks = root.path().join("tasks");
            std::fs::create_dir_all(&tasks).unwrap();
            for i in 0..TASKS {
                write(&tasks, &mut rng, i);
            }
            let (cache, _) = Cache::open_synced(&root.path().join("c.db"), &tasks).unwrap();
            for step in 0..12 {
                let what = rng.below(4);
                let i = rng.below(TASKS + 2);
                let path = tasks.join(format!("bt-{i}.toml"));
                match what {
                    // Edited in place, seen by a whole check.
                    0 => {
                        write(&tasks, &mut rng, i);
                        cache.sync().unwrap();
                    }
                    // Written as git-batch writes, and told.
                    1 => {
                        trust_dir(&cache);
                        let before = scan::dir_fingerprint(&tasks).unwrap();
                        let text = crate::task::render_task(&random_task(&mut rng, i));
                        crate::atomic::write_atomic(&path, text.as_bytes()).unwrap();
                        cache.note_written(&format!("bt-{i}.toml"), before).unwrap();
                        assert!(cache.meta("dir").unwrap().is_some(), "still trusted");
                    }
                    // Removed, seen by a whole check.
                    2 => {
                        let _ = std::fs::remove_file(&path);
                        cache.sync().unwrap();
                    }
                    // Edited in place, seen by a check of every task's files.
                    _ => {
                        trust_dir(&cache);
                        write(&tasks, &mut rng, i);
                        let ids: Vec<String> = (0..TASKS + 3).map(|n| format!("bt-{n}")).collect();
                        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                        cache.sync_about(&ids).unwrap();
                    }
                }
                assert_eq!(
                    readiness(&cache),
                    from_scratch(root.path(), &tasks),
                    "seed {seed}, step {step} (change {what} of bt-{i})"
                );
            }
        }
    }

    /// Every row of every table and the schema's indexes, as text.
    fn all_rows(cache: &Cache) -> Vec<String> {
        let mut out = Vec::new();
        for (table, order) in [
            ("tasks", "id"),
            ("deps", "id, dep"),
            ("parents", "id, parent"),
            ("labels", "id, label"),
            ("files", "name"),
            ("broken", "name"),
        ] {
            let mut stmt = cache
                .conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
                .unwrap();
            let columns = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    let mut row = table.to_string();
                    for c in 0..columns {
                        let value: rusqlite::types::Value = r.get(c)?;
                        row.push_str(&format!(" {value:?}"));
                    }
                    Ok(row)
                })
                .unwrap();
            out.extend(rows.map(Result::unwrap));
        }
        let mut stmt = cache
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name")
            .unwrap();
        let names = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        out.extend(names.map(|n| format!("index {}", n.unwrap())));
        out
    }

    /// The first row where two dumps differ (a whole dump is too long to
    /// read in a failure).
    fn assert_same_rows(kept: &[String], rebuilt: &[String]) {
        let at = kept.iter().zip(rebuilt).position(|(a, b)| a != b);
        assert!(
            at.is_none() && kept.len() == rebuilt.len(),
            "kept up to date: {:?}; rebuilt: {:?} ({} rows against {})",
            at.map(|i| &kept[i]),
            at.map(|i| &rebuilt[i]),
            kept.len(),
            rebuilt.len()
        );
    }

    /// A checkout that rewrites most task files takes the bulk path (the
    /// secondary indexes dropped, readiness recomputed once, the indexes
    /// made again): its rows must be those the same changes made a few at
    /// a time (the incremental path, independent of the bulk one) and a
    /// rebuild make, indexes included.
    #[test]
    fn a_checkout_of_most_files_leaves_the_rows_a_rebuild_makes() {
        const MANY: u64 = 1300;
        let mut rng = Rng(7);
        let root = tempfile::tempdir().unwrap();
        let tasks = root.path().join("tasks");
        std::fs::create_dir_all(&tasks).unwrap();
        let write_among = |rng: &mut Rng, i: u64| {
            let text = if rng.below(50) == 0 {
                "not = [a task".to_string()
            } else {
                crate::task::render_task(&random_task_among(rng, i, MANY))
            };
            std::fs::write(tasks.join(format!("bt-{i}.toml")), text).unwrap();
        };
        for i in 0..MANY {
            write_among(&mut rng, i);
        }
        let (at_once, _) = Cache::open_synced(&root.path().join("a.db"), &tasks).unwrap();
        let (step_by_step, _) = Cache::open_synced(&root.path().join("s.db"), &tasks).unwrap();
        // 1200 rewritten, 40 removed, 30 added, in steps of under
        // BULK_FILES for one cache; the other sees them all at once.
        for step in 0..6 {
            for i in step * 200..(step + 1) * 200 {
                write_among(&mut rng, i);
            }
            step_by_step.sync().unwrap();
        }
        for i in 1200..1240 {
            std::fs::remove_file(tasks.join(format!("bt-{i}.toml"))).unwrap();
        }
        for i in MANY..MANY + 30 {
            write_among(&mut rng, i);
        }
        step_by_step.sync().unwrap();
        at_once.sync().unwrap();
        let kept = all_rows(&step_by_step);
        assert_same_rows(&all_rows(&at_once), &kept);
        let (fresh, _) = Cache::open_synced(&root.path().join("f.db"), &tasks).unwrap();
        assert_same_rows(&all_rows(&fresh), &kept);
        // And a small change after it goes the incremental way, as usual.
        write_among(&mut rng, 5);
        at_once.sync().unwrap();
        step_by_step.sync().unwrap();
        assert_same_rows(&all_rows(&at_once), &all_rows(&step_by_step));
    }
}
