//! Import from and export to beads JSONL, on the two real trackers in
//! `tests/data/beads/` and on hand-made oddities.

use crate::common::{TaskJson, TestEnv, data};

/// The ready set of a beads file, as `br ready --limit 0` computes it
/// (`tests/data/beads/*.ready.txt`, see `tests/data/beads/README.md`).
fn expected_ready(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(data(&format!("beads/{name}.ready.txt"))).unwrap();
    text.lines().map(str::to_string).collect()
}

/// The export of an imported tracker is the file itself, every field of
/// every line (compared as JSON values, in id order).
fn assert_export_is_input(env: &TestEnv, name: &str) {
    let parse = |text: &str| {
        let mut v: Vec<serde_json::Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        v.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        v
    };
    let input = parse(&std::fs::read_to_string(data(&format!("beads/{name}.jsonl"))).unwrap());
    let output = parse(&env.ok(&["export", "--beads"]));
    assert_eq!(input.len(), output.len());
    for (i, o) in input.iter().zip(&output) {
        assert_eq!(i, o);
    }
}

fn import_real(name: &str) -> (TestEnv, serde_json::Value) {
    let env = TestEnv::new();
    let file = data(&format!("beads/{name}.jsonl"));
    let report: serde_json::Value = env.json(&["import", "--beads", file.to_str().unwrap()]);
    (env, report)
}

#[test]
fn real_beads_tracker_imports_and_ready_matches_beads() {
    let (env, report) = import_real("beads-2026-01-11");
    assert_eq!(report["imported"], 2367);
    assert_eq!(report["epics"], 130);
    assert_eq!(report["statuses"]["tombstone -> closed"], 342);
    assert_eq!(report["statuses"]["hooked -> in_progress"], 13);
    assert_eq!(report["links"]["discovered-from"], 70);
    assert_eq!(report["kept_fields"]["assignee"], 118);
    let warnings = report["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w["message"].as_str().unwrap().contains("tombstone"))
    );
    assert!(
        warnings
            .iter()
            .any(|w| w["message"].as_str().unwrap().contains("second parent"))
    );
    // One commit holding only .batch/ task files.
    assert_eq!(
        env.git(&["log", "-1", "--format=%s"]).trim(),
        "batch: import 2367 tasks from beads (beads-2026-01-11.jsonl)"
    );
    let files = env.git(&["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(files.lines().count(), 2367);
    assert!(
        files
            .lines()
            .all(|f| f.starts_with(".batch/tasks/") && f.ends_with(".toml"))
    );
    assert_eq!(env.git(&["status", "--porcelain"]), "");

    // bd's own tracker holds records of its machinery (agents, rigs,
    // molecules): left out of `ready` as bd does, offered with the switch
    // as br does.
    let non_work = [
        "agent",
        "rig",
        "molecule",
        "merge-request",
        "gate",
        "message",
        "role",
    ];
    let types: std::collections::HashMap<String, String> =
        std::fs::read_to_string(data("beads/beads-2026-01-11.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["id"].as_str().unwrap().to_string(),
                    v["issue_type"].as_str().unwrap().to_string(),
                )
            })
            .collect();
    let br = expected_ready("beads-2026-01-11");
    let bd: Vec<String> = br
        .iter()
        .filter(|id| !non_work.contains(&types[*id].as_str()))
        .cloned()
        .collect();
    assert_eq!(br.len() - bd.len(), 12);
    let mut ready = env.ready_ids();
    ready.sort();
    assert_eq!(ready, bd);
    let config = env.repo.join(".batch/config.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[beads]\nready_all_types = true\n");
    std::fs::write(&config, &text).unwrap();
    let mut ready = env.ready_ids();
    ready.sort();
    assert_eq!(ready, br);
    env.git(&["checkout", "--", ".batch/config.toml"]);
    // Ids, statuses and notes come across; the type is the kind.
    let t: TaskJson = env.json(&["show", "bd-0vu3q"]);
    assert_eq!(t.title, "Issue to reopen with reason");
    assert_eq!(t.status, "open");
    assert_eq!(t.kind, "bug");
    assert!(t.labels.is_empty(), "{:?}", t.labels);
    assert_eq!(t.notes[0].text, "BG found a regression in production");
    assert_eq!(t.notes[0].by, "beads/crew/wolf");
    assert_eq!(t.created, "2026-01-12T02:16:00.860132Z");

    // The cache built in bulk (indexes created after the rows) answers a
    // label query like the files do; and the same after a rebuild.
    let by_label = |env: &TestEnv| {
        let mut ids: Vec<String> = env
            .json::<Vec<TaskJson>>(&["list", "--all", "--label", "workflow"])
            .into_iter()
            .map(|t| t.id)
            .collect();
        ids.sort();
        ids
    };
    let mut expected: Vec<String> = std::fs::read_dir(env.repo.join(".batch/tasks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .any(|l| l.starts_with("labels = ") && l.contains("\"workflow\""))
        })
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_string())
        .collect();
    expected.sort();
    assert!(expected.len() > 10);
    assert_eq!(by_label(&env), expected);
    std::fs::remove_file(env.cache_db()).unwrap();
    assert_eq!(by_label(&env), expected);
    assert_export_is_input(&env, "beads-2026-01-11");
}

