//! What the client hooks check: staged files against the worker's scope and
//! staged task files against the graph (pre-commit), the task trailer
//! (commit-msg), and pushes a worker must not make (pre-push).

use super::{GuardError, Problem, git2_err};
use crate::graph::Node;
use crate::scope::Scope;
use crate::store::{Store, cache};
use crate::work::{self, worktree};
use git2::{Delta, Repository};
use std::collections::{HashMap, HashSet};
use std::path::Path;

const TASKS_PREFIX: &str = ".batch/tasks/";

/// The index the commit is being made from (`GIT_INDEX_FILE` when git set
/// one, as for `git commit <paths>` or `-a`).
fn staged_index(repo: &Repository) -> Result<git2::Index, GuardError> {
    match std::env::var_os("GIT_INDEX_FILE") {
        Some(path) => {
            let path = Path::new(&path);
            let path = if path.is_relative() {
                repo.workdir().unwrap_or_else(|| repo.path()).join(path)
            } else {
                path.to_path_buf()
            };
            git2::Index::open(&path).map_err(git2_err("reading the index"))
        }
        None => repo.index().map_err(git2_err("reading the index")),
    }
}

/// Problems with what is staged in `store`'s worktree.
pub fn pre_commit(store: &Store) -> Result<Vec<Problem>, GuardError> {
    let repo = &store.repo;
    let index = staged_index(repo)?;
    let head = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
    let diff = repo
        .diff_tree_to_index(head.as_ref(), Some(&index), None)
        .map_err(git2_err("diffing the index"))?;
    let staged = crate::git::diff_paths(&diff);
    let mut task_files = Vec::new();
    for delta in diff.deltas() {
        if let Some(p) = delta.new_file().path().and_then(Path::to_str)
            && p.starts_with(TASKS_PREFIX)
        {
            task_files.push((p.to_string(), delta.status(), delta.new_file().id()));
        }
    }
    let mut problems = Vec::new();
    if let Some(id) = worktree::current_task(store) {
        problems.extend(scope_problem(store, &id, &staged)?);
    }
    if !task_files.is_empty() {
        problems.extend(task_file_problems(store, &index, &task_files)?);
    }
    Ok(problems)
}

/// Staged files outside the scope of the worktree's task.
fn scope_problem(
    store: &Store,
    id: &str,
    staged: &[String],
) -> Result<Option<Problem>, GuardError> {
    let globs = worktree::base_task(store, id)?
        .map(|t| t.scope)
        .unwrap_or_default();
    let scope = Scope::parse(&globs).map_err(|source| {
        GuardError::Work(work::WorkError::Scope {
            id: id.to_string(),
            source,
        })
    })?;
    if scope.is_unscoped() {
        return Ok(None);
    }
    let mut files = crate::store::outside_scope(&scope, id, staged.iter().map(String::as_str));
    if !files.is_empty() {
        let base = worktree::branch_base_of(store)?;
        worktree::keep_out_new_children(store, base, id, &mut files);
    }
    Ok((!files.is_empty()).then(|| Problem::OutOfScope {
        task: id.to_string(),
        scope: globs,
        files,
        commit: None,
    }))
}

