//! The files a task's commits changed, with line counts, when every change
//! is a regular file modified in place: found by comparing the two trees
//! entry by entry, the older side read once for all the tasks that fork
//! from it (libgit2 caches no tree over 4 KiB, and a tree diff per task read
//! the fork's `src/` tree of a thousand entries again for every task), and
//! counted blob against blob. Anything else (a file added, deleted, renamed,
//! a mode that is not a regular file's, a file turned into a directory) is
//! left to the tree diff in `review`, which is what this must equal.

use super::review::FileChange;
use git2::{ObjectType, Oid, Patch, Repository, Tree};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

/// How many parsed older trees are kept: a review asks for the fork most
/// tasks share again and again, and for a landed task's start once.
const KEEP: usize = 8;

/// Older trees read, the last few kept.
pub struct Trees<'r> {
    repo: &'r Repository,
    recent: RefCell<Vec<(Oid, Rc<Tree<'r>>)>>,
}

impl<'r> Trees<'r> {
    pub fn new(repo: &'r Repository) -> Trees<'r> {
        Trees {
            repo,
            recent: RefCell::new(Vec::new()),
        }
    }

    fn older(&self, tree: Oid) -> Option<Rc<Tree<'r>>> {
        let mut recent = self.recent.borrow_mut();
        if let Some(i) = recent.iter().position(|(t, _)| *t == tree) {
            let hit = recent.remove(i);
            recent.push(hit);
        } else {
            let parsed = self.repo.find_tree(tree).ok()?;
            if recent.len() == KEEP {
                recent.remove(0);
            }
            recent.push((tree, Rc::new(parsed)));
        }
        recent.last().map(|(_, e)| Rc::clone(e))
    }

    /// The files outside `.batch/` that `from..to` (trees) changes, when
    /// every change is a regular file modified in place; `None` otherwise.
    pub fn modified_only(&self, from: Oid, to: Oid) -> Option<Vec<FileChange>> {
        let mut changed = Vec::new();
        self.walk("", from, to, &mut changed)?;
        let mut files = Vec::new();
        for (path, old, new) in changed {
            let old = self.repo.find_blob(old).ok()?;
            let new = self.repo.find_blob(new).ok()?;
            let patch = Patch::from_blobs(
                &old,
                Some(Path::new(&path)),
                &new,
                Some(Path::new(&path)),
                None,
            )
            .ok()?;
            let (_, added, removed) = patch.line_stats().ok()?;
            files.push(FileChange {
                path,
                change: "modified",
                added,
                removed,
            });
        }
        Some(files)
    }

    /// The blobs modified under `prefix`, in the tree diff's order (full
    /// paths, bytewise: a tree's entry order).
    fn walk(
        &self,
        prefix: &str,
        from: Oid,
        to: Oid,
        out: &mut Vec<(String, Oid, Oid)>,
    ) -> Option<()> {
        let old = self.older(from)?;
        let new = self.repo.find_tree(to).ok()?;
        // The same names in the same (sorted) order: none added or deleted.
        if new.len() != old.len() {
            return None;
        }
        for (o, e) in old.iter().zip(new.iter()) {
            if o.name_bytes() != e.name_bytes() {
                return None;
            }
            let (old_id, old_mode, old_kind) = (o.id(), o.filemode(), o.kind());
            if old_id == e.id() && old_mode == e.filemode() {
                continue;
            }
            let name = e.name().ok()?;
            let path = format!("{prefix}{name}");
            match (old_kind, e.kind()) {
                (Some(ObjectType::Tree), Some(ObjectType::Tree)) => {
                    if path == crate::store::BATCH_DIR {
                        continue;
                    }
                    self.walk(&format!("{path}/"), old_id, e.id(), out)?;
                }
                (Some(ObjectType::Blob), Some(ObjectType::Blob))
                    if regular(old_mode) && regular(e.filemode()) =>
                {
                    out.push((path, old_id, e.id()));
                }
                _ => return None,
            }
        }
        Some(())
    }
}

