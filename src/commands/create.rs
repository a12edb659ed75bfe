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
    #[arg(short, long, value_name = "N")]
    pub priority: Option<u8>,
    /// `task` or `epic`.
    #[arg(long, default_value = "task", value_parser = parse_kind)]
    pub kind: Kind,
    /// The epic or task this one belongs to.
    #[arg(long, value_name = "ID")]
    pub parent: Option<String>,
    /// A task that must be closed before this one can start (repeatable).
    #[arg(long = "dep", value_name = "ID")]
    pub deps: Vec<String>,
    /// A gitignore-style glob of files the task may change (repeatable; `!` excludes).
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
}

pub fn parse_kind(s: &str) -> Result<Kind, String> {
    s.parse()
}

pub fn parse_estimate(s: &str) -> Result<Estimate, String> {
    s.parse()
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
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
    )?;
    if ctx.ui.json {
        ctx.ui.json_value(&created.task)?;
    } else {
        ctx.ui.line(&created.task.id)?;
        ctx.report_commit(&created.commit, true);
    }
    Ok(())
}
