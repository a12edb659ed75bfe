//! Claims: which worker holds which task (and so which files), until the
//! task lands or is released.
//!
//! Every live claim is one file in the tree of a single commit that
//! `refs/batch/claims` points to. A change reads that commit, decides (is the
//! task free, does its scope overlap a live claim), writes a new commit whose
//! parent is the old one and moves the ref by compare-and-swap, retrying from
//! the start when another worker won the race. Because one ref holds all
//! claims, the overlap check and the update are one atomic step, in every
//! worktree of a clone (refs are shared) and, with a remote, across clones: the
//! same move is a push with `--force-with-lease` on the old commit. The ref's
//! history is the audit log of who claimed what, when.
//!
//! This module is the claims ref as a store; `remote.rs` moves it through a
//! shared remote. The rules for who may claim what (ready, not held, scopes
//! apart, renew, release, steal) are a worker's business: `work::claim`.

pub mod live;
mod remote;

use remote::{fetch, push};
pub use remote::{refresh, tracking_ref};

use crate::git::{self, GitError, git_err};
use crate::scope::{self, Overlap, Scope, ScopeError};
use chrono::{DateTime, Utc};
use git2::{ErrorCode, FileMode, Oid, Repository};
use live::{Change, Live};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The ref whose commit holds every live claim.
pub const CLAIMS_REF: &str = git::refs::CLAIMS;
/// The trailer of a claims commit naming the clone that made it.
pub const CLONE_TRAILER: &str = "Batch-Clone";
/// How often a lost compare-and-swap is retried before giving up.
const ATTEMPTS: u32 = 200;

/// One live claim, as stored in `<task>.toml` in the claims tree. Keys
/// this version does not know are ignored, so clones of different versions
/// share one claims ref.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub task: String,
    pub worker: String,
    /// When it was claimed (RFC 3339, UTC).
    pub since: String,
    /// When it lapses unless renewed; after that it can be stolen.
    pub expires: String,
    /// The task's scope when it was claimed.
    #[serde(default)]
    pub scope: Vec<String>,
    /// The clone that holds it (`git::identity::clone_id`); claims from
    /// before it was recorded have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone: Option<String>,
    /// The finished, unlanded branch of a dependency the task's branch was
    /// started from (`run --stack`, `start --stack`): its work starts there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<StackBase>,
}

/// Where a stacked task's branch started: its dependency `task`'s branch at
/// `commit` (that task's `done`). Recorded in the claims, never read from
/// the branch, so a worker cannot hide commits from the checks by naming a
/// base of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackBase {
    pub task: String,
    pub commit: String,
}

impl Claim {
    /// Whether `worker` of clone `clone` holds it: the name alone is not
    /// enough once the claim records its clone.
    pub fn held_by(&self, worker: &str, clone: &str) -> bool {
        self.worker == worker && self.clone.as_deref().is_none_or(|c| c == clone)
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        crate::time::parse(&self.expires).is_some_and(|t| t <= now)
    }
}

/// The claims at one commit of the claims ref.
#[derive(Debug, Clone, Default)]
pub struct ClaimSet {
    pub tip: Option<Oid>,
    pub claims: BTreeMap<String, Claim>,
    /// The live state of tasks in flight (see [`live`]).
    pub live: BTreeMap<String, Live>,
    /// The main branch's tip read with the claims (see [`transact_on`]):
    /// through a remote, fetched in the same fetch, so a task released by
    /// its landing is seen closed here.
    pub main: Option<Oid>,
}

impl ClaimSet {
    /// Whether `id` may not be handed to a worker now: claimed, or ended in
    /// a state only a person (or a landing) moves on from.
    pub fn is_taken(&self, id: &str) -> bool {
        self.claims.contains_key(id) || self.live.get(id).is_some_and(|l| !l.state.may_start())
    }

    /// Where `task` stands, its file merged with the live state (see
    /// [`live::effective`]).
    pub fn status_of(&self, task: &crate::task::Task) -> crate::task::Status {
        let id = task.id.as_str();
        live::effective(task.status, self.live.get(id), self.claims.contains_key(id))
    }

