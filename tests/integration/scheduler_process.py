"""A scheduler process for the multi-process tests, on a simulated clock.

    python -m tests.integration.scheduler_process DATABASE_URL START END STEP_S SEED

Walks simulated time from START to END (ISO instants) in steps of about STEP_S seconds (each
step jittered by the seed, so several processes interleave differently) and runs one
scheduler tick per step: the same `fire_due` the real loop calls, with "now" injected.
Prints the number of fires it made, for the test's log.
"""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta

from planport.services import firing
from planport.store.db import Database


def main(argv: list[str]) -> None:
    url, start, end, step, seed = argv
    db = Database(url)
    rng = random.Random(int(seed))
    now, stop = datetime.fromisoformat(start), datetime.fromisoformat(end)
    fired = 0
    while now <= stop:
        fired += firing.fire_due(db, now, batch=25).fired
        now += timedelta(seconds=float(step) * rng.uniform(0.5, 1.5))
    fired += firing.fire_due(db, stop).fired
    db.dispose()
    print(fired)


if __name__ == "__main__":
    main(sys.argv[1:])
