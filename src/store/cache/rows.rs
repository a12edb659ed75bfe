//! The rows one task file makes (`files`, `tasks`, `deps`, `parents`,
//! `labels`, `broken`) and how one file's change is recorded: the same step
//! for a rebuild over every file and for a command that checks only the
//! files it reads.

use super::{CacheError, RacyFile, is_racy};
use crate::graph::Node;
use crate::store::scan::{self, Fingerprint};
use crate::task::{self, Kind, Status, Task};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// What recording files changed, for the readiness that depends on them.
#[derive(Debug, Default)]
pub(super) struct Changes {
    /// Tasks whose rows were replaced, added or removed (a file that became
    /// unreadable, or readable again, too).
    pub ids: HashSet<String>,
    /// Their parents before the change (an epic counts its open children).
    pub old_parents: HashSet<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// What the `files` table holds for one file: its stat key and content hash.
pub(super) type Recorded = (i64, i64);

pub(super) fn recorded(conn: &Connection, name: &str) -> rusqlite::Result<Option<Recorded>> {
    conn.prepare_cached("SELECT fp, content FROM files WHERE name = ?1")?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// Records file `name` as it is now: `fp` from its stat (`None`: it is
/// gone), `old` what was recorded before. Reads the file unless it is gone;
/// a file whose content is unchanged only has its stat key updated. A file
/// too new to be trusted by its stat data goes into `racy`.
#[allow(clippy::too_many_arguments)]
pub(super) fn record_file(
    tx: &rusqlite::Transaction,
    db: &Path,
    tasks_dir: &Path,
    name: &str,
    fp: Option<Fingerprint>,
    old: Option<Recorded>,
    started_ns: i64,
    racy: &mut Vec<RacyFile>,
    changes: &mut Changes,
) -> Result<(), CacheError> {
    let sql = |source| CacheError::Sqlite {
        path: db.to_path_buf(),
        source,
    };
    let stem = &name[..name.len() - ".toml".len()];
    let Some(fp) = fp else {
        if old.is_some() {
            forget_file(tx, name, changes).map_err(sql)?;
        }
        return Ok(());
    };
    let full = tasks_dir.join(name);
    // A link or an oversized file is a broken task file, not a reason to
    // stop every command.
    let (data, refused) = match crate::atomic::read_regular(&full, crate::atomic::TASK_FILE_LIMIT) {
        Ok(data) => (data, None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if old.is_some() {
                forget_file(tx, name, changes).map_err(sql)?;
            }
            return Ok(());
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => (Vec::new(), Some(e.to_string())),
        Err(source) => return Err(CacheError::Io { path: full, source }),
    };
    let content = scan::content_hash(&data);
    let key = fp.key();
    if is_racy(fp.newest_ns(), started_ns) {
        racy.push(RacyFile {
            name: name.to_string(),
            content,
            newest_ns: fp.newest_ns(),
        });
    }
    if matches!(old, Some((_, c)) if c == content) {
        // Same bytes (a touch, or a racy re-check): only the stat moved.
        exec_cached(
            tx,
            "UPDATE files SET fp = ?2 WHERE name = ?1",
            params![name, key],
        )
        .map_err(sql)?;
        return Ok(());
    }
    exec_cached(
        tx,
        "INSERT OR REPLACE INTO files(name, fp, content) VALUES (?1, ?2, ?3)",
        params![name, key, content],
    )
    .map_err(sql)?;
    if old.is_some() {
        forget_task(tx, stem, changes).map_err(sql)?;
        exec_cached(tx, "DELETE FROM broken WHERE name = ?1", [name]).map_err(sql)?;
    }
    changes.ids.insert(stem.to_string());
    let parsed = match refused {
        Some(why) => Err(task::ParseError {
            line: 1,
            message: why,
        }),
        None => parse_file(&data, stem),
    };
    match parsed {
        Ok(task) => insert_task(tx, &task).map_err(sql)?,
        Err(err) => {
            exec_cached(
                tx,
                "INSERT INTO broken(name, line, message) VALUES (?1, ?2, ?3)",
                params![name, err.line as i64, err.message],
            )
            .map_err(sql)?;
        }
    }
    Ok(())
}

/// Drops every row of a file that is gone.
pub(super) fn forget_file(
    tx: &rusqlite::Transaction,
    name: &str,
    changes: &mut Changes,
) -> rusqlite::Result<()> {
    let stem = &name[..name.len() - ".toml".len()];
    exec_cached(tx, "DELETE FROM files WHERE name = ?1", [name])?;
    exec_cached(tx, "DELETE FROM broken WHERE name = ?1", [name])?;
    forget_task(tx, stem, changes)?;
    changes.ids.insert(stem.to_string());
    Ok(())
}

/// Drops a task's rows, noting its parents for the readiness update.
fn forget_task(
    tx: &rusqlite::Transaction,
    id: &str,
    changes: &mut Changes,
) -> rusqlite::Result<()> {
    {
        let mut stmt = tx.prepare_cached("SELECT parent FROM parents WHERE id = ?1")?;
        let rows = stmt.query_map([id], |r| r.get::<_, String>(0))?;
        for parent in rows {
            changes.old_parents.insert(parent?);
        }
    }
    exec_cached(tx, "DELETE FROM tasks WHERE id = ?1", [id])?;
    exec_cached(tx, "DELETE FROM deps WHERE id = ?1", [id])?;
    exec_cached(tx, "DELETE FROM parents WHERE id = ?1", [id])?;
    exec_cached(tx, "DELETE FROM labels WHERE id = ?1", [id])?;
    Ok(())
}

/// Parses a task file's bytes and checks that its id matches its name.
pub fn parse_file(data: &[u8], stem: &str) -> Result<Task, task::ParseError> {
    let text = std::str::from_utf8(data).map_err(|e| task::ParseError {
        line: 1 + data[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        message: "not valid UTF-8".into(),
    })?;
    let task = task::parse_task(text)?;
    if task.id != stem {
        return Err(task::ParseError {
            line: 1 + text
                .lines()
                .position(|l| l.trim_start().starts_with("id"))
                .unwrap_or(0),
            message: format!(
                "id '{}' does not match the file name '{stem}.toml'",
                task.id
            ),
        });
    }
    Ok(task)
}

/// Runs one statement through the statement cache: a rebuild runs the same
/// few statements for every file, and parsing SQL each time shows up.
pub(super) fn exec_cached(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

fn insert_task(tx: &rusqlite::Transaction, task: &Task) -> rusqlite::Result<()> {
    let json = serde_json::to_string(task).expect("a task always serializes");
    let node = Node::of(task);
    // Ordered as instants, not as text: `...00.5Z` is after `...00Z`.
    let created = crate::time::parse(&task.created)
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or(i64::MAX);
    tx.prepare_cached(
        "INSERT INTO tasks(id, status, priority, kind, parent, other_parents, created,
                           held, template, pinned, non_work, defer_until, json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        task.id.as_str(),
        task.status.as_str(),
        task.priority,
        task.kind.as_str(),
        task.parent.as_ref().map(|p| p.as_str()),
        serde_json::to_string(&node.other_parents).expect("ids serialize"),
        created,
        node.held,
        node.template,
        node.pinned,
        task.is_non_work(),
        task.deferred_until().map(|t| t.timestamp()),
        json
    ])?;
    let mut dep = tx.prepare_cached("INSERT OR IGNORE INTO deps(id, dep) VALUES (?1, ?2)")?;
    for d in &node.deps {
        dep.execute(params![task.id.as_str(), d.as_str()])?;
    }
    let mut parent =
        tx.prepare_cached("INSERT OR IGNORE INTO parents(id, parent) VALUES (?1, ?2)")?;
    for p in node.parents() {
        parent.execute(params![task.id.as_str(), p])?;
    }
    let mut label = tx.prepare_cached("INSERT OR IGNORE INTO labels(id, label) VALUES (?1, ?2)")?;
    for l in &task.labels {
        label.execute(params![task.id.as_str(), l])?;
    }
    Ok(())
}

/// The columns of `tasks` a [`Node`] is made of, for `SELECT`s.
const NODE_COLUMNS: &str = "id, status, kind, parent, other_parents, held, template, pinned";

type NodeRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    bool,
    bool,
    bool,
);

/// A node from a row of [`NODE_COLUMNS`] and its dependencies.
fn node_of(row: NodeRow, deps: Vec<String>, path: &Path) -> Result<Node, CacheError> {
    let (id, status, kind, parent, other_parents, held, template, pinned) = row;
    let bad = |column, message: String| CacheError::BadRow {
        path: path.to_path_buf(),
        id: id.clone(),
        column,
        source: message.into(),
    };
    Ok(Node {
        deps,
        status: status.parse::<Status>().map_err(|m| bad("status", m))?,
        kind: kind.parse::<Kind>().map_err(|m| bad("kind", m))?,
        parent,
        other_parents: serde_json::from_str(&other_parents)
            .map_err(|e| bad("other_parents", e.to_string()))?,
        held,
        template,
        pinned,
        id,
    })
}

/// The graph of every stored task; `path` names the cache in errors.
pub(super) fn load_nodes(conn: &Connection, path: &Path) -> Result<Vec<Node>, CacheError> {
    let sql = |source| CacheError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let mut deps: HashMap<String, Vec<String>> = HashMap::new();
    let mut stmt = conn
        .prepare_cached("SELECT id, dep FROM deps ORDER BY id, dep")
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(sql)?;
    for row in rows {
        let (id, dep) = row.map_err(sql)?;
        deps.entry(id).or_default().push(dep);
    }
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {NODE_COLUMNS} FROM tasks ORDER BY id"))
        .map_err(sql)?;
    let rows = stmt.query_map([], |r| NodeRow::try_from(r)).map_err(sql)?;
    let mut nodes = Vec::new();
    for row in rows {
        let row = row.map_err(sql)?;
        let own = deps.remove(&row.0).unwrap_or_default();
        nodes.push(node_of(row, own, path)?);
    }
    Ok(nodes)
}

/// One stored task's node (`None`: no readable task has that id).
pub(super) fn load_node(
    conn: &Connection,
    path: &Path,
    id: &str,
) -> Result<Option<Node>, CacheError> {
    let sql = |source| CacheError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let row = conn
        .prepare_cached(&format!("SELECT {NODE_COLUMNS} FROM tasks WHERE id = ?1"))
        .map_err(sql)?
        .query_row([id], |r| NodeRow::try_from(r))
        .optional()
        .map_err(sql)?;
    let Some(row) = row else { return Ok(None) };
    let deps =
        ids_where(conn, "SELECT dep FROM deps WHERE id = ?1 ORDER BY dep", id).map_err(sql)?;
    node_of(row, deps, path).map(Some)
}

/// The ids one statement with one parameter returns.
pub(super) fn ids_where(conn: &Connection, sql: &str, id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([id], |r| r.get::<_, String>(0))?;
    rows.collect()
}

/// Ids whose files exist but do not parse.
pub(super) fn unreadable(conn: &Connection) -> rusqlite::Result<HashSet<String>> {
    let mut stmt = conn.prepare_cached("SELECT name FROM broken")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.map(|n| n.map(|n| n.trim_end_matches(".toml").to_string()))
        .collect()
}
