//! `git batch claims`: who holds what, and the history of claims.

use crate::claims::{self, Via};
use crate::commands::Ctx;
use crate::error::CommandError;
use crate::ui::{self, paint};

/// List live claims: task, worker, since, expires, scope.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show the claim history instead (newest first): who claimed, renewed,
    /// stole or released what, and when.
    #[arg(long)]
    pub history: bool,
    /// With --history: at most N entries (0: all).
    #[arg(long, short = 'n', default_value_t = 0, value_name = "N")]
    pub limit: usize,
    /// Read the claims from this remote first (default: the config's remote).
    #[arg(long, value_name = "REMOTE")]
    pub remote: Option<String>,
}

/// One claim as `claims --json` prints it.
#[derive(serde::Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    claim: &'a claims::Claim,
    expired: bool,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    if let Via::Remote(remote) = crate::work::claim::via(&store, args.remote.as_deref()) {
        claims::refresh(&store.repo, remote)?;
    }
    if args.history {
        let entries = claims::history(&store.repo, args.limit)?;
        if ctx.ui.json {
            ctx.ui.json_value(&entries)?;
        } else {
            for e in &entries {
                ctx.ui.line(format!(
                    "{} {}",
                    paint(ui::DIM, crate::git::short(&e.commit)),
                    e.message
                ))?;
            }
        }
        return Ok(());
    }
    let set = claims::read(&store.repo)?;
    let now = crate::time::now();
    let rows: Vec<Row> = set
        .claims
        .values()
        .map(|c| Row {
            claim: c,
            expired: c.is_expired(now),
        })
        .collect();
    if ctx.ui.json {
        ctx.ui.json_value(&rows)?;
        return Ok(());
    }
    for r in &rows {
        let state = if r.expired {
            paint(ui::WARN, "expired")
        } else {
            format!("until {}", r.claim.expires)
        };
        let scope = if r.claim.scope.is_empty() {
            "(no scope: everything)".to_string()
        } else {
            r.claim.scope.join(" ")
        };
        ctx.ui.line(format!(
            "{} {} since {} {state}  {scope}",
            paint(ui::ID, &r.claim.task),
            r.claim.worker,
            r.claim.since
        ))?;
    }
    if rows.is_empty() {
        ctx.ui.status("no live claims");
    }
    Ok(())
}
