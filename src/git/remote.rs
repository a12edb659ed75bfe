//! Talking to the shared remote beyond the claims: fetching its main branch
//! together with the work other clones shared under `refs/batch/work/`.

use super::program::{self, Git};
use super::{GitError, git_err, refs};
use git2::{Oid, Repository};

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
    let fetched = Git::new(dir)
        .args([
            "fetch",
            "--quiet",
            "--no-tags",
            "--",
            remote,
            &spec,
            refs::WORK_REFSPEC,
        ])
        .ok();
    if let Err(e) = fetched {
        return match program::remote_ref(dir, remote, &head)? {
            None => Ok(None),
            Some(_) => Err(e),
        };
    }
    repo.refname_to_id(&tracking)
        .map(Some)
        .map_err(git_err(format!("reading {tracking}")))
}
