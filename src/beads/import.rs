//! `import --beads`: beads JSONL lines to task files, in one commit.

use super::map::{self, Counts, Issue};
use super::{BeadsError, read};
use crate::atomic;
use crate::store::{Cache, Store, scan};
use crate::task::{self, Status, Task};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// How to import.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Tasks that already exist are updated from the file (a newer
    /// snapshot of the same tracker) instead of refused.
    pub update: bool,
    /// Also set `workers.unscoped_in_parallel` in the config, in the same
    /// commit: beads issues have no scope.
    pub unscoped_in_parallel: bool,
}

/// One oddity that was imported anyway.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub id: String,
    pub message: String,
}

/// What `import` mapped and what it kept aside.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub file: String,
    /// Tasks written: `added` plus `updated`.
    pub imported: usize,
    pub added: usize,
    /// With `--update`: existing tasks the file changed, and those it did not.
    pub updated: usize,
    pub unchanged: usize,
    /// Of those added, files an earlier run of this import wrote and did
    /// not commit (killed): taken as they are.
    #[serde(skip_serializing_if = "is_zero")]
    pub resumed: usize,
    pub commit: Option<String>,
    /// Whether this import turned `workers.unscoped_in_parallel` on.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub set_unscoped_in_parallel: bool,
    /// Lines that are not issues (bd 1.x `_schema` header, `_type` records): count per kind.
    pub skipped: BTreeMap<String, usize>,
    #[serde(flatten)]
    pub mapped: Counts,
    /// Fields git-batch has no use for (`assignee`, `owner`, ...), kept in
    /// `[extra]` for export: count per field.
    pub kept_fields: BTreeMap<String, usize>,
    pub warnings: Vec<Warning>,
}

/// What pass one keeps of an issue line: enough to pick one line per id.
struct Head {
    id: String,
    updated_at: Option<String>,
}

/// One issue line mapped, rendered and checked: what is written.
struct Mapped {
    id: String,
    /// The task file's bytes.
    data: Vec<u8>,
    /// With `--update` only: the task, to merge into the file there (boxed:
    /// a `Task` is large, and an import holds 100k of these at once).
    task: Option<Box<Task>>,
}

/// Pass two over a run of lines: the tasks, and what the report says of
/// them, summed as it goes.
#[derive(Default)]
struct Part {
    tasks: Vec<Mapped>,
    warnings: Vec<Warning>,
    counts: Counts,
    kept_fields: BTreeMap<String, usize>,
    errors: Vec<(usize, String)>,
}

/// Reads `path` and imports every issue into `store`, all or nothing.
///
/// The file is read in two passes over its lines, each on every core: the
/// first checks every line and keeps only its id and `updated_at` (which
/// line of an id wins, and which ids exist, must be known before any issue
/// is mapped), the second parses the winning lines again and maps, renders
/// and checks each. No pass holds the parsed objects of the whole file.
pub fn import(store: &Store, path: &Path, opts: &Options) -> Result<ImportReport, BeadsError> {
    let bytes = std::fs::read(path).map_err(|source| BeadsError::Io {
        what: "reading",
        path: path.to_path_buf(),
        source,
    })?;
    let lines_err = |errors| BeadsError::Lines {
        path: path.to_path_buf(),
        errors,
    };
    let read::Lines {
        issues: heads,
        skipped,
        mut errors,
    } = read::read(&bytes, |obj| {
        let issue = Issue::deserialize(obj).map_err(|e| e.to_string())?;
        task::id::validate_id(&issue.id).map_err(|e| format!("bad id: {e}"))?;
        Ok(Head {
            id: issue.id,
            updated_at: issue.updated_at,
        })
    });
    if !errors.is_empty() {
        return Err(lines_err(errors));
    }
    let mut report = ImportReport {
        file: path.display().to_string(),
        skipped,
        ..ImportReport::default()
    };
    if heads.is_empty() {
        report.warnings.push(Warning {
            line: 0,
            id: String::new(),
            message: "the file holds no issues; nothing was imported".into(),
        });
        return Ok(report);
    }
    let unique = newest_per_id(heads, &mut report.warnings);
    let known: HashSet<&str> = unique.iter().map(|(_, h, _)| h.id.as_str()).collect();
    // A task's creation time never changes (and an issue without
    // `created_at` would otherwise get this import's time again; one
    // without `updated_at` too).
    let old_times: HashMap<&str, (String, String)> = if opts.update {
        unique
            .iter()
            .filter_map(|(_, h, _)| {
                let old = store.read_task(&h.id).ok()?;
                Some((h.id.as_str(), (old.created, old.updated)))
            })
            .collect()
    } else {
        HashMap::new()
    };
    let now = crate::time::now_text();
    let parts = crate::parallel::chunks(&unique, |lines| {
        let mut part = Part::default();
        for (line, _, text) in lines {
            map_line(
                *line,
                text,
                &known,
                &now,
                &old_times,
                opts.update,
                &mut part,
            );
        }
        part
    });
    // Each part's tasks stay in their own vector: one vector of them all
    // would hold a second copy of every entry while it is filled.
    let mut prepared = Vec::with_capacity(parts.len());
    for part in parts {
        add_counts(&mut report.mapped, &part.counts);
        for (key, n) in part.kept_fields {
            *report.kept_fields.entry(key).or_default() += n;
        }
        report.warnings.extend(part.warnings);
        errors.extend(part.errors);
        prepared.push(part.tasks);
    }
    if !errors.is_empty() {
        return Err(lines_err(errors));
    }
    drop(unique);
    drop(bytes);
    write_tasks(store, path, prepared, opts, &mut report)?;
    Ok(report)
}

