//! Three-way merge of one task, field by field, for the two places where
//! two versions of a task file meet: the landing's replay of a worker
//! branch onto main, and a user's `git pull`/`merge`/`rebase` (through the
//! merge driver `git batch merge-task`).
//!
//! A line merge of the TOML text loses words: both sides append a note at
//! the end of the file and touch `updated`, so the file conflicts, and the
//! only whole-file answer (one side wins) drops the other side's notes and
//! edits. Merging the parsed task keeps everything that can be kept: notes
//! are a union, labels a union minus what a side removed, and any other
//! field changed on one side only takes that side. What is left, a field
//! both sides changed differently, is a clash, settled by who owns the
//! field (see [`WORKER_FIELDS`]) and reported, never silent.

use super::{Note, Task};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Which version of the file a value came from. In a landing `ours` is main
/// (the stack) and `theirs` the worker branch; in a `git merge` or `pull`
/// `ours` is the checkout and `theirs` what is merged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Ours,
    Theirs,
}

/// A field both sides changed to different values: which side was kept,
/// and both values, so that the one dropped can still be read in the
/// report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Clash {
    pub field: &'static str,
    pub kept: Side,
    pub ours: serde_json::Value,
    pub theirs: serde_json::Value,
}

/// The merged task and the clashes that were settled on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub task: Task,
    pub clashes: Vec<Clash>,
}

/// The fields a worker writes on its branch (`done`, `fail`, `escalate`, a
/// landing's verdict): in a clash its version is the one that says what
/// happened to the work. Every other settable field is the people's (the
/// planner's, the reviewer's), who edit it on main.
pub const WORKER_FIELDS: [&str; 4] = ["status", "failure", "closed_reason", "landed"];

/// Merges `ours` and `theirs`, two versions of one task that both descend
/// from `base` (None: the file was added on both sides, so every field
/// counts as changed on both). The result keeps `ours`' id, `created` and
/// `created_by`, which never change after `create`.
pub fn merge3(base: Option<&Task>, ours: &Task, theirs: &Task) -> Merged {
    let mut m = Merger {
        base,
        ours,
        theirs,
        clashes: Vec::new(),
    };
    // A struct literal rather than `..ours.clone()`: a field added to Task
    // fails to compile here until someone decides how it merges.
    let task = Task {
        id: ours.id.clone(),
        title: m.field("title", |t| &t.title),
        status: m.field("status", |t| &t.status),
        priority: m.field("priority", |t| &t.priority),
        kind: m.field("kind", |t| &t.kind),
        parent: m.field("parent", |t| &t.parent),
        other_parents: m.field("other_parents", |t| &t.other_parents),
        deps: m.field("deps", |t| &t.deps),
        external_deps: m.field("external_deps", |t| &t.external_deps),
        links: merge_labels(base.map(|b| &b.links[..]), &ours.links, &theirs.links),
        labels: merge_labels(base.map(|b| &b.labels[..]), &ours.labels, &theirs.labels),
        scope: m.field("scope", |t| &t.scope),
        acceptance: m.field("acceptance", |t| &t.acceptance),
        estimate: m.field("estimate", |t| &t.estimate),
        batch: m.field("batch", |t| &t.batch),
        defer_until: m.field("defer_until", |t| &t.defer_until),
        template: m.field("template", |t| &t.template),
        created: ours.created.clone(),
        updated: later(&ours.updated, &theirs.updated).to_string(),
        created_by: ours.created_by.clone(),
        closed_reason: m.field("closed_reason", |t| &t.closed_reason),
        landed: m.field("landed", |t| &t.landed),
        body: m.field("body", |t| &t.body),
        notes: merge_notes(&ours.notes, &theirs.notes),
        failure: m.field("failure", |t| &t.failure),
        review: m.field("review", |t| &t.review),
        extra: m.field("extra", |t| &t.extra),
    };
    Merged {
        task,
        clashes: m.clashes,
    }
}

struct Merger<'a> {
    base: Option<&'a Task>,
    ours: &'a Task,
    theirs: &'a Task,
    clashes: Vec<Clash>,
}

