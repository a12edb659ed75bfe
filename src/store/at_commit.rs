//! `.batch/` files as they are at a commit rather than in a working tree:
//! a task at a branch's base or at the landing's trusted base, a receipt at
//! two points of a branch. One place that knows the paths and the parsing.

use super::{Store, cache};
use crate::task::Task;
use git2::{Oid, Repository, Tree};
use std::cell::RefCell;
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
        .map(|data| lines(&data))
        .unwrap_or_default()
}

fn lines(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data)
        .lines()
        .map(String::from)
        .collect()
}

/// How many directories [`Dirs`] keeps: a review asks, per task, for its
/// branch's tasks and receipts, and between them for the same commit's
/// (the fork most branches share, the main tip, a landing).
const KEEP: usize = 6;

/// [`task_at`] and [`receipt_lines_at`] for a view over many tasks: the
/// last few `.batch/tasks` and `.batch/receipts` trees read are kept, so
/// that a commit many tasks ask about has its tree (as large as the plan)
/// read once, not once per task. The answers are those of the functions.
pub struct Dirs<'r> {
    repo: &'r Repository,
    recent: RefCell<Vec<(Oid, String, Option<Tree<'r>>)>>,
}

impl<'r> Dirs<'r> {
    pub fn new(repo: &'r Repository) -> Dirs<'r> {
        Dirs {
            repo,
            recent: RefCell::new(Vec::new()),
        }
    }

    pub fn task_at(&self, commit: Option<Oid>, id: &str) -> Option<Task> {
        let data = self.file(commit?, &Store::task_rel(id))?;
        cache::parse_file(&data, id).ok()
    }

    pub fn receipt_lines_at(&self, commit: Oid, id: &str) -> Vec<String> {
        self.file(commit, &Store::receipt_rel(id))
            .map(|data| lines(&data))
            .unwrap_or_default()
    }

    /// The file `rel` at `commit`, its directory's tree kept.
    fn file(&self, commit: Oid, rel: &str) -> Option<Vec<u8>> {
        let (dir, name) = rel.rsplit_once('/')?;
        let mut recent = self.recent.borrow_mut();
        match recent.iter().position(|(c, d, _)| *c == commit && d == dir) {
            // The newest last: what is asked for again stays.
            Some(i) => {
                let hit = recent.remove(i);
                recent.push(hit);
            }
            None => {
                let tree = self
                    .repo
                    .find_commit(commit)
                    .and_then(|c| c.tree())
                    .and_then(|t| t.get_path(Path::new(dir)))
                    .and_then(|e| e.to_object(self.repo))
                    .ok()
                    .and_then(|o| o.into_tree().ok());
                if recent.len() == KEEP {
                    recent.remove(0);
                }
                recent.push((commit, dir.to_string(), tree));
            }
        }
        let (_, _, tree) = recent.last()?;
        let entry = tree.as_ref()?.get_name(name)?;
        Some(self.repo.find_blob(entry.id()).ok()?.content().to_vec())
    }
}