/// Pass two for one line: the issue parsed again, mapped, its `[extra]`
/// kept, rendered as the task file and that file checked, into `part`.
fn map_line(
    line: usize,
    text: &str,
    known: &HashSet<&str>,
    now: &str,
    old_times: &HashMap<&str, (String, String)>,
    update: bool,
    part: &mut Part,
) {
    let parsed =
        serde_json::from_str::<Value>(text).and_then(|raw| Ok((Issue::deserialize(&raw)?, raw)));
    let (issue, raw) = match parsed {
        Ok((issue, Value::Object(raw))) => (issue, raw),
        Ok(_) => return part.errors.push((line, "not a JSON object".into())),
        Err(e) => return part.errors.push((line, e.to_string())),
    };
    let mut messages = Vec::new();
    let mut task = match map::map_issue(
        &issue,
        known,
        now,
        &mut |m| messages.push(m),
        &mut part.counts,
    ) {
        Ok(task) => task,
        Err(e) => return part.errors.push((line, format!("bad id: {e}"))),
    };
    if let Some((created, updated)) = old_times.get(issue.id.as_str()) {
        task.created = created.clone();
        if raw.get("updated_at").is_none_or(Value::is_null) {
            task.updated = updated.clone();
        }
    }
    map::keep_extra(&mut task, &raw);
    for key in task.extra.keys() {
        if key != task::Extra::ORIGINAL && key != task::Extra::MAPPED {
            *part.kept_fields.entry(key.clone()).or_default() += 1;
        }
    }
    part.warnings
        .extend(messages.into_iter().map(|message| Warning {
            line,
            id: issue.id.clone(),
            message,
        }));
    let data = task::render_task(&task);
    // Whatever the mapping made must read back as a valid task file.
    if let Err(e) = task::parse_task(&data) {
        part.errors
            .push((line, format!("maps to an invalid task: {e}")));
    }
    part.tasks.push(Mapped {
        id: task.id.to_string(),
        data: data.into_bytes(),
        task: update.then(|| Box::new(task)),
    });
}

/// Adds one part's counts to the report's.
fn add_counts(total: &mut Counts, one: &Counts) {
    for (k, n) in &one.statuses {
        *total.statuses.entry(k.clone()).or_default() += n;
    }
    for (k, n) in &one.links {
        *total.links.entry(k.clone()).or_default() += n;
    }
    total.epics += one.epics;
    total.parents += one.parents;
    total.deps += one.deps;
    total.notes += one.notes;
    total.external_blockers += one.external_blockers;
    total.missing_blockers += one.missing_blockers;
}

