//! `git batch init`: create `.batch/` (idempotent).

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::guard::hooks;
use crate::store::Store;

/// Create .batch/ in this repository (config, tasks/, receipts/, .gitattributes).
///
/// Safe to run again: whatever exists is kept, whatever is missing is added.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Prefix of new task ids, e.g. `bt` gives `bt-3k9f` (default: bt).
    #[arg(long, value_name = "P", value_parser = super::values::prefix)]
    pub prefix: Option<String>,
    /// Do not install the scope-guard git hooks (`git batch hooks install`).
    #[arg(long)]
    pub no_hooks: bool,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    refuse_migration_under_claims(ctx)?;
    let report = Store::init(&ctx.dir, args.prefix.as_deref(), ctx.no_commit)?;
    let repo = crate::git::discover(&ctx.dir)?;
    if crate::git::merge_driver::ensure(&repo)? {
        ctx.ui.status(format!(
            "set the task file merge driver in the git config (merge.{}.driver)",
            crate::git::merge_driver::NAME
        ));
    }
    if !args.no_hooks {
        for change in hooks::install(&repo, &hooks::CLIENT_HOOKS)? {
            if change.action != "unchanged" {
                ctx.ui.status(format!(
                    "hook {} {} ({})",
                    change.name,
                    change.action,
                    change.path.display()
                ));
            }
        }
    }
    if ctx.ui.json {
        ctx.ui.json_value(&report)?;
        return Ok(());
    }
    if report.created.is_empty() && report.updated.is_empty() {
        ctx.ui.done(format!(
            "already initialised in {} (prefix {}); nothing to do",
            report.root.join(".batch").display(),
            report.prefix
        ))?;
    } else {
        let verb = if report.already_initialized {
            "repaired"
        } else {
            "initialised"
        };
        ctx.ui.done(format!(
            "{verb} {} (prefix {})",
            report.root.join(".batch").display(),
            report.prefix
        ))?;
        for path in &report.created {
            ctx.ui.done(format!("  created {path}"))?;
        }
        for path in &report.updated {
            ctx.ui.done(format!("  updated {path}"))?;
        }
        ctx.report_commit(&report.commit, true);
    }
    Ok(())
}

/// A format 1 store's claims hold the scopes they were taken with, in the
/// old meaning: migrating under them would let a new claim overlap what a
/// worker holds. So the migration waits until no task is claimed.
fn refuse_migration_under_claims(ctx: &Ctx) -> Result<(), CommandError> {
    let Ok(store) = Store::open(&ctx.dir) else {
        return Ok(());
    };
    if store.config.format >= crate::store::migrate::ROOT_SCOPES {
        return Ok(());
    }
    let set = crate::claims::read(&store.repo)?;
    if set.claims.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = set.claims.keys().map(String::as_str).collect();
    Err(CommandError::user(format!(
        "not migrating .batch/ to format 2 (scopes from the repository root) while {} task(s) are claimed with format 1 scopes: {}",
        ids.len(),
        ids.join(" ")
    ))
    .hint("land, release or abandon them first, then run `git batch init` again"))
}
