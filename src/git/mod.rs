//! The git layer: finding the repository and recording `.batch/` changes as
//! commits without touching anything else the user has staged or changed.
//!
//! Reads and object work go through git2 (libgit2). A metadata commit is built
//! from the current HEAD tree with only the named paths replaced, only those
//! paths' index entries are updated, and HEAD is moved by compare-and-swap, so
//! the user's own staged and unstaged work stays exactly as it was.

pub mod identity;
mod index_file;
pub mod merge_driver;
mod pack;
pub mod program;
pub mod refs;
pub mod remote;
mod signature;
pub mod stale;
mod tree;

pub use signature::signature_from_env;

use git2::{ErrorCode, Oid, Repository};
use std::fs::File;
use std::path::{Path, PathBuf};

/// What went wrong in the git layer.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("not a git repository (or any parent up to /): {path}")]
    NotARepo {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("the repository at {path} is bare; git-batch needs a working tree")]
    Bare { path: PathBuf },
    #[error("a {state} is in progress in {path}; git-batch will not commit in the middle of it")]
    Busy { state: String, path: PathBuf },
    #[error("{what}")]
    Git {
        what: String,
        #[source]
        source: git2::Error,
    },
    #[error("{what}: {path}")]
    Io {
        what: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{var} is not a date git understands: '{value}'")]
    BadDate { var: String, value: String },
    #[error("another git process holds {path} (waited {waited_secs} s); nothing was changed")]
    IndexLocked { path: PathBuf, waited_secs: u64 },
    #[error("HEAD kept moving while committing (tried {attempts} times)")]
    HeadMoving { attempts: usize },
    #[error("could not run `git {args}`")]
    Spawn {
        args: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "'{value}' is not a usable {what}: a value that is empty or starts with '-' could be read by git as an option"
    )]
    BadOperand { what: String, value: String },
    #[error("`git {args}` failed ({status}): {stderr}")]
    Program {
        args: String,
        status: String,
        stderr: String,
    },
}

pub(crate) fn git_err(what: impl Into<String>) -> impl FnOnce(git2::Error) -> GitError {
    let what = what.into();
    move |source| GitError::Git { what, source }
}

/// How many hex digits of a commit id messages show.
pub const SHORT: usize = 10;

/// A commit id as messages show it: its first [`SHORT`] hex digits (an id
/// given as text may be shorter, and is shown whole).
pub fn short(id: impl AsRef<str>) -> String {
    let id = id.as_ref();
    id[..id.len().min(SHORT)].to_string()
}

/// [`short`] of an object id.
pub fn short_oid(oid: Oid) -> String {
    short(oid.to_string())
}

/// Every path a diff touches, old side and new (a rename names both), each
/// once, in the diff's order; paths that are not UTF-8 are left out.
pub fn diff_paths(diff: &git2::Diff<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for delta in diff.deltas() {
        for f in [delta.old_file(), delta.new_file()] {
            if let Some(p) = f.path().and_then(Path::to_str)
                && !out.iter().any(|o| o == p)
            {
                out.push(p.to_string());
            }
        }
    }
    out
}

/// The symbolic links a diff adds or changes: `(path, target)`.
pub fn diff_links(repo: &Repository, diff: &git2::Diff<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for delta in diff.deltas() {
        let new = delta.new_file();
        if delta.status() == git2::Delta::Deleted || new.mode() != git2::FileMode::Link {
            continue;
        }
        let (Some(path), Ok(blob)) = (new.path().and_then(Path::to_str), repo.find_blob(new.id()))
        else {
            continue;
        };
        out.push((
            path.to_string(),
            String::from_utf8_lossy(blob.content()).into_owned(),
        ));
    }
    out
}

/// Opens the repository that contains `dir` (like git's discovery).
pub fn discover(dir: &Path) -> Result<Repository, GitError> {
    let repo = Repository::discover(dir).map_err(|source| GitError::NotARepo {
        path: dir.to_path_buf(),
        source,
    })?;
    if repo.is_bare() || repo.workdir().is_none() {
        return Err(GitError::Bare {
            path: repo.path().to_path_buf(),
        });
    }
    Ok(repo)
}

/// The short name of the branch HEAD points at, if HEAD is on a branch.
pub fn current_branch(repo: &Repository) -> Option<String> {
    let head = repo.find_reference("HEAD").ok()?;
    let target = head.symbolic_target().ok()??;
    refs::branch_name(target).map(str::to_string)
}

