"""Importing into a block: inspect and Check a file, import configurations and their sources,
and a run's whole life (`runs`).

The wizard's steps are re-exported here from `preview` (`imports.inspect_file(...)`,
`imports.preview_import(...)`); `block_import` holds the steps a Check and a run share;
`configurations` the saved recipes and what their sources say; `runs` queueing, executing,
following and reading runs, and what happens after one finishes (alerts).

Imports from: services.blocks, services.workspace, connectors, engine, store, domain,
alerts. Nothing of scheduling (a configuration's schedules are read from their rows).
"""

from planport.services.imports import (
    block_import,
    configurations,
    preview,
    runs,
    sources,
    uploads,
)
from planport.services.imports.block_import import FileDoesNotMatch, run_permissions
from planport.services.imports.configurations import ConfigurationView
from planport.services.imports.preview import (
    PREVIEW_ROWS,
    FileView,
    PreviewView,
    inspect_file,
    preview_import,
    suggest_mapping,
)
from planport.services.imports.sources import SourceStatus

__all__ = [
    "PREVIEW_ROWS",
    "ConfigurationView",
    "FileDoesNotMatch",
    "FileView",
    "PreviewView",
    "SourceStatus",
    "block_import",
    "configurations",
    "inspect_file",
    "preview",
    "preview_import",
    "run_permissions",
    "runs",
    "sources",
    "suggest_mapping",
    "uploads",
]
