//! `git batch create`: a new task with a fresh hash id.

use crate::commands::Ctx;
use crate::edit::{self, NewTask};
use crate::error::CommandError;
use crate::task::{Estimate, Kind};
use std::path::PathBuf;

/// Create a task and print its id (`--json`: the whole task).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What the task is, in one line.
    pub title: String,
    /// The description.
    #[arg(short = 'd', long = "body", value_name = "BODY")]
    pub body: Option<String>,
    /// Read the description from a file (`-` for stdin).
    #[arg(long, value_name = "F")]
    pub body_file: Option<PathBuf>,
    /// Priority 0-4, 0 highest.
    #[arg(short, long, value_name = "N", value_parser = super::values::priority)]
    pub priority: Option<u8>,
    /// `task` or `epic`.
    #[arg(long, default_value = "task", value_parser = parse_kind)]
    pub kind: Kind,
    /// The epic or task this one belongs to.
    #[arg(long, value_name = "ID", value_parser = super::values::task_id)]
    pub parent: Option<String>,
    /// A task that must be closed before this one can start (repeatable).
    #[arg(long = "dep", value_name = "ID", value_parser = super::values::task_id)]
    pub deps: Vec<String>,
    /// A glob of files the task may change, a path from the repository
    /// root (`Cargo.toml` the top-level file, `**/x` any depth, `dir/` a
    /// directory; repeatable; `!` excludes).
    #[arg(long = "scope", value_name = "GLOB")]
    pub scope: Vec<String>,
    /// A success criterion (repeatable).
    #[arg(long = "accept", value_name = "TEXT")]
    pub acceptance: Vec<String>,
    /// A label (repeatable).
    #[arg(long = "label", short = 'l', value_name = "L")]
    pub labels: Vec<String>,
    /// Rough size: S, M or L.
    #[arg(long, value_parser = parse_estimate)]
    pub estimate: Option<Estimate>,
    /// Create it once: a task of the same parent with this key (kept as the
    /// label `key:KEY`) is printed instead of a new one. For workers that
    /// create tasks as they go, so a retry does not make them twice.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
}

pub fn parse_kind(s: &str) -> Result<Kind, String> {
    s.parse()
}

pub fn parse_estimate(s: &str) -> Result<Estimate, String> {
    s.parse()
}

pub fn run(ctx: &mut Ctx, mut args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    if let Some(key) = &args.key {
        if key.trim().is_empty() || key.contains(char::is_whitespace) {
            return Err(CommandError::usage(format!(
                "--key '{key}': a key is one word (no spaces)"
            )));
        }
        let label = format!("key:{key}");
        let cache = ctx.cache(&store)?;
        let same = cache
            .list(&crate::store::ListFilter {
                statuses: Vec::new(),
                all: true,
                parent: None,
                label: Some(label.clone()),
            })
            .map_err(crate::store::StoreError::from)?
            .into_iter()
            .find(|t| t.parent.as_deref() == args.parent.as_deref());
        if let Some(existing) = same {
            if ctx.ui.json {
                ctx.ui.json_value(&existing)?;
            } else {
                ctx.ui.line(&existing.id)?;
                ctx.ui.status(format!(
                    "{} has key {key} already; nothing created",
                    existing.id
                ));
            }
            return Ok(());
        }
        args.labels.push(label);
    }
    let body = super::read_body(args.body, args.body_file.as_deref())?.unwrap_or_default();
    let created = edit::create(
        &store,
        NewTask {
            title: args.title,
            body,
            priority: args.priority,
            kind: args.kind,
            parent: args.parent,
            deps: args.deps,
            scope: args.scope,
            acceptance: args.acceptance,
            labels: args.labels,
            estimate: args.estimate,
            batch: None,
        },
    )
    .map_err(super::values::scope_from_flags)?;
    if ctx.ui.json {
        ctx.ui.json_value(&created.task)?;
    } else {
        ctx.ui.line(&created.task.id)?;
        ctx.report_commit(&created.commit, true);
    }
    Ok(())
}
