//! `.batch/config.toml`: the id prefix, the main branch, the remote, the
//! default test command and worker defaults. Versioned by `format`.
//!
//! Every value is checked when the file is read, so that a bad one is
//! reported as `file:line: key: ...` then, not later as if a flag were
//! wrong, and so that a value which reaches `git` as an argument (the
//! remote, the main branch) can never be read as an option of it.

use super::StoreError;
use super::duration::HumanDuration;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The on-disk format this build reads and writes: 2 since scopes are paths
/// from the repository root (`migrate`); a format 1 store is still read,
/// and `init` brings it to 2.
pub const FORMAT: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// On-disk format version; a newer one is refused rather than misread.
    pub format: u32,
    /// Prefix of new task ids (`<prefix>-<hash>`).
    #[serde(deserialize_with = "prefix")]
    pub prefix: String,
    /// The branch that `land` integrates into.
    #[serde(deserialize_with = "branch_name")]
    pub main_branch: String,
    /// What worker branches are named by: `<branch_prefix><id>`.
    #[serde(
        default = "default_branch_prefix",
        skip_serializing_if = "is_default_branch_prefix",
        deserialize_with = "branch_prefix"
    )]
    pub branch_prefix: String,
    /// The shared remote, when there is one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "remote_name"
    )]
    pub remote: Option<String>,
    /// The command `land` runs once on the combined result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_command: Option<String>,
    /// Whether commands that change `.batch/` record the change as a commit.
    #[serde(default = "yes")]
    pub commit: bool,
    #[serde(default)]
    pub workers: WorkerDefaults,
    /// Which readiness rules `git batch check` applies.
    #[serde(default)]
    pub check: CheckRules,
    /// Gates run on every task's finished work (unless a plan or the
    /// command line names its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<crate::store::gates::Gate>,
    /// How imported beads trackers are read.
    #[serde(default, skip_serializing_if = "BeadsRules::is_default")]
    pub beads: BeadsRules,
    /// Keys this version does not know, kept so they can be reported.
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, toml::Value>,
}

/// The `[beads]` table: choices where bd and br differ.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BeadsRules {
    /// Offer tasks of beads' non-work types (`merge-request`, `gate`,
    /// `molecule`, `message`, `agent`, `role`, `rig`) in `ready`, as br
    /// does; by default they are left out, as `bd ready` does.
    #[serde(default)]
    pub ready_all_types: bool,
    /// Keys this version does not know, kept so they can be reported.
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, toml::Value>,
}

impl BeadsRules {
    fn is_default(&self) -> bool {
        *self == BeadsRules::default()
    }
}

fn yes() -> bool {
    true
}

fn default_branch_prefix() -> String {
    crate::git::refs::DEFAULT_WORKER_PREFIX.to_string()
}

fn is_default_branch_prefix(p: &str) -> bool {
    p == crate::git::refs::DEFAULT_WORKER_PREFIX
}

fn branch_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, |p: &String| validate_branch_prefix(p))
}

/// Whether `prefix` and a task id make a valid branch name, and one that
/// cannot be taken for another kind of ref or for an option of `git`.
pub fn validate_branch_prefix(prefix: &str) -> Result<(), String> {
    let fits = !prefix.is_empty()
        && !prefix.starts_with("refs/")
        && !prefix.starts_with('/')
        && validate_branch(&format!("{prefix}x-1")).is_ok();
    if fits {
        Ok(())
    } else {
        Err(format!(
            "'{}' cannot start a branch name (e.g. \"agent/\"; the default is \"batch/\")",
            prefix.escape_debug()
        ))
    }
}

/// The readiness checklist of `git batch check`; each rule can be turned off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRules {
    /// Acceptance criteria present.
    #[serde(default = "yes")]
    pub acceptance: bool,
    /// A scope present.
    #[serde(default = "yes")]
    pub scope: bool,
    /// An estimate present.
    #[serde(default = "yes")]
    pub estimate: bool,
    /// No open question: no acceptance item with a `?`, no `question` label.
    #[serde(default = "yes")]
    pub questions: bool,
    /// Every dependency closed.
    #[serde(default = "yes")]
    pub deps: bool,
    /// Keys this version does not know, kept so they can be reported.
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, toml::Value>,
}

impl Default for CheckRules {
    fn default() -> Self {
        CheckRules {
            acceptance: true,
            scope: true,
            estimate: true,
            questions: true,
            deps: true,
            unknown: BTreeMap::new(),
        }
    }
}

