//! Which finished worker branches a landing takes (local `batch/<id>`
//! branches and work other clones shared), and in what order.

use super::*;

/// A finished worker branch.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub(super) task: Task,
    pub(super) tip: Oid,
    /// Where its branch was stacked, as the claims record it.
    pub(super) stack: Option<crate::claims::StackBase>,
}

/// Every `done` task with a live `batch/<id>` branch (by the task file on
/// that branch), optionally only `only`.
pub(super) fn candidates(
    repo: &Repository,
    only: Option<&[String]>,
    base: Option<Oid>,
) -> Result<Vec<Candidate>, LandError> {
    let mut out = Vec::new();
    // Local worker branches win over work shared by other clones under
    // refs/batch/work/ (fetched), used for tasks without a local branch.
    // A branch the tests already left out waits until it moves on.
    let set = crate::claims::read(repo).unwrap_or_default();
    let verdicts = &set.live;
    let tips = worker_tips(
        repo,
        &[
            crate::git::refs::WORK_GLOB,
            &crate::git::refs::worker_branch_glob(),
        ],
    )?;
    for (id, tip) in tips {
        let id = id.as_str();
        if only.is_some_and(|o| !o.iter().any(|x| x == id)) {
            continue;
        }
        if verdicts.get(id).is_some_and(|l| {
            l.state == crate::claims::live::Outcome::LeftOut
                && l.commit.as_deref() == Some(tip.to_string().as_str())
        }) {
            continue;
        }
        if let Some(mut task) = crate::store::at_commit::task_at(repo, Some(tip), id)
            && task.status == Status::Done
        {
            // Dependencies added on the main branch after the worker
            // started count too.
            if let Some(base) = base
                && let Some(planned) = crate::store::at_commit::task_at(repo, Some(base), id)
            {
                for d in planned.deps {
                    crate::task::add_unique(&mut task.deps, &d);
                }
            }
            // A stacked branch lands after the one it was stacked on, and
            // not without it.
            let stack = set.stack_of(id).cloned();
            if let Some(dep) = stack
                .as_ref()
                .and_then(|s| crate::task::TaskId::parse(&s.task).ok())
            {
                crate::task::add_unique(&mut task.deps, &dep);
            }
            out.push(Candidate { task, tip, stack });
        }
    }
    out.sort_by(|a, b| {
        (a.task.priority, &a.task.created, &a.task.id).cmp(&(
            b.task.priority,
            &b.task.created,
            &b.task.id,
        ))
    });
    Ok(out)
}

/// The candidates a reviewer approved as they are (the approval was of the
/// commit that is the branch's tip now), and the ids of the others.
pub(super) fn split_approved(
    repo: &Repository,
    queue: Vec<Candidate>,
) -> (Vec<Candidate>, Vec<String>) {
    use crate::task::review::VerdictKind;
    let set = crate::claims::read(repo).unwrap_or_default();
    let (yes, no): (Vec<Candidate>, Vec<Candidate>) = queue.into_iter().partition(|c| {
        set.live.get(c.task.id.as_str()).is_some_and(|l| {
            l.verdict.as_ref().map(|v| v.verdict) == Some(VerdictKind::Approved)
                && l.commit.as_deref() == Some(c.tip.to_string().as_str())
        })
    });
    (yes, no.into_iter().map(|c| c.task.id.to_string()).collect())
}

/// The tip of each task's worker ref matching `globs` (`refs/heads/batch/*`,
/// `refs/batch/work/*`), by task id; a later glob wins for the same task.
pub(super) fn worker_tips(
    repo: &Repository,
    globs: &[&str],
) -> Result<BTreeMap<String, Oid>, LandError> {
    let mut tips = BTreeMap::new();
    for glob in globs {
        for r in repo
            .references_glob(glob)
            .map_err(git_err("listing worker branches"))?
            .flatten()
        {
            let (Ok(name), Some(tip)) = (r.name(), r.target()) else {
                continue;
            };
            if let Some(id) = crate::git::refs::task_of_ref(name) {
                tips.insert(id.to_string(), tip);
            }
        }
    }
    Ok(tips)
}

/// Dependency order: a task after the tasks of the set it depends on.
pub(super) fn ordered(cands: Vec<Candidate>) -> Vec<Candidate> {
    let ids: HashSet<String> = cands.iter().map(|c| c.task.id.to_string()).collect();
    let mut placed: HashSet<String> = HashSet::new();
    let mut rest = cands;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let before = out.len();
        let mut keep = Vec::new();
        for c in rest {
            let ready = c
                .task
                .deps
                .iter()
                .all(|d| !ids.contains(d.as_str()) || placed.contains(d.as_str()));
            if ready {
                placed.insert(c.task.id.to_string());
                out.push(c);
            } else {
                keep.push(c);
            }
        }
        rest = keep;
        if out.len() == before {
            // A cycle among them: keep the remaining order.
            out.append(&mut rest);
        }
    }
    out
}
