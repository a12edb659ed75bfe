//! Reading a beads JSONL file into issue objects. Lines that are not
//! issues (bd 1.x's `{"_schema":...}` header, `{"_type":"memory",...}`
//! records) are skipped and counted; a line that cannot be read is an
//! error that names the line and what is wrong with it.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What a file held.
#[derive(Default)]
pub(super) struct Lines {
    /// Issue objects with their 1-based line numbers.
    pub issues: Vec<(usize, Map<String, Value>)>,
    /// Lines that are not issues, per kind (`_schema`, `memory`, ...).
    pub skipped: BTreeMap<String, usize>,
    pub errors: Vec<(usize, String)>,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Splits `bytes` into issues, skipped records and errors.
pub(super) fn read(bytes: &[u8]) -> Lines {
    let mut out = Lines::default();
    let body = match bytes.strip_prefix(BOM) {
        Some(rest) => {
            out.errors.push((
                1,
                "the file starts with a UTF-8 byte order mark (BOM), which JSON Lines does not \
                 allow; save it without one"
                    .into(),
            ));
            rest
        }
        None => bytes,
    };
    let mut conflict_reported = false;
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = match std::str::from_utf8(raw) {
            Ok(line) => line,
            Err(e) => {
                out.errors.push((
                    n,
                    format!(
                        "invalid UTF-8 at byte {} of the line (the file must be UTF-8)",
                        e.valid_up_to() + 1
                    ),
                ));
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        if ["<<<<<<<", "=======", ">>>>>>>", "|||||||"]
            .iter()
            .any(|m| line.starts_with(m))
        {
            if !conflict_reported {
                out.errors.push((
                    n,
                    format!(
                        "this file has an unresolved merge conflict ('{}' here): resolve it \
                         (keep the lines of both sides, one issue per line) and import again",
                        &line[..7]
                    ),
                ));
                conflict_reported = true;
            }
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(obj)) => {
                if let Some(kind) = skipped_kind(&obj) {
                    *out.skipped.entry(kind).or_default() += 1;
                } else {
                    out.issues.push((n, obj));
                }
            }
            Ok(_) => out.errors.push((n, "not a JSON object".into())),
            Err(e) => out.errors.push((n, e.to_string())),
        }
    }
    out
}

/// Why a record is not an issue: bd 1.x writes a `_schema` header and
/// other record types (`_type` other than `issue`) into the same file.
fn skipped_kind(obj: &Map<String, Value>) -> Option<String> {
    match obj.get("_type") {
        Some(Value::String(t)) if t != "issue" => return Some(t.clone()),
        Some(Value::String(_)) => return None,
        Some(_) => return Some("_type (not a string)".into()),
        None => {}
    }
    (obj.contains_key("_schema") && !obj.contains_key("id")).then(|| "_schema".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_and_errors() {
        let text = b"{\"_schema\":2}\n{\"_type\":\"memory\",\"key\":\"k\"}\n{\"id\":\"a\"}\n\xff\n[1]\n<<<<<<< HEAD\n=======\n";
        let l = read(text);
        assert_eq!(l.issues.len(), 1);
        assert_eq!(l.issues[0].0, 3);
        assert_eq!(l.skipped["_schema"], 1);
        assert_eq!(l.skipped["memory"], 1);
        let lines: Vec<usize> = l.errors.iter().map(|e| e.0).collect();
        assert_eq!(lines, vec![4, 5, 6]);
        assert!(l.errors[0].1.contains("byte 1"), "{:?}", l.errors);
        assert!(l.errors[2].1.contains("merge conflict"), "{:?}", l.errors);
    }

    #[test]
    fn a_bom_is_named_and_the_rest_still_read() {
        let l = read(b"\xEF\xBB\xBF{\"id\":\"a\"}\n");
        assert_eq!(l.errors.len(), 1);
        assert!(l.errors[0].1.contains("byte order mark"));
        assert_eq!(l.issues.len(), 1);
    }
}
