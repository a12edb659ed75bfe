//! The one way git-batch runs the `git` program, for what must honour the
//! user's setup: fetch and push (credentials, ssh config, the remote's
//! hooks), worktrees, and commits that must run the repository's hooks.
//! libgit2 does none of that.
//!
//! Every `git` process is built by [`Git`]: the language of git's messages
//! is pinned (so that an error shown to a user reads the same everywhere and
//! nothing can come to depend on a translation), no prompt can hang a
//! worker, and identity, hooks and the landing's marker are typed options.
//! Outcomes are decided by exit codes and porcelain output ([`push`],
//! [`remote_ref`]), never by message text.

use super::GitError;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Whether the repository's hooks run for this git process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hooks {
    /// As configured (a worker's commits go through the scope guard).
    Run,
    /// None at all: the landing's replays are not a worker's commits.
    Skip,
}

/// One `git` invocation, built up and then run once.
#[must_use]
pub struct Git {
    dir: PathBuf,
    /// `-c key=value` settings, which git takes before the subcommand.
    config: Vec<String>,
    args: Vec<OsString>,
    env: Vec<(&'static str, String)>,
    /// What the process reads on stdin; none (closed) unless given.
    input: Option<Vec<u8>>,
}

impl Git {
    /// `git` run in `dir`.
    pub fn new(dir: &Path) -> Git {
        Git {
            dir: dir.to_path_buf(),
            config: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            input: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Git {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Git
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// A `-c key=value` setting for this process only.
    pub fn config(mut self, key: &str, value: &str) -> Git {
        self.config.push(format!("{key}={value}"));
        self
    }

    pub fn hooks(self, hooks: Hooks) -> Git {
        match hooks {
            Hooks::Run => self,
            Hooks::Skip => self.config("core.hooksPath", "/dev/null"),
        }
    }

    /// Commits made by this process get git-batch's fallback identity for
    /// each role git itself has none for (see [`super::identity`]); git
    /// would refuse to commit otherwise. A role git knows is left to git.
    pub fn identity(mut self, repo: &git2::Repository) -> Git {
        self.env.extend(super::identity::fallback_env(repo));
        self
    }

    /// The same, with the variables [`super::identity::fallback_env`] gave
    /// (for a caller that keeps them instead of the repository).
    pub fn identity_env(mut self, env: &[(&'static str, String)]) -> Git {
        self.env.extend(env.iter().cloned());
        self
    }

    /// Gives the process `input` on its stdin (for `--stdin` commands).
    pub fn input(mut self, input: Vec<u8>) -> Git {
        self.input = Some(input);
        self
    }

    /// Marks the process as the landing's, which our own `pre-push` hook
    /// lets through (the landing checks every branch itself).
    pub fn landing(mut self) -> Git {
        self.env.push(("GIT_BATCH_LANDING", "1".into()));
        self
    }

    /// The arguments as one line, for messages.
    fn describe(&self) -> String {
        self.args
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("git");
        for c in &self.config {
            cmd.arg("-c").arg(c);
        }
        cmd.args(&self.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            // A prompt would hang a worker pool; fail instead.
            .env("GIT_TERMINAL_PROMPT", "0");
        pin_messages(&mut cmd);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs it and returns its output whatever the exit status.
    pub fn output(self) -> Result<Output, GitError> {
        let spawn_err = |source| GitError::Spawn {
            args: self.describe(),
            source,
        };
        let mut cmd = self.command();
        let Some(input) = &self.input else {
            return cmd.output().map_err(spawn_err);
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // Written from another thread: git may fill its output pipes
        // before it has read all of its input.
        std::thread::scope(|s| {
            s.spawn(move || {
                use std::io::Write;
                // A git that exits early (bad input) closes the pipe; its
                // exit status says so.
                let _ = stdin.write_all(input);
            });
            child.wait_with_output().map_err(spawn_err)
        })
    }

    /// Runs it; a non-zero exit is an error carrying stderr. Returns stdout.
    pub fn ok(self) -> Result<String, GitError> {
        let args = self.describe();
        let out = self.output()?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(failed_with(args, &out))
        }
    }

    /// Runs it and says whether it exited 0; anything else it printed is
    /// dropped (for best-effort clean-ups).
    pub fn succeeds(self) -> Result<bool, GitError> {
        Ok(self.output()?.status.success())
    }
}

/// git's messages in English whatever the user's locale (`LC_MESSAGES=C`,
/// with `LC_ALL` and `LANGUAGE` removed because they would override it),
/// while the user's `LANG` (and `LC_ALL`'s character set, moved to
/// `LC_CTYPE`) still decides how file names are read and printed.
fn pin_messages(cmd: &mut Command) {
    if let Some(all) = std::env::var_os("LC_ALL")
        && std::env::var_os("LC_CTYPE").is_none()
        && !all.is_empty()
    {
        cmd.env("LC_CTYPE", all);
    }
    cmd.env_remove("LC_ALL")
        .env_remove("LANGUAGE")
        .env("LC_MESSAGES", "C");
}

/// Runs `git args...` in `dir` and returns its output whatever the status.
pub fn run(dir: &Path, args: &[&str]) -> Result<Output, GitError> {
    Git::new(dir).args(args).output()
}

/// Runs `git args...` in `dir`; a non-zero exit is an error carrying stderr.
pub fn ok(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    Git::new(dir).args(args).ok()
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

/// Adds a detached scratch worktree at `path` on `commit` (for the
/// landing, a gate), taking the worktree turn; `root` is the main working
/// tree, where `git worktree` runs.
pub fn add_scratch_worktree(
    root: &Path,
    common_dir: &Path,
    path: &Path,
    commit: git2::Oid,
) -> Result<(), GitError> {
    let p = path.to_string_lossy().into_owned();
    let _turn = worktree_turn(common_dir)?;
    ok(
        root,
        &[
            "worktree",
            "add",
            "--quiet",
            "--detach",
            &p,
            &commit.to_string(),
        ],
    )?;
    Ok(())
}

/// Removes a scratch worktree, best effort (also after failures and for
/// leftovers of a killed process). Twice forced: a process killed inside
/// `git worktree add` leaves the worktree locked ("initializing"), which
/// one --force keeps and which would make every later add fail.
pub fn remove_scratch_worktree(root: &Path, common_dir: &Path, path: &Path) {
    let p = path.to_string_lossy().into_owned();
    let _turn = worktree_turn(common_dir);
    let _ = run(root, &["worktree", "remove", "--force", "--force", &p]);
    if path.exists() {
        let _ = std::fs::remove_dir_all(path);
    }
    let _ = run(root, &["worktree", "prune"]);
}

/// `PATH` with this program's directory first, so `git batch` in a worker
/// (and in the hooks it triggers) is the same git-batch as the run's.
pub fn path_with_self() -> std::ffi::OsString {
    let mut path = std::ffi::OsString::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(std::path::Path::to_path_buf))
    {
        path.push(dir);
        path.push(":");
    }
    path.push(std::env::var_os("PATH").unwrap_or_default());
    path
}

/// The error for a `git` run that exited non-zero.
pub fn failed(args: &[&str], out: &Output) -> GitError {
    failed_with(args.join(" "), out)
}

fn failed_with(args: String, out: &Output) -> GitError {
    GitError::Program {
        args,
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }
}

/// Where a ref stands on a remote, asked with `ls-remote --exit-code`.
/// `None` when the remote has no such ref.
pub fn remote_ref(dir: &Path, remote: &str, refname: &str) -> Result<Option<git2::Oid>, GitError> {
    let git = Git::new(dir).args(["ls-remote", "--exit-code", "--", remote, refname]);
    let args = git.describe();
    let out = git.output()?;
    // Exit 2 is ls-remote's documented "no matching refs".
    if out.status.code() == Some(2) {
        return Ok(None);
    }
    if !out.status.success() {
        return Err(failed_with(args, &out));
    }
    // The pattern matches by the ref name's tail: take the exact name only.
    let stdout = String::from_utf8_lossy(&out.stdout);
    Ok(stdout.lines().find_map(|line| {
        let (oid, name) = line.split_once('\t')?;
        (name == refname).then(|| git2::Oid::from_str(oid).ok())?
    }))
}

/// What became of a push, read from `git push --porcelain`.
#[derive(Debug)]
pub enum Pushed {
    /// Every ref was updated (or already up to date).
    Done,
    /// Some ref was rejected (flag `!`), by a lease or fast-forward check
    /// here or by the remote. With `--atomic`, nothing was updated. Whether
    /// it lost a race is for the caller to tell from where the ref is now.
    Rejected {
        refs: Vec<String>,
        /// What git said, for the error when it was not a race.
        error: GitError,
    },
}

/// Runs a push built in `git` (which must include `--porcelain`) and reads
/// its ref status lines: `<flag>\t<from>:<to>\t<summary>`. A failure with no
/// rejected ref (the remote unreachable, a bad name) is an error.
pub fn push(git: Git) -> Result<Pushed, GitError> {
    let args = git.describe();
    let out = git.output()?;
    if out.status.success() {
        return Ok(Pushed::Done);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let refs: Vec<String> = stdout
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("!\t")?;
            let (spec, _summary) = rest.split_once('\t').unwrap_or((rest, ""));
            let to = spec.rsplit_once(':').map_or(spec, |(_, to)| to);
            Some(to.to_string())
        })
        .collect();
    let error = failed_with(args, &out);
    if refs.is_empty() {
        return Err(error);
    }
    Ok(Pushed::Rejected { refs, error })
}

/// Refuses a remote name or ref from a file or flag that git could read as
/// an option (a leading `-`), or that is empty. Callers also pass such
/// values after `--` where git allows it.
pub fn check_operand(what: &str, value: &str) -> Result<(), GitError> {
    if value.is_empty() || value.starts_with('-') || value.chars().any(char::is_control) {
        return Err(GitError::BadOperand {
            what: what.to_string(),
            value: value.escape_debug().to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands_that_look_like_options_are_refused() {
        assert!(check_operand("remote", "origin").is_ok());
        assert!(check_operand("remote", "--upload-pack=touch x").is_err());
        assert!(check_operand("remote", "-x").is_err());
        assert!(check_operand("remote", "").is_err());
        assert!(check_operand("remote", "a\nb").is_err());
    }

    #[test]
    fn messages_are_pinned_but_the_character_set_is_kept() {
        let mut cmd = Command::new("true");
        pin_messages(&mut cmd);
        let envs: Vec<_> = cmd.get_envs().collect();
        let get = |k: &str| {
            envs.iter()
                .find(|(name, _)| *name == OsStr::new(k))
                .map(|(_, v)| *v)
        };
        assert_eq!(get("LC_MESSAGES"), Some(Some(OsStr::new("C"))));
        assert_eq!(get("LC_ALL"), Some(None), "LC_ALL is removed");
        assert_eq!(get("LANGUAGE"), Some(None), "LANGUAGE is removed");
    }
}