/// Defaults for `git batch run` and claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerDefaults {
    /// How many workers run at once.
    #[serde(default = "default_jobs", deserialize_with = "at_least_one")]
    pub jobs: u32,
    /// How long one attempt may take (e.g. `30m`).
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// How many times a failed attempt is retried.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// How long a claim lives without being renewed.
    #[serde(default = "default_ttl")]
    pub claim_ttl: HumanDuration,
    /// Where `start` puts worker worktrees, relative to the top of the
    /// working tree; `{repo}` is the repository directory's name. The
    /// default is a sibling directory, outside the user's working tree.
    #[serde(default = "default_worktree_dir")]
    pub worktree_dir: String,
    /// Claims of tasks without a scope overlap nothing (only the same task
    /// twice), so they can be worked on in parallel, as in bd and br. Off
    /// by default: a task without a scope may change any file, and
    /// git-batch's promise is that parallel work never touches the same
    /// file; the landing then finds clashes as merge conflicts instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unscoped_in_parallel: bool,
    /// Worker worktrees check out only their task's scope and `.batch/`
    /// (`run --sparse`, `start --sparse`): much faster to make in a large
    /// tree, but a worker whose tests or tools need the other files must
    /// run `git sparse-checkout disable` first. Off by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sparse: bool,
    /// Keys this version does not know, kept so they can be reported.
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, toml::Value>,
}

fn default_jobs() -> u32 {
    4
}
fn default_timeout() -> HumanDuration {
    Duration::from_secs(30 * 60).into()
}
fn default_retries() -> u32 {
    1
}
fn default_ttl() -> HumanDuration {
    Duration::from_secs(2 * 3600).into()
}
fn default_worktree_dir() -> String {
    "../{repo}.worktrees".into()
}

impl Default for WorkerDefaults {
    fn default() -> Self {
        WorkerDefaults {
            jobs: default_jobs(),
            timeout: default_timeout(),
            retries: default_retries(),
            claim_ttl: default_ttl(),
            worktree_dir: default_worktree_dir(),
            unscoped_in_parallel: false,
            sparse: false,
            unknown: BTreeMap::new(),
        }
    }
}

/// A `deserialize_with` check: the value, or its refusal as a serde error
/// (which the toml crate places at the value, so the report names its line).
fn checked<'de, D, T>(d: D, check: impl FnOnce(&T) -> Result<(), String>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let value = T::deserialize(d)?;
    check(&value).map_err(serde::de::Error::custom)?;
    Ok(value)
}

fn prefix<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, |p: &String| {
        crate::task::id::validate_prefix(p).map_err(|e| e.to_string())
    })
}

pub(crate) fn at_least_one<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    checked(d, |n: &u32| {
        if *n == 0 {
            Err("must be at least 1".to_string())
        } else {
            Ok(())
        }
    })
}

fn branch_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, |b: &String| validate_branch(b))
}

fn remote_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, |r: &Option<String>| {
        r.as_deref().map_or(Ok(()), validate_remote)
    })
}

/// Whether `name` can be a local branch, and so never an option of `git`.
pub fn validate_branch(name: &str) -> Result<(), String> {
    let valid = !name.starts_with('-') && git2::Branch::name_is_valid(name).unwrap_or(false);
    if valid {
        Ok(())
    } else {
        Err(format!(
            "'{}' is not a valid branch name",
            name.escape_debug()
        ))
    }
}

/// Whether `name` is a plausible git remote name, and so never an option of
/// `git` (a pulled config saying `remote = "--upload-pack=..."` must not
/// become one).
pub fn validate_remote(name: &str) -> Result<(), String> {
    let valid = !name.starts_with('-')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
        && git2::Remote::is_valid_name(name);
    if valid {
        Ok(())
    } else {
        Err(format!(
            "'{}' is not a valid remote name",
            name.escape_debug()
        ))
    }
}

/// Sets this process's worker branch prefix from `repo`'s config where no
/// store is opened (hooks, `check --range`): its working tree's
/// `.batch/config.toml`, or in a bare repository (a server) the one
/// committed at HEAD, its main branch. A config that does not read leaves
/// the default.
pub fn adopt_branch_prefix(repo: &git2::Repository) {
    let rel = ".batch/config.toml";
    let text = match repo.workdir() {
        Some(dir) => std::fs::read_to_string(dir.join(rel)).ok(),
        None => repo
            .head()
            .ok()
            .and_then(|h| h.target())
            .and_then(|head| super::at_commit::file_at(repo, Some(head), rel).ok())
            .flatten()
            .and_then(|b| String::from_utf8(b).ok()),
    };
    if let Some(config) = text.and_then(|t: String| Config::parse(Path::new(rel), &t).ok()) {
        crate::git::refs::set_worker_prefix(&config.branch_prefix);
    }
}

