//! `git batch review`: what each task of a plan or range did, to read top
//! to bottom.

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::plan::{Plan, PlanError, PlanStatus};
use crate::report::html;
use crate::report::review::{self, Review, TaskReview};
use crate::report::status::LineState;
use crate::ui::{self, paint};

/// For each task of a plan (default: the newest plan) or of a range of
/// commits: its title, its result, the receipt lines it added, and the
/// files it changed (--patch: the diff too). Landed work is found exactly
/// through the landing commits; work not landed is its worker branch.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plan to review.
    #[arg(long, value_name = "NAME", conflicts_with = "range")]
    pub plan: Option<String>,
    /// Review the tasks of these commits instead, e.g.
    /// `origin/main@{1}..origin/main` (the last landing) or
    /// `main..batch/<id>` (one worker's branch).
    #[arg(value_name = "A..B", value_parser = super::values::range)]
    pub range: Option<String>,
    /// Include the diff of each task's files.
    #[arg(long)]
    pub patch: bool,
    /// Record that the plan was reviewed (it must be completed): its
    /// status becomes `reviewed`, committed.
    #[arg(long, conflicts_with = "range")]
    pub mark_reviewed: bool,
    /// Also write the review as one self-contained HTML page (the queue,
    /// escalations, failures with their log tails, the timeline, every
    /// task's receipt and diff) to FILE; `-` writes it on stdout instead
    /// of the text.
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    // The page always shows the diffs.
    let patch = args.patch || args.html.is_some();
    let mut plan = None;
    let result = match &args.range {
        Some(range) => review::review_range(&store, range, patch)?,
        None => {
            let name = match &args.plan {
                Some(n) => n.clone(),
                None => Plan::all(&store)
                    .into_iter()
                    .max_by(|a, b| (&a.created, &a.name).cmp(&(&b.created, &b.name)))
                    .map(|p| p.name)
                    .ok_or_else(|| {
                        CommandError::user("there is no plan to review")
                            .hint("name a range instead: `git batch review A..B`")
                    })?,
            };
            let result = review::review_plan(&store, &name, patch)?;
            if args.mark_reviewed {
                let left = result
                    .tasks
                    .iter()
                    .filter(|t| matches!(t.state, LineState::Running | LineState::Queued))
                    .count();
                if left > 0 {
                    return Err(PlanError::NotCompleted { name, left }.into());
                }
                Plan::set_status(&store, &name, PlanStatus::Reviewed)?;
                ctx.ui.status(format!("plan {name} marked reviewed"));
            }
            plan = Some(Plan::read(&store, &name)?);
            result
        }
    };
    let mut result = result;
    if let Some(target) = &args.html {
        let title = format!("git batch review: {}", result.subject);
        let section = html::review_section(&store, result.clone(), plan.as_ref());
        let page = html::render(&html::Dashboard::new(title, vec![section]));
        if write_page(ctx, target, &page)? {
            return Ok(());
        }
    }
    if !args.patch {
        // The page needed the diffs; the text and JSON show them if asked.
        for t in &mut result.tasks {
            t.patch = None;
        }
    }
    if ctx.ui.json {
        ctx.ui.json_value(&result)?;
        return Ok(());
    }
    for line in render(&result) {
        ctx.ui.line(line)?;
    }
    Ok(())
}

/// Writes an HTML page to `target` atomically, or on stdout for `-`;
/// whether it went to stdout (then nothing else is printed there).
pub fn write_page(
    ctx: &mut Ctx,
    target: &std::path::Path,
    page: &str,
) -> Result<bool, CommandError> {
    if target == std::path::Path::new("-") {
        std::io::Write::write_all(ctx.ui.out(), page.as_bytes())?;
        return Ok(true);
    }
    crate::atomic::write_atomic(target, page.as_bytes()).map_err(|e| {
        CommandError::new(crate::error::Exit::User, e).hint(format!(
            "writing the page to {}: check that its directory exists and is writable",
            target.display()
        ))
    })?;
    ctx.ui.status(format!("wrote {}", target.display()));
    Ok(false)
}

/// The review as text: per task a header, its receipt lines as added
/// lines, its files as a diffstat, then the patch when asked.
pub fn render(r: &Review) -> Vec<String> {
    let mut out = vec![format!(
        "review of {} ({} task(s))",
        r.subject,
        r.tasks.len()
    )];
    if !r.counts.is_empty() {
        out.push(format!("counts: {}", counts_text(&r.counts)));
    }
    for t in &r.tasks {
        out.push(String::new());
        out.extend(render_task(t));
    }
    out
}

/// `fyi 19, processed 42, task 19`.
pub fn counts_text(counts: &std::collections::BTreeMap<String, f64>) -> String {
    counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_task(t: &TaskReview) -> Vec<String> {
    let style = match t.state {
        LineState::Closed | LineState::Done => ui::GOOD,
        LineState::Failed | LineState::Escalated => ui::BAD,
        LineState::Running | LineState::Queued => ui::DIM,
    };
    let mut out = vec![format!(
        "{}  {}  {}",
        paint(ui::ID, &t.id),
        paint(style, t.state.as_str()),
        paint(ui::BOLD, &t.title)
    )];
    let mut facts = vec![format!("p{}", t.priority)];
    if let Some(s) = t.score {
        facts.push(format!("score {s}"));
    }
    if let Some(v) = &t.verdict {
        facts.push(format!("{} by {}", v.verdict, v.by));
    }
    out.push(format!("  {}", facts.join("  ")));
    for f in &t.flags {
        out.push(paint(ui::BAD, format_args!("  ! {f}")));
    }
    if let Some(r) = &t.reason {
        // A reason that starts with its state already ("failed: ...")
        // does not say it twice.
        let state = format!("{}: ", t.state);
        out.push(format!("  {state}{}", r.strip_prefix(&state).unwrap_or(r)));
    }
    if let Some(why) = t.verdict.as_ref().and_then(|v| v.reason.as_ref()) {
        out.push(format!("  rejected because: {why}"));
    }
    if !t.gates.is_empty() {
        let gates: Vec<String> = t.gates.iter().map(super::gate::describe).collect();
        out.push(format!("  gates: {}", gates.join("; ")));
    }
    if !t.counts.is_empty() {
        out.push(format!("  counts: {}", counts_text(&t.counts)));
    }
    match (&t.landed, &t.range) {
        (Some(l), Some(range)) => out.push(format!("  landed {} ({range})", crate::git::short(l))),
        (None, Some(range)) => out.push(format!("  commits {range}")),
        _ => {}
    }
    if t.receipt.is_empty() {
        out.push(paint(ui::DIM, "  no receipt lines"));
    } else {
        out.push(format!("  receipt ({} line(s)):", t.receipt.len()));
        for l in &t.receipt {
            out.push(paint(ui::GOOD, format_args!("  + {l}")));
        }
    }
    if t.files.is_empty() {
        out.push(paint(ui::DIM, "  no files changed"));
    } else {
        out.push(format!("  files ({}):", t.files.len()));
        for f in &t.files {
            let mark = match f.change {
                "added" => "A",
                "deleted" => "D",
                "renamed" => "R",
                _ => "M",
            };
            out.push(format!(
                "    {mark} {}  +{} -{}",
                f.path, f.added, f.removed
            ));
        }
    }
    if let Some(p) = &t.patch {
        for l in p.lines() {
            let style = match l.chars().next() {
                Some('+') => ui::GOOD,
                Some('-') => ui::BAD,
                _ => anstyle::Style::new(),
            };
            out.push(paint(style, format_args!("    {l}")));
        }
    }
    out
}
