//! Gates: automated checks a batch runs on each task's finished work (a
//! linter that scores it, a scanner that counts security findings), in the
//! task's worktree, after the worker and `--validate` succeeded (`run
//! --gate`) or later (`git batch gate`). Each gives a structured result
//! ([`GateResult`]): passed, exit code, time, the tail of its output, and
//! the numbers of a JSON object on its last line. A failing gate flags the
//! task for review; only a blocking one fails the attempt.
//!
//! Gates are named on the command line, in a plan (`[[gates]]`) or in the
//! config (`[[gates]]`), all of them people's files on the main branch:
//! never in anything a worker's branch says.

use crate::task::review::GateResult;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// How many lines of a gate's output its result keeps.
const TAIL_LINES: usize = 20;
/// And how many bytes at most.
const TAIL_BYTES: usize = 4000;

/// A gate as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub name: String,
    /// Run with `sh -c` in the task's worktree.
    pub command: String,
    /// A failure fails the attempt (retried with the output fed back)
    /// instead of flagging the task for review.
    #[serde(default)]
    pub blocking: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("'{given}' is not NAME=COMMAND")]
    Syntax { given: String },
    #[error("gate name '{name}': use letters, digits, '-' and '_'")]
    Name { name: String },
    #[error("two gates are named '{name}'")]
    Twice { name: String },
}

impl Gate {
    /// `NAME=COMMAND` from the command line.
    pub fn parse(text: &str, blocking: bool) -> Result<Gate, GateError> {
        let Some((name, command)) = text.split_once('=') else {
            return Err(GateError::Syntax {
                given: text.to_string(),
            });
        };
        let gate = Gate {
            name: name.trim().to_string(),
            command: command.to_string(),
            blocking,
        };
        if gate.command.trim().is_empty() {
            return Err(GateError::Syntax {
                given: text.to_string(),
            });
        }
        check_name(&gate.name)?;
        Ok(gate)
    }
}

/// Whether `name` can name a gate (it names a log file too).
pub fn check_name(name: &str) -> Result<(), GateError> {
    let fits = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if fits {
        Ok(())
    } else {
        Err(GateError::Name {
            name: name.to_string(),
        })
    }
}

/// The gates that apply: those given on the command line, else the plan's,
/// else the config's. Names must be distinct.
pub fn choose(flags: Vec<Gate>, plan: &[Gate], config: &[Gate]) -> Result<Vec<Gate>, GateError> {
    let gates = if !flags.is_empty() {
        flags
    } else if !plan.is_empty() {
        plan.to_vec()
    } else {
        config.to_vec()
    };
    for (i, g) in gates.iter().enumerate() {
        check_name(&g.name)?;
        if gates[..i].iter().any(|o| o.name == g.name) {
            return Err(GateError::Twice {
                name: g.name.clone(),
            });
        }
    }
    Ok(gates)
}

/// Where a gate runs and what it is told.
pub struct Place<'a> {
    pub task: &'a str,
    pub worktree: &'a Path,
    /// Its whole output goes here.
    pub log: PathBuf,
}

/// Runs `gate` for one task; its output goes to `place.log`. A gate that
/// cannot run at all fails with the reason as its tail.
pub fn run(gate: &Gate, place: &Place<'_>) -> GateResult {
    let began = Instant::now();
    let at = crate::time::now_text();
    let outcome = run_logged(gate, place);
    let seconds = began.elapsed().as_secs_f64();
    let (code, output) = match outcome {
        Ok(x) => x,
        Err(e) => (None, format!("could not run `{}`: {e}", gate.command)),
    };
    GateResult {
        name: gate.name.clone(),
        passed: code == Some(0),
        blocking: gate.blocking,
        exit_code: code,
        seconds: (seconds * 1000.0).round() / 1000.0,
        tail: tail(&output),
        fields: last_line_fields(&output),
        at,
    }
}

fn run_logged(gate: &Gate, place: &Place<'_>) -> std::io::Result<(Option<i32>, String)> {
    if let Some(dir) = place.log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let log = std::fs::File::create(&place.log)?;
    let status = Command::new("sh")
        .args(["-c", &gate.command])
        .current_dir(place.worktree)
        .env("PATH", crate::run::worker::path_with_self())
        .env("BATCH_TASK", place.task)
        .env("BATCH_WORKTREE", place.worktree)
        .env("BATCH_GATE", &gate.name)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()?;
    // The end is what counts; a huge log is read from its last 4 MiB.
    let mut file = std::fs::File::open(&place.log)?;
    let len = file.metadata()?.len();
    let skip = len.saturating_sub(4 << 20);
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(skip))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok((status.code(), String::from_utf8_lossy(&bytes).into_owned()))
}

/// The last lines of `output`, at most [`TAIL_BYTES`].
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let from = lines.len().saturating_sub(TAIL_LINES);
    let text = lines[from..].join("\n");
    if text.len() <= TAIL_BYTES {
        return text;
    }
    let mut cut = text.len() - TAIL_BYTES;
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    text[cut..].to_string()
}

/// The numeric fields of a JSON object on the last non-empty line.
fn last_line_fields(output: &str) -> BTreeMap<String, f64> {
    let Some(last) = output.lines().rev().find(|l| !l.trim().is_empty()) else {
        return BTreeMap::new();
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(last.trim()) else {
        return BTreeMap::new();
    };
    map.into_iter()
        .filter_map(|(k, v)| v.as_f64().map(|n| (k, n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_from_a_json_last_line_only() {
        let f = last_line_fields("noise\n{\"score\": 87.5, \"security\": 2, \"note\": \"x\"}\n\n");
        assert_eq!(f.get("score"), Some(&87.5));
        assert_eq!(f.get("security"), Some(&2.0));
        assert!(!f.contains_key("note"));
        assert!(last_line_fields("{\"score\": 1}\nlater text").is_empty());
        assert!(last_line_fields("[1, 2]").is_empty());
    }

    #[test]
    fn gate_flags_parse_and_names_are_checked() {
        let g = Gate::parse("lint=cargo clippy -- -D warnings", false).unwrap();
        assert_eq!(g.name, "lint");
        assert_eq!(g.command, "cargo clippy -- -D warnings");
        assert!(Gate::parse("lint", false).is_err());
        assert!(Gate::parse("lint=", false).is_err());
        assert!(Gate::parse("a/b=x", false).is_err());
        let twice = choose(vec![g.clone(), g], &[], &[]);
        assert!(matches!(twice, Err(GateError::Twice { .. })));
    }

    #[test]
    fn the_tail_is_bounded() {
        let long: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let t = tail(&long);
        assert!(t.starts_with("line 80") && t.ends_with("line 99"), "{t}");
        let wide = "é".repeat(5000);
        assert!(tail(&wide).len() <= TAIL_BYTES);
    }
}
