//! `export --beads`: task files to beads JSONL, the reverse of the import.
//!
//! Each issue is built from the task's own fields ([`issue_value`]), then
//! the beads fields the import kept in the task's `[extra]` table are laid
//! over it: the ones git-batch has no use for as they were, and the ones
//! the import had to change (a status git-batch has no state for, a type,
//! a timestamp's offset) as they were for as long as the task's field is
//! still what the import made of them (`[extra.mapped]`).

use super::{LABEL_PREFIX, MAPPED_KEY, ORIGINAL_KEY, status};
use crate::task::{Estimate, Status, Task};
use serde_json::{Map, Value, json};

/// Renders tasks as beads JSONL, one issue per line, sorted by id.
pub fn export(tasks: &[Task]) -> String {
    let mut sorted: Vec<&Task> = tasks.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = String::new();
    for t in sorted {
        let issue = Value::Object(with_extra(t, issue_value(t)));
        out.push_str(&serde_json::to_string(&issue).expect("plain data serializes"));
        out.push('\n');
    }
    out
}

/// The issue as the task's own fields say it, without `[extra]`.
pub(super) fn issue_value(t: &Task) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("id", json!(t.id.as_str()));
    put("title", json!(t.title));
    if !t.body.is_empty() {
        put("description", json!(t.body));
    }
    put("status", json!(export_status(t)));
    put("priority", json!(t.priority));
    put("issue_type", json!(t.kind.as_str()));
    put("created_at", json!(t.created));
    put("updated_at", json!(t.updated));
    if t.status == Status::Closed {
        put("closed_at", json!(t.updated));
    }
    if let Some(r) = &t.closed_reason {
        put("close_reason", json!(r));
    }
    if !t.created_by.is_empty() {
        put("created_by", json!(t.created_by));
    }
    if !t.acceptance.is_empty() {
        let text: Vec<String> = t.acceptance.iter().map(|a| format!("- {a}")).collect();
        put("acceptance_criteria", json!(text.join("\n")));
    }
    if let Some(e) = t.estimate {
        let minutes = match e {
            Estimate::S => 60,
            Estimate::M => 240,
            Estimate::L => 480,
        };
        put("estimated_minutes", json!(minutes));
    }
    let labels: Vec<&str> = t
        .labels
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with(LABEL_PREFIX) && *l != Task::EPHEMERAL_LABEL)
        .collect();
    if !labels.is_empty() {
        put("labels", json!(labels));
    }
    let dep = |target: &str, kind: &str| json!({"issue_id": t.id.as_str(), "depends_on_id": target, "type": kind, "created_at": t.created});
    let mut deps: Vec<Value> = t.deps.iter().map(|d| dep(d, "blocks")).collect();
    deps.extend(t.external_deps.iter().map(|d| dep(d, "blocks")));
    deps.extend(t.parent.iter().map(|p| dep(p, "parent-child")));
    deps.extend(t.other_parents.iter().map(|p| dep(p, "parent-child")));
    for link in &t.links {
        if let Some((kind, target)) = crate::task::split_link(link) {
            deps.push(dep(target, kind));
        }
    }
    if !deps.is_empty() {
        put("dependencies", Value::Array(deps));
    }
    let comments: Vec<Value> = t
        .notes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({"id": i + 1, "issue_id": t.id.as_str(), "author": n.by, "text": n.text, "created_at": n.at})
        })
        .collect();
    if !comments.is_empty() {
        put("comments", Value::Array(comments));
    }
    if t.is_ephemeral() {
        put("ephemeral", json!(true));
    }
    if let Some(d) = &t.defer_until {
        put("defer_until", json!(d));
    }
    if t.template {
        put("is_template", json!(true));
    }
    m
}

/// The beads status of a task: its own, or the one an older import marked
/// with a `beads:` label while the task is still in the state it mapped to.
fn export_status(t: &Task) -> &'static str {
    let legacy = t.labels.iter().find_map(|l| l.strip_prefix(LABEL_PREFIX));
    if let Some(m) = legacy
        && let Some((st, name)) = status::legacy_marker(m)
        && st == t.status
    {
        return name;
    }
    match t.status {
        Status::Open | Status::Failed => "open",
        Status::InProgress | Status::Done => "in_progress",
        Status::Closed => "closed",
        Status::Escalated => "blocked",
        Status::Deferred => "deferred",
    }
}

/// `issue` with the task's `[extra]` laid over it (see the module doc).
fn with_extra(t: &Task, mut issue: Map<String, Value>) -> Map<String, Value> {
    let table = |key: &str| {
        t.extra
            .get(key)
            .and_then(toml::Value::as_table)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), to_json(v)))
                    .collect::<Map<_, _>>()
            })
            .unwrap_or_default()
    };
    let (original, mapped) = (table(ORIGINAL_KEY), table(MAPPED_KEY));
    // A key the import changed comes back as it was while the task's value
    // is still what the import made of it (both absent counts as the same).
    let keys: std::collections::BTreeSet<&String> = original.keys().chain(mapped.keys()).collect();
    for key in keys {
        if issue.get(key) != mapped.get(key) {
            continue;
        }
        match original.get(key) {
            Some(was) => issue.insert(key.clone(), was.clone()),
            None => issue.remove(key),
        };
    }
    for (key, value) in t.extra.iter() {
        if key != ORIGINAL_KEY && key != MAPPED_KEY {
            issue.insert(key.clone(), to_json(value));
        }
    }
    issue
}

/// The beads fields [`issue_value`] writes: a difference in one of them is
/// kept as original and mapped value; any other field is kept as it was.
pub(super) const MODELLED: [&str; 19] = [
    "id",
    "title",
    "description",
    "status",
    "priority",
    "issue_type",
    "created_at",
    "updated_at",
    "closed_at",
    "close_reason",
    "created_by",
    "acceptance_criteria",
    "estimated_minutes",
    "labels",
    "dependencies",
    "comments",
    "ephemeral",
    "defer_until",
    "is_template",
];

pub(super) fn to_json(v: &toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
