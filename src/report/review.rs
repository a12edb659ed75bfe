//! `review`: for each task of a plan (or of a range of commits), what it
//! came to, the receipt lines it added and the files it changed, for a
//! reviewer to read top to bottom.
//!
//! A landed task's work is found exactly: the landing commit names its
//! base and the tasks in the order they were stacked, and each task file
//! records the tip of its replayed work, so task N's commits are
//! `landed(N-1)..landed(N)` (`base..landed(1)` for the first). Work that
//! has not landed is its worker branch since it left the main branch.

use super::changes::Trees;
use super::status::{Facts, LineState};
use crate::git::{GitError, git_err};
use crate::land::message::LandingMessage;
use crate::plan::{Plan, PlanError};
use crate::store::at_commit::Dirs;
use crate::store::{Store, StoreError};
use crate::task::review::{GateResult, Verdict};
use crate::work::stack::{Forks, WorkRange};
use git2::{Commit, DiffFormat, Oid, Patch, Repository};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// One file a task changed.
#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub path: String,
    /// `added`, `modified`, `deleted` or `renamed`.
    pub change: &'static str,
    pub added: usize,
    pub removed: usize,
}

/// One task, reviewed.
#[derive(Debug, Clone, Serialize)]
pub struct TaskReview {
    pub id: String,
    pub title: String,
    /// As in `status`: closed, done, running, failed, escalated, queued.
    pub state: LineState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landed: Option<String>,
    /// The commits reviewed, as `from..to`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// The receipt lines the task added.
    pub receipt: Vec<String>,
    /// Files outside `.batch/` it changed.
    pub files: Vec<FileChange>,
    /// The diff of those files (`--patch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    pub priority: u8,
    /// The mean score of its gates (0-100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Security findings its gates reported.
    pub security: u64,
    /// What a reviewer should look at first: security findings, failed
    /// gates, an escalation.
    pub flags: Vec<String>,
    pub gates: Vec<GateResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// Its receipt's structured counts (`receipt --count`, `--field`).
    pub counts: BTreeMap<String, f64>,
}

impl TaskReview {
    /// Where it comes in the review queue: security findings first, then
    /// finished work (by priority, then score, high first), then
    /// escalations waiting for an answer, then the rest.
    fn queue_key(&self) -> (u8, u8, i64, &str) {
        let group = if self.security > 0 {
            0
        } else {
            match self.state {
                LineState::Done | LineState::Closed => 1,
                LineState::Escalated => 2,
                _ => 3,
            }
        };
        let score = self.score.map_or(i64::MAX, |s| -(s * 10.0) as i64);
        (group, self.priority, score, &self.id)
    }
}

/// Orders `tasks` as reviewers work (see [`TaskReview::queue_key`]).
pub fn queue_order(tasks: &mut [TaskReview]) {
    tasks.sort_by(|a, b| a.queue_key().cmp(&b.queue_key()));
}

#[derive(Debug, Clone, Serialize)]
pub struct Review {
    /// `plan NAME` or the range.
    pub subject: String,
    /// The structured receipt counts of all its tasks.
    pub counts: BTreeMap<String, f64>,
    pub tasks: Vec<TaskReview>,
}

impl Review {
    fn new(subject: String, tasks: Vec<TaskReview>) -> Review {
        let mut counts = BTreeMap::new();
        for t in &tasks {
            for (k, n) in &t.counts {
                *counts.entry(k.clone()).or_insert(0.0) += n;
            }
        }
        Review {
            subject,
            counts,
            tasks,
        }
    }
}

/// What the review of every task reads alike: where the branches fork,
/// and the older trees of the diffs, parsed once.
struct Shared<'r> {
    forks: Forks,
    trees: Trees<'r>,
}

impl<'r> Shared<'r> {
    fn new(repo: &'r Repository, forks: Forks) -> Shared<'r> {
        Shared {
            forks,
            trees: Trees::new(repo),
        }
    }
}

fn git(what: &'static str) -> impl FnOnce(git2::Error) -> PlanError {
    move |e| PlanError::Store(StoreError::Git(git_err(what)(e)))
}

/// Where each landed task's work is, from the landing commits reachable
/// from `tip` by first parents (stopping where `stop` says).
struct Landings {
    ranges: HashMap<String, (Oid, Oid)>,
    /// Commits by their `Batch-Task` trailer (for landings that predate
    /// the `Base:` line), newest first.
    by_trailer: HashMap<String, Vec<Oid>>,
}

impl Landings {
    fn walk(repo: &Repository, tip: Oid, stop: impl Fn(&Commit) -> bool) -> Landings {
        let mut out = Landings {
            ranges: HashMap::new(),
            by_trailer: HashMap::new(),
        };
        let dirs = Dirs::new(repo);
        let mut next = Some(tip);
        while let Some(oid) = next {
            let Ok(commit) = repo.find_commit(oid) else {
                break;
            };
            if stop(&commit) {
                break;
            }
            let message = commit.message().unwrap_or_default();
            if let Some(landing) = LandingMessage::parse(message) {
                out.read_landing(&dirs, oid, landing);
            } else if let Some(id) = crate::guard::check::task_trailer(message) {
                out.by_trailer.entry(id).or_default().push(oid);
            }
            next = commit.parent_id(0).ok();
        }
        out
    }

