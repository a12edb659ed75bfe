#!/usr/bin/env python3
"""The overhead of `git batch run` itself: 100 trivial tasks (`--exec true`)
on a repository of 1000 files, at -j 1 and -j 8.

For each -j it copies one prepared repository (1000 files, `.batch/` with
its hooks, 100 tasks made by `split --scope-from-items --plan bench`),
times the whole `git batch run --plan bench --exec true -j N`, and reads
the run's state file, where each task records the milliseconds of its
last attempt: `start` (claim, `git worktree add`, context file, state
saved), `worker` (spawn to exit of `sh -c true`) and `finish` (`done`:
scope check, `git add`, `git commit` with the hooks; state saved). A bare
`git worktree add` of the same tree is timed too, to show how much of
`start` is git's checkout. Results print as Markdown for
docs/benchmarks.md.

    cargo build --release
    python3 bench/run_overhead.py --runs 3

Options: --bin PATH (default target/release/git-batch), --tasks N (100),
--files N (1000), --jobs LIST (1,8), --runs N (3), --work DIR (kept).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def fixed_env(home, bin_dir):
    return {
        "PATH": bin_dir + ":" + os.environ.get("PATH", ""),
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


def run(argv, cwd, env, stdin=None):
    out = subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return out.stdout


def prepare(path, files, tasks, env, binary):
    os.makedirs(path)
    run(["git", "init", "-q", "-b", "main"], path, env)
    for i in range(files):
        d = os.path.join(path, "src", f"d{i // 100:02}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:04}.txt"), "w") as f:
            f.write(f"file {i}\n" * 20)
    run(["git", "add", "-A"], path, env)
    run(["git", "commit", "-q", "-m", "files"], path, env)
    run([binary, "init", "--prefix", "bn"], path, env)
    items = run(["git", "ls-files", "src"], path, env).splitlines()[:tasks]
    run(
        [binary, "split", "--scope-from-items", "--title", "Touch {first}", "--plan", "bench"],
        path,
        env,
        stdin="\n".join(items) + "\n",
    )


def median_ms(values):
    return statistics.median(values) if values else 0.0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.path.join(HERE, "..", "target", "release", "git-batch"))
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--jobs", default="1,8")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", default=None)
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    work = args.work or tempfile.mkdtemp(prefix="git-batch-run-bench-")
    home = os.path.join(work, "home")
    os.makedirs(home, exist_ok=True)
    env = fixed_env(home, os.path.dirname(binary))
    template = os.path.join(work, "template")
    prepare(template, args.files, args.tasks, env, binary)

    def plain_add(repo, i):
        """A bare `git worktree add` of the same tree, in the same state."""
        wt = os.path.join(work, f"plain-wt-{i}")
        start = time.perf_counter()
        run(["git", "worktree", "add", "-q", "-b", f"plain-{i}", wt, "main"], repo, env)
        took = (time.perf_counter() - start) * 1000
        run(["git", "worktree", "remove", "--force", wt], repo, env)
        run(["git", "branch", "-q", "-D", f"plain-{i}"], repo, env)
        return took

    adds = []
    rows = []
    for jobs in [int(j) for j in args.jobs.split(",")]:
        walls, starts, workers, finishes = [], [], [], []
        for r in range(args.runs):
            repo = os.path.join(work, f"repo-j{jobs}-{r}", "repo")
            shutil.copytree(template, repo, symlinks=True)
            start = time.perf_counter()
            run([binary, "-q", "run", "--plan", "bench", "--exec", "true", "-j", str(jobs)], repo, env)
            walls.append(time.perf_counter() - start)
            with open(os.path.join(repo, ".git", "batch", "runs", "bench.json")) as f:
                state = json.load(f)
            done = [t for t in state["tasks"].values() if t["state"] == "done"]
            if len(done) != args.tasks:
                raise SystemExit(f"only {len(done)} of {args.tasks} tasks done in {repo}")
            adds += [plain_add(repo, f"{jobs}-{r}-{k}") for k in range(3)]
            starts += [t["timing"]["start_ms"] for t in done]
            workers += [t["timing"]["worker_ms"] for t in done]
            finishes += [t["timing"]["finish_ms"] for t in done]
            if not args.work:
                shutil.rmtree(os.path.dirname(repo))
                shutil.rmtree(os.path.join(os.path.dirname(repo), "repo.worktrees"), ignore_errors=True)
        wall = statistics.median(walls)
        rows.append((jobs, wall, median_ms(starts), median_ms(workers), median_ms(finishes)))

    print(f"{args.tasks} tasks (`--exec true`), {args.files}-file repository, median of {args.runs} runs; "
          f"a bare `git worktree add` of the same tree in the same repositories right after each run: "
          f"{statistics.median(adds):.1f} ms\n")
    print("| -j | whole run | per task (wall / tasks) | start (claim + worktree) | worker (`true`, spawn to exit seen) | finish (`done` + commit) | loop and bookkeeping |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for jobs, wall, s, w, f in rows:
        per_task = wall * 1000 / args.tasks
        # Start and finish run in the pool's one thread, one task after the
        # other; only the workers overlap. At -j 1 the worker's time adds to
        # the wall time; at -j N it overlaps the thread's work (and `worker`
        # then also counts the wait until the busy thread sees the exit).
        rest = per_task - s - f - (w if jobs == 1 else 0)
        print(f"| {jobs} | {wall:.2f} s | {per_task:.1f} ms | {s:.1f} ms | {w:.1f} ms | {f:.1f} ms | {rest:.1f} ms |")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