impl Merger<'_> {
    /// One field by the three-way rule; a clash goes to the field's owner.
    fn field<T: Clone + PartialEq + Serialize>(
        &mut self,
        name: &'static str,
        get: fn(&Task) -> &T,
    ) -> T {
        let (o, t) = (get(self.ours), get(self.theirs));
        if o == t {
            return o.clone();
        }
        if let Some(b) = self.base.map(get) {
            if o == b {
                return t.clone();
            }
            if t == b {
                return o.clone();
            }
        }
        let kept = if WORKER_FIELDS.contains(&name) {
            Side::Theirs
        } else {
            Side::Ours
        };
        self.clashes.push(Clash {
            field: name,
            kept,
            ours: to_json(o),
            theirs: to_json(t),
        });
        match kept {
            Side::Ours => o.clone(),
            Side::Theirs => t.clone(),
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> serde_json::Value {
    // Task fields are strings, numbers, lists and plain records.
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

use super::parse_instant as instant;

/// The later of two times, as instants (`...00.5Z` is after `...00Z`, and
/// an offset other than `Z` compares by the moment it names); ours on a
/// tie or when neither reads, the one that reads otherwise.
fn later<'a>(ours: &'a str, theirs: &'a str) -> &'a str {
    match (instant(ours), instant(theirs)) {
        (Some(o), Some(t)) if t > o => theirs,
        (None, Some(_)) => theirs,
        _ => ours,
    }
}

/// Both sides' notes, each once, in time order. Notes are append-only, so a
/// note on either side is kept; one both sides have (the same time, author
/// and text, as each inherits the base's) is kept once, as many times as
/// the side that has it most often. Equal times keep ours before theirs;
/// a note whose time does not read goes after the ones that do.
fn merge_notes(ours: &[Note], theirs: &[Note]) -> Vec<Note> {
    let mut taken = vec![false; ours.len()];
    let mut all: Vec<&Note> = ours.iter().collect();
    for n in theirs {
        match (0..ours.len()).find(|&i| !taken[i] && ours[i] == *n) {
            Some(i) => taken[i] = true,
            None => all.push(n),
        }
    }
    let mut keyed: Vec<(Option<DateTime<Utc>>, &Note)> =
        all.into_iter().map(|n| (instant(&n.at), n)).collect();
    // Stable: ties keep the order above (ours, then theirs).
    keyed.sort_by(|(a, _), (b, _)| match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    keyed.into_iter().map(|(_, n)| n.clone()).collect()
}

/// Ours, then the labels only theirs has, without any label that one side
/// removed since the base.
fn merge_labels(base: Option<&[String]>, ours: &[String], theirs: &[String]) -> Vec<String> {
    let removed = |l: &String| {
        base.is_some_and(|b| b.contains(l) && (!ours.contains(l) || !theirs.contains(l)))
    };
    let mut out: Vec<String> = Vec::new();
    for l in ours.iter().chain(theirs) {
        if !removed(l) && !out.contains(l) {
            out.push(l.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::{Estimate, Failure, Status, TaskId};

    fn base() -> Task {
        let mut t = Task::new(
            TaskId::parse("bt-m1").unwrap(),
            "Port the parser".into(),
            "2026-01-01T00:00:00Z",
            "alice",
        );
        t.body = "first draft\n".into();
        t.labels = vec!["parser".into(), "later".into()];
        t.notes
            .push(note("2026-01-01T00:00:00Z", "alice", "created"));
        t
    }

    fn note(at: &str, by: &str, text: &str) -> Note {
        Note {
            at: at.into(),
            by: by.into(),
            text: text.into(),
        }
    }

    fn texts(t: &Task) -> Vec<&str> {
        t.notes.iter().map(|n| n.text.as_str()).collect()
    }

    /// The issue: a reviewer notes and rewrites the body on main while the
    /// worker notes and finishes on its branch; nobody's words are lost.
    #[test]
    fn the_reviewers_and_the_workers_words_are_both_kept() {
        let b = base();
        let mut main = b.clone();
        main.notes
            .push(note("2026-01-02T10:00:00Z", "reviewer", "mind the BOM"));
        main.body = "first draft\nand handle the BOM\n".into();
        main.updated = "2026-01-02T10:00:00Z".into();
        let mut branch = b.clone();
        branch
            .notes
            .push(note("2026-01-02T09:00:00Z", "worker", "ported"));
        branch.status = Status::Done;
        branch.updated = "2026-01-02T11:00:00Z".into();

        let m = merge3(Some(&b), &main, &branch);
        assert!(m.clashes.is_empty(), "{:?}", m.clashes);
        assert_eq!(texts(&m.task), ["created", "ported", "mind the BOM"]);
        assert_eq!(m.task.body, main.body);
        assert_eq!(m.task.status, Status::Done);
        assert_eq!(m.task.updated, "2026-01-02T11:00:00Z");
    }

    #[test]
    fn a_change_on_one_side_only_is_taken() {
        let b = base();
        let mut ours = b.clone();
        ours.priority = 0;
        ours.scope = vec!["src/parser/**".into()];
        let mut theirs = b.clone();
        theirs.estimate = Some(Estimate::M);
        theirs.status = Status::Failed;
        let m = merge3(Some(&b), &ours, &theirs);
        assert!(m.clashes.is_empty());
        assert_eq!(m.task.priority, 0);
        assert_eq!(m.task.scope, ["src/parser/**"]);
        assert_eq!(m.task.estimate, Some(Estimate::M));
        assert_eq!(m.task.status, Status::Failed);
        // Nothing changed on either side: the base, whichever side is asked.
        assert_eq!(merge3(Some(&b), &b, &b).task, b);
    }

    #[test]
    fn the_same_change_on_both_sides_is_no_clash() {
        let b = base();
        let mut ours = b.clone();
        ours.title = "Port the lexer".into();
        let theirs = ours.clone();
        let m = merge3(Some(&b), &ours, &theirs);
        assert!(m.clashes.is_empty());
        assert_eq!(m.task.title, "Port the lexer");
    }

    /// Each field both sides changed differently goes to its owner: the
    /// people's fields to ours (main), the worker's to theirs (the branch).
    #[test]
    fn a_clash_goes_to_the_fields_owner() {
        let b = base();
        let mut ours = b.clone();
        let mut theirs = b.clone();
        ours.title = "main's title".into();
        theirs.title = "branch's title".into();
        ours.body = "main's body".into();
        theirs.body = "branch's body".into();
        ours.priority = 1;
        theirs.priority = 3;
        ours.kind = crate::task::Kind::Epic;
        ours.parent = Some(TaskId::parse("bt-p1").unwrap());
        theirs.parent = Some(TaskId::parse("bt-p2").unwrap());
        ours.deps = vec![TaskId::parse("bt-d1").unwrap()];
        theirs.deps = vec![TaskId::parse("bt-d2").unwrap()];
        ours.scope = vec!["a/**".into()];
        theirs.scope = vec!["b/**".into()];
        ours.acceptance = vec!["main".into()];
        theirs.acceptance = vec!["branch".into()];
        ours.estimate = Some(Estimate::S);
        theirs.estimate = Some(Estimate::L);
        ours.batch = Some("p1".into());
        theirs.batch = Some("p2".into());
        ours.status = Status::Deferred;
        theirs.status = Status::Done;
        ours.closed_reason = Some("wontfix".into());
        theirs.closed_reason = Some("landed".into());
        ours.landed = Some("aaaa".into());
        theirs.landed = Some("bbbb".into());
        ours.failure = Some(Failure {
            reason: "main says".into(),
            attempt: None,
            log: None,
            at: "2026-01-02T00:00:00Z".into(),
        });
        theirs.failure = Some(Failure {
            reason: "the branch says".into(),
            attempt: Some(2),
            log: None,
            at: "2026-01-02T00:00:00Z".into(),
        });

        let m = merge3(Some(&b), &ours, &theirs);
        let t = &m.task;
        assert_eq!(t.title, "main's title");
        assert_eq!(t.body, "main's body");
        assert_eq!(t.priority, 1);
        // Changed on one side only: no clash.
        assert_eq!(t.kind, crate::task::Kind::Epic);
        assert_eq!(t.parent, ours.parent);
        assert_eq!(t.deps, ours.deps);
        assert_eq!(t.scope, ours.scope);
        assert_eq!(t.acceptance, ours.acceptance);
        assert_eq!(t.estimate, Some(Estimate::S));
        assert_eq!(t.batch.as_deref(), Some("p1"));
        assert_eq!(t.status, Status::Done);
        assert_eq!(t.closed_reason.as_deref(), Some("landed"));
        assert_eq!(t.landed.as_deref(), Some("bbbb"));
        assert_eq!(t.failure, theirs.failure);

        let kept: Vec<(&str, Side)> = m.clashes.iter().map(|c| (c.field, c.kept)).collect();
        assert_eq!(
            kept,
            [
                ("title", Side::Ours),
                ("status", Side::Theirs),
                ("priority", Side::Ours),
                ("parent", Side::Ours),
                ("deps", Side::Ours),
                ("scope", Side::Ours),
                ("acceptance", Side::Ours),
                ("estimate", Side::Ours),
                ("batch", Side::Ours),
                ("closed_reason", Side::Theirs),
                ("landed", Side::Theirs),
                ("body", Side::Ours),
                ("failure", Side::Theirs),
            ]
        );
        // Both values are in the report, the dropped one too.
        assert_eq!(m.clashes[0].theirs, serde_json::json!("branch's title"));
        assert_eq!(m.clashes[1].ours, serde_json::json!("deferred"));
    }

    /// Added on both sides (no base): every difference is a clash, and the
    /// identity fields are ours.
    #[test]
    fn without_a_base_every_difference_clashes() {
        let ours = base();
        let mut theirs = base();
        theirs.title = "another title".into();
        theirs.status = Status::Done;
        theirs.created = "2026-01-05T00:00:00Z".into();
        theirs.created_by = "bob".into();
        let m = merge3(None, &ours, &theirs);
        assert_eq!(m.task.title, ours.title);
        assert_eq!(m.task.status, Status::Done);
        assert_eq!(m.task.created, ours.created);
        assert_eq!(m.task.created_by, "alice");
        let fields: Vec<&str> = m.clashes.iter().map(|c| c.field).collect();
        assert_eq!(fields, ["title", "status"]);
    }

    #[test]
    fn a_note_both_sides_have_is_kept_once() {
        let b = base();
        let shared = note("2026-01-03T00:00:00Z", "carol", "same words");
        let mut ours = b.clone();
        ours.notes.push(shared.clone());
        let mut theirs = b.clone();
        theirs.notes.push(shared.clone());
        // Same time and author, other words: a different note.
        theirs
            .notes
            .push(note("2026-01-03T00:00:00Z", "carol", "other words"));
        let m = merge3(Some(&b), &ours, &theirs);
        assert_eq!(texts(&m.task), ["created", "same words", "other words"]);
        // Added on both sides, without a base: still once.
        let m = merge3(None, &ours, &theirs);
        assert_eq!(texts(&m.task), ["created", "same words", "other words"]);
        // A note one side has twice (two identical `note` commands in one
        // second) stays twice.
        let mut twice = ours.clone();
        twice.notes.push(shared.clone());
        let m = merge3(Some(&b), &twice, &theirs);
        assert_eq!(
            texts(&m.task),
            ["created", "same words", "same words", "other words"]
        );
    }

    /// Times are compared as instants: a fractional second sorts after the
    /// whole second before it (as text, `.` sorts before `Z`), and an
    /// offset counts by the moment it names. Equal instants keep ours first.
    #[test]
    fn notes_are_ordered_by_instant_not_by_text() {
        let b = base();
        let mut ours = b.clone();
        ours.notes
            .push(note("2026-01-03T00:00:00.5Z", "ours", "half past"));
        ours.notes
            .push(note("2026-01-03T02:00:00+01:00", "ours", "one o'clock"));
        let mut theirs = b.clone();
        theirs
            .notes
            .push(note("2026-01-03T00:00:00Z", "theirs", "on the second"));
        theirs
            .notes
            .push(note("2026-01-03T01:00:00Z", "theirs", "one o'clock too"));
        theirs.notes.push(note("yesterday", "theirs", "no time"));
        let m = merge3(Some(&b), &ours, &theirs);
        assert_eq!(
            texts(&m.task),
            [
                "created",
                "on the second",
                "half past",
                "one o'clock",
                "one o'clock too",
                "no time"
            ]
        );
        let mut later_ours = b.clone();
        later_ours.updated = "2026-01-03T00:00:00.5Z".into();
        let mut earlier_theirs = b.clone();
        earlier_theirs.updated = "2026-01-03T00:00:00Z".into();
        let m = merge3(Some(&b), &later_ours, &earlier_theirs);
        assert_eq!(m.task.updated, "2026-01-03T00:00:00.5Z");
        let m = merge3(Some(&b), &earlier_theirs, &later_ours);
        assert_eq!(m.task.updated, "2026-01-03T00:00:00.5Z");
    }

    #[test]
    fn labels_are_a_union_without_what_a_side_removed() {
        let b = base(); // parser, later
        let mut ours = b.clone();
        ours.labels = vec!["parser".into(), "urgent".into()]; // removed later
        let mut theirs = b.clone();
        theirs.labels = vec!["later".into(), "parser".into(), "ported".into()];
        let m = merge3(Some(&b), &ours, &theirs);
        assert_eq!(m.task.labels, ["parser", "urgent", "ported"]);
        assert!(m.clashes.is_empty());
        // Without a base nothing counts as removed.
        let m = merge3(None, &ours, &theirs);
        assert_eq!(m.task.labels, ["parser", "urgent", "later", "ported"]);
    }
}
