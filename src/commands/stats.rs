//! `git batch stats`: how many tasks there are, by status, priority and kind.

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::store::ListFilter;

/// Count every task (closed ones included) by status, priority and kind;
/// statuses as every clone sees them, as `list` shows them.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(ctx: &mut Ctx, _args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let cache = ctx.cache(&store)?;
    let mut tasks = cache
        .list(&ListFilter {
            all: true,
            ..ListFilter::default()
        })
        .map_err(crate::store::StoreError::from)?;
    crate::claims::read(&store.repo)?.merge_into(&mut tasks);
    let stats = crate::report::stats::count(&tasks);
    if ctx.ui.json {
        return Ok(ctx.ui.json_value(&stats)?);
    }
    ctx.ui.line(format!("total     {}", stats.total))?;
    let row = |counts: Vec<(String, usize)>| {
        counts
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    // In the order of a task's life, not the map's.
    let status = row(crate::task::Status::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), stats.status[s.as_str()]))
        .collect());
    let priority = row(stats
        .priority
        .iter()
        .map(|(k, n)| (format!("P{k}"), *n))
        .collect());
    let kind = row(stats
        .kind
        .iter()
        .map(|(k, n)| (k.to_string(), *n))
        .collect());
    for (name, counts) in [("status", status), ("priority", priority), ("kind", kind)] {
        if !counts.is_empty() {
            ctx.ui.line(format!("{name:<9} {counts}"))?;
        }
    }
    Ok(())
}
