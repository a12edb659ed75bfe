//! `git batch split`: one task per chunk of items read from stdin.

use super::plan::PlanConfigArgs;
use crate::commands::Ctx;
use crate::edit::NewTask;
use crate::error::CommandError;
use crate::plan::NewPlan;
use crate::plan::split::{self, Chunking};
use crate::task::{Estimate, Kind};
use std::io::{BufRead, IsTerminal};

/// Make one task per chunk of the items read from stdin (one per line), in
/// one commit.
///
/// Chunks are N items each (--size, default 1), or grouped by the first
/// capture group of a regex (--by), or by the month of the first YYYY-MM
/// date anywhere in the item (--by-month). With --scope-from-items each
/// item is a path and the chunk's paths are its scope, so the tasks are
/// independent by construction:
///
///   git ls-files ':(glob)src/**/*.rs' | git batch split --size 20 --scope-from-items
///       --title 'Port {first}..{last} to the new API' --plan port
///
// clap turns every `{n}` of a help text into a line break: a style reset
// between its characters, which a terminal shows as nothing and clap
// strips from a pipe, keeps the field's name (`man` takes it out).
#[doc = "The title template can use {\x1b[0mn} (chunk number), {count} (its items),"]
/// {first}, {last} and {key} (the group's key, or the chunk number).
/// --scope globs are templates too, filled per chunk with the values taken
/// literally ({key} needs --by or --by-month). With --plan the plan of the
/// new tasks is written in the same commit. --align PLAN makes chunk k
/// depend on task k of an earlier plan, for the phases of a pipeline:
///
///   git batch split --by-month --title 'Reduce {key}'
///       --scope 'out/{key}/**' --align extract --plan reduce < months
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The title of each task, a template.
    #[arg(long, value_name = "TEMPLATE")]
    pub title: String,
    /// Items per task.
    #[arg(long, value_name = "N", conflicts_with_all = ["by", "by_month"])]
    pub size: Option<usize>,
    /// Group items by the first capture group of this regex (the whole
    /// match when it has none).
    #[arg(long, value_name = "REGEX", conflicts_with = "by_month")]
    pub by: Option<String>,
    /// Group items by the month of the first YYYY-MM date in each.
    #[arg(long)]
    pub by_month: bool,
    /// Each item is a path: the chunk's paths become its scope.
    #[arg(long)]
    pub scope_from_items: bool,
    /// The parent of every new task.
    #[arg(long, value_name = "ID", value_parser = super::values::task_id)]
    pub parent: Option<String>,
    /// Also write the plan NAME of the new tasks.
    #[arg(long, value_name = "NAME")]
    pub plan: Option<String>,
    /// With --plan: write it even when the check finds problems.
    #[arg(long, requires = "plan")]
    pub force: bool,
    /// Text put before the item list in every task's body.
    #[arg(short = 'd', long = "body", value_name = "BODY")]
    pub body: Option<String>,
    /// A scope glob every task gets, a template like the title
    /// (repeatable).
    #[arg(long = "scope", value_name = "GLOB")]
    pub scope: Vec<String>,
    /// Chunk k depends on task k of this earlier plan (the same number of
    /// chunks as it has tasks).
    #[arg(long, value_name = "PLAN")]
    pub align: Option<String>,
    /// A success criterion every task gets (repeatable).
    #[arg(long = "accept", value_name = "TEXT")]
    pub acceptance: Vec<String>,
    /// A label every task gets (repeatable).
    #[arg(long = "label", short = 'l', value_name = "L")]
    pub labels: Vec<String>,
    /// Priority 0-4 of every task.
    #[arg(short, long, value_name = "N", value_parser = super::values::priority)]
    pub priority: Option<u8>,
    /// Rough size of every task: S, M or L.
    #[arg(long, value_parser = super::create::parse_estimate)]
    pub estimate: Option<Estimate>,
    #[command(flatten)]
    pub config: PlanConfigArgs,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let mut store = ctx.store()?;
    let how = match (&args.by, args.by_month, args.size) {
        (Some(re), _, _) => Chunking::By(
            regex::Regex::new(re).map_err(|e| CommandError::usage(format!("--by: {e}")))?,
        ),
        (None, true, _) => Chunking::Month,
        (None, false, n) => Chunking::Size(n.unwrap_or(1)),
    };
    for glob in &args.scope {
        if let Some(field) = split::missing_field(glob, &how) {
            return Err(CommandError::usage(format!(
                "--scope '{glob}': {field} needs --by or --by-month (fixed-size chunks have no key)"
            )));
        }
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(CommandError::usage(
            "split reads its items from stdin, one per line (e.g. `git ls-files | git batch split ...`)",
        ));
    }
    let items: Vec<String> = stdin
        .lock()
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|e| CommandError::context(crate::error::Exit::User, "reading stdin", e))?;
    let chunks = split::chunk(&items, &how)?;
    if let Some(parent) = &args.parent {
        ctx.check_exists(&store, parent)?;
    }
    let align = match &args.align {
        Some(name) => Some(crate::plan::Plan::read(&store, name)?),
        None => None,
    };
    let base = NewTask {
        title: String::new(),
        body: args.body.clone().unwrap_or_default(),
        priority: args.priority,
        kind: Kind::Task,
        parent: args.parent.clone(),
        deps: Vec::new(),
        scope: args.scope.clone(),
        acceptance: args.acceptance.clone(),
        labels: args.labels.clone(),
        estimate: args.estimate,
        batch: None,
    };
    let plan = match &args.plan {
        Some(name) => Some(NewPlan {
            name: name.clone(),
            config: args.config.config(&store)?,
            gates: Vec::new(),
            carry_from: None,
            force: args.force,
        }),
        None => None,
    };
    let made = split::split(
        &mut store,
        &chunks,
        &args.title,
        &base,
        args.scope_from_items,
        align.as_ref(),
        plan.as_ref(),
    )?;
    if ctx.ui.json {
        ctx.ui.json_value(&made)?;
        return Ok(());
    }
    for t in &made.tasks {
        ctx.ui.line(format!("{}  {}", t.id, t.title))?;
    }
    if let Some(p) = &made.plan {
        for w in p.forced.iter().chain(&p.warnings) {
            ctx.ui.warn(w);
        }
        ctx.ui.status(format!(
            "plan {}: {} task(s) in {}",
            p.plan.name,
            p.plan.tasks.len(),
            p.path
        ));
    }
    ctx.ui.status(format!(
        "split {} item(s) into {} task(s)",
        chunks.iter().map(|c| c.items.len()).sum::<usize>(),
        made.tasks.len()
    ));
    ctx.report_commit(&made.commit, true);
    Ok(())
}
