//! `git batch reopen`: put closed, failed, escalated or deferred tasks back to open.

use crate::commands::Ctx;
use crate::edit::{self, Changed};
use crate::error::CommandError;

/// Reopen one or more tasks (one commit for all).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tasks to reopen.
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let changed = edit::reopen(&store, &args.ids)?;
    // Open means ready again in every clone: a live failure or question
    // would still hold it back (the answers are kept for the next attempt).
    crate::work::live::retry(&store, &args.ids, &crate::work::claim::person(&store))?;
    print_changes(ctx, &changed, "open")
}

/// Shared by close and reopen: the tasks as JSON, or a line per task.
pub fn print_changes(ctx: &mut Ctx, changed: &[Changed], state: &str) -> Result<(), CommandError> {
    if ctx.ui.json {
        ctx.ui.json_value(changed)?;
        return Ok(());
    }
    for c in changed {
        if c.changed {
            ctx.ui.done(format!("{} is now {state}", c.task.id))?;
        } else {
            ctx.ui
                .line(format!("{} was already {state}; unchanged", c.task.id))?;
        }
    }
    let commit = changed.iter().find_map(|c| c.commit.clone());
    ctx.report_commit(&commit, changed.iter().any(|c| c.changed));
    Ok(())
}
