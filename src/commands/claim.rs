//! `git batch claim`: take a task (or the next free one) for a worker.

use super::{TargetArgs, WorkerArgs};
use crate::commands::Ctx;
use crate::error::CommandError;
use crate::work::claim;

/// Claim a task so no other worker takes it or touches its files.
///
/// A claim lives in `refs/batch/claims` (or on the shared remote) until the
/// task lands, is released, or expires and is stolen. Exits 3 when another
/// worker holds the task or a claim whose scope overlaps it.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Take over an expired claim (never a live one).
    #[arg(long, conflicts_with = "next")]
    pub steal: bool,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let target = args.target.target(ctx, &store)?;
    let cache = ctx.cache_for(&store, &target)?;
    let who = args.worker.claimant(&store)?;
    let claimed = claim::claim(&store, &cache, &target, &who, args.steal, None)?;
    super::warn_skipped(ctx, &claimed.skipped);
    if ctx.ui.json {
        ctx.ui.json_value(&claimed)?;
    } else {
        ctx.ui.line(&claimed.claim.task)?;
        say_claimed(ctx, &claimed);
    }
    Ok(())
}

/// The status line of a claim taken, renewed or stolen.
pub fn say_claimed(ctx: &mut Ctx, claimed: &claim::Claimed) {
    let verb = if claimed.renewed {
        "renewed"
    } else if claimed.stolen_from.is_some() {
        "stolen"
    } else {
        "claimed"
    };
    ctx.ui.status(format!(
        "{verb} {} for {} until {}",
        claimed.claim.task, claimed.claim.worker, claimed.claim.expires
    ));
}
