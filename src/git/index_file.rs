//! Replaces a few entries of the index file without loading the rest.
//!
//! A metadata commit changes the index entries of one or a few `.batch/`
//! files. libgit2 reads the whole index into a table of entries (checking
//! its SHA-1 with collision detection) and writes it back whole (hashing it
//! again): at 100k tracked files, a 10 MB index, that was half of every
//! commit. Here the file is read as bytes, the entries are walked to find
//! the ones to replace, the new entries are spliced in and the checksum is
//! computed once with a plain SHA-1 (it is a checksum, not an object id).
//!
//! Only what is certain is handled: index versions 2 and 3, no split index
//! (`link`) and no sparse-index directories (`sdir`), and paths with stage-0
//! entries only. Anything else is [`Spliced::Unsupported`], and the caller
//! goes through libgit2 as before. Like libgit2, the cache tree (`TREE`) is
//! kept with the directories above a changed path marked invalid, resolve-undo
//! (`REUC`) is kept, and the other optional extensions (untracked cache,
//! fsmonitor, offset tables) are left out for git to rebuild. The write
//! takes `index.lock` before it reads, so a concurrent git cannot slip an
//! update in between, and renames it over the index.

use sha1::{Digest, Sha1};
use std::io::Write;
use std::path::{Path, PathBuf};

const HEADER: usize = 12;
const HASH: usize = 20;
/// The fixed part of an entry before its path (stat data, id, flags).
const FIXED: usize = 62;
const EXTENDED_FLAG: u16 = 0x4000;
const STAGE_MASK: u16 = 0x3000;

/// One entry's bytes as the index stores them (v2/v3 layout, padding
/// included), and its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub path: Vec<u8>,
    bytes: Vec<u8>,
}

impl RawEntry {
    /// The stored form of a stage-0 entry without extended flags.
    pub fn of(entry: &git2::IndexEntry) -> RawEntry {
        let mut bytes = Vec::with_capacity(FIXED + entry.path.len() + 8);
        for word in [
            entry.ctime.seconds() as u32,
            entry.ctime.nanoseconds(),
            entry.mtime.seconds() as u32,
            entry.mtime.nanoseconds(),
            entry.dev,
            entry.ino,
            entry.mode,
            entry.uid,
            entry.gid,
            entry.file_size,
        ] {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        bytes.extend_from_slice(entry.id.as_bytes());
        let flags = entry.path.len().min(0xfff) as u16;
        bytes.extend_from_slice(&flags.to_be_bytes());
        bytes.extend_from_slice(&entry.path);
        let padded = (FIXED + entry.path.len() + 8) & !7;
        bytes.resize(padded, 0);
        RawEntry {
            path: entry.path.clone(),
            bytes,
        }
    }
}

/// Paths with their entries (`None`: no entry), as a splice takes and gives them.
pub type Entries = Vec<(Vec<u8>, Option<RawEntry>)>;

/// What [`splice`] did.
#[derive(Debug)]
pub enum Spliced {
    /// Written; the entries the paths had before (`None`: not in the
    /// index), to put back with another splice if the commit fails.
    Done(Entries),
    /// The index is absent or in a form this module leaves to libgit2;
    /// nothing was written.
    Unsupported,
}

/// Why a splice could not be written.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// Another process holds `index.lock`.
    #[error("{0} is taken")]
    Locked(PathBuf),
    #[error("{what}: {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Sets each path's stage-0 entry to the given one (`None` removes it) in
/// the index of the git directory `git_dir`, keeping every other entry.
pub fn splice(
    git_dir: &Path,
    changes: &[(Vec<u8>, Option<RawEntry>)],
) -> Result<Spliced, IndexError> {
    let index = git_dir.join("index");
    let lock = git_dir.join("index.lock");
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&lock)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(IndexError::Locked(lock));
        }
        Err(source) => {
            return Err(IndexError::Io {
                what: "creating",
                path: lock,
                source,
            });
        }
    };
    let written = (|| {
        let data = match std::fs::read(&index) {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(IndexError::Io {
                    what: "reading",
                    path: index.clone(),
                    source,
                });
            }
        };
        let Some((out, before)) = rewrite(&data, changes) else {
            return Ok(None);
        };
        // No fsync, as git and libgit2 write the index by default: a kill
        // cannot tear it (the rename is atomic), and the objects it names are
        // written before it.
        file.write_all(&out)
            .and_then(|()| file.flush())
            .map_err(|source| IndexError::Io {
                what: "writing",
                path: lock.clone(),
                source,
            })?;
        std::fs::rename(&lock, &index).map_err(|source| IndexError::Io {
            what: "renaming into place",
            path: lock.clone(),
            source,
        })?;
        Ok(Some(before))
    })();
    match written {
        Ok(Some(before)) => Ok(Spliced::Done(before)),
        other => {
            let _ = std::fs::remove_file(&lock);
            other.map(|_| Spliced::Unsupported)
        }
    }
}

