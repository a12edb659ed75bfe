//! What a new user meets first (issue 18): help under its headings, man
//! pages where `man` finds them, completions, exit codes that agree, file
//! modes, examples that work, and a beads user's habits.

use crate::common::{BIN, TestEnv, fixed_env, render_output};
use clap::CommandFactory;
use git_batch::commands::Cli;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

/// Every command, subcommands included, as `(path, clap command)`.
fn every_command() -> Vec<(String, clap::Command)> {
    fn walk(prefix: &str, cmd: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
        for sub in cmd.get_subcommands() {
            let path = format!("{prefix} {}", sub.get_name());
            out.push((path.clone(), sub.clone()));
            walk(&path, sub, out);
        }
    }
    let mut cli = Cli::command();
    cli.build();
    let mut out = Vec::new();
    walk("git batch", &cli, &mut out);
    out
}

#[test]
fn global_flags_have_their_own_heading_in_every_help() {
    let env = TestEnv::bare_repo();
    for (path, _) in every_command() {
        let mut args: Vec<&str> = path.split(' ').skip(2).collect();
        if args.contains(&"help") {
            continue;
        }
        args.push("--help");
        let help = env.ok(&args);
        let (own, global) = help
            .split_once("\nGlobal options:\n")
            .unwrap_or_else(|| panic!("{path} --help has no 'Global options:' heading:\n{help}"));
        // The command's own options: what its Options heading lists.
        let own = own.rsplit_once("\nOptions:\n").map_or("", |(_, o)| o);
        for flag in ["--json", "--quiet", "--color", "-C <DIR>", "--no-commit"] {
            // An option's own line starts with it (`-q, --quiet` with its short).
            let listed = |text: &str| {
                text.lines().any(|l| {
                    let l = l.trim_start();
                    l.starts_with(flag)
                        || l.split_once(", ").is_some_and(|(_, f)| f.starts_with(flag))
                })
            };
            assert!(listed(global), "{path}: {flag} not under Global options");
            assert!(!listed(own), "{path}: {flag} among the command's options");
        }
    }
}

