//! The run's progress display: a live bar when stderr is a terminal (here a
//! real pseudo-terminal), one plain line per event otherwise.

use crate::run::{project, run_cmd, split_plan};
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;

/// A pseudo-terminal of 80 columns: (the side the test reads, the side
/// the child writes to).
fn pty() -> (std::fs::File, OwnedFd) {
    let (mut reader, mut writer) = (0, 0);
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors into the ints we pass and
    // reads the winsize; null name and termios are allowed.
    let rc = unsafe {
        libc::openpty(
            &mut reader,
            &mut writer,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are fresh and owned by nobody else.
    unsafe {
        (
            std::fs::File::from_raw_fd(reader),
            OwnedFd::from_raw_fd(writer),
        )
    }
}

/// Everything written to the terminal until its last writer closes it.
fn read_all(mut reader: std::fs::File) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // Linux answers EIO once no process holds the other side.
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("reading the terminal: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `run` as a person types it (no `--json`, which never draws), with the
/// test worker of [`run_cmd`] and its environment.
fn human_run(env: &crate::common::TestEnv, plan: &str, delay: &str) -> std::process::Command {
    let state = env.dir.path().join("state");
    let with_json = run_cmd(env, &env.repo, &state, delay, &["--plan", plan, "-j", "2"]);
    let argv: Vec<String> = with_json
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| a != "--json")
        .collect();
    let mut cmd = env.batch_cmd(&argv.iter().map(String::as_str).collect::<Vec<_>>());
    for (k, v) in with_json.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.env("WORKER_PLAIN", "1");
    cmd
}

#[test]
fn a_terminal_gets_a_live_bar() {
    let (env, _bare) = project(3);
    let ids = split_plan(&env, &env.repo, "pp", &[]);
    let (reader, writer) = pty();
    let mut cmd = human_run(&env, "pp", "0.3");
    cmd.env("TERM", "xterm")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(writer));
    let child = cmd.spawn().unwrap();
    // Only the child may hold the terminal, or reading never ends.
    drop(cmd);
    let screen = std::thread::spawn(move || read_all(reader));
    let out = child.wait_with_output().unwrap();
    let screen = screen.join().unwrap();
    assert!(out.status.success(), "{screen}");
    // The bar: its counts and the running message, redrawn in place
    // (carriage returns and erase-line sequences), then cleared.
    assert!(screen.contains("/3 "), "{screen:?}");
    assert!(screen.contains("running"), "{screen:?}");
    assert!(
        screen.contains('\r') && screen.contains("\x1b["),
        "{screen:?}"
    );
    // The events still show, above the bar.
    for id in &ids {
        assert!(screen.contains(&format!("{id} done")), "{id}: {screen:?}");
    }
}

#[test]
fn a_pipe_gets_one_plain_line_per_event() {
    let (env, _bare) = project(3);
    split_plan(&env, &env.repo, "qq", &[]);
    let out = human_run(&env, "qq", "0").output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
    let events: Vec<&str> = stderr.lines().filter(|l| l.starts_with('[')).collect();
    // Three starts and three ends.
    assert_eq!(events.len(), 6, "{stderr}");
    assert!(events.iter().any(|l| l.starts_with("[3/3] ")), "{stderr}");
}
