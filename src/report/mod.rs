//! Reports: what people and agents read about where work stands, computed
//! from the task files, plans, claims, run records and landing commits:
//! `status` (a plan's or every plan's dashboard), `review` (what each task
//! changed and said, for a reviewer) and `prime` (how an agent works here).

pub mod changes;
pub mod history;
pub mod html;
pub mod metrics;
pub mod prime;
pub mod review;
pub mod stats;
pub mod status;

use crate::store::Store;

/// The remote's main branch (as last fetched) when it is ahead of the local
/// one: a landing made from another clone that this one has not pulled.
pub fn remote_main_ahead(store: &Store) -> Option<git2::Oid> {
    let repo = &store.repo;
    let branch = &store.config.main_branch;
    // The configured remote, else the one the main branch tracks.
    let upstream = repo
        .branch_upstream_remote(&crate::git::refs::branch(branch))
        .ok()
        .and_then(|b| b.as_str().ok().map(String::from));
    let remote = store.config.remote.clone().or(upstream)?;
    let local = store.main_tip().ok()?;
    let tracking = repo
        .refname_to_id(&crate::git::refs::tracking(&remote, branch))
        .ok()?;
    (tracking != local && repo.graph_descendant_of(tracking, local).unwrap_or(false))
        .then_some(tracking)
}
