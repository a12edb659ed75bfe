//! Task ids and names: what is allowed, and how new ids are drawn.
//!
//! Ids are `<prefix>-<base36 hash>`. They are drawn from a hash of the title,
//! the time, the process and a per-process random key, so tasks created on
//! different branches or machines do not collide; the length grows with the
//! number of tasks so that the chance of a collision stays below 1%. A
//! collision with an existing file is still detected (the file is created
//! with no-clobber) and the id redrawn.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why an id, prefix or name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("'{0}' is empty")]
    Empty(String),
    #[error("'{0}' is too long (at most 128 characters)")]
    TooLong(String),
    #[error(
        "'{0}' could escape .batch/ or is not a valid name: use letters, digits, '-', '_' and '.' only, not starting with '.' and without '..'"
    )]
    Unsafe(String),
    #[error("'{0}' is not a valid prefix: use letters, digits and '_' (1-32 characters)")]
    BadPrefix(String),
}

/// A task id that has been checked ([`validate_id`]): safe as a file name
/// inside `.batch/tasks/` and inside a branch or ref name. Reads as a `str`
/// (it derefs to one, and maps keyed by it are looked up with `&str`), and
/// is written as a plain string in files and JSON.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct TaskId(String);

impl TaskId {
    /// Checks `id` and wraps it.
    pub fn parse(id: &str) -> Result<TaskId, IdError> {
        validate_id(id)?;
        Ok(TaskId(id.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TaskId {
    type Error = IdError;
    fn try_from(id: String) -> Result<TaskId, IdError> {
        validate_id(&id)?;
        Ok(TaskId(id))
    }
}

impl From<&TaskId> for TaskId {
    fn from(id: &TaskId) -> TaskId {
        id.clone()
    }
}

impl From<TaskId> for String {
    fn from(id: TaskId) -> String {
        id.0
    }
}

impl std::ops::Deref for TaskId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for TaskId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<std::path::Path> for TaskId {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&self.0)
    }
}

impl std::borrow::Borrow<str> for TaskId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, not `write_str`: list columns give ids a width.
        f.pad(&self.0)
    }
}

impl PartialEq<str> for TaskId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for TaskId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for TaskId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<TaskId> for String {
    fn eq(&self, other: &TaskId) -> bool {
        self == &other.0
    }
}

impl PartialEq<TaskId> for &str {
    fn eq(&self, other: &TaskId) -> bool {
        *self == other.0
    }
}

/// Checks that `id` is usable as a file name inside `.batch/tasks/`:
/// no `/`, no `..`, no NUL, not absolute, not hidden.
pub fn validate_id(id: &str) -> Result<(), IdError> {
    validate_name(id)
}

/// Same rule as ids, for batch plan names and other names that become paths.
pub fn validate_name(name: &str) -> Result<(), IdError> {
    if name.is_empty() {
        return Err(IdError::Empty(name.to_string()));
    }
    if name.len() > 128 {
        return Err(IdError::TooLong(name.to_string()));
    }
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !ok_chars || name.starts_with('.') || name.contains("..") {
        return Err(IdError::Unsafe(name.escape_debug().to_string()));
    }
    Ok(())
}

/// A prefix is the part before the first `-` of every new id.
pub fn validate_prefix(prefix: &str) -> Result<(), IdError> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 32
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(IdError::BadPrefix(prefix.escape_debug().to_string()))
    }
}

/// How many base36 characters a new id needs when `existing` tasks exist:
/// the smallest length (at least 4) for which the birthday bound
/// n^2 / (2 * 36^len) stays under 1%.
pub fn hash_length(existing: usize) -> usize {
    let n = (existing.max(1) + 1) as f64;
    let mut len = 4;
    while len < 12 && n * n / (2.0 * 36f64.powi(len as i32)) > 0.01 {
        len += 1;
    }
    len
}

static DRAWS: AtomicU64 = AtomicU64::new(0);

/// Draws a candidate id. Call again for a new candidate after a collision.
pub fn draw_id(prefix: &str, title: &str, now_nanos: i128, existing: usize) -> TaskId {
    let len = hash_length(existing);
    // RandomState is seeded from the OS once per process; mixing in the pid,
    // the time and a counter makes two draws differ even within one process.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write(title.as_bytes());
    hasher.write_i128(now_nanos);
    hasher.write_u32(std::process::id());
    hasher.write_u64(DRAWS.fetch_add(1, Ordering::Relaxed));
    let mut value = u128::from(hasher.finish());
    let mut second = std::collections::hash_map::RandomState::new().build_hasher();
    second.write_u64(value as u64);
    value = (value << 64) | u128::from(second.finish());
    let mut out = String::with_capacity(prefix.len() + 1 + len);
    out.push_str(prefix);
    out.push('-');
    for _ in 0..len {
        let digit = (value % 36) as u32;
        value /= 36;
        out.push(std::char::from_digit(digit, 36).expect("digit below 36"));
    }
    // A valid prefix, '-' and base36 digits: a valid id by construction.
    TaskId(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_id_reads_and_pads_like_a_string() {
        let id = TaskId::parse("bt-x1").unwrap();
        assert_eq!(format!("[{id:<7}]"), "[bt-x1  ]");
        assert_eq!(id, "bt-x1");
        assert!(TaskId::parse("../x").is_err());
        let back: TaskId = serde_json::from_str("\"bt-x1\"").unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<TaskId>("\"a/b\"").is_err());
    }

    #[test]
    fn escaping_ids_are_refused() {
        for bad in [
            "", "../x", "a/b", "/abs", "a\0b", "..", ".hidden", "a..b", "a b", "a\\b",
        ] {
            assert!(validate_id(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["bt-3k9f", "beads_rust-07b", "bd-44d0.1", "X1"] {
            validate_id(good).unwrap();
        }
    }

    #[test]
    fn length_grows_with_count() {
        assert_eq!(hash_length(0), 4);
        assert!(hash_length(1_000) >= 5);
        assert!(hash_length(10_000) > hash_length(1_000));
        assert!(hash_length(100_000) > hash_length(10_000));
    }

    #[test]
    fn draws_differ_and_are_valid() {
        let a = draw_id("bt", "same", 1, 0);
        let b = draw_id("bt", "same", 1, 0);
        assert_ne!(a, b);
        validate_id(&a).unwrap();
        assert!(a.starts_with("bt-") && a.len() == 7);
    }
}
