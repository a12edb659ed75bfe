//! Task commands: init, create, show, list, update, close, reopen, note,
//! and their errors.

use crate::common::{TaskJson, TestEnv};

#[test]
fn init_is_idempotent_and_says_what_it_did() {
    let env = TestEnv::bare_repo();
    let first = env.ok(&["init", "--prefix", "ab"]);
    assert!(first.contains("initialised"), "{first}");
    assert!(first.contains("created .batch/config.toml"), "{first}");
    for f in [
        ".batch/config.toml",
        ".batch/.gitattributes",
        ".batch/tasks/.gitkeep",
        ".batch/receipts/.gitkeep",
    ] {
        assert!(env.repo.join(f).exists(), "{f} missing");
    }
    assert!(
        env.read(".batch/.gitattributes")
            .contains("receipts/*.log merge=union")
    );
    let config = env.read(".batch/config.toml");
    assert!(
        config.contains("format = 2") && config.contains("prefix = \"ab\""),
        "{config}"
    );
    assert!(config.contains("main_branch = \"main\""), "{config}");
    let log = env.git(&["log", "--format=%s"]);
    assert!(log.starts_with("batch: init\n"), "{log}");

    let again = env.ok(&["init"]);
    assert!(again.contains("already initialised"), "{again}");
    assert_eq!(
        env.git(&["log", "--format=%s"]),
        log,
        "second init committed"
    );

    // A missing piece is repaired.
    std::fs::remove_file(env.repo.join(".batch/.gitattributes")).unwrap();
    let repaired = env.ok(&["init"]);
    assert!(
        repaired.contains("repaired") && repaired.contains(".gitattributes"),
        "{repaired}"
    );

    // A duplicate init that asks for a different prefix is refused.
    let err = env.fails(&["init", "--prefix", "zz"], 1);
    assert!(
        err.contains("already initialised with prefix 'ab'"),
        "{err}"
    );
    assert!(env.read(".batch/config.toml").contains("prefix = \"ab\""));
    env.fails(&["init", "--prefix", "a/b"], 2);
}

#[test]
fn create_with_every_field() {
    let env = TestEnv::new();
    let epic = env.create(&["The epic", "--kind", "epic"]);
    let dep = env.create(&["A blocker"]);
    let task: TaskJson = env.json(&[
        "create",
        "Port the parser",
        "-d",
        "Body text\nline two",
        "-p",
        "1",
        "--parent",
        &epic,
        "--dep",
        &dep,
        "--scope",
        "src/parser/**",
        "--scope",
        "!src/parser/gen.rs",
        "--accept",
        "parses everything",
        "--label",
        "parser",
        "-l",
        "rust",
        "--estimate",
        "M",
    ]);
    assert!(task.id.starts_with("bt-"));
    assert_eq!(task.title, "Port the parser");
    assert_eq!(task.body, "Body text\nline two");
    assert_eq!(task.priority, 1);
    assert_eq!(task.kind, "task");
    assert_eq!(task.status, "open");
    assert_eq!(task.parent.as_deref(), Some(epic.as_str()));
    assert_eq!(task.deps, vec![dep.clone()]);
    assert_eq!(task.scope, vec!["src/parser/**", "!src/parser/gen.rs"]);
    assert_eq!(task.acceptance, vec!["parses everything"]);
    assert_eq!(task.labels, vec!["parser", "rust"]);
    assert_eq!(task.estimate.as_deref(), Some("M"));
    // As git would name the author: GIT_AUTHOR_NAME over user.name.
    assert_eq!(task.created_by, "Test Author");
    // The file is the same task, and show --json agrees.
    let shown: TaskJson = env.json(&["show", &task.id]);
    assert_eq!(shown, task);
    let text = std::fs::read_to_string(env.task_file(&task.id)).unwrap();
    assert!(
        text.starts_with(&format!("id = \"{}\"\n", task.id)),
        "{text}"
    );
    // Plain output is just the id.
    let id = env.ok(&["create", "plain"]);
    assert!(id.trim().starts_with("bt-") && id.lines().count() == 1);
    // --body-file, also from stdin.
    let body = env.dir.path().join("body.md");
    std::fs::write(&body, "from a file\n").unwrap();
    let t: TaskJson = env.json(&["create", "with file", "--body-file", body.to_str().unwrap()]);
    assert_eq!(t.body, "from a file\n");
    env.fails(
        &[
            "create",
            "both",
            "-d",
            "x",
            "--body-file",
            body.to_str().unwrap(),
        ],
        2,
    );
}