#[test]
fn real_beads_rust_tracker_imports_and_ready_matches_beads() {
    let (env, report) = import_real("beads_rust-0.1.12");
    assert_eq!(report["imported"], 513);
    let warnings = report["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w["message"].as_str().unwrap().contains("parent_child")),
        "the parent_child spelling is mapped with a warning"
    );
    let mut ready = env.ready_ids();
    ready.sort();
    assert_eq!(ready, expected_ready("beads_rust-0.1.12"));
    let with_acceptance: Vec<TaskJson> = env.json(&["list", "--all"]);
    assert!(with_acceptance.iter().any(|t| !t.acceptance.is_empty()));
}

#[test]
fn a_bad_line_imports_nothing_and_names_every_bad_line() {
    let env = TestEnv::new();
    let path = env.dir.path().join("bad.jsonl");
    std::fs::write(
        &path,
        concat!(
            "{\"id\":\"bd-1\",\"title\":\"fine\",\"status\":\"open\",\"priority\":1}\n",
            "{\"id\":\"bd-2\",\"title\":\"broken\"\n",
            "\n",
            "{\"id\":\"../escape\",\"title\":\"x\",\"status\":\"open\"}\n",
            "{\"title\":\"no id\"}\n",
        ),
    )
    .unwrap();
    let head = env.git(&["rev-parse", "HEAD"]);
    let err = env.fails(&["import", "--beads", path.to_str().unwrap()], 1);
    assert!(err.contains("bad.jsonl:2:"), "{err}");
    assert!(err.contains("bad.jsonl:4:"), "{err}");
    assert!(err.contains("bad.jsonl:5:"), "{err}");
    assert!(!err.contains("bad.jsonl:1:"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(env.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(env.git(&["status", "--porcelain"]), "");
    let err = env.fails(&["import", "--beads", "/no/such/file.jsonl"], 1);
    assert!(err.contains("/no/such/file.jsonl"), "{err}");
}

#[test]
fn oddities_are_imported_with_warnings() {
    let env = TestEnv::new();
    let lines = [
        r#"{"id":"bd-a","title":"tomb","status":"tombstone","priority":1,"delete_reason":"dup","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00Z"}"#,
        r#"{"id":"bd-b","title":"hooked","status":"hooked","priority":2,"estimated_minutes":90,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}"#,
        r#"{"id":"bd-c","title":"pinned","status":"pinned","priority":2,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}"#,
        r#"{"id":"bd-d","title":"blocked","status":"blocked","priority":2,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}"#,
        r#"{"id":"bd-e","title":"kid","status":"open","priority":2,"created_at":"2026-01-03T00:00:00Z","updated_at":"2026-01-02T00:00:00Z","dependencies":[{"issue_id":"bd-e","depends_on_id":"bd-f","type":"parent_child"},{"issue_id":"bd-e","depends_on_id":"bd-gone","type":"blocks"}]}"#,
        r#"{"id":"bd-f","title":"epic","status":"open","priority":0,"issue_type":"epic","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}"#,
        r#"{"id":"bd-g","title":"weird","status":"frobbed","priority":9,"issue_type":"chore","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","dependencies":[{"issue_id":"bd-g","depends_on_id":"bd-a","type":"blocks"},{"issue_id":"bd-g","depends_on_id":"bd-b","type":"related"}]}"#,
        r#"{"id":"bd-i","title":"after the tomb","status":"open","priority":2,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","dependencies":[{"issue_id":"bd-i","depends_on_id":"bd-a","type":"blocks"}]}"#,
        r#"{"id":"bd-wisp-h","title":"wisp","status":"open","priority":2,"ephemeral":true,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}"#,
    ];
    let out = env.import_text(&(lines.join("\n") + "\n"));
    assert!(out.contains("imported 9 tasks"), "{out}");
    let report: serde_json::Value = {
        // Same data again in a fresh repo, this time as JSON.
        let env2 = TestEnv::new();
        let p = env2.dir.path().join("o.jsonl");
        std::fs::write(&p, lines.join("\n")).unwrap();
        env2.json(&["import", "--beads", p.to_str().unwrap()])
    };
    let messages: Vec<String> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            format!(
                "{} {}",
                w["id"].as_str().unwrap(),
                w["message"].as_str().unwrap()
            )
        })
        .collect();
    let has = |needle: &str| messages.iter().any(|m| m.contains(needle));
    assert!(
        has("bd-a status 'tombstone' imported as closed"),
        "{messages:#?}"
    );
    assert!(
        has("bd-b status 'hooked' imported as in_progress"),
        "{messages:#?}"
    );
    assert!(
        has("bd-c status 'pinned' imported as deferred"),
        "{messages:#?}"
    );
    assert!(
        has("bd-d status 'blocked' imported as escalated"),
        "{messages:#?}"
    );
    assert!(has("bd-e dependency type 'parent_child'"), "{messages:#?}");
    assert!(
        has("bd-e blocks target bd-gone is not in the file"),
        "{messages:#?}"
    );
    assert!(has("bd-e updated_at"), "{messages:#?}");
    assert!(has("bd-g custom status 'frobbed' kept"), "{messages:#?}");
    assert!(has("bd-g priority 9 is out of range"), "{messages:#?}");
    assert_eq!(report["links"]["related"], 1);

    let t: TaskJson = env.json(&["show", "bd-a"]);
    assert_eq!(
        (t.status.as_str(), t.closed_reason.as_deref()),
        ("closed", Some("dup"))
    );
    let t: TaskJson = env.json(&["show", "bd-b"]);
    assert_eq!(
        (t.status.as_str(), t.estimate.as_deref()),
        ("in_progress", Some("M"))
    );
    let t: TaskJson = env.json(&["show", "bd-e"]);
    assert_eq!(t.parent.as_deref(), Some("bd-f"));
    assert_eq!(t.deps, vec!["bd-gone"]);
    let t: TaskJson = env.json(&["show", "bd-g"]);
    assert_eq!((t.status.as_str(), t.priority), ("deferred", 4));
    assert_eq!((t.kind.as_str(), t.labels.len()), ("chore", 0));
    // bd-i's blocker is a tombstone (closed): ready. bd-e waits on a task
    // that is not there; the wisp is never offered; the epic has a kid open;
    // bd-g's status git-batch does not know is kept, and is not ready.
    assert_eq!(env.ready_ids(), vec!["bd-i"]);
    let blocked = env.ok(&["blocked"]);
    assert!(
        blocked.contains("depends on bd-gone (unknown task)"),
        "{blocked}"
    );

    // Importing the same ids again is refused, changing nothing.
    let p = env.dir.path().join("again.jsonl");
    std::fs::write(&p, lines[0]).unwrap();
    let err = env.fails(&["import", "--beads", p.to_str().unwrap()], 1);
    assert!(err.contains("already exist: bd-a"), "{err}");
    assert!(err.contains("--update"), "{err}");
}

#[test]
fn export_round_trips_through_import() {
    let (env, _) = import_real("beads_rust-0.1.12");
    let out = env.dir.path().join("out.jsonl");
    env.ok(&["export", "--beads", out.to_str().unwrap()]);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 513);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert!(first["id"].is_string() && first["status"].is_string());
    // Stdout too.
    let stdout = env.ok(&["export", "--beads"]);
    assert_eq!(stdout, text);

    let again = TestEnv::new();
    again.ok(&["import", "--beads", out.to_str().unwrap()]);
    let before: Vec<TaskJson> = env.json(&["list", "--all"]);
    let after: Vec<TaskJson> = again.json(&["list", "--all"]);
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(
            (&b.id, &b.status, &b.parent, &b.deps),
            (&a.id, &a.status, &a.parent, &a.deps)
        );
        assert_eq!(
            (&b.title, b.priority, &b.labels),
            (&a.title, a.priority, &a.labels)
        );
    }
    assert_eq!(env.ready_ids(), again.ready_ids());
    assert_export_is_input(&env, "beads_rust-0.1.12");
    let a: Vec<serde_json::Value> = env.json(&["list", "--all"]);
    let b: Vec<serde_json::Value> = again.json(&["list", "--all"]);
    assert_eq!(a, b, "import, export, import: the same tasks");
}

