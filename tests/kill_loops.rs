//! Kill loops: `land` and `import` killed with SIGKILL at pseudo-random
//! moments of their work, round after round, then run again. Wherever the
//! kill lands, the next run must finish the job with nobody's help: the
//! work in exactly once, nothing left held (claims, worktrees, branches,
//! temp files), both repositories sound, the user's checkout clean.
//!
//! The kill hits the git-batch process alone, as `kill -9` or the OOM
//! killer does; the git it was running finishes on its own. The moments
//! come from a seeded PRNG, one in each slice of the time a whole run
//! takes (measured first; other tests share the cores, so the landing's
//! span grows when a later landing is slower), and the rounds together
//! cover every phase. Each round prints its moment and the phase the kill
//! met.

use crate::common::{TestEnv, data};
use crate::land::{remote_file, sync, with_remote, work};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TASKS: usize = 4;
const LAND_ROUNDS: u64 = 8;
const IMPORT_ROUNDS: u64 = 6;
/// One round for each worktree the kill meets half deleted, one after.
const CLEANUP_ROUNDS: u64 = TASKS as u64 + 1;
/// Files every worktree checks out, so that removing one takes a while.
const BULK_FILES: usize = 1500;
const TRACKER: &str = "beads/beads_rust-0.1.12.jsonl";

/// xorshift64*: deterministic, so a failing round can be replayed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng((seed + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// When round `round` of `rounds` kills: a random moment in the round's own
/// slice of `span`, so the rounds spread over every phase of the run.
fn moment(round: u64, rounds: u64, span: Duration) -> Duration {
    let slice = (span.as_micros() as u64 / rounds).max(1);
    Duration::from_micros(slice * round + Rng::new(round).next() % slice)
}

/// Runs `cmd` to its end and says how long it took: the span the kills of
/// a loop are spread over.
fn time_run(mut cmd: Command) -> Duration {
    let start = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the measured run failed: {status}");
    start.elapsed()
}

/// Starts `cmd` in a process group of its own, SIGKILLs it (the process
/// alone) after `after`, then waits for what it left running to end: the
/// next command is to meet what a dead process left, not a live orphan
/// still at work. False when it ended before the kill.
fn kill_after(cmd: Command, after: Duration) -> bool {
    let mut child = spawn_alone(cmd);
    std::thread::sleep(after);
    kill_and_reap(&mut child)
}

/// Starts `cmd` in a process group of its own, its output dropped.
fn spawn_alone(mut cmd: Command) -> Child {
    cmd.process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// SIGKILLs `child` (the process alone) unless it ended, then waits for what
/// it left running to end. False when it ended before the kill.
fn kill_and_reap(child: &mut Child) -> bool {
    let group = child.id().to_string();
    if child.try_wait().unwrap().is_none() {
        child.kill().unwrap();
    }
    let status = child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while group_alive(&group) {
        assert!(
            Instant::now() < deadline,
            "what the killed process {group} started still runs after 30 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    status.signal() == Some(libc::SIGKILL)
}

/// Whether a process of group `group` still runs (a zombie does not: it
/// only waits for whoever reaps orphans).
fn group_alive(group: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            return false;
        };
        // The command name before it may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.len() > 2 && fields[0] != "Z" && fields[2] == group
    })
}

/// `git fsck` finds nothing wrong in `dir` (dangling objects are what a
/// killed writer leaves for gc, not damage).
fn assert_fsck(env: &TestEnv, dir: &Path, what: &str) {
    let out = env.git_in(dir, &["fsck", "--no-progress", "--no-dangling"]);
    assert_eq!(out, "", "{what}: git fsck");
}

/// A round's tasks, each with its own scope, planned on the remote's main,
/// each with its work done on its branch.
fn finished_tasks(env: &TestEnv, round: u64) -> Vec<String> {
    let ids: Vec<String> = (0..TASKS)
        .map(|i| {
            env.create(&[
                &format!("r{round} t{i}"),
                "--scope",
                &format!("r{round}/t{i}/**"),
            ])
        })
        .collect();
    sync(env);
    for (i, id) in ids.iter().enumerate() {
        work(env, id, &[(&format!("r{round}/t{i}/f"), "work\n")]);
    }
    ids
}

fn remote_main(env: &TestEnv, bare: &Path) -> String {
    env.git_in(bare, &["rev-parse", "main"]).trim().to_string()
}

fn claims(env: &TestEnv) -> usize {
    env.json::<Vec<serde_json::Value>>(&["claims"]).len()
}

fn worker_branches(env: &TestEnv) -> usize {
    env.git(&["branch", "--list", "batch/*"]).lines().count()
}

