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
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let report = beads::import(&store, &args.beads)?;
    if ctx.ui.json {
        ctx.ui.json_value(&report)?;
        return Ok(());
    }
    ctx.ui.done(format!(
        "imported {} tasks from {}",
        report.imported, report.file
    ))?;
    if report.resumed > 0 {
        ctx.ui.done(format!(
            "  {} of them were already written by an import of this file that did not finish; taken as they were",
            report.resumed
        ))?;
    }
    ctx.ui.done(format!(
        "  mapped: {} epics, {} parent links, {} blocking deps, {} notes",
        report.epics, report.parents, report.deps, report.notes
    ))?;
    for (mapping, n) in &report.statuses {
        ctx.ui.done(format!("  status {mapping}: {n}"))?;
    }
    for (kind, n) in &report.dropped_relations {
        ctx.ui.done(format!(
            "  dropped {n} '{kind}' relation(s) (they do not block)"
        ))?;
    }
    for (field, n) in &report.dropped_fields {
        ctx.ui
            .line(format!("  dropped field '{field}' on {n} issue(s)"))?;
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
