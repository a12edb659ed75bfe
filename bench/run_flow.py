#!/usr/bin/env python3
"""How `git batch run --land` flows: no pool-drain barrier.

Two scenarios, each a fresh repository with `.batch/`, run with --land (a
local landing, no remote), workers that sleep and write one file:

  chain     a (1 s) -> c (1 s), next to an unrelated b (8 s), -j 2.
            Reports when c starts (seconds after the run began) and the
            gap from a's end to c's start. With a barrier c waits for b:
            about +9 s.
  pipeline  a three-phase pipeline: N chunks, phase 2 of chunk k waits for
            phase 1 of chunk k, phase 3 for phase 2; durations vary by chunk
            (0.3-1.5 s), -j J. Reports the wall time and the idle
            worker-seconds (J x wall - the seconds workers ran).

Times come from the workers' own log (a timestamp at each start and end),
so the run's own overhead (claims, worktrees, landings) shows as idle time.

    cargo build --release
    python3 bench/run_flow.py --runs 3

Options: --bin PATH (default target/release/git-batch), --runs N (3),
--chunks N (6), --jobs J (3).
"""

import argparse
import os
import statistics
import tempfile
import time

from run_overhead import fixed_env, run

HERE = os.path.dirname(os.path.abspath(__file__))

WORKER = r"""#!/bin/sh
d=$(sed -n 's/^- `\([a-z0-9]*\)\/\*\*`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
echo "$d start $(date +%s.%N)" >> "$FLOW_LOG"
sleep "$(cat "$FLOW_DIR/$d.secs")"
mkdir -p "$d" && echo "$d" > "$d/f"
echo "$d end $(date +%s.%N)" >> "$FLOW_LOG"
"""


def repo(work, binary, env):
    path = os.path.join(work, "repo")
    os.makedirs(path)
    run(["git", "init", "-q", "-b", "main"], path, env)
    with open(os.path.join(path, "README.md"), "w") as f:
        f.write("flow\n")
    run(["git", "add", "README.md"], path, env)
    run(["git", "commit", "-q", "-m", "root"], path, env)
    run([binary, "init", "--prefix", "fl"], path, env)
    return path


def tasks(path, binary, env, specs):
    """specs: [(name, secs, [dep names])] -> {name: id}."""
    ids = {}
    for name, secs, deps in specs:
        argv = [binary, "create", name, "--scope", f"{name}/**"]
        for d in deps:
            argv += ["--dep", ids[d]]
        ids[name] = run(argv, path, env).strip()
        with open(os.path.join(os.path.dirname(path), f"{name}.secs"), "w") as f:
            f.write(str(secs))
    return ids


def flow(binary, env, work, specs, jobs):
    path = repo(work, binary, env)
    ids = tasks(path, binary, env, specs)
    worker = os.path.join(work, "worker.sh")
    with open(worker, "w") as f:
        f.write(WORKER)
    log = os.path.join(work, "flow.log")
    env = dict(env, FLOW_LOG=log, FLOW_DIR=work)
    begun = time.time()
    run([binary, "run", *ids.values(), "--land", "-j", str(jobs), "--exec", f"sh {worker}"], path, env)
    wall = time.time() - begun
    times = {}
    with open(log) as f:
        for line in f:
            name, what, at = line.split()
            times[(name, what)] = float(at) - begun
    return wall, times


def chain(binary, env):
    with tempfile.TemporaryDirectory() as work:
        wall, t = flow(binary, env, work, [("a", 1, []), ("b", 8, []), ("c", 1, ["a"])], 2)
        return t[("c", "start")], t[("c", "start")] - t[("a", "end")], wall


def pipeline(binary, env, chunks, jobs):
    specs = []
    for k in range(chunks):
        secs = round(0.3 + (k * 7 % 5) * 0.3, 1)
        specs.append((f"p1c{k}", secs, []))
        specs.append((f"p2c{k}", secs, [f"p1c{k}"]))
        specs.append((f"p3c{k}", secs, [f"p2c{k}"]))
    with tempfile.TemporaryDirectory() as work:
        wall, t = flow(binary, env, work, specs, jobs)
        busy = sum(t[(n, "end")] - t[(n, "start")] for n, _, _ in specs)
        return wall, jobs * wall - busy


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default=os.path.join(HERE, "..", "target", "release", "git-batch"))
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--chunks", type=int, default=6)
    p.add_argument("--jobs", type=int, default=3)
    args = p.parse_args()
    binary = os.path.abspath(args.bin)
    with tempfile.TemporaryDirectory() as home:
        env = fixed_env(home, os.path.dirname(binary))
        c = [chain(binary, env) for _ in range(args.runs)]
        pl = [pipeline(binary, env, args.chunks, args.jobs) for _ in range(args.runs)]
    med = statistics.median
    print("| scenario | measure | median |")
    print("|---|---|---:|")
    print(f"| chain a(1 s) -> c next to b(8 s), -j 2 | c starts after the run began | {med(x[0] for x in c):.2f} s |")
    print(f"| | from a's end to c's start | {med(x[1] for x in c):.2f} s |")
    print(f"| | whole run | {med(x[2] for x in c):.2f} s |")
    print(f"| pipeline, 3 phases x {args.chunks} chunks, -j {args.jobs} | whole run | {med(x[0] for x in pl):.2f} s |")
    print(f"| | idle worker-seconds | {med(x[1] for x in pl):.1f} s |")


if __name__ == "__main__":
    main()