#[test]
fn an_invalid_value_is_a_usage_error_whichever_flag_it_is() {
    let env = TestEnv::new();
    let id = env.create(&["a task"]);
    let cases: &[&[&str]] = &[
        &["create", "x", "-p", "7"],
        &["create", "x", "--estimate", "XL"],
        &["create", "x", "--parent", "no/such"],
        &["create", "x", "--dep", "../up"],
        &["create", "x", "--scope", "src/[a"],
        &["update", &id, "-p", "9"],
        &["update", &id, "--add-scope", "src/[a"],
        &["split", "--title", "t {n}", "-p", "5"],
        &["list", "--parent", "bad id!"],
        &["ready", "--parent", "BAD!"],
        &["claim", "--next", "--parent", "../x"],
        &["init", "--prefix", "b d"],
        &["review", "nope"],
        &["claims", "--history", "-n", "x"],
        &["claim", "--next", "--ttl", "soon"],
    ];
    for args in cases {
        let err = env.fails(args, 2);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // Nothing was written by any of them.
    assert_eq!(env.ok(&["list", "--all"]).lines().count(), 1);
    insta::assert_snapshot!(env.snapshot(&["create", "x", "-p", "7"], &[]), @"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value '7' for '--priority <N>': '7' is not a priority: give 0-4 (0 is highest)

    For more information, try '--help'.
    ");
}

/// Runs `shell -c script args...` in the repository, expecting success;
/// returns stdout.
fn shell(env: &TestEnv, shell: &str, script: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(shell);
    fixed_env(&mut cmd, &env.home());
    let out = cmd
        .current_dir(&env.repo)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `git batch args` under `umask`.
fn with_umask(env: &TestEnv, umask: &str, args: &[&str]) {
    let mut all = vec![BIN];
    all.extend_from_slice(args);
    shell(
        env,
        "sh",
        &format!("umask {umask}; exec \"$0\" \"$@\""),
        &all,
    );
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn files_keep_the_users_umask() {
    let env = TestEnv::new();
    with_umask(&env, "022", &["create", "shared"]);
    let id = env
        .ok(&["list"])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(mode(&env.task_file(&id)), 0o644);
    with_umask(&env, "002", &["update", &id, "--title", "group"]);
    assert_eq!(
        mode(&env.task_file(&id)),
        0o664,
        "a rewrite keeps the umask too"
    );
    with_umask(&env, "077", &["plan", "p", &id]);
    assert_eq!(mode(&env.repo.join(".batch/batches/p.toml")), 0o600);
}

#[test]
fn man_install_puts_the_pages_where_man_finds_them_and_help_needs_no_man() {
    let env = TestEnv::bare_repo();
    let err = String::from_utf8(env.run(&["man", "--install"]).stderr).unwrap();
    let dir = env.home().join(".local/share/man/man1");
    assert!(dir.join("git-batch.1").is_file(), "{err}");
    assert!(dir.join("git-batch-create.1").is_file());
    assert!(err.contains("wrote man pages into"), "{err}");
    // `git batch help` is git-batch's own, through git as typed.
    let help = env.git(&["batch", "help"]);
    assert!(help.contains("Usage: git batch"), "{help}");
    let create = env.git(&["batch", "help", "create"]);
    assert!(create.contains("Usage: git batch create"), "{create}");
}

/// Runs bash with the generated completion script loaded, then `script`.
fn bash_completion(env: &TestEnv, script: &str) -> String {
    let completion = env.ok(&["completions", "bash"]);
    let file = env.dir.path().join("git-batch.bash");
    std::fs::write(&file, completion).unwrap();
    shell(
        env,
        "bash",
        &format!("source {}\n{script}", file.display()),
        &[],
    )
}

#[test]
fn bash_completes_commands_flags_and_task_ids_also_under_git() {
    let env = TestEnv::new();
    let id = env.create(&["a task"]);
    env.create(&["another"]);
    let out = bash_completion(
        &env,
        r#"
t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _git_batch_complete; echo "${COMPREPLY[*]}"; }
t git-batch cre
t git-batch list --sta
t git-batch show ""
t git-batch create x --parent ""
t git-batch dep add "$ID" ""
# git's completion, for `git -C . batch sh<TAB>` and `git batch close <TAB>`
words=(git -C . batch sh); cword=4; __git_cmd_idx=3; COMPREPLY=(); _git_batch; echo "${COMPREPLY[*]}"
words=(git batch close ""); cword=3; unset __git_cmd_idx; COMPREPLY=(); _git_batch; echo "${COMPREPLY[*]}"
"#
        .replace("$ID", &id)
        .as_str(),
    );
    // Listed as `list` lists them (by priority, creation time, id; the two
    // creates may fall in different seconds, so the order is read, not
    // assumed).
    let listed: Vec<crate::common::TaskJson> = env.json(&["list"]);
    let ids: Vec<&str> = listed.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    let both = ids.join(" ");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        ["create", "--status", &both, &both, &both, "show", &both],
        "{out}"
    );
}

#[test]
fn zsh_and_fish_scripts_complete_task_ids() {
    let env = TestEnv::new();
    let id = env.create(&["a: task"]);
    let zsh = env.ok(&["completions", "zsh"]);
    assert!(
        zsh.contains("_git-batch() {"),
        "zsh's _git calls _git-batch"
    );
    assert!(zsh.contains("':id:_git_batch_ids'"), "show's id:\n{zsh}");
    assert!(zsh.contains(":ID:_git_batch_ids'"), "--parent's value");
    assert!(zsh.contains("_git_batch_ids() {"));
    let fish = env.ok(&["completions", "fish"]);
    assert!(
        fish.contains("git-batch __complete --describe --"),
        "{fish}"
    );
    // What the scripts call.
    assert_eq!(
        env.ok(&["__complete", "--ids", "--describe"]),
        format!("{id}\ta: task\n")
    );
    assert_eq!(env.ok(&["__complete", "--", "show", ""]), format!("{id}\n"));
    assert_eq!(
        env.ok(&["__complete", "--", "update", &id, "--kind", ""]),
        ""
    );
    assert_eq!(env.ok(&["__complete", "--", "show", &id, "-"]), "");
    assert_eq!(
        env.ok(&["__complete", "--", "-C", ".", "ready", "--parent", ""]),
        format!("{id}\n")
    );
}

#[test]
fn completions_into_a_closed_pipe_end_quietly() {
    let env = TestEnv::bare_repo();
    for shell in ["bash", "zsh", "fish"] {
        let mut child = env
            .batch_cmd(&["completions", shell])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 10];
        std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The ids of the tasks `--json args` lists.
fn ids_of(env: &TestEnv, args: &[&str]) -> Vec<String> {
    let tasks: Vec<serde_json::Value> = env.json(args);
    tasks
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_beads_users_update_claim_list_assignee_search_and_stats() {
    let env = TestEnv::new();
    let tls = env.create(&[
        "Port the TLS layer",
        "-d",
        "uses rustls now",
        "--scope",
        "tls/**",
        "-p",
        "1",
    ]);
    let docs = env.create(&["Docs", "--scope", "docs/**", "--kind", "epic"]);
    let other = env.create(&["Something else", "--scope", "x/**"]);
    // update --claim alone is claim.
    let names = [tls.as_str(), docs.as_str(), other.as_str()];
    let out = env
        .batch_cmd(&["update", &tls, "--claim", "--worker", "w1"])
        .env("GIT_BATCH_NOW", "2026-01-01T00:00:00Z")
        .output()
        .unwrap();
    let seen = render_output(
        out.status.code().unwrap(),
        &String::from_utf8_lossy(&out.stdout),
        &String::from_utf8_lossy(&out.stderr),
        env.dir.path(),
        &names,
    );
    insta::assert_snapshot!(seen, @"
    exit: 0
    --- stdout
    [0]
    --- stderr
    claimed [0] for w1 until 2026-01-01T02:00:00Z
    ");
    let claims: Vec<serde_json::Value> = env.json(&["claims"]);
    assert_eq!(claims[0]["worker"], "w1");
    // With changes: both, and JSON has the task and its claim.
    #[derive(serde::Deserialize)]
    struct TaskAndClaim {
        id: String,
        priority: u8,
        claim: serde_json::Value,
    }
    let both: TaskAndClaim = env.json(&["update", &other, "--claim", "--worker", "w2", "-p", "0"]);
    assert_eq!((both.id.as_str(), both.priority), (other.as_str(), 0));
    assert_eq!(both.claim["worker"], "w2");
    // A task another worker holds: refused, nothing changed.
    env.fails(
        &[
            "update", &tls, "--claim", "--worker", "w3", "--title", "mine",
        ],
        3,
    );
    assert!(env.ok(&["show", &tls]).contains("Port the TLS layer"));

    assert_eq!(ids_of(&env, &["list", "--assignee", "w1"]), [tls.as_str()]);
    assert_eq!(
        ids_of(&env, &["list", "--assignee", "nobody"]),
        Vec::<String>::new()
    );
    assert_eq!(ids_of(&env, &["search", "tls", "RUSTLS"]), [tls.as_str()]);
    assert_eq!(
        ids_of(&env, &["search", "rustls", "openssl"]),
        Vec::<String>::new()
    );
    env.ok(&["close", &docs]);
    assert_eq!(ids_of(&env, &["search", "docs"]), Vec::<String>::new());
    assert_eq!(ids_of(&env, &["search", "--all", "docs"]), [docs.as_str()]);

    insta::assert_snapshot!(env.snapshot(&["stats"], &names), @"
    exit: 0
    --- stdout
    total     3
    status    in_progress 2  closed 1
    priority  P0 1  P1 1  P2 1
    kind      epic 1  task 2
    --- stderr
    ");
    #[derive(serde::Deserialize)]
    struct Stats {
        total: usize,
        status: std::collections::BTreeMap<String, usize>,
        priority: std::collections::BTreeMap<String, usize>,
        kind: std::collections::BTreeMap<String, usize>,
    }
    let stats: Stats = env.json(&["stats"]);
    assert_eq!(stats.total, 3);
    assert_eq!(stats.status["in_progress"], 2);
    assert_eq!(stats.status["closed"], 1);
    assert_eq!(stats.priority["0"], 1);
    assert_eq!(stats.kind["epic"], 1);
}

#[test]
fn label_filters_take_only_the_tickets_marked_ready() {
    let env = TestEnv::new();
    let marked = env.create(&[
        "marked",
        "-l",
        "ready-for-agent",
        "--scope",
        "a/**",
        "-p",
        "3",
    ]);
    let second = env.create(&[
        "also marked",
        "-l",
        "ready-for-agent",
        "-l",
        "small",
        "--scope",
        "b/**",
        "-p",
        "3",
    ]);
    let unmarked = env.create(&["not yet", "--scope", "c/**", "-p", "0"]);
    let mut both = vec![marked.clone(), second.clone()];
    both.sort();
    let mut ready = ids_of(&env, &["ready", "--label", "ready-for-agent"]);
    ready.sort();
    assert_eq!(ready, both);
    assert_eq!(
        ids_of(
            &env,
            &["ready", "--label", "ready-for-agent", "--label", "small"]
        ),
        [second.as_str()]
    );
    // plan --ready: only the marked ones.
    #[derive(serde::Deserialize)]
    struct Planned {
        plan: PlanBody,
    }
    #[derive(serde::Deserialize)]
    struct PlanBody {
        tasks: Vec<serde_json::Value>,
    }
    let planned: Planned = env.json(&["plan", "intake", "--ready", "--label", "small"]);
    let planned: Vec<&str> = planned
        .plan
        .tasks
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(planned, [second.as_str()]);
    // claim --next and start --next pass over the unmarked P0.
    let claimed = env.ok(&[
        "claim",
        "--next",
        "--label",
        "ready-for-agent",
        "--worker",
        "w1",
    ]);
    assert_ne!(claimed.trim(), unmarked);
    let started: serde_json::Value = env.json(&[
        "start",
        "--next",
        "--label",
        "ready-for-agent",
        "--worker",
        "w2",
    ]);
    assert_ne!(started["id"], unmarked.as_str());
    // Both marked ones taken: nothing left with the label (the P0 is not it).
    env.fails(
        &[
            "claim",
            "--next",
            "--label",
            "ready-for-agent",
            "--worker",
            "w3",
        ],
        3,
    );
    // run --ready --label: the marked ones only.
    let env = TestEnv::new();
    let marked = env.create(&["marked", "-l", "ready-for-agent", "--scope", "a/**"]);
    env.create(&["not yet", "--scope", "c/**", "-p", "0"]);
    let run: serde_json::Value = env.json(&[
        "run",
        "--ready",
        "--label",
        "ready-for-agent",
        "--exec",
        "true",
    ]);
    assert_eq!(run["total"], 1, "{run}");
    let done: Vec<serde_json::Value> = env.json(&["list", "--status", "done"]);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["id"], marked.as_str());
}

/// A file of this repository's own, as text.
fn own_file(rel: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

#[test]
fn the_readmes_ls_files_example_lists_top_level_files_too() {
    let env = TestEnv::new();
    env.write("src/main.rs", "");
    env.write("src/net/tls.rs", "");
    env.git(&["add", "src"]);
    // The pathspec the README and `split --help` give, as they give it.
    let readme = own_file("README.md");
    let help = env.ok(&["split", "--help"]);
    for text in [&readme, &help] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("git ls-files"))
            .expect("an ls-files example");
        let spec = line.split('\'').nth(1).expect("a quoted pathspec");
        assert_eq!(
            env.git(&["ls-files", spec]),
            "src/main.rs\nsrc/net/tls.rs\n",
            "{line}"
        );
    }
}

#[test]
fn split_help_shows_the_n_field() {
    let env = TestEnv::bare_repo();
    let help = env.ok(&["split", "--help"]);
    assert!(
        help.contains("The title template can use {n} (chunk number)"),
        "{help}"
    );
    let man = env.ok(&["man"]);
    assert!(!man.contains('\x1b'), "no escape reaches roff");
}

#[test]
fn plan_force_replaces_an_existing_plan() {
    let env = TestEnv::new();
    let a = env.create(&["a", "--scope", "a/**"]);
    let b = env.create(&["b", "--scope", "b/**"]);
    env.ok(&["plan", "p", &a]);
    env.fails(&["plan", "p", &b], 1);
    env.ok(&["plan", "p", &b, "--force"]);
    let plan = env.read(".batch/batches/p.toml");
    assert!(plan.contains(&b) && !plan.contains(&a), "{plan}");
    let left: serde_json::Value = env.json(&["show", &a]);
    assert!(
        left.get("batch").is_none(),
        "the task left out is in no plan: {left}"
    );
    let taken: serde_json::Value = env.json(&["show", &b]);
    assert_eq!(taken["batch"], "p");
    assert_eq!(env.git(&["status", "--porcelain"]), "", "all committed");
}

#[test]
fn the_docs_link_files_that_exist_and_say_which_pid_to_kill() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let link = regex::Regex::new(r"\]\(([^)#]+\.md)").unwrap();
    for doc in [
        "README.md",
        "hooks/README.md",
        "docs/cli.md",
        "docs/design.md",
        "docs/format.md",
    ] {
        let text = own_file(doc);
        let dir = root.join(doc).parent().unwrap().to_path_buf();
        for target in link.captures_iter(&text) {
            assert!(
                dir.join(&target[1]).is_file(),
                "{doc} links {} that is missing",
                &target[1]
            );
        }
        assert!(
            !text.contains("docs/guard.md"),
            "{doc} names a missing docs/guard.md"
        );
    }
    let readme = own_file("README.md");
    assert!(readme.contains("killing the `git` process leaves `git-batch`"));
    assert!(readme.contains("git batch man --install"));
}

/// `status` as a terminal `columns` wide would have it.
fn status_at(env: &TestEnv, columns: &str) -> String {
    let out = env
        .batch_cmd(&["status"])
        .env("COLUMNS", columns)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// A word said twice in a row, as in "failed: failed:" or "landed: 7
/// landed".
fn doubled(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty() && w.parse::<u64>().is_err())
        .collect();
    words
        .windows(2)
        .find(|w| w[0] == w[1] && w[0].chars().all(char::is_alphabetic))
        .map(|w| w[0].clone())
}

#[test]
fn run_and_status_fit_80_columns_and_say_each_thing_once() {
    let env = TestEnv::new();
    let good = env.create(&["good", "--scope", "a/**", "-p", "0"]);
    let bad = env.create(&["bad", "--scope", "b/**", "-p", "1"]);
    let asks = env.create(&["asks", "--scope", "c/**", "-p", "2"]);
    let question = "which license header should the new files carry, MIT or Apache-2.0, \
                    given that the old ones differ and the README says both?";
    let exec = format!(
        "case $BATCH_TASK in {bad}) git batch fail --reason 'failed: the build broke'; exit 1;; \
         {asks}) git batch escalate --reason '{question}'; exit 0;; esac; \
         mkdir -p a && echo x > a/f && git add a && git commit -qm work"
    );
    let out = env.run(&[
        "run",
        "-j",
        "1",
        "--retries",
        "0",
        "--land",
        "--exec",
        &exec,
        &good,
        &bad,
        &asks,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let logs = env.repo.join(".git/batch/runs");
    let logs = logs.to_str().unwrap();
    // The logs' directory: once when the run starts, once at its end; the
    // progress lines name no path.
    assert_eq!(stderr.matches("logs in ").count(), 2, "{stderr}");
    for line in stderr.lines().filter(|l| l.starts_with('[')) {
        let (_, said) = line.split_once("] ").unwrap();
        assert!(!line.contains(logs) && !said.contains('/'), "{line}");
    }
    // The run's name and the landing's commit follow from the random ids.
    let name = regex::Regex::new(r"run (\S+): logs in")
        .unwrap()
        .captures(&stderr)
        .unwrap()[1]
        .to_string();
    let commit = regex::Regex::new(r"as ([0-9a-f]{10}),")
        .unwrap()
        .captures(&stderr)
        .unwrap()[1]
        .to_string();
    let names = [
        good.as_str(),
        bad.as_str(),
        asks.as_str(),
        name.as_str(),
        commit.as_str(),
    ];
    let seen = render_output(
        out.status.code().unwrap(),
        &String::from_utf8_lossy(&out.stdout),
        &stderr,
        env.dir.path(),
        &names,
    );
    insta::assert_snapshot!(seen, @"
    exit: 1
    --- stdout
    run [3]: 1 done, 1 failed, 1 escalated of 3 task(s)
    landed 1: [0]
    --- stderr
    run [3]: logs in [TMP]/repo/.git/batch/runs/[3]
    [0/3] [0] started (attempt 1)
    [1/3] [0] done (2 commit(s), 0 receipt line(s))
    [1/3] landed: 1 task(s) as [4], 0 left out
    [1/3] [1] started (attempt 1)
    [2/3] [1] failed (the build broke)
    [2/3] [2] started (attempt 1)
    [3/3] [2] escalated (which license header should the new files carry, MIT or Apache-2.0, given that the old ones differ and the README says both?)
    state [TMP]/repo/.git/batch/runs/[3].json; logs in [TMP]/repo/.git/batch/runs/[3]
    Error: run [3]: 1 failed, 1 escalated, 0 not finished
    Hint: `git batch status` shows why and where the logs are
    Hint: `--rerun-failed` tries the failed and escalated tasks again
    ");
    let review = env.ok(&["review", &format!("main..batch/{bad}")]);
    for text in [&stderr, &review] {
        assert_eq!(doubled(text), None, "{text}");
    }
    // Not a terminal: the whole question; a narrow COLUMNS cuts it.
    let status = env.ok(&["status"]);
    assert!(status.contains(question), "{status}");
    assert_eq!(doubled(&status), None, "{status}");
    let narrow = status_at(&env, "60");
    assert!(!narrow.contains(question), "{narrow}");
    let at_80 = status_at(&env, "80");
    // Every line but a log's path fits.
    assert!(
        at_80
            .lines()
            .all(|l| l.chars().count() <= 80 || l.trim_start().starts_with("log /")),
        "{at_80}"
    );
    let wide = status_at(&env, "200");
    assert!(wide.contains(question), "{wide}");
}
