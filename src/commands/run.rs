//! `git batch run`: the hypervisor, and its progress display.

use super::WorkerArgs;
use crate::commands::Ctx;
use crate::error::{CommandError, Exit, Message};
use crate::plan::Plan;
use crate::run::{self, Event, EventKind, Options, Summary};
use crate::store::{Flags, Settings};
use crate::ui::Ui;
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::time::Duration;

/// Run tasks with a pool of N workers: each gets its task claimed, its own
/// worktree and branch, and CMD run there with `sh -c`.
///
/// The worker finds its task in the environment: BATCH_TASK (the id),
/// BATCH_CONTEXT (a file with the task, its acceptance criteria, its scope
/// and what others hold, how to write receipts, and on a retry the previous
/// attempt's error output), BATCH_WORKTREE, BATCH_ATTEMPT, BATCH_PLAN and
/// BATCH_WORKER. Exit 0: --validate runs, then `done` checks the scope and
/// commits. Non-zero, a timeout (the whole process group is killed) or a
/// failed validation: tried again up to --retries times with the error fed
/// back, then the task fails. Exit 75 (a temporary failure, e.g. a rate
/// limit) pauses new starts with a growing backoff and is not counted;
/// five in a row stop the run. A worker may also `git batch escalate`.
///
/// Running the same command again resumes: nothing is done twice, and
/// attempts of a run that died are found (their processes killed) and run
/// again. Ctrl-C stops starting tasks; a second one kills the running ones.
/// With --remote (or `remote` in the config) clones share one plan: claims
/// go through the remote and finished branches are pushed there under
/// refs/batch/work/, so `git batch land` on any clone lands them all.
///
/// Exit codes: 0 every task done (and landed with --land), 1 some task
/// failed, escalated or could not start, 75 stopped early (Ctrl-C,
/// --pause-after, --max-tasks reached, repeated exit 75s): run it again
/// to continue (with a higher --max-tasks for that one). Failed and escalated
/// tasks stay so until --rerun-failed, which reopens them on their branches.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Run the tasks of this plan, with its settings as defaults.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["ids", "ready"])]
    pub plan: Option<String>,
    /// Run these tasks.
    #[arg(conflicts_with = "ready")]
    pub ids: Vec<String>,
    /// Run the tasks that are ready and free now.
    #[arg(long)]
    pub ready: bool,
    /// With --ready: only tasks with this label (repeatable: every one of
    /// them), e.g. `--label ready-for-agent`; the tasks that become ready
    /// later too.
    #[arg(long = "label", value_name = "L", requires = "ready")]
    pub labels: Vec<String>,
    /// The worker command, run with `sh -c` in the task's worktree.
    #[arg(long, value_name = "CMD")]
    pub exec: String,
    /// Workers at once (default: the plan's, else workers.jobs).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<u32>,
    /// Time allowed per attempt, e.g. `30m` (default: the plan's, else
    /// workers.timeout).
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Attempts after a failed one (default: the plan's, else
    /// workers.retries).
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Run after a worker exits 0, in its worktree; failing counts as a
    /// failed attempt.
    #[arg(long, value_name = "CMD")]
    pub validate: Option<String>,
    /// Gates run after the worker and --validate succeeded (default: the
    /// plan's `[[gates]]`, else the config's).
    #[command(flatten)]
    pub gates: super::gate::GateArgs,
    /// Land finished tasks in trains while the others work (a dependent
    /// starts once its dependencies landed), when the pool drains,
    /// and at the end.
    #[arg(long)]
    pub land: bool,
    /// With --land: the test command (default: the plan's, else
    /// test_command).
    #[arg(long, value_name = "CMD", requires = "land")]
    pub test: Option<String>,
    /// Start a task whose dependencies finished on their branches but have
    /// not landed from the branch of one of them (`land` then lands the
    /// stack in order); without it such a task waits for the landing.
    #[arg(long)]
    pub stack: bool,
    /// Stop once N tasks finished, for a look before running again.
    #[arg(long, value_name = "N")]
    pub pause_after: Option<usize>,
    /// Start at most N of the tasks in all (default: the plan's; 0 = all).
    #[arg(long, value_name = "N")]
    pub max_tasks: Option<u32>,
    /// Instructions shared by every task, read from this file, at the top
    /// of each context file (default: the plan's).
    #[arg(long, value_name = "FILE")]
    pub instructions: Option<std::path::PathBuf>,
    /// Lay out each context file by this template: placeholders {id}
    /// {title} {instructions} {body} {acceptance} {scope} {how} {said}
    /// {previous_error} {cleaned} {attempt} {retries_left}; `{{` and `}}` are
    /// braces.
    #[arg(long, value_name = "FILE")]
    pub context_template: Option<std::path::PathBuf>,
    /// Queue the failed and escalated tasks of this run again.
    #[arg(long)]
    pub rerun_failed: bool,
    /// Start no task after this moment (RFC 3339, or HH:MM for the next such
    /// local time); running attempts finish, then exit 75.
    #[arg(long, value_name = "TIME", conflicts_with = "for_")]
    pub until: Option<String>,
    /// Start no task after this long (e.g. `8h`); running attempts finish,
    /// then exit 75.
    #[arg(long = "for", value_name = "DURATION", id = "for_")]
    pub for_: Option<String>,
    /// With --until/--for: this long after the deadline the running
    /// attempts are killed (requeued, not counted), e.g. `30m`.
    #[arg(long, value_name = "DURATION")]
    pub kill_after: Option<String>,
    /// Stop after this many rate-limit events (exit 75s; a burst from
    /// parallel workers during one pause counts once) in a row.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_rate_limits: u32,
    /// Stream every event (started, retry, done, failed, escalated, paused,
    /// landed, ...) as one JSON line on stdout as it happens; the summary is
    /// the last line.
    #[arg(long)]
    pub events: bool,
    /// The first pause after an exit 75 (doubled each time).
    #[arg(long, value_name = "DURATION", default_value = "1s")]
    pub backoff: String,
    /// Check out only each task's scope and `.batch/` in its worktree
    /// (default: workers.sparse): much faster in a large tree; a worker that
    /// needs the other files runs `git sparse-checkout disable` first.
    #[arg(long)]
    pub sparse: bool,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

fn duration(flag: &str, value: &str) -> Result<Duration, CommandError> {
    crate::store::HumanDuration::parse(value)
        .map(|d| d.get())
        .map_err(|e| CommandError::usage(format!("{flag}: {e}")))
}

/// `--until`: an RFC 3339 instant, or `HH:MM` for the next such local time.
fn until(value: &str) -> Result<std::time::SystemTime, CommandError> {
    use chrono::TimeZone;
    if let Some(t) = crate::time::parse(value) {
        return Ok(t.into());
    }
    let bad = || {
        CommandError::usage(format!(
            "--until {value}: not a time (RFC 3339, e.g. 2026-12-02T06:00:00Z, or HH:MM)"
        ))
    };
    let hm = chrono::NaiveTime::parse_from_str(value, "%H:%M").map_err(|_| bad())?;
    let now = chrono::Local::now();
    let today = now.date_naive().and_time(hm);
    let at = chrono::Local
        .from_local_datetime(&today)
        .earliest()
        .ok_or_else(bad)?;
    let at = if at <= now {
        at + chrono::Duration::days(1)
    } else {
        at
    };
    Ok(at.with_timezone(&chrono::Utc).into())
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let cache = ctx.cache(&store)?;
    let (name, plan) = match &args.plan {
        Some(p) => (p.clone(), Some(Plan::read(&store, p)?)),
        None if !args.ids.is_empty() => (run::adhoc_name(&args.ids), None),
        None if args.ready => ("ready".to_string(), None),
        None => {
            return Err(CommandError::usage(
                "say what to run: --plan NAME, task ids, or --ready",
            ));
        }
    };
    let ids = match &plan {
        Some(p) => p.ids(),
        None => super::task_set(&store, &cache, &args.ids, None, &args.labels)?
            .into_iter()
            .map(|t| t.id.into())
            .collect(),
    };
    let settings = Settings::resolve(
        &Flags {
            jobs: args.jobs,
            timeout: args.timeout.clone(),
            retries: args.retries,
            test: args.test.clone(),
            max_tasks: args.max_tasks,
            ttl: args.worker.ttl.clone(),
        },
        plan.as_ref().map(|p| &p.config),
        &store.config,
    )?;
    let gates = args.gates.chosen(&store, plan.as_ref())?;
    let instructions = match &args.instructions {
        Some(file) => Some(super::plan::read_instructions(file)?),
        None => plan.as_ref().and_then(|p| p.config.instructions.clone()),
    };
    let template = match &args.context_template {
        Some(file) => {
            let text = crate::atomic::read_regular_text(file, crate::atomic::CONFIG_LIMIT)
                .map_err(|e| {
                    CommandError::usage(format!("--context-template {}: {e}", file.display()))
                })?;
            run::context::check_template(&text).map_err(|e| {
                CommandError::usage(format!("--context-template {}: {e}", file.display()))
            })?;
            Some(text)
        }
        None => None,
    };
    let deadline = match (&args.until, &args.for_) {
        (Some(t), _) => Some(until(t)?),
        (None, Some(d)) => Some(std::time::SystemTime::now() + duration("--for", d)?),
        (None, None) => None,
    };
    let hard_deadline = match (&args.kill_after, deadline) {
        (Some(d), Some(at)) => Some(at + duration("--kill-after", d)?),
        (Some(_), None) => {
            return Err(CommandError::usage(
                "--kill-after counts from a deadline: give --until or --for too",
            ));
        }
        (None, _) => None,
    };
    if args.max_rate_limits == 0 {
        return Err(CommandError::usage("--max-rate-limits: at least 1"));
    }
    let opts = Options {
        deadline,
        hard_deadline,
        max_rate_limits: args.max_rate_limits,
        instructions,
        template,
        name,
        plan: args.plan.clone(),
        follow: if args.plan.is_some() {
            run::Follow::Plan
        } else if args.ready {
            run::Follow::Ready
        } else {
            run::Follow::Fixed
        },
        ids,
        labels: args.labels.clone(),
        exec: args.exec.clone(),
        jobs: settings.jobs as usize,
        timeout: settings.timeout.get(),
        retries: settings.retries,
        validate: args.validate.clone(),
        gates,
        land: args.land,
        test: settings.test,
        test_from_base: args.test.is_none(),
        pause_after: args.pause_after,
        max_tasks: settings.max_tasks as usize,
        remote: args
            .worker
            .remote
            .clone()
            .or_else(|| store.config.remote.clone()),
        worker: args
            .worker
            .worker
            .clone()
            .unwrap_or_else(|| run::worker::default_worker(&store)),
        ttl: settings.claim_ttl.get(),
        rerun_failed: args.rerun_failed,
        stack: args.stack,
        backoff: duration("--backoff", &args.backoff)?,
        sparse: args.sparse || store.config.workers.sparse,
    };
    let summary = if args.events {
        run_with_events(ctx, &store, &opts)?
    } else {
        run_with_progress(ctx, &store, &opts)?
    };
    if args.events {
        // One object per line throughout: the summary is the last.
        let line = serde_json::to_string(&summary).map_err(std::io::Error::other)?;
        ctx.ui.line(line)?;
        return exit_of(&summary);
    }
    finish(ctx, &summary)
}

/// Runs with the progress display on stderr.
pub fn run_with_progress(
    ctx: &mut Ctx,
    store: &crate::store::Store,
    opts: &Options,
) -> Result<Summary, CommandError> {
    let mut progress = Progress::new(&ctx.ui, opts.ids.len());
    ctx.ui.status(format!(
        "run {}: logs in {}",
        opts.name,
        run::logs_dir(store, &opts.name).display()
    ));
    let ui = &mut ctx.ui;
    let result = run::run(store, opts, &mut |e| progress.event(ui, e));
    progress.finish();
    Ok(result?)
}

/// Runs with every event as one JSON line on stdout (`--events`), flushed
/// as it comes so a supervisor can follow.
pub fn run_with_events(
    ctx: &mut Ctx,
    store: &crate::store::Store,
    opts: &Options,
) -> Result<Summary, CommandError> {
    #[derive(serde::Serialize)]
    struct Line<'a> {
        event: run::EventKind,
        at: String,
        #[serde(flatten)]
        e: &'a run::Event,
    }
    let ui = &mut ctx.ui;
    let mut broken = None;
    let result = run::run(store, opts, &mut |e| {
        if broken.is_some() {
            return;
        }
        let line = Line {
            event: e.kind,
            at: crate::time::now_text(),
            e,
        };
        let text = serde_json::to_string(&line).expect("an event serializes");
        if let Err(err) = ui.line(text).and_then(|()| ui.flush()) {
            broken = Some(err);
        }
    });
    Ok(result?)
}

