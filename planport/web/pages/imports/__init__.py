"""Pages of importing: the wizard (and editing a configuration in it), saved configurations,
runs, alert settings and outbox.

`_forms` (reading the wizard's forms and uploads) and `_pages` (who may import, the upload
page) are private to these pages."""

from planport.web.pages.imports import alerts, configurations, editing, runs, wizard

__all__ = ["alerts", "configurations", "editing", "runs", "wizard"]
