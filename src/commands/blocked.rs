//! `git batch blocked`: every blocked task and what blocks it.

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::graph::Blocker;
use crate::store::StoreError;
use crate::task::Task;
use crate::ui::{self, paint};

/// List tasks that cannot start, each with what blocks it.
#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(serde::Serialize)]
struct BlockedTask {
    #[serde(flatten)]
    task: Task,
    blocked_by: Vec<Blocker>,
}

/// A blocker's status as every clone sees it: a dependency that failed or
/// was escalated on its branch says so ("waits for X, which failed").
pub fn merge_blockers(claims: &crate::claims::ClaimSet, blockers: &mut [Blocker]) {
    for b in blockers {
        if let Blocker::Dep { id, status } = b
            && let Some(s) = claims.live.get(id.as_str()).and_then(|l| l.state.status())
        {
            *status = s;
        }
    }
}

pub fn run(ctx: &mut Ctx, _args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let cache = ctx.cache(&store)?;
    let claims = crate::claims::read(&store.repo)?;
    let mut blocked = cache.blocked().map_err(StoreError::from)?;
    for (task, blockers) in &mut blocked {
        task.status = claims.status_of(task);
        merge_blockers(&claims, blockers);
    }
    if ctx.ui.json {
        let out: Vec<BlockedTask> = blocked
            .into_iter()
            .map(|(task, blocked_by)| BlockedTask { task, blocked_by })
            .collect();
        ctx.ui.json_value(&out)?;
        return Ok(());
    }
    for (task, blockers) in &blocked {
        ctx.ui.line(super::task_line(task))?;
        for b in blockers {
            ctx.ui.line(format!("    {} {b}", paint(ui::DIM, "<-")))?;
        }
    }
    if blocked.is_empty() {
        ctx.ui.status("nothing is blocked");
    }
    Ok(())
}
