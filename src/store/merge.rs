//! Task files merged as files: the three versions git has of a task file
//! both sides changed are parsed, merged field by field
//! ([`crate::task::merge`]) and rendered back, for the landing's replay
//! (the stages of a conflicted index entry) and for the merge driver that
//! `git merge`, `pull` and `rebase` run (`git batch merge-task`).

use super::{StoreError, cache::parse_file};
use crate::atomic;
use crate::task::{self, Clash};
use std::path::Path;

/// The line of `.batch/.gitattributes` (relative to `.batch/`) that sends
/// task files to the driver ([`crate::git::merge_driver`]).
pub const ATTRIBUTE_LINE: &str = "tasks/*.toml merge=batch-task";

/// What `init` adds to `.batch/.gitattributes` when the line is missing.
pub const ATTRIBUTES: &str = "# Task files merge field by field (`git batch merge-task`): both sides' notes and edits are kept.\ntasks/*.toml merge=batch-task\n";

/// A version that cannot be merged field by field, and why: git's own
/// line merge (or the whole branch file, in a landing) has to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{side}: {reason}")]
pub struct Unmergeable {
    /// `base`, `ours`, `theirs`, or `merged` (the result is too large).
    pub side: &'static str,
    pub reason: String,
}

/// The merged file's text and what was settled on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct FileMerged {
    pub text: String,
    pub clashes: Vec<Clash>,
}

/// The task id a task file's path names (`.batch/tasks/<id>.toml`, or the
/// bare file name), which its `id` must match as when it is read.
pub fn stem_of(path: &str) -> Option<&str> {
    let name = path.rsplit('/').next()?;
    name.strip_suffix(".toml").filter(|s| !s.is_empty())
}

/// Merges three versions of one task file: `base` None when the file was
/// added on both sides. With `stem`, each version's id must be the file's,
/// as for every read of a task file.
pub fn merge_texts(
    stem: Option<&str>,
    base: Option<&[u8]>,
    ours: &[u8],
    theirs: &[u8],
) -> Result<FileMerged, Unmergeable> {
    let read = |side: &'static str, data: &[u8]| {
        let parsed = match stem {
            Some(stem) => parse_file(data, stem),
            None => std::str::from_utf8(data)
                .map_err(|_| task::ParseError {
                    line: 1,
                    message: "not valid UTF-8".into(),
                })
                .and_then(task::parse_task),
        };
        parsed.map_err(|e| Unmergeable {
            side,
            reason: e.to_string(),
        })
    };
    let base = base.map(|b| read("base", b)).transpose()?;
    let ours = read("ours", ours)?;
    let theirs = read("theirs", theirs)?;
    let merged = task::merge3(base.as_ref(), &ours, &theirs);
    let text = task::render_task(&merged.task);
    if text.len() as u64 > atomic::TASK_FILE_LIMIT {
        return Err(Unmergeable {
            side: "merged",
            reason: format!(
                "the merged task would be {} bytes, more than the {} a task file may have",
                text.len(),
                atomic::TASK_FILE_LIMIT
            ),
        });
    }
    Ok(FileMerged {
        text,
        clashes: merged.clashes,
    })
}

/// What the merge driver did with one file.
#[derive(Debug, Clone, PartialEq)]
pub enum Driven {
    /// Merged field by field into `%A`.
    Merged(Vec<Clash>),
    /// Left to the person: `%A` holds git's line merge, with conflict
    /// markers where the sides differ.
    Conflict(Unmergeable),
}

