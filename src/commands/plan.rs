//! `git batch plan`: write a batch plan (the manifest of one batch).

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::plan::{self, NewPlan, Planned, RunConfig};
use crate::store::{Flags, Settings, Store};

/// Write a batch plan, `.batch/batches/NAME.toml`, and commit it.
///
/// The plan lists its tasks (priority, estimate, scope, deps) and how to
/// run them (jobs, timeout per attempt, retries, test command, max tasks);
/// `git batch run --plan NAME` runs it. First the tasks are checked as
/// `git batch check` does: tasks that could run at the same time with
/// overlapping scopes, cycles, unknown tasks and invalid scopes are refused
/// (unless --force); dependencies inside the plan are its order; missing
/// acceptance criteria or estimates are warnings.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan's name (letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// The tasks (default: --ready).
    #[arg(conflicts_with_all = ["ready", "parent", "carry_over"])]
    pub ids: Vec<String>,
    /// The unfinished tasks of this plan (not landed, not done waiting to
    /// land), moved to the new one; the old plan records where they went.
    #[arg(long, value_name = "PLAN", conflicts_with_all = ["ready", "parent"])]
    pub carry_over: Option<String>,
    /// Every ready task nobody holds and no other plan has.
    #[arg(long, conflicts_with = "parent")]
    pub ready: bool,
    /// The open descendants of this task (epics left out).
    #[arg(long, value_name = "ID", value_parser = super::values::task_id)]
    pub parent: Option<String>,
    /// With --ready or --parent: only tasks with this label (repeatable:
    /// every one of them), e.g. `--label ready-for-agent`.
    #[arg(long = "label", value_name = "L", conflicts_with = "ids")]
    pub labels: Vec<String>,
    #[command(flatten)]
    pub config: PlanConfigArgs,
    /// The plan's gates (`[[gates]]`), run on each task's finished work.
    #[command(flatten)]
    pub gates: super::gate::GateArgs,
    /// Write the plan even when the check finds problems.
    #[arg(long)]
    pub force: bool,
}

/// How a plan is run; the defaults come from `[workers]` and
/// `test_command` in .batch/config.toml.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanConfigArgs {
    /// Workers at once.
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<u32>,
    /// Time allowed per attempt, e.g. `30m`.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Attempts after a failed one.
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// The test command the landing runs.
    #[arg(long, value_name = "CMD")]
    pub test: Option<String>,
    /// Start at most this many of the plan's tasks (default: 0, all).
    #[arg(long, value_name = "N")]
    pub max_tasks: Option<u32>,
    /// Instructions shared by every task (the batch's one prompt), read from
    /// this file: placed at the top of each worker's context file.
    #[arg(long, value_name = "FILE")]
    pub instructions: Option<std::path::PathBuf>,
    /// The reduce step the plan's landings run before the tests (see
    /// `land --then`).
    #[arg(long, value_name = "CMD")]
    pub reduce: Option<String>,
}

impl PlanConfigArgs {
    /// The plan's `[config]`: these flags, else the config's defaults.
    pub fn config(&self, store: &Store) -> Result<RunConfig, CommandError> {
        let flags = Flags {
            jobs: self.jobs,
            timeout: self.timeout.clone(),
            retries: self.retries,
            test: self.test.clone(),
            max_tasks: self.max_tasks,
            ttl: None,
        };
        let mut config = Settings::resolve(&flags, None, &store.config)?.run_config();
        if let Some(file) = &self.instructions {
            config.instructions = Some(read_instructions(file)?);
        }
        config.reduce = self.reduce.clone();
        Ok(config)
    }
}

/// The instructions of `--instructions FILE`: its text (a regular file of
/// at most 1 MiB; `-` is stdin).
pub fn read_instructions(file: &std::path::Path) -> Result<String, CommandError> {
    let text = if file == std::path::Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        crate::atomic::read_regular_text(file, crate::atomic::CONFIG_LIMIT)
            .map_err(|e| CommandError::usage(format!("--instructions {}: {e}", file.display())))?
    };
    if text.trim().is_empty() {
        return Err(CommandError::usage(format!(
            "--instructions {}: the file is empty",
            file.display()
        )));
    }
    Ok(text)
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let cache = ctx.cache(&store)?;
    if let Some(from) = &args.carry_over {
        let old = crate::plan::Plan::read(&store, from)?;
        let tasks = plan::unfinished(&store, &old)?;
        let new = NewPlan {
            name: args.name.clone(),
            config: args.config.config(&store)?,
            gates: args.gates.parse()?,
            carry_from: Some(from.clone()),
            force: args.force,
        };
        let planned = plan::create_plan(&store, &tasks, &new)?;
        return print_planned(ctx, &planned);
    }
    let mut tasks = super::task_set(
        &store,
        &cache,
        &args.ids,
        args.parent.as_deref(),
        &args.labels,
    )?;
    if args.ids.is_empty() && args.parent.is_none() {
        // "The rest": a task of another plan is left to it, not refused.
        tasks.retain(|t| t.batch.as_deref().is_none_or(|b| b == args.name));
    }
    let new = NewPlan {
        name: args.name.clone(),
        config: args.config.config(&store)?,
        gates: args.gates.parse()?,
        carry_from: None,
        force: args.force,
    };
    let planned = plan::create_plan(&store, &tasks, &new)?;
    print_planned(ctx, &planned)
}

/// The plan written, its warnings, and the commit.
pub fn print_planned(ctx: &mut Ctx, planned: &Planned) -> Result<(), CommandError> {
    if ctx.ui.json {
        ctx.ui.json_value(planned)?;
        return Ok(());
    }
    for p in &planned.forced {
        ctx.ui.warn(format!("{p} (--force)"));
    }
    for p in &planned.warnings {
        ctx.ui.warn(p);
    }
    ctx.ui.done(format!(
        "plan {}: {} task(s) in {}; run it with `git batch run --plan {} --exec CMD`",
        planned.plan.name,
        planned.plan.tasks.len(),
        planned.path,
        planned.plan.name
    ))?;
    ctx.report_commit(&planned.commit, true);
    Ok(())
}
