#!/usr/bin/env python3
"""The first query after an import: `import --beads` into a fresh repository,
then at once (no wait) `ready --json`, then a second `ready --json`, each a
separate process. Every run is a fresh repository; medians over the runs.
Several binaries (--bin, repeated) take turns run by run, so a loaded
machine slows them alike.

    python3 bench/import_then_ready.py --sizes 10000,100000 --runs 3 \
        --bin /path/before/git-batch --bin target/release/git-batch
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import fixed_env, fmt_time, fresh_repo, timed, write_tracker  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def one_run(exe, repo, jsonl, env):
    fresh_repo(repo, env)
    subprocess.run([exe, "-C", repo, "init", "--prefix", "bt", "-q"], env=env, check=True)
    imp = timed([exe, "-C", repo, "import", "--beads", jsonl, "--json"], repo, env)
    first = timed([exe, "ready", "--json"], repo, env)
    second = timed([exe, "ready", "--json"], repo, env)
    return imp, first, second


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bin", action="append", default=None)
    args = parser.parse_args()
    bins = [os.path.abspath(b) for b in (args.bin or [os.path.join(HERE, "..", "target", "release", "git-batch")])]
    work = tempfile.mkdtemp(prefix="gb-import-ready-")
    try:
        env = fixed_env(os.path.join(work, "home"))
        os.makedirs(env["HOME"])
        print("| tasks | binary | `import --beads` | first `ready --json` | second `ready --json` |")
        print("|---:|---|---:|---:|---:|")
        for size in [int(s) for s in args.sizes.split(",")]:
            jsonl = write_tracker(work, size)
            results = {b: [] for b in bins}
            for _ in range(args.runs):
                for b in bins:
                    results[b].append(one_run(b, os.path.join(work, "repo"), jsonl, env))
            for b in bins:
                cells = []
                for col in range(3):
                    runs = [r[col] for r in results[b]]
                    t = statistics.median(r[0] for r in runs)
                    m = max(r[1] for r in runs)
                    cells.append(f"{fmt_time(t)}, {m:.0f} MiB")
                print(f"| {size} | {b} | " + " | ".join(cells) + " |", flush=True)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
