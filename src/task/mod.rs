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

/// A task is either a unit of work or an epic that groups children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[default]
    Task,
    Epic,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Task => "task",
            Kind::Epic => "epic",
        }
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "task" => Ok(Kind::Task),
            "epic" => Ok(Kind::Epic),
            _ => Err(format!("unknown kind '{s}' (expected task or epic)")),
        }
    }
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
    #[serde(default)]
    pub deps: Vec<TaskId>,
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
            deps: Vec::new(),
            labels: Vec::new(),
            scope: Vec::new(),
            acceptance: Vec::new(),
            estimate: None,
            batch: None,
            created: now.to_string(),
            updated: now.to_string(),
            created_by: by.to_string(),
            closed_reason: None,
            landed: None,
            body: String::new(),
            notes: Vec::new(),
            failure: None,
            review: review::Review::default(),
        }
    }

    /// The label that marks beads' ephemeral work (wisps): never offered by `ready`.
    pub const EPHEMERAL_LABEL: &'static str = "ephemeral";

    pub fn is_ephemeral(&self) -> bool {
        self.labels.iter().any(|l| l == Self::EPHEMERAL_LABEL)
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
