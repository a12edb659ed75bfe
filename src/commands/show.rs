//! `git batch show`: one task in full, with what blocks it and its children.

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::graph::Blocker;
use crate::store::StoreError;
use crate::task::Task;
use crate::ui::{self, paint};

/// Show a task: fields, blockers, children, body and notes.
#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
}

#[derive(serde::Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    task: &'a Task,
    blocked_by: &'a [Blocker],
    children: Vec<&'a str>,
    /// Who holds the task, when it is claimed.
    #[serde(skip_serializing_if = "Option::is_none")]
    claim: Option<&'a crate::claims::Claim>,
    /// Its live state (how its last attempt ended, the question, the
    /// answers), the same in every clone; `status` above already merges it.
    #[serde(skip_serializing_if = "Option::is_none")]
    live: Option<&'a crate::claims::live::Live>,
    /// What the task file says, when the live state says otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    file_status: Option<crate::task::Status>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let mut task = store.read_task(&args.id)?;
    let cache = ctx.cache_about(&store, &[&task.id])?;
    let claims = crate::claims::read(&store.repo)?;
    let mut blockers = cache.blockers_of(&task.id).map_err(StoreError::from)?;
    super::blocked::merge_blockers(&claims, &mut blockers);
    let mut children = cache.children(&task.id).map_err(StoreError::from)?;
    claims.merge_into(&mut children);
    let claim = claims.claims.get(task.id.as_str());
    let live = claims.live.get(task.id.as_str());
    let file = task.status;
    task.status = claims.status_of(&task);
    let file_status = (file != task.status).then_some(file);
    if ctx.ui.json {
        ctx.ui.json_value(&Shown {
            task: &task,
            blocked_by: &blockers,
            children: children.iter().map(|c| c.id.as_str()).collect(),
            claim,
            live,
            file_status,
        })?;
        return Ok(());
    }
    let ui = &mut ctx.ui;
    ui.line(format!(
        "{}  {}",
        paint(ui::ID, &task.id),
        paint(ui::BOLD, &task.title)
    ))?;
    ui.line(format!(
        "status:     {}    priority: P{}    kind: {}",
        paint(super::status_style(task.status), task.status),
        task.priority,
        task.kind.as_str()
    ))?;
    let field = |name: &str, value: String| format!("{:<11} {value}", format!("{name}:"));
    if let Some(p) = &task.parent {
        ui.line(field("parent", p.to_string()))?;
    }
    if !task.other_parents.is_empty() {
        ui.line(field("parents", task.other_parents.join(", ")))?;
    }
    if !task.deps.is_empty() || !task.external_deps.is_empty() {
        let all: Vec<&str> = (task.deps.iter().map(|d| d.as_str()))
            .chain(task.external_deps.iter().map(String::as_str))
            .collect();
        ui.line(field("deps", all.join(", ")))?;
    }
    if !task.links.is_empty() {
        ui.line(field("links", task.links.join(", ")))?;
    }
    if let Some(d) = &task.defer_until {
        ui.line(field("deferred", format!("until {d}")))?;
    }
    if task.template {
        ui.line(field("template", "yes (never ready, never blocks)".into()))?;
    }
    for b in &blockers {
        ui.line(field("blocked", paint(ui::WARN, b)))?;
    }
    if let Some(l) = live {
        let what = match l.state {
            crate::claims::live::Outcome::Escalated => "question",
            crate::claims::live::Outcome::LeftOut => "verdict",
            _ => "reason",
        };
        ui.line(field(
            "live",
            format!(
                "{} by {} at {} (attempts: {})",
                l.state, l.by, l.at, l.attempts
            ),
        ))?;
        if let Some(r) = &l.reason {
            ui.line(field(what, r.trim_end().to_string()))?;
        }
        if let Some(log) = &l.log {
            ui.line(field("log", log.clone()))?;
        }
        for a in &l.answers {
            ui.line(field("answer", format!("{} ({}): {}", a.by, a.at, a.text)))?;
        }
        if l.state.needs_person() {
            ui.line(field(
                "to go on",
                format!(
                    "git batch answer {} TEXT --retry  (or: git batch retry {})",
                    task.id, task.id
                ),
            ))?;
        }
    }
    if let Some(c) = claim {
        let expired = if c.is_expired(crate::time::now()) {
            " (expired)"
        } else {
            ""
        };
        ui.line(field(
            "claimed",
            format!(
                "by {} since {}, until {}{expired}",
                c.worker, c.since, c.expires
            ),
        ))?;
    }
    if !task.labels.is_empty() {
        ui.line(field("labels", task.labels.join(", ")))?;
    }
    if !task.scope.is_empty() {
        ui.line(field("scope", task.scope.join("  ")))?;
    }
    if let Some(e) = task.estimate {
        ui.line(field("estimate", e.as_str().into()))?;
    }
    if let Some(b) = &task.batch {
        ui.line(field("batch", b.clone()))?;
    }
    ui.line(field(
        "created",
        format!("{} by {}", task.created, task.created_by),
    ))?;
    ui.line(field("updated", task.updated.clone()))?;
    if let Some(r) = &task.closed_reason {
        ui.line(field("reason", r.clone()))?;
    }
    if let Some(l) = &task.landed {
        ui.line(field("landed", l.clone()))?;
    }
    if !task.acceptance.is_empty() {
        ui.line("acceptance:")?;
        for a in &task.acceptance {
            ui.line(format!("  - {a}"))?;
        }
    }
    if !children.is_empty() {
        ui.line("children:")?;
        for c in &children {
            ui.line(format!("  {}", super::task_line(c)))?;
        }
    }
    if !task.body.trim().is_empty() {
        ui.line("")?;
        ui.line(task.body.trim_end())?;
    }
    if !task.notes.is_empty() {
        ui.line("")?;
        ui.line("notes:")?;
        for n in &task.notes {
            ui.line(format!("  {} {}: {}", paint(ui::DIM, &n.at), n.by, n.text))?;
        }
    }
    Ok(())
}
