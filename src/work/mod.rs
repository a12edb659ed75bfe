//! A worker's life with one task: claiming it ([`claim`]), getting a
//! worktree on its own branch ([`worktree`]), the receipt it writes while
//! working ([`receipt`]), and finishing there ([`finish`]); a worktree of
//! only the task's scope when asked ([`sparse`]).

pub mod claim;
pub mod finish;
pub mod gates;
pub mod live;
pub mod receipt;
pub mod remove;
pub mod snapshot;
pub mod sparse;
pub mod stack;
pub mod worktree;

use crate::claims::ClaimError;
use crate::git::GitError;
use crate::graph::Blocker;
use crate::scope::ScopeError;
use crate::store::StoreError;
use crate::task::Status;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error(transparent)]
    Claim(#[from] ClaimError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("{id} is {status}; only an open task can be claimed")]
    NotOpen { id: String, status: Status },
    #[error("{id} is blocked: {}", blockers.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", "))]
    Blocked { id: String, blockers: Vec<Blocker> },
    #[error("{id} is an epic; claim its children instead")]
    Epic { id: String },
    #[error("invalid scope of {id}")]
    Scope {
        id: String,
        #[source]
        source: ScopeError,
    },
    #[error("no task given, and {dir} is not a worker worktree (its branch is not batch/<id>)")]
    NoCurrentTask { dir: PathBuf },
    #[error("{id} has no worker worktree")]
    NoWorktree { id: String },
    #[error("{id} changes files outside its scope ({scope}):\n{}", files.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n"))]
    OutOfScope {
        id: String,
        scope: String,
        files: Vec<String>,
    },
    #[error("{what}: {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{id}'s branch {branch} has {count} commit(s) that are not on {main}")]
    Unlanded {
        id: String,
        branch: String,
        count: usize,
        main: String,
    },
    #[error("{id}'s worktree {path} has uncommitted changes")]
    Dirty { id: String, path: PathBuf },
    #[error("{path} exists and is not {id}'s worktree")]
    PathTaken { id: String, path: PathBuf },
    #[error("{id} is claimed by {holder}, not by {worker}")]
    NotHolder {
        id: String,
        holder: String,
        worker: String,
    },
    #[error(
        "{id} is not committed on {branch}, where its worktree would start: the worker would find no task there"
    )]
    NotCommitted { id: String, branch: String },
}

pub use crate::git::refs::{task_of_branch, worker_branch as branch_of};
