//! `git batch hook NAME ARGS...`: what the installed hook shims run.

use crate::commands::Ctx;
use crate::error::{CommandError, Exit};
use crate::guard::{GuardError, Problem, check, commit, hooks};
use crate::store::Store;
use std::io::Read;

/// Run one scope-guard hook (called by the shims in the hooks directory;
/// not meant to be typed). Runs the hook it replaced first, if any.
#[derive(Debug, clap::Args)]
#[command(hide = true)]
pub struct Args {
    /// pre-commit, commit-msg, pre-push or pre-receive.
    pub name: String,
    /// The arguments git gave the hook.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    if hooks::shim(&args.name).is_none() {
        return Err(GuardError::UnknownHook { name: args.name }.into());
    }
    let mut input = Vec::new();
    if matches!(args.name.as_str(), "pre-push" | "pre-receive") {
        std::io::stdin().read_to_end(&mut input)?;
    }
    let repo = hooks::open_for_hook()?;
    let code = hooks::run_chained(&repo, &args.name, &args.args, &input)?;
    if code != 0 {
        return Err(CommandError::user(format!(
            "the {} hook that was there before git-batch's failed (exit {code})",
            args.name
        )));
    }
    let input = String::from_utf8_lossy(&input);
    let problems: Vec<Problem> = match args.name.as_str() {
        "pre-receive" => {
            let mut problems = Vec::new();
            for line in input.lines() {
                let parts: Vec<&str> = line.split_whitespace().collect();
                let [old, new, refname] = parts[..] else {
                    continue;
                };
                let (Ok(old), Ok(new)) = (git2::Oid::from_str(old), git2::Oid::from_str(new))
                else {
                    continue;
                };
                problems.extend(check::check_update(&repo, old, new, refname)?.problems);
            }
            problems
        }
        name => {
            // Client hooks run in a working tree that has `.batch/`.
            let store = match Store::open(&ctx.dir) {
                Ok(store) => store,
                Err(crate::store::StoreError::NotInitialized { .. }) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            match name {
                "pre-commit" => commit::pre_commit(&store)?,
                "commit-msg" => {
                    let file = args
                        .args
                        .first()
                        .ok_or_else(|| CommandError::usage("commit-msg needs the message file"))?;
                    commit::commit_msg(&store, std::path::Path::new(file))?;
                    Vec::new()
                }
                _ => commit::pre_push(&store, &input),
            }
        }
    };
    if problems.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    let hint = match args.name.as_str() {
        "pre-commit" => {
            "unstage those files (`git restore --staged FILE`) or fix the task files; `--no-verify` does not help: `git batch land` and `check --range` check again"
        }
        "pre-push" => "leave the branch local: `git batch land` integrates it",
        _ => "push only changes inside each task's scope",
    };
    Err(CommandError::new(
        Exit::User,
        crate::error::Message(format!("{} refused:\n{}", args.name, list.join("\n"))),
    )
    .hint(hint))
}
