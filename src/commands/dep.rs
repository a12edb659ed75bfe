//! `git batch dep`: add, remove and inspect blocking dependencies.

use crate::commands::Ctx;
use crate::edit;
use crate::error::{CommandError, Exit, Message};
use crate::graph::Node;
use crate::store::StoreError;
use crate::task::Task;
use crate::ui::{self, paint};
use std::collections::{HashMap, HashSet};

/// Dependencies between tasks: blocking ones, and links that do not block.
#[derive(Debug, clap::Subcommand)]
pub enum DepCommand {
    /// Make ID wait until BLOCKER is closed (refused if it would make a cycle);
    /// with `--type related` or `discovered-from` (as bd's `dep add --type`),
    /// a link that does not block instead.
    Add(Edge),
    /// Remove the dependency (or, with `--type`, the link) of ID on BLOCKER.
    Rm(Edge),
    /// Show what ID waits for, recursively.
    Tree { id: String },
    /// List every dependency cycle (exit 1 when there is one).
    Cycles,
}

/// One dependency or link, as `dep add` and `dep rm` take it.
#[derive(Debug, clap::Args)]
pub struct Edge {
    pub id: String,
    pub blocker: String,
    /// `blocks`, or a link that does not block: `related`, `discovered-from`,
    /// `relates-to`, `duplicates`, `supersedes`, `replies-to`, `tracks`,
    /// `caused-by`, `validates`.
    #[arg(
        long = "type",
        short = 't',
        default_value = "blocks",
        value_name = "TYPE"
    )]
    pub kind: String,
}

#[derive(serde::Serialize)]
struct TreeNode {
    id: String,
    title: Option<String>,
    status: Option<String>,
    /// Already shown higher up (a diamond), or part of a cycle.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    repeated: bool,
    deps: Vec<TreeNode>,
}

pub fn run(ctx: &mut Ctx, cmd: DepCommand) -> Result<(), CommandError> {
    let store = ctx.store()?;
    match cmd {
        DepCommand::Add(Edge { id, blocker, kind }) if kind != "blocks" => {
            let changed = edit::link_add(&store, &id, &kind, &blocker)?;
            report(
                ctx,
                &changed,
                format!("{id} is now {kind} {blocker}"),
                "already",
            )
        }
        DepCommand::Rm(Edge { id, blocker, kind }) if kind != "blocks" => {
            let changed = edit::link_rm(&store, &id, &kind, &blocker)?;
            report(
                ctx,
                &changed,
                format!("{id} is no longer {kind} {blocker}"),
                "was not",
            )
        }
        DepCommand::Add(Edge { id, blocker, .. }) => {
            let changed = edit::dep_add(&store, &id, &blocker)?;
            report(
                ctx,
                &changed,
                format!("{id} now waits for {blocker}"),
                "already",
            )
        }
        DepCommand::Rm(Edge { id, blocker, .. }) => {
            let changed = edit::dep_rm(&store, &id, &blocker)?;
            report(
                ctx,
                &changed,
                format!("{id} no longer waits for {blocker}"),
                "did not",
            )
        }
        DepCommand::Tree { id } => {
            store.read_task(&id)?;
            let cache = ctx.cache(&store)?;
            let tasks = cache
                .list(&crate::store::ListFilter {
                    all: true,
                    ..Default::default()
                })
                .map_err(StoreError::from)?;
            let by_id: HashMap<&str, &Task> = tasks.iter().map(|t| (t.id.as_str(), t)).collect();
            let tree = build_tree(&id, &by_id, &mut HashSet::new());
            if ctx.ui.json {
                ctx.ui.json_value(&tree)?;
            } else {
                let mut lines = Vec::new();
                render_tree(&tree, "", true, true, &mut lines);
                for l in lines {
                    ctx.ui.line(l)?;
                }
            }
            Ok(())
        }
        DepCommand::Cycles => {
            let cache = ctx.cache(&store)?;
            let nodes: Vec<Node> = cache.nodes().map_err(StoreError::from)?;
            let cycles = crate::graph::cycles(&nodes);
            if ctx.ui.json {
                ctx.ui.json_value(&cycles)?;
            } else {
                for c in &cycles {
                    ctx.ui.line(c.join(" -> "))?;
                }
            }
            if cycles.is_empty() {
                ctx.ui.status("no dependency cycles");
                Ok(())
            } else {
                Err(CommandError::new(
                    Exit::User,
                    Message(format!("{} dependency cycle(s) found", cycles.len())),
                )
                .hint("break each with `git batch dep rm ID BLOCKER`"))
            }
        }
    }
}

fn report(
    ctx: &mut Ctx,
    changed: &edit::Changed,
    done: String,
    already: &str,
) -> Result<(), CommandError> {
    if ctx.ui.json {
        ctx.ui.json_value(&changed.task)?;
    } else if changed.changed {
        ctx.ui.done(done)?;
        ctx.report_commit(&changed.commit, true);
    } else {
        ctx.ui.done(format!(
            "{}: nothing to change ({already} there)",
            changed.task.id
        ))?;
    }
    Ok(())
}

fn build_tree(id: &str, by_id: &HashMap<&str, &Task>, path: &mut HashSet<String>) -> TreeNode {
    let task = by_id.get(id);
    let repeated = !path.insert(id.to_string());
    let deps = match task {
        Some(t) if !repeated => t.deps.iter().map(|d| build_tree(d, by_id, path)).collect(),
        _ => Vec::new(),
    };
    if !repeated {
        path.remove(id);
    }
    TreeNode {
        id: id.to_string(),
        title: task.map(|t| t.title.clone()),
        status: task.map(|t| t.status.to_string()),
        repeated,
        deps,
    }
}

fn render_tree(node: &TreeNode, prefix: &str, last: bool, root: bool, out: &mut Vec<String>) {
    let branch = if root {
        ""
    } else if last {
        "└── "
    } else {
        "├── "
    };
    let label = match (&node.title, &node.status) {
        (Some(title), Some(status)) => format!("{} {title} [{status}]", paint(ui::ID, &node.id)),
        _ => format!(
            "{} {}",
            paint(ui::ID, &node.id),
            paint(ui::BAD, "(unknown task)")
        ),
    };
    let cycle = if node.repeated { " (cycle)" } else { "" };
    out.push(format!("{prefix}{branch}{label}{cycle}"));
    let child_prefix = if root {
        String::new()
    } else {
        format!("{prefix}{}", if last { "    " } else { "│   " })
    };
    for (i, d) in node.deps.iter().enumerate() {
        render_tree(d, &child_prefix, i + 1 == node.deps.len(), false, out);
    }
}
