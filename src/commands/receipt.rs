//! `git batch receipt`: append to a task's receipt while working.

use super::WorkerArgs;
use crate::commands::Ctx;
use crate::error::CommandError;
use crate::work::{receipt, worktree};

/// Append timestamped lines (`<time> <worker> <text>`) to the task's receipt
/// in its worktree; each line is on disk when the command returns.
///
/// `git batch receipt [ID] TEXT...`: the ID may be left out inside a worker
/// worktree. A TEXT of `-` reads lines from standard input.
///
/// Structured lines are counted by category in `status` and `review`:
/// `--count CATEGORY [--item ID] TEXT` adds one to CATEGORY (one line per
/// item found), `--field KEY=N` adds N to KEY (a checkpoint's summary,
/// e.g. `--field processed=42 --field skip=4`).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(required_unless_present_any = ["count", "field"], value_name = "ID_OR_TEXT", help = "[ID] TEXT...")]
    pub words: Vec<String>,
    /// Count this line in CATEGORY (lower-case letters, digits, `_`, `-`).
    #[arg(long, value_name = "CATEGORY", value_parser = parse_key)]
    pub count: Option<String>,
    /// With --count: what was counted (an id, a path).
    #[arg(long, value_name = "ID", requires = "count", value_parser = parse_item)]
    pub item: Option<String>,
    /// Add N to the count KEY (repeatable).
    #[arg(long, value_name = "KEY=N", value_parser = parse_field)]
    pub field: Vec<(String, f64)>,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

#[derive(serde::Serialize)]
struct Appended {
    id: String,
    path: std::path::PathBuf,
    lines: usize,
}

fn parse_key(s: &str) -> Result<String, String> {
    if receipt::is_key(s) {
        Ok(s.to_string())
    } else {
        Err("use lower-case letters, digits, '_' and '-' (at most 40)".into())
    }
}

fn parse_item(s: &str) -> Result<String, String> {
    let fits = !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c == ']' || c.is_control());
    if fits {
        Ok(s.to_string())
    } else {
        Err("an item has no blanks and no ']'".into())
    }
}

fn parse_field(s: &str) -> Result<(String, f64), String> {
    let (k, n) = s.split_once('=').ok_or("give it as KEY=N")?;
    let key = parse_key(k)?;
    let n: f64 = n.parse().map_err(|_| format!("'{n}' is not a number"))?;
    if !n.is_finite() || key == "count" || key == "item" {
        return Err("give it as KEY=N, N a number (count and item are taken)".into());
    }
    Ok((key, n))
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let current = worktree::current_task(&store);
    let mut words = args.words;
    // The first word is the task when it names one (or when there is no
    // current task to default to).
    let structured = args.count.is_some() || !args.field.is_empty();
    let first_is_id = (words.len() > 1 || (structured && words.len() == 1 && current.is_none()))
        && crate::task::id::validate_id(&words[0]).is_ok()
        && (store.exists(&words[0]) || current.is_none());
    let id = if first_is_id {
        words.remove(0)
    } else {
        worktree::task_or_current(&store, None)?
    };
    if !store.exists(&id) {
        ctx.check_exists(&store, &id)?;
    }
    let path = receipt::location(&store, &id)?;
    let worker = args.worker.name_for(&store, &id);
    let lines = if words == ["-"] && !structured {
        receipt::append_stream(&path, &worker, std::io::stdin().lock())?
    } else {
        let text = words.join(" ");
        if structured && text.contains('\n') {
            return Err(CommandError::usage(
                "a counted receipt line is one line: give TEXT without newlines",
            ));
        }
        let line = receipt::structured_text(
            args.count.as_deref(),
            args.item.as_deref(),
            &args.field,
            &text,
        );
        receipt::append(&path, &worker, [line])?
    };
    if ctx.ui.json {
        ctx.ui.json_value(&Appended { id, path, lines })?;
    }
    Ok(())
}
