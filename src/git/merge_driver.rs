//! The clone's merge driver for task files: `.batch/.gitattributes` names
//! it (`merge=batch-task`), and this sets what it runs, so that a user's
//! `git pull`, `merge` or `rebase` merges task files field by field as a
//! landing does, instead of conflicting over two appended notes.
//!
//! The command is fixed here, never built from a file: attributes come with
//! the history anyone can push, the command only from this clone's config.

use super::program::Git;
use super::{GitError, identity};
use git2::Repository;

/// The driver's name, as `.batch/.gitattributes` gives it.
pub const NAME: &str = "batch-task";

/// What git runs, by the binary's own name (`git batch` is `git-batch` on
/// PATH): the ancestor, ours (where the result goes), theirs, the path.
pub const COMMAND: &str = "git-batch merge-task %O %A %B %P";

/// Sets `merge.batch-task.driver` and `.name` in the repository's config
/// when git has no driver of that name (one the user set, anywhere, is
/// left alone). True when it was set now.
pub fn ensure(repo: &Repository) -> Result<bool, GitError> {
    let driver = format!("merge.{NAME}.driver");
    if identity::config_string(repo, &driver).is_some() {
        return Ok(false);
    }
    let dir = repo.workdir().unwrap_or_else(|| repo.path());
    let name = format!("merge.{NAME}.name");
    let set = |key: &str, value: &str| Git::new(dir).args(["config", key, value]).ok();
    // The name first: the driver's presence is what says "done".
    let written =
        set(&name, "git-batch task files, field by field").and_then(|_| set(&driver, COMMAND));
    match written {
        Ok(_) => Ok(true),
        // Another git-batch of this clone set it at the same moment (git
        // locks the config file for one writer).
        Err(_) if identity::config_string(repo, &driver).is_some() => Ok(false),
        Err(e) => Err(e),
    }
}
