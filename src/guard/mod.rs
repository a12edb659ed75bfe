//! The scope guard: the git hooks that keep workers inside their scopes
//! ([`hooks`] installs them, [`commit`] is what they check), the
//! independence check of a set of tasks and the range check of commits
//! that `--no-verify` cannot dodge ([`check`]).

pub mod check;
pub mod commit;
pub mod hooks;
pub mod trust;

use crate::git::GitError;
use crate::store::StoreError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Work(#[from] crate::work::WorkError),
    #[error("{what}: {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} and {chained} both exist; git-batch will not guess which hook is whose")]
    BothHooks { path: PathBuf, chained: PathBuf },
    #[error("'{range}' is not a range: give it as A..B")]
    BadRange { range: String },
    #[error("unknown hook '{name}'")]
    UnknownHook { name: String },
    #[error("the hook {path} that git-batch chains to could not run")]
    Chained {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn git2_err(what: impl Into<String>) -> impl FnOnce(git2::Error) -> GuardError {
    let what = what.into();
    move |source| GuardError::Git(GitError::Git { what, source })
}

/// One thing a check or hook found wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// Two tasks of the set can touch the same files.
    Overlap {
        a: String,
        b: String,
        overlap: crate::scope::Overlap,
    },
    /// A dependency cycle, as `[a, b, ..., a]`.
    Cycle { path: Vec<String> },
    /// A dependency (or parent) on a task that does not exist.
    UnknownDep { task: String, dep: String },
    /// A task of the set waits for another task of the set.
    DependsWithinSet { task: String, on: String },
    /// A readiness rule the task misses.
    Readiness {
        task: String,
        rule: String,
        message: String,
    },
    /// Files changed outside the task's scope.
    OutOfScope {
        task: String,
        scope: Vec<String>,
        files: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
    },
    /// A task file that does not parse or does not fit the graph.
    BadTaskFile {
        path: String,
        line: usize,
        message: String,
    },
    /// A commit whose `Batch-Task` trailer names no task.
    UnknownTask { commit: String, task: String },
    /// A push a worker must not make.
    Push { refname: String, message: String },
    /// A commit changes a file of `.batch/` that is not its task's to change.
    Forbidden {
        task: String,
        commit: String,
        path: String,
        why: String,
    },
    /// A push to the claims ref that git-batch would never make.
    ClaimsPush { commit: String, message: String },
    /// A commit on a task's ref names another task in its trailer.
    ForeignTrailer {
        task: String,
        commit: String,
        named: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Overlap { a, b, overlap } => {
                write!(f, "{a} and {b} overlap: {}", overlap.describe())
            }
            Problem::Cycle { path } => write!(f, "dependency cycle: {}", path.join(" -> ")),
            Problem::UnknownDep { task, dep } => write!(f, "{task} depends on unknown task {dep}"),
            Problem::DependsWithinSet { task, on } => {
                write!(f, "{task} waits for {on}, which is in the same set")
            }
            Problem::Readiness { task, message, .. } => write!(f, "{task}: {message}"),
            Problem::OutOfScope {
                task,
                scope,
                files,
                commit,
            } => {
                let at = commit
                    .as_ref()
                    .map(|c| format!("commit {} ", crate::git::short(c)))
                    .unwrap_or_default();
                write!(
                    f,
                    "{at}changes files outside the scope of {task} ({}):",
                    if scope.is_empty() {
                        "no scope".to_string()
                    } else {
                        scope.join(" ")
                    }
                )?;
                for file in files {
                    write!(f, "\n  {file}")?;
                }
                Ok(())
            }
            Problem::BadTaskFile {
                path,
                line,
                message,
            } => write!(f, "{path}:{line}: {message}"),
            Problem::UnknownTask { commit, task } => write!(
                f,
                "commit {} names task {task} in its Batch-Task trailer, and there is no such task",
                crate::git::short(commit)
            ),
            Problem::Push { refname, message } => write!(f, "{refname}: {message}"),
            Problem::Forbidden {
                task,
                commit,
                path,
                why,
            } => write!(
                f,
                "commit {} of {task} {why} ({path})",
                crate::git::short(commit)
            ),
            Problem::ClaimsPush { commit, message } => {
                write!(f, "claims commit {}: {message}", crate::git::short(commit))
            }
            Problem::ForeignTrailer {
                task,
                commit,
                named,
            } => write!(
                f,
                "commit {} is on the branch of {task} but its Batch-Task trailer names {named}; it is judged as {task}'s",
                crate::git::short(commit)
            ),
        }
    }
}
