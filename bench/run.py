#!/usr/bin/env python3
"""Whole-process benchmarks of git-batch (and br, when it is on PATH).

For each size it generates one beads file (bench/gen_beads.py), imports it
into a fresh repository, then measures each operation as a separate process:
the median wall time of several runs and the peak resident memory (from
wait4). Results print as a Markdown table, ready for docs/benchmarks.md.

    cargo build --release
    python3 bench/run.py --sizes 1000,10000,100000 --runs 7

Options: --bin PATH (default target/release/git-batch), --br PATH (default:
`br` on PATH, `none` to skip), --work DIR (kept for inspection, default a
temp dir that is removed), --import-runs N (default 3; at 100k each import
is a fresh repository of 100k files).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def fixed_env(home):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": home,
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
        "TZ": "UTC",
        "LC_ALL": "C",
        "NO_COLOR": "1",
    }
    return env


def timed(argv, cwd, env, stdin=None):
    """Runs argv once; returns (seconds, peak RSS in MiB). Fails loudly."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    err = proc.stderr.read()
    _, status, rusage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(argv)} failed ({proc.returncode}):\n{err.decode()}")
    return elapsed, rusage.ru_maxrss / 1024


def measure(argv_for_run, runs, cwd, env, before=None, warmup=True):
    """Median seconds and max peak MiB over `runs` runs of argv_for_run(i)."""
    if warmup:
        if before:
            before()
        timed(argv_for_run(-1), cwd, env)
    times, peaks = [], []
    for i in range(runs):
        if before:
            before()
        t, m = timed(argv_for_run(i), cwd, env)
        times.append(t)
        peaks.append(m)
    return statistics.median(times), max(peaks)


def write_tracker(work, size):
    """Generates a tracker of `size` issues (bench/gen_beads.py) under `work`; returns its path."""
    jsonl = os.path.join(work, f"{size}.jsonl")
    with open(jsonl, "w") as f:
        subprocess.run([sys.executable, os.path.join(HERE, "gen_beads.py"), str(size)], stdout=f, check=True)
    return jsonl


def git(args, cwd, env):
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)


def fresh_repo(path, env):
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    git(["init", "-q", "-b", "main"], path, env)
    with open(os.path.join(path, "README"), "w") as f:
        f.write("bench\n")
    git(["add", "README"], path, env)
    git(["commit", "-q", "-m", "initial"], path, env)


