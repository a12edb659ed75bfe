//! The HTML dashboard (`review --html`, `status --html`): one
//! self-contained page per report, for a browser at laptop width and for
//! print. No network assets and no script needed (`<details>` collapse;
//! a one-line script only opens them all for printing).
//!
//! Everything a task wrote (titles, reasons, receipt lines, diffs, gate
//! output) is untrusted: it reaches the page only through [`esc`]. The
//! markup is well-formed XML as well as HTML, so tools (and the tests) can
//! parse it strictly.

use super::history::{Attempt, History};
use super::review::{Review, TaskReview};
use super::status::{BatchView, Facts, LineState, TaskLine};
use crate::claims::live::{Answer, Outcome};
use crate::plan::{Plan, PlanError};
use crate::store::Store;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

/// Lines of a failed attempt's log shown on the page.
const LOG_TAIL_LINES: usize = 40;
/// Lines of one task's diff shown on the page (`review --patch` has all).
const PATCH_LINES: usize = 4000;

/// One batch on the page.
#[derive(Debug, Clone)]
pub struct Section {
    pub view: BatchView,
    /// The review queue, in review order; `None` for a run without a plan.
    pub review: Option<Review>,
    /// When each task ran, in the order of the view's tasks.
    pub lanes: Vec<Lane>,
    /// The last lines of the newest log of failed tasks (logs on this
    /// clone only).
    pub tails: BTreeMap<String, String>,
    /// People's answers to escalations, by task.
    pub answers: BTreeMap<String, Vec<Answer>>,
}

/// One task's row of the timeline.
#[derive(Debug, Clone)]
pub struct Lane {
    pub id: String,
    pub attempts: Vec<Attempt>,
}

/// A whole page.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub title: String,
    /// When it was made (RFC 3339).
    pub generated: String,
    pub sections: Vec<Section>,
}

impl Dashboard {
    pub fn new(title: impl Into<String>, sections: Vec<Section>) -> Dashboard {
        Dashboard {
            title: title.into(),
            generated: crate::time::now_text(),
            sections,
        }
    }
}

/// The section of plan `name`: its status, its review queue with the
/// patches, its timeline.
pub fn plan_section(store: &Store, name: &str) -> Result<Section, PlanError> {
    let plan = Plan::read(store, name)?;
    let review = super::review::review_plan(store, name, true)?;
    Ok(review_section(store, review, Some(&plan)))
}

/// The section of a review: of `plan`, else of the range it names.
pub fn review_section(store: &Store, review: Review, plan: Option<&Plan>) -> Section {
    let facts = Facts::read(store);
    let view = match plan {
        Some(p) => facts.view(&p.name, &p.ids(), Some(p)),
        None => {
            let ids: Vec<String> = review.tasks.iter().map(|t| t.id.clone()).collect();
            facts.view(&review.subject, &ids, None)
        }
    };
    section(store, &facts, view, Some(review))
}

/// The section of a run without a plan: its status and timeline.
pub fn view_section(store: &Store, view: BatchView) -> Section {
    let facts = Facts::read(store);
    section(store, &facts, view, None)
}

fn section(store: &Store, facts: &Facts<'_>, view: BatchView, review: Option<Review>) -> Section {
    let history = History::read(&store.repo, store.main_tip().ok());
    let lanes = view
        .tasks
        .iter()
        .map(|t| Lane {
            id: t.id.clone(),
            attempts: history
                .task(&t.id)
                .map(|h| h.attempts.clone())
                .unwrap_or_default(),
        })
        .collect();
    let mut tails = BTreeMap::new();
    let mut answers = BTreeMap::new();
    for t in &view.tasks {
        if t.state == LineState::Failed
            && let Some(tail) = t.log.as_deref().and_then(log_tail)
        {
            tails.insert(t.id.clone(), tail);
        }
        if let Some(l) = facts.claims().live.get(&t.id)
            && !l.answers.is_empty()
        {
            answers.insert(t.id.clone(), l.answers.clone());
        }
    }
    Section {
        view,
        review,
        lanes,
        tails,
        answers,
    }
}

/// The last lines of a log file, when it is on this clone.
fn log_tail(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    // Enough for the tail without reading a huge log whole.
    f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))
        .ok()?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(LOG_TAIL_LINES);
    Some(lines[from..].join("\n"))
}

/// Text made safe for the page, in an element or an attribute: markup
/// characters escaped, and control characters (which neither a browser
/// nor an XML reader should get) replaced.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = include_str!("html.css");

