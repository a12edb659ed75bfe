//! `check`: whether a set of tasks can run in parallel (scope overlaps,
//! cycles, unknown deps, deps within the set, the readiness checklist), and
//! whether the commits of a range stay inside their tasks' scopes.

use super::trust::Trust;
use super::{GuardError, Problem, git2_err};
use crate::graph::Node;
use crate::scope::{self, Scope};
use crate::store::at_commit;
use crate::store::config::CheckRules;
use crate::task::{Status, Task};
use git2::{Oid, Repository, Revwalk};
use std::collections::{HashMap, HashSet};

/// Every file path of `commit`'s tree (or HEAD's when `None`).
pub fn tree_files(repo: &Repository, commit: Option<Oid>) -> Result<Vec<String>, GuardError> {
    let tree = match commit {
        Some(oid) => repo.find_commit(oid).and_then(|c| c.tree()),
        None => repo.head().and_then(|h| h.peel_to_tree()),
    };
    let Ok(tree) = tree else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() == Some(git2::ObjectType::Blob)
            && let Ok(name) = entry.name()
        {
            files.push(format!("{dir}{name}"));
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(git2_err("listing the tree"))?;
    files.sort();
    Ok(files)
}

fn parse_scope(task: &Task) -> Option<Scope> {
    Scope::parse(&task.scope).ok()
}

/// Problems of running `tasks` in parallel. `all` is every task's graph
/// node (for deps, cycles and statuses); `files` the tree's paths.
pub fn check_set(
    tasks: &[Task],
    all: &[Node],
    files: &[String],
    rules: &CheckRules,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let by_id: HashMap<&str, &Node> = all.iter().map(|n| (n.id.as_str(), n)).collect();
    let in_set: HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();

    for t in tasks {
        if let Err(e) = Scope::parse(&t.scope) {
            problems.push(Problem::Readiness {
                task: t.id.to_string(),
                rule: "scope".into(),
                message: e.to_string(),
            });
        }
    }
    for (i, a) in tasks.iter().enumerate() {
        let Some(sa) = parse_scope(a) else { continue };
        for b in &tasks[i + 1..] {
            let Some(sb) = parse_scope(b) else { continue };
            if let Some(overlap) = scope::overlap(&sa, &sb, Some(files)) {
                problems.push(Problem::Overlap {
                    a: a.id.to_string(),
                    b: b.id.to_string(),
                    overlap,
                });
            }
        }
    }
    for cycle in crate::graph::cycles(all) {
        if cycle.iter().any(|id| in_set.contains(id.as_str())) {
            problems.push(Problem::Cycle { path: cycle });
        }
    }
    for t in tasks {
        for dep in t.deps.iter().chain(t.parent.as_ref()) {
            if !by_id.contains_key(dep.as_str()) {
                problems.push(Problem::UnknownDep {
                    task: t.id.to_string(),
                    dep: dep.to_string(),
                });
            }
        }
        if let Some(on) = waits_within(&t.id, &by_id, &in_set) {
            problems.push(Problem::DependsWithinSet {
                task: t.id.to_string(),
                on,
            });
        }
        problems.extend(readiness(t, &by_id, rules));
    }
    problems
}

/// The first task of the set that `id` waits for, directly or through
/// other tasks.
fn waits_within(id: &str, by_id: &HashMap<&str, &Node>, set: &HashSet<&str>) -> Option<String> {
    let mut seen = HashSet::new();
    let mut stack: Vec<&str> = by_id.get(id)?.deps.iter().map(String::as_str).collect();
    while let Some(next) = stack.pop() {
        if !seen.insert(next) {
            continue;
        }
        if set.contains(next) && next != id {
            return Some(next.to_string());
        }
        if let Some(n) = by_id.get(next) {
            stack.extend(n.deps.iter().map(String::as_str));
        }
    }
    None
}

/// The checklist of a task an agent can take alone.
fn readiness(t: &Task, by_id: &HashMap<&str, &Node>, rules: &CheckRules) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut miss = |rule: &str, message: String| {
        out.push(Problem::Readiness {
            task: t.id.to_string(),
            rule: rule.into(),
            message,
        })
    };
    if rules.acceptance && t.acceptance.is_empty() {
        miss(
            "acceptance",
            "no acceptance criteria (add some with `update --accept`)".into(),
        );
    }
    if rules.scope && t.scope.is_empty() {
        miss(
            "scope",
            "no scope: it may touch every file (add one with `update --add-scope`)".into(),
        );
    }
    if rules.estimate && t.estimate.is_none() {
        miss("estimate", "no estimate (S, M or L)".into());
    }
    if rules.questions {
        if let Some(q) = t.acceptance.iter().find(|a| a.contains('?')) {
            miss("questions", format!("open question in acceptance: \"{q}\""));
        }
        if t.labels.iter().any(|l| l == "question") {
            miss("questions", "labelled 'question'".into());
        }
    }
    if rules.deps {
        for dep in &t.deps {
            match by_id.get(dep.as_str()) {
                Some(n) if n.status == Status::Closed => {}
                Some(n) => miss("deps", format!("depends on {dep}, which is {}", n.status)),
                None => {}
            }
        }
    }
    out
}