    /// Where `id`'s branch was stacked, if it was: recorded with its claim,
    /// and kept in its live state when an attempt ended without landing.
    pub fn stack_of(&self, id: &str) -> Option<&StackBase> {
        self.claims
            .get(id)
            .and_then(|c| c.stack.as_ref())
            .or_else(|| self.live.get(id).and_then(|l| l.stack.as_ref()))
    }

    /// [`ClaimSet::status_of`] written into each task, for readers.
    pub fn merge_into(&self, tasks: &mut [crate::task::Task]) {
        for t in tasks {
            t.status = self.status_of(t);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("{} is already claimed by {} (since {}, expires {})", .0.task, .0.worker, .0.since, .0.expires)]
    Held(Box<Claim>),
    #[error("the scope of {task} overlaps the claim on {} by {} ({detail})", .other.task, .other.worker)]
    Overlap {
        task: String,
        other: Box<Claim>,
        detail: String,
    },
    #[error(
        "no ready task could be claimed: {considered} ready, {held} taken or overlapping a live claim"
    )]
    NothingFree { considered: usize, held: usize },
    #[error("{task} is not claimed")]
    NotClaimed { task: String },
    #[error("{task} has no live state (it did not fail or escalate), so nothing to answer")]
    NoQuestion { task: String },
    #[error("the claim on {} by {} is live until {}; only an expired claim can be stolen", .0.task, .0.worker, .0.expires)]
    Live(Box<Claim>),
    #[error("{} is claimed by {}{}, not by {you}", .claim.task, .claim.worker, .claim.clone.as_deref().map(|c| format!(" of clone {c}")).unwrap_or_default())]
    NotYours { claim: Box<Claim>, you: String },
    #[error("{CLAIMS_REF} is damaged at {commit}: {message}")]
    Corrupt { commit: String, message: String },
    #[error("the claims kept changing under us ({attempts} attempts)")]
    Contended { attempts: u32 },
    #[error("invalid scope of {task}")]
    Scope {
        task: String,
        #[source]
        source: ScopeError,
    },
    #[error("{task} {state}{}; it is not handed out until a person acts", reason.as_deref().and_then(|r| r.lines().next()).map(|r| format!(": {r}")).unwrap_or_default())]
    Waiting {
        task: String,
        state: live::Outcome,
        reason: Option<String>,
    },
}

impl ClaimError {
    /// Whether another worker won: the caller may try something else.
    pub fn is_lost_race(&self) -> bool {
        matches!(
            self,
            ClaimError::Held(_)
                | ClaimError::Overlap { .. }
                | ClaimError::Live(_)
                | ClaimError::Contended { .. }
        ) || matches!(self, ClaimError::NothingFree { held, .. } if *held > 0)
    }
}

/// The claims as this clone last saw them (no network): the claims ref, or
/// the remote's as a plain `git fetch` last brought it (the refspec
/// [`crate::git::remote::ensure_refspecs`] adds) when that is newer.
pub fn read(repo: &Repository) -> Result<ClaimSet, ClaimError> {
    set_at(repo, current_tip(repo)?)
}

/// The newest claims commit this clone has: the claims ref, unless a
/// remote's, fetched since, descends from it.
fn current_tip(repo: &Repository) -> Result<Option<Oid>, ClaimError> {
    let local = resolve(repo, CLAIMS_REF)?;
    let fetched = repo
        .references_glob(git::refs::CLAIMS_TRACKING_GLOB)
        .map_err(git_err("listing the fetched claims"))?
        .flatten()
        .filter_map(|r| r.target())
        .collect::<Vec<_>>();
    let mut tip = local;
    for f in fetched {
        let newer = match tip {
            None => true,
            Some(t) => t != f && repo.graph_descendant_of(f, t).unwrap_or(false),
        };
        if newer {
            tip = Some(f);
        }
    }
    Ok(tip)
}

/// The claims and live state at commit `tip` of the claims ref.
pub fn set_at(repo: &Repository, tip: Option<Oid>) -> Result<ClaimSet, ClaimError> {
    Ok(ClaimSet {
        tip,
        claims: read_at(repo, tip)?,
        live: live_at(repo, tip)?,
        main: None,
    })
}

