//! `git batch completions`: shell completion scripts.

use crate::commands::{Cli, Ctx};
use crate::error::CommandError;
use clap::CommandFactory;

/// Print a completion script for SHELL (e.g. `git batch completions bash > ~/.local/share/bash-completion/completions/git-batch`).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "git-batch", ctx.ui.out());
    Ok(())
}