/// The merge driver's work (`%O %A %B [%P]`, files git wrote for the
/// merge, in `dir`): the merged task replaces `ours`, as git expects of a
/// driver. A version that does not read as a task (broken by hand, or a
/// merge conflict of its own) gets git's line merge instead, so the person
/// who resolves it sees the usual markers.
pub fn merge_driver(
    dir: &Path,
    base: &Path,
    ours: &Path,
    theirs: &Path,
    path: Option<&str>,
) -> Result<Driven, StoreError> {
    let read = |side: &'static str, p: &Path| -> Result<Result<Vec<u8>, Unmergeable>, StoreError> {
        match atomic::read_regular(p, atomic::TASK_FILE_LIMIT) {
            Ok(data) => Ok(Ok(data)),
            // Too large, or not a regular file: unreadable as a task, which
            // the line merge can still show.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Ok(Err(Unmergeable {
                side,
                reason: e.to_string(),
            })),
            Err(source) => Err(StoreError::Io {
                what: "reading",
                path: p.to_path_buf(),
                source,
            }),
        }
    };
    let texts = (
        read("base", base)?,
        read("ours", ours)?,
        read("theirs", theirs)?,
    );
    let merged = match texts {
        (Ok(b), Ok(o), Ok(t)) => {
            // git writes an empty ancestor when the file was added on both
            // sides; no task file is empty.
            let b = (!b.is_empty()).then_some(&b[..]);
            merge_texts(path.and_then(stem_of), b, &o, &t)
        }
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
    };
    match merged {
        Ok(m) => {
            atomic::write_atomic(ours, m.text.as_bytes()).map_err(|source| StoreError::Io {
                what: "writing",
                path: ours.to_path_buf(),
                source,
            })?;
            Ok(Driven::Merged(m.clashes))
        }
        Err(why) => {
            // git's own merge, markers and all; its exit status (the number
            // of conflicts) does not matter: the file goes to a person.
            let _ = crate::git::program::Git::new(dir)
                .args([
                    "merge-file",
                    "-L",
                    "ours",
                    "-L",
                    "base",
                    "-L",
                    "theirs",
                    "--",
                ])
                .args([ours, base, theirs])
                .output();
            Ok(Driven::Conflict(why))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "id = \"bt-a1\"\ntitle = \"t\"\nstatus = \"open\"\npriority = 2\nkind = \"task\"\ncreated = \"2026-01-01T00:00:00Z\"\nupdated = \"2026-01-01T00:00:00Z\"\n";

    fn with_note(text: &str, at: &str, note: &str) -> String {
        format!(
            "{}\n[[notes]]\nat = \"{at}\"\nby = \"x\"\ntext = \"{note}\"\n",
            text.replace(
                "updated = \"2026-01-01T00:00:00Z\"",
                &format!("updated = \"{at}\"")
            )
        )
    }

    #[test]
    fn texts_merge_and_a_broken_side_is_named() {
        let ours = with_note(BASE, "2026-01-02T00:00:00Z", "ours");
        let theirs = with_note(BASE, "2026-01-03T00:00:00Z", "theirs");
        let m = merge_texts(
            Some("bt-a1"),
            Some(BASE.as_bytes()),
            ours.as_bytes(),
            theirs.as_bytes(),
        )
        .unwrap();
        let t = task::parse_task(&m.text).unwrap();
        assert_eq!(t.notes.len(), 2);
        assert_eq!(t.updated, "2026-01-03T00:00:00Z");

        let err = merge_texts(
            Some("bt-a1"),
            Some(BASE.as_bytes()),
            ours.as_bytes(),
            b"id = \"bt-a1\"\n<<<<<<< ours\n",
        )
        .unwrap_err();
        assert_eq!(err.side, "theirs");
        // The id must be the file's.
        let err = merge_texts(Some("bt-zz"), None, ours.as_bytes(), theirs.as_bytes()).unwrap_err();
        assert_eq!(err.side, "ours");
        assert!(err.reason.contains("does not match"), "{err}");
    }

    #[test]
    fn the_attribute_names_the_configured_driver() {
        let attr = format!("merge={}", crate::git::merge_driver::NAME);
        assert!(ATTRIBUTE_LINE.ends_with(&attr));
        assert!(ATTRIBUTES.lines().any(|l| l == ATTRIBUTE_LINE));
        assert!(crate::store::GITATTRIBUTES.ends_with(ATTRIBUTES));
    }

    #[test]
    fn the_id_comes_from_the_file_name() {
        assert_eq!(stem_of(".batch/tasks/bt-a1.toml"), Some("bt-a1"));
        assert_eq!(stem_of("bt-a1.toml"), Some("bt-a1"));
        assert_eq!(stem_of(".batch/tasks/.toml"), None);
        assert_eq!(stem_of(".batch/tasks/readme"), None);
    }
}