/// Which tasks may not be handed out (see [`ClaimSet::is_taken`]): the
/// claims by the names of the tree entries alone, no blob reads; only the
/// live states (tasks in flight, few) are read.
pub fn taken_ids(repo: &Repository) -> Result<Vec<String>, ClaimError> {
    let tip = current_tip(repo)?;
    let Some(tip) = tip else {
        return Ok(Vec::new());
    };
    let tree = repo
        .find_commit(tip)
        .and_then(|c| c.tree())
        .map_err(git_err("reading the claims commit"))?;
    let mut ids: Vec<String> = tree
        .iter()
        .filter(|e| e.kind() == Some(git2::ObjectType::Blob))
        .filter_map(|e| e.name().ok()?.strip_suffix(".toml").map(String::from))
        .collect();
    ids.extend(
        live_at(repo, Some(tip))?
            .into_values()
            .filter(|l| !l.state.may_start())
            .map(|l| l.task),
    );
    Ok(ids)
}

fn resolve(repo: &Repository, name: &str) -> Result<Option<Oid>, ClaimError> {
    match repo.refname_to_id(name) {
        Ok(oid) => Ok(Some(oid)),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(source) => Err(GitError::Git {
            what: format!("reading {name}"),
            source,
        }
        .into()),
    }
}

/// The claims of commit `tip` of the claims ref (none for `None`); a tree
/// entry that is not `<task>.toml` holding that task's claim is damage.
pub fn read_at(repo: &Repository, tip: Option<Oid>) -> Result<BTreeMap<String, Claim>, ClaimError> {
    entries_at(repo, tip, None, |c: &Claim| c.task.as_str())
}

/// The live state at commit `tip` of the claims ref: the entries of its
/// `state/` tree, each `<task>.toml` holding that task's state.
pub fn live_at(repo: &Repository, tip: Option<Oid>) -> Result<BTreeMap<String, Live>, ClaimError> {
    entries_at(repo, tip, Some(live::DIR), |l: &Live| l.task.as_str())
}

/// The `<task>.toml` blobs of the claims tree at `tip` (of its subtree
/// `dir`, none when it has none), parsed, by task. The top level leaves the
/// live state's subtree out; anything else that is not a `<task>.toml` of
/// its own task is damage.
fn entries_at<T: serde::de::DeserializeOwned>(
    repo: &Repository,
    tip: Option<Oid>,
    dir: Option<&str>,
    task_of: impl Fn(&T) -> &str,
) -> Result<BTreeMap<String, T>, ClaimError> {
    let mut out = BTreeMap::new();
    let Some(tip) = tip else {
        return Ok(out);
    };
    let corrupt = |message: String| ClaimError::Corrupt {
        commit: tip.to_string(),
        message,
    };
    let mut tree = repo
        .find_commit(tip)
        .and_then(|c| c.tree())
        .map_err(git_err("reading the claims commit"))?;
    if let Some(dir) = dir {
        let Some(id) = tree.get_name(dir).map(|e| e.id()) else {
            return Ok(out);
        };
        tree = repo
            .find_tree(id)
            .map_err(|e| corrupt(format!("{dir}: {e}")))?;
    }
    for entry in tree.iter() {
        let name = entry.name().unwrap_or_default().to_string();
        if dir.is_none() && name == live::DIR && entry.kind() == Some(git2::ObjectType::Tree) {
            continue;
        }
        let at = match dir {
            Some(d) => format!("{d}/{name}"),
            None => name.clone(),
        };
        let blob = repo
            .find_blob(entry.id())
            .map_err(|e| corrupt(format!("{at}: {e}")))?;
        let text =
            std::str::from_utf8(blob.content()).map_err(|e| corrupt(format!("{at}: {e}")))?;
        let value: T = toml::from_str(text).map_err(|e| corrupt(format!("{at}: {e}")))?;
        let task = task_of(&value).to_string();
        if name.strip_suffix(".toml") != Some(task.as_str())
            || crate::task::id::validate_id(&task).is_err()
        {
            return Err(corrupt(format!(
                "{at} holds a claim on or the state of '{task}'"
            )));
        }
        out.insert(task, value);
    }
    Ok(out)
}

/// A change to the claims, decided on a [`ClaimSet`].
pub enum Decision<T> {
    /// Nothing to write (e.g. the caller already holds the claim as asked).
    Keep(T),
    /// Write these claims (replacing any of the same task), remove these
    /// tasks' claims, and change the live state so, as one commit with
    /// `message`.
    Write {
        put: Vec<Claim>,
        remove: Vec<String>,
        live: Vec<Change>,
        message: String,
        result: T,
    },
}

