//! The command line: global flags, the one `Command` enum and its dispatch,
//! the mapping of errors to exit codes, and one module per subcommand (a
//! clap `Args` struct and a `run` function that calls the library and hands
//! the result to the output layer). Shared rendering of tasks lives here.

pub mod abandon;
pub mod answer;
pub mod approve;
pub mod blocked;
pub mod check;
pub mod claim;
pub mod claims;
pub mod close;
pub mod completions;
pub mod create;
pub mod current;
pub mod demo;
pub mod dep;
pub mod done;
pub mod escalate;
pub mod export;
pub mod fail;
pub mod gate;
pub mod hook;
pub mod hooks;
pub mod ids;
pub mod import;
pub mod init;
pub mod land;
pub mod list;
pub mod man;
pub mod merge_task;
pub mod metrics;
pub mod note;
pub mod plan;
pub mod prime;
pub mod ready;
pub mod receipt;
pub mod receipts;
pub mod reject;
pub mod release;
pub mod reopen;
pub mod retry;
pub mod review;
pub mod run;
pub mod search;
pub mod show;
pub mod split;
pub mod start;
pub mod stats;
pub mod status;
pub mod update;
pub mod values;

use crate::error::{CommandError, Exit};
use crate::store::{BrokenFile, Cache, Store};
use crate::task::{Status, Task};
use crate::ui::{self, paint};
use crate::ui::{ColorWhen, Ui};
use crate::work::claim::{Claimant, Target};
use clap::{Parser, Subcommand};
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

/// Git-native batch work for parallel workers: tasks, claims, file scopes,
/// receipts, and one landing.
///
/// Tasks live in `.batch/tasks/<id>.toml`, one file each, versioned and
/// reviewed like code. Every command that changes `.batch/` records the
/// change as one commit holding only `.batch/` paths (unless --no-commit).
///
/// Exit codes: 0 success, 1 user error or a check that found problems,
/// 2 usage error, 3 a conflict another worker won, 75 a run stopped early
/// (run it again to continue), 255 internal error.
#[derive(Debug, Parser)]
#[command(
    name = "git-batch",
    bin_name = "git batch",
    version,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Kept under their own heading in every command's help, apart from the
/// command's own options.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Print machine-readable JSON on stdout (errors as one JSON line on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only data and errors: no status messages.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to colour the output (`auto` honours NO_COLOR and the terminal).
    #[arg(long, value_enum, global = true, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
    /// Run as if git-batch was started in DIR (like `git -C`).
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Change the files under .batch/ but do not commit them.
    #[arg(long, global = true)]
    pub no_commit: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(init::Args),
    Create(create::Args),
    Show(show::Args),
    List(list::Args),
    Search(search::Args),
    Stats(stats::Args),
    Update(update::Args),
    Close(close::Args),
    Reopen(reopen::Args),
    Note(note::Args),
    Answer(answer::Args),
    Retry(retry::Args),
    #[command(subcommand)]
    Dep(dep::DepCommand),
    Ready(ready::Args),
    Blocked(blocked::Args),
    Import(import::Args),
    Export(export::Args),
    Claim(claim::Args),
    Release(release::Args),
    Claims(claims::Args),
    Start(start::Args),
    Current(current::Args),
    Receipt(receipt::Args),
    Receipts(receipts::Args),
    Done(done::Args),
    Fail(fail::Args),
    /// Mark a task escalated: it needs a human decision. The reason (the
    /// question) becomes a note, the status is committed on its branch, and
    /// the claim is released. Branch and worktree are kept.
    #[command(long_about = None)]
    Escalate(escalate::Args),
    Abandon(abandon::Args),
    Land(land::Args),
    Plan(plan::Args),
    Split(split::Args),
    Run(run::Args),
    Gate(gate::Args),
    Status(status::Args),
    Review(review::Args),
    Metrics(metrics::Args),
    Approve(approve::Args),
    Reject(reject::Args),
    Prime(prime::Args),
    Demo(demo::Args),
    #[command(hide = true, name = "demo-worker")]
    DemoWorker(demo::WorkerArgs),
    Check(check::Args),
    #[command(subcommand)]
    Hooks(hooks::HooksCommand),
    Hook(hook::Args),
    Completions(completions::Args),
    #[command(hide = true, name = "__complete")]
    Complete(completions::CompleteArgs),
    Man(man::Args),
    #[command(hide = true, name = "merge-task")]
    MergeTask(merge_task::Args),
}