    fn read_landing(&mut self, dirs: &Dirs<'_>, oid: Oid, landing: LandingMessage) {
        let mut prev = Some(landing.base);
        for id in landing.landed {
            let to = dirs
                .task_at(Some(oid), &id)
                .and_then(|t| t.landed)
                .and_then(|l| Oid::from_str(&l).ok());
            if let (Some(from), Some(to)) = (prev, to) {
                self.ranges.entry(id).or_insert((from, to));
            }
            prev = to;
        }
    }

    fn range_of(&self, repo: &Repository, id: &str) -> Option<(Oid, Oid)> {
        if let Some(r) = self.ranges.get(id) {
            return Some(*r);
        }
        let commits = self.by_trailer.get(id)?;
        let newest = *commits.first()?;
        let oldest = repo.find_commit(*commits.last()?).ok()?;
        Some((oldest.parent_id(0).ok()?, newest))
    }
}

/// The main branch's newest known tip: the remote's when it is ahead of
/// the local branch (a landing from another clone), else the local one.
fn main_tip(store: &Store) -> Result<Oid, PlanError> {
    if let Some(ahead) = super::remote_main_ahead(store) {
        return Ok(ahead);
    }
    store.main_tip().map_err(git("reading the main branch"))
}

/// Reviews every task of plan `name`.
pub fn review_plan(store: &Store, name: &str, patch: bool) -> Result<Review, PlanError> {
    let plan = Plan::read(store, name)?;
    let repo = &store.repo;
    let tip = main_tip(store)?;
    let plan_rel = Plan::rel(name);
    // Nothing of the plan can have landed before the plan itself existed.
    let landings = Landings::walk(repo, tip, |c| {
        c.tree()
            .map(|t| t.get_path(Path::new(&plan_rel)).is_err())
            .unwrap_or(true)
    });
    let facts = Facts::read(store);
    let ids = plan.ids();
    // Where the work not landed left main, for every branch at once.
    let tips: Vec<Oid> = ids.iter().filter_map(|id| facts.branch_tip(id)).collect();
    let shared = Shared::new(repo, Forks::of(repo, &tips, tip));
    let mut tasks = Vec::new();
    for id in ids {
        tasks.push(review_task(
            store, &facts, &landings, &shared, &id, None, patch,
        )?);
    }
    queue_order(&mut tasks);
    Ok(Review::new(format!("plan {name}"), tasks))
}

/// Reviews the tasks whose work is in the commits of `range` (`A..B`):
/// those of the landings in it, then commits grouped by their
/// `Batch-Task` trailer (or by B's worker branch).
pub fn review_range(store: &Store, range: &str, patch: bool) -> Result<Review, PlanError> {
    let (a, b) = range
        .split_once("..")
        .filter(|(a, b)| !a.is_empty() && !b.is_empty() && !b.starts_with('.'))
        .ok_or_else(|| {
            PlanError::Invalid(format!(
                "'{range}' is not a range: give it as A..B (e.g. origin/main@{{1}}..origin/main)"
            ))
        })?;
    let repo = &store.repo;
    let resolve = |r: &str| {
        repo.revparse_single(r)
            .and_then(|o| o.peel_to_commit())
            .map(|c| c.id())
            .map_err(|e| {
                PlanError::Store(StoreError::Git(GitError::Git {
                    what: format!("resolving '{r}'"),
                    source: e,
                }))
            })
    };
    let (from, to) = (resolve(a)?, resolve(b)?);
    let mut walk = repo.revwalk().map_err(git("walking the range"))?;
    walk.push(to).map_err(git("walking the range"))?;
    walk.hide(from).map_err(git("walking the range"))?;
    let in_range: Vec<Oid> = walk.flatten().collect();
    let in_set: HashSet<Oid> = in_range.iter().copied().collect();
    let landings = Landings::walk(repo, to, |c| !in_set.contains(&c.id()));
    // Commits the landings account for; the rest are grouped by trailer.
    let mut covered: HashSet<Oid> = HashSet::new();
    for (f, t) in landings.ranges.values() {
        if let Ok(mut w) = repo.revwalk() {
            let _ = w.push(*t);
            let _ = w.hide(*f);
            covered.extend(w.flatten());
        }
    }
    // `b` is a branch, named in full or short.
    let short = crate::git::refs::branch_name(b).unwrap_or(b);
    let branch_task = crate::git::refs::task_of_branch(short).map(String::from);
    let mut groups: BTreeMap<String, Vec<Oid>> = BTreeMap::new();
    for oid in &in_range {
        if covered.contains(oid) {
            continue;
        }
        let Ok(c) = repo.find_commit(*oid) else {
            continue;
        };
        let message = c.message().unwrap_or_default();
        if message.starts_with("batch: land ") {
            continue;
        }
        if let Some(id) = crate::guard::check::task_trailer(message).or(branch_task.clone()) {
            groups.entry(id).or_default().push(*oid);
        }
    }
    let facts = Facts::read(store);
    // Every task here has its range: no fork is looked for.
    let shared = Shared::new(repo, Forks::of(repo, &[], to));
    let mut ids: Vec<String> = landings.ranges.keys().cloned().collect();
    ids.sort();
    let mut tasks = Vec::new();
    for id in &ids {
        let r = landings.ranges.get(id).copied();
        tasks.push(review_task(
            store, &facts, &landings, &shared, id, r, patch,
        )?);
    }
    for (id, commits) in groups {
        if ids.contains(&id) {
            continue;
        }
        let newest = commits[0];
        let oldest = repo
            .find_commit(*commits.last().expect("a group has commits"))
            .map_err(git("reading a commit"))?;
        let r = oldest.parent_id(0).ok().map(|p| (p, newest));
        tasks.push(review_task(
            store, &facts, &landings, &shared, &id, r, patch,
        )?);
    }
    Ok(Review::new(range.to_string(), tasks))
}

fn review_task(
    store: &Store,
    facts: &Facts<'_>,
    landings: &Landings,
    shared: &Shared<'_>,
    id: &str,
    range: Option<(Oid, Oid)>,
    patch: bool,
) -> Result<TaskReview, PlanError> {
    let repo = &store.repo;
    let line = facts.line(id);
    let range = range.or_else(|| {
        if line.state == LineState::Closed {
            return landings.range_of(repo, id);
        }
        // Its own work: a stacked branch's starts at its recorded base.
        let tip = facts.branch_tip(id)?;
        let own = WorkRange::in_set_with(repo, facts.claims(), id, tip, &shared.forks).ok()?;
        Some((own.start(), tip))
    });
    let mut review = TaskReview {
        id: id.to_string(),
        title: line.title.clone(),
        state: line.state,
        reason: line.reason.clone(),
        landed: line.landed.clone(),
        range: range.map(|(f, t)| format!("{}..{}", short(f), short(t))),
        receipt: Vec::new(),
        files: Vec::new(),
        patch: None,
        priority: facts
            .task_file(id)
            .map_or(crate::task::DEFAULT_PRIORITY, |t| t.priority),
        score: None,
        security: 0,
        flags: Vec::new(),
        gates: Vec::new(),
        verdict: None,
        counts: BTreeMap::new(),
    };
    let judged = facts.judgement(id);
    review.score = judged.score();
    review.security = judged.security();
    if review.security > 0 {
        review
            .flags
            .push(format!("{} security finding(s)", review.security));
    }
    for g in judged.failed_gates() {
        review.flags.push(format!("gate {g} failed"));
    }
    if line.state == LineState::Escalated {
        review.flags.push("escalated: waits for an answer".into());
    }
    review.gates = judged.gates;
    review.verdict = judged.verdict;
    if let Some((from, to)) = range {
        review.receipt = receipt_lines(facts.dirs(), Some(from), to, id);
        let (files, text) =
            diff_files(repo, &shared.trees, from, to, patch).map_err(git("diffing the work"))?;
        review.files = files;
        review.patch = text;
    }
    // A worker still at it has receipt lines on disk not yet committed.
    if !matches!(line.state, LineState::Closed)
        && let Some(on_disk) = facts.worktree_receipt(id)
        && on_disk.len() > review.receipt.len()
    {
        review.receipt = on_disk;
    }
    review.counts = crate::work::receipt::counts(review.receipt.iter().map(String::as_str));
    Ok(review)
}

/// The lines the receipt of `id` gained between `from` and `to`.
fn receipt_lines(dirs: &Dirs<'_>, from: Option<Oid>, to: Oid, id: &str) -> Vec<String> {
    let at = |c: Oid| dirs.receipt_lines_at(c, id);
    let old = from.map(at).unwrap_or_default();
    let new = at(to);
    if new.starts_with(&old) {
        return new[old.len()..].to_vec();
    }
    // Union-merged receipts need not keep a prefix: the lines not there before.
    let before: HashSet<&String> = old.iter().collect();
    new.iter()
        .filter(|l| !before.contains(l))
        .cloned()
        .collect()
}

/// The files outside `.batch/` that `from..to` changes, with line counts,
/// and the patch when asked.
fn diff_files(
    repo: &Repository,
    trees: &Trees<'_>,
    from: Oid,
    to: Oid,
    patch: bool,
) -> Result<(Vec<FileChange>, Option<String>), git2::Error> {
    let a = repo.find_commit(from)?.tree()?;
    let b = repo.find_commit(to)?.tree()?;
    // Without the patch, work that only modified files is counted blob by
    // blob against the fork's tree parsed once (see `report::changes`).
    if !patch && let Some(files) = trees.modified_only(a.id(), b.id()) {
        return Ok((files, None));
    }
    let Some(mut diff) = diff_outside_batch(repo, &a, &b)? else {
        return Ok((Vec::new(), patch.then(String::new)));
    };
    diff.find_similar(None)?;
    let ours = |p: &str| !p.starts_with(".batch/");
    let mut files = Vec::new();
    for i in 0..diff.deltas().len() {
        let delta = diff.get_delta(i).expect("index in range");
        let path = delta
            .new_file()
            .path()
            .or(delta.old_file().path())
            .and_then(Path::to_str)
            .unwrap_or_default()
            .to_string();
        if !ours(&path) {
            continue;
        }
        let (added, removed) = Patch::from_diff(&diff, i)?
            .and_then(|p| p.line_stats().ok())
            .map_or((0, 0), |(_, a, d)| (a, d));
        let change = match delta.status() {
            git2::Delta::Added | git2::Delta::Untracked => "added",
            git2::Delta::Deleted => "deleted",
            git2::Delta::Renamed => "renamed",
            _ => "modified",
        };
        files.push(FileChange {
            path,
            change,
            added,
            removed,
        });
    }
    if !patch {
        return Ok((files, None));
    }
    let mut text = String::new();
    diff.print(DiffFormat::Patch, |delta, _, line| {
        let path = delta
            .new_file()
            .path()
            .or(delta.old_file().path())
            .and_then(Path::to_str)
            .unwrap_or_default();
        if ours(path) {
            if matches!(line.origin(), '+' | '-' | ' ') {
                text.push(line.origin());
            }
            text.push_str(&String::from_utf8_lossy(line.content()));
        }
        true
    })?;
    Ok((files, Some(text)))
}

/// The diff of `a..b` without descending into `.batch/` when both have it
/// as a directory (its tasks and receipts trees, as large as the plan,
/// were most of a review's reading); `None` when nothing else is at the
/// top. A rename or copy can pair a file outside `.batch/` with one in it
/// only through an added or deleted file: then the whole diff is taken, so
/// that what is found similar is as before.
fn diff_outside_batch<'r>(
    repo: &'r Repository,
    a: &git2::Tree<'_>,
    b: &git2::Tree<'_>,
) -> Result<Option<git2::Diff<'r>>, git2::Error> {
    let whole = || repo.diff_tree_to_tree(Some(a), Some(b), None).map(Some);
    let is_dir = |t: &git2::Tree<'_>| {
        t.get_name(crate::store::BATCH_DIR)
            .is_some_and(|e| e.kind() == Some(git2::ObjectType::Tree))
    };
    if !(is_dir(a) && is_dir(b)) {
        return whole();
    }
    let mut names: Vec<Vec<u8>> = a
        .iter()
        .chain(b.iter())
        .map(|e| e.name_bytes().to_vec())
        .collect();
    names.retain(|n| n != crate::store::BATCH_DIR.as_bytes());
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return Ok(None);
    }
    let mut opts = git2::DiffOptions::new();
    opts.disable_pathspec_match(true);
    for n in names {
        opts.pathspec(n);
    }
    let diff = repo.diff_tree_to_tree(Some(a), Some(b), Some(&mut opts))?;
    let pairs = diff
        .deltas()
        .any(|d| matches!(d.status(), git2::Delta::Added | git2::Delta::Deleted));
    if pairs { whole() } else { Ok(Some(diff)) }
}

fn short(oid: Oid) -> String {
    crate::git::short_oid(oid)
}