/// Where one entry lies in the index bytes.
struct Span {
    start: usize,
    end: usize,
    path_end: usize,
    stage: u16,
}

impl Span {
    fn path<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        let skip = if be16(data, self.start + FIXED - 2) & EXTENDED_FLAG != 0 {
            FIXED + 2
        } else {
            FIXED
        };
        &data[self.start + skip..self.path_end]
    }
}

fn be16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

fn be32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(data[at..at + 4].try_into().expect("four bytes"))
}

/// The new index bytes and the replaced entries, or `None` for a form left
/// to libgit2 (including any damage: libgit2 then names it).
fn rewrite(data: &[u8], changes: &[(Vec<u8>, Option<RawEntry>)]) -> Option<(Vec<u8>, Entries)> {
    if data.len() < HEADER + HASH || &data[..4] != b"DIRC" {
        return None;
    }
    let version = be32(data, 4);
    if version != 2 && version != 3 {
        return None;
    }
    let body_end = data.len() - HASH;
    let stored_hash = &data[body_end..];
    // index.skipHash writes a null checksum, and git accepts it.
    let skip_hash = stored_hash.iter().all(|b| *b == 0);
    if !skip_hash && Sha1::digest(&data[..body_end])[..] != *stored_hash {
        return None;
    }
    let count = be32(data, 8) as usize;
    let spans = walk_entries(data, count, body_end)?;
    let entries_end = spans.last().map_or(HEADER, |s| s.end);

    let mut sorted: Vec<&(Vec<u8>, Option<RawEntry>)> = changes.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.dedup_by(|a, b| a.0 == b.0);
    // (first span of the path, spans it has) for each change, in order.
    let mut places = Vec::with_capacity(sorted.len());
    for (path, entry) in &sorted {
        if let Some(entry) = entry
            && (entry.path != *path || be16(&entry.bytes, FIXED - 2) & EXTENDED_FLAG != 0)
        {
            return None;
        }
        let at = spans.partition_point(|s| s.path(data) < path.as_slice());
        let here = spans[at..]
            .iter()
            .take_while(|s| s.path(data) == path.as_slice())
            .count();
        // A conflict (stages 1-3) is libgit2's to resolve, as before.
        if here > 1 || (here == 1 && spans[at].stage != 0) {
            return None;
        }
        places.push((at, here));
    }

    let mut out = Vec::with_capacity(data.len() + 256);
    out.extend_from_slice(&data[..HEADER]);
    let mut before = Vec::with_capacity(sorted.len());
    let mut copied = HEADER;
    let mut new_count = count;
    for ((path, entry), (at, here)) in sorted.iter().zip(&places) {
        let start = spans.get(*at).map_or(entries_end, |s| s.start);
        out.extend_from_slice(&data[copied..start]);
        let old = (*here == 1).then(|| RawEntry {
            path: path.clone(),
            bytes: data[spans[*at].start..spans[*at].end].to_vec(),
        });
        copied = old.as_ref().map_or(start, |_| spans[*at].end);
        if let Some(entry) = entry {
            out.extend_from_slice(&entry.bytes);
        }
        new_count = new_count + usize::from(entry.is_some()) - usize::from(old.is_some());
        before.push((path.clone(), old));
    }
    out.extend_from_slice(&data[copied..entries_end]);
    out[8..12].copy_from_slice(&(new_count as u32).to_be_bytes());

    let dirs: Vec<&[u8]> = sorted.iter().map(|(p, _)| p.as_slice()).collect();
    let mut at = entries_end;
    while at < body_end {
        if body_end - at < 8 {
            return None;
        }
        let sig = &data[at..at + 4];
        let size = be32(data, at + 4) as usize;
        let payload = data.get(at + 8..at + 8 + size)?;
        match sig {
            b"TREE" => {
                let tree = invalidate_tree(payload, &dirs)?;
                out.extend_from_slice(b"TREE");
                out.extend_from_slice(&(tree.len() as u32).to_be_bytes());
                out.extend_from_slice(&tree);
            }
            b"REUC" => out.extend_from_slice(&data[at..at + 8 + size]),
            // Optional extensions git rebuilds; a required one (lower case:
            // split index, sparse directories) this module does not know.
            _ if sig[0].is_ascii_uppercase() => {}
            _ => return None,
        }
        at += 8 + size;
    }
    if skip_hash {
        out.extend_from_slice(&[0; HASH]);
    } else {
        let hash = Sha1::digest(&out);
        out.extend_from_slice(&hash);
    }
    Some((out, before))
}