/// What every command gets: the output layer, the global flags, and the
/// directory it acts in.
pub struct Ctx {
    pub ui: Ui,
    pub no_commit: bool,
    /// Where the repository is looked for: `.` for the program (which
    /// moved there for `-C`), a given directory when run in-process.
    pub dir: PathBuf,
}

/// Runs one parsed command line.
pub fn run(mut cli: Cli, ctx: &mut Ctx) -> Result<(), CommandError> {
    ids::resolve(&ctx.dir, &mut cli.command)?;
    match cli.command {
        Command::Init(args) => init::run(ctx, args),
        Command::Create(args) => create::run(ctx, args),
        Command::Show(args) => show::run(ctx, args),
        Command::List(args) => list::run(ctx, args),
        Command::Search(args) => search::run(ctx, args),
        Command::Stats(args) => stats::run(ctx, args),
        Command::Update(args) => update::run(ctx, args),
        Command::Close(args) => close::run(ctx, args),
        Command::Reopen(args) => reopen::run(ctx, args),
        Command::Note(args) => note::run(ctx, args),
        Command::Answer(args) => answer::run(ctx, args),
        Command::Retry(args) => retry::run(ctx, args),
        Command::Dep(cmd) => dep::run(ctx, cmd),
        Command::Ready(args) => ready::run(ctx, args),
        Command::Blocked(args) => blocked::run(ctx, args),
        Command::Import(args) => import::run(ctx, args),
        Command::Export(args) => export::run(ctx, args),
        Command::Claim(args) => claim::run(ctx, args),
        Command::Release(args) => release::run(ctx, args),
        Command::Claims(args) => claims::run(ctx, args),
        Command::Start(args) => start::run(ctx, args),
        Command::Current(args) => current::run(ctx, args),
        Command::Receipt(args) => receipt::run(ctx, args),
        Command::Receipts(args) => receipts::run(ctx, args),
        Command::Done(args) => done::run(ctx, args),
        Command::Fail(args) => fail::run(ctx, args),
        Command::Escalate(args) => escalate::run(ctx, args),
        Command::Abandon(args) => abandon::run(ctx, args),
        Command::Land(args) => land::run(ctx, args),
        Command::Plan(args) => plan::run(ctx, args),
        Command::Split(args) => split::run(ctx, args),
        Command::Run(args) => run::run(ctx, args),
        Command::Gate(args) => gate::run(ctx, args),
        Command::Status(args) => status::run(ctx, args),
        Command::Review(args) => review::run(ctx, args),
        Command::Metrics(args) => metrics::run(ctx, args),
        Command::Approve(args) => approve::run(ctx, args),
        Command::Reject(args) => reject::run(ctx, args),
        Command::Prime(args) => prime::run(ctx, args),
        Command::Demo(args) => demo::run(ctx, args),
        Command::DemoWorker(args) => demo::run_worker(ctx, args),
        Command::Check(args) => check::run(ctx, args),
        Command::Hooks(cmd) => hooks::run(ctx, cmd),
        Command::Hook(args) => hook::run(ctx, args),
        Command::Completions(args) => completions::run(ctx, args),
        Command::Complete(args) => completions::run_complete(ctx, args),
        Command::Man(args) => man::run(ctx, args),
        Command::MergeTask(args) => merge_task::run(ctx, args),
    }
}

