//! `TestEnv`: a real git repository in a temp dir with a fixed environment,
//! and helpers to run `git` and `git-batch` in it.

use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_git-batch");

pub struct TestEnv {
    pub dir: tempfile::TempDir,
    /// The repository's working tree.
    pub repo: PathBuf,
}

/// The environment every process in a test gets: no user or system git
/// config, fixed identities and dates, UTC, C locale, no colour.
pub fn fixed_env(cmd: &mut Command, home: &Path) {
    // git-batch itself on PATH, as installed: the hooks call it.
    let bin_dir = Path::new(BIN).parent().expect("the binary has a directory");
    let mut path = std::ffi::OsString::from(bin_dir);
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    cmd.env_clear()
        .env("PATH", path)
        .env("HOME", home)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_AUTHOR_DATE", "@1767225600 +0000")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_COMMITTER_DATE", "@1767225600 +0000")
        .env("TZ", "UTC")
        .env("LC_ALL", "C")
        .env("NO_COLOR", "1");
}

impl TestEnv {
    /// A repository on `main` with one commit and `.batch/` initialised.
    pub fn new() -> TestEnv {
        let env = TestEnv::bare_repo();
        env.ok(&["init", "--prefix", "bt"]);
        env
    }

    /// A repository on `main` with one commit, without `.batch/`.
    pub fn bare_repo() -> TestEnv {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(&repo).unwrap();
        let env = TestEnv { dir, repo };
        env.git(&["init", "-q", "-b", "main"]);
        env.git(&["config", "user.name", "Tester"]);
        env.git(&["config", "user.email", "tester@example.com"]);
        env.write("README.md", "hello\n");
        env.git(&["add", "README.md"]);
        env.git(&["commit", "-q", "-m", "root"]);
        env
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A `git-batch` command in `dir`, not yet run.
    pub fn batch_cmd_in(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        fixed_env(&mut cmd, &self.home());
        cmd.current_dir(dir).args(args).stdin(Stdio::null());
        cmd
    }

    pub fn batch_cmd(&self, args: &[&str]) -> Command {
        self.batch_cmd_in(&self.repo, args)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.batch_cmd(args).output().expect("run git-batch")
    }

    /// Runs git-batch and expects exit 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_in(&self.repo, args)
    }

    pub fn ok_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = self
            .batch_cmd_in(dir, args)
            .output()
            .expect("run git-batch");
        assert!(
            out.status.success(),
            "git batch {args:?} failed ({:?}):\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs git-batch expecting exit `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "git batch {args:?}: expected exit {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).expect("utf-8 stderr")
    }

    /// Runs git-batch and renders what a user sees, for snapshots: the exit
    /// code, stdout and stderr, with this test's temp directory shown as
    /// `[TMP]` and each of `names` (ids, say) as `[0]`, `[1]`, ...
    pub fn snapshot(&self, args: &[&str], names: &[&str]) -> String {
        let out = self.run(args);
        render_output(
            out.status.code().unwrap_or(-1),
            &String::from_utf8_lossy(&out.stdout),
            &String::from_utf8_lossy(&out.stderr),
            self.dir.path(),
            names,
        )
    }

    /// Runs git-batch with `--json` and parses stdout.
    pub fn json<T: DeserializeOwned>(&self, args: &[&str]) -> T {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: bad JSON ({e}):\n{out}"))
    }

    /// Creates a task and returns its id.
    pub fn create(&self, args: &[&str]) -> String {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        self.ok(&all).trim().to_string()
    }

    /// Puts a top-level `line` into `.batch/config.toml` and commits it.
    pub fn config_top(&self, line: &str, message: &str) {
        let config = self.read(".batch/config.toml");
        // At the top: after a [table] header it would belong to that table.
        self.write(".batch/config.toml", &format!("{line}\n{config}"));
        self.git(&["commit", "-q", "-am", message]);
    }

