//! The task graph: what blocks what, which tasks are ready, and cycles.
//!
//! The rule is beads': a task is ready when it is open, every blocking
//! dependency is closed, no ancestor is blocked or deferred (blocking flows
//! from a parent to its children), and it is not an epic that still has a
//! child that is not closed. An epic blocked only by its own open children
//! does not pass that on to them (that would deadlock every epic). A
//! dependency on a task that does not exist, or whose file cannot be read,
//! blocks: it is never safe to guess it is closed. So does a blocker in
//! another tracker (`external:<project>:<id>`), which git-batch cannot see.
//! A template never blocks, and a pinned task holds back nobody but itself.
//! Whether a task is offered also depends on the time (`defer_until`) and
//! the config (types that are not work): the cache applies those when it
//! is asked, since they change without a file changing.

use crate::task::{Kind, Status};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// The graph-relevant part of one task.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub status: Status,
    pub kind: Kind,
    pub parent: Option<String>,
    /// Parents beyond the first (beads allows several).
    pub other_parents: Vec<String>,
    /// Blocking dependencies, `external:` ones included.
    pub deps: Vec<String>,
    /// Never offered itself (ephemeral, a template), whatever its blockers.
    pub held: bool,
    /// A template: a dependency on it does not block.
    pub template: bool,
    /// Pinned (beads): deferred, but its children are not held back.
    pub pinned: bool,
}

impl Node {
    pub fn of(task: &crate::task::Task) -> Node {
        Node {
            id: task.id.to_string(),
            status: task.status,
            kind: task.kind,
            parent: task.parent.as_ref().map(|p| p.to_string()),
            other_parents: task.other_parents.iter().map(|p| p.to_string()).collect(),
            deps: task
                .deps
                .iter()
                .map(|d| d.to_string())
                .chain(task.external_deps.iter().cloned())
                .collect(),
            held: task.is_ephemeral() || task.template,
            template: task.template,
            pinned: task.is_pinned(),
        }
    }

    /// Every parent, the first one first.
    pub fn parents(&self) -> impl Iterator<Item = &str> {
        self.parent
            .as_deref()
            .into_iter()
            .chain(self.other_parents.iter().map(String::as_str))
    }
}

/// One reason a task cannot start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Blocker {
    /// A blocking dependency that is not closed yet.
    Dep { id: String, status: Status },
    /// A dependency on a task that is not in `.batch/tasks/`.
    UnknownDep { id: String },
    /// A blocker in another tracker (`external:<project>:<id>`).
    External { id: String },
    /// A dependency or parent whose file cannot be parsed.
    Unreadable { id: String },
    /// An ancestor that is blocked or deferred.
    Ancestor { id: String, status: Status },
    /// An epic whose children are not all closed.
    OpenChildren { count: usize, first: String },
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blocker::Dep {
                id,
                status: Status::Failed,
            } => write!(f, "waits for {id}, which failed"),
            Blocker::Dep {
                id,
                status: Status::Escalated,
            } => write!(f, "waits for {id}, which was escalated"),
            Blocker::Dep { id, status } => write!(f, "depends on {id} ({status})"),
            Blocker::UnknownDep { id } => write!(f, "depends on {id} (unknown task)"),
            Blocker::External { id } => {
                write!(
                    f,
                    "depends on {id} (another tracker; remove it when resolved)"
                )
            }
            Blocker::Unreadable { id } => write!(f, "needs {id}, whose file cannot be read"),
            Blocker::Ancestor { id, status } if *status == Status::Deferred => {
                write!(f, "ancestor {id} is deferred")
            }
            Blocker::Ancestor { id, .. } => write!(f, "ancestor {id} is blocked"),
            Blocker::OpenChildren { count, first } => {
                write!(f, "epic with {count} child(ren) not closed (e.g. {first})")
            }
        }
    }
}

/// What the graph says about one node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    pub ready: bool,
    pub blockers: Vec<Blocker>,
}

