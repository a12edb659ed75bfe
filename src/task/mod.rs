//! The task model: one task is one file `.batch/tasks/<id>.toml`.
//!
//! The struct's field order is the file's key order, so serialization is
//! deterministic and a change to one field is a one-line diff.

mod file;
pub mod id;
pub mod merge;
pub mod review;

pub use file::{ParseError, parse_task, render_task};
pub use id::TaskId;
pub use merge::{Clash, Merged, Side, merge3};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Where a task is in its life: see `docs/design.md` for the transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    InProgress,
    Done,
    Closed,
    Failed,
    Escalated,
    Deferred,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Open,
        Status::InProgress,
        Status::Done,
        Status::Closed,
        Status::Failed,
        Status::Escalated,
        Status::Deferred,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::InProgress => "in_progress",
            Status::Done => "done",
            Status::Closed => "closed",
            Status::Failed => "failed",
            Status::Escalated => "escalated",
            Status::Deferred => "deferred",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
                format!(
                    "unknown status '{s}' (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// What a task is: an epic groups children; the others are units of work
/// (beads' issue types `task`, `bug`, `feature`, `chore`), which differ
/// only in how they are listed and filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[default]
    Task,
    Epic,
    Bug,
    Feature,
    Chore,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Task,
        Kind::Epic,
        Kind::Bug,
        Kind::Feature,
        Kind::Chore,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Task => "task",
            Kind::Epic => "epic",
            Kind::Bug => "bug",
            Kind::Feature => "feature",
            Kind::Chore => "chore",
        }
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown kind '{s}' (expected one of: task, epic, bug, feature, chore)")
            })
    }
}

/// The kinds of link that do not block (`Task::links`): beads' `related`
/// and `discovered-from`, and the rarer relations it knows, kept as such.
pub const LINK_TYPES: [&str; 9] = [
    "related",
    "discovered-from",
    "relates-to",
    "duplicates",
    "supersedes",
    "replies-to",
    "tracks",
    "caused-by",
    "validates",
];

/// Beads' issue types that are records of its own machinery rather than
/// work (`bd ready` leaves them out): kept in `extra.issue_type`, and
/// left out of `ready` unless the config's `[beads] ready_all_types`.
pub const NON_WORK_TYPES: [&str; 7] = [
    "merge-request",
    "gate",
    "molecule",
    "message",
    "agent",
    "role",
    "rig",
];

/// A link type is a word of lowercase letters, digits and `-` (beads
/// knows more relations than [`LINK_TYPES`]; an import keeps any of them).
pub fn valid_link_type(kind: &str) -> bool {
    !kind.is_empty()
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A recorded time as an instant. `crate::time` is on this module's own
/// layer of the module map, so the RFC 3339 parse is repeated here rather
/// than imported.
pub(crate) fn parse_instant(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// One link of `Task::links`, `<type>:<id>`, split; `None` when it has no `:`.
pub fn split_link(link: &str) -> Option<(&str, &str)> {
    link.split_once(':')
}

/// A rough size, for planning how many tasks a worker takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Estimate {
    S,
    M,
    L,
}

impl Estimate {
    pub fn as_str(self) -> &'static str {
        match self {
            Estimate::S => "S",
            Estimate::M => "M",
            Estimate::L => "L",
        }
    }
}

impl FromStr for Estimate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "S" | "s" => Ok(Estimate::S),
            "M" | "m" => Ok(Estimate::M),
            "L" | "l" => Ok(Estimate::L),
            _ => Err(format!("unknown estimate '{s}' (expected S, M or L)")),
        }
    }
}

/// One entry of a task's append-only notes: comments and failure reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub at: String,
    pub by: String,
    pub text: String,
}

/// Why a task ended failed or escalated, as data rather than note text:
/// the reason (an escalation's question), the attempt and its log when a
/// run recorded it, and when. Written with the status by `fail`,
/// `escalate`, the run and the landing (a task its tests left out); cleared
/// when the task is reopened. The note beside it is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    pub at: String,
}

impl Failure {
    /// The reason with its attempt and log, on one line, for notes.
    pub fn describe(&self) -> String {
        let mut text = self.reason.clone();
        if let Some(n) = self.attempt {
            text.push_str(&format!(" after {n} attempt(s)"));
        }
        if let Some(log) = &self.log {
            text.push_str(&format!("; log {log}"));
        }
        text
    }
}

/// The `[extra]` table of a task file (see [`Task::extra`]): any TOML
/// values under any keys. Equal when the values are (a float `nan` never
/// comes from JSON, the only source of these values).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Extra(pub BTreeMap<String, toml::Value>);

impl Eq for Extra {}

