//! `git batch check`: can these tasks run in parallel; do these commits
//! stay in scope.

use crate::commands::Ctx;
use crate::error::{CommandError, Exit};
use crate::guard::{Problem, check, hooks};

/// Check that a set of tasks can run in parallel, listing every problem
/// (exit 1 when there is any): scope overlaps (with example files, or the
/// glob pair when only their prefixes meet), dependency cycles, unknown
/// dependencies, tasks of the set that wait for each other, and the
/// readiness checklist (acceptance, scope, estimate, no open question, deps
/// closed; each rule can be turned off under [check] in .batch/config.toml).
///
/// With --range A..B: every commit of the range that belongs to a task (by
/// its Batch-Task trailer, else the branch's task) must change only files in
/// that task's scope. This is what `git commit --no-verify` cannot get past.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tasks to check (default: --ready).
    #[arg(conflicts_with_all = ["ready", "parent", "range"])]
    pub ids: Vec<String>,
    /// The ready tasks.
    #[arg(long, conflicts_with_all = ["parent", "range"])]
    pub ready: bool,
    /// The open descendants of this task.
    #[arg(long, value_name = "ID", value_parser = super::values::task_id, conflicts_with = "range")]
    pub parent: Option<String>,
    /// Check the commits of this range instead.
    #[arg(long, value_name = "A..B")]
    pub range: Option<String>,
    /// With --range: the task of commits without a trailer (default: the
    /// task of the current `batch/<id>` branch).
    #[arg(long, value_name = "ID", requires = "range")]
    pub task: Option<String>,
}

#[derive(serde::Serialize)]
struct SetReport<'a> {
    tasks: Vec<&'a str>,
    ok: bool,
    problems: &'a [Problem],
}

#[derive(serde::Serialize)]
struct RangeOut<'a> {
    range: &'a str,
    ok: bool,
    #[serde(flatten)]
    report: &'a check::RangeReport,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    if let Some(range) = &args.range {
        return run_range(ctx, range, args.task.as_deref());
    }
    let store = ctx.store()?;
    let cache = ctx.cache(&store)?;
    let tasks = super::task_set(&store, &cache, &args.ids, args.parent.as_deref(), &[])?;
    let nodes = cache.nodes().map_err(crate::store::StoreError::from)?;
    let files = check::tree_files(&store.repo, None)?;
    let problems = check::check_set(&tasks, &nodes, &files, &store.config.check);
    if ctx.ui.json {
        ctx.ui.json_value(&SetReport {
            tasks: tasks.iter().map(|t| t.id.as_str()).collect(),
            ok: problems.is_empty(),
            problems: &problems,
        })?;
    } else {
        for p in &problems {
            ctx.ui.line(p)?;
        }
    }
    finish(ctx, problems.len(), format!("{} task(s)", tasks.len()))
}

fn run_range(ctx: &mut Ctx, range: &str, task: Option<&str>) -> Result<(), CommandError> {
    let repo = hooks::open_for_hook()?;
    let default = match task {
        Some(t) => Some(t.to_string()),
        None => crate::git::current_branch(&repo)
            .as_deref()
            .and_then(crate::work::task_of_branch)
            .map(String::from),
    };
    let report = check::check_range(&repo, range, default.as_deref())?;
    if ctx.ui.json {
        ctx.ui.json_value(&RangeOut {
            range,
            ok: report.problems.is_empty(),
            report: &report,
        })?;
    } else {
        for p in &report.problems {
            ctx.ui.line(p)?;
        }
    }
    finish(
        ctx,
        report.problems.len(),
        format!("{} commit(s), {} of tasks", report.commits, report.checked),
    )
}

fn finish(ctx: &mut Ctx, problems: usize, what: String) -> Result<(), CommandError> {
    if problems == 0 {
        ctx.ui.status(format!("ok: {what}, no problems"));
        return Ok(());
    }
    let mut err = CommandError::new(
        Exit::User,
        crate::error::Message(format!("{problems} problem(s) in {what}")),
    );
    if ctx.ui.json {
        // The report on stdout says it all; keep the error line short.
        err.hints.clear();
    }
    Err(err)
}
