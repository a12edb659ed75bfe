//! The cache's tables and the version that names them.
//!
//! The version is not a number someone has to remember to bump: it is a
//! hash of the schema SQL and of the row format (the field names serde gives
//! a task and a note, the status names) and of the crate version. A binary
//! whose rows look different from the ones stored sees another version and
//! rebuilds, instead of misreading rows written by another git-batch (a
//! field added with `#[serde(default)]` would otherwise read as its default).

use crate::task::{Note, Status, Task};

/// The tables, created in one go when the stored version differs.
pub(super) const TABLES: &str = "
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE files(name TEXT PRIMARY KEY, fp INTEGER NOT NULL, content INTEGER NOT NULL);
    CREATE TABLE broken(name TEXT PRIMARY KEY, line INTEGER NOT NULL, message TEXT NOT NULL);
    CREATE TABLE tasks(
      id TEXT PRIMARY KEY, status TEXT NOT NULL, priority INTEGER NOT NULL,
      kind TEXT NOT NULL, parent TEXT, other_parents TEXT NOT NULL, created INTEGER NOT NULL,
      held INTEGER NOT NULL, template INTEGER NOT NULL, pinned INTEGER NOT NULL,
      non_work INTEGER NOT NULL, defer_until INTEGER, ready INTEGER NOT NULL DEFAULT 0,
      blocked_by TEXT NOT NULL DEFAULT '[]', json TEXT NOT NULL);
    CREATE TABLE deps(id TEXT NOT NULL, dep TEXT NOT NULL, PRIMARY KEY(id, dep));
    CREATE TABLE parents(id TEXT NOT NULL, parent TEXT NOT NULL, PRIMARY KEY(id, parent));
    CREATE TABLE labels(id TEXT NOT NULL, label TEXT NOT NULL, PRIMARY KEY(id, label));";
pub(super) const DROP_TABLES: &str = "
    DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS files;
    DROP TABLE IF EXISTS broken; DROP TABLE IF EXISTS tasks;
    DROP TABLE IF EXISTS deps; DROP TABLE IF EXISTS parents;
    DROP TABLE IF EXISTS labels;";
/// The indexes that only queries need. A rebuild from nothing drops them and
/// creates them at the end: one sort is much cheaper than 100k inserts in
/// random order.
pub(super) const SECONDARY_INDEXES: &str = "
    CREATE INDEX tasks_ready ON tasks(ready, priority, created, id);
    CREATE INDEX tasks_order ON tasks(priority, created, id);
    CREATE INDEX tasks_parent ON tasks(parent);
    CREATE INDEX labels_by_label ON labels(label, id);
    CREATE INDEX deps_by_dep ON deps(dep, id);
    CREATE INDEX parents_by_parent ON parents(parent, id);";
pub(super) const DROP_SECONDARY_INDEXES: &str = "
    DROP INDEX tasks_ready; DROP INDEX tasks_order;
    DROP INDEX tasks_parent; DROP INDEX labels_by_label;
    DROP INDEX deps_by_dep; DROP INDEX parents_by_parent;";

/// The version of this binary's cache, for `PRAGMA user_version`.
pub(super) fn version() -> i64 {
    let mut parts = vec![
        env!("CARGO_PKG_VERSION").to_string(),
        TABLES.to_string(),
        SECONDARY_INDEXES.to_string(),
    ];
    parts.extend(row_format());
    version_of(&parts)
}

/// What a row's JSON looks like, as serde sees it.
fn row_format() -> Vec<String> {
    let mut keys: Vec<String> = serde_fields::<Task>()
        .iter()
        .map(|f| format!("task.{f}"))
        .collect();
    keys.extend(serde_fields::<Note>().iter().map(|f| format!("note.{f}")));
    keys.extend(Status::ALL.iter().map(|s| format!("status={s}")));
    keys
}

/// A version for these parts: positive and never 0 (the version of a new,
/// empty database), within `user_version`'s 32 bits.
fn version_of(parts: &[String]) -> i64 {
    let mut h = Fnv::new();
    for part in parts {
        h.write(part.as_bytes());
        // A separator, so that ["ab", "c"] and ["a", "bc"] differ.
        h.write(&[0]);
    }
    (h.0 as i64 & 0x7fff_ffff).max(1)
}

/// FNV-1a, 64 bits: explicit, so the version is the same for every build
/// and Rust release (std's hashers promise no such thing).
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The field names `T`'s derived `Deserialize` declares (after renames).
/// Read from the derive itself, so a field added to the struct is seen
/// without anyone keeping a list or a sample up to date.
fn serde_fields<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    let mut fields = None;
    let _ = T::deserialize(FieldNames(&mut fields));
    fields.unwrap_or(&[])
}

/// A deserializer that only notes the fields a struct asks for.
struct FieldNames<'a>(&'a mut Option<&'static [&'static str]>);

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("only struct fields are read"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(serde::de::Error::custom("only struct fields are read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_the_standard_one() {
        let mut h = Fnv::new();
        h.write(b"a");
        assert_eq!(h.0, 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn the_row_format_is_read_from_the_task_struct() {
        let format = row_format();
        for key in ["task.id", "task.notes", "task.closed_reason", "note.text"] {
            assert!(format.contains(&key.to_string()), "{key} in {format:?}");
        }
        // Every key a fully populated task serializes is one the version covers.
        let mut task = Task::new(
            crate::task::TaskId::parse("bt-1").unwrap(),
            "t".into(),
            "now",
            "me",
        );
        task.parent = Some(crate::task::TaskId::parse("bt-0").unwrap());
        task.estimate = Some(crate::task::Estimate::S);
        task.batch = Some("b".into());
        task.closed_reason = Some("r".into());
        task.landed = Some("l".into());
        let value = serde_json::to_value(&task).unwrap();
        for key in value.as_object().unwrap().keys() {
            assert!(format.contains(&format!("task.{key}")), "{key}");
        }
    }

    #[test]
    fn a_field_more_or_renamed_is_another_version() {
        let format = row_format();
        let base = version_of(&format);
        let mut more = format.clone();
        more.push("task.reviewer".into());
        assert_ne!(version_of(&more), base);
        let renamed: Vec<String> = format
            .iter()
            .map(|k| {
                if k == "task.body" {
                    "task.text".into()
                } else {
                    k.clone()
                }
            })
            .collect();
        assert_ne!(version_of(&renamed), base);
        assert_eq!(
            version_of(&format),
            base,
            "the same parts, the same version"
        );
        assert!(version() > 0 && version() <= i64::from(i32::MAX));
    }
}