/// What a killed landing left, from the outside: how far it got.
fn land_phase(env: &TestEnv, bare: &Path, before: &str, tests: &Path) -> String {
    let ran = std::fs::read_to_string(tests).map_or(0, |t| t.lines().count());
    let stack = env.repo.join(".git/batch/land-worktree").exists();
    if remote_main(env, bare) != before {
        format!(
            "after the push: {} claim(s), {} branch(es) left, landing worktree {}",
            claims(env),
            worker_branches(env),
            if stack { "left" } else { "gone" }
        )
    } else if ran > 0 {
        format!("testing ({ran} run(s) started)")
    } else if stack {
        "stacking (landing worktree made)".into()
    } else {
        "before the landing worktree (lock, fetch)".into()
    }
}

/// After the landing that followed the kill: each task's work is on the
/// remote's main and landed by exactly one landing commit, and nothing the
/// landing took is left behind.
fn assert_landed_once(env: &TestEnv, bare: &Path, round: u64, ids: &[String]) {
    let log = env.git_in(bare, &["log", "--format=%B", "main"]);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            remote_file(env, bare, &format!("r{round}/t{i}/f")).as_deref(),
            Some("work\n"),
            "round {round}: {id}'s work is on the remote"
        );
        let landings = log
            .lines()
            .filter(|l| *l == format!("Landed: {id}"))
            .count();
        assert_eq!(landings, 1, "round {round}: {id} landed {landings} times");
    }
    assert_eq!(claims(env), 0, "round {round}: claims left");
    assert_eq!(
        worker_branches(env),
        0,
        "round {round}: worker branches left"
    );
    // Only the main one: no landing worktree, no worker's.
    let worktrees = env.git(&["worktree", "list", "--porcelain"]);
    let count = worktrees
        .lines()
        .filter(|l| l.starts_with("worktree "))
        .count();
    assert_eq!(count, 1, "round {round}: worktrees left:\n{worktrees}");
    assert_eq!(
        env.git(&["status", "--porcelain"]),
        "",
        "round {round}: the user's checkout"
    );
    assert_eq!(
        env.git(&["rev-parse", "main"]).trim(),
        remote_main(env, bare),
        "round {round}: the user's main is brought up to the landing"
    );
    assert_fsck(env, &env.repo, &format!("round {round}: the clone"));
    assert_fsck(env, bare, &format!("round {round}: the remote"));
    let again: serde_json::Value = env.json(&["land", "--remote", "origin"]);
    assert!(
        again["landed"].as_array().unwrap().is_empty() && again["commit"].is_null(),
        "round {round}: a further landing lands nothing: {again}"
    );
}

#[test]
fn a_landing_killed_at_random_points_is_finished_by_the_next_one() {
    let (env, bare) = with_remote();
    let land_cmd = |tests: &Path| {
        let test = format!("echo run >> {}; sleep 0.05", tests.display());
        env.batch_cmd(&["land", "--remote", "origin", "--test", &test])
    };
    // Round 0 is not killed: it measures how long a whole landing takes.
    let ids = finished_tasks(&env, 0);
    // A quarter more: the last rounds are to kill in the clean-up after
    // the push, or after the end, also when this run was a quick one.
    let mut span = time_run(land_cmd(&env.dir.path().join("tests-0"))) * 5 / 4;
    eprintln!("a whole landing of {TASKS} tasks, and a quarter: {span:?}");
    assert_landed_once(&env, &bare, 0, &ids);
    for round in 1..=LAND_ROUNDS {
        let ids = finished_tasks(&env, round);
        let before = remote_main(&env, &bare);
        let tests = env.dir.path().join(format!("tests-{round}"));
        let after = moment(round - 1, LAND_ROUNDS, span);
        let killed = kill_after(land_cmd(&tests), after);
        let phase = if killed {
            land_phase(&env, &bare, &before, &tests)
        } else {
            "it had finished".into()
        };
        eprintln!("land round {round}: killed at {after:?}: {phase}");
        let start = Instant::now();
        let report: serde_json::Value = env.json(&["land", "--remote", "origin"]);
        let took = start.elapsed();
        eprintln!(
            "land round {round}: then landed {} in {took:?}",
            report["landed"]
        );
        // Other tests share the cores: a landing of every task slower than
        // the one measured (even without the tests) stretches the span.
        if report["landed"].as_array().unwrap().len() == TASKS {
            span = span.max(took * 5 / 4);
        }
        assert_landed_once(&env, &bare, round, &ids);
    }
}

/// The worker worktrees (every linked one but the landing's).
fn worker_worktrees(env: &TestEnv) -> Vec<PathBuf> {
    env.git(&["worktree", "list", "--porcelain"])
        .lines()
        .filter_map(|l| l.strip_prefix("worktree "))
        .map(PathBuf::from)
        .filter(|p| {
            p.canonicalize().ok() != env.repo.canonicalize().ok() && !p.ends_with("land-worktree")
        })
        .collect()
}

