//! Claims: exclusive, scope-exclusive, racing processes in one clone and
//! clones racing through a shared remote (file:// and git daemon), TTLs.

use crate::common::{BIN, TaskJson, TestEnv, fixed_env};
use git_batch::scope::{Scope, overlap};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

#[derive(Debug, Clone, Deserialize)]
pub struct ClaimJson {
    pub task: String,
    pub worker: String,
    #[allow(dead_code)]
    pub since: String,
    pub expires: String,
    pub scope: Vec<String>,
    #[serde(default)]
    pub expired: bool,
    #[serde(default)]
    pub renewed: bool,
    #[serde(default)]
    pub stolen_from: Option<Box<ClaimJson>>,
}

/// Writes `scopes.len()` open tasks straight into `.batch/tasks/` and
/// commits them: much faster than one `create` each.
pub fn seed_tasks(env: &TestEnv, dir: &Path, scopes: &[Vec<String>]) -> Vec<String> {
    let mut ids = Vec::new();
    for (i, scope) in scopes.iter().enumerate() {
        let id = format!("bt-s{i:03}");
        let mut task = git_batch::task::Task::new(
            git_batch::task::TaskId::parse(&id).unwrap(),
            format!("seeded {i}"),
            "2026-01-01T00:00:00Z",
            "test",
        );
        task.priority = (i % 3) as u8;
        task.scope = scope.clone();
        std::fs::write(
            dir.join(".batch/tasks").join(format!("{id}.toml")),
            git_batch::task::render_task(&task),
        )
        .unwrap();
        ids.push(id);
    }
    env.git_in(dir, &["add", ".batch"]);
    env.git_in(dir, &["commit", "-q", "-m", "seed tasks"]);
    ids
}

fn live_claims(env: &TestEnv, dir: &Path) -> Vec<ClaimJson> {
    let out = env.ok_in(dir, &["--json", "claims"]);
    serde_json::from_str(&out).unwrap()
}

/// No two claims overlap (by the same rule the tool uses).
fn assert_disjoint(claims: &[ClaimJson]) {
    for (i, a) in claims.iter().enumerate() {
        for b in &claims[i + 1..] {
            let (sa, sb) = (
                Scope::parse(&a.scope).unwrap(),
                Scope::parse(&b.scope).unwrap(),
            );
            assert!(
                overlap(&sa, &sb, None).is_none(),
                "{} {:?} and {} {:?} overlap",
                a.task,
                a.scope,
                b.task,
                b.scope
            );
        }
    }
}

#[test]
fn claim_release_and_what_others_see() {
    let env = TestEnv::new();
    let a = env.create(&["auth work", "--scope", "src/auth/**"]);
    let b = env.create(&["all of src", "--scope", "src/**"]);
    let c = env.create(&["docs", "--scope", "docs/**"]);
    let free = env.create(&["no scope"]);

    let claimed: ClaimJson = env.json(&["claim", &a, "--worker", "w1"]);
    assert_eq!(
        (claimed.task.as_str(), claimed.worker.as_str()),
        (a.as_str(), "w1")
    );
    assert_eq!(claimed.scope, vec!["src/auth/**"]);

    // Held by someone else: exit 3, naming the holder.
    let err = env.fails(&["claim", &a, "--worker", "w2"], 3);
    assert!(
        err.contains(&format!("{a} is already claimed by w1")),
        "{err}"
    );
    // Overlap by prefix only (nothing exists under src/ yet): exit 3.
    let err = env.fails(&["claim", &b, "--worker", "w2"], 3);
    assert!(
        err.contains("overlaps the claim on") && err.contains("w1"),
        "{err}"
    );
    assert!(err.contains("'src/**' and 'src/auth/**'"), "{err}");
    // A task without scope overlaps everything, and says so.
    let err = env.fails(&["claim", &free, "--worker", "w2"], 3);
    assert!(err.contains("has no scope"), "{err}");
    // Disjoint scopes are fine.
    env.ok(&["claim", &c, "--worker", "w2"]);
    // Claiming again as the holder renews.
    let again: ClaimJson = env.json(&["claim", &a, "--worker", "w1"]);
    assert!(again.renewed);

    // ready leaves claimed tasks out; show says who holds one.
    let ready = env.ready_ids();
    assert!(!ready.contains(&a) && !ready.contains(&c), "{ready:?}");
    assert!(ready.contains(&b));
    let shown: serde_json::Value = env.json(&["show", &a]);
    assert_eq!(shown["claim"]["worker"], "w1");
    assert!(env.ok(&["show", &a]).contains("claimed:    by w1"));

    let live = live_claims(&env, &env.repo);
    assert_eq!(
        live.iter()
            .map(|c| c.task.as_str())
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([a.as_str(), c.as_str()])
    );
    // Only the holder releases (or --force).
    let err = env.fails(&["release", &a, "--worker", "w2"], 3);
    assert!(err.contains("not by w2"), "{err}");
    env.ok(&["release", &a, "--worker", "w1"]);
    env.ok(&["claim", &b, "--worker", "w3"]);
    env.fails(&["release", &a, "--worker", "w1"], 1);

    // The history says who did what.
    let history: Vec<serde_json::Value> = env.json(&["claims", "--history"]);
    let messages: Vec<&str> = history
        .iter()
        .map(|h| h["message"].as_str().unwrap())
        .collect();
    assert!(
        messages[0].starts_with(&format!("claim {b} by w3")),
        "{messages:?}"
    );
    assert!(messages[1].starts_with(&format!("release {a} by w1")));
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with(&format!("renew {a} by w1")))
    );
    assert_eq!(history.len(), 5);
    // Claims are refs, not commits on the user's branch.
    assert!(!env.git(&["log", "--format=%s"]).contains("claim"));
}

