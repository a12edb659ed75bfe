//! Batch plans: `.batch/batches/<name>.toml`, the manifest of one batch
//! (its tasks, how to run them, where it stands), and `split`, which makes
//! the tasks of a batch from a list of items.

pub mod split;
pub mod verdict;

use crate::graph::Node;
use crate::guard::Problem;
use crate::store::{BATCH_DIR, Store, StoreError};
use crate::task::{Estimate, Kind, Status, Task, id};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Op(#[from] crate::edit::EditError),
    #[error(transparent)]
    Guard(#[from] crate::guard::GuardError),
    #[error(transparent)]
    Work(#[from] Box<crate::work::WorkError>),
    #[error("{} not finished (neither done on a branch nor landed): nothing to judge", ids.join(", "))]
    NotFinished { ids: Vec<String> },
    #[error("{} landed already: reopen it to have it done again", ids.join(", "))]
    LandedAlready { ids: Vec<String> },
    #[error("the tasks of plan '{name}' cannot run in parallel:\n{}", problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    NotIndependent {
        name: String,
        problems: Vec<Problem>,
    },
    #[error("no plan '{name}' ({path} does not exist)")]
    Unknown { name: String, path: PathBuf },
    #[error("{path}:{line}: {message}")]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("plan '{name}' has no tasks")]
    Empty { name: String },
    #[error("plan '{name}' exists already ({path})")]
    Exists { name: String, path: PathBuf },
    #[error("these tasks cannot go into plan '{name}':\n{}", tasks.iter().map(|t| format!("  {t}")).collect::<Vec<_>>().join("\n"))]
    Unfit { name: String, tasks: Vec<String> },
    #[error("{0}")]
    Invalid(String),
    #[error("plan '{name}' is not completed: {left} task(s) not finished")]
    NotCompleted { name: String, left: usize },
    #[error(
        "--align {name}: plan '{name}' has {plan} task(s) but the split makes {chunks} chunk(s); they pair one to one"
    )]
    Misaligned {
        name: String,
        plan: usize,
        chunks: usize,
    },
    #[error("the scope of chunk {n} (key '{key}') is invalid")]
    ChunkScope {
        n: usize,
        key: String,
        #[source]
        source: crate::scope::ScopeError,
    },
}

/// Where a plan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Pending,
    Running,
    Completed,
    Reviewed,
}

pub use crate::store::config::RunConfig;

/// One task as the plan records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanTask {
    pub id: String,
    pub title: String,
    pub priority: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<Estimate>,
    #[serde(default)]
    pub scope: Vec<String>,
    #[serde(default)]
    pub deps: Vec<String>,
}

/// `.batch/batches/<name>.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub name: String,
    pub created: String,
    pub status: PlanStatus,
    pub config: RunConfig,
    /// Gates run on each of its tasks' finished work (see [`crate::work::gates`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<crate::store::gates::Gate>,
    #[serde(default)]
    pub tasks: Vec<PlanTask>,
    /// Tasks moved on to a later plan unfinished (`plan NEXT --carry-over
    /// THIS`), by the plan they went to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub carried_over: BTreeMap<String, String>,
}

impl Plan {
    pub fn rel(name: &str) -> String {
        format!("{BATCH_DIR}/batches/{name}.toml")
    }

    pub fn ids(&self) -> Vec<String> {
        self.tasks.iter().map(|t| t.id.clone()).collect()
    }

