#!/usr/bin/env python3
"""Writes a beads `issues.jsonl` with a realistic mix, for the benchmarks.

The mix (as docs/benchmarks.md states): 30% closed, 10% in progress, the
rest open; one epic per 200 tasks, each with 20 children (a tenth of the
tasks belong to an epic); a third of the tasks blocked by one or two
earlier tasks; labels, acceptance criteria and a body of a few hundred bytes.
The output is deterministic for a given size and seed, so git-batch and br
are measured on the same bytes.

    python3 bench/gen_beads.py 10000 > /tmp/10k.jsonl
"""

import json
import random
import sys
from datetime import datetime, timedelta, timezone

WORDS = (
    "port parser cache auth session token retry queue index schema migrate "
    "refactor handler client server config logging metrics worker pool "
    "timeout backoff render template router storage upload download"
).split()


def base36(n, width):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out.rjust(width, "0")


def main():
    size = int(sys.argv[1])
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    rng = random.Random(seed)
    width = 4 if size <= 20000 else 5
    ids = []
    seen = set()
    while len(ids) < size:
        candidate = "bt-" + base36(rng.randrange(36**width), width)
        if candidate not in seen:
            seen.add(candidate)
            ids.append(candidate)

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    # One epic per 200 tasks, each followed by its 20 children: a tenth of
    # the tasks belong to an epic.
    epics_wanted = max(1, size // 200)
    out = sys.stdout
    epic = None
    epic_children = 0
    epics_made = 0
    for i, issue_id in enumerate(ids):
        created = start + timedelta(minutes=7 * i)
        updated = created + timedelta(hours=rng.randrange(1, 48))
        words = rng.sample(WORDS, 4)
        title = f"{words[0].capitalize()} the {words[1]} {words[2]} ({i})"
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(20, 60)))
        roll = rng.random()
        status = "closed" if roll < 0.30 else "in_progress" if roll < 0.40 else "open"
        issue = {
            "id": issue_id,
            "title": title,
            "description": body,
            "status": status,
            "priority": rng.choice([0, 1, 1, 2, 2, 2, 2, 3, 3, 4]),
            "issue_type": "task",
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "updated_at": updated.isoformat().replace("+00:00", "Z"),
            "labels": rng.sample(["backend", "frontend", "infra", "docs", "perf"], 2),
            "acceptance_criteria": f"- {words[3]} works\n- tests pass",
        }
        if status == "closed":
            issue["closed_at"] = issue["updated_at"]
            issue["close_reason"] = "done"
        deps = []
        if epic is None and epics_made < epics_wanted and i % (size // epics_wanted) == 0:
            issue["issue_type"] = "epic"
            issue["status"] = "open"
            issue.pop("closed_at", None)
            issue.pop("close_reason", None)
            epic, epic_children, epics_made = issue_id, 0, epics_made + 1
        elif epic is not None:
            deps.append({"issue_id": issue_id, "depends_on_id": epic, "type": "parent-child"})
            epic_children += 1
            if epic_children == 20:
                epic = None
        if i > 0 and rng.random() < 1 / 3:
            for blocker in rng.sample(ids[max(0, i - 500):i], min(i, rng.choice([1, 2]))):
                deps.append({"issue_id": issue_id, "depends_on_id": blocker, "type": "blocks"})
        if deps:
            for d in deps:
                d["created_at"] = issue["created_at"]
                d["created_by"] = "bench"
            issue["dependencies"] = deps
        out.write(json.dumps(issue, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