/// Staged task files that do not parse or do not fit the graph.
fn task_file_problems(
    store: &Store,
    index: &git2::Index,
    task_files: &[(String, Delta, git2::Oid)],
) -> Result<Vec<Problem>, GuardError> {
    let mut problems = Vec::new();
    // Every task the commit will have, by the index's paths.
    let ids: HashSet<String> = index
        .iter()
        .filter_map(|e| {
            let path = String::from_utf8(e.path).ok()?;
            let name = path.strip_prefix(TASKS_PREFIX)?;
            name.strip_suffix(".toml").map(String::from)
        })
        .collect();
    let mut staged_tasks = Vec::new();
    for (path, status, oid) in task_files {
        if *status == Delta::Deleted {
            continue;
        }
        let bad = |line: usize, message: String| Problem::BadTaskFile {
            path: path.clone(),
            line,
            message,
        };
        let Some(stem) = path
            .strip_prefix(TASKS_PREFIX)
            .and_then(|n| n.strip_suffix(".toml"))
        else {
            continue;
        };
        if stem.contains('/') || crate::task::id::validate_id(stem).is_err() {
            problems.push(bad(
                1,
                format!("'{stem}' is not a valid task id for a file name"),
            ));
            continue;
        }
        let blob = store
            .repo
            .find_blob(*oid)
            .map_err(git2_err("reading a staged file"))?;
        match cache::parse_file(blob.content(), stem) {
            Ok(task) => {
                for dep in task.deps.iter().chain(task.parent.as_ref()) {
                    if !ids.contains(dep.as_str()) {
                        let line = line_of(blob.content(), dep);
                        problems.push(bad(line, format!("depends on unknown task {dep}")));
                    }
                }
                staged_tasks.push(task);
            }
            Err(e) => problems.push(bad(e.line, e.message)),
        }
    }
    if !staged_tasks.is_empty() {
        // The graph as it will be: the working tree's tasks (from the cache)
        // with the staged versions in their place.
        let (cache, _) = store.cache()?;
        let mut nodes: HashMap<String, Node> = cache
            .nodes()
            .map_err(crate::store::StoreError::from)?
            .into_iter()
            .filter(|n| ids.contains(&n.id))
            .map(|n| (n.id.clone(), n))
            .collect();
        for t in &staged_tasks {
            nodes.insert(t.id.to_string(), Node::of(t));
        }
        let nodes: Vec<Node> = nodes.into_values().collect();
        let staged_ids: HashSet<&str> = staged_tasks.iter().map(|t| t.id.as_str()).collect();
        for cycle in crate::graph::cycles(&nodes) {
            if let Some(first) = cycle.iter().find(|id| staged_ids.contains(id.as_str())) {
                problems.push(Problem::BadTaskFile {
                    path: Store::task_rel(first),
                    line: 1,
                    message: format!("dependency cycle: {}", cycle.join(" -> ")),
                });
            }
        }
    }
    Ok(problems)
}

/// The line of `text` that mentions `needle` first (1 when none does).
fn line_of(text: &[u8], needle: &str) -> usize {
    String::from_utf8_lossy(text)
        .lines()
        .position(|l| l.contains(needle))
        .map_or(1, |i| i + 1)
}

/// Adds `Batch-Task: <id>` (and `Batch: <plan>`) to the message in `file`
/// when committing in a worker worktree; once, also on `--amend`.
pub fn commit_msg(store: &Store, file: &Path) -> Result<Option<String>, GuardError> {
    let Some(id) = worktree::current_task(store) else {
        return Ok(None);
    };
    let file_text = file.to_string_lossy().into_owned();
    let task_trailer = format!("Batch-Task: {id}");
    let mut args = vec![
        "interpret-trailers",
        "--in-place",
        "--if-exists",
        "doNothing",
        "--trailer",
        &task_trailer,
    ];
    let plan = store.read_task(&id).ok().and_then(|t| t.batch);
    let plan_trailer = plan.map(|p| format!("Batch: {p}"));
    if let Some(p) = &plan_trailer {
        args.extend(["--trailer", p]);
    }
    args.push(&file_text);
    crate::git::program::ok(&store.root, &args)?;
    Ok(Some(id))
}

/// Pushes refused from a worker worktree (`pre-push` input lines:
/// `<local ref> <local oid> <remote ref> <remote oid>`): branches and tags.
/// Work is shared under `refs/batch/`, and only the landing pushes main.
pub fn pre_push(store: &Store, input: &str) -> Vec<Problem> {
    if worktree::current_task(store).is_none() || std::env::var_os("GIT_BATCH_LANDING").is_some() {
        return Vec::new();
    }
    input
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2))
        .filter(|remote_ref| !remote_ref.starts_with(crate::git::refs::BATCH_NAMESPACE))
        .map(|remote_ref| Problem::Push {
            refname: remote_ref.to_string(),
            message: "workers commit locally and do not push branches; `git batch land` integrates finished work".into(),
        })
        .collect()
}
