"""Subprocess used by the crash and concurrency tests: logs events and acknowledges them on stdout.

usage: features_child.py DB ENTITY START COUNT MODE
MODE: event-full | event-normal | event-journal | batch (acknowledges after each flush of 20)
      | journal-die (event-journal, then SIGKILL itself before close) | read (vector() loop)
"""

from __future__ import annotations

import os
import signal
import sys

from ember.features import Feature, FeatureSpec, FeatureStore

SPEC = FeatureSpec(
    "child",
    [
        Feature("n", event="e", agg="count", window="30d"),
        Feature("s", event="e", agg="sum", window="30d"),
        Feature("any", event="e", agg="count", window="30d", scope="any"),
        Feature("d", event="e", agg="count_distinct", key="attrs.k", window="30d"),
    ],
)
T0 = 1_770_000_000.0


def main() -> int:
    db, entity, start, count, mode = sys.argv[1:6]
    start, count = int(start), int(count)
    out = sys.stdout
    if mode == "read":
        fs = FeatureStore(db)
        for _ in range(count):
            fs.vector(SPEC, entity, at=T0 + 10.0)
        out.write("done\n")
        return 0
    durability = "batch" if mode == "batch" else "event"
    sync = {"event-normal": "normal", "event-journal": "journal", "journal-die": "journal"}.get(mode, "full")
    batch = int(os.environ.get("EMBER_TEST_BATCH", 10**9))
    fs = FeatureStore(db, durability=durability, sync=sync, batch_size=batch)
    pending = []
    for i in range(start, start + count):
        fs.log("e", entity, value=float(i), ts=T0 - (i % 1000) * 0.5, attrs={"k": i % 7})
        if durability == "event":
            out.write(f"{i}\n")
            out.flush()
        else:
            pending.append(i)
            if len(pending) == 20:
                fs.flush()
                out.write("".join(f"{j}\n" for j in pending))
                out.flush()
                pending.clear()
    if mode == "journal-die":  # a crash with the events only in the journal
        os.kill(os.getpid(), signal.SIGKILL)
    fs.close()
    out.write("done\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
