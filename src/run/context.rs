//! The context file a worker reads (`$BATCH_CONTEXT`): the batch's shared
//! instructions, the task, its scope and the scopes others hold, how to
//! work and report, what people said, and the previous attempt's error;
//! laid out as git-batch does, or by a template with placeholders for
//! agents that expect another layout.

use crate::task::Task;

/// The placeholders a template may use (`{name}`; `{{` and `}}` are
/// braces): each is a block of Markdown, empty when there is nothing to say.
pub const PLACEHOLDERS: [&str; 12] = [
    "id",
    "title",
    "instructions",
    "body",
    "acceptance",
    "scope",
    "how",
    "said",
    "previous_error",
    "cleaned",
    "attempt",
    "retries_left",
];

/// Refuses a template with an unknown placeholder or a lone brace (before
/// the run starts anything).
pub fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        let after = &rest[i + 1..];
        if after.starts_with(rest[i..].chars().next().unwrap_or(' ')) {
            rest = &after[1..];
            continue;
        }
        if rest[i..].starts_with('}') {
            return Err("a '}' that closes nothing (write '}}' for a brace)".into());
        }
        let Some(end) = after.find('}') else {
            return Err("a '{' that is not closed (write '{{' for a brace)".into());
        };
        let name = &after[..end];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}}; known: {}",
                PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(" ")
            ));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

/// Fills a template (already checked) with the parts.
fn render(template: &str, parts: &Parts) -> String {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let c = &rest[i..i + 1];
        let after = &rest[i + 1..];
        if after.starts_with(c) {
            out.push_str(c);
            rest = &after[1..];
            continue;
        }
        let end = after.find('}').unwrap_or(after.len());
        out.push_str(match &after[..end] {
            "id" => &parts.id,
            "title" => &parts.title,
            "instructions" => &parts.instructions,
            "body" => &parts.body,
            "acceptance" => &parts.acceptance,
            "scope" => &parts.scope,
            "how" => &parts.how,
            "said" => &parts.said,
            "previous_error" => &parts.previous_error,
            "cleaned" => &parts.cleaned,
            "attempt" => &parts.attempt,
            "retries_left" => &parts.retries_left,
            _ => "",
        });
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// What a worker is told besides its task.
pub struct Context<'a> {
    /// The attempt's number, its log's (`BATCH_ATTEMPT`).
    pub attempt: u32,
    /// How many more attempts a failure of this one leaves.
    pub retries_left: u32,
    pub previous_error: Option<&'a str>,
    /// Scopes held by other workers right now: `(task, globs)`.
    pub others: Vec<(String, Vec<String>)>,
    /// The task's live state: an earlier attempt's question and the
    /// answers people gave.
    pub live: Option<&'a crate::claims::live::Live>,
    /// Shared by every task of the batch (`--instructions`, the plan's).
    pub instructions: Option<&'a str>,
    /// The layout (`--context-template`), checked by [`check_template`].
    pub template: Option<&'a str>,
    /// Uncommitted edits outside the scope that the previous attempt left
    /// and that were removed before this one.
    pub cleaned: &'a [String],
}

/// The text of the context file: what to do, where, and how to report;
/// laid out by the run's template when it has one, else the batch's
/// instructions first, then the task.
pub fn context_text(task: &Task, ctx: &Context<'_>) -> String {
    let parts = Parts::of(task, ctx);
    match ctx.template {
        Some(t) => render(t, &parts),
        None => {
            let mut text = String::new();
            if !parts.instructions.is_empty() {
                text.push_str("# Instructions for every task of this batch\n\n");
                text.push_str(&parts.instructions);
                text.push_str("\n\n");
            }
            text.push_str(&format!("# Task {}: {}\n\n", task.id, task.title));
            for part in [&parts.body, &parts.acceptance, &parts.scope, &parts.how] {
                if !part.is_empty() {
                    text.push_str(part);
                    text.push('\n');
                }
            }
            for part in [&parts.said, &parts.previous_error, &parts.cleaned] {
                if !part.is_empty() {
                    text.push('\n');
                    text.push_str(part);
                }
            }
            text
        }
    }
}

/// The pieces of a context file, each a ready block of Markdown (empty
/// when there is nothing to say), by placeholder name.
struct Parts {
    id: String,
    title: String,
    attempt: String,
    retries_left: String,
    instructions: String,
    body: String,
    acceptance: String,
    scope: String,
    how: String,
    said: String,
    previous_error: String,
    cleaned: String,
}

impl Parts {
    fn of(task: &Task, ctx: &Context<'_>) -> Parts {
        Parts {
            id: task.id.to_string(),
            title: task.title.clone(),
            attempt: ctx.attempt.to_string(),
            retries_left: ctx.retries_left.to_string(),
            instructions: ctx
                .instructions
                .map(|i| i.trim_end().to_string())
                .unwrap_or_default(),
            body: if task.body.trim().is_empty() {
                String::new()
            } else {
                format!("{}\n", task.body.trim_end())
            },
            acceptance: acceptance(task),
            scope: scope(task, ctx),
            how: how(task, ctx),
            said: said(task, ctx),
            previous_error: ctx
                .previous_error
                .map(|err| {
                    format!(
                        "## The previous attempt failed\n\n```\n{}\n```\n",
                        err.trim_end()
                    )
                })
                .unwrap_or_default(),
            cleaned: if ctx.cleaned.is_empty() {
                String::new()
            } else {
                let mut text = String::from(
                    "## Removed before this attempt\n\nThe previous attempt left these uncommitted edits outside the scope; they were removed (the worktree is at the branch's last commit plus the edits inside the scope):\n\n",
                );
                for f in ctx.cleaned {
                    text.push_str(&format!("- `{f}`\n"));
                }
                text
            },
        }
    }
}

