//! Taking, renewing, stealing and releasing claims on tasks: the rules
//! (only open, unblocked tasks; never two live claims with overlapping
//! scopes) on top of the compare-and-swap in [`crate::claims`].

use super::WorkError;
use crate::claims::{self, Claim, ClaimError, ClaimSet, Decision, Via};
use crate::scope::Scope;
use crate::store::{Cache, Flags, Settings, SettingsError, Store, StoreError};
use crate::task::{Kind, Status};
use git2::Oid;
use std::collections::HashSet;
use std::time::Duration;

/// Who claims, for how long, through what.
#[derive(Debug, Clone)]
pub struct Claimant<'a> {
    pub worker: String,
    pub ttl: Duration,
    pub via: Via<'a>,
}

/// What to claim.
#[derive(Debug, Clone)]
pub enum Target {
    Id(String),
    /// This task; when its dependencies are finished on their branches but
    /// not landed, started from the branch of one of them (see
    /// [`super::stack`]).
    Stacked(String),
    /// The best ready task that overlaps no live claim.
    Next {
        parent: Option<String>,
        /// Only tasks with every one of these labels (`--label`).
        labels: Vec<String>,
    },
}

/// The outcome of a claim.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Claimed {
    #[serde(flatten)]
    pub claim: Claim,
    /// The worker already held it: only the expiry moved.
    pub renewed: bool,
    /// The expired claim this one replaced (`--steal`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stolen_from: Option<Claim>,
    /// Ready tasks `--next` passed over because their scope does not parse
    /// (one broken task file must not stop every worker).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
}

/// A task `--next` could not consider, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Skipped {
    pub id: String,
    pub why: String,
    /// What to do about it, for people.
    #[serde(skip)]
    pub fix: &'static str,
}

/// The claimant's TTL: `--ttl`, else the config's `workers.claim_ttl`.
pub fn ttl(store: &Store, flag: Option<&str>) -> Result<Duration, SettingsError> {
    let flags = Flags {
        ttl: flag.map(String::from),
        ..Flags::default()
    };
    Ok(Settings::resolve(&flags, None, &store.config)?
        .claim_ttl
        .get())
}

/// A person acting on tasks (an answer, a retry, a reopen) rather than a
/// worker: named as in commits, through the configured remote.
pub fn person(store: &Store) -> Claimant<'_> {
    Claimant {
        worker: store.actor(),
        ttl: Duration::ZERO,
        via: via(store, None),
    }
}

/// Where claims go: `--remote`, else the config's `remote`, else local.
pub fn via<'a>(store: &'a Store, flag: Option<&'a str>) -> Via<'a> {
    match flag.or(store.config.remote.as_deref()) {
        Some(remote) => Via::Remote(remote),
        None => Via::Local,
    }
}

/// Claims `target`; with `committed_at`, only a task whose file is
/// committed there (the commit a worktree starts from): a named one that is
/// not is refused before anything is claimed, and `--next` passes over it.
pub fn claim(
    store: &Store,
    cache: &Cache,
    target: &Target,
    who: &Claimant<'_>,
    steal: bool,
    committed_at: Option<Oid>,
) -> Result<Claimed, WorkError> {
    let committed = |id: &str| {
        committed_at
            .is_none_or(|at| crate::store::at_commit::task_at(&store.repo, Some(at), id).is_some())
    };
    match target {
        Target::Id(id) | Target::Stacked(id) if store.exists(id) && !committed(id) => {
            Err(WorkError::NotCommitted {
                id: id.clone(),
                branch: store.config.main_branch.clone(),
            })
        }
        Target::Id(id) => claim_id(store, cache, id, who, steal, false),
        Target::Stacked(id) => claim_id(store, cache, id, who, steal, true),
        Target::Next { parent, labels } => {
            claim_next(store, cache, parent.as_deref(), labels, who, &committed)
        }
    }
}

fn new_claim(store: &Store, task: &str, scope: &[String], who: &Claimant<'_>) -> Claim {
    let now = crate::time::now();
    let ttl = chrono::Duration::from_std(who.ttl).unwrap_or(chrono::Duration::MAX);
    Claim {
        task: task.to_string(),
        worker: who.worker.clone(),
        since: crate::time::format(now),
        expires: crate::time::format(now.checked_add_signed(ttl).unwrap_or(now)),
        scope: scope.to_vec(),
        clone: Some(crate::git::identity::clone_id(&store.repo)),
        stack: None,
    }
}

fn parse_scope(id: &str, globs: &[String]) -> Result<Scope, WorkError> {
    Scope::parse(globs).map_err(|source| WorkError::Scope {
        id: id.to_string(),
        source,
    })
}

