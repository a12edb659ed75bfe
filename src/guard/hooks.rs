//! Installing the hook shims (respecting `core.hooksPath`, chaining to any
//! hook already there, restoring it on uninstall) and running a chained hook.

use super::{GuardError, git2_err};
use git2::Repository;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Hooks of a working clone.
pub const CLIENT_HOOKS: [&str; 3] = ["pre-commit", "commit-msg", "pre-push"];
/// Hooks of a server (bare) repository.
pub const SERVER_HOOKS: [&str; 1] = ["pre-receive"];
/// What a hook that was there before ours is renamed to.
pub const CHAINED_SUFFIX: &str = ".pre-git-batch";
/// A line every shim has, so ours are told from anyone else's.
const MARKER: &str = "git-batch hook shim";

/// The shim for hook `name` (the files in the repository's `hooks/`).
pub fn shim(name: &str) -> Option<&'static str> {
    Some(match name {
        "pre-commit" => include_str!("../../hooks/pre-commit"),
        "commit-msg" => include_str!("../../hooks/commit-msg"),
        "pre-push" => include_str!("../../hooks/pre-push"),
        "pre-receive" => include_str!("../../hooks/pre-receive"),
        _ => return None,
    })
}

/// Where git runs hooks from: `core.hooksPath` (relative to the top of the
/// working tree, or the git dir when bare), else the common git dir's
/// `hooks/`, which serves every worktree.
pub fn hooks_dir(repo: &Repository) -> PathBuf {
    let configured =
        crate::git::identity::config(repo).and_then(|c| c.get_path("core.hooksPath").ok());
    match configured {
        Some(p) if p.is_absolute() => p,
        Some(p) => repo.workdir().unwrap_or_else(|| repo.path()).join(p),
        None => repo.commondir().join("hooks"),
    }
}

/// The state of one hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Ours, current.
    Installed,
    /// Ours, from another git-batch version.
    Outdated,
    /// Someone else's hook (not chained: install would chain it).
    Foreign,
    Missing,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct HookStatus {
    pub name: String,
    pub path: PathBuf,
    pub state: State,
    /// A hook that was there before ours and runs first.
    pub chained: Option<PathBuf>,
}

/// What install or uninstall did to one hook.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HookChange {
    pub name: String,
    pub path: PathBuf,
    /// `installed`, `updated`, `unchanged`, `chained` (ours installed, the
    /// old one kept), `removed`, `restored` (the old one back), `absent`,
    /// `foreign` (someone else's, left alone).
    pub action: &'static str,
}

fn chained_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(CHAINED_SUFFIX);
    PathBuf::from(p)
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> GuardError + 'a {
    move |source| GuardError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

pub fn status(repo: &Repository, names: &[&str]) -> Vec<HookStatus> {
    let dir = hooks_dir(repo);
    names
        .iter()
        .map(|name| {
            let path = dir.join(name);
            let chained = chained_path(&path);
            let state = match std::fs::read_to_string(&path) {
                Ok(text) if Some(text.as_str()) == shim(name) => State::Installed,
                Ok(text) if text.contains(MARKER) => State::Outdated,
                Ok(_) => State::Foreign,
                Err(_) if path.exists() => State::Foreign,
                Err(_) => State::Missing,
            };
            HookStatus {
                name: name.to_string(),
                path,
                state,
                chained: chained.exists().then_some(chained),
            }
        })
        .collect()
}

/// Installs the shims; an existing hook that is not ours is kept as
/// `<name>.pre-git-batch` and chained. Idempotent.
pub fn install(repo: &Repository, names: &[&str]) -> Result<Vec<HookChange>, GuardError> {
    let dir = hooks_dir(repo);
    std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    let mut changes = Vec::new();
    for st in status(repo, names) {
        let text = shim(&st.name).expect("known hook");
        let action = match st.state {
            State::Installed => "unchanged",
            State::Outdated => {
                write_hook(&st.path, text)?;
                "updated"
            }
            State::Missing => {
                write_hook(&st.path, text)?;
                "installed"
            }
            State::Foreign => {
                let chained = chained_path(&st.path);
                if chained.exists() {
                    return Err(GuardError::BothHooks {
                        path: st.path,
                        chained,
                    });
                }
                // A rename keeps the old hook exactly: content, mode, owner.
                std::fs::rename(&st.path, &chained).map_err(io("renaming", &st.path))?;
                write_hook(&st.path, text)?;
                "chained"
            }
        };
        changes.push(HookChange {
            name: st.name,
            path: st.path,
            action,
        });
    }
    Ok(changes)
}

/// Removes our shims and puts back what was there before.
pub fn uninstall(repo: &Repository, names: &[&str]) -> Result<Vec<HookChange>, GuardError> {
    let mut changes = Vec::new();
    for st in status(repo, names) {
        let action = match st.state {
            State::Installed | State::Outdated => {
                std::fs::remove_file(&st.path).map_err(io("removing", &st.path))?;
                match &st.chained {
                    Some(chained) => {
                        std::fs::rename(chained, &st.path).map_err(io("restoring", chained))?;
                        "restored"
                    }
                    None => "removed",
                }
            }
            State::Foreign => "foreign",
            State::Missing => "absent",
        };
        changes.push(HookChange {
            name: st.name,
            path: st.path,
            action,
        });
    }
    Ok(changes)
}

fn write_hook(path: &Path, text: &str) -> Result<(), GuardError> {
    let dir = path.parent().expect("a hook has a directory");
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io("writing", path))?;
    tmp.write_all(text.as_bytes())
        .map_err(io("writing", path))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o755))
        .map_err(io("writing", path))?;
    tmp.as_file().sync_all().map_err(io("writing", path))?;
    tmp.persist(path).map_err(|e| GuardError::Io {
        what: "writing",
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// Runs the hook ours replaced, if any, with the same arguments and input.
/// Returns its exit code (0 when there is none).
pub fn run_chained(
    repo: &Repository,
    name: &str,
    args: &[String],
    input: &[u8],
) -> Result<i32, GuardError> {
    let dir = std::env::var_os("GIT_BATCH_HOOK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| hooks_dir(repo));
    let chained = chained_path(&dir.join(name));
    let executable = std::fs::metadata(&chained)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false);
    if !executable {
        return Ok(0);
    }
    let mut child = std::process::Command::new(&chained)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|source| GuardError::Chained {
            path: chained.clone(),
            source,
        })?;
    let mut stdin = child.stdin.take().expect("piped");
    // A hook that does not read its input must not make us fail.
    let _ = stdin.write_all(input);
    drop(stdin);
    let status = child.wait().map_err(|source| GuardError::Chained {
        path: chained,
        source,
    })?;
    Ok(status.code().unwrap_or(1))
}

/// Opens the repository a hook runs in (bare on a server; honouring
/// `GIT_DIR` and the quarantine object directories git sets for hooks).
pub fn open_for_hook() -> Result<Repository, GuardError> {
    let repo = Repository::open_from_env().map_err(git2_err("opening the repository"))?;
    crate::store::config::adopt_branch_prefix(&repo);
    Ok(repo)
}