/// The `Batch-Task` trailer of a commit message.
pub fn task_trailer(message: &str) -> Option<String> {
    let trailers = git2::message_trailers_strs(message).ok()?;
    trailers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Batch-Task"))
        .map(|(_, v)| v.trim().to_string())
}

/// What a range check looked at.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RangeReport {
    /// Commits in the range.
    pub commits: usize,
    /// Of those, commits that belong to a task and were checked.
    pub checked: usize,
    pub problems: Vec<Problem>,
}

/// Checks every commit `walk` yields against what `trust` says (see
/// [`super::trust`]): a commit belongs to the task of its ref, else to the
/// one its `Batch-Task` trailer names; it may change files inside that
/// task's scope as the task stands at the trusted base, and in `.batch/`
/// only what a worker may.
pub fn check_walk(
    repo: &Repository,
    walk: Revwalk<'_>,
    trust: Trust<'_>,
) -> Result<RangeReport, GuardError> {
    let mut report = RangeReport::default();
    for oid in walk {
        let oid = oid.map_err(git2_err("walking the range"))?;
        let commit = repo
            .find_commit(oid)
            .map_err(git2_err("reading a commit"))?;
        report.commits += 1;
        let message = commit.message().unwrap_or_default();
        let trailer = task_trailer(message);
        let id = match (trust.task, trailer.as_deref()) {
            (Some(task), Some(named)) if named != task => {
                report.problems.push(Problem::ForeignTrailer {
                    task: task.to_string(),
                    commit: oid.to_string(),
                    named: named.to_string(),
                });
                task
            }
            (Some(task), _) => task,
            (None, Some(named)) => named,
            (None, None) => continue,
        };
        // The task as the trusted history has it, never as the branch
        // wrote it (the branch may widen its own scope one commit earlier).
        let fork = repo.merge_base(oid, trust.base).unwrap_or(trust.base);
        let Some(task) = at_commit::task_at(repo, Some(trust.base), id)
            .or_else(|| at_commit::task_at(repo, Some(fork), id))
        else {
            report.problems.push(Problem::UnknownTask {
                commit: oid.to_string(),
                task: id.to_string(),
            });
            continue;
        };
        report.checked += 1;
        let old_tree = match commit.parent_id(0).ok() {
            Some(p) => Some(
                repo.find_commit(p)
                    .and_then(|c| c.tree())
                    .map_err(git2_err("reading a tree"))?,
            ),
            None => None,
        };
        let new_tree = commit.tree().map_err(git2_err("reading a tree"))?;
        let diff = repo
            .diff_tree_to_tree(old_tree.as_ref(), Some(&new_tree), None)
            .map_err(git2_err("diffing a commit"))?;
        let paths = crate::git::diff_paths(&diff);
        let links = crate::git::diff_links(repo, &diff);
        let change = super::trust::Change {
            oid,
            fork,
            paths: &paths,
            links: &links,
        };
        report.problems.extend(super::trust::commit_problems(
            repo, &trust, &change, id, &task,
        )?);
    }
    Ok(report)
}

/// Checks the commits of `A..B`, trusting `A` (the base the range was cut
/// from).
pub fn check_range(
    repo: &Repository,
    range: &str,
    default_task: Option<&str>,
) -> Result<RangeReport, GuardError> {
    let Some((from, _)) = range.split_once("..") else {
        return Err(GuardError::BadRange {
            range: range.to_string(),
        });
    };
    let base = repo
        .revparse_single(from.trim_end_matches('.'))
        .and_then(|o| o.peel_to_commit())
        .map(|c| c.id())
        .map_err(git2_err(format!("resolving {range}")))?;
    let mut walk = repo.revwalk().map_err(git2_err("walking the range"))?;
    walk.push_range(range)
        .map_err(git2_err(format!("resolving {range}")))?;
    check_walk(
        repo,
        walk,
        Trust {
            base,
            task: default_task,
        },
    )
}

