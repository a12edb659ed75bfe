//! The landing's temporary detached worktree: replaying worker branches onto
//! it, checking their scopes, the reduce step, running the tests, and the
//! closing commit.

use super::{LandError, MergedFile};
use crate::git::git_err;
use crate::git::program::{self, Git, Hooks};
use crate::store::{Store, merge};
use crate::task::{Clash, Task};
use crate::work::stack::WorkRange;
use git2::{Oid, Repository};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The versions of one conflicted file.
struct Stages {
    base: Option<Vec<u8>>,
    ours: Vec<u8>,
    theirs: Vec<u8>,
}

/// Records the merge of task `stem`'s file while replaying `branch` (its
/// clashes, or why the branch's file was taken whole); a file merged at
/// several of the branch's commits is one entry.
fn add_merge(
    merged: &mut Vec<MergedFile>,
    stem: &str,
    branch: &str,
    result: Result<Vec<Clash>, String>,
) {
    let at = match merged.iter().position(|m| m.id == stem) {
        Some(at) => at,
        None => {
            merged.push(MergedFile {
                id: stem.to_string(),
                branch: branch.to_string(),
                clashes: Vec::new(),
                whole: false,
                detail: None,
            });
            merged.len() - 1
        }
    };
    let m = &mut merged[at];
    match result {
        Ok(clashes) => m.clashes.extend(clashes),
        Err(why) => {
            m.whole = true;
            m.detail = Some(why);
        }
    }
}

pub struct Stack {
    /// The temporary worktree.
    path: PathBuf,
    /// The main working tree, where `git worktree` commands run.
    root: PathBuf,
    /// The repository's common git dir (for its worktree lock).
    common_dir: PathBuf,
    /// Identity for the commits the landing makes, when git has none.
    identity: Vec<(&'static str, String)>,
}

/// What the reduce step made of a stack.
pub enum Reduction {
    /// The command failed (exit status not 0).
    Failed { log: PathBuf },
    /// The new top: the reduce commit, or the tip it ran on when it changed
    /// nothing (`committed` false).
    Done {
        top: Oid,
        committed: bool,
        log: PathBuf,
    },
}

pub enum Replayed {
    /// The stack's new tip, and the task files merged on the way.
    Ok { tip: Oid, merged: Vec<MergedFile> },
    /// The files that conflicted; the stack is back where it was.
    Conflict(Vec<String>),
}

impl Stack {
    /// A fresh detached worktree at `base` (a leftover of a crashed landing
    /// is removed first).
    pub fn open(store: &Store, path: &Path, base: Oid) -> Result<Stack, LandError> {
        let stack = Stack {
            path: path.to_path_buf(),
            root: store.root.clone(),
            common_dir: store.repo.commondir().to_path_buf(),
            identity: crate::git::identity::fallback_env(&store.repo),
        };
        stack.remove();
        let p = path.to_string_lossy().into_owned();
        let _turn = program::worktree_turn(store.repo.commondir())?;
        program::ok(
            &store.root,
            &[
                "worktree",
                "add",
                "--quiet",
                "--detach",
                &p,
                &base.to_string(),
            ],
        )?;
        Ok(stack)
    }

    /// Removes the worktree (best effort: also used after failures).
    pub fn remove(&self) {
        let p = self.path.to_string_lossy().into_owned();
        let _turn = program::worktree_turn(&self.common_dir);
        // Twice forced: a landing killed inside `git worktree add` leaves
        // the worktree locked ("initializing"), which one --force keeps
        // and which would make every later landing fail to add it again.
        let _ = program::run(
            &self.root,
            &["worktree", "remove", "--force", "--force", &p],
        );
        if self.path.exists() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
        let _ = program::run(&self.root, &["worktree", "prune"]);
    }

    /// git in the stack, as the landing runs it: no hooks (our own are not
    /// for the landing's replays), an identity for its commits. The clone's
    /// task file merge driver is switched off (a driver that fails leaves
    /// the conflict): the replay merges task files itself, the same way, so
    /// that its report has the clashes and nothing depends on which
    /// `git-batch` PATH finds.
    fn git(&self, args: &[&str]) -> Git {
        Git::new(&self.path)
            .hooks(Hooks::Skip)
            .config(
                &format!("merge.{}.driver", crate::git::merge_driver::NAME),
                "false",
            )
            .identity_env(&self.identity)
            .landing()
            .args(args)
    }

    fn git_ok(&self, args: &[&str]) -> Result<String, LandError> {
        Ok(self.git(args).ok()?)
    }

