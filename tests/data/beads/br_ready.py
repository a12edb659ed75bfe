#!/usr/bin/env python3
"""br's ready rule (beads_rust storage/sqlite.rs), applied to an issues.jsonl."""
import json, sys
norm = sys.argv[2] == 'norm' if len(sys.argv) > 2 else True
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {o['id']: o for o in rows}
def dtype(d):
    t = (d.get('type') or 'blocks').lower()
    return t.replace('_', '-') if norm else t
blocked = {}
children = {}
for o in rows:
    for d in o.get('dependencies') or []:
        t = dtype(d); tgt = d['depends_on_id']
        if t in ('blocks', 'conditional-blocks', 'waits-for') and not tgt.startswith('external:'):
            ti = by.get(tgt)
            if ti is None or ti['status'] not in ('closed', 'tombstone'):
                blocked.setdefault(o['id'], []).append(tgt)
        if t == 'parent-child':
            children.setdefault(tgt, []).append(o['id'])
queue = list(blocked); seen = set()
while queue:
    p = queue.pop()
    if p in seen: continue
    seen.add(p)
    for c in children.get(p, []):
        blocked.setdefault(c, []).append(p + ':parent-blocked'); queue.append(c)
for p, cs in children.items():
    if p in by and by[p].get('issue_type') == 'epic':
        for c in cs:
            if c in by and by[c]['status'] not in ('closed', 'tombstone'):
                blocked.setdefault(p, []).append(c)
ready = [o['id'] for o in rows if o['status'] == 'open' and o['id'] not in blocked
         and not o.get('pinned') and not o.get('ephemeral') and '-wisp-' not in o['id']
         and not o.get('is_template') and not o.get('defer_until')]
print('\n'.join(sorted(ready)))
