//! Commands about a few tasks (`show`, `claim ID`, `dep add`, `update`)
//! check only the files they read, and still see every change to those at
//! once: hand edits in place within one clock tick, a blocker or parent
//! edited by hand, a new child file, a checkout; and git-batch's own writes,
//! from many processes at once, keep the cache exact.

use crate::common::TestEnv;
use serde_json::Value;
use std::path::Path;

/// Whether the cache trusts the directory's stat data (the point path).
fn dir_trusted(env: &TestEnv) -> bool {
    let db = env.repo.join(".git/batch/index.db");
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT count(*) FROM meta WHERE key = 'dir'", [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap()
        == 1
}

/// Lets the directory's last change age past the clock's margin and runs a
/// query over all tasks, after which the cache trusts the directory.
fn settle(env: &TestEnv) {
    std::thread::sleep(std::time::Duration::from_millis(300));
    env.ok(&["ready", "--json"]);
    assert!(
        dir_trusted(env),
        "a scan well after the last change trusts the directory"
    );
}

/// Rewrites `key = "old"` as `key = "new"` in place, keeping the mtime.
fn edit_in_place(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} in {text}");
    crate::common::rewrite_keeping_mtime(path, &text.replace(from, to));
}

fn show(env: &TestEnv, id: &str) -> Value {
    env.json(&["show", id])
}

#[test]
fn the_task_asked_about_is_seen_edited_in_place_within_one_tick() {
    let env = TestEnv::new();
    let id = env.create(&["aaaa"]);
    settle(&env);
    let path = env.task_file(&id);
    // Same size, in place, at once: the stat data may not change at all.
    for (from, to) in [("aaaa", "bbbb"), ("bbbb", "cccc"), ("cccc", "dddd")] {
        edit_in_place(
            &path,
            &format!("title = \"{from}\""),
            &format!("title = \"{to}\""),
        );
        assert!(
            dir_trusted(&env),
            "an edit in place leaves the directory as it was"
        );
        assert_eq!(show(&env, &id)["title"], to);
    }
}

#[test]
fn a_blocker_or_parent_edited_by_hand_is_seen_by_show_and_claim() {
    let env = TestEnv::new();
    let blocker = env.create(&["blocker"]);
    let waiting = env.create(&["waiting", "--dep", &blocker, "--scope", "a/**"]);
    let epic = env.create(&["epic", "--kind", "epic"]);
    let child = env.create(&["child", "--parent", &epic, "--scope", "c/**"]);
    settle(&env);

    assert_eq!(
        show(&env, &waiting)["blocked_by"][0]["id"],
        blocker.as_str()
    );
    edit_in_place(
        &env.task_file(&blocker),
        "status = \"open\"",
        "status = \"closed\"",
    );
    assert_eq!(show(&env, &waiting)["blocked_by"], Value::Array(vec![]));
    env.ok(&["claim", &waiting, "--worker", "w1"]);

    edit_in_place(
        &env.task_file(&epic),
        "status = \"open\"",
        "status = \"deferred\"",
    );
    let blocked = show(&env, &child)["blocked_by"].clone();
    assert_eq!(blocked[0]["reason"], "ancestor", "{blocked}");
    assert_eq!(blocked[0]["id"], epic.as_str());
    let err = env.fails(&["claim", &child, "--worker", "w2"], 1);
    assert!(err.contains(&epic) && err.contains("deferred"), "{err}");
    // Every query after agrees with what the point commands saw.
    assert_eq!(env.ready_ids(), Vec::<String>::new());
}

#[test]
fn a_new_child_file_and_a_checkout_are_seen_through_the_directory() {
    let env = TestEnv::new();
    let epic = env.create(&["epic", "--kind", "epic"]);
    let other = env.create(&["other"]);
    settle(&env);
    // A child made by hand, as a new file: only the directory says so.
    let text = std::fs::read_to_string(env.task_file(&other)).unwrap();
    let child_id = "bt-handmade";
    let child = text
        .replace(
            &format!("id = \"{other}\""),
            &format!("id = \"{child_id}\""),
        )
        .replace(
            "title = \"other\"",
            &format!("title = \"child\"\nparent = \"{epic}\""),
        );
    std::fs::write(env.task_file(child_id), child).unwrap();
    let shown = show(&env, &epic);
    assert_eq!(shown["children"], serde_json::json!([child_id]), "{shown}");
    assert_eq!(shown["blocked_by"][0]["reason"], "open_children");

    // A checkout that changes a task's file.
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "hand-made child"]);
    env.git(&["checkout", "-q", "-b", "feature"]);
    env.ok(&["update", &other, "--title", "renamed on feature"]);
    env.git(&["checkout", "-q", "main"]);
    settle(&env);
    env.git(&["checkout", "-q", "feature"]);
    assert_eq!(show(&env, &other)["title"], "renamed on feature");
    env.git(&["checkout", "-q", "main"]);
    assert_eq!(show(&env, &other)["title"], "other");
}

