//! The JSON contract of docs/cli.md, shape by shape: each command's
//! `--json` parsed and its documented keys looked for (with their types
//! where the contract names one). Shapes other modules parse in depth
//! (status, land, run, check, plan, review, import) are parsed there.

use crate::common::TestEnv;
use serde_json::Value;

/// Asserts `v` is an object with every key of `keys` (space-separated).
#[track_caller]
fn has(v: &Value, keys: &str) {
    assert!(v.is_object(), "not an object: {v}");
    for k in keys.split_whitespace() {
        assert!(v.get(k).is_some(), "no '{k}' in {v}");
    }
}

/// A task object: the keys it always has, with their types.
#[track_caller]
fn task_object(v: &Value) {
    has(
        v,
        "id title status kind created updated created_by body priority deps scope labels acceptance notes",
    );
    for k in [
        "id",
        "title",
        "status",
        "kind",
        "created",
        "updated",
        "created_by",
        "body",
    ] {
        assert!(v[k].is_string(), "{k} of {v}");
    }
    assert!(v["priority"].as_u64().is_some_and(|p| p <= 4));
    for k in ["deps", "scope", "labels", "acceptance", "notes"] {
        assert!(v[k].is_array(), "{k} of {v}");
    }
    for n in v["notes"].as_array().unwrap() {
        has(n, "at by text");
    }
}

fn json(env: &TestEnv, args: &[&str]) -> Value {
    env.json(args)
}

#[test]
fn the_task_commands_print_what_the_contract_says() {
    let env = TestEnv::new();
    let init = json(&env, &["init"]);
    has(
        &init,
        "root prefix created updated already_initialized commit",
    );
    assert_eq!(init["already_initialized"], true);
    let root = init["root"].as_str().unwrap();
    assert!(!root.ends_with('/'), "no trailing slash: {root}");

    let a = json(&env, &["create", "a", "--scope", "a/**"]);
    task_object(&a);
    let a = a["id"].as_str().unwrap().to_string();
    let b = env.create(&["b", "--scope", "b/**"]);
    task_object(&json(&env, &["note", &a, "a note"]));
    task_object(&json(&env, &["dep", "add", &b, &a]));
    task_object(&json(&env, &["dep", "rm", &b, &a]));
    task_object(&json(&env, &["update", &a, "-p", "1"]));
    let show = json(&env, &["show", &a]);
    task_object(&show);
    has(&show, "blocked_by children");
    let lists: [&[&str]; 4] = [
        &["list", "--all"],
        &["ready", "-n", "0"],
        &["search", "a"],
        &["list", "-s", "open"],
    ];
    for list in lists {
        for t in json(&env, list).as_array().unwrap() {
            task_object(t);
        }
    }
    let stats = json(&env, &["stats"]);
    has(&stats, "total status priority kind");
    assert_eq!(stats["total"], 2);

    for closed in json(&env, &["close", &b]).as_array().unwrap() {
        has(closed, "task changed commit");
    }
    for reopened in json(&env, &["reopen", &b]).as_array().unwrap() {
        has(reopened, "task changed commit");
    }

    // Claims.
    let claim = json(&env, &["claim", &a, "--worker", "w1"]);
    has(&claim, "task worker since expires scope renewed");
    for c in json(&env, &["claims"]).as_array().unwrap() {
        has(c, "task worker since expires scope expired");
    }
    has(
        &json(&env, &["release", &a, "--force"]),
        "task worker since expires scope",
    );
    for h in json(&env, &["claims", "--history"]).as_array().unwrap() {
        has(h, "commit message time");
    }
    let both = json(
        &env,
        &["update", &a, "--claim", "--worker", "w1", "--title", "A"],
    );
    task_object(&both);
    has(&both["claim"], "task worker since expires scope renewed");
    env.ok(&["release", &a, "--force"]);
}

