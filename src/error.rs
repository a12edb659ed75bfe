//! The one error type commands return: the error with its chain of causes,
//! hints on how to fix it, and the exit code scripts branch on (documented
//! in `docs/cli.md`).

use crate::beads::BeadsError;
use crate::edit::EditError;
use crate::git::GitError;
use crate::store::StoreError;
use std::error::Error as StdError;

/// Exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A user error, or a check that found problems.
    User = 1,
    /// The command line itself is wrong.
    Usage = 2,
    /// Another worker won (a claim race, an overlap).
    Conflict = 3,
    /// A run stopped before its end (Ctrl-C, --pause-after, repeated
    /// temporary failures); the same command continues it (EX_TEMPFAIL).
    Stopped = 75,
    /// A bug or an environment failure.
    Internal = 255,
}

#[derive(Debug)]
pub struct CommandError {
    pub exit: Exit,
    pub error: Box<dyn StdError + Send + Sync>,
    pub hints: Vec<String>,
}

/// A plain message as an error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Message(pub String);

/// A message with the error that caused it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct WithCause {
    pub message: String,
    #[source]
    pub source: Box<dyn StdError + Send + Sync>,
}

impl CommandError {
    /// An error saying what failed, with the underlying error as its cause.
    pub fn context(
        exit: Exit,
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> CommandError {
        CommandError::new(
            exit,
            WithCause {
                message: message.into(),
                source: source.into(),
            },
        )
    }

    pub fn new(exit: Exit, error: impl Into<Box<dyn StdError + Send + Sync>>) -> CommandError {
        CommandError {
            exit,
            error: error.into(),
            hints: Vec::new(),
        }
    }

    pub fn user(message: impl Into<String>) -> CommandError {
        CommandError::new(Exit::User, Message(message.into()))
    }

    pub fn usage(message: impl Into<String>) -> CommandError {
        CommandError::new(Exit::Usage, Message(message.into()))
    }

    pub fn hint(mut self, hint: impl Into<String>) -> CommandError {
        self.hints.push(hint.into());
        self
    }

    /// A hint that applies only when `cond` holds.
    pub fn hint_if(self, cond: bool, hint: impl Into<String>) -> CommandError {
        if cond { self.hint(hint) } else { self }
    }

    /// The messages of the error's causes, outermost first.
    pub fn causes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut source = self.error.source();
        while let Some(s) = source {
            // libgit2's own text, without its `; class=..; code=..` tail,
            // which says nothing to a user.
            match s.downcast_ref::<git2::Error>() {
                Some(g) => out.push(g.message().to_string()),
                None => out.push(s.to_string()),
            }
            source = s.source();
        }
        out
    }

    /// The error as printed on stderr: `Error:`, `Caused by:`, `Hint:`.
    pub fn render(&self) -> String {
        let mut text = format!("Error: {}\n", self.error);
        for cause in self.causes() {
            text.push_str(&format!("Caused by: {cause}\n"));
        }
        for hint in &self.hints {
            text.push_str(&format!("Hint: {hint}\n"));
        }
        text
    }

    /// The error as one JSON line, for `--json`.
    pub fn render_json(&self) -> String {
        serde_json::json!({
            "error": self.error.to_string(),
            "causes": self.causes(),
            "hints": self.hints,
            "exit_code": self.exit as u8,
        })
        .to_string()
            + "\n"
    }

