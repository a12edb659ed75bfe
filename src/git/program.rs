//! The `git` program, for what must honour the user's setup: fetch and push
//! (credentials, ssh config, the remote's hooks), worktrees, and commits that
//! must run the repository's hooks. libgit2 does none of that.

use super::GitError;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `git args...` in `dir` and returns its output whatever the status.
pub fn run(dir: &Path, args: &[&str]) -> Result<Output, GitError> {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        // A prompt would hang a worker pool; fail instead.
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|source| GitError::Spawn {
            args: args.join(" "),
            source,
        })
}

/// Runs `git args...` in `dir`; a non-zero exit is an error carrying stderr.
pub fn ok(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let out = run(dir, args)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(failed(args, &out))
    }
}

/// The repository's turn for git commands that add or remove worktrees, or
/// delete a branch (git checks every worktree first): while git does that it
/// reads each worktree's admin files and fails outright on one that another
/// process is still writing (`failed to read .../commondir`). So git-batch's
/// own such commands take turns; released when dropped or the process dies.
/// `common_dir` is the repository's (shared by its worktrees).
pub fn worktree_turn(common_dir: &Path) -> Result<std::fs::File, GitError> {
    super::lock_file(&common_dir.join("batch").join("worktrees.lock"))
}

/// The error for a `git` run that exited non-zero.
pub fn failed(args: &[&str], out: &Output) -> GitError {
    GitError::Program {
        args: args.join(" "),
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }
}

/// A fallback identity (as `GIT_*_NAME`/`EMAIL` variables) for commits made
/// with the git program when git has none (a fresh machine, a CI runner),
/// where `git commit` would refuse. Asked of git itself (`git var`), since
/// libgit2 does not read the same configuration (`GIT_CONFIG_GLOBAL`).
///
/// Asked once per repository and process: a `run` commits for every task,
/// and the answer does not change under it.
pub fn identity_env(repo: &git2::Repository) -> Vec<(String, String)> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Env = Vec<(String, String)>;
    static KNOWN: OnceLock<Mutex<HashMap<std::path::PathBuf, Env>>> = OnceLock::new();
    let key = repo.commondir().to_path_buf();
    let known = KNOWN.get_or_init(Default::default);
    if let Some(env) = known.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return env;
    }
    let env = ask_identity(repo);
    if let Ok(mut m) = known.lock() {
        m.insert(key, env.clone());
    }
    env
}

fn ask_identity(repo: &git2::Repository) -> Vec<(String, String)> {
    let dir = repo.workdir().unwrap_or_else(|| repo.path());
    let mut env = Vec::new();
    for role in ["AUTHOR", "COMMITTER"] {
        let known = run(dir, &["var", &format!("GIT_{role}_IDENT")])
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !known {
            env.push((format!("GIT_{role}_NAME"), "git-batch".to_string()));
            env.push((
                format!("GIT_{role}_EMAIL"),
                "git-batch@localhost".to_string(),
            ));
        }
    }
    env
}
