//! Dependencies, cycles, ready and blocked.

use crate::common::{TaskJson, TestEnv};

#[test]
fn dep_add_rm_and_cycles_are_refused_with_the_path() {
    let env = TestEnv::new();
    let a = env.create(&["a"]);
    let b = env.create(&["b", "--dep", &a]);
    let c = env.create(&["c"]);
    let out = env.ok(&["dep", "add", &c, &b]);
    assert!(out.contains(&format!("{c} now waits for {b}")), "{out}");
    assert_eq!(
        env.git(&["log", "-1", "--format=%s"]).trim(),
        format!("batch: dep add {c} \"c\"")
    );
    // a <- b <- c: a waiting for c closes the loop.
    let err = env.fails(&["dep", "add", &a, &c], 1);
    assert!(err.contains(&format!("{a} -> {c} -> {b} -> {a}")), "{err}");
    let t: TaskJson = env.json(&["show", &a]);
    assert!(t.deps.is_empty(), "refused edge was kept");
    env.fails(&["dep", "add", &a, &a], 1);
    let err = env.fails(&["dep", "add", &a, "bt-nope"], 1);
    assert!(err.contains("unknown dependency 'bt-nope'"), "{err}");
    env.fails(&["dep", "add", "bt-nope", &a], 1);
    // Adding twice changes nothing.
    let head = env.git(&["rev-parse", "HEAD"]);
    env.ok(&["dep", "add", &c, &b]);
    assert_eq!(env.git(&["rev-parse", "HEAD"]), head);

    env.ok(&["dep", "rm", &c, &b]);
    let t: TaskJson = env.json(&["show", &c]);
    assert!(t.deps.is_empty());
    env.fails(&["dep", "rm", &c, "bt-nope"], 1);
}

#[test]
fn a_child_waiting_for_its_epic_is_a_cycle() {
    let env = TestEnv::new();
    let epic = env.create(&["epic", "--kind", "epic"]);
    let kid = env.create(&["kid", "--parent", &epic]);
    let err = env.fails(&["dep", "add", &kid, &epic], 1);
    assert!(err.contains("cycle"), "{err}");
    // Parent loops are refused too.
    let err = env.fails(&["update", &epic, "--parent", &kid], 1);
    assert!(err.contains("cycle"), "{err}");
}

#[test]
fn dep_tree_and_cycles_report() {
    let env = TestEnv::new();
    let a = env.create(&["root task"]);
    let b = env.create(&["middle", "--dep", &a]);
    let c = env.create(&["top", "--dep", &b, "--dep", &a]);
    let tree = env.ok(&["dep", "tree", &c]);
    assert!(tree.starts_with(&format!("{c} top [open]\n")), "{tree}");
    assert!(tree.contains(&format!("├── {b} middle [open]")), "{tree}");
    assert!(
        tree.contains(&format!("│   └── {a} root task [open]")),
        "{tree}"
    );
    assert!(
        tree.contains(&format!("└── {a} root task [open]")),
        "{tree}"
    );
    let json: serde_json::Value = env.json(&["dep", "tree", &c]);
    assert_eq!(json["deps"][0]["id"], b.as_str());
    assert_eq!(json["deps"][0]["deps"][0]["id"], a.as_str());

    let out = env.ok(&["dep", "cycles"]);
    assert!(out.is_empty());
    // A cycle made by hand (the CLI refuses to make one) is found.
    let path = env.task_file(&a);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("deps = []", &format!("deps = [\"{c}\"]")),
    )
    .unwrap();
    let out = env.run(&["dep", "cycles"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" -> "), "{stdout}");
    let out = env.run(&["--json", "dep", "cycles"]);
    let cycles: Vec<Vec<String>> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0].first(), cycles[0].last());
    let tree = env.ok(&["dep", "tree", &c]);
    assert!(tree.contains("(cycle)"), "{tree}");
}

