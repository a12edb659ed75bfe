//! `stats` and `search`: counts of tasks by status, priority and kind, and
//! the tasks whose title or body says something (a beads user's `bd stats`
//! and `bd search`).

use crate::task::{Status, Task};
use serde::Serialize;
use std::collections::BTreeMap;

/// How many tasks there are, by status, priority and kind.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Stats {
    pub total: usize,
    /// Every status, zeros included.
    pub status: BTreeMap<&'static str, usize>,
    /// `"0"` to `"4"`, zeros included.
    pub priority: BTreeMap<String, usize>,
    /// The kinds that occur.
    pub kind: BTreeMap<&'static str, usize>,
}

/// Counts `tasks` (their statuses as every clone sees them, when the caller
/// merged the live state in).
pub fn count(tasks: &[Task]) -> Stats {
    let mut stats = Stats {
        total: tasks.len(),
        status: Status::ALL.iter().map(|s| (s.as_str(), 0)).collect(),
        priority: (0..=4).map(|p| (p.to_string(), 0)).collect(),
        kind: BTreeMap::new(),
    };
    for t in tasks {
        *stats.status.entry(t.status.as_str()).or_default() += 1;
        *stats.priority.entry(t.priority.to_string()).or_default() += 1;
        *stats.kind.entry(t.kind.as_str()).or_default() += 1;
    }
    stats
}

/// Whether `task`'s title or body contains every word of `text`, ignoring
/// case.
pub fn matches(task: &Task, text: &str) -> bool {
    let title = task.title.to_lowercase();
    let body = task.body.to_lowercase();
    text.to_lowercase()
        .split_whitespace()
        .all(|w| title.contains(w) || body.contains(w))
}
