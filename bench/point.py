#!/usr/bin/env python3
"""The rows of issue 19: commands about one task, and the first queries after
a checkout or a pull, on trackers of N tasks; side by side with br where it
has the operation (br on PATH, or --br).

Each operation is a separate process, timed whole (median of --runs, peak
RSS the largest). The repository is an import of bench/gen_beads.py N, left
to settle (the cache trusts the directory once a scan began 100 ms after it
last changed). Rows:

  show / claim ID / update --title / close / create / dep add, each with its
  commit where it makes one (claim: a release between runs; close: a reopen;
  dep add: a dep rm), and br's show / update --claim / update --title /
  close / create / dep add on the same tracker;
  ready --json, steady;
  ready --json at once after an import (the three calls that follow it);
  first ready --json after a checkout that changes every task file (10k) or
  after a fast-forward pull of 1000 changed tasks (100k).

Usage: cargo build --release && python3 bench/point.py --sizes 10000,100000
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
sys.path.insert(0, HERE)
import run as base  # noqa: E402  (the timing helpers of bench/run.py)


def quiet(argv, cwd, env, check=True):
    return subprocess.run(argv, cwd=cwd, env=env, check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True).stdout


def ready_ids(exe, repo, env, count):
    """The first `count` ready tasks, the same in both trackers."""
    import json
    listed = json.loads(quiet([exe, "ready", "--json", "--limit", str(count)], repo, env))
    return [t["id"] for t in listed]


def rewrite_tasks(repo, names, marker):
    """Changes each named task file's title in place, as a commit would."""
    tasks = os.path.join(repo, ".batch", "tasks")
    for name in names:
        path = os.path.join(tasks, name)
        with open(path) as f:
            text = f.read()
        text = text.replace('title = "', f'title = "{marker} ', 1)
        with open(path, "w") as f:
            f.write(text)


def bench_git_batch(size, jsonl, args, work, env):
    exe = os.path.abspath(args.bin)
    repo = os.path.join(work, f"gb-{size}")
    base.fresh_repo(repo, env)
    quiet([exe, "init", "--prefix", "bt", "-q"], repo, env)
    rows = {}
    # At once after an import: each of the three calls that follow it.
    quiet([exe, "import", "--beads", jsonl, "-q"], repo, env)
    after = [base.timed([exe, "ready", "--json"], repo, env) for _ in range(3)]
    rows["ready --json at once after an import (3 calls)"] = (
        statistics.median(t for t, _ in after), max(m for _, m in after))
    time.sleep(0.5)
    quiet([exe, "ready", "--json", "--limit", "1"], repo, env)
    a, b, c = ready_ids(exe, repo, env, 3)
    args.ids = (a, b, c)
    runs = args.runs
    rows["ready --json"] = base.measure(lambda i: [exe, "ready", "--json"], runs, repo, env)
    rows["show ID --json"] = base.measure(lambda i: [exe, "show", a, "--json"], runs, repo, env)
    rows["claim ID"] = base.measure(
        lambda i: [exe, "claim", a, "--worker", "bench", "-q"], runs, repo, env,
        before=lambda: quiet([exe, "release", a, "--worker", "bench", "-q"], repo, env, check=False))
    quiet([exe, "release", a, "--worker", "bench", "-q"], repo, env, check=False)
    rows["update --title (with its commit)"] = base.measure(
        lambda i: [exe, "update", b, "--title", f"bench title {i}", "-q"], runs, repo, env)
    rows["close (with its commit)"] = base.measure(
        lambda i: [exe, "close", b, "-q"], runs, repo, env,
        before=lambda: quiet([exe, "reopen", b, "-q"], repo, env, check=False))
    quiet([exe, "reopen", b, "-q"], repo, env, check=False)
    rows["create (with its commit)"] = base.measure(
        lambda i: [exe, "create", f"Bench task {i}", "-p", "2", "-q"], runs, repo, env)
    rows["dep add (with its commit)"] = base.measure(
        lambda i: [exe, "dep", "add", c, a, "-q"], runs, repo, env,
        before=lambda: quiet([exe, "dep", "rm", c, a, "-q"], repo, env, check=False))
    rows["ready --json right after a create"] = base.measure(
        lambda i: [exe, "ready", "--json"], runs, repo, env,
        before=lambda: quiet([exe, "create", "between", "-q"], repo, env))

    # A branch that changes many task files, for checkouts and pulls.
    names = sorted(os.listdir(os.path.join(repo, ".batch", "tasks")))
    changed = names if size <= 10000 else names[:1000]
    label = "every task file" if size <= 10000 else "1000 task files"
    base.git(["checkout", "-q", "-b", "changed"], repo, env)
    rewrite_tasks(repo, changed, "changed")
    # --no-verify: the generated tracker has a wait cycle, which the hook refuses.
    base.git(["commit", "-q", "--no-verify", "-am", "change many tasks"], repo, env)
    base.git(["checkout", "-q", "main"], repo, env)
    quiet([exe, "ready", "--json", "--limit", "1"], repo, env)
    if size <= 10000:
        def checkout(i):
            time.sleep(0.3)
            quiet([exe, "ready", "--json", "--limit", "1"], repo, env)
            base.git(["checkout", "-q", "changed" if i % 2 == 0 else "main"], repo, env)
        rows[f"first ready --json after a checkout changing {label}"] = base.measure(
            lambda i: [exe, "ready", "--json"], runs, repo, env, before=_counter(checkout))
    else:
        main_tip = quiet(["git", "rev-parse", "main"], repo, env).strip()

        def pull(_i):
            base.git(["reset", "-q", "--hard", main_tip], repo, env)
            time.sleep(0.3)
            quiet([exe, "ready", "--json", "--limit", "1"], repo, env)
            base.git(["merge", "-q", "--ff-only", "changed"], repo, env)
        rows[f"first ready --json after a pull of {label}"] = base.measure(
            lambda i: [exe, "ready", "--json"], runs, repo, env, before=_counter(pull))
        base.git(["reset", "-q", "--hard", main_tip], repo, env)
    return rows


