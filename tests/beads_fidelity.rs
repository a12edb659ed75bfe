//! Beads fidelity on small fixtures, one per point: what real trackers of
//! bd 0.x to 1.x and br hold imports, `ready` agrees with beads, and an
//! export gives back what was imported.

use crate::common::{TaskJson, TestEnv};
use serde_json::{Value, json};

/// One issue line with the fields every fixture needs, plus `extra`.
fn issue(id: &str, extra: Value) -> String {
    let mut v = json!({
        "id": id, "title": format!("title of {id}"), "status": "open", "priority": 2,
        "issue_type": "task", "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v.to_string()
}

fn write_file(env: &TestEnv, name: &str, lines: &[String]) -> String {
    let path = env.dir.path().join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.to_str().unwrap().to_string()
}

/// Imports `lines` and returns the JSON report.
fn import(env: &TestEnv, lines: &[String]) -> Value {
    let path = write_file(env, "in.jsonl", lines);
    env.json(&["import", "--beads", &path])
}

fn sorted_ready(env: &TestEnv) -> Vec<String> {
    let mut ids = env.ready_ids();
    ids.sort();
    ids
}

fn messages(report: &Value) -> Vec<String> {
    report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| format!("{}: {}", w["line"], w["message"].as_str().unwrap()))
        .collect()
}

#[test]
fn bd1_records_and_the_schema_header_are_skipped_and_counted() {
    let env = TestEnv::new();
    let report = import(
        &env,
        &[
            r#"{"_schema":{"version":2}}"#.into(),
            r#"{"_type":"memory","key":"k1","value":"v"}"#.into(),
            r#"{"_type":"memory","key":"k2","value":"v"}"#.into(),
            issue("bd-1", json!({"_type": "issue"})),
            issue("bd-2", json!({})),
        ],
    );
    assert_eq!(report["imported"], 2);
    assert_eq!(report["skipped"]["memory"], 2);
    assert_eq!(report["skipped"]["_schema"], 1);
    assert_eq!(sorted_ready(&env), vec!["bd-1", "bd-2"]);
}

#[test]
fn finished_statuses_close_and_custom_statuses_are_kept_not_ready_and_exported_back() {
    let env = TestEnv::new();
    let mut lines: Vec<String> = ["done", "complete", "Completed", "finished", "resolved"]
        .iter()
        .enumerate()
        .map(|(i, st)| issue(&format!("bd-c{i}"), json!({"status": st})))
        .collect();
    for st in ["in_review", "pending_review", "draft"] {
        lines.push(issue(&format!("bd-{st}"), json!({"status": st})));
    }
    // One that waits for a finished one: ready.
    lines.push(issue(
        "bd-w",
        json!({"dependencies": [{"issue_id": "bd-w", "depends_on_id": "bd-c0", "type": "blocks"}]}),
    ));
    let report = import(&env, &lines);
    assert_eq!(report["statuses"]["resolved -> closed"], 1);
    assert_eq!(report["statuses"]["in_review -> deferred"], 1);
    let t: TaskJson = env.json(&["show", "bd-c2"]);
    assert_eq!(t.status, "closed");
    assert_eq!(sorted_ready(&env), vec!["bd-w"]);
    let out = env.ok(&["export", "--beads"]);
    let status_of = |id: &str| {
        out.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|v| v["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of("bd-in_review"), "in_review");
    assert_eq!(status_of("bd-draft"), "draft");
    assert_eq!(status_of("bd-c2"), "Completed");
    // Once git-batch changes the status, the export says the new one.
    env.ok(&["update", "bd-draft", "--status", "open"]);
    let out = env.ok(&["export", "--beads"]);
    assert!(out.contains(r#""id":"bd-draft","#), "{out}");
    let draft: Value = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["id"] == "bd-draft")
        .unwrap();
    assert_eq!(draft["status"], "open");
}

#[test]
fn types_and_dependency_types_are_matched_without_regard_to_case() {
    let env = TestEnv::new();
    let report = import(
        &env,
        &[
            issue("bd-e", json!({"issue_type": "Epic"})),
            issue("bd-b", json!({"issue_type": "BUG"})),
            issue(
                "bd-k",
                json!({"dependencies": [
                    {"issue_id": "bd-k", "depends_on_id": "bd-e", "type": "Parent-Child"},
                    {"issue_id": "bd-k", "depends_on_id": "bd-b", "type": "Blocks"},
                    {"issue_id": "bd-k", "depends_on_id": "bd-b", "type": "Related"}
                ]}),
            ),
        ],
    );
    assert_eq!(report["epics"], 1);
    let k: Value = env.json(&["show", "bd-k"]);
    assert_eq!(k["parent"], "bd-e");
    assert_eq!(k["deps"], json!(["bd-b"]));
    assert_eq!(k["links"], json!(["related:bd-b"]));
    let b: TaskJson = env.json(&["show", "bd-b"]);
    assert_eq!((b.kind.as_str(), b.labels.len()), ("bug", 0));
    // The epic waits for its child, the child for bd-b.
    assert_eq!(sorted_ready(&env), vec!["bd-b"]);
}

#[test]
fn external_blockers_second_parents_and_missing_blockers_block_and_are_counted() {
    let env = TestEnv::new();
    let dep =
        |id: &str, on: &str, kind: &str| json!({"issue_id": id, "depends_on_id": on, "type": kind});
    let report = import(
        &env,
        &[
            issue(
                "bd-x",
                json!({"dependencies": [dep("bd-x", "external:other:bd-9", "blocks")]}),
            ),
            issue("bd-p1", json!({"issue_type": "epic"})),
            issue("bd-p2", json!({"status": "deferred"})),
            issue(
                "bd-kid",
                json!({"dependencies": [dep("bd-kid", "bd-p1", "parent-child"), dep("bd-kid", "bd-p2", "parent-child")]}),
            ),
            issue(
                "bd-m",
                json!({"dependencies": [dep("bd-m", "bd-gone", "blocks")]}),
            ),
            issue("bd-free", json!({})),
        ],
    );
    assert_eq!(report["external_blockers"], 1);
    assert_eq!(report["missing_blockers"], 1);
    assert_eq!(report["parents"], 2);
    // bd-kid's second parent is deferred: it holds the kid back.
    assert_eq!(sorted_ready(&env), vec!["bd-free"]);
    let blocked = env.ok(&["blocked"]);
    assert!(
        blocked.contains("external:other:bd-9 (another tracker"),
        "{blocked}"
    );
    assert!(blocked.contains("ancestor bd-p2 is deferred"), "{blocked}");
    // Resolved there: removed here, and the task is ready.
    env.ok(&["dep", "rm", "bd-x", "external:other:bd-9"]);
    env.ok(&["update", "bd-p2", "--status", "open"]);
    assert_eq!(
        sorted_ready(&env),
        vec!["bd-free", "bd-kid", "bd-p2", "bd-x"]
    );
    // Both parents come back on export.
    let out = env.ok(&["export", "--beads"]);
    let kid: Value = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["id"] == "bd-kid")
        .unwrap();
    let parents: Vec<&str> = kid["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["depends_on_id"].as_str().unwrap())
        .collect();
    assert_eq!(parents, vec!["bd-p1", "bd-p2"]);
}

#[test]
fn defer_until_templates_wisps_and_pinned_parents_decide_readiness_as_beads_does() {
    let env = TestEnv::new();
    let dep =
        |id: &str, on: &str, kind: &str| json!({"issue_id": id, "depends_on_id": on, "type": kind});
    import(
        &env,
        &[
            issue("bd-later", json!({"defer_until": "2999-01-01T00:00:00Z"})),
            issue(
                "bd-past",
                json!({"defer_until": "2000-01-01T00:00:00.5+02:00"}),
            ),
            issue("bd-tpl", json!({"is_template": true})),
            issue(
                "bd-uses-tpl",
                json!({"dependencies": [dep("bd-uses-tpl", "bd-tpl", "blocks")]}),
            ),
            issue("bd-wisp", json!({"wisp": true})),
            issue("bd-pin", json!({"status": "pinned"})),
            issue(
                "bd-pin-kid",
                json!({"dependencies": [dep("bd-pin-kid", "bd-pin", "parent-child")]}),
            ),
            issue("bd-pin2", json!({"pinned": true})),
        ],
    );
    assert_eq!(
        sorted_ready(&env),
        vec!["bd-past", "bd-pin-kid", "bd-uses-tpl"]
    );
    let t: Value = env.json(&["show", "bd-later"]);
    assert_eq!(t["defer_until"], "2999-01-01T00:00:00Z");
    // Back on export as they were.
    let out = env.ok(&["export", "--beads"]);
    assert!(out.contains(r#""is_template":true"#), "{out}");
    assert!(out.contains(r#""wisp":true"#), "{out}");
    assert!(
        out.contains(r#""defer_until":"2000-01-01T00:00:00.5+02:00""#),
        "{out}"
    );
}

#[test]
fn types_that_are_not_work_stay_out_of_ready_unless_the_config_says_so() {
    let env = TestEnv::new();
    // bd's list (`bd ready` leaves these out).
    let types = "merge-request gate molecule message agent role rig";
    let mut lines: Vec<String> = types
        .split(' ')
        .map(|t| issue(&format!("bd-{t}"), json!({"issue_type": t})))
        .collect();
    lines.push(issue("bd-work", json!({"issue_type": "feature"})));
    import(&env, &lines);
    assert_eq!(sorted_ready(&env), vec!["bd-work"]);
    let config = env.read(".batch/config.toml");
    env.write(
        ".batch/config.toml",
        &format!("{config}\n[beads]\nready_all_types = true\n"),
    );
    assert_eq!(sorted_ready(&env).len(), 8);
    // The type itself is kept.
    let out = env.ok(&["export", "--beads"]);
    assert!(out.contains(r#""issue_type":"merge-request""#), "{out}");
}

#[test]
fn of_duplicate_ids_the_newest_wins_and_both_lines_are_named() {
    let env = TestEnv::new();
    let report = import(
        &env,
        &[
            issue(
                "bd-d",
                json!({"title": "newer", "updated_at": "2026-01-03T00:00:00.5Z"}),
            ),
            issue(
                "bd-d",
                json!({"title": "older", "updated_at": "2026-01-03T00:00:00Z"}),
            ),
            issue("bd-e", json!({"title": "first"})),
            issue("bd-e", json!({"title": "second, same time"})),
        ],
    );
    let t: TaskJson = env.json(&["show", "bd-d"]);
    assert_eq!(t.title, "newer");
    let t: TaskJson = env.json(&["show", "bd-e"]);
    assert_eq!(t.title, "second, same time");
    let m = messages(&report);
    assert!(
        m.contains(&"2: duplicate id on lines 1 and 2: line 1 wins (newer updated_at)".to_string()),
        "{m:#?}"
    );
    assert!(
        m.contains(
            &"4: duplicate id on lines 3 and 4: line 4 wins (same updated_at, the later line)"
                .to_string()
        ),
        "{m:#?}"
    );
}

#[test]
fn timestamps_are_compared_and_ordered_as_instants() {
    let env = TestEnv::new();
    let report = import(
        &env,
        &[
            // Created half a second after bd-b, though "...00.5Z" < "...00Z" as text.
            issue(
                "bd-a",
                json!({"created_at": "2026-01-01T00:00:00.5Z", "updated_at": "2026-01-01T00:00:01Z"}),
            ),
            issue(
                "bd-b",
                json!({"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00.25Z"}),
            ),
        ],
    );
    assert_eq!(env.ready_ids(), vec!["bd-b", "bd-a"]);
    assert!(messages(&report).is_empty(), "{:#?}", messages(&report));
}

#[test]
fn ids_git_cannot_name_a_branch_after_still_start_and_land() {
    let env = TestEnv::new();
    import(
        &env,
        &[issue("bd-x.lock", json!({})), issue("bd-y.", json!({}))],
    );
    env.ok(&["update", "bd-x.lock", "--add-scope", "a/**"]);
    env.ok(&["update", "bd-y.", "--add-scope", "b/**"]);
    for id in ["bd-x.lock", "bd-y."] {
        let out = env.ok(&["start", id, "--worker", "w"]);
        let path = out.trim().lines().last().unwrap().to_string();
        assert!(std::path::Path::new(&path).is_dir(), "{out}");
        let branch = env.git_in(std::path::Path::new(&path), &["branch", "--show-current"]);
        assert_eq!(branch.trim(), format!("batch/{id}+"));
        let current: Value = env.json(&["-C", &path, "current"]);
        assert_eq!(current["id"], id, "{current}");
        env.ok_in(std::path::Path::new(&path), &["done", "--worker", "w"]);
    }
    env.ok(&["land"]);
    let t: TaskJson = env.json(&["show", "bd-x.lock"]);
    assert_eq!(t.status, "closed");
}

#[test]
fn a_newer_snapshot_updates_known_tasks_and_adds_new_ones_in_one_commit() {
    let env = TestEnv::new();
    import(
        &env,
        &[
            issue("bd-1", json!({})),
            issue("bd-2", json!({})),
            issue("bd-3", json!({})),
        ],
    );
    env.ok(&["update", "bd-2", "--add-scope", "src/**"]);
    env.ok(&["note", "bd-2", "a note made here"]);
    let newer = write_file(
        &env,
        "newer.jsonl",
        &[
            issue("bd-1", json!({})),
            issue(
                "bd-2",
                json!({"title": "renamed", "updated_at": "2026-02-01T00:00:00Z"}),
            ),
            issue(
                "bd-3",
                json!({"status": "closed", "updated_at": "2026-02-01T00:00:00Z"}),
            ),
            issue("bd-4", json!({})),
        ],
    );
    let err = env.fails(&["import", "--beads", &newer], 1);
    assert!(err.contains("--update"), "{err}");
    let before = env.git(&["rev-list", "--count", "HEAD"]);
    let report: Value = env.json(&["import", "--beads", &newer, "--update"]);
    assert_eq!(
        (&report["added"], &report["updated"], &report["unchanged"]),
        (&json!(1), &json!(2), &json!(1))
    );
    let after = env.git(&["rev-list", "--count", "HEAD"]);
    assert_eq!(
        after.trim().parse::<u32>().unwrap(),
        before.trim().parse::<u32>().unwrap() + 1
    );
    assert_eq!(
        env.git(&["log", "-1", "--format=%s"]).trim(),
        "batch: import from beads (newer.jsonl): 1 added, 2 updated"
    );
    let t: TaskJson = env.json(&["show", "bd-2"]);
    assert_eq!(t.title, "renamed");
    assert_eq!(t.scope, vec!["src/**"]);
    assert!(t.notes.iter().any(|n| n.text == "a note made here"));
    let t: TaskJson = env.json(&["show", "bd-3"]);
    assert_eq!(t.status, "closed");
    assert_eq!(env.git(&["status", "--porcelain"]), "");
    // The same snapshot again changes nothing, also for an issue without
    // created_at (whose creation time is the first import's).
    let bare = write_file(
        &env,
        "bare.jsonl",
        &[r#"{"id":"bd-5","title":"no times"}"#.into()],
    );
    env.ok(&["import", "--beads", &bare, "--update"]);
    let out = env
        .batch_cmd(&["--json", "import", "--beads", &bare, "--update"])
        .env("GIT_BATCH_NOW", "2030-01-01T00:00:00Z")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&report["unchanged"], &report["commit"]),
        (&json!(1), &Value::Null)
    );
    let report: Value = env.json(&["import", "--beads", &newer, "--update"]);
    assert_eq!(report["unchanged"], 4, "{report}");
}

#[test]
fn unreadable_files_name_the_line_and_the_problem() {
    let env = TestEnv::new();
    let head = env.git(&["rev-parse", "HEAD"]);
    let path = env.dir.path().join("bad.jsonl");
    let try_bytes = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        env.fails(&["import", "--beads", path.to_str().unwrap()], 1)
    };
    let ok = issue("bd-1", json!({}));
    let err = try_bytes(format!("\u{feff}{ok}\n").as_bytes());
    assert!(
        err.contains("bad.jsonl:1: the file starts with a UTF-8 byte order mark"),
        "{err}"
    );
    let err =
        try_bytes(format!("{ok}\n<<<<<<< HEAD\n{ok}\n=======\n{ok}\n>>>>>>> theirs\n").as_bytes());
    assert!(
        err.contains("bad.jsonl:2: this file has an unresolved merge conflict"),
        "{err}"
    );
    let mut bytes = format!("{ok}\n").into_bytes();
    bytes.extend_from_slice(b"{\"id\":\"bd-2\",\"title\":\"caf\xe9\"}\n");
    let err = try_bytes(&bytes);
    assert!(
        err.contains("bad.jsonl:2: invalid UTF-8 at byte 26 of the line"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(env.git(&["rev-parse", "HEAD"]), head);
    // An empty file is a warning, not an error.
    std::fs::write(&path, "\n").unwrap();
    let out = env.run(&["import", "--beads", path.to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the file holds no issues"), "{stderr}");
    assert_eq!(env.git(&["rev-parse", "HEAD"]), head);
}

#[test]
fn unscoped_imported_tasks_claim_in_parallel_with_the_switch() {
    let env = TestEnv::new();
    let lines = [issue("bd-1", json!({})), issue("bd-2", json!({}))];
    import(&env, &lines);
    env.ok(&["claim", "bd-1", "--worker", "a"]);
    let err = env.fails(&["claim", "bd-2", "--worker", "b"], 3);
    assert!(err.contains("no scope"), "{err}");
    env.ok(&["release", "bd-1", "--worker", "a"]);

    let env = TestEnv::new();
    let path = write_file(&env, "in.jsonl", &lines);
    let report: Value = env.json(&["import", "--beads", &path, "--unscoped-in-parallel"]);
    assert_eq!(report["set_unscoped_in_parallel"], true);
    assert!(
        env.read(".batch/config.toml")
            .contains("unscoped_in_parallel = true")
    );
    assert_eq!(env.git(&["status", "--porcelain"]), "");
    env.ok(&["claim", "bd-1", "--worker", "a"]);
    env.ok(&["claim", "bd-2", "--worker", "b"]);
    // The same task is still claimed once.
    env.fails(&["claim", "bd-2", "--worker", "c"], 3);
}

/// A tracker with every field beads defines: import, export, import gives
/// the same tasks, and the export is the input, field for field.
#[test]
fn round_trip_gives_back_every_field() {
    let env = TestEnv::new();
    let dep = |id: &str, on: &str, kind: &str| {
        json!({"issue_id": id, "depends_on_id": on, "type": kind,
               "created_at": "2026-01-05T10:00:00.123Z", "created_by": "carol"})
    };
    let lines = vec![
        issue(
            "bd-full",
            json!({
                "description": "what", "design": "how", "notes": "remember this",
                "acceptance_criteria": "- [ ] it works", "priority": 1, "issue_type": "feature",
                "assignee": "alice", "owner": "bob@example.com", "estimated_minutes": 45,
                "labels": ["type:plugin-run", "backend"], "created_by": "dave",
                "created_at": "2026-01-01T08:00:00-08:00", "updated_at": "2026-01-06T00:00:00.5Z",
                "external_ref": "gh-12", "compaction_level": 0,
                "comments": [{"id": 7, "issue_id": "bd-full", "author": "erin",
                              "text": "looks good", "created_at": "2026-01-02T00:00:00Z"}],
                "dependencies": [dep("bd-full", "bd-old", "blocks"),
                                 dep("bd-full", "bd-epic", "parent-child"),
                                 dep("bd-full", "bd-old", "related"),
                                 dep("bd-full", "bd-old", "discovered-from")]
            }),
        ),
        issue(
            "bd-old",
            json!({"status": "closed", "closed_at": "2026-01-03T00:00:00Z",
                   "updated_at": "2026-01-04T00:00:00Z", "close_reason": "fixed"}),
        ),
        issue(
            "bd-tomb",
            json!({"status": "tombstone", "deleted_at": "2026-01-02T00:00:00Z", "deleted_by": "x",
                   "delete_reason": "dup", "original_type": "bug"}),
        ),
        issue(
            "bd-epic",
            json!({"issue_type": "epic", "status": "in_review"}),
        ),
    ];
    let report = import(&env, &lines);
    assert_eq!(report["kept_fields"]["assignee"], 1);
    let full: Value = env.json(&["show", "bd-full"]);
    assert_eq!(full["labels"], json!(["type:plugin-run", "backend"]));
    assert_eq!(full["kind"], "feature");
    assert_eq!(
        full["links"],
        json!(["related:bd-old", "discovered-from:bd-old"])
    );
    let out = env.dir.path().join("out.jsonl");
    env.ok(&["export", "--beads", out.to_str().unwrap()]);
    let exported: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut input: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    input.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    assert_eq!(exported, input);

    let again = TestEnv::new();
    again.ok(&["import", "--beads", out.to_str().unwrap()]);
    let a: Vec<Value> = env.json(&["list", "--all"]);
    let b: Vec<Value> = again.json(&["list", "--all"]);
    assert_eq!(a, b);
}

#[test]
fn ids_are_taken_by_unique_prefix_and_an_ambiguous_one_names_its_matches() {
    let env = TestEnv::new();
    import(
        &env,
        &[
            issue("bd-abc1", json!({})),
            issue("bd-abd2", json!({})),
            issue("bd-xyz", json!({})),
        ],
    );
    let t: TaskJson = env.json(&["show", "bd-abc"]);
    assert_eq!(t.id, "bd-abc1");
    // Without the prefix too, as bd does.
    let t: TaskJson = env.json(&["show", "xy"]);
    assert_eq!(t.id, "bd-xyz");
    env.ok(&["note", "abd", "by prefix"]);
    env.ok(&["dep", "add", "xyz", "abc1"]);
    let t: TaskJson = env.json(&["show", "bd-xyz"]);
    assert_eq!(t.deps, vec!["bd-abc1"]);
    insta::assert_snapshot!(env.snapshot(&["show", "bd-ab"], &[]), @r"
    exit: 1
    --- stdout
    --- stderr
    Error: 'bd-ab' is the start of 2 task ids: bd-abc1, bd-abd2
    Hint: give more of the id, so that it names one task
    ");
}

/// Issue types and non-blocking links as a beads user writes them.
#[test]
fn types_and_links_as_bd_writes_them() {
    let env = TestEnv::new();
    let a = env.create(&["first"]);
    let bug = env.create(&["a bug", "-t", "bug", "--discovered-from", &a]);
    let chore = env.create(&["a chore", "--type", "chore", "--related", &bug]);
    env.ok(&["dep", "add", &a, &chore, "--type", "related"]);
    let t: Value = env.json(&["show", &bug]);
    assert_eq!(t["kind"], "bug");
    assert_eq!(t["links"], json!([format!("discovered-from:{a}")]));
    let t: Value = env.json(&["show", &a]);
    assert_eq!(t["links"], json!([format!("related:{chore}")]));
    // Links never block.
    let mut all = vec![a.clone(), bug.clone(), chore.clone()];
    all.sort();
    assert_eq!(sorted_ready(&env), all);
    let shown = env.ok(&["show", &a]);
    assert!(
        shown.contains(&format!("links:      related:{chore}")),
        "{shown}"
    );
    env.ok(&["dep", "rm", &a, &chore, "--type", "related"]);
    let t: Value = env.json(&["show", &a]);
    assert!(t.get("links").is_none(), "{t}");
    let err = env.fails(&["dep", "add", &a, &chore, "--type", "sibling"], 1);
    assert!(err.contains("unknown link type 'sibling'"), "{err}");
    let err = env.fails(&["create", "x", "-t", "story"], 2);
    assert!(err.contains("unknown kind 'story'"), "{err}");
}

/// What a person reads after an import: each thing mapped or kept aside,
/// counted, and the warnings grouped.
#[test]
fn the_import_report_says_what_was_kept_aside() {
    let env = TestEnv::new();
    let dep =
        |id: &str, on: &str, kind: &str| json!({"issue_id": id, "depends_on_id": on, "type": kind});
    let path = write_file(
        &env,
        "in.jsonl",
        &[
            r#"{"_schema":{"version":2}}"#.into(),
            r#"{"_type":"memory","key":"k"}"#.into(),
            issue("bd-1", json!({"status": "in_review", "assignee": "alice"})),
            issue(
                "bd-2",
                json!({"dependencies": [dep("bd-2", "bd-1", "related"), dep("bd-2", "external:web:w-1", "blocks"), dep("bd-2", "bd-gone", "blocks")]}),
            ),
        ],
    );
    insta::assert_snapshot!(env.snapshot(&["import", "--beads", &path], &[]), @r"
    exit: 0
    --- stdout
    imported 2 tasks from [TMP]/in.jsonl
      skipped 1 line(s) of kind '_schema' (not issues)
      skipped 1 line(s) of kind 'memory' (not issues)
      mapped: 0 epics, 0 parent links, 1 blocking deps, 0 notes
      status in_review -> deferred: 1
      status open -> open: 1
      kept 1 'related' link(s) (they do not block)
      kept 1 external:<project>:<id> blocker(s): they block until removed
      kept 1 blocker(s) on issues not in the file: they block until those exist
      kept field 'assignee' of 1 issue(s) for export (in [extra])
    --- stderr
    warning: line 4: bd-2: blocks target bd-gone is not in the file; kept (it blocks until it exists)
    warning: line 3: bd-1: custom status 'in_review' kept (imported as deferred: not ready; exported back as 'in_review')
    committed d1594f9747
    ");
}
