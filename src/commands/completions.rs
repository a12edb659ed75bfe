//! `git batch completions`: shell completion scripts, and the hidden
//! `__complete` the scripts call for task ids from the cache.
//!
//! The scripts are clap_complete's (subcommands, flags, values), with a
//! little glue per shell: task ids where a command takes one, and for bash
//! the `_git_batch` function git's own completion calls for `git batch
//! <TAB>` (zsh's `_git` calls `_git-batch` and fish's git completion
//! `git-batch`'s completions by themselves). clap_complete's dynamic
//! completion would do the ids too, but it is unstable and needs crates not
//! at hand.

use crate::commands::{Cli, Ctx};
use crate::error::CommandError;
use clap::CommandFactory;
use clap_complete::Shell;
use std::io::Write;

/// Print a completion script for SHELL.
///
/// bash: `git batch completions bash > ~/.local/share/bash-completion/completions/git-batch`
/// (git's completion then completes `git batch` too); zsh: into a directory
/// of `$fpath` as `_git-batch`; fish: `~/.config/fish/completions/git-batch.fish`.
/// Task ids complete from this repository's tasks.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(value_enum)]
    pub shell: Shell,
}

/// What the scripts run on TAB (hidden).
#[derive(Debug, clap::Args)]
pub struct CompleteArgs {
    /// Print every open task's id (with `--describe`, a tab and its title),
    /// wherever the words are.
    #[arg(long)]
    pub ids: bool,
    /// Each id followed by a tab and its title (zsh, fish).
    #[arg(long)]
    pub describe: bool,
    /// The command line after `git-batch`, the word being completed last:
    /// the ids are printed only where it wants one.
    #[arg(last = true)]
    pub words: Vec<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let mut cmd = Cli::command();
    // Into memory first: clap_complete panics on a write error, and a
    // closed pipe (`completions bash | head`) must end quietly.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "git-batch", &mut script);
    let script = String::from_utf8_lossy(&script);
    let script = match args.shell {
        Shell::Zsh => zsh_ids(&script),
        // clap_complete 4.6 names a subcommand's case `git__subcmd__batch__...`
        // (the `-` of the program's name made a separator) but selects
        // `git__batch__...`: no subcommand would complete its options.
        Shell::Bash => script.replace("git__subcmd__batch__", "git__batch__"),
        _ => script.into_owned(),
    };
    let out = ctx.ui.out();
    out.write_all(script.as_bytes())?;
    out.write_all(glue(args.shell).as_bytes())?;
    Ok(())
}

/// What a shell's script gets after clap's.
fn glue(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => BASH_GLUE,
        Shell::Zsh => ZSH_GLUE,
        Shell::Fish => FISH_GLUE,
        _ => "",
    }
}

const BASH_GLUE: &str = r#"
# Task ids from this repository where a command takes one, else clap's.
_git_batch_complete() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" ids
    ids=$(git-batch __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
    if [[ -n "$ids" ]]; then
        COMPREPLY=( $(compgen -W "$ids" -- "$cur") )
        return 0
    fi
    _git__batch git-batch "$cur" "$prev"
}
complete -F _git_batch_complete -o bashdefault -o default git-batch

# git's completion calls this for `git batch <TAB>`, with its `words` and
# `cword` (and, since git 2.31, `__git_cmd_idx`, where `batch` is).
_git_batch() {
    local at=${__git_cmd_idx:-1}
    local COMP_WORDS=(git-batch "${words[@]:at+1}")
    local COMP_CWORD=$((cword - at))
    _git_batch_complete
}
"#;

const ZSH_GLUE: &str = r#"
_git_batch_ids() {
    local -a ids
    ids=(${(f)"$(git-batch __complete --ids --describe 2>/dev/null)"})
    ids=(${ids/$'\t'/:})
    _describe -t tasks 'task' ids
}
"#;

