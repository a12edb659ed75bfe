//! Sparse worker worktrees (opt-in: `workers.sparse`, `run --sparse`,
//! `start --sparse`): only the task's scope and `.batch/` are checked out,
//! the rest of the tree stays in the index with git's skip-worktree bit.
//! The checkout of the whole tree is most of what a new worktree costs, and
//! a worker that changes one file rarely needs the others; one whose tests
//! or tools do runs without it, or `git sparse-checkout disable` in its
//! worktree brings the rest.
//!
//! Nothing the scope guard decides comes from here: the scope is the task's
//! at the main tip (the claim), what a commit changes is the commit's, and a
//! skipped file stays out of `git add --all` and so out of every commit.
//!
//! Every worker worktree, sparse or not, is added with `--no-checkout` under
//! the worktree turn and checked out here after it ([`checkout`]: the whole
//! tree when there are no patterns), so parallel starts do not wait for each
//! other's checkouts. A crash between the worktree's creation and its
//! checkout is finished by the next start from a marker written before the
//! worktree exists.

use super::WorkError;
use crate::git::program::Git;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Characters that make a scope component a pattern (the scope's globs,
/// `globset`'s alternation and escapes): a sparse pattern is made of the
/// literal directories before them, never of the glob itself, so it can
/// only check out more than the scope, never less.
const WILD: &[char] = &['*', '?', '[', ']', '{', '}', '\\'];

/// The sparse-checkout patterns (git's non-cone, gitignore-like lines) for a
/// task with scope `globs`: `.batch/` and, for each included glob, the glob
/// itself when it names one path, else the literal directory it starts
/// with. `None` when that is the whole tree (no scope, or a glob such as
/// `**/Cargo.toml` that can match anywhere): then the checkout is full.
pub fn patterns(globs: &[String]) -> Option<Vec<String>> {
    let mut out = vec!["/.batch/".to_string()];
    let mut any = false;
    for glob in globs {
        if glob.starts_with('!') {
            // An exclusion only takes away from the scope: checking its
            // files out anyway is harmless.
            continue;
        }
        let body = glob.trim_matches('/');
        let literal: Vec<&str> = body.split('/').take_while(|c| !c.contains(WILD)).collect();
        let whole = literal.len() == body.split('/').count();
        let mut prefix = literal.join("/");
        if prefix.ends_with(' ') || prefix.contains(['\n', '\r']) {
            // Trailing blanks end a pattern line: the parent holds it.
            prefix = match prefix.rsplit_once('/') {
                Some((dir, _)) => dir.to_string(),
                None => String::new(),
            };
        }
        if prefix.is_empty() || prefix.contains(['\n', '\r']) {
            return None;
        }
        // A literal path is a file or a directory's subtree (as in the
        // scope); a pattern's literal directory is checked out whole.
        out.push(if whole {
            format!("/{prefix}")
        } else {
            format!("/{prefix}/")
        });
        any = true;
    }
    any.then_some(out)
}

/// Where the pending checkout of `id`'s worktree is recorded: written
/// before `git worktree add --no-checkout`, removed once the checkout is
/// complete. It holds the patterns, so the checkout can be finished without
/// anything else.
fn marker(common_dir: &Path, id: &str) -> PathBuf {
    common_dir
        .join("batch")
        .join("sparse")
        .join(format!("{id}.pending"))
}

/// Records that `id`'s worktree is about to be made, to be checked out
/// with `patterns` (none: the whole tree).
pub fn begin(common_dir: &Path, id: &str, patterns: &[String]) -> Result<(), WorkError> {
    let path = marker(common_dir, id);
    let io = |what| {
        let path = path.clone();
        move |source| WorkError::Io { what, path, source }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("creating"))?;
    }
    let text: String = patterns.iter().map(|p| format!("{p}\n")).collect();
    crate::atomic::write_atomic(&path, text.as_bytes()).map_err(io("writing"))
}

/// Forgets a pending checkout of `id` that never got its worktree.
pub fn cancel(common_dir: &Path, id: &str) {
    let _ = std::fs::remove_file(marker(common_dir, id));
}

