#!/usr/bin/env python3
"""The overhead of `git batch run` itself: 100 trivial tasks (`--exec true`)
on a repository of 1000 files, at -j 1 and -j 8, for one build or two.

For each -j it copies one prepared repository (1000 files, `.batch/` with
its hooks, 100 tasks made by `split --scope-from-items --plan bench`),
times the whole `git batch run --plan bench --exec true -j N`, and reads
the run's state file, where each task records the milliseconds of its
last attempt: `start` (claim, `git worktree add`, its checkout, context
file, state saved), `worker` (spawn to exit of `sh -c true`) and `finish` (`done`:
scope check, `git add`, `git commit` with the hooks; state saved). With
`GIT_TRACE2_EVENT` it also records every git process the run starts, so
the time per task splits into git's checkout, commit, hooks and the rest,
which is git-batch itself. Ten bare `git worktree add`s of the same tree,
back to back, are timed too. Results print as Markdown for docs/benchmarks.md.

    cargo build --release
    python3 bench/run_overhead.py --runs 3
    # two builds side by side, taking turns, and this one with --sparse too:
    python3 bench/run_overhead.py --before /path/to/main/git-batch --sparse --tasks 300

Options: --bin PATH (default target/release/git-batch), --before PATH (another
build, measured in turns with --bin), --sparse (--bin once more with
`run --sparse`; --sparse-only: only so), --tasks N (100), --files N (1000), --jobs LIST (1,8),
--runs N (3), --work DIR (kept).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
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


def settle():
    """Writes back what is pending and gives the file system a moment."""
    os.sync()
    time.sleep(3)


def git_time(trace):
    """Milliseconds per git command the run started (top-level git
    processes only; their children are in their time), with the hooks
    `git commit` ran taken out of `commit` and counted as `hooks`."""
    argv, took, hooks = {}, {}, {}
    hook_children = set()
    with open(trace) as f:
        for line in f:
            e = json.loads(line)
            sid = e.get("sid", "")
            if "/" in sid:
                continue
            kind = e["event"]
            if kind == "start":
                argv[sid] = e["argv"]
            elif kind == "atexit":
                took[sid] = e["t_abs"] * 1000
            elif kind == "child_start" and e.get("child_class") == "hook":
                hook_children.add((sid, e["child_id"]))
            elif kind == "child_exit" and (sid, e["child_id"]) in hook_children:
                hooks[sid] = hooks.get(sid, 0.0) + e["t_rel"] * 1000
    out = {}
    for sid, ms in took.items():
        a, skip = [], False
        for x in argv.get(sid, ["git", "?"])[1:]:
            # `-c key=value` settings come before the subcommand.
            if not skip and not x.startswith("-"):
                a.append(x)
            skip = x == "-c"
        name = " ".join(a[:2]) if a and a[0] == "worktree" else (a[0] if a else "?")
        out[name] = out.get(name, 0.0) + ms - hooks.get(sid, 0.0)
        if sid in hooks:
            out["hooks"] = out.get("hooks", 0.0) + hooks[sid]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.path.join(HERE, "..", "target", "release", "git-batch"))
    parser.add_argument("--before", default=None,
                        help="another build (e.g. main's) measured side by side, taking turns")
    parser.add_argument("--sparse", action="store_true",
                        help="also measure --bin with `run --sparse`")
    parser.add_argument("--sparse-only", action="store_true",
                        help="with --sparse: measure --bin only with `run --sparse`")
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
    # (label, binary, extra run flags): each measured at each -j, in turns.
    builds = []
    if args.before:
        builds.append(("before", os.path.abspath(args.before), []))
    builds.append(("after" if args.before else "this build", binary, []))
    if args.sparse:
        label = builds[-1][0] + ", `--sparse`"
        if args.sparse_only:
            builds.pop()
        builds.append((label, binary, ["--sparse"]))

    def plain_adds(repo, tag, n=10):
        """Bare `git worktree add`s of the same tree, back to back as the run
        does them (one alone, on an idle disk, is much faster than a
        sustained series: the file system has the previous ones to write)."""
        took = []
        for k in range(n):
            wt = os.path.join(work, f"plain-{tag}-{k}")
            start = time.perf_counter()
            run(["git", "worktree", "add", "-q", "-b", f"plain-{tag}-{k}", wt, "main"], repo, env)
            took.append((time.perf_counter() - start) * 1000)
        for k in range(n):
            run(["git", "worktree", "remove", "--force", os.path.join(work, f"plain-{tag}-{k}")], repo, env)
        return took

    adds = []
    jobs_list = [int(j) for j in args.jobs.split(",")]
    keys = [(b, jobs) for b in range(len(builds)) for jobs in jobs_list]
    seen = {k: {"walls": [], "starts": [], "workers": [], "finishes": [], "git": {}} for k in keys}
    # Runs of each build and -j take turns, and each starts after the disk
    # has settled: deleting the last run's files leaves the file system busy
    # for a while, and whatever ran next was up to twice as slow.
    for r in range(args.runs):
        for b, jobs in keys:
            label, bin_path, extra = builds[b]
            got = seen[(b, jobs)]
            settle()
            repo = os.path.join(work, f"repo-b{b}-j{jobs}-{r}", "repo")
            shutil.copytree(template, repo, symlinks=True)
            settle()
            trace = os.path.join(work, f"trace-b{b}-j{jobs}-{r}.json")
            run_env = dict(fixed_env(home, os.path.dirname(bin_path)), GIT_TRACE2_EVENT=trace)
            start = time.perf_counter()
            run([bin_path, "-q", "run", "--plan", "bench", "--exec", "true", "-j", str(jobs)] + extra,
                repo, run_env)
            got["walls"].append(time.perf_counter() - start)
            print(f"run {r + 1}/{args.runs}, {label}, -j {jobs}: {got['walls'][-1]:.2f} s", file=sys.stderr)
            for k, v in git_time(trace).items():
                got["git"][k] = got["git"].get(k, 0.0) + v
            with open(os.path.join(repo, ".git", "batch", "runs", "bench.json")) as f:
                state = json.load(f)
            done = [t for t in state["tasks"].values() if t["state"] == "done"]
            if len(done) != args.tasks:
                raise SystemExit(f"only {len(done)} of {args.tasks} tasks done in {repo}")
            if b == 0:
                settle()
                adds += plain_adds(repo, f"{jobs}-{r}")
            got["starts"] += [t["timing"]["start_ms"] for t in done]
            got["workers"] += [t["timing"]["worker_ms"] for t in done]
            got["finishes"] += [t["timing"]["finish_ms"] for t in done]
            if not args.work:
                shutil.rmtree(os.path.dirname(repo))
                shutil.rmtree(os.path.join(os.path.dirname(repo), "repo.worktrees"), ignore_errors=True)
                os.remove(trace)
    rows = []
    for b, jobs in keys:
        got = seen[(b, jobs)]
        per_task = {k: v / (args.runs * args.tasks) for k, v in got["git"].items()}
        rows.append((builds[b][0], jobs, got["walls"], statistics.mean(got["starts"]),
                     statistics.mean(got["workers"]), statistics.mean(got["finishes"]), per_task))

    print(f"{args.tasks} tasks (`--exec true`), {args.files}-file repository, {args.runs} runs per build and -j; "
          f"10 bare `git worktree add`s of the same tree, back to back, in the same repositories after each run: "
          f"{statistics.mean(adds):.1f} ms each (mean)\n")
    print("Per task, the mean over all runs; the whole run is the median. "
          "The last column compares with the first row's per task.\n")
    print("| build | -j | whole run | per task | start (claim + worktree) | finish (`done` + commit) "
          "| worker (`true`, spawn to exit seen) | speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    first = statistics.median(rows[0][2])
    for label, jobs, walls, s, w, f, _ in rows:
        wall = statistics.median(walls)
        print(f"| {label} | {jobs} | {wall:.2f} s | {wall * 1000 / args.tasks:.1f} ms | {s:.1f} ms | {f:.1f} ms "
              f"| {w:.1f} ms | {first / wall:.2f}x |")
    print()
    print("Where a task's time goes (from `GIT_TRACE2_EVENT`: each git process the run started, "
          "and the hooks those ran; git-batch itself is the rest of the whole run's time; at -j 8 the "
          "git processes overlap, so their sum can pass the whole run's time per task):\n")
    print("| build | -j | `git worktree add` | `git read-tree` (checkout after the add) "
          "| `git commit` (without hooks) | hooks (`git-batch hook`) | `git add` | other git | git-batch itself |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, jobs, walls, s, w, f, g in rows:
        per_task = statistics.mean(walls) * 1000 / args.tasks
        # At -j 1 the worker's own time is part of the wall time; at -j N it
        # overlaps the pool's work.
        rest = per_task - sum(g.values()) - (w if jobs == 1 else 0)
        named = ("worktree add", "read-tree", "commit", "hooks", "add")
        other = sum(v for k, v in g.items() if k not in named)
        # At -j N the git processes overlap each other and git-batch's own
        # work: the rest is no longer git-batch's share.
        own = f"{rest:.1f} ms" if jobs == 1 else "-"
        print(f"| {label} | {jobs} | {g.get('worktree add', 0):.1f} ms | {g.get('read-tree', 0):.1f} ms "
              f"| {g.get('commit', 0):.1f} ms | {g.get('hooks', 0):.1f} ms | {g.get('add', 0):.1f} ms "
              f"| {other:.1f} ms | {own} |")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
