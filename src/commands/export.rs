//! `git batch export --beads`: write the tasks as a beads issues.jsonl.

use crate::atomic;
use crate::beads;
use crate::commands::Ctx;
use crate::error::CommandError;
use crate::store::{ListFilter, StoreError};
use std::path::PathBuf;

/// Export every task as beads JSONL, to FILE or stdout.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write beads JSONL (to FILE, or stdout when no FILE is given).
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-", required = true)]
    pub beads: Option<PathBuf>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let cache = ctx.cache(&store)?;
    let tasks = cache
        .list(&ListFilter {
            all: true,
            ..ListFilter::default()
        })
        .map_err(StoreError::from)?;
    let text = beads::export(&tasks);
    match args.beads.as_deref() {
        Some(p) if p != std::path::Path::new("-") => {
            atomic::write_atomic(p, text.as_bytes()).map_err(|e| {
                CommandError::context(
                    crate::error::Exit::User,
                    format!("cannot write {}", p.display()),
                    e,
                )
            })?;
            if ctx.ui.json {
                ctx.ui
                    .json_value(&serde_json::json!({ "file": p, "exported": tasks.len() }))?;
            } else {
                ctx.ui
                    .status(format!("exported {} tasks to {}", tasks.len(), p.display()));
            }
        }
        _ => {
            use std::io::Write;
            ctx.ui.out().write_all(text.as_bytes())?;
        }
    }
    Ok(())
}