def bench_git_batch(size, jsonl, args, work, env):
    exe = os.path.abspath(args.bin)
    repo = os.path.join(work, f"gb-{size}")
    rows = {}

    def import_run(_i):
        return [exe, "-C", repo, "import", "--beads", jsonl, "--json"]

    def reset():
        fresh_repo(repo, env)
        subprocess.run([exe, "-C", repo, "init", "--prefix", "bt", "-q"], env=env, check=True)

    rows["import --beads"] = measure(import_run, args.import_runs, repo, env, before=reset, warmup=False)
    # The last import is the repository every other operation runs on.
    # Files younger than 3 s cannot be trusted by their stat data alone (the
    # racy-file rule re-reads them); measure the steady state after that.
    time.sleep(3.5)
    rows["ready --json"] = measure(lambda i: [exe, "ready", "--json"], args.runs, repo, env)
    rows["ready --json --limit 10"] = measure(
        lambda i: [exe, "ready", "--json", "--limit", "10"], args.runs, repo, env
    )
    rows["list --json"] = measure(lambda i: [exe, "list", "--json"], args.runs, repo, env)
    first_id = open(jsonl).readline().split('"id":"', 1)[1].split('"', 1)[0]
    rows["show ID --json"] = measure(lambda i: [exe, "show", first_id, "--json"], args.runs, repo, env)
    rows["create (with its commit)"] = measure(
        lambda i: [exe, "create", f"Bench task {i}", "-p", "2", "-q"], args.runs, repo, env
    )
    db = os.path.join(repo, ".git", "batch", "index.db")

    def drop_cache():
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)

    rows["cold ready --json (cache deleted)"] = measure(
        lambda i: [exe, "ready", "--json"], args.runs, repo, env, before=drop_cache, warmup=False
    )
    # Claims: a claim and its release are each one compare-and-swap of
    # refs/batch/claims; only the claim is timed. Imported tasks have no
    # scope, so one claim at a time is live.
    ready_out = subprocess.run([exe, "ready", "--json", "--limit", "1"], cwd=repo, env=env,
                               check=True, capture_output=True, text=True).stdout
    target = ready_out.split('"id":', 1)[1].split('"', 2)[1]

    def release():
        subprocess.run([exe, "release", target, "--worker", "bench", "-q"], cwd=repo, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    rows["claim ID"] = measure(
        lambda i: [exe, "claim", target, "--worker", "bench"], args.runs, repo, env, before=release
    )
    rows["claim --next"] = measure(
        lambda i: [exe, "claim", "--next", "--worker", "bench"], args.runs, repo, env,
        before=lambda: subprocess.run(
            f"{exe} --json claims | grep -o '\"task\": \"[^\"]*' | cut -d'\"' -f4 | "
            f"xargs -r -n1 {exe} release --force --worker bench -q",
            shell=True, cwd=repo, env=env, check=True),
    )
    release()
    # A ready right after a create: the incremental re-sync of one file.
    times, peaks = [], []
    for i in range(args.runs):
        timed([exe, "create", f"Churn {i}", "-q"], repo, env)
        t, m = timed([exe, "ready", "--json"], repo, env)
        times.append(t)
        peaks.append(m)
    rows["ready --json after a create"] = (statistics.median(times), max(peaks))
    return rows


def bench_start(args, work, env, files=1000):
    """`start` (claim + worktree) in a repository of `files` files, next to
    a bare `git worktree add` of the same tree: the checkout dominates."""
    exe = os.path.abspath(args.bin)
    repo = os.path.join(work, f"start-{files}")
    fresh_repo(repo, env)
    for i in range(files):
        d = os.path.join(repo, "src", f"m{i % 20:02}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:04}.rs"), "w") as f:
            f.write(f"// file {i}\n" + "fn x() {}\n" * 40)
    git(["add", "-A"], repo, env)
    git(["commit", "-q", "-m", "files"], repo, env)
    subprocess.run([exe, "init", "-q"], cwd=repo, env=env, check=True)
    task = subprocess.run([exe, "create", "port m00", "--scope", "src/m00/**"], cwd=repo, env=env,
                          check=True, capture_output=True, text=True).stdout.strip()

    def abandon():
        subprocess.run([exe, "abandon", task, "--force", "-q"], cwd=repo, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    rows = {}
    rows[f"start ID ({files}-file repo)"] = measure(
        lambda i: [exe, "start", task, "--worker", "bench"], args.runs, repo, env, before=abandon
    )
    abandon()
    plain = os.path.join(work, "plain-wt")

    def remove_plain():
        subprocess.run(["git", "worktree", "remove", "--force", plain], cwd=repo, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["git", "branch", "-D", "-q", "plain"], cwd=repo, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    rows[f"git worktree add alone ({files}-file repo)"] = measure(
        lambda i: ["git", "worktree", "add", "-q", "-b", "plain", plain, "main"], args.runs, repo, env,
        before=remove_plain,
    )
    remove_plain()
    return rows


def bench_pre_commit(args, work, env, files=10000, staged=1000):
    """The whole pre-commit hook (the installed shim, as git runs it) in a
    worker worktree of a `files`-file repository with `staged` files staged."""
    exe = os.path.abspath(args.bin)
    repo = os.path.join(work, f"hook-{files}")
    fresh_repo(repo, env)
    for i in range(files):
        d = os.path.join(repo, "src", f"m{i % 100:02}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:05}.rs"), "w") as f:
            f.write(f"// file {i}\n")
    git(["add", "-A"], repo, env)
    git(["commit", "-q", "-m", "files"], repo, env)
    hook_env = dict(env)
    hook_env["PATH"] = os.path.dirname(exe) + ":" + env["PATH"]
    subprocess.run([exe, "init", "-q"], cwd=repo, env=hook_env, check=True)
    task = subprocess.run([exe, "create", "port src", "--scope", "src/**"], cwd=repo, env=hook_env,
                          check=True, capture_output=True, text=True).stdout.strip()
    wt = subprocess.run([exe, "start", task, "--worker", "bench"], cwd=repo, env=hook_env,
                        check=True, capture_output=True, text=True).stdout.strip()
    for i in range(staged):
        with open(os.path.join(wt, "src", f"m{i % 100:02}", f"f{i:05}.rs"), "a") as f:
            f.write("// changed\n")
    git(["add", "-A"], wt, hook_env)
    hook = os.path.join(repo, ".git", "hooks", "pre-commit")
    return {
        f"pre-commit hook, {staged} staged of {files} files": measure(
            lambda i: ["sh", hook], args.runs, wt, hook_env
        )
    }


def bench_land(args, work, env, branches, runs=3):
    """`land` of `branches` finished workers (one file each, no test command)
    into a local bare remote: the whole command, median of `runs` landings,
    each on a fresh setup (the setup is not timed)."""
    exe = os.path.abspath(args.bin)
    hook_env = dict(env)
    hook_env["PATH"] = os.path.dirname(exe) + ":" + env["PATH"]
    times, peaks = [], []
    for run in range(runs):
        repo = os.path.join(work, f"land-{branches}")
        bare = repo + ".git"
        for d in (repo, bare, repo + ".worktrees"):
            shutil.rmtree(d, ignore_errors=True)
        fresh_repo(repo, hook_env)
        git(["init", "-q", "--bare", "-b", "main", bare], work, hook_env)
        git(["remote", "add", "origin", bare], repo, hook_env)
        subprocess.run([exe, "init", "-q"], cwd=repo, env=hook_env, check=True)
        ids = []
        for i in range(branches):
            ids.append(subprocess.run([exe, "create", f"part {i}", "--scope", f"p{i:03}/**", "-q"],
                                      cwd=repo, env=hook_env, check=True, capture_output=True,
                                      text=True).stdout.strip())
        git(["push", "-q", "origin", "main"], repo, hook_env)
        for i, task in enumerate(ids):
            wt = subprocess.run([exe, "start", task, "--worker", "bench"], cwd=repo, env=hook_env,
                                check=True, capture_output=True, text=True).stdout.strip()
            os.makedirs(os.path.join(wt, f"p{i:03}"), exist_ok=True)
            with open(os.path.join(wt, f"p{i:03}", "work.txt"), "w") as f:
                f.write("done\n")
            subprocess.run([exe, "done", "-q"], cwd=wt, env=hook_env, check=True)
        t, m = timed([exe, "land", "--remote", "origin", "-q"], repo, hook_env)
        times.append(t)
        peaks.append(m)
    return statistics.median(times), max(peaks)


def bench_br(size, jsonl, args, work, env):
    """The same operations with br on a fresh workspace of the same file."""
    br = args.br
    repo = os.path.join(work, f"br-{size}")
    rows = {}

    def reset():
        fresh_repo(repo, env)
        subprocess.run([br, "init"], cwd=repo, env=env, check=True, stdout=subprocess.DEVNULL)
        shutil.copy(jsonl, os.path.join(repo, ".beads", "issues.jsonl"))

    rows["import --beads"] = measure(
        lambda i: [br, "sync", "--import-only"], args.import_runs, repo, env, before=reset, warmup=False
    )
    rows["ready --json"] = measure(lambda i: [br, "ready", "--json", "--limit", "0"], args.runs, repo, env)
    rows["ready --json --limit 10"] = measure(
        lambda i: [br, "ready", "--json", "--limit", "10"], args.runs, repo, env
    )
    rows["list --json"] = measure(lambda i: [br, "list", "--json", "--limit", "0"], args.runs, repo, env)
    first_id = open(jsonl).readline().split('"id":"', 1)[1].split('"', 1)[0]
    rows["show ID --json"] = measure(lambda i: [br, "show", first_id, "--json"], args.runs, repo, env)
    rows["create (with its commit)"] = measure(
        lambda i: [br, "create", f"Bench task {i}", "-p", "2"], args.runs, repo, env
    )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--import-runs", type=int, default=3)
    parser.add_argument("--bin", default=os.path.join(HERE, "..", "target", "release", "git-batch"))
    parser.add_argument("--br", default=shutil.which("br") or "none")
    parser.add_argument("--work", default=None)
    parser.add_argument("--no-start", action="store_true", help="skip the start benchmark")
    args = parser.parse_args()
    if not os.path.exists(args.bin):
        sys.exit(f"bench: {args.bin} not found; run `cargo build --release` first")

    work = args.work or tempfile.mkdtemp(prefix="git-batch-bench-")
    os.makedirs(work, exist_ok=True)
    home = os.path.join(work, "home")
    os.makedirs(home, exist_ok=True)
    env = fixed_env(home)
    try:
        print(f"git-batch: {args.bin}; br: {args.br}; runs: {args.runs} (import: {args.import_runs})")
        print(f"machine: {os.cpu_count()} cpus, {os.uname().sysname} {os.uname().release}\n")
        print("| tasks | operation | git-batch median | git-batch peak RSS | br median | br peak RSS |")
        print("|---:|---|---:|---:|---:|---:|")
        for size in [int(s) for s in args.sizes.split(",")]:
            jsonl = write_tracker(work, size)
            ours = bench_git_batch(size, jsonl, args, work, env)
            theirs = bench_br(size, jsonl, args, work, env) if args.br != "none" else {}
            for op, (t, m) in ours.items():
                other = theirs.get(op)
                br_cols = f"{fmt_time(other[0])} | {other[1]:.0f} MiB" if other else "- | -"
                print(f"| {size} | `{op}` | {fmt_time(t)} | {m:.0f} MiB | {br_cols} |", flush=True)
        if not args.no_start:
            extra = bench_start(args, work, env)
            extra.update(bench_pre_commit(args, work, env))
            for n in (5, 20, 50):
                extra[f"land {n} worker branches, no test, local bare remote"] = bench_land(
                    args, work, env, n)
            for op, (t, m) in extra.items():
                print(f"| - | `{op}` | {fmt_time(t)} | {m:.0f} MiB | - | - |", flush=True)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def fmt_time(seconds):
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    main()