/// The whole program: parse, run, print errors, choose the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
            match parse_error_json(&e, &args) {
                Some(line) => eprint!("{line}"),
                None => {
                    let _ = e.print();
                }
            }
            return ExitCode::from(parse_error_exit(&e));
        }
    };
    // Objects are not hashed again when read, as git itself does not: at
    // 100k tasks each commit reads the 5 MB `.batch/tasks` tree, and that
    // hash was a tenth of a task commit. Written objects are still hashed.
    // A process-wide libgit2 setting, made before any repository is opened.
    git2::opts::strict_hash_verification(false);
    let mut ctx = Ctx {
        ui: Ui::new(cli.global.json, cli.global.quiet, cli.global.color),
        no_commit: cli.global.no_commit,
        dir: PathBuf::from("."),
    };
    let moved = match &cli.global.dir {
        Some(dir) => std::env::set_current_dir(dir).map_err(|e| {
            CommandError::context(
                Exit::User,
                format!("-C {}: cannot run there", dir.display()),
                e,
            )
            .hint("give -C a directory inside the repository")
        }),
        None => Ok(()),
    };
    ExitCode::from(match moved {
        Ok(()) => execute(cli, &mut ctx),
        Err(e) => report(&mut ctx, false, e),
    })
}

/// The exit code of a command line clap refused (help and version are
/// not errors).
fn parse_error_exit(e: &clap::Error) -> u8 {
    match e.kind() {
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
        _ => Exit::Usage as u8,
    }
}

/// A command line clap refused, as the one JSON line `--json` promises
/// for every error; `None` without `--json` (before a `--`), and for help
/// and version, which are not errors.
fn parse_error_json(e: &clap::Error, args: &[impl AsRef<std::ffi::OsStr>]) -> Option<String> {
    let json = args
        .iter()
        .map(|a| a.as_ref())
        .take_while(|a| *a != "--")
        .any(|a| a == "--json");
    if !json || parse_error_exit(e) == 0 {
        return None;
    }
    let text = e.render().to_string();
    // clap's first paragraph is the error (a missing argument's name is on
    // its second line), the rest tips and usage.
    let (first, rest) = text.split_once("\n\n").unwrap_or((&text, ""));
    let message: Vec<&str> = first.lines().map(str::trim).collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    let mut err = CommandError::usage(message);
    for line in rest.lines().map(str::trim) {
        if let Some(tip) = line.strip_prefix("tip: ") {
            err = err.hint(tip);
        } else if line.starts_with("Usage: ") || line.starts_with("For more information") {
            err = err.hint(line);
        }
    }
    Some(err.render_json())
}

/// Runs a parsed command line and prints its error, if any; the exit code.
fn execute(cli: Cli, ctx: &mut Ctx) -> u8 {
    let json = cli.global.json;
    let result = run(cli, ctx);
    crate::git::stale::leave();
    for cleared in crate::git::stale::take_cleared() {
        ctx.ui.warn(cleared);
    }
    match result.and_then(|()| ctx.ui.flush().map_err(CommandError::from)) {
        Ok(()) => 0,
        Err(e) if e.is_broken_pipe() => 0,
        Err(e) => report(ctx, json, e),
    }
}

fn report(ctx: &mut Ctx, json: bool, e: CommandError) -> u8 {
    let _ = ctx.ui.flush();
    if json {
        ctx.ui.err_text(&e.render_json());
    } else {
        ctx.ui.err_text(&e.render());
    }
    e.exit as u8
}

/// What an in-process run printed, and its exit code.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub exit: u8,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `git batch args...` in-process, acting on the repository around
/// `dir`, with output captured (no colour). For tests of what commands
/// print: the process's environment is the caller's, and `-C` is taken
/// relative to `dir` without moving the process.
pub fn run_captured(dir: &Path, args: &[&str]) -> RunOutput {
    let cli = match Cli::try_parse_from(std::iter::once("git-batch").chain(args.iter().copied())) {
        Ok(cli) => cli,
        Err(e) => {
            return RunOutput {
                exit: parse_error_exit(&e),
                stdout: String::new(),
                stderr: parse_error_json(&e, args).unwrap_or_else(|| e.render().to_string()),
            };
        }
    };
    let (ui, captured) = Ui::buffered(cli.global.json, cli.global.quiet);
    let dir = match &cli.global.dir {
        Some(d) => dir.join(d),
        None => dir.to_path_buf(),
    };
    let mut ctx = Ctx {
        ui,
        no_commit: cli.global.no_commit,
        dir,
    };
    let exit = execute(cli, &mut ctx);
    let (stdout, stderr) = captured.text();
    RunOutput {
        exit,
        stdout,
        stderr,
    }
}