/// Refuses when a merge, rebase, cherry-pick or similar is in progress: a
/// metadata commit in the middle of one would confuse it.
pub fn check_clean_state(repo: &Repository) -> Result<(), GitError> {
    let state = repo.state();
    if state != git2::RepositoryState::Clean {
        return Err(GitError::Busy {
            state: format!("{state:?}").to_lowercase(),
            path: repo.workdir().unwrap_or(repo.path()).to_path_buf(),
        });
    }
    Ok(())
}

/// Records the working-tree state of `paths` (relative to the top, with `/`)
/// as one commit on HEAD. Paths that no longer exist are deleted from the
/// tree. Returns `None` when the tree would not change.
pub fn commit_paths(
    repo: &Repository,
    paths: &[String],
    message: &str,
) -> Result<Option<Oid>, GitError> {
    check_clean_state(repo)?;
    stale::enter(repo.commondir());
    let workdir = repo.workdir().expect("discover refuses bare repositories");
    // Our own processes serialise here, so that two of them never read the
    // index, each add a path, and write it back losing the other's entry.
    let _lock = lock_file(&repo.path().join("batch").join("commit.lock"))?;
    finish_killed_commit(repo, workdir)?;

    let oids = if paths.len() >= PACK_FROM {
        pack::write_files(repo, workdir, paths)?
    } else {
        let mut oids = Vec::with_capacity(paths.len());
        for path in paths {
            let full = workdir.join(path);
            oids.push(match std::fs::read(&full) {
                Ok(data) => Some(repo.blob(&data).map_err(git_err("writing a blob"))?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => {
                    return Err(GitError::Io {
                        what: "reading".into(),
                        path: full,
                        source,
                    });
                }
            });
        }
        oids
    };
    let blobs: Vec<(&str, Option<Oid>)> = paths.iter().map(String::as_str).zip(oids).collect();

    let (author, committer) = signature_from_env(repo)?;
    // The user's own git may hold the index for a moment: wait for it
    // before anything moves, so that the commit and its index entries
    // happen together or not at all.
    wait_for_index(repo)?;
    let _pending = Pending::write(repo, paths)?;
    // The index entries are written before the branch moves: a kill between
    // the two leaves the files staged on the old HEAD, which the command run
    // again commits. The other way round it left a commit whose files the
    // index lacked: staged deletions, for the user's next commit to take.
    let mut staged = None;
    const ATTEMPTS: usize = 20;
    for attempt in 0..ATTEMPTS {
        let head = HeadState::read(repo)?;
        let base_tree = match head.old {
            Some(oid) => Some(
                repo.find_commit(oid)
                    .and_then(|c| c.tree())
                    .map_err(git_err("reading HEAD's tree"))?,
            ),
            None => None,
        };
        let new_tree = tree::replace_paths(repo, base_tree.as_ref(), &blobs)?;
        if base_tree.as_ref().map(|t| t.id()) == Some(new_tree) {
            stage(repo, workdir, &blobs)?;
            return Ok(None);
        }
        let tree = repo
            .find_tree(new_tree)
            .map_err(git_err("reading new tree"))?;
        let parent = match head.old {
            Some(oid) => Some(repo.find_commit(oid).map_err(git_err("reading HEAD"))?),
            None => None,
        };
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let commit = repo
            .commit(None, &author, &committer, message, &tree, &parents)
            .map_err(git_err("writing commit"))?;
        let reflog = format!("commit: {}", message.lines().next().unwrap_or(""));
        // Once: the entries are the same on a retry, and each write of the
        // index is a moment a kill leaves `index.lock` behind.
        if staged.is_none() {
            staged = Some(stage(repo, workdir, &blobs)?);
        }
        match compare_and_swap(repo, &head.refname, head.old, commit, &reflog) {
            Ok(_) => return Ok(Some(commit)),
            // Retried from the new HEAD; the entries written stay right.
            Err(e) if is_race(&e) => {
                std::thread::sleep(std::time::Duration::from_millis(1 + attempt as u64 * 3));
                continue;
            }
            Err(source) => {
                unstage(repo, staged);
                return Err(GitError::Git {
                    what: format!("moving {}", head.refname),
                    source,
                });
            }
        }
    }
    unstage(repo, staged);
    Err(GitError::HeadMoving { attempts: ATTEMPTS })
}

/// The paths a metadata commit is recording, on disk from before HEAD
/// moves until the index has them: a commit killed in between (HEAD moved,
/// the index not yet) is finished by the next one. Removed when dropped, so
/// only a killed process leaves it.
struct Pending(PathBuf);

impl Pending {
    fn path(repo: &Repository) -> PathBuf {
        repo.path().join("batch").join("commit-pending")
    }

    fn write(repo: &Repository, paths: &[String]) -> Result<Pending, GitError> {
        let path = Pending::path(repo);
        crate::atomic::write_atomic(&path, paths.join("\0").as_bytes()).map_err(|source| {
            GitError::Io {
                what: "writing".into(),
                path: path.clone(),
                source,
            }
        })?;
        Ok(Pending(path))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// After a metadata commit was killed (its [`Pending`] file is there while
/// we hold the commit lock, so its writer is gone): each of its paths gets
/// HEAD's entry in the index again. The index is written before the branch
/// moves, so a kill in between left the killed command's files staged on
/// the old HEAD, for the user's next commit to take along; now they are
/// back as a kill before the commit leaves them (changed in the working
/// tree, not staged). A kill after the branch moved left nothing to mend.
fn finish_killed_commit(repo: &Repository, workdir: &Path) -> Result<(), GitError> {
    let path = Pending::path(repo);
    let text = match crate::atomic::read_regular(&path, 1 << 30) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(GitError::Io {
                what: "reading".into(),
                path,
                source,
            });
        }
    };
    let text = String::from_utf8_lossy(&text);
    let tree = repo.head().and_then(|h| h.peel_to_tree()).ok();
    let mut index = repo.index().map_err(git_err("reading the index"))?;
    index.read(false).map_err(git_err("reading the index"))?;
    for rel in text.split('\0').filter(|p| !p.is_empty()) {
        let in_head = tree.as_ref().and_then(|t| t.get_path(Path::new(rel)).ok());
        let on_disk = std::fs::read(workdir.join(rel))
            .ok()
            .map(|data| Oid::hash_object(git2::ObjectType::Blob, &data))
            .transpose()
            .map_err(git_err("hashing"))?;
        match in_head {
            None => {
                let _ = index.remove_path(Path::new(rel));
            }
            // The file is HEAD's: its stat data says so too.
            Some(e) if on_disk == Some(e.id()) => {
                let full = workdir.join(rel);
                if let Ok(meta) = std::fs::symlink_metadata(&full) {
                    index
                        .add(&tree::index_entry(rel, e.id(), &meta))
                        .map_err(git_err(format!("staging {rel}")))?;
                }
            }
            // HEAD's blob without stat data: git compares the content.
            Some(e) => {
                let zero = git2::IndexTime::new(0, 0);
                let entry = git2::IndexEntry {
                    ctime: zero,
                    mtime: zero,
                    dev: 0,
                    ino: 0,
                    mode: e.filemode() as u32,
                    uid: 0,
                    gid: 0,
                    file_size: 0,
                    id: e.id(),
                    flags: (rel.len().min(0xfff)) as u16,
                    flags_extended: 0,
                    path: rel.as_bytes().to_vec(),
                };
                index
                    .add(&entry)
                    .map_err(git_err(format!("staging {rel}")))?;
            }
        }
    }
    index.write().map_err(git_err("writing the index"))?;
    drop(Pending(path));
    Ok(())
}

/// The index entries a commit replaced, to put back if it fails.
enum Staged {
    /// Through [`index_file::splice`].
    Spliced(index_file::Entries),
    /// Through libgit2, for an index the splice leaves to it.
    Whole(Vec<(String, Option<git2::IndexEntry>)>),
}

/// Points the index entries of `blobs` at the committed content (with the
/// files' stat data), keeping every other entry (the user's staged work) as
/// it was; waits a little for another writer's `index.lock`.
fn stage(
    repo: &Repository,
    workdir: &Path,
    blobs: &[(&str, Option<Oid>)],
) -> Result<Staged, GitError> {
    let mut changes = Vec::with_capacity(blobs.len());
    for (path, oid) in blobs {
        let entry = match oid {
            Some(oid) => Some(index_file::RawEntry::of(&tree::index_entry(
                path,
                *oid,
                &stat(workdir, path)?,
            ))),
            None => None,
        };
        changes.push((path.as_bytes().to_vec(), entry));
    }
    let start = std::time::Instant::now();
    for attempt in 0..50 {
        match index_file::splice(repo.path(), &changes) {
            Ok(index_file::Spliced::Done(before)) => return Ok(Staged::Spliced(before)),
            Ok(index_file::Spliced::Unsupported) => {
                let before = index_entries(repo, blobs)?;
                update_index(repo, workdir, blobs)?;
                return Ok(Staged::Whole(before));
            }
            Err(index_file::IndexError::Locked(_)) => {
                std::thread::sleep(std::time::Duration::from_millis(2 + attempt));
            }
            Err(index_file::IndexError::Io { what, path, source }) => {
                return Err(GitError::Io {
                    what: what.into(),
                    path,
                    source,
                });
            }
        }
    }
    Err(GitError::IndexLocked {
        path: repo.path().join("index.lock"),
        waited_secs: start.elapsed().as_secs(),
    })
}

/// Puts back what [`stage`] replaced, after a commit that could not move
/// the branch (best effort: it is already failing).
fn unstage(repo: &Repository, staged: Option<Staged>) {
    match staged {
        Some(Staged::Spliced(before)) => {
            let _ = index_file::splice(repo.path(), &before);
        }
        Some(Staged::Whole(before)) => restore_index(repo, &before),
        None => {}
    }
}

fn stat(workdir: &Path, path: &str) -> Result<std::fs::Metadata, GitError> {
    let full = workdir.join(path);
    std::fs::symlink_metadata(&full).map_err(|source| GitError::Io {
        what: "reading".into(),
        path: full.clone(),
        source,
    })
}

/// The index entries (stage 0) of `blobs`' paths as they are now.
fn index_entries(
    repo: &Repository,
    blobs: &[(&str, Option<Oid>)],
) -> Result<Vec<(String, Option<git2::IndexEntry>)>, GitError> {
    let mut index = repo.index().map_err(git_err("reading the index"))?;
    index.read(false).map_err(git_err("reading the index"))?;
    Ok(blobs
        .iter()
        .map(|(path, _)| (path.to_string(), index.get_path(Path::new(path), 0)))
        .collect())
}

/// Puts back the entries [`index_entries`] read, after a commit that wrote
/// its own and then could not move the branch (best effort: it is already
/// failing).
fn restore_index(repo: &Repository, entries: &[(String, Option<git2::IndexEntry>)]) {
    let Ok(mut index) = repo.index() else { return };
    if index.read(false).is_err() {
        return;
    }
    for (path, entry) in entries {
        let _ = match entry {
            Some(entry) => index.add(entry),
            None => index.remove_path(Path::new(path)),
        };
    }
    let _ = index.write();
}

/// From this many paths on, a commit writes their blobs as one pack: thousands of
/// loose objects cost an open, write, rename and directory scan each.
const PACK_FROM: usize = 256;

/// Moves ref `name` from `old` to `new`, where `old` of `None` means the ref
/// must not exist yet. Fails with an error `is_race` accepts when the ref
/// was not at `old`.
///
/// The `None` case is a compare with the zero id rather than libgit2's
/// `force = false`: libgit2 checks that a ref is absent before it takes the
/// ref's lock, so two processes creating it at once could both succeed
/// (two workers both won the first claim that way); the compare happens
/// under the lock.
pub fn compare_and_swap(
    repo: &Repository,
    name: &str,
    old: Option<Oid>,
    new: Oid,
    message: &str,
) -> Result<(), git2::Error> {
    stale::enter(repo.commondir());
    let old = old.unwrap_or(Oid::ZERO_SHA1);
    match repo.reference_matching(name, new, true, old, message) {
        // A lock a killed git-batch left would make every later try lose.
        Err(e) if e.code() == ErrorCode::Locked && stale::sweep(repo.commondir()) > 0 => repo
            .reference_matching(name, new, true, old, message)
            .map(drop),
        r => r.map(drop),
    }
}

/// Whether a ref update lost a compare-and-swap (and may be retried).
pub(crate) fn is_race(e: &git2::Error) -> bool {
    matches!(
        e.code(),
        ErrorCode::Modified | ErrorCode::Exists | ErrorCode::Locked
    )
}

/// Which ref a commit on HEAD moves, and where it points now.
struct HeadState {
    refname: String,
    old: Option<Oid>,
}

impl HeadState {
    fn read(repo: &Repository) -> Result<HeadState, GitError> {
        let head = repo
            .find_reference("HEAD")
            .map_err(git_err("reading HEAD"))?;
        match head.symbolic_target().map_err(git_err("reading HEAD"))? {
            Some(target) => {
                let old = match repo.find_reference(target) {
                    Ok(r) => r.target(),
                    Err(e) if e.code() == ErrorCode::NotFound => None,
                    Err(source) => {
                        return Err(GitError::Git {
                            what: format!("reading {target}"),
                            source,
                        });
                    }
                };
                Ok(HeadState {
                    refname: target.to_string(),
                    old,
                })
            }
            None => Ok(HeadState {
                refname: "HEAD".into(),
                old: head.target(),
            }),
        }
    }
}

/// How long a metadata commit waits for another git's `index.lock`:
/// `GIT_BATCH_LOCK_WAIT` seconds, 10 by default.
fn lock_wait() -> std::time::Duration {
    let secs = std::env::var("GIT_BATCH_LOCK_WAIT")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(10.0);
    std::time::Duration::from_secs_f64(secs)
}

/// Waits (bounded) while `index.lock` exists. A lock a killed git-batch
/// left is cleared (see [`stale`]); any other is git's own: a git that holds
/// it is running, and one that died leaves it for the user to remove (git
/// says so too), so it is waited for and never deleted.
fn wait_for_index(repo: &Repository) -> Result<(), GitError> {
    let lock = repo.path().join("index.lock");
    let wait = lock_wait();
    let start = std::time::Instant::now();
    if lock.exists() {
        stale::sweep(repo.commondir());
    }
    while lock.exists() {
        if start.elapsed() >= wait {
            return Err(GitError::IndexLocked {
                path: lock,
                waited_secs: wait.as_secs(),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(())
}

/// Points the index entries of `blobs` at the committed content, keeping
/// every other entry (the user's staged work) as it was.
fn update_index(
    repo: &Repository,
    workdir: &Path,
    blobs: &[(&str, Option<Oid>)],
) -> Result<(), GitError> {
    let mut last = None;
    for attempt in 0..50 {
        let mut index = repo.index().map_err(git_err("reading the index"))?;
        index.read(false).map_err(git_err("reading the index"))?;
        for (path, oid) in blobs {
            match oid {
                Some(oid) => {
                    index
                        .add(&tree::index_entry(path, *oid, &stat(workdir, path)?))
                        .map_err(git_err(format!("staging {path}")))?;
                }
                None => {
                    // A path that was never in the index is fine to "remove".
                    let _ = index.remove_path(Path::new(path));
                }
            }
        }
        match index.write() {
            Ok(()) => return Ok(()),
            Err(e) if e.code() == ErrorCode::Locked => {
                last = Some(e);
                std::thread::sleep(std::time::Duration::from_millis(2 + attempt));
            }
            Err(source) => {
                return Err(GitError::Git {
                    what: "writing the index".into(),
                    source,
                });
            }
        }
    }
    Err(GitError::Git {
        what: "writing the index (index.lock stayed taken)".into(),
        source: last.expect("loop ran"),
    })
}

/// Takes an exclusive lock on `path` (created if missing), released when the
/// returned file is dropped or the process dies.
pub fn lock_file(path: &Path) -> Result<File, GitError> {
    crate::atomic::lock(path).map_err(|source| GitError::Io {
        what: "locking".into(),
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Many threads create the same ref at once, round after round: exactly
    /// one of them may win each time.
    #[test]
    fn creating_a_ref_is_won_by_exactly_one_of_many() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        let repo = Repository::init_bare(path).unwrap();
        let sig = git2::Signature::new("t", "t@example.com", &git2::Time::new(0, 0)).unwrap();
        let tree = repo.treebuilder(None).unwrap().write().unwrap();
        let tree = repo.find_tree(tree).unwrap();
        const THREADS: usize = 8;
        let commits: Vec<Oid> = (0..THREADS)
            .map(|i| {
                repo.commit(None, &sig, &sig, &format!("{i}"), &tree, &[])
                    .unwrap()
            })
            .collect();
        for round in 0..40 {
            let name = format!("refs/test/r{round}");
            let start = std::sync::Barrier::new(THREADS);
            let wins: usize = std::thread::scope(|s| {
                let handles: Vec<_> = commits
                    .iter()
                    .map(|&commit| {
                        let (name, start) = (&name, &start);
                        s.spawn(move || {
                            let repo = Repository::open_bare(path).unwrap();
                            start.wait();
                            match compare_and_swap(&repo, name, None, commit, "create") {
                                Ok(()) => 1,
                                Err(e) if is_race(&e) => 0,
                                Err(e) => panic!("{e}"),
                            }
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).sum()
            });
            assert_eq!(wins, 1, "round {round}: {wins} creators won");
            // And moving it on from where it is: again one winner.
            let at = repo.refname_to_id(&name).unwrap();
            let next: Vec<Oid> = commits.iter().copied().filter(|&c| c != at).collect();
            let wins: usize = std::thread::scope(|s| {
                let handles: Vec<_> = next
                    .iter()
                    .map(|&commit| {
                        let name = &name;
                        s.spawn(move || {
                            let repo = Repository::open_bare(path).unwrap();
                            usize::from(
                                compare_and_swap(&repo, name, Some(at), commit, "move").is_ok(),
                            )
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).sum()
            });
            assert_eq!(wins, 1, "round {round}: {wins} movers won");
        }
    }
}
