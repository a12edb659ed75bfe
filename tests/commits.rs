//! Metadata commits: only `.batch/` paths, the user's own work untouched,
//! `--no-commit` and `commit = false`, and worktrees.

use crate::common::{TaskJson, TestEnv};

#[test]
fn commit_leaves_the_users_changes_exactly_as_they_were() {
    let env = TestEnv::new();
    env.write("src/lib.rs", "fn old() {}\n");
    env.write("notes.txt", "committed\n");
    env.git(&["add", "."]);
    env.git(&["commit", "-q", "-m", "user work"]);
    // Staged, staged-then-modified, unstaged and untracked changes.
    env.write("src/lib.rs", "fn staged() {}\n");
    env.git(&["add", "src/lib.rs"]);
    env.write("src/lib.rs", "fn staged_then_edited() {}\n");
    env.write("notes.txt", "unstaged edit\n");
    env.write("new.txt", "untracked\n");
    env.write("staged_new.txt", "new and staged\n");
    env.git(&["add", "staged_new.txt"]);
    let status_before = env.git(&["status", "--porcelain"]);
    let staged_before = env.git(&["diff", "--cached"]);
    let unstaged_before = env.git(&["diff"]);

    let id = env.create(&["a task"]);
    env.ok(&["update", &id, "-p", "1"]);
    env.ok(&["note", &id, "a note"]);

    assert_eq!(env.git(&["status", "--porcelain"]), status_before);
    assert_eq!(env.git(&["diff", "--cached"]), staged_before);
    assert_eq!(env.git(&["diff"]), unstaged_before);
    assert_eq!(env.read("src/lib.rs"), "fn staged_then_edited() {}\n");
    // Each of the three commits holds only the task file.
    for rev in ["HEAD", "HEAD~1", "HEAD~2"] {
        let files = env.git(&["show", "--name-only", "--format=", rev]);
        assert_eq!(files.trim(), format!(".batch/tasks/{id}.toml"), "{rev}");
    }
    assert_eq!(
        env.git(&["log", "-3", "--format=%s"]),
        format!(
            "batch: note {id} \"a task\"\nbatch: update {id} \"a task\"\nbatch: create {id} \"a task\"\n"
        )
    );
    // The commits use the environment's identity and date, like git.
    let who = env.git(&["log", "-1", "--format=%an <%ae> %at|%cn"]);
    assert_eq!(
        who.trim(),
        "Test Author <author@example.com> 1767225600|Test Committer"
    );
}

#[test]
fn no_commit_flag_and_config_switch() {
    let env = TestEnv::new();
    let head = env.git(&["rev-parse", "HEAD"]);
    let id = env.create(&["--no-commit", "uncommitted"]);
    assert_eq!(env.git(&["rev-parse", "HEAD"]), head);
    assert!(
        env.git(&["status", "--porcelain"])
            .contains(&format!("?? .batch/tasks/{id}.toml"))
    );
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "by hand"]);

    let config = env.read(".batch/config.toml");
    env.write(
        ".batch/config.toml",
        &config.replace("commit = true", "commit = false"),
    );
    env.git(&["commit", "-q", "-am", "commits off"]);
    let head = env.git(&["rev-parse", "HEAD"]);
    env.ok(&["update", &id, "-p", "0"]);
    assert_eq!(env.git(&["rev-parse", "HEAD"]), head);
    assert!(
        env.git(&["status", "--porcelain"])
            .contains(&format!(" M .batch/tasks/{id}.toml"))
    );
}

#[test]
fn a_task_created_on_main_is_seen_by_a_new_worktree() {
    let env = TestEnv::new();
    let id = env.create(&["made on main"]);
    let wt = env.dir.path().join("wt");
    env.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "work",
        wt.to_str().unwrap(),
        "main",
    ]);
    let shown: TaskJson = serde_json::from_str(&env.ok_in(&wt, &["--json", "show", &id])).unwrap();
    assert_eq!(shown.title, "made on main");
    // Each worktree has its own cache and commits on its own branch.
    let other = env
        .ok_in(&wt, &["create", "made in worktree"])
        .trim()
        .to_string();
    assert_eq!(
        env.git_in(&wt, &["rev-parse", "--abbrev-ref", "HEAD"])
            .trim(),
        "work"
    );
    env.fails(&["show", &other], 1);
    assert!(env.repo.join(".git/worktrees/wt/batch/index.db").exists());
}

