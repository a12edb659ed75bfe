//! Finishes off the pool's thread: with many workers at once, each task's
//! `done` runs in the thread that saw its worker exit, and still every task
//! ends exactly once, with one `done` commit, and a kill -9 of the run at
//! any moment resumes to the same end.

use crate::run::{branch_subjects, project, split_plan, summary};
use crate::run_resume::kill_loop;

#[test]
fn many_tasks_at_j8_each_finish_exactly_once() {
    const TASKS: usize = 24;
    let (env, _bare) = project(TASKS);
    let ids = split_plan(&env, &env.repo, "p", &[]);
    let events = env.dir.path().join("events");
    let worker = env.dir.path().join("count-worker.sh");
    std::fs::write(
        &worker,
        format!(
            "#!/bin/sh\nf=$(sed -n 's/^- `\\(src\\/[^`]*\\)`$/\\1/p' \"$BATCH_CONTEXT\" | head -n 1)\n\
             echo \"$BATCH_TASK\" >> {}\necho \"by $BATCH_TASK\" >> \"$f\"\n",
            events.display()
        ),
    )
    .unwrap();
    let exec = format!("sh {}", worker.display());
    let out = env
        .batch_cmd(&["--json", "run", "--plan", "p", "--exec", &exec, "-j", "8"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let s = summary(&out);
    assert_eq!((s.done, s.failed, s.queued), (TASKS, 0, 0), "{err}");
    let ran = std::fs::read_to_string(&events).unwrap();
    for id in &ids {
        assert_eq!(ran.lines().filter(|l| l == id).count(), 1, "{id}: {ran}");
        let subjects = branch_subjects(&env, &env.repo, id);
        let done = subjects
            .iter()
            .filter(|s| s.starts_with("batch: done"))
            .count();
        assert_eq!(done, 1, "{id}: {subjects:?}");
    }
    // Every task's end is in the run's state, as `status` reads it.
    let state = std::fs::read_to_string(env.repo.join(".git/batch/runs/p.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    for id in &ids {
        assert_eq!(state["tasks"][id]["state"], "done", "{id}");
        assert!(state["tasks"][id]["timing"].is_object(), "{id}");
    }
}

#[test]
fn a_run_at_j8_killed_at_random_moments_resumes_without_redoing_work() {
    kill_loop(3, 8, &[], |_, _| {});
}
