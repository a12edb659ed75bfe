#!/usr/bin/env python3
"""`git batch review` of a plan whose tasks all ran (issue 19's row).

It prepares one repository: `--tasks` files (1000), one task per file
(`split --scope-from-items --plan bench`), and `git batch run --plan bench
-j 2 --retries 0` with a worker that appends a line to its task's file,
writes two receipt lines (one a `--count`), and for ids ending in 37 fails
(exit 1) or in 73 escalates (`git batch escalate`); a gate reports a score.
Then `--land` of the done tasks (250 by default, the lowest ids) are landed
with `land --no-push`: review then sees landed tasks (found through the
landing commit), done tasks on their branches with their worktrees, failed
and escalated ones. Review reads and never writes, so the prepared
repository is used as it is; with `--work DIR` it is kept there and a later
call with the same DIR reuses it (preparing 1000 tasks takes minutes).

Each `--bin` (repeat it to compare builds: the first prepares) times
`git batch review --plan bench` and `git batch --json review --plan bench`
as whole processes, the builds taking turns run by run after one warm-up
each; median of `--runs`, peak RSS (wait4) the largest. The outputs of every
build must be byte-identical to the first build's, or the script fails.

    cargo build --release
    python3 bench/review.py --work /tmp/review-bench \\
        --bin /work/bin/git-batch-71acb94 --bin target/release/git-batch

Options: --bin PATH (repeatable; default target/release/git-batch),
--tasks N (1000), --land N (250), --runs N (7), --jobs J (the preparing
run's -j, 2), --work DIR (kept).
"""

import argparse
import json
import os
import selectors
import shutil
import statistics
import subprocess
import tempfile
import time

from land_scale import plan_of_files
from run_overhead import fixed_env, run, settle

HERE = os.path.dirname(os.path.abspath(__file__))

# The task's file is the first path of the context file's scope list.
WORKER = r"""#!/bin/sh
f=$(sed -n 's/^- `\(src\/[^`]*\)`$/\1/p' "$BATCH_CONTEXT" | head -n 1)
echo "changed by the bench" >> "$f"
git batch receipt "edited $f" || exit 1
git batch receipt --count file --item "$f" "counted $f" || exit 1
case "$BATCH_TASK:$f" in
  *37.txt) echo "bench failure" >&2; exit 1 ;;
  *73.txt) git batch escalate --reason "which line of $f?" || exit 1 ;;
esac
exit 0
"""

GATE = """#!/bin/sh
echo '{"score": 75}'
"""


def prepare(site, size, landed, env, binary, jobs):
    """The repository at site/repo: `size` tasks that ran, `landed` landed."""
    repo = plan_of_files(site, size, env, binary, "rv")
    worker = os.path.join(site, "worker.sh")
    gate = os.path.join(site, "gate.sh")
    for path, text in ((worker, WORKER), (gate, GATE)):
        with open(path, "w") as f:
            f.write(text)
    argv = [binary, "-q", "run", "--plan", "bench", "--exec", f"sh {worker}", "-j", str(jobs),
            "--retries", "0", "--gate", f"score=sh {gate}"]
    out = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True)
    # Exit 1: some tasks failed or escalated, as they should.
    if out.returncode not in (0, 1):
        raise SystemExit(f"the preparing run failed ({out.returncode}):\n{out.stderr}")
    done = json.loads(run([binary, "--json", "list", "--status", "done"], repo, env))
    ids = sorted(t["id"] for t in done)[:landed]
    if ids:
        run([binary, "-q", "land", "--no-push", *ids], repo, env)
    branches = run(["git", "for-each-ref", "--format=%(refname)", "refs/heads/batch/"], repo, env).split()
    if len(branches) != size - len(ids):
        raise SystemExit(f"{len(branches)} worker branches, not {size - len(ids)}, in {repo}")
    return repo


def timed(argv, cwd, env):
    """Runs argv once; (seconds, peak RSS in MiB from wait4, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunks, errs = [], []
    # Both pipes read to the end before reaping (no deadlock on big output).
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, chunks)
    sel.register(proc.stderr, selectors.EVENT_READ, errs)
    open_pipes = 2
    while open_pipes:
        for key, _ in sel.select():
            data = os.read(key.fileobj.fileno(), 1 << 16)
            if data:
                key.data.append(data)
            else:
                sel.unregister(key.fileobj)
                open_pipes -= 1
    _, status, rusage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{b''.join(errs).decode()}")
    return elapsed, rusage.ru_maxrss / 1024, b"".join(chunks)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", action="append", default=None)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--land", type=int, default=250)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--work", default=None)
    args = parser.parse_args()
    binaries = [os.path.abspath(b) for b in (args.bin or [os.path.join(HERE, "..", "target", "release", "git-batch")])]
    work = args.work or tempfile.mkdtemp(prefix="git-batch-review-bench-")
    os.makedirs(os.path.join(work, "home"), exist_ok=True)
    # The worker and the hooks call `git-batch` by name: the preparing
    # build under that name, whatever its file is called.
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir, exist_ok=True)
    link = os.path.join(bindir, "git-batch")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(binaries[0], link)
    env = fixed_env(os.path.join(work, "home"), bindir)
    site = os.path.join(work, f"review-{args.tasks}-{args.land}")
    repo = os.path.join(site, "repo")
    if os.path.exists(os.path.join(site, "prepared")):
        prepared = "reused"
    else:
        shutil.rmtree(site, ignore_errors=True)
        begun = time.perf_counter()
        prepare(site, args.tasks, args.land, env, binaries[0], args.jobs)
        prepared = f"{time.perf_counter() - begun:.0f} s"
        open(os.path.join(site, "prepared"), "w").close()
    states = {}
    for t in json.loads(run([binaries[0], "--json", "review", "--plan", "bench"], repo, env))["tasks"]:
        states[t["state"]] = states.get(t["state"], 0) + 1
    commands = {
        "`review --plan bench`": ["review", "--plan", "bench"],
        "`--json review --plan bench`": ["--json", "review", "--plan", "bench"],
    }
    seen = {(b, c): [] for b in binaries for c in commands}
    outputs = {}
    settle()
    for r in range(-1, args.runs):
        for name, tail in commands.items():
            for b in binaries:
                took, rss, out = timed([b, *tail], repo, env)
                if r >= 0:
                    seen[(b, name)].append((took, rss))
                first = outputs.setdefault(name, out)
                if out != first:
                    raise SystemExit(f"{b} {name}: output differs from {binaries[0]}'s")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    print(f"review of a {args.tasks}-task plan that ran ({summary}); whole process, "
          f"median of {args.runs} run(s), builds taking turns; preparing: {prepared}; "
          f"outputs byte-identical across builds\n")
    print("| build | command | median | all runs (ms) | peak RSS |")
    print("|---|---|---:|---|---:|")
    for name in commands:
        for b in binaries:
            runs = seen[(b, name)]
            med = statistics.median(t for t, _ in runs)
            all_runs = ", ".join(f"{t * 1000:.0f}" for t, _ in runs)
            print(f"| {os.path.basename(b)} | {name} | {med * 1000:.0f} ms | {all_runs} | "
                  f"{max(m for _, m in runs):.0f} MiB |")


if __name__ == "__main__":
    main()
