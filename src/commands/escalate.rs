//! `git batch escalate`: hand a task to a human with a question.
//!
//! It takes the same arguments as `fail` and differs only in the status it
//! sets (`escalated`: the task needs a human decision).

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::task::Status;

pub type Args = super::fail::Args;

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    super::fail::give_up(ctx, args, Status::Escalated)
}