/// Says which ready tasks `--next` passed over, and why (stderr, also with
/// `--json`, whose data keeps them in `skipped`).
pub fn warn_skipped(ctx: &mut Ctx, skipped: &[crate::work::claim::Skipped]) {
    for s in skipped {
        ctx.ui
            .warn(format!("{} skipped: {} ({})", s.id, s.why, s.fix));
    }
}

/// Which task to claim or start: one by id, or the next free one.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// The task.
    #[arg(required_unless_present = "next", conflicts_with = "next")]
    pub id: Option<String>,
    /// The highest-priority ready task whose scope overlaps no live claim.
    #[arg(long)]
    pub next: bool,
    /// With --next: only descendants of this task.
    #[arg(long, value_name = "ID", value_parser = crate::commands::values::task_id, requires = "next")]
    pub parent: Option<String>,
    /// With --next: only tasks with this label (repeatable: every one of
    /// them), e.g. `--label ready-for-agent`.
    #[arg(long = "label", value_name = "L", requires = "next")]
    pub labels: Vec<String>,
}

impl TargetArgs {
    pub fn target(self, ctx: &Ctx, store: &Store) -> Result<Target, CommandError> {
        if let Some(parent) = &self.parent {
            ctx.check_exists(store, parent)?;
        }
        Ok(match self.id {
            Some(id) => Target::Id(id),
            None => Target::Next {
                parent: self.parent,
                labels: self.labels,
            },
        })
    }
}

/// The tasks a command works on: given ids, the open descendants of a
/// parent (epics left out), or the ready tasks nobody holds; the last two
/// only with every one of `labels`.
pub fn task_set(
    store: &Store,
    cache: &Cache,
    ids: &[String],
    parent: Option<&str>,
    labels: &[String],
) -> Result<Vec<Task>, CommandError> {
    if !ids.is_empty() {
        let mut tasks = Vec::new();
        for id in ids {
            tasks.push(store.read_task(id)?);
        }
        return Ok(tasks);
    }
    if let Some(parent) = parent {
        crate::task::id::validate_id(parent).map_err(crate::store::StoreError::from)?;
        if !store.exists(parent) {
            return Err(crate::store::StoreError::UnknownTask {
                id: parent.to_string(),
                path: store.task_path(parent),
            }
            .into());
        }
        let mut below = cache
            .descendants(parent)
            .map_err(crate::store::StoreError::from)?;
        below.retain(|t| {
            t.kind != crate::task::Kind::Epic
                && t.status != Status::Closed
                && labels.iter().all(|l| t.labels.contains(l))
        });
        return Ok(below);
    }
    let claimed = crate::claims::taken_ids(&store.repo)?.into_iter().collect();
    Ok(cache
        .ready(None, labels, 0, &claimed)
        .map_err(crate::store::StoreError::from)?)
}

/// Who is working, shared by the commands that claim and finish tasks.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// The worker's name (default: `git config batch.worker`, else
    /// user.name@host).
    #[arg(long, value_name = "NAME", env = "BATCH_WORKER")]
    pub worker: Option<String>,
    /// How long a new or renewed claim lives (default: workers.claim_ttl).
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// Decide claims through this remote (default: the config's `remote`).
    #[arg(long, value_name = "REMOTE")]
    pub remote: Option<String>,
}

impl WorkerArgs {
    pub fn name(&self, store: &Store) -> String {
        self.worker
            .clone()
            .unwrap_or_else(|| crate::git::identity::worker(&store.repo))
    }

    /// The worker acting on `id`: `--worker`, else whoever holds its claim
    /// (inside a worker worktree that is the worker), else the default.
    pub fn name_for(&self, store: &Store, id: &str) -> String {
        if let Some(w) = &self.worker {
            return w.clone();
        }
        crate::claims::read(&store.repo)
            .ok()
            .and_then(|set| set.claims.get(id).map(|c| c.worker.clone()))
            .unwrap_or_else(|| self.name(store))
    }

