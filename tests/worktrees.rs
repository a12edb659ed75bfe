//! Worker worktrees: start (and resume), current, done with its scope
//! check, fail and escalate keeping the work, abandon.

use crate::common::{TaskJson, TestEnv};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Deserialize)]
struct StartedJson {
    id: String,
    path: PathBuf,
    branch: String,
    scope: Vec<String>,
    resumed: bool,
}

fn start(env: &TestEnv, id: &str, worker: &str) -> StartedJson {
    env.json(&["start", id, "--worker", worker])
}

#[test]
fn start_creates_one_worktree_and_resumes_it() {
    let env = TestEnv::new();
    let id = env.create(&["parser", "--scope", "src/parser/**"]);
    let s = start(&env, &id, "w1");
    assert_eq!(s.id, id);
    assert_eq!(s.branch, format!("batch/{id}"));
    assert_eq!(s.scope, vec!["src/parser/**"]);
    assert!(!s.resumed);
    // Outside the user's working tree, on its own branch from main.
    assert!(!s.path.starts_with(&env.repo), "{}", s.path.display());
    assert_eq!(
        env.git_in(&s.path, &["rev-parse", "--abbrev-ref", "HEAD"])
            .trim(),
        s.branch
    );
    assert_eq!(
        env.git_in(&s.path, &["rev-parse", "HEAD"]),
        env.git(&["rev-parse", "main"])
    );
    // The task (created on main) is there; commands there know it.
    assert!(
        s.path
            .join(".batch/tasks")
            .join(format!("{id}.toml"))
            .exists()
    );
    assert_eq!(env.ok_in(&s.path, &["current"]).trim(), id);
    let cur: serde_json::Value =
        serde_json::from_str(&env.ok_in(&s.path, &["--json", "current"])).unwrap();
    assert_eq!(cur["scope"][0], "src/parser/**");
    env.fails(&["current"], 1);

    // Again: the same worktree, not a second one.
    let again = start(&env, &id, "w1");
    assert!(again.resumed);
    assert_eq!(again.path, s.path);
    let list = env.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 2);
    // Someone else cannot start it.
    let err = env.fails(&["start", &id, "--worker", "w2"], 3);
    assert!(err.contains("already claimed by w1"), "{err}");
    // --next gives the next free task its own worktree.
    let other = env.create(&["docs", "--scope", "docs/**"]);
    let next: StartedJson = env.json(&["start", "--next", "--worker", "w2"]);
    assert_eq!(next.id, other);
}

