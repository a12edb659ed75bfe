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
    if let Some(base) = base
        && changes.dirs.is_empty()
        && base.len() >= SPLICE_FROM
        && let Some(written) = splice_files(repo, base, &changes.files)?
    {
        return Ok(written);
    }
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

/// From this many entries on, a directory whose files alone change is
/// written by splicing its stored bytes ([`splice_files`]): a tree builder
/// loads every entry and sorts them all again (at 100k task files, most of a
/// task commit's time).
const SPLICE_FROM: usize = 512;

/// The tree `base` with `files` set (or removed), written from `base`'s
/// bytes with the changed entries spliced in at their places; `Some(None)`
/// when it ends up empty. `None` when it cannot be done this way (a file
/// named like a subdirectory, a name git would not store, a tree that does
/// not parse): the caller then uses a tree builder.
fn splice_files(
    repo: &Repository,
    base: &Tree,
    files: &BTreeMap<&str, Option<Oid>>,
) -> Result<Option<Option<Oid>>, GitError> {
    if files
        .keys()
        .any(|n| n.is_empty() || n.contains('/') || n.contains('\0') || *n == "." || *n == "..")
    {
        return Ok(None);
    }
    // A file replacing a subdirectory of the same name sorts elsewhere.
    if files.keys().any(|n| {
        base.get_name(n)
            .is_some_and(|e| e.kind() == Some(git2::ObjectType::Tree))
    }) {
        return Ok(None);
    }
    let odb = repo.odb().map_err(git_err("reading a tree"))?;
    let object = odb.read(base.id()).map_err(git_err("reading a tree"))?;
    let data = object.data();
    let mut out = Vec::with_capacity(data.len() + files.len() * 64);
    let mut changes = files.iter().peekable();
    let push_blob = |out: &mut Vec<u8>, name: &str, oid: &Oid| {
        out.extend_from_slice(b"100644 ");
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(oid.as_bytes());
    };
    let mut at = 0;
    while at < data.len() {
        // "<mode> <name>\0<20-byte id>"
        let Some(space) = data[at..].iter().position(|&b| b == b' ') else {
            return Ok(None);
        };
        let Some(nul) = data[at + space..].iter().position(|&b| b == 0) else {
            return Ok(None);
        };
        let end = at + space + nul + 1 + 20;
        if end > data.len() {
            return Ok(None);
        }
        let mode = &data[at..at + space];
        let name = &data[at + space + 1..at + space + nul];
        let is_tree = mode == b"40000";
        // Git orders a tree as if its name ended in '/'.
        let key_cmp = |other: &[u8]| -> std::cmp::Ordering {
            if is_tree {
                let mut key = name.to_vec();
                key.push(b'/');
                other.cmp(&key[..])
            } else {
                other.cmp(name)
            }
        };
        let mut replaced = false;
        while let Some((change, oid)) = changes.peek() {
            let change = change.as_bytes();
            if change == name {
                if let Some(oid) = oid {
                    push_blob(&mut out, changes.peek().unwrap().0, oid);
                }
                changes.next();
                replaced = true;
                break;
            }
            if key_cmp(change) == std::cmp::Ordering::Less {
                let (change, oid) = changes.next().unwrap();
                if let Some(oid) = oid {
                    push_blob(&mut out, change, oid);
                }
            } else {
                break;
            }
        }
        if !replaced {
            out.extend_from_slice(&data[at..end]);
        }
        at = end;
    }
    for (change, oid) in changes {
        if let Some(oid) = oid {
            push_blob(&mut out, change, oid);
        }
    }
    if out.is_empty() {
        return Ok(Some(None));
    }
    let oid = odb
        .write(git2::ObjectType::Tree, &out)
        .map_err(git_err("writing a tree"))?;
    Ok(Some(Some(oid)))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The same changes through a tree builder, the reference.
    fn built(repo: &Repository, base: &Tree, files: &BTreeMap<&str, Option<Oid>>) -> Option<Oid> {
        let mut builder = repo.treebuilder(Some(base)).unwrap();
        for (name, oid) in files {
            match oid {
                Some(oid) => {
                    builder.insert(name, *oid, FileMode::Blob.into()).unwrap();
                }
                None => {
                    if builder.get(name).unwrap().is_some() {
                        builder.remove(name).unwrap();
                    }
                }
            }
        }
        (!builder.is_empty()).then(|| builder.write().unwrap())
    }

    #[test]
    fn a_spliced_tree_is_the_one_a_tree_builder_writes() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let blob = |text: &str| repo.blob(text.as_bytes()).unwrap();
        let sub = {
            let mut b = repo.treebuilder(None).unwrap();
            b.insert("inner", blob("i"), FileMode::Blob.into()).unwrap();
            b.write().unwrap()
        };
        // Names around the place git puts a tree ("a" sorts as "a/").
        let mut base = repo.treebuilder(None).unwrap();
        for name in ["a-b", "a.b", "a0", "b", "bt-1.toml", "bt-3.toml", "z"] {
            base.insert(name, blob(name), FileMode::Blob.into())
                .unwrap();
        }
        base.insert("a", sub, FileMode::Tree.into()).unwrap();
        let base = repo.find_tree(base.write().unwrap()).unwrap();
        let cases: Vec<Vec<(&str, Option<Oid>)>> = vec![
            vec![("bt-2.toml", Some(blob("new")))],
            vec![("bt-1.toml", Some(blob("changed"))), ("bt-3.toml", None)],
            vec![
                ("a+", Some(blob("before a/"))),
                ("a0", None),
                ("a.c", Some(blob("c"))),
            ],
            vec![
                ("0", Some(blob("first"))),
                ("zz", Some(blob("last"))),
                ("missing", None),
            ],
            vec![("a-b", None), ("a.b", None), ("a0", None), ("b", None)],
        ];
        for case in cases {
            let files: BTreeMap<&str, Option<Oid>> = case.into_iter().collect();
            let spliced = splice_files(&repo, &base, &files)
                .unwrap()
                .expect("spliced");
            assert_eq!(spliced, built(&repo, &base, &files), "{files:?}");
        }
        // A file named like the subdirectory is left to the tree builder.
        let clash: BTreeMap<&str, Option<Oid>> = [("a", Some(blob("file")))].into_iter().collect();
        assert!(splice_files(&repo, &base, &clash).unwrap().is_none());
        // Everything removed: an empty directory.
        let mut all: BTreeMap<&str, Option<Oid>> = BTreeMap::new();
        for entry in base.iter() {
            if entry.kind() != Some(git2::ObjectType::Tree) {
                all.insert(
                    Box::leak(entry.name().unwrap().to_string().into_boxed_str()),
                    None,
                );
            }
        }
        let only_tree = splice_files(&repo, &base, &all).unwrap().unwrap().unwrap();
        assert_eq!(repo.find_tree(only_tree).unwrap().len(), 1);
    }
}
