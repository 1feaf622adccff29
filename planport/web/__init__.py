"""Pages (Jinja2 + htmx). Routes translate HTTP to service calls and back; nothing here
touches the database."""

from planport.web.app import create_app

__all__ = ["create_app"]
