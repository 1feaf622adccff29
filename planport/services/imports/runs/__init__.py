"""A run's whole life: queue it, claim and execute it, follow and cancel it, read it back,
sweep lost ones, and what happens after it finishes.

The run use cases are re-exported here from `queue` (`runs.start_import(...)`,
`runs.get_run(...)`); `execute` runs one claimed run to its end, `run_rows` holds the
statements on run rows that every process shares, `again` answers whether a run can run
again, `hooks` is what happens after a finish, `alerting` the failure alerts it raises.
"""

from planport.services.imports.runs import (
    again,
    alerting,
    execute,
    hooks,
    new_run,
    queue,
    run_rows,
)
from planport.services.imports.runs.execute import Progress
from planport.services.imports.runs.new_run import NewRun, RunRecipe
from planport.services.imports.runs.queue import (
    Retry,
    RunView,
    after_finish,
    cancel_run,
    claim_next,
    claim_run,
    execute_run,
    fail_lost_runs,
    follow_ups,
    get_run,
    list_runs,
    queue_run,
    rejects_csv,
    resend_unclaimed,
    run_again,
    run_import,
    start_configuration_run,
    start_import,
    worker_id,
)
from planport.services.imports.runs.run_rows import Outcome, RetryPolicy

__all__ = [
    "NewRun",
    "Outcome",
    "Progress",
    "Retry",
    "RetryPolicy",
    "RunRecipe",
    "RunView",
    "after_finish",
    "again",
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
    "new_run",
    "queue",
    "queue_run",
    "rejects_csv",
    "resend_unclaimed",
    "run_again",
    "run_import",
    "run_rows",
    "start_configuration_run",
    "start_import",
    "worker_id",
]