    pub fn head(&self) -> Result<Oid, LandError> {
        let text = self.git_ok(&["rev-parse", "HEAD"])?;
        Oid::from_str(text.trim()).map_err(|e| git_err("reading HEAD")(e).into())
    }

    pub fn reset(&mut self, to: Oid) -> Result<(), LandError> {
        self.git_ok(&["reset", "--quiet", "--hard", &to.to_string()])?;
        self.git_ok(&["clean", "-fdq"])?;
        Ok(())
    }

    /// Cherry-picks the branch of task `id` (its own commits since it left
    /// `base`'s history), keeping authors and messages. Conflicts only in
    /// task files and receipts are resolved: a task file is merged field by
    /// field (the stack is ours, the branch theirs), or, when a version
    /// does not parse, taken from the branch whole, as is a receipt; any
    /// other conflict leaves the branch out.
    pub fn replay(&mut self, id: &str, range: &WorkRange) -> Result<Replayed, LandError> {
        let mut args = vec![
            "rev-list".to_string(),
            "--reverse".into(),
            "--no-merges".into(),
        ];
        args.extend(range.rev_list_args());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let list = self.git_ok(&args)?;
        let commits: Vec<&str> = list.lines().collect();
        let before = self.head()?;
        if commits.is_empty() {
            return Ok(Replayed::Ok {
                tip: before,
                merged: Vec::new(),
            });
        }
        let mut merged: Vec<MergedFile> = Vec::new();
        let mut args = vec!["cherry-pick", "--allow-empty", "--keep-redundant-commits"];
        args.extend(commits.iter().copied());
        let mut out = self.git(&args).output()?;
        while !out.status.success() {
            let unmerged = self.git_ok(&["diff", "--name-only", "--diff-filter=U"])?;
            let files: Vec<String> = unmerged.lines().map(String::from).collect();
            let only_tasks = !files.is_empty()
                && files
                    .iter()
                    .all(|f| f.starts_with(".batch/tasks/") || f.starts_with(".batch/receipts/"));
            if !only_tasks {
                let _ = self.git(&["cherry-pick", "--abort"]).output();
                self.reset(before)?;
                return Ok(Replayed::Conflict(if files.is_empty() {
                    vec![String::from_utf8_lossy(&out.stderr).trim().to_string()]
                } else {
                    files
                }));
            }
            for f in &files {
                let stem = f
                    .strip_prefix(".batch/tasks/")
                    .filter(|rest| !rest.contains('/'))
                    .and_then(|rest| rest.strip_suffix(".toml"));
                let merge = match stem {
                    Some(stem) => Some((stem, self.merge_task_file(f, stem)?)),
                    None => None,
                };
                if !matches!(merge, Some((_, Ok(_)))) {
                    // A receipt (appended on both sides: the worker's holds
                    // what it wrote), or a task file that cannot be merged:
                    // the worker's version, as before field merges.
                    self.git_ok(&["checkout", "--theirs", "--", f])?;
                }
                if let Some((stem, result)) = merge {
                    add_merge(&mut merged, stem, id, result);
                }
                self.git_ok(&["add", "--", f])?;
            }
            out = Git::new(&self.path)
                .hooks(Hooks::Skip)
                .config("core.editor", "true")
                .config(
                    &format!("merge.{}.driver", crate::git::merge_driver::NAME),
                    "false",
                )
                .identity_env(&self.identity)
                .args(["cherry-pick", "--continue"])
                .output()?;
        }
        Ok(Replayed::Ok {
            tip: self.head()?,
            merged,
        })
    }

    /// The three stages of conflicted `rel` in the stack's index: base
    /// (None: added on both sides), ours (the stack), theirs (the branch).
    /// None when ours or theirs is missing (deleted on that side).
    fn stages(&self, rel: &str) -> Result<Option<Stages>, LandError> {
        let repo = Repository::open(&self.path).map_err(git_err("opening the landing worktree"))?;
        let index = repo
            .index()
            .map_err(git_err("reading the landing's index"))?;
        let blob = |e: Option<git2::IndexEntry>| -> Result<Option<Vec<u8>>, LandError> {
            match e {
                None => Ok(None),
                Some(e) => Ok(Some(
                    repo.find_blob(e.id)
                        .map_err(git_err(format!("reading a version of {rel}")))?
                        .content()
                        .to_vec(),
                )),
            }
        };
        let Some(conflict) = index
            .conflicts()
            .map_err(git_err("reading the landing's index"))?
            .flatten()
            .find(|c| {
                [&c.ancestor, &c.our, &c.their]
                    .into_iter()
                    .flatten()
                    .any(|e| e.path == rel.as_bytes())
            })
        else {
            return Ok(None);
        };
        let base = blob(conflict.ancestor)?;
        let (Some(ours), Some(theirs)) = (blob(conflict.our)?, blob(conflict.their)?) else {
            return Ok(None);
        };
        Ok(Some(Stages { base, ours, theirs }))
    }

