//! Stacked work (`run --stack`, `start --stack`): a task whose dependencies
//! are finished on their branches but not landed starts from the branch of
//! one of them instead of the main branch, so a batch reviewed in the
//! morning need not wait for a landing between its steps.
//!
//! Where a stacked branch's own work starts is recorded in the claims (see
//! [`crate::claims::StackBase`]), never read from the branch: the commits
//! below it are the dependency's, judged and landed as that task's, and a
//! branch that no longer contains its recorded base is judged whole, as if
//! it had never been stacked (so rewriting history hides nothing).

use crate::claims::{ClaimSet, StackBase, live::Outcome};
use crate::graph::Blocker;
use git2::{Oid, Repository};
use std::collections::{HashMap, HashSet};

/// The base a task held up by `blockers` can start from: every blocker is
/// a dependency that is done on its branch (its live state records the
/// commit), and one of those commits contains all the others. `None` when
/// a blocker is of another kind (not done, failed, unknown, an ancestor)
/// or the dependencies' branches part (the task waits for a landing).
pub fn stack_base(repo: &Repository, set: &ClaimSet, blockers: &[Blocker]) -> Option<StackBase> {
    let mut done: Vec<(String, Oid)> = Vec::new();
    for b in blockers {
        let Blocker::Dep { id, .. } = b else {
            return None;
        };
        let live = set.live.get(id).filter(|l| l.state == Outcome::Done)?;
        let commit = Oid::from_str(live.commit.as_deref()?).ok()?;
        repo.find_commit(commit).ok()?;
        done.push((id.clone(), commit));
    }
    let contains = |top: Oid, c: Oid| top == c || repo.graph_descendant_of(top, c).unwrap_or(false);
    done.iter()
        .find(|(_, top)| done.iter().all(|(_, c)| contains(*top, *c)))
        .map(|(task, commit)| StackBase {
            task: task.clone(),
            commit: commit.to_string(),
        })
}

/// Where one task's own commits on `tip` start, against the main branch at
/// `main`: `fork` is where `tip` meets it; `stack` the recorded stack base,
/// when `tip` still contains it. The task's commits are those reachable
/// from `tip` and from neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkRange {
    pub fork: Oid,
    pub stack: Option<Oid>,
    pub tip: Oid,
}

impl WorkRange {
    /// `id`'s range on `tip`, its stack base taken from `recorded` (the
    /// claims' record) and kept only when `tip` contains it.
    pub fn of(
        repo: &Repository,
        recorded: Option<&StackBase>,
        tip: Oid,
        main: Oid,
    ) -> Result<WorkRange, git2::Error> {
        let fork = repo.merge_base(tip, main)?;
        Ok(WorkRange::with_fork(repo, recorded, tip, fork))
    }

    /// `id`'s range, its stack base as `set` records it.
    pub fn in_set(
        repo: &Repository,
        set: &ClaimSet,
        id: &str,
        tip: Oid,
        main: Oid,
    ) -> Result<WorkRange, git2::Error> {
        WorkRange::of(repo, set.stack_of(id), tip, main)
    }

    /// As [`WorkRange::in_set`], the fork taken from `forks` (computed
    /// against the same `main`).
    pub fn in_set_with(
        repo: &Repository,
        set: &ClaimSet,
        id: &str,
        tip: Oid,
        forks: &Forks,
    ) -> Result<WorkRange, git2::Error> {
        let fork = forks.fork(repo, tip)?;
        Ok(WorkRange::with_fork(repo, set.stack_of(id), tip, fork))
    }

    fn with_fork(repo: &Repository, recorded: Option<&StackBase>, tip: Oid, fork: Oid) -> Self {
        let stack = recorded
            .and_then(|s| Oid::from_str(&s.commit).ok())
            .filter(|&s| s == tip || repo.graph_descendant_of(tip, s).unwrap_or(false));
        WorkRange { fork, stack, tip }
    }

    /// The commit the task's own changes are measured from: its stack
    /// base, else its fork from main.
    pub fn start(&self) -> Oid {
        self.stack.unwrap_or(self.fork)
    }

    /// The commits whose history is not the task's.
    pub fn hidden(&self) -> Vec<Oid> {
        let mut out = vec![self.fork];
        out.extend(self.stack.filter(|s| *s != self.fork));
        out
    }

    /// A revision walk over the task's own commits (newest first).
    pub fn walk<'r>(&self, repo: &'r Repository) -> Result<git2::Revwalk<'r>, git2::Error> {
        let mut walk = repo.revwalk()?;
        walk.push(self.tip)?;
        for h in self.hidden() {
            walk.hide(h)?;
        }
        Ok(walk)
    }

    /// `git rev-list` arguments for the task's own commits.
    pub fn rev_list_args(&self) -> Vec<String> {
        let mut out = vec![self.tip.to_string()];
        out.extend(self.hidden().iter().map(|h| format!("^{h}")));
        out
    }
}

/// Where many tips meet one main branch, found in one walk: a merge base
/// per tip asked libgit2 to walk the main branch's history down to it
/// again for every tip (hundreds of loose commits read per task).
///
/// One walk over every tip with `main` hidden yields the commits that are
/// no tip's main history; the parents of a tip's own commits that the walk
/// did not yield are its boundary, all reachable from `main`. When a tip
/// has one boundary commit, every common ancestor of the tip and `main` is
/// an ancestor of it: it is the merge base. A tip `main` contains is its own
/// merge base. Any other tip (a merge of two forks, or a walk that failed)
/// is left to `merge_base`, as before.
#[derive(Debug)]
pub struct Forks {
    main: Oid,
    by_tip: HashMap<Oid, Oid>,
}

impl Forks {
    pub fn of(repo: &Repository, tips: &[Oid], main: Oid) -> Forks {
        let mut out = Forks {
            main,
            by_tip: HashMap::new(),
        };
        let Ok(own) = Self::own_commits(repo, tips, main) else {
            return out;
        };
        for &tip in tips {
            if !own.contains_key(&tip) {
                // Not yielded: `main` has it.
                out.by_tip.insert(tip, tip);
                continue;
            }
            let mut boundary = HashSet::new();
            let mut seen = HashSet::new();
            let mut next = vec![tip];
            while let Some(c) = next.pop() {
                if !seen.insert(c) {
                    continue;
                }
                match own.get(&c) {
                    Some(parents) => next.extend(parents),
                    None => {
                        boundary.insert(c);
                    }
                }
            }
            if let [fork] = boundary.into_iter().collect::<Vec<_>>()[..] {
                out.by_tip.insert(tip, fork);
            }
        }
        out
    }

    /// The parents of every commit reachable from `tips` and not from `main`.
    fn own_commits(
        repo: &Repository,
        tips: &[Oid],
        main: Oid,
    ) -> Result<HashMap<Oid, Vec<Oid>>, git2::Error> {
        let mut walk = repo.revwalk()?;
        for &t in tips {
            walk.push(t)?;
        }
        walk.hide(main)?;
        let mut own = HashMap::new();
        for oid in walk {
            let oid = oid?;
            own.insert(oid, repo.find_commit(oid)?.parent_ids().collect());
        }
        Ok(own)
    }

    /// The merge base of `tip` and the main branch.
    pub fn fork(&self, repo: &Repository, tip: Oid) -> Result<Oid, git2::Error> {
        match self.by_tip.get(&tip) {
            Some(&fork) => Ok(fork),
            None => repo.merge_base(tip, self.main),
        }
    }
}
