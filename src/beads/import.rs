//! `import --beads`: beads JSONL lines to task files, in one commit.

use super::{BeadsError, LABEL_PREFIX, TYPE_PREFIX};
use crate::atomic;
use crate::store::{Store, scan};
use crate::task::{self, Estimate, Kind, Note, Status, Task, TaskId, id};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

#[derive(Deserialize)]
struct Issue {
    id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    design: Option<String>,
    #[serde(default)]
    notes: Option<Value>,
    #[serde(default)]
    acceptance_criteria: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    priority: Option<i64>,
    #[serde(default)]
    issue_type: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    closed_at: Option<String>,
    #[serde(default)]
    close_reason: Option<String>,
    #[serde(default)]
    delete_reason: Option<String>,
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    labels: Option<Vec<String>>,
    #[serde(default)]
    dependencies: Option<Vec<Dep>>,
    #[serde(default)]
    comments: Option<Vec<Comment>>,
    #[serde(default)]
    estimated_minutes: Option<i64>,
    #[serde(default)]
    ephemeral: Option<bool>,
    #[serde(default)]
    pinned: Option<bool>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct Dep {
    #[serde(default)]
    issue_id: Option<String>,
    depends_on_id: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct Comment {
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
}

/// One oddity that was imported anyway.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub id: String,
    pub message: String,
}

/// What `import` mapped and what it dropped.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub file: String,
    pub imported: usize,
    /// Of those, files an earlier run of this import wrote and did not
    /// commit (killed): taken as they are.
    #[serde(skip_serializing_if = "is_zero")]
    pub resumed: usize,
    pub commit: Option<String>,
    /// `beads status -> git-batch status`: count.
    pub statuses: BTreeMap<String, usize>,
    pub epics: usize,
    pub parents: usize,
    pub deps: usize,
    pub notes: usize,
    /// Relations that do not block (`related`, `discovered-from`, ...): count per type.
    pub dropped_relations: BTreeMap<String, usize>,
    /// Fields git-batch has no place for (`assignee`, `owner`, ...): count per field.
    pub dropped_fields: BTreeMap<String, usize>,
    pub warnings: Vec<Warning>,
}

/// Fields that are read into the task, so never reported as dropped.
const MAPPED: &[&str] = &["deleted_at", "deleted_by"];

