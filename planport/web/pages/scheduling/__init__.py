"""Pages of Import Scheduling: the page and its forms, history, runs of a schedule."""

from planport.web.pages.scheduling import forms, history, page, runs

__all__ = ["forms", "history", "page", "runs"]
