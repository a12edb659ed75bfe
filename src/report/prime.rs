//! The instructions an agent needs to work in a git-batch repository,
//! printed by `git batch prime` as (part of) an agent's prompt.

use crate::store::Store;

/// The instructions, naming the task when run inside its worktree.
pub fn text(store: &Store, task: Option<&str>) -> String {
    let main = &store.config.main_branch;
    let prefix = &store.config.branch_prefix;
    let mut t = String::from(
        "# Working in this repository with git-batch\n\n\
         Work here is split into tasks (`.batch/tasks/<id>.toml`). Each task has a\n\
         scope: the files it may change. Many workers run at once, each on its own\n\
         task, in its own worktree and branch; scopes never overlap, so stay inside\n\
         yours and nobody steps on anyone.\n\n",
    );
    if let Some(id) = task {
        let title = store
            .read_task(id)
            .map(|t| t.title)
            .unwrap_or_else(|_| "(task file not readable)".into());
        t.push_str(&format!(
            "## Your task\n\n\
             You are in the worktree of {id}: {title}\n\
             `git batch current` shows it again; `git batch show {id}` shows all of it.\n\n"
        ));
    }
    t.push_str(&format!(
        "## Taking a task\n\n\
         - `git batch ready` lists the tasks that can start now (`--json` for scripts).\n\
         - `git batch start --next` (or `start ID`) claims one and prints the path of its\n\
           worktree, on branch `{prefix}<id>` from `{main}`. `cd` there and work there only.\n\
         - `git batch current` says which task the worktree is for; `git batch show ID`\n\
           gives its description, acceptance criteria and scope.\n\n\
         ## While working\n\n\
         - Change only files inside the task's scope. A commit touching anything else is\n\
           refused by the hooks, and again by `done` and by the landing.\n\
         - Record each step, as you go, in the task's receipt:\n\
           `git batch receipt \"what you did and why\"`. Reviewers read these lines.\n\
         - Commit as often as you like on your branch. Never push and never merge into\n\
           `{main}`: finished work is landed for everyone at once by `git batch land`.\n\n\
         ## Finishing\n\n\
         - Done, acceptance criteria met: `git batch done` (checks the scope, commits).\n\
           Under `git batch run`, exiting 0 does the same.\n\
         - Cannot do it: `git batch fail --reason \"why\"` (under `run`: exit non-zero;\n\
           exit 75 for a temporary failure such as a rate limit).\n\
         - A person must decide something: `git batch escalate --reason \"the question\"`.\n\
           Nobody is handed the task again until a person answers it\n\
           (`git batch answer ID \"the answer\" --retry`) or queues it again\n\
           (`git batch retry ID`); a failed task waits the same way.\n\
         - Under `run`, the file named by $BATCH_CONTEXT holds your task, its scope, and\n\
           on a retry the error of the previous attempt, the question asked before and\n\
           every answer and note people gave.\n"
    ));
    t
}