#[test]
fn create_errors() {
    let env = TestEnv::new();
    let err = env.fails(&["create", "x", "--dep", "bt-nope"], 1);
    assert!(err.contains("unknown dependency 'bt-nope'"), "{err}");
    let err = env.fails(&["create", "x", "--parent", "bt-nope"], 1);
    assert!(err.contains("unknown parent"), "{err}");
    let err = env.fails(&["create", "x", "--dep", "../../etc/passwd"], 2);
    assert!(err.contains("could escape .batch/"), "{err}");
    let err = env.fails(&["create", "x", "-p", "7"], 2);
    assert!(err.contains("not a priority"), "{err}");
    env.fails(&["create", "   "], 1);
    // Nothing was written by the failures.
    let tasks: Vec<TaskJson> = env.json(&["list", "--all"]);
    assert!(tasks.is_empty(), "{tasks:?}");
    assert_eq!(env.git(&["status", "--porcelain"]), "");
}

#[test]
fn path_escaping_ids_are_refused_everywhere() {
    let env = TestEnv::new();
    let good = env.create(&["good"]);
    for bad in ["../x", "a/b", "/etc/passwd", "..", ".hidden"] {
        for args in [
            vec!["show", bad],
            vec!["update", bad, "--title", "t"],
            vec!["close", bad],
            vec!["reopen", bad],
            vec!["note", bad, "text"],
            vec!["dep", "add", &good, bad],
            vec!["dep", "add", bad, &good],
            vec!["dep", "rm", &good, bad],
            vec!["dep", "tree", bad],
        ] {
            let err = env.fails(&args, 1);
            assert!(err.contains("could escape .batch/"), "{args:?}: {err}");
        }
        // As a flag's value: a usage error, like any invalid value.
        for args in [
            vec!["list", "--parent", bad],
            vec!["ready", "--parent", bad],
            vec!["update", &good, "--parent", bad],
        ] {
            let err = env.fails(&args, 2);
            assert!(err.contains("could escape .batch/"), "{args:?}: {err}");
        }
    }
}

#[test]
fn show_and_list() {
    let env = TestEnv::new();
    let a = env.create(&["alpha", "-p", "3", "-l", "x"]);
    let b = env.create(&["beta", "-p", "0"]);
    let c = env.create(&["gamma", "-p", "1", "-l", "x"]);
    env.ok(&["close", &c]);
    let listed: Vec<TaskJson> = env.json(&["list"]);
    let ids: Vec<&str> = listed.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![b.as_str(), a.as_str()],
        "closed hidden, priority order"
    );
    let all: Vec<TaskJson> = env.json(&["list", "--all"]);
    assert_eq!(all.len(), 3);
    let closed: Vec<TaskJson> = env.json(&["list", "--status", "closed"]);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].id, c);
    let labelled: Vec<TaskJson> = env.json(&["list", "--label", "x", "--all"]);
    assert_eq!(labelled.len(), 2);
    let two: Vec<TaskJson> = env.json(&["list", "-s", "open", "-s", "closed"]);
    assert_eq!(two.len(), 3);
    let text = env.ok(&["list"]);
    assert!(
        text.contains(&b) && text.contains("beta") && text.contains("P0"),
        "{text}"
    );
    let show = env.ok(&["show", &a]);
    assert!(
        show.contains("alpha") && show.contains("labels:     x"),
        "{show}"
    );
    let err = env.fails(&["show", "bt-zzzz"], 1);
    assert!(err.contains("no task 'bt-zzzz'"), "{err}");
}

