//! The state of a run, kept under the common git dir so that a stopped or
//! killed run can be resumed: per task, where it stands, its attempts, the
//! last error, the logs of every attempt, and the token that finds the
//! processes of an attempt still running when the run died.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    #[default]
    Queued,
    Running,
    Done,
    Failed,
    Escalated,
    /// Finished (done, or landed) by another clone sharing the plan.
    Elsewhere,
}

impl TaskState {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Done | TaskState::Failed | TaskState::Escalated | TaskState::Elsewhere
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Running => "running",
            TaskState::Done => "done",
            TaskState::Failed => "failed",
            TaskState::Escalated => "escalated",
            TaskState::Elsewhere => "elsewhere",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TaskRun {
    pub state: TaskState,
    /// Attempts that ran to an end (an attempt cut off by the run's own
    /// death or by a second Ctrl-C does not count).
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The log of every attempt, oldest first.
    #[serde(default)]
    pub logs: Vec<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Set in the worker's environment (`BATCH_ATTEMPT_TOKEN`) before it is
    /// spawned: a resumed run finds and kills what a dead run left running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Where the time of the last attempt went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
}

impl TaskRun {
    /// Some attempt of it was started (by this run or an earlier one).
    pub fn ever_started(&self) -> bool {
        !self.logs.is_empty()
    }
}

/// Milliseconds spent in each part of an attempt.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Timing {
    /// Claim, worktree (made or found), context file, state saved.
    pub start_ms: u64,
    /// From the spawn of the worker to its exit.
    pub worker_ms: u64,
    /// Validation, `done` (scope check, commit with the hooks), sharing.
    pub finish_ms: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunState {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    pub worker: String,
    pub started: String,
    pub updated: String,
    /// Rate-limit events (exit 75s) in a row, and until when no task starts
    /// because of the last one (RFC 3339); for `status`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rate_limits: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<String>,
    /// How its last invocation ended (see [`super::StopReason`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<super::StopReason>,
    /// In plan order.
    pub order: Vec<String>,
    pub tasks: BTreeMap<String, TaskRun>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl RunState {
    pub fn path(dir: &Path, name: &str) -> PathBuf {
        dir.join(format!("{name}.json"))
    }

    /// The run's state; `None` when there is none. A file that does not
    /// parse is an error, not a fresh start (that would redo finished work).
    pub fn load(dir: &Path, name: &str) -> std::io::Result<Option<RunState>> {
        let path = RunState::path(dir, name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let state: RunState = serde_json::from_str(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        // Every id of the order must have its entry: the pool looks them up
        // without asking again.
        if let Some(id) = state.order.iter().find(|id| !state.tasks.contains_key(*id)) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{id} is in the run's order but has no entry"),
            ));
        }
        Ok(Some(state))
    }

    /// Every run recorded in `dir` that can be read.
    pub fn all(dir: &Path) -> Vec<RunState> {
        let mut out: Vec<RunState> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        let n = e.file_name().to_string_lossy().into_owned();
                        let name = n.strip_suffix(".json")?.to_string();
                        RunState::load(dir, &name).ok().flatten()
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Writes the state atomically (a `kill -9` leaves the old or the new).
    pub fn save(&mut self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        self.updated = crate::time::now_text();
        let text = serde_json::to_string_pretty(self).expect("state serializes");
        crate::atomic::write_atomic(&RunState::path(dir, &self.name), text.as_bytes())
    }

    /// Tasks started at least once: what `--max-tasks` counts.
    pub fn started(&self) -> usize {
        self.tasks.values().filter(|t| t.ever_started()).count()
    }

    /// Tasks of the run (its order) in `state`.
    pub fn count(&self, state: TaskState) -> usize {
        self.order
            .iter()
            .filter(|id| self.tasks.get(*id).is_some_and(|t| t.state == state))
            .count()
    }

    pub fn finished(&self) -> usize {
        self.order
            .iter()
            .filter(|id| self.tasks.get(*id).is_some_and(|t| t.state.is_final()))
            .count()
    }

    pub fn get(&self, id: &str) -> &TaskRun {
        self.tasks
            .get(id)
            .expect("every id of the order has an entry")
    }

    pub fn get_mut(&mut self, id: &str) -> &mut TaskRun {
        self.tasks
            .get_mut(id)
            .expect("every id of the order has an entry")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state file from disk that lists a task in its order without its
    /// entry is refused when it loads, not a panic later.
    #[test]
    fn a_state_file_without_an_entry_for_its_order_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text =
            r#"{"name":"r","worker":"w","started":"t","updated":"t","order":["bt-1"],"tasks":{}}"#;
        std::fs::write(RunState::path(dir.path(), "r"), text).unwrap();
        let err = RunState::load(dir.path(), "r").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("bt-1"));
    }
}
