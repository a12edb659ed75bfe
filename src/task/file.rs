//! Reading and writing one task file: TOML in a fixed key order, and parse
//! errors that name the line, so a hand edit gone wrong is easy to find.

use super::{MAX_PRIORITY, Task, id};

/// Why a task file could not be read as a task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line of the problem (1 when the problem is the file as a whole).
    pub line: usize,
    pub message: String,
}

/// Parses and validates the text of a task file.
pub fn parse_task(text: &str) -> Result<Task, ParseError> {
    let task: Task = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|span| line_of(text, span.start)).unwrap_or(1);
        ParseError {
            line,
            message: first_line(e.message()),
        }
    })?;
    validate(&task).map_err(|(key, message)| ParseError {
        line: key_line(text, key),
        message,
    })?;
    Ok(task)
}

/// Renders a task as the canonical text of its file.
pub fn render_task(task: &Task) -> String {
    // Serializing a plain struct of strings, numbers and lists cannot fail.
    toml::to_string(task).expect("a task always serializes to TOML")
}

/// Checks what TOML types alone cannot: id syntax, priority range, list items.
fn validate(task: &Task) -> Result<(), (&'static str, String)> {
    id::validate_id(&task.id).map_err(|e| ("id", e.to_string()))?;
    if task.title.trim().is_empty() {
        return Err(("title", "title is empty".into()));
    }
    if task.title.contains('\n') {
        return Err(("title", "title must be one line".into()));
    }
    if task.priority > MAX_PRIORITY {
        return Err((
            "priority",
            format!(
                "priority {} is out of range 0-{MAX_PRIORITY}",
                task.priority
            ),
        ));
    }
    if let Some(parent) = &task.parent {
        id::validate_id(parent).map_err(|e| ("parent", format!("parent: {e}")))?;
        if parent == &task.id {
            return Err(("parent", "a task cannot be its own parent".into()));
        }
    }
    for dep in &task.deps {
        id::validate_id(dep).map_err(|e| ("deps", format!("deps: {e}")))?;
        if dep == &task.id {
            return Err(("deps", "a task cannot depend on itself".into()));
        }
    }
    for p in &task.other_parents {
        id::validate_id(p).map_err(|e| ("other_parents", format!("other_parents: {e}")))?;
        if p == &task.id || task.parent.as_ref() == Some(p) {
            return Err((
                "other_parents",
                "other_parents repeats the task itself or its parent".into(),
            ));
        }
    }
    for dep in &task.external_deps {
        let ok = dep
            .strip_prefix("external:")
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(project, id)| !project.is_empty() && !id.is_empty());
        if !ok {
            return Err((
                "external_deps",
                format!(
                    "external_deps: '{}' is not external:<project>:<id>",
                    dep.escape_debug()
                ),
            ));
        }
    }
    for link in &task.links {
        let ok = super::split_link(link).is_some_and(|(kind, target)| {
            super::valid_link_type(kind)
                && (id::validate_id(target).is_ok() || target.starts_with("external:"))
        });
        if !ok {
            return Err((
                "links",
                format!(
                    "links: '{}' is not <type>:<id> (e.g. related:bt-1, discovered-from:bt-2)",
                    link.escape_debug()
                ),
            ));
        }
    }
    if let Some(d) = &task.defer_until
        && super::parse_instant(d).is_none()
    {
        return Err((
            "defer_until",
            format!("defer_until '{}' is not an RFC 3339 time", d.escape_debug()),
        ));
    }
    if let Some(batch) = &task.batch {
        id::validate_name(batch).map_err(|e| ("batch", format!("batch: {e}")))?;
    }
    for (key, list) in [
        ("labels", &task.labels),
        ("scope", &task.scope),
        ("acceptance", &task.acceptance),
    ] {
        if list.iter().any(|item| item.trim().is_empty()) {
            return Err((key, format!("{key} has an empty item")));
        }
    }
    Ok(())
}

fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The line where `key = ...` is set at the top level, or 1.
fn key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|line| {
            let line = line.trim_start();
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(1, |i| i + 1)
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{Note, Status};

    fn sample() -> Task {
        let mut t = Task::new(
            crate::task::TaskId::parse("bt-abc1").unwrap(),
            "Port the parser".into(),
            "2026-01-01T00:00:00Z",
            "alice",
        );
        t.body = "line one\nline two\n".into();
        t.deps = vec![crate::task::TaskId::parse("bt-zzz9").unwrap()];
        t.scope = vec!["src/parser/**".into(), "!src/parser/gen.rs".into()];
        t.notes.push(Note {
            at: "2026-01-02T00:00:00Z".into(),
            by: "bob".into(),
            text: "looked at it".into(),
        });
        t
    }

    #[test]
    fn round_trips() {
        let t = sample();
        let text = render_task(&t);
        assert_eq!(parse_task(&text).unwrap(), t);
    }

    #[test]
    fn one_field_change_is_one_line_diff() {
        let mut t = sample();
        let before = render_task(&t);
        t.status = Status::Closed;
        let after = render_task(&t);
        let changed = before
            .lines()
            .zip(after.lines())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(changed, 1);
        assert_eq!(before.lines().count(), after.lines().count());
    }

    #[test]
    fn syntax_error_names_line() {
        let text = "id = \"bt-1\"\ntitle = \"x\"\nstatus = open\n";
        let err = parse_task(text).unwrap_err();
        assert_eq!(err.line, 3, "{err}");
    }

    #[test]
    fn semantic_error_names_line() {
        let mut text = render_task(&sample());
        text = text.replace("priority = 2", "priority = 9");
        let err = parse_task(&text).unwrap_err();
        assert!(err.message.contains("out of range"), "{err}");
        assert_eq!(err.line, key_line(&text, "priority"));
        assert!(err.line > 1);
    }

    #[test]
    fn unknown_key_is_refused() {
        let text = render_task(&sample()) + "colour = \"red\"\n";
        let err = parse_task(&text).unwrap_err();
        assert!(err.message.contains("colour"), "{err}");
    }

    #[test]
    fn escaping_id_is_refused() {
        let text = render_task(&sample()).replace("id = \"bt-abc1\"", "id = \"../x\"");
        assert!(parse_task(&text).is_err());
    }
}