fn acceptance(task: &Task) -> String {
    let mut text = String::new();
    if !task.acceptance.is_empty() {
        text.push_str("## Acceptance criteria\n\n");
        for a in &task.acceptance {
            text.push_str(&format!("- {a}\n"));
        }
    }
    text
}

fn scope(task: &Task, ctx: &Context<'_>) -> String {
    let mut text = String::from("## Scope\n\n");
    if task.scope.is_empty() {
        text.push_str("No scope: any file may be changed.\n\n");
    } else {
        text.push_str(
            "Change only files matching these globs (paths from the repository root, as git's `:(glob)` pathspecs read them: `*` stays within a directory, `**` crosses them, a name without wildcards covers its subtree):\n\n",
        );
        for s in &task.scope {
            text.push_str(&format!("- `{s}`\n"));
        }
        text.push_str(
            "\nEverything else is out of scope: a commit or `done` that touches it is refused.\n",
        );
        if !ctx.others.is_empty() {
            text.push_str("Other workers hold these right now:\n\n");
            for (id, globs) in &ctx.others {
                let globs = if globs.is_empty() {
                    "(no scope)".to_string()
                } else {
                    globs.join(" ")
                };
                text.push_str(&format!("- {id}: `{globs}`\n"));
            }
        }
    }
    text
}

fn how(task: &Task, ctx: &Context<'_>) -> String {
    format!(
        "## How to work\n\n\
         - You are in your own worktree, on branch `{branch}`; commit there as you like (never push).\n\
         - Record each step as you go: `git batch receipt \"what you did\"` (one line each).\n\
         - Exit 0 when the task is done: git-batch checks the scope and commits the rest.\n\
         - Exit non-zero if you could not do it; exit 75 for a temporary failure (e.g. a rate limit).\n\
         - If a person must decide something: `git batch escalate --reason \"the question\"`, then exit.\n\n\
         This is attempt {attempt} (its log is number {attempt}); {left}.\n",
        branch = crate::git::refs::worker_branch(&task.id),
        attempt = ctx.attempt,
        left = match ctx.retries_left {
            0 => "if it fails, the task fails".to_string(),
            1 => "if it fails, it is tried once more".to_string(),
            n => format!("if it fails, it is tried up to {n} more times"),
        },
    )
}

fn said(task: &Task, ctx: &Context<'_>) -> String {
    let mut text = String::new();
    let asked = ctx.live.and_then(|l| {
        let question = (l.state == crate::claims::live::Outcome::Retry || l.state.needs_person())
            .then_some(l.reason.as_deref())
            .flatten();
        (question.is_some() || !l.answers.is_empty()).then_some((question, &l.answers))
    });
    if asked.is_some() || !task.notes.is_empty() {
        text.push_str("## What people said\n\n");
        if let Some((question, answers)) = asked {
            if let Some(q) = question {
                text.push_str(&format!(
                    "An earlier attempt stopped on: {}\n\n",
                    q.trim_end()
                ));
            }
            for a in answers {
                text.push_str(&format!(
                    "- answer by {} ({}): {}\n",
                    a.by,
                    a.at,
                    a.text.trim_end()
                ));
            }
        }
        for n in &task.notes {
            text.push_str(&format!(
                "- note by {} ({}): {}\n",
                n.by,
                n.at,
                n.text.trim_end()
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::TaskId;

    fn ctx<'a>(instructions: Option<&'a str>, template: Option<&'a str>) -> Context<'a> {
        Context {
            attempt: 2,
            retries_left: 1,
            previous_error: Some("boom"),
            others: Vec::new(),
            live: None,
            instructions,
            template,
            cleaned: &[],
        }
    }

    fn task() -> Task {
        let mut t = Task::new(
            TaskId::parse("bt-1").unwrap(),
            "Port it".into(),
            "2026-01-01T00:00:00Z",
            "me",
        );
        t.scope = vec!["src/a/**".into()];
        t
    }

    #[test]
    fn the_batch_instructions_come_first() {
        let text = context_text(&task(), &ctx(Some("Use tracing, never log."), None));
        assert!(text.starts_with("# Instructions for every task of this batch\n\nUse tracing"));
        assert!(text.contains("# Task bt-1: Port it"));
        assert!(
            text.contains("- `src/a/**`")
                && text.contains(
                    "attempt 2 (its log is number 2); if it fails, it is tried once more"
                )
        );
        assert!(text.contains("## The previous attempt failed\n\n```\nboom\n```"));
    }

    #[test]
    fn a_template_lays_it_out_and_a_bad_one_is_refused() {
        let t = "{title} ({id}) {{literal}}\n{scope}";
        check_template(t).unwrap();
        let text = context_text(&task(), &ctx(None, Some(t)));
        assert!(
            text.starts_with("Port it (bt-1) {literal}\n## Scope"),
            "{text}"
        );
        for bad in ["{nope}", "{title", "a } b"] {
            assert!(check_template(bad).is_err(), "{bad}");
        }
        assert!(check_template("{nope}").unwrap_err().contains("{scope}"));
    }
}