/// Reads `path` and imports every issue into `store`, all or nothing.
pub fn import(store: &Store, path: &Path) -> Result<ImportReport, BeadsError> {
    let text = std::fs::read_to_string(path).map_err(|source| BeadsError::Io {
        what: "reading",
        path: path.to_path_buf(),
        source,
    })?;
    let mut errors = Vec::new();
    let mut issues: Vec<(usize, Issue)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Issue>(line) {
            Ok(issue) => match id::validate_id(&issue.id) {
                Ok(()) => issues.push((i + 1, issue)),
                Err(e) => errors.push((i + 1, format!("bad id: {e}"))),
            },
            Err(e) => errors.push((i + 1, e.to_string())),
        }
    }
    if !errors.is_empty() {
        return Err(BeadsError::Lines {
            path: path.to_path_buf(),
            errors,
        });
    }

    let mut report = ImportReport {
        file: path.display().to_string(),
        ..ImportReport::default()
    };
    // Later lines win over earlier ones with the same id (a merged JSONL).
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut unique: Vec<(usize, Issue)> = Vec::with_capacity(issues.len());
    for (line, issue) in issues {
        if let Some(&at) = by_id.get(&issue.id) {
            report.warnings.push(Warning {
                line,
                id: issue.id.clone(),
                message: format!(
                    "duplicate id (also on line {}); this line wins",
                    unique[at].0
                ),
            });
            unique[at] = (line, issue);
        } else {
            by_id.insert(issue.id.clone(), unique.len());
            unique.push((line, issue));
        }
    }
    let known: HashSet<&str> = unique.iter().map(|(_, i)| i.id.as_str()).collect();
    let now = crate::time::now_text();
    let mut tasks = Vec::with_capacity(unique.len());
    for (line, issue) in &unique {
        let mut messages = Vec::new();
        let task = match map_issue(
            issue,
            &known,
            &now,
            &mut |m| messages.push(m),
            &mut report_counts(&mut report),
        ) {
            Ok(task) => task,
            Err(e) => {
                errors.push((*line, format!("bad id: {e}")));
                continue;
            }
        };
        report
            .warnings
            .extend(messages.into_iter().map(|message| Warning {
                line: *line,
                id: issue.id.clone(),
                message,
            }));
        tasks.push((*line, task));
    }
    for (line, task) in &tasks {
        for (key, _) in unique[by_id[task.id.as_str()]].1.rest.iter() {
            if !MAPPED.contains(&key.as_str()) {
                *report.dropped_fields.entry(key.clone()).or_default() += 1;
            }
        }
        // Whatever the mapping made must read back as a valid task file.
        if let Err(e) = task::parse_task(&task::render_task(task)) {
            errors.push((*line, format!("maps to an invalid task: {e}")));
        }
    }
    if !errors.is_empty() {
        return Err(BeadsError::Lines {
            path: path.to_path_buf(),
            errors,
        });
    }

    let tasks_dir = store.tasks_dir();
    let files: Vec<(String, Vec<u8>)> = tasks
        .iter()
        .map(|(_, t)| (format!("{}.toml", t.id), task::render_task(t).into_bytes()))
        .collect();
    // A file this import would write, byte for byte, that no commit has:
    // what an import of the same file that was killed before its commit
    // left. Running it again finishes that import instead of refusing it.
    let head_tree = store.repo.head().ok().and_then(|h| h.peel_to_tree().ok());
    let committed = |name: &str| {
        head_tree.as_ref().is_some_and(|t| {
            t.get_path(std::path::Path::new(&format!(
                "{}/tasks/{name}",
                crate::store::BATCH_DIR
            )))
            .is_ok()
        })
    };
    let mut existing = Vec::new();
    let mut left_over = std::collections::HashSet::new();
    for ((_, t), (name, data)) in tasks.iter().zip(&files) {
        let path = store.task_path(&t.id);
        match std::fs::read(&path) {
            Ok(on_disk) if on_disk == *data && !committed(name) => {
                left_over.insert(name.clone());
            }
            Ok(_) => existing.push(t.id.to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => existing.push(t.id.to_string()),
        }
    }
    if !existing.is_empty() {
        return Err(BeadsError::Exists { ids: existing });
    }
    report.resumed = left_over.len();
    store.check_can_commit()?;
    std::fs::create_dir_all(&tasks_dir).map_err(|source| BeadsError::Io {
        what: "creating",
        path: tasks_dir.clone(),
        source,
    })?;
    let files: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .filter(|(name, _)| !left_over.contains(name))
        .collect();
    atomic::create_many_atomic(&tasks_dir, &files).map_err(|source| BeadsError::Io {
        what: "writing tasks into",
        path: tasks_dir.clone(),
        source,
    })?;
    debug_assert!(files.iter().all(|(n, _)| scan::is_task_file(n)));
    let paths: Vec<String> = tasks.iter().map(|(_, t)| Store::task_rel(&t.id)).collect();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    report.imported = tasks.len();
    report.commit = store.commit(
        &paths,
        &format!("batch: import {} tasks from beads ({name})", tasks.len()),
    )?;
    Ok(report)
}

/// The counters of a report that `map_issue` adds to.
struct Counts<'a> {
    statuses: &'a mut BTreeMap<String, usize>,
    epics: &'a mut usize,
    parents: &'a mut usize,
    deps: &'a mut usize,
    notes: &'a mut usize,
    dropped_relations: &'a mut BTreeMap<String, usize>,
}

fn report_counts(report: &mut ImportReport) -> Counts<'_> {
    Counts {
        statuses: &mut report.statuses,
        epics: &mut report.epics,
        parents: &mut report.parents,
        deps: &mut report.deps,
        notes: &mut report.notes,
        dropped_relations: &mut report.dropped_relations,
    }
}

/// Normalises a beads timestamp to RFC 3339 UTC, keeping sub-seconds.
fn timestamp(raw: Option<&str>) -> Option<String> {
    let parsed = chrono::DateTime::parse_from_rfc3339(raw?.trim()).ok()?;
    Some(
        parsed
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
    )
}