#[test]
fn dep_add_sees_a_cycle_made_by_a_hand_edit_in_place() {
    let env = TestEnv::new();
    let a = env.create(&["aaaa"]);
    let b = env.create(&["bbbb"]);
    let c = env.create(&["cccc", "--dep", &b]);
    settle(&env);
    // b now waits for a, by hand and in place: the cache has not seen it.
    let text = std::fs::read_to_string(env.task_file(&b)).unwrap();
    let edited = text.replace("deps = []", &format!("deps = [\"{a}\"]"));
    crate::common::rewrite_keeping_mtime(&env.task_file(&b), &edited);
    let err = env.fails(&["dep", "add", &a, &c], 1);
    assert!(err.contains("cycle"), "{err}");
    assert!(
        err.contains(&b),
        "the cycle passes the hand-edited task: {err}"
    );
    // Without the edit's edge there is none.
    env.ok(&["dep", "add", &c, &a]);
}

#[test]
fn a_parent_change_that_would_loop_is_refused_from_the_files() {
    let env = TestEnv::new();
    let top = env.create(&["top", "--kind", "epic"]);
    let mid = env.create(&["mid", "--kind", "epic", "--parent", &top]);
    let low = env.create(&["low"]);
    settle(&env);
    // By hand, in place: top now sits under low.
    let text = std::fs::read_to_string(env.task_file(&top)).unwrap();
    let edited = text.replace(
        "title = \"top\"",
        &format!("title = \"top\"\nparent = \"{low}\""),
    );
    crate::common::rewrite_keeping_mtime(&env.task_file(&top), &edited);
    let err = env.fails(&["update", &low, "--parent", &mid], 1);
    assert!(err.contains("cycle"), "{err}");
}

#[test]
fn writes_from_many_processes_at_once_keep_the_cache_exact() {
    let env = TestEnv::new();
    let ids: Vec<String> = (0..8)
        .map(|i| env.create(&[&format!("task {i}")]))
        .collect();
    let epic = env.create(&["epic", "--kind", "epic"]);
    settle(&env);
    let children: Vec<std::process::Child> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let title = format!("renamed {i}");
            let mut args = vec!["update", id.as_str(), "--title", title.as_str(), "-q"];
            if i % 2 == 0 {
                args.extend(["--parent", epic.as_str()]);
            }
            env.batch_cmd(&args).spawn().unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(show(&env, id)["title"], format!("renamed {i}"));
    }
    let kids = show(&env, &epic)["children"].as_array().unwrap().len();
    assert_eq!(kids, 4, "every child the writers made is the epic's");
    // What the cache holds is what a rebuild from the files gives.
    let before: Value = env.json(&["list", "--all"]);
    let ready_before: Value = env.json(&["ready"]);
    let db = env.repo.join(".git/batch");
    for name in ["index.db", "index.db-wal", "index.db-shm"] {
        let _ = std::fs::remove_file(db.join(name));
    }
    assert_eq!(env.json::<Value>(&["list", "--all"]), before);
    assert_eq!(env.json::<Value>(&["ready"]), ready_before);
}

#[test]
fn after_its_own_writes_and_queries_the_cache_still_trusts_the_directory() {
    let env = TestEnv::new();
    let a = env.create(&["aaaa"]);
    settle(&env);
    env.ok(&["update", &a, "--title", "bbbb"]);
    assert!(
        dir_trusted(&env),
        "a write of its own keeps the directory trusted"
    );
    let b = env.create(&["cccc", "--dep", &a]);
    assert!(dir_trusted(&env), "so does a create");
    env.ok(&["ready", "--json"]);
    assert!(dir_trusted(&env), "and a query that finds nothing changed");
    assert_eq!(show(&env, &b)["blocked_by"][0]["id"], a.as_str());
    env.ok(&["close", &a]);
    assert!(dir_trusted(&env));
    assert_eq!(show(&env, &b)["blocked_by"], Value::Array(vec![]));
    assert_eq!(env.ready_ids(), vec![b]);
}