const FISH_GLUE: &str = r#"
# Task ids from this repository where a command takes one.
complete -c git-batch -f -n 'test -n "$(git-batch __complete -- (commandline -opc)[2..] (commandline -ct) 2>/dev/null)"' -a '(git-batch __complete --describe -- (commandline -opc)[2..] (commandline -ct) 2>/dev/null)'
"#;

/// zsh: clap leaves a value to `_default` (files); a task id's is
/// completed by `_git_batch_ids`. A task id is what takes the value name
/// `ID` or is called `id`, `ids` or `blocker`.
fn zsh_ids(script: &str) -> String {
    let ids = regex::Regex::new(r"(?m)(:(?:ID|id|ids|blocker)(?: -- [^:']*)?):_default'")
        .expect("a valid regex");
    ids.replace_all(script, "$1:_git_batch_ids'").into_owned()
}

/// `__complete`: the task ids, one a line, when the word being completed
/// is one (or `--ids`); nothing otherwise, or outside a repository.
pub fn run_complete(ctx: &mut Ctx, args: CompleteArgs) -> Result<(), CommandError> {
    if !args.ids {
        let mut cmd = Cli::command();
        cmd.build();
        if !wants_id(&cmd, &args.words) {
            return Ok(());
        }
    }
    // Store::open, not ctx.store(): a TAB sets no git config and fetches
    // nothing.
    let Ok(store) = crate::store::Store::open(&ctx.dir) else {
        return Ok(());
    };
    let Ok((cache, _broken)) = store.cache() else {
        return Ok(());
    };
    let tasks = cache
        .list(&crate::store::ListFilter::default())
        .map_err(crate::store::StoreError::from)?;
    for t in tasks {
        let line = match args.describe {
            // A title is one line, but a tab would end the id's column.
            true => format!("{}\t{}", t.id, t.title.replace(['\t', '\n'], " ")),
            false => t.id.to_string(),
        };
        ctx.ui.line(line)?;
    }
    Ok(())
}

/// Whether the last of `words` (after `git-batch`) is where a task id goes:
/// the value of an id flag (`--parent`, `--dep`), or an id argument of the
/// command the earlier words name.
fn wants_id(root: &clap::Command, words: &[String]) -> bool {
    let Some((current, before)) = words.split_last() else {
        return false;
    };
    if current.starts_with('-') {
        return false;
    }
    let mut cmd = root;
    let mut positionals = 0;
    let mut value_of: Option<&clap::Arg> = None;
    for word in before {
        if value_of.take().is_some() {
            continue;
        }
        let flag = if let Some(long) = word.strip_prefix("--") {
            (!long.is_empty() && !long.contains('='))
                .then(|| cmd.get_arguments().find(|a| a.get_long() == Some(long)))
                .flatten()
        } else if let Some(short) = word.strip_prefix('-').filter(|s| s.chars().count() == 1) {
            let c = short.chars().next();
            cmd.get_arguments().find(|a| a.get_short() == c)
        } else {
            None
        };
        if word.starts_with('-') {
            value_of = flag.filter(|a| a.get_action().takes_values());
            continue;
        }
        match cmd.find_subcommand(word) {
            Some(sub) if positionals == 0 => cmd = sub,
            _ => positionals += 1,
        }
    }
    if let Some(arg) = value_of {
        return is_id(arg);
    }
    let args: Vec<&clap::Arg> = cmd.get_positionals().collect();
    let at = args.get(positionals).or_else(|| {
        args.last()
            .filter(|a| a.get_num_args().is_some_and(|n| n.max_values() > 1))
    });
    at.is_some_and(|a| is_id(a))
}

fn is_id(arg: &clap::Arg) -> bool {
    let named = |n: &str| matches!(n, "ID" | "id" | "ids" | "blocker");
    named(arg.get_id().as_str())
        || arg
            .get_value_names()
            .is_some_and(|names| names.iter().any(|n| named(n.as_str())))
}
