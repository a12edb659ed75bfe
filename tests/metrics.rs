//! `git batch metrics`: per plan and per week, from what git holds, on a
//! real run with known outcomes (counts and rates exact; times only
//! present and ordered).

use crate::common::TestEnv;
use crate::html::batch;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Figures {
    tasks: usize,
    completed: usize,
    escalated: usize,
    failed: usize,
    completion_rate: f64,
    escalation_rate: f64,
    failure_rate: f64,
    attempts: u32,
    attempts_per_task: Option<f64>,
    median_task_secs: Option<i64>,
    p90_task_secs: Option<i64>,
    landings: usize,
    landed: usize,
    average_score: Option<f64>,
    median_review_secs: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct PlanMetrics {
    name: String,
    week: String,
    #[serde(flatten)]
    figures: Figures,
}

#[derive(Debug, Deserialize)]
struct WeekMetrics {
    week: String,
    plans: Vec<String>,
    #[serde(flatten)]
    figures: Figures,
}

#[derive(Debug, Deserialize)]
struct Metrics {
    since: Option<String>,
    plans: Vec<PlanMetrics>,
    weeks: Vec<WeekMetrics>,
}

#[test]
fn metrics_count_a_run_per_plan_and_per_week() {
    let env = TestEnv::new();
    batch(&env);
    env.ok(&["land", "--no-push", "--approved"]);
    // A second plan, later, run by hand: one task done, never claimed.
    let extra = env.create(&["docs", "--scope", "docs/**"]);
    env.ok(&["plan", "later", &extra]);

    let m: Metrics = env.json(&["metrics"]);
    assert_eq!(m.since, None);
    let mut names: Vec<&str> = m.plans.iter().map(|p| p.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["later", "nightly"]);
    let plan = |m: &'_ Metrics, name: &str| -> usize {
        m.plans.iter().position(|p| p.name == name).unwrap()
    };
    let n = &m.plans[plan(&m, "nightly")].figures;
    assert_eq!(
        (n.tasks, n.completed, n.escalated, n.failed),
        (6, 4, 1, 1),
        "{n:?}"
    );
    assert_eq!(
        (n.completion_rate, n.escalation_rate, n.failure_rate),
        (0.667, 0.167, 0.167)
    );
    assert_eq!((n.attempts, n.attempts_per_task), (6, Some(1.0)));
    assert_eq!((n.landings, n.landed), (1, 1), "the approved parser landed");
    // parser 92, net 78, keys 64, the fourth 64; the others have no score.
    assert_eq!(n.average_score, Some(74.5));
    let (median, p90) = (n.median_task_secs.unwrap(), n.p90_task_secs.unwrap());
    assert!(0 <= median && median <= p90, "{n:?}");
    assert!(n.median_review_secs.unwrap() >= 0);
    let l = &m.plans[plan(&m, "later")].figures;
    assert_eq!((l.tasks, l.completed, l.attempts), (1, 0, 0));
    assert_eq!(
        (l.attempts_per_task, l.median_task_secs, l.average_score),
        (None, None, None)
    );
    assert_eq!(l.completion_rate, 0.0);

    // Both were planned this week: one row for the two.
    assert_eq!(m.weeks.len(), 1);
    let w = &m.weeks[0];
    assert_eq!(w.week, m.plans[0].week);
    assert!(
        w.week.len() == 8 && w.week.as_bytes()[4] == b'-',
        "{}",
        w.week
    );
    assert_eq!(w.plans.len(), 2);
    assert_eq!((w.figures.tasks, w.figures.completed), (7, 4));
    assert_eq!(w.figures.completion_rate, 0.571);
    assert_eq!(w.figures.landings, 1);

    // The same numbers from another clone that fetched the claims ref:
    // nothing comes from this clone's run records.
    let origin = env.dir.path().join("origin.git");
    env.git(&[
        "init",
        "-q",
        "--bare",
        "-b",
        "main",
        origin.to_str().unwrap(),
    ]);
    env.git(&[
        "push",
        "-q",
        origin.to_str().unwrap(),
        "main",
        "refs/batch/claims",
    ]);
    let other = env.clone_of(&origin, "other");
    env.git_in(
        &other,
        &[
            "fetch",
            "-q",
            "origin",
            "refs/batch/claims:refs/batch/claims",
        ],
    );
    let there: Metrics = serde_json::from_str(&env.ok_in(&other, &["--json", "metrics"])).unwrap();
    let t = &there.plans[plan(&there, "nightly")].figures;
    assert_eq!(
        (
            t.completed,
            t.escalated,
            t.failed,
            t.attempts,
            t.landings,
            t.average_score
        ),
        (
            n.completed,
            n.escalated,
            n.failed,
            n.attempts,
            n.landings,
            n.average_score
        )
    );
    assert_eq!(t.median_task_secs, n.median_task_secs);

    // --since: plans created from then on; a date that is not one is a
    // usage error.
    let none: Metrics = env.json(&["metrics", "--since", "2999-01-01"]);
    assert!(none.plans.is_empty() && none.weeks.is_empty());
    assert_eq!(none.since.as_deref(), Some("2999-01-01T00:00:00Z"));
    let all: Metrics = env.json(&["metrics", "--since", "2000-01-01T00:00:00Z"]);
    assert_eq!(all.plans.len(), 2);
    let err = env.fails(&["metrics", "--since", "last week"], 2);
    assert!(
        err.contains("--since") && err.contains("2026-11-30"),
        "{err}"
    );

    // The human table: a row per plan, then week over week.
    let text = env.ok(&["metrics"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("plan") && lines[0].contains("median"),
        "{text}"
    );
    let nightly = lines.iter().find(|l| l.starts_with("nightly (")).unwrap();
    assert!(nightly.contains("67%"), "{text}");
    assert!(
        lines[1..3].iter().any(|l| l.starts_with("later (")),
        "{text}"
    );
    assert!(lines[4].starts_with("week"), "{text}");
    assert!(lines[5].starts_with(&w.week), "{text}");
}