#[test]
fn claims_refuse_closed_blocked_and_unknown_tasks() {
    let env = TestEnv::new();
    let a = env.create(&["first", "--scope", "a/**"]);
    let b = env.create(&["second", "--scope", "b/**", "--dep", &a]);
    let err = env.fails(&["claim", &b, "--worker", "w"], 1);
    assert!(err.contains("is blocked") && err.contains(&a), "{err}");
    assert!(
        live_claims(&env, &env.repo).is_empty(),
        "a refused claim leaves nothing"
    );
    env.ok(&["close", &a]);
    let err = env.fails(&["claim", &a, "--worker", "w"], 1);
    assert!(err.contains("is closed"), "{err}");
    env.fails(&["claim", "bt-nope", "--worker", "w"], 1);
    env.fails(&["claim", "../x", "--worker", "w"], 1);
    env.fails(&["claim", &b, "--ttl", "soon", "--worker", "w"], 2);
    // --next with nothing ready is a plain "no work" (1), not a lost race.
    env.ok(&["claim", &b, "--worker", "w"]);
    let err = env.fails(&["claim", "--next", "--worker", "w2"], 3);
    assert!(err.contains("no ready task could be claimed"), "{err}");
}

#[test]
fn expired_claims_can_be_stolen_and_live_ones_cannot() {
    let env = TestEnv::new();
    let a = env.create(&["slow", "--scope", "a/**"]);
    let at = |t: &str, args: &[&str]| {
        env.batch_cmd(args)
            .env("GIT_BATCH_NOW", t)
            .output()
            .unwrap()
    };
    let out = at(
        "2026-03-01T10:00:00Z",
        &["claim", &a, "--worker", "w1", "--ttl", "1h"],
    );
    assert!(out.status.success());
    let out = at(
        "2026-03-01T10:30:00Z",
        &["claim", &a, "--worker", "w2", "--steal"],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("live until 2026-03-01T11:00:00Z"));
    let out = at("2026-03-01T12:00:00Z", &["--json", "claims"]);
    let live: Vec<ClaimJson> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(live[0].expired);
    // An expired claim still holds the task until someone steals it.
    let out = at("2026-03-01T12:00:00Z", &["claim", &a, "--worker", "w2"]);
    assert_eq!(out.status.code(), Some(3));
    let out = at(
        "2026-03-01T12:00:00Z",
        &["--json", "claim", &a, "--worker", "w2", "--steal"],
    );
    crate::common::assert_ok(&out);
    let stolen: ClaimJson = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stolen.worker, "w2");
    assert_eq!(stolen.stolen_from.unwrap().worker, "w1");
    assert_eq!(
        stolen.expires, "2026-03-01T14:00:00Z",
        "default TTL from config (2h)"
    );
}