/// The page.
pub fn render(d: &Dashboard) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <header><h1>{}</h1><p class=\"dim\">git-batch, {}</p></header>\n",
        esc(&d.title),
        esc(&d.title),
        esc(&d.generated)
    );
    if d.sections.is_empty() {
        h.push_str("<p class=\"dim\">Nothing to show: no plans and no runs yet.</p>\n");
    }
    for s in &d.sections {
        render_section(&mut h, s);
    }
    // Closed <details> would print as their summaries alone.
    h.push_str(
        "<script>window.addEventListener('beforeprint',function(){\
         document.querySelectorAll('details').forEach(function(d){d.open=true})})</script>\n\
         </body>\n</html>\n",
    );
    h
}

fn state_badge(s: LineState) -> String {
    format!("<span class=\"badge {0}\">{0}</span>", s.as_str())
}

fn render_section(h: &mut String, s: &Section) {
    let v = &s.view;
    let kind = if v.plan.is_some() { "plan" } else { "run" };
    let _ = writeln!(
        h,
        "<section class=\"batch\" id=\"{kind}-{}\">\n<h2>{kind} {} <span class=\"badge {}\">{}</span></h2>",
        esc(&v.name),
        esc(&v.name),
        v.status.as_str(),
        v.status.as_str()
    );
    summary(h, v);
    if let Some(r) = &s.review {
        queue(h, r);
    }
    escalations(h, s);
    failures(h, s);
    timeline(h, s);
    if let Some(r) = &s.review {
        h.push_str("<h3>Tasks</h3>\n");
        for t in &r.tasks {
            task_details(h, t, v.tasks.iter().find(|l| l.id == t.id));
        }
    }
    h.push_str("</section>\n");
}

fn summary(h: &mut String, v: &BatchView) {
    h.push_str("<div class=\"cards\">\n");
    let mut card = |n: String, what: &str| {
        let _ = writeln!(
            h,
            "<div class=\"card {what}\"><b>{}</b><span>{what}</span></div>",
            esc(&n)
        );
    };
    card(v.total.to_string(), "tasks");
    for state in [
        LineState::Closed,
        LineState::Done,
        LineState::Running,
        LineState::Failed,
        LineState::Escalated,
        LineState::Queued,
    ] {
        card(v.with_state(state).count().to_string(), state.as_str());
    }
    card(v.approved.to_string(), "approved");
    card(v.rejected.to_string(), "rejected");
    if let Some(e) = v.elapsed_secs {
        let d = humantime::format_duration(std::time::Duration::from_secs(e.max(0) as u64));
        card(d.to_string(), "elapsed");
    }
    h.push_str("</div>\n");
    counts(h, &v.counts);
}

/// The structured receipt counts (`receipt --count`), as chips.
fn counts(h: &mut String, counts: &BTreeMap<String, f64>) {
    if counts.is_empty() {
        return;
    }
    h.push_str("<p class=\"counts\">receipt counts:");
    for (k, n) in counts {
        let _ = write!(h, " <span class=\"chip\">{} <b>{n}</b></span>", esc(k));
    }
    h.push_str("</p>\n");
}

