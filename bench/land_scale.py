#!/usr/bin/env python3
"""How `git batch land` scales with the number of finished branches.

For each size N (`--sizes`, 100,200,400 by default) it prepares one
repository: N files, N tasks (`split --scope-from-items`, one file each),
and `git batch run --plan bench` with a worker that appends a line to its
task's file, so every task is `done` on its own `batch/<id>` branch with its
worktree still there, as a run without `--land` leaves them. The prepared
repository (main working tree and worktrees) is archived once; each timed
run unpacks it at the same path (worktrees name their repository by
absolute path; with `--work DIR` the archives are kept there and a later
call with the same DIR reuses them, so two builds land the same
repositories) and times the whole `git batch land --no-push` process, a
local landing on the checked-out `main`, no test command. Every run must
land all N tasks and leave no worktree or `batch/*` branch behind. The
median of `--runs` runs per size prints as Markdown for docs/benchmarks.md.

    cargo build --release
    python3 bench/land_scale.py --runs 3

Options: --bin PATH (default target/release/git-batch), --sizes LIST,
--runs N (3), --jobs J (the preparing run's -j, 2), --work DIR (kept).
"""

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time

from run_overhead import fixed_env, run, settle

HERE = os.path.dirname(os.path.abspath(__file__))

# Appends to the first path of the context file's scope list: the task's file.
WORKER = r"""#!/bin/sh
f=$(sed -n 's/^- `\(src\/[^`]*\)`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
echo "landed by the bench" >> "$f"
"""


def plan_of_files(site, size, env, binary, prefix):
    """site/repo: `size` files `src/fNNNN.txt` and a task for each, the
    plan `bench` (`split --scope-from-items`). Returns the repository."""
    repo = os.path.join(site, "repo")
    os.makedirs(repo)
    run(["git", "init", "-q", "-b", "main"], repo, env)
    os.makedirs(os.path.join(repo, "src"))
    for i in range(size):
        with open(os.path.join(repo, "src", f"f{i:04}.txt"), "w") as f:
            f.write(f"file {i}\n")
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-q", "-m", "files"], repo, env)
    run([binary, "init", "--prefix", prefix], repo, env)
    items = run(["git", "ls-files", "src"], repo, env).splitlines()
    run(
        [binary, "split", "--scope-from-items", "--title", "Touch {first}", "--plan", "bench"],
        repo,
        env,
        stdin="\n".join(items) + "\n",
    )
    return repo


def prepare(site, size, env, binary, jobs):
    """The repository at site/repo with `size` tasks done on their branches."""
    repo = plan_of_files(site, size, env, binary, "ls")
    worker = os.path.join(site, "worker.sh")
    with open(worker, "w") as f:
        f.write(WORKER)
    run([binary, "-q", "run", "--plan", "bench", "--exec", f"sh {worker}", "-j", str(jobs)], repo, env)
    branches = run(["git", "for-each-ref", "--format=%(refname)", "refs/heads/batch/"], repo, env).split()
    if len(branches) != size:
        raise SystemExit(f"{len(branches)} worker branches, not {size}, in {repo}")
    return repo


def land_once(site, archive, size, env, binary):
    shutil.rmtree(site, ignore_errors=True)
    # tar(1): Python's tarfile takes minutes for 400 worktrees' files.
    run(["tar", "-xf", archive], os.path.dirname(site), env)
    repo = os.path.join(site, "repo")
    settle()
    start = time.perf_counter()
    out = run([binary, "--json", "land", "--no-push"], repo, env)
    took = time.perf_counter() - start
    report = json.loads(out)
    if len(report["landed"]) != size or report["left_out"]:
        raise SystemExit(f"landed {len(report['landed'])} of {size}, left out {report['left_out']}")
    left = run(["git", "for-each-ref", "--format=%(refname)", "refs/heads/batch/"], repo, env).split()
    worktrees = run(["git", "worktree", "list", "--porcelain"], repo, env).count("worktree ")
    if left or worktrees != 1:
        raise SystemExit(f"after the landing: {len(left)} worker branches, {worktrees} worktrees")
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.path.join(HERE, "..", "target", "release", "git-batch"))
    parser.add_argument("--sizes", default="100,200,400")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--work", default=None)
    args = parser.parse_args()
    binary = os.path.abspath(args.bin)
    work = args.work or tempfile.mkdtemp(prefix="git-batch-land-bench-")
    os.makedirs(os.path.join(work, "home"), exist_ok=True)
    env = fixed_env(os.path.join(work, "home"), os.path.dirname(binary))
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        site = os.path.join(work, f"land-{size}")
        archive = os.path.join(work, f"land-{size}.tar")
        if os.path.exists(archive):
            prepared = "reused"
        else:
            begun = time.perf_counter()
            prepare(site, size, env, binary, args.jobs)
            prepared = f"{time.perf_counter() - begun:.0f} s"
            run(["tar", "-cf", archive, os.path.basename(site)], work, env)
        times = [land_once(site, archive, size, env, binary) for _ in range(args.runs)]
        rows.append((size, times, prepared))
        if not args.work:
            shutil.rmtree(site, ignore_errors=True)
            os.remove(archive)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    print(f"`git batch land --no-push`, whole process, median of {args.runs} run(s) per size\n")
    print("| finished branches (worktrees) | `land --no-push` | per branch | all runs | preparing run |")
    print("|---:|---:|---:|---|---:|")
    for size, times, prepared in rows:
        med = statistics.median(times)
        all_runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"| {size} | {med:.2f} s | {med * 1000 / size:.1f} ms | {all_runs} s | {prepared} |")


if __name__ == "__main__":
    main()