    /// Merges conflicted task file `rel` field by field into the stack's
    /// working tree: its clashes, or why it cannot be (a version is
    /// missing or does not parse).
    fn merge_task_file(
        &self,
        rel: &str,
        stem: &str,
    ) -> Result<Result<Vec<Clash>, String>, LandError> {
        let Some(s) = self.stages(rel)? else {
            return Ok(Err("deleted on one side".into()));
        };
        let m = match merge::merge_texts(Some(stem), s.base.as_deref(), &s.ours, &s.theirs) {
            Ok(m) => m,
            Err(why) => return Ok(Err(why.to_string())),
        };
        let path = self.path.join(rel);
        crate::atomic::write_atomic(&path, m.text.as_bytes()).map_err(|source| LandError::Io {
            what: "writing",
            path: path.clone(),
            source,
        })?;
        Ok(Ok(m.clashes))
    }

    /// Problems of the commits task `id`'s branch made (its own `range`:
    /// where it left the trusted history, or its recorded stack base, up to
    /// its tip), judged against the landing's `base`: the worker's own
    /// commits, not their replay (whose conflict resolution in task files is
    /// the landing's, not the worker's).
    pub fn check_scope(
        &self,
        repo: &Repository,
        base: Oid,
        range: &WorkRange,
        id: &str,
    ) -> Result<Vec<String>, LandError> {
        let walk = range.walk(repo).map_err(git_err("walking the branch"))?;
        let trust = crate::guard::trust::Trust {
            base,
            task: Some(id),
        };
        let report = crate::guard::check::check_walk(repo, walk, trust)?;
        Ok(report.problems.iter().map(|p| p.to_string()).collect())
    }

    /// Runs `cmd` with `sh -c` on `tip`; its output goes to a log under the
    /// git dir. Returns (passed, log, seconds).
    pub fn test(
        &mut self,
        store: &Store,
        cmd: &str,
        tip: Oid,
    ) -> Result<(bool, PathBuf, f64), LandError> {
        self.run_logged(store, cmd, tip, "land", "running the test command in")
    }

    /// Runs the reduce step `cmd` on `tip` as the tests run, and commits
    /// what it changed in the working tree on top of `tip` as one commit.
    /// A change under `.batch/` is refused: task files, plans and receipts
    /// are written by git-batch alone, and a landing must not close, add or
    /// rewrite tasks on a command's say-so.
    pub fn reduce(&mut self, store: &Store, cmd: &str, tip: Oid) -> Result<Reduction, LandError> {
        let (ok, log, _) =
            self.run_logged(store, cmd, tip, "reduce", "running the reduce step in")?;
        if !ok {
            return Ok(Reduction::Failed { log });
        }
        // The command may have committed, or checked out something, itself:
        // HEAD goes back to `tip` without moving any branch, so that all it
        // did is judged, and recorded, as one change from `tip`.
        let tip_text = tip.to_string();
        self.git_ok(&["update-ref", "--no-deref", "HEAD", &tip_text])?;
        self.git_ok(&["add", "--all"])?;
        let names = self.git_ok(&["diff", "--cached", "--name-only", "--no-renames", "-z"])?;
        let changed: Vec<&str> = names.split('\0').filter(|n| !n.is_empty()).collect();
        let batch: Vec<String> = changed
            .iter()
            .filter(|n| Path::new(n).starts_with(crate::store::BATCH_DIR))
            .map(|n| n.to_string())
            .collect();
        if !batch.is_empty() {
            return Err(LandError::ReduceTouchesBatch {
                command: cmd.to_string(),
                files: batch,
                log,
            });
        }
        if changed.is_empty() {
            return Ok(Reduction::Done {
                top: tip,
                committed: false,
                log,
            });
        }
        // From the tree itself, not `git commit`: a merge or cherry-pick the
        // command left half-done would otherwise make it a merge commit.
        let tree = self.git_ok(&["write-tree"])?;
        let commit = self.git_ok(&[
            "commit-tree",
            tree.trim(),
            "-p",
            &tip_text,
            "-m",
            "batch: reduce",
            "-m",
            cmd,
        ])?;
        let top =
            Oid::from_str(commit.trim()).map_err(|e| git_err("reading the reduce commit")(e))?;
        self.git_ok(&["update-ref", "--no-deref", "HEAD", commit.trim()])?;
        Ok(Reduction::Done {
            top,
            committed: true,
            log,
        })
    }

