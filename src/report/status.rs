//! Where a batch stands: every task of a plan (or of a run without a plan)
//! put in exactly one state, from what git and the run know: the task file
//! on the main branch (closed = landed), its worker branch (done, failed,
//! escalated; local or shared by another clone), the live claims
//! (running), and this clone's run state (attempts, logs, errors, times).

use crate::claims::{self, ClaimSet};
use crate::plan::{Plan, PlanStatus};
use crate::run::state::{RunState, TaskState};
use crate::store::Store;
use crate::store::at_commit::Dirs;
use crate::task::review::{GateResult, Verdict, VerdictKind};
use crate::task::{Status, Task};
use crate::work::snapshot::{Checkouts, Tips};
use serde::Serialize;
use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// Where one task of a batch stands, each task in exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineState {
    /// Landed on the main branch.
    Closed,
    /// Finished on its branch, not landed yet.
    Done,
    Running,
    Failed,
    Escalated,
    Queued,
}

impl LineState {
    pub fn as_str(self) -> &'static str {
        match self {
            LineState::Closed => "closed",
            LineState::Done => "done",
            LineState::Running => "running",
            LineState::Failed => "failed",
            LineState::Escalated => "escalated",
            LineState::Queued => "queued",
        }
    }

    /// The state a task's status on a branch or on main puts it in.
    fn of(s: Status) -> LineState {
        match s {
            Status::Done => LineState::Done,
            Status::Failed => LineState::Failed,
            Status::Escalated => LineState::Escalated,
            Status::Closed => LineState::Closed,
            _ => LineState::Queued,
        }
    }
}

impl std::fmt::Display for LineState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a batch stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    /// Nothing started yet.
    Pending,
    Running,
    /// Started, not finished, and no run of it is alive in this clone (it
    /// stopped or was killed; the same command resumes it).
    Stopped,
    /// Every task closed, done, failed or escalated.
    Completed,
    /// Its plan was marked reviewed.
    Reviewed,
}

impl BatchState {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchState::Pending => "pending",
            BatchState::Running => "running",
            BatchState::Stopped => "stopped",
            BatchState::Completed => "completed",
            BatchState::Reviewed => "reviewed",
        }
    }
}

impl std::fmt::Display for BatchState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One task's place in its batch.
#[derive(Debug, Clone, Serialize)]
pub struct TaskLine {
    pub id: String,
    pub title: String,
    pub state: LineState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// When the claim (running) was taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_secs: Option<i64>,
    pub attempts: u32,
    /// Why it failed, or the escalation's question.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The newest attempt's log (this clone's runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
    /// The commit of its landed work.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landed: Option<String>,
    /// Its receipt's structured counts (`receipt --count`, `--field`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, f64>,
    /// The mean score its gates gave (0-100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Security findings its gates reported.
    #[serde(skip_serializing_if = "is_zero")]
    pub security: u64,
    /// Gates that failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_gates: Vec<String>,
    /// The reviewer's verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<VerdictKind>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What gates and a reviewer said of a task's work.
#[derive(Debug, Clone, Default)]
pub struct Judgement {
    pub gates: Vec<GateResult>,
    pub verdict: Option<Verdict>,
}

impl Judgement {
    /// The mean of its gates' scores.
    pub fn score(&self) -> Option<f64> {
        let scores: Vec<f64> = self.gates.iter().filter_map(GateResult::score).collect();
        (!scores.is_empty()).then(|| {
            let mean = scores.iter().sum::<f64>() / scores.len() as f64;
            (mean * 10.0).round() / 10.0
        })
    }

    pub fn security(&self) -> u64 {
        self.gates.iter().map(GateResult::security).sum()
    }

    pub fn failed_gates(&self) -> Vec<String> {
        self.gates
            .iter()
            .filter(|g| !g.passed)
            .map(|g| g.name.clone())
            .collect()
    }
}

/// A plan (or a run without one) and its tasks.
#[derive(Debug, Clone, Serialize)]
pub struct BatchView {
    pub name: String,
    /// The plan's name (`.batch/batches/<name>.toml`), or null for a run
    /// of tasks given by id: the same type as `plan` in `run`'s summary.
    pub plan: Option<String>,
    /// The manifest's status (plans only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<PlanStatus>,
    /// Where it stands now.
    pub status: BatchState,
    pub total: usize,
    pub closed: usize,
    pub done: usize,
    pub running: usize,
    pub failed: usize,
    pub escalated: usize,
    pub queued: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_secs: Option<i64>,
    /// Estimated time left, from the pace so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_secs: Option<i64>,
    /// How the last run of it ended (`finished`, `deadline`, ...), once one
    /// has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<crate::run::StopReason>,
    /// Rate-limit events in a row (exit 75s) of its latest run, and until
    /// when that run starts nothing because of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<RateLimits>,
    /// The structured receipt counts of all its tasks.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, f64>,
    /// Tasks with an approval, with a rejection.
    pub approved: usize,
    pub rejected: usize,
    pub tasks: Vec<TaskLine>,
}

/// See [`BatchView::rate_limits`].
#[derive(Debug, Clone, Serialize)]
pub struct RateLimits {
    pub count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<String>,
}

impl BatchView {
    pub fn with_state(&self, state: LineState) -> impl Iterator<Item = &TaskLine> {
        self.tasks.iter().filter(move |t| t.state == state)
    }