#[test]
fn ready_follows_the_beads_rule() {
    let env = TestEnv::new();
    let base = env.create(&["base", "-p", "1"]);
    let waits = env.create(&["waits for base", "--dep", &base]);
    let parent_blocked = env.create(&["blocked parent", "--dep", &base]);
    let child_of_blocked = env.create(&["child of blocked", "--parent", &parent_blocked]);
    let grandchild = env.create(&["grandchild", "--parent", &child_of_blocked]);
    let deferred = env.create(&["deferred"]);
    env.ok(&["update", &deferred, "--status", "deferred"]);
    let child_of_deferred = env.create(&["child of deferred", "--parent", &deferred]);
    let epic = env.create(&["epic", "--kind", "epic", "-p", "0"]);
    let epic_kid = env.create(&["epic kid", "--parent", &epic, "-p", "0"]);
    let in_progress = env.create(&["in progress"]);
    env.ok(&["update", &in_progress, "--status", "in_progress"]);
    let late = env.create(&["low priority", "-p", "4"]);

    assert_eq!(
        env.ready_ids(),
        vec![epic_kid.clone(), base.clone(), late.clone()]
    );
    let text = env.ok(&["ready"]);
    assert_eq!(text.lines().count(), 3, "{text}");

    let blocked: Vec<serde_json::Value> = env.json(&["blocked"]);
    let reason = |id: &str| -> Vec<String> {
        blocked
            .iter()
            .find(|b| b["id"] == id)
            .map(|b| {
                b["blocked_by"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["reason"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(reason(&waits), vec!["dep"]);
    assert_eq!(reason(&child_of_blocked), vec!["ancestor"]);
    assert_eq!(reason(&grandchild), vec!["ancestor"]);
    assert_eq!(reason(&child_of_deferred), vec!["ancestor"]);
    assert_eq!(reason(&epic), vec!["open_children"]);
    assert!(reason(&base).is_empty());
    let text = env.ok(&["blocked"]);
    assert!(
        text.contains(&format!("depends on {base} (open)")),
        "{text}"
    );
    assert!(
        text.contains(&format!("ancestor {deferred} is deferred")),
        "{text}"
    );

    // Closing the base unblocks the chain; closing the kid readies the epic.
    env.ok(&["close", &base, &epic_kid]);
    let ready = env.ready_ids();
    for id in [
        &waits,
        &parent_blocked,
        &child_of_blocked,
        &grandchild,
        &epic,
    ] {
        assert!(ready.contains(id), "{id} not ready: {ready:?}");
    }
    assert!(!ready.contains(&child_of_deferred));

    // --limit and --parent.
    let limited: Vec<TaskJson> = env.json(&["ready", "--limit", "2"]);
    assert_eq!(limited.len(), 2);
    let under: Vec<TaskJson> = env.json(&["ready", "--parent", &parent_blocked]);
    let ids: Vec<&str> = under.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&child_of_blocked.as_str()) && ids.contains(&grandchild.as_str()));
    env.fails(&["ready", "--parent", "bt-nope"], 1);
}

#[test]
fn ready_orders_by_priority_then_age() {
    let env = TestEnv::new();
    let mut ids = Vec::new();
    for (title, p, at) in [
        ("old p2", "2", "2026-01-01T00:00:01Z"),
        ("new p1", "1", "2026-01-01T00:00:03Z"),
        ("old p1", "1", "2026-01-01T00:00:02Z"),
    ] {
        let mut cmd = env.batch_cmd(&["create", title, "-p", p]);
        cmd.env("GIT_BATCH_NOW", at);
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        ids.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
    }
    assert_eq!(
        env.ready_ids(),
        vec![ids[2].clone(), ids[1].clone(), ids[0].clone()]
    );
}

/// Parent links edited by hand into a loop: commands that take the tasks
/// below a parent (`check --parent`, `land --parent`) still end, with each
/// task once.
#[test]
fn the_tasks_below_a_parent_loop_are_each_taken_once() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--kind", "epic"]);
    let b = env.create(&["b", "--parent", &a]);
    let c = env.create(&["c", "--parent", &b]);
    // a's parent becomes c: a -> b -> c -> a.
    let path = env.task_file(&a);
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen("kind = ", &format!("parent = \"{c}\"\nkind = "), 1);
    std::fs::write(&path, text).unwrap();
    let out = env.run(&["--json", "check", "--parent", &a]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut tasks: Vec<String> = serde_json::from_value(report["tasks"].clone()).unwrap();
    tasks.sort();
    let mut want = vec![b, c];
    want.sort();
    assert_eq!(tasks, want, "b and c once each (the epic left out)");
    let out = env.run(&["--json", "land", "--parent", &a, "--dry-run"]);
    assert!(out.status.code().is_some(), "land --parent ends");
}
