//! Receipts: the log a worker writes while it works, one timestamped line
//! per step, in `.batch/receipts/<id>.log` of its worktree.
//!
//! Each line goes to the file in one `write` on a descriptor opened with
//! `O_APPEND`, under an exclusive lock on the file, so lines from many
//! processes never interleave. A write killed half-way (`kill -9` can cut a
//! large write short) leaves a tail without its newline: the next writer,
//! holding the lock, cuts it off before it appends, `done` and `fail` do the
//! same before they commit, and readers ignore it. So a killed writer loses
//! at most the line it was writing. The file is fsynced before the command
//! returns, so a worker that dies leaves a receipt saying how far it got.
//! Receipts are committed by `done`, `fail` and `escalate`.

use super::WorkError;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Appends each line of `lines` as `<RFC3339 UTC> <worker> <text>`; text
/// with newlines becomes several lines. Returns how many lines were written.
pub fn append(
    path: &Path,
    worker: &str,
    lines: impl IntoIterator<Item = String>,
) -> Result<usize, WorkError> {
    let io = |what| io_error(path, what);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error(dir, "creating"))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        // Never through a link a worker planted (to a file outside the
        // repository): opening one fails.
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(io("opening"))?;
    // Released when the file closes, also when the process is killed.
    file.lock().map_err(io("locking"))?;
    drop_torn_tail(&file).map_err(io("repairing"))?;
    let mut written = 0;
    let mut buf = Vec::new();
    for text in lines {
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            buf.clear();
            // Built whole, then written in one call: never half a line.
            writeln!(buf, "{} {worker} {line}", crate::time::now_text()).expect("writes to a Vec");
            file.write_all(&buf).map_err(io("appending to"))?;
            written += 1;
        }
    }
    file.sync_data().map_err(io("syncing"))?;
    Ok(written)
}

/// What failed, on which file.
fn io_error(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> WorkError {
    let path = path.to_path_buf();
    move |source| WorkError::Io { what, path, source }
}

/// Cuts off a last line without its newline: what a writer killed in the
/// middle of its write left. The caller holds the lock.
fn drop_torn_tail(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    // Every append comes here: one byte says whether there is anything to do.
    let mut last = [0u8];
    if len == 0 || (file.read_exact_at(&mut last, len - 1).is_ok() && last[0] == b'\n') {
        return Ok(());
    }
    let mut end = len;
    let mut chunk = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let part = &mut chunk[..(end - start) as usize];
        file.read_exact_at(part, start)?;
        if let Some(i) = part.iter().rposition(|&b| b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep < len {
                file.set_len(keep)?;
            }
            return Ok(());
        }
        end = start;
    }
    if len > 0 {
        file.set_len(0)?;
    }
    Ok(())
}

/// Before a receipt is committed: a torn last line is cut off, under the
/// writers' lock. A missing file is fine.
pub fn repair(path: &Path) -> Result<(), WorkError> {
    let io = |what| io_error(path, what);
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("opening")(e)),
    };
    file.lock().map_err(io("locking"))?;
    drop_torn_tail(&file).map_err(io("repairing"))?;
    file.sync_data().map_err(io("syncing"))
}

/// The receipt's complete lines (a torn last line left out); empty when
/// there is no receipt yet.
pub fn read(path: &Path) -> std::io::Result<String> {
    let mut text = match crate::atomic::read_regular_text(path, crate::atomic::RECEIPT_LIMIT) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(e),
    };
    text.truncate(text.rfind('\n').map_or(0, |i| i + 1));
    Ok(text)
}

/// Appends lines read from `input` as they come, each one on disk before the
/// next is read (a slow worker's progress survives its death).
pub fn append_stream(
    path: &Path,
    worker: &str,
    input: impl std::io::BufRead,
) -> Result<usize, WorkError> {
    let mut total = 0;
    for line in input.lines() {
        let line = line.map_err(io_error(path, "reading standard input for"))?;
        total += append(path, worker, [line])?;
    }
    Ok(total)
}

/// `id`'s receipt read at `path` (see [`location`]); without a worktree
/// here, the one in the work another clone shared (`refs/batch/work/<id>`:
/// a failed or escalated task's partial receipt) when that has more lines.
/// Returns where it came from (the path, or the ref) and its lines.
pub fn read_here_or_shared(
    store: &crate::store::Store,
    id: &str,
    path: &Path,
) -> std::io::Result<(PathBuf, String)> {
    let text = read(path)?;
    let has_worktree = super::worktree::find_worktree(&store.repo, id)
        .ok()
        .flatten()
        .is_some();
    let work = crate::git::refs::work(id);
    if !has_worktree && let Ok(tip) = store.repo.refname_to_id(&work) {
        let shared = crate::store::at_commit::receipt_lines_at(&store.repo, tip, id);
        if shared.len() > text.lines().count() {
            let text = shared.iter().map(|l| format!("{l}\n")).collect();
            return Ok((PathBuf::from(work), text));
        }
    }
    Ok((path.to_path_buf(), text))
}

