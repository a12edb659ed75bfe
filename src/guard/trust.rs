//! What a worker's commit may change, judged from trusted data only.
//!
//! A worker branch is written by an agent, so nothing on it decides how it
//! is judged: the task a commit belongs to comes from the ref it is on (a
//! `Batch-Task` trailer only attributes commits on refs that name no task,
//! and one naming another task than its ref's is a problem), and the task's
//! scope and fields come from a trusted commit: the main branch tip the
//! landing starts from, the base of a checked range, the server's main
//! branch. Never from the task file in the commit's own parent, which the
//! worker wrote.
//!
//! Inside `.batch/` a commit may change only its own task's worker fields
//! (status, notes appended, labels added, its failure record, `updated`),
//! append to its own receipt (every byte already on main kept), and add
//! task files of its own children. Never another task's file, the config,
//! `.gitattributes` or plans; no scope glob (`**`, `*.toml`) covers
//! `.batch/`.

use super::{GuardError, Problem, git2_err};
use crate::scope::Scope;
use crate::store::{BATCH_DIR, Store, at_commit};
use crate::task::Task;
use git2::{Oid, Repository};

/// Where the truth comes from for a walk of commits.
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    /// The trusted commit: task files and scopes as they stand there.
    pub base: Oid,
    /// The task the commits belong to, by the ref they are on; `None` for
    /// a range on no worker ref, where each commit's trailer names it.
    pub task: Option<&'a str>,
}

/// The fields of its own task a worker may change on its branch.
const WORKER_FIELDS: [&str; 5] = ["status", "updated", "notes", "labels", "failure"];

/// One commit to judge: what it changes, and where its branch left the
/// trusted history (what the worker started from; a landing's replay starts
/// from the base itself).
pub struct Change<'a> {
    pub oid: Oid,
    pub fork: Oid,
    pub paths: &'a [String],
    /// The symbolic links it adds or changes, `(path, target)`.
    pub links: &'a [(String, String)],
}

/// The problems of one commit `oid` of task `id` (with `trusted`, the task
/// at the trusted base), given the paths it changes.
pub fn commit_problems(
    repo: &Repository,
    trust: &Trust<'_>,
    change: &Change<'_>,
    id: &str,
    trusted: &Task,
) -> Result<Vec<Problem>, GuardError> {
    let mut problems = Vec::new();
    let Change {
        oid,
        fork,
        paths,
        links,
    } = *change;
    let (batch, work): (Vec<&String>, Vec<&String>) = paths
        .iter()
        .partition(|p| p.starts_with(&format!("{BATCH_DIR}/")));
    let scope = Scope::parse(&trusted.scope).map_err(|source| {
        GuardError::Work(crate::work::WorkError::Scope {
            id: id.to_string(),
            source,
        })
    })?;
    let outside = crate::store::outside_scope(&scope, id, work.iter().map(|p| p.as_str()));
    if !outside.is_empty() {
        problems.push(Problem::OutOfScope {
            task: id.to_string(),
            scope: trusted.scope.clone(),
            files: outside,
            commit: Some(oid.to_string()),
        });
    }
    for (path, target) in links.iter() {
        // A link out of the repository makes whatever reads the file (a
        // test, a build, the next agent) read or write outside it.
        if points_outside(path, target)
            && !trusted
                .scope
                .iter()
                .any(|g| crate::scope::normalize(g) == *path)
        {
            problems.push(Problem::Forbidden {
                task: id.to_string(),
                commit: oid.to_string(),
                path: path.clone(),
                why: format!(
                    "adds a symbolic link to {target:?}, outside the repository (a scope must name such a link exactly)"
                ),
            });
        }
    }
    for path in batch {
        if let Some(why) = batch_change(repo, fork, trust.base, oid, id, path)? {
            problems.push(Problem::Forbidden {
                task: id.to_string(),
                commit: oid.to_string(),
                path: path.clone(),
                why,
            });
        }
    }
    Ok(problems)
}

/// Whether a link at `path` (from the top) to `target` leaves the
/// repository: an absolute target, or one whose `..` climb above the top.
fn points_outside(path: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return true;
    }
    let mut depth = path.split('/').count() as i64 - 1;
    for part in target.split('/') {
        match part {
            ".." => depth -= 1,
            "" | "." => {}
            _ => depth += 1,
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

/// Why the change of `path` (under `.batch/`) at `oid` is not the task's to
/// make, or `None` when it is.
fn batch_change(
    repo: &Repository,
    fork: Oid,
    base: Oid,
    oid: Oid,
    id: &str,
    path: &str,
) -> Result<Option<String>, GuardError> {
    let read = |at: Oid| {
        at_commit::file_at(repo, Some(at), path).map_err(git2_err("reading a file of a commit"))
    };
    if path == Store::task_rel(id) {
        return Ok(own_task_change(repo, fork, oid, id));
    }
    if path == Store::receipt_rel(id) {
        let (Some(before), now) = (read(fork)?, read(oid)?) else {
            return Ok(None);
        };
        return Ok(match now {
            Some(now) if now.starts_with(&before) => None,
            Some(_) => Some("rewrites lines of its receipt that are already on main".into()),
            None => Some("deletes its receipt".into()),
        });
    }
    if let Some(other) = path
        .strip_prefix(&format!("{BATCH_DIR}/tasks/"))
        .and_then(|f| f.strip_suffix(".toml"))
    {
        let known = read(fork)?.is_some() || read(base)?.is_some();
        if known {
            return Ok(Some(format!("changes the task file of {other}")));
        }
        // A new task: only a child of this one.
        return Ok(match at_commit::task_at(repo, Some(oid), other) {
            Some(child) if child.parent.as_deref() == Some(id) => None,
            Some(_) => Some(format!("adds task {other}, which is not a child of {id}")),
            None if read(oid)?.is_none() => None,
            None => Some(format!("adds a task file for {other} that does not read")),
        });
    }
    Ok(Some(
        "changes a file of .batch/ that only people change (config, plans, attributes)".into(),
    ))
}

/// Why the commit's version of the task's own file is not a worker's to
/// write: a field other than the worker's changed, notes rewritten, labels
/// dropped, the file deleted.
fn own_task_change(repo: &Repository, fork: Oid, oid: Oid, id: &str) -> Option<String> {
    let before = at_commit::task_at(repo, Some(fork), id)?;
    let Some(now) = at_commit::task_at(repo, Some(oid), id) else {
        return Some("deletes or breaks its own task file".into());
    };
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(&before), serde_json::to_value(&now))
    else {
        return None;
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let changed: Vec<&str> = keys
        .into_iter()
        .filter(|k| !WORKER_FIELDS.contains(&k.as_str()) && a.get(*k) != b.get(*k))
        .map(String::as_str)
        .collect();
    if !changed.is_empty() {
        return Some(format!(
            "changes {} of its own task, which only people change",
            changed.join(", ")
        ));
    }
    if !now.notes.starts_with(&before.notes) {
        return Some("rewrites notes of its own task that are already on main".into());
    }
    if let Some(l) = before.labels.iter().find(|l| !now.labels.contains(l)) {
        return Some(format!("drops the label {l} of its own task"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::points_outside;

    #[test]
    fn links_that_leave_the_repository() {
        assert!(points_outside("src/a", "/etc/passwd"));
        assert!(points_outside("src/a", "../../x"));
        assert!(points_outside("a", "../x"));
        assert!(!points_outside("src/a", "../b"));
        assert!(!points_outside("src/a", "b/../c"));
        assert!(points_outside("src/a", "b/../../../c"));
    }
}
