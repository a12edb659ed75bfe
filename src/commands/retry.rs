//! `git batch retry`: queue failed, escalated or left-out tasks again.

use super::WorkerArgs;
use crate::commands::Ctx;
use crate::error::CommandError;
use crate::task::Status;

/// Queue tasks again after a person looked at them: their live state says
/// `retry` (answers and attempt counts kept), so `ready`, `claim --next` and
/// `run --ready` hand them out again; a task file that says failed or
/// escalated on this branch (a landing's verdict) is made open again too.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

#[derive(serde::Serialize)]
struct Retried {
    id: String,
    /// Whether something held it back (a live state, or its file's status).
    changed: bool,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    for id in &args.ids {
        ctx.check_exists(&store, id)?;
    }
    let who = args.worker.person(&store)?;
    let stuck: Vec<String> = args
        .ids
        .iter()
        .filter(|id| {
            store
                .read_task(id)
                .is_ok_and(|t| matches!(t.status, Status::Failed | Status::Escalated))
        })
        .cloned()
        .collect();
    // The shared state first (through the remote, it may be refused): a
    // file reopened while its live state still holds it back helps nobody.
    let live = crate::work::live::retry(&store, &args.ids, &who)?;
    let reopened = if stuck.is_empty() {
        Vec::new()
    } else {
        crate::edit::reopen(&store, &stuck)?
    };
    let out: Vec<Retried> = args
        .ids
        .iter()
        .zip(&live)
        .map(|(id, l)| Retried {
            id: id.clone(),
            changed: l.is_some() || stuck.contains(id),
        })
        .collect();
    if ctx.ui.json {
        ctx.ui.json_value(&out)?;
        return Ok(());
    }
    for r in &out {
        if r.changed {
            ctx.ui.done(format!("{} queued again", r.id))?;
        } else {
            ctx.ui
                .line(format!("{} was not held back; unchanged", r.id))?;
        }
    }
    let commit = reopened.iter().find_map(|c| c.commit.clone());
    ctx.report_commit(&commit, !reopened.is_empty());
    Ok(())
}
