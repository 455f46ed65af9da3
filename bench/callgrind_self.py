#!/usr/bin/env python3
"""Exclusive (self) costs per function from a callgrind dump, per request.

Usage: python3 bench/callgrind_self.py DUMP [EVENT] [REQUESTS] [ROWS]
  DUMP      a callgrind output file (bench/profile.sh keeps them as OUT/callgrind-<name>.out)
  EVENT     the event to sort by (default Ir; with CACHE_SIM=1 also Dw, D1mr, D1mw, ...)
  REQUESTS  what to divide by (default 1; the dumps of bench/profile.sh count REQUESTS requests)
  ROWS      how many functions to print (default 40)

callgrind_annotate's exclusive view puts every cost of the dumps that bench/profile.sh takes
(with callgrind_control while the server runs) on the thread's entry point; this sums the
dump's own cost lines instead. A cost line right after a `calls=` line is the inclusive cost
of that call, and counts for the callee, not for the caller. Standard library only.
"""

import collections
import re
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    event = sys.argv[2] if len(sys.argv) > 2 else "Ir"
    per = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    rows = int(sys.argv[4]) if len(sys.argv) > 4 else 40

    names = {}
    events = None
    costs = collections.defaultdict(list)
    function = None
    after_call = False

    def resolve(kind, text):
        # Names are compressed: "(12) name" the first time, "(12)" afterwards.
        m = re.match(r"\((\d+)\)(?:\s+(.*))?", text)
        if not m:
            return text
        key = (kind, m.group(1))
        if m.group(2):
            names[key] = m.group(2)
        return names.get(key, text)

    with open(path, errors="replace") as dump:
        for line in dump:
            line = line.rstrip("\n")
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("fn="):
                function = resolve("fn", line[3:])
            elif line.startswith("cfn="):
                resolve("fn", line[4:])
            elif line.startswith(("cfi=", "cfl=", "fl=", "fi=", "fe=")):
                resolve("fl", line.split("=", 1)[1])
            elif line.startswith(("ob=", "cob=")):
                resolve("ob", line.split("=", 1)[1])
            elif line.startswith("calls="):
                after_call = True
            elif line and (line[0].isdigit() or line[0] in "+-*"):
                if after_call:
                    after_call = False
                    continue
                values = [int(v) for v in line.split()[1:]]
                total = costs[function]
                total.extend([0] * (len(values) - len(total)))
                for i, v in enumerate(values):
                    total[i] += v

    if events is None:
        sys.exit(f"{path}: no events line; is it a callgrind dump?")
    if event not in events:
        sys.exit(f"{path} has no event {event}; it has {' '.join(events)}")
    index = events.index(event)
    at = lambda c, i: c[i] if i < len(c) else 0
    ordered = sorted(costs.items(), key=lambda kv: at(kv[1], index), reverse=True)
    print("  ".join(f"{e:>8}" for e in events) + "  function (exclusive, per request)")
    totals = [sum(at(c, i) for c in costs.values()) for i in range(len(events))]
    print("  ".join(f"{t / per:8.1f}" for t in totals) + "  TOTAL")
    for name, cost in ordered[:rows]:
        print("  ".join(f"{at(cost, i) / per:8.1f}" for i in range(len(events))) + f"  {name}")


if __name__ == "__main__":
    main()
