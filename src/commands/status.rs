//! `git batch status`: the dashboard of plans and runs.

use crate::commands::Ctx;
use crate::error::CommandError;
use crate::report::html;
use crate::report::status::{self, BatchState, BatchView, LineState, TaskLine};
use crate::ui::{self, paint};
use std::io::{IsTerminal, Write};

/// Where each batch stands: per plan (and per run of tasks given by id in
/// this clone), how many tasks are closed (landed), done (finished, not
/// landed), running, failed, escalated and queued; the time so far and an
/// estimate of the time left; the running tasks with their worker and age;
/// failures with their reason and log; escalations waiting for a person;
/// and the tasks ready for review.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this plan.
    #[arg(long, value_name = "NAME")]
    pub plan: Option<String>,
    /// Show it again every --interval until every task shown is finished
    /// (or Ctrl-C). With --json: one JSON object per line.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: how often.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "2s",
        requires = "watch"
    )]
    pub interval: String,
    /// Also write the dashboard as one self-contained HTML page to FILE (per
    /// plan: the counts, the review queue, escalations, failures with
    /// their log tails, the timeline, every task's receipt and diff); `-`
    /// writes it on stdout instead of the text.
    #[arg(long, value_name = "FILE", conflicts_with = "watch")]
    pub html: Option<std::path::PathBuf>,
}

pub fn run(ctx: &mut Ctx, args: Args) -> Result<(), CommandError> {
    let store = ctx.store()?;
    let interval = crate::store::HumanDuration::parse(&args.interval)
        .map(|d| d.get())
        .map_err(|e| CommandError::usage(format!("--interval: {e}")))?;
    if let Some(target) = &args.html
        && html_page(ctx, &store, args.plan.as_deref(), target)?
    {
        return Ok(());
    }
    let clear = args.watch && !ctx.ui.json && std::io::stdout().is_terminal();
    loop {
        let report = status::status(&store, args.plan.as_deref())?;
        for b in &report.broken {
            ctx.ui.warn(format!("{b} (plan left out; fix the file)"));
        }
        if clear {
            write!(ctx.ui.out(), "\x1b[2J\x1b[H")?;
        }
        if ctx.ui.json {
            if args.watch {
                serde_json::to_writer(ctx.ui.out(), &report).map_err(std::io::Error::from)?;
                writeln!(ctx.ui.out())?;
            } else {
                ctx.ui.json_value(&report)?;
            }
        } else {
            let views: Vec<&BatchView> = report.plans.iter().chain(&report.runs).collect();
            if views.is_empty() {
                ctx.ui.status(
                    "no plans and no runs yet (`git batch plan` or `git batch split --plan`)",
                );
            }
            for (i, view) in views.iter().enumerate() {
                if i > 0 {
                    ctx.ui.line("")?;
                }
                for line in render(view, ui::columns()) {
                    ctx.ui.line(line)?;
                }
            }
        }
        ctx.ui.flush()?;
        let busy = report
            .plans
            .iter()
            .chain(&report.runs)
            .any(|v| v.running + v.queued > 0 && v.status != BatchState::Stopped);
        if !args.watch || !busy {
            return Ok(());
        }
        std::thread::sleep(interval);
    }
}

/// `status --html`: a section per plan (then per run without a plan);
/// whether the page went to stdout.
fn html_page(
    ctx: &mut Ctx,
    store: &crate::store::Store,
    only: Option<&str>,
    target: &std::path::Path,
) -> Result<bool, CommandError> {
    let report = status::status(store, only)?;
    let mut sections = Vec::new();
    for p in &report.plans {
        sections.push(html::plan_section(store, &p.name)?);
    }
    for r in report.runs {
        sections.push(html::view_section(store, r));
    }
    let title = match only {
        Some(name) => format!("git batch status: plan {name}"),
        None => "git batch status".to_string(),
    };
    let page = html::render(&html::Dashboard::new(title, sections));
    super::review::write_page(ctx, target, &page)
}

/// `1h02m`, `3m12s`, `45s`.
pub fn short_duration(secs: i64) -> String {
    let secs = secs.max(0);
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('~');
    out
}

