//! Talking to the shared remote beyond the claims: fetching its main branch
//! together with the work other clones shared under `refs/batch/work/`,
//! sharing a task's branch there, and the refspecs that make a plain
//! `git fetch` bring all of it.

use super::program::{self, Git};
use super::{GitError, git_err, refs};
use git2::{Oid, Repository};

/// Makes a plain `git fetch` (and `git pull`) of `remote` bring what
/// git-batch shares there: the claims with the live state, and the work
/// other clones finished. Added to `remote.<remote>.fetch` once, so nobody
/// configures a refspec by hand; a remote git does not know is left alone.
/// True when they were added now (this clone has not fetched them yet).
pub fn ensure_refspecs(repo: &Repository, remote: &str) -> Result<bool, GitError> {
    program::check_operand("remote", remote)?;
    let key = format!("remote.{remote}.fetch");
    let config = repo.config().map_err(git_err("reading the config"))?;
    if config.get_entry(&format!("remote.{remote}.url")).is_err() {
        return Ok(false);
    }
    let mut have = Vec::new();
    if let Ok(mut entries) = config.multivar(&key, None) {
        while let Some(Ok(e)) = entries.next() {
            have.extend(e.value().map(String::from));
        }
    }
    let dir = repo.workdir().unwrap_or_else(|| repo.path());
    let mut added = false;
    for spec in [refs::claims_refspec(remote), refs::WORK_REFSPEC.to_string()] {
        if !have.contains(&spec) {
            Git::new(dir).args(["config", "--add", &key, &spec]).ok()?;
            added = true;
        }
    }
    Ok(added)
}

/// Fetches the work other clones shared on `remote` (`refs/batch/work/*`).
pub fn fetch_work(repo: &Repository, remote: &str) -> Result<(), GitError> {
    program::check_operand("remote", remote)?;
    fetch(repo, remote, &[refs::WORK_REFSPEC])
}

/// `git fetch --quiet --no-tags -- REMOTE SPECS...` (the remote checked).
fn fetch(repo: &Repository, remote: &str, specs: &[&str]) -> Result<(), GitError> {
    let dir = repo.workdir().unwrap_or_else(|| repo.path());
    Git::new(dir)
        .args(["fetch", "--quiet", "--no-tags", "--", remote])
        .args(specs)
        .ok()
        .map(drop)
}

/// Shares a task's worker branch on `remote` as `refs/batch/work/<id>`,
/// where every clone's landing, `receipts` and `status` find it.
pub fn share_work(repo: &Repository, remote: &str, id: &str) -> Result<(), GitError> {
    program::check_operand("remote", remote)?;
    let dir = repo.workdir().unwrap_or_else(|| repo.path());
    let spec = format!("+{}:{}", refs::worker_branch_ref(id), refs::work(id));
    Git::new(dir)
        .args(["push", "--quiet", "--no-verify", "--", remote, &spec])
        .ok()
        .map(drop)
}

/// Fetches `branch` of `remote` into its remote-tracking ref, and every
/// shared work ref, in one fetch. Returns the remote branch's tip, or
/// `None` when the remote has no such branch (asked, not read from git's
/// message).
pub fn fetch_main(repo: &Repository, remote: &str, branch: &str) -> Result<Option<Oid>, GitError> {
    program::check_operand("remote", remote)?;
    program::check_operand("branch", branch)?;
    let dir = repo.workdir().unwrap_or_else(|| repo.path());
    let tracking = refs::tracking(remote, branch);
    let head = refs::branch(branch);
    let spec = format!("+{head}:{tracking}");
    if let Err(e) = fetch(repo, remote, &[&spec, refs::WORK_REFSPEC]) {
        return match program::remote_ref(dir, remote, &head)? {
            None => Ok(None),
            Some(_) => Err(e),
        };
    }
    repo.refname_to_id(&tracking)
        .map(Some)
        .map_err(git_err(format!("reading {tracking}")))
}
