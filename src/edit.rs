//! Changes to tasks: create, edit, close, reopen, note, dependencies. Each
//! validates first, writes the files atomically, then records one commit.
//! Nothing here prints or parses flags: the commands do that.

use crate::graph;
use crate::store::{Store, StoreError};
use crate::task::{self, Estimate, Kind, Note, Status, Task, TaskId, id};

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("unknown {role} '{id}': no such task")]
    UnknownRef { role: &'static str, id: String },
    #[error("{0}")]
    Invalid(String),
    #[error("that would make a cycle: {}", .path.join(" -> "))]
    Cycle { path: Vec<String> },
    #[error("cannot check the graph while task files do not parse: {}", .files.join(", "))]
    BrokenGraph { files: Vec<String> },
    #[error("could not draw a free id after {0} tries")]
    NoFreeId(usize),
    #[error("invalid scope")]
    Scope(#[from] crate::scope::ScopeError),
    #[error("{id} is claimed by {worker}: its scope cannot change while the claim is live")]
    ScopeWhileClaimed { id: String, worker: String },
    #[error(transparent)]
    Claims(#[from] crate::claims::ClaimError),
}

/// Everything `create` takes.
#[derive(Debug, Default, Clone)]
pub struct NewTask {
    pub title: String,
    pub body: String,
    pub priority: Option<u8>,
    pub kind: Kind,
    pub parent: Option<String>,
    pub deps: Vec<String>,
    pub scope: Vec<String>,
    pub acceptance: Vec<String>,
    pub labels: Vec<String>,
    pub estimate: Option<Estimate>,
    pub batch: Option<String>,
    /// Links that do not block, `<type>:<id>` (`related:bt-1`).
    pub links: Vec<String>,
}

/// A task changed by an operation, and the commit that recorded it.
#[derive(Debug, serde::Serialize)]
pub struct Changed {
    pub task: Task,
    pub changed: bool,
    pub commit: Option<String>,
}

fn check_title(title: &str) -> Result<String, EditError> {
    let title = title.trim();
    if title.is_empty() {
        Err(EditError::Invalid("the title is empty".into()))
    } else if title.contains('\n') {
        Err(EditError::Invalid(
            "the title must be one line (put details in the body)".into(),
        ))
    } else {
        Ok(title.to_string())
    }
}

fn check_priority(p: u8) -> Result<u8, EditError> {
    if p > task::MAX_PRIORITY {
        Err(EditError::Invalid(format!(
            "priority {p} is out of range 0-{} (0 is highest)",
            task::MAX_PRIORITY
        )))
    } else {
        Ok(p)
    }
}

fn check_items(what: &str, items: &[String]) -> Result<(), EditError> {
    match items
        .iter()
        .find(|i| i.trim().is_empty() || i.contains('\0'))
    {
        Some(_) => Err(EditError::Invalid(format!(
            "{what} cannot be empty or contain NUL"
        ))),
        None => Ok(()),
    }
}

/// Checks that `id` names an existing task, for the given role.
fn check_ref(store: &Store, role: &'static str, id: &str) -> Result<TaskId, EditError> {
    let checked = TaskId::parse(id).map_err(StoreError::from)?;
    if store.exists(id) {
        Ok(checked)
    } else {
        Err(EditError::UnknownRef {
            role,
            id: id.to_string(),
        })
    }
}

/// Creates one task with a fresh id and commits it.
pub fn create(store: &Store, new: NewTask) -> Result<Changed, EditError> {
    let title = check_title(&new.title)?;
    let priority = check_priority(new.priority.unwrap_or(task::DEFAULT_PRIORITY))?;
    let parent = match &new.parent {
        Some(p) => Some(check_ref(store, "parent", p)?),
        None => None,
    };
    let deps = new
        .deps
        .iter()
        .map(|d| check_ref(store, "dependency", d))
        .collect::<Result<Vec<TaskId>, EditError>>()?;
    let links = new
        .links
        .iter()
        .map(|l| {
            let (kind, target) = task::split_link(l)
                .ok_or_else(|| EditError::Invalid(format!("link '{l}' is not <type>:<id>")))?;
            Ok(format!(
                "{}:{}",
                check_link_type(kind)?,
                check_ref(store, "link", target)?
            ))
        })
        .collect::<Result<Vec<String>, EditError>>()?;
    if let Some(batch) = &new.batch {
        id::validate_name(batch).map_err(StoreError::from)?;
    }
    check_items("a scope glob", &new.scope)?;
    check_items("an acceptance criterion", &new.acceptance)?;
    check_items("a label", &new.labels)?;
    store.check_can_commit()?;

    let now = crate::time::now_text();
    let existing = count_task_files(store);
    let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default() as i128;
    let first = id::draw_id(&store.config.prefix, &title, nanos, existing);
    let mut task = Task::new(first, title, &now, &store.actor());
    task.body = new.body;
    task.priority = priority;
    task.kind = new.kind;
    task.parent = parent;
    for dep in &deps {
        task::add_unique(&mut task.deps, dep);
    }
    for l in &links {
        task::add_unique(&mut task.links, l);
    }
    for s in &new.scope {
        task::add_unique(&mut task.scope, &crate::scope::normalize(s));
    }
    // Checked where it enters: a scope that does not parse would make every
    // worker's `claim --next` stumble over the task later.
    crate::scope::Scope::parse(&task.scope)?;
    task.acceptance = new.acceptance;
    for l in &new.labels {
        task::add_unique(&mut task.labels, l);
    }
    task.estimate = new.estimate;
    task.batch = new.batch;

    const TRIES: usize = 100;
    for attempt in 0..TRIES {
        if attempt > 0 {
            task.id = id::draw_id(&store.config.prefix, &task.title, nanos, existing);
        }
        if store.create_task_file(&task)? {
            let commit = store
                .commit(
                    &[Store::task_rel(&task.id)],
                    &format!("batch: create {} {:?}", task.id, task.title),
                )
                .inspect_err(|_| {
                    // Nothing half-done: no task file that no commit holds.
                    let _ = std::fs::remove_file(store.task_path(&task.id));
                })?;
            return Ok(Changed {
                task,
                changed: true,
                commit,
            });
        }
    }
    Err(EditError::NoFreeId(TRIES))
}

fn count_task_files(store: &Store) -> usize {
    std::fs::read_dir(store.tasks_dir())
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_str()
                        .is_some_and(crate::store::scan::is_task_file)
                })
                .count()
        })
        .unwrap_or(0)
}