fn claim_id(
    store: &Store,
    cache: &Cache,
    id: &str,
    who: &Claimant<'_>,
    steal: bool,
    stack: bool,
) -> Result<Claimed, WorkError> {
    let task = store.read_task(id)?;
    // A kept branch (after a failure) goes on from where it started; only
    // a new one is stacked now.
    let kept_branch = store
        .repo
        .find_branch(&super::branch_of(id), git2::BranchType::Local)
        .is_ok();
    let blockers = if stack {
        cache.blockers_of(id).map_err(StoreError::from)?
    } else {
        Vec::new()
    };
    if task.kind == Kind::Epic {
        return Err(WorkError::Epic { id: id.into() });
    }
    let scope = parse_scope(id, &task.scope)?;
    let fresh = new_claim(store, id, &task.scope, who);
    let clone = crate::git::identity::clone_id(&store.repo);
    // `None`: the task is not open (decided inside, after we know this is
    // not a renewal of our own claim, which any status allows).
    let mut landed_elsewhere = false;
    let result = claims::transact_on(&store.repo, who.via, main_through(store, who), |set| {
        let existing = set.claims.get(id);
        match existing {
            Some(c) if c.held_by(&who.worker, &clone) && !steal => {
                let mut renewed = fresh.clone();
                renewed.since = c.since.clone();
                renewed.stack = c.stack.clone();
                return Ok(Decision::Write {
                    message: message("renew", id, &who.worker),
                    put: vec![renewed.clone()],
                    remove: vec![],
                    live: vec![],
                    result: Some(Claimed {
                        claim: renewed,
                        renewed: true,
                        stolen_from: None,
                        skipped: Vec::new(),
                    }),
                });
            }
            Some(c) if steal && !c.is_expired(crate::time::now()) => {
                return Err(ClaimError::Live(Box::new(c.clone())));
            }
            Some(c) if !steal => return Err(ClaimError::Held(Box::new(c.clone()))),
            _ => {}
        }
        if task.status != Status::Open {
            return Ok(Decision::Keep(None));
        }
        if closed_on(store, set, id) {
            landed_elsewhere = true;
            return Ok(Decision::Keep(None));
        }
        if let Some(l) = set.live.get(id).filter(|l| !l.state.may_start()) {
            return Err(ClaimError::Waiting {
                task: id.to_string(),
                state: l.state,
                reason: l.reason.clone(),
            });
        }
        if let Some((other, overlap)) = claims::find_overlap(set, id, &scope)? {
            return Err(ClaimError::Overlap {
                task: id.to_string(),
                other: Box::new(other.clone()),
                detail: overlap.describe(),
            });
        }
        let (verb, stolen_from) = match existing {
            Some(c) => ("steal", Some(c.clone())),
            None => ("claim", None),
        };
        let mut fresh = fresh.clone();
        fresh.stack = match (existing, kept_branch) {
            (Some(c), _) => c.stack.clone(),
            (None, true) => set.live.get(id).and_then(|l| l.stack.clone()),
            (None, false) if !blockers.is_empty() => {
                super::stack::stack_base(&store.repo, set, &blockers)
            }
            (None, false) => None,
        };
        Ok(Decision::Write {
            message: message(verb, id, &who.worker),
            put: vec![fresh.clone()],
            remove: vec![],
            live: vec![],
            result: Some(Claimed {
                claim: fresh,
                renewed: false,
                stolen_from,
                skipped: Vec::new(),
            }),
        })
    })?;
    let Some(claimed) = result else {
        return Err(WorkError::NotOpen {
            id: id.to_string(),
            status: if landed_elsewhere {
                Status::Closed
            } else {
                task.status
            },
        });
    };
    if !claimed.renewed && claimed.stolen_from.is_none() {
        // Checked after the claim, so that a claim that lost anyway says who
        // holds the task rather than why it would not be ready. A stacked
        // claim was taken because its blockers are finished branches.
        let blockers = cache.blockers_of(id).map_err(StoreError::from)?;
        let stacked = claimed.claim.stack.is_some()
            && claims::read(&store.repo).is_ok_and(|set| {
                blockers.is_empty()
                    || super::stack::stack_base(&store.repo, &set, &blockers).is_some()
            });
        if !blockers.is_empty() && !stacked {
            let _ = release(store, id, who, true);
            return Err(WorkError::Blocked {
                id: id.to_string(),
                blockers,
            });
        }
    }
    Ok(claimed)
}

/// Through a remote, the main branch whose tip a claim is decided with
/// (fetched with the claims): a task another clone landed is not claimed
/// again by a clone that has not pulled yet.
fn main_through<'a>(store: &'a Store, who: &Claimant<'_>) -> Option<&'a str> {
    matches!(who.via, Via::Remote(_)).then_some(store.config.main_branch.as_str())
}

