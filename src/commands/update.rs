//! `git batch update`: change a task's fields.

use crate::commands::Ctx;
use crate::edit::{self, Edit};
use crate::error::CommandError;
use crate::task::{Estimate, Kind, Status};
use std::path::PathBuf;

/// Change fields of a task; lists are edited with --add-*/--rm-*.
#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
    #[arg(long)]
    pub title: Option<String>,
    /// New description.
    #[arg(short = 'd', long = "body", value_name = "BODY")]
    pub body: Option<String>,
    /// Read the new description from a file (`-` for stdin).
    #[arg(long, value_name = "F")]
    pub body_file: Option<PathBuf>,
    /// Priority 0-4, 0 highest.
    #[arg(short, long, value_name = "N", value_parser = super::values::priority)]
    pub priority: Option<u8>,
    /// open, in_progress, done, closed, failed, escalated or deferred.
    #[arg(long, value_parser = parse_status)]
    pub status: Option<Status>,
    /// task or epic.
    #[arg(long, value_parser = super::create::parse_kind)]
    pub kind: Option<Kind>,
    /// Move the task under another one.
    #[arg(long, value_name = "ID", value_parser = super::values::task_id, conflicts_with = "no_parent")]
    pub parent: Option<String>,
    /// Detach the task from its parent.
    #[arg(long)]
    pub no_parent: bool,
    /// Take the task out of its plan (`batch`), so that another plan may
    /// have it.
    #[arg(long)]
    pub no_plan: bool,
    /// S, M or L.
    #[arg(long, value_parser = super::create::parse_estimate)]
    pub estimate: Option<Estimate>,
    /// Add a scope glob, a path from the repository root (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub add_scope: Vec<String>,
    /// Remove a scope glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub rm_scope: Vec<String>,
    /// Add a label (repeatable).
    #[arg(long, value_name = "L")]
    pub add_label: Vec<String>,
    /// Remove a label (repeatable).
    #[arg(long, value_name = "L")]
    pub rm_label: Vec<String>,
    /// Add an acceptance criterion (repeatable).
    #[arg(long, value_name = "TEXT")]
    pub accept: Vec<String>,
    /// Remove an acceptance criterion, given by its exact text (repeatable).
    #[arg(long, value_name = "TEXT")]
    pub rm_accept: Vec<String>,
    /// Claim the task too, as `git batch claim ID` does (beads' `update
    /// --claim`): before any change, so a task another worker holds is
    /// refused (exit 3) with nothing changed.
    #[arg(long)]
    pub claim: bool,
    #[command(flatten)]
    pub worker: super::WorkerArgs,
}

/// `update --claim --json` with changes: the task, and its claim.
#[derive(serde::Serialize)]
struct Claimed<'a> {
    #[serde(flatten)]
    task: &'a crate::task::Task,
    claim: &'a crate::work::claim::Claimed,
}

pub fn parse_status(s: &str) -> Result<Status, String> {
    s.parse()
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let claimed = match args.claim {
        true => {
            let target = crate::work::claim::Target::Id(args.id.clone());
            let cache = ctx.cache_for(&store, &target)?;
            let who = args.worker.claimant(&store)?;
            Some(crate::work::claim::claim(
                &store, &cache, &target, &who, false, None,
            )?)
        }
        false => None,
    };
    let body = super::read_body(args.body, args.body_file.as_deref())?;
    let parent = match (args.parent, args.no_parent) {
        (Some(p), _) => Some(Some(p)),
        (None, true) => Some(None),
        (None, false) => None,
    };
    let edit = Edit {
        title: args.title,
        body,
        priority: args.priority,
        status: args.status,
        kind: args.kind,
        parent,
        estimate: args.estimate.map(Some),
        batch: args.no_plan.then_some(None),
        add_scope: args.add_scope,
        rm_scope: args.rm_scope,
        add_label: args.add_label,
        rm_label: args.rm_label,
        add_accept: args.accept,
        rm_accept: args.rm_accept,
    };
    if let Some(claimed) = &claimed
        && edit == Edit::default()
    {
        // Only the claim: say what `claim` says.
        if ctx.ui.json {
            ctx.ui.json_value(claimed)?;
        } else {
            ctx.ui.line(&claimed.claim.task)?;
            super::claim::say_claimed(ctx, claimed);
        }
        return Ok(());
    }
    let changed = edit::update(&store, &args.id, edit).map_err(super::values::scope_from_flags)?;
    if let Some(claimed) = &claimed {
        if ctx.ui.json {
            return Ok(ctx.ui.json_value(&Claimed {
                task: &changed.task,
                claim: claimed,
            })?);
        }
        super::claim::say_claimed(ctx, claimed);
    }
    if ctx.ui.json {
        ctx.ui.json_value(&changed.task)?;
    } else if changed.changed {
        ctx.ui.done(format!("updated {}", changed.task.id))?;
        ctx.report_commit(&changed.commit, true);
    } else {
        ctx.ui
            .line(format!("{}: nothing to change", changed.task.id))?;
    }
    Ok(())
}
