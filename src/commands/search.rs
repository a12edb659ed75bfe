//! `git batch search`: the tasks whose title or body says something.

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::store::ListFilter;

/// Tasks whose title or body contains every word of TEXT (any case),
/// highest priority first; closed ones only with --all.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The words to look for.
    #[arg(required = true, num_args = 1.., value_name = "TEXT")]
    pub text: Vec<String>,
    /// Include closed tasks.
    #[arg(long, short = 'a')]
    pub all: bool,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let cache = ctx.cache(&store)?;
    let text = args.text.join(" ");
    if text.trim().is_empty() {
        return Err(CommandError::usage("search: give the words to look for"));
    }
    let mut tasks = cache
        .list(&ListFilter {
            all: args.all,
            ..ListFilter::default()
        })
        .map_err(crate::store::StoreError::from)?;
    tasks.retain(|t| crate::report::stats::matches(t, &text));
    crate::claims::read(&store.repo)?.merge_into(&mut tasks);
    super::print_tasks(ctx, &tasks)?;
    if tasks.is_empty() {
        ctx.ui.status(format!("no task says '{text}'"));
    }
    Ok(())
}
