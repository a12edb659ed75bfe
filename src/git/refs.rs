//! The names of the refs git-batch reads and writes, built and read here
//! only: the claims ref and its mirrors, worker branches (`batch/<id>`, or
//! the config's `branch_prefix`), the work other clones shared
//! (`refs/batch/work/<id>`), and the main branch with its remote-tracking
//! ref.
//!
//! The worker branch prefix is one per process: the store sets it from the
//! config when it opens (every command, hook and landing opens exactly one
//! repository's store), so that every name below agrees on it.

use crate::task::id::validate_id;
use std::sync::RwLock;

/// The ref whose commit holds every live claim.
pub const CLAIMS: &str = "refs/batch/claims";
/// Every shared work ref.
pub const WORK_GLOB: &str = "refs/batch/work/*";
/// Every local branch.
pub const BRANCH_GLOB: &str = "refs/heads/*";
/// Everything git-batch shares under its own namespace.
pub const BATCH_NAMESPACE: &str = "refs/batch/";
/// The refspec that fetches every shared work ref as it is on the remote.
pub const WORK_REFSPEC: &str = "+refs/batch/work/*:refs/batch/work/*";
/// The default worker branch prefix.
pub const DEFAULT_WORKER_PREFIX: &str = "batch/";
static WORKER_PREFIX: RwLock<Option<String>> = RwLock::new(None);

/// Sets the worker branch prefix of this process (the config's
/// `branch_prefix`, checked when the config was read).
pub fn set_worker_prefix(prefix: &str) {
    let mut p = WORKER_PREFIX.write().unwrap_or_else(|e| e.into_inner());
    *p = (prefix != DEFAULT_WORKER_PREFIX).then(|| prefix.to_string());
}

/// The worker branch prefix in force: `batch/` unless the config says.
pub fn worker_prefix() -> String {
    WORKER_PREFIX
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(|| DEFAULT_WORKER_PREFIX.to_string())
}

/// Every local worker branch (`refs/heads/batch/*`).
pub fn worker_branch_glob() -> String {
    format!("{HEADS}{}*", worker_prefix())
}
const WORK_PREFIX: &str = "refs/batch/work/";
const HEADS: &str = "refs/heads/";

/// `refs/heads/<name>`.
pub fn branch(name: &str) -> String {
    format!("{HEADS}{name}")
}

/// The short branch name of a full `refs/heads/` ref.
pub fn branch_name(refname: &str) -> Option<&str> {
    refname.strip_prefix(HEADS)
}

/// Where a fetch keeps `remote`'s `branch`: `refs/remotes/<remote>/<branch>`.
pub fn tracking(remote: &str, branch: &str) -> String {
    format!("refs/remotes/{remote}/{branch}")
}

/// Marks a ref component made from an id that git cannot take as it is.
const REF_SAFE_MARK: char = '+';

/// An id as one component of a ref name. Ids may end with `.` or `.lock`
/// (beads allows both), which git refuses at the end of a component: those
/// get a `+` appended, a character no id has, so the name never collides
/// with another task's and reads back to the id.
fn ref_component(id: &str) -> String {
    if id.ends_with('.') || id.ends_with(".lock") {
        format!("{id}{REF_SAFE_MARK}")
    } else {
        id.to_string()
    }
}

/// The id a ref component names (the reverse of [`ref_component`]).
fn id_of_component(component: &str) -> Option<&str> {
    let id = match component.strip_suffix(REF_SAFE_MARK) {
        Some(id) if id.ends_with('.') || id.ends_with(".lock") => id,
        Some(_) => return None,
        None => component,
    };
    validate_id(id).ok().map(|_| id)
}

/// The branch a task's worker works on (short name: `batch/<id>`, see
/// [`ref_component`] for the ids git cannot take as they are).
pub fn worker_branch(id: &str) -> String {
    format!("{}{}", worker_prefix(), ref_component(id))
}

/// The full ref of a task's worker branch.
pub fn worker_branch_ref(id: &str) -> String {
    branch(&worker_branch(id))
}

/// Where a clone shares a task's finished branch on the remote.
pub fn work(id: &str) -> String {
    format!("{WORK_PREFIX}{}", ref_component(id))
}

/// Where a clone keeps the last claims tip it fetched from `remote`.
pub fn claims_tracking(remote: &str) -> String {
    format!("refs/batch/remotes/{remote}/claims")
}

/// Every remote's claims as last fetched.
pub const CLAIMS_TRACKING_GLOB: &str = "refs/batch/remotes/*/claims";

/// The refspec that makes a plain `git fetch` of `remote` bring its claims
/// (and with them the live state).
pub fn claims_refspec(remote: &str) -> String {
    format!("+{CLAIMS}:{}", claims_tracking(remote))
}

/// A ref of this process's own, for one fetch of the claims.
pub fn claims_scratch() -> String {
    format!("refs/batch/tmp/claims-{}", std::process::id())
}

/// The task a short branch name belongs to, if it is a worker branch.
pub fn task_of_branch(branch: &str) -> Option<&str> {
    id_of_component(branch.strip_prefix(worker_prefix().as_str())?)
}

/// The task a full ref belongs to: a worker branch or a shared work ref.
pub fn task_of_ref(refname: &str) -> Option<&str> {
    branch_name(refname)
        .and_then(task_of_branch)
        .or_else(|| id_of_component(refname.strip_prefix(WORK_PREFIX)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(task_of_ref(&worker_branch_ref("bt-1")), Some("bt-1"));
        assert_eq!(task_of_ref(&work("bt-1")), Some("bt-1"));
        assert_eq!(task_of_ref("refs/heads/main"), None);
        assert_eq!(task_of_ref("refs/batch/work/../x"), None);
        assert_eq!(task_of_branch(&worker_branch("bt-2")), Some("bt-2"));
    }

    #[test]
    fn ids_git_cannot_take_get_a_mark_and_read_back() {
        for id in ["bd-x.lock", "bd-y.", "bd-z.lock."] {
            let name = worker_branch_ref(id);
            assert!(git2::Reference::is_valid_name(&name), "{name}");
            assert!(git2::Reference::is_valid_name(&work(id)), "{id}");
            assert_eq!(task_of_ref(&name), Some(id));
            assert_eq!(task_of_ref(&work(id)), Some(id));
        }
        assert_eq!(worker_branch("bd-a.b"), "batch/bd-a.b");
        assert_eq!(task_of_branch("batch/bd-a+"), None);
    }
}
