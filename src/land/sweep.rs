//! The other side of a landing made on another clone: this clone's own
//! worktrees and `batch/<id>` branches of tasks that landed there exactly
//! as they are here are removed. A worktree with changes, or a branch that
//! moved on, is kept.

use super::*;

/// How many commits of the main branch are searched for landings.
const WALK_LIMIT: usize = 10_000;

/// Removes the worktree and branch of every task that is closed at `base`
/// and whose branch here is at the tip a landing in `base`'s first-parent
/// history took; returns their ids.
pub(super) fn sweep(store: &Store, base: Oid) -> Result<Vec<String>, LandError> {
    let repo = &store.repo;
    let local = super::candidates::worker_tips(repo, &[&git::refs::worker_branch_glob()])?;
    let landed = landed_from(repo, base, &local);
    let mut removed = Vec::new();
    if landed.is_empty() {
        return Ok(removed);
    }
    let _turn = program::worktree_turn(repo.commondir())?;
    for (id, from) in landed {
        let closed = crate::store::at_commit::task_at(repo, Some(base), &id)
            .is_some_and(|t| t.status == Status::Closed);
        if local.get(&id) != Some(&from) || !closed {
            continue;
        }
        if let Some(path) = worktree::find_worktree(repo, &id)? {
            // Without --force: git keeps a worktree with changes or
            // untracked files, and so do we (its branch too).
            let path = path.to_string_lossy().into_owned();
            if !program::run(&store.root, &["worktree", "remove", &path])?
                .status
                .success()
            {
                continue;
            }
        }
        program::ok(
            &store.root,
            &["branch", "-D", "--quiet", &work::branch_of(&id)],
        )?;
        if let Ok(mut r) = repo.find_reference(&git::refs::work(&id)) {
            let _ = r.delete();
        }
        removed.push(id);
    }
    removed.sort();
    Ok(removed)
}

/// The tip each of the `local` tasks last landed from, read from the
/// landings on `base`'s first-parent history. A branch cannot have landed
/// before it forked from main, so the search stops at the oldest fork
/// point of the branches not found yet (or after `WALK_LIMIT` commits).
fn landed_from(
    repo: &Repository,
    base: Oid,
    local: &BTreeMap<String, Oid>,
) -> HashMap<String, Oid> {
    let mut found = HashMap::new();
    let mut forks: HashMap<Oid, Vec<&str>> = HashMap::new();
    for (id, tip) in local {
        if let Ok(fork) = repo.merge_base(base, *tip) {
            forks.entry(fork).or_default().push(id);
        }
    }
    let mut searching: HashSet<&str> = local.keys().map(String::as_str).collect();
    let mut next = Some(base);
    for _ in 0..WALK_LIMIT {
        let Some(oid) = next else { break };
        if searching.is_empty() {
            break;
        }
        let Ok(commit) = repo.find_commit(oid) else {
            break;
        };
        let message = commit.message().unwrap_or_default();
        if let Some(landing) = super::message::LandingMessage::parse(message) {
            for (id, tip) in landing.from {
                if searching.remove(id.as_str()) {
                    // The newest landing of a task is the one that counts.
                    found.insert(id, tip);
                }
            }
        }
        for id in forks.get(&oid).into_iter().flatten() {
            searching.remove(id);
        }
        next = commit.parent_id(0).ok();
    }
    found
}
