//! Gates: automated checks a batch runs on each task's finished work (a
//! linter that scores it, a scanner that counts security findings), in the
//! task's worktree, after the worker and `--validate` succeeded (`run
//! --gate`) or later (`git batch gate`); when the task has no worktree
//! (work another clone shared, a worktree removed), in a temporary detached
//! worktree at its branch tip that is removed afterwards. Each gives a
//! structured result ([`GateResult`]): passed, exit code, time, the tail of
//! its output, and the numbers of a JSON object on its last line. A failing
//! gate flags the task for review; only a blocking one fails the attempt.
//! Which gates run is [`crate::store::gates`]' business.

use super::WorkError;
use crate::git::program;
use crate::store::Store;
use crate::store::gates::Gate;
use crate::task::review::GateResult;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// How many lines of a gate's output its result keeps.
const TAIL_LINES: usize = 20;
/// And how many bytes at most.
const TAIL_BYTES: usize = 4000;

/// Runs every gate in `gates` on `id`'s work in `worktree`; the logs go
/// to `logs` as `<prefix>gate-<name>.log`.
pub fn run_in(
    id: &str,
    worktree: &Path,
    gates: &[Gate],
    logs: &Path,
    prefix: &str,
) -> Vec<GateResult> {
    gates
        .iter()
        .map(|g| {
            run(
                g,
                &Place {
                    task: id,
                    worktree,
                    log: logs.join(format!("{prefix}gate-{}.log", g.name)),
                },
            )
        })
        .collect()
}

/// Where `gate` keeps its logs: under the git dir, by task.
pub fn logs_dir(store: &Store) -> PathBuf {
    store.repo.commondir().join("batch").join("gates")
}

/// Runs `gates` on `id`'s finished work: in its worktree when it has one,
/// else at its branch tip in a temporary worktree. `None` when the task has
/// no work to judge (no branch here or shared).
pub fn run_on_work(
    store: &Store,
    id: &str,
    gates: &[Gate],
) -> Result<Option<Vec<GateResult>>, WorkError> {
    let logs = logs_dir(store);
    let prefix = format!("{id}.");
    if let Some(path) = super::worktree::find_worktree(&store.repo, id)? {
        return Ok(Some(run_in(id, &path, gates, &logs, &prefix)));
    }
    let Some(tip) = super::worktree::branch_tip(&store.repo, id) else {
        return Ok(None);
    };
    let path = store
        .repo
        .commondir()
        .join("batch")
        .join("gate-worktrees")
        .join(id);
    let common = store.repo.commondir();
    program::remove_scratch_worktree(&store.root, common, &path);
    program::add_scratch_worktree(&store.root, common, &path, tip)?;
    let results = run_in(id, &path, gates, &logs, &prefix);
    program::remove_scratch_worktree(&store.root, common, &path);
    Ok(Some(results))
}

/// The first failing blocking gate, as an attempt's failure reason (with
/// its output's tail, fed back to the worker).
pub fn blocking_failure(results: &[GateResult]) -> Option<String> {
    let g = results.iter().find(|g| g.blocking && !g.passed)?;
    let code = g
        .exit_code
        .map_or_else(|| "no exit code".to_string(), |c| format!("exit {c}"));
    Some(format!(
        "blocking gate `{}` failed ({code}):\n{}",
        g.name, g.tail
    ))
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
        .env("PATH", crate::git::program::path_with_self())
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
    fn the_tail_is_bounded() {
        let long: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let t = tail(&long);
        assert!(t.starts_with("line 80") && t.ends_with("line 99"), "{t}");
        let wide = "é".repeat(5000);
        assert!(tail(&wide).len() <= TAIL_BYTES);
    }
}
