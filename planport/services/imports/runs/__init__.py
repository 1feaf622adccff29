"""A run's whole life: queue it, claim and execute it, follow and cancel it, read it back,
sweep lost ones, and what happens after it finishes.

The run use cases are re-exported here, so `runs.start_import(...)` and `runs.get_run(...)`
read as before. By module:

- `queue`: start a run (wizard, configuration, run again), claim, execute here, cancel;
- `execute`: one claimed run to its end;
- `progress`: runs executing in this process (live progress, local cancel, heartbeat);
- `run_rows`: a new run's row, and the conditional transitions every process shares;
- `views`: reading runs back, and what Run again would do;
- `sweep`: lost and unclaimed runs, retries;
- `hooks`: what happens after a finish; `alerting`: the failure alerts it raises.
"""

from planport.services.imports.runs import (
    alerting,
    execute,
    hooks,
    progress,
    queue,
    run_rows,
    sweep,
    views,
)
from planport.services.imports.runs.execute import Progress
from planport.services.imports.runs.queue import (
    after_finish,
    cancel_run,
    claim_next,
    claim_run,
    execute_run,
    queue_run,
    run_again,
    run_import,
    start_configuration_run,
    start_import,
    worker_id,
)
from planport.services.imports.runs.run_rows import NewRun, Outcome, RetryPolicy, RunRecipe
from planport.services.imports.runs.sweep import (
    Retry,
    fail_lost_runs,
    follow_ups,
    resend_unclaimed,
)
from planport.services.imports.runs.views import RunView, get_run, list_runs, rejects_csv

__all__ = [
    "NewRun",
    "Outcome",
    "Progress",
    "Retry",
    "RetryPolicy",
    "RunRecipe",
    "RunView",
    "after_finish",
    "alerting",
    "cancel_run",
    "claim_next",
    "claim_run",
    "execute",
    "execute_run",
    "fail_lost_runs",
    "follow_ups",
    "get_run",
    "hooks",
    "list_runs",
    "progress",
    "queue",
    "queue_run",
    "rejects_csv",
    "resend_unclaimed",
    "run_again",
    "run_import",
    "run_rows",
    "start_configuration_run",
    "start_import",
    "sweep",
    "views",
    "worker_id",
]