/// An import killed before its commit (here: one that wrote its files with
/// `--no-commit`, and a few files then lost, as a kill during the renames
/// leaves it) is finished by running it again, not refused; a task file
/// that differs from what the import would write still is refused, with a
/// short message however many clash.
#[test]
fn an_import_killed_before_its_commit_is_finished_by_running_it_again() {
    let env = TestEnv::new();
    let file = data("beads/beads_rust-0.1.12.jsonl");
    let file = file.to_str().unwrap();
    env.ok(&["--no-commit", "import", "--beads", file]);
    let dir = env.repo.join(".batch/tasks");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    names.sort();
    let total = names.len();
    for p in names.iter().take(5) {
        std::fs::remove_file(p).unwrap();
    }
    // And a temp file of a write that was cut short.
    std::fs::write(dir.join(".batch-tmp-Zz9"), "id = \"cut").unwrap();
    let report: serde_json::Value = env.json(&["import", "--beads", file]);
    assert_eq!(report["imported"], total, "{report}");
    assert_eq!(report["resumed"], total - 5, "{report}");
    let status = env.git(&["status", "--porcelain", "--untracked-files=no"]);
    assert_eq!(status, "", "all committed");
    let listed: Vec<serde_json::Value> = env.json(&["list", "--all"]);
    assert_eq!(listed.len(), total);
    // Once committed, a second import is refused, briefly.
    let err = env.fails(&["import", "--beads", file], 1);
    assert!(
        err.contains("already exist") && err.contains("more"),
        "{err}"
    );
    assert!(err.len() < 2000, "{} bytes", err.len());
}

