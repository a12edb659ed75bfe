//! What happened to each task, read back from git: the claims ref's
//! history (every claim, end of attempt and verdict is a commit whose tree
//! is the whole claims and live state) and the landing commits of the main
//! branch. `metrics` and the HTML timeline are computed from it, so they
//! are the same in every clone that fetched the claims ref.
//!
//! Each commit's tree is compared with its parent's by blob id, so only
//! the entries that changed are parsed: a history of many commits over few
//! tasks in flight stays cheap.

use crate::claims::{Claim, live::Live, live::Outcome};
use crate::land::message::LandingMessage;
use crate::task::review::VerdictKind;
use chrono::{DateTime, Utc};
use git2::{Oid, Repository, Tree};
use std::collections::{BTreeMap, HashMap};

/// One attempt: from its claim to the end its live state recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub start: DateTime<Utc>,
    /// `None` while it still runs (or when its claim went without a
    /// recorded end and no commit time could be read).
    pub end: Option<DateTime<Utc>>,
    /// How it ended; `None` when its claim was released without one.
    pub outcome: Option<Outcome>,
}

/// One task's history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskHistory {
    pub attempts: Vec<Attempt>,
    /// Attempts that ran to an end, as the live state last counted them.
    pub counted_attempts: u32,
    /// When it was first recorded done.
    pub done_at: Option<DateTime<Utc>>,
    pub ever_failed: bool,
    pub ever_escalated: bool,
    /// When its work was (last) approved.
    pub approved_at: Option<DateTime<Utc>>,
    /// When it landed, and by which landing commit.
    pub landed_at: Option<DateTime<Utc>>,
    pub landing: Option<Oid>,
}

impl TaskHistory {
    /// When it was first claimed.
    pub fn first_claim(&self) -> Option<DateTime<Utc>> {
        self.attempts.first().map(|a| a.start)
    }

    /// Attempts it had: those the live state counted, or those the claims
    /// show when that is more (a task done by hand has no count).
    pub fn attempt_count(&self) -> u32 {
        self.counted_attempts.max(self.attempts.len() as u32)
    }

    /// From its first claim to its first `done`.
    pub fn task_secs(&self) -> Option<i64> {
        Some((self.done_at? - self.first_claim()?).num_seconds().max(0))
    }

    /// From its first `done` to its approval.
    pub fn review_secs(&self) -> Option<i64> {
        Some((self.approved_at? - self.done_at?).num_seconds().max(0))
    }
}

/// Every task's history, by id.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub tasks: BTreeMap<String, TaskHistory>,
}

impl History {
    /// Reads the claims ref's history (the newest claims this clone has)
    /// and the landings on the main branch's first-parent line from
    /// `main`. Damaged entries are skipped: this is a report.
    pub fn read(repo: &Repository, main: Option<Oid>) -> History {
        let mut out = History::default();
        if let Ok(set) = crate::claims::read(repo)
            && let Some(tip) = set.tip
        {
            out.read_claims(repo, tip);
        }
        if let Some(main) = main {
            out.read_landings(repo, main);
        }
        out
    }

    pub fn task(&self, id: &str) -> Option<&TaskHistory> {
        self.tasks.get(id)
    }