    /// Like [`WorkerArgs::claimant`], for acting on `id`'s existing claim.
    pub fn claimant_for<'a>(
        &'a self,
        store: &'a Store,
        id: &str,
    ) -> Result<Claimant<'a>, CommandError> {
        let mut who = self.claimant(store)?;
        who.worker = self.name_for(store, id);
        Ok(who)
    }

    /// A person acting on tasks (answer, retry, approve, gate): named by
    /// `--worker` when given, else as in commits (`store.actor()`).
    pub fn person<'a>(&'a self, store: &'a Store) -> Result<Claimant<'a>, CommandError> {
        let mut who = self.claimant(store)?;
        if self.worker.is_none() {
            who.worker = store.actor();
        }
        Ok(who)
    }

    pub fn claimant<'a>(&'a self, store: &'a Store) -> Result<Claimant<'a>, CommandError> {
        Ok(Claimant {
            worker: self.name(store),
            ttl: crate::work::claim::ttl(store, self.ttl.as_deref())?,
            via: crate::work::claim::via(store, self.remote.as_deref()),
        })
    }
}

impl Ctx {
    /// The store of the repository around the directory acted in.
    pub fn store(&mut self) -> Result<Store, CommandError> {
        let mut store = Store::open(&self.dir)?;
        store.no_commit = self.no_commit;
        if store.config.format < crate::store::migrate::ROOT_SCOPES {
            self.ui.warn(format!(
                ".batch/config.toml has format {}: scopes are now paths from the repository root \
                 (`Cargo.toml` is the top-level file, `**/Cargo.toml` one at any depth); \
                 run `git batch init` to rewrite the task files' scopes with their old meaning",
                store.config.format
            ));
        }
        for key in store.config.unknown_keys() {
            self.ui.warn(format!(
                ".batch/config.toml: unknown key '{key}' (ignored; a newer git-batch may use it)"
            ));
        }
        // A user's own `git pull` then merges task files as a landing does.
        if let Err(e) = crate::git::merge_driver::ensure(&store.repo) {
            self.ui.warn(format!(
                "could not set the task file merge driver in the git config: {e}"
            ));
        }
        // A plain `git fetch` then brings the live state of other clones.
        // The first time, this clone fetches them itself.
        if let Some(remote) = &store.config.remote {
            let first = crate::git::remote::ensure_refspecs(&store.repo, remote)
                .map_err(|e| e.to_string())
                .and_then(|added| match added {
                    true => crate::claims::refresh(&store.repo, remote)
                        .map_err(|e| e.to_string())
                        .and_then(|()| {
                            crate::git::remote::fetch_work(&store.repo, remote)
                                .map_err(|e| e.to_string())
                        }),
                    false => Ok(()),
                });
            if let Err(e) = first {
                self.ui
                    .warn(format!("could not fetch refs/batch/* from {remote}: {e}"));
            }
        }
        Ok(store)
    }

    /// The synced cache; files that do not parse are reported as warnings
    /// and left out.
    pub fn cache(&mut self, store: &Store) -> Result<Cache, CommandError> {
        let (cache, broken) = store.cache()?;
        self.warn_broken(&broken);
        Ok(cache)
    }

    /// The cache a claim of `target` needs: about the one task it names,
    /// or over all of them for `--next`.
    pub fn cache_for(
        &mut self,
        store: &Store,
        target: &crate::work::claim::Target,
    ) -> Result<Cache, CommandError> {
        use crate::work::claim::Target;
        match target {
            Target::Id(id) | Target::Stacked(id) => self.cache_about(store, &[id]),
            Target::Next { .. } => self.cache(store),
        }
    }

    /// The cache for a command about `ids` only (see [`Store::cache_about`]).
    pub fn cache_about(&mut self, store: &Store, ids: &[&str]) -> Result<Cache, CommandError> {
        let (cache, broken) = store.cache_about(ids)?;
        self.warn_broken(&broken);
        Ok(cache)
    }

