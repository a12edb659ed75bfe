//! After a landing is built and tested: the one push that moves the branch
//! (or the local compare-and-swap with `--no-push`), then, only once that is
//! confirmed, the local branch and checkout brought up to date and the
//! landed tasks' claims, branches and worktrees cleaned up.

use super::*;

/// Moves the branch: one atomic leased push (remote), or a compare-and-swap
/// of the local branch (`--no-push`). False when the remote moved.
pub(super) fn publish(
    store: &Store,
    opts: &Options,
    base: Oid,
    tip: Oid,
    landed: &[String],
) -> Result<bool, LandError> {
    let refname = git::refs::branch(&opts.branch);
    match (&opts.remote, opts.push) {
        (Some(remote), true) => {
            let lease = format!("--force-with-lease={refname}:{base}");
            let spec = format!("{tip}:{refname}");
            // The shared work refs of what lands go in the same push.
            let deletions: Vec<String> = landed
                .iter()
                .map(|id| git::refs::work(id))
                .filter(|w| store.repo.refname_to_id(w).is_ok())
                .map(|w| format!(":{w}"))
                .collect();
            program::check_operand("remote", remote)?;
            let git = Git::new(&store.root)
                .args(["push", "--quiet", "--atomic", "--porcelain", &lease, "--"])
                .args([remote.as_str(), &spec])
                .args(&deletions)
                .landing();
            match program::push(git)? {
                Pushed::Done => Ok(true),
                // The remote moved since the landing fetched it: start over.
                // Refused while it is still at the base (the remote's own
                // hook said no): that is an error, not a race.
                Pushed::Rejected { error, .. } => {
                    if program::remote_ref(&store.root, remote, &refname)? != Some(base) {
                        Ok(false)
                    } else {
                        Err(error.into())
                    }
                }
            }
        }
        _ => {
            // Onto the local branch. When it is checked out in the main
            // working tree, move it with the checkout (a fast-forward that
            // refuses to overwrite local changes), never under it.
            let main_wt = main_worktree(store);
            let checked_out = Repository::open(&main_wt)
                .ok()
                .and_then(|r| git::current_branch(&r))
                .as_deref()
                == Some(opts.branch.as_str());
            if checked_out {
                let head = program::ok(&main_wt, &["rev-parse", "HEAD"])?;
                if head.trim() != base.to_string() {
                    return Ok(false);
                }
                program::ok(
                    &main_wt,
                    &["merge", "--ff-only", "--quiet", &tip.to_string()],
                )?;
                return Ok(true);
            }
            let moved = store
                .repo
                .reference_matching(&refname, tip, true, base, "git batch land");
            match moved {
                Ok(_) => Ok(true),
                Err(e) if git::is_race(&e) => Ok(false),
                Err(source) => Err(GitError::Git {
                    what: format!("moving {refname}"),
                    source,
                }
                .into()),
            }
        }
    }
}

/// After a confirmed landing: claims released, worker branches and
/// worktrees removed.
pub(super) fn cleanup(
    store: &Store,
    opts: &Options,
    report: &Report,
    tip: Oid,
) -> Result<(), LandError> {
    // The landed tasks are closed at the new tip: the one release of
    // landed claims (also what a landing killed after its push left).
    release_landed(store, opts, tip, &report.left_out)?;
    // All of them in one pass, recorded first (`work::remove`): one `git
    // worktree remove` and `git branch -D` per task read every worktree
    // each, quadratic in a landing of hundreds.
    let from = store
        .repo
        .find_commit(tip)
        .ok()
        .and_then(|c| message::LandingMessage::parse(c.message().unwrap_or_default()))
        .map(|m| m.from.into_iter().collect::<HashMap<_, _>>())
        .unwrap_or_default();
    let landed: Vec<work::remove::Landed> = report
        .landed
        .iter()
        .map(|id| work::remove::Landed {
            id: id.clone(),
            tip: from.get(id).copied(),
        })
        .collect();
    work::remove::remove_landed(&store.repo, &store.root, &landed)?;
    Ok(())
}

/// Fast-forwards the user's checkout of the branch when it is checked out,
/// behind `tip` (at the base, or further back) and clean; otherwise says
/// how to update it.
pub(super) fn update_local_branch(
    store: &Store,
    opts: &Options,
    base: Oid,
    tip: Oid,
) -> Result<String, LandError> {
    let refname = git::refs::branch(&opts.branch);
    let main_wt = main_worktree(store);
    let Ok(repo) = Repository::open(&main_wt) else {
        return Ok("not updated (no main working tree)".into());
    };
    let local = repo.refname_to_id(&refname).ok();
    let checked_out = git::current_branch(&repo).as_deref() == Some(opts.branch.as_str());
    if !opts.push || opts.remote.is_none() {
        // The landing moved the local branch itself (with its checkout).
        return Ok(format!("{} is at {}", opts.branch, short(tip)));
    }
    if local == Some(tip) {
        return Ok(String::new());
    }
    // Behind the base too when a landing was killed after its push (or
    // another clone landed): still a fast-forward, and nobody else's to do.
    let behind =
        local.is_none_or(|l| l == base || repo.graph_descendant_of(tip, l).unwrap_or(false));
    if !behind {
        return Ok(format!(
            "{} has commits of its own; run `git pull --rebase` to update it",
            opts.branch
        ));
    }
    if !checked_out {
        repo.reference(&refname, tip, true, "git batch land: fast-forward")
            .map_err(git_err("updating the local branch"))?;
        return Ok(format!("{} fast-forwarded to {}", opts.branch, short(tip)));
    }
    Ok(sync_checkout(&main_wt, tip))
}

/// Fast-forwards a checked-out branch to `tip` if the checkout is clean.
fn sync_checkout(dir: &Path, tip: Oid) -> String {
    let clean = program::ok(dir, &["status", "--porcelain", "--untracked-files=no"])
        .map(|s| s.trim().is_empty())
        .unwrap_or(false);
    if !clean {
        return "checkout has changes, left alone; run `git merge --ff-only` (or `git pull`) when ready".into();
    }
    match program::ok(dir, &["merge", "--ff-only", "--quiet", &tip.to_string()]) {
        Ok(_) => format!("fast-forwarded to {}", short(tip)),
        Err(_) => "could not fast-forward; run `git pull --rebase`".into(),
    }
}

/// The main working tree, where the user's checkout of the branch lives.
fn main_worktree(store: &Store) -> PathBuf {
    worktree::main_worktree_top(&store.repo).unwrap_or_else(|| store.root.clone())
}