/// One beads issue as a task: each part of the mapping below says what it
/// does with what beads allows, and warns where it has to change something.
fn map_issue(
    issue: &Issue,
    known: &HashSet<&str>,
    now: &str,
    warn: &mut impl FnMut(String),
    counts: &mut Counts,
) -> Result<Task, id::IdError> {
    let title = import_title(issue, warn);
    let (created, updated) = import_times(issue, now, warn);
    let by = issue.created_by.clone().unwrap_or_else(|| "beads".into());
    let mut task = Task::new(TaskId::parse(&issue.id)?, title, &created, &by);
    task.updated = updated.clone();
    let mut labels: Vec<String> = Vec::new();
    for l in issue.labels.iter().flatten() {
        if l.trim().is_empty() {
            warn("an empty label was dropped".into());
        } else {
            task::add_unique(&mut labels, l.trim());
        }
    }
    task.priority = import_priority(issue.priority, warn);
    import_status(issue, &mut task, &mut labels, warn, counts);
    match issue.issue_type.as_deref().unwrap_or("task") {
        "epic" => {
            task.kind = Kind::Epic;
            *counts.epics += 1;
        }
        "task" => {}
        other => {
            task::add_unique(&mut labels, &format!("{TYPE_PREFIX}{other}"));
        }
    }
    if issue.ephemeral == Some(true) || issue.id.contains("-wisp-") {
        task::add_unique(&mut labels, Task::EPHEMERAL_LABEL);
    }
    task.labels = labels;
    let mut body = issue.description.clone().unwrap_or_default();
    if let Some(design) = issue.design.as_deref().filter(|d| !d.trim().is_empty()) {
        body.push_str("\n\n## Design\n\n");
        body.push_str(design);
    }
    task.body = body;
    task.acceptance = issue
        .acceptance_criteria
        .as_deref()
        .map(acceptance_items)
        .unwrap_or_default();
    task.estimate = match issue.estimated_minutes {
        Some(m) if m > 0 && m <= 60 => Some(Estimate::S),
        Some(m) if m > 60 && m <= 240 => Some(Estimate::M),
        Some(m) if m > 240 => Some(Estimate::L),
        _ => None,
    };
    import_dependencies(issue, known, &mut task, warn, counts);
    import_notes(issue, &mut task, &by, &updated);
    *counts.notes += task.notes.len();
    Ok(task)
}

/// The title on one line, never empty.
fn import_title(issue: &Issue, warn: &mut impl FnMut(String)) -> String {
    match issue.title.as_deref().map(str::trim) {
        Some(t) if t.contains('\n') => {
            warn("multi-line title joined into one line".into());
            t.split_whitespace().collect::<Vec<_>>().join(" ")
        }
        Some(t) if !t.is_empty() => t.to_string(),
        _ => {
            warn("empty title; imported as \"(untitled)\"".into());
            "(untitled)".into()
        }
    }
}

/// `(created, updated)` as RFC 3339 UTC; times that contradict each other
/// are kept and warned about.
fn import_times(issue: &Issue, now: &str, warn: &mut impl FnMut(String)) -> (String, String) {
    let created = timestamp(issue.created_at.as_deref()).unwrap_or_else(|| {
        warn(format!(
            "created_at {:?} is missing or not RFC 3339; using the import time",
            issue.created_at
        ));
        now.to_string()
    });
    let updated = timestamp(issue.updated_at.as_deref()).unwrap_or_else(|| created.clone());
    if updated < created {
        warn(format!(
            "updated_at {updated} is before created_at {created}"
        ));
    }
    if let Some(closed) = timestamp(issue.closed_at.as_deref())
        && closed < created
    {
        warn(format!("closed_at {closed} is before created_at {created}"));
    }
    (created, updated)
}

/// Beads' priority, clamped into 0-4.
fn import_priority(priority: Option<i64>, warn: &mut impl FnMut(String)) -> u8 {
    match priority {
        Some(p @ 0..=4) => p as u8,
        Some(p) => {
            let clamped = p.clamp(0, i64::from(task::MAX_PRIORITY)) as u8;
            warn(format!(
                "priority {p} is out of range; imported as {clamped}"
            ));
            clamped
        }
        None => task::DEFAULT_PRIORITY,
    }
}

/// The status (beads' own statuses that git-batch has no such state for
/// become a state and a `beads:` label), and the close reason.
fn import_status(
    issue: &Issue,
    task: &mut Task,
    labels: &mut Vec<String>,
    warn: &mut impl FnMut(String),
    counts: &mut Counts,
) {
    let raw_status = issue.status.as_deref().unwrap_or("open");
    let (status, marker) = match raw_status {
        "open" => (Status::Open, None),
        "in_progress" => (Status::InProgress, None),
        "closed" => (Status::Closed, None),
        "deferred" => (Status::Deferred, None),
        "tombstone" => (Status::Closed, Some("tombstone")),
        "hooked" => (Status::InProgress, Some("hooked")),
        "blocked" => (Status::Escalated, Some("blocked")),
        "pinned" => (Status::Deferred, Some("pinned")),
        other => {
            warn(format!("unknown status '{other}'; imported as open"));
            (Status::Open, None)
        }
    };
    if let Some(m) = marker {
        warn(format!(
            "status '{raw_status}' imported as {status} with label {LABEL_PREFIX}{m}"
        ));
        task::add_unique(labels, &format!("{LABEL_PREFIX}{m}"));
    }
    if issue.pinned == Some(true) && status == Status::Open {
        warn("pinned issue imported as deferred with label beads:pinned".into());
        task.status = Status::Deferred;
        task::add_unique(labels, &format!("{LABEL_PREFIX}pinned"));
    } else {
        task.status = status;
    }
    *counts
        .statuses
        .entry(format!("{raw_status} -> {}", task.status))
        .or_default() += 1;
    if task.status == Status::Closed {
        task.closed_reason = issue
            .close_reason
            .clone()
            .or_else(|| issue.delete_reason.clone())
            .filter(|r| !r.trim().is_empty());
    }
}