/// The pre-receive check of an update of the claims ref: no deletion, no
/// rewrite of its history (the audit log), every commit's tree a set of
/// claims, and no live claim let go of (released, or taken over) but by
/// the clone that holds it (its `Batch-Clone` trailer) or because its task
/// has landed on the server's main branch. An expired claim anyone may take.
pub fn check_claims_update(
    repo: &Repository,
    old: Oid,
    new: Oid,
) -> Result<RangeReport, GuardError> {
    let mut report = RangeReport::default();
    let bad = |commit: Oid, message: String| Problem::ClaimsPush {
        commit: commit.to_string(),
        message,
    };
    if new.is_zero() {
        report.problems.push(bad(
            old,
            "deletes the claims ref, which holds every live claim".into(),
        ));
        return Ok(report);
    }
    if !old.is_zero()
        && !repo
            .graph_descendant_of(new, old)
            .map_err(git2_err("walking the claims"))?
    {
        report.problems.push(bad(
            new,
            "rewrites the claims ref's history (the audit log of every claim); only fast-forwards are taken".into(),
        ));
        return Ok(report);
    }
    let main = repo.head().ok().and_then(|h| h.target());
    let now = crate::time::now();
    let mut walk = repo.revwalk().map_err(git2_err("walking the claims"))?;
    walk.push(new).map_err(git2_err("walking the claims"))?;
    if !old.is_zero() {
        walk.hide(old).map_err(git2_err("walking the claims"))?;
    }
    for oid in walk {
        let oid = oid.map_err(git2_err("walking the claims"))?;
        let commit = repo
            .find_commit(oid)
            .map_err(git2_err("reading a claims commit"))?;
        report.commits += 1;
        // The live state next to the claims must read too.
        let after = match crate::claims::read_at(repo, Some(oid))
            .and_then(|c| crate::claims::live_at(repo, Some(oid)).map(|_| c))
        {
            Ok(claims) => claims,
            Err(e) => {
                report.problems.push(bad(oid, e.to_string()));
                continue;
            }
        };
        let before = crate::claims::read_at(repo, commit.parent_id(0).ok()).unwrap_or_default();
        let by = git2::message_trailers_strs(commit.message().unwrap_or_default())
            .ok()
            .and_then(|t| {
                t.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(crate::claims::CLONE_TRAILER))
                    .map(|(_, v)| v.trim().to_string())
            });
        for (task, c) in &before {
            let kept = after
                .get(task)
                .is_some_and(|a| a.worker == c.worker && a.clone == c.clone);
            let Some(holder) = c.clone.as_deref() else {
                continue;
            };
            if kept || c.is_expired(now) || by.as_deref() == Some(holder) {
                continue;
            }
            let landed = at_commit::task_at(repo, main, task)
                .is_some_and(|t| t.status == crate::task::Status::Closed);
            if !landed {
                report.problems.push(bad(
                    oid,
                    format!(
                        "lets go of the live claim on {task} by {} of clone {holder}, which only that clone may (or a landing of the task)",
                        c.worker
                    ),
                ));
            }
        }
        report.checked += 1;
    }
    Ok(report)
}

/// The pre-receive check of one pushed update (`old new refname`): commits
/// new to the server, attributed to the task of a worker ref
/// (`refs/heads/batch/<id>` or `refs/batch/work/<id>`), else by trailer.
pub fn check_update(
    repo: &Repository,
    old: Oid,
    new: Oid,
    refname: &str,
) -> Result<RangeReport, GuardError> {
    if refname == crate::claims::CLAIMS_REF {
        return check_claims_update(repo, old, new);
    }
    if new.is_zero() {
        return Ok(RangeReport::default());
    }
    let mut walk = repo.revwalk().map_err(git2_err("walking the push"))?;
    walk.push(new).map_err(git2_err("walking the push"))?;
    if old.is_zero() {
        // A new ref: what no existing branch has yet.
        for r in repo
            .references_glob(crate::git::refs::BRANCH_GLOB)
            .map_err(git2_err("listing branches"))?
            .flatten()
        {
            if let Some(t) = r.target() {
                let _ = walk.hide(t);
            }
        }
    } else {
        walk.hide(old).map_err(git2_err("walking the push"))?;
    }
    let task = crate::git::refs::task_of_ref(refname);
    // The server's own main branch (its HEAD) is the truth for a worker's
    // ref or a new one; an update of another branch (main itself, by a
    // landing) is judged by that branch as it was before the push.
    let base = if task.is_some() || old.is_zero() {
        repo.head().ok().and_then(|h| h.target())
    } else {
        Some(old)
    };
    let Some(base) = base else {
        // An empty server: nothing trusted to judge by.
        return Ok(RangeReport::default());
    };
    check_walk(repo, walk, Trust { base, task })
}
