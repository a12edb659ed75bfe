//! The README's five-minute quick start, run as written (its `sh` blocks,
//! in order, in one bash) on a repository that has a remote. What a reader
//! supplies is supplied here, and said so: the agent (`my-agent`), a test
//! suite (`cargo test` and `make` stand-ins, so no toolchain runs), `jq`
//! when the machine has none, an escalated task for the block that answers
//! one, and `status --watch` taken once (it follows a run; the run here is
//! over by then).

use crate::common::{TestEnv, fixed_env};
use std::path::Path;

/// The `sh` blocks of the README's quick start section.
fn quick_start_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let section = readme
        .split("## Five-minute quick start")
        .nth(1)
        .expect("the README has a quick start")
        .split("\n## ")
        .next()
        .unwrap()
        .to_string();
    let mut blocks = Vec::new();
    let mut rest = section.as_str();
    while let Some(start) = rest.find("```sh\n") {
        let body = &rest[start + 6..];
        let end = body.find("```").expect("a closed block");
        blocks.push(body[..end].to_string());
        rest = &body[end + 3..];
    }
    blocks
}

fn stub(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{text}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_readme_quick_start_runs_as_written_with_a_remote() {
    let env = TestEnv::bare_repo();
    let bare = env.dir.path().join("origin.git");
    env.git(&["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    for (f, text) in [
        ("Cargo.toml", "[package]\nname = \"app\"\n"),
        ("src/main.rs", "fn main() {}\n"),
        ("src/net/tls.rs", "// log::info!\n"),
        ("src/db/pool.rs", "// log::warn!\n"),
    ] {
        env.write(f, text);
    }
    env.git(&["add", "-A"]);
    env.git(&["commit", "-qm", "a small project"]);
    env.git(&["push", "-q", "-u", "origin", "main"]);

    let tools = env.dir.path().join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    // The agent: appends a line to each file of its scope it finds.
    stub(
        &tools,
        "my-agent",
        r#"sed -n 's/^- `\(.*\)`$/\1/p' "$BATCH_CONTEXT" | while read -r f; do
  [ -f "$f" ] && echo "// ported" >> "$f"
done
git batch receipt "ported what the scope names""#,
    );
    stub(&tools, "cargo", "exit 0");
    stub(&tools, "make", "exit 0");

    let blocks = quick_start_blocks();
    assert!(blocks.len() >= 4, "{blocks:?}");
    let mut script = String::from(
        "set -euo pipefail\n\
         command -v jq >/dev/null || jq() { cat >/dev/null; }\n\
         repo=$PWD\n",
    );
    for (i, block) in blocks.iter().enumerate() {
        let mut block = block.replace("cd your-repo\n", "");
        block = block.replace("git batch status --watch", "git batch status");
        if block.contains("git batch list --status escalated") {
            // The block that answers a question needs one to answer.
            script.push_str(
                "cd \"$repo\"\n\
                 id=$(git batch create 'Pick a header' --scope 'hdr/**')\n\
                 wt2=$(git batch start \"$id\" --worker agent-2)\n\
                 (cd \"$wt2\" && git batch escalate --reason 'which license header?')\n",
            );
        } else if i > 0 {
            script.push_str("cd \"$repo\"\n");
        }
        script.push_str(&format!("echo '--- block {i}'\n{block}\n"));
    }
    let mut cmd = std::process::Command::new("bash");
    fixed_env(&mut cmd, &env.home());
    let path = format!(
        "{}:{}",
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let bin = Path::new(crate::common::BIN).parent().unwrap();
    let out = cmd
        .env("PATH", format!("{}:{path}", bin.display()))
        .current_dir(&env.repo)
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the quick start failed:\n{log}");
    for i in 0..blocks.len() {
        assert!(
            log.contains(&format!("--- block {i}")),
            "block {i} did not run:\n{log}"
        );
    }
    // The worker of the second block finished its task; the escalated
    // task was answered and queued again.
    assert!(log.contains("queued again"), "{log}");
    // The batch of the run block landed and was pushed.
    env.git(&["fetch", "-q", "origin"]);
    let landed = env.git(&["log", "--format=%s", "origin/main"]);
    assert!(landed.contains("batch: land"), "{landed}");
    let tls = env.git(&["show", "origin/main:src/net/tls.rs"]);
    assert!(tls.contains("// ported"), "{tls}\n{log}");
}
