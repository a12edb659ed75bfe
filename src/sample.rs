//! `demo`: a scratch repository with a small project and a bare remote,
//! and the built-in worker the demo runs (it edits the files of its scope,
//! writes receipts, commits, and fails its first attempt at one task so
//! that the retry shows).

use crate::git::{GitError, program};
use crate::store::Store;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Guard(#[from] crate::guard::GuardError),
    #[error(transparent)]
    Work(#[from] crate::work::WorkError),
    #[error("{path} exists and is not empty; the demo needs a new directory")]
    NotEmpty { path: PathBuf },
    #[error("{what}: {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the demo worker runs under `git batch run` (BATCH_TASK is not set)")]
    NotInRun,
}

/// The chapters of the demo's book: one task each.
pub const CHAPTERS: [(&str, &str); 8] = [
    ("intro", "what git-batch is for"),
    ("tasks", "tasks as files"),
    ("claims", "claims and why they never collide"),
    ("scopes", "file scopes"),
    ("worktrees", "one worktree per worker"),
    ("receipts", "receipts"),
    ("landing", "landing everything at once"),
    ("runs", "the run hypervisor"),
];

/// The chapter whose first attempt fails.
pub const FLAKY: &str = "docs/claims.md";

/// The demo's test: every chapter has its heading and none says FIXME. It
/// passes on every state of main, as a real test suite does: the run lands
/// trains of finished chapters while others are still being written.
pub const TEST: &str = "sh check.sh";

/// The scratch setup: a working clone and its bare remote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoRepo {
    pub dir: PathBuf,
    pub work: PathBuf,
    pub remote: PathBuf,
}

fn write(path: &Path, text: &str) -> Result<(), DemoError> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|source| DemoError::Io {
            what: "creating",
            path: d.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| DemoError::Io {
        what: "writing",
        path: path.to_path_buf(),
        source,
    })
}

/// Creates `dir` with `remote.git` (bare) and `work` (a clone with a small
/// book to write, `.batch/` initialised, hooks installed, pushed).
impl DemoRepo {
    /// Pushes the work repository's main branch to the demo's remote.
    pub fn publish(&self) -> Result<(), DemoError> {
        program::ok(&self.work, &["push", "--quiet", "origin", "main"])?;
        Ok(())
    }
}

pub fn setup(dir: &Path) -> Result<DemoRepo, DemoError> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(DemoError::NotEmpty {
            path: dir.to_path_buf(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| DemoError::Io {
        what: "creating",
        path: dir.to_path_buf(),
        source,
    })?;
    let dir = dir.canonicalize().map_err(|source| DemoError::Io {
        what: "resolving",
        path: dir.to_path_buf(),
        source,
    })?;
    let remote = dir.join("remote.git");
    let work = dir.join("work");
    let r = remote.to_string_lossy().into_owned();
    let w = work.to_string_lossy().into_owned();
    program::ok(&dir, &["init", "--quiet", "--bare", "-b", "main", &r])?;
    program::ok(&dir, &["init", "--quiet", "-b", "main", &w])?;
    for (k, v) in [
        ("user.name", "git-batch demo"),
        ("user.email", "demo@git-batch.invalid"),
    ] {
        program::ok(&work, &["config", k, v])?;
    }
    write(
        &work.join("README.md"),
        "# A small book\n\nEight chapters, each still a TODO: the demo's job.\n",
    )?;
    write(
        &work.join("check.sh"),
        "#!/bin/sh\n# The book's test: every chapter has its heading, none says FIXME.\nfor f in docs/*.md; do head -n 1 \"$f\" | grep -q '^# ' || { echo \"$f: no heading\"; exit 1; }; done\nif grep -rn FIXME docs/; then exit 1; fi\necho \"the book checks out\"\n",
    )?;
    for (name, topic) in CHAPTERS {
        write(
            &work.join(format!("docs/{name}.md")),
            &format!("# {topic}\n\nTODO: write the chapter on {topic}.\n"),
        )?;
    }
    program::ok(&work, &["add", "--all"])?;
    program::ok(
        &work,
        &[
            "commit",
            "--quiet",
            "-m",
            "A small book with 8 chapters to write",
        ],
    )?;
    program::ok(&work, &["remote", "add", "origin", &r])?;
    let store_root = work.clone();
    Store::init(&store_root, Some("demo"), false)?;
    let repo = crate::git::discover(&work)?;
    crate::guard::hooks::install(&repo, &crate::guard::hooks::CLIENT_HOOKS)?;
    program::ok(&work, &["push", "--quiet", "-u", "origin", "main"])?;
    Ok(DemoRepo { dir, work, remote })
}

/// What the demo worker did, for its exit code.
pub enum Worked {
    Done {
        files: usize,
    },
    /// The flaky chapter's first attempt.
    FailedOnPurpose,
}

/// The demo's worker: writes each chapter of its scope (replacing the
/// TODO), one receipt line per step, one commit. Runs in the worktree.
pub fn worker(store: &Store) -> Result<Worked, DemoError> {
    let id = std::env::var("BATCH_TASK").map_err(|_| DemoError::NotInRun)?;
    let attempt: u32 = std::env::var("BATCH_ATTEMPT")
        .ok()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let worker = std::env::var("BATCH_WORKER").unwrap_or_else(|_| "demo".into());
    let task = store.read_task(&id)?;
    let receipt = store.root.join(crate::store::Store::receipt_rel(&id));
    let note = |line: String| crate::work::receipt::append(&receipt, &worker, [line]);
    note(format!("attempt {attempt}: read the task: {}", task.title))?;
    let files: Vec<String> = task
        .scope
        .iter()
        .map(|g| g.trim_start_matches('/').to_string())
        .collect();
    if attempt == 1 && files.iter().any(|f| f == FLAKY) {
        note("gave up: no outline for this chapter yet (the demo fails here once)".into())?;
        eprintln!("demo worker: no outline for {FLAKY} yet; failing this attempt on purpose");
        return Ok(Worked::FailedOnPurpose);
    }
    // A moment of "work", so that the pool's parallelism shows.
    std::thread::sleep(std::time::Duration::from_millis(300));
    for f in &files {
        let path = store.root.join(f);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let topic = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("# ")
            .to_string();
        let body: Vec<String> = text
            .lines()
            .map(|l| {
                if l.starts_with("TODO") {
                    format!(
                        "This chapter explains {topic}: what it is, why it matters, and how\nto use it, with an example."
                    )
                } else {
                    l.to_string()
                }
            })
            .collect();
        write(&path, &(body.join("\n") + "\n"))?;
        note(format!(
            "wrote {f}: replaced the TODO with the chapter on {topic}"
        ))?;
    }
    program::ok(&store.root, &["add", "--all", "--", "docs"])?;
    program::ok(
        &store.root,
        &[
            "commit",
            "--quiet",
            "-m",
            &format!("Write {}", files.join(", ")),
        ],
    )?;
    note(format!("committed {} chapter(s)", files.len()))?;
    Ok(Worked::Done { files: files.len() })
}
