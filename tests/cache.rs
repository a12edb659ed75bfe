//! The query cache: always the files' current state, whatever changed them,
//! and rebuilt silently when missing or corrupt.

use crate::common::{TaskJson, TestEnv};

fn title_of(env: &TestEnv, id: &str) -> String {
    let listed: Vec<TaskJson> = env.json(&["list", "--all"]);
    listed
        .into_iter()
        .find(|t| t.id == id)
        .map(|t| t.title)
        .unwrap_or_default()
}

#[test]
fn hand_edits_are_seen_at_once_even_within_one_clock_tick() {
    let env = TestEnv::new();
    let id = env.create(&["aaaa"]);
    assert_eq!(title_of(&env, &id), "aaaa");
    let path = env.task_file(&id);
    // Same size, in place, immediately: stat data may not change at all.
    for title in ["bbbb", "cccc", "dddd"] {
        let text = std::fs::read_to_string(&path).unwrap();
        let old = text
            .lines()
            .find(|l| l.starts_with("title"))
            .unwrap()
            .to_string();
        let new = text.replace(&old, &format!("title = \"{title}\""));
        assert_eq!(new.len(), text.len());
        crate::common::rewrite_keeping_mtime(&path, &new);
        assert_eq!(title_of(&env, &id), title);
    }
}

#[test]
fn checkout_merge_and_deletion_are_seen_without_a_sync_step() {
    let env = TestEnv::new();
    let a = env.create(&["on main"]);
    let first = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    env.git(&["checkout", "-q", "-b", "feature"]);
    let b = env.create(&["on feature"]);
    env.ok(&["update", &a, "--title", "renamed on feature"]);
    assert_eq!(title_of(&env, &a), "renamed on feature");
    env.git(&["checkout", "-q", "main"]);
    assert_eq!(title_of(&env, &a), "on main");
    env.fails(&["show", &b], 1);
    env.git(&["merge", "-q", "feature"]);
    assert_eq!(title_of(&env, &a), "renamed on feature");
    assert_eq!(title_of(&env, &b), "on feature");
    env.git(&["reset", "-q", "--hard", &first]);
    let all: Vec<TaskJson> = env.json(&["list", "--all"]);
    assert_eq!(all.len(), 1);
    std::fs::remove_file(env.task_file(&a)).unwrap();
    let all: Vec<TaskJson> = env.json(&["list", "--all"]);
    assert!(all.is_empty());
}

#[test]
fn a_pull_from_another_clone_is_seen() {
    let env = TestEnv::new();
    let remote = env.dir.path().join("remote.git");
    env.git(&[
        "clone",
        "-q",
        "--bare",
        env.repo.to_str().unwrap(),
        remote.to_str().unwrap(),
    ]);
    env.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    env.git(&["fetch", "-q", "origin"]);
    env.git(&["branch", "-q", "--set-upstream-to=origin/main"]);
    let other = env.dir.path().join("other");
    env.git(&[
        "clone",
        "-q",
        remote.to_str().unwrap(),
        other.to_str().unwrap(),
    ]);
    env.git_in(&other, &["config", "user.name", "Other"]);
    let id = env
        .ok_in(&other, &["create", "from the other clone"])
        .trim()
        .to_string();
    env.git_in(&other, &["push", "-q", "origin", "main"]);
    assert!(env.ready_ids().is_empty());
    env.git(&["pull", "-q", "--ff-only"]);
    assert_eq!(env.ready_ids(), vec![id]);
}

#[test]
fn deleted_or_corrupt_cache_is_rebuilt_silently() {
    let env = TestEnv::new();
    let id = env.create(&["survivor"]);
    assert_eq!(env.ready_ids(), vec![id.clone()]);
    let db = env.cache_db();
    assert!(db.exists());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    assert_eq!(env.ready_ids(), vec![id.clone()]);
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::write(&db, b"this is not a database, just garbage bytes...").unwrap();
    let out = env.run(&["ready", "--json"]);
    crate::common::assert_ok(&out);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tasks: Vec<TaskJson> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tasks.len(), 1);
    // A cache of another schema version is replaced, not misread.
    let conn = rusqlite_free_version_bump(&db);
    assert!(conn);
    assert_eq!(env.ready_ids(), vec![id]);
}

/// Sets SQLite's user_version field in the file header to 99 (offset 60).
fn rusqlite_free_version_bump(db: &std::path::Path) -> bool {
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let mut bytes = std::fs::read(db).unwrap();
    if bytes.len() < 100 || !bytes.starts_with(b"SQLite format 3\0") {
        return false;
    }
    bytes[60..64].copy_from_slice(&99u32.to_be_bytes());
    std::fs::write(db, bytes).unwrap();
    true
}

