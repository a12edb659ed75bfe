//! `git batch prime`: the instructions an agent needs to work here.

use crate::commands::Ctx;
use crate::error::CommandError;

/// Print the instructions an agent needs to work in this repository: how to
/// take a task, stay in its scope, write receipts and finish. Start any
/// agent CLI with it as its prompt (or part of it). Inside a worker
/// worktree it names the task at hand.
#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(serde::Serialize)]
struct Prime {
    main_branch: String,
    prefix: String,
    task: Option<String>,
    text: String,
}

pub fn run(ctx: &mut Ctx, _args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let task = crate::work::worktree::current_task(&store);
    let text = crate::report::prime::text(&store, task.as_deref());
    if ctx.ui.json {
        ctx.ui.json_value(&Prime {
            main_branch: store.config.main_branch.clone(),
            prefix: store.config.prefix.clone(),
            task,
            text,
        })?;
    } else {
        ctx.ui
            .out()
            .write_all(crate::ui::terminal_safe(&text).as_bytes())?;
    }
    Ok(())
}

use std::io::Write;
