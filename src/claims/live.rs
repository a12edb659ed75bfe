//! The live state of tasks in flight, kept in the claims commit next to the
//! claims (`state/<task>.toml`): how a task's last attempt ended (done on its
//! branch at a commit, failed, escalated with a question, left out by a
//! landing with the verdict), how many attempts it had, and the answers
//! people gave. Every clone sees it after a fetch of the claims ref, and it
//! changes only by the same compare-and-swap as the claims, so a claim and
//! the end of an attempt are one atomic step (an escalated task is never
//! free for a moment between its claim's release and its question).
//!
//! The task files stay the content; this is where a task stands while its
//! branch has not landed. An entry goes when its task lands (the landing
//! removes it with the claim) or a person reopens it without answers.

use crate::task::Status;
use crate::task::review::{GateResult, Verdict};
use serde::{Deserialize, Serialize};

/// The directory of the claims tree that holds the live state.
pub const DIR: &str = "state";

/// Where a task in flight stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Finished on its branch (`commit`), waiting to land.
    Done,
    /// Failed (`reason`, `log`): not handed out until a person retries it.
    Failed,
    /// Needs a person (`reason` is the question): not handed out until
    /// answered and retried.
    Escalated,
    /// A landing's tests failed with it (`reason` is the verdict): not a
    /// landing candidate again until its branch moves past `commit`.
    LeftOut,
    /// Queued again by a person (`retry`, `answer --retry`): ready like any
    /// open task; the answers and attempts stay for the next attempt.
    Retry,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Failed => "failed",
            Outcome::Escalated => "escalated",
            Outcome::LeftOut => "left_out",
            Outcome::Retry => "retry",
        }
    }

    /// Whether a task in this state may be handed to a worker.
    pub fn may_start(self) -> bool {
        self == Outcome::Retry
    }

    /// Whether it waits for a person.
    pub fn needs_person(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Escalated)
    }

    /// The status readers show for it; `None` for a retry (the task file
    /// says where it stands).
    pub fn status(self) -> Option<Status> {
        match self {
            Outcome::Done => Some(Status::Done),
            Outcome::Failed | Outcome::LeftOut => Some(Status::Failed),
            Outcome::Escalated => Some(Status::Escalated),
            Outcome::Retry => None,
        }
    }
}

/// Where a task stands for every reader, in every clone: a landed (closed)
/// file wins; else its live state; else a claim makes an open task
/// `in_progress`; else what its file says.
pub fn effective(file: Status, live: Option<&Live>, claimed: bool) -> Status {
    if file == Status::Closed {
        return file;
    }
    if let Some(s) = live.and_then(|l| l.state.status()) {
        return s;
    }
    if claimed && file == Status::Open {
        return Status::InProgress;
    }
    file
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a person said to a task's question (or after its failure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub at: String,
    pub by: String,
    pub text: String,
}

/// One task's live state, as stored in `state/<task>.toml`. Keys this
/// version does not know are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    pub task: String,
    pub state: Outcome,
    /// Attempts that ran to an end, over every run and clone.
    #[serde(default)]
    pub attempts: u32,
    /// When the state was recorded (RFC 3339, UTC).
    pub at: String,
    /// The worker (or person) who recorded it.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone: Option<String>,
    /// The branch commit it is about (done, failed, escalated, left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Why it failed, the question, or the landing's verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The log of the attempt (a path on the clone that ran it) or the tail
    /// of the failing test's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<Answer>,
    /// Where the task's branch was stacked (see [`super::StackBase`]), kept
    /// after its claim is released so that a retry on the kept branch is
    /// judged from the same base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<super::StackBase>,
    /// The gates' results on the work at `commit` (see `work::gates`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<GateResult>,
    /// The reviewer's verdict on it (`approve`, `reject`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

impl Live {
    /// A new state for `task`, keeping what an earlier one knew (attempts,
    /// answers) when there was one.
    pub fn next(earlier: Option<&Live>, task: &str, state: Outcome, by: &str) -> Live {
        Live {
            task: task.to_string(),
            state,
            attempts: earlier.map_or(0, |l| l.attempts),
            at: crate::time::now_text(),
            by: by.to_string(),
            clone: None,
            commit: None,
            reason: None,
            log: None,
            answers: earlier.map(|l| l.answers.clone()).unwrap_or_default(),
            stack: earlier.and_then(|l| l.stack.clone()),
            gates: Vec::new(),
            verdict: None,
        }
    }

    pub fn parse(text: &str) -> Result<Live, toml::de::Error> {
        toml::from_str(text)
    }

    pub fn to_text(&self) -> String {
        toml::to_string(self).expect("a live state serializes")
    }
}

/// A change to the live state, applied with the claims' changes.
// A handful exist at a time (one per task a step changes): the size of
// `Put` costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Change {
    Put(Box<Live>),
    Remove(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_state_round_trips_and_ignores_unknown_keys() {
        let mut live = Live::next(None, "bt-1", Outcome::Escalated, "w");
        live.reason = Some("which header?".into());
        live.answers.push(Answer {
            at: "2026-01-01T00:00:00Z".into(),
            by: "me".into(),
            text: "MIT".into(),
        });
        let text = live.to_text();
        assert_eq!(Live::parse(&text).unwrap(), live);
        let newer = format!("{text}\nfuture_key = 3\n");
        assert_eq!(Live::parse(&newer).unwrap(), live);
        let next = Live::next(Some(&live), "bt-1", Outcome::Retry, "me");
        assert_eq!(next.answers, live.answers);
        assert_eq!(next.reason, None);
    }
}
