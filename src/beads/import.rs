//! `import --beads`: beads JSONL lines to task files, in one commit.

use super::map::{self, Counts, Issue};
use super::{BeadsError, read};
use crate::atomic;
use crate::store::{Store, scan};
use crate::task::{self, Status, Task};
use serde::Serialize;
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

/// Reads `path` and imports every issue into `store`, all or nothing.
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
        issues: objects,
        skipped,
        mut errors,
    } = read::read(&bytes);
    let mut issues: Vec<(usize, Issue, serde_json::Map<String, serde_json::Value>)> = Vec::new();
    for (line, obj) in objects {
        match serde_json::from_value::<Issue>(serde_json::Value::Object(obj.clone())) {
            Ok(issue) => match task::id::validate_id(&issue.id) {
                Ok(()) => issues.push((line, issue, obj)),
                Err(e) => errors.push((line, format!("bad id: {e}"))),
            },
            Err(e) => errors.push((line, e.to_string())),
        }
    }
    if !errors.is_empty() {
        return Err(lines_err(errors));
    }
    let mut report = ImportReport {
        file: path.display().to_string(),
        skipped,
        ..ImportReport::default()
    };
    if issues.is_empty() {
        report.warnings.push(Warning {
            line: 0,
            id: String::new(),
            message: "the file holds no issues; nothing was imported".into(),
        });
        return Ok(report);
    }
    let unique = newest_per_id(issues, &mut report.warnings);
    let known: HashSet<&str> = unique.iter().map(|(_, i, _)| i.id.as_str()).collect();
    let now = crate::time::now_text();
    let mut counts = Counts::default();
    let mut tasks = Vec::with_capacity(unique.len());
    for (line, issue, raw) in &unique {
        let mut messages = Vec::new();
        let mut task =
            match map::map_issue(issue, &known, &now, &mut |m| messages.push(m), &mut counts) {
                Ok(task) => task,
                Err(e) => {
                    errors.push((*line, format!("bad id: {e}")));
                    continue;
                }
            };
        // A task's creation time never changes (and an issue without
        // `created_at` would otherwise get this import's time again; one
        // without `updated_at` too).
        if opts.update
            && let Ok(old) = store.read_task(&task.id)
        {
            task.created = old.created;
            if raw.get("updated_at").is_none_or(Value::is_null) {
                task.updated = old.updated;
            }
        }
        map::keep_extra(&mut task, raw);
        for key in task.extra.keys() {
            if key != task::Extra::ORIGINAL && key != task::Extra::MAPPED {
                *report.kept_fields.entry(key.clone()).or_default() += 1;
            }
        }
        report
            .warnings
            .extend(messages.into_iter().map(|message| Warning {
                line: *line,
                id: issue.id.clone(),
                message,
            }));
        // Whatever the mapping made must read back as a valid task file.
        if let Err(e) = task::parse_task(&task::render_task(&task)) {
            errors.push((*line, format!("maps to an invalid task: {e}")));
        }
        tasks.push(task);
    }
    if !errors.is_empty() {
        return Err(lines_err(errors));
    }
    report.mapped = counts;
    write_tasks(store, path, tasks, opts, &mut report)?;
    Ok(report)
}

/// One issue per id: of copies with the same id (a JSONL merged by hand or
/// by git), the one updated last wins, the later line on a tie; a warning
/// names both lines.
fn newest_per_id<T>(
    issues: Vec<(usize, Issue, T)>,
    warnings: &mut Vec<Warning>,
) -> Vec<(usize, Issue, T)> {
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut unique: Vec<(usize, Issue, T)> = Vec::with_capacity(issues.len());
    for entry in issues {
        let Some(&at) = by_id.get(&entry.1.id) else {
            by_id.insert(entry.1.id.clone(), unique.len());
            unique.push(entry);
            continue;
        };
        let kept = &unique[at];
        let when = |i: &Issue| map::instant(i.updated_at.as_deref());
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
    tasks: Vec<Task>,
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
    for t in tasks {
        let name = format!("{}.toml", t.id);
        let data = task::render_task(&t).into_bytes();
        let file = store.task_path(&t.id);
        match std::fs::read(&file) {
            Ok(on_disk) if on_disk == data && !committed(&name) => {
                report.resumed += 1;
                report.added += 1;
                paths.push(Store::task_rel(&t.id));
            }
            Ok(_) if !opts.update => existing.push(t.id.to_string()),
            Ok(on_disk) => {
                let old = String::from_utf8(on_disk)
                    .ok()
                    .and_then(|text| task::parse_task(&text).ok());
                let Some(old) = old else {
                    existing.push(t.id.to_string());
                    continue;
                };
                let new = updated_task(&old, t);
                if new == old {
                    report.unchanged += 1;
                    continue;
                }
                paths.push(Store::task_rel(&new.id));
                updated.push((name, task::render_task(&new).into_bytes()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                paths.push(Store::task_rel(&t.id));
                added.push((name, data));
            }
            Err(_) => existing.push(t.id.to_string()),
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
    report.commit = store.commit(&paths, &message)?;
    // The first query after an import would otherwise read and parse every
    // file it wrote. Built after the commit, from a scan that starts after
    // the last write, so the files are trusted by their stat data at once
    // (not racy). Only a cache: when this fails the import still stands
    // (a warning says so), and the next command builds it. The files'
    // bytes go first: the rebuild reads them back, and the import's peak
    // memory is the commit's, not this plus the cache's.
    drop((added, updated, paths));
    if let Err(e) = store.cache() {
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
