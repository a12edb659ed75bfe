//! Reading a beads JSONL file into issue objects. Lines that are not
//! issues (bd 1.x's `{"_schema":...}` header, `{"_type":"memory",...}`
//! records) are skipped and counted; a line that cannot be read is an
//! error that names the line and what is wrong with it.

use serde_json::Value;
use std::collections::BTreeMap;

/// What a file held.
pub(super) struct Lines<'a, P> {
    /// Issue lines: 1-based line number, the line's text, and what the
    /// caller's look at the parsed object gave. The objects themselves are
    /// not kept: at 100k issues they are several times the file's size.
    pub issues: Vec<(usize, &'a str, P)>,
    /// Lines that are not issues, per kind (`_schema`, `memory`, ...).
    pub skipped: BTreeMap<String, usize>,
    /// The lines that cannot be read, then those the caller's look refused.
    pub errors: Vec<(usize, String)>,
}

/// A line as the split saw it, before its JSON is parsed.
enum Found<'a> {
    Candidate(usize, &'a str),
    Error(usize, String),
}

/// What parsing one candidate line gave.
enum Parsed<P> {
    Issue(P),
    Skipped(String),
    Error(String),
    Refused(String),
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Splits `bytes` into issues, skipped records and errors; `look` is given
/// each issue object (on every core, in no particular order) and returns
/// what the caller keeps of it, or why the line cannot be imported.
pub(super) fn read<'a, P: Send>(
    bytes: &'a [u8],
    look: impl Fn(&Value) -> Result<P, String> + Sync,
) -> Lines<'a, P> {
    let mut found = Vec::new();
    let body = match bytes.strip_prefix(BOM) {
        Some(rest) => {
            found.push(Found::Error(
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
                found.push(Found::Error(
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
                found.push(Found::Error(
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
        found.push(Found::Candidate(n, line));
    }
    let parsed = crate::parallel::map(&found, |f| match f {
        Found::Candidate(_, line) => Some(match serde_json::from_str::<Value>(line) {
            Ok(value @ Value::Object(_)) => match skipped_kind(&value) {
                Some(kind) => Parsed::Skipped(kind),
                None => match look(&value) {
                    Ok(p) => Parsed::Issue(p),
                    Err(why) => Parsed::Refused(why),
                },
            },
            Ok(_) => Parsed::Error("not a JSON object".into()),
            Err(e) => Parsed::Error(e.to_string()),
        }),
        Found::Error(..) => None,
    });
    let mut out = Lines {
        issues: Vec::new(),
        skipped: BTreeMap::new(),
        errors: Vec::new(),
    };
    // As before the split over the cores: the lines that cannot be read in
    // line order, then those the look refused.
    let mut refused = Vec::new();
    for (f, p) in found.into_iter().zip(parsed) {
        match (f, p) {
            (Found::Error(n, why), _) => out.errors.push((n, why)),
            (Found::Candidate(n, line), Some(p)) => match p {
                Parsed::Issue(p) => out.issues.push((n, line, p)),
                Parsed::Skipped(kind) => *out.skipped.entry(kind).or_default() += 1,
                Parsed::Error(why) => out.errors.push((n, why)),
                Parsed::Refused(why) => refused.push((n, why)),
            },
            (Found::Candidate(..), None) => unreachable!("every candidate is parsed"),
        }
    }
    out.errors.extend(refused);
    out
}

/// Why a record is not an issue: bd 1.x writes a `_schema` header and
/// other record types (`_type` other than `issue`) into the same file.
fn skipped_kind(obj: &Value) -> Option<String> {
    match obj.get("_type") {
        Some(Value::String(t)) if t != "issue" => return Some(t.clone()),
        Some(Value::String(_)) => return None,
        Some(_) => return Some("_type (not a string)".into()),
        None => {}
    }
    (obj.get("_schema").is_some() && obj.get("id").is_none()).then(|| "_schema".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_and_errors() {
        let text = b"{\"_schema\":2}\n{\"_type\":\"memory\",\"key\":\"k\"}\n{\"id\":\"a\"}\n\xff\n[1]\n<<<<<<< HEAD\n=======\n";
        let l = read(text, |_| Ok(()));
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
        let l = read(b"\xEF\xBB\xBF{\"id\":\"a\"}\n", |_| Ok(()));
        assert_eq!(l.errors.len(), 1);
        assert!(l.errors[0].1.contains("byte order mark"));
        assert_eq!(l.issues.len(), 1);
    }
}
