//! Who git-batch acts as, taken from the same place git takes it: the
//! author and committer of its commits, `created_by` of new tasks, and the
//! default worker name.
//!
//! libgit2 reads neither `GIT_CONFIG_GLOBAL` nor `GIT_CONFIG_NOSYSTEM`, so a
//! user whose name is only in the file `GIT_CONFIG_GLOBAL` names got commits
//! by `git-batch` and tasks created by `unknown`. The identities are asked
//! of git itself (`git var GIT_AUTHOR_IDENT`, once per process and role, and
//! not at all when the `GIT_<ROLE>_NAME`/`_EMAIL` variables settle it), and
//! configuration git-batch reads itself (`batch.worker`, `core.hooksPath`)
//! comes from [`config`], which opens the files git would.

use git2::{ConfigLevel, Repository};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// A name and an email, as in a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub email: String,
}

/// The two identities of a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Author,
    Committer,
}

impl Role {
    fn var(self) -> &'static str {
        match self {
            Role::Author => "AUTHOR",
            Role::Committer => "COMMITTER",
        }
    }
}

/// What commits get when git knows nobody (a fresh machine, a CI runner),
/// where `git commit` would refuse.
pub const FALLBACK_NAME: &str = "git-batch";
pub const FALLBACK_EMAIL: &str = "git-batch@localhost";

/// Who git would record in `role` for a commit in `repo`; `None` when git
/// has no identity (it would refuse to commit).
pub fn person(repo: &Repository, role: Role) -> Option<Person> {
    type Known = Mutex<HashMap<(PathBuf, Role), Option<Person>>>;
    static KNOWN: OnceLock<Known> = OnceLock::new();
    once_per_process(&KNOWN, (repo.commondir().to_path_buf(), role), || {
        ask(repo, role)
    })
}

/// `make()`'s answer for `key`, asked once per process: identities and the
/// clone id do not change under a running command.
fn once_per_process<K, V>(
    cell: &'static OnceLock<Mutex<HashMap<K, V>>>,
    key: K,
    make: impl FnOnce() -> V,
) -> V
where
    K: std::hash::Hash + Eq,
    V: Clone,
{
    let known = cell.get_or_init(Default::default);
    if let Some(v) = known.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return v;
    }
    let v = make();
    if let Ok(mut m) = known.lock() {
        m.insert(key, v.clone());
    }
    v
}

fn ask(repo: &Repository, role: Role) -> Option<Person> {
    let var = |what: &str| std::env::var(format!("GIT_{}_{what}", role.var())).ok();
    // Both variables set: git would look no further either.
    if let (Some(name), Some(email)) = (var("NAME"), var("EMAIL")) {
        return Some(Person { name, email });
    }
    let dir = repo.workdir().unwrap_or_else(|| repo.path());
    let out = super::program::Git::new(dir)
        .args(["var", &format!("GIT_{}_IDENT", role.var())])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_ident(&String::from_utf8_lossy(&out.stdout))
}

/// Reads `Name <email> 1700000000 +0000` (what `git var` prints).
fn parse_ident(line: &str) -> Option<Person> {
    let line = line.trim();
    let open = line.find('<')?;
    let close = open + line[open..].find('>')?;
    Some(Person {
        name: line[..open].trim().to_string(),
        email: line[open + 1..close].to_string(),
    })
}

/// The `GIT_<ROLE>_NAME`/`_EMAIL` variables that give the fallback identity
/// to each role git has none for, for a `git` process that commits.
pub fn fallback_env(repo: &Repository) -> Vec<(&'static str, String)> {
    let mut env = Vec::new();
    for (role, name, email) in [
        (Role::Author, "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"),
        (Role::Committer, "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"),
    ] {
        if person(repo, role).is_none() {
            env.push((name, FALLBACK_NAME.to_string()));
            env.push((email, FALLBACK_EMAIL.to_string()));
        }
    }
    env
}

/// The person in `role`, or the fallback identity.
pub fn person_or_fallback(repo: &Repository, role: Role) -> Person {
    person(repo, role).unwrap_or_else(|| Person {
        name: FALLBACK_NAME.into(),
        email: FALLBACK_EMAIL.into(),
    })
}