fn queue(h: &mut String, r: &Review) {
    h.push_str(
        "<h3>Review queue</h3>\n<p class=\"dim\">In the order reviewers work: security \
         findings first, then finished work by priority and score, then escalations, then \
         the rest.</p>\n<table class=\"queue\">\n<thead><tr><th>#</th><th>task</th>\
         <th>title</th><th>state</th><th>priority</th><th>score</th><th>security</th>\
         <th>flags</th><th>verdict</th></tr></thead>\n<tbody>\n",
    );
    for (i, t) in r.tasks.iter().enumerate() {
        let flags: Vec<String> = t.flags.iter().map(|f| esc(f)).collect();
        let _ = writeln!(
            h,
            "<tr data-id=\"{id}\"><td>{n}</td><td><a href=\"#task-{id}\"><code>{id}</code></a></td>\
             <td>{title}</td><td>{state}</td><td>P{p}</td><td class=\"num\">{score}</td>\
             <td class=\"num{sec_class}\">{sec}</td><td class=\"flags\">{flags}</td><td>{verdict}</td></tr>",
            id = esc(&t.id),
            n = i + 1,
            title = esc(&t.title),
            state = state_badge(t.state),
            p = t.priority,
            score = t.score.map(|s| s.to_string()).unwrap_or_default(),
            sec_class = if t.security > 0 { " bad" } else { "" },
            sec = t.security,
            flags = flags.join("<br/>"),
            verdict = t
                .verdict
                .as_ref()
                .map(|v| format!("<span class=\"badge {0}\">{0}</span>", v.verdict.as_str()))
                .unwrap_or_default(),
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

/// The section's tasks in `state`, under `heading` when there are any.
fn headed<'a>(
    h: &mut String,
    s: &'a Section,
    state: LineState,
    heading: &str,
) -> Vec<&'a TaskLine> {
    let tasks: Vec<&TaskLine> = s.view.with_state(state).collect();
    if !tasks.is_empty() {
        let _ = writeln!(h, "<h3>{heading}</h3>");
    }
    tasks
}

fn escalations(h: &mut String, s: &Section) {
    let tasks = headed(
        h,
        s,
        LineState::Escalated,
        "Escalations, waiting for a person",
    );
    if tasks.is_empty() {
        return;
    }
    h.push_str("<div class=\"escalations\">\n");
    for t in tasks {
        let _ = writeln!(
            h,
            "<div class=\"escalation\" data-id=\"{id}\"><p><code>{id}</code> {title}</p>\
             <blockquote class=\"question\">{q}</blockquote>",
            id = esc(&t.id),
            title = esc(&t.title),
            q = esc(t.reason.as_deref().unwrap_or("(no question recorded)"))
        );
        match s.answers.get(&t.id) {
            Some(answers) => {
                h.push_str("<ul class=\"answers\">\n");
                for a in answers {
                    let _ = writeln!(
                        h,
                        "<li><b>{}</b> <span class=\"dim\">{}</span>: {}</li>",
                        esc(&a.by),
                        esc(&a.at),
                        esc(&a.text)
                    );
                }
                h.push_str("</ul>\n");
            }
            None => {
                let _ = writeln!(
                    h,
                    "<p class=\"dim\">No answer yet: <code>git batch answer {} TEXT --retry</code></p>",
                    esc(&t.id)
                );
            }
        }
        h.push_str("</div>\n");
    }
    h.push_str("</div>\n");
}

fn failures(h: &mut String, s: &Section) {
    for t in headed(h, s, LineState::Failed, "Failures") {
        let _ = writeln!(
            h,
            "<div class=\"failure\" data-id=\"{id}\"><p><code>{id}</code> {title} \
             <span class=\"dim\">{n} attempt(s)</span></p><p class=\"reason\">{reason}</p>",
            id = esc(&t.id),
            title = esc(&t.title),
            n = t.attempts,
            reason = esc(t.reason.as_deref().unwrap_or("(no reason recorded)"))
        );
        if let Some(tail) = s.tails.get(&t.id) {
            let log = t.log.as_ref().map(|l| l.display().to_string());
            let _ = writeln!(
                h,
                "<details class=\"log\" open=\"open\"><summary>log tail {}</summary><pre>{}</pre></details>",
                esc(log.as_deref().unwrap_or("")),
                esc(tail)
            );
        }
        h.push_str("</div>\n");
    }
}

fn outcome_class(o: Option<Outcome>) -> &'static str {
    match o {
        Some(Outcome::Done) => "done",
        Some(Outcome::Failed | Outcome::LeftOut) => "failed",
        Some(Outcome::Escalated) => "escalated",
        Some(Outcome::Retry) | None => "other",
    }
}