    /// Creates a task in `dir` (another clone) and returns its id.
    pub fn create_in(&self, dir: &Path, args: &[&str]) -> String {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        self.ok_in(dir, &all).trim().to_string()
    }

    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.repo, args)
    }

    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        fixed_env(&mut cmd, &self.home());
        let out = cmd.current_dir(dir).args(args).output().expect("run git");
        assert!(
            out.status.success(),
            "git {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Clones `remote` into `<temp>/<name>` and returns the clone's path.
    pub fn clone_of(&self, remote: &Path, name: &str) -> PathBuf {
        let dir = self.dir.path().join(name);
        self.git_in(
            self.dir.path(),
            &[
                "clone",
                "-q",
                remote.to_str().unwrap(),
                dir.to_str().unwrap(),
            ],
        );
        dir
    }

    /// What a hostile agent does in its worktree `wt`: commits everything
    /// with the hooks skipped and task `id` set to done by hand.
    pub fn done_by_hand(&self, wt: &Path, id: &str) {
        let rel = wt.join(format!(".batch/tasks/{id}.toml"));
        let text = std::fs::read_to_string(&rel)
            .unwrap()
            .replace("status = \"open\"", "status = \"done\"");
        std::fs::write(&rel, text).unwrap();
        self.git_in(wt, &["add", "-A"]);
        self.git_in(wt, &["commit", "-q", "--no-verify", "-m", "done"]);
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.repo.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.repo.join(rel)).unwrap()
    }

    pub fn task_file(&self, id: &str) -> PathBuf {
        self.repo.join(".batch/tasks").join(format!("{id}.toml"))
    }

    /// The ids `ready --json` prints, in order.
    pub fn ready_ids(&self) -> Vec<String> {
        let tasks: Vec<TaskJson> = self.json(&["ready"]);
        tasks.into_iter().map(|t| t.id).collect()
    }

    /// The path of the query cache.
    pub fn cache_db(&self) -> PathBuf {
        self.repo.join(".git/batch/index.db")
    }

    /// Deletes the query cache (with its WAL), as a user may.
    pub fn remove_cache(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut db = self.cache_db().into_os_string();
            db.push(suffix);
            let _ = std::fs::remove_file(db);
        }
    }

    /// Imports a beads JSONL text (written to a temp file) and returns stdout.
    pub fn import_text(&self, jsonl: &str) -> String {
        let path = self.dir.path().join("import.jsonl");
        std::fs::write(&path, jsonl).unwrap();
        self.ok(&["import", "--beads", path.to_str().unwrap()])
    }
}

/// The task object of the JSON contract (`docs/cli.md`).
/// Unknown fields are allowed: `show` adds `blocked_by` and `children`.
#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
pub struct TaskJson {
    pub id: String,
    pub title: String,
    pub status: String,
    pub priority: u8,
    pub kind: String,
    #[serde(default)]
    pub parent: Option<String>,
    pub deps: Vec<String>,
    pub scope: Vec<String>,
    pub labels: Vec<String>,
    pub acceptance: Vec<String>,
    pub created: String,
    pub updated: String,
    pub created_by: String,
    pub body: String,
    pub notes: Vec<NoteJson>,
    #[serde(default)]
    pub estimate: Option<String>,
    #[serde(default)]
    pub batch: Option<String>,
    #[serde(default)]
    pub closed_reason: Option<String>,
    #[serde(default)]
    pub landed: Option<String>,
}

#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NoteJson {
    pub at: String,
    pub by: String,
    pub text: String,
}

/// Writes `text` to `path` and puts the old mtime back: a same-size edit
/// then looks as one made within the same clock tick would.
pub fn rewrite_keeping_mtime(path: &Path, text: &str) {
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

/// Path of a file under `tests/data`.
/// Asserts that a finished command exited 0, showing its stderr if not.
#[track_caller]
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits at most `limit` for `child` (stdout and stderr piped) and collects
/// its output: `Err` with what it wrote when it was still running then and
/// was killed, so a test of something that could hang fails instead.
pub fn output_within(
    mut child: std::process::Child,
    limit: std::time::Duration,
) -> Result<Output, Output> {
    use std::io::Read;
    // Read as it runs: a full pipe must not stop the child.
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = reader(child.stdout.take().map(|p| Box::new(p) as _));
    let err = reader(child.stderr.take().map(|p| Box::new(p) as _));
    let until = std::time::Instant::now() + limit;
    let (status, in_time) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (status, true);
        }
        if std::time::Instant::now() >= until {
            let _ = child.kill();
            break (child.wait().unwrap(), false);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let output = Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    if in_time { Ok(output) } else { Err(output) }
}

pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// A command's exit code and output as one text, temp paths and `names`
/// replaced by placeholders (see [`TestEnv::snapshot`]).
pub fn render_output(code: i32, stdout: &str, stderr: &str, tmp: &Path, names: &[&str]) -> String {
    let mut text = format!("exit: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}");
    // The canonical form too: macOS-style symlinked temp dirs.
    for dir in [
        tmp.to_path_buf(),
        tmp.canonicalize().unwrap_or(tmp.to_path_buf()),
    ] {
        text = text.replace(&dir.display().to_string(), "[TMP]");
    }
    // Longest first, so that no name is replaced inside a longer one.
    let mut order: Vec<(usize, &str)> = names.iter().copied().enumerate().collect();
    order.sort_by_key(|(_, n)| std::cmp::Reverse(n.len()));
    for (i, name) in order {
        text = text.replace(name, &format!("[{i}]"));
    }
    text
}

/// A `git daemon` on 127.0.0.1 serving (and accepting pushes to) every
/// repository under `base`, until dropped.
pub struct Daemon {
    child: std::process::Child,
    pub port: u16,
}

impl Daemon {
    pub fn serve(env: &TestEnv, base: &Path) -> Daemon {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut cmd = Command::new("git");
        fixed_env(&mut cmd, &env.home());
        let child = cmd
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
                base.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Ready when it accepts connections.
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Daemon { child, port }
    }

    /// The URL of repository `name` under the base.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
