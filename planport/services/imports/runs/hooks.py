"""What happens after a run finishes: the place alerts hook in.

`after_finish` is called once for every run that reaches a finished status (completed, failed,
cancelled), by whichever process finished it: an executor, the command line, or the sweeper
that failed a lost run. It is called after the finishing transaction committed, outside it, so
the run row, its configuration's `last_run_status` (and a retry, if one was queued: a run
whose `retry_of` is this run) are already visible.

Contract (failure alerts and recovery messages live in services/alerting.py):
- It may be slow (SMTP, webhooks) but it runs on the executor's thread, so keep it short or
  hand the work to an outbox (the `alert_message` table) and deliver elsewhere.
- It must be idempotent per run: a crash between the commit and this call loses the call, and
  nothing calls it twice on purpose, but a future sweeper of "finished without hook" might.
- Any exception it raises is logged by the caller and never changes the run.
"""

from __future__ import annotations

import uuid

from planport.services.imports.runs import alerting
from planport.settings import Settings
from planport.store.db import Database


def after_finish(db: Database, run_id: uuid.UUID, settings: Settings) -> None:
    """Called after run `run_id` finished and its finishing transaction committed: folds the
    run into its configuration's failure alerts (delivered on a background thread)."""
    alerting.after_finish(db, settings, run_id)