/// The configuration as git reads it: the system file (unless
/// `GIT_CONFIG_NOSYSTEM`; `GIT_CONFIG_SYSTEM` names another), the global
/// files (`GIT_CONFIG_GLOBAL` replaces `~/.gitconfig` and the XDG one), and
/// the repository's own. Includes are followed by libgit2. Not read:
/// `GIT_CONFIG_COUNT`/`GIT_CONFIG_PARAMETERS` (`git -c`) settings.
pub fn config(repo: &Repository) -> Option<git2::Config> {
    let mut config = git2::Config::new().ok()?;
    let mut add = |path: &Path, level: ConfigLevel| {
        // Only real files: `GIT_CONFIG_GLOBAL=/dev/null` means "none".
        if path.is_file() {
            let _ = config.add_file(path, level, false);
        }
    };
    let env_path = |var: &str| std::env::var_os(var).map(PathBuf::from);
    let truthy = |var: &str| {
        std::env::var(var).is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes" | "on"))
    };
    let system = env_path("GIT_CONFIG_SYSTEM").or_else(|| git2::Config::find_system().ok());
    if let (false, Some(p)) = (truthy("GIT_CONFIG_NOSYSTEM"), system) {
        add(&p, ConfigLevel::System);
    }
    match env_path("GIT_CONFIG_GLOBAL") {
        Some(p) => add(&p, ConfigLevel::Global),
        None => {
            if let Ok(p) = git2::Config::find_xdg() {
                add(&p, ConfigLevel::XDG);
            }
            if let Ok(p) = git2::Config::find_global() {
                add(&p, ConfigLevel::Global);
            }
        }
    }
    add(&repo.commondir().join("config"), ConfigLevel::Local);
    Some(config)
}

/// One string setting, as git reads it.
pub fn config_string(repo: &Repository, key: &str) -> Option<String> {
    config(repo)?.get_string(key).ok()
}

/// Who is acting, for `created_by` and notes: `batch.worker`, else git's
/// author name, else the login name.
pub fn actor(repo: &Repository) -> String {
    config_string(repo, "batch.worker")
        .or_else(|| person(repo, Role::Author).map(|p| p.name))
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// The default worker name: `batch.worker`, else `<author name>@<host>`.
pub fn worker(repo: &Repository) -> String {
    if let Some(w) = config_string(repo, "batch.worker") {
        return w;
    }
    let user = person(repo, Role::Author)
        .map(|p| p.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "worker".into());
    format!("{user}@{}", hostname())
}

/// A short random id for this clone, made once and kept under the common
/// git dir (`batch/clone-id`): part of a run's default worker name, and
/// recorded on each claim, so that a worker name alone (`--worker`) does
/// not let another clone renew or release it.
pub fn clone_id(repo: &Repository) -> String {
    // Asked on every claim decision and claims commit (a contended claim
    // retries up to 200 times): read once per process and repository.
    static KNOWN: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
    once_per_process(&KNOWN, repo.commondir().to_path_buf(), || {
        read_or_make_clone_id(repo)
    })
}

fn read_or_make_clone_id(repo: &Repository) -> String {
    use std::hash::{BuildHasher, Hasher};
    let path = repo.commondir().join("batch").join("clone-id");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return id.trim().to_string();
    }
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write(
        format!(
            "{:?}{}{:?}",
            std::time::SystemTime::now(),
            std::process::id(),
            path
        )
        .as_bytes(),
    );
    let mut n = hasher.finish();
    let mut id = String::new();
    for _ in 0..6 {
        id.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
        n /= 36;
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // No-clobber: when two processes make one at once, both use the winner's.
    let _ = crate::atomic::create_atomic(&path, id.as_bytes());
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .unwrap_or(id)
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
    // when the name fits, and we stop at the first NUL either way.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_git_var_prints() {
        let p = parse_ident("Ada Lovelace <ada@example.com> 1700000000 +0100\n").unwrap();
        assert_eq!(p.name, "Ada Lovelace");
        assert_eq!(p.email, "ada@example.com");
        assert!(parse_ident("no email here").is_none());
    }
}