    /// True when the error is a closed stdout (`git batch list | head`).
    pub fn is_broken_pipe(&self) -> bool {
        self.error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

impl From<std::io::Error> for CommandError {
    fn from(e: std::io::Error) -> Self {
        CommandError::new(Exit::Internal, e)
    }
}

impl From<GitError> for CommandError {
    fn from(e: GitError) -> Self {
        let (exit, hint) = match &e {
            GitError::NotARepo { .. } => (
                Exit::User,
                Some("run it inside a git repository, or pass -C <dir>".to_string()),
            ),
            GitError::Bare { .. } => (
                Exit::User,
                Some("run it in a clone with a working tree".into()),
            ),
            GitError::Busy { .. } => (
                Exit::User,
                Some("finish or abort it first, or pass --no-commit".into()),
            ),
            GitError::BadDate { .. } | GitError::Program { .. } => (Exit::User, None),
            GitError::IndexLocked { .. } => (
                Exit::User,
                Some("wait for that git to finish; if none is running, remove the lock file (git left it)".into()),
            ),
            GitError::BadOperand { .. } => (
                Exit::User,
                Some(
                    "fix the value where it was set (.batch/config.toml, a plan, or the flag)"
                        .into(),
                ),
            ),
            _ => (Exit::Internal, None),
        };
        let mut err = CommandError::new(exit, e);
        err.hints.extend(hint);
        err
    }
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Git(g) => g.into(),
            StoreError::NotInitialized { .. } => {
                CommandError::new(Exit::User, e).hint("run `git batch init` first")
            }
            StoreError::Malformed { .. } => CommandError::new(Exit::User, e)
                .hint("fix the file by hand (or `git checkout` it), then run the command again"),
            StoreError::NewerFormat { .. } => {
                CommandError::new(Exit::User, e).hint("upgrade git-batch")
            }
            StoreError::UnknownTask { .. } => {
                CommandError::new(Exit::User, e).hint("`git batch list --all` shows every task id")
            }
            StoreError::BadId(_) => CommandError::new(Exit::User, e),
            StoreError::PrefixMismatch { .. } => CommandError::new(Exit::User, e)
                .hint("the prefix only affects new ids; edit .batch/config.toml to change it"),
            // A link or an oversized file, refused on purpose: the user's to fix.
            StoreError::Io { ref source, .. }
                if source.kind() == std::io::ErrorKind::InvalidData =>
            {
                CommandError::new(Exit::User, e)
                    .hint("replace it with a regular file (`git checkout -- <file>` restores the committed one)")
            }
            StoreError::Io { .. } | StoreError::Cache(_) => CommandError::new(Exit::Internal, e),
        }
    }
}

impl From<crate::store::SettingsError> for CommandError {
    fn from(e: crate::store::SettingsError) -> Self {
        // The files were checked when they were read: what is left is a flag.
        CommandError::new(Exit::Usage, e)
    }
}

impl From<EditError> for CommandError {
    fn from(e: EditError) -> Self {
        match e {
            EditError::Store(s) => s.into(),
            EditError::UnknownRef { .. } => CommandError::new(Exit::User, e)
                .hint("create it first, or check the id with `git batch list --all`"),
            EditError::Cycle { .. } => CommandError::new(Exit::User, e)
                .hint("remove one of the edges with `git batch dep rm`, or leave this one out"),
            EditError::BrokenGraph { .. } => CommandError::new(Exit::User, e)
                .hint("fix those files first (`git batch list` shows each problem)"),
            EditError::Invalid(_) => CommandError::new(Exit::User, e),
            EditError::NoFreeId(_) => CommandError::new(Exit::Internal, e),
            EditError::Scope(_) => CommandError::new(Exit::User, e).hint(
                "globs name files from the repository root, like `src/**` or `docs/*.md`; `!glob` excludes",
            ),
            EditError::ScopeWhileClaimed { .. } => CommandError::new(Exit::Conflict, e)
                .hint("change it once the task has landed or the claim is released (`git batch release ID`)"),
            EditError::Claims(c) => c.into(),
        }
    }
}

impl From<BeadsError> for CommandError {
    fn from(e: BeadsError) -> Self {
        match e {
            BeadsError::Store(s) => s.into(),
            BeadsError::Io { .. } => CommandError::new(Exit::User, e),
            BeadsError::Lines { .. } => CommandError::new(Exit::User, e)
                .hint("fix those lines (each must be one JSON object); nothing was imported"),
            BeadsError::Exists { .. } => CommandError::new(Exit::User, e)
                .hint("import into a repository without those tasks, or remove them first"),
        }
    }
}

