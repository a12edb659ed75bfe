//! `git batch import --beads`: bring a beads tracker in.

use crate::beads;
use crate::commands::Ctx;
use crate::error::CommandError;
use std::path::PathBuf;

/// Import a beads issues.jsonl (bd or br) into .batch/tasks/, keeping the ids, in one commit.
///
/// All or nothing: a line that does not parse is reported by number and
/// nothing is imported. Oddities (tombstones, unknown statuses, dangling
/// dependencies, timestamps out of order) are imported with a warning.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The beads JSONL file (usually .beads/issues.jsonl).
    #[arg(long, value_name = "FILE.jsonl", required = true)]
    pub beads: PathBuf,
    /// Update the tasks that already exist from the file (a newer snapshot
    /// of the same tracker) and add the new ones, in one commit, instead of
    /// refusing ids that exist. What only git-batch knows is kept: scopes,
    /// batches, notes added here, and a status git-batch moved the task to.
    #[arg(long)]
    pub update: bool,
    /// Let tasks without a scope be claimed in parallel (beads issues have
    /// none): sets `workers.unscoped_in_parallel = true` in .batch/config.toml,
    /// in the same commit. Without it, a task without a scope overlaps every
    /// claim, so one is worked on at a time (see docs/format.md).
    #[arg(long)]
    pub unscoped_in_parallel: bool,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let opts = beads::Options {
        update: args.update,
        unscoped_in_parallel: args.unscoped_in_parallel,
    };
    let report = beads::import(&store, &args.beads, &opts)?;
    if ctx.ui.json {
        ctx.ui.json_value(&report)?;
        return Ok(());
    }
    if args.update {
        ctx.ui.done(format!(
            "imported {} tasks from {}: {} added, {} updated, {} unchanged",
            report.imported, report.file, report.added, report.updated, report.unchanged
        ))?;
    } else {
        ctx.ui.done(format!(
            "imported {} tasks from {}",
            report.imported, report.file
        ))?;
    }
    for (kind, n) in &report.skipped {
        ctx.ui.done(format!(
            "  skipped {n} line(s) of kind '{kind}' (not issues)"
        ))?;
    }
    if report.set_unscoped_in_parallel {
        ctx.ui.done(
            "  set workers.unscoped_in_parallel = true: tasks without a scope can be claimed in parallel",
        )?;
    }
    if report.resumed > 0 {
        ctx.ui.done(format!(
            "  {} of them were already written by an import of this file that did not finish; taken as they were",
            report.resumed
        ))?;
    }
    ctx.ui.done(format!(
        "  mapped: {} epics, {} parent links, {} blocking deps, {} notes",
        report.mapped.epics, report.mapped.parents, report.mapped.deps, report.mapped.notes
    ))?;
    for (mapping, n) in &report.mapped.statuses {
        ctx.ui.done(format!("  status {mapping}: {n}"))?;
    }
    for (kind, n) in &report.mapped.links {
        ctx.ui
            .done(format!("  kept {n} '{kind}' link(s) (they do not block)"))?;
    }
    if report.mapped.external_blockers > 0 {
        ctx.ui.done(format!(
            "  kept {} external:<project>:<id> blocker(s): they block until removed",
            report.mapped.external_blockers
        ))?;
    }
    if report.mapped.missing_blockers > 0 {
        ctx.ui.done(format!(
            "  kept {} blocker(s) on issues not in the file: they block until those exist",
            report.mapped.missing_blockers
        ))?;
    }
    for (field, n) in &report.kept_fields {
        ctx.ui.done(format!(
            "  kept field '{field}' of {n} issue(s) for export (in [extra])"
        ))?;
    }
    // Warnings grouped by kind so 300 tombstones make one line, not 300.
    let mut groups: std::collections::BTreeMap<String, Vec<&beads::Warning>> = Default::default();
    for w in &report.warnings {
        groups.entry(warning_kind(&w.message)).or_default().push(w);
    }
    for ws in groups.values() {
        let first = ws[0];
        let more = if ws.len() > 1 {
            format!(" (and {} more like it)", ws.len() - 1)
        } else {
            String::new()
        };
        if first.line == 0 {
            ctx.ui.warn(first.message.clone());
            continue;
        }
        ctx.ui.warn(format!(
            "line {}: {}: {}{more}",
            first.line, first.id, first.message
        ));
    }
    ctx.report_commit(&report.commit, report.imported > 0);
    Ok(())
}

/// The message with ids and numbers blanked, to group like warnings.
fn warning_kind(message: &str) -> String {
    message
        .split_whitespace()
        .map(|w| {
            if w.contains('-') || w.chars().any(|c| c.is_ascii_digit()) {
                "_"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
