"""Pages of importing: the wizard, saved configurations, runs, alert settings and outbox.

`_forms` (reading the wizard's forms and uploads) and `_pages` (who may import, the upload
page) are private to these pages."""

from planport.web.pages.imports import alerts, configurations, runs, wizard

__all__ = ["alerts", "configurations", "runs", "wizard"]
