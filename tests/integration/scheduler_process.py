"""A scheduler process for the multi-process tests, on a simulated clock.

    python -m tests.integration.scheduler_process DATABASE_URL START END STEP_S SEED

Walks simulated time from START to END (ISO instants) in steps of about STEP_S seconds (each
step jittered by the seed, so several processes interleave differently) and runs one
scheduler tick per step: the same `fire_due` the real loop calls, with "now" injected. The
runs it queues go to the executor the environment's PLANPORT_* settings choose (Celery
workers in the multi-process test; otherwise they stay queued). Prints the number of fires
it made, for the test's log.
"""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta

from planport.execution import executor_for
from planport.services.scheduling import firing
from planport.settings import Settings
from planport.store.db import Database


def main(argv: list[str]) -> None:
    url, start, end, step, seed = argv
    db = Database(url)
    executor = executor_for(Settings(database_url=url), db, run_here=False)
    rng = random.Random(int(seed))
    now, stop = datetime.fromisoformat(start), datetime.fromisoformat(end)
    fired = 0
    while now <= stop:
        report = firing.fire_due(db, now, batch=25)
        for run_id in report.queued:
            executor.submit(run_id)
        fired += report.fired
        now += timedelta(seconds=float(step) * rng.uniform(0.5, 1.5))
    report = firing.fire_due(db, stop)
    for run_id in report.queued:
        executor.submit(run_id)
    fired += report.fired
    db.dispose()
    print(fired)


if __name__ == "__main__":
    main(sys.argv[1:])
