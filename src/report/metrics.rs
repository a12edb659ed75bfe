//! `metrics`: how batches went, per plan and per week, computed from what
//! git holds (the plans, the task files on the main branch, the landing
//! commits and the claims ref's history of live state; see
//! [`super::history`]), never from one clone's run records, so every clone
//! that fetched the claims ref gets the same numbers.
//!
//! A plan belongs to the ISO week of its creation (`created` in its file):
//! a batch is planned, run overnight and reviewed within days, and the
//! week it was planned never changes as its tasks land later.

use super::history::{History, TaskHistory};
use super::status::{Facts, LineState};
use crate::plan::Plan;
use crate::store::Store;
use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The figures of a set of tasks (a plan's, a week's).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Figures {
    pub tasks: usize,
    /// Landed (closed), or done on their branch now and not rejected.
    pub completed: usize,
    /// Escalated at some point.
    pub escalated: usize,
    /// Failed at some point (after their retries).
    pub failed: usize,
    /// `completed / tasks` (0 without tasks); likewise the next two.
    pub completion_rate: f64,
    pub escalation_rate: f64,
    pub failure_rate: f64,
    /// Attempts over the tasks that had any.
    pub attempts: u32,
    pub attempts_per_task: Option<f64>,
    /// From a task's first claim to its first `done`, over the tasks done.
    pub median_task_secs: Option<i64>,
    pub p90_task_secs: Option<i64>,
    /// Landing commits that landed any of the tasks, and tasks landed.
    pub landings: usize,
    pub landed: usize,
    /// The mean of the tasks' scores (each the mean of its gates'), over
    /// the tasks that have one.
    pub average_score: Option<f64>,
    /// From a task's first `done` to its approval, over the approved.
    pub median_review_secs: Option<i64>,
}