/// Eight processes opening a cache that does not exist yet, round after
/// round: each one answers with every task (SQLite refused a second
/// process's switch to WAL at once, and the loser deleted the cache under
/// the others, which then answered "no ready tasks").
#[test]
fn processes_creating_the_cache_at_once_all_see_every_task() {
    let env = TestEnv::new();
    let mut ids: Vec<String> = (0..5).map(|i| env.create(&[&format!("t{i}")])).collect();
    ids.sort();
    let db = env.cache_db();
    for round in 0..15 {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        let readers: Vec<_> = (0..8)
            .map(|_| {
                env.batch_cmd(&["--json", "ready"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for reader in readers {
            let out = reader.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "round {round}: {stderr}");
            let ready: Vec<TaskJson> = serde_json::from_slice(&out.stdout).unwrap();
            let mut got: Vec<String> = ready.into_iter().map(|t| t.id).collect();
            got.sort();
            assert_eq!(got, ids, "round {round}: {stderr}");
        }
    }
}

/// Runs `sql` on the cache, as another git-batch (or a damaged disk) would
/// have left it.
fn tamper(env: &TestEnv, sql: &str) {
    let conn = rusqlite::Connection::open(env.cache_db()).unwrap();
    let changed = conn.execute(sql, []).unwrap();
    assert_eq!(changed, 1, "{sql}");
}

/// A row this binary cannot read (a task field another version added or
/// dropped, blockers that are not JSON) does not panic the query that meets
/// it: the cache is rebuilt from the task files and the command answers as
/// if nothing had happened.
#[test]
fn rows_this_binary_cannot_read_are_rebuilt_from_the_files() {
    let env = TestEnv::new();
    let epic = env.create(&["epic", "--kind", "epic"]);
    let child = env.create(&["child", "--parent", &epic]);
    let waits = env.create(&["waits", "--dep", &child]);
    let commands: Vec<Vec<&str>> = vec![
        vec!["--json", "list", "--all"],
        vec!["--json", "show", &epic],
        vec!["--json", "show", &waits],
        vec!["--json", "blocked"],
        vec!["ready"],
    ];
    let intact: Vec<String> = commands.iter().map(|c| env.ok(c)).collect();
    let damage = [
        format!("UPDATE tasks SET json = json_set(json, '$.reviewer', 'x') WHERE id = '{child}'"),
        format!("UPDATE tasks SET json = json_remove(json, '$.title') WHERE id = '{child}'"),
        format!("UPDATE tasks SET json = 'not json' WHERE id = '{waits}'"),
        format!("UPDATE tasks SET blocked_by = 'garbage' WHERE id = '{waits}'"),
        format!("UPDATE tasks SET blocked_by = '[{{\"reason\":\"new\"}}]' WHERE id = '{waits}'"),
    ];
    for sql in &damage {
        for (command, want) in commands.iter().zip(&intact) {
            tamper(&env, sql);
            let out = env.run(command);
            crate::common::assert_ok(&out);
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                *want,
                "{command:?} after {sql}"
            );
        }
    }
}

/// `ready --json` streams the rows without parsing them (its speed is the
/// point), so it is checked for what it must still do: exit 0 with the
/// right tasks. The next parsing query repairs the row.
#[test]
fn ready_json_streams_past_a_row_it_cannot_read() {
    let env = TestEnv::new();
    let first = env.create(&["first", "-p", "1"]);
    let second = env.create(&["second"]);
    assert_eq!(env.ready_ids(), vec![first.clone(), second.clone()]);
    tamper(
        &env,
        &format!("UPDATE tasks SET json = json_set(json, '$.reviewer', 'x') WHERE id = '{second}'"),
    );
    assert_eq!(env.ready_ids(), vec![first.clone(), second.clone()]);
    env.ok(&["list"]);
    let ready: Vec<serde_json::Value> = env.json(&["ready"]);
    assert!(
        ready.iter().all(|t| t.get("reviewer").is_none()),
        "{ready:?}"
    );
}

/// A damaged status column (what the graph is built from) is no panic and no
/// silent "open" either: the cache is rebuilt.
#[test]
fn a_status_this_binary_does_not_know_is_rebuilt_from_the_file() {
    let env = TestEnv::new();
    let dep = env.create(&["dep"]);
    let waits = env.create(&["waits", "--dep", &dep]);
    env.ok(&["close", &dep]);
    assert_eq!(env.ready_ids(), vec![waits.clone()]);
    let damage = format!("UPDATE tasks SET status = 'reviewing' WHERE id = '{dep}'");
    // A query of the graph meets it.
    let tree = env.ok(&["--json", "dep", "tree", &waits]);
    tamper(&env, &damage);
    assert_eq!(env.ok(&["--json", "dep", "tree", &waits]), tree);
    // So does the readiness a changed file recomputes over every row.
    tamper(&env, &damage);
    env.ok(&["update", &waits, "--title", "still waits"]);
    assert_eq!(env.ready_ids(), vec![waits]);
}
