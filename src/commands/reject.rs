//! `git batch reject`: a reviewer sends finished work back.

use super::WorkerArgs;
use crate::commands::Ctx;
use crate::error::CommandError;
use crate::task::review::VerdictKind;

/// Reject a task's finished work: the verdict and reason are recorded in
/// the live state, the task is queued again on its kept branch (its claim
/// let go), and the next attempt's context carries the reason.
#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
    /// Why, for the worker's next attempt.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    if args.reason.trim().is_empty() {
        return Err(CommandError::usage("--reason is empty"));
    }
    super::approve::judge(
        ctx,
        std::slice::from_ref(&args.id),
        &args.worker,
        VerdictKind::Rejected,
        Some(args.reason),
    )
}
