//! The `.batch/` store: finding it, reading and writing task files
//! atomically, the query cache, and recording changes as commits.

pub mod at_commit;
pub mod cache;
pub mod config;
pub mod duration;
pub mod gates;
pub mod located;
pub mod merge;
pub mod migrate;
pub mod scan;
pub mod settings;

pub use cache::{BrokenFile, Cache, ListFilter};
pub use config::Config;
pub use duration::HumanDuration;
pub use settings::{Flags, Settings, SettingsError};

use crate::atomic;
use crate::git::{self, GitError};
use crate::task::{self, Task, id::IdError};
use git2::Repository;
use std::path::{Path, PathBuf};

/// The directory, relative to the top of the working tree.
pub const BATCH_DIR: &str = ".batch";
/// What `init` writes into `.batch/.gitattributes`.
pub const GITATTRIBUTES: &str = "# Receipts are append-only logs: merge them by keeping both sides' lines.\nreceipts/*.log merge=union\n# Task files merge field by field (`git batch merge-task`): both sides' notes and edits are kept.\ntasks/*.toml merge=batch-task\n";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("not a git-batch repository: {path} does not exist")]
    NotInitialized { path: PathBuf },
    #[error("{path}:{line}: {message}")]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path} has format {found}, newer than this git-batch understands ({supported})")]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("no task '{id}' (no file {path})")]
    UnknownTask { id: String, path: PathBuf },
    #[error("'{given}' is the start of {} task ids: {}", .matches.len(), .matches.join(", "))]
    AmbiguousId { given: String, matches: Vec<String> },
    #[error(transparent)]
    BadId(#[from] IdError),
    #[error("{what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Cache(#[from] cache::CacheError),
    #[error("already initialised with prefix '{existing}' in {path}; not changing it to '{asked}'")]
    PrefixMismatch {
        path: PathBuf,
        existing: String,
        asked: String,
    },
}

/// The files of `files` that task `id` may not change: outside its scope,
/// except its own task file and receipt, which are always its to change.
/// None for a task without a scope (it may change every file). In the
/// order first seen, each once.
pub fn outside_scope<'a>(
    scope: &crate::scope::Scope,
    id: &str,
    files: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    if scope.is_unscoped() {
        return Vec::new();
    }
    let own = [Store::task_rel(id), Store::receipt_rel(id)];
    let mut outside: Vec<String> = Vec::new();
    for f in files {
        if !own.iter().any(|o| o == f) && !scope.matches(f) && !outside.iter().any(|o| o == f) {
            outside.push(f.to_string());
        }
    }
    outside
}

/// A task's file text, refused when it would be larger than any command
/// reads back ([`atomic::TASK_FILE_LIMIT`]).
fn rendered_within_limit(task: &Task, path: &Path) -> Result<String, StoreError> {
    let text = task::render_task(task);
    if text.len() as u64 > atomic::TASK_FILE_LIMIT {
        return Err(StoreError::Io {
            what: "writing",
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the task would be {} bytes, more than the {} a task file may have; keep long material in a file the task names",
                    text.len(),
                    atomic::TASK_FILE_LIMIT
                ),
            ),
        });
    }
    Ok(text)
}

fn io_err<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// An open `.batch/` store in one working tree.
pub struct Store {
    pub repo: Repository,
    /// Top of the working tree.
    pub root: PathBuf,
    pub config: Config,
    /// Set by `--no-commit`: leave changes uncommitted.
    pub no_commit: bool,
}

/// What `init` did.
#[derive(Debug, Default, serde::Serialize)]
pub struct InitReport {
    pub root: PathBuf,
    pub prefix: String,
    pub created: Vec<String>,
    /// Files that existed and were brought up to date (the task merge
    /// driver's line in `.batch/.gitattributes` of an older `init`).
    pub updated: Vec<String>,
    pub already_initialized: bool,
    pub commit: Option<String>,
}