impl From<crate::claims::ClaimError> for CommandError {
    fn from(e: crate::claims::ClaimError) -> Self {
        use crate::claims::ClaimError as C;
        match e {
            C::Git(g) => g.into(),
            C::Held(_) => CommandError::new(Exit::Conflict, e).hint(
                "pick another task (`git batch claim --next`), or wait for it to be released",
            ),
            C::Overlap { .. } => CommandError::new(Exit::Conflict, e)
                .hint("wait for that task to land or be released, or narrow the scopes"),
            C::Live(_) => CommandError::new(Exit::Conflict, e),
            C::Contended { .. } => CommandError::new(Exit::Conflict, e).hint("try again"),
            C::NothingFree { held, .. } if held > 0 => {
                CommandError::new(Exit::Conflict, e).hint("`git batch claims` shows who holds what")
            }
            C::NothingFree { .. } => CommandError::new(Exit::User, e)
                .hint("`git batch blocked` shows what waits on what"),
            C::NotClaimed { .. } | C::Scope { .. } => CommandError::new(Exit::User, e),
            C::NoQuestion { .. } => CommandError::new(Exit::User, e)
                .hint("`git batch note ID TEXT` adds a note to any task"),
            C::Waiting { .. } => CommandError::new(Exit::User, e).hint(
                "answer it with `git batch answer ID TEXT --retry`, or queue it again with `git batch retry ID`",
            ),
            C::NotYours { .. } => CommandError::new(Exit::Conflict, e)
                .hint("pass --worker with its name, or --force to release it anyway"),
            C::Corrupt { .. } => CommandError::new(Exit::Internal, e),
        }
    }
}

impl From<crate::work::WorkError> for CommandError {
    fn from(e: crate::work::WorkError) -> Self {
        use crate::work::WorkError as W;
        match e {
            W::Claim(c) => c.into(),
            W::Store(s) => s.into(),
            W::Git(g) => g.into(),
            W::NotOpen { .. } => CommandError::new(Exit::User, e)
                .hint("`git batch reopen ID` makes a closed or failed task open again"),
            W::Blocked { .. } => CommandError::new(Exit::User, e)
                .hint("`git batch ready` lists what can be claimed now"),
            W::Epic { .. } => CommandError::new(Exit::User, e),
            W::Scope { .. } => CommandError::new(Exit::User, e)
                .hint("fix it with `git batch update ID --rm-scope GLOB --add-scope GLOB`"),
            W::NoCurrentTask { .. } => CommandError::new(Exit::User, e)
                .hint("name the task, or run it inside the worktree `git batch start` printed"),
            W::NoWorktree { .. } => CommandError::new(Exit::User, e)
                .hint("`git batch start ID` creates it"),
            W::OutOfScope { .. } => CommandError::new(Exit::User, e).hint(
                "move those changes out (e.g. `git restore`/`git stash`), or widen the scope on the main branch",
            ),
            W::Io { .. } => CommandError::new(Exit::Internal, e),
            W::Unlanded { .. } | W::Dirty { .. } => CommandError::new(Exit::User, e)
                .hint("land or save that work first, or pass --force to throw it away"),
            W::PathTaken { .. } => CommandError::new(Exit::User, e)
                .hint("move it away, or set workers.worktree_dir in .batch/config.toml"),
            W::NotHolder { .. } => CommandError::new(Exit::Conflict, e).hint(
                "only the claim's holder finishes the task; run it as that worker, or pass --force",
            ),
            W::NotCommitted { .. } => CommandError::new(Exit::User, e).hint(
                "commit the task file first (`git add .batch/tasks && git commit`), then start it",
            ),
        }
    }
}

impl From<crate::guard::GuardError> for CommandError {
    fn from(e: crate::guard::GuardError) -> Self {
        use crate::guard::GuardError as G;
        match e {
            G::Git(g) => g.into(),
            G::Store(s) => s.into(),
            G::Work(w) => w.into(),
            G::Io { .. } | G::Chained { .. } => CommandError::new(Exit::Internal, e),
            G::BothHooks { .. } => CommandError::new(Exit::User, e)
                .hint("merge them by hand into one hook, remove the other, then install again"),
            G::BadRange { .. } => CommandError::new(Exit::Usage, e),
            G::UnknownHook { .. } => CommandError::new(Exit::Usage, e),
        }
    }
}

