//! `git batch receipt`: append to a task's receipt while working.

use super::WorkerArgs;
use crate::commands::Ctx;
use crate::error::CommandError;
use crate::work::{receipt, worktree};

/// Append timestamped lines (`<time> <worker> <text>`) to the task's receipt
/// in its worktree; each line is on disk when the command returns.
///
/// `git batch receipt [ID] TEXT...`: the ID may be left out inside a worker
/// worktree. A TEXT of `-` reads lines from standard input.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(required = true, value_name = "ID_OR_TEXT", help = "[ID] TEXT...")]
    pub words: Vec<String>,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

#[derive(serde::Serialize)]
struct Appended {
    id: String,
    path: std::path::PathBuf,
    lines: usize,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let current = worktree::current_task(&store);
    let mut words = args.words;
    // The first word is the task when it names one (or when there is no
    // current task to default to).
    let first_is_id = words.len() > 1
        && crate::task::id::validate_id(&words[0]).is_ok()
        && (store.exists(&words[0]) || current.is_none());
    let id = if first_is_id {
        words.remove(0)
    } else {
        worktree::task_or_current(&store, None)?
    };
    if !store.exists(&id) {
        ctx.check_exists(&store, &id)?;
    }
    let path = receipt::location(&store, &id)?;
    let worker = args.worker.name_for(&store, &id);
    let lines = if words == ["-"] {
        receipt::append_stream(&path, &worker, std::io::stdin().lock())?
    } else {
        receipt::append(&path, &worker, [words.join(" ")])?
    };
    if ctx.ui.json {
        ctx.ui.json_value(&Appended { id, path, lines })?;
    }
    Ok(())
}