/// The dashboard of one batch, in lines that fit `width` columns (`None`:
/// whole lines, every word of a question or a reason).
pub fn render(v: &BatchView, width: Option<usize>) -> Vec<String> {
    // What is left of the line after `used` columns, at least 10.
    let fit = |text: &str, used: usize| match width {
        Some(w) => cut(text, w.saturating_sub(used).max(10)),
        None => text.to_string(),
    };
    let mut out = Vec::new();
    let kind = if v.plan.is_some() { "plan" } else { "run" };
    let style = match v.status {
        BatchState::Completed | BatchState::Reviewed => ui::GOOD,
        BatchState::Running => ui::BOLD,
        BatchState::Stopped => ui::WARN,
        BatchState::Pending => ui::DIM,
    };
    out.push(format!(
        "{kind} {}  {}  {} task(s)",
        paint(ui::BOLD, &v.name),
        paint(style, v.status.as_str()),
        v.total
    ));
    let mut counts = Vec::new();
    for (n, what) in [
        (v.closed, "closed"),
        (v.done, "done"),
        (v.running, "running"),
        (v.failed, "failed"),
        (v.escalated, "escalated"),
        (v.queued, "queued"),
    ] {
        counts.push(format!("{n} {what}"));
    }
    out.push(format!("  {}", counts.join(", ")));
    if let Some(e) = v.elapsed_secs {
        let eta = v
            .eta_secs
            .map(|s| format!(", about {} left", short_duration(s)))
            .unwrap_or_default();
        out.push(format!("  elapsed {}{eta}", short_duration(e)));
    }
    if let Some(r) = &v.rate_limits {
        let until = r
            .paused_until
            .as_deref()
            .map(|t| format!("; no new starts until {t}"))
            .unwrap_or_default();
        out.push(paint(
            ui::WARN,
            format!("  rate limited: {} event(s) in a row{until}", r.count),
        ));
    }
    if !v.counts.is_empty() {
        out.push(format!(
            "  counts: {}",
            super::review::counts_text(&v.counts)
        ));
    }
    if v.approved + v.rejected > 0 {
        out.push(format!(
            "  reviewed: {} approved, {} rejected",
            v.approved, v.rejected
        ));
    }
    let section = |out: &mut Vec<String>,
                   title: &str,
                   lines: Vec<&TaskLine>,
                   f: &dyn Fn(&TaskLine) -> Vec<String>| {
        if lines.is_empty() {
            return;
        }
        out.push(format!("  {title}:"));
        for t in lines {
            out.extend(f(t));
        }
    };
    section(
        &mut out,
        "running",
        v.with_state(LineState::Running).collect(),
        &|t| {
            let who = t.worker.as_deref().unwrap_or("?");
            let age = t.age_secs.map(short_duration).unwrap_or_default();
            let head = format!("    {}  {}  {age}  ", paint(ui::ID, &t.id), cut(who, 24));
            let used = t.id.len() + who.len().min(24) + age.len() + 10;
            vec![format!("{head}{}", fit(&t.title, used))]
        },
    );
    let reason_lines = |t: &TaskLine| {
        let mut lines = vec![format!(
            "    {}  {}",
            paint(ui::ID, &t.id),
            fit(short_reason(t).lines().next().unwrap_or(""), t.id.len() + 6)
        )];
        if let Some(log) = &t.log {
            lines.push(format!("      log {}", log.display()));
        }
        lines
    };
    section(
        &mut out,
        "failed",
        v.with_state(LineState::Failed).collect(),
        &reason_lines,
    );
    section(
        &mut out,
        "escalated, waiting for a person",
        v.with_state(LineState::Escalated).collect(),
        &|t| {
            let question = short_reason(t);
            let mut lines = question.lines();
            let first = lines.next().unwrap_or_default();
            let mut out = vec![format!(
                "    {}  {}",
                paint(ui::ID, &t.id),
                fit(first, t.id.len() + 6)
            )];
            // Without a width the whole question, its other lines below.
            if width.is_none() {
                out.extend(lines.map(|l| format!("    {:w$}  {l}", "", w = t.id.len())));
            }
            out
        },
    );
    section(
        &mut out,
        "done, ready for review (`git batch review`) and landing",
        v.with_state(LineState::Done).collect(),
        &|t| {
            vec![format!(
                "    {}  {}",
                paint(ui::ID, &t.id),
                fit(&t.title, t.id.len() + 6)
            )]
        },
    );
    out
}

/// The reason as the dashboard shows it (every line: a failure shows its
/// first, a question all): without the `failed: ` its section
/// heading already says, nor the log its own line names (a reason naming
/// another attempt's log keeps it).
fn short_reason(t: &TaskLine) -> String {
    let Some(reason) = t.reason.as_deref() else {
        return if t.state == LineState::Escalated {
            "(no question recorded)".into()
        } else {
            "(no reason recorded)".into()
        };
    };
    let reason = reason.trim_end();
    let reason = reason
        .strip_prefix(t.state.as_str())
        .and_then(|r| r.strip_prefix(": "))
        .unwrap_or(reason);
    let log = t.log.as_ref().map(|l| format!("; log {}", l.display()));
    log.and_then(|l| reason.strip_suffix(&l))
        .unwrap_or(reason)
        .to_string()
}
