//! `git batch man`: the man pages, generated from the same definitions as
//! `--help`, printed, written into a directory, or installed where `man`
//! (and so `git batch --help`, which git turns into `man git-batch`) finds
//! them.

use crate::commands::{Cli, Ctx};
use crate::error::{CommandError, Exit};
use clap::CommandFactory;
use std::path::PathBuf;

/// Print the git-batch(1) man page in roff, write one page per command into
/// DIR, or install them for `man` and `git batch --help`.
///
/// `git batch --help` is git's: it runs `man git-batch`, which finds the
/// pages once `git batch man --install` put them in
/// `~/.local/share/man/man1` (man-db looks there when `~/.local/bin` or
/// `~/.cargo/bin` is on PATH; else add it to MANPATH). `git batch help`
/// prints the same text without man.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write `git-batch.1` and `git-batch-<command>.1` into this directory.
    #[arg(long, value_name = "DIR", conflicts_with = "install")]
    pub out_dir: Option<PathBuf>,
    /// Write the pages into `~/.local/share/man/man1`, where `man` finds them.
    #[arg(long)]
    pub install: bool,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let cmd = without_resets(Cli::command().name("git-batch"));
    let dir = match (args.out_dir, args.install) {
        (Some(dir), _) => dir,
        (None, true) => install_dir()?,
        (None, false) => {
            clap_mangen::Man::new(cmd).render(ctx.ui.out())?;
            return Ok(());
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| {
        CommandError::context(Exit::User, format!("cannot create {}", dir.display()), e)
    })?;
    clap_mangen::generate_to(cmd, &dir).map_err(|e| {
        CommandError::context(
            Exit::User,
            format!("cannot write into {}", dir.display()),
            e,
        )
    })?;
    if ctx.ui.json {
        ctx.ui.json_value(&Written { dir })?;
    } else {
        ctx.ui
            .status(format!("wrote man pages into {}", dir.display()));
        if args.install {
            ctx.ui
                .status("`man git-batch` and `git batch --help` show them now");
        }
    }
    Ok(())
}

/// The command with the style resets of its help texts taken out (see
/// `split`'s `{n}`): roff would print them.
fn without_resets(cmd: clap::Command) -> clap::Command {
    let clean = |text: Option<&clap::builder::StyledStr>| {
        text.map(|t| t.to_string().replace("\x1b[0m", ""))
    };
    let cmd = match clean(cmd.get_long_about()) {
        Some(about) => cmd.long_about(about),
        None => cmd,
    };
    cmd.mut_subcommands(without_resets)
}

/// `man --json`: where the pages went.
#[derive(serde::Serialize)]
struct Written {
    dir: PathBuf,
}

/// `~/.local/share/man/man1`: the per-user man directory man-db searches.
fn install_dir() -> Result<PathBuf, CommandError> {
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/man/man1")),
        None => Err(
            CommandError::user("HOME is not set: no per-user man directory")
                .hint("give the directory: `git batch man --out-dir DIR`"),
        ),
    }
}