    /// `sh -c cmd` in the worktree reset to `tip`, with the environment
    /// git-batch has, stdin closed, stdout and stderr in a new log named
    /// after `kind`. Returns (passed, log, seconds).
    fn run_logged(
        &mut self,
        store: &Store,
        cmd: &str,
        tip: Oid,
        kind: &str,
        what: &'static str,
    ) -> Result<(bool, PathBuf, f64), LandError> {
        self.reset(tip)?;
        let logs = store.repo.commondir().join("batch").join("logs");
        std::fs::create_dir_all(&logs).map_err(|source| LandError::Io {
            what: "creating",
            path: logs.clone(),
            source,
        })?;
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let log = logs.join(format!("{kind}-{stamp}-{}.log", crate::git::short_oid(tip)));
        let file = std::fs::File::create(&log).map_err(|source| LandError::Io {
            what: "creating",
            path: log.clone(),
            source,
        })?;
        let err = file.try_clone().map_err(|source| LandError::Io {
            what: "opening",
            path: log.clone(),
            source,
        })?;
        let start = std::time::Instant::now();
        let status = Command::new("sh")
            .args(["-c", cmd])
            .current_dir(&self.path)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .status()
            .map_err(|source| LandError::Io {
                what,
                path: self.path.clone(),
                source,
            })?;
        Ok((status.success(), log, start.elapsed().as_secs_f64()))
    }

    pub fn read_task(&self, id: &str) -> Result<Task, LandError> {
        let path = self.path.join(Store::task_rel(id));
        let data = crate::atomic::read_regular(&path, crate::atomic::TASK_FILE_LIMIT).map_err(
            |source| LandError::Io {
                what: "reading",
                path: path.clone(),
                source,
            },
        )?;
        crate::store::cache::parse_file(&data, id).map_err(|e| {
            crate::store::StoreError::Malformed {
                path,
                line: e.line,
                message: e.message,
            }
            .into()
        })
    }

    /// Every task file of the stack that parses.
    pub fn all_tasks(&self) -> Result<Vec<Task>, LandError> {
        let dir = self.path.join(".batch/tasks");
        let mut out = Vec::new();
        let entries = std::fs::read_dir(&dir).map_err(|source| LandError::Io {
            what: "reading",
            path: dir.clone(),
            source,
        })?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".toml")
                && let Ok(t) = self.read_task(stem)
            {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// The plan manifest at `rel` in the stack, if it reads.
    pub fn read_plan(&self, rel: &str) -> Option<crate::plan::Plan> {
        let text =
            crate::atomic::read_regular_text(&self.path.join(rel), crate::atomic::PLAN_LIMIT)
                .ok()?;
        toml::from_str(&text).ok()
    }

    /// Writes `tasks` and the `files` (`(path, text)`) and commits them on
    /// top of `top`.
    pub fn commit_tasks<'a>(
        &mut self,
        top: Oid,
        tasks: impl Iterator<Item = &'a Task>,
        files: &[(String, String)],
        message: &str,
    ) -> Result<Oid, LandError> {
        self.reset(top)?;
        let mut any = false;
        for (rel, text) in files {
            let path = self.path.join(rel);
            crate::atomic::write_atomic(&path, text.as_bytes()).map_err(|source| {
                LandError::Io {
                    what: "writing",
                    path: path.clone(),
                    source,
                }
            })?;
            self.git_ok(&["add", "--", rel])?;
            any = true;
        }
        for t in tasks {
            let path = self.path.join(Store::task_rel(&t.id));
            crate::atomic::write_atomic(&path, crate::task::render_task(t).as_bytes()).map_err(
                |source| LandError::Io {
                    what: "writing",
                    path: path.clone(),
                    source,
                },
            )?;
            any = true;
        }
        if !any {
            return Ok(top);
        }
        self.git_ok(&["add", "--", ".batch/tasks"])?;
        self.git_ok(&["commit", "--quiet", "--allow-empty", "-m", message])?;
        self.head()
    }
}
