//! Format 1 to 2: scopes became paths from the repository root. Under
//! format 1 a glob without an inner `/` (`*.md`, `Cargo.toml`) matched at
//! any depth, as in .gitignore, and a leading `/` anchored it; under format
//! 2 every glob is from the root. `init` rewrites an older store's task
//! files so that each keeps the files it named (`*.md` becomes `**/*.md`,
//! `/Makefile` becomes `Makefile`) and records format 2.

use super::{Store, StoreError, io_err, scan};
use crate::atomic;

/// The format that made scopes root-relative.
pub const ROOT_SCOPES: u32 = 2;

/// The format 2 spelling of a format 1 glob, with the same meaning: a
/// name without a `/` inside was at any depth and covered what lies below
/// it (a directory), so a plain name becomes two globs.
pub fn format1_glob(glob: &str) -> Vec<String> {
    let (bang, body) = match glob.strip_prefix('!') {
        Some(rest) => ("!", rest),
        None => ("", glob),
    };
    let trimmed = body.trim_end_matches('/');
    if let Some(rooted) = body.strip_prefix('/') {
        return vec![format!("{bang}{rooted}")];
    }
    if trimmed.contains('/') || trimmed.is_empty() || trimmed == "**" {
        return vec![glob.to_string()];
    }
    let wild = trimmed.contains(['*', '?', '[', '{', '\\']);
    match (wild, body.ends_with('/')) {
        (true, _) => vec![format!("{bang}**/{trimmed}")],
        // `docs/` was only ever a directory.
        (false, true) => vec![format!("{bang}**/{trimmed}/**")],
        (false, false) => vec![
            format!("{bang}**/{trimmed}"),
            format!("{bang}**/{trimmed}/**"),
        ],
    }
}

/// Rewrites every task file's scope in the format 2 spelling and the
/// config's `format`; the paths it changed, relative to the root. A task
/// file that does not read is left as it is (and named by every command
/// that meets it).
pub(super) fn to_root_scopes(store: &Store) -> Result<Vec<String>, StoreError> {
    let dir = store.tasks_dir();
    let mut changed = Vec::new();
    let listing = scan::scan(&dir).map_err(io_err("reading", &dir))?;
    let mut ids: Vec<String> = listing
        .entries
        .iter()
        .filter_map(|f| f.name.strip_suffix(".toml").map(String::from))
        .collect();
    ids.sort();
    for id in ids {
        let Ok(mut task) = store.read_task(&id) else {
            continue;
        };
        let scope: Vec<String> = task.scope.iter().flat_map(|g| format1_glob(g)).collect();
        if scope != task.scope {
            task.scope = scope;
            store.write_task(&task)?;
            changed.push(Store::task_rel(&id));
        }
    }
    let path = store.batch_dir().join("config.toml");
    let text =
        atomic::read_regular_text(&path, atomic::CONFIG_LIMIT).map_err(io_err("reading", &path))?;
    // The line itself, so the file's comments and layout stay.
    let mut done = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let key = line.split('=').next().unwrap_or("").trim();
            if !done && key == "format" {
                done = true;
                let comment = line.find('#').map(|i| &line[i..]).unwrap_or("");
                let pad = if comment.is_empty() { "" } else { " " };
                format!("format = {ROOT_SCOPES}{pad}{comment}")
            } else {
                line.to_string()
            }
        })
        .collect();
    let mut text = lines.join("\n");
    text.push('\n');
    atomic::write_atomic(&path, text.as_bytes()).map_err(io_err("writing", &path))?;
    changed.push(format!("{}/config.toml", super::BATCH_DIR));
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format1_globs_keep_their_meaning() {
        let one = |g: &str| format1_glob(g);
        assert_eq!(one("*.md"), ["**/*.md"]);
        assert_eq!(one("Cargo.toml"), ["**/Cargo.toml", "**/Cargo.toml/**"]);
        assert_eq!(one("docs/"), ["**/docs/**"]);
        assert_eq!(one("!gen.rs"), ["!**/gen.rs", "!**/gen.rs/**"]);
        assert_eq!(one("/Makefile"), ["Makefile"]);
        assert_eq!(one("!/gen/**"), ["!gen/**"]);
        assert_eq!(one("src/*.rs"), ["src/*.rs"]);
        assert_eq!(one("**"), ["**"]);
        assert_eq!(one("**/x"), ["**/x"]);
    }
}