/// Where `id`'s receipt is read from: its worktree while it has one, else
/// this working tree.
pub fn location(store: &crate::store::Store, id: &str) -> Result<PathBuf, WorkError> {
    let rel = crate::store::Store::receipt_rel(id);
    if let Some(wt) = super::worktree::find_worktree(&store.repo, id)? {
        return Ok(wt.join(rel));
    }
    Ok(store.root.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_cut_off_by_the_next_writer_and_ignored_by_readers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.log");
        std::fs::write(&path, "one\ntwo\nhalf of thr").unwrap();
        assert_eq!(read(&path).unwrap(), "one\ntwo\n");
        append(&path, "w", ["three".to_string()]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(&lines[..2], ["one", "two"]);
        assert!(lines[2].ends_with(" w three"), "{text}");
        assert_eq!(lines.len(), 3);

        // No newline at all: all of it is torn. `repair` does the same.
        std::fs::write(&path, "x".repeat(200_000)).unwrap();
        repair(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), 0);
        std::fs::write(&path, format!("ok\n{}", "y".repeat(100_000))).unwrap();
        repair(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "ok\n");
        repair(&dir.path().join("missing.log")).unwrap();
        assert_eq!(read(&dir.path().join("missing.log")).unwrap(), "");
    }
}

/// The structured counts of receipt lines (`<time> <worker> <text>`): a
/// text that starts with `[key=value ...]` counts. `count=CATEGORY` adds
/// one to that category (`receipt --count`); any other `key=N` adds N to
/// `key` (`receipt --field`); `item=` names what was counted and is not a
/// count. Plain lines count nothing.
pub fn counts<'a>(lines: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in lines {
        // The worker's name may hold blanks: the head is the first
        // ` [key=value ...]` after the time that reads as one.
        let Some(fields) = line
            .match_indices(" [")
            .find_map(|(at, _)| structured_fields(&line[at + 1..]))
        else {
            continue;
        };
        for (k, v) in fields {
            if k == "count" {
                *out.entry(v.to_string()).or_insert(0.0) += 1.0;
            } else if k != "item"
                && let Ok(n) = v.parse::<f64>()
                && n.is_finite()
            {
                *out.entry(k.to_string()).or_insert(0.0) += n;
            }
        }
    }
    out
}

/// The `key=value` pairs of a structured receipt text's `[...]` head.
fn structured_fields(text: &str) -> Option<Vec<(&str, &str)>> {
    let inner = text.strip_prefix('[')?.split_once(']')?.0;
    let pairs: Vec<(&str, &str)> = inner
        .split_whitespace()
        .map(|w| w.split_once('='))
        .collect::<Option<_>>()?;
    let fits = !pairs.is_empty() && pairs.iter().all(|(k, v)| is_key(k) && !v.is_empty());
    fits.then_some(pairs)
}

/// Whether `key` can name a receipt count: lower-case letters, digits,
/// `_` and `-`.
pub fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 40
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// The text of a structured receipt line: `--count` (with `--item`) and
/// `--field key=N` as the `[...]` head, then the text.
pub fn structured_text(
    count: Option<&str>,
    item: Option<&str>,
    fields: &[(String, f64)],
    text: &str,
) -> String {
    let mut head = Vec::new();
    if let Some(c) = count {
        head.push(format!("count={c}"));
    }
    if let Some(i) = item {
        head.push(format!("item={i}"));
    }
    head.extend(fields.iter().map(|(k, n)| format!("{k}={n}")));
    if head.is_empty() {
        return text.to_string();
    }
    format!("[{}] {text}", head.join(" "))
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod count_tests {
    use super::*;

    #[test]
    fn structured_lines_count_and_plain_lines_do_not() {
        let lines = [
            "2026-01-01T00:00:00Z w [count=task item=T-1] filed a ticket",
            "2026-01-01T00:00:01Z w [count=task item=T-2] another",
            "2026-01-01T00:00:02Z w [count=fyi] noted",
            "2026-01-01T00:00:03Z w [processed=42 skip=4] checkpoint",
            "2026-01-01T00:00:04Z w [processed=8] checkpoint",
            "2026-01-01T00:00:05Z w [not a head] plain text",
            "2026-01-01T00:00:06Z Ann Lee@host#c1 [count=task] a worker name with a blank",
            "2026-01-01T00:00:07Z w [Bad=1] upper case key",
        ];
        let c = counts(lines);
        assert_eq!(c.get("task"), Some(&3.0));
        assert_eq!(c.get("fyi"), Some(&1.0));
        assert_eq!(c.get("processed"), Some(&50.0));
        assert_eq!(c.get("skip"), Some(&4.0));
        assert_eq!(c.len(), 4, "{c:?}");
        assert_eq!(
            structured_text(Some("task"), Some("T-9"), &[], "filed"),
            "[count=task item=T-9] filed"
        );
    }
}
