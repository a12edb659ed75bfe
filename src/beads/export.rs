//! `export --beads`: task files to beads JSONL, the reverse of the import
//! (statuses and types come back from the `beads:*` and `type:*` labels).

use super::{LABEL_PREFIX, TYPE_PREFIX};
use crate::task::{Kind, Status, Task};
use serde::Serialize;

#[derive(Serialize)]
struct Issue<'a> {
    id: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    status: String,
    priority: u8,
    issue_type: String,
    created_at: &'a str,
    updated_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    closed_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    close_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    created_by: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    acceptance_criteria: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    estimated_minutes: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    labels: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dependencies: Vec<Dep<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    comments: Vec<Comment<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ephemeral: bool,
}

#[derive(Serialize)]
struct Dep<'a> {
    issue_id: &'a str,
    depends_on_id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    created_at: &'a str,
}

#[derive(Serialize)]
struct Comment<'a> {
    id: usize,
    issue_id: &'a str,
    author: &'a str,
    text: &'a str,
    created_at: &'a str,
}

/// Renders tasks as beads JSONL, one issue per line, sorted by id.
pub fn export(tasks: &[Task]) -> String {
    let mut sorted: Vec<&Task> = tasks.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out = String::new();
    let mut comment_id = 0;
    for t in sorted {
        let marker = t.labels.iter().find_map(|l| l.strip_prefix(LABEL_PREFIX));
        let status = match (marker, t.status) {
            (Some(m @ ("tombstone" | "hooked" | "blocked" | "pinned")), _) => m.to_string(),
            (_, Status::Open | Status::Failed) => "open".into(),
            (_, Status::InProgress | Status::Done) => "in_progress".into(),
            (_, Status::Closed) => "closed".into(),
            (_, Status::Escalated) => "blocked".into(),
            (_, Status::Deferred) => "deferred".into(),
        };
        let issue_type = match t.kind {
            Kind::Epic => "epic".to_string(),
            Kind::Task => t
                .labels
                .iter()
                .find_map(|l| l.strip_prefix(TYPE_PREFIX))
                .unwrap_or("task")
                .to_string(),
        };
        let mut dependencies: Vec<Dep> = t
            .deps
            .iter()
            .map(|d| Dep {
                issue_id: &t.id,
                depends_on_id: d,
                kind: "blocks",
                created_at: &t.created,
            })
            .collect();
        if let Some(p) = &t.parent {
            dependencies.push(Dep {
                issue_id: &t.id,
                depends_on_id: p,
                kind: "parent-child",
                created_at: &t.created,
            });
        }
        let comments = t
            .notes
            .iter()
            .map(|n| {
                comment_id += 1;
                Comment {
                    id: comment_id,
                    issue_id: &t.id,
                    author: &n.by,
                    text: &n.text,
                    created_at: &n.at,
                }
            })
            .collect();
        let issue = Issue {
            id: &t.id,
            title: &t.title,
            description: &t.body,
            status,
            priority: t.priority,
            issue_type,
            created_at: &t.created,
            updated_at: &t.updated,
            closed_at: (t.status == Status::Closed).then_some(t.updated.as_str()),
            close_reason: t.closed_reason.as_deref(),
            created_by: &t.created_by,
            acceptance_criteria: (!t.acceptance.is_empty()).then(|| {
                t.acceptance
                    .iter()
                    .map(|a| format!("- {a}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            }),
            estimated_minutes: t.estimate.map(|e| match e {
                crate::task::Estimate::S => 60,
                crate::task::Estimate::M => 240,
                crate::task::Estimate::L => 480,
            }),
            labels: t
                .labels
                .iter()
                .map(String::as_str)
                .filter(|l| {
                    !l.starts_with(LABEL_PREFIX)
                        && !l.starts_with(TYPE_PREFIX)
                        && *l != Task::EPHEMERAL_LABEL
                })
                .collect(),
            dependencies,
            comments,
            ephemeral: t.is_ephemeral(),
        };
        out.push_str(&serde_json::to_string(&issue).expect("plain data serializes"));
        out.push('\n');
    }
    out
}