#[test]
fn parent_lists_children() {
    let env = TestEnv::new();
    let epic = env.create(&["epic", "--kind", "epic"]);
    let kid = env.create(&["kid", "--parent", &epic]);
    env.create(&["other"]);
    let kids: Vec<TaskJson> = env.json(&["list", "--parent", &epic]);
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0].id, kid);
    let shown: serde_json::Value = env.json(&["show", &epic]);
    assert_eq!(shown["children"], serde_json::json!([kid]));
    assert_eq!(shown["blocked_by"][0]["reason"], "open_children");
}

#[test]
fn update_changes_fields_as_one_line_diffs() {
    let env = TestEnv::new();
    let id = env.create(&[
        "old title",
        "--scope",
        "a/**",
        "-l",
        "one",
        "--accept",
        "first",
    ]);
    let other = env.create(&["other"]);
    let t: TaskJson = env.json(&[
        "update",
        &id,
        "--title",
        "new title",
        "-p",
        "0",
        "--status",
        "in_progress",
        "--add-scope",
        "b/**",
        "--rm-scope",
        "a/**",
        "--add-label",
        "two",
        "--rm-label",
        "one",
        "--accept",
        "second",
        "--rm-accept",
        "first",
        "--estimate",
        "L",
        "--parent",
        &other,
        "--body",
        "new body",
    ]);
    assert_eq!(t.title, "new title");
    assert_eq!(t.priority, 0);
    assert_eq!(t.status, "in_progress");
    assert_eq!(t.scope, vec!["b/**"]);
    assert_eq!(t.labels, vec!["two"]);
    assert_eq!(t.acceptance, vec!["second"]);
    assert_eq!(t.estimate.as_deref(), Some("L"));
    assert_eq!(t.parent.as_deref(), Some(other.as_str()));
    assert_eq!(t.body, "new body");
    let t: TaskJson = env.json(&["update", &id, "--no-parent"]);
    assert_eq!(t.parent, None);

    // One field: a one-line diff in the commit.
    env.ok(&["update", &id, "-p", "3"]);
    let diff = env.git(&["show", "--format=", "-U0", "HEAD"]);
    let changed: Vec<&str> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
                // The clock may have ticked since the last update.
                && !l[1..].starts_with("updated = ")
        })
        .collect();
    assert_eq!(changed, vec!["-priority = 0", "+priority = 3"], "{diff}");

    // Nothing to change: no commit.
    let head = env.git(&["rev-parse", "HEAD"]);
    let out = env.ok(&["update", &id, "-p", "3"]);
    assert!(out.contains("nothing to change"), "{out}");
    assert_eq!(env.git(&["rev-parse", "HEAD"]), head);

    env.fails(&["update", &id, "--parent", &id], 1);
    env.fails(&["update", &id, "--status", "bogus"], 2);
    env.fails(&["update", "bt-nope", "--title", "x"], 1);
}

#[test]
fn close_reopen_and_notes() {
    let env = TestEnv::new();
    let a = env.create(&["a"]);
    let b = env.create(&["b"]);
    let out = env.ok(&["close", &a, &b, "--reason", "done elsewhere"]);
    assert!(out.contains(&format!("{a} is now closed")), "{out}");
    assert_eq!(
        env.git(&["log", "-1", "--format=%s"]).trim(),
        format!("batch: close {a} {b}")
    );
    let t: TaskJson = env.json(&["show", &a]);
    assert_eq!(t.status, "closed");
    assert_eq!(t.closed_reason.as_deref(), Some("done elsewhere"));
    let again = env.ok(&["close", &a]);
    assert!(again.contains("already closed"), "{again}");
    // One unknown id: nothing changes.
    let c = env.create(&["c"]);
    env.fails(&["close", &c, "bt-nope"], 1);
    let t: TaskJson = env.json(&["show", &c]);
    assert_eq!(t.status, "open");

    env.ok(&["reopen", &a]);
    let t: TaskJson = env.json(&["show", &a]);
    assert_eq!(t.status, "open");
    assert_eq!(t.closed_reason, None);

    env.ok(&["note", &a, "first finding"]);
    env.ok(&["note", &a, "second\nmultiline"]);
    let t: TaskJson = env.json(&["show", &a]);
    assert_eq!(t.notes.len(), 2);
    assert_eq!(t.notes[0].text, "first finding");
    assert_eq!(t.notes[1].text, "second\nmultiline");
    assert_eq!(t.notes[0].by, "Test Author");
    env.fails(&["note", &a, "  "], 1);
}

