//! A task's live state as workers and people change it (see
//! [`crate::claims::live`]): the end of an attempt recorded with the release
//! of its claim in one step, a person's answer, a retry, and forgetting it.

use super::WorkError;
use super::claim::{Claimant, message};
use crate::claims::live::{Answer, Change, Live, Outcome};
use crate::claims::{self, ClaimError, Decision};
use crate::store::{Store, StoreError};

/// How an attempt ended, for [`record`].
#[derive(Debug, Clone, Default)]
pub struct Ending {
    pub commit: Option<String>,
    pub reason: Option<String>,
    pub log: Option<String>,
    /// Attempts that ran to this end (added to the count).
    pub attempts: u32,
    /// Let go of the claim (held by `who`, or expired) in the same step.
    pub release: bool,
}

/// Records `id`'s live state `state` (keeping its answers and attempts),
/// and with `release` lets go of its claim, as one compare-and-swap.
pub fn record(
    store: &Store,
    id: &str,
    who: &Claimant<'_>,
    state: Outcome,
    ending: &Ending,
) -> Result<Live, WorkError> {
    crate::task::id::validate_id(id).map_err(StoreError::from)?;
    let clone = crate::git::identity::clone_id(&store.repo);
    Ok(claims::transact(&store.repo, who.via, |set| {
        let mut live = Live::next(set.live.get(id), id, state, &who.worker);
        live.clone = Some(clone.clone());
        live.commit = ending.commit.clone();
        live.reason = ending.reason.clone();
        live.log = ending.log.clone();
        live.attempts += ending.attempts;
        if let Some(stack) = set.claims.get(id).and_then(|c| c.stack.clone()) {
            live.stack = Some(stack);
        }
        let remove = match set.claims.get(id) {
            Some(c)
                if ending.release
                    && (c.held_by(&who.worker, &clone) || c.is_expired(crate::time::now())) =>
            {
                vec![id.to_string()]
            }
            _ => vec![],
        };
        Ok(Decision::Write {
            message: message(state.as_str(), id, &who.worker),
            put: vec![],
            remove,
            live: vec![Change::Put(Box::new(live.clone()))],
            result: live,
        })
    })?)
}

/// Records gate results on `id`'s live state (each in place of an earlier
/// result of the same gate), for the work at its recorded commit. `None`
/// when it has no live state (nothing in flight to judge).
pub fn record_gates(
    store: &Store,
    id: &str,
    who: &Claimant<'_>,
    results: &[crate::task::review::GateResult],
) -> Result<Option<Live>, WorkError> {
    crate::task::id::validate_id(id).map_err(StoreError::from)?;
    Ok(claims::transact(&store.repo, who.via, |set| {
        let Some(earlier) = set.live.get(id) else {
            return Ok(Decision::Keep(None));
        };
        let mut live = earlier.clone();
        crate::task::review::replace_gates(&mut live.gates, results.to_vec());
        Ok(Decision::Write {
            message: message("gate", id, &who.worker),
            put: vec![],
            remove: vec![],
            live: vec![Change::Put(Box::new(live.clone()))],
            result: Some(live),
        })
    })?)
}

/// A reviewer's verdict on finished work (live state `done`), in one step
/// for all `ids`: approved, it may land with `land --approved`; rejected,
/// it goes back to its worker (queued again, its claim let go) with the
/// reason as an answer its next context shows. Per id, its state now, or
/// `None` when it is not finished work in flight.
pub fn judge(
    store: &Store,
    ids: &[String],
    who: &Claimant<'_>,
    verdict: &crate::task::review::Verdict,
) -> Result<Vec<Option<Live>>, WorkError> {
    use crate::task::review::VerdictKind;
    for id in ids {
        crate::task::id::validate_id(id).map_err(StoreError::from)?;
    }
    Ok(claims::transact(&store.repo, who.via, |set| {
        let mut changes = Vec::new();
        let mut remove = Vec::new();
        let now: Vec<Option<Live>> = ids
            .iter()
            .map(|id| {
                let earlier = set.live.get(id).filter(|l| l.state == Outcome::Done)?;
                let mut live = earlier.clone();
                live.verdict = Some(verdict.clone());
                if verdict.verdict == VerdictKind::Rejected {
                    live.state = Outcome::Retry;
                    live.answers.push(Answer {
                        at: verdict.at.clone(),
                        by: verdict.by.clone(),
                        text: format!(
                            "rejected in review: {}",
                            verdict.reason.as_deref().unwrap_or("(no reason given)")
                        ),
                    });
                    if set.claims.contains_key(id) {
                        remove.push(id.clone());
                    }
                }
                changes.push(Change::Put(Box::new(live.clone())));
                Some(live)
            })
            .collect();
        if changes.is_empty() {
            return Ok(Decision::Keep(now));
        }
        Ok(Decision::Write {
            message: message(verdict.verdict.as_str(), &ids.join(" "), &who.worker),
            put: vec![],
            remove,
            live: changes,
            result: now,
        })
    })?)
}

/// A person's answer to `id` (escalated or failed): kept with its live
/// state for the next attempt, which `retry` (here: `then_retry`) queues.
pub fn answer(
    store: &Store,
    id: &str,
    who: &Claimant<'_>,
    text: &str,
    then_retry: bool,
) -> Result<Live, WorkError> {
    crate::task::id::validate_id(id).map_err(StoreError::from)?;
    Ok(claims::transact(&store.repo, who.via, |set| {
        let Some(earlier) = set.live.get(id) else {
            return Err(ClaimError::NoQuestion { task: id.into() });
        };
        let state = if then_retry && earlier.state != Outcome::Done {
            Outcome::Retry
        } else {
            earlier.state
        };
        let mut live = earlier.clone();
        live.state = state;
        live.answers.push(Answer {
            at: crate::time::now_text(),
            by: who.worker.clone(),
            text: text.to_string(),
        });
        Ok(Decision::Write {
            message: message("answer", id, &who.worker),
            put: vec![],
            remove: vec![],
            live: vec![Change::Put(Box::new(live.clone()))],
            result: live,
        })
    })?)
}

/// Queues failed, escalated or left-out tasks again, in one step: their
/// live state says `retry` (answers and attempts kept), so they are ready
/// like open tasks. Per id, its state now; `None` when it had none
/// (nothing held it back).
pub fn retry(
    store: &Store,
    ids: &[String],
    who: &Claimant<'_>,
) -> Result<Vec<Option<Live>>, WorkError> {
    for id in ids {
        crate::task::id::validate_id(id).map_err(StoreError::from)?;
    }
    Ok(claims::transact(&store.repo, who.via, |set| {
        let mut changes = Vec::new();
        let now: Vec<Option<Live>> = ids
            .iter()
            .map(|id| {
                let mut live = set.live.get(id)?.clone();
                if live.state != Outcome::Retry {
                    live.state = Outcome::Retry;
                    live.at = crate::time::now_text();
                    live.by = who.worker.clone();
                    changes.push(Change::Put(Box::new(live.clone())));
                }
                Some(live)
            })
            .collect();
        if changes.is_empty() {
            return Ok(Decision::Keep(now));
        }
        Ok(Decision::Write {
            message: message("retry", &ids.join(" "), &who.worker),
            put: vec![],
            remove: vec![],
            live: changes,
            result: now,
        })
    })?)
}