/// Prints the summary; the exit code says how it ended.
pub fn finish(ctx: &mut Ctx, s: &Summary) -> Result<(), CommandError> {
    if ctx.ui.json {
        ctx.ui.json_value(s)?;
    } else {
        let mut parts = vec![format!("{} done", s.done)];
        for (n, what) in [
            (s.elsewhere, "by other clones"),
            (s.failed, "failed"),
            (s.escalated, "escalated"),
            (s.queued, "not finished"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        ctx.ui.line(format!(
            "run {}: {} of {} task(s)",
            s.name,
            parts.join(", "),
            s.total
        ))?;
        if !s.landed.is_empty() {
            ctx.ui
                .line(format!("landed {}: {}", s.landed.len(), s.landed.join(" ")))?;
        }
        for l in &s.left_out {
            let first = l.detail.lines().next().unwrap_or("");
            ctx.ui
                .line(format!("left out {} ({}): {first}", l.id, l.reason))?;
        }
        // The first few say why; `status` and `--json` list them all.
        const SHOWN: usize = 10;
        for w in s.waiting.iter().take(SHOWN) {
            ctx.ui.line(format!("waiting {}: {}", w.id, w.reason))?;
        }
        if s.waiting.len() > SHOWN {
            ctx.ui.line(format!(
                "waiting: {} more (`git batch status` lists them)",
                s.waiting.len() - SHOWN
            ))?;
        }
        ctx.ui.status(format!(
            "state {}; logs in {}",
            s.state_file.display(),
            s.logs.display()
        ));
    }
    exit_of(s)
}

/// The exit code of a run that ended so: 75 when it stopped early, 1 when
/// a task failed, escalated, did not finish or was left out of a landing.
pub fn exit_of(s: &Summary) -> Result<(), CommandError> {
    if let Some(why) = &s.stopped {
        return Err(CommandError::new(
            Exit::Stopped,
            Message(format!("run {} stopped before the end: {why}", s.name)),
        )
        .hint(s.continue_with.clone().unwrap_or_default()));
    }
    if s.failed + s.escalated + s.queued > 0 || !s.left_out.is_empty() {
        let plan = s
            .plan
            .as_deref()
            .map(|p| format!(" --plan {p}"))
            .unwrap_or_default();
        let left_out = if s.left_out.is_empty() {
            String::new()
        } else {
            format!(", {} left out of a landing", s.left_out.len())
        };
        return Err(CommandError::new(
            Exit::User,
            Message(format!(
                "run {}: {} failed, {} escalated, {} not finished{left_out}",
                s.name, s.failed, s.escalated, s.queued
            )),
        )
        .hint(format!(
            "`git batch status{plan}` shows why and where the logs are"
        ))
        .hint_if(
            s.failed + s.escalated > 0,
            "`--rerun-failed` tries the failed and escalated tasks again",
        ));
    }
    Ok(())
}

/// Progress: a live bar when stderr is a terminal, otherwise one plain
/// line per event (`[12/40] bt-3k9f done (2 commit(s), 14 receipt line(s))`).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    running: BTreeSet<String>,
}

impl Progress {
    pub fn new(ui: &Ui, total: usize) -> Progress {
        let live = !ui.quiet && !ui.json && std::io::stderr().is_terminal();
        let bar = live.then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} {msg} [{elapsed}, eta {eta}]",
                )
                .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            running: BTreeSet::new(),
        }
    }

    pub fn event(&mut self, ui: &mut Ui, e: &Event) {
        match e.kind {
            EventKind::Started => {
                if let Some(t) = &e.task {
                    self.running.insert(t.clone());
                }
            }
            EventKind::Resumed | EventKind::Warning | EventKind::Landed | EventKind::Stopping => {}
            _ => {
                if let Some(t) = &e.task {
                    self.running.remove(t);
                }
            }
        }
        // One line per event, whatever the detail holds (a scope error
        // lists files on lines of their own).
        let detail = e.detail.split_whitespace().collect::<Vec<_>>().join(" ");
        // A reason that starts with what the line says already ("failed
        // (failed: ...)") says it once.
        let said = format!("{}: ", e.kind.as_str());
        let detail = detail.strip_prefix(&said).unwrap_or(&detail);
        let line = match &e.task {
            Some(t) => format!(
                "[{}/{}] {t} {} ({})",
                e.finished,
                e.total,
                e.kind.as_str(),
                detail
            ),
            None => format!(
                "[{}/{}] {}: {}",
                e.finished,
                e.total,
                e.kind.as_str(),
                detail
            ),
        };
        match &self.bar {
            Some(bar) => {
                bar.set_position(e.finished as u64);
                bar.set_message(format!("{} running", self.running.len()));
                if e.kind != EventKind::Started {
                    bar.println(crate::ui::terminal_safe(&line));
                }
            }
            None if e.kind == EventKind::Warning => ui.warn(line),
            None => ui.status(line),
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
