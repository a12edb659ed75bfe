#!/usr/bin/env python3
"""How long finding a task's worktree takes, with many worktrees.

`start`, `receipt`, `done`, `fail`, `escalate` and the run's resume look up
the worktree that has `batch/<id>` checked out. The repository here has
`--worktrees` (100) task worktrees; the script times, as whole processes
(median of `--runs`):

- `git batch receipt TEXT` in a task's own worktree (no search),
- `git batch receipt ID TEXT` from the main working tree, for a task with a
  worktree and for one without (every worktree looked at: what `start` of a
  new task does),
- `git worktree list --porcelain`, what the lookup used to run.

    cargo build --release
    python3 bench/find_worktree.py

Options: --bin PATH (default target/release/git-batch), --worktrees N,
--runs N (40).
"""

import argparse
import os
import statistics
import subprocess
import tempfile
import time

from run_overhead import fixed_env, run


def timed(argv, cwd, env, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(argv, cwd, env)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(here, "..", "target", "release", "git-batch"))
    ap.add_argument("--worktrees", type=int, default=100)
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    with tempfile.TemporaryDirectory() as tmp:
        env = fixed_env(os.path.join(tmp, "home"), os.path.dirname(binary))
        repo = os.path.join(tmp, "repo")
        os.makedirs(repo)
        run(["git", "init", "-q", "-b", "main"], repo, env)
        with open(os.path.join(repo, "README"), "w") as f:
            f.write("bench\n")
        run(["git", "add", "-A"], repo, env)
        run(["git", "commit", "-q", "-m", "root"], repo, env)
        run([binary, "init", "--prefix", "fw"], repo, env)
        ids = [
            run([binary, "create", f"task {i}"], repo, env).strip()
            for i in range(args.worktrees + 1)
        ]
        for i in ids[:-1]:
            run(["git", "worktree", "add", "-q", "-b", f"batch/{i}", os.path.join(tmp, i)], repo, env)
        own = os.path.join(tmp, ids[0])
        rows = [
            ("`receipt` in its own worktree", timed([binary, "receipt", "x"], own, env, args.runs)),
            (
                "`receipt ID` from the main tree, a task with one",
                timed([binary, "receipt", ids[-2], "x"], repo, env, args.runs),
            ),
            (
                "`receipt ID` from the main tree, a task without one",
                timed([binary, "receipt", ids[-1], "x"], repo, env, args.runs),
            ),
            (
                "`git worktree list --porcelain`",
                timed(["git", "worktree", "list", "--porcelain"], repo, env, args.runs),
            ),
        ]
    print(f"| {args.worktrees} worktrees | median |")
    print("|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.2f} ms |")


if __name__ == "__main__":
    main()
