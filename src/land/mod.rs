//! `land`: integrate every finished worker branch into the main branch, test
//! once, and push once, like a merge queue with no server.
//!
//! The landing happens in a temporary detached worktree (the user's checkout
//! is never touched): the branches are replayed onto the remote tip in
//! dependency order, a branch that conflicts or leaves its scope is left out,
//! a reduce step (`--then`) may add one commit of what it makes of them, the
//! tests run once on the result (bisecting to leave culprits out), the task
//! files are closed in one commit, and one atomic push with a lease
//! on the tip moves the branch. Only after the push is confirmed are claims
//! released and worker branches and worktrees removed, this clone's and (by
//! `sweep.rs`) those of tasks another clone landed. A `kill -9` at any point
//! leaves the remote at the old tip or the complete new one.

mod candidates;
pub mod message;
mod preflight;
mod publish;
mod replay;
mod sweep;

use crate::claims::{self, Decision, Via};
use crate::git::program::{self, Git, Pushed};
use crate::git::{self, GitError, git_err};
use crate::store::Store;
use crate::task::{Kind, Note, Status, Task};
use crate::work::stack::WorkRange;
use crate::work::{self, worktree};
use candidates::{Candidate, candidates, ordered};
use git2::{Oid, Repository};
pub use preflight::check_known;
use publish::{cleanup, publish, update_local_branch};
use replay::{Reduction, Stack};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use sweep::sweep;

#[derive(Debug, thiserror::Error)]
pub enum LandError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Guard(#[from] crate::guard::GuardError),
    #[error(transparent)]
    Work(#[from] crate::work::WorkError),
    #[error(transparent)]
    Claim(#[from] crate::claims::ClaimError),
    #[error("another `git batch land` is running in this repository (lock {path})")]
    Busy { path: PathBuf },
    #[error("{what}: {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the remote kept moving: gave up after {attempts} attempt(s)")]
    RemoteMoving { attempts: u32 },
    #[error("{remote} has no branch {branch} to land on")]
    NoRemoteBranch { branch: String, remote: String },
    #[error(
        "{branch} has {count} commit(s) that {remote} does not have; the worker branches carry them, so the landing would judge them as the tasks' work"
    )]
    Unpushed {
        branch: String,
        remote: String,
        count: usize,
    },
    #[error(
        "{branch} is checked out in {} with uncommitted changes, and the landing would move it: {}",
        path.display(),
        files.join(", ")
    )]
    DirtyCheckout {
        branch: String,
        path: PathBuf,
        files: Vec<String>,
    },
    #[error("the tests fail on the combined result (log: {log})")]
    TestsFail { log: PathBuf },
    #[error("the reduce step `{command}` failed (log: {log})")]
    ReduceFails { command: String, log: PathBuf },
    #[error(
        "the reduce step `{command}` changed files under .batch/, which only git-batch writes: {} (log: {log})",
        files.join(", ")
    )]
    ReduceTouchesBatch {
        command: String,
        files: Vec<String>,
        log: PathBuf,
    },
}

/// Where the reduce step's command comes from. Never from a file a worker
/// branch could have changed: the flag, or the plan as the base has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Reduce {
    #[default]
    None,
    /// Named on the command line (`--then`).
    Command(String),
    /// The `reduce` of this plan's `[config]` at the landing's base.
    Plan(String),
}

/// How to land.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only these tasks (default: every `done` task with a worker branch).
    pub only: Option<Vec<String>>,
    pub remote: Option<String>,
    pub branch: String,
    pub test: Option<String>,
    /// No flag gave the test command: take it from the base the landing
    /// starts from, the trusted history, rather than from this checkout's
    /// files: the plan's `test` there (with `test_plan`), else the config's
    /// `test_command` there.
    pub test_from_base: bool,
    pub test_plan: Option<String>,
    /// Run on the built stack before the tests; what it changes is
    /// committed on top and lands with it.
    pub reduce: Reduce,
    pub push: bool,
    pub dry_run: bool,
    pub attempts: u32,
    pub bisect: bool,
    pub worker: String,
    /// Only work a reviewer approved (`approve`), as it was approved.
    pub approved_only: bool,
}