/// The changes `update` can make; `None`/empty means leave alone.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Edit {
    pub title: Option<String>,
    pub body: Option<String>,
    pub priority: Option<u8>,
    pub status: Option<Status>,
    pub kind: Option<Kind>,
    /// `Some(None)` removes the parent.
    pub parent: Option<Option<String>>,
    pub estimate: Option<Option<Estimate>>,
    pub batch: Option<Option<String>>,
    pub add_scope: Vec<String>,
    pub rm_scope: Vec<String>,
    pub add_label: Vec<String>,
    pub rm_label: Vec<String>,
    pub add_accept: Vec<String>,
    pub rm_accept: Vec<String>,
}

/// Applies `edit` to task `id` and commits it.
pub fn update(store: &Store, id: &str, edit: Edit) -> Result<Changed, EditError> {
    let mut task = store.read_task(id)?;
    let before = task.clone();
    if let Some(title) = edit.title {
        task.title = check_title(&title)?;
    }
    if let Some(body) = edit.body {
        task.body = body;
    }
    if let Some(p) = edit.priority {
        task.priority = check_priority(p)?;
    }
    if let Some(status) = edit.status {
        task.status = status;
    }
    if let Some(kind) = edit.kind {
        task.kind = kind;
    }
    if let Some(parent) = edit.parent {
        task.parent = match &parent {
            Some(p) if p == id => {
                return Err(EditError::Invalid("a task cannot be its own parent".into()));
            }
            Some(p) => Some(check_ref(store, "parent", p)?),
            None => None,
        };
    }
    if let Some(estimate) = edit.estimate {
        task.estimate = estimate;
    }
    if let Some(batch) = edit.batch {
        if let Some(b) = &batch {
            id::validate_name(b).map_err(StoreError::from)?;
        }
        task.batch = batch;
    }
    check_items("a scope glob", &edit.add_scope)?;
    check_items("a label", &edit.add_label)?;
    check_items("an acceptance criterion", &edit.add_accept)?;
    for s in &edit.rm_scope {
        // Either spelling of a glob: as written, or without the old `/`.
        task::remove_item(&mut task.scope, s);
        task::remove_item(&mut task.scope, &crate::scope::normalize(s));
    }
    for s in &edit.add_scope {
        task::add_unique(&mut task.scope, &crate::scope::normalize(s));
    }
    for l in &edit.rm_label {
        task::remove_item(&mut task.labels, l);
    }
    for l in &edit.add_label {
        task::add_unique(&mut task.labels, l);
    }
    for a in &edit.rm_accept {
        task::remove_item(&mut task.acceptance, a);
    }
    for a in &edit.add_accept {
        task::add_unique(&mut task.acceptance, a);
    }
    if task.scope != before.scope {
        crate::scope::Scope::parse(&task.scope)?;
        // The claim holds the scope it was taken with: widening it under a
        // live claim would reach into files another worker may hold.
        let claims = crate::claims::read(&store.repo)?;
        if let Some(c) = claims.claims.get(id)
            && !c.is_expired(crate::time::now())
        {
            return Err(EditError::ScopeWhileClaimed {
                id: id.to_string(),
                worker: c.worker.clone(),
            });
        }
    }
    if task.parent != before.parent || task.kind != before.kind {
        check_graph_after(store, &task)?;
    }
    save(store, before, task, "update")
}

