//! Receipts: the log a worker writes while it works, one timestamped line
//! per step, in `.batch/receipts/<id>.log` of its worktree.
//!
//! Each line goes to the file in one `write` on a descriptor opened with
//! `O_APPEND`, so lines from many processes never interleave and a killed
//! writer loses at most the line it was writing; the file is fsynced before
//! the command returns, so a worker that dies leaves a receipt saying how far
//! it got. Receipts are committed by `done`, `fail` and `escalate`.

use super::WorkError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Appends each line of `lines` as `<RFC3339 UTC> <worker> <text>`; text
/// with newlines becomes several lines. Returns how many lines were written.
pub fn append(
    path: &Path,
    worker: &str,
    lines: impl IntoIterator<Item = String>,
) -> Result<usize, WorkError> {
    let io = |what: &'static str| {
        move |source| WorkError::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| WorkError::Io {
            what: "creating",
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(io("opening"))?;
    let mut written = 0;
    let mut buf = Vec::new();
    for text in lines {
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            buf.clear();
            // Built whole, then written in one call: never half a line.
            writeln!(buf, "{} {worker} {line}", crate::store::now()).expect("writes to a Vec");
            file.write_all(&buf).map_err(io("appending to"))?;
            written += 1;
        }
    }
    file.sync_data().map_err(io("syncing"))?;
    Ok(written)
}

/// Appends lines read from `input` as they come, each one on disk before the
/// next is read (a slow worker's progress survives its death).
pub fn append_stream(
    path: &Path,
    worker: &str,
    input: impl std::io::BufRead,
) -> Result<usize, WorkError> {
    let mut total = 0;
    for line in input.lines() {
        let line = line.map_err(|source| WorkError::Io {
            what: "reading standard input for",
            path: path.to_path_buf(),
            source,
        })?;
        total += append(path, worker, [line])?;
    }
    Ok(total)
}

/// Where `id`'s receipt is read from: its worktree while it has one, else
/// this working tree.
pub fn location(store: &crate::store::Store, id: &str) -> Result<PathBuf, WorkError> {
    let rel = super::worktree::receipt_rel(id);
    if let Some(wt) = super::worktree::find_worktree(&store.repo, id)? {
        return Ok(wt.join(rel));
    }
    Ok(store.root.join(rel))
}