/// Whether `id` is closed at the main tip the claims were read with.
fn closed_on(store: &Store, set: &ClaimSet, id: &str) -> bool {
    set.main.is_some_and(|tip| {
        crate::store::at_commit::task_at(&store.repo, Some(tip), id)
            .is_some_and(|t| t.status == Status::Closed)
    })
}

/// The id and scope of a ready task, read from the cache's JSON.
#[derive(serde::Deserialize)]
struct Candidate {
    id: String,
    #[serde(default)]
    scope: Vec<String>,
}

fn claim_next(
    store: &Store,
    cache: &Cache,
    parent: Option<&str>,
    labels: &[String],
    who: &Claimant<'_>,
    committed: &dyn Fn(&str) -> bool,
) -> Result<Claimed, WorkError> {
    let mut candidates = Vec::new();
    cache
        .ready_json(parent, labels, 0, &HashSet::new(), |json| {
            let c: Candidate = serde_json::from_str(json).map_err(std::io::Error::other)?;
            candidates.push(c);
            Ok(())
        })
        .map_err(StoreError::from)?
        .map_err(|source| StoreError::Io {
            what: "reading the cache",
            path: store.state_dir(),
            source,
        })?;
    let mut usable = Vec::with_capacity(candidates.len());
    let mut skipped = Vec::new();
    let mut uncommitted = None;
    for c in candidates {
        if !committed(&c.id) {
            uncommitted.get_or_insert_with(|| c.id.clone());
            skipped.push(Skipped {
                why: format!(
                    "not committed on {}, where its worktree would start",
                    store.config.main_branch
                ),
                fix: "commit it to start it",
                id: c.id,
            });
            continue;
        }
        match parse_scope(&c.id, &c.scope) {
            Ok(scope) => usable.push((c, scope)),
            Err(e) => skipped.push(Skipped {
                why: with_causes(&e),
                fix: "fix its task file; other workers are not held up",
                id: c.id,
            }),
        }
    }
    // Only drafts: say why none of them can start, not "nothing free".
    if let (true, Some(id)) = (usable.is_empty(), uncommitted) {
        return Err(WorkError::NotCommitted {
            id,
            branch: store.config.main_branch.clone(),
        });
    }
    Ok(claims::transact_on(
        &store.repo,
        who.via,
        main_through(store, who),
        |set: &ClaimSet| {
            let mut held = 0;
            for (c, scope) in &usable {
                if closed_on(store, set, &c.id) {
                    // Landed by another clone since this one last pulled.
                    continue;
                }
                if set.live.get(&c.id).is_some_and(|l| !l.state.may_start()) {
                    // Waits for a person (or its landing): not anybody's turn.
                    continue;
                }
                if set.claims.contains_key(&c.id)
                    || claims::find_overlap(set, &c.id, scope)?.is_some()
                {
                    held += 1;
                    continue;
                }
                let claim = new_claim(store, &c.id, &c.scope, who);
                return Ok(Decision::Write {
                    message: message("claim", &c.id, &who.worker),
                    put: vec![claim.clone()],
                    remove: vec![],
                    live: vec![],
                    result: Claimed {
                        claim,
                        renewed: false,
                        stolen_from: None,
                        skipped: skipped.clone(),
                    },
                });
            }
            Err(ClaimError::NothingFree {
                considered: usable.len() + skipped.len(),
                held,
            })
        },
    )?)
}

/// Removes `id`'s claim. Someone else's live claim needs `force`.
pub fn release(
    store: &Store,
    id: &str,
    who: &Claimant<'_>,
    force: bool,
) -> Result<Claim, WorkError> {
    crate::task::id::validate_id(id).map_err(StoreError::from)?;
    let clone = crate::git::identity::clone_id(&store.repo);
    Ok(claims::transact(&store.repo, who.via, |set| {
        let Some(c) = set.claims.get(id) else {
            return Err(ClaimError::NotClaimed { task: id.into() });
        };
        if !c.held_by(&who.worker, &clone) && !force && !c.is_expired(crate::time::now()) {
            return Err(ClaimError::NotYours {
                claim: Box::new(c.clone()),
                you: who.worker.clone(),
            });
        }
        Ok(Decision::Write {
            message: message("release", id, &who.worker),
            put: vec![],
            remove: vec![id.to_string()],
            live: vec![],
            result: c.clone(),
        })
    })?)
}

/// The message of a claims commit: `<verb> <task> by <worker> at <time>`.
pub(super) fn message(verb: &str, task: &str, worker: &str) -> String {
    format!(
        "{verb} {task} by {worker} at {}",
        crate::time::format(crate::time::now())
    )
}

/// An error with its causes, on one line.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}
