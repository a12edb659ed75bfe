//! `git batch list`: tasks by status, parent or label.

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::store::ListFilter;
use crate::task::Status;

/// List tasks, highest priority first (closed ones hidden unless --all or asked for).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only tasks with this status (repeatable).
    #[arg(long, short = 's', value_parser = super::update::parse_status, value_name = "S")]
    pub status: Vec<Status>,
    /// Only the direct children of this task.
    #[arg(long, value_name = "ID")]
    pub parent: Option<String>,
    /// Only tasks with this label.
    #[arg(long, short = 'l', value_name = "L")]
    pub label: Option<String>,
    /// Include closed tasks.
    #[arg(long, short = 'a')]
    pub all: bool,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    if let Some(parent) = &args.parent {
        ctx.check_exists(&store, parent)?;
    }
    let cache = ctx.cache(&store)?;
    let tasks = cache
        .list(&ListFilter {
            statuses: args.status,
            all: args.all,
            parent: args.parent,
            label: args.label,
        })
        .map_err(crate::store::StoreError::from)?;
    super::print_tasks(ctx, &tasks)
}
