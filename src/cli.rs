//! The command line: global flags, the one `Command` enum, dispatch, and the
//! mapping of errors to exit codes.

use crate::commands;
use crate::error::{CommandError, Exit};
use crate::ui::{ColorWhen, Ui};
use clap::{Parser, Subcommand};
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

#[derive(Debug, clap::Args)]
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
    Init(commands::init::Args),
    Create(commands::create::Args),
    Show(commands::show::Args),
    List(commands::list::Args),
    Update(commands::update::Args),
    Close(commands::close::Args),
    Reopen(commands::reopen::Args),
    Note(commands::note::Args),
    #[command(subcommand)]
    Dep(commands::dep::DepCommand),
    Ready(commands::ready::Args),
    Blocked(commands::blocked::Args),
    Import(commands::import::Args),
    Export(commands::export::Args),
    Claim(commands::claim::Args),
    Release(commands::release::Args),
    Claims(commands::claims::Args),
    Start(commands::start::Args),
    Current(commands::current::Args),
    Receipt(commands::receipt::Args),
    Receipts(commands::receipts::Args),
    Done(commands::done::Args),
    Fail(commands::fail::Args),
    /// Mark a task escalated: it needs a human decision. The reason (the
    /// question) becomes a note, the status is committed on its branch, and
    /// the claim is released. Branch and worktree are kept.
    #[command(long_about = None)]
    Escalate(commands::escalate::Args),
    Abandon(commands::abandon::Args),
    Land(commands::land::Args),
    Plan(commands::plan::Args),
    Split(commands::split::Args),
    Run(commands::run::Args),
    Status(commands::status::Args),
    Review(commands::review::Args),
    Prime(commands::prime::Args),
    Demo(commands::demo::Args),
    #[command(hide = true, name = "demo-worker")]
    DemoWorker(commands::demo::WorkerArgs),
    Check(commands::check::Args),
    #[command(subcommand)]
    Hooks(commands::hooks::HooksCommand),
    Hook(commands::hook::Args),
    Completions(commands::completions::Args),
    Man(commands::man::Args),
}

/// What every command gets: the output layer and the global flags.
pub struct Ctx {
    pub ui: Ui,
    pub no_commit: bool,
}

/// Runs one parsed command line.
pub fn run(cli: Cli, ctx: &mut Ctx) -> Result<(), CommandError> {
    match cli.command {
        Command::Init(args) => commands::init::run(ctx, args),
        Command::Create(args) => commands::create::run(ctx, args),
        Command::Show(args) => commands::show::run(ctx, args),
        Command::List(args) => commands::list::run(ctx, args),
        Command::Update(args) => commands::update::run(ctx, args),
        Command::Close(args) => commands::close::run(ctx, args),
        Command::Reopen(args) => commands::reopen::run(ctx, args),
        Command::Note(args) => commands::note::run(ctx, args),
        Command::Dep(cmd) => commands::dep::run(ctx, cmd),
        Command::Ready(args) => commands::ready::run(ctx, args),
        Command::Blocked(args) => commands::blocked::run(ctx, args),
        Command::Import(args) => commands::import::run(ctx, args),
        Command::Export(args) => commands::export::run(ctx, args),
        Command::Claim(args) => commands::claim::run(ctx, args),
        Command::Release(args) => commands::release::run(ctx, args),
        Command::Claims(args) => commands::claims::run(ctx, args),
        Command::Start(args) => commands::start::run(ctx, args),
        Command::Current(args) => commands::current::run(ctx, args),
        Command::Receipt(args) => commands::receipt::run(ctx, args),
        Command::Receipts(args) => commands::receipts::run(ctx, args),
        Command::Done(args) => commands::done::run(ctx, args),
        Command::Fail(args) => commands::fail::run(ctx, args),
        Command::Escalate(args) => commands::escalate::run(ctx, args),
        Command::Abandon(args) => commands::abandon::run(ctx, args),
        Command::Land(args) => commands::land::run(ctx, args),
        Command::Plan(args) => commands::plan::run(ctx, args),
        Command::Split(args) => commands::split::run(ctx, args),
        Command::Run(args) => commands::run::run(ctx, args),
        Command::Status(args) => commands::status::run(ctx, args),
        Command::Review(args) => commands::review::run(ctx, args),
        Command::Prime(args) => commands::prime::run(ctx, args),
        Command::Demo(args) => commands::demo::run(ctx, args),
        Command::DemoWorker(args) => commands::demo::run_worker(ctx, args),
        Command::Check(args) => commands::check::run(ctx, args),
        Command::Hooks(cmd) => commands::hooks::run(ctx, cmd),
        Command::Hook(args) => commands::hook::run(ctx, args),
        Command::Completions(args) => commands::completions::run(ctx, args),
        Command::Man(args) => commands::man::run(ctx, args),
    }
}

/// The whole program: parse, run, print errors, choose the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(Exit::Usage as u8),
            };
        }
    };
    let mut ctx = Ctx {
        ui: Ui::new(cli.global.json, cli.global.quiet, cli.global.color),
        no_commit: cli.global.no_commit,
    };
    let json = cli.global.json;
    let result = match &cli.global.dir {
        Some(dir) => std::env::set_current_dir(dir).map_err(|e| {
            CommandError::new(Exit::User, e)
                .hint(format!("-C {}: no such directory", dir.display()))
        }),
        None => Ok(()),
    }
    .and_then(|()| run(cli, &mut ctx))
    .and_then(|()| ctx.ui.flush().map_err(CommandError::from));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            let _ = ctx.ui.flush();
            if json {
                ctx.ui.err_text(&e.render_json());
            } else {
                ctx.ui.err_text(&e.render());
            }
            ExitCode::from(e.exit as u8)
        }
    }
}