    pub fn finished(&self) -> usize {
        self.closed + self.done + self.failed + self.escalated
    }
}

/// `status`: every plan, and the runs of this clone that have no plan.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub plans: Vec<BatchView>,
    pub runs: Vec<BatchView>,
    /// Plan files that do not read (`path:line: message`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub broken: Vec<String>,
}

/// What the views are built from, read once.
pub struct Facts<'a> {
    store: &'a Store,
    claims: ClaimSet,
    runs: Vec<RunState>,
    now: chrono::DateTime<chrono::Utc>,
    /// The remote's main branch when it is ahead of this clone's.
    remote_main: Option<git2::Oid>,
    /// Every task's branch tip and worktree, each read in one pass the
    /// first time a task's is asked for (see `work::snapshot`).
    tips: OnceCell<Tips>,
    checkouts: OnceCell<Checkouts>,
    /// Task files and receipts at commits, the trees many tasks share kept.
    dirs: Dirs<'a>,
    /// Each task file as read the first time it was asked for (a review
    /// asks up to four times per task), and each worktree's receipt.
    files: RefCell<HashMap<String, Option<Task>>>,
    on_disk: RefCell<HashMap<String, Option<Vec<String>>>>,
}

impl<'a> Facts<'a> {
    /// The claims and live state read with the rest.
    pub fn claims(&self) -> &ClaimSet {
        &self.claims
    }

    pub fn read(store: &'a Store) -> Facts<'a> {
        Facts {
            store,
            claims: claims::read(&store.repo).unwrap_or_default(),
            runs: crate::run::states(store).into_values().collect(),
            now: crate::time::now(),
            remote_main: super::remote_main_ahead(store),
            tips: OnceCell::new(),
            checkouts: OnceCell::new(),
            dirs: Dirs::new(&store.repo),
            files: RefCell::default(),
            on_disk: RefCell::default(),
        }
    }

    /// Task files and receipts at commits (see `store::at_commit::Dirs`).
    pub fn dirs(&self) -> &Dirs<'a> {
        &self.dirs
    }

    /// The tip of `id`'s work (see `work::worktree::branch_tip`).
    pub fn branch_tip(&self, id: &str) -> Option<git2::Oid> {
        self.tips
            .get_or_init(|| Tips::read(&self.store.repo))
            .tip(id)
    }

    /// The worktree that has `id`'s branch checked out (see
    /// `work::worktree::find_worktree`); none when they cannot be listed.
    pub fn worktree(&self, id: &str) -> Option<PathBuf> {
        let repo = &self.store.repo;
        self.checkouts
            .get_or_init(|| Checkouts::read(repo).unwrap_or_default())
            .worktree(repo, id)
    }

    /// The task on its worker branch: the local one, else the one another
    /// clone shared.
    pub fn on_branch(&self, id: &str) -> Option<Task> {
        self.dirs.task_at(Some(self.branch_tip(id)?), id)
    }

    /// The gates and verdict of `id`'s work: in its live state while it
    /// is in flight, in its file once landed.
    pub fn judgement(&self, id: &str) -> Judgement {
        if let Some(l) = self.claims.live.get(id) {
            return Judgement {
                gates: l.gates.clone(),
                verdict: l.verdict.clone(),
            };
        }
        self.task_file(id)
            .map(|t| Judgement {
                gates: t.review.gates,
                verdict: t.review.verdict,
            })
            .unwrap_or_default()
    }

    /// Task `id` as its file in this working tree has it (none when it
    /// cannot be read), read once.
    pub fn task_file(&self, id: &str) -> Option<Task> {
        if let Some(known) = self.files.borrow().get(id) {
            return known.clone();
        }
        let task = self.store.read_task(id).ok();
        self.files.borrow_mut().insert(id.to_string(), task.clone());
        task
    }