/// A regular file's mode, executable or not (not a link or a submodule).
fn regular(mode: i32) -> bool {
    mode == 0o100644 || mode == 0o100755
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree of `files` (path, content, mode), written to `repo`.
    fn tree(repo: &Repository, files: &[(&str, &str, i32)]) -> Oid {
        let mut index = git2::Index::new().unwrap();
        for (path, text, mode) in files {
            let blob = repo.blob(text.as_bytes()).unwrap();
            let mut entry = git2::IndexEntry {
                ctime: git2::IndexTime::new(0, 0),
                mtime: git2::IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: *mode as u32,
                uid: 0,
                gid: 0,
                file_size: text.len() as u32,
                id: blob,
                flags: 0,
                flags_extended: 0,
                path: path.as_bytes().to_vec(),
            };
            entry.flags = (path.len() as u16) & 0xfff;
            index.add(&entry).unwrap();
        }
        index.write_tree_to(repo).unwrap()
    }

    /// What the tree diff says of the files outside `.batch/`.
    fn by_diff(repo: &Repository, a: Oid, b: Oid) -> Vec<(String, &'static str, usize, usize)> {
        let (a, b) = (repo.find_tree(a).unwrap(), repo.find_tree(b).unwrap());
        let diff = repo.diff_tree_to_tree(Some(&a), Some(&b), None).unwrap();
        (0..diff.deltas().len())
            .filter_map(|i| {
                let d = diff.get_delta(i).unwrap();
                let path = d.new_file().path()?.to_str()?.to_string();
                if path.starts_with(".batch/") {
                    return None;
                }
                let (_, add, del) = Patch::from_diff(&diff, i).unwrap()?.line_stats().unwrap();
                assert_eq!(d.status(), git2::Delta::Modified);
                Some((path, "modified", add, del))
            })
            .collect()
    }

    #[test]
    fn modified_files_count_as_the_tree_diff_counts_them_and_the_rest_is_left_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let base: &[(&str, &str, i32)] = &[
            (".batch/tasks/t-1.toml", "id = 1\n", 0o100644),
            ("src/a.txt", "one\ntwo\nthree\n", 0o100644),
            ("src/deep/b.txt", "b\n", 0o100644),
            ("src/run.sh", "echo\n", 0o100644),
            ("top.txt", "top\n", 0o100644),
        ];
        let from = tree(&repo, base);
        // `base` with entries replaced (by index) and some added.
        let variant = |edits: &[(usize, (&'static str, &'static str, i32))],
                       extra: &[(&'static str, &'static str, i32)]| {
            let mut files = base.to_vec();
            for (i, e) in edits {
                files[*i] = *e;
            }
            files.extend_from_slice(extra);
            tree(&repo, &files)
        };
        let modified = variant(
            &[
                (
                    0,
                    (".batch/tasks/t-1.toml", "id = 1\nstatus = 2\n", 0o100644),
                ),
                (1, ("src/a.txt", "one\n2\nthree\nfour\n", 0o100644)),
                (3, ("src/run.sh", "echo\n", 0o100755)),
                (4, ("top.txt", "top\nmore\n", 0o100644)),
            ],
            &[],
        );
        let trees = Trees::new(&repo);
        let got: Vec<_> = trees
            .modified_only(from, modified)
            .unwrap()
            .into_iter()
            .map(|f| (f.path, f.change, f.added, f.removed))
            .collect();
        assert_eq!(got, by_diff(&repo, from, modified));
        assert_eq!(got.len(), 3, "{got:?}");
        // Asked again (the older tree kept): the same.
        assert_eq!(trees.modified_only(from, modified).unwrap().len(), 3);

        let added = variant(&[], &[("src/deep/c.txt", "c\n", 0o100644)]);
        let link = variant(&[(3, ("src/run.sh", "echo\n", 0o120000))], &[]);
        let deleted = tree(&repo, &base[..4]);
        for other in [added, link, deleted] {
            assert!(trees.modified_only(from, other).is_none());
        }
        // Only `.batch/` changed: no files.
        let batch_only = variant(&[(0, (".batch/tasks/t-1.toml", "id = 2\n", 0o100644))], &[]);
        assert_eq!(trees.modified_only(from, batch_only).unwrap().len(), 0);
    }
}
