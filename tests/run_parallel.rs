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

/// A task of the plan held by another worker: its start (in a thread of its
/// own) comes back refused, and the run goes idle instead of starting it
/// again and again: it lands what it finished and ends, the held task left
/// queued. (With the starts begun anew at once, the run never ended: the
/// deadlock of two clones with `--land` in `live`, made certain.)
#[test]
fn a_task_held_elsewhere_does_not_keep_the_run_from_landing_and_ending() {
    let (env, _bare) = project(2);
    let ids = split_plan(&env, &env.repo, "p", &[]);
    env.ok(&["claim", &ids[1], "--worker", "someone"]);
    let child = env
        .batch_cmd(&[
            "--json", "run", "--plan", "p", "--land", "-j", "2", "--exec", "true",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let limit = std::time::Duration::from_secs(60);
    let out = crate::common::output_within(child, limit).unwrap_or_else(|o| {
        panic!(
            "still running after {limit:?}:\n{}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let s = summary(&out);
    assert_eq!((s.done, s.queued), (1, 1), "{s:?}: {err}");
    assert_eq!(s.landed, [ids[0].clone()], "{err}");
    let landed = env.git(&["show", &format!("main:.batch/tasks/{}.toml", ids[0])]);
    assert!(landed.contains("status = \"closed\""), "{landed}");
    let held: Vec<serde_json::Value> = env.json(&["claims"]);
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["task"], ids[1].as_str(), "{held:?}");
}
