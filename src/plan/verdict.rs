//! A reviewer's verdicts (`approve`, `reject`): on finished work in flight
//! they go to the live state (see [`super::live::judge`]), on landed work
//! into the task file; a plan whose every task has a verdict (or was
//! carried over to another plan) becomes `reviewed`.

use super::{Plan, PlanError, PlanStatus};
use crate::claims::live::Outcome;
use crate::store::Store;
use crate::task::Status;
use crate::task::review::{Verdict, VerdictKind};
use crate::work::claim::Claimant;
use std::collections::BTreeSet;

/// What one verdict did to one task.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Judged {
    pub id: String,
    pub verdict: VerdictKind,
    /// `live` (work in flight) or `file` (landed work).
    pub recorded_in: &'static str,
    /// A rejected task was queued again for its worker.
    pub queued_again: bool,
}

/// Everything `approve` / `reject` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verdicts {
    pub tasks: Vec<Judged>,
    /// Plans that became `reviewed`.
    pub reviewed_plans: Vec<String>,
    pub commit: Option<String>,
}

/// Records `verdict` on every task of `ids`; checked first, so that one
/// task that cannot take it changes nothing.
pub fn give(
    store: &Store,
    ids: &[String],
    who: &Claimant<'_>,
    verdict: &Verdict,
) -> Result<Verdicts, PlanError> {
    let set = crate::claims::read(&store.repo).map_err(work_err)?;
    let mut in_flight = Vec::new();
    let mut landed = Vec::new();
    let mut unfinished = Vec::new();
    for id in ids {
        let task = store.read_task(id)?;
        if set.live.get(id).is_some_and(|l| l.state == Outcome::Done) {
            in_flight.push(id.clone());
        } else if task.status == Status::Closed {
            landed.push(id.clone());
        } else {
            unfinished.push(id.clone());
        }
    }
    if !unfinished.is_empty() {
        return Err(PlanError::NotFinished { ids: unfinished });
    }
    if verdict.verdict == VerdictKind::Rejected && !landed.is_empty() {
        return Err(PlanError::LandedAlready { ids: landed });
    }
    let mut tasks = Vec::new();
    if !in_flight.is_empty() {
        let now = crate::work::live::judge(store, &in_flight, who, verdict).map_err(Box::new)?;
        for (id, live) in in_flight.iter().zip(now) {
            if live.is_none() {
                // Its state moved between the read and the step.
                return Err(PlanError::NotFinished {
                    ids: vec![id.clone()],
                });
            }
            tasks.push(Judged {
                id: id.clone(),
                verdict: verdict.verdict,
                recorded_in: "live",
                queued_again: verdict.verdict == VerdictKind::Rejected,
            });
        }
    }
    let mut commit = None;
    if !landed.is_empty() {
        let changed = crate::edit::record_verdict(store, &landed, verdict)?;
        commit = changed.iter().find_map(|c| c.commit.clone());
        tasks.extend(landed.iter().map(|id| Judged {
            id: id.clone(),
            verdict: verdict.verdict,
            recorded_in: "file",
            queued_again: false,
        }));
    }
    let reviewed_plans = mark_reviewed(store, ids)?;
    Ok(Verdicts {
        tasks,
        reviewed_plans,
        commit,
    })
}

/// Whether every task of `plan` has a verdict (in its live state or its
/// file) or was carried over to another plan.
pub fn plan_is_reviewed(store: &Store, plan: &Plan, set: &crate::claims::ClaimSet) -> bool {
    plan.tasks.iter().all(|t| {
        plan.carried_over.contains_key(&t.id)
            || set.live.get(&t.id).is_some_and(|l| l.verdict.is_some())
            || store
                .read_task(&t.id)
                .is_ok_and(|task| task.review.verdict.is_some())
    })
}

/// Marks `reviewed` each plan of `ids` whose every task now has a verdict.
fn mark_reviewed(store: &Store, ids: &[String]) -> Result<Vec<String>, PlanError> {
    let plans: BTreeSet<String> = ids
        .iter()
        .filter_map(|id| store.read_task(id).ok()?.batch)
        .collect();
    let set = crate::claims::read(&store.repo).map_err(work_err)?;
    let mut out = Vec::new();
    for name in plans {
        let Ok(plan) = Plan::read(store, &name) else {
            continue;
        };
        if plan.status != PlanStatus::Reviewed && plan_is_reviewed(store, &plan, &set) {
            Plan::set_status(store, &name, PlanStatus::Reviewed)?;
            out.push(name);
        }
    }
    Ok(out)
}

fn work_err(e: crate::claims::ClaimError) -> PlanError {
    PlanError::Work(Box::new(e.into()))
}