/// One issue per id: of copies with the same id (a JSONL merged by hand or
/// by git), the one updated last wins, the later line on a tie; a warning
/// names both lines.
fn newest_per_id<T>(
    issues: Vec<(usize, T, Head)>,
    warnings: &mut Vec<Warning>,
) -> Vec<(usize, Head, T)> {
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut unique: Vec<(usize, Head, T)> = Vec::with_capacity(issues.len());
    for (line, text, head) in issues {
        let entry = (line, head, text);
        let Some(&at) = by_id.get(&entry.1.id) else {
            by_id.insert(entry.1.id.clone(), unique.len());
            unique.push(entry);
            continue;
        };
        let kept = &unique[at];
        let when = |h: &Head| map::instant(h.updated_at.as_deref());
        let (old_line, new_line) = (kept.0, entry.0);
        let newer = when(&entry.1) >= when(&kept.1);
        let (winner, why) = if newer {
            let tie = when(&entry.1) == when(&kept.1);
            (
                new_line,
                if tie {
                    "same updated_at, the later line"
                } else {
                    "newer updated_at"
                },
            )
        } else {
            (old_line, "newer updated_at")
        };
        warnings.push(Warning {
            line: new_line,
            id: entry.1.id.clone(),
            message: format!(
                "duplicate id on lines {old_line} and {new_line}: line {winner} wins ({why})"
            ),
        });
        if newer {
            unique[at] = entry;
        }
    }
    unique
}