impl Extra {
    /// The table of beads values the import changed (see `beads::export`).
    pub const ORIGINAL: &'static str = "original";
    /// The table of what the import changed them into.
    pub const MAPPED: &'static str = "mapped";

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Deref for Extra {
    type Target = BTreeMap<String, toml::Value>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Extra {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// The highest priority is 0, the lowest 4.
pub const MAX_PRIORITY: u8 = 4;
/// What `create` uses when no priority is given (the beads default).
pub const DEFAULT_PRIORITY: u8 = 2;

/// A task as stored in `.batch/tasks/<id>.toml` and printed by `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub id: TaskId,
    pub title: String,
    pub status: Status,
    pub priority: u8,
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<TaskId>,
    /// Further parents (a beads issue can have several): each holds the
    /// task back like `parent` does, and an epic among them waits for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_parents: Vec<TaskId>,
    #[serde(default)]
    pub deps: Vec<TaskId>,
    /// Blockers in another tracker, `external:<project>:<id>` (beads'
    /// cross-project dependencies): they block until removed, since
    /// git-batch cannot see the other project.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_deps: Vec<String>,
    /// Links that do not block, `<type>:<id>` (`related:bt-1`,
    /// `discovered-from:bt-2`, see [`LINK_TYPES`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub scope: Vec<String>,
    #[serde(default)]
    pub acceptance: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<Estimate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    /// Not ready before this time (RFC 3339); ready again after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defer_until: Option<String>,
    /// A template to copy from: never ready, and never blocks a task that
    /// depends on it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub template: bool,
    pub created: String,
    pub updated: String,
    #[serde(default)]
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landed: Option<String>,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub notes: Vec<Note>,
    /// Set while the task is failed or escalated (see [`Failure`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Its gates' results and the reviewer's verdict, written by the
    /// landing (see [`review`]).
    #[serde(default, skip_serializing_if = "review::Review::is_empty")]
    pub review: review::Review,
    /// Fields of an imported tracker that git-batch has no use for
    /// (`assignee`, `owner`, beads' own status and type, ...), kept as they
    /// were so that an export gives them back. Written by `import`, read
    /// only by `export` and by the few readiness facts documented in
    /// docs/format.md.
    #[serde(default, skip_serializing_if = "Extra::is_empty")]
    pub extra: Extra,
}

impl Task {
    /// A new open task with the given id and title, stamped `now` by `by`.
    pub fn new(id: TaskId, title: String, now: &str, by: &str) -> Task {
        Task {
            id,
            title,
            status: Status::Open,
            priority: DEFAULT_PRIORITY,
            kind: Kind::Task,
            parent: None,
            other_parents: Vec::new(),
            deps: Vec::new(),
            external_deps: Vec::new(),
            links: Vec::new(),
            labels: Vec::new(),
            scope: Vec::new(),
            acceptance: Vec::new(),
            estimate: None,
            batch: None,
            defer_until: None,
            template: false,
            created: now.to_string(),
            updated: now.to_string(),
            created_by: by.to_string(),
            closed_reason: None,
            landed: None,
            body: String::new(),
            notes: Vec::new(),
            failure: None,
            review: review::Review::default(),
            extra: Extra::default(),
        }
    }

    /// The label that marks beads' ephemeral work (wisps): never offered by `ready`.
    pub const EPHEMERAL_LABEL: &'static str = "ephemeral";

    pub fn is_ephemeral(&self) -> bool {
        self.labels.iter().any(|l| l == Self::EPHEMERAL_LABEL)
    }

    /// The text an imported tracker had for one of the fields git-batch
    /// maps (`status`, `issue_type`), when the import had to change it.
    pub fn original_str(&self, key: &str) -> Option<&str> {
        self.extra
            .get(Extra::ORIGINAL)
            .and_then(|t| t.get(key))
            .and_then(toml::Value::as_str)
    }

    /// Beads' pinned issues (kept deferred): not offered, but unlike a
    /// deferred task they do not hold their children back (bd and br agree).
    pub fn is_pinned(&self) -> bool {
        self.status == Status::Deferred
            && (self.original_str("status") == Some("pinned")
                || self.extra.get("pinned").and_then(toml::Value::as_bool) == Some(true)
                || self.labels.iter().any(|l| l == "beads:pinned"))
    }

    /// An imported issue type that is not work ([`NON_WORK_TYPES`]).
    pub fn is_non_work(&self) -> bool {
        self.kind == Kind::Task
            && self
                .original_str("issue_type")
                .is_some_and(|t| NON_WORK_TYPES.contains(&t.to_ascii_lowercase().as_str()))
    }

    /// When `defer_until` lies in the future, that time.
    pub fn deferred_until(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.defer_until.as_deref().and_then(parse_instant)
    }
}

/// Adds `item` to a list unless it is already there; keeps the list's order.
pub fn add_unique<T, Q>(list: &mut Vec<T>, item: &Q) -> bool
where
    T: PartialEq<Q> + for<'a> From<&'a Q>,
    Q: ?Sized,
{
    if list.iter().any(|x| x == item) {
        false
    } else {
        list.push(T::from(item));
        true
    }
}

/// Removes every copy of `item`; says whether anything was removed.
pub fn remove_item(list: &mut Vec<String>, item: &str) -> bool {
    let before = list.len();
    list.retain(|x| x != item);
    list.len() != before
}
