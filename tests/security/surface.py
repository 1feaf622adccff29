"""The pages' attack surface, found rather than listed: every route of the FastAPI app (so a new
route is covered without touching the tests), and the fields each one reads, from its declared
parameters and from the forms the pages render for it."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

# Logins have their own tests and throttling; the rest is every page.
EXCLUDED_MODULES = {"sessions"}
PARAM = re.compile(r"{(\w+)}")


@dataclass
class Route:
    """One method of one page, with the fields and defaults seen for it."""

    method: str
    path: str
    module: str
    pattern: re.Pattern[str]
    fields: dict[str, str] = field(default_factory=dict)  # name → a value the page offers
    multipart: bool = False

    @property
    def params(self) -> list[str]:
        return PARAM.findall(self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _flat(routes: Sequence[Any]) -> Iterator[Any]:
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from _flat(included.routes) if included is not None else [route]


def page_routes(app: FastAPI) -> list[Route]:
    """Every page route but the login's, one per method, with its declared parameters."""
    found = []
    for route in _flat(app.routes):
        if not isinstance(route, APIRoute):
            continue
        module = route.endpoint.__module__.rsplit(".", 1)[-1]
        if module in EXCLUDED_MODULES or not route.endpoint.__module__.startswith("planport.web"):
            continue
        declared = [*route.dependant.query_params, *route.dependant.body_params]
        for method in sorted(route.methods - {"HEAD"}):
            pattern = re.compile("^" + PARAM.sub("[^/]+", route.path) + "$")
            fields = {p.name: "" for p in declared}
            found.append(Route(method, route.path, module, pattern, fields))
    return found


@dataclass
class Form:
    method: str
    action: str
    multipart: bool
    fields: dict[str, str] = field(default_factory=dict)


class _Forms(HTMLParser):
    """The forms of a page: method, action (or hx-get/hx-post) and their named fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._open: Form | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            multipart = found.get("enctype") == "multipart/form-data"
            self._open = Form(
                found.get("method", "get").upper(), _path(found.get("action")), multipart
            )
            self.forms.append(self._open)
        if self._open is not None:
            # htmx sends the form's fields elsewhere too (a live preview, a swapped section):
            # the same fields, so the same dictionary.
            for attribute, method in (("hx-get", "GET"), ("hx-post", "POST")):
                if found.get(attribute):
                    also = Form(method, _path(found[attribute]), self._open.multipart)
                    also.fields = self._open.fields
                    self.forms.append(also)
        if self._open is not None and tag in {"input", "select", "textarea"} and "name" in found:
            name = found["name"]
            if name != "csrf_token":
                self._open.fields.setdefault(name, found.get("value", ""))
            self._select = name if tag == "select" else None
        elif tag == "option" and self._open is not None and self._select:
            # The selected option, else the first: what the browser would send.
            fields = self._open.fields
            if not fields.get(self._select) or "selected" in found:
                fields[self._select] = found.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None
        if tag == "select":
            self._select = None


def _path(url: str | None) -> str:
    return (url or "").split("?")[0]


def forms_of(page: str) -> list[Form]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


def learn(routes: Sequence[Route], forms: Sequence[Form]) -> None:
    """Add each form's fields (and default values) to the route it is sent to."""
    for form in forms:
        for route in routes:
            if route.method == form.method and route.pattern.match(form.action):
                for name, value in form.fields.items():
                    if not route.fields.get(name):
                        route.fields[name] = value
                route.multipart |= form.multipart
