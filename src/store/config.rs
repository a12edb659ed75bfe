//! `.batch/config.toml`: the id prefix, the main branch, the remote, the
//! default test command and worker defaults. Versioned by `format`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The on-disk format this build reads and writes.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// On-disk format version; a newer one is refused rather than misread.
    pub format: u32,
    /// Prefix of new task ids (`<prefix>-<hash>`).
    pub prefix: String,
    /// The branch that `land` integrates into.
    pub main_branch: String,
    /// The shared remote, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    /// Keys this version does not know, kept so they can be reported.
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, toml::Value>,
}

fn yes() -> bool {
    true
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
    #[serde(default = "default_jobs")]
    pub jobs: u32,
    /// How long one attempt may take (e.g. `30m`).
    #[serde(default = "default_timeout")]
    pub timeout: String,
    /// How many times a failed attempt is retried.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// How long a claim lives without being renewed.
    #[serde(default = "default_ttl")]
    pub claim_ttl: String,
    /// Where `start` puts worker worktrees, relative to the top of the
    /// working tree; `{repo}` is the repository directory's name. The
    /// default is a sibling directory, outside the user's working tree.
    #[serde(default = "default_worktree_dir")]
    pub worktree_dir: String,
    /// Keys this version does not know, kept so they can be reported.
    #[serde(flatten, skip_serializing)]
    pub unknown: BTreeMap<String, toml::Value>,
}

fn default_jobs() -> u32 {
    4
}
fn default_timeout() -> String {
    "30m".into()
}
fn default_retries() -> u32 {
    1
}
fn default_ttl() -> String {
    "2h".into()
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
            unknown: BTreeMap::new(),
        }
    }
}

impl Config {
    pub fn new(prefix: String, main_branch: String, remote: Option<String>) -> Config {
        Config {
            format: FORMAT,
            prefix,
            main_branch,
            remote,
            test_command: None,
            commit: true,
            workers: WorkerDefaults::default(),
            check: CheckRules::default(),
            unknown: BTreeMap::new(),
        }
    }

    /// Every key this version ignores, dotted (`workers.colour`).
    pub fn unknown_keys(&self) -> Vec<String> {
        let top = self.unknown.keys().cloned();
        let workers = self.workers.unknown.keys().map(|k| format!("workers.{k}"));
        let check = self.check.unknown.keys().map(|k| format!("check.{k}"));
        top.chain(workers).chain(check).collect()
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