impl Config {
    /// Reads the text of `path`: every value typed and checked, a bad one
    /// reported with the file, its line and its key.
    pub fn parse(path: &Path, text: &str) -> Result<Config, StoreError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let (line, message) = super::located::locate(text, &e);
            StoreError::Malformed {
                path: path.to_path_buf(),
                line,
                message,
            }
        })?;
        if config.format > FORMAT {
            return Err(StoreError::NewerFormat {
                path: path.to_path_buf(),
                found: config.format,
                supported: FORMAT,
            });
        }
        Ok(config)
    }

    pub fn new(prefix: String, main_branch: String, remote: Option<String>) -> Config {
        Config {
            format: FORMAT,
            prefix,
            main_branch,
            branch_prefix: default_branch_prefix(),
            remote,
            test_command: None,
            commit: true,
            workers: WorkerDefaults::default(),
            check: CheckRules::default(),
            gates: Vec::new(),
            beads: BeadsRules::default(),
            unknown: BTreeMap::new(),
        }
    }

    /// Every key this version ignores, dotted (`workers.colour`).
    pub fn unknown_keys(&self) -> Vec<String> {
        let top = self.unknown.keys().cloned();
        let workers = self.workers.unknown.keys().map(|k| format!("workers.{k}"));
        let check = self.check.unknown.keys().map(|k| format!("check.{k}"));
        let beads = self.beads.unknown.keys().map(|k| format!("beads.{k}"));
        top.chain(workers).chain(check).chain(beads).collect()
    }

    /// `text` (a config file) with `workers.unscoped_in_parallel = true`,
    /// the rest of the file as it was.
    pub fn with_unscoped_in_parallel(text: &str) -> String {
        const KEY: &str = "unscoped_in_parallel";
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut section = String::new();
        let mut header = None;
        for (i, line) in lines.iter_mut().enumerate() {
            let t = line.trim();
            if t.starts_with('[') {
                section = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
                if section == "workers" {
                    header = Some(i);
                }
            } else if section == "workers" && t.split('=').next().map(str::trim) == Some(KEY) {
                *line = format!("{KEY} = true");
                return lines.join("\n") + "\n";
            }
        }
        match header {
            Some(i) => lines.insert(i + 1, format!("{KEY} = true")),
            None => lines.extend(["".into(), "[workers]".into(), format!("{KEY} = true")]),
        }
        lines.join("\n") + "\n"
    }

    /// The text of a new config file, with a comment per key.
    pub fn render(&self) -> String {
        let body = toml::to_string(self).expect("config always serializes");
        format!(
            "# git-batch configuration (see docs/format.md)\n\
             # format: on-disk format version; prefix: new task ids; main_branch: where `land` goes;\n\
             # remote: the shared remote; test_command: what `land` runs; commit: record .batch/ changes as commits\n\
             {body}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_config_round_trips_and_durations_keep_their_text() {
        let path = Path::new(".batch/config.toml");
        let mut config = Config::new("bt".into(), "main".into(), Some("origin".into()));
        config.test_command = Some("cargo test".into());
        config.workers.timeout = HumanDuration::parse("1h 30m").unwrap();
        config.workers.claim_ttl = HumanDuration::parse("90min").unwrap();
        let text = config.render();
        assert!(text.contains("timeout = \"1h 30m\""), "{text}");
        assert!(text.contains("claim_ttl = \"90min\""), "{text}");
        let read = Config::parse(path, &text).unwrap();
        assert_eq!(read, config);
        assert_eq!(read.workers.timeout.get(), Duration::from_secs(5400));
        assert_eq!(read.render(), text);
    }

    #[test]
    fn values_that_reach_git_are_checked() {
        for ok in ["origin", "up-stream", "a.b_c"] {
            assert!(validate_remote(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-o", "--upload-pack=x", "a b", "a\tb", "a\nb"] {
            assert!(validate_remote(bad).is_err(), "{bad:?}");
        }
        for ok in ["main", "release/1.0"] {
            assert!(validate_branch(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", "a..b", "a b", "HEAD"] {
            assert!(validate_branch(bad).is_err(), "{bad:?}");
        }
    }
}

/// How a plan's tasks are run: the `[config]` table of a plan manifest
/// (`.batch/batches/<name>.toml`), kept here beside the config it overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    #[serde(deserialize_with = "at_least_one")]
    pub jobs: u32,
    /// Per attempt, e.g. `30m`.
    pub timeout: super::HumanDuration,
    pub retries: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// At most this many tasks are started (0: all).
    #[serde(default)]
    pub max_tasks: u32,
    /// Shared by every task of the plan: placed at the top of each worker's
    /// context file (the batch's one prompt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// The reduce step of the plan's landings (`land --then`): run in the
    /// landing worktree before the tests, its changes committed on top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduce: Option<String>,
}
