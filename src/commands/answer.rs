//! `git batch answer`: a person's answer to an escalated (or failed) task.

use super::WorkerArgs;
use crate::commands::Ctx;
use crate::edit;
use crate::error::CommandError;

/// Answer a task's question: the answer is kept in the live state (every
/// clone sees it after a fetch) and as a note in the task file, and the next
/// attempt's context file carries the question and every answer. With
/// --retry the task is queued again at once (else: `git batch retry ID`).
#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
    /// The answer.
    pub text: String,
    /// Queue the task again now.
    #[arg(long)]
    pub retry: bool,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

#[derive(serde::Serialize)]
struct Answered {
    id: String,
    state: crate::claims::live::Outcome,
    answers: usize,
    commit: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    ctx.check_exists(&store, &args.id)?;
    if args.text.trim().is_empty() {
        return Err(CommandError::usage("the answer is empty"));
    }
    let who = args.worker.person(&store)?;
    let live = crate::work::live::answer(&store, &args.id, &who, &args.text, args.retry)?;
    let noted = edit::note(&store, &args.id, &format!("answer: {}", args.text))?;
    if ctx.ui.json {
        ctx.ui.json_value(&Answered {
            id: args.id.clone(),
            state: live.state,
            answers: live.answers.len(),
            commit: noted.commit.clone(),
        })?;
        return Ok(());
    }
    let then = if args.retry {
        "; queued again"
    } else {
        "; `git batch retry` queues it again"
    };
    ctx.ui.done(format!("answered {}{then}", args.id))?;
    ctx.report_commit(&noted.commit, true);
    Ok(())
}
