//! `.batch/` files as they are at a commit rather than in a working tree:
//! a task at a branch's base or at the landing's trusted base, a receipt at
//! two points of a branch. One place that knows the paths and the parsing.

use super::{Store, cache};
use crate::task::Task;
use git2::{Oid, Repository};
use std::path::Path;

/// The bytes of `rel` at `commit` (`None` for the empty tree): `Ok(None)`
/// when the commit has no such file.
pub fn file_at(
    repo: &Repository,
    commit: Option<Oid>,
    rel: &str,
) -> Result<Option<Vec<u8>>, git2::Error> {
    let Some(commit) = commit else {
        return Ok(None);
    };
    let tree = repo.find_commit(commit)?.tree()?;
    let entry = match tree.get_path(Path::new(rel)) {
        Ok(entry) => entry,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(repo.find_blob(entry.id())?.content().to_vec()))
}

/// Task `id`'s file at `commit`, when it is there and reads as that task.
pub fn task_at(repo: &Repository, commit: Option<Oid>, id: &str) -> Option<Task> {
    let data = file_at(repo, commit, &Store::task_rel(id)).ok()??;
    cache::parse_file(&data, id).ok()
}

/// The lines of task `id`'s receipt at `commit` (none when it has none).
pub fn receipt_lines_at(repo: &Repository, commit: Oid, id: &str) -> Vec<String> {
    file_at(repo, Some(commit), &Store::receipt_rel(id))
        .ok()
        .flatten()
        .map(|data| {
            String::from_utf8_lossy(&data)
                .lines()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}