fn hms(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn timeline(h: &mut String, s: &Section) {
    h.push_str("<h3>Timeline</h3>\n");
    let starts = s
        .lanes
        .iter()
        .flat_map(|l| l.attempts.iter().map(|a| a.start));
    let ends = s
        .lanes
        .iter()
        .flat_map(|l| l.attempts.iter().map(|a| a.end.unwrap_or(a.start)));
    let (Some(from), Some(to)) = (starts.min(), ends.max()) else {
        h.push_str("<p class=\"dim\">No attempts recorded in the claims history yet.</p>\n");
        return;
    };
    // At least a second, so that a bar of an instant is drawn.
    let span = ((to - from).num_milliseconds().max(1000)) as f64;
    let pos =
        |t: DateTime<Utc>| ((t - from).num_milliseconds() as f64 / span * 100.0).clamp(0.0, 100.0);
    let _ = writeln!(
        h,
        "<div class=\"timeline\"><div class=\"axis\"><span>{}</span><span>{}</span></div>",
        esc(&hms(from)),
        esc(&hms(to))
    );
    for lane in &s.lanes {
        let _ = write!(
            h,
            "<div class=\"lane\" data-id=\"{id}\"><code>{id}</code><div class=\"track\">",
            id = esc(&lane.id)
        );
        for (i, a) in lane.attempts.iter().enumerate() {
            let end = a.end.unwrap_or(to);
            let left = pos(a.start);
            let width = (pos(end) - left).max(0.8);
            let what = a.outcome.map_or("running or released", Outcome::as_str);
            let _ = write!(
                h,
                "<span class=\"bar {}\" style=\"left:{left:.2}%;width:{width:.2}%\" \
                 title=\"attempt {}: {} to {} ({})\"></span>",
                outcome_class(a.outcome),
                i + 1,
                esc(&hms(a.start)),
                esc(&hms(end)),
                what
            );
        }
        h.push_str("</div></div>\n");
    }
    h.push_str(
        "<p class=\"legend\"><span class=\"bar done\"></span> done <span class=\"bar failed\"></span> \
         failed <span class=\"bar escalated\"></span> escalated <span class=\"bar other\"></span> \
         running or released</p>\n</div>\n",
    );
}

fn task_details(h: &mut String, t: &TaskReview, line: Option<&TaskLine>) {
    let _ = writeln!(
        h,
        "<details class=\"task\" id=\"task-{id}\"><summary><code>{id}</code> {state} {title}</summary>",
        id = esc(&t.id),
        state = state_badge(t.state),
        title = esc(&t.title)
    );
    let mut facts = vec![format!("P{}", t.priority)];
    if let Some(s) = t.score {
        facts.push(format!("score {s}"));
    }
    if let Some(l) = line {
        facts.push(format!("{} attempt(s)", l.attempts));
    }
    if let Some(l) = &t.landed {
        facts.push(format!("landed {}", crate::git::short(l)));
    }
    if let Some(r) = &t.range {
        facts.push(format!("commits {r}"));
    }
    let _ = writeln!(h, "<p class=\"dim\">{}</p>", esc(&facts.join(" · ")));
    for f in &t.flags {
        let _ = writeln!(h, "<p class=\"flag\">{}</p>", esc(f));
    }
    if let Some(r) = &t.reason {
        let _ = writeln!(h, "<p class=\"reason\">{}: {}</p>", t.state, esc(r));
    }
    if let Some(v) = &t.verdict {
        let why = v
            .reason
            .as_deref()
            .map(|r| format!(": {}", esc(r)))
            .unwrap_or_default();
        let _ = writeln!(
            h,
            "<p>{} by {} at {}{why}</p>",
            v.verdict,
            esc(&v.by),
            esc(&v.at)
        );
    }
    if !t.gates.is_empty() {
        h.push_str(
            "<table class=\"gates\"><thead><tr><th>gate</th><th>result</th><th>exit</th>\
             <th>seconds</th><th>fields</th></tr></thead><tbody>\n",
        );
        for g in &t.gates {
            let fields: Vec<String> = g.fields.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let result = match (g.passed, g.blocking) {
                (true, _) => "passed",
                (false, true) => "failed (blocking)",
                (false, false) => "failed",
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td class=\"{}\">{result}</td><td>{}</td><td>{:.1}</td><td>{}</td></tr>",
                esc(&g.name),
                if g.passed { "good" } else { "bad" },
                g.exit_code.map(|c| c.to_string()).unwrap_or("-".into()),
                g.seconds,
                esc(&fields.join(", "))
            );
            if !g.tail.trim().is_empty() {
                let _ = writeln!(
                    h,
                    "<tr class=\"tail\"><td colspan=\"5\"><pre>{}</pre></td></tr>",
                    esc(g.tail.trim_end())
                );
            }
        }
        h.push_str("</tbody></table>\n");
    }
    counts(h, &t.counts);
    if t.receipt.is_empty() {
        h.push_str("<p class=\"dim\">No receipt lines.</p>\n");
    } else {
        h.push_str("<ul class=\"receipt\">\n");
        for l in &t.receipt {
            let _ = writeln!(h, "<li>{}</li>", esc(l));
        }
        h.push_str("</ul>\n");
    }
    if !t.files.is_empty() {
        h.push_str("<table class=\"files\"><tbody>\n");
        for f in &t.files {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"good num\">+{}</td><td class=\"bad num\">-{}</td></tr>",
                f.change,
                esc(&f.path),
                f.added,
                f.removed
            );
        }
        h.push_str("</tbody></table>\n");
    }
    if let Some(p) = t.patch.as_deref().filter(|p| !p.is_empty()) {
        h.push_str("<details class=\"patch\"><summary>diff</summary><pre class=\"diff\">");
        let lines: Vec<&str> = p.lines().collect();
        for l in lines.iter().take(PATCH_LINES) {
            let class = match l.chars().next() {
                Some('+') if !l.starts_with("+++") => "add",
                Some('-') if !l.starts_with("---") => "del",
                Some('@') => "hunk",
                Some('d' | 'i') if l.starts_with("diff ") || l.starts_with("index ") => "meta",
                _ => "ctx",
            };
            let _ = writeln!(h, "<span class=\"{class}\">{}</span>", esc(l));
        }
        if lines.len() > PATCH_LINES {
            let _ = writeln!(
                h,
                "<span class=\"meta\">... {} more line(s): git batch review --patch</span>",
                lines.len() - PATCH_LINES
            );
        }
        h.push_str("</pre></details>\n");
    }
    h.push_str("</details>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\"\u{1b}[31m"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;\u{FFFD}[31m"
        );
    }
}