/// The spans of the `count` entries, or `None` when they do not fit.
fn walk_entries(data: &[u8], count: usize, body_end: usize) -> Option<Vec<Span>> {
    let mut spans = Vec::with_capacity(count);
    let mut at = HEADER;
    for _ in 0..count {
        if at + FIXED > body_end {
            return None;
        }
        let flags = be16(data, at + FIXED - 2);
        let path_start = at + FIXED + if flags & EXTENDED_FLAG != 0 { 2 } else { 0 };
        let len = usize::from(flags & 0xfff);
        let path_end = if len < 0xfff {
            path_start + len
        } else {
            path_start
                + data
                    .get(path_start..body_end)?
                    .iter()
                    .position(|b| *b == 0)?
        };
        if path_end >= body_end || data[path_end] != 0 {
            return None;
        }
        // Entries are padded with 1 to 8 NULs to a multiple of 8 bytes.
        let end = at + ((path_end - at + 8) & !7);
        if end > body_end {
            return None;
        }
        spans.push(Span {
            start: at,
            end,
            path_end,
            stage: (flags & STAGE_MASK) >> 12,
        });
        at = end;
    }
    Some(spans)
}

/// The cache-tree extension with every directory above a path in `paths`
/// (the root included) marked invalid: an entry count of -1 and no id.
fn invalidate_tree(payload: &[u8], paths: &[&[u8]]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(payload.len());
    let mut at = 0;
    let mut prefix = Vec::new();
    copy_tree_node(payload, &mut at, &mut prefix, paths, &mut out)?;
    (at == payload.len()).then_some(out)
}