/// Whether every file a worker worktree checked out is still there (a few
/// of them, looked at in the order no removal follows).
fn intact(wt: &Path) -> bool {
    [".git", "bulk/d0/f0", "bulk/d7/f1407", ".batch/config.toml"]
        .iter()
        .all(|f| wt.join(f).exists())
}

/// A landing killed while it removes the landed tasks' worktrees: the
/// moment the first, second, ... worktree's files start to go is watched
/// for, then the kill comes 0 to 2 ms later, so it meets a worktree half
/// deleted (by git-batch itself, not by a git child that would finish it),
/// and in the last round the refs' deletion. The next landing removes every one
/// of them, with their branches, work refs and claims, and lands nothing
/// twice.
#[test]
fn a_landing_killed_while_it_removes_the_worktrees_is_finished_by_the_next_one() {
    let (env, bare) = with_remote();
    for i in 0..BULK_FILES {
        env.write(&format!("bulk/d{}/f{i}", i % 8), &format!("{i}\n"));
    }
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "bulk"]);
    sync(&env);
    let mut partly_seen = 0;
    for round in 0..CLEANUP_ROUNDS {
        let ids = finished_tasks(&env, round);
        let wts = worker_worktrees(&env);
        assert_eq!(wts.len(), TASKS, "{wts:?}");
        assert!(wts.iter().all(|w| intact(w)));
        for id in &ids {
            let tip = env.git(&["rev-parse", &format!("batch/{id}")]);
            env.git(&["update-ref", &format!("refs/batch/work/{id}"), tip.trim()]);
        }
        // Round r kills once r worktrees are (partly) gone and the next
        // one starts to go; the last round once every one is gone (the
        // refs are deleted then).
        let reached = || {
            let started = wts.iter().filter(|w| !intact(w)).count();
            let gone = wts.iter().filter(|w| !w.exists()).count();
            match round as usize {
                r if r < TASKS => started > r,
                _ => gone == TASKS,
            }
        };
        let mut child = spawn_alone(env.batch_cmd(&["land", "--remote", "origin"]));
        let deadline = Instant::now() + Duration::from_secs(120);
        while child.try_wait().unwrap().is_none() && !reached() {
            assert!(Instant::now() < deadline, "round {round}: no cleanup seen");
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(Rng::new(round).next() % 2000));
        let killed = kill_and_reap(&mut child);
        let partly = wts.iter().filter(|w| w.exists() && !intact(w)).count();
        let whole = wts.iter().filter(|w| intact(w)).count();
        partly_seen += partly;
        eprintln!(
            "cleanup round {round}: {}: {whole} worktree(s) whole, {partly} partly deleted, {} gone, {} branch(es) left",
            if killed { "killed" } else { "it had finished" },
            TASKS - whole - partly,
            worker_branches(&env),
        );
        let report: serde_json::Value = env.json(&["land", "--remote", "origin"]);
        eprintln!("cleanup round {round}: then landed {}", report["landed"]);
        assert_landed_once(&env, &bare, round, &ids);
        for w in &wts {
            assert!(!w.exists(), "round {round}: {} is left", w.display());
        }
        assert_eq!(
            env.git(&["for-each-ref", "refs/batch/work/"]),
            "",
            "round {round}: work refs left"
        );
    }
    // Else the rounds tested nothing this test is for.
    assert!(partly_seen > 0, "no kill met a half-deleted worktree");
}