/// Where claims are decided: this clone only, or a shared remote.
#[derive(Debug, Clone, Copy)]
pub enum Via<'a> {
    Local,
    Remote(&'a str),
}

/// Reads the claims, lets `decide` choose a change, and applies it by
/// compare-and-swap (locally, or as a leased push to the remote), starting
/// over when someone else changed the claims in between.
pub fn transact<T>(
    repo: &Repository,
    via: Via<'_>,
    decide: impl FnMut(&ClaimSet) -> Result<Decision<T>, ClaimError>,
) -> Result<T, ClaimError> {
    transact_on(repo, via, None, decide)
}

/// [`transact`], with the tip of branch `main` in the set: the local one,
/// or through a remote the remote's, fetched together with the claims. The
/// remote lists refs in order (`refs/batch/claims` before `refs/heads/`),
/// and a landing pushes the branch before it releases its claims, so a
/// claim seen released comes with the branch that closed its task.
pub fn transact_on<T>(
    repo: &Repository,
    via: Via<'_>,
    main: Option<&str>,
    mut decide: impl FnMut(&ClaimSet) -> Result<Decision<T>, ClaimError>,
) -> Result<T, ClaimError> {
    for attempt in 0..ATTEMPTS {
        let (tip, main_tip) = match via {
            Via::Local => (
                resolve(repo, CLAIMS_REF)?,
                match main {
                    Some(b) => resolve(repo, &git::refs::branch(b))?,
                    None => None,
                },
            ),
            Via::Remote(remote) => fetch(repo, remote, main)?,
        };
        let mut set = set_at(repo, tip)?;
        set.main = main_tip;
        let (put, remove, live, message, result) = match decide(&set)? {
            Decision::Keep(result) => return Ok(result),
            Decision::Write {
                put,
                remove,
                live,
                message,
                result,
            } => (put, remove, live, message, result),
        };
        let new = write_commit(repo, tip, &put, &remove, &live, &message)?;
        let won = match via {
            Via::Local => move_ref(repo, CLAIMS_REF, tip, new, &message)?,
            Via::Remote(remote) => push(repo, remote, tip, new)?,
        };
        if won {
            return Ok(result);
        }
        backoff(attempt);
    }
    Err(ClaimError::Contended { attempts: ATTEMPTS })
}

fn backoff(attempt: u32) {
    // A little jitter (from the clock) so that racing processes spread out.
    let jitter = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            % 3000,
    );
    let base = 200 * u64::from(attempt.min(20));
    std::thread::sleep(Duration::from_micros(base + jitter));
}