/// Refuses a parent or kind change that would make a parent cycle or a
/// wait cycle (an epic waiting on a child that waits on it). Reads only the
/// tasks such a cycle could pass, each file checked first.
fn check_graph_after(store: &Store, task: &Task) -> Result<(), EditError> {
    let (cache, _) = store.cache_about(&[&task.id])?;
    if let Some(parent) = &task.parent {
        let chain = cache.parent_chain(parent).map_err(StoreError::from)?;
        if let Some(path) = graph::parent_cycle(&chain, &task.id, parent) {
            return Err(EditError::Cycle { path });
        }
    }
    // An epic now waits for its children: the walk starts from them too.
    let mut starts = vec![task.id.to_string()];
    if task.kind == Kind::Epic {
        let children = cache.children(&task.id).map_err(StoreError::from)?;
        starts.extend(children.into_iter().map(|c| c.id.to_string()));
    }
    let starts: Vec<&str> = starts.iter().map(String::as_str).collect();
    let mut nodes = reachable(&cache, &starts)?;
    for n in nodes.iter_mut().filter(|n| n.id == task.id) {
        n.parent = task.parent.as_ref().map(|p| p.to_string());
        n.kind = task.kind;
    }
    match graph::cycles(&nodes)
        .into_iter()
        .find(|c| c.iter().any(|id| *id == task.id))
    {
        Some(path) => Err(EditError::Cycle { path }),
        None => Ok(()),
    }
}

/// The graph a wait cycle through `starts` could use, refusing when a task
/// file on the way does not parse (a cycle through it could not be seen).
fn reachable(cache: &crate::store::Cache, starts: &[&str]) -> Result<Vec<graph::Node>, EditError> {
    let (nodes, broken) = cache.wait_reach(starts).map_err(StoreError::from)?;
    if !broken.is_empty() {
        return Err(EditError::BrokenGraph {
            files: broken
                .iter()
                .map(|b| format!("{}:{}", b.path.display(), b.line))
                .collect(),
        });
    }
    Ok(nodes)
}

/// Writes `after` if it differs from `before`, stamping `updated`, and
/// commits it as `batch: <verb> <id>`.
fn save(store: &Store, before: Task, mut after: Task, verb: &str) -> Result<Changed, EditError> {
    if after == before {
        return Ok(Changed {
            task: after,
            changed: false,
            commit: None,
        });
    }
    store.check_can_commit()?;
    after.updated = crate::time::now_text();
    store.write_task(&after)?;
    let commit = store
        .commit(
            &[Store::task_rel(&after.id)],
            &format!("batch: {verb} {} {:?}", after.id, after.title),
        )
        .inspect_err(|_| {
            // The file goes back to what the last commit has.
            let _ = store.write_task(&before);
        })?;
    Ok(Changed {
        task: after,
        changed: true,
        commit,
    })
}

/// Closes tasks (one commit for all); already closed ones are left alone.
pub fn close(
    store: &Store,
    ids: &[String],
    reason: Option<String>,
) -> Result<Vec<Changed>, EditError> {
    change_many(store, ids, "close", |task| {
        if task.status != Status::Closed {
            task.status = Status::Closed;
            task.closed_reason = reason.clone();
        }
    })
}

/// Reopens tasks that are not open (closed, failed, escalated, ...).
pub fn reopen(store: &Store, ids: &[String]) -> Result<Vec<Changed>, EditError> {
    change_many(store, ids, "reopen", |task| {
        if task.status != Status::Open {
            task.status = Status::Open;
            task.closed_reason = None;
            task.landed = None;
            task.failure = None;
        }
    })
}

/// Records a reviewer's verdict on landed tasks, in their files (for work
/// still in flight it lives in the live state: [`crate::work::live::judge`]).
pub fn record_verdict(
    store: &Store,
    ids: &[String],
    verdict: &crate::task::review::Verdict,
) -> Result<Vec<Changed>, EditError> {
    change_many(store, ids, verdict.verdict.as_str(), |task| {
        if task.review.verdict.as_ref().map(|v| v.verdict) != Some(verdict.verdict) {
            task.review.verdict = Some(verdict.clone());
        }
    })
}

