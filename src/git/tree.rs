//! Building a new tree from an old one with a few paths replaced, touching
//! only the trees on those paths (a task commit at 100k tasks rewrites three
//! trees, not the whole repository).

use super::{GitError, git_err};
use git2::{FileMode, IndexEntry, IndexTime, Oid, Repository, Tree};
use std::collections::BTreeMap;

/// The changes below one directory: files to set or delete, and subdirectories.
#[derive(Default)]
struct DirChanges<'a> {
    files: BTreeMap<&'a str, Option<Oid>>,
    dirs: BTreeMap<&'a str, DirChanges<'a>>,
}

/// Writes the tree `base` with each `(path, blob)` set (or removed when the
/// blob is `None`), and returns the new root tree's id.
pub fn replace_paths(
    repo: &Repository,
    base: Option<&Tree>,
    blobs: &[(&str, Option<Oid>)],
) -> Result<Oid, GitError> {
    let mut root = DirChanges::default();
    for (path, oid) in blobs {
        let mut parts: Vec<&str> = path.split('/').collect();
        let name = parts.pop().expect("split yields at least one part");
        let mut dir = &mut root;
        for part in parts {
            dir = dir.dirs.entry(part).or_default();
        }
        dir.files.insert(name, *oid);
    }
    Ok(write_dir(repo, base, &root)?.unwrap_or_else(|| empty_tree(repo)))
}

fn empty_tree(repo: &Repository) -> Oid {
    repo.treebuilder(None)
        .and_then(|b| b.write())
        .expect("writing the empty tree")
}

/// Returns the new tree id, or `None` when the directory ends up empty.
fn write_dir(
    repo: &Repository,
    base: Option<&Tree>,
    changes: &DirChanges,
) -> Result<Option<Oid>, GitError> {
    let mut builder = repo.treebuilder(base).map_err(git_err("reading a tree"))?;
    for (name, sub) in &changes.dirs {
        let old_sub = match builder.get(name).map_err(git_err("reading a tree"))? {
            Some(entry) if entry.kind() == Some(git2::ObjectType::Tree) => Some(
                repo.find_tree(entry.id())
                    .map_err(git_err("reading a tree"))?,
            ),
            _ => None,
        };
        match write_dir(repo, old_sub.as_ref(), sub)? {
            Some(oid) => {
                builder
                    .insert(name, oid, FileMode::Tree.into())
                    .map_err(git_err(format!("adding {name}")))?;
            }
            None => {
                if builder.get(name).ok().flatten().is_some() {
                    builder
                        .remove(name)
                        .map_err(git_err(format!("removing {name}")))?;
                }
            }
        }
    }
    for (name, oid) in &changes.files {
        match oid {
            Some(oid) => {
                builder
                    .insert(name, *oid, FileMode::Blob.into())
                    .map_err(git_err(format!("adding {name}")))?;
            }
            None => {
                if builder.get(name).ok().flatten().is_some() {
                    builder
                        .remove(name)
                        .map_err(git_err(format!("removing {name}")))?;
                }
            }
        }
    }
    if builder.is_empty() {
        return Ok(None);
    }
    builder.write().map(Some).map_err(git_err("writing a tree"))
}

/// An index entry for a file just committed, with its stat data so that
/// `git status` sees it as clean without re-hashing it.
pub fn index_entry(path: &str, oid: Oid, meta: &std::fs::Metadata) -> IndexEntry {
    use std::os::unix::fs::MetadataExt;
    let time = |secs: i64, nanos: i64| IndexTime::new(secs as i32, nanos as u32);
    IndexEntry {
        ctime: time(meta.ctime(), meta.ctime_nsec()),
        mtime: time(meta.mtime(), meta.mtime_nsec()),
        dev: meta.dev() as u32,
        ino: meta.ino() as u32,
        mode: u32::from(FileMode::Blob),
        uid: meta.uid(),
        gid: meta.gid(),
        file_size: meta.len() as u32,
        id: oid,
        flags: (path.len().min(0xfff)) as u16,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}