/// Computes readiness and blockers for every node, in the order given.
/// `unreadable` holds ids whose files exist but do not parse.
pub fn analyze(nodes: &[Node], unreadable: &HashSet<String>) -> Vec<Analysis> {
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();

    // Direct blockers: dependencies that are not closed.
    let direct: Vec<Vec<Blocker>> = nodes
        .iter()
        .map(|n| {
            n.deps
                .iter()
                .filter_map(|dep| match index.get(dep.as_str()) {
                    Some(&j) if nodes[j].status == Status::Closed || nodes[j].template => None,
                    None if dep.starts_with("external:") => {
                        Some(Blocker::External { id: dep.clone() })
                    }
                    Some(&j) => Some(Blocker::Dep {
                        id: dep.clone(),
                        status: nodes[j].status,
                    }),
                    None if unreadable.contains(dep) => {
                        Some(Blocker::Unreadable { id: dep.clone() })
                    }
                    None => Some(Blocker::UnknownDep { id: dep.clone() }),
                })
                .collect()
        })
        .collect();

    // Inherited blocking: the nearest ancestor that is blocked or deferred.
    let mut inherited: Vec<Option<Option<Blocker>>> = vec![None; nodes.len()];
    for start in 0..nodes.len() {
        resolve_inherited(start, nodes, &index, unreadable, &direct, &mut inherited);
    }

    // Epics wait for their children.
    let mut open_children: HashMap<usize, (usize, &str)> = HashMap::new();
    for n in nodes {
        if n.status == Status::Closed {
            continue;
        }
        for p in n.parents().filter_map(|p| index.get(p)) {
            if nodes[*p].kind == Kind::Epic {
                let entry = open_children.entry(*p).or_insert((0, n.id.as_str()));
                entry.0 += 1;
                entry.1 = entry.1.min(n.id.as_str());
            }
        }
    }

    nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut blockers = direct[i].clone();
            if let Some(Some(b)) = &inherited[i] {
                blockers.push(b.clone());
            }
            // Further parents hold the task back like the first one does.
            for p in &n.other_parents {
                if let Some(&j) = index.get(p.as_str())
                    && let Some(b) = parent_blocker(j, nodes, &inherited, &direct)
                    && !blockers.contains(&b)
                {
                    blockers.push(b);
                }
            }
            if let Some(&(count, first)) = open_children.get(&i) {
                blockers.push(Blocker::OpenChildren {
                    count,
                    first: first.to_string(),
                });
            }
            let ready = n.status == Status::Open && !n.held && blockers.is_empty();
            Analysis { ready, blockers }
        })
        .collect()
}

/// Fills `memo[i]` with the inherited blocker of node `i` (walking up the
/// parent chain iteratively; a parent cycle counts as blocked).
fn resolve_inherited(
    start: usize,
    nodes: &[Node],
    index: &HashMap<&str, usize>,
    unreadable: &HashSet<String>,
    direct: &[Vec<Blocker>],
    memo: &mut [Option<Option<Blocker>>],
) {
    let mut chain = Vec::new();
    let mut on_chain = HashSet::new();
    let mut cur = start;
    let result: Option<Blocker> = loop {
        if let Some(done) = &memo[cur] {
            break done.clone();
        }
        chain.push(cur);
        on_chain.insert(cur);
        let Some(parent) = nodes[cur].parent.as_deref() else {
            break None;
        };
        match index.get(parent) {
            None if unreadable.contains(parent) => {
                break Some(Blocker::Unreadable {
                    id: parent.to_string(),
                });
            }
            // A parent that does not exist blocks nothing (beads does the same).
            None => break None,
            Some(&p) => {
                if on_chain.contains(&p) {
                    break Some(Blocker::Ancestor {
                        id: parent.to_string(),
                        status: nodes[p].status,
                    });
                }
                let pn = &nodes[p];
                if holds_back(pn, &direct[p]) {
                    break Some(Blocker::Ancestor {
                        id: pn.id.clone(),
                        status: pn.status,
                    });
                }
                cur = p;
            }
        }
    };
    for i in chain {
        memo[i] = Some(result.clone());
    }
}

/// Whether a parent holds its children back: it is blocked, or deferred
/// (a pinned one is not: beads does not hold a pinned issue's children).
fn holds_back(parent: &Node, its_blockers: &[Blocker]) -> bool {
    (parent.status == Status::Deferred && !parent.pinned) || !its_blockers.is_empty()
}

