//! `git batch man`: the man page, generated from the same definitions as `--help`.

use crate::commands::{Cli, Ctx};
use crate::error::CommandError;
use clap::CommandFactory;
use std::path::PathBuf;

/// Print the git-batch(1) man page in roff, or write one page per command into DIR.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write `git-batch.1` and `git-batch-<command>.1` into this directory.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let cmd = Cli::command().name("git-batch");
    match args.out_dir {
        None => clap_mangen::Man::new(cmd).render(ctx.ui.out())?,
        Some(dir) => {
            std::fs::create_dir_all(&dir)?;
            clap_mangen::generate_to(cmd, &dir)?;
            ctx.ui
                .status(format!("wrote man pages into {}", dir.display()));
        }
    }
    Ok(())
}
