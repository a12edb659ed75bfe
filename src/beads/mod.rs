//! Import from and export to beads' `issues.jsonl` (bd and br).
//!
//! Import is all or nothing: every line is parsed and checked before a single
//! file is written, then all tasks are written and recorded in one commit.
//! Real-world oddities are mapped with a warning instead of refused; what a
//! task cannot hold is kept in its `[extra]` table, so that `export` gives
//! back what was imported. See `docs/format.md` for the table.

mod export;
mod import;
mod map;
mod read;
mod status;

pub use export::export;
pub use import::{ImportReport, Options, Warning, import};

const ORIGINAL_KEY: &str = crate::task::Extra::ORIGINAL;
const MAPPED_KEY: &str = crate::task::Extra::MAPPED;

use crate::store::StoreError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BeadsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} line(s) of {path} cannot be imported:\n{}", .errors.len(), format_lines(.path, .errors))]
    Lines {
        path: PathBuf,
        errors: Vec<(usize, String)>,
    },
    #[error("{} task(s) of the file already exist: {}", .ids.len(), first_ids(.ids))]
    Exists { ids: Vec<String> },
}

/// At most ten ids, and how many more: a message stays readable however
/// many clash.
fn first_ids(ids: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut text = ids
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        text.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    text
}

fn format_lines(path: &std::path::Path, errors: &[(usize, String)]) -> String {
    let mut out: Vec<String> = errors
        .iter()
        .take(20)
        .map(|(line, msg)| format!("  {}:{line}: {msg}", path.display()))
        .collect();
    if errors.len() > 20 {
        out.push(format!("  ... and {} more", errors.len() - 20));
    }
    out.join("\n")
}

/// Labels with which older imports carried beads' own statuses.
pub const LABEL_PREFIX: &str = "beads:";