/// What a parent `j` passes on to a child: itself when it is blocked or
/// deferred, else what it inherited.
fn parent_blocker(
    j: usize,
    nodes: &[Node],
    inherited: &[Option<Option<Blocker>>],
    direct: &[Vec<Blocker>],
) -> Option<Blocker> {
    let pn = &nodes[j];
    if holds_back(pn, &direct[j]) {
        return Some(Blocker::Ancestor {
            id: pn.id.clone(),
            status: pn.status,
        });
    }
    inherited[j].clone().flatten()
}

/// The "waits for" edges: a task waits for its dependencies, and an epic for
/// its children. A cycle in these can never become ready.
fn wait_edges(nodes: &[Node]) -> HashMap<&str, Vec<&str>> {
    let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
    let kinds: HashMap<&str, Kind> = nodes.iter().map(|n| (n.id.as_str(), n.kind)).collect();
    for n in nodes {
        let out = edges.entry(n.id.as_str()).or_default();
        out.extend(n.deps.iter().map(String::as_str));
        if let Some(p) = n.parent.as_deref()
            && kinds.get(p) == Some(&Kind::Epic)
        {
            edges.entry(p).or_default().push(n.id.as_str());
        }
    }
    edges
}

/// Finds a path from `from` to `to` along wait edges, if any (BFS, shortest).
fn wait_path(edges: &HashMap<&str, Vec<&str>>, from: &str, to: &str) -> Option<Vec<String>> {
    let mut prev: HashMap<&str, &str> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([from]);
    let mut seen = HashSet::from([from]);
    while let Some(cur) = queue.pop_front() {
        if cur == to {
            let mut path = vec![to.to_string()];
            let mut at = to;
            while let Some(&p) = prev.get(at) {
                path.push(p.to_string());
                at = p;
            }
            path.reverse();
            return Some(path);
        }
        for &next in edges.get(cur).map(Vec::as_slice).unwrap_or(&[]) {
            if seen.insert(next) {
                prev.insert(next, cur);
                queue.push_back(next);
            }
        }
    }
    None
}

/// The cycle that making `id` wait for `blocker` would close, if any:
/// `[id, blocker, ..., id]`.
pub fn cycle_if_added(nodes: &[Node], id: &str, blocker: &str) -> Option<Vec<String>> {
    let edges = wait_edges(nodes);
    if id == blocker {
        return Some(vec![id.to_string(), id.to_string()]);
    }
    let mut path = wait_path(&edges, blocker, id)?;
    path.insert(0, id.to_string());
    Some(path)
}

/// Every cycle of the wait graph, one per strongly connected component, each
/// as `[a, b, ..., a]`, sorted for stable output.
pub fn cycles(nodes: &[Node]) -> Vec<Vec<String>> {
    let edges = wait_edges(nodes);
    let mut out = Vec::new();
    for component in strongly_connected(&edges) {
        let self_loop = component.len() == 1
            && edges
                .get(component[0])
                .is_some_and(|e| e.contains(&component[0]));
        if component.len() < 2 && !self_loop {
            continue;
        }
        let start = *component.iter().min().expect("non-empty");
        let members: HashSet<&str> = component.iter().copied().collect();
        let inner: HashMap<&str, Vec<&str>> = component
            .iter()
            .map(|&n| {
                let next = edges
                    .get(n)
                    .map(|e| e.iter().copied().filter(|m| members.contains(m)).collect())
                    .unwrap_or_default();
                (n, next)
            })
            .collect();
        // The shortest way back to `start` from one of its successors.
        let best = inner[start]
            .iter()
            .filter_map(|&next| {
                wait_path(&inner, next, start).map(|mut p| {
                    p.insert(0, start.to_string());
                    p
                })
            })
            .min_by_key(Vec::len);
        if let Some(cycle) = best {
            out.push(cycle);
        }
    }
    out.sort();
    out
}

