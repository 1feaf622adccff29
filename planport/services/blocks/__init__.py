"""Applications and their blocks: definitions, items and cells, the grid, CSV export, and the
write lane that keeps block writes off SQLite's lock.

The block use cases (create, reshape, delete a block) are re-exported here from `structure`,
so `blocks.create_list(...)` reads as it always did; the other modules are used by name:
`applications`, `definitions` (the stored definition as a `BlockDef`), `conversions`
(retyping a column), `items` (writing items and cells), `block_data` (the grid and its CSV
export), `exports` (a List's or a Metric's export with the Export API's options),
`csv_files` (streamed, spreadsheet-safe CSV), `lane` (the SQLite write lane).

Imports from: services.workspace, connectors (an application's import folder), store,
engine (result types), domain. Nothing of imports or scheduling.
"""

from planport.services.blocks import (
    applications,
    block_data,
    conversions,
    csv_files,
    definitions,
    exports,
    items,
    lane,
)
from planport.services.blocks.applications import ApplicationView, ImportFolderView
from planport.services.blocks.definitions import MappedTarget, load_block, mapped_targets, to_def
from planport.services.blocks.structure import (
    MAX_METRIC_DIMENSIONS,
    MAX_PROPERTIES,
    BlockName,
    BlockSummary,
    add_metric_dimension,
    add_property,
    block_names,
    change_metric_value_type,
    change_property_type,
    create_list,
    create_metric,
    delete_block,
    get_block,
    list_blocks,
    list_dimension_lists,
    remove_metric_dimension,
    remove_property,
    rename_block,
    rename_property,
    row_count_of,
    set_unique_property,
)

__all__ = [
    "MAX_METRIC_DIMENSIONS",
    "MAX_PROPERTIES",
    "ApplicationView",
    "BlockName",
    "BlockSummary",
    "ImportFolderView",
    "MappedTarget",
    "add_metric_dimension",
    "add_property",
    "applications",
    "block_data",
    "block_names",
    "change_metric_value_type",
    "change_property_type",
    "conversions",
    "create_list",
    "create_metric",
    "csv_files",
    "definitions",
    "delete_block",
    "exports",
    "get_block",
    "items",
    "lane",
    "list_blocks",
    "list_dimension_lists",
    "load_block",
    "mapped_targets",
    "remove_metric_dimension",
    "remove_property",
    "rename_block",
    "rename_property",
    "row_count_of",
    "set_unique_property",
    "to_def",
]