    pub fn read(store: &Store, name: &str) -> Result<Plan, PlanError> {
        id::validate_name(name).map_err(StoreError::from)?;
        let path = store.root.join(Plan::rel(name));
        let text = match crate::atomic::read_regular_text(&path, crate::atomic::PLAN_LIMIT) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PlanError::Unknown {
                    name: name.to_string(),
                    path,
                });
            }
            Err(source) => {
                return Err(StoreError::Io {
                    what: "reading",
                    path,
                    source,
                }
                .into());
            }
        };
        toml::from_str(&text).map_err(|e| {
            let (line, message) = crate::store::located::locate(&text, &e);
            PlanError::Malformed {
                line,
                message,
                path,
            }
        })
    }

    /// Every plan of the repository that reads, by name, and the errors of
    /// those that do not.
    pub fn all_checked(store: &Store) -> (Vec<Plan>, Vec<PlanError>) {
        let mut plans = Vec::new();
        let mut errors = Vec::new();
        for name in Plan::names(store) {
            match Plan::read(store, &name) {
                Ok(p) => plans.push(p),
                Err(e) => errors.push(e),
            }
        }
        (plans, errors)
    }

    /// Every plan of the repository that reads, by name.
    pub fn all(store: &Store) -> Vec<Plan> {
        Plan::all_checked(store).0
    }

    fn names(store: &Store) -> Vec<String> {
        let dir = store.root.join(BATCH_DIR).join("batches");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        let n = e.file_name().to_string_lossy().into_owned();
                        n.strip_suffix(".toml").map(String::from)
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The manifest's text.
    pub fn render(&self) -> String {
        format!(
            "# git-batch plan (see docs/format.md)\n{}",
            toml::to_string(self).expect("a plan serializes")
        )
    }

    /// Writes the manifest (atomically) without committing.
    pub fn write(&self, store: &Store) -> Result<String, PlanError> {
        let rel = Plan::rel(&self.name);
        let path = store.root.join(&rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                what: "creating",
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let text = self.render();
        crate::atomic::write_atomic(&path, text.as_bytes()).map_err(|source| StoreError::Io {
            what: "writing",
            path,
            source,
        })?;
        Ok(rel)
    }

    /// Sets the plan's status and commits it.
    pub fn set_status(store: &Store, name: &str, status: PlanStatus) -> Result<(), PlanError> {
        let mut plan = Plan::read(store, name)?;
        if plan.status == status {
            return Ok(());
        }
        plan.status = status;
        let rel = plan.write(store)?;
        let status_text = serde_json::to_value(status).expect("serializes");
        store.commit(
            &[rel],
            &format!(
                "batch: plan {name} {}",
                status_text.as_str().unwrap_or_default()
            ),
        )?;
        Ok(())
    }
}

/// What `plan` takes besides the tasks.
#[derive(Debug, Clone)]
pub struct NewPlan {
    pub name: String,
    pub config: RunConfig,
    pub gates: Vec<crate::store::gates::Gate>,
    /// The plan whose unfinished tasks this one carries over: they may
    /// belong to it (and be failed or escalated), and it records where
    /// they went.
    pub carry_from: Option<String>,
    /// Write it even when the independence check finds problems.
    pub force: bool,
}

/// What `plan` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub plan: Plan,
    pub path: String,
    /// Problems found and accepted with `--force`.
    pub forced: Vec<Problem>,
    /// Readiness items an agent may trip on (acceptance, estimate, ...):
    /// reported, not refused.
    pub warnings: Vec<Problem>,
    pub commit: Option<String>,
}

/// Whether `a` waits for `b` through dependencies (directly or not).
fn waits_for(nodes: &HashMap<&str, &Node>, a: &str, b: &str) -> bool {
    let mut seen = HashSet::new();
    let mut stack = vec![a];
    while let Some(next) = stack.pop() {
        if !seen.insert(next) {
            continue;
        }
        if let Some(n) = nodes.get(next) {
            for d in &n.deps {
                if d == b {
                    return true;
                }
                stack.push(d);
            }
        }
    }
    false
}

/// Sorts what `check` finds into what stops a plan (tasks that can run at
/// the same time and touch the same files, cycles, unknown tasks, bad
/// scopes) and what is only worth a warning. Dependencies inside the plan
/// are its order (the run respects them), not a problem, and two tasks
/// one of which waits for the other never run at the same time.
fn sort_problems(
    problems: Vec<Problem>,
    nodes: &[Node],
    ids: &HashSet<&str>,
) -> (Vec<Problem>, Vec<Problem>) {
    let by_id: HashMap<&str, &Node> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let mut refuse = Vec::new();
    let mut warn = Vec::new();
    for p in problems {
        match &p {
            Problem::Overlap { a, b, .. } => {
                if !waits_for(&by_id, a, b) && !waits_for(&by_id, b, a) {
                    refuse.push(p);
                }
            }
            Problem::DependsWithinSet { .. } => {}
            Problem::Readiness { rule, message, .. } if rule == "deps" => {
                let dep = message.split_whitespace().nth(2).unwrap_or_default();
                if !ids.contains(dep.trim_end_matches(',')) {
                    warn.push(p);
                }
            }
            // A scope that does not parse (a missing one is only a warning:
            // it overlaps every other task, which is refused above).
            Problem::Readiness { rule, message, .. }
                if rule == "scope" && !message.starts_with("no scope") =>
            {
                refuse.push(p)
            }
            Problem::Readiness { .. } => warn.push(p),
            _ => refuse.push(p),
        }
    }
    (refuse, warn)
}

/// The tasks of `plan` that are unfinished: not landed, and not done on a
/// branch waiting to land (what `plan NEXT --carry-over` moves on).
pub fn unfinished(store: &Store, plan: &Plan) -> Result<Vec<Task>, PlanError> {
    let set = crate::claims::read(&store.repo).unwrap_or_default();
    let mut out = Vec::new();
    for id in plan.ids() {
        if plan.carried_over.contains_key(&id) {
            continue;
        }
        let task = store.read_task(&id)?;
        let done = set
            .live
            .get(&id)
            .is_some_and(|l| l.state == crate::claims::live::Outcome::Done);
        if task.status != Status::Closed && !done {
            out.push(task);
        }
    }
    Ok(out)
}

