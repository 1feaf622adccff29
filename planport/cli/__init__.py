"""The `planport` command line, one module per group of commands.

`app` defines the commands and their arguments; `imports`, `runs` and `schedules` hold what
the `import`, `runs` and `schedule` groups do; `common` the acting member, ids and the
one-line error exit they share. Commands call services only (and `store.migrate` for `db`).
"""

from planport.cli.app import app, main

__all__ = ["app", "main"]