/// Why a task was left out.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LeftOut {
    pub id: String,
    pub reason: LeftOutReason,
    pub detail: String,
    /// The test log that found it (`test` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
    /// The branch commit that was left out (`test` only): it is not tried
    /// again until the branch moves past it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// Why a landing left a task out (`reason` in JSON, snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftOutReason {
    /// Its branch does not replay onto the stack.
    Conflict,
    /// Its commits change files outside its scope.
    Scope,
    /// The tests fail with it (found by bisection).
    Test,
    /// It depends on a task that is not landed (nor landing now).
    Dependency,
}

impl LeftOutReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LeftOutReason::Conflict => "conflict",
            LeftOutReason::Scope => "scope",
            LeftOutReason::Test => "test",
            LeftOutReason::Dependency => "dependency",
        }
    }
}

impl std::fmt::Display for LeftOutReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task file that both the stack and a replayed branch changed, merged
/// field by field (see `docs/design.md`, "How task files merge").
#[derive(Debug, Clone, serde::Serialize)]
pub struct MergedFile {
    /// The task whose file it is.
    pub id: String,
    /// The task whose branch was being replayed.
    pub branch: String,
    /// Fields both sides changed differently, and the side kept: `ours` is
    /// the stack (main), `theirs` the branch.
    pub clashes: Vec<crate::task::Clash>,
    /// A version did not read as a task: the branch's file was taken
    /// whole, as before field merges (why, in `detail`).
    pub whole: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What a landing did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub base: String,
    pub landed: Vec<String>,
    pub left_out: Vec<LeftOut>,
    /// The new tip of the branch (None when nothing landed, or dry run).
    pub commit: Option<String>,
    pub pushed: bool,
    pub dry_run: bool,
    pub attempts: u32,
    pub test_seconds: f64,
    pub test_log: Option<PathBuf>,
    /// Epics closed because all their children are.
    pub closed_epics: Vec<String>,
    /// What happened to the user's checkout of the branch.
    pub local_branch: String,
    /// Tasks another clone landed whose worktree and branch here were
    /// removed (their branch is what landed, their worktree has no changes).
    pub removed: Vec<String>,
    /// Task files the replays merged (main and a branch both changed them).
    pub merged: Vec<MergedFile>,
    /// The reduce step of the landing, when one ran.
    pub reduce: Option<Reduced>,
    /// Finished work not landed for want of an approval (`--approved`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unapproved: Vec<String>,
}

/// The reduce step as it ran on what lands.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reduced {
    pub command: String,
    /// Its `batch: reduce` commit; None when it changed nothing.
    pub commit: Option<String>,
    pub log: PathBuf,
}