fn copy_tree_node(
    payload: &[u8],
    at: &mut usize,
    prefix: &mut Vec<u8>,
    paths: &[&[u8]],
    out: &mut Vec<u8>,
) -> Option<()> {
    let rest = payload.get(*at..)?;
    let nul = rest.iter().position(|b| *b == 0)?;
    let name = &rest[..nul];
    let line_end = nul + 1 + rest[nul + 1..].iter().position(|b| *b == b'\n')?;
    let line = std::str::from_utf8(&rest[nul + 1..line_end]).ok()?;
    let (entries, subtrees) = line.split_once(' ')?;
    let entries: i64 = entries.parse().ok()?;
    let subtrees: usize = subtrees.parse().ok()?;
    let mut after = line_end + 1;
    if entries >= 0 {
        after += HASH;
        if after > rest.len() {
            return None;
        }
    }
    let depth = prefix.len();
    if !name.is_empty() {
        prefix.extend_from_slice(name);
        prefix.push(b'/');
    }
    // The root's prefix is empty, so it is above every path.
    let above = paths.iter().any(|p| p.starts_with(prefix));
    out.extend_from_slice(name);
    out.push(0);
    if above {
        out.extend_from_slice(format!("-1 {subtrees}\n").as_bytes());
    } else {
        out.extend_from_slice(&rest[nul + 1..after]);
    }
    *at += after;
    for _ in 0..subtrees {
        copy_tree_node(payload, at, prefix, paths, out)?;
    }
    prefix.truncate(depth);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_node(name: &str, entries: i64, subtrees: usize) -> Vec<u8> {
        let mut out = format!("{name}\0{entries} {subtrees}\n").into_bytes();
        if entries >= 0 {
            out.extend_from_slice(&[0xab; HASH]);
        }
        out
    }

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = crate::git::program::run(dir, args).unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The same changes through libgit2's whole-index write, the reference.
    fn through_libgit2(dir: &Path, blobs: &[(&str, Option<git2::Oid>)]) -> String {
        let repo = git2::Repository::open(dir).unwrap();
        let mut index = repo.index().unwrap();
        for (path, oid) in blobs {
            match oid {
                Some(oid) => {
                    let meta = std::fs::symlink_metadata(dir.join(path)).unwrap();
                    index
                        .add(&super::super::tree::index_entry(path, *oid, &meta))
                        .unwrap();
                }
                None => index.remove_path(Path::new(path)).unwrap(),
            }
        }
        index.write().unwrap();
        git(dir, &["ls-files", "-s"])
    }

    #[test]
    fn a_splice_leaves_the_index_libgit2_would_write_and_git_reads_it() {
        for skip_hash in [false, true] {
            let runs: Vec<String> = (0..2)
                .map(|way| {
                    let tmp = tempfile::tempdir().unwrap();
                    let dir = tmp.path();
                    git(dir, &["init", "-q"]);
                    if skip_hash {
                        git(dir, &["config", "index.skipHash", "true"]);
                    }
                    for name in ["a", ".batch/tasks/t1.toml", ".batch/tasks/t3.toml", "src/x"] {
                        let path = dir.join(name);
                        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                        std::fs::write(&path, name).unwrap();
                    }
                    git(dir, &["add", "."]);
                    git(
                        dir,
                        &[
                            "-c",
                            "user.name=t",
                            "-c",
                            "user.email=t@t",
                            "commit",
                            "-qm",
                            "x",
                        ],
                    );
                    // The user's own staged work, which must stay.
                    std::fs::write(dir.join("src/x"), "staged").unwrap();
                    git(dir, &["add", "src/x"]);
                    let repo = git2::Repository::open(dir).unwrap();
                    std::fs::write(dir.join(".batch/tasks/t1.toml"), "changed").unwrap();
                    std::fs::write(dir.join(".batch/tasks/t2.toml"), "new").unwrap();
                    std::fs::remove_file(dir.join(".batch/tasks/t3.toml")).unwrap();
                    let t1 = repo.blob(b"changed").unwrap();
                    let t2 = repo.blob(b"new").unwrap();
                    let blobs = [
                        (".batch/tasks/t2.toml", Some(t2)),
                        (".batch/tasks/t1.toml", Some(t1)),
                        (".batch/tasks/t3.toml", None),
                    ];
                    let listed = if way == 0 {
                        through_libgit2(dir, &blobs)
                    } else {
                        let changes: Vec<_> = blobs
                            .iter()
                            .map(|(path, oid)| {
                                let entry = oid.map(|oid| {
                                    let meta = std::fs::symlink_metadata(dir.join(path)).unwrap();
                                    RawEntry::of(&super::super::tree::index_entry(path, oid, &meta))
                                });
                                (path.as_bytes().to_vec(), entry)
                            })
                            .collect();
                        let Spliced::Done(before) = splice(&dir.join(".git"), &changes).unwrap()
                        else {
                            panic!("a plain index is spliced")
                        };
                        let had: Vec<bool> = before.iter().map(|(_, e)| e.is_some()).collect();
                        assert_eq!(had, [true, false, true], "sorted: t1, t2, t3");
                        git(dir, &["ls-files", "-s"])
                    };
                    // git reads it (checksum, entries, cache tree) and sees
                    // the task files as clean, the user's file as staged.
                    assert_eq!(
                        git(dir, &["status", "--porcelain"]),
                        "M  .batch/tasks/t1.toml\nA  .batch/tasks/t2.toml\n\
                         D  .batch/tasks/t3.toml\nM  src/x\n"
                    );
                    format!("{listed}{}", git(dir, &["write-tree"]))
                })
                .collect();
            assert_eq!(runs[0], runs[1], "skip_hash {skip_hash}");
        }
    }

    #[test]
    fn only_the_directories_above_a_changed_path_lose_their_cached_tree() {
        let payload = [
            tree_node("", 5, 2),
            tree_node(".batch", 3, 1),
            tree_node("tasks", 2, 0),
            tree_node("src", 2, 0),
        ]
        .concat();
        let out = invalidate_tree(&payload, &[b".batch/tasks/a.toml"]).unwrap();
        let want = [
            tree_node("", -1, 2),
            tree_node(".batch", -1, 1),
            tree_node("tasks", -1, 0),
            tree_node("src", 2, 0),
        ]
        .concat();
        assert_eq!(out, want);
        // A directory named like the start of another is not above it.
        let out = invalidate_tree(&payload, &[b"srcx"]).unwrap();
        let want = [
            tree_node("", -1, 2),
            tree_node(".batch", 3, 1),
            tree_node("tasks", 2, 0),
            tree_node("src", 2, 0),
        ]
        .concat();
        assert_eq!(out, want);
        assert_eq!(invalidate_tree(&payload[..payload.len() - 3], &[]), None);
    }
}
