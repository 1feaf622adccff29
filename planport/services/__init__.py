"""Use cases, one package per feature; every transaction is opened here.

- `workspace`: members, sessions, access, sign-in throttling, secrets.
- `blocks`: applications, blocks, items and cells, the grid, CSV export.
- `imports`: inspect and Check a file, import configurations and their sources, runs.
- `scheduling`: schedules, the scheduler's tick, history, the Import Scheduling page.
- `health`: what /healthz and /readyz report.

The packages import downwards only, in that order (scheduling may use imports, imports may
use blocks, all may use workspace), and each exposes its public names in its `__init__`.
`Database` is the handle every use case takes and `migrate` brings its schema up to date:
web and the command line reach the store only through these two.
"""

from planport.store import migrate
from planport.store.db import Database

__all__ = ["Database", "migrate"]
