"""Pages of applications and their blocks (structure, grid, CSV export)."""

from planport.web.pages.blocks import applications, blocks

__all__ = ["applications", "blocks"]