#[test]
fn first_commit_in_an_empty_repository() {
    let env = TestEnv::bare_repo();
    let empty = env.dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    env.git_in(&empty, &["init", "-q", "-b", "trunk"]);
    env.ok_in(&empty, &["init"]);
    assert_eq!(env.git_in(&empty, &["log", "--format=%s"]), "batch: init\n");
    let config = std::fs::read_to_string(empty.join(".batch/config.toml")).unwrap();
    assert!(config.contains("main_branch = \"trunk\""), "{config}");
}

#[test]
fn refuses_to_commit_during_a_merge() {
    let env = TestEnv::new();
    env.write("f.txt", "base\n");
    env.git(&["add", "f.txt"]);
    env.git(&["commit", "-q", "-m", "base"]);
    env.git(&["checkout", "-q", "-b", "side"]);
    env.write("f.txt", "side\n");
    env.git(&["commit", "-q", "-am", "side"]);
    env.git(&["checkout", "-q", "main"]);
    env.write("f.txt", "main\n");
    env.git(&["commit", "-q", "-am", "main"]);
    let mut cmd = std::process::Command::new("git");
    crate::common::fixed_env(&mut cmd, &env.home());
    let out = cmd
        .current_dir(&env.repo)
        .args(["merge", "side"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the merge should conflict");
    let err = env.fails(&["create", "during merge"], 1);
    assert!(err.contains("merge is in progress"), "{err}");
    assert!(err.contains("--no-commit"), "{err}");
    // Nothing was written.
    assert!(
        std::fs::read_dir(env.repo.join(".batch/tasks"))
            .unwrap()
            .all(|e| { e.unwrap().file_name() == ".gitkeep" })
    );
}

/// A user's git holding `index.lock`: a metadata command waits for it, or
/// (after its bounded wait) changes nothing: no commit, no staged deletion,
/// no task file left behind. The lock is never deleted.
#[test]
fn a_held_index_lock_is_waited_for_and_never_half_committed() {
    let env = TestEnv::new();
    let lock = env.repo.join(".git/index.lock");
    // Held for a moment, as a running git would.
    std::fs::write(&lock, "").unwrap();
    let release = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(700));
            std::fs::remove_file(&lock).unwrap();
        })
    };
    let id = env.create(&["waited for"]);
    release.join().unwrap();
    assert_eq!(
        env.git(&["status", "--porcelain"]),
        "",
        "the index has the new task"
    );
    assert!(env.git(&["log", "-1", "--format=%s"]).contains(&id));

    // Held for longer than the wait: nothing changes.
    std::fs::write(&lock, "").unwrap();
    let head = env.git(&["rev-parse", "HEAD"]);
    let before = std::fs::read_dir(env.repo.join(".batch/tasks"))
        .unwrap()
        .count();
    let out = env
        .batch_cmd(&["create", "never half made"])
        .env("GIT_BATCH_LOCK_WAIT", "0.3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("index.lock") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(env.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(
        std::fs::read_dir(env.repo.join(".batch/tasks"))
            .unwrap()
            .count(),
        before
    );
    let out = env
        .batch_cmd(&["update", &id, "-p", "0"])
        .env("GIT_BATCH_LOCK_WAIT", "0.3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        env.read(&format!(".batch/tasks/{id}.toml"))
            .contains("priority = 2")
    );
    assert!(
        lock.exists(),
        "a lock git-batch did not take is never removed"
    );
    std::fs::remove_file(&lock).unwrap();
    assert_eq!(env.git(&["status", "--porcelain"]), "");
}