/// The patterns of `id`'s checkout when one was begun and not finished (the
/// process making it died): the worktree's files cannot be trusted yet.
/// No patterns: the whole tree.
pub fn pending(common_dir: &Path, id: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(marker(common_dir, id)).ok()?;
    Some(
        text.lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
    )
}

/// Checks out `patterns` (none: the whole tree) in the worktree at `path`
/// (made with `--no-checkout`, or left half-done by a crash: the files
/// there are overwritten, nothing of a worker's is there yet), then removes
/// the marker. The sparse setting is given to this one git command only:
/// the skip-worktree bits it leaves in the index are what the worktree's
/// later commands go by, and the repository's config is not touched.
pub fn checkout(
    common_dir: &Path,
    id: &str,
    path: &Path,
    patterns: &[String],
) -> Result<(), WorkError> {
    let io = |what, p: &Path| {
        let path = p.to_path_buf();
        move |source| WorkError::Io { what, path, source }
    };
    let read_tree = ["read-tree", "--reset", "-u", "HEAD"];
    if patterns.is_empty() {
        Git::new(path).args(read_tree).ok()?;
    } else {
        let git_dir = worktree_git_dir(path)?;
        let info = git_dir.join("info");
        let file = info.join("sparse-checkout");
        std::fs::create_dir_all(&info).map_err(io("creating", &info))?;
        let text = patterns.join("\n") + "\n";
        crate::atomic::write_atomic(&file, text.as_bytes()).map_err(io("writing", &file))?;
        Git::new(path)
            .config("core.sparseCheckout", "true")
            .config("core.sparseCheckoutCone", "false")
            .args(read_tree)
            .ok()?;
    }
    let done = marker(common_dir, id);
    std::fs::remove_file(&done).map_err(io("removing", &done))
}

/// The git dir of the worktree at `path`, from its `.git` file.
fn worktree_git_dir(path: &Path) -> Result<PathBuf, WorkError> {
    let dot_git = path.join(".git");
    let text = std::fs::read_to_string(&dot_git).map_err(|source| WorkError::Io {
        what: "reading",
        path: dot_git.clone(),
        source,
    })?;
    let dir = text
        .lines()
        .find_map(|l| l.strip_prefix("gitdir: "))
        .map(str::trim_end)
        .ok_or_else(|| WorkError::Io {
            what: "reading the git dir named in",
            path: dot_git.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "no `gitdir:` line"),
        })?;
    Ok(path.join(dir))
}

/// The index's paths with the skip-worktree bit: not checked out, so their
/// absence from the worktree is no deletion (libgit2's status reports them
/// deleted; git itself does not).
pub fn skipped(repo: &git2::Repository) -> HashSet<String> {
    // GIT_INDEX_ENTRY_SKIP_WORKTREE, in the extended flags.
    const SKIP_WORKTREE: u16 = 1 << 14;
    let Ok(index) = repo.index() else {
        return HashSet::new();
    };
    index
        .iter()
        .filter(|e| e.flags_extended & SKIP_WORKTREE != 0)
        .filter_map(|e| String::from_utf8(e.path).ok())
        .collect()
}

/// Whether a status entry is only a skipped file's absence.
pub fn only_skipped(skipped: &HashSet<String>, entry: &git2::StatusEntry<'_>) -> bool {
    entry.status() == git2::Status::WT_DELETED && entry.path().is_ok_and(|p| skipped.contains(p))
}

#[cfg(test)]
mod tests {
    use super::patterns;

    fn p(globs: &[&str]) -> Option<Vec<String>> {
        patterns(&globs.iter().map(|g| g.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn literal_paths_and_pattern_directories() {
        assert_eq!(
            p(&["src/a.rs", "docs/", "src/run/*.rs", "!src/run/x.rs"]).unwrap(),
            ["/.batch/", "/src/a.rs", "/docs", "/src/run/"]
        );
    }

    #[test]
    fn the_whole_tree_when_a_glob_can_match_anywhere() {
        assert_eq!(p(&[]), None);
        assert_eq!(p(&["!x"]), None);
        assert_eq!(p(&["**/Cargo.toml"]), None);
        assert_eq!(p(&["*.md", "src/a.rs"]), None);
        assert_eq!(p(&["{a,b}/x"]), None);
    }
}
