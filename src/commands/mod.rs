//! One module per subcommand: a clap `Args` struct and a `run` function that
//! calls the library and hands the result to the output layer. Shared
//! rendering of tasks lives here.

pub mod blocked;
pub mod close;
pub mod completions;
pub mod create;
pub mod dep;
pub mod export;
pub mod import;
pub mod init;
pub mod list;
pub mod man;
pub mod note;
pub mod ready;
pub mod reopen;
pub mod show;
pub mod update;

use crate::cli::Ctx;
use crate::error::CommandError;
use crate::store::{BrokenFile, Cache, Store};
use crate::task::{Status, Task};
use crate::ui::{self, paint};
use std::path::Path;

impl Ctx {
    /// The store of the repository around the current directory.
    pub fn store(&mut self) -> Result<Store, CommandError> {
        let mut store = Store::open(Path::new("."))?;
        store.no_commit = self.no_commit;
        for key in store.config.unknown_keys() {
            self.ui.warn(format!(
                ".batch/config.toml: unknown key '{key}' (ignored; a newer git-batch may use it)"
            ));
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
                .status(format!("committed {}", &c[..c.len().min(10)])),
            None if changed => self
                .ui
                .status("not committed (--no-commit or commit = false)"),
            None => {}
        }
    }
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