/// Lands finished work. See the module doc for the steps.
pub fn land(store: &Store, opts: &Options) -> Result<Report, LandError> {
    let common = store.repo.commondir().to_path_buf();
    let lock_path = common.join("batch").join("land.lock");
    let _lock = try_lock(&lock_path)?;
    crate::git::stale::enter(&common);
    if !opts.dry_run {
        // What a landing killed in its cleanup left half removed; best
        // effort, as the sweep (an error here must not stop landings).
        let _ = work::remove::finish_interrupted(&store.repo, &store.root);
    }
    let mut report = Report {
        dry_run: opts.dry_run,
        ..Report::default()
    };
    let wt_path = common.join("batch").join("land-worktree");
    // The verdicts of earlier landings (any clone's) decide what is tried.
    if let Via::Remote(remote) = claims_via(store, opts) {
        claims::refresh(&store.repo, remote)?;
    }
    for attempt in 1..=opts.attempts.max(1) {
        report.attempts = attempt;
        let base = fetch_base(store, opts)?;
        preflight::check_pushed(store, opts, base)?;
        preflight::check_clean_checkout(store, opts, base)?;
        report.base = base.to_string();
        let mut stack = Stack::open(store, &wt_path, base)?;
        let result = build_and_test(store, opts, &mut stack, base, &mut report);
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(e) => {
                stack.remove();
                return Err(e);
            }
        };
        let Some(tip) = outcome else {
            stack.remove();
            if !opts.dry_run {
                // A landing killed after its push left its claims: the
                // tasks are closed on the base, and nothing else will let
                // them go. Best effort, like the tidy-up of what another
                // clone landed.
                let _ = release_landed(store, opts, base, &report.left_out);
                report.removed = sweep(store, base).unwrap_or_default();
                // It left the user's branch behind what it pushed, too.
                if opts.push {
                    report.local_branch =
                        update_local_branch(store, opts, base, base).unwrap_or_default();
                }
            }
            return Ok(report);
        };
        if opts.dry_run {
            stack.remove();
            return Ok(report);
        }
        let pushed = publish(store, opts, base, tip, &report.landed)?;
        stack.remove();
        if !pushed {
            // The remote moved: start over on its new tip.
            report.landed.clear();
            report.left_out.clear();
            report.closed_epics.clear();
            report.reduce = None;
            continue;
        }
        report.commit = Some(tip.to_string());
        report.pushed = opts.push;
        cleanup(store, opts, &report, tip)?;
        report.local_branch = update_local_branch(store, opts, base, tip)?;
        report.removed = sweep(store, tip).unwrap_or_default();
        return Ok(report);
    }
    Err(LandError::RemoteMoving {
        attempts: opts.attempts,
    })
}

