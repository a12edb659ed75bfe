//! What the review of a task's work records: the results of its gates
//! (automated checks run on the finished work, see `work::gates`) and a
//! person's verdict. Both live in the task's live state while its branch has
//! not landed, and in its file (`review`) once it has: written by the
//! landing, never by the worker (it is not one of the worker's fields).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One gate's result on one task's work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    pub name: String,
    pub passed: bool,
    /// A failing blocking gate fails the attempt; any other only flags the
    /// task for review.
    #[serde(default)]
    pub blocking: bool,
    /// `None` when it was killed by a signal or could not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    pub seconds: f64,
    /// The last lines of its output.
    #[serde(default)]
    pub tail: String,
    /// The numbers of the JSON object on its last line of output, if it
    /// printed one (`score` 0-100, `security` a count of findings, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, f64>,
    /// When it ran (RFC 3339, UTC).
    pub at: String,
}

// The numbers come from JSON, which has no NaN: equality is total.
impl Eq for GateResult {}

impl GateResult {
    /// Its `score` field, when it is one (0-100).
    pub fn score(&self) -> Option<f64> {
        self.fields
            .get("score")
            .copied()
            .filter(|s| (0.0..=100.0).contains(s))
    }

    /// How many security findings it reported (its `security` field).
    pub fn security(&self) -> u64 {
        self.fields
            .get("security")
            .copied()
            .filter(|s| *s > 0.0)
            .map_or(0, |s| s.round() as u64)
    }
}

/// A reviewer's decision on a task's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    Approved,
    Rejected,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Approved => "approved",
            VerdictKind::Rejected => "rejected",
        }
    }
}

impl std::fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub verdict: VerdictKind,
    pub by: String,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The review record a landed task keeps in its file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<GateResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

impl Review {
    pub fn is_empty(&self) -> bool {
        self.gates.is_empty() && self.verdict.is_none()
    }
}

/// Puts `new` in `gates` in place of a result of the same gate.
pub fn replace_gates(gates: &mut Vec<GateResult>, new: Vec<GateResult>) {
    for g in new {
        gates.retain(|old| old.name != g.name);
        gates.push(g);
    }
}