/// Tarjan's algorithm, iterative so deep chains cannot overflow the stack.
fn strongly_connected<'a>(edges: &HashMap<&'a str, Vec<&'a str>>) -> Vec<Vec<&'a str>> {
    let mut keys: Vec<&str> = edges.keys().copied().collect();
    keys.sort();
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    let mut low: HashMap<&str, usize> = HashMap::new();
    let mut on_stack: HashSet<&str> = HashSet::new();
    let mut stack: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    let mut counter = 0;
    for &root in &keys {
        if index_of.contains_key(root) {
            continue;
        }
        let mut work: Vec<(&str, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut i)) = work.last_mut() {
            if *i == 0 && !index_of.contains_key(v) {
                index_of.insert(v, counter);
                low.insert(v, counter);
                counter += 1;
                stack.push(v);
                on_stack.insert(v);
            }
            let succ = edges.get(v).map(Vec::as_slice).unwrap_or(&[]);
            if *i < succ.len() {
                let w = succ[*i];
                *i += 1;
                if !index_of.contains_key(w) {
                    if edges.contains_key(w) {
                        work.push((w, 0));
                    }
                } else if on_stack.contains(w) {
                    let lw = index_of[w].min(low[v]);
                    low.insert(v, lw);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                let lp = low[parent].min(low[v]);
                low.insert(parent, lp);
            }
            if low[v] == index_of[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack.remove(w);
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(component);
            }
        }
    }
    out
}

/// The cycle a parent change would make (`child`'s ancestors include itself).
pub fn parent_cycle(nodes: &[Node], child: &str, new_parent: &str) -> Option<Vec<String>> {
    let parents: HashMap<&str, &str> = nodes
        .iter()
        .filter_map(|n| n.parent.as_deref().map(|p| (n.id.as_str(), p)))
        .collect();
    let mut path = vec![child.to_string(), new_parent.to_string()];
    let mut cur = new_parent;
    let mut seen = HashSet::from([child]);
    loop {
        if cur == child {
            return Some(path);
        }
        if !seen.insert(cur) {
            return None;
        }
        cur = parents.get(cur)?;
        path.push(cur.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, status: Status, parent: Option<&str>, deps: &[&str]) -> Node {
        Node {
            id: id.into(),
            status,
            kind: Kind::Task,
            parent: parent.map(str::to_string),
            deps: deps.iter().map(|d| d.to_string()).collect(),
            other_parents: Vec::new(),
            held: false,
            template: false,
            pinned: false,
        }
    }

    fn ready_ids(nodes: &[Node]) -> Vec<&str> {
        analyze(nodes, &HashSet::new())
            .iter()
            .zip(nodes)
            .filter(|(a, _)| a.ready)
            .map(|(_, n)| n.id.as_str())
            .collect()
    }

    #[test]
    fn deps_and_inheritance() {
        use Status::*;
        let mut epic = node("e", Open, None, &[]);
        epic.kind = Kind::Epic;
        let nodes = vec![
            node("a", Open, None, &[]),
            node("b", Open, None, &["a"]),
            node("c", Open, Some("b"), &[]),
            node("d", Open, Some("c"), &[]),
            node("f", Deferred, None, &[]),
            node("g", Open, Some("f"), &[]),
            epic,
            node("h", Open, Some("e"), &[]),
            node("i", Open, None, &["zz"]),
            node("j", Open, None, &["k"]),
            node("k", Closed, None, &[]),
        ];
        assert_eq!(ready_ids(&nodes), vec!["a", "h", "j"]);
    }

    #[test]
    fn cycles_are_found_and_named() {
        use Status::*;
        let nodes = vec![
            node("a", Open, None, &["b"]),
            node("b", Open, None, &["c"]),
            node("c", Open, None, &[]),
        ];
        assert_eq!(
            cycle_if_added(&nodes, "c", "a"),
            Some(vec!["c".into(), "a".into(), "b".into(), "c".into()])
        );
        assert_eq!(cycle_if_added(&nodes, "a", "c"), None);
        let mut cyclic = nodes.clone();
        cyclic[2].deps.push("a".into());
        assert_eq!(
            cycles(&cyclic),
            vec![vec!["a".to_string(), "b".into(), "c".into(), "a".into()]]
        );
    }

    #[test]
    fn child_depending_on_its_epic_is_a_cycle() {
        use Status::*;
        let mut epic = node("e", Open, None, &[]);
        epic.kind = Kind::Epic;
        let nodes = vec![epic, node("x", Open, Some("e"), &[])];
        assert!(cycle_if_added(&nodes, "x", "e").is_some());
    }

    #[test]
    fn parent_cycles() {
        use Status::*;
        let nodes = vec![node("a", Open, Some("b"), &[]), node("b", Open, None, &[])];
        assert_eq!(
            parent_cycle(&nodes, "b", "a"),
            Some(vec!["b".into(), "a".into(), "b".into()])
        );
        assert_eq!(parent_cycle(&nodes, "a", "b"), None);
    }
}