impl Store {
    /// Opens the store of the repository containing `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let repo = git::discover(dir)?;
        let root = work_root(&repo);
        let config_path = root.join(BATCH_DIR).join("config.toml");
        let config = match atomic::read_regular_text(&config_path, atomic::CONFIG_LIMIT) {
            Ok(text) => Config::parse(&config_path, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotInitialized { path: config_path });
            }
            Err(source) => {
                return Err(StoreError::Io {
                    what: "reading",
                    path: config_path,
                    source,
                });
            }
        };
        crate::git::refs::set_worker_prefix(&config.branch_prefix);
        Ok(Store {
            repo,
            root,
            config,
            no_commit: false,
        })
    }

    /// Creates `.batch/` in the repository containing `dir` (idempotent:
    /// whatever exists is kept, whatever is missing is added).
    pub fn init(
        dir: &Path,
        prefix: Option<&str>,
        no_commit: bool,
    ) -> Result<InitReport, StoreError> {
        let repo = git::discover(dir)?;
        let root = work_root(&repo);
        let batch = root.join(BATCH_DIR);
        let config_path = batch.join("config.toml");
        let mut report = InitReport {
            root: root.clone(),
            ..InitReport::default()
        };
        if let Some(p) = prefix {
            task::id::validate_prefix(p)?;
        }
        let config = match atomic::read_regular_text(&config_path, atomic::CONFIG_LIMIT) {
            Ok(text) => {
                let config = Config::parse(&config_path, &text)?;
                if let Some(asked) = prefix
                    && asked != config.prefix
                {
                    return Err(StoreError::PrefixMismatch {
                        path: config_path,
                        existing: config.prefix,
                        asked: asked.to_string(),
                    });
                }
                report.already_initialized = true;
                config
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let remote = repo
                    .find_remote("origin")
                    .ok()
                    .map(|_| "origin".to_string());
                let branch = git::current_branch(&repo).unwrap_or_else(|| "main".into());
                let config = Config::new(prefix.unwrap_or("bt").to_string(), branch, remote);
                std::fs::create_dir_all(&batch).map_err(io_err("creating", &batch))?;
                atomic::create_atomic(&config_path, config.render().as_bytes())
                    .map_err(io_err("writing", &config_path))?;
                report.created.push(".batch/config.toml".into());
                config
            }
            Err(source) => {
                return Err(StoreError::Io {
                    what: "reading",
                    path: config_path,
                    source,
                });
            }
        };
        report.prefix = config.prefix.clone();
        for sub in ["tasks", "receipts", "batches"] {
            let keep = batch.join(sub).join(".gitkeep");
            if !keep.exists() {
                std::fs::create_dir_all(batch.join(sub)).map_err(io_err("creating", &batch))?;
                atomic::write_atomic(&keep, b"").map_err(io_err("writing", &keep))?;
                report.created.push(format!(".batch/{sub}/.gitkeep"));
            }
        }
        let attributes = batch.join(".gitattributes");
        if !attributes.exists() {
            atomic::write_atomic(&attributes, GITATTRIBUTES.as_bytes())
                .map_err(io_err("writing", &attributes))?;
            report.created.push(".batch/.gitattributes".into());
        } else {
            // Written by an `init` from before task files had a merge
            // driver: without the line, a pull conflicts over notes again.
            let text = atomic::read_regular_text(&attributes, atomic::CONFIG_LIMIT)
                .map_err(io_err("reading", &attributes))?;
            if !text.lines().any(|l| l.trim() == merge::ATTRIBUTE_LINE) {
                let mut text = text;
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(merge::ATTRIBUTES);
                atomic::write_atomic(&attributes, text.as_bytes())
                    .map_err(io_err("writing", &attributes))?;
                report.updated.push(".batch/.gitattributes".into());
            }
        }
        let mut store = Store {
            repo,
            root,
            config,
            no_commit,
        };
        if store.config.format < migrate::ROOT_SCOPES {
            report.updated.extend(migrate::to_root_scopes(&store)?);
            store.config.format = migrate::ROOT_SCOPES;
        }
        let changed: Vec<String> = report
            .created
            .iter()
            .chain(&report.updated)
            .cloned()
            .collect();
        if !changed.is_empty() {
            report.commit = store.commit(&changed, "batch: init")?;
        }
        Ok(report)
    }

    pub fn batch_dir(&self) -> PathBuf {
        self.root.join(BATCH_DIR)
    }

    pub fn tasks_dir(&self) -> PathBuf {
        self.batch_dir().join("tasks")
    }

    /// The path of task `id`'s file (the id must already be valid).
    pub fn task_path(&self, id: &str) -> PathBuf {
        self.tasks_dir().join(format!("{id}.toml"))
    }

    /// The path relative to the top, as git names it.
    pub fn task_rel(id: &str) -> String {
        format!("{BATCH_DIR}/tasks/{id}.toml")
    }

    /// Task `id`'s receipt, relative to the top.
    pub fn receipt_rel(id: &str) -> String {
        format!("{BATCH_DIR}/receipts/{id}.log")
    }

    /// Per-worktree scratch under the git dir (the cache lives here).
    /// The tip of the local main branch (`main_branch`), else of HEAD.
    pub fn main_tip(&self) -> Result<git2::Oid, git2::Error> {
        let name = git::refs::branch(&self.config.main_branch);
        self.repo
            .refname_to_id(&name)
            .or_else(|_| self.repo.refname_to_id("HEAD"))
    }

    pub fn state_dir(&self) -> PathBuf {
        self.repo.path().join("batch")
    }

    /// The query cache's database (see [`Store::cache`]).
    pub fn cache_path(&self) -> PathBuf {
        self.state_dir().join("index.db")
    }

    /// Reads one task straight from its file.
    pub fn read_task(&self, id: &str) -> Result<Task, StoreError> {
        task::id::validate_id(id)?;
        let path = self.task_path(id);
        let text = match atomic::read_regular_text(&path, atomic::TASK_FILE_LIMIT) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::UnknownTask {
                    id: id.to_string(),
                    path,
                });
            }
            Err(source) => {
                return Err(StoreError::Io {
                    what: "reading",
                    path,
                    source,
                });
            }
        };
        let task = task::parse_task(&text).map_err(|e| StoreError::Malformed {
            path: path.clone(),
            line: e.line,
            message: e.message,
        })?;
        if task.id != id {
            return Err(StoreError::Malformed {
                path,
                line: 1,
                message: format!("id '{}' does not match the file name '{id}.toml'", task.id),
            });
        }
        Ok(task)
    }

    /// Whether a task file exists for `id` (readable or not).
    pub fn exists(&self, id: &str) -> bool {
        task::id::validate_id(id).is_ok() && self.task_path(id).is_file()
    }

    /// The task a user meant by `given`, as bd and br read ids: the task
    /// with that id, else the one whose id, or whose id after its prefix
    /// (`bt-`), starts with `given`. `None` when no task matches (the
    /// command then says so as it would have); several is an error that
    /// names them.
    pub fn resolve_id(&self, given: &str) -> Result<Option<String>, StoreError> {
        if task::id::validate_id(given).is_err() || self.exists(given) {
            return Ok(Some(given.to_string()));
        }
        let Ok(entries) = std::fs::read_dir(self.tasks_dir()) else {
            return Ok(None);
        };
        let mut matches: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let id = name.strip_suffix(".toml")?.to_string();
                let after_prefix = id.split_once('-').map_or("", |(_, rest)| rest);
                (scan::is_task_file(&name)
                    && (id.starts_with(given) || after_prefix.starts_with(given)))
                .then_some(id)
            })
            .collect();
        matches.sort();
        match matches.len() {
            0 => Ok(None),
            1 => Ok(matches.pop()),
            _ => Err(StoreError::AmbiguousId {
                given: given.to_string(),
                matches,
            }),
        }
    }

    /// Replaces a task's file atomically.
    pub fn write_task(&self, task: &Task) -> Result<(), StoreError> {
        task::id::validate_id(&task.id)?;
        let path = self.task_path(&task.id);
        let text = rendered_within_limit(task, &path)?;
        let dir_before = scan::dir_fingerprint(&self.tasks_dir()).ok().flatten();
        atomic::write_atomic(&path, text.as_bytes()).map_err(io_err("writing", &path))?;
        self.note_written(&task.id, dir_before);
        Ok(())
    }

    /// Tells the cache about a task file this process wrote, so that the
    /// next command need not look at every file to see it. A cache that
    /// cannot be told is left as it was: it then finds the directory
    /// changed and checks every file, which is slower, never wrong.
    fn note_written(&self, id: &str, dir_before: Option<scan::Fingerprint>) {
        if let Ok(cache) = Cache::open_unchecked(&self.cache_path(), &self.tasks_dir()) {
            let _ = cache.note_written(&format!("{id}.toml"), dir_before);
        }
    }

    /// Creates a task's file; `Ok(false)` when the id is taken.
    pub fn create_task_file(&self, task: &Task) -> Result<bool, StoreError> {
        task::id::validate_id(&task.id)?;
        let dir = self.tasks_dir();
        std::fs::create_dir_all(&dir).map_err(io_err("creating", &dir))?;
        let path = self.task_path(&task.id);
        let text = rendered_within_limit(task, &path)?;
        let dir_before = scan::dir_fingerprint(&dir).ok().flatten();
        match atomic::create_atomic(&path, text.as_bytes()) {
            Ok(()) => {
                self.note_written(&task.id, dir_before);
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(source) => Err(StoreError::Io {
                what: "writing",
                path,
                source,
            }),
        }
    }

    /// The cache, brought up to date with the files, and the files that do
    /// not parse.
    pub fn cache(&self) -> Result<(Cache, Vec<BrokenFile>), StoreError> {
        let opened = Cache::open_synced(&self.cache_path(), &self.tasks_dir())?;
        Ok(self.offering(opened))
    }

    /// The cache, with what answers about `ids` read brought up to date
    /// (every file when the directory changed); for commands about a few
    /// tasks. The broken files are those the cache knows of.
    pub fn cache_about(&self, ids: &[&str]) -> Result<(Cache, Vec<BrokenFile>), StoreError> {
        let opened = Cache::open_about(&self.cache_path(), &self.tasks_dir(), ids)?;
        Ok(self.offering(opened))
    }

    fn offering(&self, (cache, broken): (Cache, Vec<BrokenFile>)) -> (Cache, Vec<BrokenFile>) {
        let offer = cache::Offer {
            all_types: self.config.beads.ready_all_types,
            ..cache::Offer::default()
        };
        (cache.offering(offer), broken)
    }

    /// Whether changes are recorded as commits (config and `--no-commit`).
    pub fn commits_enabled(&self) -> bool {
        self.config.commit && !self.no_commit
    }

    /// Records `paths` (relative to the top) as one commit, unless commits
    /// are off. Returns the commit id.
    pub fn commit(&self, paths: &[String], message: &str) -> Result<Option<String>, StoreError> {
        if !self.commits_enabled() {
            return Ok(None);
        }
        Ok(git::commit_paths(&self.repo, paths, message)?.map(|oid| oid.to_string()))
    }

    /// Fails early, before anything is written, when a commit would fail.
    pub fn check_can_commit(&self) -> Result<(), StoreError> {
        if self.commits_enabled() {
            git::check_clean_state(&self.repo)?;
        }
        Ok(())
    }

    /// Who is acting: `batch.worker`, else git's author name, else the OS
    /// user (see [`git::identity::actor`]).
    pub fn actor(&self) -> String {
        git::identity::actor(&self.repo)
    }
}

/// The working tree's root as people write it: git gives it with a
/// trailing `/`, which `current` and `init --json` printed while `start`
/// did not.
fn work_root(repo: &git2::Repository) -> PathBuf {
    repo.workdir()
        .expect("discover refuses bare repositories")
        .components()
        .collect()
}
