//! `git batch ready`: what can be started now, best first.

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::store::StoreError;
use std::collections::HashSet;
use std::io::Write;

/// Open, unclaimed tasks whose blocking dependencies are all closed, with no blocked or
/// deferred ancestor, and not epics with children still open; by priority,
/// then age.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// At most N tasks (0: all).
    #[arg(long, short = 'n', default_value_t = 0, value_name = "N")]
    pub limit: usize,
    /// Only descendants of this task.
    #[arg(long, value_name = "ID", value_parser = super::values::task_id)]
    pub parent: Option<String>,
    /// Only tasks with this label (repeatable: every one of them), e.g.
    /// `--label ready-for-agent` for the tickets a person marked ready.
    #[arg(long = "label", short = 'l', value_name = "L")]
    pub labels: Vec<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    if let Some(parent) = &args.parent {
        ctx.check_exists(&store, parent)?;
    }
    let cache = ctx.cache(&store)?;
    // Claimed tasks, and tasks whose live state waits for a person or a
    // landing, are taken, whatever their file says.
    let claimed: HashSet<String> = crate::claims::taken_ids(&store.repo)?.into_iter().collect();
    if ctx.ui.json {
        // The cache holds each task's JSON: stream it without re-encoding.
        let out = ctx.ui.out();
        out.write_all(b"[")?;
        let mut first = true;
        let written = cache
            .ready_json(
                args.parent.as_deref(),
                &args.labels,
                args.limit,
                &claimed,
                |json| {
                    if !first {
                        out.write_all(b",\n")?;
                    }
                    first = false;
                    out.write_all(json.as_bytes())
                },
            )
            .map_err(StoreError::from)?;
        written?;
        out.write_all(b"]\n")?;
    } else {
        let tasks = cache
            .ready(args.parent.as_deref(), &args.labels, args.limit, &claimed)
            .map_err(StoreError::from)?;
        super::print_tasks(ctx, &tasks)?;
        if tasks.is_empty() {
            ctx.ui.status("no ready tasks");
        }
    }
    Ok(())
}
