//! `git batch note`: append a note to a task.

use crate::commands::Ctx;
use crate::edit;
use crate::error::CommandError;

/// Append a note (a comment, a finding, a reason) to a task's notes.
#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
    /// The note's text.
    pub text: String,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let changed = edit::note(&store, &args.id, &args.text)?;
    // On an escalated task a note is an answer: every clone sees it, and
    // the next attempt gets it.
    let escalated = crate::claims::read(&store.repo).ok().is_some_and(|s| {
        s.live
            .get(&args.id)
            .is_some_and(|l| l.state == crate::claims::live::Outcome::Escalated)
    });
    if escalated {
        let who = crate::work::claim::person(&store);
        crate::work::live::answer(&store, &args.id, &who, &args.text, false)?;
    }
    if ctx.ui.json {
        ctx.ui.json_value(&changed.task)?;
    } else {
        ctx.ui.done(format!("noted on {}", changed.task.id))?;
        ctx.report_commit(&changed.commit, true);
    }
    Ok(())
}