/// Runs `claim --next` in a loop in `procs` processes (in `dirs`, round
/// robin) until each finds nothing free; returns every claim won.
fn race(env: &TestEnv, dirs: &[&Path], procs: usize, extra: &[&str]) -> Vec<(String, String)> {
    let script = format!(
        "while true; do \
           out=$(\"$BIN\" claim --next --worker \"w$W\" {} 2>err.$W); rc=$?; \
           if [ $rc -eq 0 ]; then echo \"$out\"; \
           elif [ $rc -eq 3 ] && grep -q 'no ready task' err.$W; then exit 0; \
           elif [ $rc -eq 3 ]; then continue; \
           else cat err.$W >&2; exit $rc; fi; \
         done",
        extra.join(" ")
    );
    let children: Vec<_> = (0..procs)
        .map(|w| {
            let mut cmd = Command::new("sh");
            fixed_env(&mut cmd, &env.home());
            cmd.current_dir(dirs[w % dirs.len()])
                .env("BIN", BIN)
                .env("W", w.to_string())
                .args(["-c", &script])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut won = Vec::new();
    for (w, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "worker {w} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for id in String::from_utf8_lossy(&out.stdout).lines() {
            won.push((id.to_string(), format!("w{w}")));
        }
    }
    won
}

/// 200 tasks in 50 groups; tasks of one group overlap (some only by a glob
/// prefix), groups never do. So exactly 50 can be claimed at once.
fn grouped_scopes() -> Vec<Vec<String>> {
    (0..200)
        .map(|i| {
            let g = i % 50;
            if i % 7 == 0 {
                vec![format!("pkg{g:02}/sub/*.rs")]
            } else {
                vec![format!("pkg{g:02}/**")]
            }
        })
        .collect()
}

fn check_race(won: &[(String, String)], live: &[ClaimJson], groups: usize) {
    let mut seen = BTreeMap::new();
    for (id, w) in won {
        assert!(
            seen.insert(id.clone(), w.clone()).is_none(),
            "{id} claimed twice"
        );
    }
    assert_eq!(live.len(), groups, "one claim per group");
    assert_eq!(won.len(), live.len(), "every claim won is live, no other");
    for c in live {
        assert_eq!(
            seen.get(&c.task),
            Some(&c.worker),
            "{} by the winner",
            c.task
        );
    }
    assert_disjoint(live);
}

#[test]
fn sixteen_processes_claim_next_at_once() {
    let env = TestEnv::new();
    seed_tasks(&env, &env.repo, &grouped_scopes());
    // Warm the cache once so the racers do not all build it.
    env.ok(&["ready", "-n", "1"]);
    let won = race(&env, &[&env.repo], 16, &[]);
    check_race(&won, &live_claims(&env, &env.repo), 50);
    let history: Vec<serde_json::Value> = env.json(&["claims", "--history"]);
    assert_eq!(
        history.len(),
        50,
        "every claim is one commit of the claims ref"
    );
}

/// A bare remote with the seeded tasks, and `n` clones of it.
fn clones_of(
    env: &TestEnv,
    url: &dyn Fn(&Path) -> String,
    n: usize,
    tasks: usize,
) -> Vec<std::path::PathBuf> {
    let bare = env.dir.path().join("shared.git");
    env.git_in(
        env.dir.path(),
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    let scopes: Vec<Vec<String>> = grouped_scopes().into_iter().take(tasks).collect();
    seed_tasks(env, &env.repo, &scopes);
    env.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    env.git(&["push", "-q", "origin", "main"]);
    (0..n)
        .map(|i| {
            let dir = env.dir.path().join(format!("clone{i}"));
            env.git_in(
                env.dir.path(),
                &["clone", "-q", &url(&bare), dir.to_str().unwrap()],
            );
            env.ok_in(&dir, &["ready", "-n", "1"]);
            dir
        })
        .collect()
}

#[test]
fn four_clones_race_through_a_file_remote() {
    let env = TestEnv::new();
    let url = |bare: &Path| format!("file://{}", bare.display());
    let clones = clones_of(&env, &url, 4, 40);
    let dirs: Vec<&Path> = clones.iter().map(|p| p.as_path()).collect();
    let won = race(&env, &dirs, 8, &["--remote", "origin"]);
    // What the remote holds is the truth; any clone can read it.
    let out = env.ok_in(&clones[0], &["--json", "claims", "--remote", "origin"]);
    let live: Vec<ClaimJson> = serde_json::from_str(&out).unwrap();
    check_race(&won, &live, 40);
}

#[test]
fn four_clones_race_through_git_daemon() {
    let env = TestEnv::new();
    let daemon = crate::common::Daemon::serve(&env, env.dir.path());
    let port = daemon.port;
    let url = move |_bare: &Path| format!("git://127.0.0.1:{port}/shared.git");
    {
        let clones = clones_of(&env, &url, 4, 40);
        let dirs: Vec<&Path> = clones.iter().map(|p| p.as_path()).collect();
        let won = race(&env, &dirs, 8, &["--remote", "origin"]);
        let out = env.ok_in(&clones[1], &["--json", "claims", "--remote", "origin"]);
        let live: Vec<ClaimJson> = serde_json::from_str(&out).unwrap();
        check_race(&won, &live, 40);
        // A claim through the remote is seen by every clone, and a lost race
        // leaves nothing behind locally.
        let taken = &live[0].task;
        let out = env
            .batch_cmd_in(
                &clones[2],
                &["claim", taken, "--worker", "late", "--remote", "origin"],
            )
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        let local = env.git_in(
            &clones[2],
            &[
                "for-each-ref",
                "refs/batch/claims",
                "--format=%(objectname)",
            ],
        );
        let remote = env.git_in(&clones[2], &["ls-remote", "origin", "refs/batch/claims"]);
        assert_eq!(
            local.trim(),
            remote.split_whitespace().next().unwrap_or(""),
            "the local view is the remote's, nothing of the lost claim"
        );
    }
}

#[test]
fn ready_json_leaves_out_claimed_tasks_and_limit_counts_the_rest() {
    let env = TestEnv::new();
    let ids: Vec<String> = (0..5)
        .map(|i| env.create(&[&format!("t{i}"), "--scope", &format!("d{i}/**")]))
        .collect();
    env.ok(&["claim", &ids[0], "--worker", "w"]);
    env.ok(&["claim", &ids[1], "--worker", "w"]);
    let two: Vec<TaskJson> = env.json(&["ready", "--limit", "2"]);
    assert_eq!(two.len(), 2);
    assert!(two.iter().all(|t| t.id != ids[0] && t.id != ids[1]));
    assert_eq!(env.ready_ids().len(), 3);
}
