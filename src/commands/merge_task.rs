//! `git batch merge-task %O %A %B [%P]`: the merge driver git runs for task
//! files (`.batch/.gitattributes` names it, `init` and every command that
//! opens the store set its command in the clone's git config).

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::store::merge::{self, Driven};
use std::path::PathBuf;

/// Merge two versions of a task file field by field (run by git during a
/// merge, pull or rebase; not meant to be typed). Notes of both sides are
/// kept in time order, labels are merged, a field changed on one side is
/// taken from it; a field changed on both goes to its owner: status,
/// failure, closed_reason and landed to theirs, the rest to ours. The
/// result replaces OURS. Exit 1, with git's conflict markers in OURS, when a
/// version does not read as a task.
#[derive(Debug, clap::Args)]
#[command(hide = true)]
pub struct Args {
    /// The common ancestor's version (%O; empty when added on both sides).
    pub base: PathBuf,
    /// Our version (%A), replaced by the result.
    pub ours: PathBuf,
    /// Their version (%B).
    pub theirs: PathBuf,
    /// The file's path in the repository (%P), whose name is the task id.
    pub path: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    // No store: git runs this mid-merge, where nothing may fetch, commit or
    // refresh caches, and the files are git's temporary copies.
    let name = args.path.clone().unwrap_or_else(|| "task file".into());
    let (base, ours, theirs) = (
        ctx.dir.join(&args.base),
        ctx.dir.join(&args.ours),
        ctx.dir.join(&args.theirs),
    );
    let driven = merge::merge_driver(&ctx.dir, &base, &ours, &theirs, args.path.as_deref())?;
    match driven {
        Driven::Merged(clashes) => {
            if ctx.ui.json {
                ctx.ui
                    .json_value(&serde_json::json!({ "path": name, "clashes": clashes }))?;
            }
            for c in &clashes {
                ctx.ui.warn(format!(
                    "{name}: {}",
                    super::clash_line(c, "ours", "theirs")
                ));
            }
            Ok(())
        }
        Driven::Conflict(why) => Err(CommandError::user(format!(
            "{name}: cannot merge it field by field ({why}); left with git's conflict markers"
        ))
        .hint("fix the file so that it reads as a task, then `git add` it")),
    }
}