/// The tasks an import made, as commands see them: every id, the ready ids
/// and the tree of task files the commit holds.
fn imported(env: &TestEnv) -> (Vec<String>, Vec<String>, String) {
    let ids = |args: &[&str]| {
        let mut ids: Vec<String> = env
            .json::<Vec<serde_json::Value>>(args)
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let tree = env
        .git(&["rev-parse", "HEAD:.batch/tasks"])
        .trim()
        .to_string();
    (ids(&["list", "--all"]), ids(&["ready"]), tree)
}

/// What the queries over every task print.
fn answers(env: &TestEnv) -> Vec<String> {
    [
        &["--json", "ready"][..],
        &["--json", "blocked"],
        &["--json", "list", "--all"],
    ]
    .iter()
    .map(|args| env.ok(args))
    .collect()
}

/// How many task files the index has (`ls-files` reads the index and never
/// writes it, `status` would).
fn staged_tasks(env: &TestEnv) -> usize {
    env.git(&["ls-files", "--", ".batch/tasks/*.toml"])
        .lines()
        .count()
}

/// What a killed import left, from the outside: how far it got.
fn import_phase(env: &TestEnv, head_before: &str, total: usize) -> String {
    let (mut files, mut temps) = (0, 0);
    for e in std::fs::read_dir(env.repo.join(".batch/tasks")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with(".batch-tmp-") {
            temps += 1;
        } else if name.ends_with(".toml") {
            files += 1;
        }
    }
    let staged = staged_tasks(env);
    if env.git(&["rev-parse", "HEAD"]).trim() != head_before {
        let differ = env
            .git(&["diff", "--cached", "--name-only"])
            .lines()
            .count();
        format!("after the commit ({differ} path(s) differ in the index)")
    } else if staged > 0 {
        format!("committing: {staged} path(s) staged, the branch not moved")
    } else if files == total {
        "every file written, before the commit".into()
    } else if files + temps == 0 {
        "before writing (reading, mapping, checking)".into()
    } else {
        format!("writing: {temps} temp file(s), {files} of {total} renamed into place")
    }
}

#[test]
fn an_import_killed_at_random_points_is_finished_by_running_it_again() {
    let file = data(TRACKER);
    let file = file.to_str().unwrap();
    let reference = TestEnv::new();
    let span = time_run(reference.batch_cmd(&["import", "--beads", file]));
    eprintln!("a whole import: {span:?}");
    let want = imported(&reference);
    let total = want.0.len();
    for round in 0..IMPORT_ROUNDS {
        let env = TestEnv::new();
        let head_before = env.git(&["rev-parse", "HEAD"]).trim().to_string();
        let after = moment(round, IMPORT_ROUNDS, span);
        let killed = kill_after(env.batch_cmd(&["import", "--beads", file]), after);
        let phase = if killed {
            import_phase(&env, &head_before, total)
        } else {
            "it had finished".into()
        };
        eprintln!("import round {round}: killed at {after:?}: {phase}");
        // Killed while it built the query cache (after its commit) or
        // before, the cache left answers as one built from the files does.
        if env.cache_db().exists() {
            let as_left = answers(&env);
            env.remove_cache();
            assert_eq!(as_left, answers(&env), "round {round}: the cache left");
        }
        // Killed inside its one index write, git's own lock stays: the next
        // import recognises it as the dead one's and clears it (design.md).
        if env.repo.join(".git/index.lock").exists() {
            eprintln!("import round {round}: index.lock left for the next import to clear");
        }
        let again = env.run(&["--json", "import", "--beads", file]);
        let stderr = String::from_utf8_lossy(&again.stderr);
        match again.status.code() {
            Some(0) => {}
            // It had committed: the import is done, and one more is refused.
            Some(1) if stderr.contains("already exist") => {
                assert_ne!(env.git(&["rev-parse", "HEAD"]).trim(), head_before);
            }
            code => panic!("round {round}: the import run again exited {code:?}:\n{stderr}"),
        }
        assert_eq!(imported(&env), want, "round {round}: the tasks");
        assert_eq!(
            env.git(&["status", "--porcelain", "--untracked-files=all"]),
            "",
            "round {round}: the checkout after the import"
        );
        assert_fsck(&env, &env.repo, &format!("round {round}"));
    }
}

/// The moment of a commit a random kill rarely meets, made exact: the
/// branch's ref lock held, so the import's commit keeps retrying to move it
/// with its index entries written; killed then, the import is finished by
/// running it again (its files were staged, never staged as deleted).
#[test]
fn an_import_killed_between_its_index_and_its_branch_is_finished_by_running_it_again() {
    let file = data(TRACKER);
    let file = file.to_str().unwrap();
    let reference = TestEnv::new();
    reference.ok(&["import", "--beads", file]);
    let want = imported(&reference);
    let env = TestEnv::new();
    let head_before = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    let ref_lock = env.repo.join(".git/refs/heads/main.lock");
    std::fs::write(&ref_lock, "").unwrap();
    let mut child = env
        .batch_cmd(&["import", "--beads", file])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while staged_tasks(&env) < want.0.len() {
        assert!(
            child.try_wait().unwrap().is_none() && Instant::now() < deadline,
            "the import never staged its files before moving its branch"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    std::fs::remove_file(&ref_lock).unwrap();
    assert_eq!(env.git(&["rev-parse", "HEAD"]).trim(), head_before);
    let staged = env.git(&["diff", "--cached", "--name-status"]);
    assert!(staged.lines().all(|l| l.starts_with("A\t")), "{staged}");
    let report: serde_json::Value = env.json(&["import", "--beads", file]);
    assert_eq!(report["resumed"], want.0.len(), "{report}");
    assert_eq!(imported(&env), want);
    assert_eq!(
        env.git(&["status", "--porcelain", "--untracked-files=all"]),
        ""
    );
    assert_fsck(&env, &env.repo, "after the import");
}
