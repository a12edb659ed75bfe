//! `git batch hooks`: install, remove or inspect the scope-guard hooks.

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::guard::hooks::{self, CLIENT_HOOKS, SERVER_HOOKS};

/// Install, remove or inspect the git hooks that guard scopes.
///
/// Hooks go where git runs them from: `core.hooksPath` when set (husky and
/// similar setups), else the common git dir, which serves every worktree. A
/// hook already there is kept as `<name>.pre-git-batch` and runs first;
/// `uninstall` puts it back.
#[derive(Debug, clap::Subcommand)]
pub enum HooksCommand {
    /// Install the shims (idempotent).
    Install(Which),
    /// Remove the shims and restore what was there before.
    Uninstall(Which),
    /// Show each hook: installed, outdated, foreign or missing, and chained.
    Status(Which),
}

#[derive(Debug, clap::Args)]
pub struct Which {
    /// The server hook (`pre-receive`), for a bare repository that workers
    /// push to.
    #[arg(long)]
    pub server: bool,
}

impl Which {
    fn names(&self) -> &'static [&'static str] {
        if self.server {
            &SERVER_HOOKS
        } else {
            &CLIENT_HOOKS
        }
    }
}

pub fn run(ctx: &mut Ctx, cmd: HooksCommand) -> Result<(), CommandError> {
    let repo = hooks::open_for_hook()?;
    let changes = match cmd {
        HooksCommand::Install(w) => hooks::install(&repo, w.names())?,
        HooksCommand::Uninstall(w) => hooks::uninstall(&repo, w.names())?,
        HooksCommand::Status(w) => {
            let status = hooks::status(&repo, w.names());
            if ctx.ui.json {
                ctx.ui.json_value(&status)?;
            } else {
                for s in &status {
                    let chained = match &s.chained {
                        Some(c) => format!(" (chains to {})", c.display()),
                        None => String::new(),
                    };
                    let state = serde_json::to_value(s.state).expect("a state serializes");
                    ctx.ui.line(format!(
                        "{:<12} {:<10} {}{chained}",
                        s.name,
                        state.as_str().unwrap_or_default(),
                        s.path.display()
                    ))?;
                }
            }
            return Ok(());
        }
    };
    if ctx.ui.json {
        ctx.ui.json_value(&changes)?;
    } else {
        for c in &changes {
            ctx.ui.done(format!(
                "{:<12} {:<9} {}",
                c.name,
                c.action,
                c.path.display()
            ))?;
        }
    }
    Ok(())
}
