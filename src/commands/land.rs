//! `git batch land`: integrate finished workers, test once, push once.

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::land::{self, Options};
use crate::store::{Flags, Settings};

/// Integrate every finished worker branch (status `done`) into the main
/// branch: replay them onto the remote tip in dependency order in a
/// temporary worktree, leave out conflicts and scope violations, close the
/// tasks, run the tests once (bisecting to leave culprits out), and push
/// once, atomically, with a lease. Your checkout is never touched during
/// the landing; afterwards it is fast-forwarded if it is clean. Worktrees
/// and branches of tasks another clone landed exactly as they are here
/// (and without changes) are removed.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only these tasks (default: every done task with a worker branch).
    #[arg(conflicts_with_all = ["parent", "plan"])]
    pub ids: Vec<String>,
    /// Only the descendants of this task.
    #[arg(long, value_name = "ID", value_parser = super::values::task_id, conflicts_with = "plan")]
    pub parent: Option<String>,
    /// Only the tasks of this plan.
    #[arg(long, value_name = "NAME")]
    pub plan: Option<String>,
    /// The remote to land on (default: the config's `remote`).
    #[arg(long, value_name = "REMOTE")]
    pub remote: Option<String>,
    /// The branch to land on (default: the config's `main_branch`).
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
    /// The test command, run once with `sh -c` (default: the plan's with
    /// --plan, else the config's `test_command`).
    #[arg(long, value_name = "CMD")]
    pub test: Option<String>,
    /// A reduce step, run with `sh -c` in the landing worktree once the
    /// work is stacked and before the tests: what it changes (outside
    /// .batch/) is committed on top and lands in the same push (default:
    /// the plan's `reduce` with --plan, as the base has it).
    #[arg(long, value_name = "CMD")]
    pub then: Option<String>,
    /// Land onto the local branch instead of pushing (for a repository
    /// without a remote).
    #[arg(long)]
    pub no_push: bool,
    /// Stack and test, then stop: push nothing, change no task or branch.
    #[arg(long)]
    pub dry_run: bool,
    /// How many times to rebuild on a remote that moved meanwhile.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub attempts: u32,
    /// On a test failure, stop instead of bisecting for the culprit.
    #[arg(long)]
    pub no_bisect: bool,
    /// Land only work a reviewer approved (`git batch approve`), as it was
    /// when approved; the rest waits.
    #[arg(long)]
    pub approved: bool,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    land::check_known(&store, &args.ids)?;
    let plan = match (&args.plan, &args.parent) {
        (Some(name), None) => Some(crate::plan::Plan::read(&store, name)?),
        _ => None,
    };
    let only = match &args.parent {
        None if plan.is_some() => plan.as_ref().map(|p| p.ids()),
        Some(parent) => {
            ctx.check_exists(&store, parent)?;
            let cache = ctx.cache(&store)?;
            let below = cache
                .descendants(parent)
                .map_err(crate::store::StoreError::from)?;
            Some(below.into_iter().map(|t| t.id.into()).collect())
        }
        None if !args.ids.is_empty() => Some(args.ids.clone()),
        None => None,
    };
    let flags = Flags {
        test: args.test.clone(),
        ..Flags::default()
    };
    let settings = Settings::resolve(&flags, plan.as_ref().map(|p| &p.config), &store.config)?;
    let remote = args.remote.clone().or_else(|| store.config.remote.clone());
    let opts = Options {
        only,
        push: !args.no_push && remote.is_some(),
        remote,
        branch: args
            .branch
            .clone()
            .unwrap_or_else(|| store.config.main_branch.clone()),
        test_from_base: args.test.is_none(),
        test_plan: args.plan.clone(),
        test: settings.test,
        reduce: match (&args.then, &args.plan) {
            (Some(cmd), _) => land::Reduce::Command(cmd.clone()),
            (None, Some(name)) => land::Reduce::Plan(name.clone()),
            (None, None) => land::Reduce::None,
        },
        dry_run: args.dry_run,
        attempts: args.attempts,
        bisect: !args.no_bisect,
        worker: crate::git::identity::worker(&store.repo),
        approved_only: args.approved,
    };
    let report = land::land(&store, &opts)?;
    if ctx.ui.json {
        ctx.ui.json_value(&report)?;
        return all_left_out(&report);
    }
    for id in &report.landed {
        ctx.ui.line(format!("landed   {id}"))?;
    }
    if !report.unapproved.is_empty() {
        ctx.ui.status(format!(
            "waiting for approval (`git batch approve ID`): {}",
            report.unapproved.join(" ")
        ));
    }
    for l in &report.left_out {
        let first = l.detail.lines().next().unwrap_or("");
        ctx.ui
            .line(format!("left out {} ({}): {first}", l.id, l.reason))?;
    }
    for m in &report.merged {
        for c in &m.clashes {
            ctx.ui.status(format!(
                "{} (replaying {}): {}",
                m.id,
                m.branch,
                super::clash_line(c, "main's", "the branch's")
            ));
        }
        if let Some(why) = m.detail.as_deref().filter(|_| m.whole) {
            ctx.ui.warn(format!(
                "{} (replaying {}): took the branch's task file whole: {why}",
                m.id, m.branch
            ));
        }
    }
    for e in &report.closed_epics {
        ctx.ui.line(format!("closed   {e} (all children landed)"))?;
    }
    if !report.removed.is_empty() {
        ctx.ui.status(format!(
            "removed the worktrees and branches of {} task(s) landed from another clone: {}",
            report.removed.len(),
            report.removed.join(" ")
        ));
    }
    if let Some(r) = &report.reduce {
        match &r.commit {
            Some(c) => ctx
                .ui
                .line(format!("reduced  {} ({})", crate::git::short(c), r.command))?,
            None => ctx
                .ui
                .status(format!("the reduce step `{}` changed nothing", r.command)),
        }
    }
    let tests = tests_said(&report);
    match &report.commit {
        Some(c) if report.pushed => ctx.ui.status(format!(
            "pushed {} to {} on {} ({tests}); {}",
            crate::git::short(c),
            opts.branch,
            opts.remote.as_deref().unwrap_or(""),
            report.local_branch
        )),
        Some(c) => ctx.ui.status(format!(
            "{} is now at {} ({tests})",
            opts.branch,
            crate::git::short(c),
        )),
        None if report.dry_run => ctx.ui.status("dry run: nothing pushed, nothing changed"),
        // What a landing killed after its push left undone, done now.
        None if !report.local_branch.is_empty() => ctx
            .ui
            .status(format!("nothing to land; {}", report.local_branch)),
        None => ctx.ui.status("nothing to land"),
    }
    all_left_out(&report)
}

/// How long the tests took, or that none ran (no `--test`, no
/// `test_command`): a landing must not look tested when it was not.
fn tests_said(report: &land::Report) -> String {
    match report.test_log {
        Some(_) => format!("tests {:.1}s", report.test_seconds),
        None => "no test ran".into(),
    }
}

/// A landing that left out every task it tried landed nothing: exit 1, as
/// a failure, for scripts (the report is already printed).
fn all_left_out(report: &land::Report) -> Result<(), CommandError> {
    if !report.landed.is_empty() || report.left_out.is_empty() || report.dry_run {
        return Ok(());
    }
    let ids: Vec<&str> = report.left_out.iter().map(|l| l.id.as_str()).collect();
    Err(CommandError::user(format!(
        "nothing landed: every task was left out ({})",
        ids.join(" ")
    ))
    .hint(
        "`git batch status` shows why; fix them on their branches and run `git batch done` again",
    ))
}
