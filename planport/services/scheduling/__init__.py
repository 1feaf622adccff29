"""Import Scheduling: schedules, firing them (the scheduler's tick), history, the page's view.

- `schedules`: create, edit, enable, stagger; the stored repeat.
- `firing`: one tick of the scheduler: claim due fires, queue their runs, record the rest.
- `history`: what fired, ran and alerted, filtered and purged.
- `overview`: the Import Scheduling page's sections and what blocks a configuration.

Imports from: services.imports, services.blocks, services.workspace, scheduling (the pure
recurrence core), store, domain.
"""

from planport.domain.runnable import Blocker
from planport.services.scheduling import firing, history, overview, schedules
from planport.services.scheduling.history import HistoryEntry, HistoryFilter
from planport.services.scheduling.overview import Overview
from planport.services.scheduling.schedules import SameMinute, ScheduleInput, ScheduleView

__all__ = [
    "Blocker",
    "HistoryEntry",
    "HistoryFilter",
    "Overview",
    "SameMinute",
    "ScheduleInput",
    "ScheduleView",
    "firing",
    "history",
    "overview",
    "schedules",
]