def _counter(step):
    """A `before` hook that passes the run's number to `step`."""
    count = [0]

    def call():
        step(count[0])
        count[0] += 1
    return call


def bench_br(size, jsonl, args, work, env):
    br = args.br
    repo = os.path.join(work, f"br-{size}")
    base.fresh_repo(repo, env)
    quiet([br, "init"], repo, env)
    shutil.copy(jsonl, os.path.join(repo, ".beads", "issues.jsonl"))
    quiet([br, "sync", "--import-only"], repo, env)
    a, b, c = args.ids
    runs = args.runs
    rows = {}
    rows["ready --json"] = base.measure(lambda i: [br, "ready", "--json", "--limit", "0"], runs, repo, env)
    rows["show ID --json"] = base.measure(lambda i: [br, "show", a, "--json"], runs, repo, env)
    rows["claim ID"] = base.measure(
        lambda i: [br, "update", a, "--claim", "--actor", "bench"], runs, repo, env,
        before=lambda: quiet([br, "update", a, "--status", "open", "--assignee", ""], repo, env, check=False))
    rows["update --title (with its commit)"] = base.measure(
        lambda i: [br, "update", b, "--title", f"bench title {i}"], runs, repo, env)
    rows["close (with its commit)"] = base.measure(
        lambda i: [br, "close", b], runs, repo, env,
        before=lambda: quiet([br, "reopen", b], repo, env, check=False))
    rows["create (with its commit)"] = base.measure(
        lambda i: [br, "create", f"Bench task {i}", "-p", "2"], runs, repo, env)
    rows["dep add (with its commit)"] = base.measure(
        lambda i: [br, "dep", "add", c, a], runs, repo, env,
        before=lambda: quiet([br, "dep", "remove", c, a], repo, env, check=False))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--bin", default=os.path.join(HERE, "..", "target", "release", "git-batch"))
    parser.add_argument("--br", default=shutil.which("br") or "none")
    parser.add_argument("--work", default=None)
    args = parser.parse_args()
    if not os.path.exists(args.bin):
        sys.exit(f"bench: {args.bin} not found; run `cargo build --release` first")
    work = args.work or tempfile.mkdtemp(prefix="git-batch-point-")
    os.makedirs(os.path.join(work, "home"), exist_ok=True)
    env = base.fixed_env(os.path.join(work, "home"))
    # The hooks git runs in a commit call git-batch by name.
    env["PATH"] = os.path.dirname(os.path.abspath(args.bin)) + ":" + env["PATH"]
    print("| tasks | operation | git-batch median | peak RSS | br median | br peak RSS |")
    print("|---:|---|---:|---:|---:|---:|")
    for size in [int(s) for s in args.sizes.split(",")]:
        jsonl = base.write_tracker(work, size)
        ours = bench_git_batch(size, jsonl, args, work, env)
        theirs = bench_br(size, jsonl, args, work, env) if args.br != "none" else {}
        for op, (t, m) in ours.items():
            other = theirs.get(op)
            br_cols = f"{base.fmt_time(other[0])} | {other[1]:.0f} MiB" if other else "- | -"
            print(f"| {size} | `{op}` | {base.fmt_time(t)} | {m:.0f} MiB | {br_cols} |", flush=True)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