/// One plan's figures.
#[derive(Debug, Clone, Serialize)]
pub struct PlanMetrics {
    pub name: String,
    pub created: String,
    /// Its ISO week, `2026-W49`.
    pub week: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// One week's figures: its plans' tasks together.
#[derive(Debug, Clone, Serialize)]
pub struct WeekMetrics {
    pub week: String,
    pub plans: Vec<String>,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    /// Only plans created at or after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Oldest first.
    pub plans: Vec<PlanMetrics>,
    /// Oldest first.
    pub weeks: Vec<WeekMetrics>,
}

/// What one task contributes.
#[derive(Debug, Clone, Default)]
struct Sample {
    completed: bool,
    history: TaskHistory,
    score: Option<f64>,
}

/// The ISO week of `t`, `2026-W49`.
pub fn iso_week(t: DateTime<Utc>) -> String {
    let w = t.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// Reads `--since`: a date (`2026-11-30`, midnight UTC) or an RFC 3339
/// time.
pub fn parse_since(text: &str) -> Option<DateTime<Utc>> {
    crate::time::parse(text).or_else(|| {
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
    })
}

/// The metrics of every plan created at or after `since`.
pub fn metrics(store: &Store, since: Option<DateTime<Utc>>) -> Metrics {
    let history = History::read(&store.repo, store.main_tip().ok());
    let facts = Facts::read(store);
    let mut plans: Vec<(Plan, DateTime<Utc>)> = Plan::all(store)
        .into_iter()
        .filter_map(|p| {
            let created = crate::time::parse(&p.created)?;
            Some((p, created))
        })
        .filter(|(_, c)| since.is_none_or(|s| *c >= s))
        .collect();
    plans.sort_by(|a, b| (a.1, &a.0.name).cmp(&(b.1, &b.0.name)));
    let mut out = Metrics {
        since: since.map(crate::time::format),
        plans: Vec::new(),
        weeks: Vec::new(),
    };
    let mut weeks: BTreeMap<String, (Vec<String>, Vec<Sample>)> = BTreeMap::new();
    for (plan, created) in &plans {
        let samples: Vec<Sample> = plan
            .ids()
            .into_iter()
            // A task carried over counts in the plan it went to.
            .filter(|id| !plan.carried_over.contains_key(id))
            .map(|id| sample(store, &facts, &history, &id))
            .collect();
        let week = iso_week(*created);
        out.plans.push(PlanMetrics {
            name: plan.name.clone(),
            created: plan.created.clone(),
            week: week.clone(),
            figures: figures(&samples),
        });
        let entry = weeks.entry(week).or_default();
        entry.0.push(plan.name.clone());
        entry.1.extend(samples);
    }
    out.weeks = weeks
        .into_iter()
        .map(|(week, (plans, samples))| WeekMetrics {
            week,
            plans,
            figures: figures(&samples),
        })
        .collect();
    out
}

fn sample(store: &Store, facts: &Facts<'_>, history: &History, id: &str) -> Sample {
    let line = facts.line(id);
    let mut h = history.task(id).cloned().unwrap_or_default();
    // Approved after it landed: the verdict is in its file.
    if h.approved_at.is_none()
        && let Ok(t) = store.read_task(id)
        && let Some(v) = t.review.verdict
        && v.verdict == crate::task::review::VerdictKind::Approved
    {
        h.approved_at = crate::time::parse(&v.at);
    }
    let judged = facts.judgement(id);
    // Work a reviewer rejected goes back to its worker: not complete.
    let rejected = judged
        .verdict
        .as_ref()
        .is_some_and(|v| v.verdict == crate::task::review::VerdictKind::Rejected);
    Sample {
        completed: line.state == LineState::Closed || (line.state == LineState::Done && !rejected),
        score: judged.score(),
        history: h,
    }
}

fn rate(n: usize, of: usize) -> f64 {
    if of == 0 {
        return 0.0;
    }
    (n as f64 / of as f64 * 1000.0).round() / 1000.0
}

/// The value at fraction `q` of `sorted` (nearest rank).
fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn sorted(values: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut v: Vec<i64> = values.collect();
    v.sort_unstable();
    v
}

fn figures(samples: &[Sample]) -> Figures {
    let n = samples.len();
    let count = |f: &dyn Fn(&Sample) -> bool| samples.iter().filter(|s| f(s)).count();
    let completed = count(&|s| s.completed);
    let escalated = count(&|s| s.history.ever_escalated);
    let failed = count(&|s| s.history.ever_failed);
    let tried: Vec<u32> = samples
        .iter()
        .map(|s| s.history.attempt_count())
        .filter(|a| *a > 0)
        .collect();
    let attempts: u32 = tried.iter().sum();
    let task_times = sorted(samples.iter().filter_map(|s| s.history.task_secs()));
    let review_times = sorted(samples.iter().filter_map(|s| s.history.review_secs()));
    let landings: BTreeSet<git2::Oid> = samples.iter().filter_map(|s| s.history.landing).collect();
    let scores: Vec<f64> = samples.iter().filter_map(|s| s.score).collect();
    Figures {
        tasks: n,
        completed,
        escalated,
        failed,
        completion_rate: rate(completed, n),
        escalation_rate: rate(escalated, n),
        failure_rate: rate(failed, n),
        attempts,
        attempts_per_task: (!tried.is_empty())
            .then(|| (attempts as f64 / tried.len() as f64 * 100.0).round() / 100.0),
        median_task_secs: quantile(&task_times, 0.5),
        p90_task_secs: quantile(&task_times, 0.9),
        landings: landings.len(),
        landed: count(&|s| s.history.landing.is_some()),
        average_score: (!scores.is_empty())
            .then(|| (scores.iter().sum::<f64>() / scores.len() as f64 * 10.0).round() / 10.0),
        median_review_secs: quantile(&review_times, 0.5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(quantile(&v, 0.5), Some(5));
        assert_eq!(quantile(&v, 0.9), Some(9));
        assert_eq!(quantile(&[7], 0.9), Some(7));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn weeks_are_iso_weeks_and_since_takes_a_date() {
        let t = parse_since("2026-12-02").unwrap();
        assert_eq!(crate::time::format(t), "2026-12-02T00:00:00Z");
        assert_eq!(iso_week(t), "2026-W49");
        // 1 January 2027 is a Friday: still the last week of 2026.
        assert_eq!(iso_week(parse_since("2027-01-01").unwrap()), "2026-W53");
        assert!(parse_since("yesterday").is_none());
    }
}