/// Checks `tasks`, writes the manifest, records the plan's name in each
/// task's `batch`, and commits it all as one commit.
pub fn create_plan(store: &Store, tasks: &[Task], new: &NewPlan) -> Result<Planned, PlanError> {
    let (forced, warnings) = check_plan(store, tasks, new)?;
    store.check_can_commit()?;
    let (plan, paths) = write_plan(store, tasks, new)?;
    let commit = store.commit(
        &paths,
        &format!("batch: plan {} ({} tasks)", new.name, tasks.len()),
    )?;
    Ok(Planned {
        path: paths[0].clone(),
        plan,
        forced,
        warnings,
        commit,
    })
}

/// The checks of a new plan: what is refused (`Err`, unless `force`), and
/// what was forced through and what is only a warning.
pub fn check_plan(
    store: &Store,
    tasks: &[Task],
    new: &NewPlan,
) -> Result<(Vec<Problem>, Vec<Problem>), PlanError> {
    id::validate_name(&new.name).map_err(StoreError::from)?;
    if tasks.is_empty() {
        return Err(PlanError::Empty {
            name: new.name.clone(),
        });
    }
    let path = store.root.join(Plan::rel(&new.name));
    // `--force` replaces it (see `write_plan`).
    if path.exists() && !new.force {
        return Err(PlanError::Exists {
            name: new.name.clone(),
            path,
        });
    }
    let mut unfit = Vec::new();
    for t in tasks {
        let carried = new.carry_from.is_some() && t.batch == new.carry_from;
        if t.kind == Kind::Epic {
            unfit.push(format!("{} is an epic (plan its children)", t.id));
        } else if carried {
            if matches!(t.status, Status::Closed | Status::Done) {
                unfit.push(format!("{} is {}, not unfinished", t.id, t.status));
            }
        } else if t.status != Status::Open {
            unfit.push(format!("{} is {}, not open", t.id, t.status));
        } else if let Some(other) = t.batch.as_deref().filter(|b| *b != new.name)
            && store.root.join(Plan::rel(other)).exists()
        {
            unfit.push(format!("{} belongs to plan '{other}'", t.id));
        }
    }
    if !unfit.is_empty() {
        return Err(PlanError::Unfit {
            name: new.name.clone(),
            tasks: unfit,
        });
    }
    let (cache, _) = store.cache()?;
    let nodes = cache.nodes().map_err(StoreError::from)?;
    let files = crate::guard::check::tree_files(&store.repo, None)?;
    let problems = crate::guard::check::check_set(tasks, &nodes, &files, &store.config.check);
    let ids: HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    let (refuse, warnings) = sort_problems(problems, &nodes, &ids);
    if !refuse.is_empty() && !new.force {
        return Err(PlanError::NotIndependent {
            name: new.name.clone(),
            problems: refuse,
        });
    }
    Ok((refuse, warnings))
}

/// Writes the manifest and sets `batch` on the tasks (no commit); returns
/// the plan and the paths changed, the manifest first.
pub fn write_plan(
    store: &Store,
    tasks: &[Task],
    new: &NewPlan,
) -> Result<(Plan, Vec<String>), PlanError> {
    let plan = Plan {
        name: new.name.clone(),
        created: crate::time::now_text(),
        status: PlanStatus::Pending,
        config: new.config.clone(),
        gates: new.gates.clone(),
        carried_over: BTreeMap::new(),
        tasks: tasks
            .iter()
            .map(|t| PlanTask {
                id: t.id.to_string(),
                title: t.title.clone(),
                priority: t.priority,
                estimate: t.estimate,
                scope: t.scope.clone(),
                deps: t.deps.iter().map(|d| d.to_string()).collect(),
            })
            .collect(),
    };
    // A plan replaced (`--force`): its tasks that the new one leaves out
    // belong to no plan any more.
    let replaced = match store.root.join(Plan::rel(&new.name)).exists() {
        true => Plan::read(store, &new.name)?.ids(),
        false => Vec::new(),
    };
    let rel = plan.write(store)?;
    let mut paths = vec![rel.clone()];
    if let Some(from) = &new.carry_from {
        let mut old = Plan::read(store, from)?;
        for t in tasks
            .iter()
            .filter(|t| t.batch.as_deref() == Some(from.as_str()))
        {
            old.carried_over.insert(t.id.to_string(), new.name.clone());
        }
        paths.push(old.write(store)?);
    }
    for id in replaced {
        if tasks.iter().any(|t| t.id.as_str() == id) || !store.exists(&id) {
            continue;
        }
        let mut t = store.read_task(&id)?;
        if t.batch.as_deref() == Some(new.name.as_str()) {
            t.batch = None;
            t.updated = crate::time::now_text();
            store.write_task(&t)?;
            paths.push(Store::task_rel(&t.id));
        }
    }
    for t in tasks {
        if t.batch.as_deref() != Some(new.name.as_str()) {
            let mut t = store.read_task(&t.id)?;
            t.batch = Some(new.name.clone());
            t.updated = crate::time::now_text();
            store.write_task(&t)?;
            paths.push(Store::task_rel(&t.id));
        }
    }
    Ok((plan, paths))
}