fn write_commit(
    repo: &Repository,
    tip: Option<Oid>,
    put: &[Claim],
    remove: &[String],
    live: &[Change],
    message: &str,
) -> Result<Oid, ClaimError> {
    let parent = match tip {
        Some(oid) => Some(
            repo.find_commit(oid)
                .map_err(git_err("reading the claims"))?,
        ),
        None => None,
    };
    let base_tree = match &parent {
        Some(c) => Some(c.tree().map_err(git_err("reading the claims tree"))?),
        None => None,
    };
    let mut builder = repo
        .treebuilder(base_tree.as_ref())
        .map_err(git_err("building the claims tree"))?;
    for task in remove {
        let name = format!("{task}.toml");
        if builder.get(&name).ok().flatten().is_some() {
            builder
                .remove(&name)
                .map_err(git_err("building the claims tree"))?;
        }
    }
    for claim in put {
        let text = toml::to_string(claim).expect("a claim serializes");
        let blob = repo
            .blob(text.as_bytes())
            .map_err(git_err("writing a claim"))?;
        builder
            .insert(format!("{}.toml", claim.task), blob, FileMode::Blob.into())
            .map_err(git_err("building the claims tree"))?;
    }
    if !live.is_empty() {
        let old_dir = match builder.get(live::DIR).ok().flatten() {
            Some(e) => Some(
                repo.find_tree(e.id())
                    .map_err(git_err("reading the live state"))?,
            ),
            None => None,
        };
        let mut dir = repo
            .treebuilder(old_dir.as_ref())
            .map_err(git_err("building the live state"))?;
        for change in live {
            match change {
                Change::Put(state) => {
                    let blob = repo
                        .blob(state.to_text().as_bytes())
                        .map_err(git_err("writing a live state"))?;
                    dir.insert(format!("{}.toml", state.task), blob, FileMode::Blob.into())
                        .map_err(git_err("building the live state"))?;
                }
                Change::Remove(task) => {
                    let name = format!("{task}.toml");
                    if dir.get(&name).ok().flatten().is_some() {
                        dir.remove(&name)
                            .map_err(git_err("building the live state"))?;
                    }
                }
            }
        }
        if dir.is_empty() {
            if builder.get(live::DIR).ok().flatten().is_some() {
                builder
                    .remove(live::DIR)
                    .map_err(git_err("building the claims tree"))?;
            }
        } else {
            let id = dir.write().map_err(git_err("writing the live state"))?;
            builder
                .insert(live::DIR, id, FileMode::Tree.into())
                .map_err(git_err("building the claims tree"))?;
        }
    }
    let tree_id = builder
        .write()
        .map_err(git_err("writing the claims tree"))?;
    let tree = repo
        .find_tree(tree_id)
        .map_err(git_err("reading the claims tree"))?;
    let (author, committer) = git::signature_from_env(repo)?;
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    // Which clone made the change: a server hook lets a live claim go only
    // by the clone that holds it (or once its task has landed).
    let message = format!(
        "{message}\n\n{CLONE_TRAILER}: {}",
        git::identity::clone_id(repo)
    );
    Ok(repo
        .commit(None, &author, &committer, &message, &tree, &parents)
        .map_err(git_err("writing the claims commit"))?)
}

/// Moves `name` from `old` to `new` by compare-and-swap; false if it moved.
fn move_ref(
    repo: &Repository,
    name: &str,
    old: Option<Oid>,
    new: Oid,
    message: &str,
) -> Result<bool, ClaimError> {
    match git::compare_and_swap(repo, name, old, new, message) {
        Ok(()) => Ok(true),
        Err(e) if git::is_race(&e) => Ok(false),
        Err(source) => Err(GitError::Git {
            what: format!("moving {name}"),
            source,
        }
        .into()),
    }
}

/// The first live claim (other than `task`'s own) whose scope overlaps
/// `scope`. With `unscoped_in_parallel` (config `workers.unscoped_in_parallel`)
/// a task without a scope overlaps nothing.
pub fn find_overlap<'a>(
    set: &'a ClaimSet,
    task: &str,
    scope: &Scope,
    unscoped_in_parallel: bool,
) -> Result<Option<(&'a Claim, Overlap)>, ClaimError> {
    if unscoped_in_parallel && scope.is_unscoped() {
        return Ok(None);
    }
    for claim in set.claims.values() {
        if claim.task == task {
            continue;
        }
        let other = Scope::parse(&claim.scope).map_err(|source| ClaimError::Scope {
            task: claim.task.clone(),
            source,
        })?;
        if unscoped_in_parallel && other.is_unscoped() {
            continue;
        }
        if let Some(o) = scope::overlap(scope, &other, None) {
            return Ok(Some((claim, o)));
        }
    }
    Ok(None)
}

/// One change of the claims ref, for `claims --history`.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub commit: String,
    pub message: String,
    pub time: String,
}

/// The claims ref's history, newest first (at most `limit`, 0 for all).
pub fn history(repo: &Repository, limit: usize) -> Result<Vec<HistoryEntry>, ClaimError> {
    let mut out = Vec::new();
    let Some(mut next) = resolve(repo, CLAIMS_REF)? else {
        return Ok(out);
    };
    loop {
        let commit = repo
            .find_commit(next)
            .map_err(git_err("reading the claims history"))?;
        let when = commit.committer().when();
        let time = DateTime::from_timestamp(when.seconds(), 0)
            .map(crate::time::format)
            .unwrap_or_default();
        out.push(HistoryEntry {
            commit: next.to_string(),
            message: commit
                .summary()
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_string(),
            time,
        });
        if limit != 0 && out.len() >= limit {
            break;
        }
        match commit.parent_id(0) {
            Ok(p) => next = p,
            Err(_) => break,
        }
    }
    Ok(out)
}