    fn read_claims(&mut self, repo: &Repository, tip: Oid) {
        let mut commits = Vec::new();
        let mut next = Some(tip);
        while let Some(oid) = next {
            let Ok(c) = repo.find_commit(oid) else {
                break;
            };
            next = c.parent_id(0).ok();
            commits.push(c);
        }
        let mut claims: HashMap<String, Oid> = HashMap::new();
        let mut live: HashMap<String, Oid> = HashMap::new();
        for commit in commits.iter().rev() {
            let Ok(tree) = commit.tree() else {
                continue;
            };
            let when = DateTime::from_timestamp(commit.committer().when().seconds(), 0);
            let (now_claims, now_live) = entries(repo, &tree);
            for (id, blob) in &now_claims {
                if claims.get(id) == Some(blob) {
                    continue;
                }
                let Some(claim) = parse::<Claim>(repo, *blob) else {
                    continue;
                };
                let Some(since) = crate::time::parse(&claim.since) else {
                    continue;
                };
                let task = self.tasks.entry(id.clone()).or_default();
                // A renewal rewrites the claim, not its start.
                let open = task.attempts.last().filter(|a| a.end.is_none());
                if open.is_none_or(|a| a.start != since) {
                    task.attempts.push(Attempt {
                        start: since,
                        end: None,
                        outcome: None,
                    });
                }
            }
            for (id, blob) in &now_live {
                if live.get(id) == Some(blob) {
                    continue;
                }
                if let Some(state) = parse::<Live>(repo, *blob) {
                    self.tasks.entry(id.clone()).or_default().record(&state);
                }
            }
            // A claim gone without an end recorded: released or abandoned.
            for id in claims.keys().filter(|id| !now_claims.contains_key(*id)) {
                if let Some(a) = self
                    .tasks
                    .get_mut(id)
                    .and_then(|t| t.attempts.last_mut())
                    .filter(|a| a.end.is_none())
                {
                    a.end = when;
                }
            }
            claims = now_claims;
            live = now_live;
        }
    }

    fn read_landings(&mut self, repo: &Repository, main: Oid) {
        let mut next = Some(main);
        while let Some(oid) = next {
            let Ok(c) = repo.find_commit(oid) else {
                break;
            };
            next = c.parent_id(0).ok();
            let Some(landing) = LandingMessage::parse(c.message().unwrap_or_default()) else {
                continue;
            };
            let when = DateTime::from_timestamp(c.committer().when().seconds(), 0);
            for id in landing.landed {
                // Walking back: the first seen is the newest landing.
                let t = self.tasks.entry(id).or_default();
                if t.landing.is_none() {
                    t.landing = Some(oid);
                    t.landed_at = when;
                }
            }
        }
    }
}

impl TaskHistory {
    /// A new live state of the task.
    fn record(&mut self, state: &Live) {
        let at = crate::time::parse(&state.at);
        self.counted_attempts = self.counted_attempts.max(state.attempts);
        match state.state {
            Outcome::Done => {
                if self.done_at.is_none() {
                    self.done_at = at;
                }
            }
            Outcome::Failed => self.ever_failed = true,
            Outcome::Escalated => self.ever_escalated = true,
            Outcome::LeftOut | Outcome::Retry => {}
        }
        if state.state != Outcome::Retry
            && let Some(a) = self.attempts.last_mut().filter(|a| a.end.is_none())
        {
            a.end = at.or(Some(a.start));
            a.outcome = Some(state.state);
        }
        match &state.verdict {
            Some(v) if v.verdict == VerdictKind::Approved => {
                self.approved_at = crate::time::parse(&v.at).or(self.approved_at);
            }
            Some(_) => self.approved_at = None,
            None => {}
        }
    }
}

/// The claims (top level) and live states (`state/`) of a claims tree, by
/// task, as blob ids.
fn entries(repo: &Repository, tree: &Tree) -> (HashMap<String, Oid>, HashMap<String, Oid>) {
    let blobs = |t: &Tree| -> HashMap<String, Oid> {
        t.iter()
            .filter(|e| e.kind() == Some(git2::ObjectType::Blob))
            .filter_map(|e| {
                let id = e.name().ok()?.strip_suffix(".toml")?.to_string();
                Some((id, e.id()))
            })
            .collect()
    };
    let live = tree
        .get_name(crate::claims::live::DIR)
        .and_then(|e| repo.find_tree(e.id()).ok())
        .map(|t| blobs(&t))
        .unwrap_or_default();
    (blobs(tree), live)
}

fn parse<T: serde::de::DeserializeOwned>(repo: &Repository, blob: Oid) -> Option<T> {
    let blob = repo.find_blob(blob).ok()?;
    toml::from_str(std::str::from_utf8(blob.content()).ok()?).ok()
}