    /// The lines of the receipt in `id`'s worktree, when it has one and the
    /// file reads, read once.
    pub fn worktree_receipt(&self, id: &str) -> Option<Vec<String>> {
        if let Some(known) = self.on_disk.borrow().get(id) {
            return known.clone();
        }
        let lines = self.worktree(id).and_then(|wt| {
            let text = crate::work::receipt::read(&wt.join(Store::receipt_rel(id))).ok()?;
            Some(text.lines().map(String::from).collect::<Vec<_>>())
        });
        self.on_disk
            .borrow_mut()
            .insert(id.to_string(), lines.clone());
        lines
    }

    /// The lines of `id`'s receipt where it is freshest: its worktree's
    /// file, else its branch's (or shared work's) tip, else the main
    /// branch's.
    pub fn receipt(&self, id: &str) -> Vec<String> {
        if let Some(lines) = self.worktree_receipt(id) {
            return lines;
        }
        let tip = self.branch_tip(id).or_else(|| self.store.main_tip().ok());
        tip.map(|t| self.dirs.receipt_lines_at(t, id))
            .unwrap_or_default()
    }

    fn run_entries(&self, id: &str) -> impl Iterator<Item = &crate::run::state::TaskRun> {
        self.runs.iter().filter_map(move |r| r.tasks.get(id))
    }

    /// One task's line.
    pub fn line(&self, id: &str) -> TaskLine {
        // A landing another clone made (fetched, not pulled yet) counts.
        let landed_elsewhere = self
            .remote_main
            .and_then(|tip| self.dirs.task_at(Some(tip), id))
            .filter(|t| t.status == Status::Closed);
        let main = landed_elsewhere.or_else(|| self.task_file(id));
        // The task on its branch is read only when neither the file nor
        // the live state says (a tree as large as the plan per branch).
        let on_branch = OnceCell::new();
        let branch = || on_branch.get_or_init(|| self.on_branch(id)).as_ref();
        let run = self
            .run_entries(id)
            .max_by_key(|e| (e.started_at.clone(), e.logs.len()));
        let mut line = TaskLine {
            id: id.to_string(),
            title: main
                .as_ref()
                .or_else(branch)
                .map(|t| t.title.clone())
                .unwrap_or_default(),
            state: LineState::Queued,
            worker: None,
            since: None,
            age_secs: None,
            attempts: run.map_or(0, |r| r.attempts),
            reason: None,
            log: run.and_then(|r| r.logs.last().cloned()),
            landed: None,
            counts: BTreeMap::new(),
            score: None,
            security: 0,
            failed_gates: Vec::new(),
            verdict: None,
        };
        let judged = self.judgement(id);
        line.score = judged.score();
        line.security = judged.security();
        line.failed_gates = judged.failed_gates();
        line.verdict = judged.verdict.as_ref().map(|v| v.verdict);
        line.counts = crate::work::receipt::counts(self.receipt(id).iter().map(String::as_str));
        // The failure record; a task file from before records existed has
        // only its last note to say why.
        let note = |t: &Task| match &t.failure {
            Some(f) => Some(f.reason.clone()),
            None => t.notes.last().map(|n| n.text.clone()),
        };
        let failure_log = |t: &Task| t.failure.as_ref().and_then(|f| f.log.clone());
        let main_status = main.as_ref().map(|t| t.status);
        let live = self
            .claims
            .live
            .get(id)
            .filter(|l| l.state.status().is_some());
        if main_status == Some(Status::Closed) {
            line.state = LineState::Closed;
            line.landed = main.as_ref().and_then(|t| t.landed.clone());
        } else if let Some(l) = live {
            // The shared live state: the same in every clone.
            let s = l.state.status().expect("filtered");
            line.state = LineState::of(s);
            line.attempts = line.attempts.max(l.attempts);
            if s != Status::Done {
                line.reason = l.reason.clone();
                if let Some(log) = &l.log {
                    line.log = Some(PathBuf::from(log));
                }
            }
            if let Some(c) = self.claims.claims.get(id) {
                line.worker = Some(c.worker.clone());
            }
        } else if let Some(s @ (Status::Done | Status::Failed | Status::Escalated)) =
            branch().map(|t| t.status)
        {
            line.state = LineState::of(s);
            if s != Status::Done {
                line.reason = branch().and_then(note);
                if line.log.is_none() {
                    line.log = branch().and_then(failure_log).map(PathBuf::from);
                }
            }
        } else if let Some(s @ (Status::Failed | Status::Escalated)) = main_status {
            line.state = LineState::of(s);
            line.reason = main.as_ref().and_then(note);
            if line.log.is_none() {
                line.log = main.as_ref().and_then(failure_log).map(PathBuf::from);
            }
        } else if let Some(c) = self.claims.claims.get(id) {
            line.state = LineState::Running;
            line.worker = Some(c.worker.clone());
            line.since = Some(c.since.clone());
            line.age_secs = crate::time::parse(&c.since).map(|t| (self.now - t).num_seconds());
        } else if run.is_some_and(|r| r.state == TaskState::Running) {
            line.state = LineState::Running;
        }
        if line.reason.is_none() && matches!(line.state, LineState::Failed | LineState::Queued) {
            line.reason = run
                .and_then(|r| r.last_error.as_deref())
                .and_then(|e| e.lines().next())
                .map(String::from);
        }
        line
    }