#[test]
fn the_worker_commands_print_what_the_contract_says() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let b = env.create(&["b", "--scope", "b/**"]);
    let c = env.create(&["c", "--scope", "c/**"]);
    let start = json(&env, &["start", &a, "--worker", "w1"]);
    has(&start, "id path branch scope resumed claim");
    let wt = std::path::PathBuf::from(start["path"].as_str().unwrap());
    let current: Value = serde_json::from_str(&env.ok_in(&wt, &["--json", "current"])).unwrap();
    has(&current, "id branch path title scope");
    assert_eq!(current["path"], start["path"], "current and start agree");

    let receipt: Value =
        serde_json::from_str(&env.ok_in(&wt, &["--json", "receipt", "did it"])).unwrap();
    has(&receipt, "id path lines");
    let receipts: Value = serde_json::from_str(&env.ok_in(&wt, &["--json", "receipts"])).unwrap();
    has(&receipts, "id path lines");
    assert!(receipts["lines"].is_array());
    let done: Value = serde_json::from_str(&env.ok_in(&wt, &["--json", "done"])).unwrap();
    has(&done, "id status branch commit files");

    for (id, verb) in [(&b, "fail"), (&c, "escalate")] {
        let wt = env.ok(&["start", id, "--worker", "w1"]);
        let out: Value = serde_json::from_str(&env.ok_in(
            std::path::Path::new(wt.trim()),
            &["--json", verb, "--reason", "why"],
        ))
        .unwrap();
        has(&out, "id status branch commit files");
    }
    let answer = json(&env, &["answer", &c, "do this"]);
    has(&answer, "id state answers commit");
    for r in json(&env, &["retry", &b]).as_array().unwrap() {
        has(r, "id changed");
    }
    has(
        &json(&env, &["abandon", &b, "--force"]),
        "id worktree branch released",
    );
}

#[test]
fn the_other_shapes_parse_too() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let tree = json(&env, &["dep", "tree", &a]);
    has(&tree, "id title status deps");
    assert!(
        json(&env, &["dep", "cycles"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    has(&json(&env, &["prime"]), "main_branch prefix task text");
    for h in json(&env, &["hooks", "status"]).as_array().unwrap() {
        has(h, "name path state chained");
    }
    let man = env.dir.path().join("man");
    has(
        &json(&env, &["man", "--out-dir", man.to_str().unwrap()]),
        "dir",
    );
    // `run --events`: events, then the summary, one object a line.
    let out = env.ok(&["run", "--events", "--exec", "true", &a]);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (summary, events) = lines.split_last().unwrap();
    has(
        summary,
        "name plan worker total done failed escalated elsewhere queued stopped stop_reason continue_with landed left_out waiting state_file logs",
    );
    for e in events {
        has(e, "event at kind finished total detail");
    }
    let status = json(&env, &["status"]);
    has(&status, "plans runs");
    for v in status["runs"].as_array().unwrap() {
        has(
            v,
            "name plan status total closed done running failed escalated queued tasks",
        );
        assert!(
            v["plan"].is_null(),
            "a run without a plan: null, as in run's summary"
        );
    }
}

#[test]
fn usage_errors_with_json_are_one_json_line_on_stderr() {
    let env = TestEnv::new();
    for args in [
        &["--json", "create"][..],
        &["--json", "no-such-command"],
        &["create", "x", "-p", "7", "--json"],
        &["--json", "list", "--status", "nonsense"],
    ] {
        let err = env.fails(args, 2);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        let v: Value =
            serde_json::from_str(&err).unwrap_or_else(|e| panic!("{args:?}: {e}: {err}"));
        has(&v, "error causes hints exit_code");
        assert_eq!(v["exit_code"], 2);
        assert!(!v["error"].as_str().unwrap().starts_with("error:"), "{v}");
    }
    // A `--json` after `--` is a value, not the flag; help is no error.
    assert!(
        env.fails(&["create", "--", "--json", "extra"], 2)
            .starts_with("error:")
    );
    assert!(env.ok(&["--json", "--help"]).contains("Usage:"));
}