fn try_lock(path: &Path) -> Result<std::fs::File, LandError> {
    match crate::atomic::try_lock(path) {
        Ok(Some(file)) => Ok(file),
        Ok(None) => Err(LandError::Busy {
            path: path.to_path_buf(),
        }),
        Err(source) => Err(LandError::Io {
            what: "locking",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The lease: the remote branch's tip (fetched), or the local branch's.
fn fetch_base(store: &Store, opts: &Options) -> Result<Oid, LandError> {
    let local = git::refs::branch(&opts.branch);
    if let (true, Some(remote)) = (opts.push, &opts.remote) {
        // With the work finished on other clones, shared under
        // refs/batch/work/.
        return git::remote::fetch_main(&store.repo, remote, &opts.branch)?.ok_or_else(|| {
            LandError::NoRemoteBranch {
                branch: opts.branch.clone(),
                remote: remote.clone(),
            }
        });
    }
    Ok(store
        .repo
        .refname_to_id(&local)
        .map_err(git_err(format!("reading {local}")))?)
}

/// Stacks, closes and tests; the tip to publish, or None (nothing landed).
/// Each round stacks what is not left out yet; a round whose tests fail
/// leaves the culprit out and starts over.
fn build_and_test(
    store: &Store,
    opts: &Options,
    stack: &mut Stack,
    base: Oid,
    report: &mut Report,
) -> Result<Option<Oid>, LandError> {
    let queue: Vec<Candidate> = ordered(candidates(&store.repo, opts.only.as_deref(), Some(base))?)
        .into_iter()
        // Landed already (a landing that died after its push): only the
        // cleanup is left, which a successful landing does for it.
        .filter(|c| !closed_at(store, base, &c.task.id))
        .collect();
    let queue = if opts.approved_only {
        let (approved, waiting) = candidates::split_approved(&store.repo, queue);
        report.unapproved = waiting;
        approved
    } else {
        queue
    };
    let test = if opts.test_from_base {
        opts.test_plan
            .as_deref()
            .and_then(|name| base_plan_config(store, base, name))
            .and_then(|c| c.test)
            .or_else(|| base_test_command(store, base))
    } else {
        opts.test.clone()
    };
    let reduce = match &opts.reduce {
        Reduce::None => None,
        Reduce::Command(cmd) => Some(cmd.clone()),
        Reduce::Plan(name) => base_reduce_command(store, base, name),
    };
    loop {
        report.reduce = None;
        let stacked = stack_round(store, stack, base, &queue, report)?;
        // With nothing stacked, a commit is still made when tasks were left
        // out: it records why on their task files.
        if stacked.is_empty() && (report.left_out.is_empty() || opts.dry_run) {
            return Ok(None);
        }
        let mut top = stacked.last().map_or(base, |(_, t)| *t);
        // Before the tests, so that they test what it made and the push
        // carries it.
        if let (Some(cmd), false) = (&reduce, stacked.is_empty()) {
            match stack.reduce(store, cmd, top)? {
                Reduction::Failed { log } => {
                    return Err(LandError::ReduceFails {
                        command: cmd.clone(),
                        log,
                    });
                }
                Reduction::Done {
                    top: reduced,
                    committed,
                    log,
                } => {
                    report.reduce = Some(Reduced {
                        command: cmd.clone(),
                        commit: committed.then(|| reduced.to_string()),
                        log,
                    });
                    top = reduced;
                }
            }
        }
        // Test the stack (before the closing commit: it only touches .batch/).
        if let (Some(cmd), false) = (&test, stacked.is_empty()) {
            let steps = Steps {
                test: cmd,
                reduce: reduce.as_deref(),
            };
            if let Some(culprit) = test_round(store, opts, stack, &steps, &stacked, top, report)? {
                report.left_out.push(culprit);
                continue;
            }
        }
        report.landed = stacked.iter().map(|(c, _)| c.task.id.to_string()).collect();
        let landed_tips: HashMap<String, Oid> = stacked
            .iter()
            .map(|(c, t)| (c.task.id.to_string(), *t))
            .collect();
        let sources: HashMap<String, Oid> = stacked
            .iter()
            .map(|(c, _)| (c.task.id.to_string(), c.tip))
            .collect();
        let tip = close_tasks(store, stack, base, top, &landed_tips, &sources, report)?;
        return Ok((tip != base).then_some(tip));
    }
}

/// Where the landing's claim changes go: through the remote it pushes to
/// when that is the configured one, else this clone's claims ref.
fn claims_via<'a>(store: &Store, opts: &'a Options) -> Via<'a> {
    match (&opts.remote, opts.push) {
        (Some(r), true) if store.config.remote.as_deref() == Some(r.as_str()) => Via::Remote(r),
        _ => Via::Local,
    }
}

/// Releases the claims and forgets the live state of tasks that are closed
/// at `base` (landed), and records the tasks the tests left out, in one step.
fn release_landed(
    store: &Store,
    opts: &Options,
    base: Oid,
    left_out: &[LeftOut],
) -> Result<(), LandError> {
    use claims::live::{Change, Live, Outcome};
    claims::transact(&store.repo, claims_via(store, opts), |set| {
        let gone: Vec<String> = set
            .claims
            .keys()
            .filter(|id| closed_at(store, base, id))
            .cloned()
            .collect();
        let mut live: Vec<Change> = set
            .live
            .keys()
            .filter(|id| closed_at(store, base, id))
            .map(|id| Change::Remove(id.clone()))
            .collect();
        for l in left_out.iter().filter(|l| l.reason == LeftOutReason::Test) {
            let earlier = set.live.get(&l.id);
            if earlier.is_some_and(|e| e.state == Outcome::LeftOut && e.commit == l.commit) {
                continue;
            }
            let mut state = Live::next(earlier, &l.id, Outcome::LeftOut, &opts.worker);
            state.commit = l.commit.clone();
            state.reason = Some(l.detail.clone());
            state.log = l.log.as_ref().map(|p| p.display().to_string());
            live.push(Change::Put(Box::new(state)));
        }
        if gone.is_empty() && live.is_empty() {
            return Ok(Decision::Keep(()));
        }
        let what = if gone.is_empty() {
            "record the landing's verdicts".to_string()
        } else {
            format!("release {} (landed)", gone.join(" "))
        };
        Ok(Decision::Write {
            message: format!(
                "{what} by {} at {}",
                opts.worker,
                crate::time::format(crate::time::now())
            ),
            put: vec![],
            remove: gone,
            live,
            result: (),
        })
    })?;
    Ok(())
}

/// `test_command` of the config at `base` (none when it has no config or
/// it does not read: nothing to run is safer than a command from elsewhere).
fn base_test_command(store: &Store, base: Oid) -> Option<String> {
    let rel = format!("{}/config.toml", crate::store::BATCH_DIR);
    let data = crate::store::at_commit::file_at(&store.repo, Some(base), &rel).ok()??;
    let text = String::from_utf8(data).ok()?;
    crate::store::Config::parse(&store.root.join(&rel), &text)
        .ok()?
        .test_command
}

/// `reduce` of plan `name`'s `[config]` at `base` (none when the plan is
/// not there or does not read, as for the test command).
fn base_reduce_command(store: &Store, base: Oid, name: &str) -> Option<String> {
    base_plan_config(store, base, name)?.reduce
}

/// Plan `name`'s `[config]` as the base has it (none when it is not there
/// or does not read).
fn base_plan_config(store: &Store, base: Oid, name: &str) -> Option<crate::plan::RunConfig> {
    let rel = crate::plan::Plan::rel(name);
    let data = crate::store::at_commit::file_at(&store.repo, Some(base), &rel).ok()??;
    let text = String::from_utf8(data).ok()?;
    Some(toml::from_str::<crate::plan::Plan>(&text).ok()?.config)
}

fn closed_at(store: &Store, base: Oid, id: &str) -> bool {
    crate::store::at_commit::task_at(&store.repo, Some(base), id)
        .is_some_and(|t| t.status == Status::Closed)
}

/// One round of stacking: replays, from `base`, every queued task not left
/// out yet, in order; a task waiting for an unlanded dependency, leaving its
/// scope or conflicting is left out (recorded in `report`). Returns what
/// was stacked, with the stack's tip after each.
fn stack_round(
    store: &Store,
    stack: &mut Stack,
    base: Oid,
    queue: &[Candidate],
    report: &mut Report,
) -> Result<Vec<(Candidate, Oid)>, LandError> {
    let mut stacked: Vec<(Candidate, Oid)> = Vec::new();
    let mut out_ids: HashSet<String> = report.left_out.iter().map(|l| l.id.clone()).collect();
    // Each round replays from the base again: only the last round's merges
    // are in what lands.
    report.merged.clear();
    stack.reset(base)?;
    for c in queue {
        let id = &c.task.id;
        if out_ids.contains(id.as_str()) {
            continue;
        }
        let waiting = c.task.deps.iter().find(|d| {
            let in_stack = stacked.iter().any(|(s, _)| &s.task.id == *d);
            !closed_at(store, base, d) && !in_stack
        });
        let left_out = if let Some(dep) = waiting {
            Some((
                LeftOutReason::Dependency,
                format!("depends on {dep}, which is not landed"),
            ))
        } else {
            let range = WorkRange::of(&store.repo, c.stack.as_ref(), c.tip, base)
                .map_err(git_err("finding where the branch starts"))?;
            let problems = stack.check_scope(&store.repo, base, &range, id)?;
            if !problems.is_empty() {
                Some((LeftOutReason::Scope, problems.join("; ")))
            } else {
                match stack.replay(id, &range)? {
                    replay::Replayed::Ok { tip, merged } => {
                        stacked.push((c.clone(), tip));
                        report.merged.extend(merged);
                        None
                    }
                    replay::Replayed::Conflict(files) => Some((
                        LeftOutReason::Conflict,
                        format!("needs rebase onto {}: {}", short(base), files.join(", ")),
                    )),
                }
            }
        };
        if let Some((reason, detail)) = left_out {
            out_ids.insert(id.to_string());
            report.left_out.push(LeftOut {
                id: id.to_string(),
                reason,
                detail,
                log: None,
                commit: None,
            });
        }
    }
    Ok(stacked)
}

/// What a stack goes through to count as good: the reduce step, if any,
/// then the tests.
struct Steps<'a> {
    test: &'a str,
    reduce: Option<&'a str>,
}

/// Tests `top`, the top of the stack with its reduce commit (twice before
/// it counts as failing: tests can be flaky). None when it passes; else the
/// culprit bisection finds, to leave out (an error without `--bisect`).
fn test_round(
    store: &Store,
    opts: &Options,
    stack: &mut Stack,
    steps: &Steps,
    stacked: &[(Candidate, Oid)],
    top: Oid,
    report: &mut Report,
) -> Result<Option<LeftOut>, LandError> {
    let tips: Vec<Oid> = stacked.iter().map(|(_, t)| *t).collect();
    if tips.is_empty() {
        return Ok(None);
    }
    let cmd = steps.test;
    let (ok, log, secs) = stack.test(store, cmd, top)?;
    report.test_seconds += secs;
    report.test_log = Some(log.clone());
    let ok = ok || {
        let (ok, _, secs) = stack.test(store, cmd, top)?;
        report.test_seconds += secs;
        ok
    };
    if ok {
        return Ok(None);
    }
    if !opts.bisect {
        return Err(LandError::TestsFail { log });
    }
    let culprit = bisect(stack, store, steps, &tips, report)?;
    let (c, _) = &stacked[culprit];
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let tail: Vec<&str> = output.lines().rev().take(20).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Ok(Some(LeftOut {
        id: c.task.id.to_string(),
        reason: LeftOutReason::Test,
        detail: format!(
            "tests fail with it ({}):\n{}",
            log.display(),
            tail.join("\n")
        ),
        log: Some(log),
        commit: Some(c.tip.to_string()),
    }))
}

/// The first stacked task whose tip fails the tests (the stack below it
/// passes): merge-train bisection over the stack's prefixes. Each prefix
/// is reduced first, as the whole stack was, so that what is tested is what
/// would land; a reduce step that fails on a prefix fails it.
fn bisect(
    stack: &mut Stack,
    store: &Store,
    steps: &Steps,
    tips: &[Oid],
    report: &mut Report,
) -> Result<usize, LandError> {
    let (mut good, mut bad) = (None::<usize>, tips.len() - 1);
    while good.map_or(0, |g| g + 1) < bad {
        let mid = (good.map_or(0, |g| g + 1) + bad) / 2;
        let point = match steps.reduce {
            None => Some(tips[mid]),
            Some(reduce) => match stack.reduce(store, reduce, tips[mid])? {
                Reduction::Failed { .. } => None,
                Reduction::Done { top, .. } => Some(top),
            },
        };
        let ok = match point {
            Some(point) => {
                let (ok, _, secs) = stack.test(store, steps.test, point)?;
                report.test_seconds += secs;
                ok
            }
            None => false,
        };
        if ok {
            good = Some(mid);
        } else {
            bad = mid;
        }
    }
    Ok(bad)
}

/// One commit on top of the stack: landed tasks closed (with the commit of
/// their work), left-out tasks noted (test failures marked failed), epics
/// whose children are now all closed closed too, and the plans of the
/// landed tasks `running`, or `completed` once each of their tasks is
/// closed, failed or escalated. `sources` are the branch tips that landed.
fn close_tasks(
    store: &Store,
    stack: &mut Stack,
    base: Oid,
    top: Oid,
    landed: &HashMap<String, Oid>,
    sources: &HashMap<String, Oid>,
    report: &mut Report,
) -> Result<Oid, LandError> {
    let now = crate::time::now_text();
    let mut changed: BTreeMap<String, Task> = BTreeMap::new();
    let live = claims::read(&store.repo)
        .map(|s| s.live)
        .unwrap_or_default();
    for (id, tip) in landed {
        let mut t = stack.read_task(id)?;
        t.status = Status::Closed;
        t.closed_reason = Some("landed".into());
        t.landed = Some(tip.to_string());
        t.updated = now.clone();
        // The gates and the verdict were on the work that lands (its
        // recorded commit is the tip replayed): they go with it.
        if let Some(l) = live.get(id)
            && l.commit.as_deref() == sources.get(id).map(|s| s.to_string()).as_deref()
        {
            if !l.gates.is_empty() {
                t.review.gates = l.gates.clone();
            }
            if l.verdict.is_some() {
                t.review.verdict = l.verdict.clone();
            }
        }
        changed.insert(id.clone(), t);
    }
    for l in &report.left_out {
        let Ok(mut t) = stack.read_task(&l.id) else {
            continue;
        };
        if l.reason == LeftOutReason::Test {
            t.status = Status::Failed;
            t.failure = Some(crate::task::Failure {
                reason: format!("the tests fail with it on {}", short(base)),
                attempt: None,
                log: l.log.as_ref().map(|p| p.display().to_string()),
                at: now.clone(),
            });
        }
        t.updated = now.clone();
        t.notes.push(Note {
            at: now.clone(),
            by: "git-batch land".into(),
            text: format!(
                "left out of the landing on {} ({}): {}",
                short(base),
                l.reason,
                l.detail
            ),
        });
        changed.insert(l.id.clone(), t);
    }
    // Parent epics whose children are all closed now.
    let all = stack.all_tasks()?;
    let mut parents: Vec<String> = changed
        .values()
        .filter(|t| t.status == Status::Closed)
        .filter_map(|t| t.parent.as_ref().map(|p| p.to_string()))
        .collect();
    parents.sort();
    parents.dedup();
    for p in parents {
        let Some(epic) = all.iter().find(|t| t.id == p && t.kind == Kind::Epic) else {
            continue;
        };
        if epic.status == Status::Closed {
            continue;
        }
        let all_closed = all
            .iter()
            .filter(|t| t.parent.as_deref() == Some(&p))
            .all(|t| changed.get(t.id.as_str()).map_or(t.status, |c| c.status) == Status::Closed);
        if all_closed {
            let mut e = epic.clone();
            e.status = Status::Closed;
            e.closed_reason = Some("all children landed".into());
            e.updated = now.clone();
            report.closed_epics.push(p.clone());
            changed.insert(p, e);
        }
    }
    let plans = plan_statuses(store, stack, &all, &changed);
    // The base and the order of the stack let `review` find each task's
    // commits: task N's are landed(N-1)..landed(N). The branch tip each
    // came from lets the clone that did the work know its branch landed
    // as it is (see `sweep`).
    let message = message::LandingMessage {
        base,
        landed: report.landed.clone(),
        from: report
            .landed
            .iter()
            .filter_map(|id| Some((id.clone(), *sources.get(id)?)))
            .collect(),
    }
    .render();
    stack.commit_tasks(top, changed.values(), &plans, &message)
}

/// The manifests of the plans that `changed` touches, with their new
/// status, as `(path, text)`; only those whose status changes.
fn plan_statuses(
    store: &Store,
    stack: &Stack,
    all: &[Task],
    changed: &BTreeMap<String, Task>,
) -> Vec<(String, String)> {
    use crate::plan::{Plan, PlanStatus};
    let names: std::collections::BTreeSet<String> =
        changed.values().filter_map(|t| t.batch.clone()).collect();
    let status_of = |id: &str| {
        changed
            .get(id)
            .or_else(|| all.iter().find(|t| t.id == id))
            .map(|t| t.status)
    };
    let mut out = Vec::new();
    for name in names {
        let rel = Plan::rel(&name);
        let Some(mut plan) = stack.read_plan(&rel) else {
            continue;
        };
        if plan.status == PlanStatus::Reviewed {
            continue;
        }
        let finished = plan.tasks.iter().all(|pt| {
            matches!(
                status_of(&pt.id),
                Some(Status::Closed | Status::Failed | Status::Escalated)
            ) || matches!(
                worktree::branch_task(&store.repo, &pt.id).map(|t| t.status),
                Some(Status::Failed | Status::Escalated)
            )
        });
        let status = if finished {
            PlanStatus::Completed
        } else {
            PlanStatus::Running
        };
        if plan.status != status {
            plan.status = status;
            out.push((rel, plan.render()));
        }
    }
    out
}

fn short(oid: Oid) -> String {
    git::short_oid(oid)
}