    /// The view of a batch of `ids`.
    pub fn view(&self, name: &str, ids: &[String], plan: Option<&Plan>) -> BatchView {
        let tasks: Vec<TaskLine> = ids.iter().map(|id| self.line(id)).collect();
        let count = |s: LineState| tasks.iter().filter(|t| t.state == s).count();
        let mut view = BatchView {
            name: name.to_string(),
            plan: plan.map(|p| p.name.clone()),
            recorded: plan.map(|p| p.status),
            status: BatchState::Pending,
            total: tasks.len(),
            closed: count(LineState::Closed),
            done: count(LineState::Done),
            running: count(LineState::Running),
            failed: count(LineState::Failed),
            escalated: count(LineState::Escalated),
            queued: count(LineState::Queued),
            started: None,
            elapsed_secs: None,
            eta_secs: None,
            stop_reason: None,
            rate_limits: None,
            counts: BTreeMap::new(),
            approved: 0,
            rejected: 0,
            tasks,
        };
        for t in &view.tasks {
            for (k, n) in &t.counts {
                *view.counts.entry(k.clone()).or_insert(0.0) += n;
            }
            match t.verdict {
                Some(VerdictKind::Approved) => view.approved += 1,
                Some(VerdictKind::Rejected) => view.rejected += 1,
                None => {}
            }
        }
        let runs: Vec<&RunState> = self
            .runs
            .iter()
            .filter(|r| match plan {
                Some(_) => r.plan.as_deref() == Some(name),
                None => r.name == name,
            })
            .collect();
        view.started = runs.iter().map(|r| r.started.clone()).min();
        let latest = runs.iter().max_by(|a, b| a.updated.cmp(&b.updated));
        view.stop_reason = latest.and_then(|r| r.stop_reason);
        view.rate_limits = latest.filter(|r| r.rate_limits > 0).map(|r| RateLimits {
            count: r.rate_limits,
            paused_until: r.paused_until.clone(),
        });
        let finished = view.finished();
        view.status = if plan.is_some_and(|p| p.status == PlanStatus::Reviewed) {
            BatchState::Reviewed
        } else if finished == view.total {
            BatchState::Completed
        } else if !runs.is_empty()
            && !runs
                .iter()
                .any(|r| crate::run::is_alive(self.store, &r.name))
        {
            BatchState::Stopped
        } else if finished > 0 || view.running > 0 || !runs.is_empty() {
            BatchState::Running
        } else {
            BatchState::Pending
        };
        if let Some(start) = view.started.as_deref().and_then(crate::time::parse) {
            let end = if matches!(view.status, BatchState::Running | BatchState::Pending) {
                self.now
            } else {
                runs.iter()
                    .flat_map(|r| r.tasks.values())
                    .filter_map(|t| t.finished_at.as_deref().and_then(crate::time::parse))
                    .max()
                    .unwrap_or(self.now)
            };
            let elapsed = (end - start).num_seconds().max(0);
            view.elapsed_secs = Some(elapsed);
            let left = view.total - finished;
            // Nothing alive works on it: no time left to estimate.
            if finished > 0 && left > 0 && view.status != BatchState::Stopped {
                view.eta_secs = Some(elapsed * left as i64 / finished as i64);
            }
        }
        view
    }
}

/// The status of one plan, or of every plan and of this clone's runs that
/// have no plan.
pub fn status(store: &Store, only: Option<&str>) -> Result<StatusReport, crate::plan::PlanError> {
    let facts = Facts::read(store);
    let (plans, errors) = match only {
        Some(name) => (vec![Plan::read(store, name)?], Vec::new()),
        None => Plan::all_checked(store),
    };
    let mut report = StatusReport {
        plans: plans
            .iter()
            .map(|p| facts.view(&p.name, &p.ids(), Some(p)))
            .collect(),
        runs: Vec::new(),
        broken: errors.iter().map(|e| e.to_string()).collect(),
    };
    if only.is_none() {
        let mut runs: Vec<&RunState> = facts.runs.iter().filter(|r| r.plan.is_none()).collect();
        runs.sort_by(|a, b| a.name.cmp(&b.name));
        report.runs = runs
            .iter()
            .map(|r| facts.view(&r.name, &r.order, None))
            .collect();
    }
    Ok(report)
}