    /// Checks that a task id given as a filter names an existing task.
    pub fn check_exists(&self, store: &Store, id: &str) -> Result<(), CommandError> {
        crate::task::id::validate_id(id).map_err(crate::store::StoreError::from)?;
        if store.exists(id) {
            Ok(())
        } else {
            Err(crate::store::StoreError::UnknownTask {
                id: id.to_string(),
                path: store.task_path(id),
            }
            .into())
        }
    }

    pub fn warn_broken(&mut self, broken: &[BrokenFile]) {
        for b in broken {
            self.ui.warn(format!(
                "{}:{}: {} (task left out; fix the file)",
                b.path.display(),
                b.line,
                b.message
            ));
        }
    }

    /// Says which commit recorded a change, or that it was left uncommitted.
    pub fn report_commit(&mut self, commit: &Option<String>, changed: bool) {
        match commit {
            Some(c) => self
                .ui
                .status(format!("committed {}", crate::git::short(c))),
            None if changed => self
                .ui
                .status("not committed (--no-commit or commit = false)"),
            None => {}
        }
    }
}

/// One settled clash for people: the field, the side kept, and the value
/// dropped when it is short enough for one line (both are in `--json`).
/// `ours` and `theirs` name the sides as the sentence needs them
/// ("main's", "theirs").
pub fn clash_line(c: &crate::task::Clash, ours: &str, theirs: &str) -> String {
    let (kept, dropped, value) = match c.kept {
        crate::task::Side::Ours => (ours, theirs, &c.theirs),
        crate::task::Side::Theirs => (theirs, ours, &c.ours),
    };
    let value = value.to_string();
    let value = if value.len() <= 60 && !value.contains("\\n") {
        format!(" {value}")
    } else {
        String::new()
    };
    format!(
        "{} changed on both sides; kept {kept}, not {dropped}{value}",
        c.field
    )
}

pub fn status_style(status: Status) -> anstyle::Style {
    match status {
        Status::Open => ui::GOOD,
        Status::InProgress | Status::Done => ui::BOLD,
        Status::Closed => ui::DIM,
        Status::Failed | Status::Escalated => ui::BAD,
        Status::Deferred => ui::WARN,
    }
}

/// One line per task: `id  status  P2  kind  title  [labels]`.
pub fn task_line(t: &Task) -> String {
    let mut line = format!(
        "{}  {}  P{}  {:<4}  {}",
        paint(ui::ID, format_args!("{:<12}", t.id)),
        paint(
            status_style(t.status),
            format_args!("{:<11}", t.status.as_str())
        ),
        t.priority,
        t.kind.as_str(),
        t.title
    );
    if !t.labels.is_empty() {
        line.push_str(&paint(ui::DIM, format_args!("  [{}]", t.labels.join(", "))));
    }
    line
}

/// Prints tasks as a JSON array or one line each.
pub fn print_tasks(ctx: &mut Ctx, tasks: &[Task]) -> Result<(), CommandError> {
    if ctx.ui.json {
        ctx.ui.json_value(tasks)?;
    } else {
        for t in tasks {
            ctx.ui.line(task_line(t))?;
        }
    }
    Ok(())
}

/// Reads a body from `-d TEXT` or `--body-file F` (`-` is stdin).
pub fn read_body(
    text: Option<String>,
    file: Option<&Path>,
) -> Result<Option<String>, CommandError> {
    match (text, file) {
        (Some(_), Some(_)) => Err(CommandError::usage(
            "give either -d/--body or --body-file, not both",
        )),
        (Some(t), None) => Ok(Some(t)),
        (None, Some(f)) if f == Path::new("-") => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
            Ok(Some(s))
        }
        (None, Some(f)) => std::fs::read_to_string(f).map(Some).map_err(|e| {
            CommandError::context(
                crate::error::Exit::User,
                format!("cannot read --body-file {}", f.display()),
                e,
            )
        }),
        (None, None) => Ok(None),
    }
}