impl From<crate::land::LandError> for CommandError {
    fn from(e: crate::land::LandError) -> Self {
        use crate::land::LandError as L;
        match e {
            L::Git(g) => g.into(),
            L::Store(s) => s.into(),
            L::Guard(g) => g.into(),
            L::Work(w) => w.into(),
            L::Claim(c) => c.into(),
            L::Busy { .. } => CommandError::new(Exit::Conflict, e)
                .hint("wait for it to finish; a crashed landing releases the lock by itself"),
            L::Io { .. } => CommandError::new(Exit::Internal, e),
            L::RemoteMoving { .. } => {
                CommandError::new(Exit::Conflict, e).hint("run it again, or raise --attempts")
            }
            L::NoRemoteBranch {
                ref branch,
                ref remote,
            }
            | L::Unpushed {
                ref branch,
                ref remote,
                ..
            } => {
                let hint = format!("push it first: `git push {remote} {branch}`");
                CommandError::new(Exit::User, e).hint(hint)
            }
            L::DirtyCheckout { .. } => CommandError::new(Exit::User, e)
                .hint("commit or put those changes aside first; nothing was landed"),
            L::TestsFail { .. } => CommandError::new(Exit::User, e)
                .hint("read the log; without --no-bisect the culprits are found and left out"),
            L::ReduceFails { .. } => CommandError::new(Exit::User, e).hint(
                "read the log; nothing was pushed, and the tasks stay done for the next landing",
            ),
            L::ReduceTouchesBatch { .. } => CommandError::new(Exit::User, e)
                .hint("write the reduce step's output outside .batch/; nothing was pushed"),
        }
    }
}

impl From<crate::plan::PlanError> for CommandError {
    fn from(e: crate::plan::PlanError) -> Self {
        use crate::plan::PlanError as P;
        match e {
            P::Store(s) => s.into(),
            P::Op(o) => o.into(),
            P::Guard(g) => g.into(),
            P::Work(w) => (*w).into(),
            P::NotFinished { .. } => CommandError::new(Exit::User, e)
                .hint("a task is judged once it is done (`git batch status` shows which are)"),
            P::LandedAlready { .. } => CommandError::new(Exit::User, e),
            P::NotIndependent { .. } => CommandError::new(Exit::User, e).hint(
                "narrow the scopes (`git batch update ID --rm-scope G --add-scope G`), order the tasks with `git batch dep add`, leave tasks out, or pass --force",
            ),
            P::Unknown { .. } => CommandError::new(Exit::User, e)
                .hint("`git batch status` lists the plans; `git batch plan NAME` writes one"),
            P::Malformed { .. } => CommandError::new(Exit::User, e)
                .hint("fix the file by hand (or `git checkout` it)"),
            P::Exists { .. } => CommandError::new(Exit::User, e)
                .hint("choose another name, or remove the old plan's file first"),
            P::Empty { .. } | P::Unfit { .. } | P::Invalid(_) => CommandError::new(Exit::User, e),
            P::Misaligned { .. } => CommandError::new(Exit::User, e).hint(
                "split the same items the same way as the earlier phase, or align with another plan",
            ),
            P::ChunkScope { .. } => CommandError::new(Exit::User, e)
                .hint("a filled field is taken literally; check the --scope template around it"),
            P::NotCompleted { .. } => CommandError::new(Exit::User, e)
                .hint("`git batch status --plan NAME` shows what is left"),
        }
    }
}

impl From<crate::run::RunError> for CommandError {
    fn from(e: crate::run::RunError) -> Self {
        use crate::run::RunError as R;
        match e {
            R::Work(w) => w.into(),
            R::Store(s) => s.into(),
            R::Git(g) => g.into(),
            R::Claim(c) => c.into(),
            R::Plan(p) => p.into(),
            R::Busy { .. } => CommandError::new(Exit::Conflict, e)
                .hint("wait for it, or stop it (Ctrl-C); a killed run releases the lock by itself"),
            R::Io { .. } => CommandError::new(Exit::Internal, e),
            R::BadState { .. } => CommandError::new(Exit::User, e).hint(
                "move the file away to start the run's bookkeeping over; finished work is kept on the worker branches and is found again",
            ),
            R::Empty => CommandError::new(Exit::User, e),
            R::Unpushed { ref branch, ref remote, .. } => {
                let hint = format!("push it first: `git push {remote} {branch}`");
                CommandError::new(Exit::User, e).hint(hint)
            }
            R::NoRemoteBranch { ref branch, ref remote } => {
                let hint = format!("push it first: `git push {remote} {branch}`");
                CommandError::new(Exit::User, e).hint(hint)
            }
        }
    }
}
