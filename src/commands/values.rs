//! Value parsers for flags and arguments, shared by the commands: a value
//! that cannot be right is refused by clap as a usage error (exit 2),
//! whichever flag carries it, before the command touches anything. The
//! same value read from a file is a malformed file (exit 1), decided by the
//! library where the file is read.

/// `-p N`: a priority, 0 (highest) to 4.
pub fn priority(s: &str) -> Result<u8, String> {
    match s.parse::<u8>() {
        Ok(p) if p <= 4 => Ok(p),
        _ => Err(format!("'{s}' is not a priority: give 0-4 (0 is highest)")),
    }
}

/// A task id given on the command line: one that could name a file in
/// `.batch/tasks/` (whether the task exists is the command's question).
pub fn task_id(s: &str) -> Result<String, String> {
    crate::task::id::validate_id(s)
        .map(|()| s.to_string())
        .map_err(|e| e.to_string())
}

/// `init --prefix`.
pub fn prefix(s: &str) -> Result<String, String> {
    crate::task::id::validate_prefix(s)
        .map(|()| s.to_string())
        .map_err(|e| e.to_string())
}

/// An edit's error where its scope came from flags (`create --scope`,
/// `update --add-scope`): a scope that does not parse is a usage error
/// then, with the edit's own message and hint. The edit checks the globs
/// together (an exclusion alone is fine beside an inclusion), before any
/// file is written.
pub fn scope_from_flags(e: crate::edit::EditError) -> crate::error::CommandError {
    let usage = matches!(e, crate::edit::EditError::Scope(_));
    let mut err = crate::error::CommandError::from(e);
    if usage {
        err.exit = crate::error::Exit::Usage;
    }
    err
}

/// A commit range `A..B` (`review A..B`).
pub fn range(s: &str) -> Result<String, String> {
    match s.split_once("..") {
        Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.starts_with('.') => Ok(s.to_string()),
        _ => Err(format!(
            "'{s}' is not a range: give it as A..B (e.g. origin/main@{{1}}..origin/main)"
        )),
    }
}