/// Writes the new task files and, with `--update`, the changed existing
/// ones, then commits them all in one commit.
fn write_tasks(
    store: &Store,
    path: &Path,
    tasks: Vec<Vec<Mapped>>,
    opts: &Options,
    report: &mut ImportReport,
) -> Result<(), BeadsError> {
    let tasks_dir = store.tasks_dir();
    // A file this import would write, byte for byte, that no commit has:
    // what an import of the same file that was killed before its commit
    // left. Running it again finishes that import instead of refusing it.
    let head_tree = store.repo.head().ok().and_then(|h| h.peel_to_tree().ok());
    let committed = |name: &str| {
        head_tree.as_ref().is_some_and(|t| {
            t.get_path(Path::new(&format!(
                "{}/tasks/{name}",
                crate::store::BATCH_DIR
            )))
            .is_ok()
        })
    };
    let mut added: Vec<(String, Vec<u8>)> = Vec::new();
    let mut updated: Vec<(String, Vec<u8>)> = Vec::new();
    let mut existing = Vec::new();
    let mut paths = Vec::new();
    for Mapped { id, data, task, .. } in tasks.into_iter().flatten() {
        let name = format!("{id}.toml");
        let file = store.task_path(&id);
        match std::fs::read(&file) {
            Ok(on_disk) if on_disk == data && !committed(&name) => {
                report.resumed += 1;
                report.added += 1;
                paths.push(Store::task_rel(&id));
            }
            Ok(_) if !opts.update => existing.push(id),
            Ok(on_disk) => {
                let old = String::from_utf8(on_disk)
                    .ok()
                    .and_then(|text| task::parse_task(&text).ok());
                let (Some(old), Some(t)) = (old, task) else {
                    existing.push(id);
                    continue;
                };
                let new = updated_task(&old, *t);
                if new == old {
                    report.unchanged += 1;
                    continue;
                }
                paths.push(Store::task_rel(&new.id));
                updated.push((name, task::render_task(&new).into_bytes()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                paths.push(Store::task_rel(&id));
                added.push((name, data));
            }
            Err(_) => existing.push(id),
        }
    }
    if !existing.is_empty() {
        return Err(BeadsError::Exists { ids: existing });
    }
    report.added += added.len();
    report.updated = updated.len();
    report.imported = report.added + report.updated;
    let config = store.batch_dir().join("config.toml");
    let config_text = (opts.unscoped_in_parallel && !store.config.workers.unscoped_in_parallel)
        .then(|| std::fs::read_to_string(&config).unwrap_or_default())
        .map(|text| crate::store::Config::with_unscoped_in_parallel(&text));
    if config_text.is_some() {
        paths.push(format!("{}/config.toml", crate::store::BATCH_DIR));
        report.set_unscoped_in_parallel = true;
    }
    if paths.is_empty() {
        return Ok(());
    }
    store.check_can_commit()?;
    let io = |what| {
        let dir = tasks_dir.clone();
        move |source| BeadsError::Io {
            what,
            path: dir,
            source,
        }
    };
    std::fs::create_dir_all(&tasks_dir).map_err(io("creating"))?;
    atomic::create_many_atomic(&tasks_dir, &added).map_err(io("writing tasks into"))?;
    for (name, data) in &updated {
        atomic::write_atomic(&tasks_dir.join(name), data).map_err(io("writing tasks into"))?;
    }
    if let Some(text) = &config_text {
        atomic::write_atomic(&config, text.as_bytes()).map_err(|source| BeadsError::Io {
            what: "writing",
            path: config.clone(),
            source,
        })?;
    }
    debug_assert!(added.iter().all(|(n, _)| scan::is_task_file(n)));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let message = if report.updated > 0 {
        format!(
            "batch: import from beads ({name}): {} added, {} updated",
            report.added, report.updated
        )
    } else {
        format!("batch: import {} tasks from beads ({name})", report.added)
    };
    // The bytes are on disk now: the commit and the cache read them back
    // from there, and the import's peak memory is not theirs plus these.
    let written = added.len() + updated.len();
    drop((added, updated));
    // The first query after an import would otherwise read and parse every
    // file it wrote. The cache is derived from the files alone, all written
    // by now, so it is built on a second thread while the commit runs (each
    // is mostly CPU of its own: compression and hashing, TOML and SQLite).
    // Only a cache: when this fails the import still stands (a warning says
    // so), and the next command builds it; a commit that fails leaves the
    // files, and a cache that matches them, for the import run again.
    let (db, dir) = (store.cache_path(), tasks_dir.clone());
    let (commit, cache) = std::thread::scope(|s| {
        let cache = s.spawn(move || {
            // A file changed within the cache's clock margin (100 ms) of
            // its scan is racy, re-read by the next command: the scan waits
            // that out (the commit takes longer) when there are many.
            if written >= SETTLE_FROM {
                std::thread::sleep(SETTLE);
            }
            Cache::open_synced(&db, &dir).map(drop)
        });
        let commit = store.commit(&paths, &message);
        let cache = cache
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (commit, cache)
    });
    report.commit = commit?;
    if let Err(e) = cache {
        let mut why = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            why.push_str(&format!(": {c}"));
            cause = c.source();
        }
        report.warnings.push(Warning {
            line: 0,
            id: String::new(),
            message: format!("the query cache was not built ({why}); the next command builds it"),
        });
    }
    Ok(())
}

/// From this many files written on, the cache's scan waits [`SETTLE`].
const SETTLE_FROM: usize = 1000;
/// Longer than the cache's clock margin for racy files (100 ms).
const SETTLE: std::time::Duration = std::time::Duration::from_millis(150);

/// An existing task updated from a newer beads snapshot: the file's
/// fields win, but what only git-batch knows (the scope, the batch, the
/// landing, a failure, notes added here) is kept, and so is a status
/// git-batch moved the task to (claimed, done, failed, escalated, landed)
/// while beads still has it open.
fn updated_task(old: &Task, mut new: Task) -> Task {
    new.scope = old.scope.clone();
    new.batch = old.batch.clone();
    new.landed = old.landed.clone();
    new.failure = old.failure.clone();
    let ours = matches!(
        old.status,
        Status::InProgress | Status::Done | Status::Failed | Status::Escalated
    ) || old.landed.is_some();
    if ours && new.status == Status::Open {
        new.status = old.status;
        new.closed_reason = old.closed_reason.clone();
    }
    for n in &old.notes {
        if !new.notes.contains(n) {
            new.notes.push(n.clone());
        }
    }
    new.notes
        .sort_by_key(|n| crate::time::parse(&n.at).map(|t| t.timestamp_nanos_opt()));
    if crate::time::parse(&new.updated) < crate::time::parse(&old.updated) {
        new.updated = old.updated.clone();
    }
    new
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
