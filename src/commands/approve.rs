//! `git batch approve`: a reviewer approves finished work.

use super::WorkerArgs;
use crate::commands::Ctx;
use crate::error::CommandError;
use crate::plan::verdict::{self, Verdicts};
use crate::task::review::{Verdict, VerdictKind};

/// Approve tasks' work: recorded in the live state (every clone sees it),
/// and in the task file when it lands (`land --approved` lands only
/// approved work). Landed tasks take the verdict in their file. A plan
/// whose every task has a verdict (or was carried over) becomes `reviewed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    judge(ctx, &args.ids, &args.worker, VerdictKind::Approved, None)
}

/// Records one verdict on `ids` and reports it (shared with `reject`).
pub fn judge(
    ctx: &mut Ctx,
    ids: &[String],
    worker: &WorkerArgs,
    kind: VerdictKind,
    reason: Option<String>,
) -> Result<(), CommandError> {
    let store = ctx.store()?;
    for id in ids {
        ctx.check_exists(&store, id)?;
    }
    let who = worker.person(&store)?;
    let given = Verdict {
        verdict: kind,
        by: who.worker.clone(),
        at: crate::time::now_text(),
        reason,
    };
    let done: Verdicts = verdict::give(&store, ids, &who, &given)?;
    if ctx.ui.json {
        ctx.ui.json_value(&done)?;
        return Ok(());
    }
    for t in &done.tasks {
        let then = if t.queued_again {
            ": back to its worker, with the reason"
        } else {
            ""
        };
        ctx.ui.done(format!("{} {}{then}", t.id, t.verdict))?;
    }
    for p in &done.reviewed_plans {
        ctx.ui
            .status(format!("plan {p} is reviewed: every task has a verdict"));
    }
    ctx.report_commit(&done.commit, done.commit.is_some());
    Ok(())
}
