//! The claims ref through a shared remote: fetched into a scratch ref and
//! mirrored locally (the remote's claims are the truth), and moved by a
//! leased atomic push, whose rejection is told from a race by where the
//! ref stands afterwards.

use super::{CLAIMS_REF, ClaimError, resolve};
use crate::git::program::{self, Git};
use crate::git::{self, GitError};
use git2::{ErrorCode, Oid, Repository};
use std::path::Path;
use std::time::Duration;

/// Where a clone keeps the last claims tip it fetched from `remote`.
pub fn tracking_ref(remote: &str) -> String {
    git::refs::claims_tracking(remote)
}

/// Fetches the remote's claims ref (`None` when the remote has none yet),
/// and in the same fetch its branch `main` when named (its tip, `None` when
/// the remote lacks it).
pub(super) fn fetch(
    repo: &Repository,
    remote: &str,
    main: Option<&str>,
) -> Result<(Option<Oid>, Option<Oid>), ClaimError> {
    program::check_operand("remote", remote)?;
    if let Some(b) = main {
        program::check_operand("branch", b)?;
    }
    let dir = git_dir_of(repo);
    // Workers of one clone take turns to fetch: concurrent fetches into one
    // repository trip over each other's ref updates. (Clones still race
    // freely: the lease on the push decides between them.)
    let _turn = git::lock_file(&repo.commondir().join("batch").join("fetch.lock"))?;
    let scratch = git::refs::claims_scratch();
    let spec = format!("+{CLAIMS_REF}:{scratch}");
    let tracking = main.map(|b| git::refs::tracking(remote, b));
    let main_spec = main.map(|b| {
        format!(
            "+{}:{}",
            git::refs::branch(b),
            git::refs::tracking(remote, b)
        )
    });
    let fetch = || {
        Git::new(dir)
            .args([
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "--",
            ])
            .args([remote, &spec])
            .args(main_spec.as_deref())
            .ok()
    };
    let mut fetched = fetch();
    let mut tries = 1;
    let tip = loop {
        match fetched {
            Ok(_) => {
                let tip = resolve(repo, &scratch)?;
                if let Ok(mut r) = repo.find_reference(&scratch) {
                    let _ = r.delete();
                }
                break tip;
            }
            // Told apart by asking, not by reading the message: a remote
            // nobody has claimed anything through yet has no claims ref.
            // One that has it now was given it by another clone since.
            Err(e) => match program::remote_ref(dir, remote, CLAIMS_REF)? {
                None => break None,
                Some(_) if tries < 3 => {
                    tries += 1;
                    fetched = fetch();
                }
                Some(_) => return Err(e.into()),
            },
        }
    };
    // With a remote, the remote's claims are the truth: the local ref
    // mirrors them, so `ready` and `claims` here see what others hold.
    mirror(repo, remote, tip)?;
    let main_tip = match &tracking {
        Some(t) => resolve(repo, t)?,
        None => None,
    };
    Ok((tip, main_tip))
}

/// Points the local claims ref (and the remote-tracking one) at `tip`.
/// Only a view of the remote: when another process of this clone is
/// updating it at the same moment, its newer view wins and we move on.
fn mirror(repo: &Repository, remote: &str, tip: Option<Oid>) -> Result<(), ClaimError> {
    for name in [CLAIMS_REF.to_string(), tracking_ref(remote)] {
        let result = match tip {
            Some(tip) => repo
                .reference(&name, tip, true, &format!("claims fetched from {remote}"))
                .map(|_| ()),
            None => match repo.find_reference(&name) {
                Ok(mut r) => r.delete(),
                Err(_) => Ok(()),
            },
        };
        match result {
            Ok(()) => {}
            Err(e) if git::is_race(&e) || e.code() == ErrorCode::NotFound => {}
            Err(source) => {
                return Err(GitError::Git {
                    what: "updating the claims ref".into(),
                    source,
                }
                .into());
            }
        }
    }
    Ok(())
}

/// Makes the local claims ref what `remote` has (for reading).
pub fn refresh(repo: &Repository, remote: &str) -> Result<(), ClaimError> {
    fetch(repo, remote, None).map(|_| ())
}

/// Pushes `new` as the remote's claims ref if it is still `old`; false when
/// another clone moved it first.
pub(super) fn push(
    repo: &Repository,
    remote: &str,
    old: Option<Oid>,
    new: Oid,
) -> Result<bool, ClaimError> {
    program::check_operand("remote", remote)?;
    let dir = git_dir_of(repo);
    let lease = format!(
        "--force-with-lease={CLAIMS_REF}:{}",
        old.map(|o| o.to_string()).unwrap_or_default()
    );
    let spec = format!("{new}:{CLAIMS_REF}");
    let git = Git::new(dir)
        .args(["push", "--quiet", "--atomic", "--porcelain", "--no-verify"])
        .args([lease.as_str(), "--", remote, &spec]);
    match program::push(git)? {
        program::Pushed::Done => {
            mirror(repo, remote, Some(new))?;
            Ok(true)
        }
        // Lost the race when the ref is no longer where the lease said; a
        // refusal while it still is there (a server hook) is an error. The
        // remote may also refuse because another clone's push holds the
        // ref's lock that moment: that push lands within milliseconds, so
        // the ref is looked at twice before the refusal is believed.
        program::Pushed::Rejected { error, .. } => {
            for wait in [0, 20] {
                std::thread::sleep(Duration::from_millis(wait));
                if program::remote_ref(dir, remote, CLAIMS_REF)? != old {
                    return Ok(false);
                }
            }
            Err(error.into())
        }
    }
}

fn git_dir_of(repo: &Repository) -> &Path {
    repo.workdir().unwrap_or_else(|| repo.path())
}