#[test]
fn malformed_task_file_is_reported_with_line() {
    let env = TestEnv::new();
    let good = env.create(&["good"]);
    let bad = env.create(&["bad"]);
    let path = env.task_file(&bad);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("priority = 2", "priority = = 2")).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("priority"))
        .unwrap()
        + 1;

    let err = env.fails(&["show", &bad], 1);
    assert!(err.contains(&format!("{bad}.toml:{line}:")), "{err}");
    assert!(err.contains("Hint:"), "{err}");

    // Listing still works, with a warning that names file and line.
    let out = env.run(&["list", "--json"]);
    assert!(out.status.success());
    let listed: Vec<TaskJson> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        listed.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        vec![good.as_str()]
    );
    let warn = String::from_utf8_lossy(&out.stderr);
    assert!(warn.contains(&format!("{bad}.toml:{line}")), "{warn}");

    // A task that depends on the unreadable one is not offered as ready.
    std::fs::write(&path, text.clone()).unwrap();
    let waiting = env.create(&["waits", "--dep", &bad]);
    std::fs::write(
        &path,
        text.replace("status = \"open\"", "status = \"sideways\""),
    )
    .unwrap();
    let ready = env.ready_ids();
    assert!(
        !ready.contains(&waiting) && ready.contains(&good),
        "{ready:?}"
    );
    // Changing the graph is refused while it cannot be seen whole.
    let err = env.fails(&["dep", "add", &good, &waiting], 1);
    assert!(err.contains("do not parse"), "{err}");

    // A wrong type and an unknown key also name their lines.
    std::fs::write(&path, text.replace("title = \"bad\"", "title = 5")).unwrap();
    let err = env.fails(&["show", &bad], 1);
    assert!(err.contains(&format!("{bad}.toml:2:")), "{err}");
    std::fs::write(&path, format!("{text}colour = \"red\"\n")).unwrap();
    let err = env.fails(&["show", &bad], 1);
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn malformed_config_is_reported_with_line() {
    let env = TestEnv::new();
    let path = env.repo.join(".batch/config.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("format = 2", "format = 99")).unwrap();
    let err = env.fails(&["list"], 1);
    assert!(err.contains("format 99"), "{err}");
    std::fs::write(&path, text.replace("prefix = \"bt\"", "prefix = \"bt")).unwrap();
    let err = env.fails(&["list"], 1);
    assert!(err.contains("config.toml:"), "{err}");
}

#[test]
fn titles_are_one_line_and_filters_name_real_tasks() {
    let env = TestEnv::new();
    let err = env.fails(&["create", "two\nlines"], 1);
    assert!(err.contains("one line"), "{err}");
    let id = env.create(&["one line"]);
    env.fails(&["update", &id, "--title", "a\nb"], 1);
    let err = env.fails(&["list", "--parent", "bt-nope"], 1);
    assert!(err.contains("no task 'bt-nope'"), "{err}");
}

#[test]
fn unknown_config_keys_are_warned_about() {
    let env = TestEnv::new();
    let config = env.read(".batch/config.toml");
    env.write(
        ".batch/config.toml",
        &format!("shiny = true\n{config}colour = 1\n"),
    );
    let out = env.run(&["list"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown key 'shiny'"), "{err}");
    assert!(err.contains("unknown key 'check.colour'"), "{err}");
}