#[test]
fn done_refuses_out_of_scope_changes_and_commits_in_scope() {
    let env = TestEnv::new();
    env.write("src/parser/mod.rs", "old\n");
    env.write("src/lexer.rs", "old\n");
    env.git(&["add", "src"]);
    env.git(&["commit", "-q", "-m", "code"]);
    let id = env.create(&["parser", "--scope", "src/parser/**"]);
    let s = start(&env, &id, "w1");
    std::fs::write(s.path.join("src/parser/mod.rs"), "new\n").unwrap();
    std::fs::write(s.path.join("src/parser/new.rs"), "added\n").unwrap();
    std::fs::write(s.path.join("src/lexer.rs"), "sneaky\n").unwrap();
    // A committed out-of-scope change counts too, even one that skipped the
    // pre-commit hook.
    std::fs::write(s.path.join("NOTES.md"), "x\n").unwrap();
    env.git_in(&s.path, &["add", "NOTES.md"]);
    env.git_in(&s.path, &["commit", "-q", "--no-verify", "-m", "notes"]);
    let head = env.git_in(&s.path, &["rev-parse", "HEAD"]);

    let out = env.batch_cmd_in(&s.path, &["done"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("outside its scope (src/parser/**)"), "{err}");
    assert!(
        err.contains("  NOTES.md") && err.contains("  src/lexer.rs"),
        "{err}"
    );
    assert!(!err.contains("src/parser/new.rs"), "{err}");
    assert_eq!(
        env.git_in(&s.path, &["rev-parse", "HEAD"]),
        head,
        "nothing committed"
    );
    // The file still says open (readers show it in progress: it is claimed).
    assert!(env.read_task_in(&s.path, &id).status == "in_progress");
    assert!(
        std::fs::read_to_string(s.path.join(format!(".batch/tasks/{id}.toml")))
            .unwrap()
            .contains("status = \"open\"")
    );

    // Back inside the scope: done commits everything with status done.
    env.git_in(&s.path, &["reset", "-q", "--hard", "HEAD~1"]);
    std::fs::write(s.path.join("src/parser/mod.rs"), "new\n").unwrap();
    std::fs::write(s.path.join("src/parser/new.rs"), "added\n").unwrap();
    env.ok_in(&s.path, &["receipt", "parsed everything"]);
    let done: serde_json::Value =
        serde_json::from_str(&env.ok_in(&s.path, &["--json", "done", "-m", "parser: done"]))
            .unwrap();
    assert_eq!(done["status"], "done");
    assert_eq!(env.git_in(&s.path, &["status", "--porcelain"]), "");
    let files = env.git_in(&s.path, &["show", "--name-only", "--format=%s", "HEAD"]);
    assert!(files.starts_with("parser: done\n"), "{files}");
    for f in [
        "src/parser/mod.rs",
        "src/parser/new.rs",
        &format!(".batch/tasks/{id}.toml"),
        &format!(".batch/receipts/{id}.log"),
    ] {
        assert!(files.contains(f), "{f} not in {files}");
    }
    assert_eq!(env.read_task_in(&s.path, &id).status, "done");
    // The receipt line names the claim holder, and the claim is kept.
    let receipt =
        std::fs::read_to_string(s.path.join(format!(".batch/receipts/{id}.log"))).unwrap();
    assert!(receipt.contains(" w1 parsed everything\n"), "{receipt}");
    let claims: Vec<serde_json::Value> = env.json(&["claims"]);
    assert_eq!(claims[0]["task"], id.as_str());
    // The main checkout's file is untouched, and it reads done there too
    // (the live state, the same in every clone).
    let main: serde_json::Value = env.json(&["show", &id]);
    assert_eq!(
        (main["status"].as_str(), main["file_status"].as_str()),
        (Some("done"), Some("open"))
    );
    assert_eq!(main["live"]["state"], "done");
}

#[test]
fn a_worker_cannot_widen_its_own_scope() {
    let env = TestEnv::new();
    let id = env.create(&["narrow", "--scope", "a/**"]);
    let s = start(&env, &id, "w1");
    // Refused while it holds the claim...
    let out = env
        .batch_cmd_in(
            &s.path,
            &["--no-commit", "update", &id, "--add-scope", "b/**"],
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    // ...and a hand edit of its task file widens nothing either.
    let rel = s.path.join(format!(".batch/tasks/{id}.toml"));
    let text = std::fs::read_to_string(&rel).unwrap();
    std::fs::write(&rel, text.replace("\"a/**\"", "\"a/**\", \"b/**\"")).unwrap();
    std::fs::create_dir_all(s.path.join("b")).unwrap();
    std::fs::write(s.path.join("b/x"), "x\n").unwrap();
    let out = env.batch_cmd_in(&s.path, &["done"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("  b/x"));
}

#[test]
fn fail_and_escalate_keep_the_work_and_release_the_claim() {
    let env = TestEnv::new();
    let id = env.create(&["hard", "--scope", "src/**"]);
    let s = start(&env, &id, "w1");
    std::fs::create_dir_all(s.path.join("src")).unwrap();
    std::fs::write(s.path.join("src/half.rs"), "half done\n").unwrap();
    env.ok_in(&s.path, &["receipt", "got halfway"]);
    env.ok_in(&s.path, &["fail", "--reason", "tests time out"]);
    let t = env.read_task_in(&s.path, &id);
    assert_eq!(t.status, "failed");
    assert_eq!(t.notes.last().unwrap().text, "failed: tests time out");
    assert_eq!(t.notes.last().unwrap().by, "w1");
    // Only the task file and receipt were committed; the work is still there.
    let files = env.git_in(&s.path, &["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(
        files.lines().collect::<Vec<_>>(),
        vec![
            format!(".batch/receipts/{id}.log"),
            format!(".batch/tasks/{id}.toml")
        ]
    );
    assert_eq!(
        std::fs::read_to_string(s.path.join("src/half.rs")).unwrap(),
        "half done\n"
    );
    assert!(
        env.git(&["branch", "--list", &format!("batch/{id}")])
            .contains(&id)
    );
    let claims: Vec<serde_json::Value> = env.json(&["claims"]);
    assert!(claims.is_empty());

    let other = env.create(&["unclear", "--scope", "docs/**"]);
    let s2 = start(&env, &other, "w2");
    env.ok_in(&s2.path, &["escalate", "--reason", "which API version?"]);
    assert_eq!(env.read_task_in(&s2.path, &other).status, "escalated");

    // Not handed out again until a person acts.
    let err = env.fails(&["start", &id, "--worker", "w3"], 1);
    assert!(err.contains("not handed out until a person acts"), "{err}");
    assert!(err.contains("git batch retry"), "{err}");
    env.ok(&["retry", &id]);
    // Started again, the failed task is open on its branch once more, with
    // its work and a note, and says so.
    let out = env.run(&["start", &id, "--worker", "w3"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{id} was failed on its branch: reopened there")),
        "{err}"
    );
    let again: serde_json::Value = env.json(&["start", &id, "--worker", "w3"]);
    assert_eq!(again["resumed"], true);
    assert_eq!(again["reopened"], serde_json::Value::Null, "only once");
    let t = env.read_task_in(&s.path, &id);
    assert_eq!(t.status, "in_progress", "open on its branch, and claimed");
    assert_eq!(
        t.notes.last().unwrap().text,
        "reopened for another attempt (it was failed)"
    );
    assert!(s.path.join("src/half.rs").exists());
    let subject = env.git_in(&s.path, &["log", "-1", "--format=%s"]);
    assert_eq!(subject.trim(), format!("batch: retry {id} (it was failed)"));
    env.ok_in(&s.path, &["done"]);

    // Only a committed end counts: a task file that says `escalated` but was
    // never committed (a worker killed inside `escalate`) is not reopened.
    let file = s2.path.join(format!(".batch/tasks/{other}.toml"));
    env.git_in(&s2.path, &["reset", "-q", "--hard", "HEAD~1"]);
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("status = \"open\"", "status = \"escalated\""),
    )
    .unwrap();
    env.ok(&["answer", &other, "v2", "--retry"]);
    let again: serde_json::Value = env.json(&["start", &other, "--worker", "w2"]);
    assert_eq!(again["reopened"], serde_json::Value::Null);
    let subject = env.git_in(&s2.path, &["log", "-1", "--format=%s"]);
    assert!(!subject.starts_with("batch: retry"), "{subject}");
}

#[test]
fn abandon_refuses_unlanded_work_unless_forced() {
    let env = TestEnv::new();
    let id = env.create(&["x", "--scope", "x/**"]);
    let s = start(&env, &id, "w1");
    // Nothing done yet: abandon removes worktree, branch and claim.
    env.ok(&["abandon", &id]);
    assert!(!s.path.exists());
    assert!(
        env.git(&["branch", "--list", &format!("batch/{id}")])
            .is_empty()
    );
    assert!(env.json::<Vec<serde_json::Value>>(&["claims"]).is_empty());

    let s = start(&env, &id, "w1");
    std::fs::create_dir_all(s.path.join("x")).unwrap();
    std::fs::write(s.path.join("x/a"), "a\n").unwrap();
    let err = env.fails(&["abandon", &id], 1);
    assert!(err.contains("uncommitted changes"), "{err}");
    env.ok_in(&s.path, &["done"]);
    let err = env.fails(&["abandon", &id], 1);
    assert!(err.contains("1 commit(s) that are not on main"), "{err}");
    assert!(s.path.exists());
    env.ok(&["abandon", &id, "--force"]);
    assert!(!s.path.exists());
}

impl TestEnv {
    fn read_task_in(&self, dir: &std::path::Path, id: &str) -> TaskJson {
        let out = self.ok_in(dir, &["--json", "show", id]);
        serde_json::from_str(&out).unwrap()
    }
}

#[test]
fn done_works_on_a_machine_without_a_git_identity() {
    let env = TestEnv::new();
    env.git(&["config", "--unset", "user.name"]);
    env.git(&["config", "--unset", "user.email"]);
    let id = env.create(&["t", "--scope", "t/**"]);
    let s = start(&env, &id, "w1");
    std::fs::create_dir_all(s.path.join("t")).unwrap();
    std::fs::write(s.path.join("t/a"), "a\n").unwrap();
    let mut cmd = env.batch_cmd_in(&s.path, &["done"]);
    for var in [
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.output().unwrap();
    crate::common::assert_ok(&out);
    assert_eq!(env.read_task_in(&s.path, &id).status, "done");
    assert_eq!(
        env.git_in(&s.path, &["log", "-1", "--format=%an"]).trim(),
        "git-batch"
    );
}

/// `git worktree list` fails while another process is adding a worktree;
/// a worker's commands must not (a receipt line was lost this way).
#[test]
fn workers_find_their_worktree_while_others_are_being_added() {
    let env = TestEnv::new();
    let id = env.create(&["busy", "--scope", "src/**"]);
    let s = start(&env, &id, "w1");
    let adder = {
        let (repo, home, dir) = (env.repo.clone(), env.home(), env.dir.path().to_path_buf());
        std::thread::spawn(move || {
            for i in 0..40 {
                let mut cmd = std::process::Command::new("git");
                crate::common::fixed_env(&mut cmd, &home);
                let side = dir.join(format!("side{i}"));
                let out = cmd
                    .current_dir(&repo)
                    .args(["worktree", "add", "-q", "-b", &format!("side{i}")])
                    .arg(&side)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{out:?}");
            }
        })
    };
    // From the worktree itself, and by id from the main working tree.
    let mut lines = 0;
    while !adder.is_finished() || lines < 20 {
        env.ok_in(&s.path, &["receipt", &format!("step {lines}")]);
        env.ok(&["receipt", &id, &format!("step {} from main", lines + 1)]);
        lines += 2;
    }
    adder.join().unwrap();
    let text = std::fs::read_to_string(s.path.join(format!(".batch/receipts/{id}.log"))).unwrap();
    assert_eq!(text.lines().count(), lines, "{text}");
    env.ok_in(&s.path, &["done"]);
}

/// Agents starting tasks at once: every start gets its worktree (git's
/// `worktree add` fails outright while another process is adding one, so
/// git-batch's own adds take turns).
#[test]
fn eight_agents_start_tasks_at_once() {
    let env = TestEnv::new();
    let ids: Vec<String> = (0..48)
        .map(|i| env.create(&[&format!("t{i}"), "--scope", &format!("d{i}/**")]))
        .collect();
    let started: Vec<String> = std::thread::scope(|s| {
        let agents: Vec<_> = (0..8)
            .map(|w| {
                let env = &env;
                s.spawn(move || {
                    let worker = format!("w{w}");
                    (0..6)
                        .map(|_| start(env, "--next", &worker).id)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        agents.into_iter().flat_map(|a| a.join().unwrap()).collect()
    });
    let mut got = started.clone();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want, "each task started once");
    let list = env.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("\nbranch refs/heads/batch/").count(), 48);
}

/// Why a task failed is a record on the task (reason, when), not note text
/// read back: a note written after the failure does not become its reason.
#[test]
fn a_failure_is_a_record_and_a_later_note_is_not_its_reason() {
    let env = TestEnv::new();
    let id = env.create(&["t", "--scope", "a/**"]);
    env.ok(&["plan", "p", &id, "--force"]);
    let wt = start(&env, &id, "w1").path;
    env.ok_in(
        &wt,
        &["fail", "--reason", "the parser exploded", "--worker", "w1"],
    );
    env.ok_in(&wt, &["note", &id, "looked at it: the network was down"]);
    let task: serde_json::Value =
        serde_json::from_str(&env.ok_in(&wt, &["--json", "show", &id])).unwrap();
    assert_eq!(task["status"], "failed");
    assert_eq!(task["failure"]["reason"], "the parser exploded");
    assert!(task["failure"]["at"].is_string());
    let status: serde_json::Value =
        serde_json::from_str(&env.ok(&["--json", "status", "--plan", "p"])).unwrap();
    let line = &status["plans"][0]["tasks"][0];
    assert_eq!(line["state"], "failed");
    assert_eq!(line["reason"], "the parser exploded", "{status}");
    // Said once, not as "failed: failed: ...".
    let review = env.ok(&["review", "--plan", "p"]);
    assert!(
        review.contains("  failed: the parser exploded\n"),
        "{review}"
    );
    assert!(!review.contains("failed: failed:"), "{review}");
    // Retried and started again, the record goes: the task is open on its
    // branch (and in progress: claimed).
    env.ok(&["retry", &id]);
    let wt = start(&env, &id, "w1").path;
    let task: serde_json::Value =
        serde_json::from_str(&env.ok_in(&wt, &["--json", "show", &id])).unwrap();
    assert_eq!(task["status"], "in_progress");
    assert_eq!(task["file_status"], "open");
    assert!(task.get("failure").is_none(), "{task}");
}

/// `start --sparse`: the worktree holds the task's scope and `.batch/`, git
/// sees nothing missing, the scope guard (hook and `done`) still refuses
/// what is outside, and done work lands as usual.
#[test]
fn a_sparse_worktree_holds_the_scope_and_the_guard_still_holds() {
    let env = TestEnv::new();
    env.write("src/parser/mod.rs", "old\n");
    env.write("src/lexer.rs", "old\n");
    env.write("docs/guide.md", "guide\n");
    env.git(&["add", "src", "docs"]);
    env.git(&["commit", "-q", "-m", "code"]);
    let id = env.create(&["parser", "--scope", "src/parser/**"]);
    let s: StartedJson = env.json(&["start", &id, "--worker", "w1", "--sparse"]);
    let task_file = format!(".batch/tasks/{id}.toml");
    for present in ["src/parser/mod.rs", ".batch/config.toml", &task_file] {
        assert!(s.path.join(present).exists(), "{present} missing");
    }
    for absent in ["src/lexer.rs", "docs/guide.md", "README.md"] {
        assert!(!s.path.join(absent).exists(), "{absent} checked out");
    }
    // Nothing reads as deleted, to git or to git-batch.
    assert_eq!(env.git_in(&s.path, &["status", "--porcelain"]), "");
    assert_eq!(env.ok_in(&s.path, &["current"]).trim(), id);

    // The hook refuses an out-of-scope file, as in a full worktree.
    std::fs::create_dir_all(s.path.join("docs")).unwrap();
    std::fs::write(s.path.join("docs/new.md"), "sneaky\n").unwrap();
    std::fs::write(s.path.join("src/parser/mod.rs"), "new\n").unwrap();
    env.git_in(&s.path, &["add", "-A"]);
    let mut commit = std::process::Command::new("git");
    crate::common::fixed_env(&mut commit, &env.home());
    let out = commit
        .current_dir(&s.path)
        .args(["commit", "-q", "-m", "work"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the hook let docs/new.md through");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("  docs/new.md"), "{err}");
    // So does `done`, from the scope at the main tip.
    let err = String::from_utf8_lossy(
        &env.batch_cmd_in(&s.path, &["done"])
            .output()
            .unwrap()
            .stderr,
    )
    .into_owned();
    assert!(err.contains("outside its scope (src/parser/**)"), "{err}");
    assert!(
        err.contains("  docs/new.md") && !err.contains("lexer"),
        "{err}"
    );

    // In scope: done commits only the task's changes, nothing of the
    // files that were never checked out.
    env.git_in(&s.path, &["rm", "-q", "--cached", "docs/new.md"]);
    std::fs::remove_file(s.path.join("docs/new.md")).unwrap();
    env.ok_in(&s.path, &["done", "-m", "parser: done"]);
    let files = env.git_in(&s.path, &["show", "--name-status", "--format=", "HEAD"]);
    assert_eq!(
        files,
        format!("M\t{task_file}\nM\tsrc/parser/mod.rs\n"),
        "{files}"
    );
    env.ok(&["land"]);
    assert_eq!(env.read("src/parser/mod.rs"), "new\n");
    assert_eq!(env.read("src/lexer.rs"), "old\n");
    assert_eq!(env.read("docs/guide.md"), "guide\n");
}

/// `workers.sparse` makes `start` sparse without the flag; a clean sparse
/// worktree is clean to `abandon` too (no `--force`).
#[test]
fn a_clean_sparse_worktree_is_abandoned_without_force() {
    let env = TestEnv::new();
    env.write("src/a.rs", "a\n");
    env.write("src/b.rs", "b\n");
    let config = env.read(".batch/config.toml");
    assert!(config.contains("[workers]\n"), "{config}");
    env.write(
        ".batch/config.toml",
        &config.replace("[workers]\n", "[workers]\nsparse = true\n"),
    );
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "code, sparse worktrees"]);
    let id = env.create(&["a", "--scope", "src/a.rs"]);
    let s = start(&env, &id, "w1");
    assert!(s.path.join("src/a.rs").exists());
    assert!(!s.path.join("src/b.rs").exists());
    env.ok(&["abandon", &id, "--worker", "w1"]);
    assert!(!s.path.exists());
}

/// Every worktree is added with `--no-checkout` and checked out after the
/// worktree turn: a start killed in between leaves a worktree with no index
/// and no files and the marker of a whole-tree checkout (an empty one); the
/// next start of the task finishes that checkout (all of the tree, nothing
/// reads as deleted) and removes the marker.
#[test]
fn a_start_killed_before_its_checkout_is_finished_by_the_next() {
    let env = TestEnv::new();
    env.write("src/a.rs", "a\n");
    env.write("src/b.rs", "b\n");
    env.git(&["add", "src"]);
    env.git(&["commit", "-q", "-m", "code"]);
    let id = env.create(&["a", "--scope", "src/a.rs"]);
    let s = start(&env, &id, "w1");
    let marker = env.repo.join(format!(".git/batch/sparse/{id}.pending"));
    assert!(!marker.exists(), "the marker outlived the checkout");
    // The state `git worktree add --no-checkout` leaves, marker written.
    let dot_git = std::fs::read_to_string(s.path.join(".git")).unwrap();
    let git_dir = s
        .path
        .join(dot_git.trim_end().strip_prefix("gitdir: ").unwrap());
    std::fs::remove_file(git_dir.join("index")).unwrap();
    for entry in std::fs::read_dir(&s.path).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n != ".git") {
            if path.is_dir() {
                std::fs::remove_dir_all(&path).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
        }
    }
    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    std::fs::write(&marker, "").unwrap();

    let again = start(&env, &id, "w1");
    assert_eq!(again.path, s.path);
    for present in ["src/a.rs", "src/b.rs", "README.md", ".batch/config.toml"] {
        assert!(s.path.join(present).exists(), "{present} missing");
    }
    assert_eq!(env.git_in(&s.path, &["status", "--porcelain"]), "");
    assert!(!marker.exists(), "the marker outlived the checkout");
}