/// Blocking dependencies and the parent; other relations are counted and
/// dropped.
fn import_dependencies(
    issue: &Issue,
    known: &HashSet<&str>,
    task: &mut Task,
    warn: &mut impl FnMut(String),
    counts: &mut Counts,
) {
    for dep in issue.dependencies.iter().flatten() {
        let kind = dep.kind.as_deref().unwrap_or("blocks").replace('_', "-");
        if dep.kind.as_deref() == Some("parent_child") {
            warn("dependency type 'parent_child' read as 'parent-child'".into());
        }
        if let Some(owner) = &dep.issue_id
            && owner != &issue.id
        {
            warn(format!(
                "a dependency of {owner} is listed on this issue; kept here"
            ));
        }
        let target = dep.depends_on_id.as_str();
        let blocking = matches!(kind.as_str(), "blocks" | "conditional-blocks" | "waits-for");
        if !blocking && kind != "parent-child" {
            *counts.dropped_relations.entry(kind).or_default() += 1;
            continue;
        }
        let Ok(target_id) = TaskId::parse(target) else {
            warn(format!(
                "{kind} target '{target}' is not a usable id; dropped"
            ));
            *counts
                .dropped_relations
                .entry(format!("{kind} (bad id)"))
                .or_default() += 1;
            continue;
        };
        if target == issue.id {
            warn(format!("{kind} on itself; dropped"));
            continue;
        }
        if !known.contains(target) {
            warn(format!(
                "{kind} target {target} is not in the file; kept (it blocks until it exists)"
            ));
        }
        if kind == "parent-child" {
            match &task.parent {
                None => {
                    task.parent = Some(target_id);
                    *counts.parents += 1;
                }
                Some(first) if first != target => {
                    warn(format!("second parent {target} dropped (kept {first})"));
                }
                Some(_) => {}
            }
        } else {
            if kind != "blocks" {
                warn(format!("'{kind}' imported as a plain blocking dependency"));
            }
            if task::add_unique(&mut task.deps, &target_id) {
                *counts.deps += 1;
            }
        }
    }
}

/// Beads' notes field and comments as notes, in time order.
fn import_notes(issue: &Issue, task: &mut Task, by: &str, updated: &str) {
    if let Some(notes) = &issue.notes {
        let text = match notes {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        if !text.trim().is_empty() {
            task.notes.push(Note {
                at: updated.to_string(),
                by: by.to_string(),
                text,
            });
        }
    }
    for c in issue.comments.iter().flatten() {
        let Some(text) = c.text.clone().filter(|t| !t.trim().is_empty()) else {
            continue;
        };
        task.notes.push(Note {
            at: timestamp(c.created_at.as_deref()).unwrap_or_else(|| updated.to_string()),
            by: c.author.clone().unwrap_or_else(|| "beads".into()),
            text,
        });
    }
    task.notes.sort_by(|a, b| a.at.cmp(&b.at));
}

/// Splits beads' free-text acceptance criteria into one item per line,
/// without list markers.
fn acceptance_items(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let l = l.trim();
            let l = l
                .strip_prefix("- [ ] ")
                .or_else(|| l.strip_prefix("- [x] "))
                .or_else(|| l.strip_prefix("- "))
                .or_else(|| l.strip_prefix("* "))
                .unwrap_or(l);
            l.trim().to_string()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acceptance_lines() {
        assert_eq!(
            acceptance_items("- [ ] one\n\n* two\n- [x] three\nplain"),
            vec!["one", "two", "three", "plain"]
        );
    }

    #[test]
    fn timestamps_normalise_to_utc() {
        assert_eq!(
            timestamp(Some("2025-11-02T22:23:49.475356-08:00")).unwrap(),
            "2025-11-03T06:23:49.475356Z"
        );
        assert_eq!(timestamp(Some("nope")), None);
    }
}