/// Reads every task first (so one bad id changes nothing), applies `f`,
/// writes the changed ones and records them in one commit.
fn change_many(
    store: &Store,
    ids: &[String],
    verb: &str,
    f: impl Fn(&mut Task),
) -> Result<Vec<Changed>, EditError> {
    let tasks = ids
        .iter()
        .map(|id| store.read_task(id))
        .collect::<Result<Vec<_>, _>>()?;
    store.check_can_commit()?;
    let now = crate::time::now_text();
    let mut out = Vec::new();
    let mut paths = Vec::new();
    for before in tasks {
        let mut after = before.clone();
        f(&mut after);
        let changed = after != before;
        if changed {
            after.updated = now.clone();
            store.write_task(&after)?;
            paths.push(Store::task_rel(&after.id));
        }
        out.push(Changed {
            task: after,
            changed,
            commit: None,
        });
    }
    if !paths.is_empty() {
        let names: Vec<&str> = out
            .iter()
            .filter(|c| c.changed)
            .map(|c| c.task.id.as_str())
            .collect();
        let message = match out.iter().find(|c| c.changed) {
            Some(only) if names.len() == 1 => {
                format!("batch: {verb} {} {:?}", only.task.id, only.task.title)
            }
            _ => format!("batch: {verb} {}", names.join(" ")),
        };
        let commit = store.commit(&paths, &message)?;
        for c in out.iter_mut().filter(|c| c.changed) {
            c.commit = commit.clone();
        }
    }
    Ok(out)
}

/// Appends a note to a task.
pub fn note(store: &Store, id: &str, text: &str) -> Result<Changed, EditError> {
    if text.trim().is_empty() {
        return Err(EditError::Invalid("the note is empty".into()));
    }
    let before = store.read_task(id)?;
    let mut after = before.clone();
    after.notes.push(Note {
        at: crate::time::now_text(),
        by: store.actor(),
        text: text.to_string(),
    });
    save(store, before, after, "note")
}

/// Makes `id` wait for `blocker`, refusing unknown ids and cycles.
pub fn dep_add(store: &Store, id: &str, blocker: &str) -> Result<Changed, EditError> {
    let before = store.read_task(id)?;
    let blocker_id = check_ref(store, "dependency", blocker)?;
    if before.deps.iter().any(|d| d == blocker) {
        return Ok(Changed {
            task: before,
            changed: false,
            commit: None,
        });
    }
    let (cache, _) = store.cache_about(&[id, blocker])?;
    let nodes = reachable(&cache, &[blocker])?;
    if let Some(path) = graph::cycle_if_added(&nodes, id, blocker) {
        return Err(EditError::Cycle { path });
    }
    let mut after = before.clone();
    after.deps.push(blocker_id);
    save(store, before, after, "dep add")
}

/// Removes a dependency; an unknown id is an error, a missing edge is not.
pub fn dep_rm(store: &Store, id: &str, blocker: &str) -> Result<Changed, EditError> {
    let before = store.read_task(id)?;
    if blocker.starts_with("external:") {
        // A blocker in another tracker: removed once it is resolved there.
        let mut after = before.clone();
        if !task::remove_item(&mut after.external_deps, blocker) {
            return Err(EditError::UnknownRef {
                role: "dependency",
                id: blocker.to_string(),
            });
        }
        return save(store, before, after, "dep rm");
    }
    id::validate_id(blocker).map_err(StoreError::from)?;
    if !before.deps.iter().any(|d| d == blocker) && !store.exists(blocker) {
        return Err(EditError::UnknownRef {
            role: "dependency",
            id: blocker.to_string(),
        });
    }
    let mut after = before.clone();
    after.deps.retain(|d| d != blocker);
    save(store, before, after, "dep rm")
}

/// A link type as `dep add --type` takes it: `related`, `discovered-from`,
/// or another beads relation name ([`task::LINK_TYPES`]).
fn check_link_type(kind: &str) -> Result<&str, EditError> {
    if task::LINK_TYPES.contains(&kind) {
        Ok(kind)
    } else {
        Err(EditError::Invalid(format!(
            "unknown link type '{kind}' (expected blocks or one of: {})",
            task::LINK_TYPES.join(", ")
        )))
    }
}

/// Links `id` to `target` by a link that does not block (`related`,
/// `discovered-from`, ...); no cycle check, since links never wait.
pub fn link_add(store: &Store, id: &str, kind: &str, target: &str) -> Result<Changed, EditError> {
    let before = store.read_task(id)?;
    let kind = check_link_type(kind)?;
    let target = check_ref(store, "link", target)?;
    if target == before.id {
        return Err(EditError::Invalid(format!("{id} cannot link to itself")));
    }
    let mut after = before.clone();
    task::add_unique(&mut after.links, &format!("{kind}:{target}"));
    save(store, before, after, "link")
}

/// Removes a link; a missing one is not an error.
pub fn link_rm(store: &Store, id: &str, kind: &str, target: &str) -> Result<Changed, EditError> {
    let before = store.read_task(id)?;
    let kind = check_link_type(kind)?;
    let mut after = before.clone();
    task::remove_item(&mut after.links, &format!("{kind}:{target}"));
    save(store, before, after, "unlink")
}
