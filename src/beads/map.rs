//! One beads issue as a task: each part of the mapping says what it does
//! with what beads allows, and warns where it has to change something.
//! What the task cannot hold goes to its `[extra]` table ([`keep_extra`]).

use super::{MAPPED_KEY, ORIGINAL_KEY, export, status};
use crate::task::{self, Estimate, Kind, Note, Status, Task, TaskId, id};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};

#[derive(Deserialize)]
pub(super) struct Issue {
    pub id: String,
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
    pub updated_at: Option<String>,
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
    wisp: Option<bool>,
    #[serde(default)]
    pinned: Option<bool>,
    #[serde(default)]
    is_template: Option<bool>,
    #[serde(default)]
    defer_until: Option<String>,
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

/// What the mapping made of the issues, counted (part of the import's report).
#[derive(Debug, Default, serde::Serialize)]
pub struct Counts {
    /// `beads status -> git-batch status`: count.
    pub statuses: BTreeMap<String, usize>,
    pub epics: usize,
    pub parents: usize,
    pub deps: usize,
    pub notes: usize,
    /// Links that do not block (`related`, `discovered-from`, ...), kept in `links`: count per type.
    pub links: BTreeMap<String, usize>,
    /// `external:<project>:<id>` blockers, kept in `external_deps` (they block).
    pub external_blockers: usize,
    /// Blocking dependencies on issues that are not in the file: kept (they block).
    pub missing_blockers: usize,
}

/// Parses a beads timestamp (RFC 3339, any fraction, any offset).
pub(super) fn instant(raw: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    crate::time::parse(raw?.trim())
}

/// Normalises a beads timestamp to RFC 3339 UTC, keeping sub-seconds.
fn timestamp(raw: Option<&str>) -> Option<String> {
    Some(instant(raw)?.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

pub(super) fn map_issue(
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
    for l in issue.labels.iter().flatten() {
        if l.trim().is_empty() {
            warn("an empty label was dropped".into());
        } else {
            task::add_unique(&mut task.labels, l.trim());
        }
    }
    task.priority = import_priority(issue.priority, warn);
    import_status(issue, &mut task, warn, counts);
    let raw_type = issue.issue_type.as_deref().unwrap_or("task");
    task.kind = raw_type
        .trim()
        .to_ascii_lowercase()
        .parse::<Kind>()
        .unwrap_or(Kind::Task);
    if task.kind == Kind::Epic {
        counts.epics += 1;
    }
    if issue.ephemeral == Some(true) || issue.wisp == Some(true) || issue.id.contains("-wisp-") {
        task::add_unique(&mut task.labels, Task::EPHEMERAL_LABEL);
    }
    task.template = issue.is_template == Some(true);
    if let Some(d) = issue
        .defer_until
        .as_deref()
        .filter(|d| !d.trim().is_empty())
    {
        if crate::time::parse(d.trim()).is_some() {
            task.defer_until = Some(d.trim().to_string());
        } else {
            warn(format!(
                "defer_until {d:?} is not RFC 3339; kept for export, not used"
            ));
        }
    }
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
    counts.notes += task.notes.len();
    Ok(task)
}

/// Keeps in `task.extra` what of `raw` an export of the task would not
/// give back (see `export`'s module doc for how it is read).
pub(super) fn keep_extra(task: &mut Task, raw: &Map<String, Value>) {
    let produced = export::issue_value(task);
    let mut original = toml::Table::new();
    let mut mapped = toml::Table::new();
    let keys: std::collections::BTreeSet<&String> = raw.keys().chain(produced.keys()).collect();
    for key in keys {
        let was = raw.get(key).filter(|v| !v.is_null());
        let became = produced.get(key);
        if was == became {
            continue;
        }
        if !export::MODELLED.contains(&key.as_str()) {
            if let Some(v) = was.and_then(to_toml) {
                task.extra.insert(key.clone(), v);
            }
            continue;
        }
        if let Some(v) = was.and_then(to_toml) {
            original.insert(key.clone(), v);
        }
        if let Some(v) = became.and_then(to_toml) {
            mapped.insert(key.clone(), v);
        }
    }
    if !original.is_empty() {
        task.extra
            .insert(ORIGINAL_KEY.into(), toml::Value::Table(original));
    }
    if !mapped.is_empty() {
        task.extra
            .insert(MAPPED_KEY.into(), toml::Value::Table(mapped));
    }
}

/// A JSON value as TOML; `None` for `null` (which TOML cannot hold; inside
/// lists and objects nulls are left out).
fn to_toml(v: &Value) -> Option<toml::Value> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(a) => toml::Value::Array(a.iter().filter_map(to_toml).collect()),
        Value::Object(o) => toml::Value::Table(
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), to_toml(v)?)))
                .collect(),
        ),
    })
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
/// (compared as instants) are kept and warned about.
fn import_times(issue: &Issue, now: &str, warn: &mut impl FnMut(String)) -> (String, String) {
    let created = timestamp(issue.created_at.as_deref()).unwrap_or_else(|| {
        warn(format!(
            "created_at {:?} is missing or not RFC 3339; using the import time",
            issue.created_at
        ));
        now.to_string()
    });
    let updated = timestamp(issue.updated_at.as_deref()).unwrap_or_else(|| created.clone());
    let at = |t: &str| crate::time::parse(t);
    if at(&updated) < at(&created) {
        warn(format!(
            "updated_at {updated} is before created_at {created}"
        ));
    }
    if let Some(closed) = timestamp(issue.closed_at.as_deref())
        && at(&closed) < at(&created)
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

/// The status, and the close reason.
fn import_status(
    issue: &Issue,
    task: &mut Task,
    warn: &mut impl FnMut(String),
    counts: &mut Counts,
) {
    let raw = issue.status.as_deref().unwrap_or("open").trim();
    let (st, note) = status::import(raw, issue.pinned == Some(true));
    if let Some(note) = note {
        warn(note);
    }
    task.status = st;
    *counts.statuses.entry(format!("{raw} -> {st}")).or_default() += 1;
    if st == Status::Closed {
        task.closed_reason = issue
            .close_reason
            .clone()
            .or_else(|| issue.delete_reason.clone())
            .filter(|r| !r.trim().is_empty());
    }
}

/// Blocking dependencies, parents and the links that do not block.
fn import_dependencies(
    issue: &Issue,
    known: &HashSet<&str>,
    task: &mut Task,
    warn: &mut impl FnMut(String),
    counts: &mut Counts,
) {
    for dep in issue.dependencies.iter().flatten() {
        let raw_kind = dep.kind.as_deref().unwrap_or("blocks");
        let kind = raw_kind.trim().to_ascii_lowercase().replace('_', "-");
        if raw_kind == "parent_child" {
            warn("dependency type 'parent_child' read as 'parent-child'".into());
        }
        if let Some(owner) = &dep.issue_id
            && owner != &issue.id
        {
            warn(format!(
                "a dependency of {owner} is listed on this issue; kept here"
            ));
        }
        let target = dep.depends_on_id.trim();
        let blocking = matches!(kind.as_str(), "blocks" | "conditional-blocks" | "waits-for");
        if target == issue.id {
            warn(format!("{kind} on itself; dropped"));
            continue;
        }
        if let Some(rest) = target.strip_prefix("external:") {
            if blocking && rest.contains(':') {
                task::add_unique(&mut task.external_deps, target);
                counts.external_blockers += 1;
            } else if !blocking {
                task::add_unique(&mut task.links, &format!("{kind}:{target}"));
                *counts.links.entry(kind).or_default() += 1;
            } else {
                warn(format!(
                    "{kind} target '{target}' is not external:<project>:<id>; dropped"
                ));
            }
            continue;
        }
        let Ok(target_id) = TaskId::parse(target) else {
            warn(format!(
                "{kind} target '{target}' is not a usable id; dropped"
            ));
            continue;
        };
        if !blocking && kind != "parent-child" {
            if task::valid_link_type(&kind) {
                task::add_unique(&mut task.links, &format!("{kind}:{target}"));
                *counts.links.entry(kind).or_default() += 1;
            } else {
                warn(format!(
                    "dependency type {kind:?} is not a usable name; dropped"
                ));
            }
            continue;
        }
        if !known.contains(target) {
            warn(format!(
                "{kind} target {target} is not in the file; kept (it blocks until it exists)"
            ));
            if blocking {
                counts.missing_blockers += 1;
            }
        }
        if kind == "parent-child" {
            if task.parent.is_none() {
                task.parent = Some(target_id);
                counts.parents += 1;
            } else if task.parent.as_deref() != Some(target)
                && task::add_unique(&mut task.other_parents, &target_id)
            {
                warn(format!(
                    "second parent {target} kept (it holds this task back like the first)"
                ));
                counts.parents += 1;
            }
        } else {
            if kind != "blocks" {
                warn(format!("'{kind}' imported as a plain blocking dependency"));
            }
            if task::add_unique(&mut task.deps, &target_id) {
                counts.deps += 1;
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
    task.notes
        .sort_by_key(|n| crate::time::parse(&n.at).map(|t| t.timestamp_nanos_opt()));
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
