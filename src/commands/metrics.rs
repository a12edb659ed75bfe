//! `git batch metrics`: how the batches went, per plan and week over week.

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::report::metrics::{self, Figures};

use super::status::short_duration;

/// Per plan and per ISO week (of the plan's creation): tasks, completion,
/// escalation and failure rates, attempts per task, median and p90 task
/// time (first claim to done), landings, the average gate score and the
/// review time (done to approved). Computed from what git holds (plans,
/// task files, landing commits, the claims ref's history), the same in
/// every clone that fetched the claims ref.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only plans created at or after this date (`2026-11-30`, midnight
    /// UTC) or time (RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let since = match &args.since {
        Some(text) => Some(metrics::parse_since(text).ok_or_else(|| {
            CommandError::usage(format!(
                "--since: '{text}' is not a date: give it as 2026-11-30 or 2026-11-30T08:00:00Z"
            ))
        })?),
        None => None,
    };
    let m = metrics::metrics(&store, since);
    if ctx.ui.json {
        ctx.ui.json_value(&m)?;
        return Ok(());
    }
    if m.plans.is_empty() {
        ctx.ui
            .status("no plans to measure (`git batch plan` makes one)");
        return Ok(());
    }
    let rows: Vec<(String, &Figures)> = m
        .plans
        .iter()
        .map(|p| (format!("{} ({})", p.name, p.week), &p.figures))
        .collect();
    for line in table("plan", &rows) {
        ctx.ui.line(line)?;
    }
    ctx.ui.line("")?;
    let rows: Vec<(String, &Figures)> = m
        .weeks
        .iter()
        .map(|w| (w.week.clone(), &w.figures))
        .collect();
    for line in table("week", &rows) {
        ctx.ui.line(line)?;
    }
    Ok(())
}

fn percent(r: f64) -> String {
    format!("{:.0}%", r * 100.0)
}

fn or_dash<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or_else(|| "-".to_string(), f)
}

/// One row per plan or week, aligned; the week rows read week over week.
fn table(first: &str, rows: &[(String, &Figures)]) -> Vec<String> {
    let head = [
        first, "tasks", "complete", "escal", "failed", "att/t", "median", "p90", "lands", "score",
        "review",
    ];
    let mut cells: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for (name, f) in rows {
        cells.push(vec![
            name.clone(),
            f.tasks.to_string(),
            percent(f.completion_rate),
            percent(f.escalation_rate),
            percent(f.failure_rate),
            or_dash(f.attempts_per_task, |a| format!("{a:.2}")),
            or_dash(f.median_task_secs, short_duration),
            or_dash(f.p90_task_secs, short_duration),
            f.landings.to_string(),
            or_dash(f.average_score, |s| format!("{s:.1}")),
            or_dash(f.median_review_secs, short_duration),
        ]);
    }
    let widths: Vec<usize> = (0..head.len())
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    cells
        .iter()
        .map(|r| {
            let mut line = format!("{:<w$}", r[0], w = widths[0]);
            for (c, w) in r.iter().zip(&widths).skip(1) {
                line.push_str(&format!("  {c:>w$}"));
            }
            line.trim_end().to_string()
        })
        .collect()
}