/// The rows of the query cache's `files` table: every file it holds, with
/// its stat fingerprint.
fn cached_files(env: &TestEnv) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(env.cache_db()).unwrap();
    let mut stmt = conn
        .prepare("SELECT name, fp FROM files ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// `import` leaves the query cache built, so the first query after it
/// reads no task file: a row for every file it wrote, with the stat data
/// the next command finds. Its answers are those of a cache built from the
/// files, and a hand edit right after the import is seen.
#[test]
fn import_builds_the_query_cache_that_the_files_would_build() {
    for name in ["beads-2026-01-11", "beads_rust-0.1.12"] {
        let (env, report) = import_real(name);
        assert!(env.cache_db().exists(), "{name}: no cache after the import");
        let built = cached_files(&env);
        assert_eq!(built.len(), report["imported"].as_u64().unwrap() as usize);
        let queries: [&[&str]; 3] = [
            &["--json", "ready"],
            &["--json", "blocked"],
            &["--json", "list", "--all"],
        ];
        let answers: Vec<String> = queries.iter().map(|q| env.ok(q)).collect();
        assert_eq!(cached_files(&env), built, "{name}: a query rebuilt rows");
        env.remove_cache();
        let from_files: Vec<String> = queries.iter().map(|q| env.ok(q)).collect();
        assert_eq!(answers, from_files, "{name}");
    }

    // Same size, the old mtime put back: as an edit in the tick of the
    // import's last write would look.
    let (env, _) = import_real("beads_rust-0.1.12");
    let id = expected_ready("beads_rust-0.1.12")[0].clone();
    let path = env.task_file(&id);
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("status = \"open\"", "status = \"done\"", 1);
    assert!(edited != text && edited.len() == text.len());
    crate::common::rewrite_keeping_mtime(&path, &edited);
    assert!(!env.ready_ids().contains(&id), "the hand edit is not seen");
}
