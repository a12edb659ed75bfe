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
    #[arg(long, value_name = "ID", value_parser = super::values::task_id)]
    pub parent: Option<String>,
    /// Only tasks with this label.
    #[arg(long, short = 'l', value_name = "L")]
    pub label: Option<String>,
    /// Include closed tasks.
    #[arg(long, short = 'a')]
    pub all: bool,
    /// Only tasks whose claim this worker holds (its `--worker` name, as
    /// `claims` shows it).
    #[arg(long, value_name = "WORKER")]
    pub assignee: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    if let Some(parent) = &args.parent {
        ctx.check_exists(&store, parent)?;
    }
    let cache = ctx.cache(&store)?;
    // Statuses as every clone sees them: the files merged with the live
    // state, so a task escalated on a worker branch lists as escalated here.
    let live = crate::claims::read(&store.repo)?;
    let mut statuses = args.status.clone();
    if !statuses.is_empty() {
        // The live state and claims change what open files show as.
        statuses.extend([Status::Open, Status::InProgress]);
    }
    let mut tasks = cache
        .list(&ListFilter {
            statuses,
            all: args.all,
            parent: args.parent,
            label: args.label,
        })
        .map_err(crate::store::StoreError::from)?;
    live.merge_into(&mut tasks);
    if let Some(who) = &args.assignee {
        tasks.retain(|t| {
            live.claims
                .get(t.id.as_str())
                .is_some_and(|c| &c.worker == who)
        });
    }
    if !args.status.is_empty() {
        tasks.retain(|t| args.status.contains(&t.status));
    }
    super::print_tasks(ctx, &tasks)
}
